"""Prefill path (large M): tokens grouped by slot, each weight tile dequantized once per (token tile, slot).

Tokens are visited in slot order: `perm` [M] (a stable sort of slot_of_token, or None when the caller
passes segments, whose tokens are already contiguous per slot) and `slot_sorted` [M] = slot of perm[i].
Grid: one program per (token tile of BLOCK_M sorted tokens, row tile of BLOCK_N rows):

    for each distinct slot s in the token tile:          1 except where a tile straddles two segments
        for each K block:
            W_s = lut_pool[s, rows].flat[group(k) * L + codes]     [BN, BK], codes from L2
            acc += x[tokens of s, k block] @ W_s.T                 tl.dot on tensor cores, fp32
    y[perm[tile], rows] = acc
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from kernels.triton_common import (
    NO_SLOT,
    codes_pipeline_next,
    codes_pipeline_start,
    dequant_tile,
    fast_gather_ok,
    first_slot,
    interpreting,
    jit_any_size,
    load_codes,
    next_slot,
    tile_tokens,
    unpack_codes,
)
from kernels.triton_prefill_prmt import launch_prefill_prmt, prefill_prmt_candidates


@jit_any_size(sizes=("M",), unaligned=("slot_sorted_ptr", "perm_ptr"))
def _prefill_kernel(
    x_ptr, codes_ptr, lut_ptr, slot_sorted_ptr, perm_ptr, y_ptr,
    M, N, K, KP, GS, GPR,
    stride_xm, stride_cn, stride_ls, stride_ln, stride_ym,
    BITS: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
    HAS_PERM: tl.constexpr, ONE_BOUNDARY: tl.constexpr, DOT_PRECISION: tl.constexpr, ASM: tl.constexpr,
    FAST: tl.constexpr, PREFETCH: tl.constexpr, ROW_WARP: tl.constexpr,
):  # fmt: skip
    L: tl.constexpr = 1 << BITS
    pid = tl.program_id(0)
    num_m = tl.cdiv(M, BLOCK_M)
    # Token tiles fastest: programs that run together share one codes strip (in L2).
    pid_m = pid % num_m
    pid_n = pid // num_m

    m_offs = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    m_mask = m_offs < M
    tok, slots = tile_tokens(perm_ptr, slot_sorted_ptr, m_offs, m_mask, HAS_PERM)  # [BM] each
    rows = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    rows_c = tl.minimum(rows, N - 1)
    x_rows = x_ptr + tok.to(tl.int64)[:, None] * stride_xm  # [BM, 1]
    lut_rows = rows_c * stride_ln  # [BN]

    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    cur = first_slot(slots)
    while cur < NO_SLOT:
        sel = slots == cur
        lut_s = lut_ptr + cur.to(tl.int64) * stride_ls
        # Codes tiles: PREFETCH (0-3) blocks ahead in registers, or (0) left to Triton's pipeliner;
        # x tiles: Triton's cp.async pipeline (num_stages).
        n1, n2, n3 = codes_pipeline_start(codes_ptr, rows_c, 0, KP, stride_cn, BLOCK_K, BITS, PREFETCH, ROW_WARP)
        for kb0 in range(0, K, BLOCK_K):
            cur_bytes, n1, n2, n3 = codes_pipeline_next(
                n1, n2, n3, codes_ptr, rows_c, kb0, KP, stride_cn, BLOCK_K, BITS, PREFETCH, ROW_WARP
            )
            cols = kb0 + tl.arange(0, BLOCK_K)
            codes = unpack_codes(cur_bytes, BITS)  # [BN, BK]
            w = dequant_tile(lut_s, codes, cols, kb0, lut_rows, GS, GPR, L, BLOCK_K, ONE_BOUNDARY, ASM, FAST)
            x = tl.load(x_rows + cols[None, :], mask=sel[:, None] & (cols < K)[None, :], other=0.0)
            acc = tl.dot(x, tl.trans(w.to(x.dtype)), acc, input_precision=DOT_PRECISION)
        cur = next_slot(slots, cur)

    y_ptrs = y_ptr + tok.to(tl.int64)[:, None] * stride_ym + rows[None, :]
    tl.store(y_ptrs, acc.to(y_ptr.dtype.element_ty), mask=m_mask[:, None] & (rows < N)[None, :])


def launch_prefill(
    x: torch.Tensor,
    codes_packed: torch.Tensor,
    lut_pool: torch.Tensor,
    slot_sorted: torch.Tensor,
    perm: torch.Tensor | None,
    bits: int,
    y: torch.Tensor,
    config: dict,
) -> None:
    """y [M, N] <- prefill kernel. config: BLOCK_M, BLOCK_N, BLOCK_K, num_warps, num_stages; PRMT (1: the
    register-LUT kernel, triton_prefill_prmt.py, with its W_LEFT) or the generic kernel's FAST, PREFETCH,
    ROW_WARP."""
    if config.get("PRMT"):
        launch_prefill_prmt(x, codes_packed, lut_pool, slot_sorted, perm, bits, y, config)
        return
    m, k = x.shape
    n = codes_packed.shape[0]
    gpr = lut_pool.shape[2]
    gs = triton.cdiv(k, gpr)
    bm, bn, bk = config["BLOCK_M"], config["BLOCK_N"], config["BLOCK_K"]
    grid = (triton.cdiv(m, bm) * triton.cdiv(n, bn),)
    _prefill_kernel[grid](
        x, codes_packed, lut_pool, slot_sorted, perm if perm is not None else slot_sorted, y,
        m, n, k, codes_packed.shape[1], gs, gpr,
        x.stride(0), codes_packed.stride(0), lut_pool.stride(0), lut_pool.stride(1), y.stride(0),
        BITS=bits, BLOCK_M=bm, BLOCK_N=bn, BLOCK_K=bk,
        HAS_PERM=perm is not None, ONE_BOUNDARY=bk <= gs,
        DOT_PRECISION="ieee" if x.dtype == torch.float32 else "tf32", ASM=not interpreting(),
        FAST=config.get("FAST", False) and fast_gather_ok(lut_pool, bits, bk, gs),
        PREFETCH=config.get("PREFETCH", 0), ROW_WARP=config.get("ROW_WARP", False),
        num_warps=config.get("num_warps", 8), num_stages=config.get("num_stages", 3),
    )  # fmt: skip


@jit_any_size(sizes=("row",), unaligned=("slot_ptr",))
def _dequant_kernel(
    codes_ptr, lut_ptr, slot_ptr, row, w_ptr,
    N, K, KP, GS, GPR,
    stride_cn, stride_ls, stride_ln, stride_wn,
    BITS: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, ONE_BOUNDARY: tl.constexpr, ASM: tl.constexpr,
):  # fmt: skip
    """w [N, K] (x's dtype) <- W_hat of the slot of token `row` (slot_ptr: the per-token slots [M] int32; lut_ptr:
    the pool [S, N, gpr, L]): a transient per-segment weight for the dense path. The slot is read here, on the
    device, so a CUDA graph of the step serves any task whose tokens fill the segment."""
    L: tl.constexpr = 1 << BITS
    lut_s = lut_ptr + tl.load(slot_ptr + row).to(tl.int64) * stride_ls
    rows = tl.program_id(0) * BLOCK_N + tl.arange(0, BLOCK_N)
    rows_c = tl.minimum(rows, N - 1)
    kb0 = tl.program_id(1) * BLOCK_K
    cols = kb0 + tl.arange(0, BLOCK_K)
    codes = load_codes(codes_ptr, rows_c, kb0, KP, stride_cn, BLOCK_K, BITS)  # [BN, BK]
    w = dequant_tile(lut_s, codes, cols, kb0, rows_c * stride_ln, GS, GPR, L, BLOCK_K, ONE_BOUNDARY, ASM, False)
    mask = (rows < N)[:, None] & (cols < K)[None, :]
    tl.store(w_ptr + rows.to(tl.int64)[:, None] * stride_wn + cols[None, :], w.to(w_ptr.dtype.element_ty), mask=mask)


# A segment this long: dequantize its slot's weight once, then cuBLAS. H200, gpr 1, a layer's four projections
# (benchmarks/prefill_tasks.py, results/prefill_tasks_gpr1_h200.json): 4 tasks x 64 tokens 1,144 us of GPU time
# dense against 1,798 through the fused kernel, x 96 1,168 against 2,090, and 4 decode rows + 4 tasks x 127 1,404
# against 3,255 (the fused kernel's token tiles straddle the segments: each tile loops over its slots). Below 64
# an eager step's launches (two a segment) cost more host time than the dense path saves.
DENSE_MIN_TOKENS = 64
# Where layers take the register-LUT kernel (triton_prefill_prmt.py), segments of >= DENSE_MIN_TOKENS take the dense
# path only when there are at most DENSE_MAX_SEGMENTS of them or they average DENSE_MIN_MEAN_TOKENS tokens
# (triton_ops.dense_pays).
DENSE_MAX_SEGMENTS = 2
DENSE_MIN_MEAN_TOKENS = 512


def launch_dense_segments(
    x: torch.Tensor,
    codes_packed: torch.Tensor,
    lut_pool: torch.Tensor,
    segments: list[tuple[int, int, int]],
    bits: int,
    y: torch.Tensor,
    slot_of_token: torch.Tensor,
) -> None:
    """y[a:b] = x[a:b] @ W_hat(slot).T for each (slot, a, b) whose tokens all read one slot: one transient [N, K]
    weight (reused, freed after the call), written by _dequant_kernel (codes + LUT -> N*K*2 bytes, ~14 us at
    4096^2), then cuBLAS. The kernel reads the slot from slot_of_token [M] int32 at row a, not from the host tuple:
    a graph captured with a segment's bounds replays for whatever task then fills them.

    Long prefill segments amortize the write of W over many tokens; the fused prefill kernel instead
    re-gathers every weight once per 128-256-token tile.
    """
    m, k = x.shape
    n = codes_packed.shape[0]
    gpr = lut_pool.shape[2]
    gs = triton.cdiv(k, gpr)
    block_n, block_k = 16, 256
    w = torch.empty(n, k, dtype=x.dtype, device=x.device)
    grid = (triton.cdiv(n, block_n), triton.cdiv(k, block_k))
    for _, a, b in segments:
        _dequant_kernel[grid](
            codes_packed, lut_pool, slot_of_token, a, w,
            n, k, codes_packed.shape[1], gs, gpr,
            codes_packed.stride(0), lut_pool.stride(0), lut_pool.stride(1), w.stride(0),
            BITS=bits, BLOCK_N=block_n, BLOCK_K=block_k, ONE_BOUNDARY=block_k <= gs, ASM=not interpreting(),
            num_warps=4,
        )  # fmt: skip
        torch.mm(x[a:b], w.t(), out=y[a:b])


def default_prefill_config(m: int, n: int, k: int) -> dict:
    return {"BLOCK_M": 128, "BLOCK_N": 128, "BLOCK_K": 64, "num_warps": 8, "num_stages": 3}


def prefill_candidates(m: int, n: int, k: int, prmt_group_size: int | None = None) -> list[dict]:
    """The best fused configs of the H100 sweeps (benchmarks/NOTES.md), no register spills on sm_90: the two
    the autotuner picked for every H200 serving shape (NOTES.md "Autotuning cost") and the sweeps' best; with
    prmt_group_size (the layer takes the register-LUT kernel: triton_prefill_prmt.prefill_prmt_ok) also that
    kernel's candidates (triton_prefill_prmt.prefill_prmt_candidates)."""
    out = []
    for bm, bn, bk, warps, stages, row_warp, pf in (
        (256, 128, 64, 8, 3, False, 0),
        (128, 128, 128, 8, 3, True, 0),
        (128, 64, 128, 4, 3, True, 1),
    ):
        out.append({
            "BLOCK_M": bm, "BLOCK_N": bn, "BLOCK_K": bk, "num_warps": warps, "num_stages": stages,
            "ROW_WARP": row_warp, "PREFETCH": pf,
        })  # fmt: skip
    if prmt_group_size is not None:
        out += prefill_prmt_candidates(prmt_group_size)
    return out

