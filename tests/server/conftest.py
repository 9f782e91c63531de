"""Factories for the serving tests: tiny random sketched bases, a store of task LUTs, engines over them."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from adapters.store import LutStore
from server.config import CacheConfig, EngineConfig, PoolConfig, SchedulerConfig
from server.engine import Engine
from server.sampling import SamplingParams
from server.tokenizer import ByteTokenizer
from sketch.format import SketchedBase
from sketch.synthetic import llama_config, random_sketched_base, random_task_luts
from sketch.task_lut import TaskLut, save_task_lut


def create_base(seed: int = 0, bits: int = 4, gpr: int = 2, **config) -> SketchedBase:
    """A 2-layer, 64-wide random Llama with GQA (4 heads, 2 KV heads), vocab 256 (= ByteTokenizer's)."""
    return random_sketched_base(llama_config(**config), bits=bits, gpr=gpr, seed=seed)


def task_lut_file(base: SketchedBase, task: str, seed: int, directory: Path) -> Path:
    lut = TaskLut(task, random_task_luts(base, seed=seed), base.fingerprint, base.bits, base.gpr)
    return save_task_lut(lut, directory / f"{task}-{seed}.safetensors")


def create_store(base: SketchedBase, root: Path, tasks: dict[str, int]) -> LutStore:
    """A store holding one version of each task (task -> LUT seed)."""
    store = LutStore(root / "store", base.spec())
    for task, seed in tasks.items():
        store.put(task, task_lut_file(base, task, seed, root))
    return store


def create_engine(
    base: SketchedBase,
    store: LutStore | None = None,
    tokenizer=ByteTokenizer(),  # noqa: B008 - stateless
    **settings,
) -> Engine:
    """An engine on the tests' config (engine_config's settings)."""
    return Engine(base, tokenizer, engine_config(**settings), store)


def engine_config(
    num_slots: int = 8,
    num_blocks: int = 0,
    max_num_seqs: int = 16,
    max_num_batched_tokens: int = 64,
    cpu_weight_cache_bytes: int = 64 << 20,
    cpu_weight_dtype: str = "float32",
    device: str = "cpu",
    cuda_graphs: bool = True,
    graph_prefill: bool = True,
    prefill_graphs: bool = True,
    cuda_graph_max_batch: int = 64,
    prefix_caching: bool = True,
    overlap_scheduling: str = "off",  # step-by-step tests read each step's stats at once (test_overlap.py: "on")
    tune_at_start: bool = False,  # behaviour tests; start-up tuning has its own (test_kernel_tuning.py)
    dtype: str = "float32",
    **scheduler,
) -> EngineConfig:
    """The tests' engine config: float32 by default, small blocks and KV budget; scheduler: SchedulerConfig fields."""
    return EngineConfig(
        device=device,
        cuda_graphs=cuda_graphs,
        graph_prefill=graph_prefill,
        prefill_graphs=prefill_graphs,
        cuda_graph_max_batch=cuda_graph_max_batch,
        tune_at_start=tune_at_start,
        dtype=dtype,
        cpu_weight_cache_bytes=cpu_weight_cache_bytes,
        cpu_weight_dtype=cpu_weight_dtype,
        overlap_scheduling=overlap_scheduling,
        cache=CacheConfig(block_size=4, num_blocks=num_blocks, kv_cache_bytes=8 << 20, prefix_caching=prefix_caching),
        pool=PoolConfig(num_slots=num_slots),
        scheduler=SchedulerConfig(
            max_num_seqs=max_num_seqs, max_num_batched_tokens=max_num_batched_tokens, **scheduler
        ),
    )


def greedy(max_tokens: int = 8, **kw) -> SamplingParams:
    return SamplingParams(max_tokens=max_tokens, temperature=0.0, ignore_eos=True, **kw)


def make_resident(engine: Engine, tasks) -> None:
    """Load every task's LUT into the pool first, and with the int8 activation mode measure its distance from the
    base's: which tasks share a step, and which steps run exact, must not depend on load timing."""
    for task in tasks:
        list(engine.generate(task, [1, 2], greedy(1)))
        if (key := engine.pool.latest_key(task)) is not None:  # (the base's is 0)
            engine.pool.wait_for_distance(key)


def prompt_ids(seed: int, n: int) -> list[int]:
    return torch.randint(0, 256, (n,), generator=torch.Generator().manual_seed(seed)).tolist()


def decoding_together(engine: Engine, specs) -> list:
    """Submit (task, prompt ids, max tokens) greedy requests, then step until they all decode in one step (requests
    that join afterwards meet a batch of decodes). Their handles."""
    handles = [engine.add_request(task, prompt, greedy(n)) for task, prompt, n in specs]
    for _ in range(100):
        engine.step()
        last = engine.stats().recent_steps[-1]
        if last.batch_size == len(specs) and not last.prefill_tokens:  # (a multi-step decode decodes more tokens)
            break
    return handles


def collect(engine: Engine, handles) -> dict[str, list[int]]:
    """Run inline until idle; every handle's generated token ids."""
    engine.run_until_idle(timeout_s=120)
    out = {}
    for h in handles:
        outs = h.poll()
        assert outs and outs[-1].finished, f"{h.request_id} did not finish"
        out[h.request_id] = [t for o in outs for t in o.token_ids]
    return out


@pytest.fixture
def base() -> SketchedBase:
    return create_base()


@pytest.fixture
def store(base, tmp_path) -> LutStore:
    return create_store(base, tmp_path, {"alpha": 1, "beta": 2, "gamma": 3})
