"""The wgmma bucket kernel (kernels/triton_bucket_wgmma.py): the one-hot of the codes in the MMA's A registers.

Gluon has no CPU interpreter, so on the CPU: the one-hot asm runs through the emulator of its instructions
(kernels/prmt_lut.py) against a plain comparison; every candidate compiles for sm_90 without spills, with one wgmma
per 16 columns of a K block and 64 one-hot rows. On an sm_90 GPU the kernel is compared to the torch reference on
batches that mix many slots, output poisoned with NaN first.
"""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import triton

from kernels import lut_linear
from kernels.packing import pack_codes
from kernels.prmt_lut import emulate
from kernels.reference import lut_linear_reference
from kernels.triton_bucket import launch_bucket
from kernels.triton_bucket_wgmma import (
    BUCKET_WGMMA_CANDIDATES,
    WGMMA_MIN_M,
    WIDE_MAX_M,
    bucket_level_split_candidates,
    bucket_wgmma_block_m,
    bucket_wgmma_candidates,
    bucket_wgmma_configs_for,
    bucket_wgmma_layouts,
    bucket_wgmma_ok,
    bucket_wide_candidates,
    compare_word,
    launch_bucket_wgmma,
    level_split_encoding,
    one_fold,
    onehot_program,
    onehot_wide_program,
    op_candidate,
    release_mode,
)
from kernels.triton_common import arrival_counters, pdl_scope
from tests.kernels.compiled_layouts import sm90_results
from tests.kernels.test_triton_forward import make_case, rel_err

