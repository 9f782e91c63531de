"""The HTTP API through FastAPI's test client: every endpoint, streaming, uploads, errors, metrics."""

import json
import re
import time

import pytest
from fastapi.testclient import TestClient

from tests.server.api_helpers import create_test_app, tiny_base, write_task_lut


@pytest.fixture(scope="module")
def base():
    return tiny_base()


@pytest.fixture
def client(base, tmp_path):
    app, engine = create_test_app(base, tmp_path)
    with TestClient(app) as c:
        c.engine = engine
        yield c


def sse_events(response) -> list:
    events = []
    for line in response.iter_lines():
        if line.startswith("data: "):
            payload = line[len("data: "):]
            events.append(payload if payload == "[DONE]" else json.loads(payload))
    return events


def test_health_ready_and_openapi_examples(client):
    assert client.get("/health").json()["ready"] is True
    assert client.get("/ready").status_code == 200
    spec = client.get("/openapi.json").json()
    for path in ("/v1/generate", "/v1/completions", "/v1/chat/completions", "/v1/models", "/v1/tasks/{task}/lut",
                 "/v1/tokenize", "/v1/detokenize",
                 "/v1/tasks/{task}", "/metrics", "/health", "/ready"):
        assert path in spec["paths"], path


def test_generate_returns_text_usage_and_finish_reason(client):
    r = client.post("/v1/generate", json={"task": "base", "prompt": "hello", "max_tokens": 5})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["usage"] == {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10}
    assert body["finish_reason"] == "length"
    assert body["task"] == "base" and isinstance(body["text"], str)
    assert r.headers["x-request-id"]


def test_ignore_eos_and_stop_token_ids_as_vllm_names_them(client):
    """EOS (token 2 of the tiny model) forced by logit_bias: it ends a request at once, unless ignore_eos; a token id
    of stop_token_ids ends it like EOS."""
    forced_eos = {"task": "base", "prompt": "hello", "max_tokens": 6, "logit_bias": {"2": 100}}
    ended = client.post("/v1/generate", json=forced_eos).json()
    assert ended["finish_reason"] == "stop" and ended["usage"]["completion_tokens"] <= 1
    kept_on = client.post("/v1/generate", json=forced_eos | {"ignore_eos": True}).json()
    assert kept_on["finish_reason"] == "length" and kept_on["usage"]["completion_tokens"] == 6
    forced_a = {"task": "base", "prompt": "hello", "max_tokens": 6, "logit_bias": {"65": 100}}  # byte "A"
    assert client.post("/v1/generate", json=forced_a).json()["text"] == "A" * 6
    stopped = client.post("/v1/completions", json={"model": "base", "prompt": "hello", "max_tokens": 6,
                                                   "logit_bias": {"65": 100}, "stop_token_ids": [65]}).json()
    assert stopped["choices"][0]["finish_reason"] == "stop" and "A" not in stopped["choices"][0]["text"]
    bad = client.post("/v1/generate", json={"task": "base", "prompt": "x", "stop_token_ids": [10**6]})
    assert bad.status_code == 400 and "stop_token_ids" in bad.json()["error"]["message"]


def test_min_tokens_and_min_p_as_vllm_names_them(client):
    """min_tokens holds off EOS (forced by logit_bias), stop_token_ids and stop strings until that many tokens;
    more than max_tokens is a 400 naming the field. min_p is taken by every generation endpoint, within [0, 1]."""
    forced_eos = {"task": "base", "prompt": "hello", "max_tokens": 6, "logit_bias": {"2": 100}, "min_tokens": 4}
    held = client.post("/v1/generate", json=forced_eos).json()
    assert held["finish_reason"] == "stop" and held["usage"]["completion_tokens"] == 5  # 4 tokens, then EOS
    forced_a = {"task": "base", "prompt": "hello", "max_tokens": 6, "logit_bias": {"65": 100}, "min_tokens": 3}
    assert client.post("/v1/generate", json=forced_a | {"stop": ["A"]}).json()["text"] == "AA"  # cut at the 3rd
    by_id = client.post("/v1/completions", json={"model": "base", "prompt": "hello", "max_tokens": 6, "min_tokens": 3,
                                                 "logit_bias": {"65": 100}, "stop_token_ids": [65]}).json()
    assert by_id["choices"][0]["finish_reason"] == "stop" and by_id["usage"]["completion_tokens"] == 4
    bad = client.post("/v1/generate", json={"task": "base", "prompt": "x", "max_tokens": 2, "min_tokens": 3})
    assert bad.status_code == 400 and "min_tokens" in bad.json()["error"]["message"]
    chat = {"model": "base", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 3, "temperature": 1.0,
            "seed": 1, "min_p": 0.2}
    assert client.post("/v1/chat/completions", json=chat).status_code == 200
    assert client.post("/v1/chat/completions", json=chat | {"min_p": 1.5}).status_code == 422


def test_greedy_generation_is_deterministic_and_matches_stream(client):
    body = {"task": "base", "prompt": "abc", "max_tokens": 6}
    whole = client.post("/v1/generate", json=body).json()
    assert client.post("/v1/generate", json=body).json()["text"] == whole["text"]
    with client.stream("POST", "/v1/generate", json=body | {"stream": True}) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        events = sse_events(r)
    assert "".join(e["text"] for e in events) == whole["text"]
    assert events[-1]["finish_reason"] == "length"
    assert events[-1]["usage"]["completion_tokens"] == 6


