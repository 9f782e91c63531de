"""Bucket-sum decode, codes as the MMA's B operand: the one-hot is built in registers, never in shared memory.

Same sums as triton_bucket.py (v6/v7):

    S[m, n, g, c] = sum of x[m, k] over the columns k of group g with code[n, k] == c
    y[m, n]       = sum_g sum_c LUT[slot(m), n, g, c] * S[m, n, g, c]

but laid out the other way round. There the one-hot has one row per (weight row, code value) and is the A
operand; building it needs the row's code value from an arange, which keeps Triton from computing it in the
MMA operand's register layout, so every one-hot element goes through shared memory (the v7 bound). Here:

    for each K block:   bytes [BB, BN] = codes of rows n0 .. n0+BN            read once, no replication
        for each sub-column i of a byte (2 codes per byte at 3/4 bits, 4 at 2 bits):
            code [BB, BN] = (bytes >> i * WIDTH) & mask
            xs   [BM, BB] = x[:, kb0 + j * per_byte + i]                       masked to group g and K
            for c in 0 .. L-1 (unrolled):
                acc[c] [BM, BN] += xs @ (code == c)                            tensor cores (mma.sync)
    at the end of group g:  y_acc [BM, BN] += sum_c acc[c] * LUT[slot(m), n, g, c]

With c a compile-time constant, every step from the loaded bytes to the one-hot is elementwise with
constants (a unary inline asm on GPU, integer ops elsewhere), so Triton's dot-operand pass computes the
one-hot directly in the mma.sync B-fragment layout (benchmarks/NOTES.md v8: no shared-memory traffic for it).
The codes tile is turned into 16-bit floats once (1024 + code in fp16, 128 + code in bf16: code_as_float),
then each code value costs one set.eq.{f16x2,bf16x2} per two one-hot elements (v10; v8's byte-wise asm took
5 instructions per 4 plus 2 constant moves): compiled for sm_90, 1.2-1.4 instructions per one-hot element in
the loop (v8: 2.1-2.6). The price of the layout: L accumulators of [BM, BN] fp32 (L = 16 at 4 bits), so
BLOCK_N * BLOCK_M stays small, and only up to 16 tokens: at BLOCK_M >= 32 Triton takes wgmma (operand from
shared memory) or spills.

PAIRS (v11, 3/4-bit codes): the MMA's K runs over the block's columns instead of its bytes once per sub-column.
A byte's two codes are then the two halves of one B-fragment register, and x's A operand is a contiguous
[BM, BLOCK_K] tile (async 8/16-byte copies) instead of stride-2 columns loaded 2 bytes at a time and repacked
(the bucket kernel's top stall in the H200 profile, NOTES.md). The codes tile is interleaved once per block
(join + permute + reshape: one trip through shared memory for the codes, not per code value).

SWAP (v12, the one-hot as the A operand so that 64-row blocks take wgmma) ran 53.6 us against v11's 37.8 on
4096x4096 at 16 tokens over 16 tasks (H200, NOTES.md v12) and was removed.

QUADS (v13, 3/4-bit codes in rows of whole 16-bit words): the MMA's K runs over the block's 16-bit code words,
once per code within a word, with x split in registers into its four column phases (_quads). The 8-bit codes of
the orders above make Triton give both MMA operands kWidth 4, and ptxas then copies x's A fragments into aligned
registers before nearly every HMMA; 16-bit words give kWidth 2 and no interleaving pass (sm_90: 1.05-1.20 loop
instructions per one-hot element against PAIRS' 1.27-1.38; not yet timed).

FOLD_TILE (twenty-third session): the fold reads each (token, row)'s LUT entries FOLD_TILE at a time (one 16-byte
load at 8) and splits them per code value in registers, instead of one 2-byte gather per code value: on the H200 at
16 tokens over 16 tasks 1.08-1.53x at gpr 4 (each K split's own group comes from DRAM: whole sectors now, not
sixteenths) and 0.98-1.03x at gpr 1 (NOTES.md). The launcher's default is 8 (triton_bucket.FOLD_TILE_DEFAULT).

It enters as autotuner candidates (LAYOUT "cols", M <= 16) next to the rows kernel (triton_bucket.py); it
takes the same arguments (and PAIRS, QUADS), and triton_bucket.launch_bucket launches either.
"""

