"""The fragment kernel (kernels/triton_decode_mma.py): a lane's looked-up LUT entries are its mma.sync operands.

On the CPU: a numpy model of mma.sync's fragments shows that the kernel's column permutation gives x @ W.T; the
interpreter runs the kernel's rows, tokens, groups, slots and split-K against the torch reference; the kernel
compiled for sm_90 keeps every per-lane tensor at one element per thread in lane order (what the asm relies on).
On CUDA the asm itself runs against the reference."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kernels.reference import lut_linear_reference
from kernels.triton_common import codes_rows_aligned
from kernels.triton_decode import (
    MODE_MMA,
    decode_candidates,
    default_few_task_config,
    few_task_candidates,
    launch_decode,
    split_k_fragment_configs,
)
from kernels.triton_decode_mma import launch_decode_mma, mma_ok

from .compiled_layouts import assert_asm_in_lane_order, sm90_results
from .test_triton_forward import DEVICE, TOL, make_case, rel_err


def _fragments_product(w: np.ndarray, x: np.ndarray, wpl: int) -> np.ndarray:
    """C [16, 8] of one warp over one chunk as the kernel forms it: w [16 rows, 32 * wpl], x [8 tokens, 32 * wpl].

    Each lane (g, t) builds its fragments from its own words (words wpl * t + i of rows g and g + 8, physical
    columns 8 (wpl t + i) + 0..7) and x's pairs at the same columns, as the kernel does; then each k-step is the
    PTX ISA's m16n8k16 on those fragments."""
    c = np.zeros((16, 8))
    for i in range(wpl):
        for h in range(2):
            a = np.zeros((16, 16))  # the k-step's A and B as the 32 lanes hold them
            b = np.zeros((16, 8))
            for lane in range(32):
                g, t = lane // 4, lane % 4
                p = 8 * (wpl * t + i) + 4 * h  # physical columns of the lane's pairs this k-step
                a[g, 2 * t : 2 * t + 2] = w[g, p : p + 2]  # a0 = q[2h] of row g
                a[g + 8, 2 * t : 2 * t + 2] = w[g + 8, p : p + 2]  # a1
                a[g, 2 * t + 8 : 2 * t + 10] = w[g, p + 2 : p + 4]  # a2 = q[2h + 1]
                a[g + 8, 2 * t + 8 : 2 * t + 10] = w[g + 8, p + 2 : p + 4]  # a3
                b[2 * t : 2 * t + 2, g] = x[g, p : p + 2]  # b0: the low half of the 8-byte load
                b[2 * t + 8 : 2 * t + 10, g] = x[g, p + 2 : p + 4]  # b1
            c += a @ b
    return c


@pytest.mark.parametrize("wpl", [2, 4])
def test_the_column_permutation_makes_each_lanes_words_its_fragments(wpl):
    rng = np.random.default_rng(wpl)
    w = rng.standard_normal((16, 32 * wpl))
    x = rng.standard_normal((8, 32 * wpl))
    np.testing.assert_allclose(_fragments_product(w, x, wpl), w @ x.T, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    "m,bits,n,k,gpr,slots,assign,wpl,rows,split",
    [
        (1, 4, 16, 128, 1, 1, "one", 2, 1, 1),  # one token, one warp of rows
        (5, 4, 40, 256, 2, 3, "random", 2, 1, 2),  # rows past N (40 of 64), split-K across the group boundary
        (8, 3, 32, 256, 2, 2, "random", 4, 1, 1),  # 3-bit codes, 128-column chunks, one tile of tokens
        (9, 4, 24, 128, 1, 9, "distinct", 2, 1, 1),  # two tiles, every token its own slot
        (16, 4, 48, 384, 3, 4, "random", 2, 1, 3),  # 16 tokens, 3 groups, split-K 3
        (3, 4, 72, 256, 1, 2, "random", 4, 2, 2),  # two row blocks a warp; rows past N in the second warp
        (12, 4, 40, 192, 3, 3, "random", 2, 2, 1),  # two row blocks, two tiles, block 2 of warp 1 past N
        (16, 4, 72, 384, 3, 1, "one", 2, 2, 3),  # two row blocks, two tiles, split-K 3: every tile's partials summed
    ],
)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_the_fragment_kernel_matches_the_reference(m, bits, n, k, gpr, slots, assign, wpl, rows, split, dtype):
    x, codes, pool, slot_of_token = make_case(m, n, k, bits, gpr, slots, assign, dtype, seed=m + n + k)
    assert mma_ok(x, codes, pool, bits, wpl)
    y = torch.full((m, n), float("nan"), dtype=dtype, device=DEVICE)  # every element must be written
    launch_decode(x, codes, pool, slot_of_token, bits, y, {"MODE": MODE_MMA, "num_warps": 2, "WPL": wpl,
                                                           "ROWS": rows, "SPLIT_K": split})  # fmt: skip
    assert rel_err(y, lut_linear_reference(x, codes, pool, slot_of_token, bits)) < TOL[dtype]


