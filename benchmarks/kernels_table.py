"""The README's kernel table, rendered from a kernel-table run (bench_kernels.py's kernels.json).

    python3 benchmarks/kernels_table.py RUN.json [--all]

A row a case: the gather and bucket kernels' graph-replay times (the faster in bold where both ran), the floor's
bytes over the faster time (GB/s) and that time over the floor, cuBLAS fp16's graph time, the floor, and the two
peers timed eagerly (fp16 base + per-token LoRA r=16, and gather-then-matmul). Without --all only the cases the
README's table names (README_CASES), in that order; a case the run lacks is left out.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_kernels import best_graph_us, cublas_graph_us  # noqa: E402

# (phase, N, K, gpr, M, tasks): the README table's rows, the shapes at its token and task counts
README_CASES: list[tuple[str, int, int, int, int, int]] = [
    ("decode", 4096, 4096, 1, 1, 1),
    ("decode", 11008, 4096, 1, 1, 1),
    ("decode", 4096, 11008, 1, 1, 1),
    ("decode", 4096, 4096, 1, 4, 1),
    ("decode", 11008, 4096, 1, 4, 1),
    ("decode", 4096, 11008, 1, 4, 1),
    ("decode", 4096, 4096, 4, 16, 1),
    ("decode", 11008, 4096, 1, 16, 1),
    ("decode", 4096, 4096, 1, 16, 4),
    ("decode", 4096, 4096, 1, 16, 16),
    ("decode", 4096, 4096, 4, 16, 16),
    ("decode", 11008, 4096, 1, 16, 16),
    ("decode", 4096, 11008, 1, 16, 16),
    ("decode", 4096, 4096, 1, 64, 1),
    ("decode", 4096, 4096, 1, 64, 16),
    ("prefill", 4096, 4096, 1, 2048, 1),
    ("prefill", 11008, 4096, 1, 2048, 1),
    ("prefill", 4096, 11008, 4, 2048, 1),
    ("prefill", 4096, 4096, 1, 2048, 8),
    ("prefill", 11008, 4096, 1, 2048, 8),
    ("prefill", 4096, 11008, 4, 2048, 8),
]

HEADER = ("| case | gather µs | bucket µs | best GB/s | best ÷ floor | cuBLAS fp16 µs | floor µs "
          "| LoRA r=16 µs (eager) | gather-then-matmul µs (eager) |\n" + "| --- " * 9 + "|")


def case_key(case: dict) -> tuple[str, int, int, int, int, int]:
    return case["phase"], case["N"], case["K"], case["gpr"], case["M"], case["tasks"]


def label(case: dict) -> str:
    """e.g. 'decode 4096×4096 gpr1, M=16, 4 tasks' or 'prefill 11008×4096 gpr1, 2048 tokens, 1 task'."""
    phase, n, k, gpr, m, tasks = case_key(case)
    tokens = f"M={m}" if phase == "decode" else f"{m} tokens"
    return f"{phase} {n}×{k} gpr{gpr}, {tokens}, {tasks} task{'s' if tasks > 1 else ''}"


def _us(value: float | None) -> str:
    return f"{value:,.1f}" if value else ""


def row(case: dict) -> str:
    """One markdown row; the kernel times are graph replays (the eager time where the run has none), the op's
    (bench_kernels.best_graph_us: the faster of the two) in bold where both kernels ran."""
    gather = case.get("ours_graph_us") or case["ours_us"]
    bucket = case.get("bucket_graph_us") or None
    cells = [_us(gather), _us(bucket)]
    if bucket:
        faster = 0 if best_graph_us(case) == gather else 1
        cells[faster] = f"**{cells[faster]}**"
    return (f"| {label(case)} | {cells[0]} | {cells[1]} | {case['gbps']:,.0f} | {case['floor_ratio']:.1f}× "
            f"| {_us(cublas_graph_us(case))} | {_us(case['floor_us'])} | {_us(case.get('lora_us'))} "
            f"| {_us(case.get('gather_us'))} |")


def table(run: dict, cases: list[tuple] | None = README_CASES) -> str:
    """The header and a row per case: those of `cases` the run timed, in that order, or every case (None)."""
    by_key = {case_key(c): c for c in run["cases"]}
    picked = run["cases"] if cases is None else [by_key[k] for k in cases if k in by_key]
    return "\n".join([HEADER, *(row(c) for c in picked)])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", type=Path)
    ap.add_argument("--all", action="store_true", help="every case of the run, in its order")
    args = ap.parse_args()
    run = json.loads(args.run.read_text())
    print(f"{run['gpu']}, copy {run['copy_tbps']:.2f} TB/s")
    print(table(run, None if args.all else README_CASES))


if __name__ == "__main__":
    main()
