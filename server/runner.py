"""The model runner: turns a SchedulerOutput into tensors, runs the model, samples. Never touches queues.

Flat batch of one step (decodes first, ordered by slot, then prefill chunks):

    input_ids      [T]   token of each row
    positions      [T]   its position in its sequence
    slot_of_token  [T]   int32 LUT pool slot of its request's task
    slot_mapping   [T]   int64 flat KV row it writes (block * block_size + position % block_size)
    decode_block_tables [Bd, nb] / decode_context_lens [Bd]; one PrefillSpan per prefill chunk
    logits_indices [R]   last row of each chunk that samples, then (prompt_logprobs) every scored prompt row

All of them travel as views of two device buffers (StepArgs): two host-to-device copies a step.

On CUDA a step of at most cuda_graph_max_batch tokens replays a CUDA graph captured for its (padded batch size,
padded block-table width); padding rows decode token 0 against the null block in the last real row's slot. A step
with prefill chunks enters it as decode rows (as_decode_rows): one row per chunk token, attending to the cache up to
itself.
A larger step of decode rows and up to eight tasks' chunks replays the piecewise prefill graphs
(server/prefill_graphs.py: every layer's work but attention); any other step runs eagerly. A multi-step decode
plan (SchedulerOutput.decode_steps > 1) runs its steps back to back, each step's tokens drawn on the device and
written into the next step's input ids, with one read-back at the end (decode_steps).

launch() returns a Flight: a plan whose rows all draw on the device (no logprobs, penalties, JSON mode, prompt
scoring) leaves its tokens there until Flight.collect reads them back, so the engine can schedule and launch the
next plan first (overlapped scheduling). That plan's rows of the same requests are `fed` chunks: prepare copies
their tokens from the Flight's last drawn tokens (its Feed) into the input ids on the device. Nothing in a launch
waits for the device: the inputs travel from page-locked staging buffers (a copy from pageable memory would wait
for the plan before).
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from kernels import SlotSegments
from server.config import EngineConfig
from server.kv_cache import NULL_BLOCK, KVCache
from server.model import AttentionMeta, LutProjection, PrefillSpan, Transformer, fused_ops_for
from server.prefill_graphs import PieceKey, PrefillGraphs, kernel_class
from server.sampling import TokenLogprob, draw_on_device, sample, token_logprobs
from server.scheduler import ScheduledChunk, SchedulerOutput

log = logging.getLogger(__name__)

GRAPH_BATCH_SIZES = (1, 2, 4, 8, 16, 24, 32, 48, 64, 96, 128, 192, 256)


@dataclass
class RunnerOutput:
    """The token sampled for every chunk that samples, by request id; its log-probabilities where asked for; and
    for chunks that score their prompt, (the position of the first token scored, one TokenLogprob per token)."""

    sampled: dict[str, int]
    logprobs: dict[str, TokenLogprob] = field(default_factory=dict)
    prompt_logprobs: dict[str, tuple[int, list[TokenLogprob]]] = field(default_factory=dict)
    more: dict[str, list[int]] = field(default_factory=dict)  # a multi-step decode's later tokens, by request id
    steps: int = 1  # model steps run (a multi-step decode stopped early runs fewer than its plan's)


@dataclass(frozen=True)
class Feed:
    """A launched plan's last drawn tokens on the device, [R] int64, and each request's row in them: the input of the
    next plan's fed chunks."""

    tokens: torch.Tensor
    rows: dict[str, int]


@dataclass
class Flight:
    """A launched plan (ModelRunner.launch). result: its output, already on the host (a plan whose sampling needs
    the host); otherwise its tokens were drawn on the device (drawn: per step, [R] int64 in `order`'s rows, a request
    id each) and are copied into page-locked host memory behind the plan (host, then the event `ready`), which
    collect() waits for. Not a plain .tolist() there: that copy would queue behind the next plan, launched
    meanwhile, and wait for it too."""

    plan: SchedulerOutput
    steps: int
    result: RunnerOutput | None = None
    drawn: list[torch.Tensor] = field(default_factory=list)
    order: list[str] = field(default_factory=list)
    host: torch.Tensor | None = None  # [R, steps] int64, filled once `ready` has passed
    ready: torch.cuda.Event | None = None

    @classmethod
    def on_device(cls, plan: SchedulerOutput, drawn: list[torch.Tensor], order: list[str]) -> Flight:
        """A plan whose tokens (drawn, per step) stay on the device: their copy to the host is queued now."""
        tokens = torch.stack(drawn, dim=1)  # [R, steps]
        if not tokens.is_cuda:
            return cls(plan, len(drawn), drawn=drawn, order=order, host=tokens)
        host = torch.empty(tokens.shape, dtype=tokens.dtype, pin_memory=True)
        host.copy_(tokens, non_blocking=True)
        ready = torch.cuda.Event()
        ready.record()
        return cls(plan, len(drawn), drawn=drawn, order=order, host=host, ready=ready)

    @property
    def feed(self) -> Feed | None:
        """The tokens the next plan's fed chunks take (None: the result is on the host, nothing is fed)."""
        if self.result is not None:
            return None
        return Feed(self.drawn[-1], {request_id: i for i, request_id in enumerate(self.order)})

    def collect(self) -> RunnerOutput:
        """The plan's output; waits for the device the first time if its tokens are still there."""
        if self.result is None:
            if self.ready is not None:
                self.ready.synchronize()  # the one wait for the device: up to this plan's copy, not beyond
            tokens = self.host.tolist()  # [R, steps]
            more = {i: t[1:] for i, t in zip(self.order, tokens, strict=True)} if self.steps > 1 else {}
            self.result = RunnerOutput({i: t[0] for i, t in zip(self.order, tokens, strict=True)}, more=more,
                                       steps=self.steps)  # fmt: skip
        return self.result