@pytest.mark.parametrize(
    "m,n,k,gpr,slots,assign,wpl,rows",
    [
        (4, 40, 512, 1, 1, "one", 16, 1),  # one 512-column chunk, rows past N
        (16, 48, 512, 1, 4, "random", 8, 1),  # two splits of 256 columns, two tiles, several slots' tables in turn
        (5, 72, 256, 2, 3, "random", 4, 2),  # a split a group; two row blocks a warp
        (9, 24, 128, 1, 9, "distinct", 2, 2),  # 8-byte word loads; every token its own slot
    ],
)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_the_preloaded_chunk_matches_the_reference(m, n, k, gpr, slots, assign, wpl, rows, dtype):
    """PRELOAD: one chunk a program whatever SPLIT_K says, its words loaded at once (on CUDA; the interpreter sums
    each lane's outputs directly) and the first slot's tables before the PDL wait, the others' in turn."""
    x, codes, pool, slot_of_token = make_case(m, n, k, 4, gpr, slots, assign, dtype, seed=m + n + k)
    assert mma_ok(x, codes, pool, 4, wpl) and codes_rows_aligned(codes)
    y = torch.full((m, n), float("nan"), dtype=dtype, device=DEVICE)
    launch_decode(x, codes, pool, slot_of_token, 4, y, {"MODE": MODE_MMA, "num_warps": 2, "WPL": wpl, "ROWS": rows,
                                                        "SPLIT_K": 1, "PRELOAD": 1})  # fmt: skip
    assert rel_err(y, lut_linear_reference(x, codes, pool, slot_of_token, 4)) < TOL[dtype]



@pytest.mark.parametrize(
    "m,n,k,gpr,slots,assign,wpl,rows,split",
    [
        (4, 40, 512, 1, 1, "one", 2, 1, 1),  # 8 chunks in one range: the carried chunks move on through all of it
        (5, 40, 512, 2, 3, "random", 2, 1, 1),  # two groups in one range: the chunks ahead start again at each
        (16, 72, 384, 3, 2, "random", 4, 2, 1),  # one chunk a group: the chunk ahead past its end is the last again
        (9, 24, 768, 1, 9, "distinct", 2, 2, 2),  # every token its own slot; 6 chunks a split
        (12, 48, 1024, 4, 4, "random", 4, 1, 4),  # split-K inside the groups, two tiles of tokens
        (6, 40, 448, 1, 2, "random", 2, 1, 1),  # 7 chunks: AHEAD 4's unrolled loop skips its last second half
    ],
)
@pytest.mark.parametrize("ahead", [1, 2, 3, 4])
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_chunks_asked_for_ahead_match_the_reference(m, n, k, gpr, slots, assign, wpl, rows, split, ahead, dtype):
    """AHEAD 1-4: each chunk's words and x asked for at once, at its start or one or two chunks before it, or two
    in flight in a loop unrolled by two (4; on CUDA; the interpreter sums each lane's outputs directly, as at AHEAD
    0)."""
    x, codes, pool, slot_of_token = make_case(m, n, k, 4, gpr, slots, assign, dtype, seed=m + n + k + ahead)
    assert mma_ok(x, codes, pool, 4, wpl)
    y = torch.full((m, n), float("nan"), dtype=dtype, device=DEVICE)
    launch_decode(x, codes, pool, slot_of_token, 4, y, {"MODE": MODE_MMA, "num_warps": 2, "WPL": wpl, "ROWS": rows,
                                                        "SPLIT_K": split, "AHEAD": ahead})  # fmt: skip
    assert rel_err(y, lut_linear_reference(x, codes, pool, slot_of_token, 4)) < TOL[dtype]



