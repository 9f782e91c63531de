"""Decode kernels with each row's LUT in registers: byte-permute lookups (kernels/prmt_lut.py) instead of L1 gathers.

The generic decode kernel (triton_decode.py) gathers every weight's LUT value from L1: compiled for sm_90, 11.3
instructions and one dependent load per weight at M = 1 (MODE_FMA), 6-11 at M = 16 (MODE_DOT_SWAP); at one task
that, not HBM, bounds it (15.6 us at 4096x4096 and M = 1 on an H200, floor 2 us).

One token (_decode_prmt_kernel, MODE_PRMT). A program owns rows n0 .. n0+BLOCK_N and one K range:

    for each group g in the K range:
        lo[4], hi[4] [BN] = byte tables of LUT[slot, rows, g, 0..15]      8 loads per row, once per group
        for each K block with columns in g (x masked to the group's columns):
            words [BN, BK/8] = 8 packed 4-bit codes each                  read once, 4-byte loads
            x_j [BK/8] for j < 8 = x at the word's columns, fp32          broadcast over the rows
            acc [BN, BK/8] += sum_j LUT(code_j) * x_j                      one asm per word (~30 instructions)
    y[rows] = sum over K of acc

(a block straddling a group boundary is visited once per group, with the other group's columns masked out).
PREFETCH = D (1-3; BLOCK_K dividing the group size, so blocks come in order, each once): the first D codes blocks
are loaded before the slot and its tables (they depend on neither), and each later block D blocks ahead of the one
looked up, so that D blocks' loads are in flight through the loop instead of one DRAM round trip per block. X_VEC: x
as one 16-byte load per code word, split into its 8 columns (HALF2: its 4 pairs) in registers. GROUP_ALIGNED (the
launcher's GROUP_SPLIT): one LUT group per program, its blocks starting at the group's first column, so that no
block straddles a group when BLOCK_K does not divide the group size. Neither was faster on the H200 (NOTES.md
"Autotuning cost"), so the autotuner does not time them; benchmarks/decode_grid.py does. HALF2 (fp16 x and LUT): the
looked-up 16-bit pairs times x's pairs as loaded, by fma.rn.f16x2, each word's sum in fp16 and added to acc in fp32
(prmt_lut.py; 4.4 instead of 5.9 instructions per weight, 6-10 % faster on the H200): the autotuner times every
one-token config in both forms.

2 to 64 tokens (_decode_prmt_dot_kernel, MODE_PRMT_DOT): per distinct slot and group the tables once, then per K
block W [BN, BK] dequantized by the asm's other form (8 entries per word) and acc [BN, BM] += W @ x_slot.T on
tensor cores. BLOCK_K divides the group size, so a block lies in one group.

Both: bits 4 and 3 (3-bit codes use 4-bit slots, kernels/packing.py), 16-bit LUTs (fp16 / bf16), codes rows of
whole 4-byte words (prmt_ok). The interpreter (CPU tests) takes a gather in place of the asm, same loop
structure; the asm's instruction sequences are checked on the CPU by an emulator (tests/kernels/test_prmt_lut.py).
"""

from __future__ import annotations

import os

import torch
import triton
import triton.language as tl

from kernels.prmt_lut import (
    CONSTRAINTS,
    DEQUANT_CONSTRAINTS,
    HALF2_CONSTRAINTS,
    dequant_program,
    lookup_program,
    table_ptx,
    to_ptx,
)
from kernels.triton_common import (
    NO_SLOT,
    first_slot,
    interpreting,
    jit_any_size,
    next_slot,
    pdl_args,
    pdl_wait,
    split_k_launch,
    store_split_k,
)

LOOKUP_F16 = tl.constexpr(to_ptx(lookup_program("f16")))
LOOKUP_BF16 = tl.constexpr(to_ptx(lookup_program("bf16")))
LOOKUP_CONSTRAINTS = tl.constexpr(CONSTRAINTS)
LOOKUP_HALF2 = tl.constexpr(to_ptx(lookup_program("f16x2")))
LOOKUP_HALF2_CONSTRAINTS = tl.constexpr(HALF2_CONSTRAINTS)
DEQUANT = tl.constexpr(to_ptx(dequant_program()))
TABLE_LO = tl.constexpr(table_ptx("lo"))
TABLE_HI = tl.constexpr(table_ptx("hi"))
DEQUANT_CONSTR = tl.constexpr(DEQUANT_CONSTRAINTS)


@triton.jit
def _byte_table(pa, pb, HIGH: tl.constexpr, ASM: tl.constexpr = False):
    """b32 [BN]: the low (or HIGH) bytes of the 4 16-bit entries in the pairs pa = {e0, e1}, pb = {e2, e3}.
    ASM: one prmt (kernels/prmt_lut.py, table_ptx); else (interpreter) the same bytes by shifts and masks."""
    if ASM:
        return tl.inline_asm_elementwise(TABLE_HI if HIGH else TABLE_LO, "=r,r,r", [pa, pb], dtype=tl.uint32,
                                         is_pure=True, pack=1)  # fmt: skip
    if HIGH:
        return ((pa >> 8) & 0xFF) | ((pa >> 16) & 0xFF00) | ((pb << 8) & 0xFF0000) | (pb & 0xFF000000)
    return (pa & 0xFF) | ((pa >> 8) & 0xFF00) | ((pb & 0xFF) << 16) | ((pb << 8) & 0xFF000000)


