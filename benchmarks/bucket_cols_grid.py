"""A wider grid of the bucket kernel's "cols" layout (kernels/triton_bucket_cols.py) than the autotuner's list.

    python3 benchmarks/bucket_cols_grid.py --out OUT_DIR [--budget-s 240] [--pairs 1 | --quads 1]

The autotuner times a few cols configs (kernels/triton_bucket.py, _COLS_CANDIDATES); this times block shapes, warps,
stages and split-K waves around them at M = 16 tokens over 16 tasks, 4-bit, gpr 4, on 4096x4096, then the best
eight on 11008x4096, each checked against the torch reference (output poisoned first). It stops starting new
compiles after --budget-s. Writes OUT_DIR/bucket_cols_grid.json (bucket_cols_pairs_grid.json with --pairs 1,
bucket_cols_quads_grid.json with --quads 1: the K orders of _COLS_CANDIDATES) and prints the best configs per shape:
the data for _COLS_CANDIDATES.
"""

from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_kernels import BITS, Layer, distinct, fastest, grid_cli, make_batch, time_grid  # noqa: E402

from kernels.reference import lut_linear_reference  # noqa: E402
from kernels.triton_bucket import _COLS_CANDIDATES, _per_byte, k_order_flags, launch_bucket  # noqa: E402
from kernels.triton_common import split_for  # noqa: E402

M, TASKS, GPR = 16, 16, 4
WAVES = (1, 2, 4, 8)


def compile_configs(k_order: str) -> list[tuple[int, int, int, int]]:
    """(BLOCK_N, packed bytes per row and block, warps, stages), the autotuner's neighbourhood first."""
    near = distinct(c[:4] for c in _COLS_CANDIDATES if c[5] == k_order)  # the current candidates
    grid = itertools.product((16, 32, 64), (32, 64, 128, 256), (2, 4, 8), (1, 2, 3, 4))
    rest = [c for c in grid if c not in near and c[0] * 16 // (32 * c[2]) >= 1]  # >= 1 column per thread
    rest.sort(key=lambda c: (abs(c[0] - 32) + abs(c[1] - 128) // 2, c[3] != 2, c[2] != 4))
    return near + rest


def run_shape(n: int, k: int, configs, budget_s: float, sms: int, rows: list, k_order: str) -> None:
    layer = Layer(n, k, GPR)
    x, slots = make_batch(M, TASKS, k)
    ref = lut_linear_reference(x, layer.codes[0], layer.pools[0], slots, BITS)

    def launches(block_n, bb, warps, stages):
        block_k = bb * _per_byte(BITS)
        for waves in WAVES:
            cfg = {"LAYOUT": "cols", "BLOCK_N": block_n, "BLOCK_K": block_k, "num_warps": warps,
                   "num_stages": stages, "SPLIT_K": split_for(n, k, block_n, block_k, waves * sms),
                   **k_order_flags(k_order)}  # fmt: skip
            yield cfg, {"N": n, "K": k, "M": M, "tasks": TASKS, "waves": waves}

    time_grid(launch_bucket, layer, x, slots, ref, (launches(*c) for c in configs), budget_s, rows, f"{n}x{k}")
    del layer
    torch.cuda.empty_cache()


def main() -> None:
    args = grid_cli(__doc__, budget_s=240.0, extra=[("--pairs", 0, "1: the PAIRS variant (K over columns)"),
                                                    ("--quads", 0, "1: the QUADS variant (K over 16-bit words)")])
    k_order = "quads" if args.quads else "pairs" if args.pairs else "bytes"
    sms = torch.cuda.get_device_properties(0).multi_processor_count
    rows: list[dict] = []
    run_shape(4096, 4096, compile_configs(k_order), args.budget_s, sms, rows, k_order)
    top = distinct((r["BLOCK_N"], r["BLOCK_K"] // _per_byte(BITS), r["num_warps"], r["num_stages"])
                   for r in fastest(rows, 32, N=4096))  # fmt: skip
    run_shape(11008, 4096, top[:8], args.budget_s / 2, sms, rows, k_order)
    result = {"gpu": torch.cuda.get_device_name(), "M": M, "tasks": TASKS, "gpr": GPR, "bits": BITS, "rows": rows}
    name = "bucket_cols_grid.json" if k_order == "bytes" else f"bucket_cols_{k_order}_grid.json"
    (args.out / name).write_text(json.dumps(result, indent=0))
    for n in (4096, 11008):
        print(f"best at {n}x4096:")
        for r in fastest(rows, 8, N=n):
            print(f"  {r['us']:.1f} us  BN {r['BLOCK_N']} BK {r['BLOCK_K']} warps {r['num_warps']} "
                  f"stages {r['num_stages']} split {r['SPLIT_K']} (waves {r['waves']})")  # fmt: skip


if __name__ == "__main__":
    main()
