"""Tool calling in /v1/chat/completions (OpenAI's tools, tool_choice and parallel_tool_calls): what a request asks
of decoding, and how an answer becomes tool_calls. The text the model reads and writes is sketch/tools.py's.

    tool_choice   decoding                                       the answer
    (no tools)    as asked                                       content
    none          as asked (the functions are still rendered)    content
    auto          as asked                                       tool_calls if it is wholly a call of the functions
                                                                 (after optional content), else content
    required      kept to one call or a list of calls of the     tool_calls
                  functions, each call's arguments to its
                  function's parameters (server/json_schema.py)
    {function}    kept to one call of that function              tool_calls

finish_reason is "tool_calls" whenever the answer carries calls; with parallel_tool_calls false an answer carries one
call at most (decoding under required allows one; under auto the first call read is kept). A function whose
parameters cannot be enforced (a keyword server/json_schema.py refuses) answers 400 under required or a named
choice; under auto nothing is enforced, so any schema is accepted.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field

from server.api.errors import ApiError
from server.api.protocol import ChatCompletionRequest, FunctionCall, ToolCall
from server.json_schema import Arr, Lit, Node, Obj, SchemaError, Union, compile_schema
from sketch.tools import functions, parse_calls


@dataclass(frozen=True)
class ToolPlan:
    mode: str  # "off" (no tools), "none", "auto", "required" or "named"
    tools: list[dict] | None  # OpenAI-shaped, as rendered into the prompt
    names: frozenset[str]
    constraint: Node | None = None  # required and named: the calls' node, decoding's json_schema
    parallel: bool = True  # parallel_tool_calls: False keeps an answer's first call only

    @property
    def reads_calls(self) -> bool:
        return self.mode in ("auto", "required", "named")

    def answer(self, text: str) -> tuple[str | None, list[ToolCall] | None]:
        """(content, tool_calls) of a finished answer's text. Under a constraint (required, named) each call's
        arguments are the model's own text, as a stream of the answer sends them (CallStream); under auto, read
        from any of parse_calls' forms and written again as JSON."""
        if self.constraint is not None:
            stream = CallStream()
            stream.feed(text)
            if stream.complete:
                return None, [ToolCall(id=c.id, function=FunctionCall(name=c.name, arguments=c.arguments))
                              for c in stream.calls]  # fmt: skip
        parsed = parse_calls(text, self.names) if self.reads_calls else None
        if parsed is None:
            return text, None
        content, calls = parsed
        calls = calls if self.parallel else calls[:1]
        return content or None, [ToolCall(id=_call_id(), function=FunctionCall(
            name=c["name"], arguments=json.dumps(c["arguments"], ensure_ascii=False))) for c in calls]


def _call_id() -> str:
    return f"call_{uuid.uuid4().hex[:24]}"


def tool_plan(body: ChatCompletionRequest) -> ToolPlan:
    choice = body.tool_choice
    if not body.tools:
        if choice not in (None, "none"):
            raise ApiError(400, "tool_choice needs tools", code="invalid_tool_choice")
        return ToolPlan("off", None, frozenset())
    tools = [t.model_dump(exclude_none=True) for t in body.tools]
    fns = functions(tools)
    names = [f["name"] for f in fns]
    if len(set(names)) != len(names):
        raise ApiError(400, "tools define a function name twice", code="invalid_tools")
    parallel = body.parallel_tool_calls
    if choice is None or choice in ("none", "auto"):
        return ToolPlan(choice or "auto", tools, frozenset(names), parallel=parallel)
    if choice == "required":
        return ToolPlan("required", tools, frozenset(names), calls_node(fns, parallel), parallel)
    named = [f for f in fns if f["name"] == choice.function.name]
    if not named:
        raise ApiError(400, f"tool_choice names {choice.function.name!r}, which tools do not define",
                       code="invalid_tool_choice")  # fmt: skip
    return ToolPlan("named", tools, frozenset(names), calls_node(named, parallel=False), parallel=False)


def calls_node(fns: list[dict], parallel: bool) -> Node:
    """One call {"name": <one of fns>, "arguments": <its parameters>} (name first), or with parallel also a
    non-empty list of calls."""
    calls = []
    for f in fns:
        try:
            arguments = compile_schema(f["parameters"])
        except SchemaError as e:
            raise ApiError(400, f"tool {f['name']!r}: its parameters cannot be enforced: {e}",
                           code="invalid_json_schema") from None  # fmt: skip
        calls.append(Obj({"name": Lit((json.dumps(f["name"]),)), "arguments": arguments},
                         frozenset({"name", "arguments"}), None, ordered=True))  # fmt: skip
    one = calls[0] if len(calls) == 1 else Union(tuple(calls))
    return Union((one, Arr((), one, 1, None))) if parallel else one


