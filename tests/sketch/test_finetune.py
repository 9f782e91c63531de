"""LUT fine-tuning: only LUT values learn, the codes never move, and the result is a valid task LUT file."""

import dataclasses

import pytest
import torch

from kernels.packing import unpack_codes
from kernels.reference import column_groups
from sketch.evaluate import response_loss, task_loss
from sketch.finetune import (
    FinetuneConfig,
    apply_task_lut,
    finetune_luts,
    lr_factor,
    mark_luts_trainable,
    split_examples,
    total_steps,
)
from sketch.lut_model import LutLinear, dense_state_dict, load_sketched_model
from sketch.prompts import collate, encode_example, load_examples
from sketch.task_lut import TaskLutError, load_task_lut, save_task_lut, validate_task_lut
from tests.sketch.tiny_llm import CHAT_TEMPLATE, byte_tokenizer, tiny_base

QUICK = FinetuneConfig(max_steps=8, lr=3e-3, batch_size=4, max_length=256, eval_split=0.0, progress=False)


@pytest.fixture(scope="module")
def tok():
    return byte_tokenizer(CHAT_TEMPLATE)


@pytest.fixture
def examples(tasks_dir):
    return load_examples(tasks_dir / "boolq_train.json")[:8]


def fp32_model(base):
    return load_sketched_model(base, dtype=torch.float32, lut_dtype=torch.float32)[0]


def test_a_few_steps_lower_the_training_loss(tok, examples):
    base = tiny_base()
    model = fp32_model(base)
    before, _ = task_loss(model, tok, examples, max_length=256)
    task_lut = finetune_luts(model, base, tok, examples, QUICK, task="boolq")
    after, _ = task_loss(model, tok, examples, max_length=256)
    assert after < before - 0.5, (before, after)
    assert task_lut.training["steps"] == 8
    assert task_lut.training["final_loss"] < task_lut.training["loss_curve"][0]


def test_codes_embeddings_and_norms_are_bit_identical_only_luts_change(tok, examples):
    base = tiny_base()
    model = fp32_model(base)
    frozen_before = {k: v.clone() for k, v in model.state_dict().items() if not k.endswith(".lut")}
    luts_before = {k: v.clone() for k, v in model.state_dict().items() if k.endswith(".lut")}
    assert any(k.endswith("codes_packed") for k in frozen_before)
    assert "model.embed_tokens.weight" in frozen_before and "model.norm.weight" in frozen_before
    task_lut = finetune_luts(model, base, tok, examples, QUICK, task="boolq")
    after = model.state_dict()
    for k, v in frozen_before.items():
        assert torch.equal(after[k], v), f"{k} changed"
    assert all(not torch.equal(after[k], v) for k, v in luts_before.items())
    for name in base.layer_names:  # and the exported file carries exactly the trained LUTs' values
        torch.testing.assert_close(task_lut.luts[name].float(), after[f"{name}.lut"], atol=1e-3, rtol=1e-3)
    assert not any(p.requires_grad for p in model.parameters())


def test_only_lut_parameters_receive_gradients(tok, examples):
    model = fp32_model(tiny_base())
    params = mark_luts_trainable(model)
    assert {id(p) for p in params} == {id(p) for p in model.parameters() if p.requires_grad}
    batch = collate([encode_example(e, tok, 256) for e in examples[:2]], tok.pad_token_id)
    loss_sum, count = response_loss(model, batch)
    (loss_sum / count).backward()
    for name, p in model.named_parameters():
        assert (p.grad is not None) == name.endswith(".lut"), name
    assert all(p.grad.abs().sum() > 0 for p in params)


