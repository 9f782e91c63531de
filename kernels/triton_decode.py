"""Decode path (M up to ~64 tokens): one codes tile read once, applied to every token with its own slot's LUT.

Grid: (N / BLOCK_N, SPLIT_K). A program owns rows n0 .. n0+BLOCK_N and one K range, and holds all M
tokens of the batch (BLOCK_M >= M):

    for each K block:                                   codes bytes [BN, BK/per_byte]: read ONCE
        codes = unpack(bytes)                           [BN, BK], shared by every slot
        for each distinct slot s among the tokens:      (usually 1; at most min(M, S))
            W_s = lut_pool[s, rows].flat[group(k) * L + codes]     [BN, BK] gather from L1
            acc += x masked to tokens of s  @  W_s.T    tensor cores (MODE 0/1) or FMAs (MODE 2)

(SLOT_OUTER swaps the two loops: a plain K loop that Triton can software-pipeline, codes re-read
from L2 for each further slot; the autotuner picks per shape.)

Split-K partials go to an fp32 workspace [SPLIT_K, M, N]; the last program of a row tile to finish
(a per-tile arrival counter, reset by that program) sums them and writes y, so one launch does it all.
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
    next_slot,
    pdl_args,
    pdl_wait,
    split_for,
    split_k_launch,
    store_split_k,
    unpack_codes,
)
from kernels.triton_decode_mma import MAX_TOKENS as MMA_MAX_TOKENS
from kernels.triton_decode_mma import MMA_CANDIDATES, PRELOAD_CANDIDATES, k_parts_fit, launch_decode_mma
from kernels.triton_decode_prmt import (
    PRMT_CANDIDATES,
    PRMT_DOT_CANDIDATES,
    launch_decode_prmt,
    launch_decode_prmt_dot,
)
from kernels.triton_decode_prmt_tokens import TOKENS_CANDIDATES, TOKENS_OFFERED, launch_decode_prmt_tokens

MODE_DOT = 0  # acc [BM, BN] = x @ W.T
MODE_DOT_SWAP = 1  # acc [BN, BM] = W @ x.T: the big side (rows) fills the MMA's M
MODE_FMA = 2  # one token (M == 1): CUDA-core FMAs, no MMA padding to 16 rows
MODE_PRMT = 3  # one token, each row's LUT in registers (triton_decode_prmt.py; 3/4-bit codes, 16-bit LUTs)
MODE_PRMT_DOT = 4  # up to 64 tokens: tiles dequantized by the same byte permutes, then tensor cores
MODE_MMA = 5  # up to 16 tokens: the looked-up entries are each lane's mma.sync fragments (triton_decode_mma.py)


@jit_any_size(sizes=("M",), unaligned=("slot_ptr",))
def _decode_kernel(
    x_ptr, codes_ptr, lut_ptr, slot_ptr, y_ptr, ws_ptr, counter_ptr,
    M, N, K, KP, GS, GPR,
    stride_xm, stride_cn, stride_ls, stride_ln, stride_ym,
    K_PER_SPLIT, SPLIT_K,
    BITS: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
    MODE: tl.constexpr, USE_SPLIT: tl.constexpr, ONE_BOUNDARY: tl.constexpr, DOT_PRECISION: tl.constexpr,
    ASM: tl.constexpr, FAST: tl.constexpr, PREFETCH: tl.constexpr, SLOT_OUTER: tl.constexpr,
    PDL: tl.constexpr = False,
):  # fmt: skip
    L: tl.constexpr = 1 << BITS
    pid_n = tl.program_id(0)
    pid_k = tl.program_id(1)
    rows = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    rows_c = tl.minimum(rows, N - 1)  # rows past N read row N-1; never stored
    m_offs = tl.arange(0, BLOCK_M)
    m_mask = m_offs < M
    slots = tl.load(slot_ptr + m_offs, mask=m_mask, other=NO_SLOT).to(tl.int32)  # [BM]
    lut_rows = rows_c * stride_ln  # [BN] offset of each row's LUT inside a slot
    k_start = pid_k * K_PER_SPLIT

    if MODE == 1:
        acc = tl.zeros((BLOCK_N, BLOCK_M), dtype=tl.float32)
    elif MODE == 0:
        acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    else:  # one token: per-thread FMAs into a [BN, BK] accumulator, reduced over K once at the end
        acc2 = tl.zeros((BLOCK_N, BLOCK_K), dtype=tl.float32)
        lut_one = lut_ptr + tl.load(slot_ptr).to(tl.int64) * stride_ls

    if MODE == 2 or not SLOT_OUTER:
        # K outside, slots inside: each codes tile is read once (from HBM) for every slot of the batch;
        # PREFETCH (1-3) tiles ahead in registers (the nested slot loop keeps Triton's pipeliner out).
        n1, n2, n3 = codes_pipeline_start(codes_ptr, rows_c, k_start, KP, stride_cn, BLOCK_K, BITS, PREFETCH, True)
        pdl_wait(PDL)  # (the slots and the first codes tiles before it: no kernel's output)
        for kk in range(0, K_PER_SPLIT, BLOCK_K):
            kb0 = k_start + kk
            cur_bytes, n1, n2, n3 = codes_pipeline_next(
                n1, n2, n3, codes_ptr, rows_c, kb0, KP, stride_cn, BLOCK_K, BITS, PREFETCH, True
            )
            cols = kb0 + tl.arange(0, BLOCK_K)
            codes = unpack_codes(cur_bytes, BITS)  # [BN, BK]
            x = tl.load(
                x_ptr + m_offs[:, None] * stride_xm + cols[None, :],
                mask=m_mask[:, None] & (cols < K)[None, :],
                other=0.0,
            )  # [BM, BK]
            if MODE == 2:
                w = dequant_tile(lut_one, codes, cols, kb0, lut_rows, GS, GPR, L, BLOCK_K, ONE_BOUNDARY, ASM, FAST)
                acc2 += w.to(tl.float32) * x.to(tl.float32)
            else:
                cur = first_slot(slots)
                while cur < NO_SLOT:
                    lut_s = lut_ptr + cur.to(tl.int64) * stride_ls
                    w = dequant_tile(lut_s, codes, cols, kb0, lut_rows, GS, GPR, L, BLOCK_K, ONE_BOUNDARY, ASM, FAST)
                    xs = tl.where((slots == cur)[:, None], x, 0.0)
                    if MODE == 0:
                        acc = tl.dot(xs, tl.trans(w.to(x.dtype)), acc, input_precision=DOT_PRECISION)
                    else:
                        acc = tl.dot(w.to(x.dtype), tl.trans(xs), acc, input_precision=DOT_PRECISION)
                    cur = next_slot(slots, cur)
    else:
        # Slots outside, K inside: a plain K loop that Triton software-pipelines (num_stages) when
        # PREFETCH == 0. A second slot re-reads the codes tiles from L2 (a layer's codes stay there).
        pdl_wait(PDL)  # (the slots before it: no kernel's output)
        cur = first_slot(slots)
        while cur < NO_SLOT:
            lut_s = lut_ptr + cur.to(tl.int64) * stride_ls
            sel = m_mask & (slots == cur)
            n1, n2, n3 = codes_pipeline_start(codes_ptr, rows_c, k_start, KP, stride_cn, BLOCK_K, BITS, PREFETCH, True)
            for kk in range(0, K_PER_SPLIT, BLOCK_K):
                kb0 = k_start + kk
                cur_bytes, n1, n2, n3 = codes_pipeline_next(
                    n1, n2, n3, codes_ptr, rows_c, kb0, KP, stride_cn, BLOCK_K, BITS, PREFETCH, True
                )
                cols = kb0 + tl.arange(0, BLOCK_K)
                codes = unpack_codes(cur_bytes, BITS)  # [BN, BK]
                w = dequant_tile(lut_s, codes, cols, kb0, lut_rows, GS, GPR, L, BLOCK_K, ONE_BOUNDARY, ASM, FAST)
                x = tl.load(
                    x_ptr + m_offs[:, None] * stride_xm + cols[None, :],
                    mask=sel[:, None] & (cols < K)[None, :],
                    other=0.0,
                )  # [BM, BK], zero outside this slot's tokens
                if MODE == 0:
                    acc = tl.dot(x, tl.trans(w.to(x.dtype)), acc, input_precision=DOT_PRECISION)
                else:
                    acc = tl.dot(w.to(x.dtype), tl.trans(x), acc, input_precision=DOT_PRECISION)
            cur = next_slot(slots, cur)
    if MODE == 2:
        acc = tl.sum(acc2, axis=1)[None, :]  # [1, BN]

    # Output offsets in acc's orientation.
    if MODE == 1:
        offs = m_offs[None, :] * N + rows[:, None]
        y_offs = m_offs[None, :] * stride_ym + rows[:, None]
        out_mask = m_mask[None, :] & (rows < N)[:, None]
    else:
        offs = m_offs[:, None] * N + rows[None, :]
        y_offs = m_offs[:, None] * stride_ym + rows[None, :]
        out_mask = m_mask[:, None] & (rows < N)[None, :]

    store_split_k(acc, offs, y_offs, out_mask, y_ptr, ws_ptr, counter_ptr, pid_n, pid_k, M, N, SPLIT_K, USE_SPLIT)


def block_m_for(m: int, mode: int) -> int:
    """Rows of the token tile: a power of two >= M; the MMA needs at least 16."""
    if mode == MODE_FMA:
        if m != 1:
            raise ValueError("MODE_FMA takes one token")
        return 1
    return max(16, triton.next_power_of_2(m))


def launch_decode(
    x: torch.Tensor,
    codes_packed: torch.Tensor,
    lut_pool: torch.Tensor,
    slot_of_token: torch.Tensor,
    bits: int,
    y: torch.Tensor,
    config: dict,
) -> None:
    """y [M, N] <- decode kernel. config: BLOCK_N, BLOCK_K, SPLIT_K, MODE, num_warps (+ num_stages)."""
    if config["MODE"] == MODE_PRMT:
        if x.shape[0] > 1:  # 2-4 tokens: the lookups shared by the tokens (triton_decode_prmt_tokens.py)
            return launch_decode_prmt_tokens(x, codes_packed, lut_pool, slot_of_token, bits, y, config)
        return launch_decode_prmt(x, codes_packed, lut_pool, slot_of_token, bits, y, config)
    if config["MODE"] == MODE_PRMT_DOT:
        return launch_decode_prmt_dot(x, codes_packed, lut_pool, slot_of_token, bits, y, config)
    if config["MODE"] == MODE_MMA:
        return launch_decode_mma(x, codes_packed, lut_pool, slot_of_token, bits, y, config)
    m, k = x.shape
    n = codes_packed.shape[0]
    gpr = lut_pool.shape[2]
    gs = triton.cdiv(k, gpr)
    block_n, block_k, mode = config["BLOCK_N"], config["BLOCK_K"], config["MODE"]
    block_m = block_m_for(m, mode)
    if block_m > 64:
        raise ValueError(f"decode path takes at most 64 tokens, got M={m}")
    split, k_per_split, n_tiles, ws, counters = split_k_launch(x, y, n, block_n, block_k, config["SPLIT_K"])
    _decode_kernel[(n_tiles, split)](
        x, codes_packed, lut_pool, slot_of_token, y, ws, counters,
        m, n, k, codes_packed.shape[1], gs, gpr,
        x.stride(0), codes_packed.stride(0), lut_pool.stride(0), lut_pool.stride(1), y.stride(0),
        k_per_split, split,
        BITS=bits, BLOCK_M=block_m, BLOCK_N=block_n, BLOCK_K=block_k,
        MODE=mode, USE_SPLIT=split > 1, ONE_BOUNDARY=block_k <= gs,
        DOT_PRECISION="ieee" if x.dtype == torch.float32 else "tf32", ASM=not interpreting(),
        FAST=config.get("FAST", False) and fast_gather_ok(lut_pool, bits, block_k, gs),
        PREFETCH=config.get("PREFETCH", 1), SLOT_OUTER=config.get("SLOT_OUTER", False),
        num_warps=config.get("num_warps", 4), num_stages=config.get("num_stages", 1), **pdl_args(x.device),
    )  # fmt: skip


def default_decode_config(m: int, n: int, k: int, num_sms: int) -> dict:
    """Heuristic used without autotuning (CPU interpreter, SKETCHSERVE_AUTOTUNE=0, graph capture)."""
    if m == 1:
        return {"BLOCK_N": 16, "BLOCK_K": 512, "MODE": MODE_FMA, "num_warps": 4, "PREFETCH": 1, "SPLIT_K": 1}
    return {
        "BLOCK_N": 64, "BLOCK_K": 128, "MODE": MODE_DOT_SWAP, "num_warps": 4, "PREFETCH": 1,
        "SPLIT_K": split_for(n, k, 64, 128, 2 * num_sms),
    }  # fmt: skip


def chunks_tile(k: int, group_size: int, wpl: int) -> bool:
    """Whether the fragment kernel's chunks of 32 * wpl columns tile K and every LUT group."""
    return group_size % (32 * wpl) == 0 and k % (32 * wpl) == 0


