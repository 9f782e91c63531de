"""Load test on loopback: many concurrent clients over many tasks, with uploads and deletes interleaved.

    python benchmarks/load_test.py [--clients 128] [--requests 4] [--tasks 12] [--max-waiting 256] [--out DIR]

Starts a server in this process (uvicorn on 127.0.0.1, a tiny random sketched model on the CPU, or
--model DIR), uploads the tasks, then runs the clients (a bounded number of requests each, and a wall-clock
limit) mixing /v1/generate (JSON and SSE; min_tokens), /v1/completions (n up to 2, logprobs, min_p, and
echo-scoring with max_tokens 0) and /v1/chat/completions (a system prompt shared per task: prefix caching under
churn; content as a string or as text parts; structured outputs with a JSON Schema), while a churn client
replaces LUT versions, downloads one (its bytes checked against the ETag) and deletes/re-creates a task. Every
response is checked for shape. Afterwards the engine must be idle: KV blocks all free, pins zero. Writes
load_test.json (and prints a summary).
Expected statuses: 200/201; 404 for the churned task while deleted; 409 for deleting it while busy; 429 only
when the admission queue is full (with max_waiting >= clients there must be none).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import hashlib
import json
import os
import random
import socket
import statistics
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

FINISH = {"stop", "length"}


@dataclass
class LoadReport:
    requests: int = 0
    statuses: Counter = field(default_factory=Counter)  # of the clients' generate/completion requests
    churn_statuses: Counter = field(default_factory=Counter)  # of the churn's uploads and deletes
    malformed: list[str] = field(default_factory=list)
    latencies_s: list[float] = field(default_factory=list)
    peak_waiting: int = 0
    peak_running: int = 0
    uploads: int = 0
    downloads: int = 0
    deletes: int = 0
    duration_s: float = 0.0

    def summary(self) -> dict:
        lat = sorted(self.latencies_s)
        pct = (lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] if lat else None)
        return {
            "requests": self.requests, "statuses": dict(self.statuses), "churn_statuses": dict(self.churn_statuses),
            "server_errors": self.server_errors,
            "malformed": len(self.malformed), "malformed_examples": self.malformed[:5],
            "p50_s": pct(0.50), "p99_s": pct(0.99), "mean_s": statistics.fmean(lat) if lat else None,
            "peak_waiting": self.peak_waiting, "peak_running": self.peak_running, "uploads": self.uploads,
            "downloads": self.downloads, "deletes": self.deletes, "duration_s": round(self.duration_s, 2),
            "throughput_rps": round(self.requests / self.duration_s, 2) if self.duration_s else None,
        }

    @property
    def server_errors(self) -> int:
        return sum(n for c in (self.statuses, self.churn_statuses) for status, n in c.items() if status >= 500)


PET = {"type": "object", "properties": {"kind": {"enum": ["cat", "dog"]}, "indoor": {"type": "boolean"}},
       "required": ["kind", "indoor"]}  # structured outputs' schema


def _check(kind: str, status: int, body, report: LoadReport) -> None:
    """Record a malformed response: every 2xx has its documented shape, every 4xx an error message."""
    try:
        if status >= 400:
            assert isinstance(body["error"]["message"], str) and body["error"]["message"]
        elif kind == "generate":
            assert isinstance(body["text"], str) and body["finish_reason"] in FINISH
            assert body["usage"]["total_tokens"] == body["usage"]["prompt_tokens"] + body["usage"]["completion_tokens"]
        elif kind == "stream":
            assert body and body[-1]["finish_reason"] in FINISH and "usage" in body[-1]
        elif kind in ("completions", "score"):
            choices = body["choices"]
            assert body["object"] == "text_completion" and all(c["finish_reason"] in FINISH for c in choices)
            assert [c["index"] for c in choices] == list(range(len(choices)))
            for c in choices:
                lps = c["logprobs"]
                assert lps is None or len(lps["tokens"]) == len(lps["token_logprobs"]) == len(lps["text_offset"])
            if kind == "score":  # echo, logprobs, max_tokens 0: the prompt scored, its first token null
                assert choices[0]["logprobs"]["token_logprobs"][0] is None and body["usage"]["completion_tokens"] == 0
        elif kind == "chat":
            assert body["choices"][0]["message"]["role"] == "assistant"
        elif kind == "structured":  # a stopped answer is a whole value of PET (a cut one, its start)
            choice = body["choices"][0]
            if choice["finish_reason"] == "stop":
                pet = json.loads(choice["message"]["content"])
                assert set(pet) == {"kind", "indoor"} and pet["kind"] in ("cat", "dog")
                assert isinstance(pet["indoor"], bool)
            else:
                assert choice["message"]["content"].lstrip()[:1] in ("", "{")
    except (AssertionError, KeyError, TypeError, IndexError, ValueError) as e:
        report.malformed.append(f"{kind} {status}: {e!r} {str(body)[:200]}")


async def _one_request(client: httpx.AsyncClient, task: str, rng: random.Random, report: LoadReport) -> None:
    kind = rng.choice(["generate", "stream", "completions", "chat", "score", "structured"])
    prompt = f"request {rng.randrange(10**6)} for {task}"
    system = f"You are the assistant of {task}; answer in one line, politely."  # shared: the prefix cache's case
    max_tokens = rng.randint(2, 12)
    start = time.monotonic()
    if kind == "stream":
        body: object = []
        async with client.stream("POST", "/v1/generate", json={"task": task, "prompt": prompt, "stream": True,
                                                                "max_tokens": max_tokens}) as r:
            status = r.status_code
            if status == 200:
                async for line in r.aiter_lines():
                    if line.startswith("data: "):
                        body.append(json.loads(line[6:]))
            else:
                body = json.loads(await r.aread())
    else:
        path, payload = {
            "generate": ("/v1/generate", {"task": task, "prompt": prompt, "max_tokens": max_tokens,
                                          "min_tokens": rng.choice([0, 0, 2])}),
            "completions": ("/v1/completions", {"model": task, "prompt": prompt, "max_tokens": max_tokens,
                                                "temperature": 0.7, "seed": rng.randrange(1000),
                                                "n": rng.choice([1, 1, 2]), "logprobs": rng.choice([None, 2]),
                                                "min_p": rng.choice([0.0, 0.05])}),
            "chat": ("/v1/chat/completions", {"model": task, "max_tokens": max_tokens,
                                              "messages": [{"role": "system", "content": system},
                                                           {"role": "user", "content": rng.choice(
                                                               [prompt, [{"type": "text", "text": prompt}]])}]}),
            "score": ("/v1/completions", {"model": task, "prompt": system + " " + prompt, "max_tokens": 0,
                                          "echo": True, "logprobs": 1}),
            "structured": ("/v1/chat/completions", {"model": task, "max_tokens": max_tokens * 4,
                                                    "temperature": rng.choice([0.0, 0.8]),
                                                    "messages": [{"role": "user", "content": prompt}],
                                                    "response_format": {"type": "json_schema", "json_schema": {
                                                        "name": "pet", "schema": PET}}}),
        }[kind]
        r = await client.post(path, json=payload)
        status, body = r.status_code, r.json()
    report.requests += 1
    report.statuses[status] += 1
    if status == 200:
        report.latencies_s.append(time.monotonic() - start)
    _check(kind, status, body, report)


async def _client(url: str, tasks: list[str], n: int, seed: int, deadline: float, report: LoadReport) -> None:
    rng = random.Random(seed)
    async with httpx.AsyncClient(base_url=url, timeout=300) as client:
        for _ in range(n):
            if time.monotonic() > deadline:
                return
            await _one_request(client, rng.choice(tasks), rng, report)


async def _churn(url: str, luts: list[bytes], churn_task: str, tasks: list[str], stop: asyncio.Event,
                 report: LoadReport) -> None:
    """Replace LUT versions of live tasks and delete / re-create one task, while the clients run."""
    rng = random.Random(1)
    async with httpx.AsyncClient(base_url=url, timeout=300) as client:
        while not stop.is_set():
            r = await client.put(f"/v1/tasks/{rng.choice(tasks)}/lut", content=rng.choice(luts))
            report.churn_statuses[r.status_code] += 1
            report.uploads += 1
            r = await client.get(f"/v1/tasks/{rng.choice([*tasks, churn_task])}/lut")  # (404 while deleted)
            report.churn_statuses[r.status_code] += 1
            report.downloads += 1
            if r.status_code == 200 and hashlib.sha256(r.content).hexdigest() != r.headers["etag"].strip('"'):
                report.malformed.append(f"download: bytes not the ETag's sha256 {r.headers['etag']}")
            r = await client.delete(f"/v1/tasks/{churn_task}")
            report.churn_statuses[r.status_code] += 1  # 200, or 409 while its requests run
            report.deletes += 1
            await asyncio.sleep(0.05)
            r = await client.put(f"/v1/tasks/{churn_task}/lut", content=rng.choice(luts))
            report.churn_statuses[r.status_code] += 1
            report.uploads += 1
            await asyncio.sleep(0.1)


async def _watch(url: str, stop: asyncio.Event, report: LoadReport) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        while not stop.is_set():
            text = (await client.get("/metrics")).text
            for line in text.splitlines():
                if line.startswith("sketchserve_requests_waiting "):
                    report.peak_waiting = max(report.peak_waiting, int(float(line.split()[1])))
                elif line.startswith("sketchserve_requests_running "):
                    report.peak_running = max(report.peak_running, int(float(line.split()[1])))
            await asyncio.sleep(0.05)


async def run_load(url: str, luts: list[bytes], clients: int = 128, requests_per_client: int = 4,
                   num_tasks: int = 12, max_duration_s: float = 300.0, task_prefix: str = "load") -> LoadReport:
    """Upload `num_tasks` tasks (plus one churned task), then run the clients. Bounded in count and time."""
    report = LoadReport()
    tasks = [f"{task_prefix}{i}" for i in range(num_tasks)]
    churn_task = f"{task_prefix}-churn"
    async with httpx.AsyncClient(base_url=url, timeout=300) as client:
        for i, task in enumerate([*tasks, churn_task]):
            r = await client.put(f"/v1/tasks/{task}/lut", content=luts[i % len(luts)])
            r.raise_for_status()
    start = time.monotonic()
    stop = asyncio.Event()
    side = [asyncio.create_task(_churn(url, luts, churn_task, tasks, stop, report)),
            asyncio.create_task(_watch(url, stop, report))]
    deadline = start + max_duration_s
    await asyncio.gather(*[_client(url, [*tasks, churn_task, "base"], requests_per_client, seed, deadline, report)
                           for seed in range(clients)])
    stop.set()
    await asyncio.gather(*side)
    report.duration_s = time.monotonic() - start
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=128)
    parser.add_argument("--requests", type=int, default=4, help="requests per client")
    parser.add_argument("--tasks", type=int, default=12)
    parser.add_argument("--max-waiting", type=int, default=256)
    parser.add_argument("--max-duration", type=float, default=300.0)
    parser.add_argument("--rounds", type=int, default=3, help="the same load again; the last round is reported")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--overlap-scheduling", default="auto", choices=("auto", "on", "off"),
                        help="the engine's overlapped scheduling (auto: off on the CPU)")
    args = parser.parse_args()

    import psutil
    import torch
    import uvicorn

    from adapters.store import LutStore
    from server.api.app import create_app
    from server.config import CacheConfig, EngineConfig, PoolConfig, SchedulerConfig
    from server.engine import Engine
    from server.settings import Settings
    from server.tokenizer import ByteTokenizer
    from sketch.synthetic import llama_config, random_sketched_base, random_task_luts
    from sketch.task_lut import TaskLut, save_task_lut

    tmp = Path(tempfile.mkdtemp(prefix="sketchserve-load-"))
    base = random_sketched_base(llama_config(vocab_size=256, max_position_embeddings=256), bits=4, gpr=2)
    luts = []
    for seed in range(4):
        path = tmp / f"lut{seed}.safetensors"
        save_task_lut(TaskLut("t", random_task_luts(base, seed), base.fingerprint, 4, 2), path)
        luts.append(path.read_bytes())
    config = EngineConfig(device="cpu", overlap_scheduling=args.overlap_scheduling,
                          cache=CacheConfig(num_blocks=512), pool=PoolConfig(num_slots=8),
                          scheduler=SchedulerConfig(max_num_seqs=32, max_waiting=args.max_waiting, max_new_tokens=64))
    engine = Engine(base, ByteTokenizer(), config, LutStore(tmp / "store", base.spec()))
    app = create_app(Settings(lut_store=tmp / "store", max_waiting=args.max_waiting, max_new_tokens=64), engine=engine)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"

    def rss_mb() -> float:
        gc.collect()
        time.sleep(0.5)
        return psutil.Process().memory_info().rss / 2**20

    # The same load, --rounds times: round 1 warms every cache (pool slots, CPU weight cache, allocator pools);
    # a leak shows as RSS that keeps growing round after round.
    rss = [round(rss_mb(), 1)]
    rounds, after_each_round = [], []
    for _ in range(args.rounds):
        rounds.append(asyncio.run(run_load(url, luts, args.clients, args.requests, args.tasks, args.max_duration)))
        rss.append(round(rss_mb(), 1))
        s = engine.stats()  # every client has its answers: nothing may be left held
        after_each_round.append({"kv_blocks_used": s.kv_blocks_used, "pins": s.pool.pins, "running": s.running})
    report = rounds[-1]
    stats = engine.stats()
    result = report.summary() | {
        "clients": args.clients, "max_waiting": args.max_waiting, "kv_blocks_used_after": stats.kv_blocks_used,
        "pins_after": stats.pool.pins, "running_after": stats.running,
        "prefix_cache_hit_tokens": stats.prefix_cache_hit_tokens_total,
        "prefix_cache_query_tokens": stats.prefix_cache_query_tokens_total,
        "earlier_rounds": [r.summary() for r in rounds[:-1]],
        "rss_mb_at_start_and_after_each_round": rss,
        "held_after_each_round": after_each_round,
        "overlap_scheduling": engine.overlap,
        "machine": f"{os.cpu_count()}-core CPU dev machine, tiny random model (vocab 256), torch {torch.__version__}",
    }
    server.should_exit = True
    thread.join(30)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "load_test.json").write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
