"""A wider grid of the bucket kernel's "cols" layout (kernels/triton_bucket_cols.py) than the autotuner's list.

    python3 benchmarks/bucket_cols_grid.py --out OUT_DIR [--budget-s 240] [--pairs 1 | --quads 1]
    python3 benchmarks/bucket_cols_grid.py --out OUT_DIR --variants 1 [--budget-s 240]

The autotuner times a few cols configs (kernels/triton_bucket.py, _COLS_CANDIDATES); this times block shapes, warps,
stages and split-K waves around them at M = 16 tokens over 16 tasks, 4-bit, gpr 4, on 4096x4096, then the best
eight on 11008x4096, each checked against the torch reference (output poisoned first). It stops starting new
compiles after --budget-s. Writes OUT_DIR/bucket_cols_grid.json (bucket_cols_pairs_grid.json with --pairs 1,
bucket_cols_quads_grid.json with --quads 1: the K orders of _COLS_CANDIDATES) and prints the best configs per shape:
the data for _COLS_CANDIDATES.

--variants 1 instead times the autotuner's own 3/4-bit candidates at gpr 1 and 4 on the three 7B shapes, each as
it is, with the fold's per-code gathers (FOLD_TILE 0, the fold before the twenty-third session) and under a register
cap of 128 (more programs per SM; the eighth session also timed 168), into bucket_cols_variants.json, and prints each
variant's best per case against the plain candidates' best: whether the tuned choices still hold.
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


# plain: the shipped fold (FOLD_TILE_DEFAULT, 8 LUT entries a load); gathers: the per-code 2-byte gathers before it
VARIANTS = {"plain": {}, "gathers": {"FOLD_TILE": 0}, "reg128": {"maxnreg": 128}}
VARIANT_CASES = [(n, k, gpr) for n, k in ((4096, 4096), (11008, 4096), (4096, 11008)) for gpr in (1, 4)]


def run_variants(args, sms: int) -> None:
    """Each 3/4-bit cols candidate of the autotuner under each of VARIANTS, at gpr 1 and 4 on the 7B shapes."""
    rows: list[dict] = []
    for n, k, gpr in VARIANT_CASES:
        layer = Layer(n, k, gpr)
        x, slots = make_batch(M, TASKS, k)
        ref = lut_linear_reference(x, layer.codes[0], layer.pools[0], slots, BITS)

        def launches(candidate, name, n=n, k=k, gpr=gpr):
            block_n, bb, warps, stages, waves, k_order = candidate
            block_k = bb * _per_byte(BITS)
            cfg = {"LAYOUT": "cols", "BLOCK_N": block_n, "BLOCK_K": block_k, "num_warps": warps,
                   "num_stages": stages, "SPLIT_K": split_for(n, k, block_n, block_k, waves * sms),
                   **k_order_flags(k_order), **VARIANTS[name]}  # fmt: skip
            yield cfg, {"N": n, "K": k, "M": M, "tasks": TASKS, "gpr": gpr, "waves": waves, "variant": name}

        groups = (launches(c, name) for c in _COLS_CANDIDATES if c[5] != "bytes" for name in VARIANTS)
        time_grid(launch_bucket, layer, x, slots, ref, groups, args.budget_s, rows, f"{n}x{k} gpr {gpr}")
        del layer
        torch.cuda.empty_cache()
    result = {"gpu": torch.cuda.get_device_name(), "M": M, "tasks": TASKS, "bits": BITS, "rows": rows}
    (args.out / "bucket_cols_variants.json").write_text(json.dumps(result, indent=0))
    for n, k, gpr in VARIANT_CASES:
        best = {name: fastest(rows, 1, N=n, K=k, gpr=gpr, variant=name) for name in VARIANTS}
        line = ", ".join(f"{name} {b[0]['us']:.1f}" for name, b in best.items() if b)
        print(f"{n}x{k} gpr {gpr}: {line} us")


def main() -> None:
    args = grid_cli(__doc__, budget_s=240.0, extra=[("--pairs", 0, "1: the PAIRS variant (K over columns)"),
                                                    ("--quads", 0, "1: the QUADS variant (K over 16-bit words)"),
                                                    ("--variants", 0, "1: the candidates under VARIANTS")])
    if args.variants:
        run_variants(args, torch.cuda.get_device_properties(0).multi_processor_count)
        return
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