def test_a_stream_of_multi_step_plans_gives_the_single_step_text(client):
    body = {"task": "base", "prompt": "abc", "max_tokens": 11}
    single = client.post("/v1/generate", json=body).json()["text"]
    client.engine.scheduler.config.decode_steps = 4  # (auto is 1 on the CPU)
    with client.stream("POST", "/v1/generate", json=body | {"stream": True}) as r:
        events = sse_events(r)
    assert "".join(e["text"] for e in events) == single
    assert events[-1]["usage"]["completion_tokens"] == 11 and events[-1]["finish_reason"] == "length"
    # the engine hands a plan's tokens out before it records the plan's stats: wait for the 15th plan's
    deadline = time.monotonic() + 10
    while client.engine.stats().steps_total < 15:
        assert time.monotonic() < deadline, client.engine.stats().steps_total
        time.sleep(0.01)
    # the prompt's step (the first token), then the other 10 tokens in plans of 4, 4 and 2 steps
    assert [s.decode_steps for s in client.engine.stats().recent_steps[-4:]] == [1, 4, 4, 2]
    # the plans' lengths are exported, up to date at the first scrape: the first request's 11 single steps and
    # the stream's prompt step, then its plans of 2, 4 and 4
    metrics = client.get("/metrics").text
    assert 'sketchserve_decode_steps_per_step_bucket{le="1.0"} 12.0' in metrics
    assert 'sketchserve_decode_steps_per_step_bucket{le="2.0"} 13.0' in metrics
    assert 'sketchserve_decode_steps_per_step_bucket{le="4.0"} 15.0' in metrics
    assert "sketchserve_batch_size_count 15.0" in metrics


def test_upload_then_generate_with_the_new_task(client, base, tmp_path):
    lut = write_task_lut(base, tmp_path / "t.safetensors", seed=1)
    r = client.put("/v1/tasks/tenant-a.qa/lut", content=lut.read_bytes())
    assert r.status_code == 201, r.text
    assert r.json()["version"] == 1 and len(r.json()["sha256"]) == 64
    prompt = {"prompt": "same prompt", "max_tokens": 8}
    task_text = client.post("/v1/generate", json=prompt | {"task": "tenant-a.qa"}).json()["text"]
    base_text = client.post("/v1/generate", json=prompt | {"task": "base"}).json()["text"]
    assert task_text != base_text  # another LUT computes another function
    info = client.get("/v1/tasks/tenant-a.qa").json()
    assert info["version"] == 1 and info["resident"] is True and info["in_flight"] == 0
    models = {m["id"]: m for m in client.get("/v1/models").json()["data"]}
    assert set(models) == {"base", "tenant-a.qa"} and models["tenant-a.qa"]["resident"] is True
    assert client.get("/v1/models/tenant-a.qa").json() == models["tenant-a.qa"]  # OpenAI's retrieve-model
    r = client.get("/v1/models/tenant-a.nope")
    assert r.status_code == 404 and r.json()["error"]["code"] == "model_not_found"
    assert client.put("/v1/tasks/tenant-a.qa/lut", content=lut.read_bytes()).json()["version"] == 2


def test_a_stored_lut_downloads_as_uploaded_and_a_kept_version_can_be_stored_again(client, base, tmp_path):
    """GET /v1/tasks/{task}/lut: the latest version's bytes (or ?version=N of the kept ones, listed by GET
    /v1/tasks/{task}), its sha256 as the ETag; PUT back, they are the next version. A file that no longer matches
    its checksum is quarantined and answers 404; the other versions stay."""
    files = [write_task_lut(base, tmp_path / f"v{i}.safetensors", seed=i).read_bytes() for i in (1, 2)]
    shas = [client.put("/v1/tasks/qa/lut", content=f).json()["sha256"] for f in files]
    assert client.get("/v1/tasks/qa").json()["versions"] == [1, 2]
    latest = client.get("/v1/tasks/qa/lut")
    assert latest.status_code == 200 and latest.content == files[1]
    assert latest.headers["etag"] == f'"{shas[1]}"' and latest.headers["x-task-version"] == "2"
    assert latest.headers["content-type"] == "application/octet-stream"
    first = client.get("/v1/tasks/qa/lut", params={"version": 1})
    assert first.content == files[0] and first.headers["etag"] == f'"{shas[0]}"'
    again = client.put("/v1/tasks/qa/lut", content=first.content).json()  # a roll-back: v1's bytes as v3
    assert again["version"] == 3 and again["sha256"] == shas[0]
    missing = client.get("/v1/tasks/qa/lut", params={"version": 9})
    assert missing.status_code == 404 and "stored: [1, 2, 3]" in missing.json()["error"]["message"]
    assert client.get("/v1/tasks/nope/lut").status_code == 404
    assert client.get("/v1/tasks/base/lut").status_code == 400
    stored = client.engine.store.path("qa", 2)
    stored.write_bytes(stored.read_bytes()[:-1] + b"?")  # corrupted on disk
    assert client.get("/v1/tasks/qa/lut", params={"version": 2}).status_code == 404
    assert client.get("/v1/tasks/qa").json()["versions"] == [1, 3]
    assert client.get("/v1/tasks/qa/lut").content == files[0]


