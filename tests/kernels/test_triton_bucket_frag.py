"""The fragment bucket kernel (kernels/triton_bucket_frag.py): the one-hots of each lane's code words are its
mma.sync A operand, S[v][token] its accumulators, folded with each token's own LUT.

On the CPU: the one-hot asm by the emulator, the kernel through the interpreter against the torch reference (any
mix of slots), and the compiled kernel's asm operands laid out one element per thread. On CUDA (next device
session) the asm against the reference."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kernels.prmt_lut import emulate, onehot_program
from kernels.reference import lut_linear_reference
from kernels.triton_bucket_frag import launch_bucket_frag
from kernels.triton_decode_mma import mma_ok

from .compiled_layouts import assert_asm_in_lane_order
from .test_triton_forward import DEVICE, TOL, make_case, rel_err


def test_the_onehot_asm_marks_each_code_equal_to_the_lanes_values():
    rng = np.random.default_rng(1)
    program = onehot_program()
    two = 0x4000  # 2.0 in fp16 and in bf16
    for _ in range(200):
        g = int(rng.integers(0, 8))
        codes = rng.integers(0, 16, 8)
        word = sum(int(c) << (4 * i) for i, c in enumerate(codes))
        tables = {"$9": (0x40 << (8 * g)) if g < 4 else 0, "$10": (0x40 << (8 * (g - 4))) if g >= 4 else 0}
        regs = emulate(program, {"$8": word} | tables)
        for j in range(4):
            for value, reg in ((g, f"${j}"), (g + 8, f"${4 + j}")):
                expected = (two if codes[2 * j] == value else 0) | (two if codes[2 * j + 1] == value else 0) << 16
                assert regs[reg] == expected


@pytest.mark.parametrize(
    "m,bits,n,k,gpr,slots,assign,wpl,warps,rows,split",
    [
        (1, 4, 8, 128, 1, 1, "one", 2, 2, 1, 1),  # one token
        (6, 4, 13, 256, 2, 4, "random", 2, 4, 1, 2),  # rows past N, split-K across the group boundary
        (8, 3, 9, 256, 2, 3, "random", 4, 2, 1, 1),  # 3-bit codes (8-entry LUTs), 128-column chunks
        (16, 4, 12, 384, 3, 16, "distinct", 2, 4, 1, 3),  # 16 tokens of 16 tasks, two tiles
        (11, 4, 10, 128, 1, 2, "random", 2, 1, 1, 1),  # one warp a program
        (16, 4, 13, 256, 2, 16, "distinct", 2, 2, 4, 2),  # 4 rows a warp sharing x, the last program's partly past N
        (5, 3, 7, 256, 1, 3, "random", 4, 1, 2, 1),  # 2 rows a warp, 3-bit
    ],
)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_the_fragment_bucket_kernel_matches_the_reference(m, bits, n, k, gpr, slots, assign, wpl, warps, rows, split,
                                                           dtype):  # fmt: skip
    x, codes, pool, slot_of_token = make_case(m, n, k, bits, gpr, slots, assign, dtype, seed=m + n + k)
    assert mma_ok(x, codes, pool, bits, wpl)
    y = torch.full((m, n), float("nan"), dtype=dtype, device=DEVICE)
    config = {"num_warps": warps, "WPL": wpl, "ROWS": rows, "SPLIT_K": split}
    launch_bucket_frag(x, codes, pool, slot_of_token, bits, y, config)
    assert rel_err(y, lut_linear_reference(x, codes, pool, slot_of_token, bits)) < TOL[dtype]


def test_the_fragment_bucket_kernel_refuses_what_it_cannot_tile():
    x, codes, pool, slots = make_case(4, 16, 192, 4, 2, 2, "random", torch.float16)  # groups of 96 columns
    assert not mma_ok(x, codes, pool, 4, 2)
    y = torch.empty(4, 16, dtype=torch.float16, device=DEVICE)
    with pytest.raises(ValueError, match="tiling K and the groups"):
        launch_bucket_frag(x, codes, pool, slots, 4, y, {"WPL": 2})
    with pytest.raises(ValueError, match="ROWS 1, 2 or 4"):
        launch_bucket_frag(x, codes, pool, slots, 4, y, {"WPL": 2, "ROWS": 3})


def test_every_asm_operand_is_one_element_per_thread_in_lane_order():
    """mma.sync reads its fragments from fixed lanes: every asm op of the compiled kernel (sm_90, no GPU needed)
    works on 1-D tensors, one element per thread, element e in thread e."""
    for rows, x16 in ((1, False), (4, True)):  # x16: two k-steps' B quads from one 16-byte load
        const = {"BITS": 4, "WARPS": 4, "WPL": 2, "TILES": 2, "USE_SPLIT": True, "ASM": True, "BF16": False,
                 "X16": x16, "ROWS": rows}  # fmt: skip
        assert_asm_in_lane_order("kernels.triton_bucket_frag", "_bucket_frag_kernel", const, warps=4,
                                 mma_count=8 * rows)  # fmt: skip


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("m,tasks", [(1, 1), (4, 4), (16, 16), (12, 5)])
@pytest.mark.parametrize("warps,wpl,rows", [(4, 2, 1), (8, 4, 1), (2, 2, 2), (4, 2, 4), (8, 4, 4)])
def test_the_fragment_bucket_kernel_on_cuda(m, tasks, warps, wpl, rows):
    x, codes, pool, slots = make_case(m, 300, 2048, 4, 4, max(tasks, 2), "random", torch.float16, seed=m + warps)
    y = torch.full((m, 300), float("nan"), dtype=x.dtype, device=DEVICE)
    launch_bucket_frag(x, codes, pool, slots, 4, y, {"num_warps": warps, "WPL": wpl, "ROWS": rows, "SPLIT_K": 4})
    assert rel_err(y, lut_linear_reference(x, codes, pool, slots, 4)) < TOL[torch.float16]
