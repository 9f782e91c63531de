"""Pieces shared by the Triton multi-LUT kernels: unpacking a codes tile, LUT offsets, slot runs, segments.

Every kernel dequantizes a weight tile the same way (layout: kernels/packing.py):

    codes_packed [N, KP] uint8 --load [BN, BK/per_byte]--> unpack --> codes [BN, BK] int32
    idx[n, k]  = group(k) * L + codes[n, k]                     L = 2**bits, shared by every slot
    W[n, k]    = lut_pool[slot, n].flat[idx[n, k]]              one gather per element and slot

so a codes tile is read once and reused for every slot present in the batch; only the gather
(from L1, the LUT rows of a tile are a few KB) is repeated per slot.

Tokens of several slots in one tile: `first_slot` / `next_slot` walk the distinct slots of a
[BM] vector in increasing order (a while loop, no host sync, no torch.unique).
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import torch
import triton
import triton.language as tl

NO_SLOT = tl.constexpr(2**31 - 1)  # padding for rows past M: larger than any slot (a constexpr: used in kernels)


def _patch_interpreter() -> None:
    """Two bugs of Triton 3.6's CPU interpreter (TRITON_INTERPRET=1, used by the CI tests):
    - scalars are 1-element arrays that numpy >= 2.4 refuses to int(), so every loop with a run-time
      bound fails: re-point `tensor.__index__` at the single element;
    - tl.dot multiplies bf16 operands as their uint16 bit patterns: widen them to fp32 first.
    """
    try:
        import numpy as np
        from triton.runtime import interpreter
    except ImportError:  # pragma: no cover - other triton layouts
        return
    original = interpreter._patch_lang_tensor
    if getattr(original, "_sketchserve", False):
        return

    def patched(tensor, scope):
        original(tensor, scope)
        scope.set_attr(tensor, "__index__", lambda self: int(np.asarray(self.handle.data).reshape(-1)[0]))

    patched._sketchserve = True
    interpreter._patch_lang_tensor = patched

    original_dot = interpreter.InterpreterBuilder.create_dot

    def create_dot(self, a, b, d, input_precision, max_num_imprecise_acc):
        if tl.bfloat16 in (a.dtype.scalar, b.dtype.scalar):
            def widen(h):
                if h.dtype.scalar == tl.bfloat16:
                    return (h.data.astype(np.uint32) << 16).view(np.float32)
                return h.data.astype(np.float32)

            out = np.matmul(widen(a), widen(b), dtype=np.float32).astype(d.data.dtype) + d.data
            return interpreter.TensorHandle(out, d.dtype.scalar)
        return original_dot(self, a, b, d, input_precision, max_num_imprecise_acc)

    interpreter.InterpreterBuilder.create_dot = create_dot


if os.environ.get("TRITON_INTERPRET") == "1":
    _patch_interpreter()


def jit_any_size(sizes: tuple[str, ...] = (), unaligned: tuple[str, ...] = ()):
    """triton.jit for a kernel that a server calls with sizes of every kind: no compiled variant per value class of
    the integer args `sizes` (Triton specializes an int on being 1 or a multiple of 16: a step of 508 tokens compiled
    the prefill and decode kernels again, 1.2-1.6 s in the first step of a burst of short prompts over several tasks,
    H200, NOTES.md twelfth session), nor per alignment of the pointer args `unaligned` (views at any offset of a
    step's packed inputs). Triton releases without do_not_specialize_on_alignment take the pointers in
    do_not_specialize."""
    if "do_not_specialize_on_alignment" in inspect.signature(triton.jit).parameters:
        return triton.jit(do_not_specialize=list(sizes), do_not_specialize_on_alignment=list(unaligned))
    return triton.jit(do_not_specialize=list(sizes) + list(unaligned))


def interpreting() -> bool:
    return os.environ.get("TRITON_INTERPRET") == "1"


_PDL: dict[torch.device, bool] = {}
# Whether the caller of the launches in this context vouches for the PDL rule's inputs (pdl_scope); per thread.
_PDL_SCOPE: ContextVar[bool] = ContextVar("sketchserve_pdl_scope", default=False)


def pdl_available(device: torch.device) -> bool:
    """Whether device can launch with programmatic dependent launch (PDL): a CUDA device of compute capability 9.0
    or above, not the interpreter, a Triton that has it, and not SKETCHSERVE_PDL=0. Cached per device."""
    available = _PDL.get(device)
    if available is None:
        available = (
            os.environ.get("SKETCHSERVE_PDL", "1") != "0"
            and device.type == "cuda"
            and not interpreting()
            and torch.cuda.get_device_capability(device)[0] >= 9
            and triton_has_pdl()
        )
        _PDL[device] = available
    return available


@contextmanager
def pdl_scope(allowed: bool = True) -> Iterator[None]:
    """Within it (allowed), the decode-path kernels launch with PDL where pdl_available: the caller vouches that
    every slot table those launches read was written before the scope's first kernel, by none inside it (the
    model's forward: its slots are the step's input, and its first kernel, the embedding, launches without PDL).
    pdl_scope(False) turns PDL off again inside one (a slot table converted on the device just before a launch)."""
    token = _PDL_SCOPE.set(allowed)
    try:
        yield
    finally:
        _PDL_SCOPE.reset(token)


def warm_up_scopes(device: torch.device) -> Iterator[bool]:
    """The launch modes a start-up warm-up makes its calls in, one after the other, so that it compiles each variant
    that the model's steps launch: outside any pdl_scope, then, where pdl_available, inside one (PDL on is another
    compiled variant). Before the second the device is synchronized, so that every input of the calls was written
    before the scope (the PDL rule). Yields whether PDL is on."""
    for pdl in (False, True) if pdl_available(device) else (False,):
        if pdl:
            torch.cuda.synchronize(device)
        with pdl_scope(pdl):
            yield pdl


def pdl_enabled(device: torch.device) -> bool:
    """Whether the decode-path kernels launch with programmatic dependent launch (PDL) now: inside a pdl_scope, on
    a device where pdl_available. On the H200 (sixteenth session, benchmarks/NOTES.md) it took batch 1 from 350.0
    to 364.9 tok/s and 16 x 1 from 3,537 to 3,618.

    A kernel launched so may start while the kernel before it in the stream is still finishing (as soon as that
    one's programs have all exited, or have all called pdl_release). Each such kernel follows one rule, which keeps
    every launch order safe: before its pdl_wait it only reads what no kernel of the scope writes (the codes, the
    LUT pool, the step's slot table) and writes nothing; pdl_wait returns once the previous kernel has completed
    and its writes are visible, and by induction every earlier one's. So the codes prefetch and the slot -> LUT ->
    byte tables chain of a linear layer overlap the previous kernel's tail instead of following it. Outside a
    scope (the public op called on slots that a kernel may have just written) they launch as before.
    The kernels launched so: the decode kernels (one-token and tensor-core in one stage, fragment, gather and
    bucket: triton_decode*.py, triton_bucket*.py) and the fused decoder kernels (server/triton_fused.py); not the
    prefill kernels (their sorted slots are the op's own sort's output, and a call takes 100 us or more), nor the
    pipelined tensor-core and one-token configs (triton_decode_prmt.one_stage_pdl_args: slower with it)."""
    return _PDL_SCOPE.get() and pdl_available(device)


def triton_has_pdl() -> bool:
    """Whether this Triton can launch with PDL (the launch_pdl option and the griddepcontrol builtins)."""
    try:
        from triton.backends.nvidia.compiler import CUDAOptions
    except ImportError:
        return False
    return "launch_pdl" in CUDAOptions.__dataclass_fields__ and hasattr(tl.extra.cuda, "gdc_wait")


def register_cap(config: dict) -> dict:
    """A launch's register cap for ptxas where config names one (its "maxnreg", 0 or absent: ptxas's choice): more
    programs an SM, perhaps spills."""
    return {"maxnreg": config["maxnreg"]} if config.get("maxnreg") else {}


def pdl_args(device: torch.device) -> dict:
    """A PDL kernel's launch arguments on device: its PDL constexpr and the launch_pdl option where pdl_enabled,
    else none (the constexpr's default is False, and Triton builds without PDL never see the option)."""
    return {"PDL": True, "launch_pdl": True} if pdl_enabled(device) else {}


@triton.jit
def pdl_wait(PDL: tl.constexpr):
    """Under PDL: wait until the previous kernel in the stream has completed and its writes are visible."""
    if PDL:
        tl.extra.cuda.gdc_wait()


def codes_rows_aligned(codes_packed: torch.Tensor) -> bool:
    """Whether every row of the packed codes starts 16-byte aligned (with unit column stride): the fragment kernel's
    PRELOAD vector loads need it."""
    return codes_packed.data_ptr() % 16 == 0 and codes_packed.stride(0) % 16 == 0 and codes_packed.stride(1) == 1


@triton.jit
def pdl_release(PDL: tl.constexpr):
    """Under PDL: let the next kernel in the stream (if launched with PDL) start its pre-wait part now."""
    if PDL:
        tl.extra.cuda.gdc_launch_dependents()


@triton.jit
def load_code_bytes(codes_ptr, rows, kb0, KP, stride_cn, BLOCK_K: tl.constexpr, BITS: tl.constexpr,
                    ROW_WARP: tl.constexpr = True):  # fmt: skip
    """Packed bytes of rows `rows` [BN] (clamped to < N) for columns kb0 .. kb0+BLOCK_K -> uint8 [BN, BK/per_byte].

    kb0 is a multiple of BLOCK_K, itself a multiple of the codes per byte; bytes past KP read as 0.
    ROW_WARP: few enough bytes per thread that one warp spans one row's BB bytes, so every lane of a
    warp gathers from the same row's LUT (one L1 wavefront per gather instruction instead of one per
    row). Left alone, Triton loads 16 bytes per thread and a warp spans 32 * 16 / BB rows; that keeps
    cp.async pipelining possible (it needs >= 4 bytes per thread) where BB is small (prefill tiles).
    """
    PER_BYTE: tl.constexpr = 4 if BITS == 2 else 2  # codes per byte (3-bit codes in 4-bit slots)
    BB: tl.constexpr = BLOCK_K // PER_BYTE
    boffs = kb0 // PER_BYTE + tl.arange(0, BB)
    if ROW_WARP:
        VEC: tl.constexpr = max(1, min(16, BB // 32))
        boffs = tl.max_contiguous(tl.multiple_of(boffs, VEC), VEC)
    return tl.load(codes_ptr + rows[:, None] * stride_cn + boffs[None, :], mask=(boffs < KP)[None, :], other=0)


@triton.jit
def codes_pipeline_start(codes_ptr, rows, k0, KP, stride_cn, BLOCK_K: tl.constexpr, BITS: tl.constexpr,
                         DEPTH: tl.constexpr, ROW_WARP: tl.constexpr):  # fmt: skip
    """Register prefetch of the codes tiles of the first DEPTH (0-3) K blocks: (next1, next2, next3)."""
    if DEPTH >= 1:
        n1 = load_code_bytes(codes_ptr, rows, k0, KP, stride_cn, BLOCK_K, BITS, ROW_WARP)
    else:
        n1 = tl.zeros((rows.shape[0], BLOCK_K // (4 if BITS == 2 else 2)), dtype=tl.uint8)
    n2 = n1
    n3 = n1
    if DEPTH >= 2:
        n2 = load_code_bytes(codes_ptr, rows, k0 + BLOCK_K, KP, stride_cn, BLOCK_K, BITS, ROW_WARP)
    if DEPTH >= 3:
        n3 = load_code_bytes(codes_ptr, rows, k0 + 2 * BLOCK_K, KP, stride_cn, BLOCK_K, BITS, ROW_WARP)
    return n1, n2, n3


@triton.jit
def codes_pipeline_next(n1, n2, n3, codes_ptr, rows, kb0, KP, stride_cn, BLOCK_K: tl.constexpr,
                        BITS: tl.constexpr, DEPTH: tl.constexpr, ROW_WARP: tl.constexpr):  # fmt: skip
    """(bytes of block kb0, next1, next2, next3): shift the prefetch ring and load DEPTH blocks ahead."""
    if DEPTH == 0:
        cur = load_code_bytes(codes_ptr, rows, kb0, KP, stride_cn, BLOCK_K, BITS, ROW_WARP)
    else:
        cur = n1
        if DEPTH == 1:
            n1 = load_code_bytes(codes_ptr, rows, kb0 + BLOCK_K, KP, stride_cn, BLOCK_K, BITS, ROW_WARP)
        elif DEPTH == 2:
            n1 = n2
            n2 = load_code_bytes(codes_ptr, rows, kb0 + 2 * BLOCK_K, KP, stride_cn, BLOCK_K, BITS, ROW_WARP)
        else:
            n1 = n2
            n2 = n3
            n3 = load_code_bytes(codes_ptr, rows, kb0 + 3 * BLOCK_K, KP, stride_cn, BLOCK_K, BITS, ROW_WARP)
    return cur, n1, n2, n3


@triton.jit
def unpack_codes(b, BITS: tl.constexpr):
    """uint8 [BN, BB] packed bytes -> int32 codes [BN, BB * per_byte], columns in order."""
    b = b.to(tl.int32)
    if BITS == 2:
        # byte = c0 | c1 << 2 | c2 << 4 | c3 << 6 -> columns 4j .. 4j+3
        lo = tl.interleave(b & 3, (b >> 4) & 3)  # c0 c2
        hi = tl.interleave((b >> 2) & 3, b >> 6)  # c1 c3
        codes = tl.interleave(lo, hi)
    else:
        # low nibble = even column
        codes = tl.interleave(b & 15, b >> 4)
    return codes


@triton.jit
def load_codes(codes_ptr, rows, kb0, KP, stride_cn, BLOCK_K: tl.constexpr, BITS: tl.constexpr):
    """int32 codes [BN, BLOCK_K] of rows `rows`, columns kb0 .. kb0+BLOCK_K (see load_code_bytes)."""
    return unpack_codes(load_code_bytes(codes_ptr, rows, kb0, KP, stride_cn, BLOCK_K, BITS), BITS)


@triton.jit
def group_offsets(cols, kb0, GS, GPR, L: tl.constexpr, ONE_BOUNDARY: tl.constexpr):
    """[BK] int32: group(col) * L for columns `cols` of the block starting at kb0 (clamped for cols >= K).

    ONE_BOUNDARY: the block is no wider than a group, so it crosses at most one group boundary and
    the group is the block's first group, plus one past the boundary (no per-column division).
    """
    if ONE_BOUNDARY:
        g0 = kb0 // GS
        g = g0 + (cols >= (g0 + 1) * GS).to(tl.int32)
    else:
        g = cols // GS
    g = tl.minimum(g, GPR - 1)
    return g * L


@triton.jit
def lut_index(codes, cols, kb0, row_offs, GS, GPR, L: tl.constexpr, BLOCK_K: tl.constexpr, ONE_BOUNDARY: tl.constexpr):
    """[BN, BK] int32 offsets into one slot's LUT: row_offs[n] + group(col) * L + codes[n, col].

    Blocks inside one group (the common case: BLOCK_K <= group size) cost one add per element.
    """
    if ONE_BOUNDARY:
        g0 = kb0 // GS
        bound = (g0 + 1) * GS
        idx = codes + (row_offs + tl.minimum(g0, GPR - 1) * L)[:, None]
        if kb0 + BLOCK_K > bound:  # a group boundary inside this block
            idx += (((cols >= bound) & (g0 + 1 < GPR)).to(tl.int32) * L)[None, :]
    else:
        idx = codes + (row_offs[:, None] + group_offsets(cols, kb0, GS, GPR, L, False)[None, :])
    return idx


@triton.jit
def gather_lut(base_ptr, idx, ASM: tl.constexpr):
    """base_ptr[idx] for an int32 index tensor: the per-element LUT lookup (hits L1: a tile's LUT rows are KB).

    ASM (compiled GPU path): one `mad.wide` + one read-only-cache load per element as an elementwise
    inline-asm op, so the result keeps idx's register layout (contiguous along K, ready for vector
    stores into the MMA's shared-memory tile). A plain tl.load of a gather gets a 1-element-per-thread
    layout from Triton's coalescing pass and costs layout conversions of 64-bit pointers. The interpreter
    (no inline asm) takes the tl.load branch.
    """
    if ASM:
        base = base_ptr.to(tl.int64)
        if base_ptr.dtype.element_ty.primitive_bitwidth == 32:
            return tl.inline_asm_elementwise(
                "{ .reg .u64 a; mad.wide.u32 a, $1, 4, $2; ld.global.nc.b32 $0, [a]; }",
                "=r,r,l", [idx, base], dtype=base_ptr.dtype.element_ty, is_pure=True, pack=1,
            )  # fmt: skip
        return tl.inline_asm_elementwise(
            "{ .reg .u64 a; mad.wide.u32 a, $1, 2, $2; ld.global.nc.b16 $0, [a]; }",
            "=h,r,l", [idx, base], dtype=base_ptr.dtype.element_ty, is_pure=True, pack=1,
        )  # fmt: skip
    return tl.load(base_ptr + idx)


@triton.jit
def gather_row_segments(lo, hi, code_bytes):
    """[BN, BK] LUT values at address {lo[n] | code_bytes[n, k], hi[n]}: the fast in-group gather.

    lo, hi [BN] int32: the two halves of the address of row n's LUT segment (this slot, this group),
    aligned to the segment size, so adding the byte offset of a code is an OR on the low half: one
    LOP3 per element instead of a 64-bit add (two instructions) plus the index add.
    """
    return tl.inline_asm_elementwise(
        "{ .reg .b64 a; mov.b64 a, {$1, $2}; ld.global.nc.b16 $0, [a]; }",
        "=h,r,r", [lo[:, None] | code_bytes, hi[:, None]], dtype=tl.float16, is_pure=True, pack=1,
    )  # fmt: skip


@triton.jit
def dequant_tile(lut_s, codes, cols, kb0, row_offs, GS, GPR, L: tl.constexpr, BLOCK_K: tl.constexpr,
                 ONE_BOUNDARY: tl.constexpr, ASM: tl.constexpr, FAST: tl.constexpr):  # fmt: skip
    """W [BN, BK] = lut_s[row_offs[n] + group(col) * L + codes[n, col]] in the LUT's dtype.

    lut_s: this slot's LUT base pointer; row_offs [BN]: offset of each row's LUT in the slot.
    FAST (compiled, 16-bit LUT aligned to its 2*L-byte segments, BLOCK_K <= group size): blocks inside
    one group use gather_row_segments; blocks across a group boundary take the generic gather.
    """
    if FAST:
        g0 = kb0 // GS
        if (kb0 + BLOCK_K > (g0 + 1) * GS) & (g0 + 1 < GPR):
            w = gather_lut(lut_s, lut_index(codes, cols, kb0, row_offs, GS, GPR, L, BLOCK_K, True), True)
        else:
            seg = (lut_s + row_offs + tl.minimum(g0, GPR - 1) * L).to(tl.int64)  # [BN] byte addresses
            lo = seg.to(tl.int32)
            hi = (seg >> 32).to(tl.int32)
            w = gather_row_segments(lo, hi, codes * 2).to(lut_s.dtype.element_ty, bitcast=True)
    else:
        w = gather_lut(lut_s, lut_index(codes, cols, kb0, row_offs, GS, GPR, L, BLOCK_K, ONE_BOUNDARY), ASM)
    return w


@triton.jit
def tile_tokens(perm_ptr, slot_sorted_ptr, m_offs, m_mask, HAS_PERM: tl.constexpr):
    """(tokens, slots) [BM] int32 of a prefill token tile at visiting positions m_offs: perm[m] where HAS_PERM (the
    tokens sorted by slot) else m itself (tokens already in order), and slot_sorted[m], NO_SLOT outside m_mask."""
    if HAS_PERM:
        tok = tl.load(perm_ptr + m_offs, mask=m_mask, other=0)
    else:
        tok = m_offs
    return tok, tl.load(slot_sorted_ptr + m_offs, mask=m_mask, other=NO_SLOT).to(tl.int32)


@triton.jit
def first_slot(slots):
    """Smallest slot of a [BM] int32 vector padded with NO_SLOT."""
    return tl.min(slots, axis=0)


@triton.jit
def next_slot(slots, cur):
    """Smallest slot > cur, NO_SLOT when none is left."""
    return tl.min(tl.where(slots > cur, slots, 2147483647), axis=0)


def fast_gather_ok(lut_pool: torch.Tensor, bits: int, block_k: int, group_size: int) -> bool:
    """Whether dequant_tile may OR code offsets into the address of a row's LUT segment."""
    seg_bytes = 2 * (1 << bits)
    return (
        not interpreting()
        and lut_pool.element_size() == 2
        and lut_pool.is_contiguous()
        and lut_pool.data_ptr() % seg_bytes == 0
        and block_k <= group_size
    )


def sort_tokens_by_slot(slot_of_token: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(perm [M] int32, slot of perm[i] [M] int32): tokens grouped by slot, one stable sort, no host sync."""
    sorted_slots, perm = torch.sort(slot_of_token.to(torch.int32), stable=True)
    return perm.to(torch.int32), sorted_slots


def segments_of_sorted(sorted_slots: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Runs of equal slots in a sorted [M] vector, on the device without a host sync.

    Returns seg_slot [M] int32 (first num_seg valid), seg_start [M + 1] int32 (seg_start[num_seg] == M),
    num_seg [1] int32.
    """
    m = sorted_slots.shape[0]
    dev = sorted_slots.device
    is_start = torch.ones(m, dtype=torch.bool, device=dev)
    if m > 1:
        is_start[1:] = sorted_slots[1:] != sorted_slots[:-1]
    seg_id = torch.cumsum(is_start.to(torch.int64), 0) - 1  # [M]
    seg_start = torch.full((m + 1,), m, dtype=torch.int64, device=dev)
    seg_start.scatter_reduce_(0, seg_id, torch.arange(m, device=dev), reduce="amin")
    seg_slot = torch.zeros(m, dtype=torch.int32, device=dev)
    seg_slot.scatter_(0, seg_id, sorted_slots.to(torch.int32))  # equal values per run: order-free
    num_seg = (seg_id[-1:] + 1).to(torch.int32)
    return seg_slot, seg_start.to(torch.int32), num_seg


# {high byte, t} as a 16-bit float is BASE + t exactly (fp16 0x64..: 1024 + t; bf16 0x43..: 128 + t); with
# -1.0 and BASE + 1.0 (both in pairs) an fma.relu turns it into 1.0 where t == 0, else 0.0.
_ONE_HOT_FLOATS = {"f16": (0x64646464, 0xBC00BC00, 0x64016401), "bf16": (0x43434343, 0xBF80BF80, 0x43014301)}


def one_hot_ptx(dtype: str, zero_where: str) -> str:
    """PTX for 4 one-hot values per call: $0, $1 = 4 x {1.0 or 0.0} in dtype ("f16" / "bf16"), two per register.

    zero_where: PTX setting the b32 register t from the operands ($2, ...) so that a byte of t is 0 where its
    code matches and 1..255 elsewhere. Then per pair: PRMT {high byte, t} and one fma.relu (exact), i.e.
    4 instructions plus zero_where per 4 one-hot elements (the bucket kernels, triton_bucket*.py).
    """
    high, neg_one, one = _ONE_HOT_FLOATS[dtype]
    fma = f"fma.rn.relu.{dtype}x2"
    return (
        "{ .reg .b32 t, u, n1, cc;"
        f" mov.b32 n1, {neg_one:#x}; mov.b32 cc, {one:#x}; {zero_where}"
        f" prmt.b32 u, t, {high:#x}, 0x4140; {fma} $0, u, n1, cc;"
        f" prmt.b32 u, t, {high:#x}, 0x4342; {fma} $1, u, n1, cc; }}"
    )


def check_inputs(x: torch.Tensor, codes_packed: torch.Tensor, lut_pool: torch.Tensor, name: str = "x") -> None:
    """Layout the kernels assume: unit inner strides, contiguous codes and LUT pool (shapes: lut_linear.py)."""
    if x.dim() != 2 or (x.shape[1] > 1 and x.stride(1) != 1):
        raise ValueError(f"{name} must be 2-D with unit column stride, got strides {tuple(x.stride())}")
    if not codes_packed.is_contiguous():
        raise ValueError("codes_packed must be contiguous")
    if not lut_pool.is_contiguous():
        raise ValueError("lut_pool must be contiguous")
    if x.dtype not in (torch.float16, torch.bfloat16, torch.float32):
        raise ValueError(f"{name} must be fp16, bf16 or fp32, got {x.dtype}")


# Split-K, host side (the device side is store_split_k below): grid, workspace and arrival counters of a launch.
_COUNTERS: dict[torch.device, torch.Tensor] = {}


def arrival_counters(device: torch.device, n: int) -> torch.Tensor:
    """Arrival counters, all zero between launches (each launch's last program resets its own).

    One buffer per device, shared by every split kernel (the LUT ops' split-K, the server's split decode
    attention): launches that use it must not run concurrently on two streams.
    """
    buf = _COUNTERS.get(device)
    if buf is None or buf.numel() < n:
        buf = torch.zeros(max(n, 4096), dtype=torch.int32, device=device)
        _COUNTERS[device] = buf
    return buf


def blocks_per_split(k_blocks: int, split_k: int) -> int:
    """K blocks a split takes when K's k_blocks blocks are split about split_k ways (at most one split a block);
    cdiv(k_blocks, that) splits, none empty."""
    return triton.cdiv(k_blocks, max(1, min(split_k, k_blocks)))


def split_k_tiles(y: torch.Tensor, k_blocks: int, split_k: int, programs: int, tile_elems: int):
    """Split-K over ranges of whole K blocks for a grid of `programs` output tiles of tile_elems fp32 partials each
    (the wgmma kernels): (blocks a range, ranges, workspace [ranges, programs, tile_elems], arrival counters); with
    one range the last two are y, unused by the kernel."""
    per_split = blocks_per_split(k_blocks, split_k)
    split = triton.cdiv(k_blocks, per_split)  # no empty splits
    if split == 1:
        return per_split, split, y, y
    ws = torch.empty(split * programs * tile_elems, dtype=torch.float32, device=y.device)
    return per_split, split, ws, arrival_counters(y.device, programs)


def split_k_launch(x: torch.Tensor, y: torch.Tensor, n: int, block_n: int, block_k: int, split_k: int,
                   k_per_split: int | None = None):  # fmt: skip
    """Grid and buffers of a split-K launch over x [M, K] -> y [M, N]: (split, K per split, N tiles, fp32
    workspace [split, M, N], arrival counters); with one split the last two are y, unused by the kernel. K per
    split is a whole number of BLOCK_K blocks about K / split_k, or k_per_split when given."""
    m, k = x.shape
    if k_per_split is None:
        k_per_split = blocks_per_split(triton.cdiv(k, block_k), split_k) * block_k
    split = triton.cdiv(k, k_per_split)  # no empty splits
    n_tiles = triton.cdiv(n, block_n)
    if split == 1:
        return split, k_per_split, n_tiles, y, y
    ws = torch.empty(split, m, n, dtype=torch.float32, device=x.device)
    return split, k_per_split, n_tiles, ws, arrival_counters(x.device, n_tiles)


def split_for(n: int, k: int, block_n: int, block_k: int, target_programs: int) -> int:
    """Split-K factor so that about target_programs programs run (never more splits than K blocks)."""
    n_tiles = triton.cdiv(n, block_n)
    k_blocks = triton.cdiv(k, block_k)
    return max(1, min(k_blocks, round(target_programs / n_tiles)))


@triton.jit
def split_k_arrive(counter_ptr, pid_n, SPLIT_K):
    """After a program's split-K partials are stored: its arrival on the pid_n tile's counter, and whether it is the
    last to arrive (it then sums the partials into y and calls split_k_reset)."""
    tl.debug_barrier()  # every thread's partial is stored before the (acq_rel, gpu-scope) arrival
    return tl.atomic_add(counter_ptr + pid_n, 1) == SPLIT_K - 1


@triton.jit
def split_k_reset(counter_ptr, pid_n):
    """The last program's counter back to 0, ready for the next launch; relaxed: no fence before it (nothing in this
    launch reads the counter again, and the launch's end orders it before the next one), which kept the last program
    ~1 us longer."""
    tl.atomic_xchg(counter_ptr + pid_n, 0, sem="relaxed")


@triton.jit
def store_split_k(acc, offs, y_offs, out_mask, y_ptr, ws_ptr, counter_ptr, pid_n, pid_k, M, N,
                  SPLIT_K: tl.constexpr, USE_SPLIT: tl.constexpr):
    """Write a program's fp32 tile of y. Split-K: each program stores its partial in the workspace
    [SPLIT_K, M, N]; the last of the pid_n column to arrive sums them, writes y and resets the counter."""
    if USE_SPLIT:
        tl.store(ws_ptr + pid_k * M * N + offs, acc, mask=out_mask)
        if split_k_arrive(counter_ptr, pid_n, SPLIT_K):
            total = tl.zeros(acc.shape, dtype=tl.float32)
            for s in range(0, SPLIT_K):
                total += tl.load(ws_ptr + s * M * N + offs, mask=out_mask, other=0.0, cache_modifier=".cg")
            tl.store(y_ptr + y_offs, total.to(y_ptr.dtype.element_ty), mask=out_mask)
            split_k_reset(counter_ptr, pid_n)
    else:
        tl.store(y_ptr + y_offs, acc.to(y_ptr.dtype.element_ty), mask=out_mask)