@pytest.mark.parametrize(
    "m,n,k,gpr,slots,assign,wpl,rows,warps,kw,split,ahead,w16",
    [
        (4, 40, 512, 1, 1, "one", 2, 1, 4, 4, 1, 2, 0),  # 4 parts of 2 chunks on the same 16 rows; rows past N
        (5, 40, 512, 2, 3, "random", 2, 1, 4, 2, 1, 0, 0),  # each part its own LUT group, several slots in turn
        (16, 72, 1024, 4, 2, "random", 4, 2, 2, 2, 2, 3, 1),  # two row blocks, two tiles, split-K 2 of 2 parts
        (9, 24, 768, 1, 9, "distinct", 2, 1, 8, 4, 1, 1, 0),  # two warps a part; every token its own slot
        (12, 48, 1024, 1, 1, "one", 4, 1, 8, 8, 2, 2, 1),  # 8 parts of one chunk, their sums the split-K partials
        (4, 40, 1024, 1, 1, "one", 4, 1, 8, 8, 1, 2, 1),  # the shipped form's (8 parts, AHEAD 2) with 16-byte words
        (16, 72, 2048, 1, 1, "one", 4, 2, 8, 8, 2, 2, 1),  # 8 parts on two row blocks sharing x, two tiles, split-K 2
        (4, 40, 3072, 1, 1, "one", 4, 1, 8, 8, 1, 4, 1),  # 8 parts of 3 chunks in the unrolled loop (AHEAD 4)
    ],
)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_a_programs_warps_split_along_k_sum_in_the_program(m, n, k, gpr, slots, assign, wpl, rows, warps, kw, split,
                                                          ahead, w16, dtype):  # fmt: skip
    """KW: a program's warps in KW parts along its K range on the same rows, their sums folded in the program
    (then y, or the split-K workspace); on CUDA the asm paths (AHEAD 0-4; W16: the words by 16-byte loads), in the
    interpreter each lane's outputs over its part's columns."""
    x, codes, pool, slot_of_token = make_case(m, n, k, 4, gpr, slots, assign, dtype, seed=m + n + k + kw)
    y = torch.full((m, n), float("nan"), dtype=dtype, device=DEVICE)
    launch_decode(x, codes, pool, slot_of_token, 4, y, {"MODE": MODE_MMA, "num_warps": warps, "WPL": wpl, "ROWS": rows,
                                                        "SPLIT_K": split, "AHEAD": ahead, "KW": kw,
                                                        "W16": w16})  # fmt: skip
    assert rel_err(y, lut_linear_reference(x, codes, pool, slot_of_token, 4)) < TOL[dtype]


@pytest.mark.parametrize(
    "config,k,gpr",
    [
        ({"num_warps": 4, "KW": 3}, 768, 1),  # KW must divide the warps
        ({"num_warps": 4, "KW": 2, "PRELOAD": 1}, 512, 1),  # no PRELOAD
        ({"num_warps": 4, "KW": 4, "SPLIT_K": 3}, 1280, 1),  # 1280 = 3 splits of 512, the last short
        ({"num_warps": 4, "KW": 2}, 1024, 4),  # a part of 512 columns across groups of 256
    ],
)
def test_k_parts_that_do_not_tile_the_range_or_the_groups_are_refused(config, k, gpr):
    x, codes, pool, slots = make_case(4, 16, k, 4, gpr, 1, "one", torch.float16)
    y = torch.empty(4, 16, dtype=torch.float16, device=DEVICE)
    with pytest.raises(ValueError, match="KW"):
        launch_decode_mma(x, codes, pool, slots, 4, y, {"WPL": 2, **config})


_KW_SCRIPT = r"""
import json, re, sys
sys.path.insert(0, "benchmarks")
from bench_kernels import _inner_loop_mix, compile_decode_mma_sm90
out = []
for kw, w16 in ((1, False), (8, False), (8, True)):
    const = {"BITS": 4, "WARPS": 8, "WPL": 4, "TILES": 1, "ROWS": 1, "USE_SPLIT": kw == 1, "ASM": True,
             "BF16": False, "X16": True, "PDL": True, "AHEAD": 2, "EARLY": True, "KW": kw, "W16": w16}
    regs, stack, shared, sass = compile_decode_mma_sm90(const, 8)
    ops = re.findall(r"/\*[0-9a-f]{4,}\*/\s+(?:@!?U?P\w+\s+)?([A-Z][A-Z0-9_.]*)", sass)
    out.append([_inner_loop_mix(sass, top=None, full_opcodes=True)[1], int(stack), shared,
                sum(op.split(".")[0] in ("ATOM", "ATOMG", "RED", "REDG") for op in ops)])
print(json.dumps(out))
"""


