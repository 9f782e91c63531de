"""The 16-token bucket kernel with an int8 one-hot MMA: the op's int8 activation mode (BASE_CORR, the
server's int8 activation mode, its default on sm_90), and the exact-digit forms it was measured against.

The WIDE bucket kernel (triton_bucket_wgmma.py) sums x by code value on mma.sync in fp16:

    S[t, n, c] = sum over k of a LUT group with code[n, k] == c of x[t, k];   y[t, n] = sum_c LUT[slot(t), n, c] S

Here x is first rounded per token to int8 digits (int8_digits: x_t ~ s_t (hi + lo / 256), s_t = max |x_t| / 127)
and S comes from int8 mma.sync (m16n8k32 s8 x s8 -> s32: the fp16 MMA's instruction rate, twice its multiply-adds
on the H200). Forms (constexprs of _bucket_int8_kernel):

    two digits   acc_d [16 ROWS, BM] (int32) += OneHot [16 ROWS, BK] (int8) @ digit_d[token tile, K block].T, d = hi,
                 lo; S = s_t (acc_hi + acc_lo / 256). As accurate as fp16; as many MMAs as the fp16 kernel, and as
                 fast (0.96-1.04x). MERGED: one accumulator (the high digit's one-hot holds 127), as fast.
    ONE_DIGIT    the high digit alone: half the MMAs, 1.55-1.69x the fp16 kernel, +1.5-2.1 % perplexity. A
                 measurement: the kernel is bound by its MMAs (Nsight, benchmarks/NOTES.md forty-third session).
    BASE_CORR    the high digit through each token's LUT (ONE_DIGIT's one-hot) plus the remainder s_t lo / 256
                 through the base LUT, shared by every token: corr [16 W, BM] += Base [16 W, BK] @ lo.T with the base's
                 weights as 7-bit levels (base_tables; 3 instructions for 4 weights, base_lookup_program), one IMMA
                 per eight of the one-hot's. Exact for the base model; with a task LUT off by (W_task - W_base) r:
                 as accurate as fp16 on a real task LUT of the default model. 1.36-1.46x the fp16 kernel with its
                 digits made ahead (H200, 16 tokens over 16 tasks, gpr 1). The op runs it for bucket-class batches of
                 9-16 rows when given the base tables (kernels/triton_ops.py, int8_base_corr_config).

The one-hot's rows are the WIDE form's, 16 (q W + w) + 8 h + g for code value 2q + h of weight row 8w + g, so a lane
(4g + t of warp w) holds one weight row in all its A rows and folds that row's 16 code values in its registers
(triton_bucket_wgmma._fold_wide, reused). Its A registers (m16n8k32: a0 row g, k 4t..4t+3; a1 row g + 8; a2, a3 the
same at k + 16) are each one prmt: the 4 codes of those k, a 16-bit chunk of the packed word, are the selector of a
one-byte table held as an immediate (int8_onehot_selector, int8_onehot_program). BASE_CORR's A rows are each warp's
own 8 weight rows (16 w + g) and 8 zero rows; its registers come from the same chunks. Checked on the CPU: the
programs on the emulator for every code value, the lane-by-lane model of the one-hot fragments against each token's
LUT sum, the sm_90 compiles' instruction mix (tests/kernels/test_int8_onehot.py); on the H200 against
base_corrected_reference and the other forms' references.

Takes: sm_90, fp16 / bf16 x and LUT of one type, 4-bit prmt_ok codes, K and the group size multiples of BLOCK_K,
each program's K range within one LUT group (gpr 1, or split-K ranges that divide the group).
"""

from __future__ import annotations

import functools

import torch
import triton
import triton.language as tl

from kernels.triton_bucket_wgmma import bucket_wgmma_layouts, bucket_wgmma_ok, one_fold
from kernels.triton_common import pdl_args, pdl_wait, split_k_tiles
from kernels.triton_prefill_wgmma import HAVE_GLUON

if HAVE_GLUON:
    from triton.experimental.gluon.language.nvidia.ampere import mma_v2

    from kernels.triton_bucket_wgmma import _fold_wide, _gdc_wait, _join8, _store_tile
    from kernels.triton_prefill_wgmma import (
        TensorDescriptor,
        _barrier,
        _tma_load,
        fence_async_shared,
        gl,
        gluon,
        mbarrier,
    )


def int8_onehot_table(c: int) -> tuple[int, int, int]:
    """(table low word, table high word, selector xor) of code value c's one-prmt int8 one-hot: the selector is 4
    codes (16 bits) xor-ed with 0x8888 for c >= 8; the table holds 1 at byte c % 8. A code's nibble picks byte
    (code & 7) of the table when its bit 3 (after the xor) is clear, else that byte's sign (0: no table byte is
    negative), so byte i of the result is 1 exactly where code i == c."""
    table = 1 << 8 * (c % 8)
    return table & 0xFFFFFFFF, table >> 32, 0x8888 if c >= 8 else 0


def int8_onehot_selector(c: int, value: int = 1) -> tuple[int, int]:
    """(table, selector xor) of code value c's one-hot as the kernel's prmt builds it, prmt(0, table, chunk ^ xor):
    int8_onehot_table's trick with the table always in the prmt's second word (bytes 4-7), where ptxas takes it as
    an immediate (in the first word each table was a register, rematerialized by an IMAD before its prmt: 64 of a
    128-column block's 437 instructions). The table holds value (1, or MERGED_SCALE for the merged form's high
    digit; positive, at most 127) at byte c % 4 of that word; the xor flips bit 3 of every nibble for c >= 8 (those
    codes then pick bytes, the rest take a byte's sign, 0) and bit 2 for c % 8 < 4 (so that c's nibbles point into
    the second word): byte i of the result is value exactly where code i == c, else 0."""
    if not 0 < value < 128:
        raise ValueError(f"a one-hot byte must be a positive int8, not {value}")
    return value << 8 * (c % 4), (0x8888 if c >= 8 else 0) ^ (0x4444 if c % 8 < 4 else 0)