@triton.jit
def _row_pairs(pairs_ptr, off, BITS: tl.constexpr):
    """The 2**BITS LUT entries at element offsets off [BN] (even) as 8 b32 pairs [BN] each (3 bits: 4 loaded, the
    upper 4 repeat them: codes < 8 never select the upper tables)."""
    p = pairs_ptr + off // 2
    p0, p1, p2, p3 = tl.load(p), tl.load(p + 1), tl.load(p + 2), tl.load(p + 3)
    if BITS == 4:
        p4, p5, p6, p7 = tl.load(p + 4), tl.load(p + 5), tl.load(p + 6), tl.load(p + 7)
    else:
        p4, p5, p6, p7 = p0, p1, p2, p3
    return p0, p1, p2, p3, p4, p5, p6, p7


@triton.jit
def _pair_tables(pairs, ASM: tl.constexpr = False):
    """lo0-lo3, hi0-hi3 [BN] b32: the byte tables of _row_pairs' 8 pairs."""
    p0, p1, p2, p3, p4, p5, p6, p7 = pairs
    return (_byte_table(p0, p1, False, ASM), _byte_table(p2, p3, False, ASM), _byte_table(p4, p5, False, ASM),
            _byte_table(p6, p7, False, ASM), _byte_table(p0, p1, True, ASM), _byte_table(p2, p3, True, ASM),
            _byte_table(p4, p5, True, ASM), _byte_table(p6, p7, True, ASM))  # fmt: skip


@triton.jit
def _row_tables(pairs_ptr, off, BITS: tl.constexpr, ASM: tl.constexpr = False):
    """lo0-lo3, hi0-hi3 [BN] b32: byte tables of the 2**BITS LUT entries at element offsets off [BN] (even)."""
    return _pair_tables(_row_pairs(pairs_ptr, off, BITS), ASM)


@triton.jit
def _x_at(x_ptr, c0, J: tl.constexpr, lo, hi, shape: tl.constexpr, MASKED: tl.constexpr = True):
    """x at column c0 + J of every word (MASKED: zero outside the group's columns [lo, hi)), fp32, broadcast."""
    col = c0 + J
    if MASKED:
        xj = tl.load(x_ptr + col, mask=(col >= lo) & (col < hi), other=0.0).to(tl.float32)
    else:
        xj = tl.load(x_ptr + col).to(tl.float32)
    return tl.broadcast_to(xj[None, :], shape)


@triton.jit
def _x_words(x_ptr, c0, lo, hi, shape: tl.constexpr, BW: tl.constexpr, MASKED: tl.constexpr):
    """x at the 8 columns of every word, as _x_at gives them one by one, from one [BW, 8] load (16 bytes per
    word) split into 8 [BW] vectors, fp32, broadcast to shape."""
    cols = c0[:, None] + tl.arange(0, 8)[None, :]  # [BW, 8]
    if MASKED:
        xw = tl.load(x_ptr + cols, mask=(cols >= lo) & (cols < hi), other=0.0)
    else:
        xw = tl.load(x_ptr + cols)
    xw = tl.reshape(xw.to(tl.float32), (BW, 2, 2, 2))  # column 4a + 2b + c at [:, a, b, c]
    even, odd = tl.split(xw)  # c = 0 / 1
    e0, e2 = tl.split(even)  # b = 0 / 1: columns 0, 4 / 2, 6
    o1, o3 = tl.split(odd)  # columns 1, 5 / 3, 7
    x0, x4 = tl.split(e0)
    x2, x6 = tl.split(e2)
    x1, x5 = tl.split(o1)
    x3, x7 = tl.split(o3)
    return (tl.broadcast_to(x0[None, :], shape), tl.broadcast_to(x1[None, :], shape),
            tl.broadcast_to(x2[None, :], shape), tl.broadcast_to(x3[None, :], shape),
            tl.broadcast_to(x4[None, :], shape), tl.broadcast_to(x5[None, :], shape),
            tl.broadcast_to(x6[None, :], shape), tl.broadcast_to(x7[None, :], shape))  # fmt: skip


@triton.jit
def _x_columns(x_ptr, c0, lo, hi, shape: tl.constexpr, BW: tl.constexpr, MASKED: tl.constexpr, X_VEC: tl.constexpr):
    """The 8 tensors x at column c0 + j of every word (j < 8), fp32, broadcast to shape: one 16-byte load per
    word split in registers (X_VEC), or one load per column."""
    if X_VEC:
        return _x_words(x_ptr, c0, lo, hi, shape, BW, MASKED)
    return (_x_at(x_ptr, c0, 0, lo, hi, shape, MASKED), _x_at(x_ptr, c0, 1, lo, hi, shape, MASKED),
            _x_at(x_ptr, c0, 2, lo, hi, shape, MASKED), _x_at(x_ptr, c0, 3, lo, hi, shape, MASKED),
            _x_at(x_ptr, c0, 4, lo, hi, shape, MASKED), _x_at(x_ptr, c0, 5, lo, hi, shape, MASKED),
            _x_at(x_ptr, c0, 6, lo, hi, shape, MASKED), _x_at(x_ptr, c0, 7, lo, hi, shape, MASKED))  # fmt: skip


