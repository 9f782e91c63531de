"""The block-by-block driver on a tiny random Llama: parity of the saved sketch with transformers."""

from __future__ import annotations

import pytest
import torch

from kernels.packing import unpack_codes
from sketch.format import SKETCHED_PROJECTIONS, load_sketched_base, save_sketched_base
from sketch.lut_model import LutLinear, dense_state_dict, load_sketched_model
from sketch.sketcher import SketchOptions, capture_block_inputs, sketch_model
from tests.sketch.tiny_hf import calibration, tiny_llama


@pytest.fixture(scope="module")
def sketched(tmp_path_factory):
    """(original model, model with sketched weights in place, directory of the saved 4-bit gpr=2 sketch)."""
    original = tiny_llama()
    model = tiny_llama()
    base = sketch_model(model, calibration(), SketchOptions(bits=4, gpr=2), dense_dtype=torch.float32,
                        source_model="tiny", progress=False)
    out = save_sketched_base(base, tmp_path_factory.mktemp("sketch"))
    return original, model, out


def test_every_projection_is_sketched_and_nothing_else(sketched):
    original, _, out = sketched
    base = load_sketched_base(out)
    assert sorted(base.codes) == sorted(f"model.layers.{i}.{p}" for i in range(2) for p in SKETCHED_PROJECTIONS)
    reference = original.state_dict()
    for name, tensor in base.dense.items():  # embeddings, norms, lm_head: untouched
        assert torch.equal(tensor, reference[name]), name
    for name, (n, k) in base.layer_shapes.items():
        assert (n, k) == tuple(reference[f"{name}.weight"].shape)
        assert int(unpack_codes(base.codes[name], 4, k).max()) < 16
        assert base.luts[name].dtype == torch.float16


def test_loaded_sketch_logits_equal_transformers_with_dequantized_weights(sketched):
    _, in_place, out = sketched
    lut_model, base = load_sketched_model(out)
    assert isinstance(lut_model.model.layers[0].self_attn.q_proj, LutLinear)
    dense = tiny_llama()
    dense.load_state_dict(dense_state_dict(base), strict=False)
    ids = torch.randint(0, 256, (2, 24), generator=torch.Generator().manual_seed(9))
    with torch.no_grad():
        expected = dense(ids).logits
        torch.testing.assert_close(lut_model(ids).logits, expected, rtol=0, atol=1e-5)
        # The driver leaves the dequantized sketch in the model it was given: the same function again.
        torch.testing.assert_close(in_place(ids).logits, expected, rtol=0, atol=1e-5)


def test_sketch_stays_close_to_the_original_model(sketched):
    original, in_place, _ = sketched
    ids = calibration(2, 32, seed=3)
    with torch.no_grad():
        p = torch.log_softmax(original(ids).logits, -1)
        q = torch.log_softmax(in_place(ids).logits, -1)
    kl = (p.exp() * (p - q)).sum(-1).mean()
    assert kl < 0.05


def test_sketch_config_records_how_to_reproduce(sketched):
    _, _, out = sketched
    cfg = load_sketched_base(out).sketch_config
    for key in ("bits", "gpr", "method", "emphasis", "damp", "act_order", "refine_iters", "calibration"):
        assert key in cfg
    assert cfg["lut_dtype"] == "float16" and cfg["method"] == "sketchtune"


def test_the_catcher_records_block_zero_inputs_per_batch():
    model = tiny_llama()
    records = capture_block_inputs(model, calibration(6, 16), batch_size=4)
    assert [r[0].shape for r in records] == [(4, 16, 64), (2, 16, 64)]
    with torch.no_grad():
        embedded = model.model.embed_tokens(calibration(6, 16)[:4])
    torch.testing.assert_close(records[0][0], embedded)


def test_naive_baseline_needs_no_calibration_and_is_worse():
    original, naive_model, sketch_model_ = tiny_llama(), tiny_llama(), tiny_llama()
    options = SketchOptions(bits=2, gpr=1)
    sketch_model(naive_model, None, SketchOptions(bits=2, gpr=1, method="naive"), progress=False)
    sketch_model(sketch_model_, calibration(16, 64), options, progress=False)
    ids = calibration(4, 64, seed=1)  # the distribution calibration saw: uniform random tokens
    with torch.no_grad():
        ref = original(ids).logits
        err_naive = (naive_model(ids).logits - ref).norm()
        err_sketch = (sketch_model_(ids).logits - ref).norm()
    assert err_sketch < err_naive


def test_sketching_needs_calibration_unless_naive():
    with pytest.raises(ValueError, match="calibration"):
        sketch_model(tiny_llama(), None, SketchOptions(), progress=False)
