"""OpenAI-compatible endpoints: /v1/completions, /v1/chat/completions, /v1/models (`model` = task id)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from server.api.deps import EngineDep, PrincipalDep, StateDep, require_use
from server.api.errors import ApiError
from server.api.logprobs import chat_logprobs, completion_logprobs
from server.api.protocol import (
    ChatChoice,
    ChatChoiceMessage,
    ChatCompletionRequest,
    ChatCompletionResponse,
    CompletionChoice,
    CompletionRequest,
    CompletionResponse,
    ErrorResponse,
    ModelCard,
    ModelList,
    Usage,
    split_version,
)
from server.api.routes.generate import ERRORS
from server.api.serving import (
    choices_usage,
    complete_choices,
    follow,
    new_request_id,
    sampling_params,
    sse,
    submit_choices,
    system_fingerprint,
)
from server.api.tasks_view import task_cards
from server.api.tools import CallStream, tool_plan
from server.errors import unknown_task_message
from server.request import TokenOutput
from server.tokenizer import TokenTexts
from sketch.prompts import has_chat_template, render_conversation
from sketch.tools import ToolFormatError, settled_content

router = APIRouter(tags=["openai"])


@router.post("/v1/completions", response_model=CompletionResponse, responses=ERRORS,
             summary="OpenAI-compatible text completion (model = task id); several prompts and n samples each")
async def completions(body: CompletionRequest, http_request: Request, state: StateDep, _engine: EngineDep,
                      principal: PrincipalDep):
    task, version = split_version(body.model)
    require_use(principal, task)
    prompts = [body.prompt] if isinstance(body.prompt, str) else list(body.prompt)
    if not prompts or not all(prompts):
        raise ApiError(400, "the prompt is empty", code="empty_prompt")
    if body.max_tokens == 0 and not body.echo:
        raise ApiError(400, "max_tokens 0 needs echo (it scores the prompt, generating nothing)",
                       code="invalid_max_tokens")
    # echo with logprobs scores the prompt too (as lm-eval-harness asks: echo, logprobs, max_tokens 0)
    scoring = body.echo and (body.logprobs is not None or body.max_tokens == 0)
    request_id = new_request_id("cmpl", http_request)
    params = sampling_params(body, state, logprobs=body.logprobs,
                             prompt_logprobs=(body.logprobs or 0) if scoring else None)  # fmt: skip
    handles = submit_choices(state, task, prompts, body.n, params, request_id, principal.tenant, version)
    strings = TokenTexts(state.engine.tokenizer, skip_special_tokens=False)
    if not body.stream:
        done = await complete_choices(state, handles, http_request)

        def choice(k: int, d) -> CompletionChoice:
            logprobs = None
            if body.logprobs is not None:
                prompt = (d.prompt_token_ids, d.prompt_logprobs) if body.echo else None
                logprobs = completion_logprobs(strings, d.logprobs or [], prompt=prompt)
            text = prompts[k // body.n] + d.text if body.echo else d.text
            return CompletionChoice(index=k, text=text, finish_reason=_openai_reason(d.finish_reason),
                                    logprobs=logprobs)

        return CompletionResponse(
            id=request_id, model=body.model, system_fingerprint=system_fingerprint(state, handles),
            choices=[choice(k, d) for k, d in enumerate(done)],
            usage=Usage(**choices_usage([(d.prompt_tokens, d.completion_tokens) for d in done], body.n)),
        )
    text_offsets = [0] * len(handles)
    echoed = [not body.echo] * len(handles)
    fingerprint = system_fingerprint(state, handles)

    def chunk(index: int, text: str, finish_reason: str | None, out: TokenOutput | None) -> dict:
        prompt = None
        if not echoed[index]:  # the choice's first chunk: its prompt first
            echoed[index] = True
            text = prompts[index // body.n] + text
            if out is not None and out.prompt_logprobs is not None:
                prompt = (out.prompt_token_ids, out.prompt_logprobs)
        token_logprobs = (out.logprobs or []) if out is not None else []
        logprobs = None
        if body.logprobs is not None and (token_logprobs or prompt):
            logprobs = completion_logprobs(strings, token_logprobs, text_offsets[index], prompt)
            text_offsets[index] = logprobs.text_offset[-1] + len(logprobs.tokens[-1])
            logprobs = logprobs.model_dump()
        return {"id": request_id, "object": "text_completion", "created": int(time.time()), "model": body.model,
                "system_fingerprint": fingerprint,
                "choices": [{"index": index, "text": text, "logprobs": logprobs, "finish_reason": finish_reason}]}

    include_usage = bool(body.stream_options and body.stream_options.include_usage)
    return await _stream(state, handles, body.n, chunk, include_usage, request_id, body.model, "text_completion")


@router.post("/v1/chat/completions", response_model=ChatCompletionResponse, responses=ERRORS,
             summary="OpenAI-compatible chat completion, through the tokenizer's chat template; n samples")
async def chat_completions(body: ChatCompletionRequest, http_request: Request, state: StateDep, engine: EngineDep,
                           principal: PrincipalDep):
    task, version = split_version(body.model)
    require_use(principal, task)
    plan = tool_plan(body)
    prompt_ids = render_chat(engine.tokenizer, [m.template_message() for m in body.messages], plan.tools)
    if plan.reads_calls:
        state.metrics.constrained.labels(kind=f"tools_{plan.mode}").inc()
    if body.top_logprobs is not None and not body.logprobs:
        raise ApiError(400, "top_logprobs needs logprobs set to true", code="invalid_logprobs")
    request_id = new_request_id("chatcmpl", http_request)
    params = sampling_params(body, state, body.effective_max_tokens(default=state.settings.max_new_tokens),
                             logprobs=(body.top_logprobs or 0) if body.logprobs else None)  # fmt: skip
    if plan.constraint is not None:
        if params.constrained_output:
            raise ApiError(400, f"tool_choice {plan.mode} constrains the answer to calls; it excludes response_format "
                           "and guided decoding", code="conflicting_structured_outputs")  # fmt: skip
        params = replace(params, json_schema=plan.constraint)
    handles = submit_choices(state, task, [prompt_ids], body.n, params, request_id, principal.tenant, version)
    strings = TokenTexts(engine.tokenizer, skip_special_tokens=False)

    def message(text: str, reason: str | None) -> tuple[ChatChoiceMessage, str | None]:
        content, calls = plan.answer(text) if reason == "stop" else (text, None)
        return ChatChoiceMessage(content=content, tool_calls=calls), "tool_calls" if calls else _openai_reason(reason)

    if not body.stream:
        done = await complete_choices(state, handles, http_request)
        choices = []
        for k, d in enumerate(done):
            answer, reason = message(d.text, d.finish_reason)
            choices.append(ChatChoice(index=k, message=answer, finish_reason=reason,
                                      logprobs=None if d.logprobs is None else chat_logprobs(strings, d.logprobs)))
        return ChatCompletionResponse(
            id=request_id, model=body.model, system_fingerprint=system_fingerprint(state, handles),
            usage=Usage(**choices_usage([(d.prompt_tokens, d.completion_tokens) for d in done], body.n)),
            choices=choices,
        )
    sent_role = [False] * len(handles)
    fingerprint = system_fingerprint(state, handles)
    held_text, held_logprobs = [""] * len(handles), [[] for _ in handles]  # reading calls: the answer so far
    sent_chars = [0] * len(handles)  # of held_text, sent as content already

    def event(index: int, delta: dict, finish_reason: str | None, token_logprobs: list) -> dict:
        if not sent_role[index]:
            delta, sent_role[index] = {"role": "assistant", **delta}, True
        logprobs = chat_logprobs(strings, token_logprobs).model_dump() if token_logprobs else None
        return {"id": request_id, "object": "chat.completion.chunk", "created": int(time.time()),
                "model": body.model, "system_fingerprint": fingerprint,
                "choices": [{"index": index, "delta": delta, "logprobs": logprobs, "finish_reason": finish_reason}]}

    # without logprobs (whose tokens would not line up with held text), tool_choice auto streams the content that no
    # call can follow any more (settled_content), and required and named choices stream each call as it is written
    # (CallStream: its id and name, then its arguments' text); otherwise the answer goes out at its end
    progressive = plan.mode == "auto" and not body.logprobs
    call_streams = [CallStream() for _ in handles] if plan.constraint is not None and not body.logprobs else None

    def chunk(index: int, text: str, finish_reason: str | None, out: TokenOutput | None) -> dict | None:
        token_logprobs = out.logprobs if out is not None and out.logprobs else []
        if not plan.reads_calls:
            return event(index, {"content": text} if text or not sent_role[index] else {}, finish_reason,
                         token_logprobs)  # fmt: skip
        held_text[index] += text
        held_logprobs[index] += token_logprobs
        full, sent = held_text[index], sent_chars[index]
        if call_streams is not None and (call_streams[index].calls or finish_reason is None):
            calls = call_streams[index].feed(full)
            if finish_reason is not None:
                finish_reason = "tool_calls" if call_streams[index].complete else _openai_reason(finish_reason)
            elif not calls:
                return None
            return event(index, {"tool_calls": calls} if calls else {}, finish_reason, [])
        # (a constrained answer whose stream announced no call by its end goes out whole below, as unstreamed)
        if finish_reason is None:
            if not progressive or (end := max(sent, settled_content(full))) == sent:
                return None
            sent_chars[index] = end
            return event(index, {"content": full[sent:end]}, None, [])
        answer, finish_reason = message(full, finish_reason)
        if answer.tool_calls:  # the content before the calls that has not gone out yet, then the calls
            unsent = (answer.content or "")[len(full[:sent].lstrip()) :]
            delta = {"content": unsent} if unsent else {}
            delta["tool_calls"] = [{"index": i, **c.model_dump()} for i, c in enumerate(answer.tool_calls)]
        else:
            delta = {"content": full[sent:]} if full[sent:] or not sent_role[index] else {}
        return event(index, delta, finish_reason, held_logprobs[index])

    include_usage = bool(body.stream_options and body.stream_options.include_usage)
    return await _stream(state, handles, body.n, chunk, include_usage, request_id, body.model, "chat.completion.chunk")


@router.get("/v1/models", response_model=ModelList, summary="The tasks served: version, size, resident or not")
async def models(state: StateDep, engine: EngineDep, principal: PrincipalDep) -> ModelList:
    return ModelList(data=[ModelCard(**c) for c in task_cards(state, engine) if principal.may_use(c["id"])])


@router.get("/v1/models/{model}", response_model=ModelCard, summary="One task: version, size, resident or not",
            responses={404: {"model": ErrorResponse, "description": "Unknown task"}})
async def model(state: StateDep, engine: EngineDep, principal: PrincipalDep, model: str) -> ModelCard:
    """OpenAI's retrieve-model (`client.models.retrieve(task)`): the card /v1/models lists for this task."""
    require_use(principal, model)
    cards = task_cards(state, engine, [model])  # (empty for an unknown task)
    if not cards:
        raise ApiError(404, unknown_task_message(model), "not_found_error", "model_not_found")
    return ModelCard(**cards[0])


