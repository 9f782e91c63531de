"""Thirty-first session: bench_serving's decode points at batch 16 and 64 over 16 tasks (gpr 1, the 7B shape), with
whichever bucket choices this process's SKETCHSERVE_CACHE holds over the shipped ones. argv[1]: a label; argv[2]:
gpr (default 1); argv[3]: batches (default 16,64)."""

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

label = sys.argv[1]
gpr = int(sys.argv[2]) if len(sys.argv) > 2 else 1
batches = [int(b) for b in (sys.argv[3] if len(sys.argv) > 3 else "16,64").split(",")]
dev = torch.device("cuda")
args = argparse.Namespace(device=dev, prompt=128, new_tokens=32, ttft_prompt=512, short_prompt=32,
                          cuda_graph_max_batch=64, cpu_weight_dtype="float32", overlap_scheduling="auto",
                          decode_steps=bs.SchedulerConfig.decode_steps, bandwidth=4.25e12)  # fmt: skip
config = bs.llama2_7b_config(num_hidden_layers=32)
base = bs.random_base(config, gpr, dev)
with tempfile.TemporaryDirectory() as tmp:
    store = LutStore(Path(tmp) / "store", base.spec(), verify_on_open=False)
    tasks = [f"task{i}" for i in range(16)]
    bs.fill_store(base, store, tasks, Path(tmp))
    engine = bs.make_engine(base, store, args, num_slots=17, max_batch=64)
    kv_token = bs.bytes_per_block(engine.model_config, 1, torch.float16)
    lm_head = base.dense.get("lm_head.weight", base.dense["model.embed_tokens.weight"])
    fixed, lut_bytes = base.codes_bytes() + lm_head.numel() * 2, engine.pool.lut_set_bytes

    def floor_of(n_tasks, batch, ctx):
        return (fixed + n_tasks * lut_bytes + batch * ctx * kv_token) / args.bandwidth

    bs.warm_up(engine, tasks)
    for batch in batches:
        p = bs.decode_point(engine, base, tasks, batch, args, floor_of)
        print(f"[{label}] gpr={gpr} batch={batch} tasks=16: {p['tok_per_s']:.1f} tok/s, step {p['step_ms']:.2f} ms "
              f"(floor {p['floor_ms']:.2f} ms)", flush=True)
