"""Twenty-seventh session: the op's segment tiles gave NaN at Llama shapes on the H200 although the CUDA tests at
small shapes passed. Per config of the register-LUT prefill kernel, tiled or sorted, with and without the unmasked
loads (EVEN_K): the relative error against the reference and the rows left unwritten (NaN).

    python3 benchmarks/device/sessions/twentyseventh_debug_tiles.py
"""

import itertools

import torch

from kernels import SlotSegments, pack_codes
from kernels.reference import lut_linear_reference
from kernels.triton_prefill_prmt import SegmentTiles, launch_prefill_prmt

KEYS = ("BLOCK_M", "BLOCK_N", "BLOCK_K", "num_warps", "num_stages", "W_LEFT")
CONFIGS = [(256, 128, 64, 8, 3, 1), (256, 128, 64, 8, 3, 0), (128, 128, 64, 4, 3, 0), (64, 64, 32, 4, 2, 1)]

for n, k, counts in [(256, 256, [64] * 4), (4096, 4096, [256] * 8), (4096, 4096, [2048])]:
    g = torch.Generator().manual_seed(0)
    codes = pack_codes(torch.randint(0, 16, (n, k), generator=g), 4).cuda()
    pool = (torch.randn(8, n, 1, 16, generator=g) * 0.02).half().cuda()
    m = sum(counts)
    x = torch.randn(m, k, generator=g).half().cuda()
    seg = SlotSegments.from_counts(list(range(len(counts))), counts, "cuda")
    per = seg.slot_of_token()
    ref = lut_linear_reference(x, codes, pool, per, 4)
    for cfg, tiled, even in itertools.product(CONFIGS, [True, False], [True, False]):
        config = dict(zip(KEYS, cfg, strict=True), EVEN_K=even)
        y = torch.full((m, n), float("nan"), dtype=torch.half, device="cuda")
        tiles = SegmentTiles(seg.starts, tuple(counts)) if tiled else None
        launch_prefill_prmt(x, codes, pool, per, None, 4, y, config, tiles=tiles)
        torch.cuda.synchronize()
        nan_rows = torch.isnan(y).any(1).nonzero().flatten()
        err = ((y.float() - ref.float()).norm() / ref.float().norm()).item()
        print(n, k, counts[:2], cfg, "tiled" if tiled else "sorted", "even" if even else "masked", f"err {err:.2e}",
              "nan rows", nan_rows.numel(), nan_rows[:4].tolist(), flush=True)  # fmt: skip
