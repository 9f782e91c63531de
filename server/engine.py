"""The engine: requests in, streamed tokens out; one step = schedule -> run -> postprocess.

    add_request (any thread) --lock--> Scheduler queues
    step loop (one thread):   SchedulerOutput = scheduler.schedule()      who runs, with which LUT slot and KV blocks
                              Flight          = runner.launch(plan)        the plan queued on the device
                              RunnerOutput    = flight.collect()           one sampled token per finished chunk
                                                                           (a multi-step decode: several per decode)
                              postprocess: append tokens, detokenize, stop checks, push TokenOutput to handles
    cancel (any thread) ----> noted; applied at the start of the next step (never while the runner reads the slot)

Overlapped scheduling (EngineConfig.overlap_scheduling; on for CUDA): a plan whose tokens are drawn on the device
stays in flight after its step; the next step schedules and launches the next plan (its rows of the same requests
take their tokens on the device: scheduler `fed` chunks), and reads the plan before back once the new one is
queued behind it. So the host's work between plans runs while the GPU computes. The price: a request that ends in
a plan (EOS, a stop string) has one more plan's row computed for it, whose tokens are dropped, and its LUT pin is
held until that plan is read back (scheduler.pin_holds).

`start()` runs the loop in a background thread; without it, `generate()` and `run_until_idle()` step inline.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator
from pathlib import Path

import torch

from adapters.pool import BASE_KEY, LutPool
from adapters.store import BASE_TASK, InvalidTaskIdError, LutStore, check_task_id
from kernels.cpu_threads import on_a_passing_thread
from server.config import EngineConfig
from server.cpu_weights import DenseWeightCache
from server.errors import (
    EngineStoppedError,
    InvalidParamsError,
    PromptTooLongError,
    QueueFullError,
    TaskBusyError,
    TaskQueueFullError,
    TenantQueueFullError,
    UnknownTaskError,
    UnknownVersionError,
    unknown_task_message,
)
from server.json_mode import JsonConstraint, JsonPrefix
from server.json_schema import literal_chars
from server.kv_cache import BlockManager, KVCache, bytes_per_block
from server.model import ModelConfig, Transformer
from server.request import Request, RequestHandle, TokenOutput
from server.runner import Flight, ModelRunner, RunnerOutput
from server.sampling import SamplingParams, TokenLogprob
from server.scheduler import Scheduler, SchedulerOutput
from server.stats import EngineStats, RequestEvent, StepStats
from server.tokenizer import IncrementalDetokenizer, Tokenizer, TokenTexts
from sketch.format import SketchedBase, load_sketched_base

log = logging.getLogger(__name__)
CPU_KV_BYTES = 256 << 20
AUTO_DECODE_STEPS = 4  # decode steps a plan on CUDA (SchedulerConfig.decode_steps = 0)


@dataclasses.dataclass
class Launched:
    """The engine's record of a launched plan until it is read back: the runner's Flight, the LUT pins of requests
    that finished while it was on the device (given back once it is read back), when its step began."""

    flight: Flight
    pins: list
    start: float
    handed_out: bool = False  # its tokens were handed to the requests (or it failed): read back once only


class Engine:
    """Serves one sketched base and its task LUTs. Thread-safe public methods; see the module docstring."""

    def __init__(
        self,
        base: SketchedBase,
        tokenizer: Tokenizer | None = None,
        config: EngineConfig | None = None,
        store: LutStore | None = None,
    ) -> None:
        config = config or EngineConfig()
        if config.torch_device().type == "cpu":  # the set-up's large ops on a thread that ends (start()'s docstring)
            on_a_passing_thread(lambda: self._build(base, tokenizer, config, store), name="engine-build")
        else:
            self._build(base, tokenizer, config, store)

    def _build(
        self, base: SketchedBase, tokenizer: Tokenizer | None, config: EngineConfig, store: LutStore | None
    ) -> None:
        self.config = config
        self.device, dtype = config.torch_device(), config.torch_dtype()
        self.tokenizer, self.store = tokenizer, store
        self._token_texts = TokenTexts(tokenizer, skip_special_tokens=True)  # JSON mode's candidates, decoded once
        self.model_config = mc = ModelConfig.from_hf(base.config)
        eos = set(mc.eos_token_ids) | {getattr(tokenizer, "eos_token_id", None)}
        self.eos_token_ids = {t for t in eos if t is not None}
        pc = config.pool
        num_slots = LutPool.slots_for_budget(base, pc.pool_bytes, dtype) if pc.pool_bytes else pc.num_slots
        self.pool = LutPool(
            base, store, num_slots, self.device, dtype, pc.cpu_tier_bytes, pc.verify_checksums, on_ready=self._wake,
            measure_distance=config.int8_activations,  # (the int8 mode's per-step check: ModelRunner.int8_allowed)
        )
        max_len = config.scheduler.max_model_len or mc.max_position_embeddings
        dense_cache = None
        if self.device.type == "cpu" and config.cpu_weight_cache_bytes != 0:
            weight_dtype = config.cpu_weight_torch_dtype()
            budget = config.cpu_weight_cache_bytes
            if budget is None:  # auto: every resident task's weights, within half the memory available now
                budget = DenseWeightCache.auto_budget(base, weight_dtype, num_slots)
            dense_cache = DenseWeightCache(self.pool.slot_generation, budget, weight_dtype)
            log.info(
                "CPU serving: dense weights of resident tasks cached in %s, up to %d MiB (cpu_weight_dtype=%s%s)",
                str(weight_dtype).removeprefix("torch."), budget >> 20, config.cpu_weight_dtype,
                ", budget auto" if config.cpu_weight_cache_bytes is None else "",
            )
        model = Transformer(base, self.pool.lut_pools, max_len, self.device, dtype, dense_cache, self.pool.fused_luts)
        if config.int8_activations and self.device.type == "cuda":
            size = model.enable_int8_activations()
            log.info("int8 activation mode on for decode steps of 9-16 rows over tasks within %g of the base (the base "
                     "LUT's tables take %.1f MiB; --exact-activations serves every step exact)",
                     config.int8_max_lut_distance, size / 2**20)  # fmt: skip
        block_size = config.cache.block_size
        num_blocks = config.cache.num_blocks or self._kv_budget() // bytes_per_block(mc, block_size, dtype)
        kv_cache = KVCache(mc, num_blocks, block_size, self.device, dtype)
        self.max_model_len = min(max_len, (num_blocks - 1) * block_size)
        self.runner = ModelRunner(model, kv_cache, num_slots, config, self.device, self.pool.base_distance)
        blocks = BlockManager(num_blocks, block_size, prefix_caching=config.cache.prefix_caching)
        sc = config.scheduler
        if sc.decode_steps == 0:  # auto: multi-step decoding where the host's share of a step is worth saving
            sc = dataclasses.replace(sc, decode_steps=AUTO_DECODE_STEPS if self.device.type == "cuda" else 1)
        self.scheduler = Scheduler(sc, blocks, self.pool, self.max_model_len)
        self.overlap = config.overlaps()
        self._flight: Launched | None = None  # the plan on the device, not read back yet (overlapped scheduling)
        self._last_read = 0.0  # when the last plan was read back (perf_counter)
        self._requests: dict[str, Request] = {}
        self._cancels: set[str] = set()
        self._lock = threading.Lock()
        self._work = threading.Condition(self._lock)  # notified on new requests, cancels, stop and LUT loads
        self._thread: threading.Thread | None = None
        self._accepting, self._stopping = True, False
        self._steps: deque[StepStats] = deque(maxlen=config.stats_window)
        self._events: deque[RequestEvent] = deque(maxlen=config.stats_window)
        self._totals = {"finished": 0, "prompt": 0, "generated": 0, "steps": 0}

    @classmethod
    def from_dir(
        cls, path: str | Path, config: EngineConfig | None = None, store_dir: str | Path | None = None,
        keep_versions: int = 3,
    ) -> Engine:
        """Load a sketched base directory (and its tokenizer files, if any) and open the LUT store at store_dir, which
        keeps each task's last keep_versions versions."""
        base = load_sketched_base(path)
        tokenizer = None
        if any((Path(path) / f).exists() for f in ("tokenizer.json", "tokenizer_config.json", "tokenizer.model")):
            from transformers import AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(str(path))
        store = LutStore(store_dir, base.spec(), keep_versions=keep_versions) if store_dir is not None else None
        return cls(base, tokenizer, config, store)

    # --- the public API ----------------------------------------------------------------------------------------

    def add_request(
        self,
        task: str,
        prompt: str | list[int],
        params: SamplingParams | None = None,
        request_id: str | None = None,
        tenant: str | None = None,
        version: int | None = None,
    ) -> RequestHandle:
        """Queue a request. Raises InvalidParamsError, PromptTooLongError, UnknownTaskError (UnknownVersionError),
        QueueFullError (or TaskQueueFullError, TenantQueueFullError), EngineStoppedError. tenant: who asks (an API
        key's tenant), whose waiting requests over all tasks share one task's bound
        (SchedulerConfig.max_waiting_per_task). version: one of the task's kept LUT versions (None: its latest)."""
        params = params or SamplingParams()
        sc = self.config.scheduler
        params.validate(sc.max_new_tokens, self.model_config.vocab_size)
        if params.stop and self.tokenizer is None:
            raise InvalidParamsError("stop strings need a tokenizer; this engine has none")
        prompt_ids = self._tokenize(prompt)
        limit = min(sc.max_prompt_tokens, self.max_model_len - 1)
        if len(prompt_ids) > limit:
            raise PromptTooLongError(f"the prompt has {len(prompt_ids)} tokens; at most {limit} are accepted")
        request_id = request_id or uuid.uuid4().hex
        handle = RequestHandle(request_id, task, self._cancel)
        detok = IncrementalDetokenizer(self.tokenizer, prompt_ids, params.stop) if self.tokenizer else None
        if params.constrained_output and self.tokenizer is None:
            raise InvalidParamsError("constrained outputs (JSON mode, json_schema, guided_choice, guided_regex) need "
                                     "a tokenizer; this engine has none")  # fmt: skip
        prefix = self._output_prefix(params) if params.constrained_output else None  # (not under the lock)
        with self._lock:  # resolving under the lock: a concurrent delete_task either sees this request or wins
            key = self._resolve(task, version)
            handle.version = key[1]
            req = Request(request_id, task, key, prompt_ids, params, params.make_generator(self.device), detok, handle,
                          tenant, pinned=version is not None)  # fmt: skip
            req.stop_ids = frozenset(params.stop_token_ids) | (frozenset() if params.ignore_eos else self.eos_token_ids)
            if prefix is not None:
                req.json_constraint = JsonConstraint(self._token_texts, prefix, req.stop_ids)
            if not self._accepting:
                raise EngineStoppedError("the engine is stopping and takes no new requests")
            if request_id in self._requests:
                raise InvalidParamsError(f"request id {request_id!r} is already in flight")
            if self.scheduler.num_waiting >= sc.max_waiting:
                raise QueueFullError(f"{sc.max_waiting} requests are already waiting")
            if self.scheduler.num_waiting_of(task) >= sc.waiting_cap_per_task:
                raise TaskQueueFullError(f"{sc.waiting_cap_per_task} requests of task {task!r} are already waiting "
                                         "(the most one task may queue, so that other tasks keep room)")
            if tenant is not None and self.scheduler.num_waiting_of_tenant(tenant) >= sc.waiting_cap_per_task:
                raise TenantQueueFullError(f"{sc.waiting_cap_per_task} requests of tenant {tenant!r} are already "
                                           "waiting (the most one tenant may queue, so that others keep room)")
            self._requests[request_id] = req
            self.scheduler.add(req)
            self._work.notify()
        return handle

    def generate(
        self, task: str, prompt: str | list[int], params: SamplingParams | None = None
    ) -> Iterator[TokenOutput]:
        """Stream one request's outputs; steps the engine inline when start() was not called."""
        handle = self.add_request(task, prompt, params)
        try:
            if self._thread is not None:
                yield from handle
                return
            while not handle.done:
                outs = handle.poll()
                yield from outs
                if not outs:
                    self._step_or_wait()
        finally:  # the caller stopped iterating early: stop the request too
            handle.cancel()

    def run_until_idle(self, timeout_s: float = 600.0) -> None:
        """Step inline until every request has finished (tests, benchmarks; not with start())."""
        deadline = time.monotonic() + timeout_s
        while self._requests or self._cancels or self._flight is not None:
            if time.monotonic() > deadline:
                raise TimeoutError("requests still in flight after run_until_idle's timeout")
            self._step_or_wait()

    def do_idle_work(self) -> None:
        """What the background loop does when it has nothing to run, for callers that step the engine themselves
        (between bursts): capture the prefill-graph keys that ran once (ModelRunner.capture_one_pending)."""
        while self.runner.idle_work():
            self.runner.capture_one_pending()

    def start(self) -> None:
        """Run the step loop in a background thread.

        On the CPU its matmuls run on that thread's OpenMP team. A thread that ran large torch ops and lives on
        keeps a team of its own, and two teams on a small CPU throttle each other's workers (kernels/cpu_threads.py).
        So the engine builds itself on a thread that ends (on_a_passing_thread): started from a main thread that
        had built it there, the default model decoded 20.5-21.6 tok/s, against 29.9-35.2 now (2-core dev CPU,
        benchmarks/engine_start_threads.py). A program that runs large torch ops of its own on a thread that
        lives on brings the throttling back, and can step inline instead (generate() without start())."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="engine-loop", daemon=True)
            self._thread.start()

    def stop(self, drain: bool = True, timeout_s: float | None = None) -> None:
        """Stop taking requests; drain=True finishes those in flight, drain=False cancels them. Then join."""
        with self._lock:
            self._accepting, self._stopping = False, True
            if not drain:
                self._cancels.update(self._requests)
            self._work.notify()
        if self._thread is not None:
            self._thread.join(timeout_s)
        else:
            self.run_until_idle(timeout_s or 600.0)
        self.pool.close()

    def task_in_flight(self, task: str) -> int:
        """Requests of task waiting or running (the HTTP DELETE refuses or waits while this is > 0)."""
        with self._lock:
            return self.scheduler.count_task(task)

    def delete_task(self, task: str) -> int:
        """Remove every stored version of task and drop its resident LUTs; returns how many versions were stored.

        Atomic against add_request (both hold the engine lock): raises TaskBusyError while requests of the task
        are waiting or running, so no accepted request ever loses its LUT; 0 means nothing was stored."""
        if self.store is None:
            return 0
        with self._lock:
            in_flight = self.scheduler.count_task(task)
            if in_flight:
                raise TaskBusyError(task, in_flight)
            versions = self.store.delete(task)
            if versions:
                self.pool.forget(task)
            return versions

    def stats(self) -> EngineStats:
        with self._lock:
            blocks = self.scheduler.blocks
            return EngineStats(
                running=len(self.scheduler.running),
                waiting=self.scheduler.num_waiting,
                kv_blocks_used=blocks.num_used,
                kv_blocks_total=blocks.num_total,
                kv_blocks_cached=blocks.num_cached,
                prefix_cache_query_tokens_total=self.scheduler.prefix_query_tokens,
                prefix_cache_hit_tokens_total=self.scheduler.prefix_hit_tokens,
                recent_steps=list(self._steps),
                pool=self.pool.stats(),
                request_events=list(self._events),
                requests_finished=self._totals["finished"],
                prompt_tokens_total=self._totals["prompt"],
                generated_tokens_total=self._totals["generated"],
                preemptions_total=self.scheduler.num_preemptions,
                steps_total=self._totals["steps"],
                int8_exact_steps_total=self.runner.int8_exact_steps,
            )

    # --- the step ------------------------------------------------------------------------------------------------

    def step(self) -> list[TokenOutput]:
        """One iteration: schedule -> run -> postprocess. Returns the outputs it pushed (under overlapped scheduling
        those of the plan before: a plan whose tokens are drawn on the device is read back by the next step)."""
        return self._step()[1]

    def _step(self) -> tuple[bool, list[TokenOutput]]:
        """step(), and whether it ran the model: a chunk of a long prompt runs and outputs nothing.

        Schedule, launch the plan, read back the plan before (left on the device by the step before, under
        overlapped scheduling) once the new one is queued behind it, then this one unless it stays on the device."""
        start = time.perf_counter()
        with self._lock:
            outputs = self._apply_cancels()
            plan = self.scheduler.schedule()
        outputs += [self._finish(req, "error", error) for req, error in plan.failed]
        before, self._flight = self._flight, None
        if not plan.chunks:
            if before is not None:
                outputs += self._collect(before)
                self._hold_pins(None)  # nothing on the device: pins go back at once
            return before is not None, outputs
        read_before = None if before is None else (lambda: outputs.extend(self._collect(before)))
        pins: list = []  # of the requests that finish from here on: held until this plan is off the device
        self._hold_pins(pins)
        try:
            feed = before.flight.feed if before is not None else None
            flight = self.runner.launch(plan, feed, self.scheduler.could_admit, read_before, on_device=self.overlap)
        except Exception as e:  # noqa: BLE001 - a failed step fails its requests, never the engine
            if read_before is not None:
                read_before()  # (nothing if it was read back before the failure)
            outputs += self._fail(plan, e, pins)
            self._hold_pins(None)
            return True, outputs
        if read_before is not None:
            read_before()
        with self._lock:
            self.scheduler.launched([self._requests[c.request_id] for c in plan.chunks
                                     if c.sample and c.request_id in self._requests], flight.steps)  # fmt: skip
        launched = Launched(flight, pins, start)
        if flight.result is None:
            self._flight = launched  # read back by the next step, once its plan is queued
        else:  # read back already (its sampling needed the host)
            outputs += self._collect(launched)
            self._hold_pins(None)
        return True, outputs

    def _collect(self, launched: Launched) -> list[TokenOutput]:
        """Read a launched plan back (waiting for the device if it is still there; once: later calls return
        nothing), hand out its tokens, and give back the pins of the requests that finished while it was in flight.
        If reading it back fails (the device failed its step), its requests fail, never the engine."""
        if launched.handed_out:
            return []
        launched.handed_out = True
        plan = launched.flight.plan
        try:
            result = launched.flight.collect()
        except Exception as e:  # noqa: BLE001
            return self._fail(plan, e, launched.pins)
        outputs = self._postprocess(plan, result)
        with self._lock:
            self._release_pins(launched.pins)
        # the step's duration: from its start, or from the plan before's read-back if that came later (overlapped
        # plans' own spans overlap; back to back, these durations add up to the wall time)
        now = time.perf_counter()
        self._record_step(plan, result.steps, now - max(launched.start, self._last_read))
        self._last_read = now
        return outputs

    def _fail(self, plan: SchedulerOutput, error: Exception, pins: list) -> list[TokenOutput]:
        """A plan failed on the device (or launching it): its requests still in flight end with 'error', and the pins
        held for it go back."""
        log.error("engine step failed", exc_info=error)
        with self._lock:
            failed = [self._finish(self._requests[c.request_id], "error", repr(error))
                      for c in plan.chunks if c.request_id in self._requests]  # fmt: skip
            self._release_pins(pins)
        return failed

    def _hold_pins(self, pins: list | None) -> None:
        """Where the scheduler puts the LUT pins of requests that finish from now on: a list given back once the plan
        on the device is read back, or None (given back at once)."""
        with self._lock:
            self.scheduler.pin_holds = pins

    def _release_pins(self, pins: list) -> None:
        """Lock held."""
        for key in pins:
            self.pool.release(key)
        pins.clear()

    def _postprocess(self, plan: SchedulerOutput, result: RunnerOutput) -> list[TokenOutput]:
        outputs = []
        now = time.perf_counter()
        with self._lock:
            self._record_prompt_logprobs(result)
            for request_id, token in result.sampled.items():
                req = self._requests.get(request_id)
                if req is None:  # finished while its plan was in flight (cancelled, or ended in the plan before)
                    continue
                prompt = {}
                if req.params.prompt_logprobs is not None and req.first_token is None:
                    prompt = {"prompt_logprobs": req.prompt_logprobs, "prompt_token_ids": req.prompt_ids}  # 1st output
                req.first_token = req.first_token or now
                drawn = [token, *result.more.get(request_id, ())]
                if req.params.max_tokens == 0:  # the prompt was only scored
                    self.scheduler.read_back(req, len(drawn))
                    outputs.append(self._finish(req, "length", **prompt))
                    continue
                if req.json_constraint is not None and req.json_constraint.stuck:  # only this request fails
                    self.scheduler.read_back(req, len(drawn))
                    outputs.append(self._finish(req, "error", "no token of the vocabulary continues the constrained "
                                                "output (an unsatisfiable schema or pattern?)", client_error=True,
                                                **prompt))  # fmt: skip
                    continue
                # a multi-step decode sampled more tokens: up to the one that ends the request, the rest dropped
                taken, reason = [], None
                for t in drawn:
                    req.output_ids.append(t)
                    taken.append(t)
                    reason = self._take_token(req, t)
                    if reason is not None:
                        break
                self.scheduler.read_back(req, len(drawn))  # their full blocks: reusable as a cached prefix
                text = req.detokenizer.delta(finished=reason is not None) if req.detokenizer else ""
                logprobs = [result.logprobs[request_id]] if request_id in result.logprobs else None
                if reason is not None:
                    outputs.append(self._finish(req, reason, text=text, token_ids=taken, logprobs=logprobs, **prompt))
                else:
                    outputs.append(self._emit(req, taken, text, logprobs=logprobs, **prompt))
        return outputs

    def _record_prompt_logprobs(self, result: RunnerOutput) -> None:
        """Lock held. Each scored prompt position once (a recompute after a preemption scores positions again)."""
        for request_id, (first, scored) in result.prompt_logprobs.items():
            req = self._requests[request_id]
            for p, lp in enumerate(scored, start=first):
                if p == len(req.prompt_logprobs):
                    req.prompt_logprobs.append(lp)

    def _output_prefix(self, params: SamplingParams) -> JsonPrefix:
        """The recognizer of params' constrained output, once sure this vocabulary can write it: a character the
        output may have to copy (a choice's, an enum value's, a key's, a guided_regex's) that no token writes alone
        could leave the sampler no valid token (the structural ASCII characters are single tokens in every
        vocabulary we load; inside a JSON string any character can be written as a \\uXXXX escape)."""
        if params.guided_regex is not None:
            rx = params.compiled_regex()
            if (missing := rx.unwritable(self._single_characters())) is not None:
                raise InvalidParamsError(f"guided_regex: no single token of this model writes {missing}, which the "
                                         "pattern needs")  # fmt: skip
            return JsonPrefix.regex(rx)
        if params.guided_choice is not None:
            self._check_writable(frozenset("".join(params.guided_choice)), "guided_choice", "a choice")
            return JsonPrefix.choice(params.guided_choice)
        root = params.compiled_schema()
        if root is not None:
            self._check_writable(literal_chars(root), "json_schema", "an enum, const or property name of the schema")
        return JsonPrefix(root)

    def _check_writable(self, needed: frozenset[str], field: str, what: str) -> None:
        unwritable = needed - self._single_characters()
        if unwritable:
            raise InvalidParamsError(f"{field}: no single token of this model writes {min(unwritable)!r}, which "
                                     f"{what} needs")  # fmt: skip

    def _single_characters(self) -> frozenset[str]:
        """The characters one token writes alone (every id decoded once, at the first constrained request)."""
        return self._token_texts.single_characters(self.model_config.vocab_size)

    def _take_token(self, req: Request, token: int) -> str | None:
        """Lock held. Feed the request's new token (already in output_ids) to its JSON recognizer and detokenizer; why
        it ends now, or None. Before params.min_tokens tokens no stop token or stop string ends it (vLLM's rule; the
        sampler bans its stop ids meanwhile)."""
        p = req.params
        constraint = req.json_constraint
        if constraint is not None and not (token in req.stop_ids and constraint.complete):  # (a stop id ends it)
            constraint.advance(token)
            if constraint.final:  # the value is whole and nothing may follow it
                if req.detokenizer is not None:
                    req.detokenizer.add(token)
                return "stop"
        stops = len(req.output_ids) >= p.min_tokens
        if stops and token in req.stop_ids:
            return "stop"
        if req.detokenizer is not None:
            req.detokenizer.add(token)
            if req.detokenizer.find_stop(active=stops):
                return "stop"
        if len(req.output_ids) >= p.max_tokens or req.num_tokens >= self.max_model_len:
            return "length"
        return None

    # --- helpers (the lock is held where noted) ------------------------------------------------------------------

    def _emit(self, req: Request, token_ids: list[int], text: str, **final) -> TokenOutput:
        out = TokenOutput(
            req.request_id, req.task, token_ids, text, usage=req.usage(),
            queue_wait_s=None if req.first_scheduled is None else req.first_scheduled - req.arrival,
            ttft_s=None if req.first_token is None else req.first_token - req.arrival,
            **final,
        )
        req.handle.push(out)
        return out

    def _finish(self, req: Request, reason: str, error: str | None = None, text: str = "", token_ids=(),
                logprobs: list[TokenLogprob] | None = None, **final) -> TokenOutput:  # fmt: skip
        """Lock held. Free the request's KV blocks and pin, push its last output, record its timings."""
        self.scheduler.finish(req, keep_cache=reason != "error")
        del self._requests[req.request_id]
        self._totals["finished"] += 1
        self._totals["prompt"] += len(req.prompt_ids)
        self._totals["generated"] += len(req.output_ids)
        out = self._emit(req, list(token_ids), text, finished=True, finish_reason=reason, error=error,
                         logprobs=logprobs, **final)  # fmt: skip
        self._events.append(RequestEvent(
            self._totals["finished"], req.request_id, req.task, reason, len(req.prompt_ids), len(req.output_ids),
            out.queue_wait_s, out.ttft_s, time.perf_counter() - req.arrival, req.num_preemptions,
        ))
        return out

    def _apply_cancels(self) -> list[TokenOutput]:
        """Lock held."""
        cancels, self._cancels = self._cancels, set()
        return [self._finish(self._requests[i], "cancelled") for i in cancels if i in self._requests]

    def _cancel(self, request_id: str) -> None:
        with self._lock:
            self._cancels.add(request_id)
            self._work.notify()

    def _wake(self) -> None:
        with self._lock:
            self._work.notify()

    def _step_or_wait(self) -> None:
        ran, outputs = self._step()
        if not ran and not outputs:  # nothing to run: requests wait for a LUT load, whose end notifies us
            with self._lock:
                self._work.wait(timeout=0.05)

    def _loop(self) -> None:
        while True:
            with self._lock:
                idle = False
                while not (self._requests or self._cancels or self._stopping or self._flight is not None):
                    if self.runner.idle_work():  # captures left for an idle moment: one now (~80 ms at 7B)
                        idle = True
                        break
                    self._work.wait()
                if self._stopping and not self._requests and not self._cancels and self._flight is None:
                    return
            if idle:
                self.runner.capture_one_pending()
            else:
                self._step_or_wait()

    def _record_step(self, plan: SchedulerOutput, steps: int, duration: float) -> None:
        prefill = sum(len(c.token_ids) for c in plan.prefills)
        with self._lock:
            decoded = len(plan.decodes) * steps
            self._steps.append(StepStats(len(plan.chunks), plan.num_tasks, prefill, decoded, duration, steps))
            self._totals["steps"] += 1

    def _tokenize(self, prompt: str | list[int]) -> list[int]:
        if isinstance(prompt, str):
            if self.tokenizer is None:
                raise InvalidParamsError("this engine has no tokenizer: pass the prompt as token ids")
            ids = list(self.tokenizer.encode(prompt))
        else:
            ids = list(prompt)
        vocab = self.model_config.vocab_size
        if not ids:
            raise InvalidParamsError("the prompt is empty")
        if not all(isinstance(t, int) and 0 <= t < vocab for t in ids):
            raise InvalidParamsError(f"prompt token ids must be ints in [0, {vocab})")
        return ids

    def _resolve(self, task: str, version: int | None = None):
        """task -> (task, version) of its latest stored LUT (or of version, one it keeps), or the base (version 0)."""
        if task == BASE_TASK:
            if version not in (None, BASE_KEY[1]):
                raise UnknownVersionError(f"the base model {BASE_TASK!r} has one version, {BASE_KEY[1]}")
            return BASE_KEY
        try:
            check_task_id(task)
        except InvalidTaskIdError as e:
            raise InvalidParamsError(str(e)) from e
        latest = self.store.latest(task) if self.store is not None else None
        if latest is None:
            raise UnknownTaskError(unknown_task_message(task))
        if version is not None and version != latest.version:
            if not self.store.has_version(task, version):
                kept = ", ".join(str(v.version) for v in self.store.versions(task))
                raise UnknownVersionError(f"version {version} of task {task!r} is not stored (the kept versions: "
                                          f"{kept})")  # fmt: skip
            return (task, version)
        return (task, latest.version)

    def _kv_budget(self) -> int:
        if self.config.cache.kv_cache_bytes:
            return self.config.cache.kv_cache_bytes
        if self.device.type != "cuda":
            return CPU_KV_BYTES
        free, _ = torch.cuda.mem_get_info(self.device)
        return int(free * self.config.cache.gpu_memory_fraction)
