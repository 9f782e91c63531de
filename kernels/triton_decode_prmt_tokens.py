"""Decode of 2 to 4 tokens with each row's LUT in registers: a code word looked up once, multiplied into every token.

The one-token kernel (triton_decode_prmt.py, MODE_PRMT with HALF2) spends ~21 instructions a code word on the
byte-permute lookup of its 8 entries and 9 on the fp16 products and sums. From 2 tokens the op used the fragment
kernel (triton_decode_mma.py: a 16-row MMA per word pair, tokens padded to 8) or the tensor-core register-LUT
kernel; at 4 tokens of one task they took 12.2 us on 4096x4096 against the one-token kernel's 7.4 (H200,
README). Here the lookup is shared: per word, pairs_program's 21 instructions once, then half2_fma_program's 9 per
token (kernels/prmt_lut.py), so 4 tokens cost ~58 instructions a word against 31 for one (plus each token's x,
whose 16-byte pieces reach the rows' layout through shared memory: sm_90, 8 x 1,024 blocks, ~530 instructions a
thread and block at 4 tokens against ~260 for the one-token kernel's one).

Measured on the H200 (benchmarks/mma_grid.py --kernel prmt_tokens, NOTES.md twenty-first session): the time grew
with the instructions, not with the one-token kernel's latency as predicted: 4 tokens of one task 15.8 us on
4096x4096 (the fragment kernel 12.6), 2 tokens 10.1 (12.3). So the op offers it at 2 tokens (TOKENS_OFFERED), where
the autotuner takes it on 4096x4096 (gpr 1 and 4) and 4096x11008 (gpr 1: 20.4 against 22.0 us).

A program owns rows n0 .. n0+BLOCK_N and one K range, as the one-token kernel's:

    for each distinct slot s among the tokens:                   one pass for a batch of one task
        for each group g in the K range:
            lo[4], hi[4] [BN] = byte tables of LUT[s, rows, g, :]
            for each K block with columns in g:
                words [BN, BK/8] = 8 packed 4-bit codes each     read once per pass, 4-byte loads
                q0..q3 = the words' entries as fp16 pairs        one lookup
                acc_t += sum_j q_j * x_t pairs, t < TOKENS       per token: x as one 16-byte load per word
        y_t[rows] = sum over K of acc_t, for the tokens of slot s

Every token is multiplied in every pass, and a pass keeps the sums of its slot's tokens only: no mask in the loop
(the kernel is for one task; a second task costs a second pass). Tokens past M read row M - 1 and are not stored.
HALF2's rounding (fp16 products, each word's sum per half in fp16, added in fp32) and its conditions
(triton_decode_prmt.half2_ok) apply; X_VEC's loads always. The interpreter (CPU tests) gathers each entry from
the LUT in place of the asm, with fp16 products and sums.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from kernels.prmt_lut import HALF2_FMA_CONSTRAINTS, half2_fma_program, to_ptx
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
from kernels.triton_decode_mma import _pairs
from kernels.triton_decode_prmt import (
    _gather_entries,
    _half2_sum,
    _load_words,
    _row_block,
    _row_tables,
    _table_tiles,
    _x_pairs,
    half2_ok,
    prmt_ok,
)

HALF2_FMA = tl.constexpr(to_ptx(half2_fma_program()))
HALF2_FMA_CONSTR = tl.constexpr(HALF2_FMA_CONSTRAINTS)
MAX_TOKENS = 4
# The op offers the kernel at 2 tokens only: on the H200 at 4 tokens it lost to the fragment kernel on every 7B
# shape (15.8 against 12.6 us on 4096x4096), at 2 it won on 4096x4096 (10.1 against 12.3) and 4096x11008 (20.4
# against 22.0) and lost on the larger three (results/prmt_tokens_grid_gpr1_h200.log; benchmarks/NOTES.md).
TOKENS_OFFERED = 2
# (BLOCK_N, BLOCK_K, warps, split-K waves (0: none), PREFETCH): the grid's five fastest at 2 tokens, one per shape
# (results/prmt_tokens_grid_gpr1_h200.json)
TOKENS_CANDIDATES = [(16, 1024, 4, 0, 1), (32, 256, 4, 4, 1), (8, 1024, 4, 0, 1), (16, 1024, 8, 0, 1),
                     (16, 512, 4, 0, 1)]  # fmt: skip


@triton.jit
def _token_fma(acc, q, x_row, c0, lo, hi, BLOCK_N: tl.constexpr, BW: tl.constexpr, MASKED: tl.constexpr,
               ASM: tl.constexpr):  # fmt: skip
    """acc [BN, BW] + one token's products with a block's looked-up entries q (ASM: 4 entry pairs; else the 8
    entries [BN, BW] in fp16, column j of every word), rounded as the asm rounds them."""
    xp = _x_pairs(x_row, c0, lo, hi, (BLOCK_N, BW), MASKED, BW, True)  # one 16-byte load a word (X_VEC)
    if ASM:
        out = tl.inline_asm_elementwise(HALF2_FMA, HALF2_FMA_CONSTR,
                                        [acc, q[0], q[1], q[2], q[3], xp[0], xp[1], xp[2], xp[3]],
                                        dtype=tl.float32, is_pure=True, pack=1)  # fmt: skip
    else:  # interpreter: fp16 products and per-half sums (unfused)
        out = _half2_sum(acc, q, xp)
    return out


@triton.jit
def _lookup(words, tables, lut_ptr, row_lut, BLOCK_N: tl.constexpr, BW: tl.constexpr, ASM: tl.constexpr):
    """A block's entries: ASM the 4 pairs of the byte-permute lookup; else (interpreter) the 8 entries gathered from
    the LUT at row_lut [BN] (each row's element offset of this group)."""
    if ASM:
        q = _pairs(words, _table_tiles(tables, (BLOCK_N, BW)))
    else:
        q = _gather_entries(lut_ptr, row_lut, words)
    return q


@jit_any_size(sizes=("M",), unaligned=("slot_ptr",))
def _decode_prmt_tokens_kernel(
    x_ptr, codes_ptr, lut_ptr, slot_ptr, y_ptr, ws_ptr, counter_ptr,
    M, N, K, KW, GS, stride_xm, stride_cw, stride_ls, stride_ln, stride_ym, K_PER_SPLIT, SPLIT_K,
    BITS: tl.constexpr, TOKENS: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
    USE_SPLIT: tl.constexpr, ASM: tl.constexpr, PREFETCH: tl.constexpr, PDL: tl.constexpr = False,
):  # fmt: skip
    L: tl.constexpr = 1 << BITS
    BW: tl.constexpr = BLOCK_K // 8  # code words per row and block
    rows, rows_c, wj, row_words, k_start, k_end = _row_block(codes_ptr, N, K, stride_cw, K_PER_SPLIT, BLOCK_N, BW)
    g_first = k_start // GS
    pairs_ptr = lut_ptr.to(tl.pointer_type(tl.uint32), bitcast=True)
    t_offs = tl.arange(0, TOKENS)
    t_rows = tl.minimum(t_offs, M - 1)  # tokens past M: row M - 1's x and slot, never stored
    slots = tl.load(slot_ptr + t_rows).to(tl.int32)  # [T]
    s0 = tl.sum(tl.where(t_offs == 0, slots, 0))  # each token's slot, a scalar
    s1 = tl.sum(tl.where(t_offs == 1, slots, 0))
    s2 = tl.sum(tl.where(t_offs == 2, slots, 0))
    s3 = tl.sum(tl.where(t_offs == 3, slots, 0))
    # PREFETCH: the first codes block before the slot -> LUT chain (it depends on neither), then each block one ahead
    nxt = _load_words(row_words, k_start, wj, KW) if PREFETCH else tl.zeros((BLOCK_N, BW), dtype=tl.uint32)
    x0 = x_ptr  # each token's row of x (M >= 2)
    x1 = x_ptr + stride_xm
    x2 = x_ptr + tl.minimum(M - 1, 2) * stride_xm
    x3 = x_ptr + tl.minimum(M - 1, 3) * stride_xm
    pdl_wait(PDL)  # (the slots and codes before it: no kernel's output; x is)

    tot0 = tl.zeros((BLOCK_N,), dtype=tl.float32)
    tot1 = tl.zeros((BLOCK_N,), dtype=tl.float32)
    tot2 = tl.zeros((BLOCK_N,), dtype=tl.float32)
    tot3 = tl.zeros((BLOCK_N,), dtype=tl.float32)
    cur = first_slot(slots)
    while cur < NO_SLOT:
        lut_rows = cur.to(tl.int64) * stride_ls + rows_c.to(tl.int64) * stride_ln  # [BN] each row's LUT
        acc0 = tl.zeros((BLOCK_N, BW), dtype=tl.float32)
        acc1 = tl.zeros((BLOCK_N, BW), dtype=tl.float32)
        acc2 = tl.zeros((BLOCK_N, BW), dtype=tl.float32)
        acc3 = tl.zeros((BLOCK_N, BW), dtype=tl.float32)
        for g in range(g_first, (k_end - 1) // GS + 1):
            lo = tl.maximum(g * GS, k_start)  # this group's columns inside the K range: [lo, hi)
            hi = tl.minimum(g * GS + GS, k_end)
            tables = _row_tables(pairs_ptr, lut_rows + g * L, BITS, ASM)  # once per group
            for kb0 in range((lo // BLOCK_K) * BLOCK_K, hi, BLOCK_K):
                if PREFETCH:  # blocks come in order, each once (BLOCK_K divides the group size)
                    words = nxt
                    nxt = _load_words(row_words, kb0 + BLOCK_K, wj, KW)
                else:
                    words = _load_words(row_words, kb0, wj, KW)  # [BN, BW]
                c0 = kb0 + wj * 8  # first column of each word
                q = _lookup(words, tables, lut_ptr, lut_rows + g * L, BLOCK_N, BW, ASM)
                masked = (kb0 < lo) | (kb0 + BLOCK_K > hi)  # the block straddles the group or K's end
                if masked:
                    acc0 = _token_fma(acc0, q, x0, c0, lo, hi, BLOCK_N, BW, True, ASM)
                    acc1 = _token_fma(acc1, q, x1, c0, lo, hi, BLOCK_N, BW, True, ASM)
                    if TOKENS > 2:
                        acc2 = _token_fma(acc2, q, x2, c0, lo, hi, BLOCK_N, BW, True, ASM)
                        acc3 = _token_fma(acc3, q, x3, c0, lo, hi, BLOCK_N, BW, True, ASM)
                else:
                    acc0 = _token_fma(acc0, q, x0, c0, lo, hi, BLOCK_N, BW, False, ASM)
                    acc1 = _token_fma(acc1, q, x1, c0, lo, hi, BLOCK_N, BW, False, ASM)
                    if TOKENS > 2:
                        acc2 = _token_fma(acc2, q, x2, c0, lo, hi, BLOCK_N, BW, False, ASM)
                        acc3 = _token_fma(acc3, q, x3, c0, lo, hi, BLOCK_N, BW, False, ASM)
        # this pass's sums count for the tokens of slot cur only
        tot0 = tl.where(s0 == cur, tl.sum(acc0, axis=1), tot0)
        tot1 = tl.where(s1 == cur, tl.sum(acc1, axis=1), tot1)
        if TOKENS > 2:
            tot2 = tl.where(s2 == cur, tl.sum(acc2, axis=1), tot2)
            tot3 = tl.where(s3 == cur, tl.sum(acc3, axis=1), tot3)
        cur = next_slot(slots, cur)
        if PREFETCH:
            if cur < NO_SLOT:  # the next pass starts over at the first block
                nxt = _load_words(row_words, k_start, wj, KW)

    if TOKENS > 2:  # [BN, T] with column t = token t (joins append a minor dimension)
        total = tl.reshape(tl.join(tl.join(tot0, tot2), tl.join(tot1, tot3)), (BLOCK_N, TOKENS))
    else:
        total = tl.join(tot0, tot1)
    offs = t_offs[None, :] * N + rows[:, None]
    y_offs = t_offs[None, :] * stride_ym + rows[:, None]
    out_mask = (t_offs < M)[None, :] & (rows < N)[:, None]
    store_split_k(total, offs, y_offs, out_mask, y_ptr, ws_ptr, counter_ptr, tl.program_id(0), tl.program_id(1), M, N,
                  SPLIT_K, USE_SPLIT)


def tokens_ok(x: torch.Tensor, codes_packed: torch.Tensor, lut_pool: torch.Tensor, bits: int) -> bool:
    """Whether this kernel takes the call: 2 to MAX_TOKENS tokens, the register-LUT kernels' codes and LUT
    (prmt_ok), fp16 products allowed (half2_ok: fp16 x and LUT, even groups, x's rows 4-byte aligned)."""
    return (
        2 <= x.shape[0] <= MAX_TOKENS
        and prmt_ok(codes_packed, lut_pool, bits)
        and half2_ok(x, lut_pool)
        and x.stride(0) % 2 == 0
    )


def launch_decode_prmt_tokens(
    x: torch.Tensor,
    codes_packed: torch.Tensor,
    lut_pool: torch.Tensor,
    slot_of_token: torch.Tensor,
    bits: int,
    y: torch.Tensor,
    config: dict,
) -> None:
    """y [M, N] <- this kernel, 2 <= M <= 4. config: BLOCK_N, BLOCK_K (a multiple of 32; dividing the group size
    with PREFETCH), SPLIT_K, num_warps, PREFETCH (0/1)."""
    if not tokens_ok(x, codes_packed, lut_pool, bits):
        raise ValueError(f"the register-LUT kernel of several tokens takes 2 to {MAX_TOKENS} fp16 tokens in 4-byte "
                         "aligned rows, 3/4-bit codes in whole 4-byte words and an fp16 LUT of even groups")
    m, k = x.shape
    n = codes_packed.shape[0]
    gs = triton.cdiv(k, lut_pool.shape[2])
    block_n, block_k = config["BLOCK_N"], config["BLOCK_K"]
    if block_k % 32:
        raise ValueError(f"BLOCK_K must be a multiple of 32, got {block_k}")
    prefetch = int(config.get("PREFETCH", 0))
    if prefetch not in (0, 1):
        raise ValueError(f"PREFETCH is 0 or 1 codes blocks ahead, got {prefetch}")
    if prefetch and gs % block_k:
        raise ValueError(f"PREFETCH needs BLOCK_K={block_k} to divide the group size {gs} (blocks visited once)")
    split, k_per_split, n_tiles, ws, counters = split_k_launch(x, y, n, block_n, block_k, config.get("SPLIT_K", 1))
    _decode_prmt_tokens_kernel[(n_tiles, split)](
        x, codes_packed, lut_pool, slot_of_token, y, ws, counters,
        m, n, k, codes_packed.shape[1] // 4, gs, x.stride(0), codes_packed.stride(0) // 4, lut_pool.stride(0),
        lut_pool.stride(1), y.stride(0), k_per_split, split,
        BITS=bits, TOKENS=triton.next_power_of_2(m), BLOCK_N=block_n, BLOCK_K=block_k, USE_SPLIT=split > 1,
        ASM=not interpreting(), PREFETCH=prefetch, num_warps=config.get("num_warps", 4),
        num_stages=config.get("num_stages", 1), **pdl_args(x.device),
    )  # fmt: skip