def bucket_sum(grad_w: torch.Tensor, module: LutLinear) -> torch.Tensor:
    """[N, K] weight gradient -> [N, gpr, 2**bits]: one-hot over (group, code), summed over columns."""
    n, k = grad_w.shape
    codes = unpack_codes(module.codes_packed, module.bits, k)  # [N, K]
    code_1hot = torch.nn.functional.one_hot(codes, 2**module.bits).double()  # [N, K, L]
    group_1hot = torch.nn.functional.one_hot(column_groups(k, module.gpr), module.gpr).double()  # [K, G]
    return torch.einsum("nk,nkl,kg->ngl", grad_w.double(), code_1hot, group_1hot)


def test_lut_gradient_is_the_dense_weight_gradient_summed_per_bucket(tok, examples):
    """Backprop through LutLinear == autograd through the dequantized dense model, bucketed by code."""
    from transformers import AutoModelForCausalLM

    base = tiny_base(gpr=4)
    model = fp32_model(base)
    mark_luts_trainable(model)
    dense = AutoModelForCausalLM.from_config(model.config)
    dense.load_state_dict(dense_state_dict(base), strict=True)
    dense.requires_grad_(False)
    for name in base.layer_names:
        dense.get_submodule(name).weight.requires_grad_(True)
    batch = collate([encode_example(e, tok, 256) for e in examples[:3]], tok.pad_token_id)
    for m in (model, dense):
        loss_sum, count = response_loss(m, batch)
        (loss_sum / count).backward()
    for name in base.layer_names:
        lut_module = model.get_submodule(name)
        expected = bucket_sum(dense.get_submodule(name).weight.grad, lut_module)
        torch.testing.assert_close(lut_module.lut.grad.double(), expected, rtol=1e-4, atol=1e-7)