class HostStaging:
    """Page-locked buffers (a ring of `depth`, grown as needed) through which lists of ints reach the device without
    waiting for it: a copy from pageable memory waits for every kernel already queued on the stream, which under
    overlapped scheduling is the whole plan before. A buffer is reused only after its last copy ended (an event).
    On the CPU the tensor itself is returned."""

    def __init__(self, device: torch.device, depth: int = 8) -> None:
        self.device, self.depth = device, depth
        self.ring: list[tuple[torch.Tensor, torch.cuda.Event] | None] = [None] * depth
        self.next = 0

    def to_device(self, values: list[int], dtype: torch.dtype) -> torch.Tensor:
        host = torch.tensor(values, dtype=dtype)
        if self.device.type != "cuda":
            return host.to(self.device)
        i, self.next = self.next, (self.next + 1) % self.depth
        entry = self.ring[i]
        nbytes = host.numel() * host.element_size()
        if entry is None or entry[0].numel() < nbytes:
            entry = (torch.empty(max(nbytes, 1 << 16), dtype=torch.uint8, pin_memory=True), torch.cuda.Event())
            self.ring[i] = entry
        else:
            entry[1].synchronize()  # its last copy has ended (at once, but for a ring lapped within one plan)
        buffer, copied = entry
        staged = buffer[:nbytes].view(dtype)
        staged.copy_(host)
        out = staged.to(self.device, non_blocking=True)
        copied.record()
        return out


def slot_runs(chunks: list[ScheduledChunk], slot_of_token: torch.Tensor, min_run: int) -> SlotSegments | None:
    """The chunks' tokens (consecutive, in order) as maximal runs of one slot, or None if none has min_run tokens."""
    slots, counts = [], []
    for c in chunks:
        if slots and slots[-1] == c.slot:
            counts[-1] += len(c.token_ids)
        else:
            slots.append(c.slot)
            counts.append(len(c.token_ids))
    if max(counts, default=0) < min_run:
        return None
    return SlotSegments.from_counts(slots, counts, slot_of_token.device, per_token=slot_of_token)


def as_decode_rows(plan: SchedulerOutput) -> tuple[list[ScheduledChunk], list[int]] | None:
    """The step as one-token decode rows, ordered by slot, every row computing logits; and, for each chunk that
    samples (in plan.chunks order), the row whose logits it samples from. None when a chunk scores its prompt
    (prompt_logprobs needs the prefill form's rows).

    A prefill chunk's token i becomes a row at position start_pos + i with context start_pos + i + 1 over the
    chunk's block table. Each layer writes every row's K/V into the cache before any row attends
    (model.Attention), so a row sees the chunk's earlier tokens as cached context: the prefill chunk's causal
    attention, computed by the decode kernel."""
    if any(c.prompt_targets for c in plan.chunks):
        return None
    rows: list[ScheduledChunk] = []
    picks: list[int] = []
    for c in plan.chunks:
        if len(c.token_ids) == 1 and c.sample:
            rows.append(c)
        else:
            rows += [dataclasses.replace(c, token_ids=[t], start_pos=c.start_pos + i, sample=True)
                     for i, t in enumerate(c.token_ids)]  # fmt: skip
        if c.sample:
            picks.append(len(rows) - 1)
    order = sorted(range(len(rows)), key=lambda r: rows[r].slot)  # stable: one task's tokens side by side
    new_index = {r: i for i, r in enumerate(order)}
    return [rows[r] for r in order], [new_index[r] for r in picks]


