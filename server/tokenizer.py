"""Incremental detokenization for streaming, stop strings, and a byte tokenizer for tiny test models.

Streaming text one token at a time is not `decode([token])`: SentencePiece and byte-level BPE tokens carry leading
spaces and split UTF-8 characters. As vLLM does, each step decodes a short window of ids twice, with and without
the new tokens, and emits the difference once it no longer ends in an incomplete character (U+FFFD).
Stop strings are searched in the generated text; text that could still become a stop string is held back, so a
stop string never reaches the client, not even in part.
"""

from __future__ import annotations

from typing import Protocol

PROMPT_CONTEXT_TOKENS = 6  # prompt tokens decoded before the first generated one (gets its leading space right)
PARTIAL = "\ufffd"  # what a decode of part of a UTF-8 character reads (a byte-level token of one split over several)


class Tokenizer(Protocol):
    """The two methods the engine uses (a Hugging Face tokenizer has both)."""

    def encode(self, text: str) -> list[int]: ...

    def decode(self, ids: list[int], skip_special_tokens: bool = ...) -> str: ...


class ByteTokenizer:
    """Token id = one UTF-8 byte (vocab 256): text for the tiny random models of tests and --tiny benchmarks."""

    vocab_size = 256
    eos_token_id = None

    def encode(self, text: str) -> list[int]:
        return list(text.encode("utf-8"))

    def decode(self, ids: list[int], skip_special_tokens: bool = True) -> str:
        return bytes(ids).decode("utf-8", errors="replace")


class TokenTexts:
    """token id -> the text of that one id, decoded once per id (a byte-level token holding part of a UTF-8
    character reads U+FFFD). skip_special_tokens: special tokens read '' (JSON mode never allows them) or their
    names (logprobs show them). Without a tokenizer every id reads ''."""

    def __init__(self, tokenizer: Tokenizer | None, skip_special_tokens: bool) -> None:
        self.tokenizer, self.skip_special_tokens, self.cache = tokenizer, skip_special_tokens, {}
        self._single: frozenset[str] | None = None

    def __call__(self, token_id: int) -> str:
        text = self.cache.get(token_id)
        if text is None:
            text = self.cache[token_id] = (
                self.tokenizer.decode([token_id], skip_special_tokens=self.skip_special_tokens)
                if self.tokenizer is not None else ""
            )  # fmt: skip
        return text

    def single_characters(self, vocab_size: int) -> frozenset[str]:
        """The characters some one token id of [0, vocab_size) reads as exactly (every id decoded, once)."""
        if self._single is None:
            if self.tokenizer is not None and hasattr(self.tokenizer, "__len__"):
                vocab_size = min(vocab_size, len(self.tokenizer))  # the model's padding rows have no text
            missing = [i for i in range(vocab_size) if i not in self.cache]
            if missing and self.tokenizer is not None and hasattr(self.tokenizer, "batch_decode"):  # one call
                texts = self.tokenizer.batch_decode([[i] for i in missing],
                                                    skip_special_tokens=self.skip_special_tokens)
                self.cache.update(zip(missing, texts, strict=True))
            self._single = frozenset(t for t in map(self, range(vocab_size)) if len(t) == 1)
        return self._single


class IncrementalDetokenizer:
    """The text of one request's generated tokens, in deltas safe to stream."""

    def __init__(self, tokenizer: Tokenizer, prompt_ids: list[int], stop: list[str]) -> None:
        self.tokenizer = tokenizer
        self.stop = stop
        self.ids = list(prompt_ids[-PROMPT_CONTEXT_TOKENS:])
        self.prefix_offset, self.read_offset = 0, len(self.ids)
        self.text = ""  # generated text so far (cut before a stop string once one is found)
        self.emitted = 0  # characters of text already returned by delta()
        self._searched = 0  # text before this index holds no stop string
        self._stopped = False

    def add(self, token_id: int) -> None:
        self.ids.append(token_id)
        self._read(final=False)

    def _read(self, final: bool) -> None:
        """Move the decodable new text into self.text; `final` also takes an incomplete character (as U+FFFD)."""
        prefix = self.tokenizer.decode(self.ids[self.prefix_offset : self.read_offset], skip_special_tokens=True)
        full = self.tokenizer.decode(self.ids[self.prefix_offset :], skip_special_tokens=True)
        if len(full) > len(prefix) and (final or not full.endswith(PARTIAL)):
            self.text += full[len(prefix) :]
            self.prefix_offset, self.read_offset = self.read_offset, len(self.ids)

    def find_stop(self, active: bool = True) -> bool:
        """Whether the text now holds a stop string; if so the text is cut just before it. active=False (before
        min_tokens): only move past the text so far, so that a later search finds no stop string wholly inside it."""
        if not self.stop:
            return False
        if not active:
            self._searched = len(self.text)
            return False
        longest = max(map(len, self.stop))
        start = max(0, self._searched - longest + 1)
        hits = [i for i in (self.text.find(s, start) for s in self.stop) if i >= 0]
        self._searched = len(self.text)
        if not hits:
            return False
        self.text = self.text[: min(hits)]
        self._stopped = True
        return True

    def delta(self, finished: bool) -> str:
        """New text to stream; while running, a tail that could begin a stop string is held back.

        On the last call (finished) pending bytes of an incomplete character are flushed, unless a stop string
        already ended the text."""
        if finished and not self._stopped:
            self._read(final=True)
            self.find_stop()
        end = len(self.text) if finished else len(self.text) - self._held_back()
        out = self.text[self.emitted : max(end, self.emitted)]
        self.emitted += len(out)
        return out

    def _held_back(self) -> int:
        for n in range(min(len(self.text), max(map(len, self.stop), default=1) - 1), 0, -1):
            if any(s.startswith(self.text[-n:]) for s in self.stop):
                return n
        return 0