def test_task_at_version_serves_a_kept_version_and_an_unkept_one_is_404(client, base, tmp_path):
    """task@N (the OpenAI model field, /v1/generate's task) serves the task's kept LUT version N: a canary compares a
    new LUT with the one before it; N not kept is 404 version_not_found, a malformed suffix 422."""
    fp = f"fp_{base.fingerprint[:12]}"
    for seed in (1, 2):
        lut = write_task_lut(base, tmp_path / f"{seed}.safetensors", seed)
        assert client.put("/v1/tasks/qa/lut", content=lut.read_bytes()).status_code == 201
    body = {"prompt": "x", "max_tokens": 2}
    assert client.post("/v1/completions", json=body | {"model": "qa@1"}).json()["system_fingerprint"] == f"{fp}_v1"
    assert client.post("/v1/completions", json=body | {"model": "qa"}).json()["system_fingerprint"] == f"{fp}_v2"
    chat = {"model": "qa@1", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}
    reply = client.post("/v1/chat/completions", json=chat).json()
    assert reply["system_fingerprint"] == f"{fp}_v1" and reply["model"] == "qa@1"
    assert client.post("/v1/generate", json=body | {"task": "qa@1"}).json()["version"] == 1
    missing = client.post("/v1/completions", json=body | {"model": "qa@7"})
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "version_not_found"
    assert "the kept versions: 1, 2" in missing.json()["error"]["message"]
    assert client.post("/v1/completions", json=body | {"model": "nope@1"}).json()["error"]["code"] == "model_not_found"
    for bad in ("qa@", "qa@x", "qa@1@2", "@1"):
        assert client.post("/v1/completions", json=body | {"model": bad}).status_code == 422, bad


def test_every_response_names_the_task_lut_version_that_served_it(client, base, tmp_path):
    """/v1/generate's version (each streamed event too) and OpenAI's system_fingerprint, fp_<base fingerprint>_v<N>
    (each chunk too): v0 for the base; a replaced LUT shows in the responses that follow."""
    fp = f"fp_{base.fingerprint[:12]}"
    gen = {"prompt": "x", "max_tokens": 2}
    assert client.post("/v1/generate", json=gen | {"task": "base"}).json()["version"] == 0
    for seed in (1, 2):
        lut = write_task_lut(base, tmp_path / f"{seed}.safetensors", seed)
        client.put("/v1/tasks/qa/lut", content=lut.read_bytes())
        assert client.post("/v1/generate", json=gen | {"task": "qa"}).json()["version"] == seed
    with client.stream("POST", "/v1/generate", json=gen | {"task": "qa", "stream": True}) as r:
        assert {event["version"] for event in sse_events(r)} == {2}
    body = {"model": "qa", "prompt": "x", "max_tokens": 2, "n": 2}
    assert client.post("/v1/completions", json=body).json()["system_fingerprint"] == f"{fp}_v2"
    chat = {"model": "base", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}
    assert client.post("/v1/chat/completions", json=chat).json()["system_fingerprint"] == f"{fp}_v0"
    with client.stream("POST", "/v1/chat/completions", json=chat | {"stream": True}) as r:
        chunks = [c for c in sse_events(r) if c != "[DONE]"]
    assert chunks and {c["system_fingerprint"] for c in chunks} == {f"{fp}_v0"}


def test_a_task_shows_its_lut_distance_from_the_base_once_measured_and_none_without_the_int8_mode(base, tmp_path):
    """GET /v1/tasks/{task}: lut_distance, how far the version's LUTs lie from the base's (the int8 activation
    mode's per-step check), once the version has been in a slot; 0 for the base; null before, and without the
    mode (the default client below it)."""
    app, engine = create_test_app(base, tmp_path, int8_activations=True)
    lut = write_task_lut(base, tmp_path / "t.safetensors", seed=1)
    with TestClient(app) as client:
        assert client.put("/v1/tasks/qa/lut", content=lut.read_bytes()).status_code == 201
        assert client.get("/v1/tasks/qa").json()["lut_distance"] is None  # not in a slot yet
        client.post("/v1/generate", json={"task": "qa", "prompt": "x", "max_tokens": 1})
        assert engine.pool.wait_for_distance(("qa", 1)) is not None  # (measured just after the slot went ready)
        distance = client.get("/v1/tasks/qa").json()["lut_distance"]
        slot = engine.pool.slot_of(("qa", 1))
        assert distance > 0 and distance == pytest.approx(engine.pool.lut_distance(slot))
        assert client.get("/v1/tasks/base").json()["lut_distance"] == 0.0
    app, _ = create_test_app(base, tmp_path / "plain")
    with TestClient(app) as client:
        assert client.get("/v1/tasks/base").json()["lut_distance"] is None


def test_delete_removes_the_task(client, base, tmp_path):
    lut = write_task_lut(base, tmp_path / "t.safetensors", seed=2)
    client.put("/v1/tasks/gone/lut", content=lut.read_bytes())
    r = client.delete("/v1/tasks/gone")
    assert r.status_code == 200 and r.json()["deleted_versions"] == 1
    assert client.get("/v1/tasks/gone").status_code == 404
    assert client.post("/v1/generate", json={"task": "gone", "prompt": "x"}).status_code == 404
    assert client.delete("/v1/tasks/gone").status_code == 404
    assert client.delete("/v1/tasks/base").status_code == 400