def test_gradient_checkpointing_recomputes_forward_and_trains_the_same(tok, examples):
    base = tiny_base()
    results, forward_calls = [], []
    for checkpointing in (False, True):
        model = fp32_model(base)
        calls = []
        model.get_submodule(base.layer_names[0]).register_forward_hook(lambda *_, calls=calls: calls.append(1))
        config = FinetuneConfig(
            max_steps=2,
            lr=1e-3,
            batch_size=4,
            max_length=256,
            eval_split=0.0,
            progress=False,
            grad_checkpointing=checkpointing,
        )
        results.append(finetune_luts(model, base, tok, examples, config, task="t", lut_dtype=torch.float32))
        forward_calls.append(len(calls))
    assert forward_calls == [2, 4]  # 2 steps; with checkpointing each block's forward runs again in backward
    for name in base.layer_names:
        torch.testing.assert_close(results[0].luts[name], results[1].luts[name], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("cpu_bf16, compute", [(True, "bf16 LUT matmuls"), (False, "float32")])
def test_on_the_cpu_the_lut_matmuls_train_in_bf16_where_asked_and_the_model_is_left_exact(tok, examples, cpu_bf16,
                                                                                         compute):
    """FinetuneConfig.cpu_bf16 (default: where the CPU has bf16 matrix units): every LUT projection's op takes bf16
    matmul inputs during the training steps, the summary says so, the loss falls as in float32, and afterwards the
    model computes in float32 again (evaluation, export)."""
    base = tiny_base()
    model = fp32_model(base)
    seen = []
    for module in model.modules():
        if isinstance(module, LutLinear):
            module.register_forward_pre_hook(lambda m, _: seen.append(m.cpu_compute_dtype))
    config = dataclasses.replace(QUICK, cpu_bf16=cpu_bf16)
    task_lut = finetune_luts(model, base, tok, examples, config, task="t")
    assert task_lut.training["compute"] == compute
    assert set(seen) == {torch.bfloat16 if cpu_bf16 else torch.float32}
    assert task_lut.training["final_loss"] < task_lut.training["loss_curve"][0] - 0.5
    assert {m.cpu_compute_dtype for m in model.modules() if isinstance(m, LutLinear)} == {torch.float32}


def test_task_lut_file_round_trips_and_reproduces_the_trained_model(tmp_path, tok, examples):
    base = tiny_base()
    model = fp32_model(base)
    task_lut = finetune_luts(
        model, base, tok, examples[:6], QUICK, task="boolq", eval_examples=examples[6:], data_sha256="ab" * 32
    )
    path = save_task_lut(task_lut, tmp_path / "boolq.safetensors")
    loaded = load_task_lut(path, base.spec())
    assert loaded.task == "boolq" and loaded.base_fingerprint == base.fingerprint
    assert (loaded.bits, loaded.gpr, loaded.dtype) == (base.bits, base.gpr, torch.float16)  # the base's LUT dtype
    summary = loaded.training
    assert summary["data_sha256"] == "ab" * 32 and summary["steps"] == 8
    assert summary["eval_examples"] == 2 and summary["eval_loss"] < summary["eval_loss_before"]
    assert summary["config"]["lr"] == QUICK.lr
    fresh = fp32_model(base)
    apply_task_lut(fresh, loaded, base.spec())
    ids = torch.tensor([encode_example(examples[0], tok, 256).input_ids])
    with torch.no_grad():  # the trained model's LUTs rounded to fp16 once: same logits up to that rounding
        torch.testing.assert_close(fresh(ids).logits, model(ids).logits, rtol=2e-2, atol=2e-2)


def test_mismatched_fingerprint_shape_or_dtype_is_rejected(tmp_path, tok, examples):
    base = tiny_base(gpr=2)
    task_lut = finetune_luts(fp32_model(base), base, tok, examples, QUICK, task="boolq")
    path = save_task_lut(task_lut, tmp_path / "t.safetensors")
    other_codes = tiny_base(gpr=2, seed=7)
    with pytest.raises(TaskLutError, match="made for base"):
        load_task_lut(path, other_codes.spec())
    with pytest.raises(TaskLutError, match="made for base"):
        apply_task_lut(fp32_model(other_codes), task_lut, other_codes.spec())
    # a base with the same fingerprint but other LUT shapes (a gpr the file was not trained for)
    wrong_shape = base.spec().__class__(base.fingerprint, base.bits, 4, base.spec().layer_shapes)
    with pytest.raises(TaskLutError, match="gpr"):
        load_task_lut(path, wrong_shape)
    name = base.layer_names[0]
    task_lut.luts[name] = task_lut.luts[name][:, :1].contiguous()
    with pytest.raises(TaskLutError, match="LUT shape"):
        validate_task_lut(task_lut, base.spec())
    task_lut.luts[name] = torch.zeros(base.spec().lut_shape(name), dtype=torch.float64)
    with pytest.raises(TaskLutError, match="dtype"):
        validate_task_lut(task_lut, base.spec())
    with pytest.raises(TaskLutError, match="share one of"):
        save_task_lut(task_lut, tmp_path / "f64.safetensors")


def test_lut_dtype_other_than_fp32_is_refused_for_training():
    model, _ = load_sketched_model(tiny_base(), dtype=torch.float32, lut_dtype=torch.float16)
    with pytest.raises(ValueError, match="float32"):
        mark_luts_trainable(model)


def test_schedule_split_and_step_count():
    assert total_steps(100, FinetuneConfig(epochs=2, batch_size=16)) == 14
    assert total_steps(100, FinetuneConfig(epochs=2, max_steps=5)) == 5
    assert [round(lr_factor(s, 10, 2, "linear"), 3) for s in (0, 1, 2, 6, 9)] == [0.333, 0.667, 1.0, 0.5, 0.125]
    assert lr_factor(9, 10, 0, "cosine") == pytest.approx(0.5 * (1 + torch.cos(torch.tensor(0.9 * torch.pi))))
    assert lr_factor(500, 10, 0, "constant") == 1.0
    rows = [{"i": i} for i in range(40)]
    train, held = split_examples(rows, 0.1, seed=3)
    assert len(held) == 4 and len(train) == 36 and not {r["i"] for r in held} & {r["i"] for r in train}
    assert split_examples(rows, 0.1, seed=3) == (train, held)
    with pytest.raises(ValueError, match="schedule"):
        FinetuneConfig(schedule="exponential")
