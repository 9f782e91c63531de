"""Bucket-sum decode (M up to 64 tokens): work independent of how many distinct slots (tasks) the batch mixes.

    y[m, n] = sum_g sum_c LUT[slot(m), n, g, c] * S[m, n, g, c]
    S[m, n, g, c] = sum of x[m, k] over the columns k of group g with code[n, k] == c

S does not depend on any LUT: it is computed once for the whole batch, on tensor cores, as x @ OneHot.
The gather kernel (triton_decode.py) instead does one LUT gather per weight per distinct slot, so its
time grows linearly with the number of tasks; here only the fold (L values per (m, n, group)) reads LUTs.

Grid: (N / BLOCK_N, SPLIT_K). A program owns rows n0 .. n0+BLOCK_N, one K range, and all M tokens
(BLOCK_M >= M, >= 16 for the MMA). R = BLOCK_N * L one-hot rows, row r = n_local * L + c:

    for each group g touching the K range:
        acc [R, BM] = 0                                              fp32
        for each K block (BLOCK_K columns, masked to group g and to K):
            bytes [R, BB] = codes of row n0 + r // L                 each codes row loaded L times (L1 hits)
            for i in 0 .. per_byte-1:                                sub-column i of every byte: no interleave
                OH_i [R, BB] = (code_i == r % L)                     exact 0/1 in x.dtype
                acc += OH_i @ x[:, cols kb0 + j*per_byte + i].T      [R, BB] @ [BB, BM] on tensor cores
        y_acc [BN, BM] += sum_c acc.view(BN, L, BM) * LUT[slot(m), n, g, c]     the fold, once per group

Splitting the packed byte by sub-column (and loading x with the matching stride) keeps every step
elementwise on a [R, BB] tile, so Triton can compute the one-hot directly in the MMA operand's layout
from the loaded bytes. Split-K partials go through the same fp32 workspace + arrival counter as the
gather decode kernel (one launch).
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from kernels import autotune
from kernels.triton_bucket_cols import _bucket_cols_kernel
from kernels.triton_bucket_wgmma import bucket_wgmma_ok, launch_bucket_wgmma
from kernels.triton_common import (
    interpreting,
    jit_any_size,
    one_hot_ptx,
    pdl_args,
    pdl_wait,
    register_cap,
    split_for,
    split_k_launch,
    store_split_k,
)

# $2 = 4 code bytes, $3 = 4 copies of (c << shift), $4 = 4 copies of (code mask << shift): t = (bytes ^ cs) & ms
# is 0 in a byte iff its code under the mask == c. 6 instructions per 4 one-hot elements.
_MASKED_ZERO_WHERE = "xor.b32 t, $2, $3; and.b32 t, t, $4;"
ONE_HOT_F16 = tl.constexpr(one_hot_ptx("f16", _MASKED_ZERO_WHERE))
ONE_HOT_BF16 = tl.constexpr(one_hot_ptx("bf16", _MASKED_ZERO_WHERE))


@triton.jit
def one_hot(b, cs, ms, code, oh_code, one, zero, ASM: tl.constexpr):
    """[R, BB] one-hot in x's dtype (one's dtype): 1 where a byte's code under the sub-column mask equals
    this row's code value. ASM: b uint8 bytes, cs/ms uint8 (c << shift, mask << shift), 4 per inline-asm
    call; otherwise (interpreter, fp32 x) code [R, BB] int32 == oh_code [R] via a select.
    """
    if ASM:
        if one.dtype == tl.bfloat16:
            oh = tl.inline_asm_elementwise(ONE_HOT_BF16, "=r,=r,r,r,r", [b, cs, ms], dtype=tl.bfloat16,
                                           is_pure=True, pack=4)  # fmt: skip
        else:
            oh = tl.inline_asm_elementwise(ONE_HOT_F16, "=r,=r,r,r,r", [b, cs, ms], dtype=tl.float16,
                                           is_pure=True, pack=4)  # fmt: skip
    else:
        oh = tl.where(code == oh_code[:, None], one, zero)
    return oh


# Specialized on M (unlike the other decode kernels): its M is a decode graph's batch size, so the start-up tuning
# compiles every variant; at M = 64 the unspecialized kernel took 7-8 % longer (NOTES.md, thirteenth). Not on the
# slots' alignment: a step's pieces pass views of its slot array at any offset (NOTES.md, fourteenth).
@jit_any_size(unaligned=("slot_ptr",))
def _bucket_kernel(
    x_ptr, codes_ptr, lut_ptr, slot_ptr, y_ptr, ws_ptr, counter_ptr,
    M, N, K, KP, GS,
    stride_xm, stride_cn, stride_ls, stride_ln, stride_ym,
    K_PER_SPLIT, SPLIT_K,
    BITS: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
    USE_SPLIT: tl.constexpr, DOT_PRECISION: tl.constexpr, ASM: tl.constexpr, PDL: tl.constexpr = False,
):  # fmt: skip
    L: tl.constexpr = 1 << BITS
    PER_BYTE: tl.constexpr = 4 if BITS == 2 else 2  # codes per byte (3-bit codes in 4-bit slots: kernels/packing.py)
    WIDTH: tl.constexpr = 8 // PER_BYTE  # bits per code slot
    BB: tl.constexpr = BLOCK_K // PER_BYTE  # packed bytes per row and K block (the MMA's K per dot)
    R: tl.constexpr = BLOCK_N * L  # one-hot rows
    pid_n = tl.program_id(0)
    pid_k = tl.program_id(1)

    r = tl.arange(0, R)
    oh_rows = tl.minimum(pid_n * BLOCK_N + r // L, N - 1)  # [R] weight row of each one-hot row (clamped)
    oh_code = r % L  # [R] the code value each one-hot row selects
    n_offs = tl.arange(0, BLOCK_N)
    rows = pid_n * BLOCK_N + n_offs  # [BN]
    rows_c = tl.minimum(rows, N - 1)  # rows past N read row N-1; never stored
    m_offs = tl.arange(0, BLOCK_M)
    m_mask = m_offs < M
    # Slot of each token (padding tokens read slot 0 under a mask: their LUT loads are masked off).
    slots = tl.load(slot_ptr + m_offs, mask=m_mask, other=0).to(tl.int64)  # [BM]
    pdl_wait(PDL)  # (the slots before it: no kernel's output)
    j = tl.arange(0, BB)
    c_offs = tl.arange(0, L)
    # Typed constants for the one-hot select (a bool -> bf16 cast gives 0 under Triton's CPU interpreter).
    one = tl.full((R, BB), 1.0, x_ptr.dtype.element_ty)
    zero = tl.zeros((R, BB), x_ptr.dtype.element_ty)

    k_start = pid_k * K_PER_SPLIT  # a multiple of BLOCK_K
    k_end = tl.minimum(k_start + K_PER_SPLIT, K)
    y_acc = tl.zeros((BLOCK_N, BLOCK_M), dtype=tl.float32)
    for g in range(k_start // GS, (k_end - 1) // GS + 1):
        lo = tl.maximum(g * GS, k_start)  # this group's columns inside the K range: [lo, hi)
        hi = tl.minimum(g * GS + GS, k_end)
        acc = tl.zeros((R, BLOCK_M), dtype=tl.float32)  # S[m, n, g, c] at [n_local * L + c, m]
        for kb0 in range((lo // BLOCK_K) * BLOCK_K, hi, BLOCK_K):
            boffs = kb0 // PER_BYTE + j  # [BB]
            b = tl.load(
                codes_ptr + oh_rows[:, None] * stride_cn + boffs[None, :], mask=(boffs < KP)[None, :], other=0
            )  # [R, BB] uint8
            for i in tl.static_range(PER_BYTE):
                cs = (oh_code << (i * WIDTH)).to(tl.uint8)[:, None]  # [R, 1] this row's code value, sub-column i
                ms = tl.full((R, BB), ((1 << WIDTH) - 1) << (i * WIDTH), tl.uint8)  # the sub-column's bits
                code = (b.to(tl.int32) >> (i * WIDTH)) & ((1 << WIDTH) - 1)  # [R, BB] codes, cols kb0 + j*PER_BYTE + i
                oh = one_hot(b, cs, ms, code, oh_code, one, zero, ASM)  # [R, BB] exact one-hot in x.dtype
                cols = kb0 + j * PER_BYTE + i  # [BB]
                xt = tl.load(
                    x_ptr + m_offs[None, :] * stride_xm + cols[:, None],
                    mask=m_mask[None, :] & ((cols >= lo) & (cols < hi))[:, None],
                    other=0.0,
                )  # [BB, BM] zero outside group g, K and M
                acc = tl.dot(oh, xt, acc, input_precision=DOT_PRECISION)
        # Fold this group's LUTs in: [BN, L, BM], the L values of each (row, token) contiguous.
        lut = tl.load(
            lut_ptr + slots[None, None, :] * stride_ls + (rows_c * stride_ln + g * L)[:, None, None]
            + c_offs[None, :, None],
            mask=m_mask[None, None, :],
            other=0.0,
        )  # fmt: skip
        y_acc += tl.sum(tl.reshape(acc, (BLOCK_N, L, BLOCK_M)) * lut.to(tl.float32), axis=1)

    offs = m_offs[None, :] * N + rows[:, None]  # [BN, BM], y_acc's orientation
    y_offs = m_offs[None, :] * stride_ym + rows[:, None]
    out_mask = m_mask[None, :] & (rows < N)[:, None]
    store_split_k(y_acc, offs, y_offs, out_mask, y_ptr, ws_ptr, counter_ptr, pid_n, pid_k, M, N, SPLIT_K, USE_SPLIT)


def _per_byte(bits: int) -> int:
    return 4 if bits == 2 else 2


def k_order_flags(k_order: str) -> dict:
    """The cols kernel's flags for a K order: "bytes", "pairs" (v11) or "quads" (v13; PAIRS as its fallback)."""
    if k_order not in ("bytes", "pairs", "quads"):
        raise ValueError(f"unknown K order {k_order!r}")
    return {"PAIRS": k_order != "bytes", "QUADS": k_order == "quads"}


