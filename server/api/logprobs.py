"""The engine's TokenLogprob (server/sampling.py) in each API's shape.

    /v1/generate           [{token_id, token, logprob, top_logprobs: [{token_id, token, logprob}]}]
    /v1/completions        {tokens, token_logprobs, top_logprobs: [{token: logprob}], text_offset}   (OpenAI legacy)
    /v1/chat/completions   {content: [{token, logprob, bytes, top_logprobs: [{token, logprob, bytes}]}]}

A token's string is the tokenizer's decoding of that one id (server/tokenizer.TokenTexts, special tokens by
name; one per response), so a byte-level token that
holds part of a UTF-8 character reads U+FFFD, and its `bytes` are those of that string. Log-probabilities are
floored at -9999.0, as OpenAI's are, so that JSON never sees -inf (nor NaN, from logits that overflowed).
"""

from __future__ import annotations

from server.api.protocol import (
    ChatLogprobs,
    ChatTokenLogprob,
    ChatTopLogprob,
    CompletionLogprobs,
    GeneratedTokenLogprob,
    TokenAlternative,
)
from server.sampling import TokenLogprob
from server.tokenizer import TokenTexts

LOGPROB_FLOOR = -9999.0


def _floor(logprob: float) -> float:
    return logprob if logprob >= LOGPROB_FLOOR else LOGPROB_FLOOR  # NaN compares false: floored too


def generate_logprobs(
    strings: TokenTexts, logprobs: list[TokenLogprob | None]
) -> list[GeneratedTokenLogprob | None]:
    """None stays None (a prompt's first token)."""
    return [
        None if lp is None else GeneratedTokenLogprob(
            token_id=lp.token_id, token=strings(lp.token_id), logprob=_floor(lp.logprob),
            top_logprobs=[TokenAlternative(token_id=t, token=strings(t), logprob=_floor(v)) for t, v in lp.top],
        )
        for lp in logprobs
    ]  # fmt: skip


def completion_logprobs(
    strings: TokenTexts,
    logprobs: list[TokenLogprob],
    text_offset: int = 0,
    prompt: tuple[list[int], list[TokenLogprob | None]] | None = None,
) -> CompletionLogprobs:
    """text_offset: where the first token's string starts in the choice's text (streamed chunks go on from the
    previous chunk's end). prompt: an echoed prompt's (token ids, prompt logprobs), listed first (its first token
    scored None). Two alternatives that decode to the same string keep the more likely one."""
    entries = list(zip(*prompt, strict=True)) if prompt is not None else []
    entries += [(lp.token_id, lp) for lp in logprobs]
    tokens = [strings(t) for t, _ in entries]
    offsets = []
    for token in tokens:
        offsets.append(text_offset)
        text_offset += len(token)
    top: list[dict[str, float] | None] = []
    for _, lp in entries:
        alternatives = None
        if lp is not None:
            alternatives = {}
            for t, v in lp.top:  # most likely first
                alternatives.setdefault(strings(t), _floor(v))
        top.append(alternatives)
    return CompletionLogprobs(tokens=tokens, token_logprobs=[None if lp is None else _floor(lp.logprob)
                                                             for _, lp in entries],
                              top_logprobs=top, text_offset=offsets)  # fmt: skip


def chat_logprobs(strings: TokenTexts, logprobs: list[TokenLogprob]) -> ChatLogprobs:
    def top(t: int, v: float) -> ChatTopLogprob:
        token = strings(t)
        return ChatTopLogprob(token=token, logprob=_floor(v), bytes=list(token.encode("utf-8")))

    return ChatLogprobs(content=[
        ChatTokenLogprob(**top(lp.token_id, lp.logprob).model_dump(), top_logprobs=[top(t, v) for t, v in lp.top])
        for lp in logprobs
    ])  # fmt: skip
