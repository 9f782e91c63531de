"""Overload and faults over a real socket: a bounded queue answers 429, a vanished client frees its resources."""

import concurrent.futures as cf
import http.client
import json
import time
import urllib.error
import urllib.request

from server.errors import TaskQueueFullError
from tests.server.api_helpers import (
    create_test_app,
    flood_until_refused,
    serve_on_loopback,
    slow_steps,
    tiny_base,
    write_task_lut,
)


def post(url: str, body: dict) -> tuple[int, object, dict]:
    req = urllib.request.Request(url + "/v1/generate", json.dumps(body).encode(), {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status, r.headers, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, e.headers, json.loads(e.read())


def wait_until_idle(engine, timeout_s: float = 30.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        s = engine.stats()
        if s.running == 0 and s.waiting == 0 and s.kv_blocks_used == 0 and s.pool.pins == 0:
            return s
        time.sleep(0.05)
    raise AssertionError(f"engine not idle: {engine.stats()}")


def test_past_the_queue_bound_requests_get_429_with_retry_after(tmp_path):
    app, engine = create_test_app(tiny_base(), tmp_path, max_waiting=2, max_num_seqs=1)
    with serve_on_loopback(app) as url:
        body = {"task": "base", "prompt": "slow", "max_tokens": 48}
        with cf.ThreadPoolExecutor(max_workers=12) as pool:
            results = list(pool.map(lambda _: post(url, body), range(12)))
        statuses = [status for status, _, _ in results]
        assert set(statuses) <= {200, 429}, statuses
        assert statuses.count(429) >= 1 and statuses.count(200) >= 3
        for status, headers, payload in results:
            if status == 429:
                assert headers.get("Retry-After") == "1" and payload["error"]["code"] == "queue_full"
            else:
                assert payload["usage"]["completion_tokens"] == 48
        wait_until_idle(engine)


def test_a_task_that_fills_its_share_of_the_queue_gets_429_while_another_task_is_served(tmp_path, monkeypatch):
    """One task floods the queue: past its share (three quarters of max_waiting) its requests get 429
    task_queue_full with Retry-After, and another tenant's task is still admitted and answered."""
    base = tiny_base()
    app, engine = create_test_app(base, tmp_path, max_waiting=8, max_num_seqs=1)
    slow_steps(engine, monkeypatch)
    with serve_on_loopback(app) as url:
        lut = write_task_lut(base, tmp_path / "other.safetensors", seed=1, task="acme.other").read_bytes()
        put = urllib.request.Request(url + "/v1/tasks/acme.other/lut", lut, method="PUT")
        with urllib.request.urlopen(put, timeout=60) as r:
            assert r.status == 201  # (a new task)
        flood = flood_until_refused(engine, ["base"], TaskQueueFullError)
        assert engine.stats().waiting == 6
        status, headers, payload = post(url, {"task": "base", "prompt": "one more", "max_tokens": 2})
        assert status == 429 and headers.get("Retry-After") == "1", payload
        assert payload["error"]["code"] == "task_queue_full" and "'base'" in payload["error"]["message"]
        status, _, payload = post(url, {"task": "acme.other", "prompt": "mine", "max_tokens": 2})
        assert status == 200 and payload["usage"]["completion_tokens"] == 2, payload
        metrics = urllib.request.urlopen(url + "/metrics", timeout=30).read().decode()
        assert 'sketchserve_rejected_requests_total{reason="task_queue_full"} 1.0' in metrics
        for handle in flood:
            handle.cancel()
        wait_until_idle(engine)


def test_client_disconnect_mid_stream_cancels_and_frees_kv_and_pins(tmp_path):
    app, engine = create_test_app(tiny_base(), tmp_path, max_num_seqs=1)
    with serve_on_loopback(app) as url:
        host, port = url.removeprefix("http://").split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        body = json.dumps({"task": "base", "prompt": "stream me", "max_tokens": 64, "stream": True})
        conn.request("POST", "/v1/generate", body, {"Content-Type": "application/json"})
        resp = conn.getresponse()
        assert resp.status == 200
        assert resp.readline().startswith(b"data: ")  # generation is under way
        assert engine.stats().running == 1
        conn.sock.close()  # the client vanishes mid-stream
        conn.close()
        stats = wait_until_idle(engine)
        cancelled = [e for e in stats.request_events if e.finish_reason == "cancelled"]
        assert cancelled and cancelled[-1].completion_tokens < 64


def test_a_request_still_queued_past_queue_timeout_gets_503_and_leaves_nothing_behind(tmp_path, monkeypatch):
    app, engine = create_test_app(tiny_base(), tmp_path, max_num_seqs=1, queue_timeout_s=0.4)
    slow_steps(engine, monkeypatch)
    with serve_on_loopback(app) as url:
        body = {"task": "base", "prompt": "first", "max_tokens": 30}  # ~1.5 s of steps, one sequence at a time
        with cf.ThreadPoolExecutor(max_workers=2) as pool:
            first = pool.submit(post, url, body)
            time.sleep(0.2)
            second = pool.submit(post, url, {**body, "prompt": "second"})
            (s1, _, p1), (s2, headers, p2) = first.result(), second.result()
        assert s1 == 200 and p1["usage"]["completion_tokens"] == 30
        assert s2 == 503 and p2["error"]["code"] == "queue_timeout" and headers.get("Retry-After") == "1"
        wait_until_idle(engine)  # the timed-out request was cancelled: no KV block, no pin left


def test_a_request_running_past_request_timeout_gets_504_and_is_cancelled(tmp_path, monkeypatch):
    app, engine = create_test_app(tiny_base(), tmp_path, request_timeout_s=0.5)
    slow_steps(engine, monkeypatch)
    with serve_on_loopback(app) as url:
        status, _, payload = post(url, {"task": "base", "prompt": "long", "max_tokens": 40})  # ~2 s of steps
        assert status == 504 and payload["error"]["code"] == "request_timeout"
        stats = wait_until_idle(engine)
        assert stats.request_events[-1].finish_reason == "cancelled"
        assert stats.request_events[-1].completion_tokens < 40