@pytest.mark.parametrize("payload,status", [
    ({"task": "nope", "prompt": "x"}, 404),
    ({"task": "base", "prompt": ""}, 422),
    ({"task": "../../etc", "prompt": "x"}, 422),
    ({"task": "base", "prompt": "x", "max_tokens": 10_000}, 400),
    ({"task": "base", "prompt": "x", "temperature": -1}, 422),
    ({"task": "base", "prompt": "x", "top_p": 0}, 422),
    ({"task": "base", "prompt": "x", "stop": ["s"] * 50}, 400),
    ({"task": "base", "prompt": "x" * 300}, 400),
    ({"task": "base", "prompt": "x", "unknown_field": 1}, 422),
])
def test_bad_requests_get_clear_4xx(client, payload, status):
    r = client.post("/v1/generate", json=payload)
    assert r.status_code == status, r.text
    assert r.json()["error"]["message"]


def test_an_unknown_model_names_the_base_and_where_the_tasks_are_listed(client):
    """`sketchserve serve --model default` serves the base, whose model id is "base": a client that sends the
    CLI's word gets a 404 that says which id to use and where the list is."""
    r = client.post("/v1/completions", json={"model": "default", "prompt": "x", "max_tokens": 2})
    assert r.status_code == 404
    message = r.json()["error"]["message"]
    assert "'default'" in message and "'base'" in message and "GET /v1/models" in message


