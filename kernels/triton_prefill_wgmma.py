"""Prefill on Hopper's wgmma with the dequantized weight as its register operand: no shared-memory round trip.

The register-LUT prefill kernel (triton_prefill_prmt.py) dequantizes each [BN, BK] weight tile by byte permutes and
hands it to tl.dot, which moves it registers -> shared memory -> the MMA's layout behind CTA barriers every K block:
on the H200 it ran at ~1.6-1.8x cuBLAS's time, latency-bound (NOTES.md twenty-seventh session). This kernel is
written in Gluon (Triton's layout-explicit dialect) so that each lane looks up exactly its wgmma A fragments:

    acc [BN rows, BM tokens] (fp32, wgmma layout) += W_s [BN, BK] (registers) @ x[tile, block].T (shared memory)

wgmma's A fragment (as mma.sync m16n8k16's): lane 4g + t of a warp holds rows g and g + 8 of its 16 and, of every
16 columns, 2t, 2t+1 and 2t+8, 2t+9. Those columns' codes are byte t of the code words 2j and 2j + 1 (8 4-bit codes
a word). So per row and 64 columns a lane loads the 8 words (16-byte loads, shared by the quad's 4 lanes), gathers
byte t of 4 words into one word with 3 byte permutes and looks its 8 codes up in the row's byte tables
(kernels/prmt_lut.py, gather_dequant_program): its A fragments for 32 columns, in registers, where wgmma reads them.

Per CTA: one token tile of BLOCK_M tokens of one segment (segment tiles, triton_prefill_prmt.SegmentTiles) and
BLOCK_N rows, 16 a warp (32 where BLOCK_N is 32 x warps). x's tiles stream through a ring of STAGES shared-memory
buffers by cp.async, STAGES - 1 blocks ahead; the codes one block ahead in registers:

    tables = byte tables of LUT[slot, rows, group 0]
    for kb in K blocks:
        A = lookup(codes[kb], tables); load codes[kb + 1]; next group's tables at a group boundary
        wgmma(A, x[kb].T, acc) async
        wait x[kb + 1] (cp.async), CTA barrier; copy x[kb + STAGES - 1] into the buffer wgmma kb-1 read
        wait for wgmma kb                                  (its A registers are free only then)
    y[tile tokens, rows] = acc.T                           STORE_ROWS: through shared memory, 16-byte row runs

Why the register form waits for each wgmma: the compiler copies the A fragments into an aligned register block
right before the wgmma and treats that block as free after the issue, which the wait's deps do not cover; with a
wgmma left in flight the next lookups overwrote it (wrong results on the H200, NOTES.md twenty-eighth session). On
the H200 the register form was the faster one (~1.5x cuBLAS's time at 2,048 tokens against the register-LUT
kernel's ~1.7x).

The TMA form (X_TMA, _prefill_wgmma_tma_kernel; the register form otherwise alike) loads x's tiles by TMA: one
thread copies a whole [BM, BK] tile into a ring buffer and the buffer's mbarrier says when it has landed. Each
buffer is its own allocation and the K loop is unrolled by the ring, so Triton's barrier pass sees the TMA write one
buffer while the MMA reads another: one CTA barrier a K block (the refill's, after the MMA's issue) where the
cp.async ring had two and a proxy fence. PINGPONG (8 warps): the two warpgroups take turns to issue their MMAs
through two named barriers, warpgroup 0 first, so that one looks up its next tile while the other's MMA runs:

    warpgroup w, block kb: lookups -> wait my turn (bar w) -> wait x[kb] landed -> wgmma issue -> the other's turn
                           (bar 1 - w) -> expect x[kb + STAGES - 1], CTA barrier, TMA refill -> wait for wgmma kb

Without the turns both warpgroups look up at once and the tensor cores idle meanwhile. H200, 2,048 tokens,
4096x4096: cp.async 134.6 us, TMA 125.3, TMA + PINGPONG 111.5-112.9 (cuBLAS ~90; NOTES.md twenty-ninth session).
PINGPONG ran correctly on the H200 in every CUDA test case (fp16 and bf16, 3- and 4-bit, odd N, K 512 to 4096 with
tails of 1-3 blocks; thirtieth session).

Under Triton 3.9 the TMA form's K loop has two CTA barriers a block more than under 3.6, both from 3.9's lowering:
one before mbarrier.expect's arrive and one after warpgroup_mma_wait. The second keeps each warpgroup from its next
lookups until both MMAs end, which undoes PINGPONG; WAIT_ASM (on wherever PINGPONG is) issues the wait as inline PTX
instead. H100, 4096x4096, gpr 4, 2,048 tokens over 8 tasks, the shipped tile (fifty-sixth session): Triton 3.9
155.3 us with Gluon's wait, 124.5 with WAIT_ASM; Triton 3.6 118.0 and 117.9 (cuBLAS 87). The first barrier stays
(left out of the kernel, Triton's barrier pass puts one back before the TMA refill).

LUT_STAGE (the PINGPONG tiles' default at gpr > 1): at a tile's start one TMA copies its rows' LUT entries of every
group ([gpr, BN, 2**bits / 2] int32 pairs, 16 KB at gpr 4) into shared memory, so that a LUT group boundary builds its
tables from shared memory instead of waiting on DRAM before the MMA issue (H100, same case: 114.4-115.2 us against
117.4-118.0 under 3.6, 122.2 against 124.2 under 3.9; fifty-eighth session).

CODES_TMA (the PINGPONG tiles' default since the sixtieth session, where the codes allow a TMA copy): each K block's
code words [BN, BK / 8] int32 come by TMA into the ring beside its x tile (their own barriers), three blocks ahead,
and the lookup reads them from shared memory, instead of loading them into registers a block ahead (whose latency the
lookups' permutes waited on: Nsight, fifty-ninth session). 208 registers against 241; H100, same case, 109.4 and
110.7 us against 115.0 and 115.9 (1.24-1.25x cuBLAS; fifty-ninth and sixtieth sessions). A_AHEAD, each block's tile
looked up while the warpgroup's own MMA runs into a second set of A registers, lost with the words loaded (122.9-123.9
against 115.5-116.2 us) and over CODES_TMA (115.0 against 110.7), and was removed in the sixtieth session.

SPLIT_K (the TMA form) splits K into ranges of whole blocks, for few tokens, whose grid of row tiles alone is too
small: each program stores an fp32 partial and the tile's last to arrive sums them into y. At 4-16 tokens of one
task on the H200 it matched the shipped decode kernels (12.6-13.5 us on 4096x4096), so the op does not offer it
(benchmarks/decode_wgmma_grid.py, NOTES.md thirtieth session).

Takes: sm_90, x and the LUT of one 16-bit type, 3/4-bit codes in whole 4-byte words (prmt_ok), K and the group
size multiples of BLOCK_K, segment tiles (one slot a tile). No CPU form: Gluon has no interpreter; the CPU tests
compile it for sm_90 and check the fragment mapping through the emulator, the CUDA tests compare it to the reference.
"""

from __future__ import annotations

import functools

import torch
import triton

from kernels.prmt_lut import GATHER_DEQUANT_CONSTRAINTS, gather_dequant_program, to_ptx
from kernels.triton_common import split_k_tiles
from kernels.triton_decode_prmt import _pair_tables, _row_tables, prmt_ok
from kernels.triton_prefill_prmt import MAX_TILED_SEGMENTS, SegmentTiles

try:  # Gluon ships with Triton >= 3.5
    from triton.experimental import gluon
    from triton.experimental.gluon import language as gl
    from triton.experimental.gluon.language.nvidia.hopper import (
        async_copy,
        fence_async_shared,
        mbarrier,
        tma,
        warpgroup_mma,
        warpgroup_mma_init,
        warpgroup_mma_wait,
    )
    from triton.experimental.gluon.nvidia.hopper import TensorDescriptor

    # cp.async into shared memory: async_load since Triton 3.7, async_copy_global_to_shared before (the lent GPU
    # machine has 3.6)
    _async_load = getattr(async_copy, "async_load", None) or async_copy.async_copy_global_to_shared
    _barrier = getattr(gl, "barrier", None) or gl.thread_barrier  # renamed in Triton 3.7
    _tma_load = getattr(tma, "async_load", None) or tma.async_copy_global_to_shared  # renamed in Triton 3.7
    HAVE_GLUON = True
except ImportError:  # pragma: no cover - older Triton
    HAVE_GLUON = False

