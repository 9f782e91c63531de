"""Why the bucket-sum kernel costs more at gpr 4 than at gpr 1 with the same config (16 tokens over 16 tasks).

    python3 benchmarks/bucket_gpr.py            CUDA-graph microseconds per call, gpr 1 / 2 / 4, each shape, the
                                                cols layout at 16 tokens and the rows layout at 64
    python3 benchmarks/bucket_gpr.py --once     one launch per gpr at 4096x4096 (for ncu -k regex:_bucket_cols)

The sixteenth session's kernel table (results/kernels_h200_sixteenth.json) has 32.0 us at gpr 1 and 45.8 at gpr 4 on
4096x4096 with the same tuned config (cols layout, quads, BLOCK_N 32, BLOCK_K 64, split-K 4: one LUT group per
program at both), 74.1 / 81.4 on 4096x11008.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kernels import pack_codes  # noqa: E402
from kernels.reference import lut_linear_reference  # noqa: E402
from kernels.timing import graph_time_ms  # noqa: E402
from kernels.triton_bucket import launch_bucket  # noqa: E402

BITS, TASKS = 4, 16
CONFIG = {"LAYOUT": "cols", "PAIRS": True, "QUADS": True, "BLOCK_N": 32, "BLOCK_K": 64, "SPLIT_K": 4,
          "num_warps": 4, "num_stages": 3}  # fmt: skip
ROWS_CONFIG = {"BLOCK_N": 16, "BLOCK_K": 64, "num_warps": 4, "num_stages": 3, "SPLIT_K": 2}  # 64 tokens (M > 16)


def case(n: int, k: int, gpr: int, M: int = 16):  # noqa: N803
    g = torch.Generator(device="cuda").manual_seed(gpr)
    codes = pack_codes(torch.randint(0, 2**BITS, (n, k), device="cuda", generator=g), BITS)
    pool = (torch.randn(TASKS, n, gpr, 2**BITS, device="cuda", generator=g) * 0.02).half()
    x = torch.randn(M, k, device="cuda", generator=g).half()
    slots = (torch.arange(M, device="cuda") % TASKS).to(torch.int32)
    return x, codes, pool, slots, torch.empty(M, n, dtype=torch.float16, device="cuda")


def timed(inputs: tuple, config: dict) -> str:
    """The bucket kernel on inputs (case's) with config: CUDA-graph microseconds per call and its relative error."""
    x, codes, pool, slots, y = inputs
    us = graph_time_ms(lambda: launch_bucket(x, codes, pool, slots, BITS, y, config), reps=20) * 1e3
    ref = lut_linear_reference(x, codes, pool, slots, BITS).float()
    return f"{us:6.1f} us (rel err {(y.float() - ref).norm() / ref.norm():.1e})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--once", action="store_true")
    args = ap.parse_args()
    shapes = [(4096, 4096)] if args.once else [(4096, 4096), (4096, 11008), (11008, 4096)]
    for n, k in shapes:
        for gpr in (1, 4) if args.once else (1, 2, 4):
            if args.once:
                x, codes, pool, slots, y = case(n, k, gpr)
                launch_bucket(x, codes, pool, slots, BITS, y, CONFIG)
                continue
            for m, config in ((16, CONFIG), (64, ROWS_CONFIG)):
                layout = "cols" if m == 16 else "rows"
                print(f"{n}x{k} gpr {gpr} M {m} {layout}: {timed(case(n, k, gpr, m), config)}", flush=True)
    torch.cuda.synchronize()


if __name__ == "__main__":
    main()
