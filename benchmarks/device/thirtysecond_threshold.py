"""Thirty-second session: serving decode at 32 and 64 rows over 9 and 12 tasks (gpr 1, the 7B shape) with the bucket
threshold above 16 rows set to argv[2] (triton_ops.BUCKET_MIN_TASKS_LARGE_M_SM90: 13, the old value, or 9, the wgmma
bucket kernel's crossover in the kernel table). argv[1]: a label; argv[3]: the task counts (default 9,12)."""

import argparse
import os
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, os.getcwd())
sys.path.insert(0, os.path.join(os.getcwd(), "benchmarks"))
import bench_serving as bs  # noqa: E402

from adapters.store import LutStore  # noqa: E402
from kernels import triton_ops  # noqa: E402

label, threshold = sys.argv[1], int(sys.argv[2])
counts = [int(n) for n in (sys.argv[3] if len(sys.argv) > 3 else "9,12").split(",")]
triton_ops.BUCKET_MIN_TASKS_LARGE_M_SM90 = threshold
dev = torch.device("cuda")
args = argparse.Namespace(device=dev, prompt=128, new_tokens=32, ttft_prompt=512, short_prompt=32,
                          cuda_graph_max_batch=64, cpu_weight_dtype="float32", overlap_scheduling="auto",
                          decode_steps=bs.SchedulerConfig.decode_steps, bandwidth=4.25e12)  # fmt: skip
config = bs.llama2_7b_config(num_hidden_layers=32)
base = bs.random_base(config, 1, dev)
with tempfile.TemporaryDirectory() as tmp:
    store = LutStore(Path(tmp) / "store", base.spec(), verify_on_open=False)
    tasks = [f"task{i}" for i in range(12)]
    bs.fill_store(base, store, tasks, Path(tmp))
    engine = bs.make_engine(base, store, args, num_slots=13, max_batch=64)
    kv_token = bs.bytes_per_block(engine.model_config, 1, torch.float16)
    lm_head = base.dense.get("lm_head.weight", base.dense["model.embed_tokens.weight"])
    fixed, lut_bytes = base.codes_bytes() + lm_head.numel() * 2, engine.pool.lut_set_bytes

    def floor_of(n_tasks, batch, ctx):
        return (fixed + n_tasks * lut_bytes + batch * ctx * kv_token) / args.bandwidth

    bs.warm_up(engine, tasks)
    for batch in (32, 64):
        for n in counts:
            p = bs.decode_point(engine, base, tasks[:n], batch, args, floor_of)
            print(f"[{label}] threshold={threshold} batch={batch} tasks={n}: {p['tok_per_s']:.1f} tok/s, step "
                  f"{p['step_ms']:.2f} ms", flush=True)
