"""OpenAI-compatible endpoints: /v1/completions, /v1/chat/completions, /v1/models (`model` = task id)."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from server.api.deps import EngineDep, PrincipalDep, StateDep, require_use
from server.api.errors import ApiError
from server.api.logprobs import TokenStrings, chat_logprobs, completion_logprobs
from server.api.protocol import (
    ChatChoice,
    ChatChoiceMessage,
    ChatCompletionRequest,
    ChatCompletionResponse,
    CompletionChoice,
    CompletionRequest,
    CompletionResponse,
    ModelCard,
    ModelList,
    Usage,
)
from server.api.routes.generate import ERRORS
from server.api.serving import complete, follow, new_request_id, sampling_params, sse, submit, usage_dict
from server.api.tasks_view import task_cards
from server.sampling import TokenLogprob

router = APIRouter(tags=["openai"])


@router.post("/v1/completions", response_model=CompletionResponse, responses=ERRORS,
             summary="OpenAI-compatible text completion (model = task id)")
async def completions(body: CompletionRequest, http_request: Request, state: StateDep, _engine: EngineDep,
                      principal: PrincipalDep):
    require_use(principal, body.model)
    prompt = body.prompt
    if isinstance(prompt, list):
        if len(prompt) != 1:
            raise ApiError(400, "exactly one prompt per request is supported", code="multiple_prompts")
        prompt = prompt[0]
    if not prompt:
        raise ApiError(400, "the prompt is empty", code="empty_prompt")
    request_id = new_request_id("cmpl", http_request)
    handle = submit(state, body.model, prompt, sampling_params(body, state, logprobs=body.logprobs), request_id)
    strings = TokenStrings(state.engine.tokenizer)
    if not body.stream:
        done = await complete(state, handle, http_request)
        logprobs = None if done.logprobs is None else completion_logprobs(strings, done.logprobs)
        return CompletionResponse(
            id=request_id, model=body.model, usage=Usage(**done.usage),
            choices=[CompletionChoice(text=done.text, finish_reason=_openai_reason(done.finish_reason),
                                      logprobs=logprobs)],
        )
    text_offset = 0

    def chunk(text: str, finish_reason: str | None, token_logprobs: list[TokenLogprob] | None = None) -> dict:
        nonlocal text_offset
        logprobs = None
        if token_logprobs:
            logprobs = completion_logprobs(strings, token_logprobs, text_offset)
            text_offset = logprobs.text_offset[-1] + len(logprobs.tokens[-1])
            logprobs = logprobs.model_dump()
        return {"id": request_id, "object": "text_completion", "created": int(time.time()), "model": body.model,
                "choices": [{"index": 0, "text": text, "logprobs": logprobs, "finish_reason": finish_reason}]}

    include_usage = bool(body.stream_options and body.stream_options.include_usage)
    return await _stream(state, handle, chunk, include_usage, body.model, "text_completion")


@router.post("/v1/chat/completions", response_model=ChatCompletionResponse, responses=ERRORS,
             summary="OpenAI-compatible chat completion, through the tokenizer's chat template")
async def chat_completions(body: ChatCompletionRequest, http_request: Request, state: StateDep, engine: EngineDep,
                           principal: PrincipalDep):
    require_use(principal, body.model)
    prompt_ids = render_chat(engine.tokenizer, [m.model_dump() for m in body.messages])
    if body.top_logprobs is not None and not body.logprobs:
        raise ApiError(400, "top_logprobs needs logprobs set to true", code="invalid_logprobs")
    request_id = new_request_id("chatcmpl", http_request)
    params = sampling_params(body, state, body.effective_max_tokens(default=state.settings.max_new_tokens),
                             logprobs=(body.top_logprobs or 0) if body.logprobs else None)  # fmt: skip
    handle = submit(state, body.model, prompt_ids, params, request_id)
    strings = TokenStrings(engine.tokenizer)
    if not body.stream:
        done = await complete(state, handle, http_request)
        return ChatCompletionResponse(
            id=request_id, model=body.model, usage=Usage(**done.usage),
            choices=[ChatChoice(message=ChatChoiceMessage(content=done.text),
                                finish_reason=_openai_reason(done.finish_reason),
                                logprobs=None if done.logprobs is None else chat_logprobs(strings, done.logprobs))],
        )
    sent_role = False

    def chunk(text: str, finish_reason: str | None, token_logprobs: list[TokenLogprob] | None = None) -> dict:
        nonlocal sent_role
        delta = {"content": text} if text else {}
        if not sent_role:
            delta, sent_role = {"role": "assistant", "content": text}, True
        logprobs = chat_logprobs(strings, token_logprobs).model_dump() if token_logprobs else None
        return {"id": request_id, "object": "chat.completion.chunk", "created": int(time.time()),
                "model": body.model,
                "choices": [{"index": 0, "delta": delta, "logprobs": logprobs, "finish_reason": finish_reason}]}

    include_usage = bool(body.stream_options and body.stream_options.include_usage)
    return await _stream(state, handle, chunk, include_usage, body.model, "chat.completion.chunk")


@router.get("/v1/models", response_model=ModelList, summary="The tasks served: version, size, resident or not")
async def models(state: StateDep, engine: EngineDep, principal: PrincipalDep) -> ModelList:
    return ModelList(data=[ModelCard(**c) for c in task_cards(state, engine) if principal.may_use(c["id"])])


async def _stream(state, handle, chunk, include_usage: bool, model: str, object_: str) -> StreamingResponse:
    outputs = follow(state, handle)
    first = await outputs.__anext__()

    async def events():
        out = first
        try:
            while True:
                if out.finished:
                    if out.text or out.logprobs:
                        yield sse(chunk(out.text, None, out.logprobs))
                    if out.finish_reason == "error":
                        yield sse({"error": {"message": f"generation failed: {out.error}", "type": "server_error"}})
                    else:
                        yield sse(chunk("", _openai_reason(out.finish_reason)))
                    if include_usage:
                        yield sse({"id": handle.request_id, "object": object_, "created": int(time.time()),
                                   "model": model, "choices": [],
                                   "usage": usage_dict(out.usage.prompt_tokens, out.usage.completion_tokens)})
                    yield sse("[DONE]")
                    return
                if out.text or out.logprobs:
                    yield sse(chunk(out.text, None, out.logprobs))
                out = await outputs.__anext__()
        except ApiError as e:
            yield sse({"error": {"message": e.message, "type": e.type, "code": e.code}})
            yield sse("[DONE]")
        finally:
            await outputs.aclose()

    return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


def render_chat(tokenizer, messages: list[dict]) -> list[int]:
    """Token ids of the conversation plus the assistant's turn opening, via the tokenizer's chat template."""
    if tokenizer is None:
        raise ApiError(400, "this model has no tokenizer, so no chat template", code="no_chat_template")
    if getattr(tokenizer, "chat_template", None):
        text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        return list(tokenizer.encode(text, add_special_tokens=False))
    # A tokenizer without a template (the tiny test models): a plain, documented transcript format.
    text = "".join(f"{m['role']}: {m['content']}\n" for m in messages) + "assistant:"
    return list(tokenizer.encode(text))


def _openai_reason(reason: str | None) -> str | None:
    return reason if reason in ("stop", "length") else "stop"
