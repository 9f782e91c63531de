"""Backward of the multi-LUT linear (fine-tuning): grad_x through the same dequantization, grad_lut by buckets.

    grad_x[t]           = grad_y[t] @ W_hat(slot t)                       [M, K]
    grad_lut[s, n, g, v] = sum over k in group g with codes[n, k] == v of (grad_y_s.T @ x_s)[n, k]

grad_x: prefill-like, tokens in slot order; per (token tile, K tile) the reduction runs over N, each
[BN, BK] weight tile dequantized in registers for the tile's slot.

grad_lut: one program per (row tile, K tile). For each slot segment it accumulates the weight-gradient
tile G = grad_y_s[:, rows].T @ x_s[:, cols] over all tokens of the segment (tensor cores, fp32; a
transient [BN, BK] tile, never a dense [N, K] weight), then reduces G into the 2**bits buckets of each
(row, group): one masked row-sum per code value (one-hot reduce), or (SCATTER) one atomic per element,
and atomically adds into an fp32 [S, N, gpr, 2**bits] buffer (K tiles of one group meet there).
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from kernels.triton_common import NO_SLOT, dequant_tile, fast_gather_ok, first_slot, interpreting, load_codes, next_slot


@triton.jit
def _grad_x_kernel(
    gy_ptr, codes_ptr, lut_ptr, slot_sorted_ptr, perm_ptr, gx_ptr,
    M, N, K, KP, GS, GPR,
    stride_gym, stride_cn, stride_ls, stride_ln, stride_gxm,
    BITS: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
    ONE_BOUNDARY: tl.constexpr, DOT_PRECISION: tl.constexpr, ASM: tl.constexpr, FAST: tl.constexpr,
):  # fmt: skip
    L: tl.constexpr = 1 << BITS
    pid = tl.program_id(0)
    num_m = tl.cdiv(M, BLOCK_M)
    pid_m = pid % num_m
    pid_k = pid // num_m

    m_offs = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    m_mask = m_offs < M
    tok = tl.load(perm_ptr + m_offs, mask=m_mask, other=0)
    slots = tl.load(slot_sorted_ptr + m_offs, mask=m_mask, other=NO_SLOT).to(tl.int32)
    kb0 = pid_k * BLOCK_K
    cols = kb0 + tl.arange(0, BLOCK_K)
    gy_rows = gy_ptr + tok.to(tl.int64)[:, None] * stride_gym  # [BM, 1]

    acc = tl.zeros((BLOCK_M, BLOCK_K), dtype=tl.float32)
    cur = first_slot(slots)
    while cur < NO_SLOT:
        sel = slots == cur
        lut_s = lut_ptr + cur.to(tl.int64) * stride_ls
        for nb in range(0, N, BLOCK_N):
            rows = nb + tl.arange(0, BLOCK_N)
            rows_c = tl.minimum(rows, N - 1)  # rows past N: finite values times grad 0
            codes = load_codes(codes_ptr, rows_c, kb0, KP, stride_cn, BLOCK_K, BITS)  # [BN, BK]
            w = dequant_tile(lut_s, codes, cols, kb0, rows_c * stride_ln, GS, GPR, L, BLOCK_K, ONE_BOUNDARY, ASM, FAST)
            gy = tl.load(gy_rows + rows[None, :], mask=sel[:, None] & (rows < N)[None, :], other=0.0)  # [BM, BN]
            acc = tl.dot(gy, w.to(gy.dtype), acc, input_precision=DOT_PRECISION)
        cur = next_slot(slots, cur)

    gx_ptrs = gx_ptr + tok.to(tl.int64)[:, None] * stride_gxm + cols[None, :]
    tl.store(gx_ptrs, acc.to(gx_ptr.dtype.element_ty), mask=m_mask[:, None] & (cols < K)[None, :])


@triton.jit
def _grad_lut_kernel(
    gy_ptr, x_ptr, codes_ptr, perm_ptr, seg_slot_ptr, seg_start_ptr, num_seg_ptr, glut_ptr,
    N, K, KP, GS, GPR,
    stride_gym, stride_xm, stride_cn, stride_gs, stride_gn,
    BITS: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
    SCATTER: tl.constexpr, DOT_PRECISION: tl.constexpr,
):  # fmt: skip
    L: tl.constexpr = 1 << BITS
    pid_n = tl.program_id(0)
    pid_k = tl.program_id(1)
    rows = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    row_mask = rows < N
    rows_c = tl.minimum(rows, N - 1)
    kb0 = pid_k * BLOCK_K
    cols = kb0 + tl.arange(0, BLOCK_K)
    col_mask = cols < K
    g = tl.minimum(cols // GS, GPR - 1)  # [BK], once per program
    g_first = kb0 // GS
    g_last = (tl.minimum(kb0 + BLOCK_K, K) - 1) // GS  # cols < K never reach group GPR

    num_seg = tl.load(num_seg_ptr)
    for i in range(0, num_seg):
        slot = tl.load(seg_slot_ptr + i)
        start = tl.load(seg_start_ptr + i)
        end = tl.load(seg_start_ptr + i + 1)
        gw = tl.zeros((BLOCK_N, BLOCK_K), dtype=tl.float32)  # weight-gradient tile of this slot
        for m0 in range(start, end, BLOCK_M):
            m_offs = m0 + tl.arange(0, BLOCK_M)
            mm = m_offs < end
            tok = tl.load(perm_ptr + m_offs, mask=mm, other=0).to(tl.int64)
            gyt = tl.load(
                gy_ptr + tok[None, :] * stride_gym + rows[:, None], mask=mm[None, :] & row_mask[:, None], other=0.0
            )  # [BN, BM]
            xt = tl.load(
                x_ptr + tok[:, None] * stride_xm + cols[None, :], mask=mm[:, None] & col_mask[None, :], other=0.0
            )  # [BM, BK]
            gw = tl.dot(gyt, xt.to(gyt.dtype), gw, input_precision=DOT_PRECISION)

        codes = load_codes(codes_ptr, rows_c, kb0, KP, stride_cn, BLOCK_K, BITS)  # [BN, BK]
        out_rows = glut_ptr + slot.to(tl.int64) * stride_gs + rows_c * stride_gn  # [BN]
        if SCATTER:
            tl.atomic_add(
                out_rows[:, None] + (g * L)[None, :] + codes, gw, mask=row_mask[:, None] & col_mask[None, :]
            )
        else:
            for gg in range(g_first, g_last + 1):
                in_g = ((g == gg) & col_mask)[None, :]
                for v in tl.static_range(L):
                    part = tl.sum(tl.where(in_g & (codes == v), gw, 0.0), axis=1)  # [BN]
                    tl.atomic_add(out_rows + gg * L + v, part, mask=row_mask)


def launch_grad_x(
    grad_y: torch.Tensor,
    codes_packed: torch.Tensor,
    lut_pool: torch.Tensor,
    slot_sorted: torch.Tensor,
    perm: torch.Tensor,
    bits: int,
    grad_x: torch.Tensor,
    config: dict,
) -> None:
    """grad_x [M, K] <- grad_y [M, N] @ W_hat(slot)  (config: BLOCK_M, BLOCK_N, BLOCK_K, num_warps, num_stages)."""
    m, n = grad_y.shape
    k = grad_x.shape[1]
    gpr = lut_pool.shape[2]
    gs = triton.cdiv(k, gpr)
    bm, bn, bk = config["BLOCK_M"], config["BLOCK_N"], config["BLOCK_K"]
    grid = (triton.cdiv(m, bm) * triton.cdiv(k, bk),)
    _grad_x_kernel[grid](
        grad_y, codes_packed, lut_pool, slot_sorted, perm, grad_x,
        m, n, k, codes_packed.shape[1], gs, gpr,
        grad_y.stride(0), codes_packed.stride(0), lut_pool.stride(0), lut_pool.stride(1), grad_x.stride(0),
        BITS=bits, BLOCK_M=bm, BLOCK_N=bn, BLOCK_K=bk, ONE_BOUNDARY=bk <= gs,
        DOT_PRECISION="ieee" if grad_y.dtype == torch.float32 else "tf32", ASM=not interpreting(),
        FAST=fast_gather_ok(lut_pool, bits, bk, gs),
        num_warps=config.get("num_warps", 4), num_stages=config.get("num_stages", 3),
    )  # fmt: skip


def launch_grad_lut(
    grad_y: torch.Tensor,
    x: torch.Tensor,
    codes_packed: torch.Tensor,
    perm: torch.Tensor,
    segments: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    bits: int,
    grad_lut_f32: torch.Tensor,
    config: dict,
) -> None:
    """grad_lut_f32 [S, N, gpr, 2**bits] (zeroed by the caller) += bucketed grad_y_s.T @ x_s.

    segments: (seg_slot, seg_start, num_seg) of the slot-sorted tokens (triton_common.segments_of_sorted).
    """
    m, k = x.shape
    n = codes_packed.shape[0]
    gpr = grad_lut_f32.shape[2]
    gs = triton.cdiv(k, gpr)
    bm, bn, bk = config["BLOCK_M"], config["BLOCK_N"], config["BLOCK_K"]
    seg_slot, seg_start, num_seg = segments
    grid = (triton.cdiv(n, bn), triton.cdiv(k, bk))
    _grad_lut_kernel[grid](
        grad_y, x, codes_packed, perm, seg_slot, seg_start, num_seg, grad_lut_f32,
        n, k, codes_packed.shape[1], gs, gpr,
        grad_y.stride(0), x.stride(0), codes_packed.stride(0), grad_lut_f32.stride(0), grad_lut_f32.stride(1),
        BITS=bits, BLOCK_M=bm, BLOCK_N=bn, BLOCK_K=bk, SCATTER=config.get("SCATTER", False),
        DOT_PRECISION="ieee" if grad_y.dtype == torch.float32 else "tf32",
        num_warps=config.get("num_warps", 4), num_stages=config.get("num_stages", 2),
    )  # fmt: skip


def default_grad_x_config() -> dict:
    return {"BLOCK_M": 64, "BLOCK_N": 64, "BLOCK_K": 128, "num_warps": 4, "num_stages": 3}


def default_grad_lut_config() -> dict:
    return {"BLOCK_M": 64, "BLOCK_N": 64, "BLOCK_K": 64, "num_warps": 4, "num_stages": 2, "SCATTER": False}
