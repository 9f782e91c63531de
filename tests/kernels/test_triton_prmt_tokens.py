"""The 2-4-token register-LUT decode kernel (kernels/triton_decode_prmt_tokens.py): one lookup per code word, the
fp16 products of every token.

Its per-token asm runs through the emulator against fp16 arithmetic; the kernel's loop (slots, groups, masks,
split-K, prefetch) runs through the interpreter on the CPU with a gather in place of the asm, and compiled on
CUDA; both against the torch reference on fresh random inputs, into a poisoned output.
"""

import numpy as np
import pytest
import torch

from kernels.prmt_lut import emulate, f32, half2_fma_program, to_ptx
from kernels.reference import lut_linear_reference
from kernels.triton_decode import MODE_PRMT, decode_candidates, launch_decode
from kernels.triton_decode_prmt_tokens import TOKENS_CANDIDATES, launch_decode_prmt_tokens, tokens_ok

from .test_triton_forward import DEVICE, make_case, rel_err

HALF2_TOL = 1.5e-3  # fp16 products and word sums: an fp16 GEMV's rounding (test_prmt_lut.py)


def test_the_per_token_asm_adds_a_words_products_rounded_as_the_one_token_kernel():
    rng = np.random.default_rng(11)
    program = half2_fma_program()
    assert "fma.rn.f16x2" in to_ptx(program) and len(program) == 10  # the last a move into $0
    for _ in range(64):
        w = rng.standard_normal(8).astype(np.float16)
        x = rng.standard_normal(8).astype(np.float16)
        acc = float(np.float32(rng.standard_normal()))
        pair = [int(v[2 * i].view(np.uint16)) | int(v[2 * i + 1].view(np.uint16)) << 16 for v in (w, x)
                for i in range(4)]  # fmt: skip
        operands = {"$1": acc} | {f"${2 + i}": p for i, p in enumerate(pair)}
        halves = []
        for j in (0, 1):  # even columns in the low halves, odd ones in the high halves
            h = np.float16(float(w[j]) * float(x[j]))
            for i in (1, 2, 3):
                h = np.float16(float(w[2 * i + j]) * float(x[2 * i + j]) + float(h))
            halves.append(h)
        want = np.float32(np.float32(acc) + np.float32(halves[0])) + np.float32(halves[1])
        assert f32(emulate(program, operands)["$0"]) == want


@pytest.mark.parametrize("m", [2, 3, 4])
@pytest.mark.parametrize("assign", ["one", "random", "distinct"])
@pytest.mark.parametrize(
    "bits,n,k,gpr,block_k,split,prefetch",
    [
        (4, 40, 256, 1, 64, 1, 1),  # one group, rows past N masked, blocks prefetched
        (4, 24, 256, 4, 32, 1, 1),  # 4 groups of 64 columns: tables per group
        (3, 24, 256, 2, 64, 2, 0),  # 3-bit codes in 4-bit slots, split-K at the group boundary
        (4, 16, 192, 2, 64, 3, 0),  # group size 96: blocks straddle the groups (masked x)
        (4, 24, 200, 2, 64, 1, 0),  # K not a multiple of the block: the last block masked
        (4, 16, 256, 2, 32, 4, 1),  # split-K with prefetch
    ],
)
def test_the_tokens_kernel_matches_the_reference(m, assign, bits, n, k, gpr, block_k, split, prefetch):
    if assign == "distinct" and m < 3:
        assign = "random"
    x, codes, pool, slots = make_case(m, n, k, bits, gpr, 5, assign, torch.float16, seed=m * 7 + n + k + gpr)
    assert tokens_ok(x, codes, pool, bits)
    ref = lut_linear_reference(x, codes, pool, slots, bits)
    y = torch.full((m, n), float("nan"), dtype=x.dtype, device=DEVICE)
    config = {"MODE": MODE_PRMT, "BLOCK_N": 16, "BLOCK_K": block_k, "SPLIT_K": split, "PREFETCH": prefetch}
    launch_decode(x, codes, pool, slots, bits, y, config)
    assert rel_err(y, ref) < HALF2_TOL


