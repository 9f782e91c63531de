"""The bucket sums on mma.sync fragments: each lane's one-hots of its own code words are its A operand.

The bucket kernels (triton_bucket.py, triton_bucket_cols.py) compute, per weight row n and LUT group, the sums
S[m, v] = sum over the group's columns k with code(n, k) = v of x[m, k] as one-hot MMAs, then y[m, n] = sum_v
LUT[slot(m), n, group, v] * S[m, v]: the MMA work does not depend on the task count, so 16 tokens of 16 tasks cost
what one task does. Here the one-hot tile never exists. Per weight row of a warp, an m16n8k16 step's A rows are
the 16 values v (lane (g, t) holds rows g and g + 8), its columns 16 of K, B is x (8 tokens), C is S[v][token].
Under the column permutation of triton_decode_mma.py, the A fragment of lane (g, t) at k-step 2i + h is the
one-hot, against g and g + 8, of codes 4h .. 4h + 3 of its word WPL * t + i: one ~20-instruction asm per word
(prmt_lut.onehot_program, the one-hot's 1.0 stored as 2.0 so its low byte is zero), no shared memory.

Per group the lane folds its accumulators into per-token partials with the tokens' own LUT entries (v = g and
g + 8: 4 loads per tile of tokens), then the 8 lanes of one t are summed at the end. ROWS weight rows a warp share
its x loads (at 16 tokens x is 64 times the codes' bytes per weight), and two k-steps' B quads come from one 16-byte
load where x's rows are 16-byte aligned (X16).

Measured on the H200 (sixteenth session, NOTES.md): 44.5 us at its best at 4096x4096, 16 tokens of 16 tasks (8
warps, ROWS 4), against the bucket kernel's 32.2 (82 us with one row a warp and 8-byte loads: x's loads bound it).
The one-hots are byte-permute work on the ALU pipe (56 % of its instructions), and the MMA count is fixed by the 16
code values, so the op does not offer it; benchmarks/mma_grid.py --kernel bucket_frag times it.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from kernels.prmt_lut import ONEHOT_CONSTRAINTS, ONEHOT_SCALE, onehot_program, to_ptx
from kernels.triton_common import jit_any_size, store_split_k
from kernels.triton_decode_mma import _tiles_x, _word_steps, launch_fragments

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


@triton.jit
def _row_sums(words_ptr, row, c0, x_ptr, out0, out1, g, M, stride_xm, stride_cw, c00, c01, c02, c03, c10, c11, c12,
              c13, CHUNK: tl.constexpr, TILES: tl.constexpr):  # fmt: skip
    """Interpreter: a row's accumulators plus the chunk: C[v][tok] for the lane's values v = g, g + 8 and tokens
    out0 (+1) of tile 0 and out1 (+1) of tile 1."""
    a = (words_ptr, row, c0, x_ptr)
    c00 += _onehot_sums(*a, out0, out0 < M, g, stride_xm, stride_cw, CHUNK)
    c01 += _onehot_sums(*a, out0 + 1, out0 + 1 < M, g, stride_xm, stride_cw, CHUNK)
    c02 += _onehot_sums(*a, out0, out0 < M, g + 8, stride_xm, stride_cw, CHUNK)
    c03 += _onehot_sums(*a, out0 + 1, out0 + 1 < M, g + 8, stride_xm, stride_cw, CHUNK)
    if TILES == 2:
        c10 += _onehot_sums(*a, out1, out1 < M, g, stride_xm, stride_cw, CHUNK)
        c11 += _onehot_sums(*a, out1 + 1, out1 + 1 < M, g, stride_xm, stride_cw, CHUNK)
        c12 += _onehot_sums(*a, out1, out1 < M, g + 8, stride_xm, stride_cw, CHUNK)
        c13 += _onehot_sums(*a, out1 + 1, out1 + 1 < M, g + 8, stride_xm, stride_cw, CHUNK)
    return c00, c01, c02, c03, c10, c11, c12, c13


@triton.jit
def _row_mma(word, tab0, tab1, x00, x01, x10, x11, c00, c01, c02, c03, c10, c11, c12, c13, TILES: tl.constexpr,
             BF16: tl.constexpr):  # fmt: skip
    """One code word of a row: its one-hots, then the two k-steps' MMAs for each tile of tokens (x00 / x01: tile
    0's B quads of k-steps 2i / 2i + 1; x10 / x11: tile 1's)."""
    p0, p1, p2, p3, q0, q1, q2, q3 = _onehots(word, tab0, tab1)
    return _word_steps(p0, p1, p2, p3, q0, q1, q2, q3, x00, x01, x10, x11, c00, c01, c02, c03, c10, c11, c12, c13,
                       TILES, BF16)  # fmt: skip


@triton.jit
def _fold(lut_ptr, lut_row, stride_ls, sl00, sl01, sl10, sl11, c00, c01, c02, c03, c10, c11, c12, c13, y00, y01,
          y10, y11, BITS: tl.constexpr, TILES: tl.constexpr):  # fmt: skip
    """A row's per-token partials plus its group's sums folded with each token's own LUT entries at the lane's
    values (lut_row: the row's group entry g; an 8-entry LUT has no g + 8)."""
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
    return y00, y01, y10, y11


@triton.jit
def _row_outputs(y00, y01, y10, y11, rows, WARPS: tl.constexpr, TILES: tl.constexpr):
    """The values, tokens and rows ([WARPS, 4, 2(, 2)]) of one row a warp (rows [WARPS]): the 8 lanes of one t
    (values g, g + 8 for every g) summed over g."""
    vals = tl.join(tl.sum(tl.reshape(y00, (WARPS, 8, 4)), axis=1), tl.sum(tl.reshape(y01, (WARPS, 8, 4)), axis=1))
    tq = tl.arange(0, 4)[None, :]  # [1, 4]: t
    toks = tl.join(tl.broadcast_to(2 * tq, (WARPS, 4)), tl.broadcast_to(2 * tq + 1, (WARPS, 4)))  # [WARPS, 4, 2]
    if TILES == 2:
        vals = tl.join(vals, tl.join(tl.sum(tl.reshape(y10, (WARPS, 8, 4)), axis=1),
                                     tl.sum(tl.reshape(y11, (WARPS, 8, 4)), axis=1)))  # fmt: skip
        toks = tl.join(toks, toks + 8)
        rows = tl.broadcast_to(rows[:, None, None, None], (WARPS, 4, 2, 2))
    else:
        rows = tl.broadcast_to(rows[:, None, None], (WARPS, 4, 2))
    return vals * UNSCALE, toks, rows


@jit_any_size(sizes=("M",), unaligned=("slot_ptr",))
def _bucket_frag_kernel(
    x_ptr, codes_ptr, lut_ptr, slot_ptr, y_ptr, ws_ptr, counter_ptr,
    M, N, K, GS, stride_xm, stride_cw, stride_ls, stride_ln, stride_ym, K_PER_SPLIT, SPLIT_K,
    BITS: tl.constexpr, WARPS: tl.constexpr, WPL: tl.constexpr, TILES: tl.constexpr, USE_SPLIT: tl.constexpr,
    ASM: tl.constexpr, BF16: tl.constexpr, X16: tl.constexpr = False, ROWS: tl.constexpr = 1,
):  # fmt: skip
    """A program: ROWS * WARPS weight rows (ROWS a warp, sharing its x loads: at 16 tokens x is 64 times the
    codes' bytes per weight) over one K range, up to 8 * TILES tokens of any slots."""
    L: tl.constexpr = 1 << BITS
    NT: tl.constexpr = 32 * WARPS
    CHUNK: tl.constexpr = 32 * WPL
    pid_n = tl.program_id(0)
    pid_k = tl.program_id(1)
    lane = tl.arange(0, NT)
    g = (lane % 32) // 4  # the lane's values g and g + 8
    t = lane % 4
    row0 = pid_n * (WARPS * ROWS) + (lane // 32) * ROWS  # the warp's rows row0 .. row0 + ROWS - 1
    ra = tl.minimum(row0, N - 1).to(tl.int64)  # rows past N read row N-1; never stored
    rb = tl.minimum(row0 + 1, N - 1).to(tl.int64)
    rc = tl.minimum(row0 + 2, N - 1).to(tl.int64)
    rd = tl.minimum(row0 + 3, N - 1).to(tl.int64)
    words_ptr = codes_ptr.to(tl.pointer_type(tl.uint32), bitcast=True)
    x_quads = x_ptr.to(tl.pointer_type(tl.uint64), bitcast=True)
    wa_ptr = words_ptr + ra * stride_cw + WPL * t
    wb_ptr = words_ptr + rb * stride_cw + WPL * t
    wc_ptr = words_ptr + rc * stride_cw + WPL * t
    wd_ptr = words_ptr + rd * stride_cw + WPL * t
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
    # per row r of the warp's (a, b, c, d): the per-lane partials of tokens out0, out0 + 1, out1, out1 + 1
    ya0, ya1, ya2, ya3, yb0, yb1, yb2, yb3 = zero, zero, zero, zero, zero, zero, zero, zero
    yc0, yc1, yc2, yc3, yd0, yd1, yd2, yd3 = zero, zero, zero, zero, zero, zero, zero, zero
    for grp in range(k_start // GS, (k_end - 1) // GS + 1):
        a0, a1, a2, a3, a4, a5, a6, a7 = zero, zero, zero, zero, zero, zero, zero, zero  # row a's S[v][token]
        b0, b1, b2, b3, b4, b5, b6, b7 = zero, zero, zero, zero, zero, zero, zero, zero
        c0_, c1, c2, c3, c4, c5, c6, c7 = zero, zero, zero, zero, zero, zero, zero, zero
        d0, d1, d2, d3, d4, d5, d6, d7 = zero, zero, zero, zero, zero, zero, zero, zero
        for col in range(tl.maximum(grp * GS, k_start), tl.minimum(grp * GS + GS, k_end), CHUNK):
            if ASM:
                for i in tl.static_range(WPL):
                    # k-steps 2i, 2i + 1: quads col // 4 + 2i and the next
                    x00, x01, x10, x11 = _tiles_x(x_quads, x0_off, x1_off, col // 4 + 2 * i, b0_ok, b1_ok, TILES, X16)
                    word = col // 8 + i
                    a0, a1, a2, a3, a4, a5, a6, a7 = _row_mma(
                        tl.load(wa_ptr + word), tab0, tab1, x00, x01, x10, x11, a0, a1, a2, a3, a4, a5, a6, a7, TILES,
                        BF16)  # fmt: skip
                    if ROWS >= 2:
                        b0, b1, b2, b3, b4, b5, b6, b7 = _row_mma(
                            tl.load(wb_ptr + word), tab0, tab1, x00, x01, x10, x11, b0, b1, b2, b3, b4, b5, b6, b7,
                            TILES, BF16)  # fmt: skip
                    if ROWS == 4:
                        c0_, c1, c2, c3, c4, c5, c6, c7 = _row_mma(
                            tl.load(wc_ptr + word), tab0, tab1, x00, x01, x10, x11, c0_, c1, c2, c3, c4, c5, c6, c7,
                            TILES, BF16)  # fmt: skip
                        d0, d1, d2, d3, d4, d5, d6, d7 = _row_mma(
                            tl.load(wd_ptr + word), tab0, tab1, x00, x01, x10, x11, d0, d1, d2, d3, d4, d5, d6, d7,
                            TILES, BF16)  # fmt: skip
            else:  # interpreter: C[v][tok] for the lane's values and tokens, summed directly
                s = (words_ptr, ra, col, x_ptr, out0, out1, g, M, stride_xm, stride_cw)
                a0, a1, a2, a3, a4, a5, a6, a7 = _row_sums(*s, a0, a1, a2, a3, a4, a5, a6, a7, CHUNK, TILES)
                if ROWS >= 2:
                    s = (words_ptr, rb, col, x_ptr, out0, out1, g, M, stride_xm, stride_cw)
                    b0, b1, b2, b3, b4, b5, b6, b7 = _row_sums(*s, b0, b1, b2, b3, b4, b5, b6, b7, CHUNK, TILES)
                if ROWS == 4:
                    s = (words_ptr, rc, col, x_ptr, out0, out1, g, M, stride_xm, stride_cw)
                    c0_, c1, c2, c3, c4, c5, c6, c7 = _row_sums(*s, c0_, c1, c2, c3, c4, c5, c6, c7, CHUNK, TILES)
                    s = (words_ptr, rd, col, x_ptr, out0, out1, g, M, stride_xm, stride_cw)
                    d0, d1, d2, d3, d4, d5, d6, d7 = _row_sums(*s, d0, d1, d2, d3, d4, d5, d6, d7, CHUNK, TILES)
        # fold the group: each token's own LUT entries at the lane's values
        entry = grp * L + g
        f = (lut_ptr, ra * stride_ln + entry, stride_ls, sl00, sl01, sl10, sl11)
        ya0, ya1, ya2, ya3 = _fold(*f, a0, a1, a2, a3, a4, a5, a6, a7, ya0, ya1, ya2, ya3, BITS, TILES)
        if ROWS >= 2:
            f = (lut_ptr, rb * stride_ln + entry, stride_ls, sl00, sl01, sl10, sl11)
            yb0, yb1, yb2, yb3 = _fold(*f, b0, b1, b2, b3, b4, b5, b6, b7, yb0, yb1, yb2, yb3, BITS, TILES)
        if ROWS == 4:
            f = (lut_ptr, rc * stride_ln + entry, stride_ls, sl00, sl01, sl10, sl11)
            yc0, yc1, yc2, yc3 = _fold(*f, c0_, c1, c2, c3, c4, c5, c6, c7, yc0, yc1, yc2, yc3, BITS, TILES)
            f = (lut_ptr, rd * stride_ln + entry, stride_ls, sl00, sl01, sl10, sl11)
            yd0, yd1, yd2, yd3 = _fold(*f, d0, d1, d2, d3, d4, d5, d6, d7, yd0, yd1, yd2, yd3, BITS, TILES)

    first = pid_n * (WARPS * ROWS) + tl.arange(0, WARPS) * ROWS  # each warp's first row
    vals, toks, rows = _row_outputs(ya0, ya1, ya2, ya3, first, WARPS, TILES)
    if ROWS >= 2:
        v, tk, r = _row_outputs(yb0, yb1, yb2, yb3, first + 1, WARPS, TILES)
        vals, toks, rows = tl.join(vals, v), tl.join(toks, tk), tl.join(rows, r)
    if ROWS == 4:
        v, tk, r = _row_outputs(yc0, yc1, yc2, yc3, first + 2, WARPS, TILES)
        v2, tk2, r2 = _row_outputs(yd0, yd1, yd2, yd3, first + 3, WARPS, TILES)
        vals, toks, rows = tl.join(vals, tl.join(v, v2)), tl.join(toks, tl.join(tk, tk2)), tl.join(rows, tl.join(r, r2))
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
    """y [M, N] <- the fragment bucket kernel (M <= 16, any slots). config: num_warps, ROWS (weight rows a warp,
    sharing its x loads: 1, 2 or 4), WPL (code words per lane in a chunk: 2 or 4), SPLIT_K."""
    rows = config.get("ROWS", 1)
    if rows not in (1, 2, 4):
        raise ValueError(f"the fragment bucket kernel takes ROWS 1, 2 or 4, got {rows}")
    launch_fragments(_bucket_frag_kernel, "fragment bucket kernel", x, codes_packed, lut_pool, slot_of_token, bits, y,
                     config, rows, ROWS=rows)  # fmt: skip