def quads_ok(codes_packed: torch.Tensor) -> bool:
    """The cols kernel's QUADS order reads each row's codes as 16-bit words: even row lengths and alignment."""
    return codes_packed.shape[1] % 2 == 0 and codes_packed.stride(0) % 2 == 0 and codes_packed.data_ptr() % 2 == 0


# The cols kernel's fold reads each (token, row)'s LUT entries 8 at a time (16-byte loads, split per code value in
# registers) instead of one gather of 2 bytes per code value: on the H200 at 16 tokens over 16 tasks, 1.08-1.53x
# at gpr 4 and 0.98-1.03x at gpr 1 (NOTES.md, twenty-third session). A config's FOLD_TILE overrides it (0: gathers).
FOLD_TILE_DEFAULT = 8


def launch_bucket(
    x: torch.Tensor,
    codes_packed: torch.Tensor,
    lut_pool: torch.Tensor,
    slot_of_token: torch.Tensor,
    bits: int,
    y: torch.Tensor,
    config: dict,
) -> None:
    """y [M, N] <- bucket-sum kernel. config: BLOCK_N, BLOCK_K, SPLIT_K, num_warps, num_stages, and LAYOUT:
    "wgmma" (triton_bucket_wgmma.py, its own config keys, sm_90; up to 64 tokens its WIDE form, in tiles of 8 or 16),
    "rows" (default: this module's kernel, one-hot rows = weight rows x code values, the A operand) or "cols"
    (triton_bucket_cols.py: codes as the B operand, one-hot in registers; PAIRS: the MMA's K runs over the
    block's columns, 3/4-bit codes only, else over its bytes once per code within a byte; QUADS: over its 16-bit
    words once per code within a word, 3/4-bit codes in rows of whole words, else PAIRS; FOLD_TILE: 0, 2, 4, 8 or
    16 LUT entries a load in the fold, default FOLD_TILE_DEFAULT, 0 = a gather per code value). maxnreg, when given,
    caps the kernel's registers (timed in the eighth session: within 3 % either way; NOTES.md).

    BLOCK_K must be a multiple of 16 codes per byte-column (BLOCK_K / per_byte >= 16: the MMA's K).
    """
    m, k = x.shape
    n = codes_packed.shape[0]
    if config.get("LAYOUT") == "wgmma":  # triton_bucket_wgmma.py; where it cannot take the call, the default config
        if bucket_wgmma_ok(x, codes_packed, lut_pool, bits, config["BLOCK_K"]):
            launch_bucket_wgmma(x, codes_packed, lut_pool, slot_of_token, bits, y, config)
            return
        config = default_bucket_config(m, n, k, bits, autotune.num_sms(x.device))
    gpr = lut_pool.shape[2]
    gs = triton.cdiv(k, gpr)
    block_n, block_k = config["BLOCK_N"], config["BLOCK_K"]
    if block_k % _per_byte(bits) or block_k // _per_byte(bits) < 16:
        raise ValueError(f"BLOCK_K={block_k} at {bits} bits gives fewer than 16 packed bytes per row")
    block_m = max(16, triton.next_power_of_2(m))
    if block_m > 64:
        raise ValueError(f"bucket decode takes at most 64 tokens, got M={m}")
    fold_tile = config.get("FOLD_TILE", FOLD_TILE_DEFAULT)
    if fold_tile not in (0, 2, 4, 8, 16):
        raise ValueError(f"FOLD_TILE is 0 (per-code gathers) or 2, 4, 8, 16 LUT entries a load: {fold_tile}")
    cols = config.get("LAYOUT", "rows") == "cols"
    kernel = _bucket_cols_kernel if cols else _bucket_kernel  # same arguments; the cols kernel's PAIRS besides
    layout_args = {}
    if cols:  # PAIRS and QUADS: 3/4-bit codes only; QUADS also rows of whole 16-bit words (else PAIRS serves)
        two_per_byte = _per_byte(bits) == 2
        quads = bool(config.get("QUADS")) and two_per_byte and quads_ok(codes_packed)
        if quads and block_k < 64:
            raise ValueError(f"QUADS needs BLOCK_K >= 64 (16 words per row and block), got {block_k}")
        layout_args = {"PAIRS": two_per_byte and (bool(config.get("PAIRS")) or bool(config.get("QUADS"))),
                       "QUADS": quads, "FOLD_TILE": min(fold_tile, 1 << bits)}  # fmt: skip
    layout_args |= register_cap(config)
    split, k_per_split, n_tiles, ws, counters = split_k_launch(x, y, n, block_n, block_k, config.get("SPLIT_K", 1))
    kernel[(n_tiles, split)](
        x, codes_packed, lut_pool, slot_of_token, y, ws, counters,
        m, n, k, codes_packed.shape[1], gs,
        x.stride(0), codes_packed.stride(0), lut_pool.stride(0), lut_pool.stride(1), y.stride(0),
        k_per_split, split,
        BITS=bits, BLOCK_M=block_m, BLOCK_N=block_n, BLOCK_K=block_k, USE_SPLIT=split > 1,
        DOT_PRECISION="ieee" if x.dtype == torch.float32 else "tf32",
        ASM=config.get("ASM", True) and x.dtype != torch.float32 and not interpreting(),
        num_warps=config.get("num_warps", 4), num_stages=config.get("num_stages", 1), **layout_args,
        **pdl_args(x.device),
    )  # fmt: skip


