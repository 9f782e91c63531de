"""Launches for Nsight Compute (sixtieth_profile_decode.sh), one task on 4096x4096, gpr 1: the one-token
register-LUT kernel (the shipped H100 choice, 7.8-8.0 us in the table), the fragment kernel at 4 tokens (the
shipped gather-class choice) and the wgmma kernel with split-K at 4 and 16 tokens (the sixtieth session's grid:
12.5 and 12.8 us whatever cure was added). Question: with the same codes to read, what do the multi-token kernels
spend their extra 4-5 us on: DRAM (throughput), L2 (x's re-reads), or waits with the memory system idle?"""

import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[3]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from bench_kernels import BITS, Layer  # noqa: E402

from kernels import SlotSegments  # noqa: E402
from kernels.triton_decode import launch_decode  # noqa: E402
from kernels.triton_prefill_prmt import SegmentTiles  # noqa: E402
from kernels.triton_prefill_wgmma import launch_prefill_wgmma  # noqa: E402

layer = Layer(4096, 4096, 1)
codes, pool = layer.codes[0], layer.pools[0]
ONE_TOKEN = {"MODE": 3, "BLOCK_N": 8, "BLOCK_K": 1024, "HALF2": 1, "PREFETCH": 1, "SPLIT_K": 1, "X_VEC": 1,
             "num_stages": 1, "num_warps": 4}  # fmt: skip
FRAGMENT_4 = {"MODE": 5, "ROWS": 2, "SPLIT_K": 8, "WPL": 4, "num_warps": 2}
WGMMA = {4: {"WGMMA": 1, "X_TMA": 1, "BLOCK_M": 8, "BLOCK_N": 128, "BLOCK_K": 64, "num_warps": 8, "num_stages": 4,
             "STORE_ROWS": 0, "PINGPONG": 1, "SPLIT_K": 8},
         16: {"WGMMA": 1, "X_TMA": 1, "BLOCK_M": 16, "BLOCK_N": 64, "BLOCK_K": 64, "num_warps": 4, "num_stages": 4,
              "STORE_ROWS": 0, "PINGPONG": 0, "SPLIT_K": 8}}  # fmt: skip
for m, config in ((1, ONE_TOKEN), (4, FRAGMENT_4)):
    x = torch.randn(m, 4096, device="cuda").half()
    slots = torch.zeros(m, dtype=torch.int32, device="cuda")
    y = torch.empty(m, 4096, dtype=torch.float16, device="cuda")
    try:
        for _ in range(2):
            launch_decode(x, codes, pool, slots, BITS, y, config)
    except Exception as e:  # the others still profiled
        print(f"M={m} {config}: {e!r}", flush=True)
for m, config in WGMMA.items():
    x = torch.randn(m, 4096, device="cuda").half()
    slots = torch.zeros(m, dtype=torch.int32, device="cuda")
    segments = SlotSegments.from_counts([0], [m], "cuda")
    y = torch.empty(m, 4096, dtype=torch.float16, device="cuda")
    try:
        for _ in range(2):
            launch_prefill_wgmma(x, codes, pool, slots, BITS, y, config, SegmentTiles(segments.starts, (m,), 1))
    except Exception as e:
        print(f"M={m} {config}: {e!r}", flush=True)
torch.cuda.synchronize()
print("launched", flush=True)