GATHER_DEQUANT = triton.language.constexpr(to_ptx(gather_dequant_program()))
GATHER_DEQUANT_CONSTR = triton.language.constexpr(GATHER_DEQUANT_CONSTRAINTS)
PINGPONG_BAR = triton.language.constexpr(8)  # named barriers 8 and 9: "warpgroup 0 / 1 may issue its MMA"
BAR_SYNC = triton.language.constexpr("{ .reg .pred p; setp.ne.u32 p, $2, 0; @p bar.sync $1, 256; mov.u32 $0, 0; }")
BAR_ARRIVE = triton.language.constexpr("{ .reg .pred p; setp.ne.u32 p, $2, 0; @p bar.arrive $1, 256; mov.u32 $0, 0; }")
# wgmma.wait_group 0 as inline PTX, passing 4 registers through (WAIT_ASM: the next block's code words, so that its
# lookups, which overwrite the A fragments an MMA in flight reads, come after the wait)
WAIT_MMA_ASM = triton.language.constexpr(
    "wgmma.wait_group.sync.aligned 0; mov.b32 $0, $4; mov.b32 $1, $5; mov.b32 $2, $6; mov.b32 $3, $7;"
)


@functools.cache
def _sm90(device_index: int) -> bool:
    """Whether the GPU is sm_90 (H100 / H200): per launch, so cached."""
    return torch.cuda.get_device_capability(device_index) == (9, 0)


def wgmma_prefill_ok(x: torch.Tensor, codes_packed: torch.Tensor, lut_pool: torch.Tensor, bits: int,
                     group_size: int, block_k: int = 64) -> bool:  # fmt: skip
    """Whether this kernel takes the call: Gluon, an sm_90 GPU, x and the LUT of one 16-bit type, prmt_ok's codes,
    K and the group size multiples of block_k."""
    return (
        HAVE_GLUON
        and x.is_cuda
        and _sm90(x.device.index if x.device.index is not None else torch.cuda.current_device())
        and x.dtype in (torch.float16, torch.bfloat16)
        and lut_pool.dtype == x.dtype
        and prmt_ok(codes_packed, lut_pool, bits)
        and x.shape[1] % block_k == 0
        and group_size % block_k == 0
    )


