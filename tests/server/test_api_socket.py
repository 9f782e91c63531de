"""The API over a real socket: uvicorn on loopback, the official openai client, the CLI clients, a burst."""

import concurrent.futures as cf
import json
import re
import urllib.request

import openai
import pytest

from server.cli import main as cli_main
from tests.server.api_helpers import create_test_app, serve_on_loopback, tiny_base, write_task_lut


@pytest.fixture(scope="module")
def base():
    return tiny_base()


@pytest.fixture
def server(base, tmp_path):
    app, engine = create_test_app(base, tmp_path)
    with serve_on_loopback(app) as url:
        yield url, engine


@pytest.fixture(params=["off", "on"])
def any_server(request, base, tmp_path):
    """The server with overlapped scheduling off (the CPU's default) and on."""
    app, engine = create_test_app(base, tmp_path, overlap_scheduling=request.param)
    with serve_on_loopback(app) as url:
        yield url, engine


def post(url: str, path: str, body: dict) -> dict:
    req = urllib.request.Request(url + path, json.dumps(body).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read())


def test_openai_client_completions_chat_and_streams(any_server):
    url, _ = any_server
    client = openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0)
    assert "base" in [m.id for m in client.models.list().data]
    assert client.models.retrieve("base").id == "base"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("no-such-task")
    done = client.completions.create(model="base", prompt="hello", max_tokens=5, temperature=0)
    assert done.choices[0].finish_reason == "length" and done.usage.completion_tokens == 5
    streamed = client.completions.create(model="base", prompt="hello", max_tokens=5, temperature=0, stream=True)
    assert "".join(c.choices[0].text for c in streamed if c.choices) == done.choices[0].text
    chat = client.chat.completions.create(model="base", messages=[{"role": "user", "content": "hi"}],
                                          max_tokens=4, temperature=0)
    assert chat.choices[0].message.role == "assistant" and chat.usage.completion_tokens == 4
    assert chat.system_fingerprint.startswith("fp_") and chat.system_fingerprint.endswith("_v0")  # the base's LUT
    chunks = list(client.chat.completions.create(model="base", messages=[{"role": "user", "content": "hi"}],
                                                 max_tokens=4, temperature=0, stream=True,
                                                 stream_options={"include_usage": True}))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == chat.choices[0].message.content
    assert chunks[-1].usage.completion_tokens == 4
    scored = client.chat.completions.create(model="base", messages=[{"role": "user", "content": "hi"}], max_tokens=4,
                                            temperature=0, logprobs=True, top_logprobs=2, frequency_penalty=0.5)
    tokens = scored.choices[0].logprobs.content
    assert len(tokens) == 4 and all(len(t.top_logprobs) == 2 and t.logprob <= 0 for t in tokens)
    legacy = client.completions.create(model="base", prompt="hello", max_tokens=5, temperature=0, logprobs=1)
    assert legacy.choices[0].logprobs.token_logprobs[0] == pytest.approx(
        max(legacy.choices[0].logprobs.top_logprobs[0].values()))  # greedy, no penalty: the most likely token
    batch = client.completions.create(model="base", prompt=["hello", "hi"], n=2, max_tokens=3, temperature=0.9, seed=1)
    assert [c.index for c in batch.choices] == [0, 1, 2, 3] and batch.usage.completion_tokens == 12
    scored = client.completions.create(model="base", prompt="hello", max_tokens=0, echo=True, logprobs=0)
    assert scored.choices[0].text == "hello" and scored.choices[0].logprobs.token_logprobs[0] is None
    with pytest.raises(openai.NotFoundError):
        client.completions.create(model="no-such-task", prompt="x", max_tokens=2)


def test_openai_clients_parse_helper_gets_its_pydantic_model(server):
    """The official client's structured outputs: `chat.completions.parse` sends a pydantic model's strict JSON
    Schema and parses the answer back into the model."""
    from typing import Literal

    import pydantic

    class Pet(pydantic.BaseModel):
        kind: Literal["cat", "dog"]
        indoor: bool
        legs: int

    url, _ = server
    client = openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0)
    no_spaces = {str(ord(c)): -100 for c in " \t\n\r"}  # the value then fits in the test server's 64 tokens
    for temperature in (0.0, 1.0):
        done = client.chat.completions.parse(model="base", messages=[{"role": "user", "content": "a pet"}],
                                             response_format=Pet, max_tokens=64, temperature=temperature, seed=3,
                                             logit_bias=no_spaces)  # fmt: skip
        message = done.choices[0].message
        if done.choices[0].finish_reason == "stop":
            assert isinstance(message.parsed, Pet) and message.parsed.kind in ("cat", "dog"), message.content
        else:  # an integer may grow past the token budget: still the start of a Pet
            assert done.choices[0].finish_reason == "length" and message.content.startswith("{")


