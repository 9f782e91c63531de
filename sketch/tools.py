"""Tools in the text a task model reads and writes: one format for fine-tuning and for serving.

A request's (or a training row's) tools are OpenAI's: [{"type": "function", "function": {name, description,
parameters}}]. How the model sees them depends on its chat template:

- a template that renders tools (it mentions `tools`: Llama 3.1+, Qwen 2.5, Hermes...) gets them as
  `apply_chat_template(..., tools=...)`, and past tool calls and results in Hugging Face's message shape;
- any other template (the embedded SmolLM2's), and the plain transcript, get TOOLS_PREAMBLE and one JSON line per
  function appended to the system message (or as a new first system message); a past assistant turn's calls are
  its content, as call_text writes them; a tool result is a message of role `tool`.

The model calls functions by answering with call_text: a JSON object {"name": ..., "arguments": {...}}, or a JSON
list of them. parse_calls reads that back (and the Hermes / Qwen `<tool_call>...</tool_call>` wrapping, and
Llama's "parameters" for "arguments"), so a task fine-tuned on rows whose assistant turn has `tool_calls`
(OpenAI's fine-tuning format) answers in the form the server turns into `tool_calls`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Set as AbstractSet
from typing import Any

TOOLS_PREAMBLE = (
    "You can call functions. To call one, answer with only a JSON object "
    '{"name": <the function\'s name>, "arguments": <its arguments>}; to call several, a JSON list of such '
    "objects. The functions:"
)
_TAG = "<tool_call>"
_TOOL_CALL_TAG = re.compile(r"<tool_call>\s*(.*?)\s*</tool_call>", re.DOTALL)


class ToolFormatError(ValueError):
    """A message's tool calls or a tool definition is malformed."""


def template_renders_tools(tokenizer) -> bool:
    """Whether the tokenizer's chat template renders a `tools` argument itself."""
    template = getattr(tokenizer, "chat_template", None)
    return isinstance(template, str) and "tools" in template


def functions(tools: list[dict] | None) -> list[dict]:
    """[{name, description, parameters}] of OpenAI-shaped tools (ToolFormatError if one is not a function)."""
    out = []
    for i, tool in enumerate(tools or []):
        fn = tool.get("function") if isinstance(tool, dict) else None
        named = isinstance(fn, dict) and isinstance(fn.get("name"), str)
        if not (named and tool.get("type", "function") == "function"):
            raise ToolFormatError(f"tool {i} must be {{'type': 'function', 'function': {{'name': ...}}}}")
        out.append({"name": fn["name"], "description": fn.get("description") or "",
                    "parameters": fn.get("parameters") or {"type": "object", "properties": {}}})  # fmt: skip
    return out


def call_text(calls: list[dict]) -> str:
    """What the model writes to call functions: calls [{name, arguments (a dict)}] as one JSON object, or a list."""
    objects = [{"name": c["name"], "arguments": c["arguments"]} for c in calls]
    return json.dumps(objects[0] if len(objects) == 1 else objects, ensure_ascii=False)


def answer_text(content: str, calls: list[dict]) -> str:
    """An assistant turn that calls functions, as the model writes it: its content (if any), a newline, the calls."""
    return f"{content}\n{call_text(calls)}" if content else call_text(calls)


def parse_calls(text: str, names: AbstractSet[str] | None) -> tuple[str, list[dict]] | None:
    """(content before the calls, the calls [{name, arguments (a dict)}]) of an answer that calls the named
    functions (names None: any) in answer_text's form, or as Hermes / Qwen <tool_call> blocks after the content;
    None when the answer is not such a call: an ordinary answer."""
    body = text.strip()
    tagged = _TOOL_CALL_TAG.findall(body)
    if tagged:
        first = _TOOL_CALL_TAG.search(body)
        if _TOOL_CALL_TAG.sub("", body[first.start() :]).strip():
            return None  # text after or between the calls: not a call
        calls = _calls(tagged, names)
        return (body[: first.start()].strip(), calls) if calls else None
    starts = [0] if body[:1] in ("{", "[") else []
    starts += [m.start() + 1 for m in re.finditer(r"\n[{\[]", body)]
    for start in starts:  # the calls are the answer's last lines
        calls = _calls([body[start:]], names)
        if calls:
            return body[:start].strip(), calls
    return None


