"""The GPU's mma.sync rate (HMMA.16816.F32, fp16 in, fp32 accumulate) in the WIDE bucket kernel's own operand layouts.

    python3 benchmarks/mma_rate.py [--iters 256] [--wgmma] [--sparse] [--f16acc] [--int8]

--f16acc also times fp16 accumulators (HMMA.16816.F16: 45 registers against 74 for sm_90, the same 256 HMMA a loop).
--int8 times int8 mma.sync (m16n8k32, s8 x s8 -> s32) in the same asm harness as --sparse's dense m16n8k16: a
one-hot of int8 bytes takes one prmt per 4 elements, and x as two int8 digits would make its product exact to ~15
bits, so its rate against fp16's says whether that form could pay.

The 16-task analysis in benchmarks/NOTES.md leans on ~6 scheduler cycles an HMMA (from Nsight's tensor-pipe share
and a difference of two grid timings). This pins it: each program of 2 warps repeats the WIDE kernel's block MMA (A
[16 code values x 16 rows, BLOCK_K] from registers, B [BLOCK_K, 16 tokens] from registers, 64 fp32 accumulators a
thread, 16 independent chains a warp) with constant operands, one program per warp pair an SM's registers allow, and
reports HMMAs per microsecond per SM and the 4096x4096 16 x 16 call's 2.1 M HMMAs at that rate. sm_90 SASS (Triton
3.6, compiled here): 74 registers, the loop 256 HMMA a warp and 10 other instructions.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
import triton
import triton.language as tl

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from kernels.triton_bucket_wgmma import HAVE_GLUON, bucket_wgmma_layouts  # noqa: E402

ROWS, BLOCK_M, BLOCK_K, WARPS, L = 16, 16, 256, 2, 16
HMMA_PER_CALL_4096 = 4096 * 16 // 16 * (16 // 8) * (4096 // 16)  # m16 tiles x n8 tiles x k16 steps: 2.1 M

# --sparse: one m16n8k16 (dense) or m16n8k32 2:4-sparse A (mma.sp, both metadata variants) per asm, fp16 in, fp32
# accumulate; a thread's CHAINS accumulators of 4 are independent chains. Metadata 0x44444444: indices (0, 1) in
# every group of 4 (what an all-ones compressed A means does not matter for the rate).
ASM_MMA = {
    "dense m16n8k16": ("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {$0, $1, $2, $3}, {$8, $9, $10, $11}, "
                       "{$12, $13}, {$4, $5, $6, $7};", 1),
    "sparse m16n8k32 (.sp)": ("mma.sp.sync.aligned.m16n8k32.row.col.f32.f16.f16.f32 {$0, $1, $2, $3}, "
                              "{$8, $9, $10, $11}, {$12, $13, $14, $15}, {$4, $5, $6, $7}, $16, 0x0;", 2),
    "sparse m16n8k32 (.sp::ordered_metadata)": (
        "mma.sp::ordered_metadata.sync.aligned.m16n8k32.row.col.f32.f16.f16.f32 {$0, $1, $2, $3}, "
        "{$8, $9, $10, $11}, {$12, $13, $14, $15}, {$4, $5, $6, $7}, $16, 0x0;", 2),
}
ASM_MMA_CONSTR = ",".join(["=f"] * 4 + ["f"] * 4 + ["r"] * 12)
ASM_MMA_CONSTR_C = tl.constexpr(ASM_MMA_CONSTR)
# --int8: int32 accumulators; one call is two m16n8k16's worth of multiply-adds (k 32).
ASM_IMMA = ("mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {$0, $1, $2, $3}, {$8, $9, $10, $11}, {$12, $13}, "
            "{$4, $5, $6, $7};", 2)
ASM_IMMA_CONSTR_C = tl.constexpr(",".join(["=r"] * 4 + ["r"] * 4 + ["r"] * 12))
ASM_CHAINS, ASM_WARPS = 16, 2


@triton.jit
def _asm_mma_rate_kernel(out_ptr, ITERS, ASM: tl.constexpr, N: tl.constexpr):
    """ITERS rounds of N / 4 independent asm MMAs a thread (constant operands); the sum stored so nothing is dead."""
    offs = tl.arange(0, N)
    acc = tl.zeros([N], tl.float32)
    ones = (offs * 0 + 0x3C003C00).to(tl.int32)  # two fp16 1.0
    meta = (offs * 0 + 0x44444444).to(tl.int32)
    for _ in range(ITERS):
        acc = tl.inline_asm_elementwise(ASM, ASM_MMA_CONSTR_C, [acc, ones, ones, meta], dtype=tl.float32,
                                        is_pure=True, pack=4)  # fmt: skip
    tl.store(out_ptr + tl.program_id(0), tl.sum(acc, axis=0))


@triton.jit
def _asm_imma_rate_kernel(out_ptr, ITERS, ASM: tl.constexpr, N: tl.constexpr):
    """_asm_mma_rate_kernel with int8 operands (every byte 1) and int32 accumulators."""
    offs = tl.arange(0, N)
    acc = tl.zeros([N], tl.int32)
    ones = (offs * 0 + 0x01010101).to(tl.int32)
    for _ in range(ITERS):
        acc = tl.inline_asm_elementwise(ASM, ASM_IMMA_CONSTR_C, [acc, ones, ones, ones], dtype=tl.int32,
                                        is_pure=True, pack=4)  # fmt: skip
    tl.store(out_ptr + tl.program_id(0), tl.sum(acc, axis=0).to(tl.float32))

if HAVE_GLUON:
    from triton.experimental.gluon.language.nvidia.ampere import mma_v2

    from kernels.triton_prefill_wgmma import fence_async_shared, gl, gluon, warpgroup_mma, warpgroup_mma_wait

    @gluon.jit
    def _mma_rate_kernel(out_ptr, ITERS, a_layout: gl.constexpr, b_layout: gl.constexpr, acc_layout: gl.constexpr,
                         AR: gl.constexpr, BM: gl.constexpr, BK: gl.constexpr,
                         ACC_DTYPE: gl.constexpr = gl.float32):  # fmt: skip
        """ITERS block MMAs of constant operands into one accumulator (fp32, or fp16: HMMA.16816.F16, half the
        accumulator registers); its sum stored so nothing is dead."""
        a = gl.full([AR, BK], 1.0, gl.float16, a_layout)
        b = gl.full([BK, BM], 1.0, gl.float16, b_layout)
        acc = gl.zeros([AR, BM], ACC_DTYPE, acc_layout)
        for _ in range(ITERS):
            acc = mma_v2(a, b, acc)
        gl.store(out_ptr + gl.program_id(0), gl.sum(gl.sum(acc.to(gl.float32), axis=1), axis=0))

    @gluon.jit
    def _wgmma_rate_kernel(out_ptr, ITERS, a_layout: gl.constexpr, acc_layout: gl.constexpr,
                           x_layout: gl.constexpr, fill_layout: gl.constexpr, AR: gl.constexpr, BM: gl.constexpr,
                           a_smem_layout: gl.constexpr, BK: gl.constexpr, WAIT_EACH: gl.constexpr,
                           A_SMEM: gl.constexpr):  # fmt: skip
        """ITERS block wgmmas (A [AR, BK] constant in registers, B = a constant [BM, BK] tile in shared memory) into
        one accumulator, one left in flight; WAIT_EACH waits for each before the next is issued, as a kernel that
        rebuilds A in the same registers must. A_SMEM: A a constant tile in shared memory too (the pipe's own rate)."""
        if A_SMEM:
            a = gl.allocate_shared_memory(gl.float16, [AR, BK], a_smem_layout,
                                          gl.full([AR, BK], 1.0, gl.float16, fill_layout))  # fmt: skip
        else:
            a = gl.full([AR, BK], 1.0, gl.float16, a_layout)
        x_smem = gl.allocate_shared_memory(gl.float16, [BM, BK], x_layout,
                                           gl.full([BM, BK], 1.0, gl.float16, fill_layout))  # fmt: skip
        fence_async_shared()
        acc = gl.zeros([AR, BM], gl.float32, acc_layout)
        for _ in range(ITERS):
            acc = warpgroup_mma(a, x_smem.permute((1, 0)), acc, is_async=True)
            acc = warpgroup_mma_wait(num_outstanding=0 if WAIT_EACH else 1, deps=[acc])
        acc = warpgroup_mma_wait(num_outstanding=0, deps=[acc])
        gl.store(out_ptr + gl.program_id(0), gl.sum(gl.sum(acc, axis=1), axis=0))


def hmma_per_block() -> int:
    """HMMA.16816 instructions of one block MMA of one program: m16 tiles x n8 tiles x k16 steps."""
    return (L * ROWS // 16) * (BLOCK_M // 8) * (BLOCK_K // 16)


def constexprs(acc_f16: bool = False) -> dict:
    """The kernel's constexprs: the WIDE kernel's (mma.sync, 4-bit) operand layouts and block shape; acc_f16: fp16
    accumulators."""
    lay = bucket_wgmma_layouts(WARPS, ROWS, BLOCK_M, BLOCK_K, True, True, 4)
    return {"a_layout": lay["a_layout"], "b_layout": lay["b_layout"], "acc_layout": lay["acc_layout"],
            "AR": L * ROWS, "BM": BLOCK_M, "BK": BLOCK_K,
            "ACC_DTYPE": gl.float16 if acc_f16 else gl.float32}  # fmt: skip


WG_ROWS, WG_BLOCK_K, WG_WARPS = 32, 32, 4  # the WIDE wgmma form's one warpgroup: 8 weight rows a warp


def wgmma_constexprs(wait_each: bool, a_smem: bool = False) -> dict:
    """The wgmma kernel's: the WIDE form's wgmma (m64 n16 k16) layouts, 32 weight rows x 16 code values, BK 32."""
    lay = bucket_wgmma_layouts(WG_WARPS, WG_ROWS, BLOCK_M, WG_BLOCK_K, False, True, 4)
    fill = gl.BlockedLayout([1, 8], [4, 8], [WG_WARPS, 1], [1, 0])
    return {"a_layout": lay["a_layout"], "acc_layout": lay["acc_layout"], "x_layout": lay["x_smem_layout"],
            "fill_layout": fill, "AR": L * WG_ROWS, "BM": BLOCK_M, "BK": WG_BLOCK_K, "WAIT_EACH": wait_each,
            "a_smem_layout": lay["x_smem_layout"], "A_SMEM": a_smem}


def hmma_per_wgmma_block() -> int:
    """m16n8k16 equivalents of one block wgmma of one program."""
    return (L * WG_ROWS // 16) * (BLOCK_M // 8) * (WG_BLOCK_K // 16)


def compile_sm90(acc_f16: bool = False) -> tuple[int, int, dict]:
    """(registers, stack bytes, the loop's opcode counts) of the kernel compiled for sm_90 without a GPU."""
    from bench_kernels import _inner_loop_mix, sm90_compile

    regs, stack, _, sass = sm90_compile(_mma_rate_kernel, ["ITERS"], [], constexprs(acc_f16), WARPS, 1,
                                        extra_sig={"out_ptr": "*fp32"})  # fmt: skip
    return int(regs), int(stack), _inner_loop_mix(sass, top=None)[1]


def per_sm_rate(kernel, const: dict, warps: int, programs_per_sm: int, iters: int, per_block: int) -> tuple:
    """(us, m16n8k16 MMAs a microsecond an SM) of `programs_per_sm` programs an SM of kernel, each `iters` block
    MMAs of per_block m16n8k16 equivalents (CUDA-graph replays)."""
    from bench_kernels import graph_us

    sms = torch.cuda.get_device_properties(0).multi_processor_count
    grid = sms * programs_per_sm
    out = torch.empty(grid, dtype=torch.float32, device="cuda")

    def launch():
        kernel[(grid,)](out, iters, **const, num_warps=warps)

    launch()
    us = graph_us(launch, reps=3)
    return us, grid * iters * per_block / sms / us


def call_us(per_sm: float) -> float:
    """The 4096x4096 16 x 16 call's MMAs at per_sm m16n8k16 a microsecond an SM."""
    return HMMA_PER_CALL_4096 / torch.cuda.get_device_properties(0).multi_processor_count / per_sm


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iters", type=int, default=256)
    parser.add_argument("--wgmma", action="store_true", help="also wgmma's rate (m64n16k16, A in registers)")
    parser.add_argument("--sparse", action="store_true", help="dense mma.sync against mma.sp (2:4 A), same harness")
    parser.add_argument("--f16acc", action="store_true", help="also fp16 accumulators (HMMA.16816.F16)")
    parser.add_argument("--int8", action="store_true", help="dense fp16 mma.sync against int8 (m16n8k32), same harness")
    args = parser.parse_args()
    asm_cases = []  # (name, kernel, asm, m16n8k16 equivalents a call) of the asm harness
    if args.int8:
        asm_cases += [("fp16 m16n8k16", _asm_mma_rate_kernel, *ASM_MMA["dense m16n8k16"]),
                      ("int8 m16n8k32", _asm_imma_rate_kernel, *ASM_IMMA)]  # fmt: skip
    if args.sparse:
        asm_cases += [(name, _asm_mma_rate_kernel, asm, per_call) for name, (asm, per_call) in ASM_MMA.items()]
    n = 4 * ASM_CHAINS * 32 * ASM_WARPS
    for name, kernel, asm, per_call in asm_cases:
        for programs_per_sm in (4, 8):
            us, per_sm = per_sm_rate(kernel, {"ASM": asm, "N": n}, ASM_WARPS, programs_per_sm, args.iters,
                                     per_call * ASM_CHAINS * ASM_WARPS)  # fmt: skip
            print(f"asm {name}: {programs_per_sm} programs an SM ({programs_per_sm * ASM_WARPS} warps): "
                  f"{us:.1f} us, {per_sm:.0f} m16n8k16 equivalents/us per SM; a 4096x4096 16 x 16 call at this "
                  f"rate: {call_us(per_sm):.1f} us", flush=True)  # fmt: skip
    if args.wgmma:
        for wait_each, a_smem in ((False, True), (False, False), (True, False)):
            for programs_per_sm in (1, 2, 3, 4):
                us, per_sm = per_sm_rate(_wgmma_rate_kernel, wgmma_constexprs(wait_each, a_smem), WG_WARPS,
                                         programs_per_sm, args.iters, hmma_per_wgmma_block())  # fmt: skip
                where = "shared memory" if a_smem else "registers"
                print(f"wgmma, A in {where}{', each waited' if wait_each else ''}: "
                      f"{programs_per_sm} warpgroups an SM: {us:.1f} us, "
                      f"{per_sm:.0f} m16n8k16 equivalents/us per SM; a 4096x4096 16 x 16 call at this rate: "
                      f"{call_us(per_sm):.1f} us", flush=True)  # fmt: skip
    cases = [(False, 4), (False, 8)] + ([(True, 4), (True, 8), (True, 12)] if args.f16acc else [])
    for acc_f16, programs_per_sm in cases:
        us, per_sm = per_sm_rate(_mma_rate_kernel, constexprs(acc_f16), WARPS, programs_per_sm, args.iters,
                                 hmma_per_block())  # fmt: skip
        print(f"{'fp16' if acc_f16 else 'fp32'} accumulators, "
              f"{programs_per_sm} programs an SM ({programs_per_sm * WARPS} warps): {us:.1f} us, "
              f"{per_sm:.0f} HMMA/us per SM; a 4096x4096 16 x 16 call's {HMMA_PER_CALL_4096 / 1e6:.1f} M HMMAs at "
              f"this rate: {call_us(per_sm):.1f} us", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
