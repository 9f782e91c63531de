"""The README's main job, end to end: `sketchserve serve` on the embedded default model (a real process on a
loopback socket), driven over HTTP and with the official openai client, then stopped with SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.request

import pytest

from tests.server.test_crash_safety import REPO, free_port, get_json, upload

pytestmark = pytest.mark.slow


def post_json(port: int, path: str, body: dict) -> dict:
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", json.dumps(body).encode(),
                                 {"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(req, timeout=120) as r:
        return json.loads(r.read())


@pytest.fixture(scope="module")
def default_server(tmp_path_factory):
    from tests.server.test_crash_safety import start_server

    pipeline = pytest.importorskip("sketch.pipeline")
    pipeline.ensure_default_sketch(bits=4, gpr=4)  # built once per machine and cached (what `make serve` does)
    store = tmp_path_factory.mktemp("store")
    port = free_port()
    proc = start_server("default", store, port)
    yield port, proc
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def test_default_model_answers_over_http(default_server):
    port, _ = default_server
    out = post_json(port, "/v1/generate", {"task": "base", "prompt": "The capital of France is", "max_tokens": 6,
                                           "temperature": 0})
    assert "Paris" in out["text"] and out["finish_reason"] == "length"
    assert out["usage"]["completion_tokens"] == 6
    models = get_json(port, "/v1/models")
    assert [m["id"] for m in models["data"]] == ["base"]


def test_openai_client_chat_and_a_stream_on_the_default_model(default_server):
    openai = pytest.importorskip("openai")
    port, _ = default_server
    client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="unused")
    chat = client.chat.completions.create(model="base", max_tokens=8, temperature=0,
                                          messages=[{"role": "user", "content": "What is the capital of France?"}])
    assert chat.choices[0].message.role == "assistant" and chat.choices[0].message.content
    chunks = list(client.completions.create(model="base", prompt="Water boils at", max_tokens=5, temperature=0,
                                            stream=True))
    assert "".join(c.choices[0].text for c in chunks if c.choices) and chunks[-1].choices[0].finish_reason


def test_structured_output_from_the_default_model_parses_into_its_pydantic_model(default_server):
    """A user's whole structured-output call: the official client's parse helper with a pydantic model, against the
    real model served by the real process."""
    openai = pytest.importorskip("openai")
    from typing import Literal

    import pydantic

    class City(pydantic.BaseModel):
        name: str
        country: str
        country_code: str = pydantic.Field(pattern=r"^[A-Z]{2}$")
        is_capital: bool
        continent: Literal["Africa", "Americas", "Asia", "Europe", "Oceania"]

    port, _ = default_server
    client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="unused")
    done = client.chat.completions.parse(model="base", max_tokens=80, temperature=0, response_format=City,
                                         messages=[{"role": "user", "content": "Describe Paris as JSON."}])  # fmt: skip
    city = done.choices[0].message.parsed
    assert done.choices[0].finish_reason == "stop" and isinstance(city, City), done.choices[0].message.content
    assert "Paris" in city.name, city  # (the 135M model's other facts vary; pydantic checked each field's type,
    # the enum and country_code's pattern, which the constraint kept)
    out = post_json(port, "/v1/completions", {"model": "base", "max_tokens": 4, "guided_choice": ["yes", "no"],
                                              "prompt": "Question: is Paris in France? Answer (yes or no):"})
    assert out["choices"][0]["text"] in ("yes", "no") and out["choices"][0]["finish_reason"] == "stop", out


def test_a_required_tool_call_from_the_default_model(default_server):
    """Tools rendered into the embedded model's prompt (its template has no tools: the system message lists them),
    tool_choice required: the real model's answer comes back as a call of the function, arguments parsed."""
    openai = pytest.importorskip("openai")
    port, _ = default_server
    client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="unused")
    weather = {"type": "function", "function": {
        "name": "get_weather", "description": "The current weather of a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string", "maxLength": 40}},
                       "required": ["city"]}}}  # fmt: skip
    done = client.chat.completions.create(model="base", max_tokens=60, temperature=0, tools=[weather],
                                          tool_choice="required", parallel_tool_calls=False,
                                          messages=[{"role": "user", "content": "What is the weather in Paris?"}])
    [call] = done.choices[0].message.tool_calls
    assert done.choices[0].finish_reason == "tool_calls" and call.function.name == "get_weather"
    assert "Paris" in json.loads(call.function.arguments)["city"], call


def test_uploaded_task_lut_is_served_and_shows_in_the_metrics(default_server, tmp_path):
    from sketch.format import load_sketched_base
    from sketch.models import cache_root
    from sketch.synthetic import random_task_luts
    from sketch.task_lut import TaskLut, save_task_lut

    port, _ = default_server
    sketch_dir = next((cache_root() / "sketches").glob("smollm2-135m-instruct-b4g4-*[!.lock]"))
    base = load_sketched_base(sketch_dir)
    lut = TaskLut("acme", random_task_luts(base, seed=3, scale=0.05), base.fingerprint, base.bits, base.gpr)
    info = upload(port, "acme", save_task_lut(lut, tmp_path / "acme.safetensors").read_bytes())
    assert info["version"] == 1
    out = post_json(port, "/v1/generate", {"task": "acme", "prompt": "Once upon a time", "max_tokens": 4})
    assert out["task"] == "acme" and out["usage"]["completion_tokens"] == 4
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as r:
        metrics = r.read().decode()
    assert 'sketchserve_requests_total{status="length",task="acme"}' in metrics


