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
    MERGED_SCALE,
    TWO_DIGIT_BASE,
    int8_digits,
    int8_digits_reference,
    int8_digits_value,
    int8_onehot_program,
    int8_onehot_table,
)
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
    assert abs(ppl["int8x2"] / ppl["float32"] - 1) < abs(ppl["int8"] / ppl["float32"] - 1) + 1e-6
    assert set(result["peak_max_over_rms"]) >= {"q_proj", "down_proj"}


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
