"""Tool calling through /v1/chat/completions: tools rendered into the prompt, required and named choices kept to
valid calls, answers read back as tool_calls, multi-turn histories with calls and results, and the 4xx cases."""

import json

import pytest
from fastapi.testclient import TestClient

from sketch.synthetic import llama_config, random_sketched_base
from tests.server.api_helpers import create_test_app
from tests.server.test_json_schema import valid_text

UNIT = {"type": "object", "properties": {"unit": {"enum": ["c", "f"]}}, "required": ["unit"]}
TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "weather", "parameters": UNIT}},
         {"type": "function", "function": {"name": "now", "parameters": {"type": "object", "properties": {}}}}]
NO_SPACES = {str(ord(c)): -100 for c in " \t\n\r"}  # the calls then fit in the test server's 64 tokens
ASK = {"model": "base", "max_tokens": 64, "logit_bias": NO_SPACES, "tools": TOOLS,
       "messages": [{"role": "user", "content": "Weather?"}]}  # fmt: skip


@pytest.fixture(scope="module")
def base():
    """The API tests' tiny random model, with room for the functions' listing in its prompts."""
    return random_sketched_base(llama_config(vocab_size=256, max_position_embeddings=1024), bits=4, gpr=2, seed=0)


@pytest.fixture
def client(base, tmp_path):
    app, engine = create_test_app(base, tmp_path)
    with TestClient(app) as c:
        yield c


def test_required_and_named_choices_answer_valid_calls(client):
    """The random tiny model writes no calls by itself: the constraint makes each answer calls of the functions
    with valid arguments, returned as OpenAI's tool_calls with finish_reason tool_calls."""
    for choice, names in (("required", {"get_weather", "now"}),
                          ({"type": "function", "function": {"name": "get_weather"}}, {"get_weather"})):  # fmt: skip
        for temperature in (0.0, 1.0):
            r = client.post("/v1/chat/completions", json=ASK | {"tool_choice": choice, "parallel_tool_calls": False,
                                                                "temperature": temperature, "seed": 1})  # fmt: skip
            assert r.status_code == 200, r.text
            choice0 = r.json()["choices"][0]
            assert choice0["finish_reason"] == "tool_calls" and choice0["message"]["content"] is None, choice0
            [call] = choice0["message"]["tool_calls"]
            assert call["type"] == "function" and call["id"].startswith("call_") and call["function"]["name"] in names
            arguments = call["function"]["arguments"]  # JSON text, as OpenAI's API carries it
            [schema] = [t["function"]["parameters"] for t in TOOLS if t["function"]["name"] == call["function"]["name"]]
            assert valid_text(arguments, schema), arguments


def test_several_calls_may_come_back_when_parallel_calls_are_allowed(client):
    r = client.post("/v1/chat/completions", json=ASK | {"tool_choice": "required", "max_tokens": 64, "seed": 4,
                                                        "temperature": 1.0})  # fmt: skip
    choice = r.json()["choices"][0]
    if choice["finish_reason"] == "tool_calls":  # one call or a list of them
        assert all(c["function"]["name"] in ("get_weather", "now") for c in choice["message"]["tool_calls"])
    else:  # a list can outgrow 64 tokens: then it is cut, and the text is the start of the calls
        assert choice["finish_reason"] == "length" and choice["message"]["content"][:1] in ("{", "[")


def test_an_auto_answer_keeps_one_call_when_parallel_calls_are_off():
    from server.api.protocol import ChatCompletionRequest
    from server.api.tools import tool_plan

    two = '[{"name": "now", "arguments": {}}, {"name": "get_weather", "arguments": {"unit": "f"}}]'
    for parallel, names in ((True, ["now", "get_weather"]), (False, ["now"])):
        plan = tool_plan(ChatCompletionRequest(**ASK, parallel_tool_calls=parallel))
        content, calls = plan.answer(two)
        assert content is None and [c.function.name for c in calls] == names


def test_an_auto_answer_that_is_not_a_call_is_content(client):
    r = client.post("/v1/chat/completions", json=ASK | {"max_tokens": 8, "logit_bias": {str(ord("{")): -100,
                                                                                        str(ord("[")): -100}})
    choice = r.json()["choices"][0]
    assert r.status_code == 200 and choice["message"]["tool_calls"] is None and choice["message"]["content"]
    assert choice["finish_reason"] == "length"
    assert 'sketchserve_constrained_requests_total{kind="tools_auto"} 1.0' in client.get("/metrics").text


def test_tools_and_a_history_of_calls_and_results_reach_the_prompt(client):
    history = [{"role": "user", "content": "Weather?"},
               {"role": "assistant", "content": None, "tool_calls": [
                   {"id": "call_7", "type": "function", "function": {"name": "get_weather",
                                                                     "arguments": '{"unit": "c"}'}}]},
               {"role": "tool", "tool_call_id": "call_7", "content": "21 degrees"}]  # fmt: skip
    ids = client.post("/v1/tokenize", json={"messages": history, "tools": TOOLS}).json()["tokens"]
    prompt = client.post("/v1/detokenize", json={"tokens": ids}).json()["prompt"]
    assert '"name": "get_weather"' in prompt and "weather" in prompt  # the functions, listed
    assert '{"name": "get_weather", "arguments": {"unit": "c"}}' in prompt and "tool: 21 degrees" in prompt
    r = client.post("/v1/chat/completions", json=ASK | {"messages": history, "max_tokens": 4})
    assert r.status_code == 200 and r.json()["usage"]["prompt_tokens"] == len(ids)


