"""CUDA graphs of prefill steps, piecewise: a step's work outside attention as L + 1 graphs, attention eager
between them (after vLLM's piecewise graphs).

Why: an eager step of a few hundred tokens costs ~25-45 ms of host time on the 7B shape (launches and Python of
~30 ops a layer) against ~10 ms of GPU time (benchmarks/NOTES.md, seventh and eighth sessions). Steps of up to
cuda_graph_max_batch tokens replay the decode graphs (runner.as_decode_rows), but above that their per-row paged
attention and the fused prefill kernel cost more than the host time they save. Here attention stays eager (flash
for the chunks, the paged decode kernel for the decode rows: any context length), and the rest of a layer (norms,
projections, RoPE, cache writes, MLP) replays.

Which steps: short rows, then groups of long rows. The short rows are the decode rows and the chunks of the tasks
with the fewest prompt tokens in the step (say the last tokens of one prompt beside the next prompt's head), as many
as fit DECODE_MAX_M, padded to a decode graph size. Every other task's chunks are one long group, padded to a token
bucket of at least DENSE_MIN_TOKENS rows; groups go largest first, at most MAX_LONG_GROUPS of them (a burst of
prompts of different tasks holds the end of one prompt beside the head of the next: two groups). The projections run
the decode kernels on the short rows (each row's slot read on the device) and, on the long rows, the dense path (the
task's weight dequantized once per group, then cuBLAS; one or two groups) or the register-LUT prefill kernel's tiles
of one group each (three groups or more; kernels/triton_ops.py dense_pays), both reading the group's slot on the
device: one graph serves any tasks.
Key: (short rows, each group's rows, the short rows' kernel class): the decode kernel is frozen at capture as in
DecodeGraphs. Other steps (more decode rows, scored prompts) run eagerly. Padding rows write the null block and get
no attention.

Pieces, for layers 0 .. L-1:

    piece 0:      embed, RoPE tables, layer 0 up to attention (norm, q/k/v, RoPE, K/V written to the cache)
    piece i:      layer i-1 after attention (o_proj, residual, MLP), layer i up to attention
    piece L:      layer L-1 after attention
    between:      layer i's attention (eager), into the static attention buffer piece i + 1 reads
    after:        the final norm and lm_head on the sampled rows (eager: their number varies)

Every piece reads and writes one set of static buffers sized for the largest step, shared by all keys (one step
runs at a time): whatever a piece allocates dies inside it, so the graphs' memory pool is reused piece to piece.
A key's first step runs the pieces eagerly (compiling and tuning what it meets, and giving that step's result);
the capture waits for the engine's next idle moment (capture_pending), or for the key's second step if that comes
first. On the H200 (7B, 4 tasks' prompts) a new key's eager step took 70-100 ms against ~45 replayed, and its capture
73-94 ms more: a burst of a new mix of tasks paid 5 captures on its requests' first tokens (mean TTFT 904 ms against
250 ms replayed; benchmarks/NOTES.md, twentieth session). Keys seen once in a burst are captured once it ends.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch.nn.attention import sdpa_kernel

from kernels import SlotSegments
from kernels.compile_ahead import compile_ahead
from kernels.triton_common import pdl_scope
from server.kv_cache import NULL_BLOCK
from server.model import PREFILL_SDPA_BACKENDS, Transformer, fused_ops_for
from server.sampling import SamplingParams
from server.scheduler import ScheduledChunk, SchedulerOutput

log = logging.getLogger(__name__)

# Prefill rows of a graph: a step's chunk tokens are padded up to one of these (those up to the token budget).
PREFILL_BUCKETS = (128, 256, 512, 1024, 2048, 4096, 8192)
# Most tasks on a step's long rows: each group dequantizes every weight once more (~5 ms a step at 7B, 32 layers),
# and each count multiplies the keys to capture. A burst of prompts over more tasks runs eagerly: at 4 tasks of
# ~128 tokens that took 94-223 ms a step on the H200 against ~21 ms for one task (the eager dense path's and the
# straddling fused kernel's cost, NOTES.md nineteenth session), so up to 8.
MAX_LONG_GROUPS = 8

# (padded short rows, each long group's padded rows, the short rows' decode kernel class: runner.kernel_class, the
# int8 activation mode's choice: model.int8_key)
PieceKey = tuple[int, tuple[int, ...], int, bool]


def kernel_class(classes: tuple[int, ...], tasks: int) -> int:
    """The decode kernel class of a batch of this many distinct tasks: how many of the classes' counts (the op's
    task_classes for its size) it reaches. Graphs are captured per class."""
    return sum(tasks >= count for count in classes)


@dataclass
class StaticViews:
    """One key's views of the shared static buffers, rows [0, T): the same objects at every replay (the op matches
    its SlotSegments to slot_of_token by identity)."""

    input_ids: torch.Tensor  # [T] int64
    positions: torch.Tensor  # [T] int64
    slot_mapping: torch.Tensor  # [T] int64
    tokens64: torch.Tensor  # [3, T]: the three above, refreshed by one copy
    slot_of_token: torch.Tensor  # [T] int32
    h: torch.Tensor  # [T, D]
    cos: torch.Tensor  # [T, hd]
    sin: torch.Tensor
    q: torch.Tensor  # [T, H, hd]
    k: torch.Tensor  # [T, Hkv, hd]
    v: torch.Tensor
    attention: torch.Tensor  # [T, H, hd]
    segments: SlotSegments | None = None  # the projections' slot runs: the short rows', then each long group


class PrefillGraphs:
    """Piecewise CUDA graphs of (short rows + up to MAX_LONG_GROUPS tasks' prompt chunks) steps; see the module
    docstring.

    use_graphs=False runs the same pieces eagerly (the CPU's stand-in in tests: the piece split, the padding and
    the static buffers, without capture)."""

    def __init__(
        self,
        runner,
        max_tokens: int,
        decode_sizes: list[int],
        task_classes: Callable[[int], tuple[int, ...]],
        pool=None,
        use_graphs: bool = True,
    ) -> None:
        """runner: the ModelRunner (its model, KV cache and prepare); max_tokens: the step token budget;
        decode_sizes: the decode graphs' batch sizes (short rows are padded to one); task_classes: the distinct
        task counts from which a decode batch of that size takes another decode kernel (DecodeGraphs.task_classes)."""
        from kernels import triton_ops  # imports triton (installed everywhere)

        self.runner, self.task_classes = runner, task_classes
        self.model: Transformer = runner.model
        self.decode_sizes = [b for b in decode_sizes if b <= triton_ops.DECODE_MAX_M]
        self.buckets = [b for b in PREFILL_BUCKETS if b < 2 * max_tokens]  # up to the budget rounded up
        self.pool = pool
        self.use_graphs = use_graphs and self.model.embed_tokens.is_cuda
        self.graphs: dict[PieceKey, list[torch.cuda.CUDAGraph]] = {}
        self.views: dict[PieceKey, StaticViews] = {}
        self.capture_seconds: dict[PieceKey, tuple[float, float]] = {}  # (first step, capture) of each key
        # keys run once, not captured yet -> (first step seconds, the step's kernel_hints.num_tasks)
        self.pending: dict[PieceKey, tuple[float, int | None]] = {}
        self.buffers: dict[str, torch.Tensor] | None = None
        # the groups' tokens are at most the budget, and a group of 64+ tokens pads to less than twice its tokens
        largest_bucket = self.buckets[-1] if self.buckets else 0
        self.max_rows = (self.decode_sizes[-1] if self.decode_sizes else 0) + 2 * largest_bucket
        self.failed = False

    def key_for(self, plan: SchedulerOutput) -> PieceKey | None:
        """(padded short rows, each long group's padded rows, the short rows' kernel class, whether it may take the
        int8 kernel), or None: the step runs eagerly (see split for which chunks are short)."""
        if self.failed or not plan.prefills or not self.buckets or any(c.prompt_targets for c in plan.prefills):
            return None  # scored prompts keep the eager form
        short, groups = self.split(plan)
        short_rows = len(plan.decodes) + sum(len(c.token_ids) for c in short)
        if short_rows and (not self.decode_sizes or short_rows > self.decode_sizes[-1]):
            return None
        if len(groups) > MAX_LONG_GROUPS:
            return None
        pads = tuple(next((b for b in self.buckets if b >= sum(len(c.token_ids) for c in g)), 0) for g in groups)
        s_pad = next(b for b in self.decode_sizes if b >= short_rows) if short_rows else 0
        if 0 in pads or s_pad + sum(pads) > self.max_rows:
            return None
        classes = self.task_classes(s_pad) if short_rows else ()
        short_tasks = {c.slot for c in plan.decodes} | {c.slot for c in short}
        return s_pad, pads, kernel_class(classes, len(short_tasks)), self.model.int8_key()

    def split(self, plan: SchedulerOutput) -> tuple[list[ScheduledChunk], list[list[ScheduledChunk]]]:
        """The step's prefill chunks as (short, long groups), each in plan order: the tasks with the fewest prompt
        tokens join the short rows while the decode rows and they fit the largest decode size; every other task's
        chunks are a group, the groups by prompt tokens, largest first (the largest is always a group)."""
        tokens: dict[int, int] = {}  # slot -> prompt tokens, in plan order
        for c in plan.prefills:
            tokens[c.slot] = tokens.get(c.slot, 0) + len(c.token_ids)
        by_size = sorted(tokens, key=tokens.__getitem__, reverse=True)  # stable: plan order among equals
        room = (self.decode_sizes[-1] if self.decode_sizes else 0) - len(plan.decodes)
        short_slots = set()
        for slot in reversed(by_size[1:]):  # smallest first
            if tokens[slot] > room:
                break
            short_slots.add(slot)
            room -= tokens[slot]
        short = [c for c in plan.prefills if c.slot in short_slots]
        groups = [[c for c in plan.prefills if c.slot == slot] for slot in by_size if slot not in short_slots]
        return short, groups

    def capture_lone_prompts(self) -> int:
        """Capture the keys of steps that only prefill one task (no decode rows), every bucket, with a dummy prompt on
        the null block: the first prompt of each size then replays instead of paying the capture. Returns how many
        keys were captured."""
        bs = self.runner.block_size

        def dummy(p_pad: int) -> SchedulerOutput:  # on the null block: whatever its rows write there is never read
            return SchedulerOutput(prefills=[ScheduledChunk("capture", [0] * p_pad, 0, [NULL_BLOCK] * -(-p_pad // bs),
                                                            0, True, SamplingParams(), None)])  # fmt: skip

        self.model.kernel_hints.int8 = True  # (a launch sets it from the step's tasks)
        todo = [p_pad for p_pad in self.buckets if self.lone_key(p_pad) not in self.graphs]
        if todo and self.use_graphs:
            # The pieces' kernels the start's tuning did not call (the fused norms, RoPE and SiLU in the prefill
            # graphs' launch mode) compile on a pool of threads first, not one after another in the first step.
            try:
                with compile_ahead() as ahead:
                    if ahead:
                        self.run(dummy(todo[0]), self.lone_key(todo[0]), warm_up=True)
            except Exception as e:  # noqa: BLE001 - only a head start: the steps below compile what is left
                log.debug("prefill pieces' compile-only pass stopped (%s)", e)
        for p_pad in todo:
            if self.failed:
                break
            self.run(dummy(p_pad), self.lone_key(p_pad))
            while self.capture_pending():
                pass
        return sum(k[0] == 0 for k in self.graphs)

    def lone_key(self, p_pad: int) -> PieceKey:
        """The key of a step that only prefills p_pad rows of one task (key_for's for such a step)."""
        return 0, (p_pad,), 0, self.model.int8_key()

    @torch.inference_mode()  # as run: the static buffers are inference tensors
    def capture_pending(self) -> bool:
        """Capture the oldest key that ran once (its views hold that step's shapes; a capture runs nothing on the
        device). The engine calls this when it has nothing to run. Returns whether there was one."""
        if not self.pending or self.failed:
            self.pending.clear()
            return False
        key = next(iter(self.pending))
        first_step, num_tasks = self.pending.pop(key)
        views, hints = self.views[key], self.model.kernel_hints
        hints.num_tasks, hints.segments, hints.int8 = num_tasks, views.segments, key[3]  # as the key's step had them
        try:
            with sdpa_kernel(PREFILL_SDPA_BACKENDS), pdl_scope():
                self._capture(key, views, fused_ops_for(views.h), first_step)
        finally:
            hints.segments, hints.int8 = None, True
        return True

    @torch.inference_mode()
    def run(self, plan: SchedulerOutput, key: PieceKey, warm_up: bool = False) -> torch.Tensor:
        """Logits [R, V] of the step's sampled rows (plan order), as ModelRunner.forward gives them. warm_up: a call
        inside kernels.compile_ahead (its launches only compile): the key is neither marked run nor captured."""
        s_pad, pads = key[:2]
        rows = s_pad + sum(pads)
        short, groups = self.split(plan)
        short_slots = [c.slot for c in plan.decodes + short]
        # rows: decodes, the short chunks, padding to s_pad (the last short row's slot: no task added), then each
        # group's chunks and padding up to its bucket (its slot); the logits in plan order
        pad_points = [(len(short), s_pad, short_slots[-1] if short_slots else 0)]
        chunks, end = len(short), s_pad
        for group, pad in zip(groups, pads, strict=True):
            chunks, end = chunks + len(group), end + pad
            pad_points.append((chunks, end, group[0].slot))
        args = self.runner.prepare(plan.decodes, short + [c for g in groups for c in g], pad_points=tuple(pad_points),
                                   logits_order=plan.chunks)  # fmt: skip
        views = self.views.get(key) or self._views(key, short_slots, [g[0].slot for g in groups])
        if self.model.dense_cache is not None:
            self.model.dense_cache.begin_step()
        views.tokens64.copy_(args.packed64[: 3 * rows].view(3, rows))
        views.slot_of_token.copy_(args.packed32[:rows])
        hints = self.model.kernel_hints
        hints.segments = views.segments
        fused = fused_ops_for(views.h)
        try:
            # PDL (kernels/triton_common.py pdl_scope): the slots were copied in above, before piece 0's embedding
            with sdpa_kernel(PREFILL_SDPA_BACKENDS), pdl_scope():
                graphs = self.graphs.get(key)
                start = time.perf_counter()
                self._pieces(views, args.meta, fused, graphs)  # graphs None: eagerly (a key's first step: warm-up)
                logits = self.model.logits(views.h, args.logits_indices, fused)
                if graphs is None and self.use_graphs and not warm_up:
                    if key in self.pending:  # its second step before an idle moment: captured now
                        self._capture(key, views, fused, self.pending.pop(key)[0])
                    else:
                        if views.h.is_cuda:
                            torch.cuda.synchronize()  # the step's own time (the engine reads its tokens next)
                        self.pending[key] = (time.perf_counter() - start, hints.num_tasks)
        finally:
            hints.segments = None
        return logits

    def _pieces(self, views: StaticViews, meta, fused, graphs: list[torch.cuda.CUDAGraph] | None) -> None:
        """Every piece (replayed, or run eagerly when graphs is None), each layer's attention between them."""
        layers, kv = self.model.layers, self.runner.kv_cache.layers
        for i in range(len(layers) + 1):
            if graphs is None:
                self._piece(i, views, fused)
            else:
                graphs[i].replay()
            if i < len(layers):
                layers[i].self_attn.attend(views.q, views.k, views.v, meta, kv[i], fused, out=views.attention)

    def _piece(self, i: int, views: StaticViews, fused) -> None:
        """Piece i on the static buffers: reads h and the attention output, writes h (and q, k, v for i < L)."""
        model, kv = self.model, self.runner.kv_cache.layers
        slots, t = views.slot_of_token, views.h.shape[0]
        pending = None  # the MLP output the next norm adds (Block.after_attention)
        if i == 0:
            h, cos, sin = model.embed(views.input_ids, views.positions)
            views.cos.copy_(cos)
            views.sin.copy_(sin)
        else:
            h, pending = model.layers[i - 1].after_attention(views.h, views.attention.view(t, -1), slots, fused)
        if i < len(model.layers):
            h, q, k, v = model.layers[i].attention_inputs(h, pending, slots, views.cos, views.sin, views.slot_mapping,
                                                          kv[i], fused)  # fmt: skip
            views.q.copy_(q)
            views.k.copy_(k)
            views.v.copy_(v)
        elif pending is not None:
            h = h + pending
        views.h.copy_(h)

    def _capture(self, key: PieceKey, views: StaticViews, fused, first_step: float) -> None:
        """Capture the key's pieces on its views (first_step: the seconds its eager first step took, recorded)."""
        torch.cuda.synchronize()
        captured_at = time.perf_counter()
        graphs = []
        try:
            for i in range(len(self.model.layers) + 1):
                graph = torch.cuda.CUDAGraph()
                # thread_local: the pool's loader thread may copy LUTs on its own stream meanwhile
                with torch.cuda.graph(graph, pool=self.pool, capture_error_mode="thread_local"):
                    self._piece(i, views, fused)
                graphs.append(graph)
        except Exception as e:  # noqa: BLE001 - an op that cannot be captured: these steps run eagerly instead
            log.warning("prefill CUDA graph capture failed (%s); prefill steps run eagerly from now on", e)
            self.failed = True
            return
        self.graphs[key] = graphs
        # what a new key cost its step: the eager first run (to the end of its GPU work), then the capture
        self.capture_seconds[key] = (first_step, time.perf_counter() - captured_at)
        log.debug("prefill graphs: key %s captured (first step %.1f ms, capture %.1f ms)", key,
                  *(1e3 * t for t in self.capture_seconds[key]))  # fmt: skip

    def _views(self, key: PieceKey, short_slots: list[int], group_slots: list[int]) -> StaticViews:
        """The key's views and slot runs, from its first step's slots: the short rows' runs (their count of distinct
        slots is the key's kernel class; the slots themselves are read on the device), then each long group as one."""
        s_pad, pads = key[:2]
        rows = s_pad + sum(pads)
        if self.buffers is None:
            self.buffers = self._allocate(self.max_rows)
        b = self.buffers
        tokens64 = b["tokens64"][:, :rows]
        slots = b["slot_of_token"][:rows]
        views = StaticViews(tokens64[0], tokens64[1], tokens64[2], tokens64, slots,
                            *(b[name][:rows] for name in ("h", "cos", "sin", "q", "k", "v", "attention")))  # fmt: skip
        padded = short_slots + short_slots[-1:] * (s_pad - len(short_slots))
        runs = [(s, len(list(group))) for s, group in itertools.groupby(padded)]
        runs += list(zip(group_slots, pads, strict=True))
        views.segments = SlotSegments.from_counts([s for s, _ in runs], [n for _, n in runs], slots.device,
                                                  per_token=slots)  # fmt: skip
        self.views[key] = views
        return views

    def _allocate(self, rows: int) -> dict[str, torch.Tensor]:
        cfg, emb = self.model.config, self.model.embed_tokens
        device, dtype = emb.device, emb.dtype
        hd, heads, kv_heads = cfg.head_dim, cfg.num_heads, cfg.num_kv_heads

        def zeros(*shape, dtype=dtype):
            return torch.zeros(*shape, dtype=dtype, device=device)

        return {
            "tokens64": zeros(3, rows, dtype=torch.int64),
            "slot_of_token": zeros(rows, dtype=torch.int32),
            "h": zeros(rows, cfg.hidden_size),
            "cos": zeros(rows, hd),
            "sin": zeros(rows, hd),
            "q": zeros(rows, heads, hd),
            "k": zeros(rows, kv_heads, hd),
            "v": zeros(rows, kv_heads, hd),
            "attention": zeros(rows, heads, hd),
        }