@triton.jit
def _x_pair(x_ptr, c0, P: tl.constexpr, lo, hi, shape: tl.constexpr, MASKED: tl.constexpr):
    """x at columns (c0 + 2P, c0 + 2P + 1) of every word as one fp16 pair (b32, the low half first), broadcast to
    shape; MASKED: zero outside [lo, hi), which are even (the launcher checks the group size)."""
    col = c0 + 2 * P
    pairs_ptr = x_ptr.to(tl.pointer_type(tl.uint32), bitcast=True)
    if MASKED:
        xp = tl.load(pairs_ptr + col // 2, mask=(col >= lo) & (col < hi), other=0)
    else:
        xp = tl.load(pairs_ptr + col // 2)
    return tl.broadcast_to(xp[None, :], shape)


@triton.jit
def _x_word_pairs(x_ptr, c0, lo, hi, MASKED: tl.constexpr):
    """b32 [BW, 4]: x's 4 column pairs of every word (first columns c0 [BW]), one 16-byte load per word; MASKED:
    zero outside [lo, hi)."""
    pairs_ptr = x_ptr.to(tl.pointer_type(tl.uint32), bitcast=True)
    cols = c0[:, None] + 2 * tl.arange(0, 4)[None, :]  # [BW, 4] the first column of each pair
    if MASKED:
        xw = tl.load(pairs_ptr + cols // 2, mask=(cols >= lo) & (cols < hi), other=0)
    else:
        xw = tl.load(pairs_ptr + cols // 2)
    return xw


@triton.jit
def _split_pairs(xw, shape: tl.constexpr, BW: tl.constexpr):
    """_x_word_pairs' [BW, 4] as its 4 pairs, each b32 [BW] broadcast to shape."""
    even, odd = tl.split(tl.reshape(xw, (BW, 2, 2)))  # pair 2a + b at [:, a, b]: b = 0 / 1
    p0, p2 = tl.split(even)
    p1, p3 = tl.split(odd)
    return (tl.broadcast_to(p0[None, :], shape), tl.broadcast_to(p1[None, :], shape),
            tl.broadcast_to(p2[None, :], shape), tl.broadcast_to(p3[None, :], shape))  # fmt: skip


@triton.jit
def _x_pairs(x_ptr, c0, lo, hi, shape: tl.constexpr, MASKED: tl.constexpr, BW: tl.constexpr = 1,
             X_VEC: tl.constexpr = False):  # fmt: skip
    """The 4 pairs of _x_pair (P = 0..3); X_VEC: from one 16-byte load per word ([BW, 4] b32, split in registers)
    instead of 4 loads of 4 bytes."""
    if X_VEC:
        return _split_pairs(_x_word_pairs(x_ptr, c0, lo, hi, MASKED), shape, BW)
    return (_x_pair(x_ptr, c0, 0, lo, hi, shape, MASKED), _x_pair(x_ptr, c0, 1, lo, hi, shape, MASKED),
            _x_pair(x_ptr, c0, 2, lo, hi, shape, MASKED), _x_pair(x_ptr, c0, 3, lo, hi, shape, MASKED))  # fmt: skip


@triton.jit
def _half(pair, HIGH: tl.constexpr):
    """The low (or HIGH) fp16 of b32 pairs."""
    bits = (pair >> 16) if HIGH else (pair & 0xFFFF)
    return bits.to(tl.uint16).to(tl.float16, bitcast=True)


@triton.jit
def _table_tiles(tables, shape: tl.constexpr):
    """The rows' 8 byte tables (b32 [BN] each) broadcast over a block's words: the asm operands' shape."""
    lo0, lo1, lo2, lo3, hi0, hi1, hi2, hi3 = tables
    return (tl.broadcast_to(lo0[:, None], shape), tl.broadcast_to(lo1[:, None], shape),
            tl.broadcast_to(lo2[:, None], shape), tl.broadcast_to(lo3[:, None], shape),
            tl.broadcast_to(hi0[:, None], shape), tl.broadcast_to(hi1[:, None], shape),
            tl.broadcast_to(hi2[:, None], shape), tl.broadcast_to(hi3[:, None], shape))  # fmt: skip


@triton.jit
def _gather_entries(lut_ptr, row_offs, words):
    """The interpreter's lookup: the 8 LUT entries of each word [BN, BW] (column j of every word, the LUT's dtype),
    gathered at row_offs [BN] (each row's element offset of the group)."""
    base = lut_ptr + row_offs[:, None]
    entries = ()
    for j in tl.static_range(8):
        entries = entries + (tl.load(base + ((words >> (4 * j)) & 15).to(tl.int64)),)
    return entries


@triton.jit
def _table_entries(tables, words, DT: tl.constexpr):
    """The interpreter's lookup through the byte tables (what the asm's byte permutes do): the 8 LUT entries of
    each word [BN, BW] (column j of every word, in DT), from lo0-lo3 / hi0-hi3 [BN] (_pair_tables): entry c's low
    byte is byte c % 4 of lo[c // 4], its high byte that of hi[c // 4]."""
    lo0, lo1, lo2, lo3, hi0, hi1, hi2, hi3 = tables
    entries = ()
    for j in tl.static_range(8):
        code = (words >> (4 * j)) & 15
        i = code >> 2
        shift = 8 * (code & 3)
        lo = tl.where(i < 2, tl.where(i == 0, lo0[:, None], lo1[:, None]), tl.where(i == 2, lo2[:, None], lo3[:, None]))
        hi = tl.where(i < 2, tl.where(i == 0, hi0[:, None], hi1[:, None]), tl.where(i == 2, hi2[:, None], hi3[:, None]))
        bits = ((lo >> shift) & 0xFF) | (((hi >> shift) & 0xFF) << 8)
        entries = entries + (bits.to(tl.uint16).to(DT, bitcast=True),)
    return entries


@triton.jit
def _half2_sum(acc, entries, xp):
    """The interpreter's form of the HALF2 asm: acc + each word's 8 fp16 products (entries: 8 fp16 [BN, BW], x's 4
    pairs xp), summed in fp16 per half of the pairs (unfused), each half's sum added in fp32."""
    even = entries[0] * _half(xp[0], False)  # the pairs' low halves: even columns
    odd = entries[1] * _half(xp[0], True)
    for i in tl.static_range(1, 4):
        even += entries[2 * i] * _half(xp[i], False)
        odd += entries[2 * i + 1] * _half(xp[i], True)
    return acc + even.to(tl.float32) + odd.to(tl.float32)


@triton.jit
def _lookup_fma(acc, words, tables, x_ptr, c0, lo, hi, BLOCK_N: tl.constexpr, BW: tl.constexpr,
                LUT_BF16: tl.constexpr, MASKED: tl.constexpr, X_VEC: tl.constexpr = False,
                HALF2: tl.constexpr = False):  # fmt: skip
    """acc [BN, BW] + the 8 weights of each code word times x at their columns (kernels/prmt_lut.py's asm).
    HALF2: products and each word's sum in fp16 (x's column pairs), that sum added in fp32."""
    shape: tl.constexpr = (BLOCK_N, BW)
    t = _table_tiles(tables, shape)
    if HALF2:
        xp = _x_pairs(x_ptr, c0, lo, hi, shape, MASKED, BW, X_VEC)
        return tl.inline_asm_elementwise(
            LOOKUP_HALF2, LOOKUP_HALF2_CONSTRAINTS,
            [acc, words, t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7], xp[0], xp[1], xp[2], xp[3]],
            dtype=tl.float32, is_pure=True, pack=1,
        )  # fmt: skip
    xs = _x_columns(x_ptr, c0, lo, hi, shape, BW, MASKED, X_VEC)
    return tl.inline_asm_elementwise(
        LOOKUP_BF16 if LUT_BF16 else LOOKUP_F16, LOOKUP_CONSTRAINTS,
        [acc, words, t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7],
         xs[0], xs[1], xs[2], xs[3], xs[4], xs[5], xs[6], xs[7]],
        dtype=tl.float32, is_pure=True, pack=1,
    )  # fmt: skip


@triton.jit
def _block_sum(acc, words, tables, x_ptr, kb0, wj, lo, hi, K, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
               LUT_BF16: tl.constexpr, X_VEC: tl.constexpr, HALF2: tl.constexpr, ASM: tl.constexpr):  # fmt: skip
    """acc [BN, BW] + the block at column kb0 (code words [BN, BW] and their group's byte tables) times x, over the
    columns [lo, hi) of the group inside the program's K range."""
    BW: tl.constexpr = BLOCK_K // 8
    c0 = kb0 + wj * 8  # first column of each word
    if ASM:
        if (kb0 >= lo) & (kb0 + BLOCK_K <= hi):  # the whole block in the group and K: no masks
            acc = _lookup_fma(acc, words, tables, x_ptr, c0, 0, K, BLOCK_N, BW, LUT_BF16, False, X_VEC, HALF2)
        else:
            acc = _lookup_fma(acc, words, tables, x_ptr, c0, lo, hi, BLOCK_N, BW, LUT_BF16, True, X_VEC, HALF2)
    else:  # interpreter: the entries looked up in the same byte tables
        entries = _table_entries(tables, words, tl.bfloat16 if LUT_BF16 else tl.float16)
        if HALF2:  # the asm's fp16 products and per-half word sums (unfused)
            acc = _half2_sum(acc, entries, _x_pairs(x_ptr, c0, lo, hi, (BLOCK_N, BW), True, BW, X_VEC))
        else:
            xs = _x_columns(x_ptr, c0, lo, hi, (BLOCK_N, BW), BW, True, X_VEC)
            for j in tl.static_range(8):
                acc += entries[j].to(tl.float32) * xs[j]
    return acc


@triton.jit
def _load_words(row_words, kb0, wj, KW):
    """uint32 [BN, BW]: the packed code words of the block at column kb0 (zeros past the row; a prefetch past
    the program's K range reads words it never uses)."""
    wcol = kb0 // 8 + wj
    return tl.load(row_words + wcol[None, :], mask=(wcol < KW)[None, :], other=0)


@triton.jit
def _next_block(nxt1, nxt2, nxt3, row_words, kb0, wj, KW, BLOCK_K: tl.constexpr, PREFETCH: tl.constexpr):
    """(words [BN, BW] of the block at column kb0, nxt1, nxt2, nxt3): with PREFETCH = D > 0 the words were loaded D
    blocks ahead and come from nxt1, the carried blocks move on by one and the block D ahead of kb0 is asked for;
    with none they are loaded here."""
    if PREFETCH == 0:
        words = _load_words(row_words, kb0, wj, KW)
    else:
        words = nxt1
        if PREFETCH == 1:
            nxt1 = _load_words(row_words, kb0 + BLOCK_K, wj, KW)
        elif PREFETCH == 2:
            nxt1 = nxt2
            nxt2 = _load_words(row_words, kb0 + 2 * BLOCK_K, wj, KW)
        else:
            nxt1 = nxt2
            nxt2 = nxt3
            nxt3 = _load_words(row_words, kb0 + 3 * BLOCK_K, wj, KW)
    return words, nxt1, nxt2, nxt3


@triton.jit
def _row_block(codes_ptr, N, K, stride_cw, K_PER_SPLIT, BLOCK_N: tl.constexpr, BW: tl.constexpr):
    """A program's rows and K range (grid: row blocks x K splits): rows [BN], rows_c [BN] (rows past N read row
    N - 1; never stored), wj [BW] (word index in a block), row_words [BN, 1] (each row's packed code words, b32),
    k_start (a multiple of the block), k_end."""
    rows = tl.program_id(0) * BLOCK_N + tl.arange(0, BLOCK_N)
    rows_c = tl.minimum(rows, N - 1)
    words_ptr = codes_ptr.to(tl.pointer_type(tl.uint32), bitcast=True)
    k_start = tl.program_id(1) * K_PER_SPLIT
    return (rows, rows_c, tl.arange(0, BW), words_ptr + rows_c[:, None] * stride_cw, k_start,
            tl.minimum(k_start + K_PER_SPLIT, K))  # fmt: skip


@jit_any_size(unaligned=("slot_ptr",))
def _decode_prmt_kernel(
    x_ptr, codes_ptr, lut_ptr, slot_ptr, y_ptr, ws_ptr, counter_ptr,
    N, K, KW, GS, stride_cw, stride_ls, stride_ln, K_PER_SPLIT, SPLIT_K,
    BITS: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, USE_SPLIT: tl.constexpr,
    ASM: tl.constexpr, LUT_BF16: tl.constexpr, PREFETCH: tl.constexpr, X_VEC: tl.constexpr = False,
    GROUP_ALIGNED: tl.constexpr = False, HALF2: tl.constexpr = False, PDL: tl.constexpr = False,
):  # fmt: skip
    L: tl.constexpr = 1 << BITS
    BW: tl.constexpr = BLOCK_K // 8  # code words per row and block
    pid_n = tl.program_id(0)
    pid_k = tl.program_id(1)
    # k_start: a multiple of BLOCK_K (GROUP_ALIGNED: of the group size, a multiple of 32)
    rows, rows_c, wj, row_words, k_start, k_end = _row_block(codes_ptr, N, K, stride_cw, K_PER_SPLIT, BLOCK_N, BW)
    # PREFETCH = D > 0: the first D codes blocks, issued before the slot -> LUT tables chain (they depend on
    # neither); then each block D ahead of the one looked up (nxt1 is the next block, nxt2 the one after, ...).
    nxt1 = _load_words(row_words, k_start, wj, KW) if PREFETCH >= 1 else tl.zeros((BLOCK_N, BW), dtype=tl.uint32)
    nxt2 = _load_words(row_words, k_start + BLOCK_K, wj, KW) if PREFETCH >= 2 else nxt1
    nxt3 = _load_words(row_words, k_start + 2 * BLOCK_K, wj, KW) if PREFETCH >= 3 else nxt2
    slot = tl.load(slot_ptr).to(tl.int64)
    lut_rows = slot * stride_ls + rows_c.to(tl.int64) * stride_ln  # [BN] element offsets of each row's LUT
    pairs_ptr = lut_ptr.to(tl.pointer_type(tl.uint32), bitcast=True)  # entries 2i, 2i+1 as one b32
    g_first = k_start // GS
    if PDL:  # the first group's tables before the wait: the codes, the slot and the LUT are no kernel's output
        tables_first = _row_tables(pairs_ptr, lut_rows + g_first * L, BITS, ASM)
        pdl_wait(PDL)

    acc = tl.zeros((BLOCK_N, BW), dtype=tl.float32)
    for g in range(g_first, (k_end - 1) // GS + 1):
        lo = tl.maximum(g * GS, k_start)  # this group's columns inside the K range: [lo, hi)
        hi = tl.minimum(g * GS + GS, k_end)
        if PDL:
            if g == g_first:
                tables = tables_first
            else:
                tables = _row_tables(pairs_ptr, lut_rows + g * L, BITS, ASM)
        else:
            tables = _row_tables(pairs_ptr, lut_rows + g * L, BITS, ASM)  # once per group
        if GROUP_ALIGNED:  # blocks from the group's first column: none straddles a group boundary
            first = tl.multiple_of(lo, 32)  # 4 whole code words: 16-byte loads (the launcher checks the group size)
        else:
            first = (lo // BLOCK_K) * BLOCK_K
        for kb0 in range(first, hi, BLOCK_K):  # (PREFETCH: blocks come in order, each once)
            words, nxt1, nxt2, nxt3 = _next_block(nxt1, nxt2, nxt3, row_words, kb0, wj, KW, BLOCK_K, PREFETCH)
            acc = _block_sum(acc, words, tables, x_ptr, kb0, wj, lo, hi, K, BLOCK_N, BLOCK_K, LUT_BF16, X_VEC, HALF2,
                             ASM)  # fmt: skip

    total = tl.sum(acc, axis=1)[None, :]  # [1, BN]
    offs = rows[None, :]
    out_mask = (rows < N)[None, :]
    store_split_k(total, offs, offs, out_mask, y_ptr, ws_ptr, counter_ptr, pid_n, pid_k, 1, N, SPLIT_K, USE_SPLIT)


@triton.jit
def _join8(e0, e1, e2, e3, e4, e5, e6, e7, BLOCK_N: tl.constexpr, BW: tl.constexpr):
    """8 [BN, BW] tensors (column j of every word) -> [BN, BW * 8], columns in order."""
    # join appends a trailing dim, so the first join's dim ends up most significant: [BN, BW, a, b, c] holds
    # column 4a + 2b + c when the inner joins pair columns 4 apart, the middle ones 2 apart, the outer 1 apart.
    even = tl.join(tl.join(e0, e4), tl.join(e2, e6))
    odd = tl.join(tl.join(e1, e5), tl.join(e3, e7))
    return tl.reshape(tl.join(even, odd), (BLOCK_N, BW * 8))


@triton.jit
def _dequant_words(words, tables, lut_ptr, row_offs, BLOCK_N: tl.constexpr, BW: tl.constexpr, ASM: tl.constexpr):
    """W [BN, BW * 8] in the LUT's dtype: the entries of the packed codes `words` [BN, BW] (8 per word).

    ASM: byte permutes on the row tables (kernels/prmt_lut.py, dequant_program); else (interpreter) a gather of
    lut_ptr[row_offs[n] + code] with row_offs [BN] the element offset of each row's LUT of this group."""
    if ASM:
        dt = lut_ptr.dtype.element_ty
        t = _table_tiles(tables, (BLOCK_N, BW))
        entries = tl.inline_asm_elementwise(DEQUANT, DEQUANT_CONSTR,
                                            [words, t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7]],
                                            dtype=(dt, dt, dt, dt, dt, dt, dt, dt), is_pure=True, pack=1)  # fmt: skip
    else:
        entries = _gather_entries(lut_ptr, row_offs, words)
    e0, e1, e2, e3, e4, e5, e6, e7 = entries
    return _join8(e0, e1, e2, e3, e4, e5, e6, e7, BLOCK_N, BW)


@jit_any_size(sizes=("M",), unaligned=("slot_ptr",))
def _decode_prmt_dot_kernel(
    x_ptr, codes_ptr, lut_ptr, slot_ptr, y_ptr, ws_ptr, counter_ptr,
    M, N, K, KW, GS, stride_xm, stride_cw, stride_ls, stride_ln, stride_ym, K_PER_SPLIT, SPLIT_K,
    BITS: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
    USE_SPLIT: tl.constexpr, ASM: tl.constexpr, DOT_PRECISION: tl.constexpr, PDL: tl.constexpr = False,
):  # fmt: skip
    """Up to 64 tokens: per distinct slot, per group, the rows' byte tables once, then for each K block of the
    group the codes tile dequantized by byte permutes and acc [BN, BM] += W_s @ x_s.T on tensor cores (as
    triton_decode.py's MODE_DOT_SWAP with SLOT_OUTER). BLOCK_K divides the group size: a block lies in one group."""
    L: tl.constexpr = 1 << BITS
    BW: tl.constexpr = BLOCK_K // 8
    pid_n = tl.program_id(0)
    pid_k = tl.program_id(1)
    rows = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    rows_c = tl.minimum(rows, N - 1)  # rows past N read row N-1; never stored
    m_offs = tl.arange(0, BLOCK_M)
    m_mask = m_offs < M
    slots = tl.load(slot_ptr + m_offs, mask=m_mask, other=NO_SLOT).to(tl.int32)  # [BM]
    wj = tl.arange(0, BW)
    pairs_ptr = lut_ptr.to(tl.pointer_type(tl.uint32), bitcast=True)
    words_ptr = codes_ptr.to(tl.pointer_type(tl.uint32), bitcast=True)
    row_offs = rows_c.to(tl.int64) * stride_ln  # [BN] each row's LUT inside a slot

    k_start = pid_k * K_PER_SPLIT  # a multiple of BLOCK_K, itself dividing the group size
    k_end = tl.minimum(k_start + K_PER_SPLIT, K)
    acc = tl.zeros((BLOCK_N, BLOCK_M), dtype=tl.float32)
    pdl_wait(PDL)  # (the slots before it: no kernel's output)
    cur = first_slot(slots)
    while cur < NO_SLOT:  # slots outside: a second slot re-reads the codes tiles from L2
        sel = m_mask & (slots == cur)
        for g in range(k_start // GS, (k_end - 1) // GS + 1):
            offs = cur.to(tl.int64) * stride_ls + row_offs + g * L  # [BN] this slot's LUT of each row, group g
            tables = _row_tables(pairs_ptr, offs, BITS, ASM)  # once per group: 8 loads and 8 prmt per row
            for kb0 in range(tl.maximum(g * GS, k_start), tl.minimum(g * GS + GS, k_end), BLOCK_K):
                wcol = kb0 // 8 + wj
                words = tl.load(words_ptr + rows_c[:, None] * stride_cw + wcol[None, :], mask=(wcol < KW)[None, :],
                                other=0)  # fmt: skip
                cols = kb0 + tl.arange(0, BLOCK_K)
                xs = tl.load(x_ptr + m_offs[:, None] * stride_xm + cols[None, :],
                             mask=sel[:, None] & (cols < K)[None, :], other=0.0)  # fmt: skip
                w = _dequant_words(words, tables, lut_ptr, offs, BLOCK_N, BW, ASM)
                acc = tl.dot(w.to(xs.dtype), tl.trans(xs), acc, input_precision=DOT_PRECISION)
        cur = next_slot(slots, cur)

    offs = m_offs[None, :] * N + rows[:, None]  # [BN, BM], acc's orientation
    y_offs = m_offs[None, :] * stride_ym + rows[:, None]
    out_mask = m_mask[None, :] & (rows < N)[:, None]
    store_split_k(acc, offs, y_offs, out_mask, y_ptr, ws_ptr, counter_ptr, pid_n, pid_k, M, N, SPLIT_K, USE_SPLIT)


def prmt_ok(codes_packed: torch.Tensor, lut_pool: torch.Tensor, bits: int) -> bool:
    """Whether the register-LUT kernels take this call: 4- or 3-bit codes in rows of whole 4-byte words, a
    16-bit LUT pool (the token count is the launchers' concern)."""
    return (
        bits in (3, 4)
        and lut_pool.dtype in (torch.float16, torch.bfloat16)
        and codes_packed.shape[1] % 4 == 0
        and codes_packed.data_ptr() % 4 == 0
        and lut_pool.data_ptr() % 4 == 0
    )


# SKETCHSERVE_FP16_PRODUCTS=0: the one-token kernel keeps fp32 products everywhere (HALF2 neither offered to the
# autotuner nor launched, whatever a cached choice says): decode tokens then round as the multi-token kernels do.
FP16_PRODUCTS = os.environ.get("SKETCHSERVE_FP16_PRODUCTS", "1") != "0"


def half2_ok(x: torch.Tensor, lut_pool: torch.Tensor) -> bool:
    """Whether the one-token kernel may take HALF2: fp16 products allowed (FP16_PRODUCTS), fp16 x and LUT, groups
    of an even column count (so that no x pair straddles a group) and x's row 4-byte aligned (its pairs are loaded
    as b32)."""
    k = x.shape[1]
    gs = triton.cdiv(k, lut_pool.shape[2])
    return (
        FP16_PRODUCTS
        and x.dtype == torch.float16
        and lut_pool.dtype == torch.float16
        and gs % 2 == 0
        and k % 2 == 0
        and x.stride(-1) == 1
        and x.data_ptr() % 4 == 0
    )


def launch_decode_prmt(
    x: torch.Tensor,
    codes_packed: torch.Tensor,
    lut_pool: torch.Tensor,
    slot_of_token: torch.Tensor,
    bits: int,
    y: torch.Tensor,
    config: dict,
) -> None:
    """y [1, N] <- the register-LUT kernel. config: BLOCK_N, BLOCK_K (a multiple of 8), SPLIT_K, num_warps,
    num_stages, PREFETCH (0-3: each codes block loaded that many blocks ahead in registers, the first ones before
    the slot and LUT loads; BLOCK_K must divide the group size, or GROUP_SPLIT), X_VEC (0/1: x as one 16-byte load per
    code word, split in registers, instead of 8 two-byte loads), GROUP_SPLIT (0/1: split K at the LUT groups, one
    group per program, blocks from each group's first column; the group size must be a multiple of 32, for 16-byte
    codes loads; SPLIT_K is then the group count), HALF2 (0/1: products and each word's sum in fp16 where
    half2_ok allows, the fp32 form elsewhere). (A persistent form, each program carrying the next row
    tile's codes and LUT pairs across its tiles, lost on the H200 in the thirty-first session and was removed;
    X_PREFETCH, x's pairs a block ahead, was measured three times without
    a win and removed in the twenty-fifth session; TABLES_AHEAD, each LUT group's entries loaded a group ahead where a
    program spans several groups, timed alike at gpr 4 on the H100 (8.7 against 8.6 us at 4096x4096, 18.8 against
    18.8 at 11008x4096) and was removed in the sixtieth; LATE, codes blocks 2 .. PREFETCH asked for once the first
    tables were built, put the first block 0.8 us later and the kernel at 7.8 against 7.4 us at 4096x4096 on the H100,
    and was removed in the sixty-second: benchmarks/NOTES.md.)"""
    if x.shape[0] != 1 or not prmt_ok(codes_packed, lut_pool, bits):
        raise ValueError("the register-LUT decode kernel takes one token, 3/4-bit codes in whole 4-byte words and "
                         "a 16-bit LUT")  # fmt: skip
    k = x.shape[1]
    n = codes_packed.shape[0]
    gs = triton.cdiv(k, lut_pool.shape[2])
    block_n, block_k = config["BLOCK_N"], config["BLOCK_K"]
    if block_k % 8:
        raise ValueError(f"BLOCK_K must be a multiple of 8, got {block_k}")
    prefetch = int(config.get("PREFETCH", 0))
    if prefetch not in (0, 1, 2, 3):
        raise ValueError(f"PREFETCH is a depth of 0 to 3 codes blocks, got {prefetch}")
    group_split = bool(config.get("GROUP_SPLIT", 0))
    if group_split and gs % 32:
        raise ValueError(f"GROUP_SPLIT needs a group size that is a multiple of 32 (4 whole code words), got {gs}")
    if prefetch and gs % block_k and not group_split:
        raise ValueError(f"PREFETCH needs BLOCK_K={block_k} to divide the group size {gs} (blocks visited once)")
    half2 = bool(config.get("HALF2", 0)) and half2_ok(x, lut_pool)  # else the fp32 form (as FAST in triton_decode)
    x_vec = bool(config.get("X_VEC", 0))
    split, k_per_split, n_tiles, ws, counters = split_k_launch(
        x, y, n, block_n, block_k, config.get("SPLIT_K", 1), k_per_split=gs if group_split else None
    )
    _decode_prmt_kernel[(n_tiles, split)](
        x, codes_packed, lut_pool, slot_of_token, y, ws, counters,
        n, k, codes_packed.shape[1] // 4, gs, codes_packed.stride(0) // 4, lut_pool.stride(0), lut_pool.stride(1),
        k_per_split, split,
        BITS=bits, BLOCK_N=block_n, BLOCK_K=block_k, USE_SPLIT=split > 1, ASM=not interpreting(),
        LUT_BF16=lut_pool.dtype == torch.bfloat16, PREFETCH=prefetch, X_VEC=x_vec,
        GROUP_ALIGNED=group_split, HALF2=half2, num_warps=config.get("num_warps", 4),
        num_stages=config.get("num_stages", 1),
        **one_stage_pdl_args(x.device, config),
    )  # fmt: skip


def one_stage_pdl_args(device: torch.device, config: dict) -> dict:
    """This module's kernels' PDL launch arguments: pdl_args for a config of one stage, none for a pipelined one
    (num_stages > 1), whose early start behind a kernel that releases it slows it down.

    The tensor-core kernel, H200, serving gpr 1 (benchmarks/NOTES.md, twenty-sixth session): launched with PDL, the
    pipelined configs (4 stages: every shape at 64 rows, most at 32, 4096-row ones at 16) made 32 x 4 steps 16.1 ms
    against 14.7 without it and 64 x 4 21.6 against 19.5, while the one-stage configs gain with it (16 x 1 4.44-4.48
    ms against 4.51-4.52). After the fused RMSNorm alone (benchmarks/linear_as_served.py), 16 tokens on 4096x11008
    (4 stages) took 33.0 us with PDL against 26.4 without, 12288x4096 (one stage) 27.9 against 29.0; alone it
    timed the same either way.
    The one-token kernel, H100 (seventy-fifth session, results/linear_as_served_h100_seventyfifth.*), after the
    norm: its three 2-stage choices took 19.8 / 19.9 / 21.5 us with PDL against 16.8 / 17.5 / 18.2 without
    (4096x11008 gpr 1, 11008x4096 gpr 4, 4096x11008 gpr 4), its one-stage ones gained (4096x4096 gpr 1 5.6 against
    7.0, 12288x4096 16.6 against 17.5, 22016x4096 28.3 against 29.0). On the H200 (twenty-sixth session, the choices
    of that time) 4096x11008 and 11008x4096 at gpr 4 lost with PDL too."""
    return pdl_args(device) if config.get("num_stages", 1) == 1 else {}


def launch_decode_prmt_dot(
    x: torch.Tensor,
    codes_packed: torch.Tensor,
    lut_pool: torch.Tensor,
    slot_of_token: torch.Tensor,
    bits: int,
    y: torch.Tensor,
    config: dict,
) -> None:
    """y [M, N] <- the register-LUT tensor-core kernel (M <= 64). config: BLOCK_N, BLOCK_K (dividing the group
    size, a multiple of 16), SPLIT_K, num_warps, num_stages."""
    m, k = x.shape
    n = codes_packed.shape[0]
    gs = triton.cdiv(k, lut_pool.shape[2])
    block_n, block_k = config["BLOCK_N"], config["BLOCK_K"]
    if not prmt_ok(codes_packed, lut_pool, bits) or m > 64:
        raise ValueError("the register-LUT decode kernel takes up to 64 tokens, 3/4-bit codes in whole 4-byte "
                         "words and a 16-bit LUT")  # fmt: skip
    if block_k % 16 or gs % block_k:
        raise ValueError(f"BLOCK_K={block_k} must be a multiple of 16 dividing the group size {gs}")
    split, k_per_split, n_tiles, ws, counters = split_k_launch(x, y, n, block_n, block_k, config.get("SPLIT_K", 1))
    _decode_prmt_dot_kernel[(n_tiles, split)](
        x, codes_packed, lut_pool, slot_of_token, y, ws, counters,
        m, n, k, codes_packed.shape[1] // 4, gs, x.stride(0), codes_packed.stride(0) // 4, lut_pool.stride(0),
        lut_pool.stride(1), y.stride(0), k_per_split, split,
        BITS=bits, BLOCK_M=max(16, triton.next_power_of_2(m)), BLOCK_N=block_n, BLOCK_K=block_k,
        USE_SPLIT=split > 1, ASM=not interpreting(), DOT_PRECISION="ieee" if x.dtype == torch.float32 else "tf32",
        num_warps=config.get("num_warps", 4), num_stages=config.get("num_stages", 1),
        **one_stage_pdl_args(x.device, config),
    )  # fmt: skip


# (BLOCK_N, BLOCK_K, warps, stages, split-K waves; 0 = no split[, PREFETCH, X_VEC]), from H200 grids timed in CUDA
# graphs (benchmarks/decode_grid.py) and the autotuner's picks in the H200 serving run (NOTES.md "Autotuning cost").
# One token (results/decode_m1_grid.json, 2026-11-30 fifth session, gpr 4): 10.7 us at 4096x4096 (split-K 4),
# 22.8 at 11008x4096 (no split), 22.4 at 4096x11008 (split-K 4); every serving pick was one of these three.
# X_VEC then (fp32 products, 8 two-byte loads a word against one 16-byte: 11.1 / 26.2 / 22.0 us) and GROUP_SPLIT
# (11.0 / 23.6 / 22.3) were no faster (GROUP_SPLIT's flag stays for decode_grid.py; X_VEC under HALF2 below). The
# fused projections' shapes (results/decode_m1_fused_grid.json, 2026-11-30 ninth session, gpr 4) preferred 64 x 256
# blocks where K or N is large: 38.7 us against 40.7 at 22016x4096,
# 21.5 against 22.8 at 4096x11008 (12288x4096: 23.0 with the first config). Several tokens
# (results/decode_m16_grid.json): every serving pick from 4 to 64 tokens had 64 x 64 blocks and 4 warps, in 4 stages
# or 1 (split-K from the waves).
# Register prefetch (field 6, PREFETCH; results/decode_m1_fused_grid_prefetch_h200.json, fifteenth session,
# gpr 1, HALF2): one block ahead took 12288x4096 from 17.8 to 16.0 us and 22016x4096 from 31.0 to 28.1 with no
# split-K; at 4096x4096, 16 rows x 1,024 columns without split-K came first (9.1 us); deeper prefetch was no faster.
# One-token configs with the same blocks and warps but other stages compile to the same loop (Triton pipelines no
# load that feeds no dot), so only one of each is timed.
# X_VEC under HALF2 (the last field; results/decode_m1_fused_grid_xvec_h200.*, sixteenth session, gpr 1, prefetch 0 and
# 1): x's 4 pairs of a word from one 16-byte load took every fused shape's best down 2-7 % (4096x4096 8.1 -> 7.5 us,
# 12288x4096 17.1 -> 16.6, 22016x4096 27.6 -> 26.8, 4096x11008 16.9 -> 16.3), with 8- or 16-row blocks of 1,024
# columns first where K is 4,096; so the prefetch configs are offered with it only, beside the three without prefetch
# (any group size).
# (BLOCK_N, BLOCK_K, warps, stages, split-K waves, PREFETCH, X_VEC)
PRMT_CANDIDATES = [(32, 512, 4, 2, 4, 0, 0), (32, 512, 4, 1, 0, 0, 0), (64, 256, 4, 2, 4, 0, 0),
                   (8, 1024, 4, 1, 0, 1, 1), (16, 1024, 4, 1, 0, 1, 1), (8, 512, 4, 1, 0, 1, 1),
                   (64, 256, 8, 1, 2, 1, 1), (32, 256, 4, 1, 4, 1, 1)]  # fmt: skip
PRMT_DOT_CANDIDATES = [(64, 64, 4, 4, 2), (64, 64, 4, 1, 4), (32, 128, 4, 3, 4)]
