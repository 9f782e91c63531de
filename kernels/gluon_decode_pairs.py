"""Decode of one task on tensor cores, each pair of weights looked up in a table of code pairs in shared memory.

The fragment kernel (triton_decode_mma.py) builds mma.sync's A fragments in registers by byte permutes: ~21
instructions for a code word's 8 weights, 4.1 per weight in its loop, and at 4-16 tokens it stays at 1.1-1.3x
cuBLAS against the issue's bar of 2.5x. Here a program first writes, for its rows and LUT group, the two weights
of every byte value of codes:

    T[b, s] = LUT[row(s), g, b & 15] | LUT[row(s), g, b >> 4] << 16    b32: the even column's weight in the low
                                                                       half, as A's pairs and the packed codes take it
    T [TABLES, 256 byte values, 64 slots] int32: 64 KB of shared memory a table (TABLES 1 or 2); slot 64 k + s
    (table k) = COPIES r + c: row r of the program's 16 RB rows, copy c < COPIES = 4 TABLES / RB

so one 32-bit shared load per byte of codes is one A register. Its address is one byte permute: the lane's slot
offset (k in byte 2, 4 s < 256 in byte 0) with the code byte as byte 1, which is 65536 k + 256 b + 4 s; ptxas adds
the tables' base as a uniform register inside the load ([R + UR]). Two instructions per two weights (PRMT, LDS),
against ~5.5.

Bank conflicts: T[k, b, s] lies in bank s % 32. One load serves the 32 lanes of a warp, lane 4 g + t reading rows g
(or g + 8) of its block with copy t % COPIES: 8 rows x COPIES distinct slots, 8 COPIES consecutive ones, each bank
read by 4 / COPIES lanes. With one table, RB = 1 (16 rows, 4 copies) is conflict-free, RB = 2 costs 2 wavefronts a
load, RB = 4 (64 rows, one copy) 4; two tables (128 KB, one program an SM) give RB = 2 4 copies and RB = 4 2. More
rows a program amortise its tables' writing (512 wavefronts of 128 bytes each) and x's reads (every row tile reads
all of x: 16 tokens' x is 4 times the codes' bytes a row) over more lookups; which pays is for the GPU to say
(benchmarks/pairs_decode.py).

The MMA side is the fragment kernel's (its docstring has the fragment maps): lane 4 g + t of warp kw RB + rb holds
rows 16 rb + g and 16 rb + g + 8 of the program's, code words WPL t + i (i < WPL) of its chunks (32 WPL columns;
the WK warps of a row block take turns over them), whose 8 columns p .. p + 7 give k-steps 2 i (the pairs at p and
p + 2: the word's bytes 0 and 1) and 2 i + 1 (bytes 2, 3), and x's B fragments at the same columns: one 16-byte
load per word and tile of 8 tokens (token 8 j + g). y = sum over k-steps of mma.sync m16n8k16 (fp32 accumulators).

    program (n tile, k split): rows 16 RB n .. + 16 RB, columns [k split's range) within one LUT group
        the first PREFETCH steps' code words and x loaded (a step: one chunk for each of the WK warps of a block)
        T <- the group's pairs of the tile's rows (16 passes over the high nibble, each storing 16 x 64 entries a
        table); barrier
        for each step (PREFETCH steps' words and x in flight):
            per word: 8 x (PRMT, LDS) -> the A pairs of rows g, g + 8; 2 TILES mma.sync
        WK > 1: each block's WK warps' sums added through the tables' memory
        y[tokens, rows] <- accumulators (SPLIT_K: fp32 partials, the tile's last program to arrive sums them)

STAGES (fifty-first session, after the H100 timed the register ring: latency-bound, DRAM 18-24 % busy): the code
words go through a ring of STAGES steps in shared memory, each lane's words one cp.async per row and one vector
shared load, both inline asm (each thread reads only what it copied, so no CTA barrier: the compiler's hazard
analysis would put one in every step), STAGES - 1 steps ahead: more bytes in flight an SM for no registers.
XSTAGE (fifty-second session, after STAGES's loop was found waiting on x's loads at its MMAs): x's quads through a
second ring the same way, in the code words' commit groups.

One slot: every token's LUT is token 0's slot's (the one-task decode). Needs Triton >= 3.9 (Gluon's inline_asm
takes a shared-memory descriptor as an address), sm_90 (64 KB of shared memory a table: up to 3 one-table programs
an SM), 3/4-bit codes, x and the LUT of one 16-bit type, K and the group size multiples of a step (32 WPL WK
columns), rows of codes and x 16-byte aligned. No CPU form (Gluon has no interpreter):
tests/kernels/test_gluon_decode_pairs.py checks the table's layout, the byte-permute addresses and the fragment
maps with a torch model of the kernel (pairs_model), and compiles the kernel for sm_90 where Triton can.
"""

from __future__ import annotations

import torch
import triton

from kernels.prmt_lut import prmt
from kernels.triton_common import pdl_args, split_k_launch
from kernels.triton_prefill_wgmma import HAVE_GLUON

TABLE_SLOTS = triton.language.constexpr(64)  # slots a table row: 4 s < 256 fits the address's byte 0
SHARED_LIMIT = 227 * 1024  # a program's shared memory on sm_90, less the 1 KB the driver reserves
MAX_TOKENS = 16
# prmt selectors of a word's byte j: result byte 0 the slot offset's byte 0, byte 1 the word's byte j (bytes 4-7 of
# prmt's {word, offset}), bytes 2-3 the offset's (the table's index, zero with one table)
LOOKUP_SELECTORS = tuple(0x3240 + 0x10 * j for j in range(4))

if HAVE_GLUON:
    from triton.experimental import gluon
    from triton.experimental.gluon import language as gl

HAVE_PAIRS = HAVE_GLUON and hasattr(gl, "inline_asm")  # Triton >= 3.9

