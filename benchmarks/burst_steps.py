"""Where a burst's time goes: the bench_serving burst (16 requests of 512 + 16 tokens, each its own head, one task)
on the 7B-shaped random sketch at gpr 1, three times in one engine, with every engine step's size and duration and
the preemption count; then a cProfile of a fourth burst (top functions by cumulative time).

    python3 benchmarks/burst_steps.py [--cuda-graph-max-batch 64] [--runs 3]
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cuda-graph-max-batch", type=int, default=64)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--prefix", type=int, default=512)
    cli = ap.parse_args()
    args = argparse.Namespace(device=torch.device("cuda"), prompt=128, new_tokens=32, ttft_prompt=cli.prefix,
                              cuda_graph_max_batch=cli.cuda_graph_max_batch, cpu_weight_dtype="float32")  # fmt: skip
    base = bs.random_base(bs.llama2_7b_config(num_hidden_layers=32), 1, args.device)
    with tempfile.TemporaryDirectory() as tmp:
        store = LutStore(Path(tmp) / "store", base.spec(), verify_on_open=False)
        bs.fill_store(base, store, ["task0"], Path(tmp))
        engine = bs.make_engine(base, store, args, num_slots=3, max_batch=64)
        bs.warm_up(engine, ["task0"])
        for run in range(cli.runs + 1):
            n0 = len(engine.stats().recent_steps)
            pre0 = engine.scheduler.num_preemptions
            prof = cProfile.Profile() if run == cli.runs else None
            if prof:
                prof.enable()
            out = bs.burst(engine, base, "task0", 16, cli.prefix, False, seed=101 + 2 * run)
            if prof:
                prof.disable()
            steps = engine.stats().recent_steps[n0:]
            print(f"run {run}: mean TTFT {out['mean_ttft_s'] * 1e3:.0f} ms, wall {out['wall_s'] * 1e3:.0f} ms, "
                  f"{len(steps)} steps, {engine.scheduler.num_preemptions - pre0} preemptions", flush=True)
            print("  steps (seqs, prefill, decode, ms):",
                  [(s.batch_size, s.prefill_tokens, s.decode_tokens, round(s.duration_s * 1e3, 1)) for s in steps])
            if prof:
                pstats.Stats(prof).sort_stats("cumulative").print_stats(30)


if __name__ == "__main__":
    main()
