"""Launch the bucket kernel's mma.sync form (or the wgmma form with --wgmma) a few times at 16 tokens over 16
tasks on 4096x4096, gpr 1, for Nsight Compute (thirtyfirst_profile_bucket.sh); --config JSON: that launcher config
instead (the thirty-third session's profile of the WIDE form)."""

import json
import sys

import torch

sys.path.insert(0, "benchmarks")
from bench_kernels import make_batch  # noqa: E402

from kernels.packing import pack_codes  # noqa: E402
from kernels.triton_bucket_wgmma import launch_bucket_wgmma  # noqa: E402

config = {"LAYOUT": "wgmma", "BLOCK_M": 16, "ROWS": 16, "BLOCK_K": 64, "num_warps": 4, "num_stages": 4, "SPLIT_K": 2}
if "--config" in sys.argv:
    config = json.loads(sys.argv[sys.argv.index("--config") + 1])
elif "--wgmma" not in sys.argv:
    config["MMA_V2"] = 1
codes = pack_codes(torch.randint(0, 16, (4096, 4096), device="cuda"), 4)
pool = (torch.randn(16, 4096, 1, 16, device="cuda") * 0.02).half()
x, slots = make_batch(16, 16, 4096)
y = torch.empty(16, 4096, dtype=torch.float16, device="cuda")
for _ in range(4):
    launch_bucket_wgmma(x, codes, pool, slots, 4, y, config)
torch.cuda.synchronize()