def default_bucket_config(m: int, n: int, k: int, bits: int, num_sms: int) -> dict:
    """Heuristic without autotuning, from the H200 sweep (benchmarks/NOTES.md v7): R = BLOCK_N * 2**bits one-hot
    rows and packed bytes per row and block of the best config per case: up to 16 tokens R = 256, 64 bytes,
    8 warps (4096 rows), R = 128, 64 bytes, 4 warps, 4 stages (11008 rows); above, R = 256, 32 bytes, 4 warps
    (the [R, BLOCK_M] fp32 accumulator). ~2 programs per SM (split-K 1 at the 7B shapes: the sweep's best).
    """
    if m > 16:
        rows, nbytes, warps, stages = 256, 32, 4, 3
    elif n >= 8192:
        rows, nbytes, warps, stages = 128, 64, 4, 4
    else:
        rows, nbytes, warps, stages = 256, 64, 8, 3
    block_n = max(1, rows >> bits)
    block_k = nbytes * _per_byte(bits)
    return {
        "BLOCK_N": block_n, "BLOCK_K": block_k, "num_warps": warps, "num_stages": stages,
        "SPLIT_K": split_for(n, k, block_n, block_k, 2 * num_sms),
    }  # fmt: skip


# (one-hot rows R, packed bytes per row and block, warps, stages, waves of programs). The three the autotuner
# picked for every 4-bit case above 16 tokens in the H200 serving run of 2026-11-30 (CUDA-graph timing,
# results/autotune_serving_h200_full.json), out of v7's six (NOTES.md v7, "Autotuning cost").
_CANDIDATES = [
    (256, 32, 4, 3, 2),
    (256, 32, 8, 3, 2),
    (128, 32, 4, 3, 2),
]