def test_an_auto_answer_streams_its_settled_content_as_it_comes(client):
    """Under auto, text that no call can follow any more streams as usual (a line starting with '{' or '[', or a
    '<tool_call>', would be held until the answer is whole); it adds up to the answer sent at once."""
    body = ASK | {"max_tokens": 24, "temperature": 0, "logit_bias": {str(ord(c)): -100 for c in "{[<\n"}}
    whole = client.post("/v1/chat/completions", json=body).json()["choices"][0]["message"]["content"]
    with client.stream("POST", "/v1/chat/completions", json=body | {"stream": True}) as r:
        events = [json.loads(line[6:]) for line in r.iter_lines() if line.startswith("data: {")]
    pieces = [e["choices"][0]["delta"].get("content") for e in events if e["choices"]]
    assert len([p for p in pieces if p]) > 1 and "".join(p or "" for p in pieces) == whole  # (held: one piece)


def streamed_calls(events: list[dict]) -> dict[int, dict]:
    """OpenAI's accumulation of streamed tool_calls deltas: per index, the id, name and arguments' text."""
    calls: dict[int, dict] = {}
    for e in events:
        for d in (e["choices"][0]["delta"].get("tool_calls") or []) if e["choices"] else []:
            call = calls.setdefault(d["index"], {"id": None, "name": None, "arguments": "", "deltas": 0})
            call["id"] = call["id"] or d.get("id")
            call["name"] = call["name"] or d.get("function", {}).get("name")
            call["arguments"] += d.get("function", {}).get("arguments") or ""
            call["deltas"] += 1
    return calls


@pytest.mark.parametrize("parallel", [False, True])
def test_a_streamed_call_comes_as_its_name_then_its_arguments_in_pieces(client, parallel):
    """Under required, each call's id and name go out once its name is written, then its arguments' text as it
    comes; they add up to the calls of the same request unstreamed, and the last chunk says tool_calls."""
    body = ASK | {"tool_choice": "required", "parallel_tool_calls": parallel, "temperature": 0}
    whole = client.post("/v1/chat/completions", json=body).json()["choices"][0]
    with client.stream("POST", "/v1/chat/completions", json=body | {"stream": True}) as r:
        events = [json.loads(line[6:]) for line in r.iter_lines() if line.startswith("data: {")]
    choices = [e["choices"][0] for e in events if e["choices"]]
    assert choices[0]["delta"]["role"] == "assistant" and [c["finish_reason"] for c in choices][-1] == "tool_calls"
    assert all(c["finish_reason"] is None for c in choices[:-1]) and not any(c["delta"].get("content") for c in choices)
    calls = streamed_calls(events)
    if whole["finish_reason"] == "tool_calls":
        expected = whole["message"]["tool_calls"]
        assert [(c["name"], c["arguments"]) for c in calls.values()] == [
            (c["function"]["name"], c["function"]["arguments"]) for c in expected]  # fmt: skip
    assert list(calls) == list(range(len(calls))) and all(c["id"].startswith("call_") for c in calls.values())
    assert max(c["deltas"] for c in calls.values()) > 1  # the arguments came in more than one piece
    for c in calls.values():
        [schema] = [t["function"]["parameters"] for t in TOOLS if t["function"]["name"] == c["name"]]
        assert valid_text(c["arguments"], schema), c["arguments"]


def test_a_call_cut_before_its_name_streams_as_the_unstreamed_answer_does(client):
    """max_tokens ends a required call before its name is whole: no call was announced, so the stream sends what
    the unstreamed answer holds, the text as content, with finish_reason length."""
    body = ASK | {"tool_choice": "required", "temperature": 0, "max_tokens": 3}
    whole = client.post("/v1/chat/completions", json=body).json()["choices"][0]
    assert whole["finish_reason"] == "length" and whole["message"]["tool_calls"] is None
    with client.stream("POST", "/v1/chat/completions", json=body | {"stream": True}) as r:
        events = [json.loads(line[6:]) for line in r.iter_lines() if line.startswith("data: {")]
    choices = [e["choices"][0] for e in events if e["choices"]]
    assert "".join(c["delta"].get("content") or "" for c in choices) == whole["message"]["content"]
    assert choices[-1]["finish_reason"] == "length" and not streamed_calls(events)


