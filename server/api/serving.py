"""The logic behind the generation routes: submit to the engine, follow the request, enforce its limits.

    route -> submit() -> engine.add_request        errors map to 4xx (server/api/errors.py)
          -> follow()  async iterator of TokenOutput:
               no output within queue_timeout_s        -> cancel, 503
               not finished within request_timeout_s   -> cancel, 504
               client gone (polled, non-streaming)     -> cancel
               caller stops iterating (stream closed)  -> cancel
             the last output is observed into the metrics (a task id reaches a label only once the engine
             accepted it, so unknown tasks never become labels)
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace

from fastapi import Request

from server.api.errors import ApiError
from server.api.protocol import SamplingFields
from server.api.state import ServerState, log
from server.json_schema import SchemaError, compile_schema
from server.regex_nfa import RegexError, compile_regex
from server.request import RequestHandle, TokenOutput
from server.sampling import SamplingParams, TokenLogprob

DISCONNECT_POLL_S = 0.5


@dataclass
class Completion:
    """A whole (non-streamed) generation."""

    request_id: str
    task: str
    text: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    logprobs: list[TokenLogprob] | None = None  # one per generated token, where the request asked for them
    prompt_token_ids: list[int] | None = None  # with prompt_logprobs
    prompt_logprobs: list[TokenLogprob | None] | None = None

    @property
    def usage(self) -> dict[str, int]:
        return usage_dict(self.prompt_tokens, self.completion_tokens)


def usage_dict(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens}


def new_request_id(prefix: str, http_request: Request) -> str:
    rid = getattr(http_request.state, "request_id", None) or uuid.uuid4().hex
    return f"{prefix}-{rid}"


def sampling_params(
    body: SamplingFields,
    state: ServerState,
    max_tokens: int | None = None,
    logprobs: int | None = None,
    prompt_logprobs: int | None = None,
) -> SamplingParams:
    """The engine's parameters of a request body; max_tokens and (prompt) logprobs where the endpoint names them
    its way."""
    stops = body.stop_list()
    limit = state.settings.max_stop_strings
    if len(stops) > limit:
        raise ApiError(400, f"at most {limit} stop strings are accepted, got {len(stops)}", code="too_many_stops")
    if any(not s or len(s) > 256 for s in stops):
        raise ApiError(400, "stop strings must be 1 to 256 characters long", code="invalid_stop")
    try:
        logit_bias = {int(token): value for token, value in (body.logit_bias or {}).items()}
    except ValueError:
        raise ApiError(400, "logit_bias keys must be token ids", code="invalid_logit_bias") from None
    constraint = _output_constraint(body)
    if constraint:
        state.metrics.constrained.labels(kind=next(iter(constraint))).inc()
    if max_tokens is None:  # a default never exceeds the server's limit; an explicit value is checked against it
        explicit = "max_tokens" in body.model_fields_set
        max_tokens = body.max_tokens if explicit else min(body.max_tokens, state.settings.max_new_tokens)
    return SamplingParams(
        max_tokens=max_tokens,
        temperature=body.temperature,
        top_p=body.top_p,
        top_k=body.top_k,
        min_p=body.min_p,
        min_tokens=body.min_tokens,
        seed=body.seed,
        stop=stops,
        stop_token_ids=list(body.stop_token_ids or []),  # the engine checks them against the vocabulary
        ignore_eos=body.ignore_eos,
        logit_bias=logit_bias,
        **constraint,
        repetition_penalty=body.repetition_penalty,
        presence_penalty=body.presence_penalty,
        frequency_penalty=body.frequency_penalty,
        logprobs=logprobs,
        prompt_logprobs=prompt_logprobs,
    )


def _output_constraint(body: SamplingFields) -> dict:
    """SamplingParams' constraint fields from OpenAI's response_format or vLLM's guided_json / guided_choice /
    guided_regex / structured_outputs: at most one of them; a schema or pattern that cannot be enforced answers 400
    here, naming it."""
    asked: list[tuple[str, dict]] = []
    fmt = body.response_format
    if fmt is not None and fmt.type == "json_object":
        asked.append(("response_format", {"json_object": True}))
    elif fmt is not None and fmt.type == "json_schema":
        if fmt.json_schema is None:
            raise ApiError(400, "response_format json_schema needs its json_schema: {name, schema}",
                           code="invalid_json_schema")  # fmt: skip
        asked.append(("response_format", {"json_schema": fmt.json_schema.schema_}))
    for name, key, value in (("guided_json", "json_schema", body.guided_json),
                             ("guided_choice", "guided_choice", body.guided_choice),
                             ("guided_regex", "guided_regex", body.guided_regex)):  # fmt: skip
        if value is not None:
            asked.append((name, {key: value}))
    if (so := body.structured_outputs) is not None:
        if so.grammar is not None:
            raise ApiError(400, "structured_outputs.grammar is not supported; json, choice, regex and json_object "
                           "are", code="unsupported_structured_output")  # fmt: skip
        for name, key, value in (("json", "json_schema", so.json_), ("choice", "guided_choice", so.choice),
                                 ("regex", "guided_regex", so.regex),
                                 ("json_object", "json_object", so.json_object or None)):  # fmt: skip
            if value is not None:
                asked.append((f"structured_outputs.{name}", {key: value}))
    if len(asked) > 1:
        raise ApiError(400, f"{' and '.join(n for n, _ in asked)} exclude each other; ask for one constraint",
                       code="conflicting_structured_outputs")  # fmt: skip
    if not asked:
        return {}
    name, fields = asked[0]
    try:
        if "json_schema" in fields:  # compiled once, here: SamplingParams and the engine take the nodes as they are
            fields["json_schema"] = compile_schema(fields["json_schema"])
        if "guided_regex" in fields:
            compile_regex(fields["guided_regex"])  # (cached per pattern: the engine's is the same NFA)
    except (SchemaError, RegexError) as e:
        code = "invalid_json_schema" if "json_schema" in fields else "invalid_regex"
        raise ApiError(400, f"{name}: {e}", code=code) from None
    return fields


def submit(
    state: ServerState, task: str, prompt: str | list[int], params: SamplingParams, request_id: str,
    tenant: str | None = None, version: int | None = None,
) -> RequestHandle:
    """Queue the request on the engine; its exceptions become 4xx through the error table. tenant: the caller's
    (Principal.tenant), whose waiting requests share one admission bound; version: a kept LUT version of the task
    (None: the latest)."""
    return state.engine.add_request(task, prompt, params, request_id=request_id, tenant=tenant, version=version)


def system_fingerprint(state: ServerState, handles: list[RequestHandle]) -> str:
    """OpenAI's system_fingerprint of a response: what served it, the base's code fingerprint and the task LUT version
    (0 for the base), "fp_<12 hex>_v<version>". It changes when the task's LUT is replaced, as OpenAI's does when
    its backend does; a request's choices all resolve the same version unless an upload lands between them."""
    return f"fp_{state.engine.pool.spec.fingerprint[:12]}_v{handles[0].version}"