async def _stream(state, handles: list, n: int, chunk, include_usage: bool, request_id: str, model: str,
                  object_: str) -> StreamingResponse:  # fmt: skip
    """SSE of every choice's outputs, interleaved as they come (each chunk names its choice index), then usage
    (if asked) and [DONE]. Waits for each choice's first output first, so that an early error keeps its status."""
    streams = [follow(state, handle) for handle in handles]
    first_outputs = [asyncio.ensure_future(stream.__anext__()) for stream in streams]
    try:
        firsts = await asyncio.gather(*first_outputs)
    except BaseException:  # one choice failed (e.g. 503 queued too long): stop the others (follow() cancels them)
        for task in first_outputs:
            task.cancel()
        await asyncio.gather(*first_outputs, return_exceptions=True)
        for stream in streams:
            await stream.aclose()
        raise
    outputs: asyncio.Queue = asyncio.Queue()

    async def pump(index: int, stream, out) -> None:
        """Engine outputs of one choice onto the shared queue; an ApiError (timeout) goes on it as well."""
        try:
            while True:
                await outputs.put((index, out))
                if out.finished:
                    return
                out = await stream.__anext__()
        except ApiError as e:
            await outputs.put((index, e))
        finally:
            await stream.aclose()

    async def events():
        pumps = [asyncio.create_task(pump(k, streams[k], firsts[k])) for k in range(len(streams))]
        usage: list[tuple[int, int] | None] = [None] * len(handles)
        try:
            while None in usage:
                index, out = await outputs.get()
                if isinstance(out, ApiError):
                    yield sse({"error": {"message": out.message, "type": out.type, "code": out.code}})
                    yield sse("[DONE]")
                    return
                if out.has_content and (event := chunk(index, out.text, None, out)) is not None:
                    yield sse(event)  # (a chunk function that holds the text back returns None)
                if out.finished:
                    if out.finish_reason == "error":
                        kind = "invalid_request_error" if out.client_error else "server_error"
                        yield sse({"error": {"message": f"generation failed: {out.error}", "type": kind}})
                        yield sse("[DONE]")
                        return
                    yield sse(chunk(index, "", _openai_reason(out.finish_reason), None))
                    usage[index] = (out.usage.prompt_tokens, out.usage.completion_tokens)
            if include_usage:
                yield sse({"id": request_id, "object": object_, "created": int(time.time()), "model": model,
                           "choices": [], "usage": choices_usage(usage, n)})
            yield sse("[DONE]")
        finally:  # done, failed, or the client went away: stop every choice still running
            for task in pumps:
                task.cancel()
            await asyncio.gather(*pumps, return_exceptions=True)

    return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


def render_chat(tokenizer, messages: list[dict], tools: list[dict] | None = None) -> list[int]:
    """Token ids of the conversation plus the assistant's turn opening: sketch.prompts.render_conversation's text
    (the chat template, or for a tokenizer without one the plain transcript a task fine-tuned on conversations was
    trained with). A template that refuses the messages (e.g. roles that do not alternate) answers 400."""
    if tokenizer is None:
        raise ApiError(400, "this model has no tokenizer, so no chat template", code="no_chat_template")
    try:
        text = render_conversation(tokenizer, messages, tools)
    except ToolFormatError as e:
        raise ApiError(400, str(e), code="invalid_tool_call") from None
    except Exception as e:  # noqa: BLE001 - a template's own checks raise jinja2's TemplateError or anything
        raise ApiError(400, f"the chat template refused the messages: {e}", code="chat_template_error") from None
    if has_chat_template(tokenizer):
        return list(tokenizer.encode(text, add_special_tokens=False))  # the template wrote its special tokens
    return list(tokenizer.encode(text))


def _openai_reason(reason: str | None) -> str | None:
    return reason if reason in ("stop", "length", "tool_calls") else "stop"
