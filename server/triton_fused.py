"""Fused elementwise steps of the decoder for CUDA (Triton): fewer, larger kernels per decode step.

Besides its 128 multi-LUT calls, a decode step of the 7B-shaped model at batch 1 launches ~40 small kernels per
layer (benchmarks/NOTES.md, serving): RMSNorm alone is 8 aten kernels, RoPE 5 per tensor, the KV-cache writes 2.
Each costs a few microseconds even inside a CUDA graph; together ~2 of the 7 ms. These replace them:

    rms_norm(x [T, D], w [D], eps)                   -> w * normalize(x)                        1 kernel, was 8
    add_rms_norm(h [T, D], delta [T, D], w, eps)     -> (h + delta, w * normalize(h + delta))    1 kernel, was 9
    silu_mul(gate_up [T, 2F])                        -> silu(gate) * up  [T, F]                 1 kernel, was 2
    rope_and_store(q [T, H, hd], k, v [T, Hkv, hd], cos, sin [T, hd], k_cache, v_cache, slot_mapping [T])
        -> (rope(q), rope(k)); rope(k) and v written to the flat caches' rows slot_mapping    1 kernel, was 12

The torch forms in server/model.py are the reference (tests/server/test_fused_ops.py): math in fp32, rounded to
the activations' dtype where torch's fp16/bf16 ops round (a product of two fp16 values is exact in fp32, so
rounding it once matches torch's fp16 multiply). One program per token row; rows are independent, so a token's
result does not depend on the rest of the batch.

Imported only on CUDA (or by the tests, under TRITON_INTERPRET=1 on the CPU).
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from kernels.autotune import num_sms
from kernels.triton_bucket_int8 import DIGITS_ROW_MAX, digits_block, digits_warps, int8_row_digits
from kernels.triton_common import (
    arrival_counters,
    jit_any_size,
    pdl_args,
    pdl_release,
    pdl_wait,
)


@triton.jit
def _rms_norm_kernel(
    x_ptr, delta_ptr, w_ptr, sum_ptr, out_ptr, D, stride_x, stride_d, stride_s, stride_o, eps,
    hi_ptr, lo_ptr, step_ptr, sums_ptr, stride_digits, stride_sums,
    HAS_DELTA: tl.constexpr, BLOCK_D: tl.constexpr, DIGITS: tl.constexpr = False, PDL: tl.constexpr = False,
):  # fmt: skip
    """A row a program: out = w * normalize(h) (h = x, or x + delta, stored to sum_ptr). DIGITS: also out's int8
    digits, as int8_digits(out, sums=True) gives them (the int8 activation mode's next projection then launches no
    digits kernel of its own: server/model.py LutProjection.int8_digits_for, SKETCHSERVE_INT8_NORM_DIGITS)."""
    pdl_wait(PDL)  # (kernels/triton_common.py pdl_enabled: nothing before it)
    pdl_release(PDL)  # the next linear layer's codes, slot and LUT loads may start now
    row = tl.program_id(0)
    cols = tl.arange(0, BLOCK_D)
    mask = cols < D
    dtype = out_ptr.dtype.element_ty
    h = tl.load(x_ptr + row * stride_x + cols, mask=mask, other=0.0)
    if HAS_DELTA:  # h + delta, rounded to the activations' dtype (torch's fp16 add), kept as the new residual
        d = tl.load(delta_ptr + row * stride_d + cols, mask=mask, other=0.0)
        h = (h.to(tl.float32) + d.to(tl.float32)).to(dtype)
        tl.store(sum_ptr + row * stride_s + cols, h, mask=mask)
    hf = h.to(tl.float32)
    inv = tl.rsqrt(tl.sum(hf * hf, axis=0) / D + eps)
    normed = (hf * inv).to(dtype)  # torch: (h.float() * rsqrt(...)).to(x.dtype)
    w = tl.load(w_ptr + cols, mask=mask, other=0.0)
    out = (w.to(tl.float32) * normed.to(tl.float32)).to(dtype)
    tl.store(out_ptr + row * stride_o + cols, out, mask=mask)
    if DIGITS:  # from out as stored (0 past D), as the digits kernel would read it
        int8_row_digits(out.to(tl.float32), cols, D, row, hi_ptr, lo_ptr, step_ptr, sums_ptr, stride_digits,
                        stride_sums, BLOCK_D)  # fmt: skip


def _rows(t: torch.Tensor, name: str) -> None:
    if t.dim() != 2 or t.stride(1) != 1:
        raise ValueError(f"{name} must be 2-D with unit column stride, got {tuple(t.shape)} strides {t.stride()}")


def _digits_args(digits: tuple[torch.Tensor, ...] | None, out: torch.Tensor) -> tuple[list, dict]:
    """A fused kernel's digit arguments for its [T, D] output: into digits (int8_digits_buffers(T, D, sums=True)),
    or none."""
    if digits is None:
        return [out, out, out, out, 0, 0], {}
    hi, lo, step, lo_sums = digits
    if hi.shape != out.shape or lo.stride(0) != hi.stride(0) or lo_sums.shape[0] != out.shape[0]:
        raise ValueError("digits must be int8_digits_buffers(T, D, sums=True) for the kernel's [T, D] output")
    return [hi, lo, step, lo_sums, hi.stride(0), lo_sums.stride(0)], {"DIGITS": True}


def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float,
             digits: tuple[torch.Tensor, ...] | None = None) -> torch.Tensor:  # fmt: skip
    """weight * normalize(x) over the last dim: x [T, D] -> [T, D] in x.dtype. digits: buffers the output's int8
    digits are written into as well (kernels/triton_bucket_int8.py int8_digits_buffers, sums=True)."""
    _rows(x, "x")
    out = torch.empty_like(x)
    args, flags = _digits_args(digits, out)
    if x.shape[0]:
        _rms_norm_kernel[(x.shape[0],)](
            x, x, weight, x, out, x.shape[1], x.stride(0), 0, 0, out.stride(0), eps, *args,
            HAS_DELTA=False, BLOCK_D=triton.next_power_of_2(x.shape[1]), **flags, **pdl_args(x.device),
        )  # fmt: skip
    return out


def add_rms_norm(
    h: torch.Tensor, delta: torch.Tensor, weight: torch.Tensor, eps: float,
    digits: tuple[torch.Tensor, ...] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """(h + delta, weight * normalize(h + delta)): the residual update and the next norm in one pass. digits: as
    rms_norm's."""
    _rows(h, "h")
    _rows(delta, "delta")
    if h.shape != delta.shape:
        raise ValueError(f"h {tuple(h.shape)} and delta {tuple(delta.shape)} differ")
    total, out = torch.empty_like(h), torch.empty_like(h)
    args, flags = _digits_args(digits, out)
    if h.shape[0]:
        _rms_norm_kernel[(h.shape[0],)](
            h, delta, weight, total, out, h.shape[1], h.stride(0), delta.stride(0), total.stride(0), out.stride(0),
            eps, *args, HAS_DELTA=True, BLOCK_D=triton.next_power_of_2(h.shape[1]), **flags, **pdl_args(h.device),
        )  # fmt: skip
    return total, out


