"""The fragment kernel (kernels/triton_decode_mma.py) against the op's current choice and cuBLAS, in one run.

    python3 benchmarks/mma_grid.py --out OUT_DIR [--gpr 1] [--budget-s 40] [--fused 1]
                                   [--kernel mma|mma_preload|mma_tasks|prmt_tokens]

Per Llama-2-7B projection shape (the kernel table's three and the server's fused q/k/v and gate/up) and token
count (4, 8, 16 over one task; 16 over 4 tasks): fragment configs (warps, row blocks a warp, words per lane,
split-K waves; the budget cuts the list) timed in CUDA graphs with a cold L2 and checked against the torch
reference (bench_kernels.checked_time), then the op as the autotuner chose without the fragment kernel (the
shipped choices) and cuBLAS fp16, in the same process. Writes OUT_DIR/mma_grid_gpr{G}.json and prints the best
per case with its ratio to cuBLAS.

--kernel mma_preload: the fragment kernel with PRELOAD (one chunk of 128-512 columns a program, its code words and
LUT tables loaded before the PDL wait) against the op as shipped (the fragment kernel included) and cuBLAS; writes
OUT_DIR/mma_preload_grid_gpr{G}.json.

--kernel mma_tasks: the fragment kernel (PRELOAD's best and the shipped candidates) at 4-16 tokens over 2-8 tasks,
on the server's four projection shapes, against the op's two decode classes (gather: the decode kernel tuned for
one task; bucket) and cuBLAS: where the fragment kernel would pay as a class of its own between them.

--kernel prmt_tokens: the 2-4-token register-LUT kernel (kernels/triton_decode_prmt_tokens.py; row block, column
block, warps, split-K waves, prefetch) at 2 and 4 tokens of one task (and 4 over 2 tasks), against the op as shipped
(its tuned choice among the fragment and other kernels) and cuBLAS; writes OUT_DIR/prmt_tokens_grid_gpr{G}.json.

(--kernel bucket_frag timed the fragment bucket kernel, measured at 2.5x the bucket kernel's time and never offered
to the op; it was removed in the fortieth session: NOTES.md.)
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_kernels import (  # noqa: E402
    BITS,
    Layer,
    bench_graph,
    checked_time,
    cublas_fns,
    dims,
    grid_cli,
    make_batch,
    ours_fns,
)

from kernels.reference import lut_linear_reference  # noqa: E402
from kernels.triton_decode import (  # noqa: E402
    MODE_MMA,
    chunks_tile,
    launch_decode,
    prmt_token_configs,
    split_k_fragment_configs,
)
from kernels.triton_decode_mma import MMA_CANDIDATES  # noqa: E402
from kernels.triton_decode_prmt_tokens import TOKENS_CANDIDATES  # noqa: E402

SHAPES = [(4096, 4096), (11008, 4096), (4096, 11008), (12288, 4096), (22016, 4096)]
CASES = [(4, 1), (8, 1), (16, 1), (16, 4)]  # (tokens, distinct tasks); one token: the HALF2 kernel's (NOTES.md)
# the first grid's (fifteenth session) fastest first: the budget cuts the tail
GRID = [(w, r, p, v) for w in (4, 8, 2) for r in (2, 1) for p in (4, 2) for v in (8, 4, 16, 2)]
# --kernel mma_preload: (warps, row blocks a warp, words per lane); the split is K / (32 * words per lane)
PRELOAD_GRID = [(w, r, p) for p in (16, 8, 4) for r in (1, 2) for w in (2, 4, 1, 8)]
# --kernel mma_tasks: the preload grid's winners (results/mma_preload_grid_gpr1_h200.log) and the server's shapes
TASK_CASES = [(16, 2), (16, 3), (16, 4), (16, 6), (16, 8), (8, 2), (8, 4), (8, 6), (8, 8), (4, 2), (4, 4)]
TASK_PRELOADS = [(4, 1, 16), (2, 2, 16), (8, 1, 16), (4, 2, 16), (4, 1, 8), (2, 2, 8), (4, 2, 8), (1, 2, 8), (8, 1, 8)]
SERVER_SHAPES = [(12288, 4096), (4096, 4096), (22016, 4096), (4096, 11008)]
# --kernel prmt_tokens: (tokens, tasks), and (BLOCK_N, BLOCK_K, warps, split-K waves, PREFETCH): the shipped candidates
# first, then blocks around the one-token kernel's best (8-16 rows of 1,024 columns without split-K)
TOKEN_CASES = [(2, 1), (4, 1), (4, 2)]
TOKEN_GRID = TOKENS_CANDIDATES + [(bn, bk, w, v, 1) for bk in (1024, 512, 256) for bn in (8, 16, 4, 32)
                                  for w in (4, 2, 8) for v in (0, 4)]  # fmt: skip


def split_configs(table, n: int, k: int, gs: int, sms: int):
    """(config, row fields) of the fragment decode kernel for table's (warps, row blocks a warp, words per lane,
    split-K waves[, AHEAD[, EARLY]]), as the op's candidates are made (triton_decode.split_k_fragment_configs)."""
    for entry in table:
        for cfg in split_k_fragment_configs([entry], n, k, sms, gs):
            yield cfg, entry[3]


