"""`sketchserve sketch` and `sketchserve eval-ppl` end to end on a tiny Hugging Face model directory."""

from __future__ import annotations

import json
import math

import pytest

from server.cli import main
from sketch.format import load_sketched_base
from tests.sketch.tiny_hf import save_tiny_hf_dir


@pytest.fixture(scope="module")
def hf_dir(tmp_path_factory):
    return save_tiny_hf_dir(tmp_path_factory.mktemp("hf"))


@pytest.fixture(scope="module")
def text_file(tmp_path_factory):
    f = tmp_path_factory.mktemp("data") / "calib.txt"
    f.write_text("The quick brown fox jumps over the lazy dog. " * 40)
    return f


def eval_ppl(capsys, model, data) -> dict:
    assert main(["eval-ppl", "--model", str(model), "--data", str(data), "--seq-len", "64", "--json"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    return json.loads(lines[-1])


def test_sketch_then_eval_ppl_measures_both_models_the_same_way(hf_dir, text_file, tmp_path, capsys):
    out = tmp_path / "sketch"
    argv = ["sketch", "--model", str(hf_dir), "--bits", "4", "--gpr", "2", "--calib", str(text_file),
            "--n-samples", "4", "--seq-len", "32", "--out", str(out), "--quiet"]
    assert main(argv) == 0
    assert "wrote" in capsys.readouterr().out
    base = load_sketched_base(out)
    assert (base.bits, base.gpr) == (4, 2)
    assert base.sketch_config["calibration"]["n_samples"] == 4
    assert (out / "tokenizer.json").exists() and (out / "config.json").exists()

    dense = eval_ppl(capsys, hf_dir, text_file)
    sketched = eval_ppl(capsys, out, text_file)
    assert dense["tokens"] == sketched["tokens"] > 0
    assert math.isfinite(sketched["ppl"]) and sketched["ppl"] > 1


def test_data_free_when_no_calibration_file(hf_dir, tmp_path):
    out = tmp_path / "sketch"
    argv = ["sketch", "--model", str(hf_dir), "--bits", "2", "--gpr", "1", "--n-samples", "2",
            "--seq-len", "16", "--out", str(out), "--quiet"]
    assert main(argv) == 0
    assert load_sketched_base(out).sketch_config["calibration"]["source"] == "data-free"


def test_naive_baseline_from_the_command_line(hf_dir, tmp_path):
    out = tmp_path / "naive"
    assert main(["sketch", "--model", str(hf_dir), "--method", "naive", "--out", str(out), "--quiet"]) == 0
    assert load_sketched_base(out).sketch_config["method"] == "naive"


def test_refuses_a_non_empty_output_directory(hf_dir, tmp_path, capsys):
    (tmp_path / "keep.txt").write_text("mine")
    assert main(["sketch", "--model", str(hf_dir), "--out", str(tmp_path), "--quiet"]) == 2
    assert "not empty" in capsys.readouterr().err


def test_unknown_model_path_is_an_error(tmp_path):
    from sketch.models import ModelSourceError

    with pytest.raises(ModelSourceError):
        main(["sketch", "--model", str(tmp_path / "missing"), "--out", str(tmp_path / "o"), "--quiet"])
