"""`sketchserve finetune` then `sketchserve eval --json`, end to end on a tiny sketched base."""

import json
import subprocess
import sys

import pytest
import torch

from server.cli import main
from sketch.task_lut import load_task_lut
from tests.conftest import REPO_ROOT
from tests.sketch.tiny_llm import CHAT_TEMPLATE, write_tiny_base


@pytest.fixture
def task_files(tmp_path, tasks_dir):
    train = json.loads((tasks_dir / "boolq_train.json").read_text())[:20]
    test = json.loads((tasks_dir / "boolq_test.json").read_text())[:6]
    (tmp_path / "train.json").write_text(json.dumps(train))
    (tmp_path / "test.json").write_text(json.dumps(test))
    return tmp_path / "train.json", tmp_path / "test.json"


def test_finetune_then_eval_json(tmp_path, task_files, capsys):
    base_dir = write_tiny_base(tmp_path / "base", gpr=2, chat_template=CHAT_TEMPLATE)
    train, test = task_files
    out = tmp_path / "boolq.safetensors"
    rc = main(
        [
            "finetune",
            "--base",
            str(base_dir),
            "--data",
            str(train),
            "--task",
            "boolq",
            "--out",
            str(out),
            "--max-steps",
            "6",
            "--lr",
            "3e-3",
            "--batch-size",
            "4",
            "--max-length",
            "256",
            "--warmup",
            "1",
            "--schedule",
            "linear",
            "--seed",
            "1",
            "--eval-split",
            "0.2",
            "--quiet",
        ]
    )
    assert rc == 0
    assert f"wrote {out}" in capsys.readouterr().out
    from sketch.format import load_sketched_base

    task_lut = load_task_lut(out, load_sketched_base(base_dir).spec())
    assert task_lut.task == "boolq" and task_lut.dtype == torch.float16
    t = task_lut.training
    assert t["steps"] == 6 and t["train_examples"] == 16 and t["eval_examples"] == 4
    assert t["data_file"] == "train.json" and len(t["data_sha256"]) == 64
    assert t["config"]["schedule"] == "linear" and t["config"]["warmup_steps"] == 1

    scores = {}
    for label, extra in (("base", []), ("task", ["--lut", str(out)])):
        rc = main(["eval", "--base", str(base_dir), "--data", str(test), "--limit", "4", "--json", *extra])
        assert rc == 0
        lines = capsys.readouterr().out.splitlines()
        assert len(lines) == 1, lines  # --json prints exactly one line
        scores[label] = json.loads(lines[0])
        assert set(scores[label]) == {"loss", "accuracy", "n", "kind"} and scores[label]["n"] == 4
        assert 0.0 <= scores[label]["accuracy"] <= 1.0
    assert scores["task"]["loss"] < scores["base"]["loss"]  # the responses are all alike: easy to learn


def test_finetune_and_eval_read_openai_chat_rows_as_json_lines(tmp_path, task_files, capsys):
    """The same BoolQ rows as conversations (OpenAI's chat fine-tuning format, JSON lines): fine-tuning on them lowers
    the held-out loss of their responses, and eval scores their answers."""
    base_dir = write_tiny_base(tmp_path / "base", gpr=2, chat_template=CHAT_TEMPLATE)

    def as_chat(path):
        rows = json.loads(path.read_text())
        lines = [json.dumps({"messages": [{"role": "system", "content": "Answer with true or false."},
                                          {"role": "user", "content": r["instruction"]},
                                          {"role": "assistant", "content": r["output"]}],
                             "answer": r["answer"]}) for r in rows]  # fmt: skip
        out = path.with_suffix(".jsonl")
        out.write_text("\n".join(lines) + "\n")
        return out

    train, test = (as_chat(p) for p in task_files)
    out = tmp_path / "chat.safetensors"
    args = ["--data", str(train), "--task", "chat", "--out", str(out), "--max-steps", "6", "--lr", "3e-3",
            "--batch-size", "4", "--max-length", "256", "--seed", "1", "--quiet"]  # fmt: skip
    assert main(["finetune", "--base", str(base_dir), *args]) == 0
    capsys.readouterr()
    scores = {}
    for label, extra in (("base", []), ("task", ["--lut", str(out)])):
        assert main(["eval", "--base", str(base_dir), "--data", str(test), "--limit", "4", "--json", *extra]) == 0
        scores[label] = json.loads(capsys.readouterr().out.splitlines()[-1])
        assert scores[label]["n"] == 4 and 0.0 <= scores[label]["accuracy"] <= 1.0
    assert scores["task"]["loss"] < scores["base"]["loss"]


def test_eval_refuses_a_task_lut_of_another_base(tmp_path, task_files, capsys):
    train, test = task_files
    base_a = write_tiny_base(tmp_path / "a", seed=0)
    base_b = write_tiny_base(tmp_path / "b", seed=1)
    out = tmp_path / "a.safetensors"
    args = ["--data", str(train), "--task", "t", "--out", str(out), "--max-steps", "1", "--batch-size", "2", "--quiet"]
    assert main(["finetune", "--base", str(base_a), *args]) == 0
    capsys.readouterr()
    assert main(["eval", "--base", str(base_b), "--lut", str(out), "--data", str(test), "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "made for base" in captured.err


def test_epochs_and_max_steps_are_exclusive_and_the_module_imports_no_torch():
    with pytest.raises(SystemExit):
        main(
            ["finetune", "--base", "b", "--data", "d", "--task", "t", "--out", "o", "--epochs", "2", "--max-steps", "3"]
        )
    code = "import sys, sketch.cli_finetune; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, check=True)


def test_a_hugging_face_directory_as_the_base_trains_on_its_cached_sketch(tmp_path, task_files, capsys, monkeypatch):
    from sketch.pipeline import sketched_base_dir
    from tests.sketch.tiny_hf import save_tiny_hf_dir

    monkeypatch.setenv("SKETCHSERVE_CACHE", str(tmp_path / "cache"))
    hf = save_tiny_hf_dir(tmp_path / "hf")
    train, test = task_files
    out = tmp_path / "t.safetensors"
    args = ["--data", str(train), "--task", "t", "--out", str(out), "--max-steps", "1", "--batch-size", "2", "--quiet"]
    assert main(["finetune", "--base", str(hf), *args]) == 0
    assert "sketching" in capsys.readouterr().out  # once, into the cache `serve --model` reads
    sketch = sketched_base_dir(str(hf))
    from sketch.format import load_sketched_base

    assert load_task_lut(out, load_sketched_base(sketch).spec()).task == "t"  # fits the served base
    assert main(["eval", "--base", str(hf), "--lut", str(out), "--data", str(test), "--limit", "2", "--json"]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["n"] == 2
    assert main(["eval", "--base", str(tmp_path / "nothing"), "--data", str(test)]) == 2
    assert "neither a sketched base directory" in capsys.readouterr().err
