"""Decode on tensor cores straight from registers: each lane's looked-up LUT entries are its MMA fragments.

The register-LUT tensor-core kernel (triton_decode_prmt.py, MODE_PRMT_DOT) dequantizes a [BN, BK] tile by byte
permutes and hands it to tl.dot, which moves it through shared memory into the MMA's operand layout: ~6
instructions per weight on sm_90 and a barrier per K block. Here no tile exists. mma.sync m16n8k16 (row.col,
fp32 accumulators) takes, in lane l = 4g + t of a warp:

    A (16 x 16, W's rows)   a0 = A[g][2t:2t+2]  a1 = A[g+8][2t:2t+2]  a2 = A[g][2t+8:2t+10]  a3 = A[g+8][2t+8:2t+10]
    B (16 x 8, x's tokens)  b0 = B[2t:2t+2][g]  b1 = B[2t+8:2t+10][g]
    C (16 x 8)              c0 = C[g][2t]  c1 = C[g][2t+1]  c2 = C[g+8][2t]  c3 = C[g+8][2t+1]

K is summed over, so any permutation of its columns, the same for W and x, leaves y unchanged. The kernel takes
the one in which a lane's own code words are its A fragments. A warp owns 16 rows; a chunk is 32 * WPL columns,
WPL code words per lane and row. Lane (g, t) holds words WPL * t + i (i < WPL) of rows g and g + 8, physical
columns p = 8 (WPL t + i) + 0 .. 7, and k-step 2i + h (h = 0, 1) of the chunk maps

    logical 2t, 2t+1   <- physical p + 4h + 0, 1      (the looked-up pair q[2h])
    logical 2t+8, 2t+9 <- physical p + 4h + 2, 3      (q[2h + 1])

so a0 = q[2h] of row g, a1 = q[2h] of row g + 8, a2 / a3 = q[2h + 1] of each, and b0, b1 = x's pairs at the same
physical columns: one 8-byte load per token, k-step and lane (one 16-byte load for two k-steps where x's rows
are 16-byte aligned, X16). Per word: the byte-permute lookup (prmt_lut.py, pairs_program: ~21 instructions for 8
weights) and one MMA per 8 tokens and k-step; no shared memory, no barrier.
Tokens: 8 per MMA (TILES = 1: up to 8 tokens, 2: up to 16), lane row g's token of tile j is 8j + g. ROWS = 2: a
warp takes two blocks of 16 rows that share its x loads (at 16 tokens x is 4 times the codes' bytes per weight).
Several slots: the tables are built per distinct slot and x's rows of other slots are zero (as MODE_PRMT_DOT).
Loop on sm_90 (2 words, 2 tiles): 132 instructions per lane and chunk, 4.1 per weight (MODE_PRMT_DOT: ~6.2).

H200, fifteenth session (NOTES.md): 4 tokens of one task 11.8 / 21.4 / 22.5 us at 4096x4096 / 11008x4096 /
4096x11008 (MODE_PRMT_DOT 12.9 / 27.0 / 26.4); 16 tokens over 4 tasks 31 / 64 / 68 (38 / 91 / 87). At one token
the fp16-product kernel (MODE_PRMT, HALF2) stays faster, and at 16 tokens of one task MODE_PRMT_DOT on 2 of 3
shapes; the autotuner picks per shape.

PRELOAD (eighteenth session): one chunk of up to 512 columns a program, its code words loaded by 16-byte loads and
its first slot's tables built before the PDL wait, each further slot one more pass over those registers. At one task
no faster (the loads were not the bound); over 2-4 tasks 5-17 % less time than the better of the bucket kernel and
the one-task choice (a layer's four projections at 16 rows; 16-21 % at 8 rows), so the op's few-task class takes it
(kernels/triton_ops.py).

AHEAD (sixty-second session): the chunks-in-turn path asked for a chunk's words at its start but for x only as the
word before freed its registers, ~1.5 us a chunk at 4 tokens on the H100 (benchmarks/decode_timeline_mma.py). With
each chunk's words and x asked for together one or two chunks ahead (_group_chunks) the chunks come ~1.1 us apart,
and the H100's re-tuned 4-token choices run 10.5 us on 4096x4096 (1.78x cuBLAS; 12.3 before). SUM_AT_ONCE: the
split-K partials the row tile's last program loads together (_sum_tiles). EARLY (sixty-third session): the first
group's code words and tables asked for before the PDL wait, 3-5 % off the 4- and 8-token choices on 4096x4096 in
two H100 runs (a tie on the other shapes), so the H100's file takes it there. X_FIRST (each PRELOAD slot's x
carried into its turn, so that all of a chunk's x loads leave before the first MMA) was slower in 6 of 8 cases on
the H100 and was removed.

The lane -> element mapping is what makes the asm right: every per-lane tensor is 1-D of 32 * WARPS elements,
element e held by thread e (tests/kernels/test_triton_mma.py reads the compiled layouts). The CPU interpreter has
no mma: it sums each lane's four outputs over the chunk's columns directly (the same rows, tokens, groups, slots
and split-K), and a numpy model of the fragments checks the column permutation (same test file).
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from kernels.prmt_lut import PAIRS_CONSTRAINTS, pairs_program, to_ptx
from kernels.triton_common import (
    NO_SLOT,
    codes_rows_aligned,
    first_slot,
    interpreting,
    jit_any_size,
    next_slot,
    pdl_args,
    pdl_wait,
    register_cap,
    split_k_arrive,
    split_k_launch,
    split_k_reset,
)
from kernels.triton_decode_prmt import _row_tables, prmt_ok

PAIRS = tl.constexpr(to_ptx(pairs_program()))
PAIRS_CONSTR = tl.constexpr(PAIRS_CONSTRAINTS)
MMA_F16 = tl.constexpr(
    "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {$0, $1, $2, $3}, {$8, $9, $10, $11}, {$12, $13}, "
    "{$4, $5, $6, $7};"
)
MMA_BF16 = tl.constexpr(
    "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {$0, $1, $2, $3}, {$8, $9, $10, $11}, {$12, $13}, "
    "{$4, $5, $6, $7};"
)
MMA_CONSTR = tl.constexpr("=f,=f,=f,=f,f,f,f,f,r,r,r,r,r,r")
MAX_TOKENS = 16


@triton.jit
def _pairs(word, tables):
    """The 4 16-bit pairs (b32 [NT]) of the 8 entries a word's codes pick from the lane's row tables."""
    lo0, lo1, lo2, lo3, hi0, hi1, hi2, hi3 = tables
    return tl.inline_asm_elementwise(PAIRS, PAIRS_CONSTR, [word, lo0, lo1, lo2, lo3, hi0, hi1, hi2, hi3],
                                     dtype=(tl.uint32, tl.uint32, tl.uint32, tl.uint32), is_pure=True, pack=1)


@triton.jit
def _mma(c0, c1, c2, c3, a0, a1, a2, a3, xb, BF16: tl.constexpr):
    """One m16n8k16 step: (c0 .. c3) + A (a0 .. a3) @ B, B's two pairs the halves of xb (uint64 [NT])."""
    b0 = (xb & 0xFFFFFFFF).to(tl.uint32)
    b1 = (xb >> 32).to(tl.uint32)
    return tl.inline_asm_elementwise(MMA_BF16 if BF16 else MMA_F16, MMA_CONSTR,
                                     [c0, c1, c2, c3, a0, a1, a2, a3, b0, b1],
                                     dtype=(tl.float32, tl.float32, tl.float32, tl.float32), is_pure=True, pack=1)


@triton.jit
def _x_steps(x_quads, off, ok, X16: tl.constexpr):
    """B of two consecutive k-steps (uint64 [NT] each: quads off and off + 1 of x, zero where not ok): one 16-byte
    load a lane where x's rows are 16-byte aligned (X16: off is then even), else two 8-byte loads."""
    if X16:
        quads = tl.multiple_of(off, 2)[:, None] + tl.arange(0, 2)[None, :]  # [NT, 2], 16 bytes a thread
        return tl.split(tl.load(x_quads + quads, mask=ok[:, None], other=0))
    return tl.load(x_quads + off, mask=ok, other=0), tl.load(x_quads + off + 1, mask=ok, other=0)