def preloaded_configs(table, k: int, gs: int):
    """(config, row fields) of the fragment decode kernel with PRELOAD (one chunk a program) for table's (warps, row
    blocks a warp, words per lane)."""
    for warps, rows_a_warp, wpl in table:
        if chunks_tile(k, gs, wpl):
            yield {"MODE": MODE_MMA, "num_warps": warps, "ROWS": rows_a_warp, "WPL": wpl, "PRELOAD": 1}, 0


def token_configs(n: int, k: int, gs: int, sms: int):
    """(config, row fields) of the 2-4-token register-LUT kernel's grid, as the op's candidates are filtered."""
    for entry in dict.fromkeys(TOKEN_GRID):
        for cfg in prmt_token_configs([entry], n, k, sms, gs):
            yield cfg, entry[3]


def mma_configs(n: int, k: int, gs: int, sms: int):
    """(config, row fields) of the fragment decode kernel's grid."""
    return split_configs(GRID, n, k, gs, sms)


def preload_configs(n: int, k: int, gs: int, sms: int):
    """(config, row fields) of the PRELOAD grid: one chunk a program."""
    return preloaded_configs(PRELOAD_GRID, k, gs)


def task_configs(n: int, k: int, gs: int, sms: int):
    """(config, row fields) of --kernel mma_tasks: PRELOAD's winners, then the shipped fragment candidates."""
    yield from preloaded_configs(TASK_PRELOADS, k, gs)
    yield from split_configs(MMA_CANDIDATES, n, k, gs, sms)


def main() -> None:
    args = grid_cli(__doc__, budget_s=40.0, extra=[("--gpr", 1, "LUT groups per row"),
                                                   ("--fused", 1, "0: the kernel table's three shapes only"),
                                                   ("--kernel", "mma", "mma[_preload|_tasks]|prmt_tokens"),
                                                   ("--cases", "", "tokens x tasks, e.g. 16x2,16x4")])
    from kernels import triton_ops

    if args.kernel == "mma":
        triton_ops.mma_ok = lambda *args: False  # the op's column: its choice among the other kernels
    launch, configs = launch_decode, mma_configs
    if args.kernel == "mma_preload":
        configs = preload_configs
    tasks_mode = args.kernel == "mma_tasks"
    if tasks_mode:
        configs = task_configs
    cases = TASK_CASES if tasks_mode else CASES
    if args.kernel == "prmt_tokens":
        configs, cases = token_configs, TOKEN_CASES
    if args.cases:
        cases = dims(args.cases)
    shapes = SERVER_SHAPES if tasks_mode else SHAPES if args.fused else SHAPES[:3]
    sms = torch.cuda.get_device_properties(0).multi_processor_count
    rows: list[dict] = []
    t_start = time.time()
    for n, k in shapes:
        layer = Layer(n, k, args.gpr)
        gs = k // args.gpr
        for m, tasks in cases:
            x, slots = make_batch(m, tasks, k)
            ref = lut_linear_reference(x, layer.codes[0], layer.pools[0], slots, BITS)
            case = {"N": n, "K": k, "M": m, "tasks": tasks, "gpr": args.gpr}
            t0, best = time.time(), None
            for cfg, waves in configs(n, k, gs, sms):
                if time.time() - t0 > args.budget_s / len(cases):
                    break
                us, err = checked_time(launch, layer, x, slots, ref, cfg)
                rows.append({**case, "kind": args.kernel, **cfg, "waves": waves, "us": us, "err": err})
                if us and (best is None or us < best["us"]):
                    best = rows[-1]
            op_us = bench_graph(ours_fns(layer, x, slots))
            cublas_us = bench_graph(cublas_fns(layer, x))
            rows.append({**case, "kind": "op", "us": op_us})
            rows.append({**case, "kind": "cublas", "us": cublas_us})
            if tasks_mode:  # the op above took its gather class (no task count given); its bucket class too
                bucket_us = bench_graph(ours_fns(layer, x, slots, decode_kernel="bucket"))
                rows.append({**case, "kind": "op_bucket", "us": bucket_us})
                print(f"{n}x{k} M={m} T={tasks}: bucket {bucket_us:.1f} us", flush=True)
            if best:
                keys = ("num_warps", "ROWS", "WPL", "SPLIT_K", "PRELOAD", "BLOCK_N", "BLOCK_K", "PREFETCH")
                shape = {key: best[key] for key in keys if key in best}
                print(f"{n}x{k} M={m} T={tasks}: {args.kernel} {best['us']:.1f} us {shape} "
                      f"x{cublas_us / best['us']:.2f} | op {op_us:.1f} x{cublas_us / op_us:.2f} | "
                      f"cuBLAS {cublas_us:.1f}", flush=True)  # fmt: skip
        del layer
        torch.cuda.empty_cache()
    out = {"gpu": torch.cuda.get_device_name(), "bits": BITS, "rows": rows, "seconds": time.time() - t_start,
           "op_fragment": args.kernel != "mma"}  # whether the op's column could take the fragment kernel
    (args.out / f"{args.kernel}_grid_gpr{args.gpr}.json").write_text(json.dumps(out, indent=0))


if __name__ == "__main__":
    main()