if HAVE_PAIRS:
    from kernels.triton_bucket_wgmma import _gdc_release, _gdc_wait

    MMA_F16 = gl.constexpr(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {$0, $1, $2, $3}, {$8, $9, $10, $11}, {$12, $13}, "
        "{$4, $5, $6, $7};"
    )
    MMA_BF16 = gl.constexpr(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {$0, $1, $2, $3}, {$8, $9, $10, $11}, {$12, $13}, "
        "{$4, $5, $6, $7};"
    )
    MMA_CONSTR = gl.constexpr("=f,=f,=f,=f,f,f,f,f,r,r,r,r,r,r")

    @gluon.constexpr_function
    def _lookup_asm(outputs, inputs):
        """The 4 A pairs of a code word: per byte j, address = prmt(slot offset, word) (byte 0 the slot offset's,
        byte 1 the word's byte j), plus the table's base, then one shared load."""
        (word,), (offset,), (table,) = inputs
        lines = ["{", ".reg .b32 a<4>;"]
        for j, (out,) in enumerate(outputs):
            lines.append(f"prmt.b32 a{j}, {offset}, {word}, {LOOKUP_SELECTORS[j]:#x};")
            lines.append(f"add.u32 a{j}, a{j}, {table};")
            lines.append(f"ld.shared.b32 {out}, [a{j}];")
        lines.append("}")
        return "\n".join(lines)

    @gluon.constexpr_function
    def _ring_asm(outputs, inputs):
        """A lane's WPL words from the ring: one vector shared load at the ring's base plus the lane's offset."""
        (offset,), (ring,) = inputs
        outs = ", ".join(out for (out,) in outputs)
        vec = "" if len(outputs) == 1 else f".v{len(outputs)}"
        return f"{{ .reg .b32 a; add.u32 a, {offset}, {ring}; ld.shared{vec}.b32 {{{outs}}}, [a]; }}"

    @gluon.jit
    def _ring_words(ring, offset, WPL: gl.constexpr, LANES: gl.constexpr):
        """The WPL code words (int32 lane tensors) at byte offset of the ring. Read by inline asm, which the
        compiler's shared-memory hazard analysis does not see: each thread reads only what its own cp.async wrote,
        after its own wait, so no CTA barrier is needed (and none is inserted around the ring's copies)."""
        ty: gl.constexpr = gl.distributed_type(gl.int32, [offset.shape[0]], LANES)
        if WPL == 1:
            words = gl.inline_asm(_ring_asm, ("=r", "r", "r"), [offset, ring], (ty,), is_pure=False)  # a 1-tuple
        elif WPL == 2:
            words = gl.inline_asm(_ring_asm, ("=r", "=r", "r", "r"), [offset, ring], (ty, ty), is_pure=False)
        else:
            words = gl.inline_asm(_ring_asm, ("=r", "=r", "=r", "=r", "r", "r"), [offset, ring], (ty, ty, ty, ty),
                                  is_pure=False)  # fmt: skip
        return words

    @gluon.jit
    def _wait_copies(lane, PENDING: gl.constexpr):
        """cp.async.wait_group PENDING, as inline asm: Gluon's wait_group is followed by a CTA barrier (the hazard
        analysis's rule for copies other threads read), which the ring does not need (lane: any lane tensor, the
        asm's dummy operand)."""
        return gl.inline_asm_elementwise(f"cp.async.wait_group {PENDING}; mov.u32 $0, $1;", "=r,r", [lane],
                                         dtype=gl.int32, is_pure=False, pack=1)  # fmt: skip

    @gluon.jit
    def _lookup(word, offset, table, LANES: gl.constexpr):
        """The 4 pairs (int32 lane tensors) of the weights a word's bytes 0-3 hold, from the row's table slot."""
        ty: gl.constexpr = gl.distributed_type(gl.int32, [word.shape[0]], LANES)
        return gl.inline_asm(_lookup_asm, ("=r", "=r", "=r", "=r", "r", "r", "r"), [word, offset, table],
                             (ty, ty, ty, ty), is_pure=False)  # fmt: skip

    @gluon.jit
    def _mma(c0, c1, c2, c3, a0, a1, a2, a3, xb, BF16: gl.constexpr):
        """One m16n8k16 step: (c0 .. c3) + A (a0 .. a3) @ B, B's two pairs the halves of xb (int64 lane tensor)."""
        b0 = (xb & 0xFFFFFFFF).to(gl.int32)
        b1 = (xb >> 32).to(gl.int32)
        return gl.inline_asm_elementwise(MMA_BF16 if BF16 else MMA_F16, MMA_CONSTR,
                                         [c0, c1, c2, c3, a0, a1, a2, a3, b0, b1],
                                         dtype=(gl.float32, gl.float32, gl.float32, gl.float32), is_pure=True,
                                         pack=1)  # fmt: skip

    @gluon.jit
    def _build_table(table, lut_row0, row0, N, stride_ln, NV: gl.constexpr, NW: gl.constexpr,
                     COPIES: gl.constexpr, TABLES: gl.constexpr):  # fmt: skip
        """T[k, b, s] <- the pair (LUT[b & 15], LUT[b >> 4]) of slot 64 k + s's row (row0 + (64 k + s) // COPIES),
        lut_row0 pointing at row 0's group: 16 b-rows (one high nibble) a pass, each thread's low-nibble entries one
        row's contiguous LUT values, the stores 32 consecutive slots a warp (no conflict). Entries past NV or N are
        0."""
        for k in gl.static_range(TABLES):
            _build_one(table, k, lut_row0, row0, N, stride_ln, NV, NW, COPIES)

    @gluon.jit
    def _build_one(table, k, lut_row0, row0, N, stride_ln, NV: gl.constexpr, NW: gl.constexpr,
                   COPIES: gl.constexpr):  # fmt: skip
        """Table k of _build_table."""
        WS: gl.constexpr = 2 if NW >= 2 else 1  # warps along the slots
        WL: gl.constexpr = NW // WS  # warps along the low nibble
        BL: gl.constexpr = gl.BlockedLayout([16 // WL, TABLE_SLOTS // (32 * WS)], [1, 32], [WL, WS], [0, 1])
        lo = gl.arange(0, 16, layout=gl.SliceLayout(1, BL))
        s = gl.arange(0, TABLE_SLOTS, layout=gl.SliceLayout(0, BL)) + k * TABLE_SLOTS
        row = s // COPIES
        row_ok = row0 + row < N
        row_ptr = lut_row0 + row.to(gl.int64) * stride_ln  # [64]
        lo_mask = gl.expand_dims(lo < NV, 1) & gl.expand_dims(row_ok, 0)
        lo_vals = gl.load(gl.expand_dims(row_ptr, 0) + gl.expand_dims(lo, 1), mask=lo_mask, other=0.0)  # [16, 64]
        lo_bits = lo_vals.to(gl.int16, bitcast=True).to(gl.int32) & 0xFFFF
        for h in gl.static_range(NV):  # high nibbles past NV never occur in codes of NV values
            hi_vals = gl.load(row_ptr + h, mask=row_ok, other=0.0)  # [64]
            hi_bits = hi_vals.to(gl.int16, bitcast=True).to(gl.int32) << 16
            table.slice(256 * k + 16 * h, 16, dim=0).store(lo_bits | gl.expand_dims(hi_bits, 0))

    @gluon.jit
    def _split_words(v, WPL: gl.constexpr, LANES: gl.constexpr):
        """The WPL columns of v [NT, WPL] (each thread's row held whole) as a tuple of lane tensors."""
        if WPL == 1:
            words = (gl.convert_layout(gl.reshape(v, [v.shape[0]]), LANES),)
        elif WPL == 2:
            a, b = gl.split(v)
            words = (gl.convert_layout(a, LANES), gl.convert_layout(b, LANES))
        else:
            even, odd = gl.split(gl.reshape(v, [v.shape[0], 2, 2]))  # [NT, 2] each: words (0, 2) and (1, 3)
            a, c = gl.split(even)
            b, d = gl.split(odd)
            words = (gl.convert_layout(a, LANES), gl.convert_layout(b, LANES), gl.convert_layout(c, LANES),
                     gl.convert_layout(d, LANES))  # fmt: skip
        return words

    @gluon.jit
    def _x_quads(x_ptr, quad, XL2: gl.constexpr, LANES: gl.constexpr):
        """x's 8 values at quads quad, quad + 1 of the lane's token row (two int64 lane tensors, 16 bytes)."""
        q = gl.arange(0, 2, layout=gl.SliceLayout(0, XL2))
        ptrs = gl.expand_dims(gl.convert_layout(x_ptr, gl.SliceLayout(1, XL2)) + quad, 1) + gl.expand_dims(q, 0)
        a, b = gl.split(gl.load(ptrs))
        return gl.convert_layout(a, LANES), gl.convert_layout(b, LANES)

    @gluon.jit
    def _chunk_words(words0_ptr, words1_ptr, c0, WPL: gl.constexpr, NW: gl.constexpr, LANES: gl.constexpr):
        """A chunk's code words for each lane: WPL of row g's and of row g + 8's (int32, one vector load each)."""
        WL2: gl.constexpr = gl.BlockedLayout([1, WPL], [32, 1], [NW, 1], [1, 0])
        i = gl.expand_dims(gl.arange(0, WPL, layout=gl.SliceLayout(0, WL2)), 0)
        first = gl.multiple_of(c0 // 8, 4 * WPL)  # the chunk's first word (the lane's own, WPL t, is in words*_ptr)
        w0 = gl.load(gl.expand_dims(gl.convert_layout(words0_ptr, gl.SliceLayout(1, WL2)) + first, 1) + i)
        w1 = gl.load(gl.expand_dims(gl.convert_layout(words1_ptr, gl.SliceLayout(1, WL2)) + first, 1) + i)
        return _split_words(w0, WPL, LANES), _split_words(w1, WPL, LANES)

    @gluon.jit
    def _chunk_x(x0_ptr, x1_ptr, c0, TILES: gl.constexpr, WPL: gl.constexpr, NW: gl.constexpr, LANES: gl.constexpr):
        """A chunk's x for each lane: per word the 8 values of its columns for token g of each tile (two int64 quads,
        16 bytes). Token rows past M read row M - 1 (x*_ptr): an MMA's token column only reaches that token's
        outputs, which are masked."""
        XL2: gl.constexpr = gl.BlockedLayout([1, 2], [32, 1], [NW, 1], [1, 0])
        xs0 = ()
        xs1 = ()
        for j in gl.static_range(WPL):
            quad = c0 // 4 + 2 * j  # x quads of word j's columns (the lane's own first, 2 WPL t, is in x*_ptr)
            xs0 = xs0 + (_x_quads(x0_ptr, quad, XL2, LANES),)
            if TILES == 2:
                xs1 = xs1 + (_x_quads(x1_ptr, quad, XL2, LANES),)
        return xs0, xs1

    @gluon.constexpr_function
    def _copy_text(outputs, inputs, size: int) -> str:
        """cp.async of a lane's size bytes (4 WPL) of code words to the ring's base plus the lane's offset (16 bytes:
        .cg, around L1; fewer: .ca)."""
        ((done,),) = outputs
        (offset,), (ring,), (src,) = inputs
        kind = "cg" if size == 16 else "ca"
        return (f"{{ .reg .b32 a; add.u32 a, {offset}, {ring}; cp.async.{kind}.shared.global [a], [{src}], {size};"
                f" mov.u32 {done}, 0; }}")

    @gluon.constexpr_function
    def _copy_asm_16(outputs, inputs):
        return _copy_text(outputs, inputs, 16)

    @gluon.constexpr_function
    def _copy_asm_8(outputs, inputs):
        return _copy_text(outputs, inputs, 8)

    @gluon.constexpr_function
    def _copy_asm_4(outputs, inputs):
        return _copy_text(outputs, inputs, 4)

    @gluon.jit
    def _copy_words(ring, offset, src, WPL: gl.constexpr, LANES: gl.constexpr):
        """One lane's cp.async of its WPL words at src to the ring's byte offset (inline asm: see _ring_words)."""
        ty: gl.constexpr = gl.distributed_type(gl.int32, [offset.shape[0]], LANES)
        if WPL == 4:
            done = gl.inline_asm(_copy_asm_16, ("=r", "r", "r", "l"), [offset, ring, src], (ty,), is_pure=False)
        elif WPL == 2:
            done = gl.inline_asm(_copy_asm_8, ("=r", "r", "r", "l"), [offset, ring, src], (ty,), is_pure=False)
        else:
            done = gl.inline_asm(_copy_asm_4, ("=r", "r", "r", "l"), [offset, ring, src], (ty,), is_pure=False)
        return done[0]  # inline_asm's outputs are a tuple

    @gluon.jit
    def _ring_offset(stage, j, e, WPL: gl.constexpr, ROWS: gl.constexpr, NW: gl.constexpr):
        """Byte offset in the ring [STAGES 2 ROWS, 32 NW, WPL] (row-major, unswizzled) of thread e's WPL words of
        entry j (rows g, g + 8 of each of its blocks) of a stage: where _stage_chunk copies them and _staged_words
        reads them back."""
        return ((2 * ROWS * stage + j) * (32 * NW) + e) * (4 * WPL)

    @gluon.jit
    def _stage_chunk(ring, stage, done, e, words_ptrs, c0, WPL: gl.constexpr, ROWS: gl.constexpr, NW: gl.constexpr,
                     LANES: gl.constexpr):  # fmt: skip
        """STAGES: a chunk's code words (as _block_words reads them) copied by cp.async into the ring's stage
        (_ring_offset), then one commit group with any copies issued before (done: a lane tensor that depends on
        them). Inline asm throughout (see _ring_words)."""
        first = gl.multiple_of(c0 // 8, 4 * WPL)
        for j in gl.static_range(2 * ROWS):
            at = _ring_offset(stage, j, e, WPL, ROWS, NW)
            done = done + _copy_words(ring, at, words_ptrs[j] + first, WPL, LANES)
        return gl.inline_asm_elementwise("cp.async.commit_group; mov.u32 $0, $1;", "=r,r", [done], dtype=gl.int32,
                                         is_pure=False, pack=1)  # fmt: skip

    @gluon.jit
    def _staged_words(ring, stage, e, WPL: gl.constexpr, ROWS: gl.constexpr, NW: gl.constexpr, LANES: gl.constexpr):
        """The words _stage_chunk copied, back from the ring's stage (_ring_offset) in _block_words' form."""
        words = ()
        for b in gl.static_range(ROWS):
            w0 = _ring_words(ring, _ring_offset(stage, 2 * b, e, WPL, ROWS, NW), WPL, LANES)
            w1 = _ring_words(ring, _ring_offset(stage, 2 * b + 1, e, WPL, ROWS, NW), WPL, LANES)
            words = words + ((w0, w1),)
        return words

    @gluon.constexpr_function
    def _ring_x_asm(outputs, inputs):
        """A lane's two x quads of one word from the ring: one 16-byte shared load at the ring's base plus its
        offset."""
        (lo,), (hi,) = outputs
        (offset,), (ring,) = inputs
        return f"{{ .reg .b32 a; add.u32 a, {offset}, {ring}; ld.shared.v2.b64 {{{lo}, {hi}}}, [a]; }}"

    @gluon.jit
    def _xring_offset(stage, tile, j, e, TILES: gl.constexpr, WPL: gl.constexpr, NW: gl.constexpr):
        """Byte offset in the x ring [STAGES TILES WPL, 32 NW, 16 bytes] of thread e's two quads of word j of a
        tile in a stage (consecutive lanes, consecutive 16 bytes: conflict-free)."""
        return (((stage * TILES + tile) * WPL + j) * (32 * NW) + e) * 16

    @gluon.constexpr_function
    def _copy_x_asm(outputs, inputs):
        """cp.async of a lane's two x quads (16 bytes) to the x ring's base plus the lane's offset, through L1 (.ca: the
        4 lanes of a token row read the halves of the same sectors, word after word), reading nbytes of them (16, or
        0 for a token row past M: zeros, no read)."""
        ((done,),) = outputs
        (offset,), (ring,), (src,), (nbytes,) = inputs
        return (f"{{ .reg .b32 a; add.u32 a, {offset}, {ring}; cp.async.ca.shared.global [a], [{src}], 16, {nbytes};"
                f" mov.u32 {done}, 0; }}")

    @gluon.jit
    def _copy_x(xr, offset, src, nbytes, LANES: gl.constexpr):
        """One lane's cp.async of 16 bytes of x (nbytes of them read, the rest zeros) to the x ring's byte offset."""
        ty: gl.constexpr = gl.distributed_type(gl.int32, [offset.shape[0]], LANES)
        return gl.inline_asm(_copy_x_asm, ("=r", "r", "r", "l", "r"), [offset, xr, src, nbytes], (ty,),
                             is_pure=False)[0]  # fmt: skip

    @gluon.jit
    def _stage_x(xr, stage, e, xsrc, c0, TILES: gl.constexpr, WPL: gl.constexpr, NW: gl.constexpr,
                 LANES: gl.constexpr):  # fmt: skip
        """XSTAGE: a chunk's x (as _chunk_x reads it: per word its two quads of token g of each tile, 16 bytes) copied
        by cp.async into the x ring's stage, uncommitted (the step's code words commit them with theirs, so that one
        wait covers both). xsrc: (x0_ptr, x1_ptr, bytes0, bytes1), each tile's token row and how many bytes of it a
        copy reads (16; 0 past M: the fifty-third session's first form read token M - 1 in every such lane, 8 copies
        of one row at one token). Returns a lane tensor that depends on every copy."""
        x0_ptr, x1_ptr, bytes0, bytes1 = xsrc
        done = e
        for j in gl.static_range(WPL):
            quad = c0 // 4 + 2 * j  # as _chunk_x: the lane's own first quad (2 WPL t) is in x*_ptr
            done = done + _copy_x(xr, _xring_offset(stage, 0, j, e, TILES, WPL, NW), x0_ptr + quad, bytes0, LANES)
            if TILES == 2:
                done = done + _copy_x(xr, _xring_offset(stage, 1, j, e, TILES, WPL, NW), x1_ptr + quad, bytes1, LANES)
        return done

    @gluon.jit
    def _staged_x(xr, stage, e, TILES: gl.constexpr, WPL: gl.constexpr, NW: gl.constexpr, LANES: gl.constexpr):
        """The x _stage_x copied, back from the x ring's stage in _chunk_x's form (xs0, xs1)."""
        ty: gl.constexpr = gl.distributed_type(gl.int64, [e.shape[0]], LANES)
        xs0 = ()
        xs1 = ()
        for j in gl.static_range(WPL):
            at = _xring_offset(stage, 0, j, e, TILES, WPL, NW)
            xs0 = xs0 + (gl.inline_asm(_ring_x_asm, ("=l", "=l", "r", "r"), [at, xr], (ty, ty), is_pure=False),)
            if TILES == 2:
                at = _xring_offset(stage, 1, j, e, TILES, WPL, NW)
                xs1 = xs1 + (gl.inline_asm(_ring_x_asm, ("=l", "=l", "r", "r"), [at, xr], (ty, ty), is_pure=False),)
        return xs0, xs1

    @gluon.jit
    def _stage_step(wring, xr, stage, e, words_ptrs, xsrc, c0, XSTAGE: gl.constexpr, TILES: gl.constexpr,
                    WPL: gl.constexpr, ROWS: gl.constexpr, NW: gl.constexpr, LANES: gl.constexpr):  # fmt: skip
        """STAGES: a step's code words (and, XSTAGE, its x) into the rings' stage, one commit group."""
        done = e
        if XSTAGE:
            done = _stage_x(xr, stage, e, xsrc, c0, TILES, WPL, NW, LANES)
        return _stage_chunk(wring, stage, done, e, words_ptrs, c0, WPL, ROWS, NW, LANES)

    @gluon.jit
    def _block_words(words_ptrs, c0, WPL: gl.constexpr, ROWS: gl.constexpr, NW: gl.constexpr, LANES: gl.constexpr):
        """A chunk's code words: per row block of the warp, (its row g's, its row g + 8's). words_ptrs: the lane's
        row pointers, block after block (rows g and g + 8 of each)."""
        words = ()
        for b in gl.static_range(ROWS):
            words = words + (_chunk_words(words_ptrs[2 * b], words_ptrs[2 * b + 1], c0, WPL, NW, LANES),)
        return words

    @gluon.jit
    def _word_pairs(word0, word1, off0, off1, table, LANES: gl.constexpr):
        """One word's lookups: (row g's 4 pairs, row g + 8's 4 pairs)."""
        return _lookup(word0, off0, table, LANES), _lookup(word1, off1, table, LANES)

    @gluon.jit
    def _word_mmas(pairs, x0, x1, acc0, acc1, TILES: gl.constexpr, BF16: gl.constexpr):
        """One word's MMAs: k-steps 2 i and 2 i + 1 of each tile on its (row g's, row g + 8's) pairs (x0, x1: its x
        quads of tiles 0 and 1; acc0: tile 0's four accumulators, acc1: tile 1's)."""
        c00, c01, c02, c03 = acc0
        c10, c11, c12, c13 = acc1
        (p0, p1, p2, p3), (q0, q1, q2, q3) = pairs
        xa, xb = x0
        c00, c01, c02, c03 = _mma(c00, c01, c02, c03, p0, q0, p1, q1, xa, BF16)
        c00, c01, c02, c03 = _mma(c00, c01, c02, c03, p2, q2, p3, q3, xb, BF16)
        if TILES == 2:
            ya, yb = x1
            c10, c11, c12, c13 = _mma(c10, c11, c12, c13, p0, q0, p1, q1, ya, BF16)
            c10, c11, c12, c13 = _mma(c10, c11, c12, c13, p2, q2, p3, q3, yb, BF16)
        return (c00, c01, c02, c03), (c10, c11, c12, c13)

    @gluon.jit
    def _chunk_mma(words0, words1, xs0, xs1, off0, off1, table, acc0, acc1, TILES: gl.constexpr, WPL: gl.constexpr,
                   BF16: gl.constexpr, LANES: gl.constexpr):  # fmt: skip
        """A chunk's lookups and MMAs: per word, rows g's and g + 8's pairs, then its MMAs (_word_mmas)."""
        for j in gl.static_range(WPL):
            pairs = _word_pairs(words0[j], words1[j], off0, off1, table, LANES)
            acc0, acc1 = _word_mmas(pairs, xs0[j], xs1[j] if TILES == 2 else (), acc0, acc1, TILES, BF16)
        return acc0, acc1

    @gluon.jit
    def _step_lookups(words, offs, table, WPL: gl.constexpr, ROWS: gl.constexpr, LANES: gl.constexpr):
        """RING_AHEAD: a step's lookups, per row block of the warp and word: (row g's 4 pairs, row g + 8's)."""
        pairs = ()
        for b in gl.static_range(ROWS):
            words0, words1 = words[b]
            off0, off1 = offs[b]
            block = ()
            for j in gl.static_range(WPL):
                block = block + (_word_pairs(words0[j], words1[j], off0, off1, table, LANES),)
            pairs = pairs + (block,)
        return pairs

    @gluon.jit
    def _step_mmas(pairs, xs0, xs1, accs, TILES: gl.constexpr, WPL: gl.constexpr, ROWS: gl.constexpr,
                   BF16: gl.constexpr):  # fmt: skip
        """RING_AHEAD: a step's MMAs on its looked-up pairs (_step_lookups), each row block of the warp on the same
        x."""
        out = ()
        for b in gl.static_range(ROWS):
            acc0, acc1 = accs[b]
            for j in gl.static_range(WPL):
                acc0, acc1 = _word_mmas(pairs[b][j], xs0[j], xs1[j] if TILES == 2 else (), acc0, acc1, TILES, BF16)
            out = out + ((acc0, acc1),)
        return out

    @gluon.jit
    def _staged_step(wring, xr, stage, e, XSTAGE: gl.constexpr, TILES: gl.constexpr, WPL: gl.constexpr,
                     ROWS: gl.constexpr, NW: gl.constexpr, LANES: gl.constexpr):  # fmt: skip
        """RING_AHEAD: a step's (words, x) back from the rings' stage (x: () unless XSTAGE)."""
        words = _staged_words(wring, stage, e, WPL, ROWS, NW, LANES)
        if XSTAGE:
            held = (words, _staged_x(xr, stage, e, TILES, WPL, NW, LANES))
        else:
            held = (words, ())
        return held

    @gluon.jit
    def _slot_offset(slot):
        """A slot's part of its lookup address: table slot // 64 (64 KB each) in byte 2, 4 (slot % 64) in byte 0."""
        return ((slot // TABLE_SLOTS) << 16) | ((slot % TABLE_SLOTS) * 4)

    @gluon.jit
    def _sum_warps(table, acc, first, e, RB: gl.constexpr, WK: gl.constexpr, LANES: gl.constexpr):
        """Each of a tile's 4 accumulators summed over the WK warps of its lane's row block (every warp gets the
        sums), through the table's memory: as fp32, its NL (= 32 NW) values from (first + i) NL hold accumulator i."""
        NL: gl.constexpr = 32 * RB * WK
        sums = table.reinterpret(gl.float32, [table.shape[0] * TABLE_SLOTS], gl.SwizzledSharedLayout(1, 1, 1, [0]))
        c0, c1, c2, c3 = acc
        sums.slice((first + 0) * NL, NL).store(c0)
        sums.slice((first + 1) * NL, NL).store(c1)
        sums.slice((first + 2) * NL, NL).store(c2)
        sums.slice((first + 3) * NL, NL).store(c3)
        gl.barrier()
        mine = e % (32 * RB)  # the lane of warp (rb, kw = 0); of warp kw: + 32 RB kw
        t0 = gl.zeros_like(c0)
        t1 = gl.zeros_like(c0)
        t2 = gl.zeros_like(c0)
        t3 = gl.zeros_like(c0)
        for j in gl.static_range(WK):
            at = mine + 32 * RB * j + first * NL
            t0 += sums.gather(at, 0)
            t1 += sums.gather(at + NL, 0)
            t2 += sums.gather(at + 2 * NL, 0)
            t3 += sums.gather(at + 3 * NL, 0)
        return t0, t1, t2, t3

    @gluon.jit
    def _store_one(v, t, r, own, y_ptr, ws_ptr, split_id, M, N, stride_ym, USE_SPLIT: gl.constexpr):
        """Accumulator v of token t, row r into y (fp16/bf16) or, USE_SPLIT, this split's fp32 partial [split, M,
        N], by the lanes that own it."""
        ok = (t < M) & (r < N) & own
        if USE_SPLIT:
            gl.store(ws_ptr + (split_id * M + t).to(gl.int64) * N + r, v, mask=ok)
        else:
            gl.store(y_ptr + t.to(gl.int64) * stride_ym + r, v.to(y_ptr.dtype.element_ty), mask=ok)

    @gluon.jit
    def _store_outputs(acc, tok, r0, own, y_ptr, ws_ptr, split_id, M, N, stride_ym, USE_SPLIT: gl.constexpr):
        """A tile's accumulators: c0 = (tok, r0), c1 = (tok + 1, r0), c2 = (tok, r0 + 8), c3 = (tok + 1, r0 + 8)."""
        c0, c1, c2, c3 = acc
        _store_one(c0, tok, r0, own, y_ptr, ws_ptr, split_id, M, N, stride_ym, USE_SPLIT)
        _store_one(c1, tok + 1, r0, own, y_ptr, ws_ptr, split_id, M, N, stride_ym, USE_SPLIT)
        _store_one(c2, tok, r0 + 8, own, y_ptr, ws_ptr, split_id, M, N, stride_ym, USE_SPLIT)
        _store_one(c3, tok + 1, r0 + 8, own, y_ptr, ws_ptr, split_id, M, N, stride_ym, USE_SPLIT)

    @gluon.jit
    def _sum_one(t, r, own, y_ptr, ws_ptr, n_splits, M, N, stride_ym):
        """y[t, r] <- the sum of every split's partial there (the tile's last program)."""
        ok = (t < M) & (r < N) & own
        total = gl.zeros(t.shape, gl.float32, t.type.layout)
        for k in range(n_splits):
            total += gl.load(ws_ptr + (k * M + t).to(gl.int64) * N + r, mask=ok, other=0.0, cache_modifier=".cg")
        gl.store(y_ptr + t.to(gl.int64) * stride_ym + r, total.to(y_ptr.dtype.element_ty), mask=ok)

    @gluon.jit
    def _sum_outputs(tok, r0, own, y_ptr, ws_ptr, n_splits, M, N, stride_ym):
        """The tile's last program: y at its lanes' 4 positions of a tile."""
        _sum_one(tok, r0, own, y_ptr, ws_ptr, n_splits, M, N, stride_ym)
        _sum_one(tok + 1, r0, own, y_ptr, ws_ptr, n_splits, M, N, stride_ym)
        _sum_one(tok, r0 + 8, own, y_ptr, ws_ptr, n_splits, M, N, stride_ym)
        _sum_one(tok + 1, r0 + 8, own, y_ptr, ws_ptr, n_splits, M, N, stride_ym)

    @gluon.jit
    def _block_ptrs(words_ptr, r, N, stride_cw, lane_word, off_base, g, t, COPIES: gl.constexpr):
        """A 16-row block's lane pointers to its rows g and g + 8 (r: row g's index; rows past N read row N - 1's
        codes, their outputs masked, so that every load stays unpredicated) and their slot offsets (off_base: row
        g's index in the program)."""
        p0 = words_ptr + gl.minimum(r, N - 1).to(gl.int64) * stride_cw + lane_word
        p1 = words_ptr + gl.minimum(r + 8, N - 1).to(gl.int64) * stride_cw + lane_word
        off0 = _slot_offset(COPIES * off_base + t % COPIES)
        off1 = _slot_offset(COPIES * (off_base + 8) + t % COPIES)
        return p0, p1, off0, off1

    @gluon.jit
    def _sum_and_store(table, accs, first, r0, e, own, out0, y_ptr, ws_ptr, pid_k, M, N, stride_ym,
                       RB: gl.constexpr, WK: gl.constexpr, TILES: gl.constexpr, USE_SPLIT: gl.constexpr,
                       LANES: gl.constexpr):  # fmt: skip
        """A row block's accumulators (accs: tile 0's, tile 1's) summed over its WK warps (through the table's memory
        from accumulator row `first` on) and stored by the lanes that own them."""
        acc0, acc1 = accs
        if WK > 1:
            acc0 = _sum_warps(table, acc0, first, e, RB, WK, LANES)
            if TILES == 2:
                acc1 = _sum_warps(table, acc1, first + 4, e, RB, WK, LANES)
        _store_outputs(acc0, out0, r0, own, y_ptr, ws_ptr, pid_k, M, N, stride_ym, USE_SPLIT)
        if TILES == 2:
            _store_outputs(acc1, out0 + 8, r0, own, y_ptr, ws_ptr, pid_k, M, N, stride_ym, USE_SPLIT)

    @gluon.jit
    def _decode_pairs_kernel(
        x_quads, words_ptr, lut_ptr, slot_ptr, y_ptr, ws_ptr, counter_ptr,
        M, N, K, GS, stride_xq, stride_cw, stride_ls, stride_ln, stride_ym, K_PER_SPLIT,
        NV: gl.constexpr, RB: gl.constexpr, ROWS: gl.constexpr, WK: gl.constexpr, WPL: gl.constexpr,
        PREFETCH: gl.constexpr, TABLES: gl.constexpr, TILES: gl.constexpr, USE_SPLIT: gl.constexpr,
        BF16: gl.constexpr, XRING: gl.constexpr = 0, PDL: gl.constexpr = False, STAGES: gl.constexpr = 0,
        XSTAGE: gl.constexpr = 0, RING_AHEAD: gl.constexpr = 0,
    ):  # fmt: skip
        """y [M, N] <- x [M, K] @ W.T for the rows 16 RB ROWS pid_n .. and the columns of split pid_k (see module
        doc). XRING: steps of x in flight (0: PREFETCH, as the code words; fewer keep x's registers, 32 a step at 16
        tokens, for more code words in flight). PDL: the code words, the slot and the LUT (the tables) are read before
        the wait for the kernel before (triton_common.pdl_enabled's rule), x after it; the next kernel is released
        after the loop. STAGES (0: off): the code words go through a ring of STAGES steps in shared memory, filled
        by cp.async STAGES - 1 steps ahead, instead of PREFETCH steps in registers (which then only unrolls the loop
        and sizes x's ring): more bytes in flight an SM for no registers (fifty-first session: the register ring's
        kernel waited on its loads with DRAM 18-24 % busy). XSTAGE (with STAGES): x through a ring of its own the
        same way, in the code words' commit groups, instead of XRING / PREFETCH steps in registers (fifty-second
        session: with the code words staged, the loop's long waits were the MMAs' on x's loads); under PDL the
        first steps are then staged after the wait, since x is the kernel before's output. RING_AHEAD (with STAGES
        >= RING_AHEAD + 2; seventy-seventh session: in the SASS each step's chain was the ring's wait, its read-back,
        the lookups' address permutes, their shared loads, then the MMAs, with ~2 warps a scheduler to cover it):
        1: each step reads the next one's words (and, XSTAGE, x) back after its own MMAs, so its lookups start on
        words already in registers; 2: also the next step's lookups issued before this step's MMAs (which then use
        pairs looked up a step before) and the words read back two steps ahead. Each costs the copies a step of
        their lead (the wait is for a later group)."""
        COPIES: gl.constexpr = 4 * TABLES // (RB * ROWS)
        CHUNK: gl.constexpr = 32 * WPL
        STEP: gl.constexpr = WK * CHUNK  # the program's warps of one row block take consecutive chunks
        NW: gl.constexpr = RB * WK
        LANES: gl.constexpr = gl.BlockedLayout([1], [32], [NW], [0])
        pid_n = gl.program_id(0)
        pid_k = gl.program_id(1)
        row0 = pid_n * (16 * RB * ROWS)
        k_lo = pid_k * K_PER_SPLIT
        k_hi = gl.minimum(k_lo + K_PER_SPLIT, K)
        slot = gl.load(slot_ptr).to(gl.int64)

        e = gl.arange(0, 32 * NW, layout=LANES)
        w = e // 32
        rb = w % RB  # the warp's row blocks: ROWS rb .. ROWS rb + ROWS - 1
        kw = w // RB  # its chunks: kw, kw + WK, ... of each STEP
        g = (e % 32) // 4
        t = e % 4
        lane_word = WPL * t + kw * (CHUNK // 8)
        in_a = 16 * ROWS * rb + g  # row g of the warp's first block, in the program
        r0a = row0 + in_a  # lane rows r0a + 16 b and r0a + 16 b + 8 of the warp's blocks b < ROWS
        words_ptrs = ()  # the blocks' rows g and g + 8, block after block
        offs = ()  # their slot offsets in the tables, a pair a block
        for b in gl.static_range(ROWS):
            p0, p1, off0, off1 = _block_ptrs(words_ptr, r0a + 16 * b, N, stride_cw, lane_word, in_a + 16 * b, g, t,
                                             COPIES)  # fmt: skip
            words_ptrs = words_ptrs + (p0, p1)
            offs = offs + ((off0, off1),)
        x_lane = 2 * WPL * t + kw * (CHUNK // 4)
        x0_ptr = x_quads + gl.minimum(g, M - 1).to(gl.int64) * stride_xq + x_lane  # tile 0's token g
        x1_ptr = x_quads + gl.minimum(g + 8, M - 1).to(gl.int64) * stride_xq + x_lane  # tile 1's 8 + g
        xsrc = (x0_ptr, x1_ptr, gl.where(g < M, 16, 0), gl.where(g + 8 < M, 16, 0))  # XSTAGE's copies (_stage_x)

        last = k_hi - STEP  # loads past the range re-read the last step (never used)
        early = ()  # the first PREFETCH steps' code words, in flight while the tables are written
        if STAGES == 0:
            for d in gl.static_range(PREFETCH):
                early = early + (_block_words(words_ptrs, gl.minimum(k_lo + d * STEP, last), WPL, ROWS, NW, LANES),)
        else:  # the first STAGES - 1 steps into the ring
            wring = gl.allocate_shared_memory(gl.int32, [STAGES * 2 * ROWS, 32 * NW, WPL],
                                              gl.SwizzledSharedLayout(1, 1, 1, [1, 0]))  # fmt: skip
            xr = wring  # XSTAGE 0: never used
            if XSTAGE:
                xr = gl.allocate_shared_memory(gl.int64, [STAGES * TILES * WPL, 32 * NW, 2],
                                               gl.SwizzledSharedLayout(1, 1, 1, [1, 0]))  # fmt: skip
            if not PDL or not XSTAGE:
                for d in gl.static_range(STAGES - 1):
                    _stage_step(wring, xr, d, e, words_ptrs, xsrc, gl.minimum(k_lo + d * STEP, last),
                                XSTAGE, TILES, WPL, ROWS, NW, LANES)  # fmt: skip

        table = gl.allocate_shared_memory(gl.int32, [256 * TABLES, TABLE_SLOTS],
                                          gl.SwizzledSharedLayout(1, 1, 1, [1, 0]))  # fmt: skip
        lut_row0 = lut_ptr + slot * stride_ls + row0.to(gl.int64) * stride_ln + (k_lo // GS) * NV
        _build_table(table, lut_row0, row0, N, stride_ln, NV, NW, COPIES, TABLES)
        if PDL:
            _gdc_wait()  # x is the kernel before's output
            if STAGES > 0 and XSTAGE:  # the first steps' x may be read now, and their words are in the same groups
                for d in gl.static_range(STAGES - 1):
                    _stage_step(wring, xr, d, e, words_ptrs, xsrc, gl.minimum(k_lo + d * STEP, last),
                                XSTAGE, TILES, WPL, ROWS, NW, LANES)  # fmt: skip
        XDEPTH: gl.constexpr = PREFETCH if XRING == 0 else XRING  # steps of x in flight
        xring = ()  # the next XDEPTH steps' x
        if XSTAGE == 0:
            for d in gl.static_range(XDEPTH):
                xring = xring + (_chunk_x(x0_ptr, x1_ptr, gl.minimum(k_lo + d * STEP, last), TILES, WPL, NW, LANES),)
        gl.barrier()  # the table written by every warp before any lookup

        zero = gl.zeros([32 * NW], gl.float32, LANES)
        accs = ()  # per block of the warp: tile 0's, tile 1's accumulators
        for _b in gl.static_range(ROWS):
            accs = accs + (((zero, zero, zero, zero), (zero, zero, zero, zero)),)
        # unrolled PREFETCH times, so that ring entry d stays in its registers: step c + d's lookups, then its entry
        # refilled with step c + d + PREFETCH (a split is whole steps: every warp has as many chunks); x's ring the
        # same with XDEPTH entries (XDEPTH divides PREFETCH)
        ring = early
        if STAGES > 0 and RING_AHEAD > 0:  # the first RING_AHEAD steps' groups landed: step 0 (and 1) read back now
            _wait_copies(e, STAGES - 1 - RING_AHEAD)
            ring = _staged_step(wring, xr, 0, e, XSTAGE, TILES, WPL, ROWS, NW, LANES)
            if RING_AHEAD == 2:  # (step 0's pairs, its x, step 1's words and x)
                ring = (_step_lookups(ring[0], offs, table, WPL, ROWS, LANES), ring[1],
                        _staged_step(wring, xr, 1, e, XSTAGE, TILES, WPL, ROWS, NW, LANES))  # fmt: skip
        for c in range(k_lo, k_hi, PREFETCH * STEP):
            for d in gl.static_range(PREFETCH):
                if STAGES > 0:  # refill the stage step i - 1 read with step i + STAGES - 1
                    i = (c - k_lo) // STEP + d
                    ahead = gl.minimum(c + (d + STAGES - 1) * STEP, last)
                    _stage_step(wring, xr, (i + STAGES - 1) % STAGES, e, words_ptrs, xsrc, ahead, XSTAGE,
                                TILES, WPL, ROWS, NW, LANES)  # fmt: skip
                if STAGES > 0 and RING_AHEAD > 0:
                    # step i's words and x were read back before (RING_AHEAD 2: its pairs looked up too, and step
                    # i + 1's are looked up now, before step i's MMAs); step i + RING_AHEAD's read after its MMAs
                    if RING_AHEAD == 2:
                        pairs, held_x, after = ring
                        pairs_after = _step_lookups(after[0], offs, table, WPL, ROWS, LANES)
                    else:
                        words, held_x = ring
                        pairs = _step_lookups(words, offs, table, WPL, ROWS, LANES)
                    if XSTAGE:
                        xs0, xs1 = held_x
                    else:
                        xs0, xs1 = xring[d % XDEPTH]
                    if c + d * STEP < k_hi:
                        accs = _step_mmas(pairs, xs0, xs1, accs, TILES, WPL, ROWS, BF16)
                    _wait_copies(e, STAGES - 1 - RING_AHEAD)  # the groups through step i + RING_AHEAD landed
                    fresh = _staged_step(wring, xr, (i + RING_AHEAD) % STAGES, e, XSTAGE, TILES, WPL, ROWS, NW, LANES)
                    if RING_AHEAD == 2:
                        ring = (pairs_after, after[1], fresh)
                    else:
                        ring = fresh
                else:
                    if STAGES == 0:
                        words = ring[d]
                    else:  # wait for step i's group, then read its words back
                        _wait_copies(e, STAGES - 1)
                        words = _staged_words(wring, i % STAGES, e, WPL, ROWS, NW, LANES)
                    if XSTAGE:
                        xs0, xs1 = _staged_x(xr, i % STAGES, e, TILES, WPL, NW, LANES)
                    else:
                        xs0, xs1 = xring[d % XDEPTH]
                    if c + d * STEP < k_hi:
                        for b in gl.static_range(ROWS):  # the same x, each block's rows
                            acc = _chunk_mma(words[b][0], words[b][1], xs0, xs1, offs[b][0], offs[b][1], table,
                                             accs[b][0], accs[b][1], TILES, WPL, BF16, LANES)  # fmt: skip
                            accs = accs[:b] + (acc,) + accs[b + 1 :]
                if STAGES == 0:
                    nxt = gl.minimum(c + (d + PREFETCH) * STEP, last)
                    ring = ring[:d] + (_block_words(words_ptrs, nxt, WPL, ROWS, NW, LANES),) + ring[d + 1 :]
                if XSTAGE == 0:
                    x_nxt = gl.minimum(c + (d + XDEPTH) * STEP, last)
                    refill = _chunk_x(x0_ptr, x1_ptr, x_nxt, TILES, WPL, NW, LANES)
                    xring = xring[: d % XDEPTH] + (refill,) + xring[d % XDEPTH + 1 :]

        if STAGES > 0:  # the ring's last copies (steps past the range) land before its memory can be reused
            _wait_copies(e, 0)
        if PDL:
            _gdc_release()  # the next kernel's pre-wait part (its codes, its tables) may start
        own = kw == 0  # the lanes that write: their row block's sums over the WK warps
        out0 = 2 * t  # tile 0's tokens 2 t, 2 t + 1; tile 1's 8 + those
        if WK > 1:
            gl.barrier()  # every lookup done: the table's memory holds the warps' partial sums now
        for b in gl.static_range(ROWS):  # block b's sums through the table's memory from accumulator row 8 b on
            _sum_and_store(table, accs[b], 8 * b, r0a + 16 * b, e, own, out0, y_ptr, ws_ptr, pid_k, M, N, stride_ym,
                           RB, WK, TILES, USE_SPLIT, LANES)  # fmt: skip
        if USE_SPLIT:
            gl.barrier()  # every thread's partial stored before the (acq_rel, gpu-scope) arrival
            n_splits = gl.num_programs(1)
            arrived = gl.atomic_add(counter_ptr + pid_n, 1)
            if arrived == n_splits - 1:
                for blk in gl.static_range(ROWS):
                    _sum_outputs(out0, r0a + 16 * blk, own, y_ptr, ws_ptr, n_splits, M, N, stride_ym)
                    if TILES == 2:
                        _sum_outputs(out0 + 8, r0a + 16 * blk, own, y_ptr, ws_ptr, n_splits, M, N, stride_ym)
                gl.atomic_xchg(counter_ptr + pid_n, 0, sem="relaxed")  # ready for the next launch


def pairs_ok(x: torch.Tensor, codes_packed: torch.Tensor, lut_pool: torch.Tensor, bits: int, gpr: int,
             wpl: int = 4, wk: int = 1) -> bool:  # fmt: skip
    """Whether the pair-table kernel takes this call (one slot assumed): CUDA sm_90 with Triton >= 3.9, 3/4-bit
    codes, x and LUT of one 16-bit type, at most 16 tokens, K and the group size multiples of a step (wk chunks of
    32 wpl columns), rows of codes and x 16-byte aligned."""
    if not (HAVE_PAIRS and x.is_cuda and bits in (3, 4) and x.dim() == 2 and x.shape[0] <= MAX_TOKENS):
        return False
    if torch.cuda.get_device_capability(x.device) != (9, 0):  # built, tested and timed on sm_90 (H100/H200) only
        return False
    m, k = x.shape
    chunk = 32 * wpl * wk
    gs = triton.cdiv(k, gpr)
    return (
        x.dtype in (torch.float16, torch.bfloat16)
        and lut_pool.dtype == x.dtype
        and lut_pool.is_contiguous()
        and k % chunk == 0
        and gs % chunk == 0
        and gs * gpr == k
        and x.stride(1) == 1
        and x.stride(0) % 8 == 0
        and x.data_ptr() % 16 == 0
        and codes_packed.stride(1) == 1
        and codes_packed.stride(0) % 16 == 0
        and codes_packed.data_ptr() % 16 == 0
    )


def split_columns(k: int, gs: int, chunk: int, split_k: int) -> int:
    """Columns a split takes: about K / split_k, whole chunks, dividing the group size (a split's range lies inside
    one LUT group, so a program builds one table)."""
    per = triton.cdiv(triton.cdiv(k, max(1, split_k)), chunk) * chunk
    if gs % per:  # the largest whole number of chunks dividing the group and not above that
        chunks = gs // chunk
        per = max(d for d in range(1, chunks + 1) if chunks % d == 0 and d * chunk <= per) * chunk
    return per


# (programs an SM, RB, WK, PREFETCH, WPL, TABLES[, ROWS[, XRING]]). Up to 3 programs of 64 KB fit an SM (waves 3: all
# resident at once), one of 128 KB (TABLES 2). With one table RB 2 is 32 rows and 2 wavefronts a lookup, RB 1 16 rows
# and none lost, RB 4 64 rows (x read by more warps) and 4; two tables halve the conflicts at the same rows; ROWS 2
# gives each warp two row blocks that share its x registers (half the x loads a weight at 16 tokens). WK > 1 shares
# the tables among more warps instead of splitting K over programs that each write them. Timed on the H100 in the
# fifty-first session (slower than the op but at 16 tokens on 4096x4096: NOTES.md), the STAGES entries in the
# fifty-second and fifty-third. The op's candidates are a spread over these, the grid script times all.
# The staged-x entries (PAIRS_STAGED_X below) the fifty-third session measured best on the H100: RB 1 / WK 4 / WPL 4
# with 4 and 3 stages (one token: 7.1-7.9 us on 4096x4096), RB 2 / WPL 2 / 3 stages, and two row blocks a warp on two
# tables with 2 and 3 stages (16 tokens: 10.7-11.2 us). They are among the candidates too.
PAIRS_STAGED_X_BEST = [
    (2, 1, 4, 2, 4, 1, 1, 0, 4, 1), (1, 1, 4, 2, 4, 1, 1, 0, 3, 1), (1, 2, 4, 2, 2, 1, 1, 0, 3, 1),
    (1, 1, 4, 2, 4, 2, 2, 0, 2, 1), (1, 1, 4, 2, 4, 2, 2, 0, 3, 1),
]  # fmt: skip
PAIRS_CANDIDATES = [
    (3, 2, 1, 2, 4, 1), (1, 2, 4, 2, 4, 1), (1, 2, 2, 2, 4, 1), (3, 1, 1, 2, 4, 1), (1, 1, 4, 2, 4, 1),
    (1, 4, 2, 2, 4, 1), (1, 2, 4, 2, 4, 2), (1, 4, 2, 2, 4, 2), (1, 4, 4, 2, 4, 2), (3, 2, 1, 3, 4, 1),
    (2, 2, 2, 2, 4, 1), (3, 2, 1, 2, 2, 1), (1, 4, 4, 2, 2, 1), (1, 2, 4, 3, 2, 1), (2, 1, 2, 3, 4, 1),
    (1, 1, 4, 2, 4, 2, 2), (1, 2, 4, 2, 4, 2, 2), (3, 1, 1, 2, 4, 1, 2),
    # groups of 64-column chunks only (4096x11008 at gpr 4: 2,752 columns a group, 43 chunks)
    (3, 1, 1, 2, 2, 1), (1, 2, 1, 2, 2, 2), (3, 2, 1, 2, 2, 1, 2),
    # more code words in flight, x's ring shorter (its registers)
    (1, 2, 4, 4, 4, 2, 1, 2), (1, 4, 2, 4, 4, 2, 1, 2), (1, 2, 4, 4, 4, 1, 1, 1), (3, 2, 1, 4, 4, 1, 1, 2),
    # the code words through a ring of STAGES in shared memory (cp.async; fifty-first session): 16-64 KB of words in
    # flight an SM for no registers; on the H100 as fast as the register ring at one token (9.28-9.37 against 9.23
    # us), slower at 16 tokens
    (2, 1, 4, 2, 4, 1, 1, 0, 4), (2, 2, 4, 2, 4, 1, 1, 0, 4), (1, 2, 4, 2, 4, 1, 1, 0, 8), (3, 2, 1, 2, 4, 1, 1, 0, 4),
    (2, 2, 4, 2, 2, 1, 1, 1, 6), (1, 2, 4, 2, 4, 2, 1, 1, 4),
    *PAIRS_STAGED_X_BEST,
]  # fmt: skip
# 8 or 16 warps a 16-row block (fifty-second session): at one token of 4096x4096 the kernel runs 256 programs, two an
# SM, and every WK <= 4 form had 7.7 warps an SM active; more warps a table split its writing and the row's K among
# more of them. Correct, and no faster on the H100 (one token 8.6-10.4 us against WK 4's 8.5; 16 tokens 13.0-17.3
# against 12.2): in the grid, not among the autotuner's candidates.
PAIRS_WIDE_BLOCKS = [
    (1, 1, 8, 2, 4, 1), (1, 1, 8, 2, 2, 1), (1, 1, 8, 4, 2, 1), (1, 1, 16, 2, 2, 1), (1, 1, 16, 2, 1, 1),
    (1, 2, 8, 2, 2, 1), (1, 1, 8, 2, 4, 1, 1, 0, 3), (2, 1, 8, 2, 2, 1),
]  # fmt: skip
# x through a ring of its own beside the code words' (XSTAGE, fifty-second session), and a ring as deep as a 16-row
# program's whole K range at 4096 columns (8 steps of 512: every code word's copy issued before the table's build).
# XSTAGE's first form (its x copies around L1, every lane of a quad copying its token row, rows past M reading token
# M - 1) was 8-22x slower than the register ring at one token on the H100 and 2.4-3.6x at 16 (Nsight Compute: DRAM 2 %
# busy, every warp waiting on memory); with the copies through L1 (.ca) and reading nothing past M, the fifty-third
# session measured 7.9-11.6 us at one token on 4096x4096 (the register ring's best 9.2 in the run before, the op 8.06)
# and 12.1-20.3 at 16 (12.0); later runs on one machine 7.06-7.53 at one token (the op 8.07-8.56) and, with two row
# blocks a warp, 10.7-11.2 at 16 (the op 13.1-13.7). The 8-step ring without XSTAGE tied the 4-step one (9.37 us).
# The best XSTAGE entries (PAIRS_STAGED_X_BEST, first here) are among the candidates too.
PAIRS_STAGED_X = [
    *PAIRS_STAGED_X_BEST,
    (1, 1, 4, 2, 4, 1, 1, 0, 2, 1), (1, 2, 4, 2, 2, 1, 1, 0, 2, 1), (2, 1, 2, 2, 4, 1, 1, 0, 4, 1),
    (2, 1, 4, 2, 4, 1, 1, 0, 8), (2, 1, 4, 2, 4, 1, 1, 0, 8, 1),
    # for 16 tokens, fewer copies of x an SM: more rows a program or a warp share each staged x (the best, RB 1 /
    # ROWS 2 / two tables, 10.7-11.2 us on 4096x4096, is in PAIRS_STAGED_X_BEST)
    (1, 4, 2, 2, 2, 1, 1, 0, 3, 1), (1, 2, 4, 2, 2, 1, 1, 0, 4, 1),
    (1, 2, 4, 2, 2, 2, 1, 0, 3, 1), (1, 1, 4, 2, 2, 2, 2, 0, 2, 1),
    (1, 2, 4, 2, 2, 2, 2, 0, 2, 1), (1, 1, 2, 2, 4, 2, 2, 0, 2, 1), (1, 1, 4, 2, 4, 2, 2, 0, 4, 1),
    (1, 1, 8, 2, 4, 2, 2, 0, 2, 1),
    # four row blocks a warp (64 rows a program on two tables, 2 copies a row: two wavefronts a lookup): half the
    # copies of x again (fifty-third session; at 16 tokens the time fell with x's L2 reads: 32 MB 16.2 us, 16 MB
    # 10.7-11.2). Twice as slow on the H100 (fifty-fourth session, 4096x4096: 22.4-23.3 us at 16 tokens, 12.3-13.3
    # at one): the grid only
    (1, 1, 4, 2, 4, 2, 4, 0, 2, 1), (1, 1, 4, 2, 2, 2, 4, 0, 3, 1), (1, 1, 2, 2, 4, 2, 4, 0, 2, 1),
]  # fmt: skip
# The staged entries reading their rings ahead (RING_AHEAD; seventy-seventh session, written without a GPU, untimed).
# In the sm_90 SASS of the best one-token entry (RB 1, WK 4, WPL 4, 4 stages, x staged): RING_AHEAD 1 starts a
# step's lookups on words already in registers (56 registers a thread against 48); RING_AHEAD 2 issues all of the next
# step's 32 lookups in one run before its wait and this step's MMAs run on pairs looked up a step before (120
# registers), but ptxas places those MMAs after the step's cp.async wait, which is for a group issued one step
# ahead at 4 stages: hence the deeper rings too (6 stages: one program of 136 KB an SM). Each needs STAGES >=
# RING_AHEAD + 2 (the stages read ahead are not the one being refilled). The grid (and pairs_decode.py's list
# "ring_ahead", beside the same entries without it) times them; not among the candidates until a GPU says they pay.
PAIRS_RING_AHEAD = list(dict.fromkeys(
    (*e[:8], stages, e[9], ahead) for e in PAIRS_STAGED_X_BEST
    for ahead, stages in ((1, max(3, e[8])), (2, max(4, e[8])), (2, max(4, e[8]) + 2))))  # fmt: skip
PAIRS_GRID = list(dict.fromkeys(PAIRS_CANDIDATES + PAIRS_WIDE_BLOCKS + PAIRS_STAGED_X + PAIRS_RING_AHEAD + [
    (waves, rb, wk, pf, wpl, tables, rows) for tables in (1, 2) for waves in ((3, 1, 2) if tables == 1 else (1, 2))
    for rows in (1, 2) for rb in (2, 1, 4) for wk in (1, 2, 4) for pf in (2, 3) for wpl in (4, 2)]))  # fmt: skip


def pairs_config(n: int, k: int, sms: int, waves: int, rb: int, wk: int, prefetch: int, wpl: int, tables: int = 1,
                 rows: int = 1, xring: int = 0, stages: int = 0, xstage: int = 0,
                 ring_ahead: int = 0) -> dict:  # fmt: skip
    """The config whose SPLIT_K runs about waves x SMs programs (at least one a row tile); RING_AHEAD only where
    set (the configs shipped before it keep their keys)."""
    tiles = triton.cdiv(n, 16 * rb * rows)
    split = max(1, min(k // (32 * wpl * wk), round(waves * sms / tiles)))
    config = {"RB": rb, "ROWS": rows, "WK": wk, "WPL": wpl, "PREFETCH": prefetch, "TABLES": tables, "XRING": xring,
              "SPLIT_K": split, "STAGES": stages, "XSTAGE": xstage}  # fmt: skip
    if ring_ahead:
        config["RING_AHEAD"] = ring_ahead
    return config


def ring_ahead_ok(config: dict) -> bool:
    """Whether a config's RING_AHEAD (0-2) has the stages it reads ahead: STAGES >= RING_AHEAD + 2, so that no stage
    read ahead is the one being refilled."""
    ahead = config.get("RING_AHEAD", 0)
    return ahead in (0, 1, 2) and (ahead == 0 or config.get("STAGES", 0) >= ahead + 2)


def shared_bytes(config: dict, tiles: int = 2) -> int:
    """A program's shared memory: its tables (64 KB each) and, STAGES, its ring of code words (2 ROWS rows of
    WPL words a lane and stage) and, XSTAGE, x's (16 bytes a word, lane and tile of 8 tokens; tiles 2: more than 8
    tokens, the most)."""
    lanes = 32 * config["RB"] * config.get("WK", 1)
    stages = config.get("STAGES", 0)
    ring = stages * 2 * config.get("ROWS", 1) * lanes * config["WPL"] * 4
    if config.get("XSTAGE", 0):
        ring += stages * tiles * config["WPL"] * lanes * 16
    return config.get("TABLES", 1) * 256 * TABLE_SLOTS.value * 4 + ring


def _fits(gs: int, entry: tuple) -> bool:
    """Whether a grid entry's step tiles the group, its warps number at most 16 and its rows fill its tables' slots
    with 1-4 copies each."""
    _, rb, wk, prefetch, wpl, tables, *more = entry
    rows = more[0] if more else 1
    xring = more[1] if len(more) > 1 else 0
    stages = more[2] if len(more) > 2 else 0
    xstage = more[3] if len(more) > 3 else 0
    ring_ahead = more[4] if len(more) > 4 else 0
    config = {"RB": rb, "WK": wk, "WPL": wpl, "TABLES": tables, "ROWS": rows, "STAGES": stages, "XSTAGE": xstage,
              "RING_AHEAD": ring_ahead}  # fmt: skip
    return (gs % (32 * wpl * wk) == 0 and rb * wk <= 16 and tables <= rb * rows <= 4 * tables
            and (xring == 0 or prefetch % xring == 0) and (xstage == 0 or stages > 0) and ring_ahead_ok(config)
            and shared_bytes(config) <= SHARED_LIMIT)  # fmt: skip


def pairs_candidates(n: int, k: int, gs: int, sms: int, grid: list[tuple] | None = None) -> list[dict]:
    """The autotuner's candidates (PAIRS_CANDIDATES, or grid's entries) that fit the group, each once."""
    entries = [e for e in (grid or PAIRS_CANDIDATES) if _fits(gs, e)]
    return list({str(c): c for c in (pairs_config(n, k, sms, *e) for e in entries)}.values())


def default_pairs_config(n: int, k: int, gs: int, sms: int) -> dict:
    """Three programs an SM, 32 rows a table, two chunks in flight, the widest chunk that tiles the group."""
    wpl = next(w for w in (4, 2, 1) if gs % (32 * w) == 0)
    return pairs_config(n, k, sms, 3, 2, 1, 2, wpl)


def launch_decode_pairs(
    x: torch.Tensor,
    codes_packed: torch.Tensor,
    lut_pool: torch.Tensor,
    slot_of_token: torch.Tensor,
    bits: int,
    y: torch.Tensor,
    config: dict,
) -> None:
    """y [M, N] <- the pair-table kernel for tokens that all use slot_of_token[0]'s LUT. config: RB (warps along
    the rows: 1, 2 or 4), ROWS (16-row blocks a warp, sharing its x: 1, 2 or 4; default 1), WK (warps a row block,
    taking turns over its chunks and sharing its table; default 1),
    WPL (code words a lane and row in a chunk: 1, 2 or 4), PREFETCH (steps in flight, 1-4; default 2), TABLES (64 KB
    tables a program: 1 or 2, with 4 TABLES / (RB ROWS) copies of each row; default 1), XRING (steps of x in
    flight, dividing PREFETCH; default 0: PREFETCH), SPLIT_K (K ranges, each within one LUT group), STAGES (0: the
    code words in PREFETCH steps of registers; else a shared-memory ring of that many steps, filled by cp.async),
    XSTAGE (0/1, with STAGES: x through a ring of its own, in the same steps), RING_AHEAD (0-2, with STAGES >=
    RING_AHEAD + 2: 1, each step reads the next one's words and x back from the rings; 2, also looks up the next
    step's pairs before its own MMAs). Check pairs_ok first."""
    if config.get("XSTAGE", 0) and not config.get("STAGES", 0):
        raise ValueError(f"XSTAGE stages x beside the code words' ring: it needs STAGES > 0 ({config})")
    if not ring_ahead_ok(config):
        raise ValueError(f"RING_AHEAD (0-2) reads stages ahead of the one being refilled: it needs STAGES >= "
                         f"RING_AHEAD + 2 ({config})")  # fmt: skip
    m, k = x.shape
    n = codes_packed.shape[0]
    gs = k // lut_pool.shape[2]
    rb, rows, wk, wpl = config["RB"], config.get("ROWS", 1), config.get("WK", 1), config["WPL"]
    step = 32 * wpl * wk
    k_per_split = split_columns(k, gs, step, config.get("SPLIT_K", 1))
    split, k_per_split, n_tiles, ws, counters = split_k_launch(x, y, n, 16 * rb * rows, step, 1, k_per_split)
    _decode_pairs_kernel[(n_tiles, split)](
        x.view(torch.int64), codes_packed.view(torch.int32), lut_pool, slot_of_token, y, ws, counters,
        m, n, k, gs, x.stride(0) // 4, codes_packed.stride(0) // 4, lut_pool.stride(0), lut_pool.stride(1),
        y.stride(0), k_per_split,
        NV=1 << bits, RB=rb, ROWS=rows, WK=wk, WPL=wpl, PREFETCH=config.get("PREFETCH", 2),
        TABLES=config.get("TABLES", 1), XRING=config.get("XRING", 0), STAGES=config.get("STAGES", 0),
        XSTAGE=config.get("XSTAGE", 0), RING_AHEAD=config.get("RING_AHEAD", 0), TILES=1 if m <= 8 else 2,
        USE_SPLIT=split > 1, BF16=x.dtype == torch.bfloat16, num_warps=rb * wk, **pdl_args(x.device),
    )  # fmt: skip


# --- The kernel's data flow in torch (CPU), for the tests: the table, the byte-permute addresses, the fragments ---


def pair_table(lut_rows: torch.Tensor, copies: int) -> torch.Tensor:
    """The tables a program builds: T [256, 64 TABLES] int64 (b32 values; table k is columns 64 k ..) for its rows'
    LUT group lut_rows [16 RB, NV] (16-bit dtype; rows past N zero), T[b, copies r + c] = LUT[r, b & 15] |
    LUT[r, b >> 4] << 16. Entries of a low nibble past NV are 0; rows of a high nibble past NV are never written (-1
    here: never read)."""
    rows, nv = lut_rows.shape
    assert rows * copies % TABLE_SLOTS.value == 0
    bits = torch.zeros(rows, 16, dtype=torch.int64)
    bits[:, :nv] = lut_rows.contiguous().view(torch.int16).to(torch.int64) & 0xFFFF
    b = torch.arange(256)
    entries = bits[:, b & 15] | (bits[:, b >> 4] << 16)  # [rows, 256]
    entries[:, (b >> 4) >= nv] = -1
    return entries.T.repeat_interleave(copies, dim=1)


def _halves(pairs: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """b32 pairs (int64 [...]) -> their two 16-bit values as float32 [..., 2], the low half first."""
    h = torch.stack([pairs & 0xFFFF, pairs >> 16], dim=-1).to(torch.int32)
    return h.to(torch.int16).view(dtype).float()


def _model_mma(acc: torch.Tensor, a: tuple, b: tuple, dtype: torch.dtype) -> torch.Tensor:
    """mma.sync m16n8k16 on a warp's lane values: acc [32, 4] fp32 + A (a0-a3: b32 pairs [32]) @ B (b0, b1),
    through the fragment maps (lane 4 g + t: A[g][2t:2t+2] = a0, A[g+8][2t:2t+2] = a1, A[g][2t+8:2t+10] = a2,
    A[g+8][2t+8:2t+10] = a3; B[2t:2t+2][g] = b0, B[2t+8:2t+10][g] = b1; C[g][2t + i] = c_i, C[g+8][2t + i] = c_2+i)."""
    lane = torch.arange(32)
    g, t = lane // 4, lane % 4
    A = torch.zeros(16, 16)
    B = torch.zeros(16, 8)
    for reg, dr, dk in ((a[0], 0, 0), (a[1], 8, 0), (a[2], 0, 8), (a[3], 8, 8)):
        v = _halves(reg, dtype)
        A[g + dr, 2 * t + dk] = v[:, 0]
        A[g + dr, 2 * t + dk + 1] = v[:, 1]
    for reg, dk in ((b[0], 0), (b[1], 8)):
        v = _halves(reg, dtype)
        B[2 * t + dk, g] = v[:, 0]
        B[2 * t + dk + 1, g] = v[:, 1]
    D = A @ B
    return acc + torch.stack([D[g, 2 * t], D[g, 2 * t + 1], D[g + 8, 2 * t], D[g + 8, 2 * t + 1]], dim=1)


def pairs_model(x: torch.Tensor, codes_packed: torch.Tensor, lut_pool: torch.Tensor, slot_of_token: torch.Tensor,
                bits: int, config: dict) -> torch.Tensor:  # fmt: skip
    """What _decode_pairs_kernel computes, step by step in torch on the CPU (fp32 outputs [M, N]): per program its
    table (pair_table), per warp and chunk each lane's code words and x quads at the kernel's offsets, the A pairs
    read from the table at prmt's addresses, mma.sync through the fragment maps, the outputs at the accumulators'
    tokens and rows, split-K ranges by split_columns, each warp of a row block its turn of the chunks (WK), each
    warp's ROWS blocks."""
    m, k = x.shape
    n = codes_packed.shape[0]
    nv = 1 << bits
    gs = k // lut_pool.shape[2]
    rb, wk, wpl, tables = config["RB"], config.get("WK", 1), config["WPL"], config.get("TABLES", 1)
    rows_a_warp = config.get("ROWS", 1)
    blocks = rb * rows_a_warp  # 16-row blocks a program
    copies, chunk = 4 * tables // blocks, 32 * wpl
    per = split_columns(k, gs, chunk * wk, config.get("SPLIT_K", 1))
    words = codes_packed.contiguous().view(torch.int32).to(torch.int64) & 0xFFFFFFFF  # [N, K / 8]
    quads = x.contiguous().view(torch.int64)  # [M, K / 4]
    lut = lut_pool[int(slot_of_token[0])]  # [N, gpr, NV]
    y = torch.zeros(m, n)
    lane = torch.arange(32)
    g, t = lane // 4, lane % 4
    tiles = 1 if m <= 8 else 2
    for row0 in range(0, n, 16 * blocks):
        for k_lo in range(0, k, per):
            rows = torch.arange(row0, row0 + 16 * blocks)
            lut_rows = torch.zeros(16 * blocks, nv, dtype=lut.dtype)
            lut_rows[rows < n] = lut[rows[rows < n], k_lo // gs]
            slots = pair_table(lut_rows, copies)  # [256, 64 TABLES]
            table = slots.reshape(256, tables, TABLE_SLOTS.value).transpose(0, 1).flatten()  # b32 i at byte 4 i
            for w, b in ((w, b) for w in range(rb * wk) for b in range(rows_a_warp)):
                # the warp's row blocks ROWS (w % RB) + b, and its chunks: turn, turn + WK, ... (turn = w // RB)
                block, turn = rows_a_warp * (w % rb) + b, w // rb
                r0 = row0 + 16 * block + g
                slot0 = copies * (16 * block + g) + t % copies
                slot1 = copies * (16 * block + g + 8) + t % copies
                off0 = (slot0 // TABLE_SLOTS.value) << 16 | (slot0 % TABLE_SLOTS.value) * 4
                off1 = (slot1 // TABLE_SLOTS.value) << 16 | (slot1 % TABLE_SLOTS.value) * 4
                acc = [torch.zeros(32, 4) for _ in range(tiles)]
                for step in range(k_lo, min(k_lo + per, k), chunk * wk):
                    c0 = step + turn * chunk
                    for j in range(wpl):
                        col_word = c0 // 8 + wpl * t + j
                        w0 = words[r0.clamp(max=n - 1), col_word]
                        w1 = words[(r0 + 8).clamp(max=n - 1), col_word]
                        p = [table[prmt(off0, w0, sel) // 4] for sel in LOOKUP_SELECTORS]
                        q = [table[prmt(off1, w1, sel) // 4] for sel in LOOKUP_SELECTORS]
                        quad = c0 // 4 + 2 * wpl * t + 2 * j
                        for tile in range(tiles):
                            xq = quads[(g + 8 * tile).clamp(max=m - 1)]
                            for h in range(2):
                                xb = xq[torch.arange(32), quad + h]
                                xs = (xb & 0xFFFFFFFF, (xb >> 32) & 0xFFFFFFFF)
                                a = (p[2 * h], q[2 * h], p[2 * h + 1], q[2 * h + 1])
                                acc[tile] = _model_mma(acc[tile], a, xs, x.dtype)
                for tile in range(tiles):  # the WK warps of a block summed (the kernel: through shared memory)
                    tok = 8 * tile + 2 * t
                    for i, (dt, dr) in enumerate(((0, 0), (1, 0), (0, 8), (1, 8))):
                        ok = (tok + dt < m) & (r0 + dr < n)
                        y.index_put_(((tok + dt)[ok], (r0 + dr)[ok]), acc[tile][ok, i], accumulate=True)
    return y