_HEAD = re.compile(r'\s*\{\s*"name"\s*:\s*("(?:[^"\\]|\\.)*")')  # a call's opening and its name (complete)
_ARGUMENTS_KEY = re.compile(r'\s*,\s*"arguments"\s*:\s*(?=\S)')  # up to its arguments' first character
_CLOSE = re.compile(r"\s*\}")
_NEXT = re.compile(r"\s*([,\]])")  # in a list: another call, or the list's end


@dataclass
class StreamedCall:
    name: str
    arguments: str = ""  # the model's text of the arguments, so far
    id: str = field(default_factory=_call_id)


class CallStream:
    """Reads an answer written under calls_node's constraint (one call {"name": ..., "arguments": ...}, name first,
    or a list of them) while it grows, and gives OpenAI's streamed tool_calls deltas: a call's index, id, type and
    name once its name is whole, then its arguments' text as it comes. The deltas of a call add up to the model's
    own text of its arguments (JSON, by the constraint), which is also what the answer returns unstreamed."""

    def __init__(self) -> None:
        self.calls: list[StreamedCall] = []
        self._pos = 0  # how much of the answer has been read
        self._stage = "start"  # start, head, key, arguments, close, next, done
        self._in_list = False
        self._depth, self._in_string, self._escaped = 0, False, False  # the arguments value's scan

    @property
    def complete(self) -> bool:
        return self._stage == "done"

    def feed(self, text: str) -> list[dict]:
        """text: the whole answer so far (each feed extends the one before) -> the tool_calls entries for what it
        adds, one a call at most (a new call's entry carries its first arguments text)."""
        entries: dict[int, dict] = {}
        while True:
            stage = self._stage
            if stage == "start":
                rest = text[self._pos :].lstrip()
                if not rest:
                    break
                self._in_list = rest[0] == "["
                self._pos = len(text) - len(rest) + self._in_list
                self._stage = "head"
            elif stage == "head":
                if not (m := _HEAD.match(text, self._pos)):
                    break
                self.calls.append(StreamedCall(json.loads(m.group(1))))
                entries[len(self.calls) - 1] = {"index": len(self.calls) - 1, "id": self.calls[-1].id,
                                                "type": "function",
                                                "function": {"name": self.calls[-1].name, "arguments": ""}}  # fmt: skip
                self._pos, self._stage = m.end(), "key"
            elif stage == "key":
                if not (m := _ARGUMENTS_KEY.match(text, self._pos)):
                    break
                self._pos, self._stage = m.end(), "arguments"
                self._depth, self._in_string, self._escaped = 0, False, False
            elif stage == "arguments":
                end, whole = self._scan_value(text)
                if end > self._pos:
                    piece, index = text[self._pos : end], len(self.calls) - 1
                    self.calls[-1].arguments += piece
                    entry = entries.setdefault(index, {"index": index, "function": {"arguments": ""}})
                    entry["function"]["arguments"] += piece
                    self._pos = end
                if not whole:
                    break
                self._stage = "close"
            elif stage == "close":
                if not (m := _CLOSE.match(text, self._pos)):
                    break
                self._pos, self._stage = m.end(), "next" if self._in_list else "done"
            elif stage == "next":
                if not (m := _NEXT.match(text, self._pos)):
                    break
                self._pos, self._stage = m.end(), "head" if m.group(1) == "," else "done"
            else:  # done
                break
        return list(entries.values())

    def _scan_value(self, text: str) -> tuple[int, bool]:
        """(where the read of the arguments' JSON value stops, whether the value is whole there), from self._pos:
        brackets and strings tracked across feeds; a bare number or literal ends before the first character that
        cannot be part of it."""
        for i in range(self._pos, len(text)):
            c = text[i]
            if self._in_string:
                if self._escaped:
                    self._escaped = False
                elif c == "\\":
                    self._escaped = True
                elif c == '"':
                    self._in_string = False
                    if self._depth == 0:
                        return i + 1, True
            elif c == '"':
                self._in_string = True
            elif c in "{[":
                self._depth += 1
            elif c in "}]" and self._depth > 0:
                self._depth -= 1
                if self._depth == 0:
                    return i + 1, True
            elif self._depth == 0 and (c in ",}]" or c.isspace()):
                return i, True  # the end of a bare number or literal
        return len(text), False
