"""The sketched-base directory format: save/load round trip, fingerprint, corruption detection."""

import pytest
import torch

from sketch.format import SketchFormatError, load_sketched_base, save_sketched_base
from sketch.synthetic import llama_config, random_sketched_base


def test_save_then_load_round_trips_exactly(tmp_path):
    base = random_sketched_base(llama_config(), bits=4, gpr=2, seed=1)
    save_sketched_base(base, tmp_path)
    loaded = load_sketched_base(tmp_path)
    assert loaded.fingerprint == base.fingerprint
    assert (loaded.bits, loaded.gpr) == (4, 2)
    assert loaded.layer_names == base.layer_names
    for name in base.codes:
        assert torch.equal(loaded.codes[name], base.codes[name])
        assert torch.equal(loaded.luts[name], base.luts[name])
    assert loaded.dense.keys() == base.dense.keys()
    for name, t in base.dense.items():
        assert torch.equal(loaded.dense[name], t)


def test_fingerprint_depends_on_codes_only_not_luts():
    a = random_sketched_base(llama_config(), seed=1)
    b = random_sketched_base(llama_config(), seed=1)
    b.luts = {k: v * 2 for k, v in b.luts.items()}
    c = random_sketched_base(llama_config(), seed=2)
    assert a.fingerprint == random_sketched_base(llama_config(), seed=1).fingerprint
    assert a.spec().fingerprint == b.spec().fingerprint
    assert a.fingerprint != c.fingerprint


def test_missing_or_foreign_files_are_rejected(tmp_path):
    with pytest.raises(SketchFormatError, match="does not exist"):
        load_sketched_base(tmp_path)
    (tmp_path / "sketch.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(SketchFormatError, match="not a readable safetensors"):
        load_sketched_base(tmp_path)