def test_a_call_stream_reads_calls_fed_in_any_pieces():
    """CallStream, the streaming reader of a constrained answer: whatever the pieces the text arrives in, each call
    is announced once and its arguments add up to the text the model wrote (escapes and brackets in strings too)."""
    from server.api.tools import CallStream

    text = ' [ {"name":"now","arguments":{}} , {"name": "get_weather", "arguments": {"unit": "f", "s": "a\\"}]"}}]'
    for step in (1, 2, 5, len(text)):
        stream, entries = CallStream(), []
        for end in range(step, len(text) + step, step):
            entries += stream.feed(text[:end])
        assert stream.complete and [(c.name, c.arguments) for c in stream.calls] == [
            ("now", "{}"), ("get_weather", '{"unit": "f", "s": "a\\"}]"}')]  # fmt: skip
        assert [e["function"]["name"] for e in entries if "id" in e] == ["now", "get_weather"]
        pieces = ["".join(e["function"]["arguments"] for e in entries if e["index"] == i) for i in (0, 1)]
        assert [json.loads(p) for p in pieces] == [{}, {"unit": "f", "s": 'a"}]'}]


@pytest.mark.parametrize("change, status, words", [
    ({"tools": None, "tool_choice": "required"}, 400, "tool_choice needs tools"),
    ({"tool_choice": {"type": "function", "function": {"name": "fly"}}}, 400, "'fly', which tools do not define"),
    ({"tools": TOOLS + TOOLS[:1]}, 400, "a function name twice"),
    ({"tool_choice": "required", "tools": [{"type": "function", "function": {
        "name": "f", "parameters": {"type": "object", "properties": {"a": {"type": "integer", "minimum": 0}}}}}]},
     400, "tool 'f': its parameters cannot be enforced"),
    ({"tool_choice": "required", "response_format": {"type": "json_object"}}, 400, "excludes response_format"),
    ({"messages": [{"role": "user", "content": "x", "tool_calls": []}]}, 200, ""),
    ({"messages": [{"role": "user", "tool_calls": [{"function": {"name": "now", "arguments": "{}"}}]}]}, 422,
     "only an assistant message has tool_calls"),
    ({"messages": [{"role": "assistant", "content": None}]}, 422, "needs content"),
    ({"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "tool_calls": [
        {"function": {"name": "now", "arguments": "{not json"}}]}]}, 400, "arguments are not JSON"),
    ({"tools": [{"type": "function", "function": {"name": "bad name"}}]}, 422, "pattern"),
])  # fmt: skip
def test_malformed_tool_requests_answer_4xx_naming_the_problem(client, change, status, words):
    body = {k: v for k, v in (ASK | change).items() if v is not None}
    r = client.post("/v1/chat/completions", json=body | {"max_tokens": 2})
    assert r.status_code == status, r.text
    assert words in r.text
    # the tool whose parameters cannot be enforced is fine under auto: nothing is enforced there
    if "minimum" in json.dumps(change.get("tools", [])):
        auto = client.post("/v1/chat/completions", json=body | {"tool_choice": "auto", "max_tokens": 2})
        assert auto.status_code == 200, auto.text


def test_the_openai_client_reads_calls_streamed_or_not_and_parses_a_pydantic_tool(base, tmp_path):
    """Over a real socket: the official client's tool_calls, its stream accumulation, and
    `chat.completions.parse` with `openai.pydantic_function_tool`, which parses the arguments into the model."""
    from typing import Literal

    import openai
    import pydantic

    from tests.server.api_helpers import serve_on_loopback

    class GetWeather(pydantic.BaseModel):
        unit: Literal["c", "f"]

    app, _ = create_test_app(base, tmp_path)
    with serve_on_loopback(app) as url:
        client = openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0)
        ask = {"model": "base", "messages": [{"role": "user", "content": "Weather?"}], "max_tokens": 64,
               "logit_bias": NO_SPACES, "parallel_tool_calls": False}  # fmt: skip
        done = client.chat.completions.create(tools=TOOLS, tool_choice="required", **ask)
        [call] = done.choices[0].message.tool_calls
        assert done.choices[0].finish_reason == "tool_calls" and call.function.name in ("get_weather", "now")
        stream = client.chat.completions.create(tools=TOOLS, tool_choice="required", stream=True, seed=2,
                                                temperature=1.0, **ask)  # fmt: skip
        deltas = [c for chunk in stream if chunk.choices for c in chunk.choices[0].delta.tool_calls or []]
        assert {d.index for d in deltas} == {0} and deltas[0].function.name in ("get_weather", "now")
        assert json.loads("".join(d.function.arguments or "" for d in deltas)) is not None  # the pieces add up
        parsed = client.chat.completions.parse(tools=[openai.pydantic_function_tool(GetWeather)],
                                               tool_choice="required", **ask)  # fmt: skip
        [call] = parsed.choices[0].message.tool_calls
        assert call.function.name == "GetWeather" and isinstance(call.function.parsed_arguments, GetWeather)
        # the client's stream helper accumulates the streamed pieces into the call and parses its arguments
        with client.chat.completions.stream(tools=[openai.pydantic_function_tool(GetWeather)],
                                            tool_choice="required", **ask) as stream:  # fmt: skip
            final = stream.get_final_completion()
        [call] = final.choices[0].message.tool_calls
        assert final.choices[0].finish_reason == "tool_calls" and call.function.name == "GetWeather"
        assert isinstance(call.function.parsed_arguments, GetWeather)
