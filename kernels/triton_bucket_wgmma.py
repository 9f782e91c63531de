"""Bucket-sum decode on Hopper's wgmma: the one-hot of the codes built in the MMA's A registers, x and codes by TMA.

A decode batch whose tokens use many different LUTs (pool slots) would cost one lookup per weight per slot if each
slot's weight were rebuilt. The bucket form sums x by code value once for every token, whatever its slot, and
applies each token's own LUT to those sums (as triton_bucket.py and triton_bucket_cols.py do on mma.sync):

    S[t, n, c] = sum over the columns k of a LUT group with code[n, k] == c of x[t, k]
    y[t, n]    = sum over groups g and code values c of LUT[slot(t), n, g, c] * S[t, n, g, c]

Here the one-hot is wgmma's A operand, in registers, and x's tile its B operand, in shared memory:

    acc [16 ROWS, BM] (fp32, wgmma layout) += OneHot [16 ROWS, BK] @ x[token tile, K block].T
    acc row 16 r + c: weight row r of the program's ROWS, code value c; one warp's 16 rows = one weight row

wgmma's A fragment (as mma.sync m16n8k16's): lane 4g + t of a warp holds rows g and g + 8 of its 16 (code values g
and g + 8) and, of every 16 columns, 2t, 2t+1 and 2t+8, 2t+9: the two codes of byte t of code words 2j and 2j + 1.
Per byte (onehot_program): one prmt copies it into both 16-bit halves, and/or make the pair (BASE | low code,
BASE | high code << 4), exact and distinct 16-bit floats per code value (BASE 0x6400 = 1024.0 in fp16, 0x4300 =
128.0 in bf16), and one set.eq.{f16x2,bf16x2} against the same encoding of g, one against g + 8, write 1.0 or 0.0
into both halves of an A register: 4 instructions per 4 one-hot elements, nothing through shared memory.

    ring: x's tile [BM, BK] and the rows' code words [ROWS, BK / 8] of each K block, by TMA, STAGES - 1 blocks ahead
    for kb in the program's K blocks:
        wait for block kb's buffers; words (broadcast from shared memory to the lanes that need them) -> A = onehot
        wgmma(A, x[kb].T, acc); CTA barrier; refill the buffers of block kb - 1 with block kb + STAGES - 1
        wait for the wgmma (its A registers are free only then: triton_prefill_wgmma.py says why)
        at the end of a LUT group (or of the K range): part [ROWS, BM] += sum_c LUT[slot(t), row, g, c] * acc; acc = 0
    y[tokens, rows] = part.T       SPLIT_K: fp32 partials, the tile's last program to arrive sums them

MMA_V2 hands the same A fragments to mma.sync instead, x's fragments by ldmatrix from the same ring.

On the H200 (benchmarks/NOTES.md, thirty-first session) it is the bucket kernel above 16 tokens (1.44-2.01x the
mma.sync kernels at 32 and 64 tokens); at 16 tokens over 16 tasks it took 49 us (46 as MMA_V2) against the cols
kernel's 31: the one-hot chain is issue-latency-bound at 3 warps a scheduler, so the op offers it from WGMMA_MIN_M.

The one-hot has 16 rows per weight row at 3 bits too (code values 8-15 never match: half the MMA is wasted there).

Takes: sm_90, x and the LUT of one 16-bit type, prmt_ok's codes (3/4-bit, whole 4-byte words), K and the group
size multiples of BLOCK_K, any token count (tiles of BLOCK_M tokens). No CPU form: Gluon has no interpreter; the
CPU tests run the one-hot program through the emulator and compile the kernel for sm_90, the CUDA tests compare it
to the reference.
"""

from __future__ import annotations

import functools

import torch
import triton

from kernels.prmt_lut import to_ptx
from kernels.triton_common import pdl_args, register_cap, split_k_tiles
from kernels.triton_prefill_wgmma import HAVE_GLUON, wgmma_prefill_ok

if HAVE_GLUON:
    from triton.experimental.gluon.language.nvidia.ampere import mma_v2

    from kernels.triton_prefill_wgmma import (
        TensorDescriptor,
        _barrier,
        _tma_load,
        fence_async_shared,
        gl,
        gluon,
        mbarrier,
        warpgroup_mma,
        warpgroup_mma_wait,
    )

# The one-hot's code encoding: 16-bit floats that are exact and distinct per code value (see the docstring)
ONEHOT_BASE = {torch.float16: 0x6400, torch.bfloat16: 0x4300}


def onehot_program(dtype: torch.dtype) -> list[tuple]:
    """Operands: $0-$15 (16-bit outputs) = the one-hot elements 8h + 2i + p: code value g + 8h, nibble p of byte t
    of word i; $16-$19 = words 0-3; $20 = the prmt selector of byte t (t | t << 8: the byte into bytes 0 and 2);
    $21 / $22 = g / g + 8 in the codes' encoding (compare_word)."""
    base = ONEHOT_BASE[dtype]
    cmp = "set_eq_f16x2" if dtype == torch.float16 else "set_eq_bf16x2"
    prog: list[tuple] = []
    for i in range(4):
        q = f"q{i}"
        prog += [("prmt", q, f"${16 + i}", f"${16 + i}", "$20"),
                 ("and", q, q, 0x00F0000F),  # low code at bits 0-3, high code at 20-23
                 ("or", q, q, base | base << 16),
                 (cmp, "t0", q, "$21"), ("split_out", f"${2 * i}", f"${2 * i + 1}", "t0"),
                 (cmp, "t1", q, "$22"), ("split_out", f"${8 + 2 * i}", f"${8 + 2 * i + 1}", "t1")]  # fmt: skip
    return prog


ONEHOT_CONSTRAINTS = ",".join(["=h"] * 16 + ["r"] * 7)


def compare_word(c: int | torch.Tensor, dtype: torch.dtype):
    """Code value c as the one-hot program encodes a byte's two codes: (BASE | c, BASE | c << 4) as 16-bit halves."""
    base = ONEHOT_BASE[dtype]
    return (base | c) | ((base | (c << 4)) << 16)


def onehot_wide_program(dtype: torch.dtype, levels: int = 16, encoding_operand: bool = False) -> list[tuple]:
    """The WIDE form's (one byte, every code value): $0 .. $(2 levels - 1) (16-bit outputs) = the one-hot elements
    2c + p: code value c, nibble p of byte t of the word; $(2 levels) = the word; $(2 levels + 1) = the prmt selector
    of byte t (t | t << 8). One prmt and the and/or encode the byte's two codes once; one set.eq per code value writes
    two one-hot elements (the compared encodings are constants: compare_word). encoding_operand (LEVEL_SPLIT):
    $(2 levels + 2) is xor-ed into the masked codes instead of the or with the encoding's base, so that a lane can
    flip code bits for free (level_split_encoding)."""
    base = ONEHOT_BASE[dtype]
    cmp = "set_eq_f16x2" if dtype == torch.float16 else "set_eq_bf16x2"
    word, sel = f"${2 * levels}", f"${2 * levels + 1}"
    encode = ("xor", "q0", "q0", f"${2 * levels + 2}") if encoding_operand else ("or", "q0", "q0", base | base << 16)
    prog: list[tuple] = [("prmt", "q0", word, word, sel), ("and", "q0", "q0", 0x00F0000F), encode]
    for c in range(levels):
        prog += [("mov", "t1", compare_word(c, dtype)), (cmp, "t0", "q0", "t1"),
                 ("split_out", f"${2 * c}", f"${2 * c + 1}", "t0")]  # fmt: skip
    return prog


def onehot_wide_constraints(levels: int, encoding_operand: bool = False) -> str:
    return ",".join(["=h"] * (2 * levels) + ["r"] * (3 if encoding_operand else 2))


def level_split_encoding(dtype: torch.dtype, offset: int = 0) -> int:
    """The LEVEL_SPLIT one-hot's encoding operand: the base in both 16-bit halves (no bit of it overlaps the masked
    codes, at bits 0-3 and 20-23, so xor-ing it is or-ing it), with offset (a multiple of the lane's count of code
    values, which is a power of two) xor-ed into both codes, so that the program's code values 0, 1, ... stand for
    offset, offset + 1, ...: a lane of the pair or quad gq compares with code values from gq * 16 / P."""
    base = ONEHOT_BASE[dtype]
    return (base | base << 16) ^ (offset | offset << 20)


