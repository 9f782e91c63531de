"""The offline runtime: a sketched base loads into a transformers model with LUT-linear projections."""

import torch

from sketch.lut_model import LutLinear, dense_state_dict, load_sketched_model
from sketch.synthetic import llama_config, random_sketched_base


def test_sketched_model_logits_equal_dense_dequantized_model():
    from transformers import AutoModelForCausalLM

    base = random_sketched_base(llama_config(), bits=4, gpr=2, seed=0)
    model, _ = load_sketched_model(base)
    assert sum(isinstance(m, LutLinear) for m in model.modules()) == 7 * 2
    ref = AutoModelForCausalLM.from_config(model.config)
    ref.load_state_dict(dense_state_dict(base), strict=True)
    ids = torch.randint(0, 256, (2, 12))
    with torch.no_grad():
        torch.testing.assert_close(model(ids).logits, ref.eval()(ids).logits, rtol=1e-4, atol=1e-4)


def test_tied_embeddings_and_no_dense_projection_weights():
    base = random_sketched_base(llama_config(tie_word_embeddings=True), bits=3, gpr=1, seed=1)
    model, _ = load_sketched_model(base)
    assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()
    assert not any(n.endswith("proj.weight") for n, _ in model.named_parameters())