def split_k_fragment_configs(table: list[tuple[int, ...]], n: int, k: int, num_sms: int,
                             group_size: int) -> list[dict]:  # fmt: skip
    """The fragment kernel's configs of table's (warps, row blocks a warp, words per lane, split-K waves[, AHEAD[,
    EARLY[, maxnreg[, KW]]]]) whose chunks tile K and the groups (AHEAD, EARLY, the register cap and KW only where
    given and not 0 or 1; a KW config only where its parts tile each split's range within the groups, as the
    launcher requires: programs of 16 x rows x warps / KW rows, K blocks of KW chunks). Chunks-ahead forms (AHEAD)
    of 4 or more words a lane take W16 (16-byte word loads; the launcher drops it where the codes' rows are not
    16-byte aligned): 2-9 % faster on the H100 in every case timed but one tie (sixty-seventh session), and at 16
    tokens on 4096x4096 the KW 8 form with it beat the tuner's choice without it by 6 % (seventy-first)."""
    configs = []
    for warps, rows, wpl, waves, *extra in table:
        if not chunks_tile(k, group_size, wpl):
            continue
        ahead, early, maxnreg, kw = (*extra, *(0, 0, 0, 1)[len(extra):])
        split = split_for(n, k, 16 * rows * warps // kw, 32 * wpl * kw, waves * num_sms)
        if kw > 1 and (k % split or not k_parts_fit(k, group_size, k // split, kw, 32 * wpl)):
            continue
        configs.append({"MODE": MODE_MMA, "num_warps": warps, "ROWS": rows, "WPL": wpl, "SPLIT_K": split}
                       | ({"AHEAD": ahead} if ahead else {}) | ({"EARLY": 1} if early else {})
                       | ({"maxnreg": maxnreg} if maxnreg else {}) | ({"KW": kw} if kw > 1 else {})
                       | ({"W16": 1} if ahead and wpl % 4 == 0 else {}))  # fmt: skip
    return configs


def prmt_token_configs(table: list[tuple[int, int, int, int, int]], n: int, k: int, num_sms: int,
                       group_size: int) -> list[dict]:  # fmt: skip
    """The 2-4-token register-LUT kernel's configs of table's (BLOCK_N, BLOCK_K, warps, split-K waves, PREFETCH):
    blocks within K, prefetched ones dividing the group size (blocks visited once)."""
    return [{"BLOCK_N": bn, "BLOCK_K": bk, "MODE": MODE_PRMT, "num_warps": warps, "num_stages": 1, "PREFETCH": prefetch,
             "SPLIT_K": split_for(n, k, bn, bk, waves * num_sms) if waves else 1}
            for bn, bk, warps, waves, prefetch in table if bk <= k and not (prefetch and group_size % bk)]  # fmt: skip


def few_task_candidates(n: int, k: int, num_sms: int, group_size: int) -> list[dict]:
    """The fragment kernel's configs for a decode batch of a few tasks (the op's few-task class, up to 16 rows,
    calls where triton_decode_mma.mma_ok holds with 64-column chunks): PRELOAD's, then split-K ones, each where its
    chunks tile K and the groups. Each distinct task is one pass over registers the kernel already holds
    (PRELOAD) or over its K range, so it beats the bucket kernel up to ~4 tasks (NOTES.md, eighteenth session)."""
    preload = [{"MODE": MODE_MMA, "num_warps": warps, "ROWS": rows, "WPL": wpl, "PRELOAD": 1}
               for warps, rows, wpl in PRELOAD_CANDIDATES if chunks_tile(k, group_size, wpl)]  # fmt: skip
    return preload + split_k_fragment_configs(FEW_TASK_SPLIT_CANDIDATES, n, k, num_sms, group_size)


# The shipped fragment candidates (MMA_CANDIDATES) that won a few-task case on the H200 (eighteenth session: the
# start-up tuning at gpr 1, results/autotune_few_tasks_h200.json, and the gpr-4 grid, results/mma_tasks_grid_gpr4_
# h200.log, where the down projection's 2,752-column groups take 64-column chunks only); the other two never did,
# and each candidate costs a compile and a timing per shape on a GPU's first start.
FEW_TASK_SPLIT_CANDIDATES = [(4, 1, 4, 8), (4, 2, 2, 4), (2, 2, 2, 8), (2, 2, 4, 4)]


def default_few_task_config(k: int, group_size: int) -> dict:
    """The few-task class's config without autotuning: the fragment kernel, one chunk a program of the widest
    chunk (up to 512 columns) that tiles K and the groups (64 always does where the class applies)."""
    wpl = next(w for w in (16, 8, 4, 2) if chunks_tile(k, group_size, w))
    return {"MODE": MODE_MMA, "num_warps": 4, "ROWS": 1, "WPL": wpl, "PRELOAD": 1}


# (mode, BLOCK_N, BLOCK_K, warps, stages, prefetch depth, slot loop outside, fast gather, waves of programs)
# The best of the H100 sweeps in benchmarks/NOTES.md (kernel section), a handful per M class.
_ONE_TOKEN = [
    (MODE_FMA, 8, 512, 4, 2, 1, False, False, 0),  # best of the H200 one-token grid (decode_m1_grid.json)
    (MODE_FMA, 16, 512, 4, 1, 1, False, False, 0),
    (MODE_FMA, 16, 512, 8, 1, 1, False, False, 0),
    (MODE_FMA, 16, 512, 4, 1, 2, False, False, 0),
    (MODE_FMA, 16, 512, 4, 1, 1, False, True, 0),
    (MODE_FMA, 16, 256, 4, 1, 2, False, False, 2),
    (MODE_DOT_SWAP, 32, 256, 4, 3, 0, True, False, 2),
]
_TOKENS = [
    (MODE_DOT_SWAP, 64, 128, 4, 1, 1, False, False, 2),
    (MODE_DOT_SWAP, 64, 128, 4, 1, 2, False, False, 2),
    (MODE_DOT_SWAP, 32, 256, 4, 3, 0, True, False, 2),
    (MODE_DOT_SWAP, 16, 512, 4, 1, 1, False, False, 0),
    (MODE_DOT_SWAP, 64, 128, 8, 1, 1, False, False, 1),
    (MODE_DOT_SWAP, 64, 128, 4, 3, 0, True, False, 2),
    (MODE_DOT, 64, 128, 4, 1, 1, False, False, 2),
    (MODE_DOT, 64, 128, 4, 1, 2, False, False, 4),
]


def decode_candidates(
    m: int,
    n: int,
    k: int,
    num_sms: int,
    prmt: bool = False,
    group_size: int | None = None,
    half2: bool = False,
    mma: bool = False,
) -> list[dict]:
    """The pruned list the autotuner times (first call per shape: a few compiles, then cached on disk).

    prmt: the call suits the register-LUT kernels (triton_decode_prmt.prmt_ok): their configs alone at M = 1,
    the tensor-core one's above, those with BLOCK_K dividing group_size (default: K). They won every H200 case
    where they apply (NOTES.md "Autotuning cost"); the gather kernel's list is timed where none applies.
    half2: the call may multiply in fp16 (triton_decode_prmt.half2_ok): each M = 1 config is offered in that form
    too, and at 2 tokens the 2-4-token register-LUT kernel's (TOKENS_CANDIDATES). mma: the call suits the
    fragment kernel (triton_decode_mma.mma_ok with 64-column chunks): its configs whose chunks divide the group size
    join the list.
    """
    out = []
    gs = group_size or k
    if prmt and mma and m <= MMA_MAX_TOKENS:
        out += split_k_fragment_configs(MMA_CANDIDATES, n, k, num_sms, gs)
    if prmt and half2 and m == TOKENS_OFFERED:
        out += prmt_token_configs(TOKENS_CANDIDATES, n, k, num_sms, gs)
    if prmt:
        for bn, bk, warps, stages, waves, *one_token in PRMT_CANDIDATES if m == 1 else PRMT_DOT_CANDIDATES:
            prefetch, x_vec = one_token or (0, 0)
            if (m > 1 or prefetch) and gs % bk:
                continue  # the tensor-core kernel and register prefetch take blocks inside one group
            config = {"BLOCK_N": bn, "BLOCK_K": bk, "MODE": MODE_PRMT if m == 1 else MODE_PRMT_DOT,
                      "num_warps": warps, "num_stages": stages,
                      "SPLIT_K": split_for(n, k, bn, bk, waves * num_sms) if waves else 1}  # fmt: skip
            if prefetch:
                config["PREFETCH"] = prefetch
            if x_vec:
                config["X_VEC"] = 1
            out.append(config)
            if m == 1 and half2:
                out.append(config | {"HALF2": 1})
        if out:
            return out
    for mode, bn, bk, warps, stages, pf, outer, fast, waves in _ONE_TOKEN if m == 1 else _TOKENS:
        out.append({
            "BLOCK_N": bn, "BLOCK_K": bk, "MODE": mode, "num_warps": warps, "num_stages": stages,
            "PREFETCH": pf, "SLOT_OUTER": outer, "FAST": fast,
            "SPLIT_K": split_for(n, k, bn, bk, waves * num_sms) if waves else 1,
        })  # fmt: skip
    return out