def submit_choices(
    state: ServerState, task: str, prompts: list[str | list[int]], n: int, params: SamplingParams, request_id: str,
    tenant: str | None = None, version: int | None = None,
) -> list[RequestHandle]:
    """One engine request per choice: choice i * n + j is prompt i's j-th sample (OpenAI's order). A seeded
    request's choice j draws with seed + j, so its choices differ and each is reproducible. All or none: if one
    is refused (queue full, unknown task, ...), those already queued are cancelled and the error propagates."""
    count = len(prompts) * n
    if count > state.settings.max_choices:
        raise ApiError(400, f"at most {state.settings.max_choices} completions per request (prompts x n), asked "
                            f"{count}", code="too_many_choices")  # fmt: skip
    if count == 1:
        return [submit(state, task, prompts[0], params, request_id, tenant, version)]
    handles = []
    try:
        for k in range(count):
            seed = None if params.seed is None else (params.seed + k % n) % 2**63
            handles.append(submit(state, task, prompts[k // n], replace(params, seed=seed), f"{request_id}-{k}",
                                  tenant, version))  # fmt: skip
    except BaseException:
        for handle in handles:
            handle.cancel()
        raise
    return handles


async def complete_choices(state: ServerState, handles: list, http_request: Request) -> list[Completion]:
    """complete() of every choice at once; if one fails, the others are cancelled and its error propagates."""
    tasks = [asyncio.create_task(complete(state, handle, http_request)) for handle in handles]
    try:
        return list(await asyncio.gather(*tasks))
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def choices_usage(per_choice: list[tuple[int, int]], n: int) -> dict[str, int]:
    """Usage of a request from its choices' (prompt, completion) tokens: each prompt counted once, as OpenAI does."""
    return usage_dict(sum(p for p, _ in per_choice[::n]), sum(c for _, c in per_choice))


async def follow(state: ServerState, handle, http_request: Request | None = None) -> AsyncIterator[TokenOutput]:
    """Yield the request's outputs; cancel it on timeout, disconnect, or when the caller stops early."""
    settings = state.settings
    start = time.monotonic()
    deadline = start + settings.request_timeout_s
    first_deadline = start + settings.queue_timeout_s
    outputs = handle.__aiter__()
    seen_first = False
    finished = False
    try:
        while True:
            now = time.monotonic()
            limit = deadline if seen_first else min(first_deadline, deadline)
            if now >= limit:
                _observe_timeout(state, handle, start)
                if seen_first:
                    raise ApiError(504, f"the request ran longer than {settings.request_timeout_s:g} s",
                                   "timeout_error", "request_timeout")
                raise ApiError(503, f"the request waited longer than {settings.queue_timeout_s:g} s to start",
                               "service_unavailable", "queue_timeout", {"Retry-After": "1"})
            wait = min(limit - now, DISCONNECT_POLL_S if http_request is not None else limit - now)
            try:
                out = await asyncio.wait_for(outputs.__anext__(), timeout=wait)
            except asyncio.TimeoutError:
                if http_request is not None and await http_request.is_disconnected():
                    log.info("client of %s disconnected: cancelling", handle.request_id)
                    return
                continue
            seen_first = True
            if out.finished:
                finished = True
                _observe(state, out, start)
            yield out
            if finished:
                return
    finally:
        if not finished:
            handle.cancel()


async def complete(state: ServerState, handle, http_request: Request) -> Completion:
    """Collect a whole generation. An engine-side error becomes a 503 with its message (a 400 where the request
    could not be served: an unsatisfiable constraint)."""
    text, logprobs, prompt, last = [], [], (None, None), None
    async for out in follow(state, handle, http_request):
        text.append(out.text)
        logprobs += out.logprobs or []
        if out.prompt_logprobs is not None:
            prompt = (out.prompt_token_ids, out.prompt_logprobs)
        last = out
    if last is None or not last.finished:
        raise ApiError(499, "client closed the request", code="client_closed")
    if last.finish_reason == "error" and last.client_error:
        raise ApiError(400, f"generation failed: {last.error}", code="unsatisfiable_constraint")
    if last.finish_reason == "error":
        raise ApiError(503, f"generation failed: {last.error}", "service_unavailable", "generation_failed")
    return Completion(handle.request_id, handle.task, "".join(text), last.finish_reason,
                      last.usage.prompt_tokens, last.usage.completion_tokens, logprobs if logprobs else None, *prompt)


def sse(data: dict | str) -> str:
    """One server-sent event."""
    payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    return f"data: {payload}\n\n"


def _observe(state: ServerState, out: TokenOutput, start: float) -> None:
    state.metrics.observe_request(
        out.task, out.finish_reason or "error", time.monotonic() - start, out.ttft_s, out.queue_wait_s,
        out.usage.prompt_tokens, out.usage.completion_tokens,
    )


def _observe_timeout(state: ServerState, handle, start: float) -> None:
    state.metrics.observe_request(handle.task, "timeout", time.monotonic() - start, None, None, 0, 0)