@triton.jit
def _silu_mul_kernel(gu_ptr, out_ptr, F, stride_gu, stride_o, hi_ptr, lo_ptr, step_ptr, sums_ptr, stride_digits,
                     stride_sums, BLOCK: tl.constexpr, DIGITS: tl.constexpr = False,
                     PDL: tl.constexpr = False):  # fmt: skip
    """Program (row, j): columns [j BLOCK, (j + 1) BLOCK) of silu(gate) * up. DIGITS (a program a row, BLOCK >= F):
    also the row's int8 digits, as the norm's (_rms_norm_kernel)."""
    pdl_wait(PDL)
    pdl_release(PDL)
    row = tl.program_id(0)
    cols = tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)
    mask = cols < F
    dtype = out_ptr.dtype.element_ty
    g = tl.load(gu_ptr + row * stride_gu + cols, mask=mask, other=0.0).to(tl.float32)
    u = tl.load(gu_ptr + row * stride_gu + F + cols, mask=mask, other=0.0).to(tl.float32)
    s = (g / (1.0 + tl.exp(-g))).to(dtype)  # torch's silu: fp32 math, rounded
    out = (s.to(tl.float32) * u).to(dtype)
    tl.store(out_ptr + row * stride_o + cols, out, mask=mask)
    if DIGITS:  # (0 past F: g = u = 0 there)
        int8_row_digits(out.to(tl.float32), cols, F, row, hi_ptr, lo_ptr, step_ptr, sums_ptr, stride_digits,
                        stride_sums, BLOCK)  # fmt: skip


