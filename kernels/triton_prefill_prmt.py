"""Prefill with each row's LUT in registers: the sorted prefill kernel's tiles, dequantized by byte permutes.

The generic prefill kernel (triton_prefill.py) dequantizes each [BN, BK] weight tile by one L1 gather per weight
(~11 instructions a weight on sm_90): at 2,048 tokens on 4096x4096 it ran at ~280 TFLOP/s where cuBLAS reaches
~720, whatever the task count (H200, NOTES.md twenty-sixth session). Here the tile comes from the rows' byte tables
(kernels/prmt_lut.py, dequant_program: ~2.75 instructions a weight), as in the tensor-core decode kernel
(triton_decode_prmt.py, _decode_prmt_dot_kernel), over token tiles of sorted tokens:

Grid: one program per (token tile, row tile of BLOCK_N rows), token tiles fastest. A token tile is BLOCK_M tokens of
the sorted order, or (tiles, SegmentTiles) a chunk of BLOCK_M tokens of one segment: a step of 4 prompts of 127
tokens then gets 4 tiles of one slot each instead of 2 that each loop over 2-3 slots' whole K range.

    for each distinct slot s in the token tile:          1 except where a sorted tile straddles two segments
        for each LUT group g:
            lo[4], hi[4] [BN] = byte tables of LUT[s, rows, g, 0..15]     8 loads and 8 prmt a row
            for each K block of g:
                W_s [BN, BK] = the tables looked up at the codes            ~21 instructions a word of 8 codes
                acc += W_s @ x[tokens of s, block].T  (W_LEFT: acc [BN, BM], the weight as the MMA's A operand)
                    or x[...] @ W_s.T                 (else: acc [BM, BN])
    y[perm[tile], rows] = acc

BLOCK_K divides the group size (a block lies in one group); 3- and 4-bit codes in rows of whole 4-byte words and a
16-bit LUT (triton_decode_prmt.prmt_ok). The interpreter (CPU tests) gathers from the LUT in place of the asm.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import triton
import triton.language as tl

from kernels.triton_common import (
    NO_SLOT,
    first_slot,
    interpreting,
    jit_any_size,
    next_slot,
    register_cap,
    tile_tokens,
)
from kernels.triton_decode_prmt import _dequant_words, _row_tables, prmt_ok


@triton.jit
def _segment_tile(starts_ptr, G, MIN_LEN, t, BLOCK_M: tl.constexpr, BLOCK_G: tl.constexpr):
    """[start, end) tokens of tile t when the segments (starts [G + 1] int32, G <= BLOCK_G) of at least MIN_LEN
    tokens are each cut into chunks of BLOCK_M tokens, in order; shorter segments get no tile."""
    g = tl.arange(0, BLOCK_G)
    s0 = tl.load(starts_ptr + g, mask=g < G, other=0)
    s1 = tl.load(starts_ptr + g + 1, mask=g < G, other=0)
    chunks = tl.where(s1 - s0 >= MIN_LEN, (s1 - s0 + BLOCK_M - 1) // BLOCK_M, 0)
    after = tl.cumsum(chunks, 0)  # tiles up to and including segment g
    seg = tl.sum((after <= t).to(tl.int32), 0)  # the segment holding tile t
    here = g == seg
    first = tl.sum(tl.where(here, after - chunks, 0), 0)
    start = tl.sum(tl.where(here, s0, 0), 0) + (t - first) * BLOCK_M
    return start, tl.minimum(start + BLOCK_M, tl.sum(tl.where(here, s1, 0), 0))


@jit_any_size(sizes=("M", "M_TILES", "G", "MIN_LEN"), unaligned=("slot_sorted_ptr", "perm_ptr", "starts_ptr"))
def _prefill_prmt_kernel(
    x_ptr, codes_ptr, lut_ptr, slot_sorted_ptr, perm_ptr, starts_ptr, y_ptr,
    M, M_TILES, G, MIN_LEN, N, K, KW, GS, stride_xm, stride_cw, stride_ls, stride_ln, stride_ym,
    BITS: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
    HAS_PERM: tl.constexpr, TILED: tl.constexpr, BLOCK_G: tl.constexpr, W_LEFT: tl.constexpr, ASM: tl.constexpr,
    DOT_PRECISION: tl.constexpr, EVEN_K: tl.constexpr = False,
):  # fmt: skip
    L: tl.constexpr = 1 << BITS
    BW: tl.constexpr = BLOCK_K // 8
    pid = tl.program_id(0)
    # Token tiles fastest: programs that run together share one codes strip (in L2).
    pid_m = pid % M_TILES
    pid_n = pid // M_TILES

    if TILED:  # token tile pid_m of the segments of >= MIN_LEN tokens, each cut in BLOCK_M chunks
        m_start, m_end = _segment_tile(starts_ptr, G, MIN_LEN, pid_m, BLOCK_M, BLOCK_G)
        m_offs = m_start + tl.arange(0, BLOCK_M)
        m_mask = m_offs < m_end
    else:
        m_offs = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
        m_mask = m_offs < M
    tok, slots = tile_tokens(perm_ptr, slot_sorted_ptr, m_offs, m_mask, HAS_PERM)  # [BM] each
    rows = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    rows_c = tl.minimum(rows, N - 1)  # rows past N read row N-1; never stored
    if TILED:  # one slot a tile: rows past the segment re-read its last token (never stored) instead of a mask
        x_rows = x_ptr + tl.minimum(tok, m_end - 1).to(tl.int64)[:, None] * stride_xm  # [BM, 1]
    else:
        x_rows = x_ptr + tok.to(tl.int64)[:, None] * stride_xm
    wj = tl.arange(0, BW)
    pairs_ptr = lut_ptr.to(tl.pointer_type(tl.uint32), bitcast=True)
    word_rows = codes_ptr.to(tl.pointer_type(tl.uint32), bitcast=True) + rows_c[:, None] * stride_cw  # [BN, 1]
    row_offs = rows_c.to(tl.int64) * stride_ln  # [BN] each row's LUT inside a slot

    if W_LEFT:
        acc = tl.zeros((BLOCK_N, BLOCK_M), dtype=tl.float32)
    else:
        acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    cur = first_slot(slots)
    while cur < NO_SLOT:
        sel = m_mask & (slots == cur)
        for g in range(0, tl.cdiv(K, GS)):
            offs = cur.to(tl.int64) * stride_ls + row_offs + g * L  # [BN] this slot's LUT of each row, group g
            tables = _row_tables(pairs_ptr, offs, BITS, ASM)
            for kb0 in range(g * GS, tl.minimum(g * GS + GS, K), BLOCK_K):
                wcol = kb0 // 8 + wj
                cols = kb0 + tl.arange(0, BLOCK_K)
                if EVEN_K:  # no column masks: fewer predicates to compute for each cp.async of the pipeline
                    words = tl.load(word_rows + wcol[None, :])  # [BN, BW]
                    if TILED:
                        xs = tl.load(x_rows + cols[None, :])
                    else:
                        xs = tl.load(x_rows + cols[None, :], mask=sel[:, None], other=0.0)
                else:
                    words = tl.load(word_rows + wcol[None, :], mask=(wcol < KW)[None, :], other=0)
                    xs = tl.load(x_rows + cols[None, :], mask=sel[:, None] & (cols < K)[None, :], other=0.0)
                w = _dequant_words(words, tables, lut_ptr, offs, BLOCK_N, BW, ASM).to(xs.dtype)  # [BN, BK]
                if W_LEFT:
                    acc = tl.dot(w, tl.trans(xs), acc, input_precision=DOT_PRECISION)
                else:
                    acc = tl.dot(xs, tl.trans(w), acc, input_precision=DOT_PRECISION)
        cur = next_slot(slots, cur)

    out_mask = m_mask[:, None] & (rows < N)[None, :]
    y_ptrs = y_ptr + tok.to(tl.int64)[:, None] * stride_ym + rows[None, :]  # [BM, BN]
    out = tl.trans(acc) if W_LEFT else acc
    tl.store(y_ptrs, out.to(y_ptr.dtype.element_ty), mask=out_mask)


def prefill_prmt_ok(codes_packed: torch.Tensor, lut_pool: torch.Tensor, bits: int, group_size: int) -> bool:
    """Whether the register-LUT prefill kernel takes this layer: prmt_ok's codes and LUT, and groups of a multiple
    of 16 columns (so that a K block of 16 or more lies in one group)."""
    return prmt_ok(codes_packed, lut_pool, bits) and group_size % 16 == 0


def default_prefill_prmt_config(group_size: int) -> dict:
    """A config that matched the reference at every shape and segment layout tried on the H200 (the autotuner checks
    its candidates against this one's output, so it must be right; NOTES.md twenty-seventh session), with the
    largest BLOCK_K up to 64 that divides the group size."""
    block_k = next(bk for bk in (64, 32, 16) if group_size % bk == 0)
    return {"PRMT": 1, "BLOCK_M": 128, "BLOCK_N": 128, "BLOCK_K": block_k, "num_warps": 4, "num_stages": 3,
            "W_LEFT": 0}  # fmt: skip


# The register-LUT kernel's (BLOCK_M, BLOCK_N, BLOCK_K, warps, stages, W_LEFT, maxnreg; 0 = Triton's choice), from
# the H200 grids at 2,048 tokens on 4096x4096 (benchmarks/prefill_grid.py, NOTES.md twenty-seventh session; cuBLAS
# 90.9 us): 256x64 / 4 warps 157.5, 128x128 / 4 warps 163-164, 256x128 / 8 warps 164.0, 16 warps 161.5; two of
# smaller token tiles for segment tiles of 64-128 tokens. The grid's fastest, 256x128 / 8 warps with the weight as the
# MMA's left operand (145-147 us), is left out: on the H200 it computes wrong values (rel err 0.04-0.07 with masked
# loads, NaN with the unmasked ones; Triton 3.9), while every config here matched the reference
# (benchmarks/device/sessions/twentyseventh_debug_tiles.py). 128x128 / 8 warps held to 128 registers was dropped in the
# thirtieth session: no H200 choice named it, and under the GPU machine's Triton (3.6) it spills 8 bytes a thread
# (test_every_register_lut_prefill_candidate_..._without_spills, run there).
PRMT_PREFILL_CANDIDATES = [
    (256, 64, 64, 4, 3, 0, 0), (128, 128, 64, 4, 3, 0, 0), (256, 128, 64, 8, 4, 0, 0), (256, 128, 64, 16, 4, 0, 0),
    (128, 64, 64, 4, 4, 1, 0), (64, 128, 64, 4, 4, 1, 0),
]  # fmt: skip


def prefill_prmt_candidates(group_size: int) -> list[dict]:
    """PRMT_PREFILL_CANDIDATES as configs (PRMT set, for triton_prefill.launch_prefill), those whose BLOCK_K divides
    the group size."""
    out = []
    for bm, bn, bk, warps, stages, w_left, maxnreg in PRMT_PREFILL_CANDIDATES:
        if group_size % bk == 0:
            config = {"PRMT": 1, "BLOCK_M": bm, "BLOCK_N": bn, "BLOCK_K": bk, "num_warps": warps,
                      "num_stages": stages, "W_LEFT": w_left}  # fmt: skip
            out.append(config | ({"maxnreg": maxnreg} if maxnreg else {}))
    return out


# The tile map scans every segment's bounds as one vector of this many (_segment_tile): a call with more segments
# takes the sorted path.
MAX_TILED_SEGMENTS = 256


@dataclass(frozen=True)
class SegmentTiles:
    """Token tiles that each hold tokens of one segment (one slot) only: the segments' starts [G + 1] int32 on the
    device (SlotSegments.starts), their lengths on the host (the grid's size), and the shortest segment that gets
    tiles (shorter ones are left to another path: their rows are not written)."""

    starts: torch.Tensor
    lengths: tuple[int, ...]
    min_len: int = 1

    def tiled(self) -> list[int]:
        """Lengths of the segments that get tiles (>= min_len tokens)."""
        return [n for n in self.lengths if n >= self.min_len]

    def count(self, block_m: int) -> int:
        """Token tiles of block_m rows: each tiled segment cut into chunks."""
        return sum(-(-n // block_m) for n in self.tiled())


def launch_prefill_prmt(
    x: torch.Tensor,
    codes_packed: torch.Tensor,
    lut_pool: torch.Tensor,
    slot_sorted: torch.Tensor,
    perm: torch.Tensor | None,
    bits: int,
    y: torch.Tensor,
    config: dict,
    tiles: SegmentTiles | None = None,
) -> None:
    """y [M, N] <- the register-LUT prefill kernel. slot_sorted [M] int32: the slot of each token in visiting order;
    perm [M] int32: the tokens in that order (None: already in it). tiles: token tiles per segment instead of
    BLOCK_M runs of the visiting order (tokens grouped by segment, perm None): no tile holds two slots, so none
    loops over the K range twice. config: BLOCK_M, BLOCK_N, BLOCK_K (a multiple of 16 dividing the group size),
    num_warps, num_stages, W_LEFT (0/1: acc [BN, BM] with the weight tile as the MMA's left operand, else
    [BM, BN]), maxnreg (optional register cap), EVEN_K (optional, False: keep the column masks where K divides
    into blocks; benchmarks/device/sessions/twentyseventh_debug_tiles.py)."""
    m, k = x.shape
    n = codes_packed.shape[0]
    gs = triton.cdiv(k, lut_pool.shape[2])
    bm, bn, bk = config["BLOCK_M"], config["BLOCK_N"], config["BLOCK_K"]
    if not prmt_ok(codes_packed, lut_pool, bits):
        raise ValueError("the register-LUT prefill kernel takes 3/4-bit codes in whole 4-byte words and a 16-bit LUT")
    if bk % 16 or gs % bk:
        raise ValueError(f"BLOCK_K={bk} must be a multiple of 16 dividing the group size {gs}")
    if tiles is not None:
        g = len(tiles.lengths)
        if perm is not None or g > MAX_TILED_SEGMENTS or tiles.starts.shape[0] != g + 1:
            raise ValueError(f"segment tiles take tokens in place (no perm), at most {MAX_TILED_SEGMENTS} segments "
                             "and starts of one more than their lengths")  # fmt: skip
        m_tiles = tiles.count(bm)
    else:
        m_tiles = triton.cdiv(m, bm)
    if m_tiles == 0:
        return
    starts = tiles.starts if tiles is not None else slot_sorted
    _prefill_prmt_kernel[(m_tiles * triton.cdiv(n, bn),)](
        x, codes_packed, lut_pool, slot_sorted, perm if perm is not None else slot_sorted, starts, y,
        m, m_tiles, len(tiles.lengths) if tiles is not None else 0, tiles.min_len if tiles is not None else 0,
        n, k, codes_packed.shape[1] // 4, gs, x.stride(0), codes_packed.stride(0) // 4, lut_pool.stride(0),
        lut_pool.stride(1), y.stride(0),
        BITS=bits, BLOCK_M=bm, BLOCK_N=bn, BLOCK_K=bk, HAS_PERM=perm is not None, TILED=tiles is not None,
        BLOCK_G=MAX_TILED_SEGMENTS, W_LEFT=bool(config.get("W_LEFT", 1)), ASM=not interpreting(),
        DOT_PRECISION="ieee" if x.dtype == torch.float32 else "tf32", EVEN_K=k % bk == 0 and config.get("EVEN_K", True),
        num_warps=config.get("num_warps", 8), num_stages=config.get("num_stages", 3),
        **register_cap(config),
    )  # fmt: skip
