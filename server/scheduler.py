"""Continuous batching across tasks: each step's plan (SchedulerOutput). Never touches tensors.

Each step, within max_num_batched_tokens tokens and max_num_seqs sequences:
  1. every running request that has finished its prompt decodes one token (oldest first). When the KV cache has no
     block for it, the newest running request is preempted (its blocks freed; it recomputes later) until it fits;
  2. running requests still in their prompt get the next chunk of it (chunked prefill), in the blocks free now;
  3. waiting requests are admitted: first the preempted ones (they keep their LUT pin), then new ones.

Multi-step decoding (decode_steps > 1): when every running request decodes and no waiting request could start,
the plan's decodes run up to decode_steps steps back to back (SchedulerOutput.decode_steps; server/runner.py feeds
each step's tokens to the next on the device). Their blocks are grown for every step now; their computed counts
advance by the first token, and by the rest once the runner has launched the steps it runs (launched: a plan can
stop early). The plan is as long as the request with the most tokens left can use; a request that ends earlier
keeps its tokens up to its end.

Overlapped scheduling (engine.py): the engine may schedule and launch the next plan while the one before is still
on the device. A request whose token that plan draws on the device has it pending (Request.num_pending): its next
decode is scheduled at once, its chunk marked `fed` (the runner copies the token in on the device), and its
computed count covers the pending positions; its prefix-cache blocks are registered once their tokens are read
back (read_back). A request whose pending tokens reach its max_tokens or max_model_len is not scheduled again (it
ends when they are read); a preempted one waits for its pending tokens before it recomputes. Requests finishing
while a plan is on the device keep their LUT pins until it is read back (pin_holds): the pool must not load
another task's LUT into a slot a launched step still reads.

Fairness across tasks is S-LoRA's virtual token counter (VTC), kept per flow: a task's requests of one tenant
(Request.tenant, an API key's; None where the server does not know it), so the tenants that share a task (`base`)
are flows of their own too. Every flow has a counter of the service it got, a prompt token costs 1 and a generated
token 2; admission always takes the head of the waiting flow with the lowest counter, and a flow that becomes
active starts at the lowest counter of the active flows, so it can neither starve the others nor bank credit while
idle. A busy task (or tenant) thus never delays another's admission by more than about one request's worth of
service. At the door, the engine's admission queue takes at most
SchedulerConfig.waiting_cap_per_task requests of one task (three quarters of max_waiting by default), and as many
of one tenant over its tasks, so one flooding task or tenant cannot fill the queue and have every other refused.

Prefix caching (server/kv_cache.py): a request starts on the longest run of cached full blocks of its tokens
computed with the same LUT version (always leaving one token to compute, whose logits it samples from; a request
scoring its prompt, prompt_logprobs, computes it all). A chunk's full blocks are registered as it is scheduled,
so requests admitted later in the same step share them already (n samples of one prompt, a burst with one system
prompt): every layer writes the whole step's K/V before any attention reads the cache (server/model.py). If the
step fails, its requests' blocks are forgotten with them; a request admitted on such blocks without a chunk of its
own gives its prefix back at once (it would otherwise outlive a failure holding K/V never written).

A task's head is admitted only once its LUT is resident (pool.acquire pins it); while it loads, other tasks are
admitted. If its LUT fails to load, the task's waiting requests of that version are failed with the error, unless newer
uploads pruned that version before it loaded: then they move to the latest version (they had not started).
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

import torch

from adapters.pool import LutLoadError, LutPool
from server.config import SchedulerConfig
from server.json_mode import JsonConstraint
from server.kv_cache import BlockManager, block_hashes
from server.request import Request, Status
from server.sampling import SamplingParams, TokenHistory

PREFILL_TOKEN_COST = 1.0
DECODE_TOKEN_COST = 2.0


@dataclass
class ScheduledChunk:
    """One request's share of a step: token_ids at positions start_pos.., reading LUT slot `slot`."""

    request_id: str
    token_ids: list[int]
    start_pos: int
    block_ids: list[int]  # the request's block table after this step's growth (a copy)
    slot: int
    sample: bool  # the chunk ends at the last known token: sample the next one
    params: SamplingParams
    generator: torch.Generator | None  # the request's own; passed through untouched
    history: TokenHistory | None = None  # what the sampler's penalties count: set where sample and penalized
    prompt_targets: list[int] | None = None  # prompt_logprobs: the prompt token after each of the chunk's first
    # len(prompt_targets) tokens (token i predicts prompt_targets[i]); None where not asked or past the prompt
    constraint: JsonConstraint | None = None  # JSON mode: the request's recognizer (read by the sampler)
    fed: bool = False  # its one token is pending: the plan before draws it on the device (overlapped scheduling)
    banned_ids: frozenset[int] = frozenset()  # token ids the sampler may not draw: the request's stop ids while
    # fewer than params.min_tokens tokens are generated (its row is then sampled on the host)