def test_k_parts_keep_the_loop_and_sum_in_shared_memory_without_arrivals_and_w16_loads_words_by_four():
    """sm_90 code, the 4-token form (8 warps, 4 words a lane, AHEAD 2, EARLY): with KW 8 the K loop is the split-K
    kernel's instruction for instruction (x's 16-byte loads kept: the parts' offsets are whole chunks), no spills,
    and the parts meet in shared memory with no atomic arrival; W16 loads the words 4 at a time."""
    (loop1, _, _, atomics1), (loop8, stack8, shared8, atomics8), (loop16, *_) = sm90_results(_KW_SCRIPT, None)
    assert loop8 == loop1 and loop8["LDG.E.128"] == 4, (loop1, loop8)
    assert stack8 == 0 and shared8 > 0 and atomics8 == 0 < atomics1, (stack8, shared8, atomics8, atomics1)
    # W16: the chunk's 8 words (4 a row) in two 16-byte loads instead of eight 4-byte ones, the rest alike
    assert loop16["LDG.E.128"] == 6 and "LDG.E" not in loop16, loop16
    assert {op: n for op, n in loop16.items() if not op.startswith("LDG")}.keys() <= loop8.keys(), loop16


@pytest.mark.parametrize("at_once", [1, 2, 8])
@pytest.mark.parametrize("m,rows", [(4, 1), (16, 2)])
def test_split_k_partials_summed_any_number_at_once(m, rows, at_once):
    """The row tile's last program sums the 5 splits' partials SUM_AT_ONCE at a time, the splits past the last
    (5 of 8, 6 of 6) masked off."""
    x, codes, pool, slot_of_token = make_case(m, 40, 640, 4, 1, 1, "one", torch.float16, seed=at_once)
    y = torch.full((m, 40), float("nan"), dtype=torch.float16, device=DEVICE)
    launch_decode(x, codes, pool, slot_of_token, 4, y, {"MODE": MODE_MMA, "num_warps": 2, "WPL": 2, "ROWS": rows,
                                                        "SPLIT_K": 5, "SUM_AT_ONCE": at_once})  # fmt: skip
    assert rel_err(y, lut_linear_reference(x, codes, pool, slot_of_token, 4)) < TOL[torch.float16]


@pytest.mark.parametrize("split", [1, 12])
def test_a_register_cap_leaves_the_result_alone(split):
    """maxnreg (a register cap for ptxas: 8 warps at 80 registers fit three programs an SM) is a launch option; the
    sum is the same, at split 12 too (12 splits of 32 chunks: the last ones shorter)."""
    x, codes, pool, slot_of_token = make_case(4, 40, 4096, 4, 2, 2, "random", torch.float16, seed=split)
    y = torch.full((4, 40), float("nan"), dtype=torch.float16, device=DEVICE)
    launch_decode(x, codes, pool, slot_of_token, 4, y, {"MODE": MODE_MMA, "num_warps": 2, "WPL": 4, "ROWS": 1,
                                                        "SPLIT_K": split, "AHEAD": 2, "maxnreg": 80})  # fmt: skip
    assert rel_err(y, lut_linear_reference(x, codes, pool, slot_of_token, 4)) < TOL[torch.float16]


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA (the interpreter takes no early start)")
@pytest.mark.parametrize(
    "m,n,k,gpr,slots,assign,wpl,rows,split",
    [
        (4, 40, 512, 1, 1, "one", 2, 1, 1),  # one slot, one group
        (5, 40, 512, 2, 3, "random", 2, 1, 1),  # two groups: the first slot's second group, then the others' both
        (16, 72, 384, 3, 2, "random", 4, 2, 1),  # one chunk a group, two row blocks, two tiles
        (12, 48, 1024, 4, 4, "random", 4, 1, 4),  # split-K inside the groups
    ],
)
@pytest.mark.parametrize("ahead", [2, 3, 4])
def test_an_early_start_matches_the_reference_on_cuda(m, n, k, gpr, slots, assign, wpl, rows, split, ahead):
    """EARLY: the first slot's first group started before the PDL wait, the rest in turn onto its sums."""
    x, codes, pool, slot_of_token = make_case(m, n, k, 4, gpr, slots, assign, torch.float16, seed=m + k + ahead)
    y = torch.full((m, n), float("nan"), dtype=torch.float16, device=DEVICE)
    launch_decode(x, codes, pool, slot_of_token, 4, y, {"MODE": MODE_MMA, "num_warps": 2, "WPL": wpl, "ROWS": rows,
                                                        "SPLIT_K": split, "AHEAD": ahead, "EARLY": 1})  # fmt: skip
    assert rel_err(y, lut_linear_reference(x, codes, pool, slot_of_token, 4)) < TOL[torch.float16]


_EARLY_SCRIPT = r"""
import json, re, sys
sys.path.insert(0, "benchmarks")
from bench_kernels import compile_decode_mma_sm90
out = []
for early in (False, True):
    const = {"BITS": 4, "WARPS": 8, "WPL": 4, "TILES": 1, "ROWS": 1, "USE_SPLIT": True, "ASM": True, "BF16": False,
             "X16": True, "PDL": True, "AHEAD": 2, "EARLY": early}
    _, stack, _, sass = compile_decode_mma_sm90(const, 8)
    ops = re.findall(r"/\*[0-9a-f]{4,}\*/\s+(?:@!?U?P\w+\s+)?([A-Z][A-Z0-9_.]*)", sass)
    wait = ops.index("ACQBULK")
    out.append([int(stack), sum(op.startswith("LDG") for op in ops[:wait])])
print(json.dumps(out))
"""


