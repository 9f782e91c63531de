"""POST /v1/generate: generate with a task id; JSON, or server-sent events with `stream: true`."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from server.api.deps import EngineDep, PrincipalDep, StateDep, require_use
from server.api.errors import ApiError
from server.api.logprobs import generate_logprobs
from server.api.protocol import ErrorResponse, GenerateRequest, GenerateResponse, split_version
from server.api.serving import complete, follow, new_request_id, sampling_params, sse, submit, usage_dict
from server.tokenizer import TokenTexts

router = APIRouter(tags=["generate"])

ERRORS = {
    400: {"model": ErrorResponse, "description": "Bad parameters or prompt too long"},
    401: {"model": ErrorResponse, "description": "Missing or unknown API key"},
    404: {"model": ErrorResponse, "description": "Unknown task"},
    422: {"model": ErrorResponse, "description": "Malformed body"},
    429: {"model": ErrorResponse, "description": "Admission queue full (see Retry-After)"},
    503: {"model": ErrorResponse, "description": "Loading, queued too long, or generation failed"},
    504: {"model": ErrorResponse, "description": "Ran past the request time limit"},
}


@router.post(
    "/v1/generate",
    response_model=GenerateResponse,
    responses={**ERRORS, 200: {"description": "The generation; with stream=true, `text/event-stream` of "
                                              "GenerateStreamEvent, the last with finish_reason and usage"}},
    summary="Generate text with a task's LUT",
)
async def generate(body: GenerateRequest, http_request: Request, state: StateDep, _engine: EngineDep,
                   principal: PrincipalDep):
    task, version = split_version(body.task)
    require_use(principal, task)
    request_id = new_request_id("gen", http_request)
    params = sampling_params(body, state, logprobs=body.logprobs, prompt_logprobs=body.prompt_logprobs)
    handle = submit(state, task, body.prompt, params, request_id, principal.tenant, version)
    strings = TokenTexts(state.engine.tokenizer, skip_special_tokens=False)
    if not body.stream:
        done = await complete(state, handle, http_request)
        return GenerateResponse(
            id=done.request_id, task=done.task, version=handle.version, text=done.text,
            finish_reason=done.finish_reason, usage=done.usage,
            logprobs=None if done.logprobs is None else generate_logprobs(strings, done.logprobs),
            prompt_logprobs=None if done.prompt_logprobs is None else generate_logprobs(strings, done.prompt_logprobs),
        )
    outputs = follow(state, handle)
    first = await outputs.__anext__()  # errors before the first token still get a proper status

    async def events():
        out = first
        try:
            while True:
                event = {"id": request_id, "task": body.task, "version": handle.version, "text": out.text}
                if out.logprobs:
                    event["logprobs"] = [lp.model_dump() for lp in generate_logprobs(strings, out.logprobs)]
                if out.prompt_logprobs is not None:
                    event["prompt_logprobs"] = [None if lp is None else lp.model_dump()
                                                for lp in generate_logprobs(strings, out.prompt_logprobs)]  # fmt: skip
                if out.finished:
                    event |= {"finish_reason": out.finish_reason, "usage": usage_dict(
                        out.usage.prompt_tokens, out.usage.completion_tokens)}
                    if out.error:
                        event["error"] = out.error
                    yield sse(event)
                    return
                if out.has_content:
                    yield sse(event)
                out = await outputs.__anext__()
        except ApiError as e:
            yield sse({"id": request_id, "task": body.task, "error": {"message": e.message, "code": e.code}})
        finally:
            await outputs.aclose()

    return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
