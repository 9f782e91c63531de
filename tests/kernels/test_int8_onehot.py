"""The int8 one-hot form measured in the forty-second session (benchmarks/onehot_loop_rate.py, int8_activation_ppl.py):
one prmt builds four int8 one-hot elements from four packed codes, x's per-token int8 digits round within their
step, the accuracy script runs end to end on a tiny model, and a lane-by-lane model of the planned int8 WIDE form's
fragments gives each token's LUT sum."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from kernels.packing import pack_codes
from kernels.prmt_lut import emulate
from kernels.reference import lut_linear_reference
from kernels.triton_bucket_int8 import (
    BASE_LEVELS,
    MERGED_SCALE,
    TWO_DIGIT_BASE,
    base_corrected_reference,
    base_lookup_program,
    base_tables,
    base_tables_value,
    int8_base_corr_config,
    int8_digits,
    int8_digits_reference,
    int8_digits_value,
    int8_onehot_program,
    int8_onehot_table,
    lo_sums_reference,
)
from kernels.triton_bucket_wgmma import one_fold
from tests.kernels.compiled_layouts import sm90_results

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCH))
import int8_activation_ppl  # noqa: E402


@pytest.mark.parametrize("c", range(16))
def test_one_prmt_gives_each_byte_one_where_its_code_is_c(c):
    lo, hi, flip = int8_onehot_table(c)  # the form onehot_loop_rate.py measured
    g = torch.Generator().manual_seed(c)
    for chunk in torch.randint(0, 1 << 16, (64,), generator=g).tolist() + [c * 0x1111, 0, 0xFFFF]:
        out = emulate([("xor", "s", "$1", flip), ("prmt", "$0", lo, hi, "s")], {"$1": chunk})["$0"]
        codes = [chunk >> 4 * i & 0xF for i in range(4)]
        assert [out >> 8 * i & 0xFF for i in range(4)] == [int(code == c) for code in codes], (c, hex(chunk))


def test_per_token_int8_digits_round_within_their_step():
    x = torch.randn(6, 512, generator=torch.Generator().manual_seed(0)) * torch.logspace(-2, 2, 6)[:, None]
    x[2, 7] = 300.0  # an outlier channel coarsens its token's step
    step = x.abs().amax(dim=-1, keepdim=True) / 127
    one, two = (int8_activation_ppl.round_per_token(x, m) for m in ("int8", "int8x2"))
    assert ((one - x).abs() <= step / 2 + 1e-6 * step).all()
    # the low digit's step is s / 256, its error half of that, or 1.5 of it where a residual near s / 2 is clamped
    # to the int8 range (127): int8_activation_ppl's form, as measured
    assert ((two - x).abs() <= 1.5 * step / 256 + 1e-6 * step).all()
    assert (two - x).abs().mean() < (one - x).abs().mean() / 100
    assert torch.equal(int8_activation_ppl.round_per_token(x, "float32"), x)
    assert ((one / step).round() - one / step).abs().max() < 1e-3  # whole steps
    with pytest.raises(ValueError):
        int8_activation_ppl.round_per_token(x, "int4")


def test_the_accuracy_script_scores_every_mode_on_a_tiny_model(tmp_path):
    done = subprocess.run([sys.executable, str(BENCH / "int8_activation_ppl.py"), "--tiny", "--eval-tokens", "512",
                           "--window", "128", "--out", str(tmp_path)], capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads((tmp_path / "int8_activation_ppl_tiny.json").read_text())
    ppl = {row["mode"]: row["ppl"] for row in result["modes"]}
    assert list(ppl) == list(int8_activation_ppl.MODES)
    gap = {mode: abs(value / ppl["float32"] - 1) for mode, value in ppl.items()}
    assert gap["int8x2"] < gap["int8"] + 1e-6
    assert gap["int8base"] < 1e-4  # no task LUT: the remainder goes through the model's own LUT, exactly
    assert gap["int8kernel"] < gap["int8"] / 10  # the kernel's form: a second digit, the base LUT in 7-bit levels
    assert set(result["peak_max_over_rms"]) >= {"q_proj", "down_proj"}


def test_the_accuracy_script_applies_a_task_lut_and_reports_how_far_it_moves_the_weights(tmp_path):
    """--lut: a task LUT of the tiny base (its LUTs scaled by 1 + 2 % noise) over the model; the script reports
    ||W_task - W_base|| / ||W_base|| (~2 %), and int8base's error is then (W_task - W_base) r: far below one
    digit's."""
    from sketch.synthetic import llama_config, random_sketched_base, random_task_luts
    from sketch.task_lut import TaskLut, save_task_lut

    base = random_sketched_base(llama_config(vocab_size=256, max_position_embeddings=1024), bits=4, gpr=2, seed=0)
    luts = random_task_luts(base, seed=3, scale=0.02)
    save_task_lut(TaskLut("near", luts, base.fingerprint, base.bits, base.gpr), tmp_path / "near.safetensors")
    done = subprocess.run([sys.executable, str(BENCH / "int8_activation_ppl.py"), "--tiny", "--eval-tokens", "512",
                           "--window", "128", "--out", str(tmp_path), "--lut", str(tmp_path / "near.safetensors"),
                           "--modes", "float32,int8,int8base,int8kernel"], capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads((tmp_path / "int8_activation_ppl_tiny_near.json").read_text())
    assert 0.01 < result["task_lut"]["relative_delta"] < 0.03
    gap = {row["mode"]: abs(row["ppl"] / result["modes"][0]["ppl"] - 1) for row in result["modes"]}
    assert gap["int8base"] < gap["int8"] / 10 and gap["int8kernel"] < gap["int8"] / 10


def int8_fragment_model(codes: np.ndarray, digits: np.ndarray, scale: np.ndarray, lut: np.ndarray) -> tuple:
    """numpy model, lane by lane, of the int8 WIDE form that NOTES.md (forty-second session, "Next device session"
    item 4) plans: one warp, its 8 weight rows (lane 4g + t: weight row g), 16 tokens, K in k32 steps. Each m16 tile j
    holds code values 2j (rows g) and 2j + 1 (rows g + 8); a lane's A registers come from two 16-bit chunks of its
    row's packed codes (k 4t.. and 16 + 4t.., as prmt selectors) through one prmt each (int8_onehot_program); x's two
    int8 digits are B (a 32-bit word of 4 k of one token); the int32 sums fold in each lane with its tokens' LUTs
    and scales. PTX's m16n8k32 .s8 fragments: A a_i row g (+ 8 for i in 4-7, 12-15), column 4t + i % 4 (+ 16 for
    i >= 8); B b_i row 4t + i % 4 (+ 16 for i >= 4), column g; C c_i row g (+ 8 for i >= 2), column 2t + i % 2.
    codes [8, K] (4-bit), digits [2, 16, K] int8 (hi, lo), scale [16], lut [16, 8, 16] (each token's own) ->
    (the one-hot A of every step and tile [K / 32, 8, 16, 32], y [8, 16])."""
    rows, k = codes.shape
    words = pack_codes(torch.from_numpy(codes), 4).view(torch.int32).numpy().astype(np.int64) & 0xFFFFFFFF
    steps = k // 32
    a_all = np.zeros((steps, 8, 16, 32), dtype=np.int64)
    acc = np.zeros((8, 2, 2, 16, 8), dtype=np.int64)  # [tile, token tile, digit, C row, C column]
    for s in range(steps):
        for lane in range(32):
            g, t = divmod(lane, 4)
            chunks = [int(words[g, 4 * s + 2 * half + t // 2]) >> 16 * (t % 2) & 0xFFFF for half in (0, 1)]
            outs = [emulate(int8_onehot_program(), {"$16": chunk}) for chunk in chunks]  # the kernel's asm
            for j in range(8):
                regs = [outs[half][f"${c}"] for half in (0, 1) for c in (2 * j, 2 * j + 1)]  # a0 .. a3
                for i in range(16):
                    row = g + 8 * (i // 4 % 2)
                    col = 4 * t + i % 4 + 16 * (i >= 8)
                    a_all[s, j, row, col] = regs[i // 4] >> 8 * (i % 4) & 0xFF
        for tt in range(2):
            for d in range(2):
                b = np.zeros((32, 8), dtype=np.int64)
                for lane in range(32):
                    g, t = divmod(lane, 4)
                    word = digits[d, 8 * tt + g, 32 * s + 4 * t: 32 * s + 4 * t + 4], digits[
                        d, 8 * tt + g, 32 * s + 16 + 4 * t: 32 * s + 16 + 4 * t + 4]  # b0..b3, b4..b7: 2 words
                    for i in range(8):
                        b[4 * t + i % 4 + 16 * (i >= 4), g] = word[i // 4][i % 4]
                for j in range(8):
                    acc[j, tt, d] += a_all[s, j] @ b
    y = np.zeros((rows, 16))
    for lane in range(32):  # the fold, in each lane: its weight row g, its tokens 2t, 2t + 1 of each token tile
        g, t = divmod(lane, 4)
        for tt, i, h, j in np.ndindex(2, 2, 2, 8):
            tok = 8 * tt + 2 * t + i
            sums = acc[j, tt, 0, g + 8 * h, 2 * t + i] + acc[j, tt, 1, g + 8 * h, 2 * t + i] / 256
            y[g, tok] += lut[tok, g, 2 * j + h] * scale[tok] * sums
    return a_all, y


def test_the_int8_fragments_build_the_one_hot_and_fold_each_tokens_lut_sum():
    """The int8 WIDE form's index algebra before any kernel: every tile's A is exactly the one-hot of its two code
    values, and the folded sums equal each token's LUT sum over x as its two digits give it (8 rows, K 64, 16
    tokens of 16 different LUTs)."""
    rng = np.random.default_rng(42)
    codes = rng.integers(0, 16, (8, 64))
    x = torch.from_numpy(rng.standard_normal((16, 64)) * np.logspace(-1, 1, 16)[:, None])
    step = x.abs().amax(dim=-1, keepdim=True) / 127
    hi = torch.round(x / step).clamp(-127, 127)
    lo = torch.round((x - hi * step) / (step / 256)).clamp(-128, 127)
    digits = torch.stack([hi, lo]).numpy().astype(np.int64)
    lut = rng.standard_normal((16, 8, 16))
    a_all, y = int8_fragment_model(codes, digits, step[:, 0].numpy(), lut)
    for s, j in np.ndindex(2, 8):
        for h in range(2):
            np.testing.assert_array_equal(a_all[s, j, 8 * h: 8 * h + 8], codes[:, 32 * s: 32 * s + 32] == 2 * j + h)
    xq = int8_activation_ppl.round_per_token(x, "int8x2").numpy()
    want = np.einsum("trk,tk->rt", np.take_along_axis(lut, np.broadcast_to(codes, (16, 8, 64)), 2), xq)
    np.testing.assert_allclose(y, want, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("value", [1, MERGED_SCALE])
def test_the_kernels_one_hot_program_is_the_table_for_every_code_value(value):
    """kernels/triton_bucket_int8.py's asm, as an emulator program: output c holds code value c's one-hot bytes (1,
    or MERGED_SCALE for the merged form's high digit)."""
    program = int8_onehot_program(value)
    chunks = torch.randint(0, 1 << 16, (200,), generator=torch.Generator().manual_seed(5)).tolist()
    for chunk in chunks + [0, 0xFFFF, 0x8888, 0x7777]:
        regs = emulate(program, {"$16": chunk})
        codes = [chunk >> 4 * i & 0xF for i in range(4)]
        for c in range(16):
            assert [regs[f"${c}"] >> 8 * i & 0xFF for i in range(4)] == [value * (code == c) for code in codes]


def test_the_base_tables_hold_each_row_groups_lut_in_7_bit_levels():
    lut = torch.randn(5, 3, 16, generator=torch.Generator().manual_seed(2)) * torch.logspace(-3, 1, 5)[:, None, None]
    lut[4, 1] = 0.25  # a constant row group
    words, scale, low = base_tables(lut)
    assert words.shape == (5, 3, 4) and words.dtype == torch.int32 and scale.shape == low.shape == (5, 3)
    levels = words.view(torch.uint8)
    assert int(levels.max()) <= BASE_LEVELS  # non-negative int8: prmt's sign bytes are 0
    rebuilt = base_tables_value(words, scale, low)
    span = (lut.amax(-1) - lut.amin(-1))[..., None]
    assert ((rebuilt - lut).abs() <= span / (2 * BASE_LEVELS) + 1e-6 * lut.abs()).all()
    assert torch.allclose(rebuilt[4, 1], lut[4, 1])


def test_the_base_lookup_gives_each_codes_level_from_the_rows_table():
    """base_lookup_program (BASE_CORR's asm) on the emulator: byte i of the result = the level of code i, for random
    tables of levels 0-127 and random chunks, every code value included."""
    program = base_lookup_program()
    g = torch.Generator().manual_seed(7)
    for _ in range(100):
        levels = torch.randint(0, BASE_LEVELS + 1, (16,), generator=g)
        words = levels.to(torch.uint8).view(torch.int32).tolist()
        table = {f"${2 + j}": words[j] & 0xFFFFFFFF for j in range(4)}
        for chunk in torch.randint(0, 1 << 16, (20,), generator=g).tolist() + [0x0123, 0x4567, 0x89AB, 0xCDEF]:
            out = emulate(program, {"$1": chunk, **table})["$0"]
            codes = [chunk >> 4 * i & 0xF for i in range(4)]
            assert [out >> 8 * i & 0xFF for i in range(4)] == [int(levels[c]) for c in codes], hex(chunk)


def test_the_digits_kernel_sums_the_low_digit_every_32_columns():
    """int8_digits(sums=True): lo's prefix sums a 32 columns (BASE_CORR's sum of lo over a program's K range), at
    a K that is not a multiple of 32 and one that is, and the 7B's down_proj K (digits_block: its whole row, 16,384
    columns with 5,376 masked, in one step)."""
    for k in (300, 1024, 11008):
        x = (torch.randn(3, k, generator=torch.Generator().manual_seed(k)) * 3).half().to(DEVICE)
        hi, lo, step, sums = int8_digits(x, sums=True)
        assert sums.shape == (3, -(-k // 32) + 1)
        torch.testing.assert_close(sums.cpu(), lo_sums_reference(lo.cpu()))
        assert torch.equal(sums[:, -1].cpu(), lo.int().sum(dim=1).cpu())


def test_a_one_hot_byte_must_be_a_positive_int8():
    for value in (0, 128, -1):
        with pytest.raises(ValueError):
            int8_onehot_program(value)


@pytest.mark.parametrize("base", [TWO_DIGIT_BASE, MERGED_SCALE])
def test_int8_digits_match_their_reference(base):
    """int8_digits (a Triton kernel; the interpreter on the CPU) against int8_digits_reference, at an odd K and with
    a zero row; the digits rebuild x within the low digit's step. On a GPU the kernel's division is not IEEE's, so
    a value on a rounding boundary may take the next digit: nearly all digits equal, the rebuild bound for all. The
    merged form's low digit (base 127) stays within +-64, so 127 hi + lo never leaves the int32 sums' range."""
    x = torch.randn(5, 300, generator=torch.Generator().manual_seed(1)) * torch.tensor([0.01, 1, 30, 1, 0])[:, None]
    x = x.half().to(DEVICE)
    hi, lo, step = int8_digits(x, base)
    want_hi, want_lo, want_step = int8_digits_reference(x, base)
    same = (hi == want_hi) & (lo == want_lo)
    assert same.all() if DEVICE == "cpu" else same.float().mean() > 0.99
    torch.testing.assert_close(step.cpu(), want_step.cpu())
    rebuilt = int8_digits_value(hi, lo, step, base)
    assert ((rebuilt - x.float()).abs() <= 1.5 * step[:, None] / base + 1e-12).all()
    assert hi.stride(0) % 16 == 0 and hi.stride(1) == 1  # rows TMA can read
    if base == MERGED_SCALE:
        assert lo.abs().max() <= 65


def test_the_int8_kernel_compiles_for_sm90_at_one_prmt_and_one_imma_a_one_hot_register():
    """Per K block of BK columns a lane builds BK / 32 x 32 one-hot registers (one prmt each) for BK / 32 x 8 tiles x
    2 token tiles x 2 digits IMMAs: one prmt an IMMA (the fp16 WIDE form: two set.eq an HMMA); no spills."""
    script = (
        "import json, os, sys; os.environ.pop('TRITON_INTERPRET', None); sys.path.insert(0, 'benchmarks')\n"
        "from bench_kernels import compile_bucket_int8_sm90, _inner_loop_mix\n"
        "regs, stack, smem, sass = compile_bucket_int8_sm90(2, 128, 3, True)\n"
        "mix = _inner_loop_mix(sass, anchor=('IMMA',), top=None)[1]\n"
        "print(json.dumps([int(regs), int(stack), int(smem), mix.get('IMMA', 0), mix.get('PRMT', 0)]))"
    )
    regs, stack, smem, imma, prmt = sm90_results(script, None)
    assert stack == 0 and regs <= 255 and smem <= 227 * 1024, (regs, stack, smem)
    assert imma == prmt == 128


def test_the_merged_int8_kernel_compiles_for_sm90_with_one_accumulator():
    """MERGED: a second prmt per one-hot register (the high digit's, value 127), the same IMMAs, and half the
    accumulator registers (64 int32 a thread fewer than the two-accumulator form)."""
    script = (
        "import json, os, sys; os.environ.pop('TRITON_INTERPRET', None); sys.path.insert(0, 'benchmarks')\n"
        "from bench_kernels import compile_bucket_int8_sm90, _inner_loop_mix\n"
        "out = []\n"
        "for merged in (False, True):\n"
        "    regs, stack, smem, sass = compile_bucket_int8_sm90(2, 128, 3, True, merged)\n"
        "    mix = _inner_loop_mix(sass, anchor=('IMMA',), top=None)[1]\n"
        "    out.append([int(regs), int(stack), mix.get('IMMA', 0), mix.get('PRMT', 0)])\n"
        "print(json.dumps(out))"
    )
    (regs2, stack2, imma2, prmt2), (regs1, stack1, imma1, prmt1) = sm90_results(script, None)
    assert stack1 == stack2 == 0
    assert imma1 == imma2 == 128 and prmt1 == 2 * prmt2 == 256
    assert regs1 <= regs2 - 32, (regs1, regs2)


def test_the_base_corrected_int8_kernel_compiles_for_sm90_at_one_imma_a_one_hot_and_an_eighth_more():
    """BASE_CORR: the one-hot's IMMAs for the high digit alone (half the two-digit form's 128 a 128-column block)
    plus the correction's (a quarter of a warp's m16 tiles' worth: its 8 rows and 8 zero rows, 2 token tiles, 4
    32-column chunks = 8), its table lookups 2 prmt a correction register; no spills."""
    script = (
        "import json, os, sys; os.environ.pop('TRITON_INTERPRET', None); sys.path.insert(0, 'benchmarks')\n"
        "from bench_kernels import compile_bucket_int8_sm90, _inner_loop_mix\n"
        "regs, stack, smem, sass = compile_bucket_int8_sm90(2, 128, 3, True, False, True)\n"
        "mix = _inner_loop_mix(sass, anchor=('IMMA',), top=None)[1]\n"
        "print(json.dumps([int(regs), int(stack), mix.get('IMMA', 0), mix.get('PRMT', 0)]))"
    )
    regs, stack, imma, prmt = sm90_results(script, None)
    assert stack == 0 and regs <= 168, (regs, stack)
    assert imma == 64 + 8 and prmt == 128 + 16, (imma, prmt)


def test_the_int8_kernels_pdl_form_waits_after_the_codes_requests_and_before_the_digits():
    """PDL (BASE_CORR, 3 stages): one grid-dependency wait (ACQBULK) with only the ring's first 2 codes TMA requests
    before it (the digits kernel writes the digits and the steps); no spills; without PDL no wait."""
    script = (
        "import json, os, sys; os.environ.pop('TRITON_INTERPRET', None); sys.path.insert(0, 'benchmarks')\n"
        "from bench_kernels import compile_bucket_int8_sm90\n"
        "out = []\n"
        "for pdl in (False, True):\n"
        "    regs, stack, smem, sass = compile_bucket_int8_sm90(2, 256, 3, True, False, True, pdl)\n"
        "    wait = sass.find('ACQBULK')\n"
        "    out.append([int(regs), int(stack), sass.count('ACQBULK'), sass[:wait].count('UTMALDG') if wait >= 0 "
        "else -1, sass.count('UTMALDG')])\n"
        "print(json.dumps(out))"
    )
    (regs0, stack0, waits0, _, tma0), (regs1, stack1, waits1, before, tma1) = sm90_results(script, None)
    assert stack0 == stack1 == 0 and regs1 <= 168
    assert waits0 == 0 and waits1 == 1
    assert before == 2 and tma1 == tma0  # the codes' 2 prologue requests; the same requests in all


@pytest.mark.parametrize("n, k, gpr, want", [
    (4096, 4096, 1, (256, 2)), (11008, 4096, 1, (256, 2)), (4096, 11008, 1, (256, 2)),  # K = 43 x 256
    (4096, 4096, 4, (128, 4)), (4096, 11008, 4, (64, 4)),  # groups of 1,024 and 2,752 columns: 8 and 43 steps
    (4096, 4096, 8, (64, 8)),  # groups of 512 columns: 8 steps of 64, not 4 of 128
    (576, 576, 4, None),  # groups of 144 columns: no BLOCK_K of 64 or more divides them
    (64, 160, 1, None),  # 160 columns: 32 would, but BLOCK_K 32 has not run on a GPU
])
def test_the_ops_int8_config_has_every_k_range_in_one_lut_group(n, k, gpr, want):
    """int8_base_corr_config: the smallest split whose K ranges each lie in one LUT group, and the largest BLOCK_K
    that gives a range 8 steps (256 and split 2 at gpr 1, the measured best there; 128 and split 4 at gpr 4); none
    where no BLOCK_K of 64, 128 or 256 divides the group. Served with PDL."""
    config = int8_base_corr_config(n, k, gpr)
    if want is None:
        assert config is None
        return
    assert (config["BLOCK_K"], config["SPLIT_K"]) == want and config["BASE_CORR"] == config["PDL"] == 1
    k_blocks = k // config["BLOCK_K"]
    assert one_fold(k_blocks, k // gpr // config["BLOCK_K"], -(-k_blocks // config["SPLIT_K"]))


@pytest.mark.skipif(not torch.cuda.is_available() or torch.cuda.get_device_capability() < (9, 0),
                    reason="the int8 bucket kernel needs an sm_90 GPU")  # fmt: skip
@pytest.mark.parametrize("config", [{"num_warps": 2, "BLOCK_K": 128, "num_stages": 3, "SPLIT_K": 4},
                                    {"num_warps": 1, "BLOCK_K": 256, "num_stages": 2, "SPLIT_K": 1},
                                    {"num_warps": 4, "BLOCK_K": 64, "num_stages": 4, "SPLIT_K": 2},
                                    {"num_warps": 2, "BLOCK_K": 128, "num_stages": 4, "SPLIT_K": 2, "MERGED": 1},
                                    {"num_warps": 4, "BLOCK_K": 64, "num_stages": 3, "SPLIT_K": 1, "MERGED": 1}])
def test_the_int8_kernel_gives_the_reference_on_x_as_its_digits_give_it(config):
    """16 tokens of 16 slots (and 11 tokens: a partial tile), 4-bit gpr 1, fp16, both forms: y against the reference
    op on x rebuilt from its digits (the kernel's only rounding besides fp16's)."""
    from kernels.triton_bucket_int8 import launch_bucket_int8
    from tests.kernels.test_triton_forward import make_case, rel_err

    for m in (16, 11):
        x, codes, pool, slots = make_case(m, 96, 1024, 4, 1, 16, "random", torch.float16)  # packed, on the GPU
        y = torch.full((m, 96), float("nan"), dtype=torch.float16, device="cuda")
        launch_bucket_int8(x, codes, pool, slots, y, config)
        base = MERGED_SCALE if config.get("MERGED") else TWO_DIGIT_BASE
        hi, lo, step = int8_digits_reference(x, base)
        xq = int8_digits_value(hi, lo, step, base).half()
        assert rel_err(y, lut_linear_reference(xq, codes, pool, slots, 4)) < 3e-3, (config, m)


@pytest.mark.skipif(not torch.cuda.is_available() or torch.cuda.get_device_capability() < (9, 0),
                    reason="the int8 bucket kernel needs an sm_90 GPU")  # fmt: skip
@pytest.mark.parametrize("config", [{"num_warps": 2, "BLOCK_K": 128, "num_stages": 3, "SPLIT_K": 4},
                                    {"num_warps": 1, "BLOCK_K": 256, "num_stages": 2, "SPLIT_K": 1},
                                    {"num_warps": 4, "BLOCK_K": 64, "num_stages": 4, "SPLIT_K": 2}])
@pytest.mark.parametrize("gpr", [1, 4])
def test_the_base_corrected_int8_kernel_gives_its_reference(config, gpr):
    """BASE_CORR, 16 tokens of 16 slots (and 11: a partial tile), fp16: y against base_corrected_reference (one digit
    through each token's LUT, the remainder through the base's tables); and against the exact op with the base LUT
    in every slot, where the correction is exact but for the tables' 7-bit levels."""
    from kernels.triton_bucket_int8 import launch_bucket_int8
    from tests.kernels.test_triton_forward import make_case, rel_err

    config = {**config, "BASE_CORR": 1}
    if gpr == 4:
        config["SPLIT_K"] = 4  # each program's K range in one LUT group
    for m in (16, 11):
        x, codes, pool, slots = make_case(m, 96, 1024, 4, gpr, 16, "random", torch.float16)  # packed, on the GPU
        tables = base_tables(pool[3])
        y = torch.full((m, 96), float("nan"), dtype=torch.float16, device="cuda")
        launch_bucket_int8(x, codes, pool, slots, y, config, base=tables)
        assert rel_err(y, base_corrected_reference(x, codes, pool, slots, tables)) < 3e-3, (config, m)
        same = torch.full_like(slots, 3)
        launch_bucket_int8(x, codes, pool, same, y, config, base=tables)
        assert rel_err(y, lut_linear_reference(x, codes, pool, same, 4)) < 5e-3, (config, m)


@pytest.mark.skipif(not torch.cuda.is_available() or torch.cuda.get_device_capability() < (9, 0),
                    reason="the int8 bucket kernel needs an sm_90 GPU")  # fmt: skip
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_the_op_takes_the_int8_kernel_for_9_to_16_rows_over_many_tasks_given_the_base_tables(dtype):
    """triton_ops.lut_linear_forward with int8_base: 16 and 12 rows over their own tasks give BASE_CORR's result;
    8 rows, and 16 rows without int8_base, the exact one (fp16 and bf16 activations and LUTs)."""
    from kernels.triton_ops import lut_linear_forward
    from tests.kernels.test_triton_forward import make_case, rel_err

    x, codes, pool, slots = make_case(16, 256, 1024, 4, 1, 16, "random", dtype)
    tables = base_tables(pool[0])
    exact = lut_linear_reference(x, codes, pool, slots, 4)
    tol = 3e-3 if dtype == torch.float16 else 1e-2  # bf16's own rounding
    for m in (16, 12):
        y = lut_linear_forward(x[:m], codes, pool, slots[:m], 4, num_tasks=16, int8_base=tables)
        want = base_corrected_reference(x[:m], codes, pool, slots[:m], tables)
        assert rel_err(y, want) < tol, m
        if dtype == torch.float16:  # random task LUTs are far from the base: the mode's own error shows
            assert rel_err(y, exact[:m]) > 3e-3, m
    y = lut_linear_forward(x[:8], codes, pool, slots[:8], 4, num_tasks=8, int8_base=tables)
    assert rel_err(y, exact[:8]) < tol
    assert rel_err(lut_linear_forward(x, codes, pool, slots, 4, num_tasks=16), exact) < tol


@pytest.mark.skipif(not torch.cuda.is_available() or torch.cuda.get_device_capability() < (9, 0),
                    reason="the int8 bucket kernel needs an sm_90 GPU")  # fmt: skip
def test_the_int8_kernels_pdl_launches_give_its_results(monkeypatch):
    """BASE_CORR with PDL (the digits kernel and the int8 kernel each launched with it, three calls back to back, each
    writing a new y) equals the launch without PDL."""
    from kernels import triton_common
    from kernels.triton_bucket_int8 import launch_bucket_int8
    from kernels.triton_common import pdl_enabled, pdl_scope
    from tests.kernels.test_triton_forward import make_case, rel_err

    monkeypatch.setenv("SKETCHSERVE_PDL", "1")
    monkeypatch.setattr(triton_common, "_PDL", {})
    x, codes, pool, slots = make_case(16, 256, 2048, 4, 1, 16, "random", torch.float16)
    tables = base_tables(pool[0])
    config = {"num_warps": 2, "BLOCK_K": 256, "num_stages": 3, "SPLIT_K": 2, "BASE_CORR": 1}
    want = torch.empty(16, 256, dtype=torch.float16, device="cuda")
    launch_bucket_int8(x, codes, pool, slots, want, config, base=tables)
    ys = [torch.full_like(want, float("nan")) for _ in range(3)]
    with pdl_scope():
        assert pdl_enabled(x.device)
        for y in ys:
            launch_bucket_int8(x, codes, pool, slots, y, {**config, "PDL": 1}, base=tables)
    for y in ys:  # (the split-K sums may add in another order)
        assert rel_err(y, want) < 1e-3