def test_an_early_start_asks_for_the_first_words_and_tables_before_the_pdl_wait():
    """sm_90 code, AHEAD 2, 4 words a lane, one row block: without EARLY only the slots are loaded before the PDL
    wait (griddepcontrol.wait: ACQBULK); with it the first chunk's 8 code words and the 16 table words too."""
    (stack0, before0), (stack1, before1) = sm90_results(_EARLY_SCRIPT, None)
    assert before0 <= 2 and before1 >= 2 + 8 + 16 and stack1 == 0, (before0, before1)

_AHEAD4_SCRIPT = r"""
import json, re, sys
sys.path.insert(0, "benchmarks")
from bench_kernels import _inner_loop_mix, compile_decode_mma_sm90
out = []
for ahead in (2, 4):
    const = {"BITS": 4, "WARPS": 8, "WPL": 4, "TILES": 1, "ROWS": 1, "USE_SPLIT": False, "ASM": True, "BF16": False,
             "X16": True, "PDL": True, "AHEAD": ahead, "EARLY": True, "KW": 8, "W16": True}
    _, stack, _, sass = compile_decode_mma_sm90(const, 8)
    count, mix = _inner_loop_mix(sass, top=None, full_opcodes=True)
    order = [op for op in re.findall(r"/\*[0-9a-f]{4,}\*/\s+(?:@!?U?P\w+\s+)?([A-Z][A-Z0-9_.]*)", sass)
             if op.startswith(("HMMA", "LDG"))]
    out.append([count, mix, int(stack), "".join("M" if op.startswith("HMMA") else "L" for op in order)])
print(json.dumps(out))
"""


def test_ahead_4_unrolls_the_ring_without_register_moves_and_asks_a_chunk_ahead_of_each_half():
    """sm_90 code, the 4-token form (8 warps, KW 8, 4 words a lane, EARLY, W16): AHEAD 2's loop copies the chunk
    it loaded into the carried registers (IMAD.MOVs at the loop's end); AHEAD 4's loop of two chunks has none, fewer
    instructions a chunk, no spills, and its 12 loads in two sixes, each before the 8 MMAs of the half that does not
    read them: the first half's next chunk before the second half's MMAs, the second half's after them."""
    (count2, mix2, _, _), (count4, mix4, stack4, order4) = sm90_results(_AHEAD4_SCRIPT, None)
    assert mix2.get("IMAD.MOV.U32", 0) >= 16 and mix2["HMMA.16816.F32"] == 8, mix2
    assert "IMAD.MOV.U32" not in mix4 and mix4["HMMA.16816.F32"] == 16 and mix4["LDG.E.128"] == 12, mix4
    assert count4 < 2 * count2 and stack4 == 0, (count4, count2, stack4)
    assert "M" * 8 + "L" * 6 + "M" * 8 + "L" * 6 in order4, order4


def test_ahead_outside_0_to_4_is_refused():
    x, codes, pool, slots = make_case(4, 16, 256, 4, 1, 1, "one", torch.float16)
    y = torch.empty(4, 16, dtype=torch.float16, device=DEVICE)
    with pytest.raises(ValueError, match="AHEAD 0-4"):
        launch_decode_mma(x, codes, pool, slots, 4, y, {"num_warps": 2, "WPL": 2, "AHEAD": 5})

def test_preload_needs_code_rows_aligned_to_16_bytes():
    x, codes, pool, slots = make_case(4, 16, 256, 4, 1, 1, "one", torch.float16)
    assert codes_rows_aligned(codes)
    wide = torch.zeros(16, 136, dtype=torch.uint8, device=DEVICE)[:, :128]  # rows of 136 bytes: 8-byte aligned only
    wide.copy_(codes)
    assert not codes_rows_aligned(wide)
    y = torch.full((4, 16), float("nan"), dtype=torch.float16, device=DEVICE)  # its loads as the chunks in turn's
    launch_decode(x, wide, pool, slots, 4, y, {"MODE": MODE_MMA, "num_warps": 2, "WPL": 4, "PRELOAD": 1})
    assert rel_err(y, lut_linear_reference(x, codes, pool, slots, 4)) < TOL[torch.float16]


