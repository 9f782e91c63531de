"""A request inside the engine, what it streams back (TokenOutput), and the caller's handle on it.

    caller thread                    engine thread
    handle = engine.add_request() -> Request in the scheduler's queues
    for out in handle / async for  <- TokenOutput pushed per step (queue.Queue, or the caller's asyncio loop
                                      via call_soon_threadsafe once the handle is iterated with `async for`)
    handle.cancel()                -> noted; the engine frees KV blocks and the LUT pin at its next step
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

import torch

from adapters.pool import TaskKey
from server.json_mode import JsonConstraint
from server.sampling import SamplingParams, TokenLogprob
from server.tokenizer import IncrementalDetokenizer

FINISH_REASONS = ("stop", "length", "cancelled", "error")


class Status(Enum):
    WAITING = "waiting"
    RUNNING = "running"
    FINISHED = "finished"


@dataclass
class Usage:
    prompt_tokens: int
    completion_tokens: int

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass
class TokenOutput:
    """What one step produced for one request. The last one has finished=True and a finish_reason."""

    request_id: str
    task: str
    token_ids: list[int]  # token ids new since the previous output (a stop token id is reported here)
    text: str  # text new since the previous output ('' without a tokenizer; stop strings never appear)
    finished: bool = False
    finish_reason: str | None = None  # one of FINISH_REASONS once finished
    error: str | None = None  # why, when finish_reason == 'error'
    client_error: bool = False  # with 'error': the request itself could not be served (an unsatisfiable constraint)
    usage: Usage = field(default_factory=lambda: Usage(0, 0))
    queue_wait_s: float | None = None  # arrival -> first scheduled
    ttft_s: float | None = None  # arrival -> first token
    logprobs: list[TokenLogprob] | None = None  # one per token id, where the request's params.logprobs is set
    prompt_logprobs: list[TokenLogprob | None] | None = None  # with params.prompt_logprobs, on the first output:
    # one per prompt token (None for the first, which has no context)
    prompt_token_ids: list[int] | None = None  # the prompt's token ids, with prompt_logprobs

    @property
    def has_content(self) -> bool:
        """Anything for a client to see besides the finish: text, token logprobs or the prompt's logprobs."""
        return bool(self.text or self.logprobs) or self.prompt_logprobs is not None


@dataclass
class Request:
    """Engine-side state of one request (owned by the engine thread; the scheduler moves it between queues)."""

    request_id: str
    task: str
    key: TaskKey  # (task, version) resolved at arrival: a LUT replaced later never changes this request
    prompt_ids: list[int]
    params: SamplingParams
    generator: torch.Generator | None
    detokenizer: IncrementalDetokenizer | None
    handle: RequestHandle
    tenant: str | None = None  # who asked (an API key's tenant), where the server knows: its admission share
    pinned: bool = False  # key's version was asked for (task@N): never moved to another version
    arrival: float = field(default_factory=time.perf_counter)
    output_ids: list[int] = field(default_factory=list)
    status: Status = Status.WAITING
    num_computed: int = 0  # tokens whose K/V are in the cache (or are being computed by a plan on the device)
    num_pending: int = 0  # tokens drawn by launched plans, not yet read back into output_ids (engine.py)
    block_ids: list[int] = field(default_factory=list)
    block_hashes: list[bytes] = field(default_factory=list)  # prefix hashes of block_ids' first blocks, computed
    prompt_logprobs: list[TokenLogprob | None] = field(default_factory=lambda: [None])  # scored so far (position p)
    json_constraint: JsonConstraint | None = None  # JSON mode: the output's recognizer state
    stop_ids: frozenset[int] = frozenset()  # token ids that end it: stop_token_ids, and EOS unless ignore_eos
    slot: int | None = None  # pinned LUT pool slot, from admission to finish
    num_preemptions: int = 0
    first_scheduled: float | None = None
    first_token: float | None = None

    @property
    def num_tokens(self) -> int:
        return len(self.prompt_ids) + len(self.output_ids)

    @property
    def num_tokens_total(self) -> int:
        """num_tokens and the pending tokens: the sequence's length once its launched plans are read back."""
        return self.num_tokens + self.num_pending

    def token_ids(self, start: int, end: int) -> list[int]:
        """All tokens (prompt then output) in [start, end)."""
        n = len(self.prompt_ids)
        if end <= n:
            return self.prompt_ids[start:end]
        return (self.prompt_ids[start:] if start < n else []) + self.output_ids[max(start - n, 0) : end - n]

    def bans_stop_ids(self) -> bool:
        """Whether the next token drawn for it may not be one of its stop_ids: it comes before params.min_tokens."""
        return bool(self.stop_ids) and len(self.output_ids) + self.num_pending < self.params.min_tokens

    def usage(self) -> Usage:
        return Usage(len(self.prompt_ids), len(self.output_ids))


class RequestHandle:
    """The caller's side of a request: a sync and an async iterator of TokenOutput, and cancel().

    Iterate it one way only. Outputs produced before `async for` starts are handed over, none is lost.
    """

    def __init__(self, request_id: str, task: str, cancel: Callable[[str], None]) -> None:
        self.request_id, self.task = request_id, task
        self.version: int | None = None  # the task LUT version that serves it, resolved at arrival (0: the base)
        self._cancel = cancel
        self._lock = threading.Lock()
        self._queue: queue.Queue[TokenOutput] = queue.Queue()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._aqueue: asyncio.Queue[TokenOutput] | None = None
        self._done = False  # the consumer has seen the last output
        self.finished = threading.Event()  # the engine has pushed the last output

    @property
    def done(self) -> bool:
        """The consumer has seen the last output."""
        return self._done

    def cancel(self) -> None:
        """Ask the engine to stop this request; a last output with finish_reason 'cancelled' follows."""
        if not self.finished.is_set():
            self._cancel(self.request_id)

    def push(self, out: TokenOutput) -> None:
        """Engine thread only."""
        with self._lock:
            if out.finished:
                self.finished.set()
            if self._loop is None:
                self._queue.put(out)
                return
            try:
                self._loop.call_soon_threadsafe(self._aqueue.put_nowait, out)
            except RuntimeError:  # the caller's loop is closed: nobody is listening any more
                pass

    # --- sync ------------------------------------------------------------------------------------------------

    def __iter__(self) -> RequestHandle:
        return self

    def __next__(self) -> TokenOutput:
        if self._done:
            raise StopIteration
        out = self._queue.get()
        self._done = out.finished
        return out

    def poll(self) -> list[TokenOutput]:
        """Outputs ready now, without blocking (for callers that step the engine themselves)."""
        outs = []
        while not self._done:
            try:
                out = self._queue.get_nowait()
            except queue.Empty:
                break
            outs.append(out)
            self._done = out.finished
        return outs

    # --- async -----------------------------------------------------------------------------------------------

    def __aiter__(self) -> RequestHandle:
        with self._lock:
            if self._loop is None:
                self._loop, self._aqueue = asyncio.get_running_loop(), asyncio.Queue()
                while not self._queue.empty():
                    self._aqueue.put_nowait(self._queue.get_nowait())
        return self

    async def __anext__(self) -> TokenOutput:
        if self._done:
            raise StopAsyncIteration
        out = await self._aqueue.get()
        self._done = out.finished
        return out
