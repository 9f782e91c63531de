"""Tools in the text a task reads and writes: one format for training rows and for /v1/chat/completions."""

import json

import pytest

from sketch.prompts import encode_example, load_examples
from sketch.tools import TOOLS_PREAMBLE, answer_text, parse_calls, template_messages
from tests.sketch.tiny_llm import CHAT_TEMPLATE, byte_tokenizer

WEATHER = {"type": "function", "function": {"name": "get_weather", "description": "Current weather of a city",
                                            "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                                                           "required": ["city"]}}}  # fmt: skip
ADD = {"type": "function", "function": {"name": "add", "parameters": {"type": "object"}}}
CALL = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}
TOOLS_TEMPLATE = (  # a template that renders tools itself (as Llama 3.1's and Qwen's do)
    "{% if tools %}TOOLS {{ tools | tojson }}\n{% endif %}"
    "{% for m in messages %}<|{{ m.role }}|>\n{{ m.content }}"
    "{% for c in m.tool_calls or [] %}CALL {{ c.function | tojson }}{% endfor %}\n{% endfor %}<|assistant|>\n"
)
ROW = {"messages": [{"role": "user", "content": "Weather in Paris?"},
                    {"role": "assistant", "content": None, "tool_calls": [CALL]},
                    {"role": "tool", "tool_call_id": "call_1", "content": '{"celsius": 21}'},
                    {"role": "assistant", "content": "It is 21 C."},
                    {"role": "user", "content": "And in Rome?"},
                    {"role": "assistant", "tool_calls": [{**CALL, "function": {"name": "get_weather",
                                                                               "arguments": '{"city": "Rome"}'}}]}],
       "tools": [WEATHER, ADD]}  # fmt: skip


@pytest.mark.parametrize("text, expected", [
    ('{"name": "add", "arguments": {"a": 1}}', ("", [{"name": "add", "arguments": {"a": 1}}])),
    ('Sure.\n[{"name": "add", "arguments": {}}, {"name": "get_weather", "parameters": {"city": "Oslo"}}]',
     ("Sure.", [{"name": "add", "arguments": {}}, {"name": "get_weather", "arguments": {"city": "Oslo"}}])),
    ('<tool_call>\n{"name": "add", "arguments": "{\\"a\\": 2}"}\n</tool_call>',
     ("", [{"name": "add", "arguments": {"a": 2}}])),
    ('{"name": "subtract", "arguments": {}}', None),  # not one of the functions
    ('{"name": "add", "arguments": [1]}', None),  # arguments are an object
    ('I would call {"name": "add", "arguments": {}} now', None),  # text after the call
    ("Paris is sunny.", None),
])  # fmt: skip
def test_an_answer_is_read_as_calls_only_when_it_is_wholly_calls_of_the_functions(text, expected):
    assert parse_calls(text, {"add", "get_weather"}) == expected


def test_what_the_model_writes_reads_back_as_the_same_calls():
    calls = [{"name": "get_weather", "arguments": {"city": "Zürich"}}, {"name": "add", "arguments": {"a": [1, 2]}}]
    for content in ("", "Let me check."):
        assert parse_calls(answer_text(content, calls), {"add", "get_weather"}) == (content, calls)
        assert parse_calls(answer_text(content, calls[:1]), {"add", "get_weather"}) == (content, calls[:1])


def test_without_a_tools_template_the_functions_join_the_system_message_and_calls_are_text():
    rendered = template_messages([{"role": "system", "content": "Be brief."}, *ROW["messages"][:3]], ROW["tools"],
                                 native=False)  # fmt: skip
    assert rendered[0]["role"] == "system" and rendered[0]["content"].startswith("Be brief.\n\n" + TOOLS_PREAMBLE)
    assert json.loads(rendered[0]["content"].splitlines()[-1])["name"] == "add"  # one JSON line per function
    assert rendered[2] == {"role": "assistant", "content": '{"name": "get_weather", "arguments": {"city": "Paris"}}'}
    assert rendered[3] == {"role": "tool", "content": '{"celsius": 21}'}
    assert template_messages(ROW["messages"][:1], ROW["tools"], native=False)[0]["role"] == "system"  # a new one


def test_a_training_row_with_tool_calls_trains_on_the_calls_after_the_prompt_the_server_renders(tmp_path):
    """OpenAI's fine-tuning rows with tools: the response is the last assistant turn's calls as the model writes
    them, the prompt exactly what /v1/chat/completions renders for the messages and tools before it, with a
    template that renders tools and with one that does not."""
    from server.api.protocol import ChatMessage, ToolDefinition
    from server.api.routes.openai import render_chat

    data = tmp_path / "tools.jsonl"
    data.write_text(json.dumps(ROW) + "\n")
    *earlier, example = load_examples(data)  # one example per assistant turn: the Paris call, the reply, this
    assert [e["output"] for e in earlier] == ['{"name": "get_weather", "arguments": {"city": "Paris"}}', "It is 21 C."]
    assert parse_calls(example["output"], {"get_weather", "add"}) == ("", [{"name": "get_weather",
                                                                           "arguments": {"city": "Rome"}}])
    for template in (CHAT_TEMPLATE, TOOLS_TEMPLATE):
        tok = byte_tokenizer(template)
        enc = encode_example(example, tok, max_length=4096)
        tools = [ToolDefinition(**t).model_dump(exclude_none=True) for t in ROW["tools"]]
        served = render_chat(tok, [ChatMessage(**m).template_message() for m in ROW["messages"][:-1]], tools)
        assert enc.input_ids[: enc.prompt_len] == served
        prompt = tok.decode(served)
        assert ("TOOLS [" in prompt) == (template == TOOLS_TEMPLATE) and "Paris" in prompt and "21" in prompt
        assert tok.decode(enc.labels[enc.prompt_len : -1]) == example["output"]


@pytest.mark.parametrize("row, error", [
    ({"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": None}]}, "message 1 needs"),
    ({"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "tool_calls": [CALL]}]},
     "calls a function that 'tools' does not define"),
    ({"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "tool_calls": [
        {"function": {"name": "get_weather", "arguments": "{city"}}]}], "tools": [WEATHER]}, "arguments are not JSON"),
    ({"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}], "tools": [{"x": 1}]},
     "tool 0 must be"),
])  # fmt: skip
def test_a_malformed_tool_row_names_its_row(tmp_path, row, error):
    data = tmp_path / "rows.jsonl"
    data.write_text(json.dumps(row) + "\n")
    with pytest.raises(ValueError, match=f"row 1.*{error}"):
        load_examples(data)