def int8_onehot_program(value: int = 1) -> list[tuple]:
    """The kernel's asm as an emulator program: $0 .. $15 = code value c's 4 one-hot bytes (value or 0) of the 4 codes
    in the 16-bit chunk $16 (nibble i = the code of column i)."""
    prog: list[tuple] = [("xor", f"s{x:x}", "$16", x) for x in (0x4444, 0x8888, 0xCCCC)]
    for c in range(16):
        table, flip = int8_onehot_selector(c, value)
        prog.append(("prmt", f"${c}", 0, table, f"s{flip:x}" if flip else "$16"))
    return prog


def _onehot_ptx(value: int = 1) -> str:
    """int8_onehot_program(value) as PTX (prmt's words in registers: ptxas makes the zero RZ and the table an
    immediate): $0-$15 (b32 outputs, 4 int8 each), $16-$19 the chunk (4 copies: the asm is packed 4 elements a
    call, one int8 element each; all alike)."""
    lines = [".reg .b32 s4444, s8888, sCCCC, z, t<4>;", "mov.b32 z, 0;"]
    lines += [f"xor.b32 s{x:X}, $16, {x:#x};" for x in (0x4444, 0x8888, 0xCCCC)]
    lines += [f"mov.b32 t{j}, {value << 8 * j:#x};" for j in range(4)]
    for c in range(16):
        table, flip = int8_onehot_selector(c, value)
        lines.append(f"prmt.b32 ${c}, z, t{c % 4}, {f's{flip:X}' if flip else '$16'};")
    return "{ " + " ".join(lines) + " }"


ONEHOT_I8_CONSTRAINTS = ",".join(["=r"] * 16 + ["r"] * 4)

# x's digits: x_t ~ s_t (hi + lo / BASE). Two digits (two accumulators): BASE 256. MERGED (one accumulator): the high
# digit's one-hot holds MERGED_SCALE, so acc = sum onehot (127 hi + lo) = 127 sum onehot x / s: BASE 127, |lo| <= 64
TWO_DIGIT_BASE = 256
MERGED_SCALE = 127
# BASE_CORR: the base LUT's table per weight row and LUT group as 7-bit levels (one byte each, non-negative so that
# a prmt's sign-replicated bytes are 0), W_base[c] ~ low + scale * level[c]
BASE_LEVELS = 127


