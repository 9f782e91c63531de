"""Thirty-first session: the bucket keys of 32 and 64 tokens tuned again with the wgmma bucket kernel among the
candidates (triton_bucket_wgmma.bucket_wgmma_configs_for), and each key's old (shipped) and new choice timed in
turns (graph replays, L2 flushed), 16 tasks interleaved. Run with SKETCHSERVE_CACHE=DIR and the keys dropped from
this machine's copy of kernels/tuned (prep.sh's drop_shipped); argv[1]: a copy of the shipped JSON from before;
argv[2]: the token counts (default 32,64; the thirty-second session re-tuned 4,8,16 with the WIDE form); argv[3]: the
output's label (default thirtyfirst). With LEVEL_SPLIT_ALL=1 in the environment (fortieth session) the op's tuning
also times every LEVEL_SPLIT candidate (triton_bucket_wgmma.BUCKET_LEVEL_SPLIT_CANDIDATES, not only the shipped
LEVEL_SPLIT_OP_CANDIDATES)."""

import json
import os
import sys

import torch

sys.path.insert(0, "benchmarks")
from bench_kernels import make_batch, rel_to, turns_us  # noqa: E402

from kernels import autotune  # noqa: E402
from kernels.packing import pack_codes  # noqa: E402
from kernels.reference import lut_linear_reference  # noqa: E402
from kernels.triton_bucket import launch_bucket  # noqa: E402
from kernels.triton_ops import lut_linear_forward  # noqa: E402

if os.environ.get("LEVEL_SPLIT_ALL") == "1":
    from kernels import triton_bucket_wgmma

    triton_bucket_wgmma.LEVEL_SPLIT_OP_CANDIDATES[:] = triton_bucket_wgmma.BUCKET_LEVEL_SPLIT_CANDIDATES


def retune(key: str, old_choice: dict) -> dict:
    m, n, k, bits, gpr = (int(v) for v in key.split("|")[1].split(",")[:5])
    codes = pack_codes(torch.randint(0, 16, (n, k), device="cuda"), bits)
    pool = (torch.randn(16, n, gpr, 16, device="cuda") * 0.02).half()
    x, slots = make_batch(m, 16, k)
    lut_linear_forward(x, codes, pool, slots, bits, decode_kernel="bucket")  # tunes this key
    new = autotune._MEMORY[key]
    ref = lut_linear_reference(x, codes, pool, slots, bits)
    y = torch.empty(m, n, dtype=torch.float16, device="cuda")
    launch_bucket(x, codes, pool, slots, bits, y, new)
    err = rel_to(y, ref)
    t = turns_us({label: (lambda c=cfg: launch_bucket(x, codes, pool, slots, bits, y, c))
                  for label, cfg in (("old", old_choice), ("new", new))})  # fmt: skip
    print(f"{key}: old {t['old']:.1f} us, new {t['new']:.1f} us ({t['old'] / t['new']:.2f}x), err {err:.1e}; "
          f"new {new}", flush=True)
    return {"key": key, "old": old_choice, "new": new, "old_us": t["old"], "new_us": t["new"], "rel_err": err}


old = json.load(open(sys.argv[1]))
rows = []
tokens = sys.argv[2].split(",") if len(sys.argv) > 2 else ["32", "64"]
label = sys.argv[3] if len(sys.argv) > 3 else "thirtyfirst"
for key in sorted(k for k in old if k.startswith(tuple(f"bucket|{t}," for t in tokens))):
    rows.append(retune(key, old[key]))
    torch.cuda.empty_cache()
json.dump(rows, open(os.path.join(os.environ["OUT"], f"bucket_retune_{label}.json"), "w"), indent=1)