if HAVE_GLUON:

    if hasattr(gl.shared_memory_descriptor, "reinterpret"):  # renamed from _reinterpret in Triton 3.7

        @gluon.jit
        def _shared_view(smem, dtype: gl.constexpr, shape: gl.constexpr, layout: gl.constexpr):
            """smem's bytes seen with another type, shape or layout."""
            return smem.reinterpret(dtype, shape, layout)

    else:

        @gluon.jit
        def _shared_view(smem, dtype: gl.constexpr, shape: gl.constexpr, layout: gl.constexpr):
            """smem's bytes seen with another type, shape or layout."""
            return smem._reinterpret(dtype, shape, layout)

    @gluon.jit
    def _add(a, b):
        return a + b

    @gluon.jit
    def _segment_tile(starts_ptr, G, MIN_LEN, t, BLOCK_M: gl.constexpr, BLOCK_G: gl.constexpr,
                      NUM_WARPS: gl.constexpr):  # fmt: skip
        """[start, end) tokens of tile t (as triton_prefill_prmt._segment_tile): segments of >= MIN_LEN tokens, each
        cut into chunks of BLOCK_M, in order. A Gluon copy: that triton.jit function's arange has no layout, and
        Triton 3.6's Gluon has no cumsum."""
        layout: gl.constexpr = gl.BlockedLayout([1], [32], [NUM_WARPS], [0])
        g = gl.arange(0, BLOCK_G, layout=layout)
        s0 = gl.load(starts_ptr + g, mask=g < G, other=0)
        s1 = gl.load(starts_ptr + g + 1, mask=g < G, other=0)
        chunks = gl.where(s1 - s0 >= MIN_LEN, (s1 - s0 + BLOCK_M - 1) // BLOCK_M, 0)
        after = gl.associative_scan(chunks, 0, _add)  # tiles up to and including segment g
        seg = gl.sum((after <= t).to(gl.int32), 0)  # the segment holding tile t
        here = g == seg
        first = gl.sum(gl.where(here, after - chunks, 0), 0)
        start = gl.sum(gl.where(here, s0, 0), 0) + (t - first) * BLOCK_M
        return start, gl.minimum(start + BLOCK_M, gl.sum(gl.where(here, s1, 0), 0))

    @gluon.jit
    def _load_words(word_rows, kb, CW, B, BLOCK_K: gl.constexpr):
        """The code words of K block kb [BN, 4V, 4]: element (r, 4v + t, b) = word 4v + b of row r's block (the same
        for the quad's 4 lanes t; 16-byte loads). CW [1, 4V, 1] = 4v, B [1, 1, 4] = b."""
        return gl.load(word_rows + kb * (BLOCK_K // 8) + CW + B)

    @gluon.jit
    def _fragments(words, sel, tables, a_layout: gl.constexpr, BLOCK_N: gl.constexpr, BLOCK_K: gl.constexpr,
                   V: gl.constexpr, DT: gl.constexpr):  # fmt: skip
        """A [BN, BK] in the wgmma operand layout: words [BN, 4V, 4] -> per (row, 4v + t) byte t of its 4 words
        looked up -> entries e_{2i+p} = column 32v + 16(i // 2) + 8(i % 2) + 2t + p."""
        w4 = gl.reshape(words, [BLOCK_N, 4 * V, 2, 2])  # word b = 2 b1 + b0 at [..., b1, b0]
        even, odd = gl.split(w4)  # b0 = 0: words 0, 2; 1: words 1, 3
        w0, w2 = gl.split(even)
        w1, w3 = gl.split(odd)
        lay: gl.constexpr = w0.type.layout
        sel = gl.convert_layout(sel, lay)
        lo0, lo1, lo2, lo3, hi0, hi1, hi2, hi3 = [gl.convert_layout(gl.expand_dims(tab, 1), lay) for tab in tables]
        e0, e1, e2, e3, e4, e5, e6, e7 = gl.inline_asm_elementwise(
            GATHER_DEQUANT, GATHER_DEQUANT_CONSTR,
            [w0, w1, w2, w3, sel, lo0, lo1, lo2, lo3, hi0, hi1, hi2, hi3],
            dtype=(DT.value,) * 8, is_pure=True, pack=1,
        )  # fmt: skip
        h0 = gl.join(gl.join(e0, e1), gl.join(e2, e3))  # [BN, 4V, p, h] of jj = 0
        h1 = gl.join(gl.join(e4, e5), gl.join(e6, e7))
        a = gl.join(h0, h1)  # [BN, 4V, p, h, jj]
        a = gl.reshape(a, [BLOCK_N, V, 4, 2, 2, 2])  # [BN, v, t, p, h, jj]
        a = gl.permute(a, (0, 1, 5, 4, 2, 3))  # [BN, v, jj, h, t, p]: column 32v + 16jj + 8h + 2t + p
        return gl.convert_layout(gl.reshape(a, [BLOCK_N, BLOCK_K]), a_layout)

    @gluon.jit
    def _tile_setup(codes_ptr, lut_ptr, slot_sorted_ptr, starts_ptr, G, MIN_LEN, N, stride_cw, stride_ls, stride_ln,
                    BLOCK_M: gl.constexpr, BLOCK_N: gl.constexpr, BLOCK_K: gl.constexpr, BLOCK_G: gl.constexpr,
                    w_layout: gl.constexpr):  # fmt: skip
        """This program's tile (token tiles fastest: programs that run together share a codes strip, in L2) and
        what its lookups need: (pid_n, m_start, m_end, the tile's slot, word_rows [BN, 1, 1] code-word pointers,
        CW [1, 4V, 1] word 4v of a block, B [1, 1, 4], sel [BN, 4V] the prmt selectors, the LUT as uint32 pairs,
        lut_rows [BN] the rows' LUT offsets in the tile's slot)."""
        V: gl.constexpr = BLOCK_K // 32
        pid = gl.program_id(0)
        m_tiles = gl.num_programs(0) // gl.cdiv(N, BLOCK_N)
        pid_m = pid % m_tiles
        pid_n = pid // m_tiles
        m_start, m_end = _segment_tile(starts_ptr, G, MIN_LEN, pid_m, BLOCK_M, BLOCK_G, gl.num_warps())
        slot = gl.load(slot_sorted_ptr + m_start).to(gl.int64)
        w_rows_l: gl.constexpr = gl.SliceLayout(1, gl.SliceLayout(2, w_layout))
        rows = pid_n * BLOCK_N + gl.arange(0, BLOCK_N, layout=w_rows_l)
        rows_c = gl.minimum(rows, N - 1)  # rows past N read row N-1; never stored
        c2 = gl.arange(0, 4 * V, layout=gl.SliceLayout(0, gl.SliceLayout(2, w_layout)))
        bb = gl.arange(0, 4, layout=gl.SliceLayout(0, gl.SliceLayout(1, w_layout)))
        words_ptr = codes_ptr.to(gl.pointer_type(gl.uint32), bitcast=True)
        word_rows = words_ptr + gl.expand_dims(gl.expand_dims(rows_c.to(gl.int64) * stride_cw, 1), 2)
        CW = gl.expand_dims(gl.expand_dims((c2 // 4) * 4, 0), 2)
        B = gl.expand_dims(gl.expand_dims(bb, 0), 1)
        t = c2 % 4
        sel2 = gl.expand_dims((t | ((t + 4) << 4)).to(gl.uint32), 0)  # [1, 4V]: prmt picks byte t of 2 words
        sel = sel2 + gl.zeros([BLOCK_N, 4 * V], gl.uint32, gl.SliceLayout(2, w_layout))
        pairs_ptr = lut_ptr.to(gl.pointer_type(gl.uint32), bitcast=True)
        lut_rows = slot * stride_ls + rows_c.to(gl.int64) * stride_ln
        return pid_n, m_start, m_end, slot, word_rows, CW, B, sel, pairs_ptr, lut_rows

    @gluon.jit
    def _group_lut(lut_rows, kb, BPG, BITS: gl.constexpr):
        """The element offsets [BN] of the LUT entries of K block kb's group (BPG blocks a group) in the rows' slot."""
        return lut_rows + (kb // BPG) * (1 << BITS)

    @gluon.jit
    def _staged_tables(lut_words, group, BITS: gl.constexpr, lut_layout: gl.constexpr, rows_layout: gl.constexpr):
        """lo0-lo3, hi0-hi3 [BN] b32 in rows_layout: _row_tables of LUT group `group` from the tile's copy in shared
        memory (LUT_STAGE; lut_words [GPR, BN, 2**BITS / 2] int32, one row's pairs of a group in a row of 8 or 4
        words, which lut_layout [BN, 8 or 4] puts in each lane's registers: two 16-byte shared loads a row)."""
        v = lut_words.index(group).load(lut_layout).to(gl.uint32, bitcast=True)
        if BITS == 4:  # pair c = 4a + 2b + e at [:, a, b, e]
            even, odd = gl.split(gl.reshape(v, [v.shape[0], 2, 2, 2]))
            e0, e2 = gl.split(even)
            o1, o3 = gl.split(odd)
            p0, p4 = gl.split(e0)
            p2, p6 = gl.split(e2)
            p1, p5 = gl.split(o1)
            p3, p7 = gl.split(o3)
        else:  # 3 bits: 4 pairs (c = 2a + e), the upper 4 repeat them as _row_pairs'
            even, odd = gl.split(gl.reshape(v, [v.shape[0], 2, 2]))
            p0, p2 = gl.split(even)
            p1, p3 = gl.split(odd)
            p4, p5, p6, p7 = p0, p1, p2, p3
        pairs = [gl.convert_layout(p, rows_layout) for p in (p0, p1, p2, p3, p4, p5, p6, p7)]
        return _pair_tables(pairs, True)

    @gluon.jit
    def _lookup_block(kb, words, tables, in_group, word_rows, CW, B, sel, pairs_ptr, lut_rows, KB, BPG,
                      BITS: gl.constexpr, BLOCK_N: gl.constexpr, BLOCK_K: gl.constexpr, a_layout: gl.constexpr,
                      DT: gl.constexpr, LUT_STAGE: gl.constexpr = False, lut_words=None,
                      lut_layout: gl.constexpr = None, rows_layout: gl.constexpr = None,
                      LOAD_NEXT: gl.constexpr = True):  # fmt: skip
        """K block kb's weight tile looked up from its code words (A [BN, BK] in the wgmma operand layout), block
        kb + 1's words loaded (KB: the end of the program's K blocks), and the next LUT group's byte tables at a
        group boundary. Returns (A, the next words, the tables, K blocks of the current group done).

        The boundary's tables are built before this block's MMA issue (ptxas cannot move the byte permutes past the
        turn's named barrier), so the warpgroup, and under PINGPONG the other one waiting for its turn, wait for
        them. Loaded from the pool, that is a DRAM miss (no other program reads these rows of this slot), three times
        a tile at gpr 4 and K = 4096 (H100: 4096x4096, 8 tasks x 256 tokens, 118.9-119.8 us at gpr 4 against
        114.0-114.6 at gpr 1, fifty-first session). LUT_STAGE (PINGPONG's default at gpr > 1) reads them instead
        from the tile's LUT rows of every group, copied into shared memory at the program's start (lut_words,
        _staged_tables): 114.4-115.2 us against 117.4-118.0 in the same runs (fifty-eighth session). Five cures
        that added work to the loop instead were timed there and lost, and were removed: the next group's rows
        loaded a block ahead at every block (LUT_AHEAD, 126.8-127.4 us against 118.0), asked of L1 by a predicated
        prefetch a row one or two blocks before the boundary (LUT_PREFETCH, 124.7 and 127.1 us), the same prefetch
        under a branch taken only there (GROUP_PREFETCH, 121.1 and 133.4 us against 117.9), and the loads and
        permutes moved after the MMA issue, or the loads a block earlier (LATE_TABLES 1 / 2, 133.5-135.3 us against
        117.4-118.0; fifty-third to fifty-eighth sessions, benchmarks/NOTES.md). LOAD_NEXT 0 (CODES_TMA: the words
        come from shared memory): no next words; `words` is returned as the next."""
        if LOAD_NEXT:
            next_words = _load_words(word_rows, gl.minimum(kb + 1, KB - 1), CW, B, BLOCK_K)
        else:
            next_words = words
        a = _fragments(words, sel, tables, a_layout, BLOCK_N, BLOCK_K, BLOCK_K // 32, DT)
        in_group += 1
        if in_group == BPG:
            in_group = 0
            if kb + 1 < KB:
                if LUT_STAGE:
                    tables = _staged_tables(lut_words, (kb + 1) // BPG, BITS, lut_layout, rows_layout)
                else:
                    tables = _row_tables(pairs_ptr, _group_lut(lut_rows, kb + 1, BPG, BITS), BITS, True)
        return a, next_words, tables, in_group

    @gluon.jit
    def _store_y(acc, y_ptr, stride_ym, pid_n, m_start, m_end, N, BLOCK_N: gl.constexpr, BLOCK_M: gl.constexpr,
                 STORE_ROWS: gl.constexpr, acc_layout: gl.constexpr, y_layout: gl.constexpr):  # fmt: skip
        """y[tile tokens, rows] = acc.T (acc [BN rows, BM tokens]): the tokens below m_end, the rows below N.
        STORE_ROWS: through shared memory into 8 consecutive rows a lane (16-byte stores along y's rows)."""
        out = acc.to(y_ptr.dtype.element_ty)
        out_layout: gl.constexpr = y_layout if STORE_ROWS else acc_layout
        if STORE_ROWS:
            out = gl.convert_layout(out, y_layout)
        out_rows = pid_n * BLOCK_N + gl.arange(0, BLOCK_N, layout=gl.SliceLayout(1, out_layout))
        toks = m_start + gl.arange(0, BLOCK_M, layout=gl.SliceLayout(0, out_layout))
        y_ptrs = y_ptr + gl.expand_dims(toks.to(gl.int64) * stride_ym, 0) + gl.expand_dims(out_rows, 1)  # [BN, BM]
        mask = gl.expand_dims(toks < m_end, 0) & gl.expand_dims(out_rows < N, 1)
        gl.store(y_ptrs, out, mask=mask)

    @gluon.jit
    def _prefill_wgmma_kernel(
        x_ptr, codes_ptr, lut_ptr, slot_sorted_ptr, starts_ptr, y_ptr,
        G, MIN_LEN, N, K, GS, stride_xm, stride_cw, stride_ls, stride_ln, stride_ym,
        BITS: gl.constexpr, BLOCK_M: gl.constexpr, BLOCK_N: gl.constexpr, BLOCK_K: gl.constexpr,
        STAGES: gl.constexpr, BLOCK_G: gl.constexpr, STORE_ROWS: gl.constexpr,
        acc_layout: gl.constexpr, a_layout: gl.constexpr, w_layout: gl.constexpr, x_layout: gl.constexpr,
        x_smem_layout: gl.constexpr, y_layout: gl.constexpr,
    ):  # fmt: skip
        DT: gl.constexpr = x_ptr.dtype.element_ty
        pid_n, m_start, m_end, slot, word_rows, CW, B, sel, pairs_ptr, lut_rows = _tile_setup(
            codes_ptr, lut_ptr, slot_sorted_ptr, starts_ptr, G, MIN_LEN, N, stride_cw, stride_ls, stride_ln,
            BLOCK_M, BLOCK_N, BLOCK_K, BLOCK_G, w_layout,
        )  # fmt: skip

        # x tiles [BM, BK] through a ring of shared-memory buffers (cp.async)
        x_smem = gl.allocate_shared_memory(DT, [STAGES, BLOCK_M, BLOCK_K], x_smem_layout)
        xm = m_start + gl.arange(0, BLOCK_M, layout=gl.SliceLayout(1, x_layout))
        xm = gl.minimum(xm, m_end - 1)  # rows past the segment re-read its last token (never stored)
        xk = gl.arange(0, BLOCK_K, layout=gl.SliceLayout(0, x_layout))
        x_tile = x_ptr + gl.expand_dims(xm.to(gl.int64) * stride_xm, 1) + gl.expand_dims(xk, 0)  # [BM, BK]
        KB = K // BLOCK_K
        BPG = GS // BLOCK_K  # K blocks a LUT group
        for s in gl.static_range(STAGES - 1):
            _async_load(x_smem.index(s), x_tile + gl.minimum(s, KB - 1) * BLOCK_K)
            async_copy.commit_group()
        async_copy.wait_group(STAGES - 2)  # x block 0 landed (this thread's copies)
        fence_async_shared()  # ordered before the wgmma's reads (async proxy)
        _barrier()  # everyone's

        tables = _row_tables(pairs_ptr, lut_rows, BITS, True)  # triton.jit: takes any layout
        words = _load_words(word_rows, 0, CW, B, BLOCK_K)
        acc = gl.zeros([BLOCK_N, BLOCK_M], gl.float32, acc_layout)
        in_group = 0  # K blocks of the current LUT group done
        for kb in range(KB):
            a, words, tables, in_group = _lookup_block(kb, words, tables, in_group, word_rows, CW, B, sel, pairs_ptr,
                                                       lut_rows, KB, BPG, BITS, BLOCK_N, BLOCK_K, a_layout, DT)
            fence_async_shared()  # the copies (generic proxy) ordered before the wgmma's reads (async proxy)
            acc = warpgroup_mma(a, x_smem.index(kb % STAGES).permute((1, 0)), acc, is_async=True)
            async_copy.wait_group(STAGES - 3)  # x block kb+1 landed (this thread's copies)
            _barrier()  # everyone's; and every warpgroup's wgmma kb-1 has finished: its buffer is free
            nxt = kb + STAGES - 1
            _async_load(x_smem.index(nxt % STAGES), x_tile + gl.minimum(nxt, KB - 1) * BLOCK_K)
            async_copy.commit_group()
            # Wait for this wgmma before the next block's lookups: the A fragments it reads from registers are
            # copied into an aligned block right before it, which the compiler treats as free after the issue (with
            # one wgmma left in flight, the next lookups overwrote them: wrong results on the H200). The
            # dequantization overlaps the other warpgroups' MMAs instead.
            acc = warpgroup_mma_wait(num_outstanding=0, deps=[acc])
        acc = warpgroup_mma_wait(num_outstanding=0, deps=[acc])
        async_copy.wait_group(0)

        _store_y(acc, y_ptr, stride_ym, pid_n, m_start, m_end, N, BLOCK_N, BLOCK_M, STORE_ROWS, acc_layout, y_layout)

    @gluon.jit
    def _ring(dtype: gl.constexpr, shape: gl.constexpr, layout: gl.constexpr, STAGES: gl.constexpr):
        """STAGES buffers of `shape` and their "landed" barriers (initialized), each its own allocation: the loop
        indexes them with constants, so Triton's barrier pass sees the TMA writing one buffer while the MMA or the
        lookup reads another (one ring allocation indexed at run time looks like a write-read race to it and gets a
        CTA barrier every block). x's tiles [BM, BK] have one; CODES_TMA's code words [BN, BK / 8] another, with
        barriers of their own (two copies arriving at one barrier would be two accesses to it for the barrier pass,
        which puts a CTA barrier between them)."""
        bufs = ()
        bars = ()
        for _ in gl.static_range(STAGES):
            bufs = bufs + (gl.allocate_shared_memory(dtype, shape, layout),)
            bars = bars + (gl.allocate_shared_memory(gl.int64, [1], mbarrier.MBarrierLayout()),)
        for s in gl.static_range(STAGES):
            mbarrier.init(bars[s], count=1)
        return bufs, bars

    @gluon.jit
    def _smem_words(w_buf, codes_layout: gl.constexpr, w_layout: gl.constexpr, BLOCK_N: gl.constexpr,
                    V: gl.constexpr):  # fmt: skip
        """A K block's code words [BN, 4V, 4] in w_layout (as _load_words gives them) from its tile [BN, 4V] in
        shared memory: each lane reads its row's 4 words of each 32 columns (16 bytes), the quad's 4 lanes alike
        (codes_layout [BN, 4V words, 4 lanes t], whose slice along t the load takes)."""
        w = w_buf.load(gl.SliceLayout(2, codes_layout)).to(gl.uint32, bitcast=True)  # [BN, 4V]: word 4v + b
        w3 = gl.expand_dims(w, 2) + gl.zeros([BLOCK_N, 4 * V, 4], gl.uint32, codes_layout)  # [r, 4v + b, t]
        w4 = gl.permute(gl.reshape(w3, [BLOCK_N, V, 4, 4]), (0, 1, 3, 2))  # [r, v, t, b]
        return gl.convert_layout(gl.reshape(w4, [BLOCK_N, 4 * V, 4]), w_layout)

    @gluon.jit
    def _named_barrier(asm: gl.constexpr, bar_id, pred):
        """BAR_SYNC or BAR_ARRIVE on named barrier `bar_id` ([threads] int32, one a thread) of 256 threads, by the
        threads where pred != 0 (whole warps)."""
        return gl.inline_asm_elementwise(asm, "=r,r,r", [bar_id, pred], dtype=gl.int32, is_pure=False, pack=1)

    @gluon.jit
    def _tma_k_block(kb, s: gl.constexpr, phase, acc, words, tables, in_group, x_desc, x_bufs, landed, m_start,
                     word_rows, CW, B, sel, pairs_ptr, lut_rows, KB, BPG, BITS: gl.constexpr, BLOCK_N: gl.constexpr,
                     BLOCK_K: gl.constexpr, STAGES: gl.constexpr, X_BYTES: gl.constexpr, a_layout: gl.constexpr,
                     PINGPONG: gl.constexpr, wg, TAIL: gl.constexpr, WAIT_ASM: gl.constexpr,
                     LUT_STAGE: gl.constexpr, lut_words, lut_layout: gl.constexpr,
                     rows_layout: gl.constexpr, CODES_TMA: gl.constexpr, w_bufs, codes_desc,
                     codes_landed, n_start, codes_layout: gl.constexpr, w_layout: gl.constexpr):  # fmt: skip
        """K block kb of the TMA form, its x tile in ring buffer s (landed in phase `phase`): look the weight tile
        up, MMA, refill the buffer MMA kb-1 read with block kb + STAGES - 1 (below KB, the end of the program's K
        blocks). Returns the carried state. CODES_TMA: the block's code words came by TMA into ring buffer s
        (w_bufs, codes_landed); `words` is carried unused."""
        words_in = words
        if CODES_TMA:
            if TAIL:
                _barrier()  # (as before the landed-wait below)
            mbarrier.wait(codes_landed[s], phase)
            words = _smem_words(w_bufs[s], codes_layout, w_layout, BLOCK_N, BLOCK_K // 32)
        a, next_words, tables, in_group = _lookup_block(kb, words, tables, in_group, word_rows, CW, B, sel, pairs_ptr,
                                                     lut_rows, KB, BPG, BITS, BLOCK_N, BLOCK_K, a_layout, x_desc.dtype,
                                                     LUT_STAGE, lut_words, lut_layout, rows_layout,
                                                     not CODES_TMA)  # fmt: skip
        if TAIL and not CODES_TMA:
            # A tail block runs under an `if`; after one, Triton's barrier pass wants a CTA barrier before the
            # landed-wait (3.6) or the MMA (3.9): one here, where it cannot fall inside a turn (below)
            _barrier()
        mbarrier.wait(landed[s], phase)
        if PINGPONG:  # my warpgroup's turn to issue (the other one's MMA kb - 1 or kb went first)
            # No CTA barrier may come between this wait and the arrive below: the other warpgroup cannot reach it
            # before its own turn (one the barrier pass put before the landed-wait of the tail's second block, when
            # this wait came first, hung the H200 at K 512 with 3 stages)
            _named_barrier(BAR_SYNC, PINGPONG_BAR + wg, wg >= 0)
        acc = warpgroup_mma(a, x_bufs[s].permute((1, 0)), acc, is_async=True)
        if PINGPONG:  # the other warpgroup's turn (warpgroup 1 leaves out its last: nobody would wait for it)
            _named_barrier(BAR_ARRIVE, PINGPONG_BAR + 1 - wg, (wg == 0) | (kb + 1 < KB))
        nxt = kb + STAGES - 1
        refill: gl.constexpr = (s + STAGES - 1) % STAGES
        # Arrive-and-expect before the CTA barrier, the copy after it: the barrier is needed anyway (every warpgroup
        # has waited for its MMA kb-1, the buffer's last reader, at the end of its last block), and Triton's barrier
        # pass wants one between two accesses to the same mbarrier. Waiters of this buffer's last phase have passed it.
        # (Triton 3.9 lowers a CTA barrier before the expect too; the expect as inline PTX without it, EXPECT_ASM,
        # was slower: 132.6 against 124.2 us on the H100, fifty-eighth session, and was removed.)
        mbarrier.expect(landed[refill], X_BYTES, pred=nxt < KB)
        if CODES_TMA:
            mbarrier.expect(codes_landed[refill], BLOCK_N * BLOCK_K // 2, pred=nxt < KB)
        _barrier()
        _tma_load(x_desc, [m_start, nxt * BLOCK_K], landed[refill], x_bufs[refill], pred=nxt < KB)
        if CODES_TMA:
            _tma_load(codes_desc, [n_start, nxt * (BLOCK_K // 8)], codes_landed[refill], w_bufs[refill],
                      pred=nxt < KB)  # fmt: skip
        # the A fragments are read from registers: wait before the next lookups overwrite them
        if WAIT_ASM:
            # Triton 3.9 lowers warpgroup_mma_wait with a CTA barrier after it, so that neither warpgroup starts its
            # next lookups before both MMAs end (PINGPONG undone; 3.6 has none). Here the wait is inline PTX and the
            # next block's words pass through it: its lookups depend on them, so they come after the wait. The
            # refill's buffer needs no barrier of its own: its last MMA reader's warpgroup waited before this
            # block's CTA barrier, which comes before the refill (as under 3.6).
            next_words = gl.inline_asm_elementwise(WAIT_MMA_ASM, "=r,=r,=r,=r,r,r,r,r", [next_words],
                                                   dtype=next_words.dtype, is_pure=False, pack=4)  # fmt: skip
        else:
            acc = warpgroup_mma_wait(num_outstanding=0, deps=[acc])
        if CODES_TMA:
            next_words = words_in
        return acc, next_words, tables, in_group

    @gluon.jit
    def _prefill_wgmma_tma_kernel(
        x_desc, lut_desc, codes_desc, codes_ptr, lut_ptr, slot_sorted_ptr, starts_ptr, y_ptr, ws_ptr, counter_ptr,
        G, MIN_LEN, N, K, GS, stride_cw, stride_ls, stride_ln, stride_ym, KB_PER_SPLIT,
        BITS: gl.constexpr, BLOCK_M: gl.constexpr, BLOCK_N: gl.constexpr, BLOCK_K: gl.constexpr,
        STAGES: gl.constexpr, BLOCK_G: gl.constexpr, STORE_ROWS: gl.constexpr, PINGPONG_ON: gl.constexpr,
        acc_layout: gl.constexpr, a_layout: gl.constexpr, w_layout: gl.constexpr, y_layout: gl.constexpr,
        USE_SPLIT: gl.constexpr = False, WAIT_ASM: gl.constexpr = False, LUT_STAGE: gl.constexpr = False,
        lut_layout: gl.constexpr = None, CODES_TMA: gl.constexpr = False,
        codes_layout: gl.constexpr = None,
    ):  # fmt: skip
        """The register form with x's tiles by TMA: one thread loads a whole [BM, BK] tile into a ring buffer and its
        mbarrier says when it has landed. No cp.async address math, no proxy fence, and one CTA barrier a K block
        (after the MMA's issue, so the two warpgroups' lookups and MMAs may interleave). USE_SPLIT (split-K, for
        few tokens: decode): program (tile, k) takes K blocks [k * KB_PER_SPLIT, ...) and stores its fp32 partial
        in ws [splits, tiles, BN, BM]; the tile's last to arrive (counter_ptr) sums them into y."""
        DT: gl.constexpr = x_desc.dtype
        X_BYTES: gl.constexpr = BLOCK_M * BLOCK_K * 2
        pid_n, m_start, m_end, slot, word_rows, CW, B, sel, pairs_ptr, lut_rows = _tile_setup(
            codes_ptr, lut_ptr, slot_sorted_ptr, starts_ptr, G, MIN_LEN, N, stride_cw, stride_ls, stride_ln,
            BLOCK_M, BLOCK_N, BLOCK_K, BLOCK_G, w_layout,
        )  # fmt: skip
        BPG = GS // BLOCK_K  # K blocks a LUT group
        if USE_SPLIT:  # this program's K blocks [kb0, KB)
            kb0 = gl.program_id(1) * KB_PER_SPLIT
            KB = gl.minimum(kb0 + KB_PER_SPLIT, K // BLOCK_K)
        else:
            kb0 = 0
            KB = K // BLOCK_K

        # x tiles: rows past the segment are other tokens' (or zeros past x's end), multiplied and never stored
        X_LAYOUT: gl.constexpr = x_desc.layout
        x_bufs, landed = _ring(DT, [BLOCK_M, BLOCK_K], X_LAYOUT, STAGES)
        if CODES_TMA:
            CODES_LAYOUT: gl.constexpr = codes_desc.layout
            w_bufs, codes_landed = _ring(gl.int32, [BLOCK_N, BLOCK_K // 8], CODES_LAYOUT, STAGES)
        else:
            w_bufs, codes_landed = x_bufs, landed  # carried unused
        if LUT_STAGE:  # the tile's LUT rows of every group [GPR, BN, L / 2] by one TMA copy, before x's first tiles
            LUT_BOX: gl.constexpr = lut_desc.block_shape
            lut_smem = gl.allocate_shared_memory(lut_desc.dtype, LUT_BOX, lut_desc.layout)
            staged = gl.allocate_shared_memory(gl.int64, [1], mbarrier.MBarrierLayout())
            mbarrier.init(staged, count=1)
        fence_async_shared()
        _barrier()  # the barriers initialized before anyone waits on them
        if LUT_STAGE:
            LUT_BYTES: gl.constexpr = LUT_BOX[0] * LUT_BOX[1] * LUT_BOX[2] * 4
            mbarrier.expect(staged, LUT_BYTES)
            _tma_load(lut_desc, [0, slot.to(gl.int32) * N + pid_n * BLOCK_N, 0], staged, lut_smem)
        for s in gl.static_range(STAGES - 1):
            mbarrier.expect(landed[s], X_BYTES, pred=kb0 + s < KB)
            _tma_load(x_desc, [m_start, (kb0 + s) * BLOCK_K], landed[s], x_bufs[s], pred=kb0 + s < KB)
            if CODES_TMA:
                mbarrier.expect(codes_landed[s], BLOCK_N * BLOCK_K // 2, pred=kb0 + s < KB)
                _tma_load(codes_desc, [pid_n * BLOCK_N, (kb0 + s) * (BLOCK_K // 8)], codes_landed[s], w_bufs[s],
                          pred=kb0 + s < KB)  # fmt: skip

        # PINGPONG (two warpgroups): they take turns to issue their MMAs, warpgroup 0 first, so that one's lookups
        # run during the other's MMA (without it both look up at once and leave the tensor cores idle meanwhile)
        PINGPONG: gl.constexpr = PINGPONG_ON and gl.num_warps() == 8
        threads: gl.constexpr = 32 * gl.num_warps()
        wg = gl.arange(0, threads, layout=gl.BlockedLayout([1], [32], [gl.num_warps()], [0])) // 128  # [threads]
        if PINGPONG:
            _named_barrier(BAR_ARRIVE, PINGPONG_BAR + wg * 0, wg == 1)  # warpgroup 0's first turn

        rows_layout: gl.constexpr = gl.SliceLayout(1, gl.SliceLayout(2, w_layout))  # the tables' [BN]
        if LUT_STAGE:
            mbarrier.wait(staged, 0)
            # one group's [BN, L / 2] an index away: a view whose layout has the rank of the indexed buffer
            lut_words = _shared_view(lut_smem, gl.int32, LUT_BOX, gl.SwizzledSharedLayout(1, 1, 1, [1, 0]))
            tables = _staged_tables(lut_words, kb0 // BPG, BITS, lut_layout, rows_layout)
        else:
            lut_words = pairs_ptr  # carried unused
            tables = _row_tables(pairs_ptr, _group_lut(lut_rows, kb0, BPG, BITS), BITS, True)
        if CODES_TMA:
            words = sel  # carried unused: each block's words come from shared memory
        else:
            words = _load_words(word_rows, kb0, CW, B, BLOCK_K)
        acc = gl.zeros([BLOCK_N, BLOCK_M], gl.float32, acc_layout)
        if WAIT_ASM:  # the loop carries the MMA's accumulator token, waited for once after it
            acc = warpgroup_mma_init(acc)
        in_group = kb0 % BPG  # K blocks of the current LUT group done
        rounds = (KB - kb0) // STAGES
        for r in range(rounds):  # whole rounds of the ring, unrolled: every buffer index a constant
            for s in gl.static_range(STAGES):
                acc, words, tables, in_group = _tma_k_block(
                    kb0 + r * STAGES + s, s, r & 1, acc, words, tables, in_group, x_desc, x_bufs, landed,
                    m_start, word_rows, CW, B, sel, pairs_ptr, lut_rows, KB, BPG, BITS, BLOCK_N, BLOCK_K, STAGES,
                    X_BYTES, a_layout, PINGPONG, wg, False, WAIT_ASM, LUT_STAGE, lut_words, lut_layout, rows_layout,
                    CODES_TMA, w_bufs, codes_desc, codes_landed, pid_n * BLOCK_N, codes_layout, w_layout,
                )  # fmt: skip
        for s in gl.static_range(STAGES - 1):  # the last (KB - kb0) % STAGES blocks
            if kb0 + rounds * STAGES + s < KB:
                acc, words, tables, in_group = _tma_k_block(
                    kb0 + rounds * STAGES + s, s, rounds & 1, acc, words, tables, in_group, x_desc, x_bufs,
                    landed, m_start, word_rows, CW, B, sel, pairs_ptr, lut_rows, KB, BPG, BITS, BLOCK_N, BLOCK_K,
                    STAGES, X_BYTES, a_layout, PINGPONG, wg, True, WAIT_ASM, LUT_STAGE, lut_words, lut_layout,
                    rows_layout, CODES_TMA, w_bufs, codes_desc, codes_landed, pid_n * BLOCK_N, codes_layout,
                    w_layout,
                )  # fmt: skip
        if WAIT_ASM:  # the last MMA has been waited for by the inline PTX; this hands acc over as ready
            acc = warpgroup_mma_wait(num_outstanding=0, deps=[acc])
        if USE_SPLIT:
            # the partial to the workspace; the tile's last program to arrive sums them into y (as
            # triton_common.store_split_k, which Gluon cannot call: its tl.zeros has no layout, and y goes by _store_y)
            tile = gl.program_id(0)
            acc_rows = gl.arange(0, BLOCK_N, layout=gl.SliceLayout(1, acc_layout))
            acc_toks = gl.arange(0, BLOCK_M, layout=gl.SliceLayout(0, acc_layout))
            in_tile = gl.expand_dims(acc_rows * BLOCK_M, 1) + gl.expand_dims(acc_toks, 0)  # [BN, BM]
            tile_elems = BLOCK_N * BLOCK_M
            gl.store(ws_ptr + (gl.program_id(1) * gl.num_programs(0) + tile).to(gl.int64) * tile_elems + in_tile, acc)
            _barrier()  # every thread's partial stored before the (acq_rel, gpu-scope) arrival
            arrived = gl.atomic_add(counter_ptr + tile, 1)
            if arrived == gl.num_programs(1) - 1:
                total = gl.zeros([BLOCK_N, BLOCK_M], gl.float32, acc_layout)
                for k in range(gl.num_programs(1)):
                    total += gl.load(ws_ptr + (k * gl.num_programs(0) + tile).to(gl.int64) * tile_elems + in_tile,
                                     cache_modifier=".cg")  # fmt: skip
                _store_y(total, y_ptr, stride_ym, pid_n, m_start, m_end, N, BLOCK_N, BLOCK_M, STORE_ROWS, acc_layout,
                         y_layout)  # fmt: skip
                gl.atomic_xchg(counter_ptr + tile, 0, sem="relaxed")  # ready for the next launch
        else:
            _store_y(acc, y_ptr, stride_ym, pid_n, m_start, m_end, N, BLOCK_N, BLOCK_M, STORE_ROWS, acc_layout,
                     y_layout)  # fmt: skip


@functools.cache
def kernel_layouts(num_warps: int, block_n: int, block_m: int, block_k: int) -> dict:
    """The kernel's layouts: acc [BN, BM] (wgmma, 16 rows a warp, BN / (16 warps) row repeats), its A operand
    [BN, BK], the code words [BN, 4V, 4] laid out as the A fragments need them (lane 4g + t: rows g, g + 8 of its
    warp's 16 and the 4 words of each 32 columns; the 4 words of one lane in consecutive registers), x's tiles
    [BM, BK] (16 bytes a lane) and their shared-memory buffers (128-byte swizzle, the wgmma's B operand)."""
    if block_n % (16 * num_warps) or num_warps % 4 or block_k % 32 or block_m % 8 or not 8 <= block_m <= 256:
        raise ValueError(f"no wgmma layout for {block_n}x{block_m}x{block_k} over {num_warps} warps")
    acc = gl.NVMMADistributedLayout(version=[3, 0], warps_per_cta=[num_warps, 1], instr_shape=[16, block_m, 16])
    a = gl.DotOperandLayout(operand_index=0, parent=acc, k_width=2)
    v = block_k // 32
    reg = [[0, 0, 1], [0, 0, 2], [8, 0, 0]] + [[0, 4 << i, 0] for i in range(v.bit_length() - 1)]
    reg += [[16 * num_warps << i, 0, 0] for i in range((block_n // (16 * num_warps)).bit_length() - 1)]
    lanes = [[0, 1, 0], [0, 2, 0], [1, 0, 0], [2, 0, 0], [4, 0, 0]]
    warps = [[16 << i, 0, 0] for i in range(num_warps.bit_length() - 1)]
    words = gl.DistributedLinearLayout(reg_bases=reg, lane_bases=lanes, warp_bases=warps, block_bases=[],
                                       shape=[block_n, 4 * v, 4])  # fmt: skip
    # CODES_TMA's words [BN, 4V words 4v + b, 4 lanes t] before their permute into w_layout's [BN, 4v + t, b]: the same
    # registers and lanes (a base (r, 4v + t, b) of w_layout is (r, 4v + b, t) here)
    def as_codes(bases: list[list[int]]) -> list[list[int]]:
        return [[r, (c // 4) * 4 + b, c % 4] for r, c, b in bases]

    codes = gl.DistributedLinearLayout(reg_bases=as_codes(reg), lane_bases=as_codes(lanes), warp_bases=as_codes(warps),
                                       block_bases=[], shape=[block_n, 4 * v, 4])  # fmt: skip
    tpk = block_k // 8  # lanes along K, 8 elements (16 bytes) each
    x = gl.BlockedLayout([1, 8], [32 // tpk, tpk], [num_warps, 1], [1, 0])
    x_smem = gl.NVMMASharedLayout(swizzle_byte_width=128, element_bitwidth=16, rank=2)
    y = gl.BlockedLayout([8, 1], [min(block_n // 8, 32), 32 // min(block_n // 8, 32)], [1, num_warps], [0, 1])
    return {"acc_layout": acc, "a_layout": a, "w_layout": words, "x_layout": x, "x_smem_layout": x_smem,
            "y_layout": y, "codes_layout": codes}  # fmt: skip


# the TMA form's (x's comes with its descriptor), and the cp.async form's
TMA_LAYOUTS = ("acc_layout", "a_layout", "w_layout", "y_layout", "codes_layout")
CP_ASYNC_LAYOUTS = ("acc_layout", "a_layout", "w_layout", "x_layout", "x_smem_layout", "y_layout")


@functools.cache
def staged_lut_layout(num_warps: int, block_n: int, words: int) -> gl.DistributedLinearLayout:
    """LUT_STAGE's register layout of one group's pair words [BN, words] (8 at 4 bits, 4 at 3): a row's words in
    one lane's registers, the rows where w_layout puts them (lane 4g + t: rows g and g + 8 of its warp's 16, the
    quad's 4 lanes alike), so that splitting off each word gives the [BN] tables' layout without a conversion."""
    reg = [[0, 1 << i] for i in range(words.bit_length() - 1)] + [[8, 0]]
    reg += [[16 * num_warps << i, 0] for i in range((block_n // (16 * num_warps)).bit_length() - 1)]
    lanes = [[0, 0], [0, 0], [1, 0], [2, 0], [4, 0]]
    warps = [[16 << i, 0] for i in range(num_warps.bit_length() - 1)]
    return gl.DistributedLinearLayout(reg_bases=reg, lane_bases=lanes, warp_bases=warps, block_bases=[],
                                      shape=[block_n, words])  # fmt: skip


def staged_lut_descriptor(lut_pool: torch.Tensor, block_n: int) -> TensorDescriptor:
    """LUT_STAGE's TMA descriptor: the pool [S, N, gpr, L] as int32 pairs of entries seen as [gpr, S * N, L / 2] (a
    group's entries of row r of slot s at [g, s * N + r]), one copy a tile of [gpr, BN, L / 2]: group-major in
    shared memory, so that a group's rows are one index away. Needs a contiguous pool (16-byte aligned strides)."""
    s, n, gpr, lut = lut_pool.shape
    view = lut_pool.view(torch.int32).view(s * n, gpr, lut // 2).permute(1, 0, 2)
    layout = gl.NVMMASharedLayout(swizzle_byte_width=0, element_bitwidth=32, rank=3)
    return TensorDescriptor.from_tensor(view, [gpr, block_n, lut // 2], layout)


def codes_tma_ok(codes_packed: torch.Tensor) -> bool:
    """Whether TMA can copy the codes [N, K / 2] bytes as int32 words: contiguous, 16-byte aligned start and rows."""
    return codes_packed.is_contiguous() and codes_packed.data_ptr() % 16 == 0 and codes_packed.stride(0) % 16 == 0


def codes_descriptor(codes_packed: torch.Tensor, block_n: int, block_k: int) -> TensorDescriptor:
    """CODES_TMA's TMA descriptor: the codes [N, K / 2] bytes as int32 words [N, K / 8], one copy a K block's
    [BN, BK / 8] (rows past N read as zeros: never stored). Needs contiguous, 16-byte aligned codes."""
    if not codes_tma_ok(codes_packed):
        raise ValueError("CODES_TMA copies the code words by TMA: contiguous codes, 16-byte aligned rows")
    layout = gl.NVMMASharedLayout(swizzle_byte_width=0, element_bitwidth=32, rank=2)
    return TensorDescriptor.from_tensor(codes_packed.view(torch.int32), [block_n, block_k // 8], layout)


def staged_lut_args(lut_pool: torch.Tensor, num_warps: int, block_n: int) -> tuple[TensorDescriptor, dict]:
    """LUT_STAGE's launch arguments: the pool's descriptor (staged_lut_descriptor) and the constexprs that turn it
    on; what launch_prefill_wgmma passes and what benchmarks/bench_kernels.py compiles."""
    layout = staged_lut_layout(num_warps, block_n, lut_pool.shape[3] // 2)
    return staged_lut_descriptor(lut_pool, block_n), {"LUT_STAGE": True, "lut_layout": layout}


def default_prefill_wgmma_config() -> dict:
    """The H200's choice at 2,048 tokens on every Llama-2-7B shape and gpr (thirtieth session): the TMA form,
    256 x 128 x 64 tiles, 8 warps taking turns, 4 stages, y by row runs."""
    return {"WGMMA": 1, "X_TMA": 1, "BLOCK_M": 256, "BLOCK_N": 128, "BLOCK_K": 64, "num_warps": 8, "num_stages": 4,
            "STORE_ROWS": 1, "PINGPONG": 1}  # fmt: skip


# The cp.async form: (BLOCK_M tokens, BLOCK_N rows, BLOCK_K, warps, stages, STORE_ROWS): 16 rows a warp (or 32: two
# row repeats); none spills on sm_90. STORE_ROWS: y written through shared memory in 16-byte runs of rows (else
# 2-byte stores from the wgmma layout). A form that kept one wgmma in flight by storing the looked-up tile into
# shared memory (A_SMEM) lost every H200 grid (twenty-eighth and twenty-ninth sessions) and was removed in the
# thirtieth, once no shipped choice named it.
WGMMA_PREFILL_CANDIDATES = [
    (256, 128, 64, 8, 4, 0), (256, 128, 64, 8, 3, 0), (256, 64, 64, 4, 3, 0), (128, 64, 64, 4, 4, 0),
    (256, 128, 64, 8, 4, 1), (256, 64, 64, 4, 3, 1),
]  # fmt: skip
# The TMA form (X_TMA, _prefill_wgmma_tma_kernel): (BLOCK_M, BLOCK_N, BLOCK_K, warps, stages, STORE_ROWS,
# PINGPONG); 3 or 4 stages (the kernel takes up to MAX_TMA_STAGES: a deeper ring for few tokens, whose tiles are
# small); PINGPONG: the two warpgroups of 8 warps take turns to issue.
MAX_TMA_STAGES = 8
WGMMA_TMA_CANDIDATES = [(256, 128, 64, 8, 4, 1, 0), (256, 128, 64, 8, 3, 1, 0), (256, 64, 64, 4, 3, 1, 0),
                        (256, 128, 64, 8, 4, 0, 0), (256, 128, 64, 8, 4, 1, 1), (256, 128, 64, 8, 3, 1, 1),
                        (256, 128, 64, 8, 4, 0, 1), (128, 128, 64, 8, 4, 1, 1)]  # fmt: skip


def prefill_wgmma_candidates(group_size: int) -> list[dict]:
    """WGMMA_PREFILL_CANDIDATES and WGMMA_TMA_CANDIDATES as configs (WGMMA set: triton_ops._launch_tiles routes
    them here), those whose BLOCK_K divides the group size."""
    keys = ("BLOCK_M", "BLOCK_N", "BLOCK_K", "num_warps", "num_stages", "STORE_ROWS")
    tma_keys = ("BLOCK_M", "BLOCK_N", "BLOCK_K", "num_warps", "num_stages", "STORE_ROWS", "PINGPONG")
    cp_async = [{"WGMMA": 1, **dict(zip(keys, c, strict=True))} for c in WGMMA_PREFILL_CANDIDATES]
    tma = [{"WGMMA": 1, "X_TMA": 1, **dict(zip(tma_keys, c, strict=True))} for c in WGMMA_TMA_CANDIDATES]
    return [c for c in cp_async + tma if group_size % c["BLOCK_K"] == 0]


def tma_options(config: dict) -> dict:
    """The TMA form's option constexprs from a launcher config: what launch_prefill_wgmma passes and what
    benchmarks/bench_kernels.py compiles, so that an option added here reaches both. PINGPONG absent: off; WAIT_ASM
    absent: as PINGPONG (the inline-PTX wait: Triton 3.9's lowered one undoes the turns, and under 3.6 the two waits
    timed alike; WAIT_ASM 0 keeps Gluon's, for the grid's comparison). CODES_TMA: codes_tma. LUT_STAGE:
    lut_stage."""
    pingpong = bool(config.get("PINGPONG", 0))
    return {"PINGPONG_ON": pingpong, "WAIT_ASM": bool(config.get("WAIT_ASM", pingpong)),
            "CODES_TMA": codes_tma(config)}


def lut_stage(config: dict, gpr: int) -> bool:
    """Whether the TMA form copies each tile's LUT rows of every group into shared memory at its start (LUT_STAGE):
    as the config says, else in the PINGPONG tiles where there is more than one group (a boundary's tables then come
    from shared memory, not DRAM: H100, 4096x4096, gpr 4, 8 tasks x 256 tokens, 114.4-115.2 us against 117.4-118.0
    under Triton 3.6 and 122.2 against 124.2 under 3.9, fifty-eighth session; the 8-warp, 128-row layout the CUDA
    tests ran it in). LUT_STAGE 0 keeps the loads, for the grid."""
    default = bool(config.get("PINGPONG")) and gpr > 1
    return bool(config.get("X_TMA")) and bool(config.get("LUT_STAGE", default))


def codes_tma(config: dict) -> bool:
    """Whether the TMA form copies each K block's code words by TMA into its ring (CODES_TMA): as the config says,
    else in the PINGPONG tiles (H100, 4096x4096, gpr 4, 8 tasks x 256 tokens: 109.4-110.7 us against 115.0-115.9
    under Triton 3.6, fifty-ninth and sixtieth sessions; every CUDA test case passed over it). CODES_TMA 0 keeps the
    words loaded into registers a block ahead, for the grid and for codes TMA cannot copy (codes_tma_ok)."""
    default = bool(config.get("PINGPONG"))
    return bool(config.get("X_TMA")) and bool(config.get("CODES_TMA", default))


def with_codes_tma(config: dict, codes_packed: torch.Tensor) -> dict:
    """config with CODES_TMA resolved for these codes: codes_tma's choice, off where TMA cannot copy them
    (codes_tma_ok: the words are loaded instead) unless the config names it (codes_descriptor then refuses them)."""
    use = codes_tma(config) and (codes_tma_ok(codes_packed) or bool(config.get("CODES_TMA")))
    return {**config, "CODES_TMA": int(use)}


def _pingpong_candidates(group_size: int) -> list[dict]:
    """The TMA candidates with PINGPONG: the base of the grid-only variants below."""
    return [c for c in prefill_wgmma_candidates(group_size) if c.get("PINGPONG")]


def prefill_wgmma_gluon_wait(group_size: int) -> list[dict]:
    """The TMA candidates with PINGPONG, each with WAIT_ASM 0 (Gluon's warpgroup_mma_wait, the form before the
    fifty-sixth session): the grid's (benchmarks/prefill_grid.py), not the op's, to time the two waits side by side
    under each Triton."""
    return [{**c, "WAIT_ASM": 0} for c in _pingpong_candidates(group_size)]


def prefill_wgmma_lut_loaded(group_size: int) -> list[dict]:
    """The TMA candidates with PINGPONG, each with LUT_STAGE 0 (a boundary's tables loaded from the pool, the form
    before the fifty-eighth session): the grid's, not the op's, to time the two side by side at gpr > 1."""
    return [{**c, "LUT_STAGE": 0} for c in _pingpong_candidates(group_size)]


def prefill_wgmma_codes_loaded(group_size: int) -> list[dict]:
    """The TMA candidates with PINGPONG, each with CODES_TMA 0 (the code words loaded into registers a block ahead,
    the form before the sixtieth session): the grid's, not the op's, to time the two side by side."""
    return [{**c, "CODES_TMA": 0} for c in _pingpong_candidates(group_size)]


def prefill_wgmma_grid_only(group_size: int) -> list[dict]:
    """Every grid-only variant of the PINGPONG tiles (Gluon's wait, the LUT loaded, the code words loaded): what
    benchmarks/prefill_grid.py times beside the candidates and the CUDA tests run."""
    return (prefill_wgmma_gluon_wait(group_size) + prefill_wgmma_lut_loaded(group_size)
            + prefill_wgmma_codes_loaded(group_size))  # fmt: skip


def launch_prefill_wgmma(x: torch.Tensor, codes_packed: torch.Tensor, lut_pool: torch.Tensor,
                         slot_sorted: torch.Tensor, bits: int, y: torch.Tensor, config: dict,
                         tiles: SegmentTiles) -> None:  # fmt: skip
    """y [M, N] <- the wgmma prefill kernel over segment tiles (tokens grouped by segment, in place). slot_sorted
    [M] int32: each token's slot; tiles: the segments (rows of segments shorter than tiles.min_len are left
    alone). config: BLOCK_M, BLOCK_N, BLOCK_K, num_warps, num_stages (>= 3); X_TMA: the TMA form (3 to 8 stages),
    whose PINGPONG (8 warps) has the two warpgroups take turns, whose SPLIT_K (default 1) splits K into that
    many ranges of whole blocks (for few tokens: decode's grid of row tiles alone is too small), whose WAIT_ASM
    (default: as PINGPONG) waits for each MMA by inline PTX instead of warpgroup_mma_wait (Triton 3.9 lowers Gluon's
    with a CTA barrier: tma_options), and whose LUT_STAGE (lut_stage: PINGPONG's default at gpr > 1, where the pool
    allows a TMA copy) copies each tile's LUT rows of every group into shared memory by TMA at its start, and whose
    CODES_TMA (codes_tma: PINGPONG's default, where codes_tma_ok) copies the code words by TMA through the ring."""
    k = x.shape[1]
    n = codes_packed.shape[0]
    gs = triton.cdiv(k, lut_pool.shape[2])
    bm, bn, bk = config["BLOCK_M"], config["BLOCK_N"], config["BLOCK_K"]
    stages, warps = config.get("num_stages", 4), config.get("num_warps", 8)
    if not wgmma_prefill_ok(x, codes_packed, lut_pool, bits, gs, bk):
        raise ValueError("the wgmma prefill kernel takes sm_90, x and LUT of one 16-bit type, prmt_ok codes and K "
                         f"and group size {gs} multiples of BLOCK_K={bk}")  # fmt: skip
    g = len(tiles.lengths)
    if g > MAX_TILED_SEGMENTS or tiles.starts.shape[0] != g + 1 or stages < 3:
        raise ValueError(f"segment tiles of at most {MAX_TILED_SEGMENTS} segments, starts of one more than their "
                         "lengths, and 3 or more stages")  # fmt: skip
    m_tiles = tiles.count(bm)
    if m_tiles == 0:
        return
    layouts = kernel_layouts(warps, bn, bm, bk)
    if config.get("X_TMA"):
        if not 3 <= stages <= MAX_TMA_STAGES:
            raise ValueError(f"the TMA form takes 3 to {MAX_TMA_STAGES} stages, not {stages}")
        x_desc = TensorDescriptor.from_tensor(x, [bm, bk], layouts["x_smem_layout"])
        lut_desc, staged = x_desc, {}  # x's descriptor: a placeholder, unread
        if lut_stage(config, lut_pool.shape[2]):
            if not (lut_pool.is_contiguous() and lut_pool.data_ptr() % 16 == 0):
                if config.get("LUT_STAGE"):  # asked for by name
                    raise ValueError("LUT_STAGE copies the LUT rows by TMA: a contiguous, 16-byte aligned pool")
            else:
                lut_desc, staged = staged_lut_args(lut_pool, warps, bn)
        config = with_codes_tma(config, codes_packed)
        codes_desc = x_desc  # a placeholder, unread
        if config["CODES_TMA"]:
            codes_desc = codes_descriptor(codes_packed, bn, bk)
        programs = m_tiles * triton.cdiv(n, bn)
        per_split, split, ws, counters = split_k_tiles(y, k // bk, int(config.get("SPLIT_K", 1)), programs, bn * bm)
        _prefill_wgmma_tma_kernel[(programs, split)](
            x_desc, lut_desc, codes_desc, codes_packed, lut_pool, slot_sorted, tiles.starts, y, ws, counters,
            g, tiles.min_len, n, k, gs, codes_packed.stride(0) // 4, lut_pool.stride(0), lut_pool.stride(1),
            y.stride(0), per_split,
            BITS=bits, BLOCK_M=bm, BLOCK_N=bn, BLOCK_K=bk, STAGES=stages, BLOCK_G=MAX_TILED_SEGMENTS,
            STORE_ROWS=bool(config.get("STORE_ROWS", 0)), **tma_options(config),
            **{k_: layouts[k_] for k_ in TMA_LAYOUTS}, USE_SPLIT=split > 1, **staged, num_warps=warps,
        )  # fmt: skip
        return
    _prefill_wgmma_kernel[(m_tiles * triton.cdiv(n, bn),)](
        x, codes_packed, lut_pool, slot_sorted, tiles.starts, y,
        g, tiles.min_len, n, k, gs, x.stride(0), codes_packed.stride(0) // 4, lut_pool.stride(0),
        lut_pool.stride(1), y.stride(0),
        BITS=bits, BLOCK_M=bm, BLOCK_N=bn, BLOCK_K=bk, STAGES=stages, BLOCK_G=MAX_TILED_SEGMENTS,
        STORE_ROWS=bool(config.get("STORE_ROWS", 0)), **{k_: layouts[k_] for k_ in CP_ASYNC_LAYOUTS}, num_warps=warps,
    )  # fmt: skip