# LAYOUT "cols" (triton_bucket_cols.py), up to 16 tokens only (above, Triton takes wgmma and the one-hot
# goes back through shared memory, with spills): (BLOCK_N, packed bytes per row and block, warps, stages,
# waves, K order). K order "pairs" (v11, 3/4-bit codes): the MMA's K over a block's columns, x in contiguous
# async loads; "quads" (v13, 3/4-bit codes): over its 16-bit words once per code within a word (sm_90: 1.05-1.20
# loop instructions per one-hot element against pairs' 1.27-1.38, fewer registers; not yet timed, NOTES.md v13);
# "bytes" (2-bit codes, where neither applies): over its bytes once per code within a byte.
# At 3/4 bits the pairs configs won every case up to 16 tokens in the H200 serving run of 2026-11-30 (the rows
# layout and "bytes" none), so only they (and v13's quads) are timed there. From the H200 grids at M = 16 over 16 tasks
# (NOTES.md v8, v10, v11): v10's best were (32, 32, 4, 3, 4) at 59.5 us on 4096x4096 and (32, 128, 4, 2, 1) at
# 168.7 on 11008x4096; v11's (32, 128, 4, 4, 2) at 50.6 (eager timing) and (32, 32, 4, 3, 4) at 117.1.
_COLS_CANDIDATES = [
    (32, 32, 4, 3, 4, "bytes"), (32, 128, 4, 2, 2, "bytes"), (32, 128, 2, 2, 4, "bytes"),
    (32, 128, 4, 2, 1, "bytes"), (64, 128, 4, 1, 2, "bytes"), (32, 32, 4, 3, 4, "pairs"),
    (32, 128, 4, 2, 2, "pairs"), (32, 128, 4, 2, 1, "pairs"),
    (32, 32, 4, 3, 4, "quads"), (32, 64, 4, 2, 2, "quads"), (32, 128, 4, 2, 2, "quads"),
]


