"""The CPU path's dense weights: W_hat per (projection, task slot) kept in a budget, in its fastest form.

On CUDA every projection is one multi-LUT kernel call. On the CPU the torch reference op would rebuild W_hat [N, K]
from the codes and the LUT on every call (about a second a token for the default 135M model on two cores), so the
CPU path dequantizes each resident task's weights once and keeps them (DenseWeightCache), in one of three forms:

    float32           a plain tensor: exact to the reference op (MKL's sgemm)
    bfloat16          PackedBf16Weight: reordered once into oneDNN's blocked layout for this CPU (AMX / AVX512-BF16),
                      multiplied by oneDNN's linear; a plain bf16 tensor where oneDNN cannot (matmul_few_shapes)
    int8              Int8Weight: weight-only int8, a scale per row (aten's int8 kernel for a few rows)

Low-precision matmuls only ever see row counts 1, 2, 4, ..., ROW_CHUNK (row_chunks): oneDNN compiles and keeps a
kernel per shape, and live traffic's batch and prompt lengths would otherwise grow the process without bound.
"""

from __future__ import annotations

import functools
import os
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING

import torch

from kernels import dequantize

if TYPE_CHECKING:
    from server.model import LutProjection
    from sketch.format import SketchedBase

ROW_CHUNK = 64  # rows per low-precision CPU matmul: 1, 2, 4, ..., 64 are the only row counts it ever sees


def row_chunks(m: int) -> list[tuple[int, int, int]]:
    """(start, rows, padded rows) covering m rows in chunks of ROW_CHUNK, each padded to a power of two."""
    return [(s, min(ROW_CHUNK, m - s), 1 << (min(ROW_CHUNK, m - s) - 1).bit_length()) for s in range(0, m, ROW_CHUNK)]


