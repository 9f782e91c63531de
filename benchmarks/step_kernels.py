"""Where a decode step's GPU time goes, by kernel: the 7B-shaped random sketch (bench_serving's), --batch requests
over --tasks tasks; after one decode run (which captures the step's CUDA graph), that graph is replayed --replays
times under torch.profiler and its kernels are summed by name, per replay.

    python3 benchmarks/step_kernels.py [--gpr 1] [--batch 16] [--tasks 16] [--replays 20] [--out DIR]
        [--int8-activations]

Prints the table (kernel, launches a step, microseconds a step, share of the kernels' sum) and the replay's own time
between two events; --out also writes it as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent / "device"))

import bench_serving as bs  # noqa: E402
from serving_setup import serving_engine  # noqa: E402

from kernels.timing import replay_ms  # noqa: E402


def kernel_table(graph: torch.cuda.CUDAGraph, replays: int) -> tuple[list[dict], float]:
    """(rows sorted by time, the replay's median event time in us) of `replays` replays of graph."""
    from torch.profiler import ProfilerActivity, profile

    replay_us = replay_ms(graph, replays) * 1e3
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in range(replays):
            graph.replay()
        torch.cuda.synchronize()
    us, calls = defaultdict(float), defaultdict(int)
    for ev in prof.events():
        if ev.device_type == torch.autograd.DeviceType.CUDA:
            us[ev.name] += ev.device_time / replays if hasattr(ev, "device_time") else ev.cuda_time / replays
            calls[ev.name] += 1
    total = sum(us.values())
    rows = [{"kernel": k, "launches": calls[k] / replays, "us": v, "share": v / total} for k, v in us.items()]
    return sorted(rows, key=lambda r: -r["us"]), replay_us


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gpr", type=int, default=1)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--tasks", type=int, default=16)
    ap.add_argument("--replays", type=int, default=20)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--int8-activations", action="store_true", help="the server's default mode on sm_90 (else exact)")
    cli = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        engine, base, tasks, args, floor_of = serving_engine(cli.gpr, cli.tasks, tmp, cli.int8_activations)
        point = bs.decode_point(engine, base, tasks, cli.batch, args, floor_of)
        print(f"gpr {cli.gpr}, {cli.batch} x {cli.tasks}: step {point['step_ms']:.2f} ms "
              f"({point['tok_per_s']:.1f} tok/s)", flush=True)  # fmt: skip
        graphs = engine.runner.graphs.graphs
        key = max((k for k in graphs if k[0] == cli.batch), key=lambda k: k[1])  # the widest: the run's last steps
        rows, replay_us = kernel_table(graphs[key][0], cli.replays)
    total = sum(r["us"] for r in rows)
    print(f"graph {key}: replay {replay_us:.1f} us between events; kernels' sum {total:.1f} us")
    print(f"{'us a step':>10} {'share':>6} {'launches':>8}  kernel")
    for r in rows[:30]:
        print(f"{r['us']:10.1f} {100 * r['share']:5.1f}% {r['launches']:8.1f}  {r['kernel'][:110]}")
    if cli.out:
        cli.out.mkdir(parents=True, exist_ok=True)
        path = cli.out / f"step_kernels_gpr{cli.gpr}_b{cli.batch}_t{cli.tasks}.json"
        path.write_text(json.dumps({"step": point, "key": list(key), "replay_us": replay_us, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