def bucket_candidates(m: int, n: int, k: int, bits: int, num_sms: int) -> list[dict]:
    """The short list the autotuner times for the bucket kernel: up to 16 tokens the cols layout (pairs and
    quads at 3/4 bits; bytes and the rows layout at 2 bits), above it the rows layout."""
    pairs = _per_byte(bits) == 2
    out = []
    for block_n, bb, warps, stages, waves, k_order in _COLS_CANDIDATES if m <= 16 else []:
        if (k_order != "bytes") != pairs:
            continue
        block_k = bb * _per_byte(bits)
        out.append({
            "LAYOUT": "cols", "BLOCK_N": block_n, "BLOCK_K": block_k, "num_warps": warps, "num_stages": stages,
            "SPLIT_K": split_for(n, k, block_n, block_k, waves * num_sms), **k_order_flags(k_order),
        })  # fmt: skip
    if m <= 16 and pairs:
        return out
    for rows, bb, warps, stages, waves in _CANDIDATES:
        if m > 32 and rows * max(16, triton.next_power_of_2(m)) > 256 * 32 * warps:
            continue  # accumulator above 64 fp32 registers per thread
        block_n, block_k = max(1, rows >> bits), bb * _per_byte(bits)
        out.append({
            "BLOCK_N": block_n, "BLOCK_K": block_k, "num_warps": warps, "num_stages": stages,
            "SPLIT_K": split_for(n, k, block_n, block_k, waves * num_sms),
        })  # fmt: skip
    return out