def test_malformed_json_nan_and_huge_bodies_are_4xx(client):
    r = client.post("/v1/generate", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422
    r = client.post("/v1/generate", content=b'{"prompt": "x", "temperature": NaN}',
                    headers={"content-type": "application/json"})
    assert r.status_code == 422
    r = client.post("/v1/generate", content=b"x" * (2 << 20), headers={"content-type": "application/json"})
    assert r.status_code == 413


def test_a_json_body_without_json_content_type_gets_415_saying_so(client):
    body = b'{"task": "base", "prompt": "hi", "max_tokens": 2}'
    r = client.post("/v1/generate", content=body, headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 415 and "Content-Type: application/json" in r.json()["error"]["message"]
    assert client.post("/v1/generate", content=body, headers={"content-type": "application/json"}).status_code == 200


def test_bad_uploads_are_rejected_and_lose_nothing_stored(client, base, tmp_path):
    good = write_task_lut(base, tmp_path / "good.safetensors", seed=3)
    assert client.put("/v1/tasks/keep/lut", content=good.read_bytes()).status_code == 201
    other_base = tiny_base(seed=7)
    foreign = write_task_lut(other_base, tmp_path / "foreign.safetensors", seed=3)
    for content in (b"garbage", good.read_bytes()[:100], foreign.read_bytes()):
        r = client.put("/v1/tasks/keep/lut", content=content)
        assert r.status_code == 400, r.text
    assert client.put("/v1/tasks/keep/lut", content=b"").status_code == 411
    assert client.put("/v1/tasks/base/lut", content=good.read_bytes()).status_code == 400
    assert client.get("/v1/tasks/keep").json()["version"] == 1


def test_metrics_show_the_traffic(client):
    client.post("/v1/generate", json={"task": "base", "prompt": "hi", "max_tokens": 3})
    repeated = {"task": "base", "prompt": "a prompt of 39 bytes: two 16-token bloc", "max_tokens": 1}
    client.post("/v1/generate", json=repeated)
    client.post("/v1/generate", json=repeated)  # its first 32 tokens come from the prefix cache
    client.post("/v1/generate", json={"task": "no-such-task", "prompt": "hi"})
    text = client.get("/metrics").text
    assert 'sketchserve_requests_total{status="length",task="base"} 3.0' in text
    assert 'sketchserve_generation_tokens_total{task="base"} 5.0' in text
    assert "sketchserve_time_to_first_token_seconds_count{task=\"base\"} 3.0" in text
    assert "sketchserve_prefix_cache_hits_total 32.0" in text and "sketchserve_prefix_cache_queries_total 80.0" in text
    assert "no-such-task" not in text  # unknown tasks never become labels
    assert 'sketchserve_rejected_requests_total{reason="model_not_found"} 1.0' in text
    for name in ("kv_blocks_total", "kv_blocks_cached", "lut_pool_slots_total", "requests_running", "batch_size_count",
                 "autotune_seconds_total"):
        assert f"sketchserve_{name}" in text
    assert "sketchserve_int8_exact_steps_total 0.0" in text  # (the int8 activation mode is CUDA's, off here)


def test_a_scrape_reads_the_engines_stats_once(client, monkeypatch):
    """The per-step histograms and the engine-wide series come from one reading of the engine's stats (each
    reading copies the recent steps under the engine's lock)."""
    client.post("/v1/generate", json={"task": "base", "prompt": "hi", "max_tokens": 3})
    reads, stats = [], client.engine.stats

    def counted():
        reads.append(1)
        return stats()

    monkeypatch.setattr(client.engine, "stats", counted)
    text = client.get("/metrics").text
    assert len(reads) == 1
    assert f"sketchserve_batch_size_count {float(stats().steps_total)}" in text  # every step so far, once
    assert "sketchserve_requests_running 0.0" in text


def test_openai_shapes_without_the_client(client):
    r = client.post("/v1/completions", json={"model": "base", "prompt": "hi", "max_tokens": 4, "temperature": 0})
    assert r.status_code == 200, r.text
    assert r.json()["object"] == "text_completion" and r.json()["usage"]["completion_tokens"] == 4
    r = client.post("/v1/chat/completions", json={"model": "base", "max_tokens": 4, "temperature": 0,
                                                  "messages": [{"role": "user", "content": "hi"}]})
    assert r.json()["choices"][0]["message"]["role"] == "assistant"
    body = {"model": "base", "prompt": "hi", "max_tokens": 3, "temperature": 0, "stream": True,
            "stream_options": {"include_usage": True}}  # greedy: sampling (OpenAI's default) may end early at EOS
    with client.stream("POST", "/v1/completions", json=body) as r:
        events = sse_events(r)
    assert events[-1] == "[DONE]" and events[-2]["usage"]["completion_tokens"] == 3
    assert client.post("/v1/completions", json={"model": "base", "prompt": "x", "n": 0}).status_code == 422


def test_logprobs_in_each_apis_shape_streamed_or_not(client):
    body = {"task": "base", "prompt": "abc", "max_tokens": 6, "logprobs": 2}
    whole = client.post("/v1/generate", json=body).json()
    assert len(whole["logprobs"]) == whole["usage"]["completion_tokens"] == 6
    for token in whole["logprobs"]:  # greedy: the chosen token is the most likely one
        assert len(token["top_logprobs"]) == 2 and token["logprob"] <= 0
        assert token["top_logprobs"][0] == {k: token[k] for k in ("token_id", "token", "logprob")}
    with client.stream("POST", "/v1/generate", json=body | {"stream": True}) as r:
        streamed = [lp for e in sse_events(r) for lp in e.get("logprobs") or []]
    assert streamed == whole["logprobs"]
    assert client.post("/v1/generate", json=body | {"logprobs": None}).json()["logprobs"] is None

    ids = [t["token_id"] for t in whole["logprobs"]]
    request = {"model": "base", "prompt": "abc", "max_tokens": 6, "temperature": 0, "logprobs": 2}
    legacy = client.post("/v1/completions", json=request).json()["choices"][0]["logprobs"]
    assert legacy["token_logprobs"] == [t["logprob"] for t in whole["logprobs"]]
    assert legacy["tokens"] == [bytes([i]).decode("utf-8", errors="replace") for i in ids]  # the byte tokenizer
    assert legacy["text_offset"] == [sum(len(t) for t in legacy["tokens"][:i]) for i in range(6)]
    assert all(1 <= len(top) <= 2 for top in legacy["top_logprobs"])  # alternatives keyed by their string
    with client.stream("POST", "/v1/completions", json=request | {"stream": True}) as r:
        chunks = [e["choices"][0]["logprobs"] for e in sse_events(r)[:-1] if e["choices"][0]["logprobs"]]
    assert [t for c in chunks for t in c["tokens"]] == legacy["tokens"]
    assert [o for c in chunks for o in c["text_offset"]] == legacy["text_offset"]  # offsets run on across chunks
    assert client.post("/v1/completions", json=request | {"logprobs": 6}).status_code == 422  # OpenAI's limit: 5

    chat = {"model": "base", "max_tokens": 4, "temperature": 0, "messages": [{"role": "user", "content": "hi"}]}
    content = client.post("/v1/chat/completions", json=chat | {"logprobs": True, "top_logprobs": 3}).json()
    content = content["choices"][0]["logprobs"]["content"]
    assert len(content) == 4 and all(len(t["top_logprobs"]) == 3 for t in content)
    assert all(t["bytes"] == list(t["token"].encode()) for t in content)
    plain = client.post("/v1/chat/completions", json=chat | {"logprobs": True}).json()["choices"][0]["logprobs"]
    assert [t["token"] for t in plain["content"]] == [t["token"] for t in content]
    assert all(t["top_logprobs"] == [] for t in plain["content"])
    assert client.post("/v1/chat/completions", json=chat).json()["choices"][0]["logprobs"] is None
    r = client.post("/v1/chat/completions", json=chat | {"top_logprobs": 3})
    assert r.status_code == 400 and "logprobs" in r.json()["error"]["message"]


def test_penalties_reach_the_sampler(client):
    from server.sampling import SamplingParams

    body = {"task": "base", "prompt": "abc", "max_tokens": 16}
    plain = client.post("/v1/generate", json=body).json()["text"]
    penalties = {"repetition_penalty": 1.5, "presence_penalty": 0.5, "frequency_penalty": 1.0}
    penalized = client.post("/v1/generate", json=body | penalties).json()["text"]
    direct = "".join(o.text for o in client.engine.generate("base", "abc", SamplingParams(max_tokens=16, **penalties)))
    assert penalized == direct != plain
    for field, value in (("presence_penalty", 2.5), ("frequency_penalty", -3), ("repetition_penalty", 0)):
        assert client.post("/v1/generate", json=body | {field: value}).status_code == 422, field
    scored = body | {"logprobs": 0}
    first = client.post("/v1/generate", json=scored).json()["logprobs"][0]["token_id"]
    banned = client.post("/v1/generate", json=scored | {"logit_bias": {str(first): -100}}).json()["logprobs"]
    assert banned[0]["token_id"] != first  # the greedy first token banned: another one comes first
    for bias in ({"x": 1}, {"256": 1}, {"3": 500}):
        r = client.post("/v1/completions", json={"model": "base", "prompt": "a", "logit_bias": bias})
        assert r.status_code == 400, bias


def test_several_prompts_and_n_samples_each_come_back_as_indexed_choices(client):
    request = {"model": "base", "prompt": ["abc", "hello"], "n": 2, "max_tokens": 8, "temperature": 1.0, "seed": 3}
    done = client.post("/v1/completions", json=request).json()
    texts = [c["text"] for c in done["choices"]]
    assert [c["index"] for c in done["choices"]] == [0, 1, 2, 3]
    assert done["usage"] == {"prompt_tokens": 3 + 5, "completion_tokens": 4 * 8, "total_tokens": 40}  # prompts once
    assert texts[0] != texts[1] and texts[2] != texts[3]  # a seeded request's samples differ (seed + j) ...
    assert client.post("/v1/completions", json=request).json()["choices"] == done["choices"]  # ... reproducibly
    single = request | {"prompt": "hello", "n": 1, "seed": 4}  # prompt 1's second sample alone: seed 3 + 1
    assert client.post("/v1/completions", json=single).json()["choices"][0]["text"] == texts[3]
    with client.stream("POST", "/v1/completions", json=request | {"stream": True,
                                                                  "stream_options": {"include_usage": True}}) as r:
        events = sse_events(r)
    streamed = ["", "", "", ""]
    for e in events[:-2]:
        for c in e["choices"]:
            streamed[c["index"]] += c["text"]
    assert streamed == texts and events[-2]["usage"] == done["usage"] and events[-1] == "[DONE]"
    finishes = [c["index"] for e in events[:-2] for c in e["choices"] if c["finish_reason"]]
    assert sorted(finishes) == [0, 1, 2, 3]

    chat = {"model": "base", "max_tokens": 5, "temperature": 0, "n": 3, "messages": [{"role": "user", "content": "hi"}]}
    choices = client.post("/v1/chat/completions", json=chat).json()["choices"]
    assert [c["index"] for c in choices] == [0, 1, 2] and len({c["message"]["content"] for c in choices}) == 1
    r = client.post("/v1/completions", json=request | {"n": 9})  # 2 prompts x 9 > max_choices (16)
    assert r.status_code == 400 and r.json()["error"]["code"] == "too_many_choices"
    assert client.post("/v1/completions", json=request | {"prompt": ["abc", ""]}).status_code == 400


def test_choices_are_queued_all_or_none(base, tmp_path):
    app, engine = create_test_app(base, tmp_path, max_waiting=2, max_num_seqs=1)
    with TestClient(app) as client:
        request = {"model": "base", "prompt": "abc", "n": 6, "max_tokens": 4}
        r = client.post("/v1/completions", json=request)  # one running at most, two waiting: the 4th is refused
        assert r.status_code == 429 and r.headers["retry-after"]
        deadline = time.monotonic() + 30
        while (engine.stats().running or engine.stats().waiting) and time.monotonic() < deadline:
            time.sleep(0.02)  # the cancelled choices leave at the engine's next step
        stats = engine.stats()
        assert stats.running == stats.waiting == stats.kv_blocks_used == stats.pool.pins == 0
        assert client.post("/v1/completions", json=request | {"n": 1}).status_code == 200


def test_echo_scores_the_prompt_as_lm_eval_harness_asks(client):
    """echo + logprobs + max_tokens 0 (how lm-eval-harness's completions backend computes a loglikelihood): the
    prompt's tokens with their log-probabilities, the first null; /v1/generate's prompt_logprobs agree."""
    prompt = "Question: is it? Answer: yes"
    request = {"model": "base", "prompt": prompt, "max_tokens": 0, "echo": True, "logprobs": 1, "temperature": 0}
    r = client.post("/v1/completions", json=request)
    assert r.status_code == 200, r.text
    choice = r.json()["choices"][0]
    lps = choice["logprobs"]
    assert choice["text"] == prompt and r.json()["usage"]["completion_tokens"] == 0
    assert lps["tokens"] == list(prompt) and lps["token_logprobs"][0] is None and lps["top_logprobs"][0] is None
    assert all(v <= 0 for v in lps["token_logprobs"][1:]) and lps["text_offset"] == list(range(len(prompt)))
    native = client.post("/v1/generate", json={"task": "base", "prompt": prompt, "max_tokens": 0,
                                               "prompt_logprobs": 1}).json()  # fmt: skip
    assert native["prompt_logprobs"][0] is None and native["text"] == ""
    assert [t["logprob"] for t in native["prompt_logprobs"][1:]] == lps["token_logprobs"][1:]
    assert [t["token_id"] for t in native["prompt_logprobs"][1:]] == list(prompt.encode())[1:]
    with client.stream("POST", "/v1/generate", json={"task": "base", "prompt": prompt, "max_tokens": 0,
                                                     "prompt_logprobs": 1, "stream": True}) as s:  # fmt: skip
        events = sse_events(s)
    assert events[0]["prompt_logprobs"] == native["prompt_logprobs"] and events[-1]["finish_reason"] == "length"

    generating = request | {"max_tokens": 3}
    whole = client.post("/v1/completions", json=generating).json()["choices"][0]
    assert whole["text"].startswith(prompt) and len(whole["logprobs"]["tokens"]) == len(prompt) + 3
    assert whole["logprobs"]["token_logprobs"][: len(prompt)] == lps["token_logprobs"]
    with client.stream("POST", "/v1/completions", json=generating | {"stream": True}) as s:
        chunks = [e["choices"][0] for e in sse_events(s)[:-1]]
    assert "".join(c["text"] for c in chunks) == whole["text"]
    assert [t for c in chunks if c["logprobs"] for t in c["logprobs"]["tokens"]] == whole["logprobs"]["tokens"]
    echo_only = client.post("/v1/completions", json=request | {"logprobs": None}).json()["choices"][0]
    assert echo_only["text"] == prompt and echo_only["logprobs"] is None
    r = client.post("/v1/completions", json=request | {"echo": False})
    assert r.status_code == 400 and "echo" in r.json()["error"]["message"]
    r = client.post("/v1/generate", json={"task": "base", "prompt": prompt, "max_tokens": 0})
    assert r.status_code == 400 and "max_tokens" in r.json()["error"]["message"]


def test_tokenize_and_detokenize_use_the_generation_tokenizer(client):
    r = client.post("/v1/tokenize", json={"prompt": "héllo"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["tokens"] == list("héllo".encode()) and body["count"] == 6 and body["max_model_len"] > 0
    generated = client.post("/v1/generate", json={"task": "base", "prompt": "héllo", "max_tokens": 1}).json()
    assert generated["usage"]["prompt_tokens"] == body["count"]  # the same count generation bills
    chat = client.post("/v1/tokenize", json={"messages": [{"role": "user", "content": "hi"}]}).json()
    scored = client.post("/v1/chat/completions", json={"model": "base", "max_tokens": 1,
                                                       "messages": [{"role": "user", "content": "hi"}]}).json()
    assert chat["count"] == scored["usage"]["prompt_tokens"]
    assert client.post("/v1/detokenize", json={"tokens": body["tokens"]}).json() == {"prompt": "héllo"}
    assert client.post("/v1/detokenize", json={"tokens": [256]}).status_code == 400
    assert client.post("/v1/tokenize", json={}).status_code == 400
    both = {"prompt": "a", "messages": [{"role": "user", "content": "b"}]}
    assert client.post("/v1/tokenize", json=both).status_code == 400


def test_logprobs_of_overflowed_logits_stay_valid_json():
    from server.api.logprobs import chat_logprobs, completion_logprobs
    from server.sampling import TokenLogprob
    from server.tokenizer import ByteTokenizer, TokenTexts

    strings = TokenTexts(ByteTokenizer(), skip_special_tokens=False)
    bad = [TokenLogprob(65, float("nan"), [(66, float("-inf")), (67, float("nan"))])]
    for rendered in (completion_logprobs(strings, bad), chat_logprobs(strings, bad)):
        text = rendered.model_dump_json()
        assert "NaN" not in text and "Infinity" not in text and "-9999.0" in text
        json.loads(text)


def test_chat_takes_openais_content_parts_and_developer_role(client):
    """A message's content as a list of text parts (joined by newlines) and the developer role (as system) render as
    their plain forms do; a part that is not text is refused (4xx), in chat and in tokenize alike."""
    parts = [{"role": "developer", "content": [{"type": "text", "text": "be brief"}, {"type": "text", "text": "ok"}]},
             {"role": "user", "content": "hi", "name": "ann"}]
    plain = [{"role": "system", "content": "be brief\nok"}, {"role": "user", "content": "hi"}]
    tokens = [client.post("/v1/tokenize", json={"messages": m}).json()["tokens"] for m in (parts, plain)]
    assert tokens[0] == tokens[1]
    chats = [client.post("/v1/chat/completions", json={"model": "base", "max_tokens": 4, "temperature": 0,
                                                       "messages": m}).json() for m in (parts, plain)]  # fmt: skip
    assert chats[0]["choices"][0]["message"] == chats[1]["choices"][0]["message"]
    image = {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "http://x/y.png"}}]}
    r = client.post("/v1/chat/completions", json={"model": "base", "messages": [image]})
    assert r.status_code == 422 and "text" in r.text


def test_json_mode_through_chat_and_completions(client):
    chat = {"model": "base", "max_tokens": 60, "temperature": 0, "response_format": {"type": "json_object"},
            "messages": [{"role": "user", "content": "Give me a JSON object."}]}
    from server.json_mode import JsonPrefix

    for body, path in ((chat, "/v1/chat/completions"),
                       ({"model": "base", "prompt": "JSON:", "max_tokens": 60, "temperature": 0.7, "seed": 2,
                         "response_format": {"type": "json_object"}}, "/v1/completions")):  # fmt: skip
        r = client.post(path, json=body)
        assert r.status_code == 200, r.text
        choice = r.json()["choices"][0]
        text = choice["message"]["content"] if "message" in choice else choice["text"]
        assert JsonPrefix().feed_text(text)  # a JSON object, or (cut by max_tokens) the start of one
        if choice["finish_reason"] == "stop":
            assert isinstance(json.loads(text), dict)


def test_structured_outputs_through_chat_and_generate(client):
    """response_format json_schema (OpenAI's shape): the output is a whole value of the schema; what cannot be
    enforced answers 400 naming it."""
    from tests.server.test_json_schema import valid_text

    pet = {"type": "object", "properties": {"ok": {"type": "boolean"}, "kind": {"enum": ["cat", "dog", 7]}},
           "required": ["kind", "ok"]}  # fmt: skip
    no_spaces = {str(ord(c)): -100 for c in " \t\n\r"}  # the longest value then fits the test server's 64 tokens
    fmt = {"type": "json_schema", "json_schema": {"name": "pet", "schema": pet, "strict": True}}
    chat = {"model": "base", "max_tokens": 64, "temperature": 0, "response_format": fmt, "logit_bias": no_spaces,
            "messages": [{"role": "user", "content": "Describe a pet."}]}  # fmt: skip
    r = client.post("/v1/chat/completions", json=chat)
    assert r.status_code == 200, r.text
    choice = r.json()["choices"][0]
    assert choice["finish_reason"] == "stop" and valid_text(choice["message"]["content"], pet), choice
    r = client.post("/v1/generate", json={"task": "base", "prompt": "A pet:", "max_tokens": 64, "temperature": 1.0,
                                          "seed": 5, "response_format": fmt, "logit_bias": no_spaces})  # fmt: skip
    assert r.status_code == 200 and r.json()["finish_reason"] == "stop", r.text
    assert valid_text(r.json()["text"], pet), r.text
    for extension in ({"guided_json": pet}, {"structured_outputs": {"json": pet}}):  # vLLM's names for the same
        r = client.post("/v1/completions", json={"model": "base", "prompt": "A pet:", "max_tokens": 64,
                                                 "logit_bias": no_spaces, **extension})  # fmt: skip
        assert r.status_code == 200 and valid_text(r.json()["choices"][0]["text"], pet), r.text
    for extension in ({"guided_choice": ["cat", "dog"]}, {"structured_outputs": {"choice": ["cat", "dog"]}}):
        r = client.post("/v1/completions", json={"model": "base", "prompt": "A pet:", "max_tokens": 8, **extension})
        assert r.status_code == 200 and r.json()["choices"][0]["text"] in ("cat", "dog"), r.text
    for conflict in ({"guided_choice": ["a"], "guided_json": pet}, {"response_format": {"type": "json_object"},
                                                                      "structured_outputs": {"choice": ["a"]}}):
        r = client.post("/v1/completions", json={"model": "base", "prompt": "x", **conflict})
        assert r.status_code == 400 and r.json()["error"]["code"] == "conflicting_structured_outputs", r.text
    for extension in ({"guided_regex": r"\d{3}-[A-Z]{2}"}, {"structured_outputs": {"regex": r"\d{3}-[A-Z]{2}"}}):
        r = client.post("/v1/completions", json={"model": "base", "prompt": "A code:", "max_tokens": 8, **extension})
        assert r.status_code == 200 and re.fullmatch(r"\d{3}-[A-Z]{2}", r.json()["choices"][0]["text"]), r.text
        assert r.json()["choices"][0]["finish_reason"] == "stop"  # nothing may follow a whole match
    metrics = client.get("/metrics").text
    assert 'sketchserve_constrained_requests_total{kind="guided_regex"} 2.0' in metrics
    assert 'sketchserve_constrained_requests_total{kind="json_schema"}' in metrics
    r = client.post("/v1/completions", json={"model": "base", "prompt": "x", "structured_outputs": {"grammar": "g"}})
    assert r.status_code == 400 and "structured_outputs.grammar is not supported" in r.text
    unsatisfiable = {"type": "string", "maxLength": 2, "pattern": "^\\d{5}$"}  # caught only when stuck on it
    # stuck within 8 whitespace tokens, the quote and two characters of up to 6 tokens each (\\u0036): max_tokens
    # must not end it first (16, the default, did once in CI)
    r = client.post("/v1/completions", json={"model": "base", "prompt": "x", "guided_json": unsatisfiable,
                                             "max_tokens": 64, "seed": 0})  # fmt: skip
    assert r.status_code == 400 and r.json()["error"]["code"] == "unsatisfiable_constraint", r.text
    r = client.post("/v1/completions", json={"model": "base", "prompt": "x", "guided_regex": "(?<=a)b"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_regex" and "lookaround" in r.text
    r = client.post("/v1/completions", json={"model": "base", "prompt": "x", "guided_json": {"minimum": 1}})
    assert r.status_code == 400 and r.json()["error"]["message"].startswith("guided_json: #: the keyword 'minimum'")
    for bad, status, code, words in (
        ({"type": "json_schema"}, 400, "invalid_json_schema", "needs its json_schema"),
        ({"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "integer", "maximum": 9}}}, 400,
         "invalid_json_schema", "'maximum' is not supported"),
        ({"type": "json_schema", "json_schema": {"name": "x", "schema": {"enum": ["caf\u00e9"]}}}, 400, None,
         "no single token"),
        ({"type": "json_schema", "json_schema": {"schema": {}}}, 422, None, "name"),
    ):  # fmt: skip
        r = client.post("/v1/chat/completions", json=chat | {"response_format": bad})
        assert r.status_code == status, r.text
        assert words in r.json()["error"]["message"] and (code is None or r.json()["error"]["code"] == code)
    assert client.post("/v1/chat/completions", json=chat | {"response_format": {"type": "yaml"}}).status_code == 422
