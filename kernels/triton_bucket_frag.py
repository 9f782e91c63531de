"""The bucket sums on mma.sync fragments: each lane's one-hots of its own code words are its A operand.

The bucket kernels (triton_bucket.py, triton_bucket_cols.py) compute, per weight row n and LUT group, the sums
S[m, v] = sum over the group's columns k with code(n, k) = v of x[m, k] as one-hot MMAs, then y[m, n] = sum_v
LUT[slot(m), n, group, v] * S[m, v]: the MMA work does not depend on the task count, so 16 tokens of 16 tasks cost
what one task does. Here the one-hot tile never exists. A warp owns one weight row; an m16n8k16 step's A rows are
the 16 values v (lane (g, t) holds rows g and g + 8), its columns 16 of K, B is x (8 tokens), C is S[v][token].
Under the column permutation of triton_decode_mma.py, the A fragment of lane (g, t) at k-step 2i + h is the
one-hot, against g and g + 8, of codes 4h .. 4h + 3 of its word WPL * t + i: one ~20-instruction asm per word
(prmt_lut.onehot_program, the one-hot's 1.0 stored as 2.0 so its low byte is zero), no shared memory.

Per group the lane folds its accumulators into per-token partials with the tokens' own LUT entries (v = g and
g + 8: 4 loads per tile of tokens), then the 8 lanes of one t are summed at the end. Written in the fifteenth
session after the device time ran out: checked on the CPU only (interpreter against the reference, the asm by the
emulator, the compiled layouts); the op does not take it until it is timed (benchmarks/device/, sixteenth).
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from kernels.prmt_lut import ONEHOT_CONSTRAINTS, ONEHOT_SCALE, onehot_program, to_ptx
from kernels.triton_common import jit_any_size, store_split_k
from kernels.triton_decode_mma import _mma, launch_fragments

ONEHOT = tl.constexpr(to_ptx(onehot_program()))
ONEHOT_CONSTR = tl.constexpr(ONEHOT_CONSTRAINTS)
UNSCALE = tl.constexpr(1.0 / ONEHOT_SCALE)


@triton.jit
def _onehots(word, tab0, tab1):
    """(P0..P3, Q0..Q3) b32 [NT]: the one-hots of the word's codes against the lane's g (P) and g + 8 (Q)."""
    return tl.inline_asm_elementwise(ONEHOT, ONEHOT_CONSTR, [word, tab0, tab1], dtype=(tl.uint32,) * 8, is_pure=True,
                                     pack=1)  # fmt: skip


@triton.jit
def _onehot_sums(words_ptr, row, c0, x_ptr, tok, tok_ok, value, stride_xm, stride_cw, CHUNK: tl.constexpr):
    """Interpreter: S[tok][value] of the chunk ([NT] fp32, scaled as the MMA's): x of token tok over the columns
    whose code in `row` is `value`."""
    cols = c0 + tl.arange(0, CHUNK)
    words = tl.load(words_ptr + row.to(tl.int64)[:, None] * stride_cw + (cols // 8)[None, :])  # [NT, CHUNK]
    codes = (words >> (4 * (cols % 8))[None, :]) & 15
    x = tl.load(x_ptr + tok.to(tl.int64)[:, None] * stride_xm + cols[None, :], mask=tok_ok[:, None], other=0.0)
    return tl.sum(tl.where(codes == value[:, None], x.to(tl.float32), 0.0), axis=1) * (1.0 / UNSCALE)


@jit_any_size(sizes=("M",), unaligned=("slot_ptr",))
def _bucket_frag_kernel(
    x_ptr, codes_ptr, lut_ptr, slot_ptr, y_ptr, ws_ptr, counter_ptr,
    M, N, K, GS, stride_xm, stride_cw, stride_ls, stride_ln, stride_ym, K_PER_SPLIT, SPLIT_K,
    BITS: tl.constexpr, WARPS: tl.constexpr, WPL: tl.constexpr, TILES: tl.constexpr, USE_SPLIT: tl.constexpr,
    ASM: tl.constexpr, BF16: tl.constexpr,
):  # fmt: skip
    """A program: WARPS weight rows (one a warp) over one K range, up to 8 * TILES tokens of any slots."""
    L: tl.constexpr = 1 << BITS
    NT: tl.constexpr = 32 * WARPS
    CHUNK: tl.constexpr = 32 * WPL
    pid_n = tl.program_id(0)
    pid_k = tl.program_id(1)
    lane = tl.arange(0, NT)
    g = (lane % 32) // 4  # the lane's values g and g + 8
    t = lane % 4
    row = pid_n * WARPS + lane // 32
    row_c = tl.minimum(row, N - 1).to(tl.int64)
    words_ptr = codes_ptr.to(tl.pointer_type(tl.uint32), bitcast=True)
    x_quads = x_ptr.to(tl.pointer_type(tl.uint64), bitcast=True)
    w_ptr = words_ptr + row_c * stride_cw + WPL * t
    # the lane's one-hot table: byte j of tab0 (entries 0-3) / tab1 (4-7) is 2.0's high byte where j == g
    tab0 = tl.where(g < 4, 0x40 << (8 * (g % 4)), 0).to(tl.uint32)
    tab1 = tl.where(g >= 4, 0x40 << (8 * (g % 4)), 0).to(tl.uint32)
    x0_off = g.to(tl.int64) * (stride_xm // 4) + 2 * WPL * t  # B: tokens g (tile 0) and g + 8 (tile 1)
    x1_off = (g + 8).to(tl.int64) * (stride_xm // 4) + 2 * WPL * t
    b0_ok = g < M
    b1_ok = g + 8 < M
    # C: tokens 2t, 2t + 1 (tile 0) and 8 + 2t, 9 + 2t (tile 1); their slots for the fold
    out0 = 2 * t
    out1 = 2 * t + 8
    sl00 = tl.load(slot_ptr + out0, mask=out0 < M, other=0).to(tl.int64)
    sl01 = tl.load(slot_ptr + out0 + 1, mask=out0 + 1 < M, other=0).to(tl.int64)
    sl10 = tl.load(slot_ptr + out1, mask=out1 < M, other=0).to(tl.int64)
    sl11 = tl.load(slot_ptr + out1 + 1, mask=out1 + 1 < M, other=0).to(tl.int64)

    k_start = pid_k * K_PER_SPLIT  # a multiple of CHUNK
    k_end = tl.minimum(k_start + K_PER_SPLIT, K)
    zero = tl.zeros((NT,), dtype=tl.float32)
    y00, y01, y10, y11 = zero, zero, zero, zero  # per-lane partials of tokens out0, out0 + 1, out1, out1 + 1
    for grp in range(k_start // GS, (k_end - 1) // GS + 1):
        c00, c01, c02, c03, c10, c11, c12, c13 = zero, zero, zero, zero, zero, zero, zero, zero
        for c0 in range(tl.maximum(grp * GS, k_start), tl.minimum(grp * GS + GS, k_end), CHUNK):
            if ASM:
                for i in tl.static_range(WPL):
                    p0, p1, p2, p3, q0, q1, q2, q3 = _onehots(tl.load(w_ptr + c0 // 8 + i), tab0, tab1)
                    xq = c0 // 4 + 2 * i
                    x00 = tl.load(x_quads + x0_off + xq, mask=b0_ok, other=0)
                    x01 = tl.load(x_quads + x0_off + xq + 1, mask=b0_ok, other=0)
                    c00, c01, c02, c03 = _mma(c00, c01, c02, c03, p0, q0, p1, q1, x00, BF16)
                    c00, c01, c02, c03 = _mma(c00, c01, c02, c03, p2, q2, p3, q3, x01, BF16)
                    if TILES == 2:
                        x10 = tl.load(x_quads + x1_off + xq, mask=b1_ok, other=0)
                        x11 = tl.load(x_quads + x1_off + xq + 1, mask=b1_ok, other=0)
                        c10, c11, c12, c13 = _mma(c10, c11, c12, c13, p0, q0, p1, q1, x10, BF16)
                        c10, c11, c12, c13 = _mma(c10, c11, c12, c13, p2, q2, p3, q3, x11, BF16)
            else:  # interpreter: C[v][tok] for the lane's values v = g, g + 8 and tokens out0 (+1), out1 (+1)
                c00 += _onehot_sums(words_ptr, row_c, c0, x_ptr, out0, out0 < M, g, stride_xm, stride_cw, CHUNK)
                c01 += _onehot_sums(words_ptr, row_c, c0, x_ptr, out0 + 1, out0 + 1 < M, g, stride_xm, stride_cw,
                                    CHUNK)  # fmt: skip
                c02 += _onehot_sums(words_ptr, row_c, c0, x_ptr, out0, out0 < M, g + 8, stride_xm, stride_cw, CHUNK)
                c03 += _onehot_sums(words_ptr, row_c, c0, x_ptr, out0 + 1, out0 + 1 < M, g + 8, stride_xm,
                                    stride_cw, CHUNK)  # fmt: skip
                if TILES == 2:
                    c10 += _onehot_sums(words_ptr, row_c, c0, x_ptr, out1, out1 < M, g, stride_xm, stride_cw, CHUNK)
                    c11 += _onehot_sums(words_ptr, row_c, c0, x_ptr, out1 + 1, out1 + 1 < M, g, stride_xm,
                                        stride_cw, CHUNK)  # fmt: skip
                    c12 += _onehot_sums(words_ptr, row_c, c0, x_ptr, out1, out1 < M, g + 8, stride_xm, stride_cw,
                                        CHUNK)  # fmt: skip
                    c13 += _onehot_sums(words_ptr, row_c, c0, x_ptr, out1 + 1, out1 + 1 < M, g + 8, stride_xm,
                                        stride_cw, CHUNK)  # fmt: skip
        # fold the group: each token's own LUT entries at the lane's values (an 8-entry LUT has no g + 8)
        lut_row = row_c * stride_ln + grp * L + g
        y00 += tl.load(lut_ptr + sl00 * stride_ls + lut_row).to(tl.float32) * c00
        y01 += tl.load(lut_ptr + sl01 * stride_ls + lut_row).to(tl.float32) * c01
        if BITS == 4:
            y00 += tl.load(lut_ptr + sl00 * stride_ls + lut_row + 8).to(tl.float32) * c02
            y01 += tl.load(lut_ptr + sl01 * stride_ls + lut_row + 8).to(tl.float32) * c03
        if TILES == 2:
            y10 += tl.load(lut_ptr + sl10 * stride_ls + lut_row).to(tl.float32) * c10
            y11 += tl.load(lut_ptr + sl11 * stride_ls + lut_row).to(tl.float32) * c11
            if BITS == 4:
                y10 += tl.load(lut_ptr + sl10 * stride_ls + lut_row + 8).to(tl.float32) * c12
                y11 += tl.load(lut_ptr + sl11 * stride_ls + lut_row + 8).to(tl.float32) * c13

    # the 8 lanes of one t (values g, g + 8 for every g) summed: [WARPS, 8, 4] over g
    vals = tl.join(tl.sum(tl.reshape(y00, (WARPS, 8, 4)), axis=1), tl.sum(tl.reshape(y01, (WARPS, 8, 4)), axis=1))
    tq = tl.arange(0, 4)[None, :]  # [1, 4]: t
    toks = tl.join(tl.broadcast_to(2 * tq, (WARPS, 4)), tl.broadcast_to(2 * tq + 1, (WARPS, 4)))  # [WARPS, 4, 2]
    if TILES == 2:
        vals = tl.join(vals, tl.join(tl.sum(tl.reshape(y10, (WARPS, 8, 4)), axis=1),
                                     tl.sum(tl.reshape(y11, (WARPS, 8, 4)), axis=1)))  # fmt: skip
        toks = tl.join(toks, toks + 8)
    vals = vals * UNSCALE
    rows = pid_n * WARPS + tl.arange(0, WARPS)
    if TILES == 2:
        rows = tl.broadcast_to(rows[:, None, None, None], (WARPS, 4, 2, 2))
    else:
        rows = tl.broadcast_to(rows[:, None, None], (WARPS, 4, 2))
    mask = (toks < M) & (rows < N)
    store_split_k(vals, toks * N + rows, toks * stride_ym + rows, mask, y_ptr, ws_ptr, counter_ptr, pid_n, pid_k,
                  M, N, SPLIT_K, USE_SPLIT)  # fmt: skip


def launch_bucket_frag(
    x: torch.Tensor,
    codes_packed: torch.Tensor,
    lut_pool: torch.Tensor,
    slot_of_token: torch.Tensor,
    bits: int,
    y: torch.Tensor,
    config: dict,
) -> None:
    """y [M, N] <- the fragment bucket kernel (M <= 16, any slots). config: num_warps (one row each), WPL (code
    words per lane in a chunk: 2 or 4), SPLIT_K."""
    launch_fragments(_bucket_frag_kernel, "fragment bucket kernel", x, codes_packed, lut_pool, slot_of_token, bits, y,
                     config, 1)  # fmt: skip
