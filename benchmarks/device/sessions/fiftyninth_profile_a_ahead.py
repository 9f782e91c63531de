"""Two launches each of the wgmma prefill's shipped tile and its A_AHEAD twin on the prefill bar's case (4096x4096,
gpr 4, 8 tasks x 256 tokens), for Nsight Compute (fiftyninth_profile_a_ahead.sh): where each waits. A_AHEAD looks
the next block's tile up during the warpgroup's own MMA, and lost by 7 % (123.8 against 116.2 us, H100, fifty-ninth
session) where it was predicted to win 10-20 %."""

import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[3]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from bench_kernels import BITS, Layer  # noqa: E402
from prefill_tasks import case_batch  # noqa: E402

from kernels.triton_prefill_prmt import SegmentTiles  # noqa: E402
from kernels.triton_prefill_wgmma import default_prefill_wgmma_config, launch_prefill_wgmma  # noqa: E402

layer = Layer(4096, 4096, 4)
runs = [(t, 256) for t in range(8)]
x, segments = case_batch(runs, 4096)
tiles = SegmentTiles(segments.starts, tuple(n for _, n in runs))
y = torch.empty(x.shape[0], 4096, dtype=x.dtype, device="cuda")
base = default_prefill_wgmma_config()
for config in (base, {**base, "A_AHEAD": 1}):
    for _ in range(2):  # the first compiles; ncu skips it
        launch_prefill_wgmma(x, layer.codes[0], layer.pools[0], segments.per_token, BITS, y, config, tiles)
torch.cuda.synchronize()
print("launched", flush=True)
