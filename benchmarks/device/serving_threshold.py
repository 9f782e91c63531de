"""Thirty-second session: serving decode at 32 and 64 rows over a few task counts (gpr 1, the 7B shape) with the
bucket threshold above 16 rows set to argv[2] (triton_ops.BUCKET_MIN_TASKS_LARGE_M_SM90: 13, the old value, or 9,
the wgmma bucket kernel's crossover in the kernel table; since the fortieth session also
BUCKET_MIN_TASKS_MID_M_SM90, 17-32 rows). argv[1]: a label; argv[3]: the task counts (default 9,12)."""

import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.getcwd(), "benchmarks", "device"))
from serving_setup import bs, serving_engine  # noqa: E402

from kernels import triton_ops  # noqa: E402

label, threshold = sys.argv[1], int(sys.argv[2])
counts = [int(n) for n in (sys.argv[3] if len(sys.argv) > 3 else "9,12").split(",")]
triton_ops.BUCKET_MIN_TASKS_LARGE_M_SM90 = triton_ops.BUCKET_MIN_TASKS_MID_M_SM90 = threshold
with tempfile.TemporaryDirectory() as tmp:
    engine, base, tasks, args, floor_of = serving_engine(1, max(counts), tmp)
    for batch in (32, 64):
        for n in counts:
            p = bs.decode_point(engine, base, tasks[:n], batch, args, floor_of)
            print(f"[{label}] threshold={threshold} batch={batch} tasks={n}: {p['tok_per_s']:.1f} tok/s, step "
                  f"{p['step_ms']:.2f} ms", flush=True)