def in_row_chunks(x: torch.Tensor, n: int, mm: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """[M, n] = mm(x) computed on row_chunks(M), each padded with zero rows to its power of two."""
    m = x.shape[0]
    if 0 < m <= ROW_CHUNK and m & (m - 1) == 0:  # one chunk, no padding (decode batches of 1, 2, 4, 8, ...):
        return mm(x)  # its product as it comes, not copied into a new tensor (~17 us a projection at 8 rows, 2 cores)
    y = x.new_empty(m, n)
    for start, rows, padded in row_chunks(m):
        part = x[start : start + rows]
        if padded != rows:
            part = torch.cat([part, part.new_zeros(padded - rows, part.shape[1])])
        y[start : start + rows] = mm(part)[:rows]
    return y


def matmul_few_shapes(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """x [M, K] @ w [N, K].T on the CPU; bf16 runs only at ROW_CHUNK-or-smaller power-of-two row counts.

    oneDNN (bf16) compiles and caches one kernel per (M, N, K) it sees (~0.7 MB each, up to 1,024 of them): with
    the batch and prompt lengths of live traffic, plain matmuls grew a tiny model's server from 270 MB to 950 MB.
    Padding and chunking the rows bounds that at 7 kernels per weight shape. float32 (MKL) keeps no such kernels.
    """
    if x.dtype != torch.bfloat16:
        return x @ w.T
    return in_row_chunks(x, w.shape[0], lambda part: part @ w.T)  # (one power-of-two chunk: x @ w.T as it is)


# SKETCHSERVE_CPU_PACKED_WEIGHTS=0 keeps bf16 weights as plain tensors (the form before; for A/B runs).
PACKED_BF16 = os.environ.get("SKETCHSERVE_CPU_PACKED_WEIGHTS", "1") != "0"


@functools.cache
def packed_bf16_ok() -> bool:
    """oneDNN's packed bf16 linear is in this torch, the CPU runs it, and it gives the plain product on a small case."""
    if not PACKED_BF16:
        return False
    try:
        if not (torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()):
            return False
        g = torch.Generator().manual_seed(0)
        w, x = torch.randn(24, 40, generator=g), torch.randn(3, 40, generator=g)
        y = PackedBf16Weight(w).matmul(x.bfloat16()).float()
        return bool(torch.allclose(y, x.bfloat16().float() @ w.bfloat16().float().T, rtol=2e-2, atol=2e-2))
    except (RuntimeError, AttributeError):  # a torch without the op, or a CPU oneDNN refuses it on
        return False


class PackedBf16Weight:
    """W_hat [N, K] in bf16, reordered once into oneDNN's blocked layout for this CPU and multiplied by oneDNN's
    linear (the form torch.compile's CPU freezing gives a linear's weight). On the 2-core dev CPU (AMX), on the
    default model's shapes, it takes 0.5-0.75x the plain bf16 matmul's time at 1-8 rows and 0.85-1.0x at 64, and
    one decode step's 120 projections 17.8 against 24.6 ms (float32: 20.7; benchmarks/cpu_matmul.py): the plain
    bf16 GEMV was slower than float32's, whose weights are twice the bytes. Same values: the products accumulate
    in fp32 and round to bf16 once, as the plain matmul's."""

    def __init__(self, w: torch.Tensor) -> None:
        self.n, self.k = w.shape
        # reordered for one row (the decode step's GEMV); 8-64 rows ran within noise of a 16-row reorder
        self.packed = torch.ops.mkldnn._reorder_linear_weight(w.to(torch.bfloat16).contiguous(), 1)

    dtype = torch.bfloat16

    @property
    def nbytes(self) -> int:
        return self.n * self.k * 2

    def matmul(self, x: torch.Tensor) -> torch.Tensor:
        """x [M, K] bf16 -> [M, N] bf16."""
        return in_row_chunks(x.contiguous(), self.n, self._linear)

    def _linear(self, x: torch.Tensor) -> torch.Tensor:
        return torch.ops.mkldnn._linear_pointwise(x, self.packed, None, "none", [], "")


def bf16_weight(w: torch.Tensor) -> PackedBf16Weight | torch.Tensor:
    """W_hat in bf16 in the fastest form this CPU has: packed for oneDNN, else a plain tensor."""
    return PackedBf16Weight(w) if packed_bf16_ok() else w.to(torch.bfloat16)


INT8_MATVEC_ROWS = 4  # up to this many rows the int8 weight-only kernel beats a bf16 matmul (2-core CPU, AMX)


class Int8Weight:
    """W_hat [N, K] as int8 with one bf16 scale per row (symmetric, absmax / 127): half of bf16's bytes, which is
    what a CPU matrix-vector product waits on. Up to INT8_MATVEC_ROWS rows it runs on aten's int8 weight-only
    kernel (as gpt-fast's int8 mode): ~1.5x the decode speed of bf16 for one sequence on the 2-core dev CPU. That
    kernel's time grows with every row while an AMX bf16 matmul's barely does, so more rows run on a bf16 copy,
    made on the first such call and kept (with_bf16): batches and prefills cost what they cost in bf16."""

    def __init__(self, w: torch.Tensor) -> None:
        scale = w.abs().amax(dim=1).clamp_min(1e-12) / 127.0  # [N]
        self.q = torch.round(w / scale[:, None]).clamp_(-127, 127).to(torch.int8).contiguous()
        self.scale = scale.to(torch.bfloat16)
        self.bf16: PackedBf16Weight | torch.Tensor | None = None

    @property
    def nbytes(self) -> int:
        return self.q.numel() + self.scale.numel() * 2 + (0 if self.bf16 is None else self.q.numel() * 2)

    def with_bf16(self) -> int:
        """Make the bf16 copy (the int8 values times their scales) if there is none; the bytes it added."""
        if self.bf16 is not None:
            return 0
        self.bf16 = bf16_weight(self.q.to(torch.bfloat16) * self.scale[:, None])
        return self.q.numel() * 2

    def matmul(self, x: torch.Tensor) -> torch.Tensor:
        """x [M, K] bf16 -> [M, N] bf16."""
        if x.shape[0] <= INT8_MATVEC_ROWS and hasattr(torch.ops.aten, "_weight_int8pack_mm"):
            return torch.ops.aten._weight_int8pack_mm(x.contiguous(), self.q, self.scale)
        self.with_bf16()
        return cpu_matmul(x, self.bf16)


CpuWeight = torch.Tensor | PackedBf16Weight | Int8Weight


def weight_nbytes(w: CpuWeight) -> int:
    return w.numel() * w.element_size() if isinstance(w, torch.Tensor) else w.nbytes


def cpu_matmul(x: torch.Tensor, w: CpuWeight) -> torch.Tensor:
    """x [M, K] @ w [N, K].T for the CPU weight forms, x cast to what w multiplies in (packed and int8 weights:
    bf16); the result in that dtype."""
    if isinstance(w, (PackedBf16Weight, Int8Weight)):
        return w.matmul(x.to(torch.bfloat16))
    return matmul_few_shapes(x.to(w.dtype), w)


def cpu_weight(w: torch.Tensor, dtype: torch.dtype) -> CpuWeight:
    """A float32 W_hat [N, K] in the form that multiplies fastest in dtype (float32, bfloat16 or int8)."""
    if dtype == torch.int8:
        return Int8Weight(w)
    if dtype == torch.bfloat16:
        return bf16_weight(w)
    return w.to(dtype)


def host_available_bytes() -> int:
    """Memory the host can still give without swapping: MemAvailable on Linux, else the free physical pages."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


class DenseWeightCache:
    """CPU fast path: W_hat [N, K] per (projection, slot, slot generation), LRU within a byte budget.

    The torch reference op rebuilds W_hat on every call (about a second per token for a 135M model on two cores);
    with the weights of the resident tasks kept, CPU decoding runs at dense-matmul speed. `slot_generation` is the
    pool's list, bumped whenever a slot receives another LUT set, so a stale weight is never hit again.

    Eviction takes only weights the current step has not used (the model calls begin_step()). When one step needs
    more weights than the budget holds (many tasks in a batch), plain LRU would evict each weight just before
    its next use and hit nothing; here the extra weights are computed for the call and not kept, so the cached
    ones keep hitting.
    """

    @staticmethod
    def auto_budget(base: SketchedBase, weight_dtype: torch.dtype, num_slots: int,
                    available_bytes: int | None = None) -> int:  # fmt: skip
        """Bytes for every slot's dense weights (base slot included), at most half of available_bytes (default: the
        host's available memory now). int8 counts 3 bytes a weight: its bf16 copy for batches beside it."""
        per_weight = 3 if weight_dtype == torch.int8 else weight_dtype.itemsize
        per_task = per_weight * sum(n * k for n, k in base.layer_shapes.values())
        available = host_available_bytes() if available_bytes is None else available_bytes
        return min(num_slots * per_task, available // 2)

    def __init__(self, slot_generation: list[int], budget_bytes: int, weight_dtype: torch.dtype | None = None) -> None:
        self.slot_generation, self.budget_bytes = slot_generation, budget_bytes
        self.weight_dtype = weight_dtype  # None: the activations' dtype
        self._weights: OrderedDict[tuple[int, int, int], CpuWeight] = OrderedDict()
        self._generation_of: dict[tuple[int, int], int] = {}  # (projection, slot) -> generation cached
        self._last_step: dict[tuple[int, int, int], int] = {}
        self._bytes, self._step = 0, 0
        self.hits = self.misses = 0

    def begin_step(self) -> None:
        self._step += 1

    @property
    def nbytes(self) -> int:
        return self._bytes

    def linear(self, proj: LutProjection, x: torch.Tensor, slot_of_token: torch.Tensor) -> torch.Tensor:
        dtype = self.weight_dtype or x.dtype
        # the matmul runs in the cached weights' dtype (int8 weights: bf16 activations), fp32 accumulation inside
        xw = x.to(torch.bfloat16 if dtype == torch.int8 else dtype)
        slots = slot_of_token.tolist()
        if len(set(slots)) == 1:
            return self._matmul(xw, proj, slots[0], dtype).to(x.dtype)
        y = x.new_empty(x.shape[0], proj.lut_pool.shape[1])
        for slot in sorted(set(slots)):
            rows = (slot_of_token == slot).nonzero(as_tuple=True)[0]
            y[rows] = self._matmul(xw[rows], proj, slot, dtype).to(x.dtype)
        return y

    def _matmul(self, x: torch.Tensor, proj: LutProjection, slot: int, dtype: torch.dtype) -> torch.Tensor:
        w = self._weight(proj, slot, dtype)
        if isinstance(w, Int8Weight) and x.shape[0] > INT8_MATVEC_ROWS:  # the weight keeps a bf16 copy from now on
            added = w.with_bf16()
            if self._weights.get((id(proj), slot, self.slot_generation[slot])) is w:
                self._bytes += added  # counted (the budget is checked again at the next weight cached)
        return cpu_matmul(x, w)

    def _weight(self, proj: LutProjection, slot: int, dtype: torch.dtype) -> CpuWeight:
        key = (id(proj), slot, self.slot_generation[slot])
        w = self._weights.get(key)
        if w is not None:
            self._weights.move_to_end(key)
            self._last_step[key] = self._step
            self.hits += 1
            return w
        self.misses += 1
        w = cpu_weight(dequantize(proj.codes_packed, proj.lut_pool[slot].float(), proj.bits, proj.in_features), dtype)
        stale = self._generation_of.get(key[:2])
        if stale is not None and stale != key[2]:  # the slot holds another LUT set now: its old weight is dead
            self._drop((*key[:2], stale))
        size = weight_nbytes(w)
        while self._bytes + size > self.budget_bytes and self._weights:
            oldest = next(iter(self._weights))  # least recently used; those used this step are all behind it
            if self._last_step[oldest] == self._step:
                break
            self._drop(oldest)
        if self._bytes + size > self.budget_bytes:
            return w  # this step's weights fill the budget: use this one once, keep the cached ones
        self._generation_of[key[:2]] = key[2]
        self._weights[key] = w
        self._last_step[key] = self._step
        self._bytes += size
        return w

    def _drop(self, key: tuple[int, int, int]) -> None:
        old = self._weights.pop(key, None)
        self._last_step.pop(key, None)
        if old is not None:
            self._bytes -= weight_nbytes(old)
            if self._generation_of.get(key[:2]) == key[2]:
                del self._generation_of[key[:2]]