from __future__ import annotations

import triton
import triton.language as tl

from kernels.triton_common import jit_any_size, pdl_wait, store_split_k

# A code value c (< 16) as a 16-bit float, exact and distinct per code: 1024 + c in fp16 (bits 0x6400 | c), 128 + c
# in bf16 (0x4300 | c). set.eq.{f16x2,bf16x2} compares two such codes with c at once and writes 1.0 or 0.0 into
# each half, so a one-hot pair costs one instruction (v8's byte form: 5 per 4 elements plus 2 constant moves).
CODE_BITS = {"f16": 0x6400, "bf16": 0x4300}


def one_hot_pair_ptx(dtype: str, c: int) -> str:
    """PTX: $0 = two one-hot values (1.0 where a half of $1, a code pair in CODE_BITS form, equals c) in dtype."""
    pair = (CODE_BITS[dtype] | c) * 0x00010001
    return f"{{ .reg .b32 k; mov.b32 k, {pair:#x}; set.eq.{dtype}x2.{dtype}x2 $0, $1, k; }}"


ONE_HOT_F16 = tl.constexpr(tuple(one_hot_pair_ptx("f16", c) for c in range(16)))
ONE_HOT_BF16 = tl.constexpr(tuple(one_hot_pair_ptx("bf16", c) for c in range(16)))


@triton.jit
def code_as_float(code, dtype: tl.constexpr):
    """[BB, BN] uint8 codes (< 16) -> their CODE_BITS form in dtype (fp16 / bf16): once per codes tile, not per c."""
    if dtype == tl.bfloat16:
        code_f = (code.to(tl.uint16) | 0x4300).to(tl.bfloat16, bitcast=True)
    else:
        code_f = (code.to(tl.uint16) | 0x6400).to(tl.float16, bitcast=True)
    return code_f


@triton.jit
def one_hot_of(code, code_f, C: tl.constexpr, dtype: tl.constexpr, ASM: tl.constexpr):
    """[BB, BN] in dtype: 1 where code (uint8, < 16) == C, else 0. Only elementwise ops with constants, so the
    one-hot is computed in the MMA operand's registers. ASM: from code_f (code_as_float), two per instruction."""
    if ASM:
        if dtype == tl.bfloat16:
            oh = tl.inline_asm_elementwise(ONE_HOT_BF16[C], "=r,r", [code_f], dtype=tl.bfloat16, is_pure=True,
                                           pack=2)  # fmt: skip
        else:
            oh = tl.inline_asm_elementwise(ONE_HOT_F16[C], "=r,r", [code_f], dtype=tl.float16, is_pure=True,
                                           pack=2)  # fmt: skip
    else:  # integer form (interpreter, fp32 x): 1 - min(code ^ C, 1); through fp32 (the CPU interpreter's bf16)
        oh = (1 - tl.minimum(code ^ C, 1)).to(tl.float32).to(dtype)
    return oh


@triton.jit
def _x_tile(x_ptr, m_offs, m_mask, stride_xm, cols, lo, hi):
    """x [BM, len(cols)] at columns cols, zero outside the group's columns [lo, hi) (within K) and past M."""
    return tl.load(x_ptr + m_offs[:, None] * stride_xm + cols[None, :],
                   mask=m_mask[:, None] & ((cols >= lo) & (cols < hi))[None, :], other=0.0)  # fmt: skip


@triton.jit
def _accumulate_one_hots(acc, xs, code, L: tl.constexpr, x_dtype: tl.constexpr, DOT_PRECISION: tl.constexpr,
                         ASM: tl.constexpr):  # fmt: skip
    """acc[c] [BM, BN] + xs [BM, KK] @ (code == c) [KK, BN] for each code value c (a tuple of L accumulators)."""
    if ASM:
        code_f = code_as_float(code, x_dtype)  # once for all L code values
    else:
        code_f = code
    new = ()
    for c in tl.static_range(L):
        oh = one_hot_of(code, code_f, c, x_dtype, ASM)
        new = new + (tl.dot(xs, oh, acc[c], input_precision=DOT_PRECISION),)
    return new


