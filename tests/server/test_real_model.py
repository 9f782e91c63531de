"""The engine on the real embedded default model (SmolLM2-135M, sketched at 4 bits, gpr 4): a mixed batch of
three tasks gives every request exactly the tokens it gets alone, with real text through the real tokenizer."""

from __future__ import annotations

import pytest
import torch

from server.config import CacheConfig, EngineConfig, PoolConfig, SchedulerConfig
from server.engine import Engine
from server.sampling import SamplingParams
from sketch.format import load_sketched_base
from sketch.synthetic import random_task_luts
from sketch.task_lut import TaskLut, save_task_lut

pytestmark = pytest.mark.slow
PROMPTS = ["The capital of France is", "def fibonacci(n):", "Water boils at", "Once upon a time"]


@pytest.fixture(scope="module")
def engine_parts(tmp_path_factory):
    pipeline = pytest.importorskip("sketch.pipeline", reason="sketch/pipeline.py (the default sketch) not there yet")
    from transformers import AutoTokenizer

    from adapters.store import LutStore

    model_dir = pipeline.ensure_default_sketch(bits=4, gpr=4)
    base = load_sketched_base(model_dir)
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    root = tmp_path_factory.mktemp("real")
    store = LutStore(root / "store", base.spec())
    for seed, task in enumerate(["summary", "code"], start=1):
        lut = TaskLut(task, random_task_luts(base, seed=seed, scale=0.05), base.fingerprint, base.bits, base.gpr)
        store.put(task, save_task_lut(lut, root / f"{task}.safetensors"))
    return base, tokenizer, store


def make_engine(parts, max_num_seqs: int) -> Engine:
    base, tokenizer, store = parts
    # float32 matmuls (exact to the reference op): with 'auto' a CPU with bf16 units multiplies in bfloat16, whose
    # rounding differs between a batch of 4 rows and 1, and whose logits tie exactly often enough that greedy picks
    # flipped (a fresh sketch of the default model, thirty-fifth session: two tokens at -1.8485 both)
    config = EngineConfig(
        device="cpu",
        cpu_weight_dtype="float32",
        cache=CacheConfig(kv_cache_bytes=64 << 20),
        pool=PoolConfig(num_slots=4),
        scheduler=SchedulerConfig(max_num_seqs=max_num_seqs, max_num_batched_tokens=64),
    )
    return Engine(base, tokenizer, config, store)


def test_mixed_batch_on_the_real_model_equals_solo_runs(engine_parts):
    torch.set_num_threads(1)  # small matmuls: threads only contend on a shared 2-core runner
    params = SamplingParams(max_tokens=8, temperature=0.0)
    jobs = list(zip(["base", "summary", "code", "base"], PROMPTS, strict=True))
    solo_engine = make_engine(engine_parts, max_num_seqs=1)
    solo = [list(solo_engine.generate(task, prompt, params)) for task, prompt in jobs]
    solo_engine.stop()
    engine = make_engine(engine_parts, max_num_seqs=8)
    for task in dict.fromkeys(task for task, _ in jobs):  # every LUT resident first: mixing must not hang on loads
        list(engine.generate(task, "Hi", SamplingParams(max_tokens=1)))
    handles = [engine.add_request(task, prompt, params) for task, prompt in jobs]
    engine.run_until_idle(timeout_s=600)
    for handle, alone in zip(handles, solo, strict=True):
        outs = handle.poll()
        assert [t for o in outs for t in o.token_ids] == [t for o in alone for t in o.token_ids]
        assert "".join(o.text for o in outs) == "".join(o.text for o in alone)
        assert outs[-1].finish_reason in ("stop", "length")
    assert all("".join(o.text for o in alone) for alone in solo)  # real text came out of the tokenizer
    assert max(s.num_tasks for s in engine.stats().recent_steps) == 3
    assert engine.stats().kv_blocks_used == 0 and engine.pool.stats().pins == 0
    engine.stop()
