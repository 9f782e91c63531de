"""benchmarks/finetune_vs_lora.py stays runnable: its --smoke run (tiny random model, CPU) end to end."""

import json

import pytest

from tests.conftest import load_benchmark


@pytest.fixture(scope="module")
def bench():
    return load_benchmark("finetune_vs_lora")


def test_smoke_run_writes_every_method_with_the_same_steps(bench, tmp_path, tasks_dir):
    methods = "zero_shot,lora,lut_gpr4,lut_gpr1@1e-2"
    args = ["--smoke", "--methods", methods, "--out-dir", str(tmp_path), "--data-dir", str(tasks_dir)]
    assert bench.main(args) == 0
    report = json.loads((tmp_path / "finetune_vs_lora.json").read_text())
    assert (tmp_path / "finetune_vs_lora.png").stat().st_size > 0
    assert list(report["methods"]) == ["zero_shot", "lora", "lut_gpr1@1e-2", "lut_gpr4"]
    steps = report["setup"]["steps"]
    for name, r in report["methods"].items():
        assert r["test_rows"] == report["setup"]["test_rows"] and len(r["correct"]) == r["test_rows"]
        if name != "zero_shot":
            assert r["steps"] == steps and r["trainable_params"] > 0 and len(r["loss_curve"]) == steps
    assert report["methods"]["lut_gpr1@1e-2"]["lr"] == 1e-2
    assert "sketch_zero_shot" in report["methods"]["lut_gpr4"]
    assert report["best_by_eval_loss"]["lut_gpr4"] == "lut_gpr4"
    assert set(report["comparison"]) == {"lut_gpr4 - lora", "lut_gpr1@1e-2 - lora"}


def test_statistics_helpers(bench):
    assert bench.mcnemar_p("1100", "1100") == 1.0
    assert bench.mcnemar_p("1" * 12, "0" * 12) == pytest.approx(2 / 2**12)
    assert bench.balanced_accuracy([True, True, False], ["true", "true", "false"]) == 0.5  # always "true"
    assert bench.majority_rate(["true", "true", "false", "true"]) == 0.75
    lo, hi = bench.wilson_interval(625, 1000)
    assert lo == pytest.approx(0.594, abs=1e-3) and hi == pytest.approx(0.655, abs=1e-3)