def silu_mul(gate_up: torch.Tensor, out: torch.Tensor | None = None,
             digits: tuple[torch.Tensor, ...] | None = None) -> torch.Tensor:  # fmt: skip
    """gate_up [T, 2F] (gate, then up) -> silu(gate) * up [T, F] (into out if given: contiguous, gate_up's dtype).
    digits: buffers its int8 digits are written into as well (as rms_norm's; one program a row then, up to
    16,384 columns)."""
    _rows(gate_up, "gate_up")
    if gate_up.shape[1] % 2:
        raise ValueError(f"gate_up needs an even width, got {gate_up.shape[1]}")
    t, f = gate_up.shape[0], gate_up.shape[1] // 2
    if out is None:
        out = torch.empty(t, f, dtype=gate_up.dtype, device=gate_up.device)
    elif out.shape != (t, f) or out.dtype != gate_up.dtype or not out.is_contiguous():
        raise ValueError(f"out must be a contiguous [{t}, {f}] {gate_up.dtype} tensor")
    args, flags = _digits_args(digits, out)
    block, warps = min(1024, triton.next_power_of_2(f)), 4
    if digits is not None:  # the row's max first: the whole row in one program
        if f > DIGITS_ROW_MAX:
            raise ValueError(f"silu_mul writes digits for rows of up to {DIGITS_ROW_MAX} columns, got {f}")
        block = digits_block(f)
        warps = digits_warps(block)
    if t:
        _silu_mul_kernel[(t, triton.cdiv(f, block))](gate_up, out, f, gate_up.stride(0), out.stride(0), *args,
                                                      BLOCK=block, **flags, num_warps=warps,
                                                      **pdl_args(gate_up.device))  # fmt: skip
    return out


@triton.jit
def _rope(base_ptr, heads, mask, cols, half, cos, sin, dtype: tl.constexpr):
    """x * cos + rotate_half(x) * sin for [BLOCK_H, BLOCK_D] at base_ptr (heads, cols offsets given)."""
    x = tl.load(base_ptr + heads + cols[None, :], mask=mask, other=0.0).to(tl.float32)
    partner = tl.where(cols < half, cols + half, cols - half)  # rotate_half = cat(-x[half:], x[:half])
    sign = tl.where(cols < half, -1.0, 1.0)
    rot = tl.load(base_ptr + heads + partner[None, :], mask=mask, other=0.0).to(tl.float32) * sign[None, :]
    a = (x * cos[None, :]).to(dtype)
    b = (rot * sin[None, :]).to(dtype)
    return (a.to(tl.float32) + b.to(tl.float32)).to(dtype)


@triton.jit
def _rope_and_store_kernel(
    q_ptr, k_ptr, v_ptr, cos_ptr, sin_ptr, slot_ptr, q_out_ptr, k_out_ptr, k_cache_ptr, v_cache_ptr,
    H, HKV, HD, stride_qt, stride_qh, stride_kt, stride_kh, stride_vt, stride_vh, stride_cos, stride_cache,
    BLOCK_H: tl.constexpr, BLOCK_HKV: tl.constexpr, BLOCK_D: tl.constexpr, PDL: tl.constexpr = False,
):  # fmt: skip
    """Program (t, c): token t's query heads [c BLOCK_H, (c + 1) BLOCK_H) and KV heads [c BLOCK_HKV, ...) (the
    launcher's chunks cover both; a chunk past HKV stores no K or V)."""
    pdl_wait(PDL)
    pdl_release(PDL)
    t = tl.program_id(0)
    chunk = tl.program_id(1)
    cols = tl.arange(0, BLOCK_D)
    half = HD // 2
    dtype = q_out_ptr.dtype.element_ty
    cos = tl.load(cos_ptr + t * stride_cos + cols, mask=cols < HD, other=0.0).to(tl.float32)
    sin = tl.load(sin_ptr + t * stride_cos + cols, mask=cols < HD, other=0.0).to(tl.float32)

    hq = chunk * BLOCK_H + tl.arange(0, BLOCK_H)
    mask_q = (hq < H)[:, None] & (cols < HD)[None, :]
    q = _rope(q_ptr + t * stride_qt, (hq * stride_qh)[:, None], mask_q, cols, half, cos, sin, dtype)
    tl.store(q_out_ptr + t * H * HD + (hq * HD)[:, None] + cols[None, :], q, mask=mask_q)

    hk = chunk * BLOCK_HKV + tl.arange(0, BLOCK_HKV)
    mask_k = (hk < HKV)[:, None] & (cols < HD)[None, :]
    k = _rope(k_ptr + t * stride_kt, (hk * stride_kh)[:, None], mask_k, cols, half, cos, sin, dtype)
    dense = (hk * HD)[:, None] + cols[None, :]
    tl.store(k_out_ptr + t * HKV * HD + dense, k, mask=mask_k)
    row = tl.load(slot_ptr + t).to(tl.int64)  # this token's row of the flat cache [rows, Hkv, hd]
    tl.store(k_cache_ptr + row * stride_cache + dense, k, mask=mask_k)
    v = tl.load(v_ptr + t * stride_vt + (hk * stride_vh)[:, None] + cols[None, :], mask=mask_k, other=0.0)
    tl.store(v_cache_ptr + row * stride_cache + dense, v, mask=mask_k)


# rope_and_store's programs a token: its heads in this many chunks (a 16-token decode step launched 16 programs of
# 32 + 32 heads each before: 3.9 us a layer on the H200; 128 programs took 16 x 16 serving from 9.01-9.05 to
# 8.99-9.01 ms a step, NOTES.md thirty-sixth session). Fixed per model, not per token count: one compiled variant.
ROPE_CHUNKS = 8