def test_the_fragment_kernel_takes_only_calls_it_can_tile():
    x, codes, pool, slots = make_case(4, 16, 192, 4, 2, 2, "random", torch.float16)  # groups of 96 columns
    assert not mma_ok(x, codes, pool, 4, 2) and not mma_ok(x, codes, pool, 4, 4)  # 64 / 128 straddle the groups
    x2, codes2, pool2, slots2 = make_case(4, 16, 256, 4, 2, 2, "random", torch.float16)
    assert mma_ok(x2, codes2, pool2, 4, 4)
    assert not mma_ok(x2.float(), codes2, pool2, 4, 4)  # fp32 activations: no MMA type for them with a 16-bit LUT
    shifted = torch.zeros(4, 260, dtype=torch.float16, device=DEVICE)[:, 2:258]  # rows 4 bytes off 8-byte alignment
    shifted.copy_(x2)
    assert not mma_ok(shifted, codes2, pool2, 4, 2)
    x17, codes17, pool17, _ = make_case(17, 16, 256, 4, 2, 2, "random", torch.float16)
    assert not mma_ok(x17, codes17, pool17, 4, 2)  # 17 tokens: more than two tiles of 8
    y = torch.empty(4, 16, dtype=torch.float16, device=DEVICE)
    with pytest.raises(ValueError, match="tiling K and the groups"):
        launch_decode_mma(x, codes, pool, slots, 4, y, {"WPL": 4})
    with pytest.raises(ValueError, match="WPL 2 or 4"):
        launch_decode_mma(x2, codes2, pool2, slots2, 4, y, {"WPL": 3})
    with pytest.raises(ValueError, match="ROWS 1 or 2"):
        launch_decode_mma(x2, codes2, pool2, slots2, 4, y, {"WPL": 2, "ROWS": 4})


def test_the_autotuner_is_offered_the_fragment_kernel_where_it_applies():
    tokens = decode_candidates(16, 4096, 4096, 132, prmt=True, group_size=1024, mma=True)
    frag = [c for c in tokens if c["MODE"] == MODE_MMA]
    assert frag and all(1024 % (32 * c["WPL"]) == 0 for c in frag)
    assert not any(c["MODE"] == MODE_MMA for c in decode_candidates(16, 4096, 4096, 132, prmt=True, group_size=1024))
    one = decode_candidates(1, 4096, 4096, 132, prmt=True, group_size=4096, mma=True)
    assert any(c["MODE"] == MODE_MMA for c in one)
    # two tiles of 8 tokens at most
    assert not any(c["MODE"] == MODE_MMA for c in decode_candidates(32, 4096, 4096, 132, prmt=True, mma=True))
    # 2752-column groups (11008 in 4): 64-column chunks only
    down = decode_candidates(4, 4096, 11008, 132, prmt=True, group_size=2752, mma=True)
    assert {c["WPL"] for c in down if c["MODE"] == MODE_MMA} == {2}


def test_the_one_task_candidates_ask_for_chunks_ahead_and_start_early_in_some_forms():
    """MMA_CANDIDATES' fifth and sixth fields (AHEAD, EARLY) reach the configs the autotuner times; EARLY only with
    AHEAD 2 or 3 (the form it has), and the 8-warp split-K forms with and without it (it won on 4096x4096 only);
    the KW 8 form as it won, with EARLY; the 8-warp split-K form at AHEAD 4 without EARLY (it won on the MLP
    shapes at 4 tokens)."""
    frag = [c for c in decode_candidates(4, 4096, 4096, 132, prmt=True, group_size=4096, mma=True)
            if c["MODE"] == MODE_MMA]  # fmt: skip
    early = [c for c in frag if c.get("EARLY")]
    assert early and all(c["AHEAD"] in (2, 3) and c["num_warps"] == 8 for c in early)
    assert {c["AHEAD"] for c in early} == {2, 3}
    for c in early:
        if "KW" not in c:
            assert {k: v for k, v in c.items() if k != "EARLY"} in frag
    assert {"KW": 8, "SPLIT_K": 1, "AHEAD": 2, "EARLY": 1}.items() <= next(c for c in frag if "KW" in c).items()
    assert {c.get("AHEAD", 0) for c in frag} == {0, 2, 3, 4}
    assert [c for c in frag if c.get("AHEAD") == 4] == [{"MODE": MODE_MMA, "num_warps": 8, "ROWS": 1, "WPL": 4,
                                                         "SPLIT_K": 8, "AHEAD": 4, "W16": 1}]  # fmt: skip


