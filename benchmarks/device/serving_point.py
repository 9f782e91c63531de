"""Thirty-first session: bench_serving's decode points at batch 16 and 64 over 16 tasks (gpr 1, the 7B shape), with
whichever bucket choices this process's SKETCHSERVE_CACHE holds over the shipped ones. argv[1]: a label; argv[2]:
gpr (default 1); argv[3]: batches (default 16,64); argv[4]: tasks (default 16; 1: every batch of one task)."""

import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.getcwd(), "benchmarks", "device"))
from serving_setup import bs, print_point, serving_engine  # noqa: E402

label = sys.argv[1]
gpr = int(sys.argv[2]) if len(sys.argv) > 2 else 1
batches = [int(b) for b in (sys.argv[3] if len(sys.argv) > 3 else "16,64").split(",")]
num_tasks = int(sys.argv[4]) if len(sys.argv) > 4 else 16
with tempfile.TemporaryDirectory() as tmp:
    engine, base, tasks, args, floor_of = serving_engine(gpr, num_tasks, tmp)
    for batch in batches:
        print_point(label, bs.decode_point(engine, base, tasks, batch, args, floor_of), gpr=gpr, batch=batch,
                    tasks=min(batch, num_tasks))  # fmt: skip
