"""A grid of the decode kernels' configs at one batch size, wider than the autotuner's lists.

    python3 benchmarks/decode_grid.py --out OUT_DIR [--m 1] [--tasks 1] [--budget-s 150] [--down 1] [--fused 1]

At M = 1 the register-LUT kernel (MODE_PRMT, kernels/triton_decode_prmt.py) lost to the gather kernel's FMA mode
with the autotuner's 6 candidates (22.6 vs 15.7 us at 4096x4096, kernels_sweep_h200.json) although it compiles to
half the instructions per weight; its grid found 12.9 us (results/decode_m1_grid.json; prefetching its codes a
block ahead, PREFETCH=1, gained nothing in the re-timed grid; in the fifteenth session, with fp16 products and no
split-K, it gained 10 % at the fused shapes: --prefetch times depths 0-3). At M = 1 the modes are that kernel, the
same with x in 16-byte loads split in registers (X_VEC=1, prmt_xv) or with K split at the LUT groups
(GROUP_SPLIT=1, prmt_gs), and the FMA gather; for M > 1 the register-LUT tensor-core kernel (MODE_PRMT_DOT) and the
gather kernel's MODE_DOT_SWAP. Each is timed over block shapes, warps, stages and split-K waves at M tokens over
--tasks tasks, 4-bit, gpr 4, on 4096x4096 (the modes share --budget-s), then each mode's best six on 11008x4096
(and on the down projection's 4096x11008 with --down 1); each config is checked against the torch reference (output
poisoned first). Writes OUT_DIR/decode_m{M}_grid.json (with --tasks > 1: decode_m{M}_t{T}_grid.json) and prints the
best configs per mode and shape, each mode's fastest 8 re-timed 3 rounds in turn (single timings varied up to 2x on
the H200): the data for PRMT_CANDIDATES / PRMT_DOT_CANDIDATES and _ONE_TOKEN / _TOKENS.

--fused 1 times the shapes the server runs at Llama-2-7B size, whose q/k/v and gate/up projections are fused
(12288x4096, 22016x4096, and the down projection), with the modes the autotuner times at start-up only (prmt at
one token, prmt_dot above): the grid that the gpr 4 batch-1 figure's shapes never had.
"""

from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_kernels import (  # noqa: E402
    BITS,
    Layer,
    distinct,
    fastest,
    graph_us,
    grid_cli,
    launch_fn,
    make_batch,
    time_grid,
)

from kernels.reference import lut_linear_reference  # noqa: E402
from kernels.triton_common import split_for  # noqa: E402
from kernels.triton_decode import MODE_DOT_SWAP, MODE_FMA, MODE_PRMT, MODE_PRMT_DOT, launch_decode  # noqa: E402

GPR = 4
WAVES = (0, 1, 2, 4)  # 0: no split-K
RETIME_TOP, RETIME_ROUNDS = 8, 3
# Llama-2-7B's projections as the server runs them: q/k/v fused, gate/up fused, down
FUSED_SHAPES = [(12288, 4096), (22016, 4096), (4096, 11008)]
CONFIG_KEYS = ("MODE", "BLOCK_N", "BLOCK_K", "num_warps", "num_stages", "SPLIT_K", "PREFETCH", "SLOT_OUTER", "FAST",
               "X_VEC", "GROUP_SPLIT", "HALF2")
# prmt_xv: the register-LUT kernel with x in 16-byte loads (X_VEC=1); prmt_gs: with K split at the LUT groups
# (GROUP_SPLIT=1, no other split-K); neither faster on the H200 (results/decode_m1_grid.json)
# prmt_h2: with the products and each code word's sum in fp16 (HALF2=1); prmt_h2xv: the same with x's 4 pairs of a
# word from one 16-byte load (X_VEC=1: 4.44 -> 4.00 instructions per weight at 32 x 512 on sm_90, fifteenth session)
ONE_TOKEN_MODES = {"prmt": MODE_PRMT, "prmt_h2": MODE_PRMT, "prmt_h2xv": MODE_PRMT, "prmt_xv": MODE_PRMT,
                   "prmt_gs": MODE_PRMT, "fma": MODE_FMA}  # fmt: skip