def settled_content(text: str) -> int:
    """How much of a partial answer is content whatever follows (streaming under tool_choice auto): the text up to
    where calls could still start, parse_calls' way: nothing while the text starts with '{', '[' or '<'; else up to
    the first newline that ends the text or is followed by '{' or '[', or the first '<' that may open <tool_call>."""
    stripped = text.lstrip()
    if not stripped or stripped[0] in "{[<":
        return 0
    end = len(text)
    newline = re.search(r"\n(?=[{\[]|\Z)", text)
    if newline:
        end = newline.start()
    tag = next((m.start() for m in re.finditer("<", text) if _TAG.startswith(text[m.start() : m.start() + len(_TAG)])),
               None)  # (a '<' that opens the tag, or may: the text ends inside it)
    return min(end, tag) if tag is not None else end


def _calls(chunks: list[str], names: AbstractSet[str] | None) -> list[dict] | None:
    calls = []
    for chunk in chunks:
        try:
            value = json.loads(chunk)
        except ValueError:
            return None
        for item in value if isinstance(value, list) else [value]:
            call = _call(item, names)
            if call is None:
                return None
            calls.append(call)
    return calls or None


def _call(item: Any, names: AbstractSet[str] | None) -> dict | None:
    if not isinstance(item, dict) or not isinstance(item.get("name"), str):
        return None
    if names is not None and item["name"] not in names:
        return None
    arguments = item.get("arguments", item.get("parameters", {}))
    if isinstance(arguments, str):  # some models write the arguments as JSON text, as OpenAI's API carries them
        try:
            arguments = json.loads(arguments)
        except ValueError:
            return None
    return {"name": item["name"], "arguments": arguments} if isinstance(arguments, dict) else None


def message_calls(message: dict) -> list[dict]:
    """An OpenAI-shaped assistant message's tool_calls as [{name, arguments (a dict)}] (arguments arrive as JSON
    text); ToolFormatError if they do not parse."""
    calls = []
    for call in message.get("tool_calls") or []:
        fn = call.get("function") if isinstance(call, dict) else None
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
            raise ToolFormatError("a tool call needs {'function': {'name', 'arguments'}}")
        arguments = fn.get("arguments", "{}")
        try:
            arguments = json.loads(arguments) if isinstance(arguments, str) else arguments
        except ValueError:
            raise ToolFormatError(f"tool call {fn['name']!r}: arguments are not JSON") from None
        if not isinstance(arguments, dict):
            raise ToolFormatError(f"tool call {fn['name']!r}: arguments must be a JSON object")
        calls.append({"name": fn["name"], "arguments": arguments})
    return calls


def template_messages(messages: list[dict], tools: list[dict] | None, native: bool) -> list[dict]:
    """OpenAI-shaped messages (role, content, tool_calls, tool_call_id; developer already read as system) -> the
    messages a chat template (native: one that renders tools) or the plain transcript reads."""
    fns = functions(tools)
    out = []
    for m in messages:
        calls = message_calls(m) if m.get("role") == "assistant" else []
        content = m.get("content") or ""
        if calls and native:
            out.append({"role": "assistant", "content": content, "tool_calls": [
                {"type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}} for c in calls]})
        elif calls:
            out.append({"role": "assistant", "content": answer_text(content, calls)})
        elif m.get("role") == "tool" and native and m.get("tool_call_id"):
            out.append({"role": "tool", "content": content, "tool_call_id": m["tool_call_id"]})
        else:
            out.append({"role": m["role"], "content": content})
    if fns and not native:
        listing = TOOLS_PREAMBLE + "".join("\n" + json.dumps(f, ensure_ascii=False) for f in fns)
        if out and out[0]["role"] == "system":
            out[0] = {**out[0], "content": f"{out[0]['content']}\n\n{listing}" if out[0]["content"] else listing}
        else:
            out.insert(0, {"role": "system", "content": listing})
    return out
