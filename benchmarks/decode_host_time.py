"""Where a decode step's time goes beyond the GPU's: the 7B-shaped random sketch (bench_serving's), --batch requests
over --tasks tasks decoding --tokens tokens each, each engine step's duration against the GPU time of its CUDA graph
alone (each replay of the run between two events), each run's prefill steps, then a cProfile of the second run (top
functions by own time).

    python3 benchmarks/decode_host_time.py [--gpr 4] [--tokens 128] [--batch 1] [--decode-steps 1] [--tasks 1]
        [--temperature 0] [--top-p 1]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_serving as bs  # noqa: E402

from adapters.store import LutStore  # noqa: E402
from server.sampling import SamplingParams  # noqa: E402


def time_replays(graphs) -> list:
    """Wrap graphs.replay (DecodeGraphs) so that each call's GPU work (input copies and the graph) is bracketed by two
    events; returns the list the (key, start, end) triples are appended to. Timed inside the run, on each step's own
    inputs: a replay after the run reuses its last inputs, which need not be a typical step's (the eleventh
    session's last steps were padded with another task, NOTES.md)."""
    pairs, replay = [], graphs.replay

    def timed(key, args):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        logits = replay(key, args)
        end.record()
        pairs.append((key, start, end))
        return logits

    graphs.replay = timed
    return pairs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gpr", type=int, default=4)
    ap.add_argument("--tokens", type=int, default=128)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--decode-steps", type=int, default=1, help="decode steps per schedule (multi-step decoding)")
    ap.add_argument("--tasks", type=int, default=1, help="distinct tasks, assigned to the requests round-robin")
    ap.add_argument("--temperature", type=float, default=0.0, help="0: greedy; above: sampled (unseeded)")
    ap.add_argument("--top-p", type=float, default=1.0)
    ap.add_argument("--overlap-scheduling", default="auto", choices=("auto", "on", "off"))
    cli = ap.parse_args()
    args = argparse.Namespace(device=torch.device("cuda"), prompt=128, new_tokens=cli.tokens, ttft_prompt=512,
                              cuda_graph_max_batch=64, cpu_weight_dtype="float32", decode_steps=cli.decode_steps,
                              overlap_scheduling=cli.overlap_scheduling)  # fmt: skip
    base = bs.random_base(bs.llama2_7b_config(num_hidden_layers=32), cli.gpr, args.device)
    with tempfile.TemporaryDirectory() as tmp:
        store = LutStore(Path(tmp) / "store", base.spec(), verify_on_open=False)
        tasks = [f"task{i}" for i in range(cli.tasks)]
        bs.fill_store(base, store, tasks, Path(tmp))
        engine = bs.make_engine(base, store, args, num_slots=cli.tasks + 2, max_batch=64)
        bs.warm_up(engine, tasks)
        params = SamplingParams(max_tokens=cli.tokens, ignore_eos=True, temperature=cli.temperature, top_p=cli.top_p)
        for run in range(2):  # the first run captures the graphs of its widths
            n0 = len(engine.stats().recent_steps)
            pairs = time_replays(engine.runner.graphs) if run == 1 else []
            prof = cProfile.Profile() if run == 1 else None
            for i, p in enumerate(bs.prompts(cli.batch, 128, base.config["vocab_size"], seed=5 + run)):
                engine.add_request(tasks[i % len(tasks)], p, params)
            if prof:
                prof.enable()
            engine.run_until_idle()
            if prof:
                prof.disable()
            print(f"run {run}{' (profiled)' if prof else ''}: prefill steps (tokens, tasks, ms): " + ", ".join(
                f"({s.prefill_tokens}, {s.num_tasks}, {s.duration_s * 1e3:.1f})"
                for s in engine.stats().recent_steps[n0:] if s.prefill_tokens), flush=True)  # fmt: skip
        steps = [s for s in engine.stats().recent_steps[n0:] if s.prefill_tokens == 0 and s.batch_size == cli.batch]
        times = [t * 1e3 for t in bs.decode_step_times(steps)]
        padded = next(b for b in engine.runner.graphs.batch_sizes if b >= cli.batch)
        in_run = sorted(start.elapsed_time(end) for key, start, end in pairs if key[0] == padded)
        gpu = in_run[len(in_run) // 2]
        print(f"{len(in_run)} replays of batch-{padded} decode graphs in the run: median {gpu:.3f} ms on the GPU "
              f"(p10 {in_run[len(in_run) // 10]:.3f}, p90 {in_run[9 * len(in_run) // 10]:.3f})", flush=True)
        print(
            f"gpr {cli.gpr} batch {cli.batch} over {cli.tasks} task(s), temperature {cli.temperature}, "
            f"{cli.decode_steps} decode steps a schedule, overlap {'on' if engine.overlap else 'off'}: "
            f"{len(times)} decode steps, "
            f"median {times[len(times) // 2]:.3f} ms "
            f"(p10 {times[len(times) // 10]:.3f}, p90 {times[9 * len(times) // 10]:.3f}); the graph alone "
            f"{gpu:.3f} ms on the GPU (its median replay in the run): {times[len(times) // 2] - gpu:.3f} ms a step "
            f"beyond it",
            flush=True,
        )
        pstats.Stats(prof).sort_stats("tottime").print_stats(25)
        pstats.Stats(prof).sort_stats("cumulative").print_stats(25)


if __name__ == "__main__":
    main()
