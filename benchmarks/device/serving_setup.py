"""The device scripts' serving engine: a random Llama-2-7B-shaped sketch (32 layers, 4-bit) with num_tasks task LUT
sets in a store under tmp, one pool slot each plus the base's, batches up to 64, warmed up (bench_serving's pieces)."""

import argparse
import os
import sys
from pathlib import Path

import torch

sys.path.insert(0, os.getcwd())
sys.path.insert(0, os.path.join(os.getcwd(), "benchmarks"))
import bench_serving as bs  # noqa: E402

from adapters.store import LutStore  # noqa: E402


def serving_engine(gpr: int, num_tasks: int, tmp: str, int8_activations: bool = False):
    """(engine, base, tasks, args, floor_of) for bs.decode_point."""
    dev = torch.device("cuda")
    args = argparse.Namespace(device=dev, prompt=128, new_tokens=32, ttft_prompt=512, short_prompt=32,
                              cuda_graph_max_batch=64, cpu_weight_dtype="float32", overlap_scheduling="auto",
                              decode_steps=bs.SchedulerConfig.decode_steps, bandwidth=4.25e12,
                              int8_activations=int8_activations)  # fmt: skip
    base = bs.random_base(bs.llama2_7b_config(num_hidden_layers=32), gpr, dev)
    store = LutStore(Path(tmp) / "store", base.spec(), verify_on_open=False)
    tasks = [f"task{i}" for i in range(num_tasks)]
    bs.fill_store(base, store, tasks, Path(tmp), bs.task_spread(args))
    engine = bs.make_engine(base, store, args, num_slots=num_tasks + 1, max_batch=64)
    kv_token = bs.bytes_per_block(engine.model_config, 1, torch.float16)
    lm_head = base.dense.get("lm_head.weight", base.dense["model.embed_tokens.weight"])
    fixed, lut_bytes = base.codes_bytes() + lm_head.numel() * 2, engine.pool.lut_set_bytes

    def floor_of(n_tasks, batch, ctx):
        return (fixed + n_tasks * lut_bytes + batch * ctx * kv_token) / args.bandwidth

    bs.warm_up(engine, tasks)
    return engine, base, tasks, args, floor_of


def print_point(label: str, p: dict, **what) -> None:
    """One decode point of bs.decode_point as the device scripts print it: "[label] k=v ...: tok/s, step (floor)"."""
    fields = " ".join(f"{k}={v}" for k, v in what.items())
    print(f"[{label}] {fields}: {p['tok_per_s']:.1f} tok/s, step {p['step_ms']:.2f} ms (floor {p['floor_ms']:.2f} ms)",
          flush=True)  # fmt: skip