def base_tables(base_lut: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The base LUT [N, gpr, 16] as BASE_CORR's tables: (words [N, gpr, 4] int32, entry e's level in byte e % 4 of
    word e // 4; scale [N, gpr] and low [N, gpr] float32), W_base[n, g, c] ~ low + scale * level[c], levels 0-127
    (the rounding: 1/254 of the row group's range, below what a task LUT moves a weight: benchmarks/NOTES.md)."""
    lut = base_lut.float()
    low, high = lut.amin(dim=-1), lut.amax(dim=-1)
    scale = ((high - low) / BASE_LEVELS).clamp_min(1e-30)
    level = torch.round((lut - low[..., None]) / scale[..., None]).clamp(0, BASE_LEVELS).to(torch.uint8)
    return level.contiguous().view(torch.int32), scale.contiguous(), low.contiguous()


def base_tables_value(words: torch.Tensor, scale: torch.Tensor, low: torch.Tensor) -> torch.Tensor:
    """The base LUT [N, gpr, 16] (float32) as BASE_CORR's tables give it."""
    level = words.contiguous().view(torch.uint8).float()
    return low[..., None] + scale[..., None] * level


def base_lookup_program() -> list[tuple]:
    """BASE_CORR's table lookup as an emulator program: $0 = the levels of the 4 codes in the 16-bit chunk $1 (byte i
    = level[code i]) from the row's table words $2 .. $5 (entries 0-3 .. 12-15). Codes 0-7 pick their byte of
    {$2, $3}, codes 8-15 (selector xor 0x8888) of {$4, $5}; each prmt gives the other half's codes a byte's sign
    (0: levels are non-negative), so an or joins them: 3 instructions per 4 weights (the xor is the one-hot's)."""
    return [("xor", "s", "$1", 0x8888), ("prmt", "lo", "$2", "$3", "$1"), ("prmt", "hi", "$4", "$5", "s"),
            ("or", "$0", "lo", "hi")]  # fmt: skip


# the asm packed 4 int8 outputs a call: $0 out, $1-$4 the chunk, $5-$8 .. $17-$20 the 4 table words (4 copies each)
BASE_LOOKUP_PTX = ("{ .reg .b32 s, lo, hi; xor.b32 s, $1, 0x8888; prmt.b32 lo, $5, $9, $1; prmt.b32 hi, $13, $17, s; "
                   "or.b32 $0, lo, hi; }")  # fmt: skip
BASE_LOOKUP_CONSTRAINTS = "=r," + ",".join(["r"] * 20)


@triton.jit
def _int8_digits_kernel(x_ptr, hi_ptr, lo_ptr, scale_ptr, sums_ptr, K, stride_x, stride_d, stride_s,
                        BASE: tl.constexpr, BLOCK_K: tl.constexpr, SUMS: tl.constexpr,
                        PDL: tl.constexpr = False):  # fmt: skip
    """Program t: token t's step s = max |x_t| / 127 (scale_ptr[t]) and digits hi = round(x / s) in [-127, 127],
    lo = round((x - hi s) / (s / BASE)) in [-128, 127] (round: floor(v + 0.5)). SUMS: sums_ptr[t, j] = the sum of
    lo over columns [0, 32 j) (j = 0 .. K / 32; BASE_CORR's base-LUT correction needs it per K range). PDL: waits
    for the kernel before (x's writer) first."""
    pdl_wait(PDL)
    t = tl.program_id(0)
    offs = tl.arange(0, BLOCK_K)
    peak = tl.zeros([BLOCK_K], tl.float32)
    for k0 in range(0, K, BLOCK_K):
        v = tl.load(x_ptr + t * stride_x + k0 + offs, mask=k0 + offs < K, other=0.0).to(tl.float32)
        peak = tl.maximum(peak, tl.abs(v))
    step = tl.maximum(tl.max(peak, axis=0), 1e-30) / 127
    tl.store(scale_ptr + t, step)
    carry = tl.full([], 0, tl.int32)
    for k0 in range(0, K, BLOCK_K):
        v = tl.load(x_ptr + t * stride_x + k0 + offs, mask=k0 + offs < K, other=0.0).to(tl.float32)
        carry = int8_digits_block(v, step, k0, offs, K, t, hi_ptr, lo_ptr, sums_ptr, stride_d, stride_s, carry, BASE,
                                  BLOCK_K, SUMS)  # fmt: skip
    if SUMS:
        tl.store(sums_ptr + t * stride_s, 0)


@triton.jit
def int8_row_digits(v, offs, K, t, hi_ptr, lo_ptr, step_ptr, sums_ptr, stride_d, stride_s, BLOCK_K: tl.constexpr):
    """Token t's whole row v (float32 [BLOCK_K], BLOCK_K >= K, 0 past K) as int8_digits(x, sums=True) writes it:
    the step, both digits and lo's prefix sums. For the kernels that make x and write its digits themselves
    (server/triton_fused.py: the RMSNorm and SiLU, a row a program)."""
    step = tl.maximum(tl.max(tl.abs(v), axis=0), 1e-30) / 127
    tl.store(step_ptr + t, step)
    int8_digits_block(v, step, 0, offs, K, t, hi_ptr, lo_ptr, sums_ptr, stride_d, stride_s, tl.full([], 0, tl.int32),
                      256, BLOCK_K, True)  # fmt: skip (256: TWO_DIGIT_BASE)
    tl.store(sums_ptr + t * stride_s, 0)


@triton.jit
def int8_digits_block(v, step, k0, offs, K, t, hi_ptr, lo_ptr, sums_ptr, stride_d, stride_s, carry,
                      BASE: tl.constexpr, BLOCK_K: tl.constexpr, SUMS: tl.constexpr):  # fmt: skip
    """Columns k0 + offs (BLOCK_K of them) of token t's row, v (float32, 0 past K), as digits of the row's step:
    hi and lo stored, and with SUMS lo's prefix sums sums_ptr[t, 1 + j] from carry (the sum of lo before k0; column
    0's zero is the caller's to store). Returns the new carry. _int8_digits_kernel and the producers of x that
    write its digits themselves (server/triton_fused.py, the RMSNorm and SiLU) share it."""
    mask = k0 + offs < K
    hi = tl.minimum(tl.maximum(tl.floor(v / step + 0.5), -127.0), 127.0)
    lo = tl.minimum(tl.maximum(tl.floor((v - hi * step) / (step / BASE) + 0.5), -128.0), 127.0)
    tl.store(hi_ptr + t * stride_d + k0 + offs, hi.to(tl.int8), mask=mask)
    tl.store(lo_ptr + t * stride_d + k0 + offs, lo.to(tl.int8), mask=mask)
    if SUMS:  # masked columns have lo = 0
        group = tl.sum(tl.reshape(lo.to(tl.int32), [BLOCK_K // 32, 32]), axis=1)
        offs_g = k0 // 32 + tl.arange(0, BLOCK_K // 32)
        tl.store(sums_ptr + t * stride_s + 1 + offs_g, tl.cumsum(group, 0) + carry, mask=offs_g < (K + 31) // 32)
        carry += tl.sum(group, axis=0)
    return carry


def lo_sums_reference(lo: torch.Tensor) -> torch.Tensor:
    """[M, K] int8 -> [M, ceil(K / 32) + 1] int32: column j = the sum of lo over columns [0, 32 j)."""
    m, k = lo.shape
    padded = torch.zeros(m, -(-k // 32) * 32, dtype=torch.int32, device=lo.device)
    padded[:, :k] = lo.to(torch.int32)
    sums = padded.view(m, -1, 32).sum(dim=-1).cumsum(dim=-1)
    return torch.cat([torch.zeros(m, 1, dtype=torch.int32, device=lo.device), sums], dim=1).to(torch.int32)


def int8_digits_reference(x: torch.Tensor, base: int = TWO_DIGIT_BASE) -> tuple[torch.Tensor, torch.Tensor,
                                                                                torch.Tensor]:  # fmt: skip
    """x [M, K] -> (hi, lo) int8 [M, K] and the step [M] (float32), as _int8_digits_kernel computes them."""
    v = x.float()
    step = v.abs().amax(dim=-1).clamp_min(1e-30) / 127
    hi = torch.floor(v / step[:, None] + 0.5).clamp(-127, 127)
    lo = torch.floor((v - hi * step[:, None]) / (step[:, None] / base) + 0.5).clamp(-128, 127)
    return hi.to(torch.int8), lo.to(torch.int8), step


def int8_digits_value(hi: torch.Tensor, lo: torch.Tensor, step: torch.Tensor,
                      base: int = TWO_DIGIT_BASE) -> torch.Tensor:  # fmt: skip
    """x [M, K] (float32) as its digits give it: step_t (hi + lo / base), the x the kernel multiplies."""
    return step[:, None] * (hi.float() + lo.float() / base)


def base_corrected_reference(x: torch.Tensor, codes_packed: torch.Tensor, lut_pool: torch.Tensor,
                             slot_of_token: torch.Tensor, tables: tuple[torch.Tensor, ...]) -> torch.Tensor:
    """What BASE_CORR computes (float32 [M, N]), 4-bit codes: x's high digit through each token's LUT and its
    remainder, step_t lo / 256, through the base LUT as its tables give it (base_tables)."""
    from kernels.reference import lut_linear_reference

    hi, lo, step = int8_digits_reference(x)
    x_hi = step[:, None] * hi.float()
    y = lut_linear_reference(x_hi, codes_packed, lut_pool.float(), slot_of_token, 4)
    base = base_tables_value(*tables)[None].to(x.device)
    rest = step[:, None] * lo.float() / TWO_DIGIT_BASE
    zeros = torch.zeros_like(slot_of_token)
    return y + lut_linear_reference(rest, codes_packed, base, zeros, 4)


DIGITS_ROW_MAX = 16384  # the most columns a program takes as one block of digits (a warp a 1,024: digits_warps)


def digits_warps(block: int) -> int:
    """Warps for a program that makes the digits of `block` columns at once: a warp a 1,024 (32 a thread), 4 at
    least."""
    return max(4, block // 1024)


def digits_block(k: int) -> int:
    """The digits kernel's columns a loop step, the whole row up to 16,384, with a warp a 1,024 of them (32 a thread;
    sm_90: 128 registers or fewer, the prefix sums' 8-56 bytes of stack): one loop step, so a program waits on one
    load of its row rather than one a 1,024 columns: the launch, as the int8 kernel with its digits against alone,
    cost ~3.6 us at K = 4,096 and ~6.0 at 11,008 (H200, forty-fourth session), against ~4.8 and ~11.3 with
    1,024-column steps."""
    return min(DIGITS_ROW_MAX, max(32, triton.next_power_of_2(k)))


def int8_digits_buffers(m: int, k: int, device: torch.device, sums: bool = False) -> tuple[torch.Tensor, ...]:
    """Empty (hi, lo) int8 [M, K] (16-byte row strides, for TMA), step [M] float32 and, with sums, lo_sums
    [M, ceil(K / 32) + 1] int32: what int8_digits returns, for a kernel to fill."""
    width = triton.cdiv(k, 16) * 16
    hi = torch.empty(m, width, dtype=torch.int8, device=device)[:, :k]
    lo = torch.empty(m, width, dtype=torch.int8, device=device)[:, :k]
    step = torch.empty(m, dtype=torch.float32, device=device)
    if not sums:
        return hi, lo, step
    return hi, lo, step, torch.empty(m, triton.cdiv(k, 32) + 1, dtype=torch.int32, device=device)


def int8_digits(x: torch.Tensor, base: int = TWO_DIGIT_BASE, sums: bool = False,
                pdl: bool = False) -> tuple[torch.Tensor, ...]:  # fmt: skip
    """x [M, K] (contiguous rows) -> (hi, lo) int8 [M, K] (16-byte row strides, for TMA) and the step [M] float32:
    x_t ~ step_t (hi + lo / base); base TWO_DIGIT_BASE for the two-accumulator kernel and BASE_CORR, MERGED_SCALE
    for MERGED. sums: also lo's prefix sums [M, ceil(K / 32) + 1] int32 (lo_sums_reference), for BASE_CORR. pdl:
    launched with PDL where triton_common.pdl_enabled."""
    m, k = x.shape
    hi, lo, step, *rest = int8_digits_buffers(m, k, x.device, sums)
    lo_sums = rest[0] if sums else step
    if m:
        _int8_digits_kernel[(m,)](x, hi, lo, step, lo_sums, k, x.stride(0), hi.stride(0), lo_sums.stride(0),
                                  BASE=base, BLOCK_K=digits_block(k), SUMS=sums,
                                  num_warps=digits_warps(digits_block(k)),
                                  **(pdl_args(x.device) if pdl else {}))  # fmt: skip
    return (hi, lo, step, lo_sums) if sums else (hi, lo, step)


@functools.cache
def bucket_int8_layouts(num_warps: int, block_k: int) -> dict:
    """The int8 form's layouts for 8 weight rows a warp (ROWS = 8 num_warps) and 16 tokens: the WIDE form's acc,
    fold and x-free ones (bucket_wgmma_layouts), int8 dot operands (k_width 4), the chunks [ROWS, BK / 32, 2 (k half
    b0), 2 (t1), 2 (t0), 4 (byte p)] (lane 4g + t of warp w: row 8w + g, t = 2 t1 + t0; the byte p the packed dim of
    the asm, consecutive registers), the words of a K block [ROWS, BK / 8] as the chunks need them (word 4s + 2 b0 +
    t1 in lanes t1, both t0), x's digit tiles in shared memory."""
    rows = 8 * num_warps
    base = bucket_wgmma_layouts(num_warps, rows, 16, block_k, mma_v2=True, wide=True)
    acc = base["acc_layout"]
    s_bits = (block_k // 32).bit_length() - 1
    warp_bits = num_warps.bit_length() - 1
    chunks = gl.DistributedLinearLayout(
        reg_bases=[[0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 2], [0, 0, 1, 0, 0, 0]]
        + [[0, 1 << i, 0, 0, 0, 0] for i in range(s_bits)],
        lane_bases=[[0, 0, 0, 0, 1, 0], [0, 0, 0, 1, 0, 0], [1, 0, 0, 0, 0, 0], [2, 0, 0, 0, 0, 0],
                    [4, 0, 0, 0, 0, 0]],
        warp_bases=[[8 << i, 0, 0, 0, 0, 0] for i in range(warp_bits)], block_bases=[],
        shape=[rows, block_k // 32, 2, 2, 2, 4])  # fmt: skip
    words = gl.DistributedLinearLayout(
        reg_bases=[[0, 2]] + [[0, 4 << i] for i in range(s_bits)],
        lane_bases=[[0, 0], [0, 1], [1, 0], [2, 0], [4, 0]],
        warp_bases=[[8 << i, 0] for i in range(warp_bits)], block_bases=[], shape=[rows, block_k // 8])  # fmt: skip
    return {
        "acc_layout": acc,
        "a_layout": gl.DotOperandLayout(operand_index=0, parent=acc, k_width=4),
        "b_layout": gl.DotOperandLayout(operand_index=1, parent=acc, k_width=4),
        "ch_layout": chunks,
        "cw_layout": words,
        "f_layout": base["f_layout"],
        "c_smem_layout": base["c_smem_layout"],
        "x_smem_layout": gl.NVMMASharedLayout(swizzle_byte_width=min(128, block_k), element_bitwidth=8, rank=2),
    }


KERNEL_LAYOUTS_I8 = ("acc_layout", "a_layout", "b_layout", "ch_layout", "cw_layout", "f_layout")

if HAVE_GLUON:
    ONEHOT_I8 = gl.constexpr(_onehot_ptx())
    ONEHOT_I8_HIGH = gl.constexpr(_onehot_ptx(MERGED_SCALE))  # the merged form's high digit's one-hot
    ONEHOT_I8_CONSTR = gl.constexpr(ONEHOT_I8_CONSTRAINTS)
    BASE_LOOKUP = gl.constexpr(BASE_LOOKUP_PTX)
    BASE_LOOKUP_CONSTR = gl.constexpr(BASE_LOOKUP_CONSTRAINTS)
    INV_MERGED = gl.constexpr(1.0 / MERGED_SCALE)
    INV_BASE = gl.constexpr(1.0 / TWO_DIGIT_BASE)

    @gluon.jit
    def _expand6(v):
        """[ROWS] -> [ROWS, 1, 1, 1, 1, 1]."""
        return gl.expand_dims(gl.expand_dims(gl.expand_dims(gl.expand_dims(gl.expand_dims(v, 1), 2), 3), 4), 5)

    @gluon.jit
    def _code_chunks(c_buf, cw_layout: gl.constexpr, ch_layout: gl.constexpr, ROWS: gl.constexpr,
                     BLOCK_K: gl.constexpr):  # fmt: skip
        """A K block's code words in shared memory [ROWS, BK / 8] -> chunks [ROWS, BK / 32, 2, 2, 2, 4] int32 (the 4
        copies of the last dim alike): the 16-bit chunk of the 4 codes of columns 32 s + 16 b0 + 4 (2 t1 + t0) ..
        + 3 of row 8 w + g, in lane 4 g + 2 t1 + t0 of warp w."""
        S: gl.constexpr = BLOCK_K // 32
        w2 = c_buf.load(cw_layout)  # [ROWS, BK / 8]: word 4s + 2 b0 + t1 of row 8w + g in lanes 4g + 2 t1 + t0
        w4 = gl.convert_layout(gl.reshape(w2, [ROWS, S, 2, 2]),
                               gl.SliceLayout(4, gl.SliceLayout(5, ch_layout)))  # fmt: skip
        w6 = gl.expand_dims(gl.expand_dims(w4, 4), 5) + gl.zeros([ROWS, S, 2, 2, 2, 4], gl.int32, ch_layout)
        t0 = gl.arange(0, 2, layout=gl.SliceLayout(0, gl.SliceLayout(1, gl.SliceLayout(2, gl.SliceLayout(
            3, gl.SliceLayout(5, ch_layout))))))  # fmt: skip
        t0 = gl.expand_dims(gl.expand_dims(gl.expand_dims(gl.expand_dims(gl.expand_dims(t0, 0), 1), 2), 3), 5)
        return (w6 >> (t0 * 16)) & 0xFFFF

    @gluon.jit
    def _base_weights_i8(chunk, tw0, tw1, tw2, tw3, a_layout: gl.constexpr, ROWS: gl.constexpr,
                         BLOCK_K: gl.constexpr):  # fmt: skip
        """BASE_CORR's A [16 W, BK] int8: row 16 w + g the base's levels of weight row 8 w + g (base_lookup_program
        on each chunk with the row's table words tw0 .. tw3, broadcast to the chunks' shape), rows 16 w + 8 + g
        zero (each warp's m16 tile holds its own 8 rows)."""
        W: gl.constexpr = ROWS // 8
        S: gl.constexpr = BLOCK_K // 32
        e = gl.inline_asm_elementwise(BASE_LOOKUP, BASE_LOOKUP_CONSTR, [chunk, tw0, tw1, tw2, tw3], dtype=gl.int8,
                                      is_pure=True, pack=4)  # fmt: skip
        a = gl.join(e, gl.zeros_like(e))
        a = gl.reshape(a, [W, 8, S, 2, 2, 2, 4, 2])  # [w, g, s, b0, t1, t0, p, h]
        a = gl.permute(a, (0, 7, 1, 2, 3, 4, 5, 6))  # [w, h, g, s, b0, t1, t0, p]
        return gl.convert_layout(gl.reshape(a, [16 * W, BLOCK_K]), a_layout)

    @gluon.jit
    def _onehot_i8(chunk, a_layout: gl.constexpr, ROWS: gl.constexpr, BLOCK_K: gl.constexpr,
                   HIGH: gl.constexpr = False):  # fmt: skip
        """A [16 ROWS, BK] int8, 1 (MERGED_SCALE if HIGH) at (16 (q W + w) + 8 h + g, k) where code[8 w + g, k] ==
        2 q + h, from a K block's chunks (_code_chunks)."""
        W: gl.constexpr = ROWS // 8
        S: gl.constexpr = BLOCK_K // 32
        if HIGH:
            e = gl.inline_asm_elementwise(ONEHOT_I8_HIGH, ONEHOT_I8_CONSTR, [chunk], dtype=(gl.int8,) * 16,
                                          is_pure=True, pack=4)  # fmt: skip
        else:
            e = gl.inline_asm_elementwise(ONEHOT_I8, ONEHOT_I8_CONSTR, [chunk], dtype=(gl.int8,) * 16, is_pure=True,
                                          pack=4)  # fmt: skip
        # e[c] = e[2q + h]: trailing dims [h, q0, q1, q2]
        a = gl.join(_join8(e[0], e[1], e[2], e[3], e[4], e[5], e[6], e[7]),
                    _join8(e[8], e[9], e[10], e[11], e[12], e[13], e[14], e[15]))  # fmt: skip
        a = gl.reshape(a, [W, 8, S, 2, 2, 2, 4, 2, 2, 2, 2])  # [w, g, s, b0, t1, t0, p, h, q0, q1, q2]
        a = gl.permute(a, (10, 9, 8, 0, 7, 1, 2, 3, 4, 5, 6))  # [q2, q1, q0, w, h, g, s, b0, t1, t0, p]
        # row 16 (q W + w) + 8 h + g, column 32 s + 16 b0 + 4 (2 t1 + t0) + p
        return gl.convert_layout(gl.reshape(a, [16 * ROWS, BLOCK_K]), a_layout)

    @gluon.jit
    def _bucket_int8_kernel(
        xh_desc, xl_desc, c_desc, step_ptr, lut_ptr, slot_ptr, y_ptr, ws_ptr, counter_ptr,
        bw_ptr, bs_ptr, bl_ptr, sums_ptr,
        M, N, K, GS, stride_ls, stride_ln, stride_ym, KB_PER_SPLIT, stride_bn, stride_s,
        ROWS: gl.constexpr, BLOCK_K: gl.constexpr, STAGES: gl.constexpr,
        acc_layout: gl.constexpr, a_layout: gl.constexpr, b_layout: gl.constexpr, ch_layout: gl.constexpr,
        cw_layout: gl.constexpr, f_layout: gl.constexpr, USE_SPLIT: gl.constexpr = False,
        MERGED: gl.constexpr = False, ONE_DIGIT: gl.constexpr = False, BASE_CORR: gl.constexpr = False,
        PDL: gl.constexpr = False,
    ):  # fmt: skip
        """Program (row tile x token tile, k): ROWS = 8 W weight rows, 16 tokens, K blocks [k KB_PER_SPLIT, ...),
        which lie in one LUT group (one fold, after the loop). x's two digit tiles and the rows' code words of each
        K block arrive together by TMA in a ring of STAGES buffers, STAGES - 1 blocks ahead (the WIDE kernel's
        ring); per block one one-hot and two int8 MMAs (hi, lo); then S = step_t (acc_hi + acc_lo / 256), the fold,
        and the WIDE kernel's store (_store_tile, with its split-K epilogue). MERGED: two one-hots (1 and
        MERGED_SCALE) and one accumulator, acc += OneHot_127 @ hi + OneHot_1 @ lo, S = step_t acc / 127 (half the
        accumulator registers and fold for a second prmt per one-hot register). ONE_DIGIT (a measurement, not a
        form to ship: x rounded to one int8 digit, +2.1 % perplexity on the default model): the high digit alone,
        S = step_t acc, half the IMMAs. BASE_CORR: ONE_DIGIT's one-hot and the remainder step_t lo / 256 through the
        base LUT's tables (bw_ptr words [N, gpr, 4], bs_ptr scale and bl_ptr low [N, gpr]; base_tables), one more
        IMMA pair a 32-column chunk on a [16 W, BK] A of levels (each warp's own 8 rows, 8 zero rows):
        y_t = step_t (sum_c LUT_t S_hi + (scale corr + low sum lo) / 256), sum lo over the K range from sums_ptr
        (lo's prefix sums a 32 columns, int8_digits(sums=True)). PDL (config PDL: 1; in the op's config since the
        forty-fourth session): the codes' first blocks requested before the wait for the kernel before (the
        digits'), the digits' after it, as the WIDE form does."""
        BLOCK_M: gl.constexpr = 16
        L: gl.constexpr = 16
        BYTES: gl.constexpr = 2 * BLOCK_M * BLOCK_K + ROWS * BLOCK_K // 2  # the digits' tiles and the codes'
        m_tiles = gl.cdiv(M, BLOCK_M)
        tile = gl.program_id(0)
        n_tiles = gl.num_programs(0)
        split_id = gl.program_id(1)
        n_splits = gl.num_programs(1)
        m_start = (tile % m_tiles) * BLOCK_M
        row0 = (tile // m_tiles) * ROWS
        if USE_SPLIT:
            kb0 = split_id * KB_PER_SPLIT
            KB = gl.minimum(kb0 + KB_PER_SPLIT, K // BLOCK_K)
        else:
            kb0 = 0
            KB = K // BLOCK_K

        arow = gl.arange(0, ROWS, layout=gl.SliceLayout(1, gl.SliceLayout(2, f_layout)))
        toks = m_start + gl.arange(0, BLOCK_M, layout=gl.SliceLayout(0, gl.SliceLayout(2, f_layout)))
        lut_row = gl.minimum(row0 + arow, N - 1) * stride_ln
        tok_ok = toks < M
        lut_tok = gl.load(slot_ptr + toks, mask=tok_ok, other=0).to(gl.int64) * stride_ls
        if not PDL:  # (under PDL after the wait: the digits kernel writes the steps)
            step = gl.load(step_ptr + toks, mask=tok_ok, other=0.0)

        X_LAYOUT: gl.constexpr = xh_desc.layout
        C_LAYOUT: gl.constexpr = c_desc.layout
        xh_smem = gl.allocate_shared_memory(gl.int8, [STAGES, BLOCK_M, BLOCK_K], X_LAYOUT)
        xl_smem = gl.allocate_shared_memory(gl.int8, [STAGES, BLOCK_M, BLOCK_K], X_LAYOUT)
        c_smem = gl.allocate_shared_memory(gl.int32, [STAGES, ROWS, BLOCK_K // 8], C_LAYOUT)
        bars = gl.allocate_shared_memory(gl.int64, [STAGES, 1], mbarrier.MBarrierLayout())
        for s in gl.static_range(STAGES):
            mbarrier.init(bars.index(s), count=1)
        fence_async_shared()
        _barrier()  # the barriers initialized before anyone waits on them
        if PDL:  # the codes (no kernel's output) before the wait, the digits after
            for s in gl.static_range(STAGES - 1):
                ok = kb0 + s < KB
                mbarrier.expect(bars.index(s), BYTES, pred=ok)
                _tma_load(c_desc, [row0, (kb0 + s) * (BLOCK_K // 8)], bars.index(s), c_smem.index(s), pred=ok)
            _gdc_wait()
            step = gl.load(step_ptr + toks, mask=tok_ok, other=0.0)
            for s in gl.static_range(STAGES - 1):
                ok = kb0 + s < KB
                _tma_load(xh_desc, [m_start, (kb0 + s) * BLOCK_K], bars.index(s), xh_smem.index(s), pred=ok)
                _tma_load(xl_desc, [m_start, (kb0 + s) * BLOCK_K], bars.index(s), xl_smem.index(s), pred=ok)
        else:
            for s in gl.static_range(STAGES - 1):
                ok = kb0 + s < KB
                mbarrier.expect(bars.index(s), BYTES, pred=ok)
                _tma_load(c_desc, [row0, (kb0 + s) * (BLOCK_K // 8)], bars.index(s), c_smem.index(s), pred=ok)
                _tma_load(xh_desc, [m_start, (kb0 + s) * BLOCK_K], bars.index(s), xh_smem.index(s), pred=ok)
                _tma_load(xl_desc, [m_start, (kb0 + s) * BLOCK_K], bars.index(s), xl_smem.index(s), pred=ok)

        acc_hi = gl.zeros([L * ROWS, BLOCK_M], gl.int32, acc_layout)
        acc_lo = gl.zeros([L * ROWS, BLOCK_M], gl.int32, acc_layout)  # unused if MERGED (no registers)
        corr = gl.zeros([2 * ROWS, BLOCK_M], gl.int32, acc_layout)  # BASE_CORR: rows 16 w + g real, + 8 zero
        if BASE_CORR:  # the table words of the lane's row (the program's K range lies in one LUT group)
            ch_rows: gl.constexpr = gl.SliceLayout(1, gl.SliceLayout(2, gl.SliceLayout(3, gl.SliceLayout(
                4, gl.SliceLayout(5, ch_layout)))))  # fmt: skip
            brow = gl.minimum(row0 + gl.arange(0, ROWS, layout=ch_rows), N - 1) * stride_bn + kb0 * BLOCK_K // GS
            zero6 = gl.zeros([ROWS, BLOCK_K // 32, 2, 2, 2, 4], gl.int32, ch_layout)
            tw0 = _expand6(gl.load(bw_ptr + brow * 4)) + zero6
            tw1 = _expand6(gl.load(bw_ptr + brow * 4 + 1)) + zero6
            tw2 = _expand6(gl.load(bw_ptr + brow * 4 + 2)) + zero6
            tw3 = _expand6(gl.load(bw_ptr + brow * 4 + 3)) + zero6
        for kb in range(kb0, KB):
            i = kb - kb0
            cur = i % STAGES
            mbarrier.wait(bars.index(cur), (i // STAGES) & 1)
            chunk = _code_chunks(c_smem.index(cur), cw_layout, ch_layout, ROWS, BLOCK_K)
            a = _onehot_i8(chunk, a_layout, ROWS, BLOCK_K)
            b_hi = xh_smem.index(cur).permute((1, 0)).load(b_layout)
            if MERGED:  # the high digit's one-hot holds MERGED_SCALE
                acc_hi = mma_v2(_onehot_i8(chunk, a_layout, ROWS, BLOCK_K, True), b_hi, acc_hi)
            else:
                acc_hi = mma_v2(a, b_hi, acc_hi)
            if not ONE_DIGIT:
                b_lo = xl_smem.index(cur).permute((1, 0)).load(b_layout)
                if BASE_CORR:  # the low digit through the base's levels
                    a_base = _base_weights_i8(chunk, tw0, tw1, tw2, tw3, a_layout, ROWS, BLOCK_K)
                    corr = mma_v2(a_base, b_lo, corr)
                elif MERGED:
                    acc_hi = mma_v2(a, b_lo, acc_hi)
                else:
                    acc_lo = mma_v2(a, b_lo, acc_lo)
            # refill the buffers of block kb - 1 (read by every warp) with block kb + STAGES - 1
            nxt = kb + STAGES - 1
            r = (i + STAGES - 1) % STAGES
            _barrier()
            fence_async_shared()  # the generic reads ordered before the TMA's writes (async proxy)
            mbarrier.expect(bars.index(r), BYTES, pred=nxt < KB)
            _tma_load(c_desc, [row0, nxt * (BLOCK_K // 8)], bars.index(r), c_smem.index(r), pred=nxt < KB)
            _tma_load(xh_desc, [m_start, nxt * BLOCK_K], bars.index(r), xh_smem.index(r), pred=nxt < KB)
            _tma_load(xl_desc, [m_start, nxt * BLOCK_K], bars.index(r), xl_smem.index(r), pred=nxt < KB)

        if ONE_DIGIT or BASE_CORR:
            sums = acc_hi.to(gl.float32)
        elif MERGED:
            sums = acc_hi.to(gl.float32) * INV_MERGED
        else:
            sums = acc_hi.to(gl.float32) + acc_lo.to(gl.float32) * INV_BASE
        part = gl.zeros([ROWS, BLOCK_M], gl.float32, gl.SliceLayout(2, f_layout))
        part = _fold_wide(sums, part, lut_ptr, lut_tok, lut_row, tok_ok, kb0 * BLOCK_K // GS, f_layout, L, ROWS,
                          BLOCK_M)  # fmt: skip
        if BASE_CORR:
            W: gl.constexpr = ROWS // 8
            c4 = gl.permute(gl.reshape(corr.to(gl.float32), [W, 2, 8, BLOCK_M]), (0, 2, 3, 1))  # [w, g, t, h]
            real, _ = gl.split(c4)
            real = gl.convert_layout(gl.reshape(real, [ROWS, BLOCK_M]), gl.SliceLayout(2, f_layout))
            frow = gl.minimum(row0 + arow, N - 1) * stride_bn + kb0 * BLOCK_K // GS
            scale = gl.expand_dims(gl.load(bs_ptr + frow), 1)
            low = gl.expand_dims(gl.load(bl_ptr + frow), 1)
            lo_sum = (gl.load(sums_ptr + toks * stride_s + KB * (BLOCK_K // 32), mask=tok_ok, other=0)
                      - gl.load(sums_ptr + toks * stride_s + kb0 * (BLOCK_K // 32), mask=tok_ok, other=0))
            part += (real * scale + low * gl.expand_dims(lo_sum.to(gl.float32), 0)) * INV_BASE
        part = part * gl.expand_dims(step, 0)

        _store_tile(part, y_ptr, ws_ptr, counter_ptr, m_start, row0, M, N, stride_ym, tile, n_tiles, split_id,
                    n_splits, ROWS, BLOCK_M, USE_SPLIT)  # fmt: skip


INT8_MIN_M, INT8_MAX_M = 9, 16  # the op's int8 rows: its 16-token tile (8 and fewer: the WIDE form's 8-token tile)


MIN_STEPS = 8  # BLOCK_K steps a K range should take (int8_base_corr_config)


def int8_base_corr_config(n: int, k: int, gpr: int) -> dict | None:
    """The BASE_CORR config the op launches at 9-16 tokens (none where no BLOCK_K tiles the LUT groups): 2 warps,
    the smallest SPLIT_K whose K ranges each lie in one LUT group, and the largest BLOCK_K (256, 128 or 64: 64 the
    smallest run on a GPU) that tiles the groups and still gives each K range MIN_STEPS steps of the pipeline, else
    the smallest that tiles them. Measured on every Llama-2-7B shape on the H200 (benchmarks/NOTES.md, forty-third
    and forty-fourth sessions): at gpr 1 BLOCK_K 256, 3 stages, split 2 was the fastest config; at gpr 4 (split 4:
    K ranges of 1,024 columns) BLOCK_K 128 was the fastest or within 1.3 % of it (256's four steps a range 14 % slower
    on 4096 x 4096), and on the down projection's groups of 2,752 columns BLOCK_K 64 with 3 stages beat 4 and 6
    stages by 3 %. PDL: 1 launches the digits kernel and this one with PDL inside a pdl_scope (the served decode
    step): 7.14 -> 7.05 ms a 16 x 16 step at gpr 1, 8.26 -> 8.20 at gpr 4 (forty-fourth session)."""
    if k % gpr:
        return None
    for split in (2, 4, 8, 16):
        fits = [bk for bk in (256, 128, 64) if (k // gpr) % bk == 0
                and one_fold(k // bk, k // gpr // bk, triton.cdiv(k // bk, split))]  # fmt: skip
        if fits:
            bk = next((bk for bk in fits if k // bk // split >= MIN_STEPS), fits[-1])
            return {"num_warps": 2, "BLOCK_K": bk, "num_stages": 3, "SPLIT_K": split, "BASE_CORR": 1, "PDL": 1}
    return None


def launch_bucket_int8(x: torch.Tensor, codes_packed: torch.Tensor, lut_pool: torch.Tensor,
                       slot_of_token: torch.Tensor, y: torch.Tensor, config: dict,
                       digits: tuple[torch.Tensor, ...] | None = None,
                       base: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None) -> None:  # fmt: skip
    """y [M, N] <- the int8 bucket kernel (4-bit codes). config: num_warps (ROWS = 8 num_warps weight rows a
    program), BLOCK_K (a multiple of 32 dividing K and the group size), num_stages, SPLIT_K. Each program's K range
    must lie in one LUT group (one_fold); MERGED (0/1): one accumulator (the digits' base MERGED_SCALE); BASE_CORR
    (0/1): one digit through the task LUTs, the remainder through base (base_tables of the base LUT); PDL (0/1):
    the digits kernel and this one launched with PDL where triton_common.pdl_enabled (int8_base_corr_config). digits:
    int8_digits(x, base, sums=BASE_CORR) made ahead with the config's base (else computed here)."""
    m, k = x.shape
    n = codes_packed.shape[0]
    gs = triton.cdiv(k, lut_pool.shape[2])
    warps, bk = config.get("num_warps", 2), config["BLOCK_K"]
    stages, rows = config.get("num_stages", 3), 8 * config.get("num_warps", 2)
    if not bucket_wgmma_ok(x, codes_packed, lut_pool, 4, bk) or bk % 32 or slot_of_token.shape[0] != m:
        raise ValueError(f"the int8 bucket kernel takes sm_90, 4-bit codes, one slot per token, and K and group size "
                         f"{gs} multiples of BLOCK_K={bk} (itself a multiple of 32)")  # fmt: skip
    layouts = bucket_int8_layouts(warps, bk)
    merged, base_corr = bool(config.get("MERGED", 0)), bool(config.get("BASE_CORR", 0))
    if base_corr and base is None:
        raise ValueError("BASE_CORR needs the base LUT's tables (base_tables)")
    pdl = bool(config.get("PDL", 0))
    if digits is None:
        digits = int8_digits(x, MERGED_SCALE if merged else TWO_DIGIT_BASE, sums=base_corr, pdl=pdl)
    hi, lo, step = digits[:3]
    lo_sums = digits[3] if base_corr else step
    words, scale, low = base if base_corr else (step, step, step)
    xh_desc = TensorDescriptor.from_tensor(hi, [16, bk], layouts["x_smem_layout"])
    xl_desc = TensorDescriptor.from_tensor(lo, [16, bk], layouts["x_smem_layout"])
    c_desc = TensorDescriptor.from_tensor(codes_packed.view(torch.int32), [rows, bk // 8], layouts["c_smem_layout"])
    programs = triton.cdiv(m, 16) * triton.cdiv(n, rows)
    per_split, split, ws, counters = split_k_tiles(y, k // bk, int(config.get("SPLIT_K", 1)), programs, rows * 16)
    if not one_fold(k // bk, gs // bk, per_split):
        raise ValueError("the int8 bucket kernel folds once a program: each K range must lie in one LUT group")
    _bucket_int8_kernel[(programs, split)](
        xh_desc, xl_desc, c_desc, step, lut_pool, slot_of_token, y, ws, counters, words, scale, low, lo_sums,
        m, n, k, gs, lut_pool.stride(0), lut_pool.stride(1), y.stride(0), per_split,
        scale.stride(0) if base_corr else 0, lo_sums.stride(0),
        ROWS=rows, BLOCK_K=bk, STAGES=stages, **{k_: layouts[k_] for k_ in KERNEL_LAYOUTS_I8}, USE_SPLIT=split > 1,
        MERGED=merged, ONE_DIGIT=bool(config.get("ONE_DIGIT", 0)), BASE_CORR=base_corr, num_warps=warps,
        **(pdl_args(x.device) if pdl else {}),
    )  # fmt: skip