@triton.jit
def _lane_words(words_q, off, WPL: tl.constexpr):
    """A lane row's WPL code words of a chunk (a tuple of uint32 [NT]), from its 8-byte word pair `off` on (words_q:
    the codes as uint64): one 8-byte load (WPL 2) or WPL / 4 16-byte loads (off even)."""
    if WPL == 2:
        v = tl.load(words_q + off)
        words = (v & 0xFFFFFFFF).to(tl.uint32), (v >> 32).to(tl.uint32)
    else:
        ok = tl.full(off.shape, 1, tl.int1)
        words = ()
        for j in tl.static_range(WPL // 4):
            a, b = _x_steps(words_q, off + 2 * j, ok, True)
            words = words + ((a & 0xFFFFFFFF).to(tl.uint32), (a >> 32).to(tl.uint32),
                             (b & 0xFFFFFFFF).to(tl.uint32), (b >> 32).to(tl.uint32))  # fmt: skip
    return words


@triton.jit
def _tiles_x(x_quads, x0_off, x1_off, xq, ok0, ok1, TILES: tl.constexpr, X16: tl.constexpr):
    """B of a word's two k-steps (quads xq, xq + 1) for each tile of tokens: tile 0's rows at x0_off (zero where not
    ok0), tile 1's at x1_off (TILES = 2; else tile 0's again, unused)."""
    x00, x01 = _x_steps(x_quads, x0_off + xq, ok0, X16)
    if TILES == 2:
        x10, x11 = _x_steps(x_quads, x1_off + xq, ok1, X16)
    else:
        x10, x11 = x00, x01
    return x00, x01, x10, x11


@triton.jit
def _word_mma(w0_ptr, w1_ptr, word, tab0, tab1, x00, x01, x10, x11, c00, c01, c02, c03, c10, c11, c12, c13,
              TILES: tl.constexpr, BF16: tl.constexpr):  # fmt: skip
    """One code word of each of a row block's two lane rows (r, r + 8): looked up, then its two k-steps' MMAs for
    each tile of tokens (x00 / x01: tile 0's B quads of k-steps 2i / 2i + 1; x10 / x11: tile 1's)."""
    p0, p1, p2, p3 = _pairs(tl.load(w0_ptr + word), tab0)
    q0, q1, q2, q3 = _pairs(tl.load(w1_ptr + word), tab1)
    return _word_steps(p0, p1, p2, p3, q0, q1, q2, q3, x00, x01, x10, x11, c00, c01, c02, c03, c10, c11, c12, c13,
                       TILES, BF16)  # fmt: skip


@triton.jit
def _word_steps(p0, p1, p2, p3, q0, q1, q2, q3, x00, x01, x10, x11, c00, c01, c02, c03, c10, c11, c12, c13,
                TILES: tl.constexpr, BF16: tl.constexpr):  # fmt: skip
    """A word's two k-steps for each tile of tokens: A's pairs p0-p3 (lane row g) and q0-q3 (g + 8), k-step 2i
    taking (p0, q0, p1, q1), 2i + 1 (p2, q2, p3, q3); B from x00 / x01 (tile 0), x10 / x11 (tile 1)."""
    c00, c01, c02, c03 = _mma(c00, c01, c02, c03, p0, q0, p1, q1, x00, BF16)
    c00, c01, c02, c03 = _mma(c00, c01, c02, c03, p2, q2, p3, q3, x01, BF16)
    if TILES == 2:
        c10, c11, c12, c13 = _mma(c10, c11, c12, c13, p0, q0, p1, q1, x10, BF16)
        c10, c11, c12, c13 = _mma(c10, c11, c12, c13, p2, q2, p3, q3, x11, BF16)
    return c00, c01, c02, c03, c10, c11, c12, c13


@triton.jit
def _chunk_sums(words_ptr, row, c0, lut_ptr, lut_off, x_ptr, tok, sel, stride_xm, stride_cw,
                CHUNK: tl.constexpr, NT: tl.constexpr):  # fmt: skip
    """Interpreter: sum over the chunk's columns of W[row] * x[tok] ([NT] fp32; x zero where not sel). c0: each
    lane's first column ([NT]: the chunk's, plus the lane's K part's offset with KW)."""
    cols = c0[:, None] + tl.arange(0, CHUNK)[None, :]  # [NT, CHUNK]
    words = tl.load(words_ptr + row.to(tl.int64)[:, None] * stride_cw + cols // 8)  # [NT, CHUNK]
    codes = ((words >> (4 * (cols % 8))) & 15).to(tl.int64)
    w = tl.load(lut_ptr + lut_off[:, None] + codes).to(tl.float32)
    x = tl.load(x_ptr + tok.to(tl.int64)[:, None] * stride_xm + cols, mask=sel[:, None], other=0.0)
    return tl.sum(w * x.to(tl.float32), axis=1)


@triton.jit
def _token_sums(words_ptr, r0c, r1c, c0, lut_ptr, base, stride_ln, x_ptr, slot_ptr, M, cur, tok, stride_xm,
                stride_cw, CHUNK: tl.constexpr, NT: tl.constexpr):  # fmt: skip
    """Interpreter: token tok's sums over the chunk with rows r0c and r1c ([NT] each; zero unless tok < M is a
    token of slot `cur`)."""
    sel = (tok < M) & (tl.load(slot_ptr + tok, mask=tok < M, other=NO_SLOT) == cur)
    s0 = _chunk_sums(words_ptr, r0c, c0, lut_ptr, base + r0c * stride_ln, x_ptr, tok, sel, stride_xm, stride_cw,
                     CHUNK, NT)  # fmt: skip
    s1 = _chunk_sums(words_ptr, r1c, c0, lut_ptr, base + r1c * stride_ln, x_ptr, tok, sel, stride_xm, stride_cw,
                     CHUNK, NT)  # fmt: skip
    return s0, s1


@triton.jit
def _block_sums(words_ptr, r0c, r1c, c0, lut_ptr, base, stride_ln, x_ptr, slot_ptr, M, cur, out0, out1, stride_xm,
                stride_cw, c00, c01, c02, c03, c10, c11, c12, c13, CHUNK: tl.constexpr, NT: tl.constexpr,
                TILES: tl.constexpr):  # fmt: skip
    """Interpreter: a row block's accumulators plus the chunk, each lane's outputs summed directly (tokens out0,
    out0 + 1 of tile 0 and out1, out1 + 1 of tile 1; rows r0c, r1c), x of tokens outside slot `cur` zero."""
    args = (words_ptr, r0c, r1c, c0, lut_ptr, base, stride_ln, x_ptr, slot_ptr, M, cur)
    s0, s1 = _token_sums(*args, out0, stride_xm, stride_cw, CHUNK, NT)
    c00, c02 = c00 + s0, c02 + s1
    s0, s1 = _token_sums(*args, out0 + 1, stride_xm, stride_cw, CHUNK, NT)
    c01, c03 = c01 + s0, c03 + s1
    if TILES == 2:
        s0, s1 = _token_sums(*args, out1, stride_xm, stride_cw, CHUNK, NT)
        c10, c12 = c10 + s0, c12 + s1
        s0, s1 = _token_sums(*args, out1 + 1, stride_xm, stride_cw, CHUNK, NT)
        c11, c13 = c11 + s0, c13 + s1
    return c00, c01, c02, c03, c10, c11, c12, c13


@triton.jit
def _store_tile(ptr, c0, c1, c2, c3, r0, tok, M, N, stride_m):
    """A tile's accumulators stored at ptr + token * stride_m + row (below M and N), in ptr's type: c0 = (tok, r0),
    c1 = (tok + 1, r0), c2 = (tok, r0 + 8), c3 = (tok + 1, r0 + 8). Each is stored as it is held, one element a
    lane: joined into one tensor first, Triton 3.9 converted their layout through shared memory (4 KB, 35 barriers
    at 16 tokens and two row blocks; 3.6 needed neither), a fixed cost a program that split-K's short ranges made
    up to 1.6x of the kernel's time on the H100 (fifty-fourth session)."""
    r1 = r0 + 8
    t1 = tok + 1
    dt = ptr.dtype.element_ty
    tl.store(ptr + tok * stride_m + r0, c0.to(dt), mask=(tok < M) & (r0 < N))
    tl.store(ptr + t1 * stride_m + r0, c1.to(dt), mask=(t1 < M) & (r0 < N))
    tl.store(ptr + tok * stride_m + r1, c2.to(dt), mask=(tok < M) & (r1 < N))
    tl.store(ptr + t1 * stride_m + r1, c3.to(dt), mask=(t1 < M) & (r1 < N))


@triton.jit
def _add_partial(ws, c0, c1, c2, c3, r0, tok, rows_m, N):
    """A tile's four (token, row) sums (_store_tile's pairs) plus one split's partials at ws ([M, N], tokens below
    rows_m: M, or 0 for a split past the last)."""
    t1 = tok + 1
    r1 = r0 + 8
    c0 += tl.load(ws + tok * N + r0, mask=(tok < rows_m) & (r0 < N), other=0.0, cache_modifier=".cg")
    c1 += tl.load(ws + t1 * N + r0, mask=(t1 < rows_m) & (r0 < N), other=0.0, cache_modifier=".cg")
    c2 += tl.load(ws + tok * N + r1, mask=(tok < rows_m) & (r1 < N), other=0.0, cache_modifier=".cg")
    c3 += tl.load(ws + t1 * N + r1, mask=(t1 < rows_m) & (r1 < N), other=0.0, cache_modifier=".cg")
    return c0, c1, c2, c3


@triton.jit
def _sum_tiles(ws_ptr, y_ptr, r0, rb, out0, out1, M, N, stride_ym, SPLIT_K, TILES: tl.constexpr, ROWS: tl.constexpr,
               SUM_AT_ONCE: tl.constexpr):  # fmt: skip
    """The split-K partials of every tile of the program's row blocks (_store_blocks') summed from the workspace
    [SPLIT_K, M, N] into y, SUM_AT_ONCE splits' loads asked for together (8 loads a lane over the tiles). The
    sixty-second session's stamps put the row tile's last program ~1.5-2 us after the others at split-K 8, with a
    loop of one split a trip (unrolled by 4 by the compiler): a round trip to L2 for every 4 splits and tile."""
    z = tl.zeros(r0.shape, dtype=tl.float32)
    a0, a1, a2, a3 = z, z, z, z  # (r0, out0)
    b0, b1, b2, b3 = z, z, z, z  # (r0, out1), TILES 2
    c0, c1, c2, c3 = z, z, z, z  # (rb, out0), ROWS 2
    d0, d1, d2, d3 = z, z, z, z  # (rb, out1), both
    for s0 in range(0, SPLIT_K, SUM_AT_ONCE):
        for j in tl.static_range(SUM_AT_ONCE):
            rows_m = tl.where(s0 + j < SPLIT_K, M, 0)  # no tokens in a split past the last
            ws = ws_ptr + (s0 + j) * M * N
            a0, a1, a2, a3 = _add_partial(ws, a0, a1, a2, a3, r0, out0, rows_m, N)
            if TILES == 2:
                b0, b1, b2, b3 = _add_partial(ws, b0, b1, b2, b3, r0, out1, rows_m, N)
            if ROWS == 2:
                c0, c1, c2, c3 = _add_partial(ws, c0, c1, c2, c3, rb, out0, rows_m, N)
                if TILES == 2:
                    d0, d1, d2, d3 = _add_partial(ws, d0, d1, d2, d3, rb, out1, rows_m, N)
    _store_blocks(y_ptr, a0, a1, a2, a3, b0, b1, b2, b3, c0, c1, c2, c3, d0, d1, d2, d3, r0, rb, out0, out1, M, N,
                  stride_ym, TILES, ROWS)  # fmt: skip


@triton.jit
def _store_blocks(ptr, a00, a01, a02, a03, a10, a11, a12, a13, b00, b01, b02, b03, b10, b11, b12, b13, r0, rb, out0,
                  out1, M, N, stride_m, TILES: tl.constexpr, ROWS: tl.constexpr):  # fmt: skip
    """Every tile of the program's row blocks (_store_tile): block 0 (rows r0) and, with ROWS 2, block 1 (rb), each
    with tokens out0 and, with TILES 2, out1."""
    _store_tile(ptr, a00, a01, a02, a03, r0, out0, M, N, stride_m)
    if TILES == 2:
        _store_tile(ptr, a10, a11, a12, a13, r0, out1, M, N, stride_m)
    if ROWS == 2:
        _store_tile(ptr, b00, b01, b02, b03, rb, out0, M, N, stride_m)
        if TILES == 2:
            _store_tile(ptr, b10, b11, b12, b13, rb, out1, M, N, stride_m)


@triton.jit
def _chunks_in_turn(words_ptr, w0_ptr, w1_ptr, w2_ptr, w3_ptr, pairs_ptr, lut_ptr, x_ptr, slot_ptr, x_quads, slot_all,
                    slot0, slot1, r0c, r1c, r2c, r3c, x0_off, x1_off, out0, out1, M, k_start, k_end, GS, stride_xm,
                    stride_cw, stride_ls, stride_ln, BITS: tl.constexpr, WPL: tl.constexpr, TILES: tl.constexpr,
                    ROWS: tl.constexpr, ASM: tl.constexpr, BF16: tl.constexpr, X16: tl.constexpr,
                    AHEAD: tl.constexpr = 0, early=None, koff=0, gofs=0, W16: tl.constexpr = False):  # fmt: skip
    """A program's K range chunk by chunk, per distinct slot: its tables per LUT group, each word loaded as it is
    looked up (AHEAD 0), or each chunk's words and x asked for at once (AHEAD 1: at its start; 2, 3: one or two
    chunks before it, _group_chunks). The interpreter sums each lane's outputs directly. early: both blocks'
    accumulators (tuples of 8) of the first slot's first group, done already (EARLY: _early_first_group), which the
    rest adds to. koff, gofs (KW): each lane's K part's offset from k_start (columns; the word and x pointers hold it
    already) and its LUT group's from k_start's ([NT] or 0). Returns both blocks' accumulators."""
    L: tl.constexpr = 1 << BITS
    NT: tl.constexpr = slot0.shape[0]
    CHUNK: tl.constexpr = 32 * WPL
    if early is None:
        zero = tl.zeros((NT,), dtype=tl.float32)
        a00, a01, a02, a03, a10, a11, a12, a13 = zero, zero, zero, zero, zero, zero, zero, zero  # block 0
        b00, b01, b02, b03, b10, b11, b12, b13 = zero, zero, zero, zero, zero, zero, zero, zero  # block 1 (ROWS 2)
    else:
        a00, a01, a02, a03, a10, a11, a12, a13 = early[0]
        b00, b01, b02, b03, b10, b11, b12, b13 = early[1]
    first = first_slot(slot_all)
    cur = first
    while cur < NO_SLOT:  # per distinct slot: its tables, x's rows of its tokens (others zero)
        sel0 = slot0 == cur
        sel1 = slot1 == cur
        g_begin = k_start // GS
        if early is not None:  # the first slot's first group done already
            g_begin += (cur == first).to(tl.int32)
        for grp in range(g_begin, (k_end - 1) // GS + 1):
            lo = tl.maximum(grp * GS, k_start)
            hi = tl.minimum(grp * GS + GS, k_end)
            if ASM and AHEAD > 0:
                acc_a, acc_b = _group_chunks(
                    w0_ptr, w1_ptr, w2_ptr, w3_ptr, pairs_ptr, x_quads, cur, r0c, r1c, r2c, r3c, x0_off, x1_off,
                    sel0, sel1, lo, hi, grp + gofs, stride_ls, stride_ln, (a00, a01, a02, a03, a10, a11, a12, a13),
                    (b00, b01, b02, b03, b10, b11, b12, b13), BITS, WPL, TILES, ROWS, BF16, X16, AHEAD,
                    W16)  # fmt: skip
                a00, a01, a02, a03, a10, a11, a12, a13 = acc_a
                b00, b01, b02, b03, b10, b11, b12, b13 = acc_b
            else:
                base = cur.to(tl.int64) * stride_ls + (grp + gofs) * L
                if ASM:
                    tabs = _slot_tables(pairs_ptr, cur, r0c, r1c, r2c, r3c, grp + gofs, stride_ls, stride_ln, BITS,
                                        ROWS)  # fmt: skip
                for c0 in range(lo, hi, CHUNK):
                    if ASM:
                        acc_a, acc_b = _chunk_word_by_word(
                            w0_ptr, w1_ptr, w2_ptr, w3_ptr, x_quads, x0_off, x1_off, c0, sel0, sel1, tabs,
                            (a00, a01, a02, a03, a10, a11, a12, a13), (b00, b01, b02, b03, b10, b11, b12, b13), WPL,
                            TILES, ROWS, BF16, X16)  # fmt: skip
                        a00, a01, a02, a03, a10, a11, a12, a13 = acc_a
                        b00, b01, b02, b03, b10, b11, b12, b13 = acc_b
                    else:  # interpreter: each lane's outputs over the chunk's columns
                        lane_c0 = c0 + koff + 0 * r0c  # each lane's first column ([NT]; its K part's with KW)
                        a00, a01, a02, a03, a10, a11, a12, a13 = _block_sums(
                            words_ptr, r0c, r1c, lane_c0, lut_ptr, base, stride_ln, x_ptr, slot_ptr, M, cur, out0, out1,
                            stride_xm, stride_cw, a00, a01, a02, a03, a10, a11, a12, a13, CHUNK, NT, TILES)  # fmt: skip
                        if ROWS == 2:
                            b00, b01, b02, b03, b10, b11, b12, b13 = _block_sums(
                                words_ptr, r2c, r3c, lane_c0, lut_ptr, base, stride_ln, x_ptr, slot_ptr, M, cur, out0,
                                out1, stride_xm, stride_cw, b00, b01, b02, b03, b10, b11, b12, b13, CHUNK, NT,
                                TILES)  # fmt: skip
        cur = next_slot(slot_all, cur)
    return a00, a01, a02, a03, a10, a11, a12, a13, b00, b01, b02, b03, b10, b11, b12, b13


@triton.jit
def _row_words(w_ptr, word, WPL: tl.constexpr):
    """A lane row's WPL (a multiple of 4) words from word `word` on (a tuple of uint32 [NT]), 4 a 16-byte load
    ([NT, 4] split in registers; w_ptr and word 16-byte aligned, as W16 asserts)."""
    NT: tl.constexpr = w_ptr.shape[0]
    words = ()
    for j in tl.static_range(WPL // 4):
        v = tl.load(w_ptr[:, None] + (word + 4 * j + tl.arange(0, 4))[None, :])  # [NT, 4]
        even, odd = tl.split(tl.reshape(v, (NT, 2, 2)))  # words (0, 2) and (1, 3)
        w0, w2 = tl.split(even)
        w1, w3 = tl.split(odd)
        words = words + (w0, w1, w2, w3)
    return words


@triton.jit
def _chunk_words(w0_ptr, w1_ptr, w2_ptr, w3_ptr, c0, WPL: tl.constexpr, ROWS: tl.constexpr,
                 W16: tl.constexpr = False):  # fmt: skip
    """The lane rows' code words of the chunk at column c0: four tuples of WPL uint32 [NT], rows r0, r0 + 8 and,
    with ROWS 2, rb, rb + 8 (else block 0's again). W16 (WPL a multiple of 4, the rows' alignment asserted by the
    kernel): 4 words a 16-byte load (_row_words); else a load a word (the same for the compiler: as a [NT, 4] load
    without the alignment, the 4-token loop took 20 more instructions and 27 more registers on sm_90)."""
    v0 = ()
    v1 = ()
    v2 = ()
    v3 = ()
    if W16:
        word = tl.multiple_of(c0 // 8, 4)  # a chunk is 4 WPL words
        v0 = _row_words(w0_ptr, word, WPL)
        v1 = _row_words(w1_ptr, word, WPL)
        if ROWS == 2:
            v2 = _row_words(w2_ptr, word, WPL)
            v3 = _row_words(w3_ptr, word, WPL)
    else:
        word = c0 // 8
        for i in tl.static_range(WPL):
            v0 = v0 + (tl.load(w0_ptr + word + i),)
            v1 = v1 + (tl.load(w1_ptr + word + i),)
            if ROWS == 2:
                v2 = v2 + (tl.load(w2_ptr + word + i),)
                v3 = v3 + (tl.load(w3_ptr + word + i),)
    if ROWS == 1:
        v2 = v0
        v3 = v1
    return v0, v1, v2, v3


@triton.jit
def _chunk_x(x_quads, x0_off, x1_off, c0, sel0, sel1, WPL: tl.constexpr, TILES: tl.constexpr, X16: tl.constexpr):
    """B of every k-step of the chunk at column c0: a tuple of WPL (x00, x01, x10, x11) (_tiles_x's, word i's)."""
    xs = ()
    for i in tl.static_range(WPL):
        xs = xs + (_tiles_x(x_quads, x0_off, x1_off, c0 // 4 + 2 * i, sel0, sel1, TILES, X16),)
    return xs


@triton.jit
def _chunk_loads(w0_ptr, w1_ptr, w2_ptr, w3_ptr, x_quads, x0_off, x1_off, c0, sel0, sel1, WPL: tl.constexpr,
                 TILES: tl.constexpr, ROWS: tl.constexpr, X16: tl.constexpr, W16: tl.constexpr):  # fmt: skip
    """(words, B) of the chunk at column c0 asked for together (_chunk_words', _chunk_x's): the chunks-ahead forms'
    loads (AHEAD 1-4)."""
    words = _chunk_words(w0_ptr, w1_ptr, w2_ptr, w3_ptr, c0, WPL, ROWS, W16)
    return words, _chunk_x(x_quads, x0_off, x1_off, c0, sel0, sel1, WPL, TILES, X16)


@triton.jit
def _word_blocks(w0, w1, w2, w3, x00, x01, x10, x11, tabs, acc_a, acc_b, TILES: tl.constexpr, ROWS: tl.constexpr,
                 BF16: tl.constexpr):  # fmt: skip
    """One code word of each lane row (w0, w1: block 0's rows r0, r0 + 8; w2, w3: block 1's, ROWS 2) looked up in
    its row's tables (tabs: _slot_tables') and its two k-steps' MMAs (B: x00 .. x11, _tiles_x's): both blocks'
    accumulators (tuples of 8 [NT] fp32) plus the word."""
    tab0, tab1, tab2, tab3 = tabs
    a00, a01, a02, a03, a10, a11, a12, a13 = acc_a
    b00, b01, b02, b03, b10, b11, b12, b13 = acc_b
    p0, p1, p2, p3 = _pairs(w0, tab0)
    q0, q1, q2, q3 = _pairs(w1, tab1)
    a00, a01, a02, a03, a10, a11, a12, a13 = _word_steps(
        p0, p1, p2, p3, q0, q1, q2, q3, x00, x01, x10, x11, a00, a01, a02, a03, a10, a11, a12, a13,
        TILES, BF16)  # fmt: skip
    if ROWS == 2:
        p0, p1, p2, p3 = _pairs(w2, tab2)
        q0, q1, q2, q3 = _pairs(w3, tab3)
        b00, b01, b02, b03, b10, b11, b12, b13 = _word_steps(
            p0, p1, p2, p3, q0, q1, q2, q3, x00, x01, x10, x11, b00, b01, b02, b03, b10, b11, b12, b13,
            TILES, BF16)  # fmt: skip
    return (a00, a01, a02, a03, a10, a11, a12, a13), (b00, b01, b02, b03, b10, b11, b12, b13)


@triton.jit
def _chunk_mma(words, xs, tabs, acc_a, acc_b, WPL: tl.constexpr, TILES: tl.constexpr, ROWS: tl.constexpr,
               BF16: tl.constexpr):  # fmt: skip
    """A chunk's MMAs from its words and B already in registers (_chunk_words', _chunk_x's) and the lane rows'
    tables (_slot_tables'): both blocks' accumulators (tuples of 8 [NT] fp32) plus the chunk."""
    v0, v1, v2, v3 = words
    for i in tl.static_range(WPL):
        x00, x01, x10, x11 = xs[i]
        acc_a, acc_b = _word_blocks(v0[i], v1[i], v2[i], v3[i], x00, x01, x10, x11, tabs, acc_a, acc_b, TILES, ROWS,
                                    BF16)  # fmt: skip
    return acc_a, acc_b


@triton.jit
def _chunk_word_by_word(w0_ptr, w1_ptr, w2_ptr, w3_ptr, x_quads, x0_off, x1_off, c0, sel0, sel1, tabs, acc_a, acc_b,
                        WPL: tl.constexpr, TILES: tl.constexpr, ROWS: tl.constexpr, BF16: tl.constexpr,
                        X16: tl.constexpr):  # fmt: skip
    """The chunk at column c0 word by word (AHEAD 0): each word of a row block's lane rows loaded where it is looked
    up, its B just before it. Returns both blocks' accumulators (tuples of 8 [NT] fp32) plus the chunk."""
    tab0, tab1, tab2, tab3 = tabs
    a00, a01, a02, a03, a10, a11, a12, a13 = acc_a
    b00, b01, b02, b03, b10, b11, b12, b13 = acc_b
    for i in tl.static_range(WPL):
        # k-steps 2i, 2i + 1: quads c0 // 4 + 2i and the next
        x00, x01, x10, x11 = _tiles_x(x_quads, x0_off, x1_off, c0 // 4 + 2 * i, sel0, sel1, TILES, X16)
        word = c0 // 8 + i
        a00, a01, a02, a03, a10, a11, a12, a13 = _word_mma(
            w0_ptr, w1_ptr, word, tab0, tab1, x00, x01, x10, x11,
            a00, a01, a02, a03, a10, a11, a12, a13, TILES, BF16)  # fmt: skip
        if ROWS == 2:
            b00, b01, b02, b03, b10, b11, b12, b13 = _word_mma(
                w2_ptr, w3_ptr, word, tab2, tab3, x00, x01, x10, x11,
                b00, b01, b02, b03, b10, b11, b12, b13, TILES, BF16)  # fmt: skip
    return (a00, a01, a02, a03, a10, a11, a12, a13), (b00, b01, b02, b03, b10, b11, b12, b13)


@triton.jit
def _next_chunk(nw1, nx1, nw2, nx2, w0_ptr, w1_ptr, w2_ptr, w3_ptr, x_quads, x0_off, x1_off, sel0, sel1, c0, last,
                WPL: tl.constexpr, TILES: tl.constexpr, ROWS: tl.constexpr, X16: tl.constexpr,
                AHEAD: tl.constexpr, W16: tl.constexpr = False):  # fmt: skip
    """(words, B of the chunk at column c0, nw1, nx1, nw2, nx2): asked for here (AHEAD 1), or carried from
    AHEAD - 1 chunks before in nw1 / nx1, the carried chunks moved on by one and the chunk AHEAD - 1 past c0 asked
    for (the last chunk's again past the group's end `last`: cache hits, never used)."""
    if AHEAD == 1:
        words, xs = _chunk_loads(w0_ptr, w1_ptr, w2_ptr, w3_ptr, x_quads, x0_off, x1_off, c0, sel0, sel1, WPL,
                                TILES, ROWS, X16, W16)
    else:
        words, xs = nw1, nx1
        nxt = tl.minimum(c0 + (AHEAD - 1) * (32 * WPL), last)
        if AHEAD == 2:
            nw1, nx1 = _chunk_loads(w0_ptr, w1_ptr, w2_ptr, w3_ptr, x_quads, x0_off, x1_off, nxt, sel0, sel1, WPL,
                                   TILES, ROWS, X16, W16)
        else:
            nw1, nx1 = nw2, nx2
            nw2, nx2 = _chunk_loads(w0_ptr, w1_ptr, w2_ptr, w3_ptr, x_quads, x0_off, x1_off, nxt, sel0, sel1, WPL,
                                   TILES, ROWS, X16, W16)
    return words, xs, nw1, nx1, nw2, nx2


@triton.jit
def _group_start(w0_ptr, w1_ptr, w2_ptr, w3_ptr, pairs_ptr, x_quads, cur, r0c, r1c, r2c, r3c, x0_off, x1_off, sel0,
                 sel1, lo, hi, grp, stride_ls, stride_ln, BITS: tl.constexpr, WPL: tl.constexpr, TILES: tl.constexpr,
                 ROWS: tl.constexpr, X16: tl.constexpr, AHEAD: tl.constexpr, W16: tl.constexpr = False):  # fmt: skip
    """Before the chunks lo .. hi of LUT group grp (_group_chunks): the first AHEAD - 1 chunks' words and x asked
    for, then the group's tables. Returns (tables, the last chunk's column, nw1, nx1, nw2, nx2: _next_chunk's carry;
    0 where AHEAD does not carry them)."""
    CHUNK: tl.constexpr = 32 * WPL
    last = hi - CHUNK
    nw1, nx1, nw2, nx2 = 0, 0, 0, 0
    if AHEAD >= 2:
        nw1, nx1 = _chunk_loads(w0_ptr, w1_ptr, w2_ptr, w3_ptr, x_quads, x0_off, x1_off, lo, sel0, sel1, WPL,
                               TILES, ROWS, X16, W16)
    if AHEAD >= 3:
        nw2, nx2 = _chunk_loads(w0_ptr, w1_ptr, w2_ptr, w3_ptr, x_quads, x0_off, x1_off, tl.minimum(lo + CHUNK, last),
                               sel0, sel1, WPL, TILES, ROWS, X16, W16)  # fmt: skip
    tabs = _slot_tables(pairs_ptr, cur, r0c, r1c, r2c, r3c, grp, stride_ls, stride_ln, BITS, ROWS)
    return tabs, last, nw1, nx1, nw2, nx2


@triton.jit
def _group_loop(w0_ptr, w1_ptr, w2_ptr, w3_ptr, x_quads, x0_off, x1_off, sel0, sel1, lo, hi, last, tabs, nw1, nx1,
                nw2, nx2, acc_a, acc_b, WPL: tl.constexpr, TILES: tl.constexpr, ROWS: tl.constexpr,
                BF16: tl.constexpr, X16: tl.constexpr, AHEAD: tl.constexpr, W16: tl.constexpr = False):  # fmt: skip
    """The chunks lo .. hi of one group from its start (_group_start's or _early_first_group's: the tables, the last
    chunk's column and the chunks asked for ahead): both blocks' accumulators plus the group's.

    AHEAD 4 (seventy-third session): the AHEAD 3 start (chunks lo and lo + CHUNK in nw1 / nw2) in a loop unrolled by
    two chunks, each half's next loads written into the registers that half has just read. AHEAD 2's ring compiled
    to 18-20 IMAD.MOVs a chunk at the loop's end, each waiting for its load, so a chunk's loads were in flight for the
    last 5/8 of a chunk only (NOTES, seventy-first session). Here no value crosses the back edge moved, and the
    second half sits in a branch (a group of an odd number of chunks skips it the last time round), which keeps
    LLVM from sinking the first half's next loads past the second half's MMAs. On the H100 at 4 tokens it was 3-5 %
    faster than AHEAD 3 on the 8-warp split-K forms of the MLP shapes (about 11 chunks a program; shipped there) and
    2-6 % slower on 4096x4096's KW 8 form (4 chunks a part; results/ahead4_h100_seventythird.json)."""
    CHUNK: tl.constexpr = 32 * WPL
    if AHEAD == 4:
        for c0 in range(lo, hi, 2 * CHUNK):
            acc_a, acc_b = _chunk_mma(nw1, nx1, tabs, acc_a, acc_b, WPL, TILES, ROWS, BF16)
            if c0 + CHUNK < hi:
                nxt = tl.minimum(c0 + 2 * CHUNK, last)
                nw1, nx1 = _chunk_loads(w0_ptr, w1_ptr, w2_ptr, w3_ptr, x_quads, x0_off, x1_off, nxt, sel0, sel1, WPL,
                                       TILES, ROWS, X16, W16)
                acc_a, acc_b = _chunk_mma(nw2, nx2, tabs, acc_a, acc_b, WPL, TILES, ROWS, BF16)
            nxt = tl.minimum(c0 + 3 * CHUNK, last)
            nw2, nx2 = _chunk_loads(w0_ptr, w1_ptr, w2_ptr, w3_ptr, x_quads, x0_off, x1_off, nxt, sel0, sel1, WPL,
                                   TILES, ROWS, X16, W16)
    else:
        for c0 in range(lo, hi, CHUNK):
            words, xs, nw1, nx1, nw2, nx2 = _next_chunk(nw1, nx1, nw2, nx2, w0_ptr, w1_ptr, w2_ptr, w3_ptr, x_quads,
                                                        x0_off, x1_off, sel0, sel1, c0, last, WPL, TILES, ROWS, X16,
                                                        AHEAD, W16)  # fmt: skip
            acc_a, acc_b = _chunk_mma(words, xs, tabs, acc_a, acc_b, WPL, TILES, ROWS, BF16)
    return acc_a, acc_b


@triton.jit
def _group_chunks(w0_ptr, w1_ptr, w2_ptr, w3_ptr, pairs_ptr, x_quads, cur, r0c, r1c, r2c, r3c, x0_off, x1_off, sel0,
                  sel1, lo, hi, grp, stride_ls, stride_ln, acc_a, acc_b, BITS: tl.constexpr, WPL: tl.constexpr,
                  TILES: tl.constexpr, ROWS: tl.constexpr, BF16: tl.constexpr, X16: tl.constexpr,
                  AHEAD: tl.constexpr, W16: tl.constexpr = False):  # fmt: skip
    """Columns lo .. hi (whole chunks of LUT group grp) of slot cur, each chunk's words and B asked for at once:
    at its start (AHEAD 1), or AHEAD - 1 chunks before it (2, 3: its loads in flight while the chunks before it
    are looked up; the first ones, and their x, before the group's tables: _group_start). The sixty-first session's
    clock stamps (decode_timeline_mma.py) found each chunk of the word-by-word loop ~1.5 us after the one before: a
    DRAM round trip for its words, and two L2 ones for x loaded as the registers of the word before freed.
    Returns both blocks' accumulators plus the group's."""
    tabs, last, nw1, nx1, nw2, nx2 = _group_start(w0_ptr, w1_ptr, w2_ptr, w3_ptr, pairs_ptr, x_quads, cur, r0c, r1c,
                                                  r2c, r3c, x0_off, x1_off, sel0, sel1, lo, hi, grp, stride_ls,
                                                  stride_ln, BITS, WPL, TILES, ROWS, X16, AHEAD, W16)  # fmt: skip
    return _group_loop(w0_ptr, w1_ptr, w2_ptr, w3_ptr, x_quads, x0_off, x1_off, sel0, sel1, lo, hi, last, tabs, nw1,
                       nx1, nw2, nx2, acc_a, acc_b, WPL, TILES, ROWS, BF16, X16, AHEAD, W16)  # fmt: skip


@triton.jit
def _early_first_group(w0_ptr, w1_ptr, w2_ptr, w3_ptr, pairs_ptr, x_quads, slot_all, slot0, slot1, r0c, r1c, r2c,
                       r3c, x0_off, x1_off, k_start, k_end, GS, stride_ls, stride_ln, BITS: tl.constexpr,
                       WPL: tl.constexpr, TILES: tl.constexpr, ROWS: tl.constexpr, BF16: tl.constexpr,
                       X16: tl.constexpr, AHEAD: tl.constexpr, PDL: tl.constexpr, gofs=0,
                       W16: tl.constexpr = False):  # fmt: skip
    """EARLY (AHEAD 2-4): the first slot's first LUT group of the K range with its first chunks' words and its
    tables asked for before the PDL wait (codes, LUT pool and slots are no kernel's output: under PDL they overlap
    the kernel before, as PRELOAD's and the one-token kernel's do), x after it; then the group's chunks. gofs (KW):
    each lane's LUT group's offset from k_start's. Returns both blocks' accumulators (tuples of 8 [NT] fp32) of that
    group; _chunks_in_turn given them (early) does the rest."""
    CHUNK: tl.constexpr = 32 * WPL
    first = first_slot(slot_all)
    grp = k_start // GS
    hi = tl.minimum(grp * GS + GS, k_end)
    last = hi - CHUNK
    nw1 = _chunk_words(w0_ptr, w1_ptr, w2_ptr, w3_ptr, k_start, WPL, ROWS, W16)
    nw2 = nw1
    if AHEAD >= 3:
        nw2 = _chunk_words(w0_ptr, w1_ptr, w2_ptr, w3_ptr, tl.minimum(k_start + CHUNK, last), WPL, ROWS, W16)
    tabs = _slot_tables(pairs_ptr, first, r0c, r1c, r2c, r3c, grp + gofs, stride_ls, stride_ln, BITS, ROWS)
    pdl_wait(PDL)
    sel0 = slot0 == first
    sel1 = slot1 == first
    nx1 = _chunk_x(x_quads, x0_off, x1_off, k_start, sel0, sel1, WPL, TILES, X16)
    nx2 = nx1
    if AHEAD >= 3:
        nx2 = _chunk_x(x_quads, x0_off, x1_off, tl.minimum(k_start + CHUNK, last), sel0, sel1, WPL, TILES, X16)
    zero = tl.zeros(slot0.shape, dtype=tl.float32)
    acc = (zero, zero, zero, zero, zero, zero, zero, zero)
    return _group_loop(w0_ptr, w1_ptr, w2_ptr, w3_ptr, x_quads, x0_off, x1_off, sel0, sel1, k_start, hi, last, tabs,
                       nw1, nx1, nw2, nx2, acc, acc, WPL, TILES, ROWS, BF16, X16, AHEAD, W16)  # fmt: skip


@triton.jit
def _slot_tables(pairs_ptr, cur, r0c, r1c, r2c, r3c, grp, stride_ls, stride_ln, BITS: tl.constexpr,
                 ROWS: tl.constexpr):  # fmt: skip
    """The byte tables of slot cur's LUT group grp for each lane row (block 1's: block 0's again unless ROWS 2)."""
    base = cur.to(tl.int64) * stride_ls + grp * (1 << BITS)
    tab0 = _row_tables(pairs_ptr, base + r0c * stride_ln, BITS, True)
    tab1 = _row_tables(pairs_ptr, base + r1c * stride_ln, BITS, True)
    if ROWS == 2:
        tab2 = _row_tables(pairs_ptr, base + r2c * stride_ln, BITS, True)
        tab3 = _row_tables(pairs_ptr, base + r3c * stride_ln, BITS, True)
    else:
        tab2, tab3 = tab0, tab1
    return tab0, tab1, tab2, tab3


@triton.jit
def _preloaded_chunk(w0, w1, w2, w3, pairs_ptr, slot_all, slot0, slot1, r0c, r1c, r2c, r3c, x_quads, x0_off, x1_off,
                     k_start, GS, stride_ls, stride_ln, BITS: tl.constexpr, WPL: tl.constexpr, TILES: tl.constexpr,
                     ROWS: tl.constexpr, BF16: tl.constexpr, X16: tl.constexpr, PDL: tl.constexpr):  # fmt: skip
    """A program's one chunk from its lane rows' code words already in registers (w0 .. w3: tuples of WPL words;
    w2, w3 used with ROWS 2): the first slot's tables before the PDL wait (codes, LUT pool and slots are no kernel's
    output), so that the codes' and the LUT's DRAM latencies overlap the previous kernel instead of following it;
    then per distinct slot its MMAs (its tables rebuilt for each later slot). Returns both blocks' accumulators."""
    zero = tl.zeros(slot0.shape, dtype=tl.float32)
    a00, a01, a02, a03, a10, a11, a12, a13 = zero, zero, zero, zero, zero, zero, zero, zero
    b00, b01, b02, b03, b10, b11, b12, b13 = zero, zero, zero, zero, zero, zero, zero, zero
    grp = k_start // GS
    first = first_slot(slot_all)
    tab0, tab1, tab2, tab3 = _slot_tables(pairs_ptr, first, r0c, r1c, r2c, r3c, grp, stride_ls, stride_ln, BITS, ROWS)
    pdl_wait(PDL)
    cur = first
    while cur < NO_SLOT:
        if cur != first:
            tab0, tab1, tab2, tab3 = _slot_tables(pairs_ptr, cur, r0c, r1c, r2c, r3c, grp, stride_ls, stride_ln,
                                                  BITS, ROWS)  # fmt: skip
        sel0 = slot0 == cur
        sel1 = slot1 == cur
        acc_a = (a00, a01, a02, a03, a10, a11, a12, a13)
        acc_b = (b00, b01, b02, b03, b10, b11, b12, b13)
        tabs = (tab0, tab1, tab2, tab3)
        for i in tl.static_range(WPL):
            x00, x01, x10, x11 = _tiles_x(x_quads, x0_off, x1_off, k_start // 4 + 2 * i, sel0, sel1, TILES, X16)
            acc_a, acc_b = _word_blocks(w0[i], w1[i], w2[i], w3[i], x00, x01, x10, x11, tabs, acc_a, acc_b, TILES,
                                        ROWS, BF16)  # fmt: skip
        a00, a01, a02, a03, a10, a11, a12, a13 = acc_a
        b00, b01, b02, b03, b10, b11, b12, b13 = acc_b
        cur = next_slot(slot_all, cur)
    return a00, a01, a02, a03, a10, a11, a12, a13, b00, b01, b02, b03, b10, b11, b12, b13


@triton.jit
def _lane_word(row, stride_cw, first, W16: tl.constexpr):
    """The word offset of a lane's first word of a chunk in `row` (first: its place in the chunk, a multiple of 4
    with W16): asserted a multiple of 4 words (16 bytes) with W16, where the launcher checked the rows' alignment."""
    off = row * stride_cw + first
    if W16:
        off = tl.multiple_of(off, 4)
    return off


@triton.jit
def _lane_rows(pid_n, N, NT: tl.constexpr, ROWS: tl.constexpr, KW: tl.constexpr = 1):
    """Each lane's place in row tile pid_n ([NT] each, one element a thread): (g, t) of lane 4 g + t, its block 0
    rows r0 (and r0 + 8), block 1's rb = r0 + 16 (ROWS 2), and the four rows clamped below N as int64 (rows past N
    read row N - 1 and are never stored). KW: the program's warps in KW parts along K, each part's NT / KW lanes on
    the same rows (lane e in part e // (NT / KW))."""
    NTR: tl.constexpr = NT // KW  # the lanes of one K part
    lane = tl.arange(0, NT) % NTR
    g = (lane % 32) // 4
    t = lane % 4
    r0 = pid_n * (16 * ROWS * (NTR // 32)) + (lane // 32) * (16 * ROWS) + g  # a warp's ROWS blocks of 16 rows
    rb = r0 + 16
    r0c = tl.minimum(r0, N - 1).to(tl.int64)
    r1c = tl.minimum(r0 + 8, N - 1).to(tl.int64)
    r2c = tl.minimum(rb, N - 1).to(tl.int64)
    r3c = tl.minimum(rb + 8, N - 1).to(tl.int64)
    return g, t, r0, rb, r0c, r1c, r2c, r3c


@triton.jit
def _fold_parts(acc, KW: tl.constexpr, USED: tl.constexpr):
    """KW: a tuple of 8 accumulators [NT] summed over the program's KW parts along K ([NT / KW] each: lane e's of
    every part, through shared memory), the first USED of them (4: one tile of tokens; the rest are zeros), one at a
    time, a trip through shared memory each (11 barriers at 8 warps). A tile's four in one trip (2 barriers) was
    10-14 % slower on the H100 and the H200 (NOTES.md, sixty-ninth session), so it is gone."""
    NTR: tl.constexpr = acc[0].shape[0] // KW
    zero = tl.zeros((NTR,), dtype=tl.float32)
    out = ()
    for i in tl.static_range(USED):
        out = out + (tl.sum(tl.reshape(acc[i], (KW, NTR)), axis=0),)
    for _ in tl.static_range(8 - USED):
        out = out + (zero,)
    return out


@triton.jit
def _write_y(y_ptr, ws_ptr, counter_ptr, a00, a01, a02, a03, a10, a11, a12, a13, b00, b01, b02, b03, b10, b11, b12,
             b13, r0, rb, out0, out1, pid_n, pid_k, M, N, stride_ym, SPLIT_K, TILES: tl.constexpr,
             ROWS: tl.constexpr, USE_SPLIT: tl.constexpr, SUM_AT_ONCE: tl.constexpr):  # fmt: skip
    """The program's accumulators into y (_store_blocks); split-K: its partial into the workspace, summed by the row
    tile's last program to arrive (as triton_common.store_split_k, each tile stored as held; SUM_AT_ONCE splits'
    partials loaded together, _sum_tiles)."""
    if USE_SPLIT:
        _store_blocks(ws_ptr + pid_k * M * N, a00, a01, a02, a03, a10, a11, a12, a13, b00, b01, b02, b03, b10, b11,
                      b12, b13, r0, rb, out0, out1, M, N, N, TILES, ROWS)  # fmt: skip
        if split_k_arrive(counter_ptr, pid_n, SPLIT_K):
            _sum_tiles(ws_ptr, y_ptr, r0, rb, out0, out1, M, N, stride_ym, SPLIT_K, TILES, ROWS,
                       SUM_AT_ONCE)  # fmt: skip
            split_k_reset(counter_ptr, pid_n)
    else:
        _store_blocks(y_ptr, a00, a01, a02, a03, a10, a11, a12, a13, b00, b01, b02, b03, b10, b11, b12, b13, r0, rb,
                      out0, out1, M, N, stride_ym, TILES, ROWS)  # fmt: skip


@jit_any_size(sizes=("M",), unaligned=("slot_ptr",))
def _decode_mma_kernel(
    x_ptr, codes_ptr, lut_ptr, slot_ptr, y_ptr, ws_ptr, counter_ptr,
    M, N, K, GS, stride_xm, stride_cw, stride_ls, stride_ln, stride_ym, K_PER_SPLIT, SPLIT_K,
    BITS: tl.constexpr, WARPS: tl.constexpr, WPL: tl.constexpr, TILES: tl.constexpr, ROWS: tl.constexpr,
    USE_SPLIT: tl.constexpr, ASM: tl.constexpr, BF16: tl.constexpr, X16: tl.constexpr = False,
    PDL: tl.constexpr = False, PRELOAD: tl.constexpr = False, AHEAD: tl.constexpr = 0, SUM_AT_ONCE: tl.constexpr = 2,
    EARLY: tl.constexpr = False, KW: tl.constexpr = 1, W16: tl.constexpr = False,
):  # fmt: skip
    """A program: 16 * ROWS * WARPS rows (ROWS blocks of 16 a warp, sharing its x loads) over one K range, up to
    8 * TILES tokens. x's row stride and the chunk size are multiples of 4 columns and the group size a multiple of
    the chunk (the launcher checks). PRELOAD: the K range is one chunk, and its code words (vector loads) and the
    first slot's tables are in registers before the PDL wait (_preloaded_chunk). KW: the warps in KW parts along the
    K range (16 * ROWS * WARPS / KW rows a program), each part's lanes on the same rows over K_PER_SPLIT / KW
    columns within one LUT group, their accumulators summed in the program (_fold_parts) before y or the workspace.
    W16 (rows of codes 16-byte aligned, WPL a multiple of 4): the chunks-ahead path loads a lane row's words of a
    chunk 4 at a time in 16-byte loads."""
    NT: tl.constexpr = 32 * WARPS  # one element per thread: element e in lane e % 32 of warp e // 32
    pid_n = tl.program_id(0)
    pid_k = tl.program_id(1)
    g, t, r0, rb, r0c, r1c, r2c, r3c = _lane_rows(pid_n, N, NT, ROWS, KW)
    words_ptr = codes_ptr.to(tl.pointer_type(tl.uint32), bitcast=True)
    pairs_ptr = lut_ptr.to(tl.pointer_type(tl.uint32), bitcast=True)
    x_quads = x_ptr.to(tl.pointer_type(tl.uint64), bitcast=True)  # 4 columns = B's two pairs of a k-step
    k_part = K_PER_SPLIT  # the columns of each K part (a whole number of chunks within one LUT group)
    if KW > 1:
        k_part = tl.multiple_of(K_PER_SPLIT // KW, 32 * WPL)
        koff = (tl.arange(0, NT) // (NT // KW)) * k_part  # the lane's part's first column past k_start
        gofs = koff // GS  # and its LUT group's offset
        tw = t + koff // (8 * WPL)  # the lane's words and x then start koff / 8 words on (chunk word WPL t)
    else:
        koff, gofs, tw = 0, 0, t
    w0_ptr = words_ptr + _lane_word(r0c, stride_cw, WPL * tw, W16)  # the lane's first word of a chunk in each row
    w1_ptr = words_ptr + _lane_word(r1c, stride_cw, WPL * tw, W16)
    w2_ptr = words_ptr + _lane_word(r2c, stride_cw, WPL * tw, W16)
    w3_ptr = words_ptr + _lane_word(r3c, stride_cw, WPL * tw, W16)
    tok0 = g  # the B token of lane row g in tile 0 (tile 1: g + 8)
    tok1 = g + 8
    slot_all = tl.load(slot_ptr + tl.arange(0, 16), mask=tl.arange(0, 16) < M, other=NO_SLOT)
    slot0 = tl.load(slot_ptr + tok0, mask=tok0 < M, other=NO_SLOT)
    slot1 = tl.load(slot_ptr + tok1, mask=tok1 < M, other=NO_SLOT)
    x0_off = tok0.to(tl.int64) * (stride_xm // 4) + 2 * WPL * tw  # x quads of the lane's tokens at chunk column 0
    x1_off = tok1.to(tl.int64) * (stride_xm // 4) + 2 * WPL * tw
    out0 = 2 * t  # the C tokens of lane column t in each tile
    out1 = 2 * t + 8

    k_start = pid_k * K_PER_SPLIT  # a multiple of CHUNK
    k_end = tl.minimum(k_start + k_part, K)  # (of K part 0; every part's is as long)
    if PRELOAD and ASM:
        words_q = codes_ptr.to(tl.pointer_type(tl.uint64), bitcast=True)
        q_lane = k_start // 16 + (WPL // 2) * t  # the lane's first word pair of the chunk
        w0 = _lane_words(words_q, r0c * (stride_cw // 2) + q_lane, WPL)
        w1 = _lane_words(words_q, r1c * (stride_cw // 2) + q_lane, WPL)
        if ROWS == 2:
            w2 = _lane_words(words_q, r2c * (stride_cw // 2) + q_lane, WPL)
            w3 = _lane_words(words_q, r3c * (stride_cw // 2) + q_lane, WPL)
        else:
            w2, w3 = w0, w1
        a00, a01, a02, a03, a10, a11, a12, a13, b00, b01, b02, b03, b10, b11, b12, b13 = _preloaded_chunk(
            w0, w1, w2, w3, pairs_ptr, slot_all, slot0, slot1, r0c, r1c, r2c, r3c, x_quads, x0_off, x1_off,
            k_start, GS, stride_ls, stride_ln, BITS, WPL, TILES, ROWS, BF16, X16, PDL)  # fmt: skip
    elif EARLY and ASM and AHEAD >= 2:  # the first group's words and tables before the PDL wait
        acc_a, acc_b = _early_first_group(w0_ptr, w1_ptr, w2_ptr, w3_ptr, pairs_ptr, x_quads, slot_all, slot0, slot1,
                                          r0c, r1c, r2c, r3c, x0_off, x1_off, k_start, k_end, GS, stride_ls,
                                          stride_ln, BITS, WPL, TILES, ROWS, BF16, X16, AHEAD, PDL, gofs,
                                          W16)  # fmt: skip
        a00, a01, a02, a03, a10, a11, a12, a13, b00, b01, b02, b03, b10, b11, b12, b13 = _chunks_in_turn(
            words_ptr, w0_ptr, w1_ptr, w2_ptr, w3_ptr, pairs_ptr, lut_ptr, x_ptr, slot_ptr, x_quads, slot_all, slot0,
            slot1, r0c, r1c, r2c, r3c, x0_off, x1_off, out0, out1, M, k_start, k_end, GS, stride_xm, stride_cw,
            stride_ls, stride_ln, BITS, WPL, TILES, ROWS, ASM, BF16, X16, AHEAD, (acc_a, acc_b), koff,
            gofs, W16)  # fmt: skip
    else:  # the chunks one after another (the interpreter: always)
        pdl_wait(PDL)  # (the slots before it: no kernel's output)
        a00, a01, a02, a03, a10, a11, a12, a13, b00, b01, b02, b03, b10, b11, b12, b13 = _chunks_in_turn(
            words_ptr, w0_ptr, w1_ptr, w2_ptr, w3_ptr, pairs_ptr, lut_ptr, x_ptr, slot_ptr, x_quads, slot_all, slot0,
            slot1, r0c, r1c, r2c, r3c, x0_off, x1_off, out0, out1, M, k_start, k_end, GS, stride_xm, stride_cw,
            stride_ls, stride_ln, BITS, WPL, TILES, ROWS, ASM, BF16, X16, AHEAD, None, koff, gofs,
            W16)  # fmt: skip

    if KW > 1:  # the parts' sums of each lane's (token, row) outputs, then stored by the first part's lanes' places
        acc_a = _fold_parts((a00, a01, a02, a03, a10, a11, a12, a13), KW, 4 * TILES)
        acc_b = _fold_parts((b00, b01, b02, b03, b10, b11, b12, b13), KW, 4 * TILES if ROWS == 2 else 0)
        a00, a01, a02, a03, a10, a11, a12, a13 = acc_a
        b00, b01, b02, b03, b10, b11, b12, b13 = acc_b
        g, t, r0, rb, r0c, r1c, r2c, r3c = _lane_rows(pid_n, N, NT // KW, ROWS)
        out0 = 2 * t
        out1 = 2 * t + 8

    _write_y(y_ptr, ws_ptr, counter_ptr, a00, a01, a02, a03, a10, a11, a12, a13, b00, b01, b02, b03, b10, b11, b12,
             b13, r0, rb, out0, out1, pid_n, pid_k, M, N, stride_ym, SPLIT_K, TILES, ROWS, USE_SPLIT,
             SUM_AT_ONCE)  # fmt: skip


def mma_ok(x: torch.Tensor, codes_packed: torch.Tensor, lut_pool: torch.Tensor, bits: int, words_per_lane: int) -> bool:
    """Whether the fragment kernel takes this call: the register-LUT kernels' codes and LUT (prmt_ok), x and the
    LUT both fp16 or both bf16 (one MMA type), at most 16 tokens, x's rows 8-byte aligned (B's pairs are loaded 4
    columns at a time) and chunks of 32 * words_per_lane columns that tile K and every LUT group."""
    m, k = x.shape
    chunk = 32 * words_per_lane
    gs = triton.cdiv(k, lut_pool.shape[2])
    return (
        prmt_ok(codes_packed, lut_pool, bits)
        and x.dtype == lut_pool.dtype
        and x.dtype in (torch.float16, torch.bfloat16)
        and 1 <= m <= MAX_TOKENS
        and x.stride(1) == 1
        and x.stride(0) % 4 == 0
        and x.data_ptr() % 8 == 0
        and k % chunk == 0
        and gs % chunk == 0
    )


def x16_ok(x: torch.Tensor) -> bool:
    """Whether every row of x starts 16-byte aligned, so that the fragment kernels load two k-steps' B quads at
    once (a chunk starts at a multiple of 8 columns)."""
    return x.data_ptr() % 16 == 0 and (x.shape[0] == 1 or x.stride(0) % 8 == 0)


def k_parts_fit(k: int, group_size: int, k_per_split: int, parts: int, chunk: int) -> bool:
    """Whether a program's warps can split its K range in `parts` (KW): K is whole splits of k_per_split columns,
    each split `parts` ranges of whole chunks, each range inside one LUT group of group_size."""
    return k % k_per_split == 0 and k_per_split % (parts * chunk) == 0 and group_size % (k_per_split // parts) == 0


def launch_fragments(kernel, name: str, x: torch.Tensor, codes_packed: torch.Tensor, lut_pool: torch.Tensor,
                     slot_of_token: torch.Tensor, bits: int, y: torch.Tensor, config: dict, rows_per_warp: int,
                     wpls: tuple[int, ...] = (2, 4), one_chunk: bool = False, k_parts: int = 1,
                     **constexprs) -> None:  # fmt: skip
    """The fragment kernels' launch (this module's; the arguments the op's launchers share): checks config's
    num_warps and WPL (one of wpls) and the call (mma_ok), splits K in chunks of 32 * WPL columns (one_chunk: one a
    split, whatever SPLIT_K says) and launches programs of rows_per_warp * num_warps rows, constexprs (the kernel's
    own, and launch options such as pdl_args') added to the shared ones. k_parts (the decode kernel's KW): the
    program's warps in that many parts along its K range (rows_per_warp * num_warps / k_parts rows a program), each
    part's range whole chunks in one LUT group, so each split's range must be K / split exactly."""
    m, k = x.shape
    n = codes_packed.shape[0]
    warps, wpl = config.get("num_warps", 4), config.get("WPL", 2)
    if wpl not in wpls or warps not in (1, 2, 4, 8):
        raise ValueError(f"the {name} takes WPL {' or '.join(map(str, wpls))} and 1-8 warps, got {wpl} and {warps}")
    if not mma_ok(x, codes_packed, lut_pool, bits, wpl):
        raise ValueError(f"the {name} takes up to 16 tokens of fp16 or bf16 x with a LUT of the same type, 3/4-bit "
                         "codes in whole words, and chunks of 32 * WPL columns tiling K and the groups")  # fmt: skip
    gs = triton.cdiv(k, lut_pool.shape[2])
    if k_parts > 1 and (warps % k_parts or one_chunk):
        raise ValueError(f"the {name} takes KW dividing num_warps, without PRELOAD, got KW {k_parts} with {warps} "
                         "warps")  # fmt: skip
    split, k_per_split, n_tiles, ws, counters = split_k_launch(x, y, n, rows_per_warp * warps // k_parts,
                                                               32 * wpl * k_parts, config.get("SPLIT_K", 1),
                                                               32 * wpl if one_chunk else None)  # fmt: skip
    if k_parts > 1 and not k_parts_fit(k, gs, k_per_split, k_parts, 32 * wpl):
        raise ValueError(f"the {name} with KW {k_parts} needs K ({k}) split into equal ranges ({k_per_split} "
                         f"columns) of KW parts each within one LUT group of {gs}")  # fmt: skip
    tiles = 1 if m <= 8 else 2
    args = (x, codes_packed, lut_pool, slot_of_token, y, ws, counters, m, n, k, gs, x.stride(0),
            codes_packed.stride(0) // 4, lut_pool.stride(0), lut_pool.stride(1), y.stride(0), k_per_split, split)
    options = dict(BITS=bits, WARPS=warps, WPL=wpl, TILES=tiles, USE_SPLIT=split > 1, ASM=not interpreting(),
                   BF16=x.dtype == torch.bfloat16, X16=x16_ok(x), num_warps=warps, num_stages=1, **constexprs)
    if k_parts > 1:
        options["KW"] = k_parts
    kernel[(n_tiles, split)](*args, **options)


def default_sum_at_once(m: int, rows: int) -> int:
    """The split-K partials the fragment kernel's last program loads together at m tokens in `rows` blocks a warp: 8
    over its tiles (16 rows x 8 tokens), one split a trip with four tiles. On the H100 (sixty-second session,
    results/sum_at_once_h100_sixtysecond.json) the former took 7 % off at split-K 16 with two row blocks and tied
    elsewhere; at 16 tokens in two row blocks one split a trip was 4 % faster."""
    tiles = 1 if m <= 8 else 2
    return 8 // (tiles * rows) if tiles * rows < 4 else 1


def launch_decode_mma(
    x: torch.Tensor,
    codes_packed: torch.Tensor,
    lut_pool: torch.Tensor,
    slot_of_token: torch.Tensor,
    bits: int,
    y: torch.Tensor,
    config: dict,
) -> None:
    """y [M, N] <- the fragment kernel (M <= 16). config: num_warps, ROWS (blocks of 16 rows a warp: 1 or 2; a
    warp's blocks share its x loads), WPL (code words per lane and row in a chunk: 2-16, 64-512 columns), SPLIT_K;
    PRELOAD (0/1): one chunk a program (SPLIT_K is then K / chunk), its words loaded at once before the PDL wait
    where the codes' rows are 16-byte aligned (codes_rows_aligned; else loaded as the chunks-in-turn path does, same
    grid); AHEAD (0-4): the chunks-in-turn path's loads, 0 each word where it is looked up, 1 a chunk's words and x
    at once at its start, 2 / 3 one / two chunks ahead (_group_chunks), 4 two chunks in flight in a loop unrolled by
    two without register moves (_group_loop); SUM_AT_ONCE (default 8 over the program's
    tiles of 16 rows x 8 tokens, 1 with four tiles): split-K partials the row tile's last program loads together
    (_sum_tiles); EARLY (0/1, AHEAD 2-4): the first group's first words and tables asked for before the PDL wait
    (_early_first_group); maxnreg (optional): a register cap for ptxas (8 warps at 80 registers: three programs an
    SM instead of two); KW (1, 2, 4, 8 dividing num_warps; default 1): the program's warps in KW parts along its K
    range, each part's lanes on the same 16 * ROWS * num_warps / KW rows, summed in the program (through shared
    memory) instead of by as many split-K programs through the workspace (K / SPLIT_K / KW whole chunks in one LUT
    group; no PRELOAD: one chunk a part, every word asked for before the PDL wait, was 20-50 % slower than the
    chunks-ahead form on the H100 and the H200, sixty-ninth session; 16 warps in 16 parts under a 64-register cap,
    32 warps an SM, were 30-50 % slower than the shipped 8 parts on the H100, seventieth session, so 1-8 warps); W16
    (0/1): the chunks' words by 16-byte loads, 4 a lane row, where WPL is a multiple of 4 and the codes' rows are
    16-byte aligned (codes_rows_aligned; else 4-byte loads). (PUSH, the split's programs as one cluster pushing
    their partials into their rows' owner CTA, sixty-fourth to sixty-sixth sessions, was correct but at best tied
    the workspace sum on the H100; KW replaced it, and the seventieth session removed it.)"""
    rows = config.get("ROWS", 1)
    if config.get("AHEAD", 0) not in (0, 1, 2, 3, 4):
        raise ValueError(f"the fragment kernel takes AHEAD 0-4, got {config['AHEAD']}")
    if rows not in (1, 2):
        raise ValueError(f"the fragment kernel takes ROWS 1 or 2, got {rows}")
    one_chunk = bool(config.get("PRELOAD"))
    launch_fragments(_decode_mma_kernel, "fragment decode kernel", x, codes_packed, lut_pool, slot_of_token, bits, y,
                     config, 16 * rows, wpls=(2, 4, 8, 16), one_chunk=one_chunk, k_parts=config.get("KW", 1), ROWS=rows,
                     W16=bool(config.get("W16")) and config.get("WPL", 2) % 4 == 0 and codes_rows_aligned(codes_packed),
                     PRELOAD=one_chunk and codes_rows_aligned(codes_packed),
                     AHEAD=config.get("AHEAD", 0), EARLY=bool(config.get("EARLY", 0)),
                     SUM_AT_ONCE=config.get("SUM_AT_ONCE", default_sum_at_once(x.shape[0], rows)),
                     **register_cap(config),
                     **pdl_args(x.device))  # fmt: skip


# (warps, row blocks a warp, words per lane, split-K waves[, AHEAD[, EARLY]]): each of the H200 grid's (results/mma_
# grid_rows_h200.json, gpr 1) best at 4, 8, 16 tokens over one task and 16 over four, at the kernel table's three
# shapes, or within 3 %; then the H100's bests at 4 tokens of one task with the chunks asked for ahead (sixty-second
# session, results/ahead_*_h100_sixtysecond.log: 8 warps at split-K 8 on 4096 rows, AHEAD 2 or 3, 4-16 % under the
# old candidates' best on every shape and gpr); then those two with EARLY, 3-5 % faster on 4096x4096 at 4 and 8
# tokens on the H100 (sixty-third session, results/split_half_h100_sixtythird.json); then the two KW forms that won
# on the H100 (sixty-seventh session, results/kw_h100_sixtyseventh.json): 8 warps in 8 parts along K on one 16-row
# block (4096 rows, 4 and 8 tokens) and 4 warps in 4 parts on two (11008 rows, gpr 4, 8 and 16 tokens), one wave;
# last the 8-warp split-K form at AHEAD 4 without EARLY, 3-5 % under the shipped AHEAD 3 form with EARLY at 4 tokens
# on 11008x4096 (gpr 1 and 4) and 4096x11008 (gpr 1) on the H100 (seventy-third session,
# results/ahead4_h100_seventythird.json).
MMA_CANDIDATES = [(2, 1, 4, 8), (4, 1, 4, 8), (2, 2, 2, 8), (2, 2, 2, 4), (2, 2, 4, 4), (4, 2, 2, 4),
                  (8, 1, 4, 2, 2), (8, 1, 4, 2, 3), (2, 1, 4, 8, 2), (2, 1, 4, 8, 3), (2, 2, 2, 8, 2),
                  (8, 1, 4, 2, 2, 1), (8, 1, 4, 2, 3, 1), (8, 1, 4, 1, 2, 1, 0, 8), (4, 2, 2, 1, 2, 0, 0, 4),
                  (8, 1, 4, 2, 4)]
# (warps, row blocks a warp, words per lane) with PRELOAD (one chunk a program): the H200 grid's bests at 4-16 tokens
# over 2-8 tasks on the server's four projection shapes (results/mma_tasks_grid_gpr1_h200.log, eighteenth session).
PRELOAD_CANDIDATES = [(8, 1, 16), (4, 1, 16), (2, 2, 16), (2, 2, 8), (1, 2, 8), (4, 1, 8)]
