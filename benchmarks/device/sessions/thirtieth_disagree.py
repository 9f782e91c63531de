"""Thirtieth session: in the gpr 4 re-tune every prefill_tiles candidate "disagreed with the default config" on one
key, 4096x4096 "4 decode rows + 4 tasks x 127" (all 512 tokens in segment tiles, four of them one token long); the
twenty-ninth session's gpr 1 re-tune did the same on 4096x11008, the twenty-eighth's on others. The key then keeps
the default. Reading of the code: with 64-token DENSE_MIN_TOKENS the four one-token segments are not tiled (left to
the decode path after the tiles), so during tuning their rows hold whatever the op's torch.empty output held, and
`agrees` demanded a finite output everywhere. Fixed since (autotune: output NaN-filled before each launch, compared
where written). Prediction with the fix: every candidate agrees, the reference's non-finite rows are exactly the 4
decode rows. Each tuning of that case logged: non-finite rows and the error of both against the torch reference.

    SKETCHSERVE_SHIPPED_TUNING=0 SKETCHSERVE_CACHE=$(mktemp -d) python3 benchmarks/device/sessions/thirtieth_disagree.py
"""

import os
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench_kernels import BITS, Layer, rel_to  # noqa: E402
from prefill_tasks import case_batch  # noqa: E402

from kernels import autotune, triton_ops  # noqa: E402
from kernels.reference import lut_linear_reference  # noqa: E402

RUNS = [(t, 1) for t in range(4)] + [(t, 127) for t in range(4)]
REF: dict = {}


def logged_agrees(output, reference, rtol=1e-2):
    ok = real_agrees(output, reference, rtol)
    true = REF["y"]
    if output.shape != true.shape:  # the decode path's own tuning of the rows the tiles leave
        print(f"  agrees={ok} (decode rows, {tuple(output.shape)})", flush=True)
        return ok
    bad_rows = (~torch.isfinite(output.float())).any(1).nonzero().flatten().tolist()
    ref_bad = (~torch.isfinite(reference)).any(1).nonzero().flatten().tolist()
    w = torch.isfinite(reference).all(1)  # the rows the default wrote
    print(f"  agrees={ok} written rows: out vs torch {rel_to(output[w], true[w]):.2e}, tuner ref vs torch "
          f"{rel_to(reference[w], true[w]):.2e}, "
          f"non-finite rows out {bad_rows[:6]} ({len(bad_rows)}), ref {ref_bad[:6]} ({len(ref_bad)})", flush=True)
    if not ok:  # which rows differ
        d = (output.float() - reference).abs().amax(1)
        print("   rows differing most:", d.topk(6).indices.tolist(), d.topk(6).values.tolist(), flush=True)
    return ok


real_agrees = autotune.agrees
autotune.agrees = logged_agrees
pick = autotune.pick_config


def logged_pick(kernel, key, candidates, launch, default, device, output=None):
    if kernel == "prefill_tiles":
        print("tuning", kernel, key, "default", default(), flush=True)
    return pick(kernel, key, candidates, launch, default, device, output)


triton_ops.autotune.pick_config = logged_pick

for rnd in range(int(os.environ.get("ROUNDS", "2"))):
    for n, k in [(4096, 4096), (4096, 11008)]:
        for gpr in (1, 4):
            layer = Layer(n, k, gpr)
            x, segments = case_batch(RUNS, k)
            REF["y"] = lut_linear_reference(x, layer.codes[0], layer.pools[0], segments.per_token, BITS)
            autotune._MEMORY.clear()
            autotune._FAST.clear()
            print(f"== round {rnd} {n}x{k} gpr {gpr}", flush=True)
            for i in range(3):
                y = triton_ops.lut_linear_forward(x, layer.codes[0], layer.pools[0], segments.per_token, BITS, segments)
                torch.cuda.synchronize()
                print(f" call {i}: vs torch {rel_to(y, REF['y']):.2e}, non-finite rows "
                      f"{(~torch.isfinite(y.float())).any(1).sum().item()}", flush=True)
            del layer
            torch.cuda.empty_cache()
