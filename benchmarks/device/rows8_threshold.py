"""bench_serving's decode point at a small batch (8 by default) over a few tasks (7B shape), with the bucket kernel's
threshold as shipped (kernels/triton_ops.py bucket_min_tasks: from 4 tasks up to 8 rows on sm_90 since the
thirty-seventh session, which measured it with this script; 7 before) or as SKETCHSERVE_BUCKET_MIN_TASKS sets it for
every row count.
argv[1]: a label; argv[2]: gpr; argv[3] (optional): the batch rows (8); argv[4] (optional): the task counts,
comma-separated (5,6,7)."""

import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.getcwd(), "benchmarks", "device"))
from serving_setup import bs, print_point, serving_engine  # noqa: E402

label, gpr = sys.argv[1], int(sys.argv[2])
rows = int(sys.argv[3]) if len(sys.argv) > 3 else 8
counts = [int(n) for n in sys.argv[4].split(",")] if len(sys.argv) > 4 else [5, 6, 7]
with tempfile.TemporaryDirectory() as tmp:
    engine, base, tasks, args, floor_of = serving_engine(gpr, max(counts), tmp)
    for n in counts:
        print_point(label, bs.decode_point(engine, base, tasks[:n], rows, args, floor_of), gpr=gpr, batch=rows, tasks=n)