SM90 = torch.cuda.is_available() and torch.cuda.get_device_capability() == (9, 0)
ONE = {torch.float16: 0x3C00, torch.bfloat16: 0x3F80}


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_the_onehot_program_writes_one_where_byte_ts_codes_equal_g_or_g_plus_8(dtype):
    """Element 8h + 2i + p is 1.0 exactly where nibble p of byte t of word i equals g + 8h, for every lane (t, g)."""
    rng = np.random.default_rng(5)
    program = onehot_program(dtype)
    for trial in range(96):
        words = [int(w) for w in rng.integers(0, 2**32, 4, dtype=np.uint64)]
        t, g = trial % 4, (trial // 4) % 8
        operands = {f"${16 + i}": w for i, w in enumerate(words)}
        operands |= {"$20": t | t << 8, "$21": compare_word(g, dtype), "$22": compare_word(g + 8, dtype)}
        regs = emulate(program, operands)
        for h in range(2):
            for i in range(4):
                for p in range(2):
                    code = (words[i] >> (8 * t + 4 * p)) & 0xF
                    assert regs[f"${8 * h + 2 * i + p}"] == (ONE[dtype] if code == g + 8 * h else 0)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("levels", [16, 8])
def test_the_wide_onehot_program_compares_byte_ts_codes_with_every_code_value(dtype, levels):
    """WIDE: element 2c + p is 1.0 exactly where nibble p of byte t of the word equals c, for every code value c
    below `levels` (3-bit codes never exceed 7: their one-hot has 8 code values)."""
    rng = np.random.default_rng(7)
    program = onehot_wide_program(dtype, levels)
    for trial in range(64):
        word, t = int(rng.integers(0, 2**32, dtype=np.uint64)), trial % 4
        if levels == 8:
            word &= 0x77777777
        regs = emulate(program, {f"${2 * levels}": word, f"${2 * levels + 1}": t | t << 8})
        for c in range(levels):
            for p in range(2):
                code = (word >> (8 * t + 4 * p)) & 0xF
                assert regs[f"${2 * c + p}"] == (ONE[dtype] if code == c else 0)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("values", [8, 4])
def test_the_level_split_program_compares_byte_ts_codes_with_its_lanes_code_values(dtype, values):
    """LEVEL_SPLIT's one-hot: the WIDE program for `values` code values with its encoding as an operand; element
    2c + p is 1.0 exactly where nibble p of byte t equals offset + c (the offset, a multiple of `values`, xor-ed
    into both codes with the base)."""
    rng = np.random.default_rng(9)
    program = onehot_wide_program(dtype, values, encoding_operand=True)
    outs = 2 * values
    for trial in range(64):
        word, t = int(rng.integers(0, 2**32, dtype=np.uint64)), trial % 4
        offset = values * (trial // 4 % (16 // values))
        regs = emulate(program, {f"${outs}": word, f"${outs + 1}": t | t << 8,
                                 f"${outs + 2}": level_split_encoding(dtype, offset)})  # fmt: skip
        for c in range(values):
            for p in range(2):
                code = (word >> (8 * t + 4 * p)) & 0xF
                assert regs[f"${2 * c + p}"] == (ONE[dtype] if code == offset + c else 0)


def test_the_codes_encoding_is_exact_and_distinct_in_both_halves():
    """Each code value's pair of 16-bit floats is finite, nonzero and unlike every other code value's, per half."""
    for dtype in (torch.float16, torch.bfloat16):
        words = torch.tensor([compare_word(c, dtype) for c in range(16)], dtype=torch.int64)
        for half in (words & 0xFFFF, words >> 16):
            values = half.to(torch.int16).view(dtype).float()
            assert torch.isfinite(values).all() and (values != 0).all()
            assert values.unique().numel() == 16


def test_token_tiles_and_candidates():
    assert [bucket_wgmma_block_m(m) for m in (1, 8, 9, 16, 17, 32, 33, 64, 100)] == [8, 8, 16, 16, 32, 32, 64, 64, 64]
    configs = bucket_wgmma_candidates(16, 4096)
    assert len(configs) == len(BUCKET_WGMMA_CANDIDATES)
    assert all(c["LAYOUT"] == "wgmma" and c["BLOCK_M"] == 16 for c in configs)
    assert all(c["BLOCK_K"] == 32 for c in bucket_wgmma_candidates(16, 96))  # a group of 96 columns: BK 32 only
    with pytest.raises(ValueError, match="no bucket wgmma layout"):
        bucket_wgmma_layouts(4, 18, 16, 64)  # rows not a multiple of the warps


def level_split_model(codes: np.ndarray, x: np.ndarray, lut: np.ndarray, dtype: torch.dtype, p: int) -> np.ndarray:
    """numpy model of one K block of the LEVEL_SPLIT = p form, step by step as _words_split, _onehot_split, the MMA
    and _fold_wide write it (the same reshapes and permutes; layouts do not change values): codes [ROWS, BK] (4-bit,
    ROWS a multiple of 8 / p), x [BM, BK], lut [BM, ROWS, 16] (each token's own) -> y [ROWS, BM]."""
    rows, bk = codes.shape
    r, lane_values = 8 // p, 16 // p
    w, s = rows // r, bk // 16
    # the packed words as the kernel reads them: column 8j + 2t + p is nibble p of byte t of word j
    words = pack_codes(torch.from_numpy(codes), 4).view(torch.int32).numpy().astype(np.uint32)
    program = onehot_wide_program(dtype, lane_values, encoding_operand=True)
    outs = 2 * lane_values
    e = np.zeros((rows, p, s, 2, 4, outs))  # [r, gq, s, b0, t] x the program's outputs
    for row, gq, si, b0, t in np.ndindex(rows, p, s, 2, 4):
        enc = level_split_encoding(dtype, lane_values * gq)
        regs = emulate(program, {f"${outs}": int(words[row, 2 * si + b0]), f"${outs + 1}": t | t << 8,
                                 f"${outs + 2}": enc})  # fmt: skip
        e[row, gq, si, b0, t] = [regs[f"${i}"] == ONE[dtype] for i in range(outs)]
    # the joins: output i = 2c + p', c = 2m + h, at trailing dims [p', h, m bits] (the last m bit the slowest)
    bits = outs.bit_length() - 1
    a = e.reshape(rows, p, s, 2, 4, *[2] * bits).transpose(0, 1, 2, 3, 4, *range(4 + bits, 4, -1))
    a = a.reshape(w, r, p, s, 2, 4, *[2] * bits)  # [w, gw, gq, s, b0, t, p', h, m0 (, m1)]
    m_dims = tuple(range(5 + bits, 7, -1))  # m's bits, the slowest first
    a = a.transpose(*m_dims, 0, 7, 2, 1, 3, 4, 5, 6).reshape(16 * rows, bk)  # [m.., w, h, gq, gw, s, b0, t, p']
    acc = a @ x.T  # [16 ROWS, BM]
    a3 = acc.reshape(8 // p, w, 2, p, r, -1).transpose(1, 4, 5, 3, 0, 2).reshape(rows, -1, 16)
    return (a3 * lut.transpose(1, 0, 2)).sum(-1)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("p", [2, 4])
def test_the_level_split_one_hot_and_fold_give_each_tokens_lut_sum(dtype, p):
    """LEVEL_SPLIT = p: 8 / p weight rows a warp, p lanes (gq) comparing the same bytes with 16 / p code values each
    (offset by the encoding operand); the A rows and the fold's regrouping put every code value of every row exactly
    once, so one K block gives y[r, t] = sum_k LUT_t[r, code[r, k]] x[t, k] (ROWS 8, BK 32, 16 p tokens)."""
    rng = np.random.default_rng(11 + p)
    rows, bk, bm = 8, 32, 16 * p
    codes = rng.integers(0, 16, (rows, bk))
    x = rng.standard_normal((bm, bk))
    lut = rng.standard_normal((bm, rows, 16))
    want = np.einsum("trk,tk->rt", np.take_along_axis(lut, np.broadcast_to(codes, (bm, rows, bk)), 2), x)
    np.testing.assert_allclose(level_split_model(codes, x, lut, dtype, p), want, rtol=1e-10, atol=1e-10)


def test_the_kernel_takes_only_what_it_can_compute():
    x = torch.zeros(4, 256, dtype=torch.float16)
    codes = torch.zeros(8, 128, dtype=torch.uint8)
    pool = torch.zeros(2, 8, 1, 16, dtype=torch.float16)
    assert not bucket_wgmma_ok(x, codes, pool, 4)  # not on a GPU
    with pytest.raises(ValueError, match="sm_90"):
        launch_bucket_wgmma(x, codes, pool, torch.zeros(4, dtype=torch.int32), 4, torch.empty(4, 8),
                            bucket_wgmma_candidates(4, 256)[0])  # fmt: skip


_COMPILE_SCRIPT = r"""
import json, os, sys
os.environ.pop("TRITON_INTERPRET", None)
sys.path.insert(0, "benchmarks")
from bench_kernels import compile_bucket_wgmma_sm90
out = []
for config, bits, x in json.loads(sys.argv[1]):
    regs, stack, smem, sass = compile_bucket_wgmma_sm90(config, bits, x)
    out.append([int(regs), int(stack), int(smem), sass.count("HGMMA"), sass.count("HSET2")])
print(json.dumps(out))
"""


@pytest.mark.skipif(not SM90, reason="the wgmma bucket kernel needs an sm_90 GPU")
@pytest.mark.parametrize("release", [1, 2])
def test_the_wide_form_releasing_the_next_kernel_early_matches_the_reference(release):
    """RELEASE under PDL (the next kernel's launch released right after the wait, or at the last K block) changes no
    result: each candidate at split-K 1, 3 and 4, launched right after a kernel that writes x, twice."""
    with pdl_scope():
        for case in (0, 1, 5):
            assert_wide_candidates_match(case, {"RELEASE": release}, splits=(1, 3, 4), repeats=2,
                                         x_written_before=True)  # fmt: skip


def test_a_program_folds_once_after_its_loop_only_where_its_k_range_lies_in_one_lut_group():
    assert one_fold(16, 16, 4) and one_fold(16, 16, 16)  # gpr 1: one group, any split
    assert one_fold(16, 4, 4) and one_fold(16, 4, 2) and one_fold(172, 43, 43)  # ranges that divide the group
    assert not one_fold(16, 4, 16) and not one_fold(6, 3, 2) and not one_fold(16, 4, 3)  # ranges across groups


def test_the_single_fold_leaves_the_k_loop_to_the_ring_the_one_hot_and_the_mmas():
    """ONE_FOLD (the H200's 16-token 4096x4096 and 22016x4096 choices, sm_90): the K loop holds no fold (no LUT loads,
    no fp32 FMAs) and the kernel no more registers than with the fold in the loop; the one-hot is unchanged."""
    script = (
        "import json, os, sys; os.environ.pop('TRITON_INTERPRET', None); sys.path.insert(0, 'benchmarks'); "
        "from bench_kernels import compile_bucket_wgmma_sm90, _inner_loop_mix; out = []\n"
        "for config in json.loads(sys.argv[1]):\n"
        "    regs, stack, _, sass = compile_bucket_wgmma_sm90(config, 4, 'fp16')\n"
        "    out.append([int(regs), int(stack), _inner_loop_mix(sass, top=None)[1]])\n"
        "print(json.dumps(out))"
    )
    base = {"LAYOUT": "wgmma", "BLOCK_M": 16, "BLOCK_K": 256, "num_stages": 2, "SPLIT_K": 4, "MMA_V2": 1, "WIDE": 1,
            "PDL": 1}
    configs = [base | {"ROWS": rows, "num_warps": rows // 8, "ONE_FOLD": f} for rows in (16, 32) for f in (0, 1)]
    results = sm90_results(script, configs)
    for (regs_in, _, mix_in), (regs, stack, mix) in zip(results[::2], results[1::2], strict=True):
        assert stack == 0 and regs <= regs_in, (regs, regs_in, stack)
        assert mix_in.get("FFMA", 0) > 0 and mix_in.get("LDG", 0) > 0, json.dumps(mix_in)  # the fold in the loop
        assert mix.get("FFMA", 0) == 0 and mix.get("LDG", 0) == 0, json.dumps(mix)
        assert mix["HSET2"] == mix_in["HSET2"] and mix["HMMA"] == mix_in["HMMA"]


@pytest.mark.skipif(not SM90, reason="the wgmma bucket kernel needs an sm_90 GPU")
@pytest.mark.parametrize("case", [0, 1, 5])
def test_the_wide_form_folding_in_its_loop_matches_the_reference(case):
    """ONE_FOLD off (the fold at each group's last block, as before the thirty-eighth session) at every split."""
    assert_wide_candidates_match(case, {"ONE_FOLD": 0}, splits=(1, 3, 4))


def test_the_early_release_is_on_by_default_for_the_wide_form_only_and_takes_modes_0_to_2():
    assert release_mode({"WIDE": 1}) == 1 and release_mode({"WIDE": 1, "RELEASE": 2}) == 2
    assert release_mode({}) == 0 and release_mode({"RELEASE": 2}) == 0  # the wgmma form launches without PDL
    with pytest.raises(ValueError, match="RELEASE"):
        release_mode({"WIDE": 1, "RELEASE": 3})


def test_the_early_release_compiles_for_sm90_once_and_after_the_wait():
    """RELEASE 1 and 2: one launch_dependents a program (PREEXIT in the SASS), after the grid-dependency wait
    (ACQBULK); none without it. No spills (the H200's 16-token 4096x4096 choice)."""
    config = {"LAYOUT": "wgmma", "BLOCK_M": 16, "ROWS": 16, "BLOCK_K": 256, "num_warps": 2, "num_stages": 2,
              "SPLIT_K": 4, "MMA_V2": 1, "WIDE": 1, "PDL": 1}
    script = _COMPILE_SCRIPT.replace('sass.count("HGMMA"), sass.count("HSET2")',
                                     'sass.count("PREEXIT"), sass.find("PREEXIT") - sass.index("ACQBULK")')
    cases = [[config | {"RELEASE": release}, 4, "fp16"] for release in (0, 1, 2)]
    results = sm90_results(script, cases)
    for release, (regs, stack, _, releases, after_wait) in zip((0, 1, 2), results, strict=True):
        assert stack == 0 and regs <= 255, (release, regs, stack)
        assert releases == (1 if release else 0), (release, releases)
        assert not release or after_wait > 0, (release, after_wait)


def test_every_candidate_compiles_for_sm90_without_spills():
    """Compiled for sm_90 here (ptxas ships with Triton), 16 tokens, 3- and 4-bit, fp16 and bf16: no register spills,
    and one wgmma per 16 columns of a K block and 64 one-hot rows (4 weight rows' 16 code values) a warpgroup (the
    K loop is not unrolled: its ring is indexed at run time)."""
    configs = bucket_wgmma_candidates(16, 4096, mma_v2=True)
    cases = [[c, 4, "fp16"] for c in configs] + [[configs[0], 3, "bf16"], [configs[3], 4, "bf16"]]
    for (config, _, _), (regs, stack, smem, hgmma, hset2) in zip(cases, sm90_results(_COMPILE_SCRIPT, cases),
                                                                strict=True):  # fmt: skip
        assert stack == 0 and regs <= 255, (config, regs, stack)
        assert smem <= 227 * 1024, (config, smem)
        per_block = config["BLOCK_K"] // 16 * config["ROWS"] // config["num_warps"]
        assert hgmma == (0 if config.get("MMA_V2") else per_block), (config, hgmma)
        assert hset2 > 0, config  # the one-hot by set.eq, not by a conversion pass


def test_every_wide_candidate_compiles_for_sm90_without_spills():
    """WIDE, 16 and 8 tokens, 4-bit fp16 and 3-bit bf16: no spills, and per K block and warp one set.eq per code
    value and byte the warp's 8 rows hold (BK / 8 bytes a lane, 16 or 8 code values), nothing more."""
    cases = [[c, 4, "fp16"] for c in bucket_wide_candidates(16, 4096) + bucket_wide_candidates(8, 4096)]
    cases += [[bucket_wide_candidates(16, 4096)[1], 3, "bf16"]]
    for (config, bits, _), (regs, stack, smem, _, hset2) in zip(cases, sm90_results(_COMPILE_SCRIPT, cases),
                                                               strict=True):  # fmt: skip
        assert stack == 0 and regs <= 255, (config, regs, stack)
        assert smem <= 227 * 1024, (config, smem)
        assert hset2 == config["BLOCK_K"] // 8 * (1 << bits), (config, hset2)  # the K loop is not unrolled


def test_every_level_split_candidate_compiles_for_sm90_at_2_over_p_set_eq_an_mma():
    """LEVEL_SPLIT p at 64 tokens (p = 2 in 32-token tiles, 4 in 64-token ones), fp16 and bf16: no spills, and per K
    block a lane's BK / 8 bytes each compared with 16 / p code values for 8 / p row tiles x 2p token tiles of MMAs a
    k-step: 2 / p set.eq an HMMA (the WIDE form: two at any tile). No other layout (3 bits, the wgmma MMA, 8 rows a
    warp, p = 3) takes it."""
    script = _COMPILE_SCRIPT.replace('sass.count("HGMMA")', 'sass.count("HMMA")')
    configs = bucket_level_split_candidates(64, 4096)
    assert {c["LEVEL_SPLIT"] for c in configs} == {2, 4} and not bucket_level_split_candidates(16, 4096)
    assert {c["LEVEL_SPLIT"] for c in bucket_level_split_candidates(32, 4096)} == {2}
    assert all(c["BLOCK_M"] == 16 * c["LEVEL_SPLIT"] for c in configs)
    cases = [[c, 4, "fp16"] for c in configs] + [[configs[0], 4, "bf16"], [configs[-1], 4, "bf16"]]
    for (config, _, _), (regs, stack, smem, hmma, hset2) in zip(cases, sm90_results(script, cases), strict=True):
        assert stack == 0 and regs <= 255 and smem <= 227 * 1024, (config, regs, stack, smem)
        p = config["LEVEL_SPLIT"]
        assert hset2 == config["BLOCK_K"] // 8 * 16 // p and hmma == config["BLOCK_K"], (config, hset2, hmma)
    for bad in ({"bits": 3}, {"mma_v2": False}, {"rows": 16}, {"level_split": 3}):
        args = {"num_warps": 2, "rows": 8, "block_m": 32, "block_k": 64, "mma_v2": True, "wide": True, "bits": 4,
                "level_split": 2} | bad  # fmt: skip
        with pytest.raises(ValueError, match="no bucket wgmma layout"):
            bucket_wgmma_layouts(**args)


def test_the_ops_tuning_offers_only_the_listed_level_split_configs_above_16_tokens_at_4_bits(monkeypatch):
    """Only what LEVEL_SPLIT_OP_CANDIDATES lists (as shipped: P = 2 alone), from 17 tokens (P = 2) or 33 (P = 4) up
    to WIDE_MAX_M, 4-bit only; none when it lists none."""
    import kernels.triton_bucket_wgmma as wgmma

    monkeypatch.setattr(wgmma, "bucket_wgmma_ok", lambda *args: True)
    x, codes, pool, _ = make_case(32, 64, 4096, 4, 1, 3, "random", torch.float16)
    offered = lambda m, bits=4: [c for c in bucket_wgmma_configs_for(x[:m], codes, pool, bits, m)  # noqa: E731
                                 if c.get("LEVEL_SPLIT")]  # fmt: skip
    assert {c["LEVEL_SPLIT"] for c in offered(32)} == {c["LEVEL_SPLIT"] for c in offered(64)} == {2}
    monkeypatch.setattr(wgmma, "LEVEL_SPLIT_OP_CANDIDATES", [])
    assert not offered(32) and not offered(64)
    listed = [wgmma.BUCKET_LEVEL_SPLIT_CANDIDATES[0], wgmma.BUCKET_LEVEL_SPLIT_CANDIDATES[-1]]  # P = 2 and 4
    monkeypatch.setattr(wgmma, "LEVEL_SPLIT_OP_CANDIDATES", listed)
    assert not offered(16) and not offered(32, bits=3)
    assert [c["LEVEL_SPLIT"] for c in offered(32)] == [2] and [c["LEVEL_SPLIT"] for c in offered(64)] == [2, 4]
    assert not offered(WIDE_MAX_M * 2)


def test_the_probe_forms_build_no_one_hot_and_are_never_candidates():
    """PROBE (benchmarks/bucket_probe.py: the kernel's time without its one-hot instructions, then without its split-K
    epilogue's atomics, then without the fold's LUT loads) compiles with no set.eq and no spills at every level, and
    no candidate list or op tuning offers it (its results are wrong by design)."""
    script = _COMPILE_SCRIPT.replace('sass.count("HGMMA")', 'sass.count("ATOMG") + sass.count("LDG")')
    configs = [{**bucket_wide_candidates(16, 4096)[-1], "PROBE": level} for level in (0, 1, 2, 3)]
    results = sm90_results(script, [[c, 4, "fp16"] for c in configs])
    (_, _, _, atomics_and_loads, hset2), *probes = results
    assert hset2 > 0
    for config, (regs, stack, _, _, hset2) in zip(configs[1:], probes, strict=True):
        assert hset2 == 0 and stack == 0, (config, regs, stack, hset2)
        assert not op_candidate(config)
    counts = [atomics_and_loads] + [p[3] for p in probes]
    assert counts[0] == counts[1] > counts[2] > counts[3], counts  # each level drops global traffic
    assert not any(c.get("PROBE") for c in bucket_wide_candidates(16, 4096) + bucket_wgmma_candidates(64, 4096))


def test_the_mma_rate_benchmark_loops_over_the_wide_block_mma_alone():
    """benchmarks/mma_rate.py's loop is the WIDE kernel's block MMA and nothing else of size: 256 HMMA a warp (16 m
    tiles x 2 n tiles x 16 k steps over 2 warps), no spills."""
    script = (
        "import json, os, sys; os.environ.pop('TRITON_INTERPRET', None); sys.path.insert(0, 'benchmarks'); "
        "import mma_rate; print(json.dumps(mma_rate.compile_sm90()))"
    )
    regs, stack, mix = sm90_results(script, None)
    assert stack == 0 and mix["HMMA"] == 256, (regs, mix)
    assert sum(mix.values()) - mix["HMMA"] < 16, mix


def test_every_shipped_wgmma_bucket_choice_is_a_candidate_the_op_times():
    """The H200's bucket choices that name this kernel are candidates the op's tuning times for their key's token
    tile: the wgmma form at 32 and 64 tokens (thirty-first session), the WIDE form at 8 and 16 (thirty-second) and,
    in 16-token tiles, at every 32-token key and four 64-token keys of gpr 4 (thirty-ninth); the LEVEL_SPLIT form in
    32-token tiles at every 32-token key and five 64-token ones (forty-first); at 32 tokens they
    compile for sm_90 without spills (at 64 the wgmma form's 16-row choices spill ~0.5 KB a thread under Triton 3.6,
    and still won every 64-token key by 1.4-2.0x: NOTES.md)."""
    tuned = Path(__file__).resolve().parents[2] / "kernels" / "tuned" / "NVIDIA_H200.v8.json"
    chosen = {k: c for k, c in json.loads(tuned.read_text()).items()
              if k.startswith("bucket|") and c.get("LAYOUT") == "wgmma"}  # fmt: skip
    wide = {k: c for k, c in chosen.items() if c.get("WIDE") and not c.get("LEVEL_SPLIT")}
    split = {k: c for k, c in chosen.items() if c.get("LEVEL_SPLIT")}
    assert len(chosen) - len(wide) - len(split) == 5 and len(wide) == 18 and len(split) == 13
    for key, config in chosen.items():
        m = int(key.split("|")[1].split(",")[0])
        assert op_candidate(config), key
        if config.get("LEVEL_SPLIT"):
            assert m <= WIDE_MAX_M and config in bucket_level_split_candidates(m, 1024), key
        elif config.get("WIDE"):
            assert m <= WIDE_MAX_M and config in bucket_wide_candidates(m, 1024), key
        else:
            assert m >= WGMMA_MIN_M and config in bucket_wgmma_candidates(m, 1024), key
    at_32 = [[c, 4, "fp16"] for c in {json.dumps(c, sort_keys=True): c for k, c in chosen.items()
                                      if k.startswith("bucket|32,")}.values()]  # fmt: skip
    for case, (regs, stack, *_) in zip(at_32, sm90_results(_COMPILE_SCRIPT, at_32), strict=True):
        assert stack == 0, (case, regs, stack)


CUDA_CASES = [  # (M tokens, distinct slots, N, K, gpr, bits, dtype, config overrides)
    (16, 16, 4096, 4096, 1, 4, torch.float16, {}),
    (16, 16, 4096, 4096, 4, 4, torch.float16, {}),  # folds at every group of 1,024 columns
    (5, 5, 200, 512, 2, 3, torch.bfloat16, {}),  # 3-bit: code values 8-15 of the one-hot never match
    (64, 13, 1000, 1024, 8, 4, torch.bfloat16, {}),  # ragged N, 64-token tiles
    (40, 16, 256, 2048, 1, 4, torch.float16, {"BLOCK_M": 16}),  # 3 token tiles, the last one partial
    (9, 9, 384, 192, 1, 4, torch.float16, {}),  # K of 3 or 6 blocks: little or no whole ring round
    (3, 3, 256, 512, 1, 4, torch.float16, {}),  # 3 tokens in the 8-token tile (the op's key for 1-8 rows on sm_90)
]


def assert_wgmma_candidates_match(case: int, extra: dict, mma_v2: bool = False, repeats: int = 2) -> None:
    """Every wgmma-form candidate of CUDA_CASES[case] (with mma_v2: the MMA_V2 ones only), with extra, launched
    repeats times against the reference (a split-K launch leaves its arrival counters at zero for the next)."""
    m, slots, n, k, gpr, bits, dtype, overrides = CUDA_CASES[case]
    x, codes, pool, slot_of_token = make_case(m, n, k, bits, gpr, slots, "random", dtype, seed=case)
    ref = lut_linear_reference(x, codes, pool, slot_of_token, bits)
    for config in bucket_wgmma_candidates(m, triton.cdiv(k, gpr), mma_v2=mma_v2):
        if mma_v2 and not config.get("MMA_V2"):
            continue
        for _ in range(repeats):
            y = torch.full((m, n), float("nan"), dtype=dtype, device="cuda")
            launch_bucket_wgmma(x, codes, pool, slot_of_token, bits, y, config | overrides | extra)
            assert rel_err(y, ref) < (3e-3 if dtype == torch.float16 else 1.5e-2), config
    assert not arrival_counters(x.device, 1).any()


@pytest.mark.skipif(not SM90, reason="the wgmma bucket kernel needs an sm_90 GPU")
@pytest.mark.parametrize("case", range(len(CUDA_CASES)))
def test_the_kernel_matches_the_reference_on_batches_of_many_slots(case):
    assert_wgmma_candidates_match(case, {})


@pytest.mark.skipif(not SM90, reason="the wgmma bucket kernel needs an sm_90 GPU")
@pytest.mark.parametrize("case", [0, 4, 5])
def test_the_wgmma_form_folding_in_its_loop_matches_the_reference(case):
    """ONE_FOLD off for the wgmma form (the fold at each group's last block, as before the thirty-eighth session):
    gpr 1, several token tiles, K of 3 or 6 blocks."""
    assert_wgmma_candidates_match(case, {"ONE_FOLD": 0}, repeats=1)


def test_the_op_offers_the_wide_form_up_to_64_tokens_and_the_wgmma_form_from_17_where_it_runs():
    x, codes, pool, _ = make_case(32, 64, 256, 4, 1, 4, "random", torch.float16)
    if not SM90:
        assert all(bucket_wgmma_configs_for(x, codes, pool, 4, m) == [] for m in (16, 32, 64, 128))
    else:
        at_16, at_32, at_64, at_128 = (bucket_wgmma_configs_for(x, codes, pool, 4, m) for m in (16, 32, 64, 128))
        assert at_16 and all(c["WIDE"] and c["BLOCK_M"] == 16 for c in at_16)
        for m, above_16 in ((32, at_32), (64, at_64)):
            # the WIDE form in tiles of 16 tokens; at 4 bits also the LEVEL_SPLIT configs the op lists (their own tiles)
            assert [c for c in above_16 if c.get("WIDE") and not c.get("LEVEL_SPLIT")] == at_16
            level_split = [c for c in above_16 if c.get("LEVEL_SPLIT")]
            assert level_split and level_split == [c for c in bucket_level_split_candidates(m, 256) if op_candidate(c)]
            assert any(not c.get("WIDE") and c["BLOCK_M"] == m for c in above_16)
        assert at_128 and not any(c.get("WIDE") for c in at_128)


def test_the_wide_form_takes_more_than_16_tokens_in_tiles_of_16():
    assert {c["BLOCK_M"] for c in bucket_wide_candidates(32, 4096)} == {16}
    assert {c["BLOCK_M"] for c in bucket_wide_candidates(64, 4096)} == {16}
    assert {c["BLOCK_M"] for c in bucket_wide_candidates(8, 4096)} == {8}
    assert bucket_wide_candidates(32, 4096) == bucket_wide_candidates(16, 4096)


def test_the_ops_wide_candidates_are_wide_candidates():
    assert sum(op_candidate(c) for c in bucket_wide_candidates(16, 4096)) == 10
    assert not any(op_candidate(c) for c in bucket_wgmma_candidates(16, 4096, mma_v2=True) if c.get("MMA_V2"))


def test_a_wgmma_choice_met_where_the_kernel_cannot_run_falls_back_to_the_default_bucket_config():
    """A tuned choice names the kernel by LAYOUT; on a call it cannot take (here: no sm_90 GPU, or an x without
    16-byte rows for TMA) launch_bucket runs the default bucket config instead, with the same result."""
    x, codes, pool, slots = make_case(20, 48, 128, 4, 2, 6, "random", torch.float16, seed=3)
    config = bucket_wgmma_candidates(20, 64)[0]
    y = torch.full((20, 48), float("nan"), dtype=x.dtype, device=x.device)
    x_odd = torch.empty(20, 130, dtype=x.dtype, device=x.device)[:, :128]  # rows of 260 bytes: not for TMA
    x_odd.copy_(x)
    launch_bucket(x_odd, codes, pool, slots, 4, y, config)
    assert rel_err(y, lut_linear_reference(x, codes, pool, slots, 4)) < 3e-3


@pytest.mark.skipif(not SM90, reason="the wgmma bucket kernel needs an sm_90 GPU")
def test_launch_bucket_routes_a_wgmma_choice_to_the_kernel():
    x, codes, pool, slots = make_case(40, 512, 1024, 4, 4, 16, "random", torch.float16, seed=4)
    config = bucket_wgmma_candidates(64, 256)[0]
    y = torch.full((40, 512), float("nan"), dtype=x.dtype, device="cuda")
    launch_bucket(x, codes, pool, slots, 4, y, config)
    assert rel_err(y, lut_linear_reference(x, codes, pool, slots, 4)) < 3e-3


@pytest.mark.skipif(not SM90, reason="the wgmma bucket kernel needs an sm_90 GPU")
@pytest.mark.parametrize("gpr", [1, 4])
def test_the_op_at_17_to_64_tokens_over_16_tasks_matches_the_reference_with_its_tuned_choice(gpr):
    """Through the op (the bucket class, its tuned or shipped choice for the 7B 4096x4096 key: on the H200 LEVEL_SPLIT
    P = 2 in 32-token tiles at 32 tokens and at 64 for gpr 4, the wgmma form at 64 for gpr 1): batches of 17, 32, 40
    and 64 rows."""
    for m in (17, 32, 40, 64):
        x, codes, pool, slots = make_case(m, 4096, 4096, 4, gpr, 16, "random", torch.float16, seed=m)
        y = lut_linear(x, codes, pool, slots, 4, gpr, num_tasks=16)
        assert rel_err(y, lut_linear_reference(x, codes, pool, slots, 4)) < 3e-3, m


@pytest.mark.skipif(not SM90, reason="the wgmma bucket kernel needs an sm_90 GPU")
@pytest.mark.parametrize("case", [0, 2, 4])
def test_the_mma_sync_form_matches_the_reference(case):
    """MMA_V2: the same one-hot A fragments to mma.sync, x's fragments by ldmatrix from the ring."""
    assert_wgmma_candidates_match(case, {}, mma_v2=True, repeats=1)


def assert_wide_candidates_match(case: int, extra: dict, splits: tuple = (), repeats: int = 1,
                                 x_written_before: bool = False) -> None:  # fmt: skip
    """Every WIDE candidate of CUDA_CASES[case], with extra and at its own split-K and each of splits, launched
    repeats times against the reference; x_written_before: a copy kernel writes x right before each launch (the
    kernel before, under PDL). The arrival counters are all back at zero after."""
    m, slots, n, k, gpr, bits, dtype, overrides = CUDA_CASES[case]
    x, codes, pool, slot_of_token = make_case(m, n, k, bits, gpr, slots, "random", dtype, seed=case)
    ref = lut_linear_reference(x, codes, pool, slot_of_token, bits)
    x_in = torch.zeros_like(x) if x_written_before else x
    for config in bucket_wide_candidates(m, triton.cdiv(k, gpr)):
        for split in {config.get("SPLIT_K", 1), *splits}:
            for _ in range(repeats):
                y = torch.full((m, n), float("nan"), dtype=dtype, device="cuda")
                if x_written_before:
                    x_in.zero_()
                    x_in.copy_(x)
                launch_bucket_wgmma(x_in, codes, pool, slot_of_token, bits, y,
                                    config | overrides | extra | {"SPLIT_K": split})  # fmt: skip
                assert rel_err(y, ref) < (3e-3 if dtype == torch.float16 else 1.5e-2), (config, split)
    assert not arrival_counters(x.device, 1).any()


@pytest.mark.skipif(not SM90, reason="the wgmma bucket kernel needs an sm_90 GPU")
@pytest.mark.parametrize("case", range(len(CUDA_CASES)))
def test_the_wide_form_matches_the_reference(case):
    """WIDE: 8 weight rows a warp, each lane's codes compared with every code value, the fold's sum over code values
    in each thread's registers; mma.sync and wgmma, split-K, 3 and 4 bits, ragged N, partial token tiles."""
    assert_wide_candidates_match(case, {}, repeats=2)


@pytest.mark.skipif(not SM90, reason="the wgmma bucket kernel needs an sm_90 GPU")
@pytest.mark.parametrize("case", range(len(CUDA_CASES)))
def test_the_wide_form_under_pdl_matches_the_reference(case):
    """A PDL launch (the codes requested before the wait for the previous kernel, x after it) changes no result:
    each candidate, at its own split-K and at 3 and 4, launched right after a kernel that writes x."""
    with pdl_scope():
        assert_wide_candidates_match(case, {}, splits=(3, 4), x_written_before=True)


LEVEL_SPLIT_CASES = [  # (M tokens, distinct slots, N, K, gpr, bits, dtype)
    (32, 16, 4096, 4096, 1, 4, torch.float16),
    (40, 16, 256, 2048, 1, 4, torch.float16),  # 2 token tiles, the last one of 8 tokens
    (64, 13, 1000, 1024, 8, 4, torch.bfloat16),  # ragged N, a fold at every group of 128 columns
    (20, 16, 512, 1024, 4, 4, torch.float16),  # a partial tile, folds at groups of 256 columns
]


@pytest.mark.skipif(not SM90, reason="the wgmma bucket kernel needs an sm_90 GPU")
@pytest.mark.parametrize("case", range(len(LEVEL_SPLIT_CASES)))
def test_the_level_split_form_matches_the_reference(case):
    """LEVEL_SPLIT (a row's code values over 2 or 4 lanes, 32- or 64-token tiles): every candidate at its own split-K
    in the first case; in the others every third at its own split-K and at 1 and 3, under PDL right after
    a kernel that writes x in the second (each variant is a compile of its own); the counters back at zero."""
    m, slots, n, k, gpr, bits, dtype = LEVEL_SPLIT_CASES[case]
    x, codes, pool, slot_of_token = make_case(m, n, k, bits, gpr, slots, "random", dtype, seed=40 + case)
    ref = lut_linear_reference(x, codes, pool, slot_of_token, bits)
    x_in = torch.zeros_like(x)
    configs = bucket_level_split_candidates(m, triton.cdiv(k, gpr))
    for config in configs if case == 0 else configs[::3]:
        for split in {config["SPLIT_K"]} if case == 0 else {config["SPLIT_K"], 1, 3}:
            for pdl in (False, True) if case == 1 else (False,):
                y = torch.full((m, n), float("nan"), dtype=dtype, device="cuda")
                x_in.zero_()
                x_in.copy_(x)
                with pdl_scope(pdl):
                    launch_bucket_wgmma(x_in, codes, pool, slot_of_token, bits, y, config | {"SPLIT_K": split})
                assert rel_err(y, ref) < (3e-3 if dtype == torch.float16 else 1.5e-2), (config, split, pdl)
    assert not arrival_counters(x.device, 1).any()


def test_the_pdl_wait_compiles_for_sm90_after_the_codes_requests_and_before_xs():
    """PDL: one grid-dependency wait (ACQBULK), after the ring's first codes TMA requests and before its first x
    request, without spills (the H200's 16-token 4096x4096 choice)."""
    config = {"LAYOUT": "wgmma", "BLOCK_M": 16, "ROWS": 16, "BLOCK_K": 256, "num_warps": 2, "num_stages": 2,
              "SPLIT_K": 4, "MMA_V2": 1, "WIDE": 1, "PDL": 1}
    script = _COMPILE_SCRIPT.replace('sass.count("HGMMA"), sass.count("HSET2")',
                                     'sass.count("ACQBULK"), sass.index("ACQBULK") - sass.index("UTMALDG")')
    cases = [[config, 4, "fp16"]]
    for regs, stack, _, waits, after_first_tma in sm90_results(script, cases):
        assert stack == 0 and regs <= 255, (regs, stack)
        assert waits == 1 and after_first_tma > 0, (waits, after_first_tma)