@dataclass
class SchedulerOutput:
    """The plan of one step: decodes (one token each, ordered by slot) then prefill chunks."""

    decodes: list[ScheduledChunk] = field(default_factory=list)
    prefills: list[ScheduledChunk] = field(default_factory=list)
    decode_steps: int = 1  # >1: the decodes run this many steps back to back (no prefills then; multi-step)
    preempted: list[str] = field(default_factory=list)  # request ids sent back to recompute
    failed: list[tuple[Request, str]] = field(default_factory=list)  # to finish with finish_reason 'error'

    @property
    def chunks(self) -> list[ScheduledChunk]:
        return self.decodes + self.prefills

    @property
    def num_tokens(self) -> int:
        return len(self.decodes) + sum(len(c.token_ids) for c in self.prefills)

    @property
    def num_tasks(self) -> int:
        return len({c.slot for c in self.chunks})


Flow = tuple[str, str | None]  # (task, tenant): a waiting queue and a VTC counter


def flow_of(req: Request) -> Flow:
    return (req.task, req.tenant)


class Scheduler:
    """Owns the waiting queues (one per flow: a task's requests of one tenant), the running list, the KV block
    manager and the VTC counters."""

    def __init__(self, config: SchedulerConfig, blocks: BlockManager, pool: LutPool, max_model_len: int = 0) -> None:
        """max_model_len: longest sequence the engine lets a request reach (0: no limit here); multi-step decoding
        never runs a request past it or past its max_tokens."""
        if config.max_num_batched_tokens < config.max_num_seqs:
            raise ValueError("max_num_batched_tokens must be >= max_num_seqs (every running request decodes)")
        self.config, self.blocks, self.pool = config, blocks, pool
        self.max_model_len = max_model_len
        self.waiting: dict[Flow, deque[Request]] = {}  # flow -> its requests in arrival order
        self.preempted: deque[Request] = deque()
        self.running: list[Request] = []  # in admission order (the newest is preempted first)
        self.served: dict[Flow, float] = {}  # VTC counter per flow
        self.num_preemptions = 0
        self.prefix_query_tokens = 0  # tokens of started requests, looked up in the prefix cache
        self.prefix_hit_tokens = 0  # of which found cached (not recomputed)
        self.pin_holds: list | None = None  # set by the engine while a plan is on the device: finished requests'
        # LUT pins go here, released once that plan is read back (a launched step may still read their slots)

    # --- queues ----------------------------------------------------------------------------------------------

    def add(self, req: Request) -> None:
        flow = flow_of(req)
        if not self._active(flow):
            active = [self.served.get(f, 0.0) for f in self._active_flows()]
            self.served[flow] = max(self.served.get(flow, 0.0), min(active, default=0.0))
        self.waiting.setdefault(flow, deque()).append(req)

    def finish(self, req: Request, keep_cache: bool = True) -> None:
        """Take req out of every queue and give back its KV blocks and LUT pin. keep_cache: its computed full
        blocks stay reusable; without it (a failed step, whose K/V may be half written) they are forgotten."""
        flow = flow_of(req)
        if req in self.running:
            self.running.remove(req)
        elif req in self.preempted:
            self.preempted.remove(req)
        elif flow in self.waiting and req in self.waiting[flow]:
            self.waiting[flow].remove(req)
            if not self.waiting[flow]:
                del self.waiting[flow]
        self.blocks.release(req.block_ids, forget=not keep_cache)
        if req.slot is not None:
            if self.pin_holds is not None:
                self.pin_holds.append(req.key)
            else:
                self.pool.release(req.key)
            req.slot = None
        req.status = Status.FINISHED
        if not self._active(flow):  # an idle flow restarts at the lowest active counter anyway
            self.served.pop(flow, None)

    @property
    def num_waiting(self) -> int:
        return len(self.preempted) + sum(len(q) for q in self.waiting.values())

    def num_waiting_of(self, task: str) -> int:
        """New requests of task waiting for admission (not the preempted ones: they were admitted once)."""
        return sum(len(queue) for (t, _), queue in self.waiting.items() if t == task)

    def num_waiting_of_tenant(self, tenant: str) -> int:
        """New requests of tenant (over all tasks) waiting for admission."""
        return sum(len(queue) for (_, t), queue in self.waiting.items() if t == tenant)

    def has_unfinished(self) -> bool:
        return bool(self.running or self.preempted or self.waiting)

    def count_task(self, task: str) -> int:
        """Requests of task waiting or running."""
        return sum(r.task == task for r in self.running + list(self.preempted)) + self.num_waiting_of(task)

    # --- the step's plan -------------------------------------------------------------------------------------

    def schedule(self) -> SchedulerOutput:
        preempted: list[str] = []
        while True:
            out = self._schedule_once()
            out.preempted[:0] = preempted
            if out.chunks or out.failed or len(self.running) <= 1 or any(r.num_pending for r in self.running):
                return out  # (pending tokens: a plan on the device; once read back, requests end or decode)
            # running prompts hold every block and none can grow: free the newest one's blocks
            preempted.append(self.running[-1].request_id)
            self._preempt(self.running[-1])

    def _schedule_once(self) -> SchedulerOutput:
        out = SchedulerOutput()
        budget = self.config.max_num_batched_tokens
        for req in [r for r in self.running if r.num_tokens_total - r.num_computed == 1 and not self._spent(r)]:
            if req.status is not Status.RUNNING:  # preempted earlier in this loop
                continue
            while not self.blocks.can_grow(req.block_ids, req.num_computed + 1):
                victim = self.running[-1]
                self._preempt(victim)
                out.preempted.append(victim.request_id)
                if victim is req:
                    break
            if req.status is Status.RUNNING:
                out.decodes.append(self._take(req, 1, DECODE_TOKEN_COST))
                budget -= 1
        for req in [r for r in self.running if r.num_tokens_total - r.num_computed > 1]:
            budget -= self._prefill(req, budget, out)
        while budget > 0 and len(self.running) < self.config.max_num_seqs:
            req = self._admit(out)
            if req is None:
                break
            budget -= self._prefill(req, budget, out)
        out.decodes.sort(key=lambda c: c.slot)  # tokens of one task side by side: better locality in the kernel
        self._extend_decodes(out)
        return out

    def _extend_decodes(self, out: SchedulerOutput) -> None:
        """Multi-step decoding: where every running request decodes in this step and no waiting one could start, let
        the decodes run up to decode_steps steps, their blocks grown for all of them now. The plan is as long as
        the request with the most tokens left may use (a request whose max_tokens comes first keeps its tokens up to
        it, the engine drops the rest) and no request passes max_model_len. The requests' computed counts advance
        by the first token only: launched() adds the steps the runner ran."""
        steps = self.config.decode_steps
        if steps <= 1 or not out.decodes or out.prefills or len(out.decodes) != len(self.running):
            return
        if self.could_admit():
            return  # someone could start at the next step: it should not wait for the plan
        most_left = 1
        for req in self.running:
            if not req.params.draws_on_device or req.bans_stop_ids():
                return  # its sampler needs each token on the host before the next step
            most_left = max(most_left, req.params.max_tokens - len(req.output_ids) - req.num_pending)
            if self.max_model_len:  # positions past it have no RoPE table rows and no KV room
                steps = min(steps, self.max_model_len - req.num_tokens_total)
        steps = min(steps, most_left)
        # steps - 1 more positions each: num_computed + 1 .. num_computed + steps - 1
        need = sum(max(0, self.blocks.blocks_for(r.num_computed + steps - 1) - len(r.block_ids)) for r in self.running)
        if steps <= 1 or need > self.blocks.num_free:
            return
        by_id = {r.request_id: r for r in self.running}
        for chunk in out.decodes:
            req = by_id[chunk.request_id]
            self.blocks.grow(req.block_ids, req.num_computed + steps - 1)
            chunk.block_ids = list(req.block_ids)
        out.decode_steps = steps

    def could_admit(self) -> bool:
        """Whether a waiting request could start at the next step: a preempted one, or a new one with a seat and a
        free block (read without the engine's lock by a running multi-step decode: a hint, re-checked by schedule)."""
        return bool(self.preempted) or bool(
            self.waiting and len(self.running) < self.config.max_num_seqs and self.blocks.num_free
        )

    def launched(self, reqs: list[Request], steps: int) -> None:
        """Engine, once the runner launched a plan for `steps` steps: each of reqs (the plan's sampling requests) has
        `steps` tokens pending until read_back; after a multi-step decode the K/V of the tokens fed to its later
        steps is computed too (steps - 1 more positions, charged to the task's VTC counter). Blocks grown for steps
        the plan did not run stay the request's."""
        for req in reqs:
            req.num_pending += steps
            if steps > 1:
                self._computed(req, steps - 1, DECODE_TOKEN_COST)

    def read_back(self, req: Request, drawn: int) -> None:
        """Engine: `drawn` pending tokens of req were read back (those up to its end now in output_ids, the rest
        dropped): its full blocks of known tokens become reusable."""
        req.num_pending -= drawn
        self._register_computed(req)

    def _spent(self, req: Request) -> bool:
        """Whether req's pending tokens take it to its max_tokens or to max_model_len: it ends once they are read
        back, so it is not scheduled again."""
        if not req.num_pending:
            return False
        return len(req.output_ids) + req.num_pending >= req.params.max_tokens or bool(
            self.max_model_len and req.num_tokens_total >= self.max_model_len
        )

    def _computed(self, req: Request, n: int, cost: float) -> None:
        """req's next n tokens have (or get, this step) their K/V: count them, register its full blocks for reuse
        and charge its task's VTC counter n tokens at cost."""
        req.num_computed += n
        self._register_computed(req)
        flow = flow_of(req)
        self.served[flow] = self.served.get(flow, 0.0) + n * cost

    def _prefill(self, req: Request, budget: int, out: SchedulerOutput) -> int:
        """Schedule req's next prompt chunk within budget tokens; the tokens it takes. A request that holds no
        blocks yet starts on its cached prefix, and gives it back if no chunk of its own fits this step (its
        cached prefix took the last idle blocks): it waits on nothing shared, for blocks to free up."""
        started = not req.block_ids and self._take_cached_prefix(req)
        n = self._fitting(req, budget)
        if n:
            out.prefills.append(self._take(req, n, PREFILL_TOKEN_COST))
        elif started:
            self._give_back_prefix(req)
        return n

    def _take(self, req: Request, n: int, cost: float) -> ScheduledChunk:
        """Grow req's blocks for n more tokens and cut its chunk; advance its computed count and its task's VTC."""
        start = req.num_computed
        self.blocks.grow(req.block_ids, start + n)
        self._computed(req, n, cost)  # this step computes them: later admissions of the step may share them
        fed = start >= req.num_tokens  # its token is pending: drawn on the device by the plan before (n is 1)
        sample = req.num_computed == req.num_tokens_total
        history = TokenHistory(req.prompt_ids, req.output_ids) if sample and req.params.penalized else None
        banned = req.stop_ids if sample and req.bans_stop_ids() else frozenset()
        targets = None
        if req.params.prompt_logprobs is not None and start + 1 < len(req.prompt_ids):
            targets = req.prompt_ids[start + 1 : start + n + 1]
        return ScheduledChunk(
            req.request_id, [0] if fed else req.token_ids(start, start + n), start, list(req.block_ids), req.slot,
            sample, req.params, req.generator, history, targets, req.json_constraint if sample else None, fed, banned,
        )

    def _fitting(self, req: Request, budget: int) -> int:
        """Tokens of req's remaining prompt that fit the token budget and the free KV blocks (no preemption)."""
        n = min(req.num_tokens - req.num_computed, budget)
        room = (len(req.block_ids) + self.blocks.num_free) * self.blocks.block_size - req.num_computed
        return max(0, min(n, room))

    def _admit(self, out: SchedulerOutput) -> Request | None:
        """The next request to start (preempted first, then by VTC), pinned and moved to running; None if none."""
        if self.preempted:
            req = self.preempted[0]
            if req.num_pending or not self.blocks.num_free:  # pending: its tokens are not all known yet
                return None
            self.preempted.popleft()
            return self._start(req)
        for flow in sorted(self.waiting, key=lambda f: (self.served.get(f, 0.0), f[0], f[1] or "")):
            queue, task = self.waiting[flow], flow[0]
            req = queue[0]
            if not self.blocks.num_free:
                return None  # KV is full: admitting anyone else would only preempt later
            try:
                slot = self.pool.acquire(req.key)
            except LutLoadError as e:
                newer = self.pool.latest_key(task)
                if newer is not None and newer != req.key and not req.pinned:
                    # Its version was pruned by newer uploads before it could load: requests that have not
                    # started yet move to the latest version (they are retried at the next admission; their
                    # handles name the version that serves them). A request that asked for its version (pinned)
                    # fails instead, below, once it heads the queue.
                    for waiting in queue:
                        if waiting.key == req.key and not waiting.pinned:
                            waiting.key = newer
                            waiting.handle.version = newer[1]
                    continue
                pruned = newer not in (None, req.key)  # (else the load itself failed: every request of the key fails)
                why = (f"version {req.key[1]} of task {task!r} is no longer stored: newer uploads pruned it before it "
                       "loaded" if pruned else str(e))  # fmt: skip
                for failed in [r for r in queue if r.key == req.key and (r.pinned or not pruned)]:
                    queue.remove(failed)
                    out.failed.append((failed, why))
                if not queue:
                    del self.waiting[flow]
                continue
            if slot is None:
                continue  # its LUT is loading: let other tasks in meanwhile
            queue.popleft()
            if not queue:
                del self.waiting[flow]
            req.slot = slot
            return self._start(req)
        return None

    def _start(self, req: Request) -> Request:
        req.status = Status.RUNNING
        if req.first_scheduled is None:
            req.first_scheduled = time.perf_counter()
        self.running.append(req)
        return req

    def _take_cached_prefix(self, req: Request) -> bool:
        """Start req (no blocks, nothing computed) on its longest cached prefix, one token at least left to run;
        whether it was looked up. Not a request that scores its prompt (prompt_logprobs): it needs every prompt
        token's logits."""
        if not self.blocks.prefix_caching or req.params.prompt_logprobs is not None:
            return False
        bs = self.blocks.block_size
        usable = (req.num_tokens - 1) // bs
        hashes = block_hashes(b"", req.key, req.token_ids(0, usable * bs), bs)
        hits = self.blocks.cached_prefix(hashes)
        self.blocks.take_cached(req.block_ids, hits)
        req.block_hashes = hashes[: len(hits)]
        req.num_computed = len(hits) * bs
        self.prefix_query_tokens += req.num_tokens
        self.prefix_hit_tokens += req.num_computed
        return True

    def _give_back_prefix(self, req: Request) -> None:
        """Undo _take_cached_prefix for a request that got no chunk this step."""
        self.prefix_query_tokens -= req.num_tokens
        self.prefix_hit_tokens -= req.num_computed
        self.blocks.release(req.block_ids)
        req.block_hashes = []
        req.num_computed = 0

    def _register_computed(self, req: Request) -> None:
        """Make req's full blocks of computed K/V not yet registered reusable by later requests."""
        if not self.blocks.prefix_caching:
            return
        bs = self.blocks.block_size
        done = len(req.block_hashes)
        full = min(req.num_computed, req.num_tokens) // bs  # blocks whose tokens are all known (none pending)
        if full <= done:
            return
        previous = req.block_hashes[-1] if done else b""
        for i, h in enumerate(block_hashes(previous, req.key, req.token_ids(done * bs, full * bs), bs), start=done):
            self.blocks.register(req.block_ids[i], h)
            req.block_hashes.append(h)

    def _preempt(self, req: Request) -> None:
        """Recompute preemption: drop req's K/V, keep its tokens and its LUT pin; it is re-admitted first (on
        whatever of its prefix is still cached)."""
        self.running.remove(req)
        self.blocks.release(req.block_ids)
        req.block_hashes = []
        req.num_computed = 0
        req.num_preemptions += 1
        req.status = Status.WAITING
        self.preempted.appendleft(req)
        self.num_preemptions += 1

    def _active(self, flow: Flow) -> bool:
        return flow in self.waiting or any(flow_of(r) == flow for r in self.running + list(self.preempted))

    def _active_flows(self) -> set[Flow]:
        return set(self.waiting) | {flow_of(r) for r in self.running} | {flow_of(r) for r in self.preempted}