# Specialized on M (unlike the other decode kernels): its M is a decode graph's batch size, so the start-up tuning
# compiles every variant; at M = 64 the unspecialized kernel took 7-8 % longer (NOTES.md, thirteenth). Not on the
# slots' alignment: a step's pieces pass views of its slot array at any offset (NOTES.md, fourteenth).
@jit_any_size(unaligned=("slot_ptr",))
def _bucket_cols_kernel(
    x_ptr, codes_ptr, lut_ptr, slot_ptr, y_ptr, ws_ptr, counter_ptr,
    M, N, K, KP, GS,
    stride_xm, stride_cn, stride_ls, stride_ln, stride_ym,
    K_PER_SPLIT, SPLIT_K,
    BITS: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
    USE_SPLIT: tl.constexpr, DOT_PRECISION: tl.constexpr, ASM: tl.constexpr, PAIRS: tl.constexpr = False,
    QUADS: tl.constexpr = False, FOLD_TILE: tl.constexpr = 0, PDL: tl.constexpr = False,
):  # fmt: skip
    pid_n = tl.program_id(0)
    pid_k = tl.program_id(1)
    rows = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)  # [BN]
    rows_c = tl.minimum(rows, N - 1)  # rows past N read row N-1; never stored
    m_offs = tl.arange(0, BLOCK_M)
    m_mask = m_offs < M
    # Slot of each token (padding tokens read slot 0 under a mask: their LUT loads are masked off).
    slots = tl.load(slot_ptr + m_offs, mask=m_mask, other=0).to(tl.int64)  # [BM]
    pdl_wait(PDL)  # (the slots before it: no kernel's output)
    k_start = pid_k * K_PER_SPLIT  # a multiple of BLOCK_K
    k_end = tl.minimum(k_start + K_PER_SPLIT, K)
    # y [BM, BN]
    y_acc = _k_range(x_ptr, codes_ptr, lut_ptr, rows_c, m_offs, m_mask, slots, k_start, k_end, KP, GS,
                     stride_xm, stride_cn, stride_ls, stride_ln, BITS, BLOCK_M, BLOCK_N, BLOCK_K,
                     DOT_PRECISION, ASM, PAIRS, QUADS, FOLD_TILE)  # fmt: skip
    offs = m_offs[:, None] * N + rows[None, :]
    y_offs = m_offs[:, None] * stride_ym + rows[None, :]
    out_mask = m_mask[:, None] & (rows < N)[None, :]
    store_split_k(y_acc, offs, y_offs, out_mask, y_ptr, ws_ptr, counter_ptr, pid_n, pid_k, M, N, SPLIT_K, USE_SPLIT)


