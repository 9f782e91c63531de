"""benchmarks/mma_sp_layout.py and mma_rate.py --sparse (2:4-sparse mma.sync, measured on the H200 in the thirty-fifth
session): the fragments the layout probe packs decode back to its A and B under the layout the device matched, and
both asm harnesses compile to the sparse instruction for sm_90 (ptxas ships with Triton); mma_rate.py --int8's
harness compiles to the int8 MMA."""

import sys
from pathlib import Path

import torch

from tests.kernels.compiled_layouts import sm90_results

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import mma_sp_layout  # noqa: E402


def halves(reg: int) -> tuple[float, float]:
    pair = torch.tensor([reg & 0xFFFFFFFF], dtype=torch.int64).to(torch.int32).view(torch.float16)
    return float(pair[0]), float(pair[1])


def test_the_matched_layout_packs_a_b_and_the_metadata_so_that_they_decode_back():
    """half_per_lane: lane 4g + i holds groups 4i..4i+3 of row g (bits 0-15) and of row g + 8 (bits 16-31); the A
    registers hold compressed columns 2t, 2t + 1 (+ 8) of rows g and g + 8; B rows 2t + 8i (+ 1) of column g."""
    dense, vals, idx = mma_sp_layout.random_sparse(torch.Generator().manual_seed(3))
    b = torch.randn(32, 8, generator=torch.Generator().manual_seed(4)).half()
    a_regs, b_regs, e_regs = mma_sp_layout.fragments(vals, idx, b, "half_per_lane")
    a_back = torch.zeros(16, 32)
    b_back = torch.zeros(32, 8)
    for lane in range(32):
        g, t = lane // 4, lane % 4
        for i, (row, col) in enumerate(((g, 2 * t), (g + 8, 2 * t), (g, 2 * t + 8), (g + 8, 2 * t + 8))):
            for j, value in enumerate(halves(int(a_regs[lane, i]))):
                c = col + j  # compressed column c: group c // 2; its index from the metadata
                meta = int(e_regs[4 * g + (c // 2) // 4, 0]) & 0xFFFFFFFF
                nibble = meta >> (16 * (row >= 8) + 4 * ((c // 2) % 4)) & 0xF
                a_back[row, 4 * (c // 2) + (nibble >> 2 * (c % 2) & 3)] = value
        for i in range(4):
            b_back[2 * t + 8 * i, g], b_back[2 * t + 8 * i + 1, g] = halves(int(b_regs[lane, i]))
    assert torch.equal(a_back, dense.float()) and torch.equal(b_back, b.float())


def test_the_sparse_harnesses_compile_to_the_sparse_mma_for_sm90():
    script = (
        "import json, os, re, sys; os.environ.pop('TRITON_INTERPRET', None); sys.path.insert(0, 'benchmarks'); "
        "import mma_rate, mma_sp_layout; from bench_kernels import sm90_compile; out = []\n"
        "n = 4 * mma_rate.ASM_CHAINS * 32 * mma_rate.ASM_WARPS\n"
        "for name, (asm, _) in mma_rate.ASM_MMA.items():\n"
        "    sass = sm90_compile(mma_rate._asm_mma_rate_kernel, ['ITERS'], [], {'ASM': asm, 'N': n},"
        " mma_rate.ASM_WARPS, 1, extra_sig={'out_ptr': '*fp32'})[3]\n"
        "    out.append([name, len(re.findall(r'HMMA\\.SP\\.16832', sass)), len(re.findall(r'HMMA\\.16816', sass))])\n"
        "for name, asm in mma_sp_layout.SP_ASM.items():\n"
        "    sass = sm90_compile(mma_sp_layout._mma_sp_kernel, [], [], {'ASM': asm}, 1, 1,"
        " extra_sig={'d_ptr': '*fp32'})[3]\n"
        "    out.append([name, len(re.findall(r'HMMA\\.SP\\.16832', sass)), 0])\n"
        "print(json.dumps(out))"
    )
    for name, sparse, dense in sm90_results(script, None):
        if name.startswith("dense"):
            assert dense > 0 and sparse == 0, name
        else:
            assert sparse > 0 and dense == 0, name


def test_the_int8_harness_compiles_to_the_native_int8_mma_for_sm90():
    """mma_rate.py --int8 (forty-second session): m16n8k32 s8 x s8 -> s32 is IMMA.16832 on sm_90, not an fp16 MMA fed
    by conversions (as sm_90's mma.sync on e4m3 operands is), so its measured rate is the int8 path's own."""
    script = (
        "import json, os, re, sys; os.environ.pop('TRITON_INTERPRET', None); sys.path.insert(0, 'benchmarks'); "
        "import mma_rate; from bench_kernels import sm90_compile\n"
        "n = 4 * mma_rate.ASM_CHAINS * 32 * mma_rate.ASM_WARPS\n"
        "sass = sm90_compile(mma_rate._asm_imma_rate_kernel, ['ITERS'], [], {'ASM': mma_rate.ASM_IMMA[0], 'N': n},"
        " mma_rate.ASM_WARPS, 1, extra_sig={'out_ptr': '*fp32'})[3]\n"
        "print(json.dumps([len(re.findall(r'IMMA\\.16832\\.S8\\.S8', sass)), len(re.findall(r'HMMA', sass))]))"
    )
    imma, hmma = sm90_results(script, None)
    assert imma > 0 and hmma == 0
