"""Thirty-third session: the WIDE BLOCK_K 256 choices at 16 tokens over 16 tasks with ptxas's registers (128: 16
warps an SM) against maxnreg 112 (18 warps, the shared-memory limit of 9 programs; 24 bytes of stack outside the K
loop), timed in turns (graph replays, L2 flushed) on the three kernel-table shapes at gpr 1 (Nsight: 3 warps a
scheduler, the tensor pipe 51 % busy)."""

import sys

import torch

sys.path.insert(0, "benchmarks")
from bench_kernels import make_batch, rel_to, turns_us  # noqa: E402

from kernels.packing import pack_codes  # noqa: E402
from kernels.reference import lut_linear_reference  # noqa: E402
from kernels.triton_bucket import launch_bucket  # noqa: E402

BASE = {"LAYOUT": "wgmma", "BLOCK_M": 16, "WIDE": 1, "BLOCK_K": 256, "num_stages": 2, "SPLIT_K": 4, "MMA_V2": 1}


def ab(n: int, k: int) -> None:
    codes = pack_codes(torch.randint(0, 16, (n, k), device="cuda"), 4)
    pool = (torch.randn(16, n, 1, 16, device="cuda") * 0.02).half()
    x, slots = make_batch(16, 16, k)
    ref = lut_linear_reference(x, codes, pool, slots, 4)
    y = torch.empty(16, n, dtype=torch.float16, device="cuda")
    configs = {f"rows{r} maxnreg {m}": {**BASE, "ROWS": r, "num_warps": r // 8, "maxnreg": m}
               for r in (16, 32) for m in (0, 112)}  # fmt: skip
    for label, cfg in configs.items():
        launch_bucket(x, codes, pool, slots, 4, y, cfg)
        assert rel_to(y, ref) < 3e-3, label
    t = turns_us({label: (lambda c=cfg: launch_bucket(x, codes, pool, slots, 4, y, c))
                  for label, cfg in configs.items()})  # fmt: skip
    print(f"{n}x{k}: " + ", ".join(f"{c} {us:.1f} us" for c, us in t.items()), flush=True)


for n, k in ((4096, 4096), (11008, 4096), (4096, 11008)):
    ab(n, k)