if HAVE_GLUON:
    ONEHOT_F16 = gl.constexpr(to_ptx(onehot_program(torch.float16)))
    ONEHOT_BF16 = gl.constexpr(to_ptx(onehot_program(torch.bfloat16)))
    ONEHOT_CONSTR = gl.constexpr(ONEHOT_CONSTRAINTS)
    BASE_F16 = gl.constexpr(ONEHOT_BASE[torch.float16])
    BASE_BF16 = gl.constexpr(ONEHOT_BASE[torch.bfloat16])
    WIDE16_F16 = gl.constexpr(to_ptx(onehot_wide_program(torch.float16, 16)))
    WIDE16_BF16 = gl.constexpr(to_ptx(onehot_wide_program(torch.bfloat16, 16)))
    WIDE8_F16 = gl.constexpr(to_ptx(onehot_wide_program(torch.float16, 8)))
    WIDE8_BF16 = gl.constexpr(to_ptx(onehot_wide_program(torch.bfloat16, 8)))
    SPLIT8_F16 = gl.constexpr(to_ptx(onehot_wide_program(torch.float16, 8, encoding_operand=True)))
    SPLIT8_BF16 = gl.constexpr(to_ptx(onehot_wide_program(torch.bfloat16, 8, encoding_operand=True)))
    SPLIT8_CONSTR = gl.constexpr(onehot_wide_constraints(8, encoding_operand=True))
    SPLIT4_F16 = gl.constexpr(to_ptx(onehot_wide_program(torch.float16, 4, encoding_operand=True)))
    SPLIT4_BF16 = gl.constexpr(to_ptx(onehot_wide_program(torch.bfloat16, 4, encoding_operand=True)))
    SPLIT4_CONSTR = gl.constexpr(onehot_wide_constraints(4, encoding_operand=True))
    SPLIT_ENC_F16 = gl.constexpr(level_split_encoding(torch.float16))
    SPLIT_ENC_BF16 = gl.constexpr(level_split_encoding(torch.bfloat16))
    SPLIT_OFFSET_UNIT = gl.constexpr(level_split_encoding(torch.float16, 1) ^ level_split_encoding(torch.float16))
    WIDE16_CONSTR = gl.constexpr(onehot_wide_constraints(16))
    WIDE8_CONSTR = gl.constexpr(onehot_wide_constraints(8))

    @gluon.jit
    def _onehot(words, sel, cmp_lo, cmp_hi, a_layout: gl.constexpr, ROWS: gl.constexpr, BLOCK_K: gl.constexpr,
                DT: gl.constexpr):  # fmt: skip
        """A [16 ROWS, BK] in the wgmma operand layout, 1.0 at (16 r + c, k) where code[r, k] == c. words
        [8 ROWS, 4V, 4]: element (8r + g, 4v + t, b) = word 4v + b of row r (lane 4g + t's)."""
        V: gl.constexpr = BLOCK_K // 32
        w4 = gl.reshape(words, [8 * ROWS, 4 * V, 2, 2])  # word b = 2 b1 + b0 at [..., b1, b0]
        even, odd = gl.split(w4)
        w0, w2 = gl.split(even)
        w1, w3 = gl.split(odd)
        lay: gl.constexpr = w0.type.layout
        sel = gl.convert_layout(sel, lay)
        cmp_lo = gl.convert_layout(cmp_lo, lay)
        cmp_hi = gl.convert_layout(cmp_hi, lay)
        if DT == gl.float16:
            e = gl.inline_asm_elementwise(ONEHOT_F16, ONEHOT_CONSTR, [w0, w1, w2, w3, sel, cmp_lo, cmp_hi],
                                          dtype=(DT.value,) * 16, is_pure=True, pack=1)  # fmt: skip
        else:
            e = gl.inline_asm_elementwise(ONEHOT_BF16, ONEHOT_CONSTR, [w0, w1, w2, w3, sel, cmp_lo, cmp_hi],
                                          dtype=(DT.value,) * 16, is_pure=True, pack=1)  # fmt: skip
        # e[8h + 2i + p], word i = 2 b1 + b0: each join appends a trailing dim
        lo0 = gl.join(gl.join(e[0], e[1]), gl.join(e[2], e[3]))  # [8R, 4V, p, b0] of h = 0, b1 = 0
        lo1 = gl.join(gl.join(e[4], e[5]), gl.join(e[6], e[7]))
        hi0 = gl.join(gl.join(e[8], e[9]), gl.join(e[10], e[11]))
        hi1 = gl.join(gl.join(e[12], e[13]), gl.join(e[14], e[15]))
        a = gl.join(gl.join(lo0, lo1), gl.join(hi0, hi1))  # [8R, 4V, p, b0, b1, h]
        a = gl.reshape(a, [ROWS, 8, V, 4, 2, 2, 2, 2])  # [r, g, v, t, p, b0, b1, h]
        a = gl.permute(a, (0, 7, 1, 2, 6, 5, 3, 4))  # [r, h, g, v, b1, b0, t, p]
        # row 16 r + 8 h + g, column 32 v + 16 b1 + 8 b0 + 2 t + p
        return gl.convert_layout(gl.reshape(a, [16 * ROWS, BLOCK_K]), a_layout)

    @gluon.jit
    def _join8(a0, a1, a2, a3, a4, a5, a6, a7):
        """[..., 2, 2, 2]: a_i at trailing indices (i & 1, i >> 1 & 1, i >> 2)."""
        return gl.join(gl.join(gl.join(a0, a1), gl.join(a2, a3)), gl.join(gl.join(a4, a5), gl.join(a6, a7)))

    @gluon.jit
    def _words_wide(c_buf, c_layout: gl.constexpr, w_layout: gl.constexpr, ROWS: gl.constexpr,
                    BLOCK_K: gl.constexpr):  # fmt: skip
        """A K block's code words [ROWS, BK / 16, 2, 4] as the WIDE A fragments need them: element (r, s, b0, t) =
        word 2s + b0 of row r, in lane 4 (r % 8) + t of warp r // 8 (the 4 lanes t of a row read the same words)."""
        S: gl.constexpr = BLOCK_K // 16
        w2 = c_buf.load(c_layout)  # [ROWS, BK / 8]: row r's words in every lane 4 (r % 8) + t
        w3 = gl.convert_layout(gl.reshape(w2, [ROWS, S, 2]), gl.SliceLayout(3, w_layout))
        return gl.expand_dims(w3, 3) + gl.zeros([ROWS, S, 2, 4], gl.int32, w_layout)

    @gluon.jit
    def _onehot_wide(words, sel, a_layout: gl.constexpr, ROWS: gl.constexpr, BLOCK_K: gl.constexpr,
                     L: gl.constexpr, DT: gl.constexpr):  # fmt: skip
        """A [L ROWS, BK], 1.0 at (16 (q W + w) + 8 h + g, k) where code[8 w + g, k] == 2 q + h (W = ROWS / 8
        warps): lane 4g + t holds weight row g of its warp's 8 in all its A rows, so each byte it encodes is compared
        with every code value. words, sel [ROWS, BK / 16, 2, 4] (_words_wide)."""
        W: gl.constexpr = ROWS // 8
        S: gl.constexpr = BLOCK_K // 16
        if L == 16:
            PROG: gl.constexpr = WIDE16_F16 if DT == gl.float16 else WIDE16_BF16
        else:
            PROG: gl.constexpr = WIDE8_F16 if DT == gl.float16 else WIDE8_BF16
        CONSTR: gl.constexpr = WIDE16_CONSTR if L == 16 else WIDE8_CONSTR
        e = gl.inline_asm_elementwise(PROG, CONSTR, [words, sel], dtype=(DT.value,) * (2 * L), is_pure=True, pack=1)
        # e[2c + p] = e[4q + 2h + p]: trailing dims [p, h, q0, q1(, q2)]
        a = gl.join(_join8(e[0], e[1], e[2], e[3], e[4], e[5], e[6], e[7]),
                    _join8(e[8], e[9], e[10], e[11], e[12], e[13], e[14], e[15]))  # fmt: skip
        if L == 16:
            a = gl.join(a, gl.join(_join8(e[16], e[17], e[18], e[19], e[20], e[21], e[22], e[23]),
                                   _join8(e[24], e[25], e[26], e[27], e[28], e[29], e[30], e[31])))  # fmt: skip
            a = gl.reshape(a, [W, 8, S, 2, 4, 2, 2, 2, 2, 2])  # [w, g, s, b0, t, p, h, q0, q1, q2]
            a = gl.permute(a, (9, 8, 7, 0, 6, 1, 2, 3, 4, 5))  # [q2, q1, q0, w, h, g, s, b0, t, p]
        else:
            a = gl.reshape(a, [W, 8, S, 2, 4, 2, 2, 2, 2])  # [w, g, s, b0, t, p, h, q0, q1]
            a = gl.permute(a, (8, 7, 0, 6, 1, 2, 3, 4, 5))  # [q1, q0, w, h, g, s, b0, t, p]
        # row 16 (q W + w) + 8 h + g, column 16 s + 8 b0 + 2 t + p
        return gl.convert_layout(gl.reshape(a, [L * ROWS, BLOCK_K]), a_layout)

    @gluon.jit
    def _words_split(c_buf, c_layout: gl.constexpr, w_layout: gl.constexpr, ROWS: gl.constexpr,
                     BLOCK_K: gl.constexpr, P: gl.constexpr):  # fmt: skip
        """LEVEL_SPLIT = P: a K block's code words [ROWS, P, BK / 16, 2, 4] as its A fragments need them: element
        (r, gq, s, b0, t) = word 2s + b0 of row r, in lane 4 (R gq + r % R) + t of warp r // R (R = 8 / P weight rows
        a warp; every gq reads the same words)."""
        S: gl.constexpr = BLOCK_K // 16
        w2 = c_buf.load(c_layout)  # [ROWS, BK / 8]: row r's words in lanes 4 (R gq + r % R) + t
        w3 = gl.convert_layout(gl.reshape(w2, [ROWS, S, 2]), gl.SliceLayout(1, gl.SliceLayout(4, w_layout)))
        return gl.expand_dims(gl.expand_dims(w3, 1), 4) + gl.zeros([ROWS, P, S, 2, 4], gl.int32, w_layout)

    @gluon.jit
    def _onehot_split(words, sel, enc, a_layout: gl.constexpr, ROWS: gl.constexpr, BLOCK_K: gl.constexpr,
                      DT: gl.constexpr, P: gl.constexpr):  # fmt: skip
        """LEVEL_SPLIT = P (2 or 4): A [16 ROWS, BK], 1.0 at (16 (m W + w) + 8 h + R gq + gw, k) where
        code[R w + gw, k] == (16 / P) gq + 2 m + h (R = 8 / P weight rows a warp, W = ROWS / R warps): the P lanes
        4 (R gq + gw) + t hold weight row gw of their warp's R and compare its bytes with 16 / P code values each (the
        WIDE program for 16 / P values, its encoding enc offset by (16 / P) gq: level_split_encoding). words, sel,
        enc [ROWS, P, BK / 16, 2, 4]."""
        R: gl.constexpr = 8 // P
        W: gl.constexpr = ROWS // R
        S: gl.constexpr = BLOCK_K // 16
        if P == 2:
            PROG: gl.constexpr = SPLIT8_F16 if DT == gl.float16 else SPLIT8_BF16
            e = gl.inline_asm_elementwise(PROG, SPLIT8_CONSTR, [words, sel, enc], dtype=(DT.value,) * 16,
                                          is_pure=True, pack=1)  # fmt: skip
            # e[2c + p], c = 2 m + h: trailing dims [p, h, m0, m1]
            a = gl.join(_join8(e[0], e[1], e[2], e[3], e[4], e[5], e[6], e[7]),
                        _join8(e[8], e[9], e[10], e[11], e[12], e[13], e[14], e[15]))  # fmt: skip
            a = gl.reshape(a, [W, R, P, S, 2, 4, 2, 2, 2, 2])  # [w, gw, gq, s, b0, t, p, h, m0, m1]
            a = gl.permute(a, (9, 8, 0, 7, 2, 1, 3, 4, 5, 6))  # [m1, m0, w, h, gq, gw, s, b0, t, p]
        else:
            PROG4: gl.constexpr = SPLIT4_F16 if DT == gl.float16 else SPLIT4_BF16
            e = gl.inline_asm_elementwise(PROG4, SPLIT4_CONSTR, [words, sel, enc], dtype=(DT.value,) * 8,
                                          is_pure=True, pack=1)  # fmt: skip
            # e[2c + p], c = 2 m + h: trailing dims [p, h, m]
            a = _join8(e[0], e[1], e[2], e[3], e[4], e[5], e[6], e[7])
            a = gl.reshape(a, [W, R, P, S, 2, 4, 2, 2, 2])  # [w, gw, gq, s, b0, t, p, h, m]
            a = gl.permute(a, (8, 0, 7, 2, 1, 3, 4, 5, 6))  # [m, w, h, gq, gw, s, b0, t, p]
        # row 16 (m W + w) + 8 h + R gq + gw, column 16 s + 8 b0 + 2 t + p
        return gl.convert_layout(gl.reshape(a, [16 * ROWS, BLOCK_K]), a_layout)

    @gluon.jit
    def _fold_wide(acc, part, lut_ptr, lut_tok, lut_row, tok_ok, group, f_layout: gl.constexpr, L: gl.constexpr,
                   ROWS: gl.constexpr, BLOCK_M: gl.constexpr, NO_LUT: gl.constexpr = False,
                   LEVEL_SPLIT: gl.constexpr = 0):  # fmt: skip
        """part [ROWS, BM] + sum_c LUT[slot(t), row, group, c] * acc[(row, c), t] with _onehot_wide's rows, in
        f_layout [ROWS, BM, L]: the acc's own lanes and registers (a register renaming), each thread's L code values
        of a (row, token) in consecutive registers, so that its LUT entries load as one contiguous run and the sum over
        c stays in the thread. lut_tok [BM] (int64): each token's slot offset; lut_row [ROWS]: the row's offset."""
        if LEVEL_SPLIT:  # acc row 16 (m W + w) + 8 h + R gq + gw (_onehot_split) -> [R w + gw, t, (16/P) gq + 2 m + h]
            SR: gl.constexpr = 8 // LEVEL_SPLIT
            a6 = gl.permute(gl.reshape(acc, [8 // LEVEL_SPLIT, ROWS // SR, 2, LEVEL_SPLIT, SR, BLOCK_M]),
                            (1, 4, 5, 3, 0, 2))  # fmt: skip
            a3 = gl.convert_layout(gl.reshape(a6, [ROWS, BLOCK_M, L]), f_layout)  # the sum over c spans lanes gq
        else:
            a5 = gl.permute(gl.reshape(acc, [L // 2, ROWS // 8, 2, 8, BLOCK_M]), (1, 3, 4, 0, 2))  # [w, g, t, q, h]
            a3 = gl.convert_layout(gl.reshape(a5, [ROWS, BLOCK_M, L]), f_layout)  # code value 2q + h
        c = gl.arange(0, L, layout=gl.SliceLayout(0, gl.SliceLayout(0, f_layout)))
        at = gl.expand_dims(gl.expand_dims(lut_row + group * L, 1) + gl.expand_dims(lut_tok, 0), 2)
        at = at + gl.expand_dims(gl.expand_dims(c, 0), 0)
        ok = gl.expand_dims(gl.expand_dims(tok_ok, 0), 2)  # [1, BM, 1]: broadcast by the load
        if NO_LUT:  # PROBE 3 (timing only): the fold's arithmetic without its LUT loads
            return part + gl.sum(a3 * at.to(gl.float32), axis=2)
        lut = gl.load(lut_ptr + at, mask=ok, other=0.0).to(gl.float32)
        return part + gl.sum(a3 * lut, axis=2)

    @gluon.jit
    def _gdc_wait():
        """Under PDL: wait until the previous kernel in the stream has completed and its writes are visible."""
        gl.inline_asm_elementwise("griddepcontrol.wait; // dummy $0", "=r", [], dtype=gl.int32, is_pure=False,
                                  pack=1)  # fmt: skip

    @gluon.jit
    def _gdc_release():
        """Under PDL: the next kernel in the stream (if launched with PDL) may start its pre-wait part once every
        program has released or exited."""
        gl.inline_asm_elementwise("griddepcontrol.launch_dependents; // dummy $0", "=r", [], dtype=gl.int32,
                                  is_pure=False, pack=1)  # fmt: skip

    @gluon.jit
    def _fold(acc, part, lut_ptr, lut_tok, lut_row, tok_ok, group, L: gl.constexpr, ROWS: gl.constexpr,
              BLOCK_M: gl.constexpr):  # fmt: skip
        """part [ROWS, BM] + sum_c LUT[slot(t), row r, group, c] * acc[16 r + c, t]. lut_tok [BM] (int64): each
        token's slot offset; lut_row [16 ROWS] (int32): row r's offset + c; tok_ok [BM]: the batch's tokens."""
        c_ok = (gl.arange(0, 16 * ROWS, layout=lut_row.type.layout) % 16) < L
        lut_at = gl.expand_dims(lut_tok, 0) + gl.expand_dims(lut_row + group * L, 1)
        lut_ok = gl.expand_dims(c_ok, 1) & gl.expand_dims(tok_ok, 0)
        lut = gl.load(lut_ptr + lut_at, mask=lut_ok, other=0.0).to(gl.float32)
        return part + gl.sum(gl.reshape(acc * lut, [ROWS, 16, BLOCK_M]), axis=1)

    @gluon.jit
    def _fold_group(acc, part, lut_ptr, lut_tok, lut_row, tok_ok, group, f_layout: gl.constexpr, L: gl.constexpr,
                    ROWS: gl.constexpr, BLOCK_M: gl.constexpr, WIDE: gl.constexpr, NO_LUT: gl.constexpr,
                    LEVEL_SPLIT: gl.constexpr = 0):  # fmt: skip
        """part + LUT group `group`'s fold of acc, in the form's layout (WIDE: _fold_wide, else _fold)."""
        if WIDE:
            out = _fold_wide(acc, part, lut_ptr, lut_tok, lut_row, tok_ok, group, f_layout, L, ROWS, BLOCK_M, NO_LUT,
                             LEVEL_SPLIT)  # fmt: skip
        else:
            out = _fold(acc, part, lut_ptr, lut_tok, lut_row, tok_ok, group, L, ROWS, BLOCK_M)
        return out

    @gluon.jit
    def _block_words(c_buf, c_layout: gl.constexpr, w5_layout: gl.constexpr, w_layout: gl.constexpr,
                     ROWS: gl.constexpr, BLOCK_K: gl.constexpr):  # fmt: skip
        """A K block's code words from its shared-memory tile [ROWS, BK / 8] to [8 ROWS, 4V, 4]: element
        (8r + g, 4v + t, b) = word 4v + b of row r, in every lane 4g + t of row r's warp (a broadcast: each lane
        reads its rows' words, the same 16-byte runs as the rest of its warp)."""
        V: gl.constexpr = BLOCK_K // 32
        w2 = c_buf.load(c_layout)  # [ROWS, 4V], whole rows a thread
        w5 = gl.convert_layout(gl.reshape(w2, [ROWS, 1, V, 1, 4]), w5_layout)
        w5 = w5 + gl.zeros([ROWS, 8, V, 4, 4], gl.int32, w5_layout)  # broadcast over g and t (lanes)
        return gl.convert_layout(gl.reshape(w5, [8 * ROWS, 4 * V, 4]), w_layout)

    @gluon.jit
    def _store_tile(part, y_ptr, ws_ptr, counter_ptr, m_start, row0, M, N, stride_ym, tile, n_tiles, split_id,
                    n_splits, ROWS: gl.constexpr, BLOCK_M: gl.constexpr, USE_SPLIT: gl.constexpr):  # fmt: skip
        """y[m_start + t, row0 + r] <- part [ROWS, BM] (r, t; in its own layout), within M x N: stored directly, or
        (USE_SPLIT) as this program's partial in the workspace [splits, tiles, ROWS, BM], the tile's last program
        to arrive (its counter) summing the partials into y and resetting the counter for the next launch."""
        part_l: gl.constexpr = part.type.layout
        p_rows = gl.arange(0, ROWS, layout=gl.SliceLayout(1, part_l))
        p_toks = gl.arange(0, BLOCK_M, layout=gl.SliceLayout(0, part_l))
        y_ptrs = (y_ptr + gl.expand_dims((m_start + p_toks).to(gl.int64) * stride_ym, 0)
                  + gl.expand_dims(row0 + p_rows, 1))  # [ROWS, BM]  # fmt: skip
        y_mask = gl.expand_dims(m_start + p_toks < M, 0) & gl.expand_dims(row0 + p_rows < N, 1)
        if USE_SPLIT:
            in_tile = gl.expand_dims(p_rows * BLOCK_M, 1) + gl.expand_dims(p_toks, 0)
            tile_elems = ROWS * BLOCK_M
            gl.store(ws_ptr + (split_id * n_tiles + tile).to(gl.int64) * tile_elems + in_tile, part)
            _barrier()  # every thread's partial stored before the (acq_rel, gpu-scope) arrival
            arrived = gl.atomic_add(counter_ptr + tile, 1)
            if arrived == n_splits - 1:
                total = gl.zeros_like(part)
                for k in range(n_splits):
                    total += gl.load(ws_ptr + (k * n_tiles + tile).to(gl.int64) * tile_elems + in_tile,
                                     cache_modifier=".cg")  # fmt: skip
                gl.store(y_ptrs, total.to(y_ptr.dtype.element_ty), mask=y_mask)
                gl.atomic_xchg(counter_ptr + tile, 0, sem="relaxed")  # ready for the next launch
        else:
            gl.store(y_ptrs, part.to(y_ptr.dtype.element_ty), mask=y_mask)

    @gluon.jit
    def _bucket_wgmma_kernel(
        x_desc, c_desc, lut_ptr, slot_ptr, y_ptr, ws_ptr, counter_ptr,
        M, N, K, GS, stride_ls, stride_ln, stride_ym, KB_PER_SPLIT,
        BITS: gl.constexpr, ROWS: gl.constexpr, BLOCK_M: gl.constexpr, BLOCK_K: gl.constexpr, STAGES: gl.constexpr,
        acc_layout: gl.constexpr, a_layout: gl.constexpr, w_layout: gl.constexpr, c_layout: gl.constexpr,
        w5_layout: gl.constexpr, b_layout: gl.constexpr, f_layout: gl.constexpr, USE_SPLIT: gl.constexpr = False,
        MMA_V2: gl.constexpr = False,
        WIDE: gl.constexpr = False,
        PROBE: gl.constexpr = 0,
        PDL: gl.constexpr = False,
        RELEASE: gl.constexpr = 0,
        ONE_FOLD: gl.constexpr = False,
        LEVEL_SPLIT: gl.constexpr = 0,
    ):  # fmt: skip
        """Program (row tile x token tile, k): ROWS weight rows, BLOCK_M tokens (x rows past M are TMA's zeros),
        K blocks [k * KB_PER_SPLIT, ...). x's tile and the rows' code words of each K block arrive together by TMA
        in a ring of STAGES buffers, STAGES - 1 blocks ahead (the codes are the DRAM stream: with only the next
        block's words in flight a program waited on them every block, 54 us at 16 x 16 on 4096x4096, H200).
        PROBE (WIDE; benchmarks/bucket_probe.py only, its results are wrong), levels that each drop one more part so
        that its share of the time can be measured in the kernel's own structure: 1, every one-hot element 1.0 and
        none built; 2, no split-K epilogue either (each program stores its partial into y, racing); 3, no LUT loads
        in the fold either.
        PDL (the WIDE form's launches): the codes' first blocks are requested before the wait for the previous
        kernel, x's only after it (the PDL rule: triton_common.pdl_enabled; serving 16 x 16 at gpr 1 9.44 -> 9.26 ms
        a step on the H200). RELEASE (under PDL): the next kernel's launch released early, so that its programs
        are resident and waiting when this grid's last folds and epilogues end (the kernels after the projections
        are small: RMSNorm, RoPE, SiLU): 1 (the launcher's default), right after the wait; 2, at the start of the
        program's last K block. Serving 16 x 16 on the H200 (NOTES.md, thirty-sixth session): gpr 1 8.99-9.01 ms a
        step without, 8.92-8.95 with 1, 8.96-8.98 with 2; gpr 4 9.51-9.55 without, 9.47-9.50 with 1.
        ONE_FOLD (the launcher's, where every program's K range lies in one LUT group: gpr 1, or split-K ranges
        that divide the group): the fold after the K loop instead of in it, so that the loop holds only the ring, the
        one-hot and the MMAs (sm_90 SASS of the WIDE 16-token choices: 1,215 -> 972 instructions, 128 -> 116
        registers). H200, 16 tasks (NOTES.md, thirty-eighth session): WIDE 16 tokens 1.00-1.06x, serving 16 x 16
        8.91 -> 8.85 ms a step at gpr 1, 9.44 -> 9.18 at gpr 4; the wgmma form at 64 tokens, gpr 1, 1.04-1.18x,
        serving 64 x 16 31.1 -> 27.7 ms.
        LEVEL_SPLIT = P (WIDE, 4-bit, mma.sync; fortieth session, for token tiles of 16 P): each weight row's 16 code
        values over P lanes (2: 4 weight rows a warp, token tiles of 32; 4: 2 rows a warp, tiles of 64;
        _onehot_split), so that a lane's one-hot of a byte is 16 / P set.eq instead of 16 and each A fragment feeds 2P
        MMAs: 2 / P set.eq an HMMA, against 2 in the WIDE form at any tile (16 tokens: 2 MMAs an A fragment; 32 or
        64: 16-token tiles, each its own one-hot). The accumulators stay 64 fp32 registers a thread; the fold sums
        each row's code values across the P lanes. H200, forty-first session: P = 2 took every 32-token key and five
        64-token keys (1.02-1.06x over WIDE or wgmma; 4096x4096 gpr 1 at 32 tokens 44.7 -> 43.7 us), P = 4 none."""
        DT: gl.constexpr = x_desc.dtype
        L: gl.constexpr = 1 << BITS
        V: gl.constexpr = BLOCK_K // 32
        BYTES: gl.constexpr = BLOCK_M * BLOCK_K * 2 + ROWS * BLOCK_K // 2  # x's tile and the codes'
        m_tiles = gl.cdiv(M, BLOCK_M)
        tile = gl.program_id(0)
        n_tiles = gl.num_programs(0)
        split_id = gl.program_id(1)
        n_splits = gl.num_programs(1)
        pid_m = tile % m_tiles
        pid_n = tile // m_tiles
        m_start = pid_m * BLOCK_M
        row0 = pid_n * ROWS
        BPG = GS // BLOCK_K  # K blocks a LUT group
        if USE_SPLIT:
            kb0 = split_id * KB_PER_SPLIT
            KB = gl.minimum(kb0 + KB_PER_SPLIT, K // BLOCK_K)
        else:
            kb0 = 0
            KB = K // BLOCK_K

        AR: gl.constexpr = L * ROWS if WIDE else 16 * ROWS  # one-hot (acc) rows
        if LEVEL_SPLIT:  # each lane's prmt selector (byte t) per word element [ROWS, P, BK / 16, 2, 4]
            zeros5 = gl.zeros([ROWS, LEVEL_SPLIT, BLOCK_K // 16, 2, 4], gl.int32, w_layout)
            t5 = gl.arange(0, 4, layout=gl.SliceLayout(0, gl.SliceLayout(0, gl.SliceLayout(0, gl.SliceLayout(
                0, w_layout)))))  # fmt: skip
            t5 = gl.expand_dims(gl.expand_dims(gl.expand_dims(gl.expand_dims(t5, 0), 0), 0), 0)
            sel = (t5 | (t5 << 8)) + zeros5
            # and the encoding operand: the codes offset by (16 / P) gq in the lanes gq (level_split_encoding)
            gq = gl.arange(0, LEVEL_SPLIT, layout=gl.SliceLayout(0, gl.SliceLayout(2, gl.SliceLayout(
                3, gl.SliceLayout(4, w_layout)))))  # fmt: skip
            gq = gl.expand_dims(gl.expand_dims(gl.expand_dims(gl.expand_dims(gq, 0), 2), 3), 4)
            enc_base: gl.constexpr = SPLIT_ENC_F16 if DT == gl.float16 else SPLIT_ENC_BF16
            enc = (enc_base ^ (gq * (16 // LEVEL_SPLIT) * SPLIT_OFFSET_UNIT)) + zeros5
        elif WIDE:  # each lane's prmt selector (byte t) per word element [ROWS, BK / 16, 2, 4]
            t4 = gl.arange(0, 4, layout=gl.SliceLayout(0, gl.SliceLayout(0, gl.SliceLayout(0, w_layout))))
            t4 = gl.expand_dims(gl.expand_dims(gl.expand_dims(t4, 0), 0), 0)
            sel = (t4 | (t4 << 8)) + gl.zeros([ROWS, BLOCK_K // 16, 2, 4], gl.int32, w_layout)
        else:  # each lane's prmt selector (byte t) and code values (g, g + 8) in the codes' encoding, per word element
            wr = gl.arange(0, 8 * ROWS, layout=gl.SliceLayout(1, gl.SliceLayout(2, w_layout)))
            c2 = gl.arange(0, 4 * V, layout=gl.SliceLayout(0, gl.SliceLayout(2, w_layout)))
            zeros2 = gl.zeros([8 * ROWS, 4 * V], gl.uint32, gl.SliceLayout(2, w_layout))
            t = c2 % 4
            sel = gl.expand_dims((t | (t << 8)).to(gl.uint32), 0) + zeros2  # prmt: byte t into bytes 0 and 2
            g = (wr % 8).to(gl.uint32)
            base: gl.constexpr = BASE_F16 if DT == gl.float16 else BASE_BF16
            cmp_lo = gl.expand_dims((base | g) | ((base | (g << 4)) << 16), 1) + zeros2  # code value g
            cmp_hi = gl.expand_dims((base | (g + 8)) | ((base | ((g + 8) << 4)) << 16), 1) + zeros2  # g + 8

        # the fold's LUT offsets: acc element (row, t) -> LUT[slot(t), weight row, group, code value]
        if WIDE:  # per weight row and token (_fold_wide adds the code values)
            arow = gl.arange(0, ROWS, layout=gl.SliceLayout(1, gl.SliceLayout(2, f_layout)))
            toks = m_start + gl.arange(0, BLOCK_M, layout=gl.SliceLayout(0, gl.SliceLayout(2, f_layout)))
            lut_row = gl.minimum(row0 + arow, N - 1) * stride_ln  # within a slot: int32
        else:  # row 16 r + c
            arow = gl.arange(0, AR, layout=gl.SliceLayout(1, acc_layout))
            toks = m_start + gl.arange(0, BLOCK_M, layout=gl.SliceLayout(0, acc_layout))
            lut_row = gl.minimum(row0 + arow // 16, N - 1) * stride_ln + arow % 16
        slots = gl.load(slot_ptr + toks, mask=toks < M, other=0).to(gl.int64)
        lut_tok = slots * stride_ls
        tok_ok = toks < M

        X_LAYOUT: gl.constexpr = x_desc.layout
        C_LAYOUT: gl.constexpr = c_desc.layout
        x_smem = gl.allocate_shared_memory(DT, [STAGES, BLOCK_M, BLOCK_K], X_LAYOUT)
        c_smem = gl.allocate_shared_memory(gl.int32, [STAGES, ROWS, BLOCK_K // 8], C_LAYOUT)
        bars = gl.allocate_shared_memory(gl.int64, [STAGES, 1], mbarrier.MBarrierLayout())
        for s in gl.static_range(STAGES):
            mbarrier.init(bars.index(s), count=1)
        fence_async_shared()
        _barrier()  # the barriers initialized before anyone waits on them
        for s in gl.static_range(STAGES - 1):  # the codes (no kernel's output) first: before the PDL wait
            ok = kb0 + s < KB
            mbarrier.expect(bars.index(s), BYTES, pred=ok)
            _tma_load(c_desc, [row0, (kb0 + s) * (BLOCK_K // 8)], bars.index(s), c_smem.index(s), pred=ok)
        if PDL:
            _gdc_wait()
            if RELEASE == 1:
                _gdc_release()
        for s in gl.static_range(STAGES - 1):
            _tma_load(x_desc, [m_start, (kb0 + s) * BLOCK_K], bars.index(s), x_smem.index(s), pred=kb0 + s < KB)

        acc = gl.zeros([AR, BLOCK_M], gl.float32, acc_layout)
        if WIDE:  # [ROWS, BM], the fold's layout
            part = gl.zeros([ROWS, BLOCK_M], gl.float32, gl.SliceLayout(2, f_layout))
        else:
            part = gl.sum(gl.reshape(gl.zeros_like(acc), [ROWS, 16, BLOCK_M]), axis=1)
        for kb in range(kb0, KB):
            i = kb - kb0
            cur = i % STAGES
            if PDL and RELEASE == 2:
                if kb == KB - 1:
                    _gdc_release()
            mbarrier.wait(bars.index(cur), (i // STAGES) & 1)
            if WIDE:
                if PROBE >= 1:  # timing only, wrong results: every one-hot element 1.0, no one-hot instructions
                    a = gl.full([L * ROWS, BLOCK_K], 1.0, DT, a_layout)
                elif LEVEL_SPLIT:
                    words = _words_split(c_smem.index(cur), c_layout, w_layout, ROWS, BLOCK_K, LEVEL_SPLIT)
                    a = _onehot_split(words, sel, enc, a_layout, ROWS, BLOCK_K, DT, LEVEL_SPLIT)
                else:
                    words = _words_wide(c_smem.index(cur), c_layout, w_layout, ROWS, BLOCK_K)
                    a = _onehot_wide(words, sel, a_layout, ROWS, BLOCK_K, L, DT)
            else:
                words = _block_words(c_smem.index(cur), c_layout, w5_layout, w_layout, ROWS, BLOCK_K)
                a = _onehot(words, sel, cmp_lo, cmp_hi, a_layout, ROWS, BLOCK_K, DT)
            if MMA_V2:  # mma.sync: x's fragments from shared memory (ldmatrix), nothing left in flight
                acc = mma_v2(a, x_smem.index(cur).permute((1, 0)).load(b_layout), acc)
            else:
                acc = warpgroup_mma(a, x_smem.index(cur).permute((1, 0)), acc, is_async=True)
            # refill the buffers of block kb - 1 (its words read, its MMA waited for by every warp) with kb + STAGES - 1
            nxt = kb + STAGES - 1
            r = (i + STAGES - 1) % STAGES
            _barrier()
            fence_async_shared()  # the generic reads of the codes ordered before the TMA's writes (async proxy)
            mbarrier.expect(bars.index(r), BYTES, pred=nxt < KB)
            _tma_load(x_desc, [m_start, nxt * BLOCK_K], bars.index(r), x_smem.index(r), pred=nxt < KB)
            _tma_load(c_desc, [row0, nxt * (BLOCK_K // 8)], bars.index(r), c_smem.index(r), pred=nxt < KB)
            if not MMA_V2:  # the A fragments are read from registers: wait before the next one-hot overwrites them
                acc = warpgroup_mma_wait(num_outstanding=0, deps=[acc])
            if not ONE_FOLD:
                if ((kb + 1) % BPG == 0) | (kb + 1 == KB):  # the end of a LUT group or of the K range
                    part = _fold_group(acc, part, lut_ptr, lut_tok, lut_row, tok_ok, kb // BPG, f_layout, L, ROWS,
                                       BLOCK_M, WIDE, PROBE >= 3, LEVEL_SPLIT)  # fmt: skip
                    acc = gl.zeros_like(acc)
        if ONE_FOLD:  # the K range lies in one LUT group: its only fold, after the loop
            part = _fold_group(acc, part, lut_ptr, lut_tok, lut_row, tok_ok, kb0 // BPG, f_layout, L, ROWS, BLOCK_M,
                               WIDE, PROBE >= 3, LEVEL_SPLIT)  # fmt: skip

        SPLIT_STORE: gl.constexpr = USE_SPLIT and PROBE < 2  # PROBE 2: no split-K epilogue (racing stores)
        _store_tile(part, y_ptr, ws_ptr, counter_ptr, m_start, row0, M, N, stride_ym, tile, n_tiles, split_id,
                    n_splits, ROWS, BLOCK_M, SPLIT_STORE)  # fmt: skip

@functools.cache
def bucket_wgmma_layouts(num_warps: int, rows: int, block_m: int, block_k: int, mma_v2: bool = False,
                         wide: bool = False, bits: int = 4, level_split: int = 0) -> dict:  # fmt: skip
    """acc [16 ROWS, BM] (wgmma: 16 rows a warp, i.e. one weight row's 16 code values; ROWS / warps repeats),
    its A operand [16 ROWS, BK], the code words [8 ROWS, 4V, 4] as the A fragments need them (lane 4g + t: row
    8r + g, the 4 words of each 32 columns in consecutive registers), x's shared-memory tiles [BM, BK].
    level_split: P lanes a weight row's code values (2 or 4; 0 for the WIDE form's 1), 8 / P rows a warp."""
    bad_warps = num_warps % 4 and not (wide and mma_v2)  # wgmma: whole warpgroups
    rows_a_warp = 8 // level_split if level_split else 8
    split_ok = wide and mma_v2 and bits == 4 and level_split in (2, 4)
    if rows % num_warps or bad_warps or block_k % 32 or block_m % 8 or not 8 <= block_m <= 256 or (
            wide and rows != rows_a_warp * num_warps) or (level_split and not split_ok):  # fmt: skip
        raise ValueError(f"no bucket wgmma layout for {rows} rows x {block_m} tokens x {block_k} columns over "
                         f"{num_warps} warps" + (f" (WIDE: {rows_a_warp} rows a warp)" if wide else "")
                         + (" (LEVEL_SPLIT 2 or 4: WIDE, MMA_V2, 4-bit)" if level_split else ""))  # fmt: skip
    if mma_v2:  # mma.sync m16n8k16: the same A fragments a warp
        acc = gl.NVMMADistributedLayout(version=[2, 0], warps_per_cta=[num_warps, 1], instr_shape=[16, 8])
    else:
        acc = gl.NVMMADistributedLayout(version=[3, 0], warps_per_cta=[num_warps, 1], instr_shape=[16, block_m, 16])
    a = gl.DotOperandLayout(operand_index=0, parent=acc, k_width=2)
    b = gl.DotOperandLayout(operand_index=1, parent=acc, k_width=2)
    v = block_k // 32
    reg = [[0, 0, 1], [0, 0, 2]] + [[0, 4 << i, 0] for i in range(v.bit_length() - 1)]
    reg += [[8 * num_warps << i, 0, 0] for i in range((rows // num_warps).bit_length() - 1)]
    lanes = [[0, 1, 0], [0, 2, 0], [1, 0, 0], [2, 0, 0], [4, 0, 0]]
    warps = [[8 << i, 0, 0] for i in range(num_warps.bit_length() - 1)]
    words = gl.DistributedLinearLayout(reg_bases=reg, lane_bases=lanes, warp_bases=warps, block_bases=[],
                                       shape=[8 * rows, 4 * v, 4])  # fmt: skip
    # the codes' tile [ROWS, BK / 8] words: whole rows a thread (every lane of a row's warp), then broadcast over the
    # lanes as [ROWS, 8 (g), V, 4 (t), 4 (b)]
    c = gl.BlockedLayout([1, 4 * v], [1, 32], [num_warps, 1], [1, 0])
    w5 = gl.BlockedLayout([1, 1, v, 1, 4], [1, 8, 1, 4, 1], [num_warps, 1, 1, 1, 1], [4, 3, 2, 1, 0])
    if wide:  # words [ROWS, BK / 16, 2, 4] (_words_wide): lane 4g + t of warp w holds row 8w + g's words, byte t
        s_bits = (block_k // 16).bit_length() - 1
        warps = [[8 << i, 0, 0, 0] for i in range(num_warps.bit_length() - 1)]
        words = gl.DistributedLinearLayout(
            reg_bases=[[0, 0, 1, 0]] + [[0, 1 << i, 0, 0] for i in range(s_bits)],
            lane_bases=[[0, 0, 0, 1], [0, 0, 0, 2], [1, 0, 0, 0], [2, 0, 0, 0], [4, 0, 0, 0]],
            warp_bases=warps, block_bases=[], shape=[rows, block_k // 16, 2, 4])  # fmt: skip
        # the codes' tile [ROWS, BK / 8]: row 8w + g's words in lanes 4g + 0..3 (a broadcast over t)
        c = gl.DistributedLinearLayout(
            reg_bases=[[0, 1 << i] for i in range(s_bits + 1)],
            lane_bases=[[0, 0], [0, 0], [1, 0], [2, 0], [4, 0]],
            warp_bases=[[8 << i, 0] for i in range(num_warps.bit_length() - 1)], block_bases=[],
            shape=[rows, block_k // 8])  # fmt: skip
    if level_split:  # words [ROWS, P, BK / 16, 2, 4] (_words_split): lane 4 (R gq + gw) + t of warp w, row R w + gw
        s_bits = (block_k // 16).bit_length() - 1
        r_bits = rows_a_warp.bit_length() - 1
        q_bits = level_split.bit_length() - 1
        words = gl.DistributedLinearLayout(
            reg_bases=[[0, 0, 0, 1, 0]] + [[0, 0, 1 << i, 0, 0] for i in range(s_bits)],
            lane_bases=[[0, 0, 0, 0, 1], [0, 0, 0, 0, 2]] + [[1 << i, 0, 0, 0, 0] for i in range(r_bits)]
            + [[0, 1 << i, 0, 0, 0] for i in range(q_bits)],
            warp_bases=[[rows_a_warp << i, 0, 0, 0, 0] for i in range(num_warps.bit_length() - 1)], block_bases=[],
            shape=[rows, level_split, block_k // 16, 2, 4])  # fmt: skip
        # the codes' tile [ROWS, BK / 8]: row R w + gw's words in lanes 4 (R gq + gw) + t (a broadcast over gq, t)
        c = gl.DistributedLinearLayout(
            reg_bases=[[0, 1 << i] for i in range(s_bits + 1)],
            lane_bases=[[0, 0], [0, 0]] + [[1 << i, 0] for i in range(r_bits)] + [[0, 0]] * q_bits,
            warp_bases=[[rows_a_warp << i, 0] for i in range(num_warps.bit_length() - 1)], block_bases=[],
            shape=[rows, block_k // 8])  # fmt: skip
    x_smem = gl.NVMMASharedLayout(swizzle_byte_width=min(128, 2 * block_k), element_bitwidth=16, rank=2)
    c_smem = gl.NVMMASharedLayout(swizzle_byte_width=0, element_bitwidth=32, rank=2)
    fold = acc  # the 16-rows-a-weight-row form folds in the acc's layout
    if wide:  # _fold_wide's [ROWS, BM, L]: registers code values, then tokens 2tl + 1 and 8j; lanes 4g + tl
        levels = 1 << bits
        fold = gl.DistributedLinearLayout(
            reg_bases=[[0, 0, 1 << i] for i in range(levels.bit_length() - 1)] + [[0, 1, 0]]
            + [[0, 8 << i, 0] for i in range((block_m // 8).bit_length() - 1)],
            lane_bases=[[0, 2, 0], [0, 4, 0], [1, 0, 0], [2, 0, 0], [4, 0, 0]],
            warp_bases=[[8 << i, 0, 0] for i in range(num_warps.bit_length() - 1)], block_bases=[],
            shape=[rows, block_m, levels])  # fmt: skip
    if level_split:  # [ROWS, BM, 16]: the lane's 16 / P code values in registers, its part gq lane bits
        lane_values = 16 // level_split
        fold = gl.DistributedLinearLayout(
            reg_bases=[[0, 0, 1 << i] for i in range(lane_values.bit_length() - 1)] + [[0, 1, 0]]
            + [[0, 8 << i, 0] for i in range((block_m // 8).bit_length() - 1)],
            lane_bases=[[0, 2, 0], [0, 4, 0]] + [[1 << i, 0, 0] for i in range(r_bits)]
            + [[0, 0, lane_values << i] for i in range(q_bits)],
            warp_bases=[[rows_a_warp << i, 0, 0] for i in range(num_warps.bit_length() - 1)], block_bases=[],
            shape=[rows, block_m, 16])  # fmt: skip
    return {"acc_layout": acc, "a_layout": a, "w_layout": words, "c_layout": c, "w5_layout": w5, "b_layout": b,
            "f_layout": fold,
            "x_smem_layout": x_smem, "c_smem_layout": c_smem}  # fmt: skip


# the smem ones go with the descriptors
KERNEL_LAYOUTS = ("acc_layout", "a_layout", "w_layout", "c_layout", "w5_layout", "b_layout", "f_layout")


def bucket_wgmma_ok(x: torch.Tensor, codes_packed: torch.Tensor, lut_pool: torch.Tensor, bits: int,
                    block_k: int = 64) -> bool:  # fmt: skip
    """Whether this kernel takes the call: Gluon, an sm_90 GPU, x and the LUT of one 16-bit type, prmt_ok's codes,
    K and the group size multiples of block_k."""
    gs = triton.cdiv(x.shape[1], lut_pool.shape[2])
    return (
        wgmma_prefill_ok(x, codes_packed, lut_pool, bits, gs, block_k)  # the same types and multiples
        # TMA: 16-byte aligned bases and row strides, x in whole rows
        and x.is_contiguous()
        and x.data_ptr() % 16 == 0
        and codes_packed.data_ptr() % 16 == 0
        and codes_packed.stride(0) % 16 == 0
        and codes_packed.stride(1) == 1
    )


# (ROWS, BLOCK_K, warps, stages, SPLIT_K), BLOCK_M from the token count (8, 16, 32 or 64). sm_90 (16 tokens, Triton
# 3.6): 118-223 registers.
BUCKET_WGMMA_CANDIDATES = [(16, 64, 4, 8, 1), (16, 64, 4, 8, 2), (16, 64, 4, 12, 2), (16, 32, 4, 12, 2),
                           (16, 32, 4, 16, 2), (32, 32, 8, 8, 2), (32, 64, 8, 8, 1), (16, 64, 4, 4, 2),
                           (32, 32, 4, 12, 2), (64, 32, 8, 12, 1), (16, 64, 4, 8, 4), (16, 64, 4, 4, 4)]  # fmt: skip
# What the op's tuning times (bucket_wgmma_configs_for), so that a GPU without shipped choices compiles 6 variants a
# token tile at start-up, not 12: the four that were fastest in every H200 grid case (3 shapes x 16 and 64 tokens,
# results/bucket_wgmma_grid_ring_gpr1_h200_thirtyfirst.json), and two at split-K 4, whose ranges are one LUT group each
# at gpr 4 (K 4,096 or 11,008), so that each program folds once after its loop (ONE_FOLD; thirty-eighth session, 64
# tokens over 16 tasks at gpr 4 on the H200: 1.09-1.27x the split-K 1-2 choices, serving 64 x 16 38.4 -> 33.1 ms).
OP_CANDIDATES = [(16, 64, 4, 8, 1), (16, 64, 4, 4, 2), (16, 64, 4, 8, 2), (16, 64, 4, 12, 2), (16, 64, 4, 8, 4),
                 (16, 64, 4, 4, 4)]  # fmt: skip
# MMA_V2 (mma.sync instead of wgmma, x's fragments by ldmatrix; thirty-first session, for 16 tokens and fewer):
# (ROWS, BLOCK_K, warps, stages, SPLIT_K); ~128 registers at 16 rows and BK 64 (4 programs an SM)
BUCKET_MMA_V2_CANDIDATES = [(16, 64, 4, 8, 1), (16, 64, 4, 8, 2), (16, 32, 4, 12, 2), (16, 32, 4, 12, 4),
                            (32, 32, 4, 12, 2), (32, 64, 8, 8, 1), (16, 64, 4, 4, 2), (16, 64, 4, 12, 4)]  # fmt: skip


# WIDE (each lane's encoded codes compared with every code value, 8 weight rows a warp; thirty-second session):
# (ROWS, BLOCK_K, warps, stages, SPLIT_K, MMA_V2, maxnreg; 0 = ptxas's choice)
BUCKET_WIDE_CANDIDATES = [(32, 64, 4, 8, 1, 1, 0), (32, 64, 4, 8, 2, 1, 0), (32, 64, 4, 8, 4, 1, 0),
                          (16, 64, 2, 8, 2, 1, 0), (16, 64, 2, 8, 4, 1, 0), (32, 32, 4, 12, 2, 1, 0),
                          (32, 64, 4, 8, 2, 1, 168), (16, 64, 2, 8, 2, 1, 168), (32, 64, 4, 8, 2, 0, 0),
                          (64, 64, 8, 8, 1, 1, 0), (8, 64, 1, 8, 4, 1, 0), (32, 64, 4, 4, 2, 1, 0),
                          (16, 128, 2, 4, 4, 1, 0), (32, 128, 4, 4, 4, 1, 0), (16, 256, 2, 2, 4, 1, 0),
                          (16, 256, 2, 3, 4, 1, 0), (32, 256, 4, 2, 4, 1, 0), (16, 256, 2, 2, 2, 1, 0),
                          (16, 256, 2, 2, 8, 1, 0)]  # fmt: skip


def bucket_wide_candidates(m: int, group_size: int) -> list[dict]:
    """BUCKET_WIDE_CANDIDATES as configs (LAYOUT "wgmma", WIDE), those whose BLOCK_K divides the group size. The
    token tile is 8 or 16 (WIDE_MAX_TILE): more tokens take several tiles, each a program of its own."""
    keys = ("ROWS", "BLOCK_K", "num_warps", "num_stages", "SPLIT_K", "MMA_V2", "maxnreg")
    bm = min(bucket_wgmma_block_m(m), WIDE_MAX_TILE)
    configs = [{"LAYOUT": "wgmma", "BLOCK_M": bm, "WIDE": 1, **dict(zip(keys, c, strict=True))}
               for c in BUCKET_WIDE_CANDIDATES]  # fmt: skip
    return [c for c in configs if group_size % c["BLOCK_K"] == 0]


# LEVEL_SPLIT = P (the WIDE form with a weight row's code values over P lanes, 8 / P rows a warp, mma.sync, 4-bit;
# fortieth session): (P, ROWS, BLOCK_K, warps, stages, SPLIT_K), token tiles of 16 P (P = 2 from 17 tokens, 4 from
# 33). The op's tuning times only those listed in LEVEL_SPLIT_OP_CANDIDATES (P = 2; the rest are for
# benchmarks/bucket_level_split.py and re-tunes). More warps a program hold more weight rows, so that fewer programs
# read the same x tile (at 32 tokens and 16 rows a program x's reads from L2 are as many as the WIDE form's two
# 16-token tiles make).
BUCKET_LEVEL_SPLIT_CANDIDATES = [(2, 8, 256, 2, 2, 4), (2, 8, 256, 2, 3, 4), (2, 16, 256, 4, 2, 4),
                                 (2, 8, 128, 2, 4, 4), (2, 16, 128, 4, 4, 4), (2, 32, 256, 8, 2, 4),
                                 (2, 16, 256, 4, 2, 2), (2, 8, 256, 2, 2, 1), (4, 8, 256, 4, 2, 4),
                                 (4, 16, 256, 8, 2, 4), (4, 8, 128, 4, 3, 4), (4, 16, 128, 8, 3, 4),
                                 (4, 4, 256, 2, 2, 4), (4, 16, 256, 8, 2, 2),
                                 # BLOCK_K 64: the groups of 4096x11008 at gpr 4 (2,752 columns)
                                 (2, 8, 64, 2, 8, 4), (4, 8, 64, 4, 4, 4)]  # fmt: skip


def bucket_level_split_candidates(m: int, group_size: int) -> list[dict]:
    """BUCKET_LEVEL_SPLIT_CANDIDATES as configs (WIDE, MMA_V2, LEVEL_SPLIT P) for m tokens: P = 2 above 16 tokens
    (tiles of up to 32), P = 4 above 32 (tiles of 64); those whose BLOCK_K divides the group size."""
    keys = ("LEVEL_SPLIT", "ROWS", "BLOCK_K", "num_warps", "num_stages", "SPLIT_K")
    configs = []
    for c in BUCKET_LEVEL_SPLIT_CANDIDATES:
        p = c[0]
        if m > 8 * p and group_size % c[2] == 0:
            bm = min(bucket_wgmma_block_m(m), 16 * p)
            configs.append({"LAYOUT": "wgmma", "BLOCK_M": bm, "WIDE": 1, "MMA_V2": 1,
                            **dict(zip(keys, c, strict=True))})  # fmt: skip
    return configs


def bucket_wgmma_block_m(m: int) -> int:
    """The token tile for m tokens: the smallest of 8, 16, 32, 64 that holds them (64 beyond)."""
    return next((b for b in (8, 16, 32) if m <= b), 64)


def bucket_wgmma_candidates(m: int, group_size: int, mma_v2: bool = False) -> list[dict]:
    """BUCKET_WGMMA_CANDIDATES (and with mma_v2 BUCKET_MMA_V2_CANDIDATES) as configs (LAYOUT "wgmma":
    triton_bucket.launch_bucket routes them here), those whose BLOCK_K divides the group size."""
    keys = ("ROWS", "BLOCK_K", "num_warps", "num_stages", "SPLIT_K")
    bm = bucket_wgmma_block_m(m)
    wgmma = [{"LAYOUT": "wgmma", "BLOCK_M": bm, **dict(zip(keys, c, strict=True))} for c in BUCKET_WGMMA_CANDIDATES]
    v2 = [{"LAYOUT": "wgmma", "BLOCK_M": bm, "MMA_V2": 1, **dict(zip(keys, c, strict=True))}
          for c in BUCKET_MMA_V2_CANDIDATES] if mma_v2 else []  # fmt: skip
    return [c for c in wgmma + v2 if group_size % c["BLOCK_K"] == 0]


# Up to 16 tokens the 16-rows-a-weight-row one-hot lost to the mma.sync bucket kernels (H200, thirty-first session:
# 49 against 31.6 us at 16 tokens over 16 tasks on 4096x4096; its one-hot chain is issue-latency-bound); the WIDE
# form serves there (thirty-second session); at 64 tokens this kernel took 77 against 134 us.
WGMMA_MIN_M = 17
# The WIDE form's largest token tile: its accumulators are 64 fp32 registers a thread at 16 tokens (8 weight rows a
# warp x 16 code values). From 17 to WIDE_MAX_M tokens the op's tuning times it in tiles of 16 (a program each; a
# row tile's token tiles are neighbours in the grid, so the later ones read the codes from L2) beside the wgmma
# form. H200, thirty-ninth session: it took every 32-token key (1.13-1.45x; 4096x4096 gpr 1 53.2 -> 44.4 us) and
# the 64-token keys at gpr 4 but 4096x11008 (1.05-1.08x); serving 32 x 16 16.4 ms a step against 19.2 (gpr 1),
# 16.8 against 22.7 (gpr 4), 64 x 16 at gpr 4 30.9 against 32.9.
WIDE_MAX_TILE = 16
WIDE_MAX_M = 64


# What the op's tuning times up to 16 tokens: the WIDE configs within 2 % of the best in some case of the grids (H200,
# 3 shapes x 16 x 16 and 8 x 8, gpr 1 and 4, results/bucket_wide*_grid_gpr*_thirtysecond.*; with the contiguous fold
# split-K 4 led at 16 tokens, and BLOCK_K 128 led all three 16 x 16 cases of the last grid by 7-9 %); BLOCK_K 256
# (thirty-third session) won every 16- and 8-token key it divides the groups of (all but 4096x11008 at gpr 4: 2,752
# columns), by 2-20 %
WIDE_OP_CANDIDATES = [(16, 64, 2, 8, 4, 1, 0), (32, 64, 4, 8, 4, 1, 0), (16, 64, 2, 8, 2, 1, 168),
                      (32, 64, 4, 8, 2, 1, 168), (8, 64, 1, 8, 4, 1, 0), (32, 64, 4, 8, 1, 1, 0),
                      (16, 128, 2, 4, 4, 1, 0), (32, 128, 4, 4, 4, 1, 0), (16, 256, 2, 2, 4, 1, 0),
                      (32, 256, 4, 2, 4, 1, 0)]  # fmt: skip


def bucket_wgmma_configs_for(x: torch.Tensor, codes_packed: torch.Tensor, lut_pool: torch.Tensor, bits: int,
                             m_bucket: int) -> list[dict]:  # fmt: skip
    """The candidates the op's bucket tuning adds for this call (the key's m_bucket, whose token tile serves every m
    of the key): the WIDE form up to WIDE_MAX_M tokens, the wgmma form from WGMMA_MIN_M (both between); none where
    the kernel does not take the call."""
    if not bucket_wgmma_ok(x, codes_packed, lut_pool, bits, 32):
        return []
    k = x.shape[1]
    gs = triton.cdiv(k, lut_pool.shape[2])
    configs = bucket_wgmma_candidates(m_bucket, gs) if m_bucket >= WGMMA_MIN_M else []
    configs += bucket_wide_candidates(m_bucket, gs) if m_bucket <= WIDE_MAX_M else []
    configs += bucket_level_split_candidates(m_bucket, gs) if bits == 4 and m_bucket <= WIDE_MAX_M else []
    return [c for c in configs if k % c["BLOCK_K"] == 0 and op_candidate(c)]


# The LEVEL_SPLIT candidates the op's tuning times, as BUCKET_LEVEL_SPLIT_CANDIDATES' tuples: those that won a key of
# the 32- and 64-token re-tunes over every candidate (forty-first session, H200, results/
# bucket_retune_retune_level_split_{32,64}_fortyfirst.json: 13 of 20 keys, 2-6 %; P = 4 won none).
LEVEL_SPLIT_OP_CANDIDATES: list[tuple] = [(2, 16, 256, 4, 2, 4), (2, 16, 128, 4, 4, 4), (2, 16, 256, 4, 2, 2),
                                          (2, 8, 64, 2, 8, 4)]  # fmt: skip


def op_candidate(config: dict) -> bool:
    """Whether the op's tuning times this config (OP_CANDIDATES of the wgmma form, WIDE_OP_CANDIDATES,
    LEVEL_SPLIT_OP_CANDIDATES)."""
    if config.get("PROBE"):  # benchmarks only: wrong results by design
        return False
    if config.get("LEVEL_SPLIT"):
        keys = ("LEVEL_SPLIT", "ROWS", "BLOCK_K", "num_warps", "num_stages", "SPLIT_K")
        return tuple(config[k] for k in keys) in LEVEL_SPLIT_OP_CANDIDATES
    if config.get("WIDE"):
        keys = ("ROWS", "BLOCK_K", "num_warps", "num_stages", "SPLIT_K", "MMA_V2", "maxnreg")
        return tuple(config.get(k, 0) for k in keys) in WIDE_OP_CANDIDATES
    keys = ("ROWS", "BLOCK_K", "num_warps", "num_stages", "SPLIT_K")
    return not config.get("MMA_V2") and tuple(config[k] for k in keys) in OP_CANDIDATES


def release_mode(config: dict) -> int:
    """The kernel's RELEASE for a launcher config: its RELEASE (0, 1 or 2; the kernel's docstring), by default 1,
    for the WIDE form (which alone launches with PDL); 0 for the wgmma form."""
    release = int(config.get("RELEASE", 1))
    if release not in (0, 1, 2):
        raise ValueError(f"RELEASE is 0, 1 or 2, got {config['RELEASE']}")
    return release if config.get("WIDE") else 0


def one_fold(k_blocks: int, group_blocks: int, per_split: int) -> bool:
    """Whether every K range of per_split blocks (the last one shorter) lies within one LUT group of group_blocks."""
    return k_blocks <= group_blocks or group_blocks % per_split == 0


def launch_bucket_wgmma(x: torch.Tensor, codes_packed: torch.Tensor, lut_pool: torch.Tensor,
                        slot_of_token: torch.Tensor, bits: int, y: torch.Tensor, config: dict) -> None:  # fmt: skip
    """y [M, N] <- the wgmma bucket kernel. config: ROWS (weight rows a program, a multiple of num_warps), BLOCK_M
    (tokens a tile: 8 to 256, a multiple of 8), BLOCK_K (32, 64 or 128), num_warps (4 or 8), num_stages (3 or 4),
    SPLIT_K (ranges of whole K blocks; default 1), RELEASE (release_mode), ONE_FOLD (default 1: each program folds
    once, after its K loop, where one_fold says its K range lies in one LUT group; 0 keeps the fold in the loop),
    LEVEL_SPLIT (P = 2 or 4: the WIDE form with each weight row's code values over P lanes; the kernel's
    docstring)."""
    release = release_mode(config)
    m, k = x.shape
    n = codes_packed.shape[0]
    gs = triton.cdiv(k, lut_pool.shape[2])
    rows, bm, bk = config["ROWS"], config["BLOCK_M"], config["BLOCK_K"]
    stages, warps = config.get("num_stages", 3), config.get("num_warps", 4)
    if not bucket_wgmma_ok(x, codes_packed, lut_pool, bits, bk):
        raise ValueError("the wgmma bucket kernel takes sm_90, x and LUT of one 16-bit type, prmt_ok codes and K "
                         f"and group size {gs} multiples of BLOCK_K={bk}")  # fmt: skip
    if not 2 <= stages <= 16 or slot_of_token.shape[0] != m or not x.is_contiguous():
        raise ValueError("the wgmma bucket kernel takes 2 to 16 stages, one slot per token and a contiguous x")
    mma_v2, wide = bool(config.get("MMA_V2", 0)), bool(config.get("WIDE", 0))
    level_split = int(config.get("LEVEL_SPLIT", 0))
    layouts = bucket_wgmma_layouts(warps, rows, bm, bk, mma_v2, wide, bits, level_split)
    x_desc = TensorDescriptor.from_tensor(x, [bm, bk], layouts["x_smem_layout"])
    c_desc = TensorDescriptor.from_tensor(codes_packed.view(torch.int32), [rows, bk // 8], layouts["c_smem_layout"])
    programs = triton.cdiv(m, bm) * triton.cdiv(n, rows)
    per_split, split, ws, counters = split_k_tiles(y, k // bk, int(config.get("SPLIT_K", 1)), programs, rows * bm)
    _bucket_wgmma_kernel[(programs, split)](
        x_desc, c_desc, lut_pool, slot_of_token, y, ws, counters,
        m, n, k, gs, lut_pool.stride(0), lut_pool.stride(1), y.stride(0), per_split,
        BITS=bits, ROWS=rows, BLOCK_M=bm, BLOCK_K=bk, STAGES=stages,
        **{k_: layouts[k_] for k_ in KERNEL_LAYOUTS}, USE_SPLIT=split > 1, MMA_V2=mma_v2, WIDE=wide,
        PROBE=int(config.get("PROBE", 0)), RELEASE=release,
        ONE_FOLD=bool(config.get("ONE_FOLD", 1)) and one_fold(k // bk, gs // bk, per_split), LEVEL_SPLIT=level_split,
        **(pdl_args(x.device) if wide else {}),  # the wgmma form (32-64 rows) was not timed with PDL
        num_warps=warps, **register_cap(config),
    )  # fmt: skip