@triton.jit
def _k_range(x_ptr, codes_ptr, lut_ptr, rows_c, m_offs, m_mask, slots, k_start, k_end, KP, GS,
             stride_xm, stride_cn, stride_ls, stride_ln, BITS: tl.constexpr, BLOCK_M: tl.constexpr,
             BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, DOT_PRECISION: tl.constexpr, ASM: tl.constexpr,
             PAIRS: tl.constexpr, QUADS: tl.constexpr, FOLD_TILE: tl.constexpr):  # fmt: skip
    """y [BM, BN] over columns [k_start, k_end), the codes as the MMA's B operand: its K over the block's bytes
    once per code within a byte, or (PAIRS) over its columns, or (QUADS) over its 16-bit words once per code
    within a word. FOLD_TILE (2, 4, 8 or 16): the fold reads the LUTs in [BM, BN, FOLD_TILE] tiles (_fold_tile)."""
    L: tl.constexpr = 1 << BITS
    PER_BYTE: tl.constexpr = 4 if BITS == 2 else 2  # codes per byte (3-bit codes in 4-bit slots: kernels/packing.py)
    WIDTH: tl.constexpr = 8 // PER_BYTE  # bits per code slot
    BB: tl.constexpr = BLOCK_K // PER_BYTE  # packed bytes per row and K block (the MMA's K per dot)
    j = tl.arange(0, BB)
    x_dtype: tl.constexpr = x_ptr.dtype.element_ty
    y_acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for g in range(k_start // GS, (k_end - 1) // GS + 1):
        lo = tl.maximum(g * GS, k_start)  # this group's columns inside the K range: [lo, hi)
        hi = tl.minimum(g * GS + GS, k_end)
        acc = (tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32),) * L  # acc[c] = S[m, n, g, c]
        for kb0 in range((lo // BLOCK_K) * BLOCK_K, hi, BLOCK_K):
            if QUADS:  # the MMA's K = the block's 16-bit words, once per code within a word (4 at 3/4 bits)
                acc = _quads(acc, x_ptr, codes_ptr, rows_c, m_offs, m_mask, kb0, lo, hi, KP, stride_xm, stride_cn,
                             L, BLOCK_M, BLOCK_K, x_dtype, DOT_PRECISION, ASM)  # fmt: skip
            else:
                boffs = kb0 // PER_BYTE + j  # [BB]
                b = tl.load(
                    codes_ptr + rows_c[None, :] * stride_cn + boffs[:, None], mask=(boffs < KP)[:, None], other=0
                )  # [BB, BN] uint8, K along dim 0 (the B operand's orientation)
                if PAIRS:  # the MMA's K = the block's columns: a byte's two codes are one B-fragment pair
                    code = tl.reshape(tl.permute(tl.join(b & 15, b >> 4), (0, 2, 1)), (BLOCK_K, BLOCK_N))
                    xs = _x_tile(x_ptr, m_offs, m_mask, stride_xm, kb0 + tl.arange(0, BLOCK_K), lo, hi)  # contiguous
                    acc = _accumulate_one_hots(acc, xs, code, L, x_dtype, DOT_PRECISION, ASM)
                else:
                    for i in tl.static_range(PER_BYTE):
                        code = (b >> (i * WIDTH)) & ((1 << WIDTH) - 1)  # [BB, BN] columns kb0 + j*PER_BYTE + i
                        xs = _x_tile(x_ptr, m_offs, m_mask, stride_xm, kb0 + j * PER_BYTE + i, lo, hi)  # [BM, BB]
                        acc = _accumulate_one_hots(acc, xs, code, L, x_dtype, DOT_PRECISION, ASM)
        if FOLD_TILE > 0:
            y_acc += _fold_tile(acc, lut_ptr, slots, rows_c, m_mask, g, stride_ls, stride_ln, BITS, BLOCK_M, BLOCK_N,
                                 FOLD_TILE)
        else:
            # Fold this group's LUTs in: each token's own slot, one [BM, BN] gather per code value (L1/L2 hits).
            lut_g = lut_ptr + slots[:, None] * stride_ls + (rows_c * stride_ln + g * L)[None, :]  # [BM, BN]
            for c in tl.static_range(L):
                lut_c = tl.load(lut_g + c, mask=m_mask[:, None], other=0.0)
                y_acc += acc[c] * lut_c.to(tl.float32)
    return y_acc


@triton.jit
def _split_all(level, COUNT: tl.constexpr):
    """Split each of COUNT tensors on its last axis (of 2): the first halves, then the second halves."""
    firsts = ()
    seconds = ()
    for i in tl.static_range(COUNT):
        a, b = tl.split(level[i])
        firsts = firsts + (a,)
        seconds = seconds + (b,)
    return firsts + seconds


@triton.jit
def _split_bits(level, NBITS: tl.constexpr):
    """A [..., 2 (NBITS times)] tensor (a tuple of one) to its 2**NBITS [...] parts, in row-major order of the split
    axes: after b + 1 splits a part's index holds the low b + 1 bits."""
    for b in tl.static_range(NBITS):
        level = _split_all(level, 1 << b)
    return level


@triton.jit
def _fold_tile(acc, lut_ptr, slots, rows_c, m_mask, g, stride_ls, stride_ln, BITS: tl.constexpr,
               BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, CHUNK: tl.constexpr):  # fmt: skip
    """sum_c acc[c] * LUT[slot(m), n, g, c] as [BM, BN], the LUTs read as [BM, BN, CHUNK] tiles: each (token, row)
    pair's entries are contiguous, so a thread loads CHUNK of them in one piece (2 * CHUNK bytes), where the
    per-code gathers load 2 bytes at a time and touch a sector per lane (the H200 profile of the shipped 16 x 16
    kernel: the fold ~22 % of the stall samples, its loads 16x the sectors they use). Each tile is split on its
    last axis, in registers, into one [BM, BN] tensor per code value ([BM, BN, 2, ..., 2] split on the last axis
    gives c's low bit; the first halves go ahead), each multiplied with its accumulator. CHUNK < L holds fewer
    registers at once (the whole tile took 157-178 registers against 128, sm_90)."""
    L: tl.constexpr = 1 << BITS
    c_offs = tl.arange(0, CHUNK)
    lut_rows = lut_ptr + slots[:, None, None] * stride_ls + (rows_c * stride_ln + g * L)[None, :, None]
    y = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for c0 in tl.static_range(0, L, CHUNK):
        lut = tl.load(lut_rows + c0 + c_offs[None, None, :], mask=m_mask[:, None, None], other=0.0)
        if CHUNK == 16:
            level = _split_bits((tl.reshape(lut, (BLOCK_M, BLOCK_N, 2, 2, 2, 2)),), 4)
        elif CHUNK == 8:
            level = _split_bits((tl.reshape(lut, (BLOCK_M, BLOCK_N, 2, 2, 2)),), 3)
        elif CHUNK == 4:
            level = _split_bits((tl.reshape(lut, (BLOCK_M, BLOCK_N, 2, 2)),), 2)
        else:
            level = _split_bits((lut,), 1)
        for i in tl.static_range(CHUNK):
            y += acc[c0 + i] * level[i].to(tl.float32)
    return y


@triton.jit
def _quads(acc, x_ptr, codes_ptr, rows_c, m_offs, m_mask, kb0, lo, hi, KP, stride_xm, stride_cn, L: tl.constexpr,
           BLOCK_M: tl.constexpr, BLOCK_K: tl.constexpr, x_dtype: tl.constexpr, DOT_PRECISION: tl.constexpr,
           ASM: tl.constexpr):  # fmt: skip
    """QUADS (v13, 3/4-bit codes, rows of whole 16-bit words): one K block's sums, the codes read as 16-bit words
    h [BW, BN] (4 codes each: code i of word w is column 4w + i) and x as one contiguous [BM, BLOCK_K] tile split
    in registers into its 4 column phases x_i [BM, BW] (columns 4w + i). Then acc[c] += x_i @ (code_i == c) for
    each phase i: the chain from the loaded words to the one-hot is elementwise and 16-bit, so Triton gives the
    MMA operands kWidth 2 (no 8-bit source): x's A fragments are whole aligned registers (v11's 8-bit codes gave
    kWidth 4 and ptxas a register copy per HMMA) and the codes need no interleaving pass through shared memory."""
    BW: tl.constexpr = BLOCK_K // 4  # 16-bit words per row and block (the MMA's K per dot)
    words = kb0 // 4 + tl.arange(0, BW)
    h = tl.load(codes_ptr.to(tl.pointer_type(tl.uint16)) + rows_c[None, :] * (stride_cn // 2) + words[:, None],
                mask=(words < KP // 2)[:, None], other=0)  # fmt: skip
    xs = _x_tile(x_ptr, m_offs, m_mask, stride_xm, kb0 + tl.arange(0, BLOCK_K), lo, hi)  # [BM, BLOCK_K]
    # [BM, BW, 2, 2] at [m, w, a, b] = column 4w + 2a + b; split b, then a
    even, odd = tl.split(tl.reshape(xs, (BLOCK_M, BW, 2, 2)))  # columns 4w + 2a and 4w + 2a + 1
    x0, x2 = tl.split(even)
    x1, x3 = tl.split(odd)
    acc = _accumulate_one_hots(acc, x0, h & 15, L, x_dtype, DOT_PRECISION, ASM)
    acc = _accumulate_one_hots(acc, x1, (h >> 4) & 15, L, x_dtype, DOT_PRECISION, ASM)
    acc = _accumulate_one_hots(acc, x2, (h >> 8) & 15, L, x_dtype, DOT_PRECISION, ASM)
    acc = _accumulate_one_hots(acc, x3, h >> 12, L, x_dtype, DOT_PRECISION, ASM)
    return acc