def test_cli_push_lut_then_generate(server, base, tmp_path, capsys):
    url, _ = server
    lut = write_task_lut(base, tmp_path / "cli.safetensors", seed=5)
    assert cli_main(["push-lut", "--server", url, "--task", "cli-task", str(lut)]) == 0
    assert "version 1" in capsys.readouterr().out
    pulled = tmp_path / "pulled" / "cli.safetensors"
    pulled.parent.mkdir()
    assert cli_main(["pull-lut", "--server", url, "--task", "cli-task", str(pulled)]) == 0
    assert pulled.read_bytes() == lut.read_bytes() and "version 1" in capsys.readouterr().out
    assert cli_main(["pull-lut", "--server", url, "--task", "cli-task", "--version", "7", str(pulled)]) == 1
    assert "error 404" in capsys.readouterr().err and list(pulled.parent.iterdir()) == [pulled]  # no partial file
    assert cli_main(["generate", "--server", url, "--task", "cli-task", "--prompt", "hey", "--max-tokens", "4"]) == 0
    expected = post(url, "/v1/generate", {"task": "cli-task", "prompt": "hey", "max_tokens": 4})["text"]
    assert capsys.readouterr().out == expected + "\n"
    assert cli_main(["generate", "--server", url, "--task", "cli-task", "--prompt", "hey", "--max-tokens", "40",
                     "--json", "--repetition-penalty", "1.2"]) == 0  # fmt: skip
    expected = post(url, "/v1/generate", {"task": "cli-task", "prompt": "hey", "max_tokens": 40,
                                          "response_format": {"type": "json_object"}, "repetition_penalty": 1.2})
    assert capsys.readouterr().out == expected["text"] + "\n" and expected["text"].lstrip().startswith("{")
    schema_file = tmp_path / "schema.json"
    schema_file.write_text(json.dumps({"enum": ["yes", "no"]}))
    assert cli_main(["generate", "--server", url, "--task", "cli-task", "--prompt", "Is it?", "--json-schema",
                     str(schema_file)]) == 0  # fmt: skip
    assert json.loads(capsys.readouterr().out) in ("yes", "no")
    assert cli_main(["generate", "--server", url, "--task", "cli-task", "--prompt", "Is it?", "--choice", "yes",
                     "--choice", "no"]) == 0  # fmt: skip
    assert capsys.readouterr().out in ("yes\n", "no\n")
    assert cli_main(["generate", "--server", url, "--task", "cli-task", "--prompt", "Code?", "--regex",
                     "[A-Z]{3}-[0-9]{2}"]) == 0  # fmt: skip
    assert re.fullmatch(r"[A-Z]{3}-[0-9]{2}\n", capsys.readouterr().out)
    schema_file.write_text("{not json")
    assert cli_main(["generate", "--server", url, "--task", "cli-task", "--prompt", "x", "--json-schema",
                     str(schema_file)]) == 2  # fmt: skip
    assert "--json-schema" in capsys.readouterr().err
    assert cli_main(["generate", "--server", url, "--task", "nope", "--prompt", "hey"]) == 1
    assert "error 404" in capsys.readouterr().err
    assert cli_main(["tasks", "--server", url]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["TASK", "VERSION", "MiB", "RESIDENT"]
    assert {line.split()[0]: line.split()[1] for line in table[1:]}["cli-task"] == "1"
    assert cli_main(["tasks", "--server", url, "--json"]) == 0
    assert "cli-task" in [m["id"] for m in json.loads(capsys.readouterr().out)["data"]]
    assert cli_main(["delete-task", "--server", url, "--task", "cli-task", "--wait"]) == 0
    assert "deleted task 'cli-task' (1 stored version)" in capsys.readouterr().out
    assert cli_main(["delete-task", "--server", url, "--task", "cli-task"]) == 1
    assert "error 404" in capsys.readouterr().err
    assert cli_main(["tasks", "--server", url]) == 0
    assert "cli-task" not in capsys.readouterr().out


def test_mixed_task_concurrent_burst_matches_solo_runs(server, base, tmp_path):
    url, engine = server
    tasks = ["base"]
    for i in range(3):
        lut = write_task_lut(base, tmp_path / f"b{i}.safetensors", seed=10 + i)
        req = urllib.request.Request(f"{url}/v1/tasks/burst{i}/lut", lut.read_bytes(), method="PUT")
        urllib.request.urlopen(req, timeout=60).close()
        tasks.append(f"burst{i}")
    jobs = [{"task": tasks[i % 4], "prompt": f"prompt {i % 3}", "max_tokens": 6} for i in range(24)]
    solo = {(j["task"], j["prompt"]): post(url, "/v1/generate", j)["text"] for j in jobs}
    with cf.ThreadPoolExecutor(max_workers=24) as pool:
        results = list(pool.map(lambda j: post(url, "/v1/generate", j), jobs))
    for job, result in zip(jobs, results, strict=True):
        assert result["text"] == solo[(job["task"], job["prompt"])]  # batching across tasks changes nothing
    stats = engine.stats()
    assert max(s.num_tasks for s in stats.recent_steps) > 1  # steps really mixed tasks
    assert stats.kv_blocks_used == 0 and stats.pool.pins == 0
    metrics = urllib.request.urlopen(url + "/metrics", timeout=30).read().decode()
    assert 'sketchserve_requests_total{status="length",task="burst0"}' in metrics
