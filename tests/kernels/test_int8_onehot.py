"""The int8 one-hot form measured in the forty-second session (benchmarks/onehot_loop_rate.py, int8_activation_ppl.py):
one prmt builds four int8 one-hot elements from four packed codes, x's per-token int8 digits round within their
step, and the accuracy script runs end to end on a tiny model."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from kernels.prmt_lut import emulate

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCH))
import int8_activation_ppl  # noqa: E402
import onehot_loop_rate  # noqa: E402


@pytest.mark.parametrize("c", range(16))
def test_one_prmt_gives_each_byte_one_where_its_code_is_c(c):
    lo, hi, flip = onehot_loop_rate.int8_onehot_table(c)
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
