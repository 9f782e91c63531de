"""POST /v1/tokenize and /v1/detokenize: the server's tokenizer, for clients that count or build token ids.

Same tokenization as generation: a prompt as /v1/generate and /v1/completions encode it, messages through the chat
template as /v1/chat/completions renders them (with the assistant turn's opening).
"""

from __future__ import annotations

from fastapi import APIRouter

from server.api.deps import EngineDep, PrincipalDep
from server.api.errors import ApiError
from server.api.protocol import DetokenizeRequest, DetokenizeResponse, TokenizeRequest, TokenizeResponse
from server.api.routes.generate import ERRORS
from server.api.routes.openai import render_chat

router = APIRouter(tags=["tokens"])


@router.post("/v1/tokenize", response_model=TokenizeResponse, responses=ERRORS,
             summary="Token ids of a prompt, or of chat messages through the chat template")
async def tokenize(body: TokenizeRequest, engine: EngineDep, _principal: PrincipalDep) -> TokenizeResponse:
    if (body.prompt is None) == (body.messages is None):
        raise ApiError(400, "give exactly one of prompt and messages", code="invalid_tokenize_request")
    if body.messages is not None:
        tools = [t.model_dump(exclude_none=True) for t in body.tools] if body.tools else None
        ids = render_chat(engine.tokenizer, [m.template_message() for m in body.messages], tools)
    else:
        if engine.tokenizer is None:
            raise ApiError(400, "this model has no tokenizer", code="no_tokenizer")
        ids = list(engine.tokenizer.encode(body.prompt))
    return TokenizeResponse(tokens=ids, count=len(ids), max_model_len=engine.max_model_len)


@router.post("/v1/detokenize", response_model=DetokenizeResponse, responses=ERRORS,
             summary="The text of token ids")
async def detokenize(body: DetokenizeRequest, engine: EngineDep, _principal: PrincipalDep) -> DetokenizeResponse:
    vocab = engine.model_config.vocab_size
    if any(not 0 <= t < vocab for t in body.tokens):
        raise ApiError(400, f"token ids must be in [0, {vocab})", code="invalid_token_id")
    if engine.tokenizer is None:
        raise ApiError(400, "this model has no tokenizer", code="no_tokenizer")
    return DetokenizeResponse(prompt=engine.tokenizer.decode(body.tokens, skip_special_tokens=False))