def test_a_batch_of_one_task_is_one_pass_and_a_second_task_a_second():
    """All tokens of one slot give what each token gives alone through the one-token kernel's rounding; a token of
    another slot changes only its own row."""
    x, codes, pool, _ = make_case(4, 32, 256, 4, 2, 3, "one", torch.float16, seed=21)
    config = {"BLOCK_N": 16, "BLOCK_K": 64, "PREFETCH": 1}
    one = torch.tensor([1, 1, 1, 1], dtype=torch.int32, device=DEVICE)
    y_one = torch.full((4, 32), float("nan"), dtype=x.dtype, device=DEVICE)
    launch_decode_prmt_tokens(x, codes, pool, one, 4, y_one, config)
    mixed = torch.tensor([1, 1, 2, 1], dtype=torch.int32, device=DEVICE)
    y_mixed = torch.full((4, 32), float("nan"), dtype=x.dtype, device=DEVICE)
    launch_decode_prmt_tokens(x, codes, pool, mixed, 4, y_mixed, config)
    same = [0, 1, 3]
    assert torch.equal(y_mixed[same], y_one[same])
    assert rel_err(y_mixed[2:3], lut_linear_reference(x[2:3], codes, pool, mixed[2:3], 4)) < HALF2_TOL


def test_the_kernel_reads_only_strided_rows_of_x():
    """x as a view with a row stride wider than K (a step's packed buffer) and three tokens (padded to four)."""
    big, codes, pool, slots = make_case(3, 24, 128, 4, 2, 2, "random", torch.float16, seed=5)
    wide = torch.zeros(3, 192, dtype=torch.float16, device=DEVICE)
    wide[:, :128] = big
    x = wide[:, :128]
    y = torch.full((3, 24), float("nan"), dtype=x.dtype, device=DEVICE)
    launch_decode_prmt_tokens(x, codes, pool, slots, 4, y, {"BLOCK_N": 8, "BLOCK_K": 32})
    assert rel_err(y, lut_linear_reference(big, codes, pool, slots, 4)) < HALF2_TOL


def test_the_kernel_refuses_what_it_cannot_compute():
    x, codes, pool, slots = make_case(2, 16, 96, 4, 2, 2, "one", torch.float16)  # group size 48
    y = torch.empty(2, 16, dtype=x.dtype, device=DEVICE)
    with pytest.raises(ValueError, match="divide the group size"):
        launch_decode_prmt_tokens(x, codes, pool, slots, 4, y, {"BLOCK_N": 16, "BLOCK_K": 32, "PREFETCH": 1})
    with pytest.raises(ValueError, match="multiple of 32"):
        launch_decode_prmt_tokens(x, codes, pool, slots, 4, y, {"BLOCK_N": 16, "BLOCK_K": 16})
    assert not tokens_ok(x.to(torch.bfloat16), codes, pool.to(torch.bfloat16), 4)  # bf16: no fp16 products
    x5, codes5, pool5, _ = make_case(5, 16, 96, 4, 2, 2, "one", torch.float16)
    assert not tokens_ok(x5, codes5, pool5, 4)  # five tokens: the fragment kernel's


def test_the_autotuner_is_offered_the_tokens_kernel_at_two_tokens_where_fp16_products_apply():
    """At 4 tokens it lost to the fragment kernel on every 7B shape of the H200 grid (TOKENS_OFFERED)."""

    def tokens_configs(m, half2=True):
        return [c for c in decode_candidates(m, 4096, 4096, 132, prmt=True, group_size=4096, half2=half2, mma=True)
                if c["MODE"] == MODE_PRMT]  # fmt: skip

    assert len(tokens_configs(2)) == len(TOKENS_CANDIDATES)
    assert not tokens_configs(4) and not tokens_configs(8)
    assert not tokens_configs(2, half2=False)


def test_a_cached_two_token_choice_falls_back_where_fp16_products_are_off(monkeypatch):
    """The autotuner keys choices by shape; with SKETCHSERVE_FP16_PRODUCTS=0 (or x at an odd offset) this kernel
    cannot take the call, so the op launches the default config instead of failing."""
    from kernels import autotune, triton_decode_prmt, triton_ops

    choice = {"MODE": MODE_PRMT, "BLOCK_N": 16, "BLOCK_K": 64, "PREFETCH": 1}
    monkeypatch.setattr(autotune, "pick_config", lambda *args, **kwargs: choice)
    x, codes, pool, slots = make_case(2, 16, 256, 4, 2, 2, "random", torch.float16, seed=12)
    ref = lut_linear_reference(x, codes, pool, slots, 4)
    assert rel_err(triton_ops.lut_linear_forward(x, codes, pool, slots, 4), ref) < HALF2_TOL
    monkeypatch.setattr(triton_decode_prmt, "FP16_PRODUCTS", False)
    assert rel_err(triton_ops.lut_linear_forward(x, codes, pool, slots, 4), ref) < 1e-3
