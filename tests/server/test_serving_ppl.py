"""The served model is the sketched model: perplexity through the engine's prompt scoring (benchmarks/serving_ppl.py)
equals the offline transformers LUT model's on the same tokens, up to float rounding."""

import json

import pytest

from tests.conftest import load_benchmark


@pytest.fixture(scope="module")
def bench():
    return load_benchmark("serving_ppl")


def test_served_perplexity_equals_the_offline_lut_models(bench, tmp_path):
    out = bench.main(["--tiny", "--eval-tokens", "600", "--window", "128", "--out", str(tmp_path)])
    served = {s["form"]: s for s in out["served"]}
    assert out["tokens"]["count"] == 600 and served["float32"]["tokens"] == 600 - 5  # 5 windows, each first unscored
    assert abs(served["float32"]["relative_gap"]) < 1e-5  # the same model, float32 on both sides
    assert abs(served["bfloat16"]["relative_gap"]) < 1e-2  # bf16 weights round
    assert abs(served["int8"]["relative_gap"]) < 2e-2  # int8 weights (a scale per row) round more
    assert json.loads((tmp_path / "serving_ppl_tiny.json").read_text())["offline"] == out["offline"]
    assert (tmp_path / "serving_ppl_tiny.png").stat().st_size > 0


def test_windows_prefilled_in_chunks_score_the_same(bench, tmp_path):
    """A token budget below the window: each window's later chunks attend to its cached rows (the masked prefill)."""
    out = bench.main(["--tiny", "--eval-tokens", "300", "--window", "128", "--token-budget", "48",
                      "--cpu-weight-dtypes", "float32", "--out", str(tmp_path)])  # fmt: skip
    assert out["tokens"]["token_budget"] == 48
    assert abs(out["served"][0]["relative_gap"]) < 1e-5
