"""The task LUT file: round trip, and every way it can fail to fit a base."""

import json
import struct

import pytest
import torch

from sketch.synthetic import llama_config, random_sketched_base, random_task_luts
from sketch.task_lut import TaskLut, TaskLutError, load_task_lut, save_task_lut


@pytest.fixture
def base():
    return random_sketched_base(llama_config(), bits=4, gpr=2, seed=0)


def task_of(base, seed=1):
    return TaskLut("t1", random_task_luts(base, seed), base.fingerprint, base.bits, base.gpr, {"steps": 3})


def test_round_trip(tmp_path, base):
    saved = task_of(base)
    save_task_lut(saved, tmp_path / "t.safetensors")
    loaded = load_task_lut(tmp_path / "t.safetensors", base.spec())
    assert loaded.task == "t1" and loaded.training == {"steps": 3}
    assert loaded.luts.keys() == saved.luts.keys()
    for k in saved.luts:
        assert torch.equal(loaded.luts[k], saved.luts[k])


def test_other_base_fingerprint_is_rejected(tmp_path, base):
    other = random_sketched_base(llama_config(), bits=4, gpr=2, seed=9)
    save_task_lut(task_of(base), tmp_path / "t.safetensors")
    with pytest.raises(TaskLutError, match="made for base"):
        load_task_lut(tmp_path / "t.safetensors", other.spec())


def test_wrong_shape_and_missing_layer_are_rejected(tmp_path, base):
    t = task_of(base)
    name = base.layer_names[0]
    t.luts[name] = t.luts[name][:, :1].contiguous()
    save_task_lut(t, tmp_path / "shape.safetensors")
    with pytest.raises(TaskLutError, match="LUT shape"):
        load_task_lut(tmp_path / "shape.safetensors", base.spec())
    t = task_of(base)
    del t.luts[name]
    save_task_lut(t, tmp_path / "missing.safetensors")
    with pytest.raises(TaskLutError, match="missing"):
        load_task_lut(tmp_path / "missing.safetensors", base.spec())


def test_non_finite_values_are_rejected(tmp_path, base):
    t = task_of(base)
    t.luts[base.layer_names[3]][0, 0, 0] = float("nan")
    save_task_lut(t, tmp_path / "nan.safetensors")
    with pytest.raises(TaskLutError, match="NaN or Inf"):
        load_task_lut(tmp_path / "nan.safetensors", base.spec())
    # a caller that matched the file's checksum to a validated upload skips the pass over the values
    assert torch.isnan(load_task_lut(tmp_path / "nan.safetensors", base.spec(), check_values=False)
                       .luts[base.layer_names[3]][0, 0, 0])  # fmt: skip


def test_garbage_truncated_and_lying_headers_are_rejected(tmp_path, base):
    good = tmp_path / "t.safetensors"
    save_task_lut(task_of(base), good)
    data = good.read_bytes()
    cases = {
        "garbage": b"\x80\x04pickle-ish bytes that are not safetensors",
        "truncated": data[: len(data) // 2],
        "huge_header": struct.pack("<Q", 1 << 60) + b"{}",
    }
    header = json.dumps({"a.lut": {"dtype": "F16", "shape": [1 << 20, 8, 16], "data_offsets": [0, 1 << 28]}})
    cases["out_of_range"] = struct.pack("<Q", len(header)) + header.encode() + b"\0" * 64
    for label, payload in cases.items():
        path = tmp_path / f"{label}.safetensors"
        path.write_bytes(payload)
        with pytest.raises(TaskLutError):
            load_task_lut(path, base.spec())
