"""Where a batch-1 decode step's time goes beyond the GPU's: the 7B-shaped random sketch (bench_serving's), one
request decoding --tokens tokens, each engine step's duration against the GPU time of its CUDA graph alone (one replay
at a time between two events, and back to back), then a cProfile of the decode (top functions by own time).

    python3 benchmarks/decode_host_time.py [--gpr 4] [--tokens 128] [--batch 1] [--decode-steps 1]
"""

from __future__ import annotations

import argparse
import collections
import cProfile
import pstats
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_serving as bs  # noqa: E402

from adapters.store import LutStore  # noqa: E402
from server.sampling import SamplingParams  # noqa: E402


def graph_gpu_ms(engine, batch: int, context: int, mid_run=None, reps: int = 200) -> dict[str, float]:
    """GPU time of one replay of the decode graph of this batch size and of the block-table width of context
    tokens (DecodeGraphs' key), on the inputs of its last replay: back to back between two events
    ("back_to_back", the mean); one replay at a time between its own events after a synchronize ("isolated", the
    median); the same with 2 ms of idle GPU before each ("gapped"); and, given mid_run (StepArgs of a step inside
    the run), isolated on those inputs ("mid_run")."""
    width = engine.runner.graphs.width_for(-(-context // engine.runner.block_size))
    keys = [k for k in engine.runner.graphs.graphs if k[0] == batch and k[1] == width]
    print(f"graphs of batch {batch} and width {width}: {keys}", flush=True)
    graph, static, _ = engine.runner.graphs.graphs[keys[0]]
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    graph.replay()
    torch.cuda.synchronize()
    start.record()
    for _ in range(reps):
        graph.replay()
    end.record()
    torch.cuda.synchronize()
    out = {"back_to_back": start.elapsed_time(end) / reps}

    out["isolated"] = replay_ms(graph, reps // 4)
    out["gapped"] = replay_ms(graph, reps // 4, gap_s=0.002)
    if mid_run is not None:
        with torch.inference_mode():  # the graph's static inputs are inference tensors
            static.copy_from(mid_run)
        out["mid_run"] = replay_ms(graph, reps // 4)
    return out


def replay_ms(graph, reps: int = 20, gap_s: float = 0.0) -> float:
    """Median GPU time of one replay, each between its own events after a synchronize (and gap_s of idle)."""
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    times = []
    for _ in range(reps):
        time.sleep(gap_s)
        start.record()
        graph.replay()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end))
    return sorted(times)[len(times) // 2]


def time_replays(graphs) -> tuple[list, list]:
    """Wrap graphs.replay (DecodeGraphs) so that each call's GPU work (input copies and the graph) is bracketed by two
    events; returns the list the (key, start, end) triples are appended to, and the list of each call's (key,
    inputs)."""
    pairs, kept, replay = [], [], graphs.replay

    def timed(key, args):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        logits = replay(key, args)
        end.record()
        pairs.append((key, start, end))
        kept.append((key, args.clone()))
        return logits

    graphs.replay = timed
    return pairs, kept


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gpr", type=int, default=4)
    ap.add_argument("--tokens", type=int, default=128)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--decode-steps", type=int, default=1, help="decode steps per schedule (multi-step decoding)")
    cli = ap.parse_args()
    args = argparse.Namespace(device=torch.device("cuda"), prompt=128, new_tokens=cli.tokens, ttft_prompt=512,
                              cuda_graph_max_batch=64, cpu_weight_dtype="float32",
                              decode_steps=cli.decode_steps)  # fmt: skip
    base = bs.random_base(bs.llama2_7b_config(num_hidden_layers=32), cli.gpr, args.device)
    with tempfile.TemporaryDirectory() as tmp:
        store = LutStore(Path(tmp) / "store", base.spec(), verify_on_open=False)
        bs.fill_store(base, store, ["task0"], Path(tmp))
        engine = bs.make_engine(base, store, args, num_slots=3, max_batch=64)
        bs.warm_up(engine, ["task0"])
        params = SamplingParams(max_tokens=cli.tokens, ignore_eos=True)
        for run in range(2):  # the first run captures the graphs of its widths
            n0 = len(engine.stats().recent_steps)
            pairs, kept = time_replays(engine.runner.graphs) if run == 1 else ([], [])
            prof = cProfile.Profile() if run == 1 else None
            for p in bs.prompts(cli.batch, 128, base.config["vocab_size"], seed=5 + run):
                engine.add_request("task0", p, params)
            if prof:
                prof.enable()
            engine.run_until_idle()
            if prof:
                prof.disable()
        steps = [s for s in engine.stats().recent_steps[n0:] if s.prefill_tokens == 0 and s.batch_size == cli.batch]
        times = [t * 1e3 for t in bs.decode_step_times(steps)]
        padded = next(b for b in engine.runner.graphs.batch_sizes if b >= cli.batch)
        gpu = graph_gpu_ms(engine, padded, context=128 + cli.tokens - 1, mid_run=kept[len(kept) // 2][1])
        print({k: round(v, 3) for k, v in gpu.items()}, flush=True)
        target = max({k for k, _ in kept}, key=[k for k, _ in kept].count)  # the decode steps' graph
        print(f"the run's replays: {collections.Counter(k for k, _ in kept)}", flush=True)
        graph, static, _ = engine.runner.graphs.graphs[target]
        mine = [i for i, (key, _) in enumerate(kept) if key == target]
        for i, (key, inputs) in enumerate(kept):
            if key == target and (i % 8 == 0 or i >= mine[-3]):
                with torch.inference_mode():
                    static.copy_from(inputs)
                print(f"replay {i} of the run ({key}), on its inputs again: {replay_ms(graph):.3f} ms", flush=True)
                if i >= mine[-3]:
                    meta = inputs.meta
                    print(f"  positions {inputs.positions.tolist()}, context {meta.decode_context_lens.tolist()}, "
                          f"slots {sorted(set(inputs.slot_of_token.tolist()))}, tables[0] "
                          f"{meta.decode_block_tables[0].tolist()}, tables[-1] {meta.decode_block_tables[-1].tolist()}")
        in_run = sorted(start.elapsed_time(end) for key, start, end in pairs if key[0] == padded)
        print(f"{len(in_run)} replays of batch-{padded} decode graphs in the run: "
              f"median {in_run[len(in_run) // 2]:.3f} ms on the GPU "
              f"(p10 {in_run[len(in_run) // 10]:.3f}, p90 {in_run[9 * len(in_run) // 10]:.3f})", flush=True)
        print(
            f"gpr {cli.gpr} batch {cli.batch}, {cli.decode_steps} decode steps a schedule: {len(times)} decode steps, "
            f"median {times[len(times) // 2]:.3f} ms "
            f"(p10 {times[len(times) // 10]:.3f}, p90 {times[9 * len(times) // 10]:.3f}); the graph alone "
            f"{gpu['isolated']:.3f} ms on the GPU (one replay at a time; {gpu['back_to_back']:.3f} back to back): "
            f"{times[len(times) // 2] - gpu['isolated']:.3f} ms a step beyond it",
            flush=True,
        )
        pstats.Stats(prof).sort_stats("tottime").print_stats(25)
        pstats.Stats(prof).sort_stats("cumulative").print_stats(25)


if __name__ == "__main__":
    main()