class ModelRunner:
    def __init__(
        self, model: Transformer, kv_cache: KVCache, num_slots: int, config: EngineConfig, device: torch.device,
        base_distance: list[float] | None = None,
    ) -> None:
        """base_distance: each slot's LUT distance from the base's (LutPool.base_distance, kept current by the pool),
        for the int8 activation mode's per-step choice (int8_allowed); None: every slot counts as near."""
        self.model, self.kv_cache, self.num_slots, self.device = model, kv_cache, num_slots, device
        self.base_distance, self.int8_max_distance = base_distance, config.int8_max_lut_distance
        self.int8_exact_steps = 0  # steps planned exact in the int8 mode for a task far from the base (int8_allowed)
        self.block_size = kv_cache.block_size
        self.staging = HostStaging(device)
        self._feed: Feed | None = None  # the plan before's tokens, while launch() prepares a plan with fed chunks
        self.graphs: DecodeGraphs | None = None
        if device.type == "cuda" and config.cuda_graphs:
            self.graphs = DecodeGraphs(self, config.cuda_graph_max_batch)
        self.graph_prefill = config.graph_prefill
        self.prefill_graphs: PrefillGraphs | None = None
        if self.graphs is not None and config.prefill_graphs:
            self.prefill_graphs = PrefillGraphs(self, config.scheduler.max_num_batched_tokens,
                                                self.graphs.batch_sizes, DecodeGraphs.task_classes,
                                                self.graphs.pool)  # fmt: skip
        if device.type == "cuda" and config.tune_at_start:
            warm_up_kernels(model, kv_cache, config.scheduler.max_num_batched_tokens, num_slots)
        if self.prefill_graphs is not None and config.tune_at_start:
            start = time.perf_counter()
            captured = self.prefill_graphs.capture_lone_prompts()
            log.info("prefill graphs of %d prompt sizes captured in %.1f s", captured, time.perf_counter() - start)

    @torch.inference_mode()
    def launch(
        self,
        plan: SchedulerOutput,
        feed: Feed | None = None,
        stop_early: Callable[[], bool] | None = None,
        after_first: Callable[[], None] | None = None,
        on_device: bool = False,
    ) -> Flight:
        """Launch the plan's step (or steps: decode_steps); Flight.collect reads its tokens back. stop_early: asked
        between a multi-step decode's steps; True ends the plan there (a request arrived that could start). feed: the
        plan before's tokens, for the plan's fed chunks.
        after_first: called once the first step is queued on the device (the engine reads the plan before back
        there, while the GPU works). on_device: leave the tokens on the device where every sampling row allows it
        (Flight.collect reads them); otherwise, and always for a plan that scores prompts or samples on the host,
        the Flight holds the result."""
        chunks = plan.chunks
        for c in chunks:  # checked here, on the host: the op itself must not sync
            if not 0 <= c.slot < self.num_slots:
                raise ValueError(f"request {c.request_id} has LUT slot {c.slot}, the pool has {self.num_slots}")
        slots = {c.slot for c in chunks}
        self.model.kernel_hints.num_tasks = len(slots)  # known here: no device read-back
        self.model.kernel_hints.int8 = self.int8_allowed(slots)
        if self.model.int8_activations and not self.model.kernel_hints.int8:
            self.int8_exact_steps += max(1, plan.decode_steps)
        self._feed = feed
        try:
            if plan.decode_steps > 1:
                flight = self.decode_steps(plan, stop_early, after_first)
                return flight if on_device else Flight(plan, flight.steps, flight.collect())
            return self._launch_step(plan, after_first, on_device)
        finally:
            self._feed = None

    def _launch_step(
        self, plan: SchedulerOutput, after_first: Callable[[], None] | None, on_device: bool
    ) -> Flight:
        chunks = plan.chunks
        graph_rows = self.graph_rows(plan)
        if graph_rows is not None:
            rows, picks = graph_rows
            logits = self.pick_rows(self.graphs.run(rows), picks)  # [len(picks), V]: sampling rows, plan order
        elif (key := self.prefill_graph_key(plan)) is not None:
            logits = self.prefill_graphs.run(plan, key)
        else:
            logits = self.eager(plan.decodes + plan.prefills, self.prepare(plan.decodes, plan.prefills))
        sampling = [c for c in chunks if c.sample]
        if on_device and all(c.params.draws_on_device and not c.prompt_targets and not c.banned_ids for c in chunks):
            drawn = draw_on_device(logits[: len(sampling)], [c.params for c in sampling],
                                   [c.generator for c in sampling])  # fmt: skip
            flight = Flight.on_device(plan, [drawn], [c.request_id for c in sampling])
            if after_first is not None:
                after_first()
            return flight
        if after_first is not None:
            after_first()
        sampled = sample(logits[: len(sampling)], [c.params for c in sampling], [c.generator for c in sampling],
                         [c.history for c in sampling], [c.constraint for c in sampling],
                         [c.banned_ids for c in sampling])  # fmt: skip
        return Flight(plan, 1, RunnerOutput(
            {c.request_id: t for c, t in zip(sampling, sampled.tokens, strict=True)},
            {c.request_id: lp for c, lp in zip(sampling, sampled.logprobs, strict=True) if lp is not None},
            score_prompts([c for c in chunks if c.prompt_targets], logits[len(sampling) :]),
        ))  # fmt: skip

    def decode_steps(
        self,
        plan: SchedulerOutput,
        stop_early: Callable[[], bool] | None = None,
        after_first: Callable[[], None] | None = None,
    ) -> Flight:
        """A multi-step decode: plan.decodes run plan.decode_steps steps back to back, each step's tokens drawn on
        the device and fed to the next, and the host waits once, for all of them (scheduler._extend_decodes says
        which plans). The host builds and sends the first step's inputs only; each later step's are the step
        before's, advanced on the device (advance_decodes): no host work and no copy from pageable memory (which
        would wait for the stream) between the steps.

        Before launching step i >= 2 the host waits for step i - 2 to end (step i - 1 keeps the GPU busy), then
        asks stop_early: a request that arrived meanwhile waits at most about two steps, not the whole plan. The
        Flight holds the drawn tokens on the device (Flight.collect reads them back)."""
        decodes, graphs = plan.decodes, self.graphs
        if graphs is not None and not graphs.supports(len(decodes)):
            graphs = None
        key, args = graphs.prepare(decodes) if graphs is not None else (None, self.prepare(decodes, []))
        params, generators = [c.params for c in decodes], [c.generator for c in decodes]
        drawn: list[torch.Tensor] = []
        ended: list[torch.cuda.Event] = []  # CUDA: each launched step's end
        for _ in range(plan.decode_steps):
            if drawn and stop_early is not None:
                if len(ended) >= 2:
                    ended[-2].synchronize()
                if stop_early():
                    break
            if drawn:
                advance_decodes(args, drawn[-1], self.block_size)
            logits = graphs.replay(key, args) if graphs is not None else self.eager(decodes, args)
            drawn.append(draw_on_device(logits[: len(decodes)], params, generators))
            if stop_early is not None and self.device.type == "cuda":
                ended.append(torch.cuda.Event())
                ended[-1].record()
            if len(drawn) == 1 and after_first is not None:
                after_first()
        return Flight.on_device(plan, drawn, [c.request_id for c in decodes])

    def int8_allowed(self, slots: set[int]) -> bool:
        """Whether a step over these LUT slots may take the int8 activation kernel (EngineConfig.int8_activations):
        every slot's LUT set lies within int8_max_lut_distance of the base's. The mode's error on a projection is
        its one-digit rounding times (W_task - W_base), so a task far from the base (or a LUT that is no fine-tune
        of it) makes its steps exact instead."""
        if not self.model.int8_activations:
            return False
        distance = self.base_distance
        return distance is None or all(distance[s] <= self.int8_max_distance for s in slots)

    def eager(self, chunks: list[ScheduledChunk], args: StepArgs) -> torch.Tensor:
        """The model's logits of a step run without graphs; chunks: the step's, in prepare's order."""
        self.model.kernel_hints.segments = self.segments_of(chunks, args.slot_of_token)
        try:
            return self.forward(*args)
        finally:
            self.model.kernel_hints.segments = None

    def pick_rows(self, logits: torch.Tensor, picks: list[int]) -> torch.Tensor:
        """logits[picks] without waiting for the GPU: a slice when picks are the leading rows in order, else an index
        copied through the page-locked staging buffers (a Python list index is copied synchronously, after the whole
        graph)."""
        if picks == list(range(len(picks))):
            return logits[: len(picks)]
        return logits.index_select(0, self.staging.to_device(picks, torch.int64))

    def graph_rows(self, plan: SchedulerOutput) -> tuple[list[ScheduledChunk], list[int]] | None:
        """as_decode_rows(plan) where the step replays a graph: its tokens fit the largest graph, and it has no
        prefill chunk or graph_prefill is on. None: the step runs eagerly."""
        graphs = self.graphs
        if graphs is None or not plan.chunks or not graphs.supports(plan.num_tokens):
            return None
        if plan.prefills and not self.graph_prefill:
            return None
        return as_decode_rows(plan)

    def idle_work(self) -> bool:
        """Whether capture_one_pending has something to do (the engine asks when it has nothing to run)."""
        return self.prefill_graphs is not None and bool(self.prefill_graphs.pending)

    def capture_one_pending(self) -> None:
        """Capture one prefill-graph key that ran once (PrefillGraphs.capture_pending): while the engine is idle, so
        that no request waits for it."""
        if self.prefill_graphs is None:
            return
        try:
            self.prefill_graphs.capture_pending()
        except Exception as e:  # noqa: BLE001 - an optimisation: such steps run eagerly instead
            log.warning("prefill graph capture failed (%s); prefill steps run eagerly from now on", e)
            self.prefill_graphs.failed = True

    def prefill_graph_key(self, plan: SchedulerOutput) -> PieceKey | None:
        """The prefill graphs' key of a step that graph_rows left eager, or None: it runs eagerly."""
        return None if self.prefill_graphs is None else self.prefill_graphs.key_for(plan)

    def segments_of(self, chunks: list[ScheduledChunk], slot_of_token: torch.Tensor) -> SlotSegments | None:
        """The step's tokens (in prepare's order) as runs of one slot, for the CUDA op: runs of DENSE_MIN_TOKENS
        or more take the dense prefill path, and the fused prefill kernel takes the tokens in this order instead
        of sorting the slots on every projection call (~40 us of host time each on the H200). None on the CPU
        (its own dense-weight path)."""
        if self.device.type != "cuda":
            return None
        return slot_runs(chunks, slot_of_token, min_run=1)

    def forward(
        self, input_ids, positions, slot_of_token, meta: AttentionMeta, logits_indices: torch.Tensor
    ) -> torch.Tensor:
        return self.model(input_ids, positions, slot_of_token, meta, self.kv_cache.layers, logits_indices)

    def prepare(
        self,
        decodes: list[ScheduledChunk],
        prefills: list[ScheduledChunk],
        pad_to: tuple[int, int] = (0, 0),
        pad_points: tuple[tuple[int, int, int], ...] = (),
        logits_order: list[ScheduledChunk] | None = None,
    ) -> StepArgs:
        """Host lists -> device tensors (StepArgs: views of one int64 and one int32 buffer, two host-to-device
        copies a step).

        pad_to = (batch, blocks): decode rows up to batch, right after the real ones (token 0 at position 0 of the
        null block, the last real row's slot: no task added), each with a logits row after the sampled rows; block
        tables at least blocks wide. For a decode-only step (a decode graph).
        pad_points: ((chunks, rows, slot), ...): after the first `chunks` prefill chunks, rows of slot `slot` up to
        `rows` rows in all (null-block rows: no logits, no attention; the prefill graphs' padding).
        logits_order: the chunks in the order of their sampled rows' logits (default: decodes, then prefills).
        A fed chunk's token (a placeholder on the host) is copied in on the device from the Feed of launch()."""
        if pad_to[0] and prefills:
            raise ValueError("only a decode-only batch is padded to a decode batch size")
        bs = self.block_size
        ids, pos, slots, rows, scored_rows, last_row = [], [], [], [], [], {}
        fed_rows, fed_from = [], []  # rows whose token the plan before draws on the device, and its row there
        width = max([len(c.block_ids) for c in decodes] + [pad_to[1], 1])
        tables = [c.block_ids + [NULL_BLOCK] * (width - len(c.block_ids)) for c in decodes]
        context_lens = [c.start_pos + 1 for c in decodes]

        def add(chunk: ScheduledChunk) -> None:
            if chunk.prompt_targets:
                scored_rows.extend(range(len(ids), len(ids) + len(chunk.prompt_targets)))
            if chunk.fed:
                if self._feed is None or chunk.request_id not in self._feed.rows:
                    raise RuntimeError(f"request {chunk.request_id}'s token is pending, but no plan before drew it")
                fed_rows.append(len(ids))
                fed_from.append(self._feed.rows[chunk.request_id])
            for i, tok in enumerate(chunk.token_ids):
                p = chunk.start_pos + i
                ids.append(tok)
                pos.append(p)
                slots.append(chunk.slot)
                rows.append(chunk.block_ids[p // bs] * bs + p % bs)
            last_row[id(chunk)] = len(ids) - 1

        def add_padding(up_to: int, slot: int) -> None:
            for _ in range(up_to - len(ids)):
                ids.append(0)
                pos.append(0)
                slots.append(slot)
                rows.append(NULL_BLOCK * bs)

        for c in decodes:
            add(c)
        padding_logits = list(range(len(ids), len(ids) + max(0, pad_to[0] - len(decodes))))
        # the last real row's slot: the decode kernels' cost grows with the distinct slots of a step, and slot 0 for
        # padding made a one-task batch of 12 rows (padded to 16) pay for two tasks (7.8 against 5.2 ms a step, H200)
        add_padding(pad_to[0], slots[-1] if slots else 0)
        tables += [[NULL_BLOCK] * width] * len(padding_logits)
        context_lens += [1] * len(padding_logits)
        spans = []
        for i, c in enumerate(prefills):
            for chunks, up_to, slot in pad_points:
                if chunks == i:
                    add_padding(up_to, slot)
            n = len(c.token_ids)
            spans.append((len(ids), n, c.start_pos + n, len(c.block_ids)))
            add(c)
        for chunks, up_to, slot in pad_points:
            if chunks == len(prefills):
                add_padding(up_to, slot)
        sampled = [last_row[id(c)] for c in (decodes + prefills if logits_order is None else logits_order) if c.sample]
        logits_rows = sampled + padding_logits + scored_rows  # _launch_step splits sampled and scored rows there
        layout = StepLayout(len(ids), len(tables), width, len(logits_rows), tuple(spans))
        flat_tables = [b for t in tables for b in t]
        prefill_tables = [b for c in prefills for b in c.block_ids]
        # Through page-locked staging buffers (kept, not allocated per step: that cost ~65 us a buffer on the H200
        # host): a step may be prepared while the plan before still runs (overlapped scheduling).
        staging = self.staging
        args = StepArgs(layout, staging.to_device(ids + pos + rows + flat_tables + logits_rows + prefill_tables,
                                                  torch.int64),
                        staging.to_device(slots + context_lens, torch.int32))  # fmt: skip
        if fed_rows:
            index = staging.to_device(fed_rows + fed_from, torch.int64)
            n = len(fed_rows)
            args.input_ids.index_copy_(0, index[:n], self._feed.tokens.index_select(0, index[n:]))
        return args


@dataclass(frozen=True)
class StepLayout:
    """The sizes of a step's tensors inside StepArgs' two buffers: tokens T, decode rows B (with padding), block
    table width, logits rows R, and per prefill chunk (start row, tokens, context length, blocks)."""

    tokens: int
    decodes: int
    width: int
    logits_rows: int
    spans: tuple[tuple[int, int, int, int], ...] = ()


@dataclass
class StepArgs:
    """A step's model inputs as views of two device buffers (StepLayout says where each is):

    packed64 = input_ids [T] | positions [T] | slot_mapping [T] | decode_block_tables [B * width]
               | logits_indices [R] | each prefill chunk's block table
    packed32 = slot_of_token [T] | decode_context_lens [B]

    Two host-to-device copies per step (seven or more as separate tensors), and a CUDA graph's static inputs are
    refreshed by two copy_ calls (StepArgs.copy_from)."""

    layout: StepLayout
    packed64: torch.Tensor
    packed32: torch.Tensor

    @functools.cached_property
    def _views(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, AttentionMeta, torch.Tensor]:
        """(input_ids, positions, slot_of_token, meta, logits_indices), made on first use: a graph replay only
        copies the buffers, so its per-step inputs never pay for a dozen views."""
        t, b, w, r = self.layout.tokens, self.layout.decodes, self.layout.width, self.layout.logits_rows
        p64, p32 = self.packed64, self.packed32
        slot_mapping, tables = p64[2 * t : 3 * t], p64[3 * t : 3 * t + b * w].view(b, w)
        spans, offset = [], 3 * t + b * w + r
        for start, n, ctx, blocks in self.layout.spans:
            spans.append(PrefillSpan(start, n, ctx, p64[offset : offset + blocks]))
            offset += blocks
        meta = AttentionMeta(slot_mapping, b, tables, p32[t : t + b], spans)
        return p64[:t], p64[t : 2 * t], p32[:t], meta, p64[3 * t + b * w : 3 * t + b * w + r]

    def __iter__(self):
        """The model's positional arguments: input_ids, positions, slot_of_token, meta, logits_indices."""
        return iter(self._views)

    @property
    def input_ids(self) -> torch.Tensor:
        return self._views[0]

    @property
    def positions(self) -> torch.Tensor:
        return self._views[1]

    @property
    def slot_of_token(self) -> torch.Tensor:
        return self._views[2]

    @property
    def meta(self) -> AttentionMeta:
        return self._views[3]

    @property
    def logits_indices(self) -> torch.Tensor:
        return self._views[4]

    def clone(self) -> StepArgs:
        return StepArgs(self.layout, self.packed64.clone(), self.packed32.clone())

    def copy_from(self, other: StepArgs) -> None:
        """Another step's inputs of the same layout into these buffers (a graph's static inputs)."""
        if other.layout != self.layout:
            raise ValueError(f"step layout {other.layout} does not match {self.layout}")
        self.packed64.copy_(other.packed64)
        self.packed32.copy_(other.packed32)


def advance_decodes(args: StepArgs, tokens: torch.Tensor, block_size: int) -> None:
    """A decode-only step's inputs -> the next step's, in place on the device (a multi-step decode's later steps):
    the first len(tokens) rows (the real decode rows; padding rows stay on the null block) take tokens [B] at one
    position on, one more cached token each, and the KV row of that position from their block tables (grown for every
    step of the plan when it was scheduled): what ModelRunner.prepare gives for those rows one position on."""
    rows = tokens.shape[0]
    ids, positions, _, meta, _ = args
    ids[:rows].copy_(tokens)
    positions[:rows] += 1
    meta.decode_context_lens[:rows] += 1
    p = positions[:rows]
    blocks = meta.decode_block_tables[:rows].gather(1, (p // block_size).unsqueeze(1)).squeeze(1)
    meta.slot_mapping[:rows] = blocks * block_size + p % block_size


def score_prompts(chunks: list[ScheduledChunk], logits: torch.Tensor) -> dict[str, tuple[int, list[TokenLogprob]]]:
    """logits [R, V]: the rows of the chunks' scored prompt tokens, in order -> per request, (the position of the
    first prompt token scored, each scored token's TokenLogprob with params.prompt_logprobs alternatives)."""
    out, start = {}, 0
    for c in chunks:
        n = len(c.prompt_targets)
        scored = token_logprobs(logits[start : start + n], c.prompt_targets, [c.params.prompt_logprobs] * n)
        out[c.request_id] = (c.start_pos + 1, scored)
        start += n
    return out


def kernel_tuning_plan(
    token_budget: int,
    num_slots: int,
    task_classes: Callable[[int], tuple[int, ...]],
    decode_max: int = 64,
    odd_sizes: tuple[int, ...] = (),
) -> list[tuple[int, int]]:
    """(tokens, distinct tasks) of the op calls that make the autotuner visit every kernel shape a server meets. The
    op's shape key rounds the token count up to a power of two, and any step up to the token budget can occur (a
    mixed step: decodes plus a prefill chunk), so: each power of two up to decode_max (the op's decode kernels) with
    one task (the gather kernel) and, where the pool has the slots, with each count from which another decode kernel
    serves (task_classes(tokens): the few-task class's and the bucket kernel's; none: the kernel is fixed), then each
    power of two above it (the prefill kernel), all up to the token budget rounded up. Then odd_sizes (the decode
    graphs' batch sizes that are not powers of two, up to decode_max and the largest entry), the same way: their
    configs are the power of two's above them, but the bucket kernel specializes on the token count (a multiple of
    16 or not), so their first calls compile. Last, for each of the bucket kernel's tile heights that no entry calls
    at a count not a multiple of 16, such a count."""
    plan, tokens = [], 1

    def add(tokens: int) -> None:
        plan.append((tokens, 1))
        for tasks in task_classes(tokens) if tokens <= decode_max else ():
            if 1 < tasks <= min(tokens, num_slots):
                plan.append((tokens, tasks))

    while tokens < 2 * token_budget:  # up to the budget rounded up to a power of two
        add(tokens)
        tokens *= 2
    largest = min(decode_max, plan[-1][0])
    for size in odd_sizes:
        if size <= largest and size & (size - 1):
            add(size)
    # The bucket kernel's variant per class of the token count, for each of its tile heights (BLOCK_M, the power
    # of two >= 16 above the count): eager steps give it any count, e.g. 37 decodes and prompt tokens, whose first
    # call compiled at M = 33..63 (fourteenth session) while the plan held only multiples of 16 there.
    power = 16
    while power <= largest:
        classes = task_classes(power - 4)
        threshold = classes[-1] if classes else None  # the bucket kernel's (the last class)
        if threshold is not None and 1 < threshold <= min(power - 4, num_slots):
            if not any(power // 2 < t <= power and t % 16 and tasks >= threshold for t, tasks in plan):
                plan.append((power - 4, threshold))
        power *= 2
    return plan


def warm_up_kernels(model: Transformer, kv_cache: KVCache, token_budget: int, num_slots: int) -> None:
    """Compile and tune, before the first request, every kernel variant the model's steps launch: each projection
    shape's (tune_kernels) and the paged attention's (warm_up_attention), in each launch mode the steps use
    (triton_common.warm_up_scopes: PDL off, then on where the GPU has it, another compiled variant; without the
    second pass each compiled on its first use after the start: 31 compiles of 0.4-3 s on a fresh H200 machine over
    16 tasks' batches, NOTES.md twenty-first session).

    In each mode the calls first run compiling only, their compiles on a pool of threads (kernels/compile_ahead.py),
    then for real: the autotuner times its candidates compiled, and the PDL mode's compiles meet the choices the
    first mode made. A fresh H200 machine started the 7B-shaped engine in 24.2 s against 79.0 compiling one after
    another (NOTES.md, twenty-second session)."""
    from kernels.compile_ahead import compile_ahead  # imports triton (installed everywhere; only CUDA runs it)
    from kernels.triton_common import warm_up_scopes

    fused = fused_ops_for(model.embed_tokens)  # (its self-check first: it reads kernels' outputs)
    for pdl in warm_up_scopes(model.embed_tokens.device):
        start = time.perf_counter()
        with compile_ahead() as ahead:
            if ahead:
                _warm_up_calls(model, kv_cache, token_budget, num_slots, fused, pdl)
        if ahead:
            log.info("start-up kernels (PDL %s) compiled in %.1f s", "on" if pdl else "off",
                     time.perf_counter() - start)  # fmt: skip
        _warm_up_calls(model, kv_cache, token_budget, num_slots, fused, pdl)


def _warm_up_calls(model: Transformer, kv_cache: KVCache, token_budget: int, num_slots: int, fused, pdl: bool) -> None:
    try:
        tune_kernels(model, token_budget, num_slots, pdl)
    except Exception as e:  # noqa: BLE001 - an optimisation: the shapes left tune on first use instead
        log.warning("start-up kernel tuning stopped (%s); the remaining shapes tune on first use", e)
    if fused is not None:
        fused.warm_up_attention(*kv_cache.layers[0], model.config.num_heads)


@torch.inference_mode()
def tune_kernels(model: Transformer, token_budget: int, num_slots: int, pdl: bool = False) -> None:
    """One call of each distinct projection shape per kernel_tuning_plan entry, on random activations (and the
    prefill sizes again in runs of one slot, as eager steps give them to the op): the
    autotuner times its candidates on a first call and caches the choice per GPU (kernels/autotune.py), so a
    second start only runs these calls (milliseconds). Tokens take slots 0, 1, ... in turn: slot 0 holds the base
    LUT (the others are zero until tasks load), so the autotuner's check of each candidate against the default
    config's output compares real values on those tokens.

    In the launch mode of the call (warm_up_kernels calls it in each); pdl: the calls are for the PDL mode, which
    only the decode kernels take, so the prefill-sized calls are left out."""
    from kernels import autotune, triton_ops  # import triton (installed everywhere; only CUDA runs it)

    shapes = {}
    for module in model.modules():
        if isinstance(module, LutProjection):
            shapes.setdefault((tuple(module.codes_packed.shape), module.bits, module.gpr), module)
    before = autotune.tuning_stats()
    hints, device = model.kernel_hints, model.embed_tokens.device
    dtype = model.embed_tokens.dtype
    try:
        plan = kernel_tuning_plan(token_budget, num_slots, DecodeGraphs.task_classes, triton_ops.DECODE_MAX_M,
                                  GRAPH_BATCH_SIZES)  # fmt: skip
        calls = _tuning_calls(plan, num_slots, triton_ops.DECODE_MAX_M, triton_ops.DENSE_MIN_TOKENS, device,
                              triton_ops.SHORT_SEGMENTS)  # fmt: skip
        for tokens, slots, segments, tasks in [c for c in calls if not pdl or c[0] <= triton_ops.DECODE_MAX_M]:
            hints.num_tasks, hints.segments, hints.int8 = tasks, segments, True
            # in the int8 activation mode, 9-16 rows in both forms (ModelRunner.int8_allowed picks one a step)
            for int8 in (True, False) if model.int8_key(tokens) else (True,):
                hints.int8 = int8
                for proj in shapes.values():
                    proj(torch.randn(tokens, proj.in_features, device=device, dtype=dtype), slots)
    finally:
        hints.num_tasks = hints.segments = None
        hints.int8 = True
    after = autotune.tuning_stats()
    if after["keys"] > before["keys"]:
        log.info("kernels tuned for this GPU: %d shapes, %d candidates in %.1f s (cached for later starts)",
                 after["keys"] - before["keys"], after["candidates"] - before["candidates"],
                 after["seconds"] - before["seconds"])


def _tuning_calls(plan: list[tuple[int, int]], num_slots: int, decode_max: int, dense_min: int,
                  device: torch.device, short_segments: int):  # fmt: skip
    """(tokens, slots [tokens] int32, segments or None, distinct tasks) of tune_kernels' calls: each plan entry with
    its tokens over its tasks in turn; then the prefill sizes again as an eager step gives them, the tokens in runs
    of one slot (runner.segments_of): first three or more runs of more than short_segments (and at least
    dense_min) to 256 tokens where the size holds them (the segment tiles, whose choice per token bucket and class
    of segment length they tune: triton_ops.SHORT_SEGMENTS), then runs
    shorter than dense_min (the segment tiles where the layer suits them, else the prefill kernel without its sort:
    other compiled variants than the calls above, ~1.2 s of compiling in the first step of short prompts of several
    tasks, H200, NOTES.md twelfth session), then one run of all the tokens (the dense path's dequantization
    kernel)."""
    for tokens, tasks in plan:
        yield tokens, (torch.arange(tokens, device=device) % tasks).to(torch.int32), None, tasks

    def runs_of(tokens: int, length: int) -> list[int]:
        return [length] * (tokens // length) + ([tokens % length] if tokens % length else [])

    for tokens in sorted({t for t, _ in plan if t > decode_max}):
        variants = [runs_of(tokens, dense_min // 2), [tokens]]
        # Three or more runs of dense_min to 256 tokens: several tasks' prompt chunks, which take the register-LUT
        # kernel's segment tiles (kernels/triton_ops.py dense_pays). First, so that the tiles' choice for this token
        # bucket is timed on such runs rather than on the short runs' (32-token tiles want other blocks).
        run = max(dense_min, short_segments + 1, min(256, tokens // 4))
        if tokens // run >= 3:
            variants.insert(0, runs_of(tokens, run))
        for counts in variants:
            run_slots = [i % num_slots for i in range(len(counts))]
            slots = torch.repeat_interleave(torch.tensor(run_slots, dtype=torch.int32),
                                            torch.tensor(counts)).to(device)  # fmt: skip
            segments = SlotSegments.from_counts(run_slots, counts, device, per_token=slots)
            yield tokens, slots, segments, len(set(run_slots))


class DecodeGraphs:
    """CUDA graphs of decode steps, captured lazily per (padded batch size, padded block-table width, kernel class,
    int8 activations).

    Widths are powers of two, so a handful of graphs per batch size covers every context length. Inputs are
    copied into static tensors kept per graph; the graphs share one memory pool.
    """

    def __init__(self, runner: ModelRunner, max_batch: int) -> None:
        self.runner = runner
        self.batch_sizes = [b for b in GRAPH_BATCH_SIZES if b <= max_batch]
        self.pool = torch.cuda.graph_pool_handle()
        self.graphs: dict[tuple[int, int, int, bool], tuple[torch.cuda.CUDAGraph, StepArgs, torch.Tensor]] = {}
        self.failed = False

    @staticmethod
    def task_classes(batch: int) -> tuple[int, ...]:
        """The distinct-task counts from which the op takes another decode kernel for a (padded) batch of this size
        (kernels/triton_ops.py task_classes); none when the task count picks nothing (SKETCHSERVE_DECODE_KERNEL=gather
        or bucket): one graph serves every mix."""
        from kernels import triton_ops  # imports triton (installed everywhere; only CUDA runs it)

        return triton_ops.task_classes(batch)

    @staticmethod
    def width_for(blocks: int) -> int:
        """The padded block-table width of a graph whose longest table has this many blocks: the next power of
        two."""
        return 1 << (blocks - 1).bit_length()

    def supports(self, batch: int) -> bool:
        return not self.failed and bool(self.batch_sizes) and batch <= self.batch_sizes[-1]

    def run(self, decodes: list[ScheduledChunk]) -> torch.Tensor:
        return self.replay(*self.prepare(decodes))[: len(decodes)]

    def prepare(self, decodes: list[ScheduledChunk]) -> tuple[tuple[int, int, int, bool], StepArgs]:
        """The graph key of a step of these decode rows, and its inputs (padded to the key's batch and width)."""
        batch = next(b for b in self.batch_sizes if b >= len(decodes))
        width = self.width_for(max(len(c.block_ids) for c in decodes))
        args = self.runner.prepare(decodes, [], pad_to=(batch, width))
        # The decode kernel is chosen from the step's task count at capture and frozen in the graph: one graph per
        # kernel class, so a batch of many tasks never replays a graph captured for few (kernels/triton_ops.py).
        # The int8 activation mode's choice is frozen the same way (model.int8_key).
        model = self.runner.model
        tasks = model.kernel_hints.num_tasks or 1
        return (batch, width, kernel_class(self.task_classes(batch), tasks), model.int8_key(batch)), args

    def replay(self, key: tuple[int, int, int, bool], args: StepArgs) -> torch.Tensor:
        """Logits [batch, V] of the padded batch, through the graph of key (captured on first use)."""
        if key not in self.graphs:
            try:
                self.graphs[key] = self._capture(args)
            except Exception as e:  # noqa: BLE001 - a kernel that cannot be captured: serve eagerly instead
                log.warning("CUDA graph capture failed (%s); decoding eagerly from now on", e)
                self.failed = True
                return self.runner.forward(*args)
        graph, static, logits = self.graphs[key]
        static.copy_from(args)
        graph.replay()
        return logits

    def _capture(self, args: StepArgs) -> tuple[torch.cuda.CUDAGraph, StepArgs, torch.Tensor]:
        static = args.clone()
        self.runner.forward(*static)  # warm-up: kernel compilation, autotuning, lazy allocations
        torch.cuda.synchronize()
        graph = torch.cuda.CUDAGraph()
        # thread_local: the pool's loader thread may copy LUTs on its own stream meanwhile
        with torch.cuda.graph(graph, pool=self.pool, capture_error_mode="thread_local"):
            logits = self.runner.forward(*static)
        return graph, static, logits