def test_a_fragment_candidate_may_name_a_register_cap_and_its_waves_set_the_split():
    """(warps, rows, words, waves, AHEAD, EARLY, maxnreg): 3 waves of 132 SMs over 32 row tiles of 128 rows is split
    12; the cap and the loads ride along (a chunks-ahead form of 4 words a lane with 16-byte word loads), and a
    4-tuple carries none of them."""
    capped, plain = split_k_fragment_configs([(8, 1, 4, 3, 2, 1, 80), (8, 1, 4, 2)], 4096, 4096, 132, 1024)
    assert capped == {"MODE": MODE_MMA, "num_warps": 8, "ROWS": 1, "WPL": 4, "SPLIT_K": 12, "AHEAD": 2, "EARLY": 1,
                      "maxnreg": 80, "W16": 1}  # fmt: skip
    assert plain == {"MODE": MODE_MMA, "num_warps": 8, "ROWS": 1, "WPL": 4, "SPLIT_K": 8}


def test_a_fragment_candidate_may_split_k_in_the_program_where_its_parts_tile_k_and_the_groups():
    """The 8th field, KW: 8 warps in 8 parts on one 16-row block at one wave is one split of 4096 columns (256 row
    blocks); at gpr 4 each part's 512 columns lie in one group of 1024; K = 11008 (43 x 256) takes no 8 parts of
    128-column chunks, and 4 parts of 64-column chunks only where the groups hold them."""
    form = (8, 1, 4, 1, 2, 1, 0, 8)
    (kw8,) = split_k_fragment_configs([form], 4096, 4096, 132, 1024)
    assert kw8 == {"MODE": MODE_MMA, "num_warps": 8, "ROWS": 1, "WPL": 4, "SPLIT_K": 1, "AHEAD": 2, "EARLY": 1,
                   "KW": 8, "W16": 1}  # fmt: skip
    assert split_k_fragment_configs([form], 4096, 11008, 132, 11008) == []
    four = (4, 2, 2, 1, 2, 0, 0, 4)
    assert split_k_fragment_configs([four], 4096, 11008, 132, 11008)[0]["KW"] == 4  # 4 x 2752 columns
    assert split_k_fragment_configs([four], 4096, 11008, 132, 2752)[0]["KW"] == 4  # a part a group
    assert split_k_fragment_configs([four], 4096, 4096, 132, 512) == []  # parts of 1024 across groups of 512


def test_the_few_task_class_is_offered_preloaded_and_split_k_configs_that_tile_k_and_the_groups():
    few = few_task_candidates(4096, 4096, 132, group_size=1024)
    assert few[0].get("PRELOAD") and any("SPLIT_K" in c for c in few)
    assert all(c["MODE"] == MODE_MMA and 1024 % (32 * c["WPL"]) == 0 for c in few)
    down = few_task_candidates(4096, 11008, 132, group_size=2752)  # 2752-column groups: 64-column chunks only
    assert down and {c["WPL"] for c in down} == {2}
    assert default_few_task_config(11008, 2752)["WPL"] == 2 and default_few_task_config(4096, 4096)["WPL"] == 16


def test_every_asm_operand_is_one_element_per_thread_in_lane_order():
    """mma.sync reads its fragments from fixed lanes: every asm op of the compiled kernel (sm_90, no GPU needed)
    works on 1-D tensors, one element per thread, element e in thread e."""
    for x16 in (False, True):  # B's quads by 8-byte loads, or two k-steps' by one 16-byte load split in registers
        const = {"BITS": 4, "WARPS": 4, "WPL": 2, "TILES": 2, "ROWS": 2, "USE_SPLIT": True, "ASM": True,
                 "BF16": False, "X16": x16}  # fmt: skip
        assert_asm_in_lane_order("kernels.triton_decode_mma", "_decode_mma_kernel", const, warps=4, mma_count=16)
    # PRELOAD: the words split out of 16-byte loads; 8 words, two row blocks, two tiles: 8 * 2 * 2 * 2 MMAs
    const = {"BITS": 4, "WARPS": 2, "WPL": 8, "TILES": 2, "ROWS": 2, "USE_SPLIT": True, "ASM": True, "BF16": False,
             "X16": True, "PRELOAD": True}  # fmt: skip
    assert_asm_in_lane_order("kernels.triton_decode_mma", "_decode_mma_kernel", const, warps=2, mma_count=64)
    # AHEAD: each chunk's words and B carried in tuples two chunks ahead; 4 words, two row blocks, two tiles
    const = {"BITS": 4, "WARPS": 2, "WPL": 4, "TILES": 2, "ROWS": 2, "USE_SPLIT": True, "ASM": True, "BF16": False,
             "X16": True, "AHEAD": 3}  # fmt: skip
    assert_asm_in_lane_order("kernels.triton_decode_mma", "_decode_mma_kernel", const, warps=2, mma_count=32)
    # KW: the same lanes' asm, the parts' sums folded after the loop; 4 warps in 2 parts, 4 words, two row blocks;
    # W16: the words split out of 16-byte loads
    const = {"BITS": 4, "WARPS": 4, "WPL": 4, "TILES": 2, "ROWS": 2, "USE_SPLIT": True, "ASM": True, "BF16": False,
             "X16": True, "AHEAD": 2, "KW": 2, "W16": True}  # fmt: skip
    assert_asm_in_lane_order("kernels.triton_decode_mma", "_decode_mma_kernel", const, warps=4, mma_count=32)


