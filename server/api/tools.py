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
import uuid
from dataclasses import dataclass

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
        """(content, tool_calls) of a finished answer's text."""
        parsed = parse_calls(text, self.names) if self.reads_calls else None
        if parsed is None:
            return text, None
        content, calls = parsed
        calls = calls if self.parallel else calls[:1]
        return content or None, [ToolCall(id=f"call_{uuid.uuid4().hex[:24]}", function=FunctionCall(
            name=c["name"], arguments=json.dumps(c["arguments"], ensure_ascii=False))) for c in calls]


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