def rope_chunks(h: int, hkv: int) -> tuple[int, int, int]:
    """(chunks a token, query heads a chunk, KV heads a chunk), the last two powers of two, for rope_and_store's
    grid (tokens, chunks): up to ROPE_CHUNKS chunks that cover the h query heads and the hkv KV heads."""
    block_h = max(1, triton.next_power_of_2(h) // ROPE_CHUNKS)
    chunks = triton.cdiv(h, block_h)
    return chunks, block_h, triton.next_power_of_2(triton.cdiv(hkv, chunks))


def rope_and_store(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    cos: torch.Tensor,
    sin: torch.Tensor,
    k_cache: torch.Tensor,
    v_cache: torch.Tensor,
    slot_mapping: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """q [T, H, hd], k / v [T, Hkv, hd] (views with any token and head strides, unit last stride), cos / sin
    [T, hd]; k_cache / v_cache [num_blocks, block_size, Hkv, hd] contiguous, slot_mapping [T] (flat cache rows).
    Returns rope(q) [T, H, hd] and rope(k) [T, Hkv, hd], contiguous; writes rope(k) and v into the caches."""
    t, h, hd = q.shape
    hkv = k.shape[1]
    if k.shape != (t, hkv, hd) or v.shape != k.shape or cos.shape != (t, hd) or sin.shape != cos.shape:
        raise ValueError(f"shapes q {tuple(q.shape)} k {tuple(k.shape)} v {tuple(v.shape)} cos {tuple(cos.shape)}")
    if hd % 2 or any(x.stride(-1) != 1 for x in (q, k, v, cos, sin)) or cos.stride() != sin.stride():
        raise ValueError("rope_and_store needs an even head dim and unit last strides")
    if not (k_cache.is_contiguous() and v_cache.is_contiguous()) or k_cache.shape[-2:] != (hkv, hd):
        raise ValueError(f"caches must be contiguous [..., {hkv}, {hd}], got {tuple(k_cache.shape)}")
    q_out = torch.empty(t, h, hd, dtype=q.dtype, device=q.device)
    k_out = torch.empty(t, hkv, hd, dtype=k.dtype, device=k.device)
    if t:
        chunks, block_h, block_hkv = rope_chunks(h, hkv)
        _rope_and_store_kernel[(t, chunks)](
            q, k, v, cos, sin, slot_mapping, q_out, k_out, k_cache, v_cache,
            h, hkv, hd, q.stride(0), q.stride(1), k.stride(0), k.stride(1), v.stride(0), v.stride(1), cos.stride(0),
            hkv * hd, BLOCK_H=block_h, BLOCK_HKV=block_hkv, BLOCK_D=triton.next_power_of_2(hd), **pdl_args(q.device),
        )  # fmt: skip
    return q_out, k_out


@triton.jit
def _kv_chunk(bt_ptr, k_cache_ptr, v_cache_ptr, b, kvh, stride_bt, BS, HKV, HD, ts, t_mask, ds, d_mask):
    """K and V [T, D] of tokens ts (t_mask: within the part) of sequence b, KV head kvh, from the paged caches."""
    block = tl.load(bt_ptr + b * stride_bt + ts // BS, mask=t_mask, other=0).to(tl.int64)
    rows = (block * BS + ts % BS) * HKV + kvh  # [T] row of (token, this KV head) in the flat caches
    kv_mask = t_mask[:, None] & d_mask[None, :]
    k = tl.load(k_cache_ptr + rows[:, None] * HD + ds[None, :], mask=kv_mask, other=0.0)
    v = tl.load(v_cache_ptr + rows[:, None] * HD + ds[None, :], mask=kv_mask, other=0.0)
    return k, v


@triton.jit
def _attend_chunk(q, k, v, t_mask, m_i, l_i, acc, scale):
    """Online softmax over one chunk: (m_i, l_i, acc) [G], [G], [G, D] updated with the chunk's K and V [T, D]."""
    scores = tl.dot(q, tl.trans(k), input_precision="ieee" if q.dtype == tl.float32 else "tf32") * scale
    scores = tl.where(t_mask[None, :], scores, float("-inf"))  # [G, T]
    m_new = tl.maximum(m_i, tl.max(scores, axis=1))
    alpha = tl.exp(m_i - m_new)
    p = tl.exp(scores - m_new[:, None])
    l_i = l_i * alpha + tl.sum(p, axis=1)
    acc = acc * alpha[:, None] + tl.dot(p.to(v.dtype), v, input_precision="ieee" if v.dtype == tl.float32
                                        else "tf32")  # fmt: skip
    return m_new, l_i, acc


@jit_any_size(sizes=("stride_bt", "SPLITS"), unaligned=("bt_ptr", "lens_ptr"))
def _paged_decode_attention_kernel(
    q_ptr, k_cache_ptr, v_cache_ptr, bt_ptr, lens_ptr, out_ptr, ws_ptr, counter_ptr,
    G, HKV, HD, BS, stride_qb, stride_qh, stride_bt, stride_ob, stride_oh, scale, SPLITS,
    BLOCK_G: tl.constexpr, BLOCK_T: tl.constexpr, BLOCK_D: tl.constexpr, USE_SPLIT: tl.constexpr,
    PDL: tl.constexpr = False, PREFETCH: tl.constexpr = False,
):  # fmt: skip
    """Program (b, kvh, s): the G query heads of KV head kvh of sequence b over the s-th of SPLITS equal parts
    of its context (whole BLOCK_T chunks), online softmax, on tensor cores (the G heads padded to BLOCK_G >= 16).
    PREFETCH: each chunk's block-table entries and K / V rows are requested one chunk ahead, before the math of the
    chunk before (two dependent loads a chunk otherwise wait in turn: a short context is a few such waits).
    Split: each part's (max, sum, acc) [G], [G], [G, D] in fp32 to the workspace [B * HKV, SPLITS, BLOCK_G,
    BLOCK_D + 2]; the last part of (b, kvh) to arrive rescales them to the common max, adds them up, writes the
    output and resets its counter."""
    pdl_wait(PDL)
    pdl_release(PDL)
    b = tl.program_id(0)
    kvh = tl.program_id(1)
    part = tl.program_id(2)
    gs = tl.arange(0, BLOCK_G)
    ds = tl.arange(0, BLOCK_D)
    g_mask = gs < G
    d_mask = ds < HD
    heads = kvh * G + gs  # the query heads this KV head serves
    q = tl.load(q_ptr + b * stride_qb + heads[:, None] * stride_qh + ds[None, :],
                mask=g_mask[:, None] & d_mask[None, :], other=0.0)  # fmt: skip
    ctx = tl.load(lens_ptr + b)
    per_part = tl.cdiv(tl.cdiv(ctx, SPLITS), BLOCK_T) * BLOCK_T
    t_begin = part * per_part
    t_end = tl.minimum(t_begin + per_part, ctx)
    m_i = tl.full((BLOCK_G,), float("-inf"), dtype=tl.float32)
    l_i = tl.zeros((BLOCK_G,), dtype=tl.float32)
    acc = tl.zeros((BLOCK_G, BLOCK_D), dtype=tl.float32)
    if PREFETCH:
        ts = t_begin + tl.arange(0, BLOCK_T)
        t_mask = ts < t_end
        k, v = _kv_chunk(bt_ptr, k_cache_ptr, v_cache_ptr, b, kvh, stride_bt, BS, HKV, HD, ts, t_mask, ds, d_mask)
        for t0 in range(t_begin, t_end, BLOCK_T):
            ts_next = t0 + BLOCK_T + tl.arange(0, BLOCK_T)
            next_mask = ts_next < t_end  # none past the part: the last round requests nothing
            k_next, v_next = _kv_chunk(bt_ptr, k_cache_ptr, v_cache_ptr, b, kvh, stride_bt, BS, HKV, HD, ts_next,
                                       next_mask, ds, d_mask)  # fmt: skip
            m_i, l_i, acc = _attend_chunk(q, k, v, t_mask, m_i, l_i, acc, scale)
            k, v, t_mask = k_next, v_next, next_mask
    else:
        for t0 in range(t_begin, t_end, BLOCK_T):
            ts = t0 + tl.arange(0, BLOCK_T)
            t_mask = ts < t_end
            k, v = _kv_chunk(bt_ptr, k_cache_ptr, v_cache_ptr, b, kvh, stride_bt, BS, HKV, HD, ts, t_mask, ds, d_mask)
            m_i, l_i, acc = _attend_chunk(q, k, v, t_mask, m_i, l_i, acc, scale)
    out_offs = b * stride_ob + heads[:, None] * stride_oh + ds[None, :]
    out_mask = g_mask[:, None] & d_mask[None, :]
    if USE_SPLIT:
        W: tl.constexpr = BLOCK_D + 2  # per head: acc [D], then max, then sum
        pair = b * HKV + kvh
        base = ws_ptr + (pair * SPLITS + part) * BLOCK_G * W + gs * W  # [G] row starts of this part
        tl.store(base[:, None] + ds[None, :], acc)
        tl.store(base + BLOCK_D, m_i)
        tl.store(base + BLOCK_D + 1, l_i)
        tl.debug_barrier()  # every thread's part is stored before the (acq_rel, gpu-scope) arrival
        if tl.atomic_add(counter_ptr + pair, 1) == SPLITS - 1:
            first = ws_ptr + pair * SPLITS * BLOCK_G * W + gs * W
            m_all = tl.full((BLOCK_G,), float("-inf"), dtype=tl.float32)
            for s in range(0, SPLITS):  # the common max (parts past the context hold -inf)
                m_all = tl.maximum(m_all, tl.load(first + s * BLOCK_G * W + BLOCK_D, cache_modifier=".cg"))
            total = tl.zeros((BLOCK_G, BLOCK_D), dtype=tl.float32)
            norm = tl.zeros((BLOCK_G,), dtype=tl.float32)
            for s in range(0, SPLITS):
                row = first + s * BLOCK_G * W
                w = tl.exp(tl.load(row + BLOCK_D, cache_modifier=".cg") - m_all)  # 0 for an empty part
                norm += w * tl.load(row + BLOCK_D + 1, cache_modifier=".cg")
                total += w[:, None] * tl.load(row[:, None] + ds[None, :], cache_modifier=".cg")
            out = total / tl.maximum(norm, 1e-30)[:, None]
            tl.store(out_ptr + out_offs, out.to(out_ptr.dtype.element_ty), mask=out_mask)
            tl.atomic_xchg(counter_ptr + pair, 0)  # ready for the next launch
    else:
        out = acc / tl.maximum(l_i, 1e-30)[:, None]
        tl.store(out_ptr + out_offs, out.to(out_ptr.dtype.element_ty), mask=out_mask)


# Parts hold at least this many tokens of the block table's capacity: short contexts (the measured serving runs:
# 128-token prompts + 32 new, capacity 256) keep the one-pass kernel; a 2k context at batch 1 of the 7B shape gets 8.
MIN_TOKENS_PER_PART = 256


def attention_splits(programs: int, capacity: int, num_sms: int) -> int:
    """Parts of each context for programs = sequences x KV heads and contexts of up to capacity tokens: enough
    for ~2 programs per SM, each part at least MIN_TOKENS_PER_PART of the capacity, at most 32."""
    if programs >= num_sms:
        return 1
    return max(1, min(32, (2 * num_sms) // programs, capacity // MIN_TOKENS_PER_PART))


def paged_decode_attention(
    q: torch.Tensor,
    k_cache: torch.Tensor,
    v_cache: torch.Tensor,
    block_tables: torch.Tensor,
    context_lens: torch.Tensor,
    scale: float,
    num_splits: int | None = None,
) -> torch.Tensor:
    """One new token per sequence attending to its cached context, read in place from the paged caches.

    q [B, H, hd]; k_cache / v_cache [num_blocks, block_size, Hkv, hd] contiguous; block_tables [B, nb] (padded
    with any valid block); context_lens [B] (tokens cached, including the new one). Returns [B, H, hd] in q.dtype.
    The torch form (server/model.py, Attention._decode) first gathers every sequence's whole context into a dense
    copy per layer; this reads each cached K/V row once (online softmax), one program per (sequence, KV head) and
    part of the context. num_splits: parts per context (default attention_splits from the table's capacity
    nb * block_size, known on the host: the lengths stay on the device, as under CUDA graphs). At batch 1 a 7B
    layer has 32 (sequence, KV head) pairs for 132 SMs, each reading the whole context alone without a split.
    """
    b, h, hd = q.shape
    _, bs, hkv, hd_c = k_cache.shape
    if hd_c != hd or h % hkv or v_cache.shape != k_cache.shape or block_tables.shape[0] != b:
        raise ValueError(f"shapes q {tuple(q.shape)} cache {tuple(k_cache.shape)} tables {tuple(block_tables.shape)}")
    if not (k_cache.is_contiguous() and v_cache.is_contiguous()) or q.stride(-1) != 1:
        raise ValueError("paged_decode_attention needs contiguous caches and a unit last stride of q")
    if num_splits is not None and num_splits < 1:
        raise ValueError(f"num_splits must be >= 1, got {num_splits}")
    if not b:
        return torch.empty(b, h, hd, dtype=q.dtype, device=q.device)
    sms = num_sms(q.device)
    if num_splits is None:
        num_splits = attention_splits(b * hkv, block_tables.shape[1] * bs, sms)
    return launch_paged_decode_attention(q, k_cache, v_cache, block_tables, context_lens, scale, num_splits,
                                         attention_config(b * hkv, sms))  # fmt: skip


ATTENTION_MANY_PAIRS = {"BLOCK_T": 64, "num_warps": 4}
ATTENTION_FEW_PAIRS = {"BLOCK_T": 64, "num_warps": 8, "PREFETCH": 1}


def attention_config(pairs: int, sms: int) -> dict:
    """paged_decode_attention's chunk (BLOCK_T tokens), warps and PREFETCH for a batch of `pairs` (sequence, KV head)
    pairs on `sms` SMs (at any head dim and query heads a KV head: they pad to 16 rows alike).

    Up to two pairs an SM (batch 8 at 7B: 32 KV heads a sequence; attention_splits cuts a small batch's contexts
    into parts), each program's chain of dependent loads is the time, and requesting each chunk a chunk ahead pays:
    64 tokens, 8 warps, PREFETCH. At head dim 128 (H200, `benchmarks/attention_decode.py`, NOTES.md thirty-seventh
    session), against the other form: batch 1 x 160 tokens 8.9 against 10.7 us, batch 1 x 1,024 (4 parts) 17.0
    against 19.3, batch 8 x 160 14.2 against 15.5, batch 8 x 1,024 48.6 against 53.9. From 16 sequences the
    prefetching forms were slower (16 x 160: 21.1-25.8 against 20.8; 64 x 1,024: 324-395 against 261): 64 tokens,
    4 warps. Measured with one query head a KV head; grouped heads and head dim 64 take the same rule unmeasured
    (each program's tile is the same 16 padded query rows).
    That form against 32 tokens (thirty-sixth session): 74.8-77.1 against 85.1-86.0 us at 16 x 1,024, 256-261
    against 312 at 64 x 1,024 (the bandwidth floor: 254), 20.0-20.7 against 19.5-19.9 at 16 x 160, though it spills
    96 bytes (Triton 3.6, sm_90); a CUDA-core form of G = 1 was slower (thirty-fifth session). num_stages changes
    nothing in this kernel's compile (its loads are not pipelined), so it is left out."""
    return ATTENTION_FEW_PAIRS if pairs <= 2 * sms else ATTENTION_MANY_PAIRS


def launch_paged_decode_attention(q, k_cache, v_cache, block_tables, context_lens, scale: float, num_splits: int,
                                  config: dict) -> torch.Tensor:  # fmt: skip
    """paged_decode_attention's kernel launch with config (attention_config's keys, num_stages and PREFETCH)."""
    b, h, hd = q.shape
    _, bs, hkv, _ = k_cache.shape
    out = torch.empty(b, h, hd, dtype=q.dtype, device=q.device)
    g = h // hkv
    block_g = max(16, triton.next_power_of_2(g))
    block_d = max(16, triton.next_power_of_2(hd))
    if num_splits > 1:
        ws = torch.empty(b * hkv * num_splits * block_g * (block_d + 2), dtype=torch.float32, device=q.device)
        counters = arrival_counters(q.device, b * hkv)
    else:
        ws = counters = out  # unused
    _paged_decode_attention_kernel[(b, hkv, num_splits)](
        q, k_cache, v_cache, block_tables, context_lens, out, ws, counters,
        g, hkv, hd, bs, q.stride(0), q.stride(1), block_tables.stride(0), out.stride(0), out.stride(1), scale,
        num_splits, BLOCK_G=block_g, BLOCK_T=config["BLOCK_T"], BLOCK_D=block_d, USE_SPLIT=num_splits > 1,
        PREFETCH=bool(config.get("PREFETCH", 0)), num_warps=config["num_warps"],
        **({"num_stages": config["num_stages"]} if "num_stages" in config else {}), **pdl_args(q.device),
    )  # fmt: skip
    return out


def warm_up_attention(k_cache: torch.Tensor, v_cache: torch.Tensor, num_heads: int) -> None:
    """Compile paged_decode_attention for a model's geometry (one layer's caches, its query head count), with the
    context whole and split and in both of attention_config's forms, before the first request: self_check's small
    shapes are other variants (head dim, grouped heads, divisibility), so the first request and the first long
    context each compiled one (0.3-0.5 s, H200, NOTES.md fourteenth session). In the launch mode of the call (the
    runner calls it in each of triton_common.warm_up_scopes: PDL on is another variant, twenty-first session). Reads
    one null-block row; writes nothing to the caches."""
    _, _, _, hd = k_cache.shape
    q = torch.zeros(1, num_heads, hd, dtype=k_cache.dtype, device=k_cache.device)
    tables = torch.zeros(1, 1, dtype=torch.int64, device=k_cache.device)  # the runner's packed int64 tables
    lens = torch.ones(1, dtype=torch.int32, device=k_cache.device)
    for config in (ATTENTION_FEW_PAIRS, ATTENTION_MANY_PAIRS):
        for splits in (1, 2):
            launch_paged_decode_attention(q, k_cache, v_cache, tables, lens, hd**-0.5, splits, config)


def _dense_decode_attention(q, k_cache, v_cache, block_tables, context_lens, scale: float) -> torch.Tensor:
    """The torch form of paged_decode_attention, one sequence at a time (reference for checks and tests)."""
    out = []
    _, bs, hkv, hd = k_cache.shape
    g = q.shape[1] // hkv
    for i in range(q.shape[0]):
        n = int(context_lens[i])
        rows = block_tables[i, torch.arange(n, device=q.device) // bs] * bs + torch.arange(n, device=q.device) % bs
        k = k_cache.view(-1, hkv, hd)[rows].repeat_interleave(g, dim=1).transpose(0, 1).float()  # [H, n, hd]
        v = v_cache.view(-1, hkv, hd)[rows].repeat_interleave(g, dim=1).transpose(0, 1).float()
        w = torch.softmax((q[i].float()[:, None, :] @ k.transpose(1, 2)) * scale, dim=-1)  # [H, 1, n]
        out.append((w @ v)[:, 0].to(q.dtype))
    return torch.stack(out)


def self_check(device: torch.device, dtype: torch.dtype) -> str | None:
    """Run every fused kernel once on small inputs against the torch forms; None if all agree, else why not.
    The server calls it before the first fused use on a device (a Triton build that miscompiles or cannot
    compile these must not take serving down: it falls back to the torch forms). Its kernels first compile on a
    pool of threads (kernels/compile_ahead.py: a calls' pass that only compiles), not one after another: 6 variants,
    0.3-0.5 s each on the H200."""
    from kernels.compile_ahead import compile_ahead

    try:
        with compile_ahead() as ahead:
            if ahead:
                _check_pairs(device, dtype)  # compiles only: the outputs are garbage, never compared
    except Exception:  # noqa: BLE001, S110 - only a head start for the compiles: the checked pass below decides
        pass
    try:
        for name, (got, want) in _check_pairs(device, dtype).items():
            if not torch.allclose(got.float(), want.float(), rtol=2e-2, atol=2e-2):
                return f"{name} differs from the torch form by {(got.float() - want.float()).abs().max().item():.3g}"
    except Exception as e:  # noqa: BLE001 - any failure means: do not use the fused kernels
        return f"{type(e).__name__}: {e}"
    return None


def _check_pairs(device: torch.device, dtype: torch.dtype) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """self_check's (fused kernel's output, the torch form's) pairs, by name, on small random inputs."""
    from server.model import RMSNorm, apply_rope  # the reference forms (server/model.py imports this module lazily)

    g = torch.Generator().manual_seed(0)
    x, delta = (torch.randn(3, 72, generator=g).to(device, dtype) for _ in range(2))
    w = torch.randn(72, generator=g).to(device, dtype)
    qkv = torch.randn(3, 8 * 16, generator=g).to(device, dtype)
    q, k, v = (p.view(3, -1, 16) for p in qkv.split([64, 32, 32], dim=-1))
    cos, sin = (torch.randn(3, 16, generator=g).to(device, dtype) for _ in range(2))
    cache = torch.zeros(2, 4, 2, 16, device=device, dtype=dtype)
    v_cache = torch.zeros_like(cache)
    rows = torch.tensor([5, 0, 2], device=device)

    norm = RMSNorm(w, 1e-5)
    total, normed = add_rms_norm(x, delta, w, 1e-5)
    q_rot, k_rot = rope_and_store(q, k, v, cos, sin, cache, v_cache, rows)
    tables = torch.tensor([[1, 0], [0, 1], [1, 1]], device=device)
    lens = torch.tensor([5, 8, 1], device=device, dtype=torch.int32)
    kc, vc = (torch.randn(2, 4, 2, 16, generator=g).to(device, dtype) for _ in range(2))
    attention = paged_decode_attention(q_rot, kc, vc, tables, lens, 0.25)
    one_head_attention = paged_decode_attention(q_rot[:, :2], kc, vc, tables, lens, 0.25)  # G = 1 (Llama-2-7B's)
    split_attention = paged_decode_attention(q_rot, kc, vc, tables, lens, 0.25, num_splits=3)
    return {
        "rms_norm": (rms_norm(x, w, 1e-5), norm(x)),
        "add_rms_norm": (normed, norm(x + delta)),
        "add_rms_norm residual": (total, x + delta),
        "silu_mul": (silu_mul(qkv), torch.nn.functional.silu(qkv[:, :64]) * qkv[:, 64:]),
        "rope q": (q_rot, apply_rope(q, cos, sin)),
        "rope k": (k_rot, apply_rope(k, cos, sin)),
        "k cache": (cache.view(-1, 2, 16)[rows], k_rot),
        "v cache": (v_cache.view(-1, 2, 16)[rows], v),
        "paged attention": (attention, _dense_decode_attention(q_rot, kc, vc, tables, lens, 0.25)),
        "split paged attention": (split_attention, attention),
        "one-head paged attention": (one_head_attention, _dense_decode_attention(q_rot[:, :2], kc, vc, tables, lens,
                                                                                 0.25)),
    }