TOKENS_MODES = {"prmt_dot": MODE_PRMT_DOT, "dot_swap": MODE_DOT_SWAP}
# the others: 1 (the gather kernel's register prefetch depth; ignored by the tensor-core register-LUT kernel)
PREFETCH_OF = {"prmt": 0, "prmt_h2": 0, "prmt_h2xv": 0, "prmt_xv": 0, "prmt_gs": 0}
# (BLOCK_N, BLOCK_K, warps, stages): each mode's fastest in the last measurements, where its grid starts
CURRENT = {"prmt": (32, 512, 4, 2), "prmt_h2": (32, 512, 4, 2), "prmt_h2xv": (8, 1024, 4, 1),
           "prmt_xv": (32, 512, 4, 2),
           "prmt_gs": (32, 512, 4, 2), "fma": (8, 512, 4, 2),
           "prmt_dot": (64, 64, 4, 4), "dot_swap": (32, 256, 4, 3)}  # fmt: skip


def compile_configs(mode: str, m: int, stages: tuple[int, ...] = (1, 2, 3)) -> list[tuple[int, int, int, int]]:
    """(BLOCK_N, BLOCK_K, warps, stages), nearest the mode's current best first. One token: >= 1 code word per
    thread, stages from `stages` (the one-token kernel's loads feed no dot: Triton pipelines none of them, so
    stages changed nothing in the fourteenth session's grid). Tensor-core modes: BLOCK_K divides the group size
    (4096 / GPR) and the tile fits the registers."""
    bn0, bk0, w0, _ = CURRENT[mode]
    if m == 1:
        # 4-row blocks and blocks of 2,048 / 4,096 columns since the sixteenth session (8 x 1,024 won with X_VEC)
        grid = itertools.product((4, 8, 16, 32, 64), (128, 256, 512, 1024, 2048, 4096), (1, 2, 4, 8), stages)
        ok = [c for c in grid if c[0] * c[1] // 8 >= 32 * c[2]]
    else:
        grid = itertools.product((16, 32, 64, 128), (32, 64, 128, 256), (4, 8), (1, 2, 3, 4))
        ok = [c for c in grid if (4096 // GPR) % c[1] == 0 and c[0] * c[1] <= 2048 * c[2]]  # <= 64 per thread
    ok.sort(key=lambda c: (abs(c[0].bit_length() - bn0.bit_length()) + abs(c[1].bit_length() - bk0.bit_length())
                           + abs(c[2].bit_length() - w0.bit_length()), c[3]))  # fmt: skip
    return ok


def run_shape(n: int, k: int, m: int, tasks: int, mode: str, configs, budget_s: float, sms: int, rows: list,
              prefetch: tuple[int, ...] = ()) -> None:  # fmt: skip
    """Time configs at one shape; prefetch: the register prefetch depths to time each one-token register-LUT config
    at (default: the mode's PREFETCH_OF)."""
    layer = Layer(n, k, GPR)
    x, slots = make_batch(m, tasks, k)
    modes = ONE_TOKEN_MODES if m == 1 else TOKENS_MODES
    ref = lut_linear_reference(x, layer.codes[0], layer.pools[0], slots, BITS)

    depths = prefetch if prefetch and mode in PREFETCH_OF else (PREFETCH_OF.get(mode, 1),)

    def launches(block_n, block_k, warps, stages):
        for waves, depth in itertools.product((0,) if mode == "prmt_gs" else WAVES, depths):  # GROUP_SPLIT: own split
            split = split_for(n, k, block_n, block_k, waves * sms) if waves else 1
            if waves and split == 1:
                continue  # the same launch as waves 0
            cfg = {"MODE": modes[mode], "BLOCK_N": block_n, "BLOCK_K": block_k, "num_warps": warps,
                   "num_stages": stages, "SPLIT_K": split, "PREFETCH": depth, "SLOT_OUTER": False,
                   "FAST": False, "X_VEC": int(mode in ("prmt_xv", "prmt_h2xv")),
                   "GROUP_SPLIT": int(mode == "prmt_gs"), "HALF2": int(mode in ("prmt_h2", "prmt_h2xv"))}  # fmt: skip
            yield cfg, {"N": n, "K": k, "M": m, "tasks": tasks, "kind": mode, "waves": waves}

    time_grid(launch_decode, layer, x, slots, ref, (launches(*c) for c in configs), budget_s, rows, f"{mode} {n}x{k}")
    retime(layer, x, slots, fastest(rows, RETIME_TOP, N=n, K=k, kind=mode))
    del layer
    torch.cuda.empty_cache()


def retime(layer, x, slots, top: list[dict]) -> None:
    """Time the fastest configs again, RETIME_ROUNDS rounds in turn, longer: on the H200 one config measured 22.6
    us in a sweep and 51 in the grid, and configs with the same SASS came out 3x apart, so single timings are not
    trusted to rank. Adds us_rounds and us_retimed (their median) to each row."""
    y = torch.empty(x.shape[0], layer.codes[0].shape[0], dtype=x.dtype, device=x.device)
    for r in top:
        r["us_rounds"] = []
    for _ in range(RETIME_ROUNDS):
        for r in top:
            cfg = {k: r[k] for k in CONFIG_KEYS}
            r["us_rounds"].append(graph_us(launch_fn(launch_decode, layer, x, slots, BITS, y, cfg), reps=50))
    for r in top:
        r["us_retimed"] = sorted(r["us_rounds"])[len(r["us_rounds"]) // 2]
        print(f"  retimed BN {r['BLOCK_N']} BK {r['BLOCK_K']} w {r['num_warps']} s {r['num_stages']} split "
              f"{r['SPLIT_K']} prefetch {r['PREFETCH']}: {r['us']:.1f} -> {[round(u, 1) for u in r['us_rounds']]}",
              flush=True)  # fmt: skip


def main() -> None:
    args = grid_cli(__doc__, budget_s=150.0, extra=[("--m", 1, "tokens"), ("--tasks", 1, "distinct tasks"),
                                                    ("--down", 0, "1: also the down projection, 4096x11008"),
                                                    ("--fused", 0, "1: the fused projections' shapes, prmt only"),
                                                    ("--modes", "", "comma-separated modes (default: all of M's)"),
                                                    ("--prefetch", "", "comma-separated register prefetch depths "
                                                     "for the one-token register-LUT modes (default: 0)"),
                                                    ("--stages", "1,2,3", "comma-separated stages at one token"),
                                                    ("--gpr", GPR, "LUT groups per row")])
    globals()["GPR"] = args.gpr
    prefetch = tuple(int(d) for d in args.prefetch.split(",")) if args.prefetch else ()
    stages = tuple(int(d) for d in args.stages.split(","))
    if args.fused:
        shapes = [(4096, 4096), *FUSED_SHAPES]
        modes = {"prmt": MODE_PRMT} if args.m == 1 else {"prmt_dot": MODE_PRMT_DOT}
    else:
        shapes = [(4096, 4096), (11008, 4096)] + ([(4096, 11008)] if args.down else [])
        modes = ONE_TOKEN_MODES if args.m == 1 else TOKENS_MODES
    if args.modes:
        modes = {name: (ONE_TOKEN_MODES | TOKENS_MODES)[name] for name in args.modes.split(",")}
    sms = torch.cuda.get_device_properties(0).multi_processor_count
    rows: list[dict] = []
    for mode in modes:
        run_shape(4096, 4096, args.m, args.tasks, mode, compile_configs(mode, args.m, stages),
                  args.budget_s / len(modes), sms, rows, prefetch)  # fmt: skip
        top = distinct((r["BLOCK_N"], r["BLOCK_K"], r["num_warps"], r["num_stages"])
                       for r in fastest(rows, 24, N=4096, K=4096, kind=mode))  # fmt: skip
        for n, k in shapes[1:]:
            run_shape(n, k, args.m, args.tasks, mode, top[:8 if args.fused else 6], args.budget_s / (2 * len(modes)),
                      sms, rows, prefetch)  # fmt: skip
    result = {"gpu": torch.cuda.get_device_name(), "M": args.m, "tasks": args.tasks, "gpr": GPR, "bits": BITS,
              "rows": rows}  # fmt: skip
    name = f"decode_m{args.m}" + (f"_t{args.tasks}" if args.tasks > 1 else "") + ("_fused" if args.fused else "")
    name += "_grid.json"
    (args.out / name).write_text(json.dumps(result, indent=0))
    for mode in modes:
        for n, k in shapes:
            print(f"best {mode} at {n}x{k}:")
            for r in sorted(fastest(rows, RETIME_TOP, N=n, K=k, kind=mode), key=lambda r: r.get("us_retimed", r["us"])):
                print(f"  {r.get('us_retimed', r['us']):.1f} us (first {r['us']:.1f})  BN {r['BLOCK_N']} "
                      f"BK {r['BLOCK_K']} warps {r['num_warps']} stages {r['num_stages']} split {r['SPLIT_K']} "
                      f"(waves {r['waves']}) prefetch {r['PREFETCH']}")  # fmt: skip


if __name__ == "__main__":
    main()