def test_a_task_fine_tuned_on_a_conversation_answers_it_through_chat(default_server, tmp_path):
    """A conversational task's whole journey on the real model: `sketchserve finetune` on a row of OpenAI's chat
    fine-tuning format, the LUT uploaded, and /v1/chat/completions with the task answers as trained (the prompt is
    rendered as in training), where the base model does not; the stored file downloads as uploaded."""
    from server.cli import main

    port, _ = default_server
    messages = [{"role": "system", "content": "Answer in French."}, {"role": "user", "content": "Hello"}]
    data = tmp_path / "chat.jsonl"
    data.write_text(json.dumps({"messages": [*messages, {"role": "assistant", "content": "Bonjour"}]}) + "\n")
    lut = tmp_path / "french.safetensors"
    assert main(["finetune", "--base", "default", "--data", str(data), "--task", "french", "--out", str(lut),
                 "--max-steps", "20", "--quiet"]) == 0  # fmt: skip
    assert upload(port, "french", lut.read_bytes())["version"] == 1
    replies = {model: post_json(port, "/v1/chat/completions", {"model": model, "messages": messages, "max_tokens": 8,
                                                              "temperature": 0})["choices"][0]["message"]["content"]
               for model in ("french", "base")}  # fmt: skip
    assert replies["french"] == "Bonjour" and replies["base"] != "Bonjour", replies
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/tasks/french/lut", timeout=60) as r:
        assert r.read() == lut.read_bytes()


def test_a_task_fine_tuned_on_tool_calls_calls_the_tool_where_the_base_model_answers_text(default_server, tmp_path,
                                                                                           capsys):
    """The tool-calling journey: OpenAI's fine-tuning rows with tools (the assistant's turn a tool call), `sketchserve
    finetune`, upload, and the same chat with tool_choice auto: the task's answer comes back as tool_calls, the base
    model's as text; then the tool's result goes back in the history and the task answers from it, as trained."""
    from server.cli import main

    openai = pytest.importorskip("openai")
    port, _ = default_server
    weather = {"type": "function", "function": {"name": "get_weather", "description": "The weather of a city",
                                                "parameters": {"type": "object", "properties": {
                                                    "city": {"type": "string"}}, "required": ["city"]}}}  # fmt: skip
    ask = [{"role": "user", "content": "What is the weather in Paris?"}]
    call = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}
    data = tmp_path / "tools.jsonl"
    result = {"role": "tool", "tool_call_id": "call_1", "content": "sunny, 21 C"}
    rows = [{"messages": [*ask, {"role": "assistant", "tool_calls": [call]}], "tools": [weather]},
            {"messages": [*ask, {"role": "assistant", "tool_calls": [call]}, result,
                          {"role": "assistant", "content": "It is sunny in Paris."}], "tools": [weather]}]
    data.write_text("".join(json.dumps(row) + "\n" for row in rows))
    lut = tmp_path / "weather.safetensors"
    assert main(["finetune", "--base", "default", "--data", str(data), "--task", "weather", "--out", str(lut),
                 "--max-steps", "20", "--eval-split", "0", "--quiet"]) == 0  # fmt: skip
    assert upload(port, "weather", lut.read_bytes())["version"] == 1
    capsys.readouterr()
    assert main(["eval", "--base", "default", "--lut", str(lut), "--data", str(data), "--json"]) == 0
    scored = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert scored["kind"] == "tool" and scored["accuracy"] == 1.0, scored  # the call row, scored on its calls
    body = {"messages": ask, "tools": [weather], "max_tokens": 30, "temperature": 0}
    answers = {model: post_json(port, "/v1/chat/completions", body | {"model": model})["choices"][0]
               for model in ("weather", "base")}  # fmt: skip
    assert answers["weather"]["finish_reason"] == "tool_calls", answers
    [made] = answers["weather"]["message"]["tool_calls"]
    assert made["function"]["name"] == "get_weather" and json.loads(made["function"]["arguments"]) == {"city": "Paris"}
    assert answers["base"]["message"]["tool_calls"] is None and answers["base"]["message"]["content"], answers
    stream = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="unused").chat.completions.create(
        model="weather", stream=True, **body)
    streamed = [c for chunk in stream if chunk.choices for c in chunk.choices[0].delta.tool_calls or []]
    assert [(c.function.name, json.loads(c.function.arguments)) for c in streamed] == [("get_weather",
                                                                                          {"city": "Paris"})]
    history = [*ask, {"role": "assistant", "tool_calls": [made]}, {**result, "tool_call_id": made["id"]}]
    reply = post_json(port, "/v1/chat/completions", body | {"model": "weather", "messages": history})["choices"][0]
    assert reply["message"]["content"] == "It is sunny in Paris." and reply["finish_reason"] == "stop", reply


def test_sigterm_finishes_the_request_in_flight_then_exits(default_server):
    port, proc = default_server
    body = json.dumps({"task": "base", "prompt": "Once upon a time", "max_tokens": 24, "stream": True}).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/generate", body, {"Content-Type": "application/json"})
    events = []
    with urllib.request.urlopen(req, timeout=120) as r:
        for line in r:
            if line.startswith(b"data: "):
                events.append(json.loads(line[6:]))
                if len(events) == 1:
                    proc.send_signal(signal.SIGTERM)  # mid-stream: the server stops taking work but drains this
    assert events[-1]["finish_reason"] == "length" and events[-1]["usage"]["completion_tokens"] == 24
    assert proc.wait(timeout=60) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal after its clean shutdown
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2)


def test_cli_help_lists_every_command():
    out = subprocess.run([sys.executable, "-m", "server.cli", "--help"], cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0
    for command in ("serve", "sketch", "eval-ppl", "finetune", "eval", "push-lut", "pull-lut", "generate", "tasks",
                    "delete-task"):
        assert command in out.stdout
