"""The GPU's mma.sync rate (HMMA.16816.F32, fp16 in, fp32 accumulate) in the WIDE bucket kernel's own operand layouts.

    python3 benchmarks/mma_rate.py [--iters 256]

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

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from kernels.triton_bucket_wgmma import HAVE_GLUON, bucket_wgmma_layouts  # noqa: E402

ROWS, BLOCK_M, BLOCK_K, WARPS, L = 16, 16, 256, 2, 16
HMMA_PER_CALL_4096 = 4096 * 16 // 16 * (16 // 8) * (4096 // 16)  # m16 tiles x n8 tiles x k16 steps: 2.1 M

if HAVE_GLUON:
    from triton.experimental.gluon.language.nvidia.ampere import mma_v2

    from kernels.triton_prefill_wgmma import gl, gluon

    @gluon.jit
    def _mma_rate_kernel(out_ptr, ITERS, a_layout: gl.constexpr, b_layout: gl.constexpr, acc_layout: gl.constexpr,
                         AR: gl.constexpr, BM: gl.constexpr, BK: gl.constexpr):  # fmt: skip
        """ITERS block MMAs of constant operands into one accumulator; its sum stored so nothing is dead."""
        a = gl.full([AR, BK], 1.0, gl.float16, a_layout)
        b = gl.full([BK, BM], 1.0, gl.float16, b_layout)
        acc = gl.zeros([AR, BM], gl.float32, acc_layout)
        for _ in range(ITERS):
            acc = mma_v2(a, b, acc)
        gl.store(out_ptr + gl.program_id(0), gl.sum(gl.sum(acc, axis=1), axis=0))


def hmma_per_block() -> int:
    """HMMA.16816 instructions of one block MMA of one program: m16 tiles x n8 tiles x k16 steps."""
    return (L * ROWS // 16) * (BLOCK_M // 8) * (BLOCK_K // 16)


def constexprs() -> dict:
    """The kernel's constexprs: the WIDE kernel's (mma.sync, 4-bit) operand layouts and block shape."""
    lay = bucket_wgmma_layouts(WARPS, ROWS, BLOCK_M, BLOCK_K, True, True, 4)
    return {"a_layout": lay["a_layout"], "b_layout": lay["b_layout"], "acc_layout": lay["acc_layout"],
            "AR": L * ROWS, "BM": BLOCK_M, "BK": BLOCK_K}  # fmt: skip


def compile_sm90() -> tuple[int, int, dict]:
    """(registers, stack bytes, the loop's opcode counts) of the kernel compiled for sm_90 without a GPU."""
    from bench_kernels import _inner_loop_mix, sm90_compile

    regs, stack, _, sass = sm90_compile(_mma_rate_kernel, ["ITERS"], [], constexprs(), WARPS, 1,
                                        extra_sig={"out_ptr": "*fp32"})  # fmt: skip
    return int(regs), int(stack), _inner_loop_mix(sass, top=None)[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iters", type=int, default=256)
    args = parser.parse_args()
    from bench_kernels import graph_us

    const = constexprs()
    sms = torch.cuda.get_device_properties(0).multi_processor_count
    for programs_per_sm in (4, 8):
        grid = sms * programs_per_sm
        out = torch.empty(grid, dtype=torch.float32, device="cuda")

        def launch(g=grid, o=out):
            _mma_rate_kernel[(g,)](o, args.iters, **const, num_warps=WARPS)

        launch()
        us = graph_us(launch, reps=3)
        hmma = grid * args.iters * hmma_per_block()
        per_sm_us = hmma / sms / us
        print(f"{programs_per_sm} programs an SM ({programs_per_sm * WARPS} warps): {us:.1f} us, "
              f"{per_sm_us:.0f} HMMA/us per SM; a 4096x4096 16 x 16 call's {HMMA_PER_CALL_4096 / 1e6:.1f} M HMMAs at "
              f"this rate: {HMMA_PER_CALL_4096 / sms / per_sm_us:.1f} us", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
