"""The offline runtime: a sketched base loads into a transformers model with LUT-linear projections."""

import pytest
import torch

from sketch.lut_model import LutLinear, dense_state_dict, load_sketched_model
from sketch.synthetic import llama_config, random_sketched_base


def first_projection(seed: int) -> LutLinear:
    """The first LUT-linear projection of a random 4-bit gpr-2 sketch loaded as a model."""
    base = random_sketched_base(llama_config(), bits=4, gpr=2, seed=seed)
    model, _ = load_sketched_model(base)
    return model.get_submodule(base.layer_names[0])


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


def test_without_autograd_a_projection_keeps_its_dense_weight_until_the_lut_changes():
    """Evaluation and generation on the CPU (no autograd): a LutLinear computes what the op computes, bit for bit,
    from a W_hat it builds once and rebuilds after its LUT changes (an optimizer step, a task's LUT applied); with
    autograd it keeps none, and its LUT gets gradients."""
    proj = first_projection(seed=2)
    x = torch.randn(5, proj.in_features)
    with torch.no_grad():
        y = proj(x)
        assert proj._weight is not None
        kept = proj._weight[1]
        assert torch.equal(proj(x), y) and proj._weight[1] is kept  # reused
        proj.lut.mul_(1.5)
        y2 = proj(x)
        assert proj._weight[1] is not kept  # rebuilt for the new LUT
    proj.lut.requires_grad_(True)
    y3 = proj(x)
    assert proj._weight is None  # training keeps no dense copy
    assert torch.equal(y3.detach(), y2)  # the op's own arithmetic
    y3.sum().backward()
    assert proj.lut.grad is not None and proj.lut.grad.abs().sum() > 0


@pytest.mark.gpu
def test_on_cuda_a_projection_over_a_prompt_matches_the_cpu_and_its_lut_gets_gradients():
    """128 tokens on CUDA: the projection tells the op its one segment (the planned path: one dequantized weight and
    cuBLAS) and computes what the CPU computes; the LUT trains through it."""
    proj = first_projection(seed=3)
    x = torch.randn(128, proj.in_features)
    with torch.no_grad():
        y_cpu = proj(x)
    proj.cuda().lut.requires_grad_(True)
    y = proj(x.cuda())
    torch.testing.assert_close(y.cpu(), y_cpu, rtol=1e-4, atol=1e-4)
    y.square().sum().backward()
    assert proj.lut.grad is not None and proj.lut.grad.abs().sum() > 0