_EPILOGUE_SCRIPT = r"""
import json, re, sys
sys.path.insert(0, "benchmarks")
from bench_kernels import compile_decode_mma_sm90
out = []
for split in (False, True):
    const = {"BITS": 4, "WARPS": 2, "WPL": 2, "TILES": 2, "ROWS": 2, "USE_SPLIT": split, "ASM": True, "BF16": False,
             "X16": True}
    regs, stack, shared, sass = compile_decode_mma_sm90(const, 2)
    ops = re.findall(r"/\*[0-9a-f]{4,}\*/\s+(?:@!?U?P\w+\s+)?([A-Z][A-Z0-9_.]*)", sass)
    out.append([shared, sum(op.startswith("BAR.SYNC") for op in ops), sum(op.startswith("STS.") for op in ops)])
print(json.dumps(out))
"""


def test_the_fragment_kernels_outputs_leave_without_a_trip_through_shared_memory():
    """Each tile's accumulators are stored as the lanes hold them (sm_90 compile, no GPU): joined into one tensor
    first, Triton 3.9 converted their layout through 4 KB of shared memory with ~35 barriers a program, which at
    split-K's short ranges made the kernel up to 1.6x slower on the H100 (fifty-fourth session)."""
    for shared, barriers, wide_stores in sm90_results(_EPILOGUE_SCRIPT, None):  # without, then with split-K
        assert shared <= 16 and wide_stores == 0 and barriers <= 4, (shared, barriers, wide_stores)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("m,tasks", [(1, 1), (4, 1), (16, 1), (16, 4), (12, 12)])
def test_every_fragment_candidate_on_cuda(m, tasks):
    x, codes, pool, slots = make_case(m, 300, 2048, 4, 4, max(tasks, 2), "random" if tasks > 1 else "one",
                                      torch.float16, seed=m)  # fmt: skip
    ref = lut_linear_reference(x, codes, pool, slots, 4)
    configs = [c for c in decode_candidates(m, 300, 2048, 132, prmt=True, group_size=512, mma=True)
               if c["MODE"] == MODE_MMA] + few_task_candidates(300, 2048, 132, 512)  # fmt: skip
    assert configs
    for config in configs:
        y = torch.full((m, 300), float("nan"), dtype=x.dtype, device=DEVICE)
        launch_decode(x, codes, pool, slots, 4, y, config)
        assert rel_err(y, ref) < TOL[torch.float16], config


def test_a_cached_fragment_choice_falls_back_where_this_calls_x_is_not_aligned(monkeypatch):
    """The autotuner keys choices by shape; a call whose x rows are not 8-byte aligned (a view at an odd offset)
    cannot take the fragment kernel, so the op launches the default config instead of failing."""
    from kernels import autotune, triton_ops

    monkeypatch.setattr(autotune, "pick_config", lambda *args, **kwargs: {"MODE": MODE_MMA, "num_warps": 2, "WPL": 2})
    x, codes, pool, slots = make_case(4, 16, 256, 4, 2, 2, "random", torch.float16, seed=11)
    shifted = torch.zeros(4, 260, dtype=torch.float16, device=DEVICE)[:, 2:258]
    shifted.copy_(x)
    y = triton_ops.lut_linear_forward(shifted, codes, pool, slots, 4)
    assert rel_err(y, lut_linear_reference(x, codes, pool, slots, 4)) < TOL[torch.float16]


def test_only_chunks_ahead_forms_of_four_or_more_words_a_lane_take_sixteen_byte_word_loads():
    """W16 loads a lane row's 4 words of a chunk at once on the chunks-ahead path: a form with AHEAD and WPL 4 takes
    it, one with WPL 2 or without AHEAD does not."""
    ahead4, ahead2, plain4 = split_k_fragment_configs([(8, 1, 4, 2, 2), (2, 2, 2, 8, 2), (2, 1, 4, 8)], 4096, 4096,
                                                      132, 4096)  # fmt: skip
    assert ahead4["W16"] == 1
    assert "W16" not in ahead2 and "W16" not in plain4
