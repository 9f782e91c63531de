"""Factories for API tests: a tiny engine over a random base, task LUT files, a real uvicorn on loopback, slow
engine steps and a flood of requests for the overload tests."""

from __future__ import annotations

import itertools
import socket
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
import uvicorn

from adapters.store import LutStore
from server.api.app import create_app
from server.config import CacheConfig, EngineConfig, PoolConfig, SchedulerConfig
from server.engine import Engine
from server.sampling import SamplingParams
from server.settings import Settings
from server.tokenizer import ByteTokenizer
from sketch.synthetic import llama_config, random_sketched_base, random_task_luts
from sketch.task_lut import TaskLut, save_task_lut


def tiny_base(seed: int = 0):
    return random_sketched_base(llama_config(vocab_size=256, max_position_embeddings=256), bits=4, gpr=2, seed=seed)


def create_engine(base, store_dir: Path, max_waiting: int = 64, num_slots: int = 4, max_num_seqs: int = 16,
                  overlap_scheduling: str = "auto", int8_activations: bool = False) -> Engine:
    config = EngineConfig(
        device="cpu",
        int8_activations=int8_activations,  # (on the CPU: the pool measures distances; every step stays exact)
        overlap_scheduling=overlap_scheduling,
        cache=CacheConfig(num_blocks=64, block_size=16),
        pool=PoolConfig(num_slots=num_slots),
        scheduler=SchedulerConfig(max_num_seqs=max_num_seqs, max_waiting=max_waiting, max_new_tokens=64),
    )
    return Engine(base, ByteTokenizer(), config, LutStore(store_dir, base.spec()))


def create_test_app(base, tmp_path: Path, **settings):
    store_dir = tmp_path / "store"
    engine = create_engine(base, store_dir, max_waiting=settings.pop("max_waiting", 64),
                           max_num_seqs=settings.pop("max_num_seqs", 16),
                           overlap_scheduling=settings.pop("overlap_scheduling", "auto"),
                           int8_activations=settings.pop("int8_activations", False))
    s = Settings(model=str(tmp_path), lut_store=store_dir, max_new_tokens=64, **settings)
    return create_app(s, engine=engine), engine


def write_task_lut(base, path: Path, seed: int, task: str = "t") -> Path:
    save_task_lut(TaskLut(task, random_task_luts(base, seed), base.fingerprint, base.bits, base.gpr), path)
    return path


@contextmanager
def serve_on_loopback(app):
    """Run the app under a real uvicorn on 127.0.0.1 (a free port); yields the base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()


def slow_steps(engine, monkeypatch, seconds: float = 0.05) -> None:
    """Every engine step takes at least `seconds` (a slow GPU, made deterministic)."""
    launch = engine.runner.launch

    def slow_launch(plan, *args, **kwargs):
        time.sleep(seconds)
        return launch(plan, *args, **kwargs)

    monkeypatch.setattr(engine.runner, "launch", slow_launch)


def flood_until_refused(engine, tasks: list[str], refusal: type[Exception], tenant: str | None = None) -> list:
    """Requests of 32 slow tokens straight into a running engine, over tasks in turn, until it refuses one with
    `refusal`; the first is running before the rest are added (so no admission shrinks the queue afterwards)."""
    params = SamplingParams(max_tokens=32, ignore_eos=True)
    flood = [engine.add_request(tasks[0], [1, 2, 3], params, tenant=tenant)]
    deadline = time.monotonic() + 30
    while engine.stats().running == 0:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    with pytest.raises(refusal):
        for k in itertools.count(1):
            flood.append(engine.add_request(tasks[k % len(tasks)], [1, 2, 3], params, tenant=tenant))
    return flood
