"""A transformers model whose projections are LUT-linear modules: the offline runtime of a sketched base.

Used for perplexity, task evaluation and LUT fine-tuning. No dense weight of a sketched projection is kept:
each LutLinear holds the packed codes (a buffer, frozen) and one LUT (a Parameter, trainable on request),
and calls the multi-LUT op with every token in slot 0. The server has its own compact model (server/model.py).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import torch
from torch import nn

from kernels import SlotSegments, dequantize, lut_linear_autograd
from sketch.format import SketchedBase, load_sketched_base

if TYPE_CHECKING:
    from transformers import PretrainedConfig


class LutLinear(nn.Module):
    """y = x @ W_hat.T + b, W_hat[r, c] = lut[r, c // group_size, codes[r, c]]."""

    def __init__(
        self,
        codes_packed: torch.Tensor,
        lut: torch.Tensor,
        bits: int,
        in_features: int,
        bias: torch.Tensor | None = None,
    ) -> None:
        super().__init__()
        self.bits = bits
        self.in_features = in_features
        self.out_features, self.gpr, _ = lut.shape
        self.register_buffer("codes_packed", codes_packed)
        self.lut = nn.Parameter(lut, requires_grad=False)
        self.bias = None if bias is None else nn.Parameter(bias, requires_grad=False)
        self.cpu_compute_dtype = torch.float32  # the op's CPU matmul inputs (set_cpu_compute_dtype)
        # off CUDA, without autograd: W_hat float32 [N, K], kept while the LUT is unchanged (_inference_weight)
        self._weight: tuple[tuple, torch.Tensor] | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lead = x.shape[:-1]
        x2 = x.reshape(-1, self.in_features)  # [M, K]
        lut = self.lut if self.lut.dtype == x.dtype else self.lut.to(x.dtype)
        if x2.is_cuda or (torch.is_grad_enabled() and (self.lut.requires_grad or x2.requires_grad)):
            self._weight = None  # (training: no dense copy kept)
            slot_of_token = torch.zeros(x2.shape[0], dtype=torch.int32, device=x.device)
            if x2.is_cuda:  # every token reads slot 0: one segment, which the CUDA op plans without a device read
                slot_of_token = SlotSegments.from_counts([0], [x2.shape[0]], x.device, per_token=slot_of_token)
            # slot 0 of a one-slot pool: in range by construction, so no range check (a device read on CUDA)
            y = lut_linear_autograd(x2, self.codes_packed, lut[None], slot_of_token, self.bits, self.gpr,
                                    self.cpu_compute_dtype, check_slot_range=False)
        else:  # the reference op's arithmetic, without rebuilding W_hat at every call (generation: every token)
            y = (x2.float() @ self._inference_weight(lut).T).to(x2.dtype)
        if self.bias is not None:
            y = y + self.bias.to(y.dtype)
        return y.reshape(*lead, self.out_features)

    def _inference_weight(self, lut: torch.Tensor) -> torch.Tensor:
        """W_hat in float32 from lut (self.lut in the input's dtype), as the reference op builds it; rebuilt when the
        LUT changed (an optimizer step, apply_task_lut: its version counter) or the dtype did. On the default model
        it keeps 424 MB of float32 weights while evaluating, and a batch's greedy generation rebuilds none of them
        per token."""
        key = (self.lut._version, self.lut.data_ptr(), lut.dtype)
        if self._weight is None or self._weight[0] != key:
            self._weight = (key, dequantize(self.codes_packed, lut.float(), self.bits, self.in_features))
        return self._weight[1]

    def dense_weight(self) -> torch.Tensor:
        """W_hat [N, K] (for tests and export only)."""
        return dequantize(self.codes_packed, self.lut.detach(), self.bits, self.in_features)

    def extra_repr(self) -> str:
        return f"in={self.in_features}, out={self.out_features}, bits={self.bits}, gpr={self.gpr}"


def set_cpu_compute_dtype(model: nn.Module, dtype: torch.dtype) -> None:
    """The matmul input dtype of every LutLinear's op off CUDA: bfloat16 while fine-tuning on a CPU with bf16 matrix
    units (3-8x float32's matmul speed there; the LUTs and the sums of their gradients stay float32), float32
    (exact, the default) otherwise."""
    for module in model.modules():
        if isinstance(module, LutLinear):
            module.cpu_compute_dtype = dtype


def hf_config(base: SketchedBase) -> PretrainedConfig:
    from transformers import AutoConfig

    cfg = dict(base.config)
    model_type = cfg.pop("model_type")
    for key in ("quantization_config", "transformers_version", "_name_or_path", "_model_name_or_path"):
        cfg.pop(key, None)
    return AutoConfig.for_model(model_type, **cfg)


def _set_module(root: nn.Module, dotted: str, module: nn.Module) -> None:
    parent_name, _, child = dotted.rpartition(".")
    setattr(root.get_submodule(parent_name), child, module)


def load_sketched_model(
    base_or_path: SketchedBase | str | os.PathLike,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str = "cpu",
    lut_dtype: torch.dtype | None = None,
) -> tuple[nn.Module, SketchedBase]:
    """Build the transformers causal LM of a sketched base with LutLinear projections.

    Dense tensors are cast to `dtype`; LUTs to `lut_dtype` (default: `dtype`). Returns (model, base).
    """
    from transformers import AutoModelForCausalLM

    base = base_or_path if isinstance(base_or_path, SketchedBase) else load_sketched_base(base_or_path)
    config = hf_config(base)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config, dtype=dtype)
    for name in base.layer_names:
        n, k = base.layer_shapes[name]
        bias = base.dense.get(f"{name}.bias")
        module = LutLinear(
            base.codes[name].to(device),
            base.luts[name].to(device=device, dtype=lut_dtype or dtype),
            base.bits,
            k,
            None if bias is None else bias.to(device=device, dtype=dtype),
        )
        _set_module(model, name, module)
    dense = {k: v.to(device=device, dtype=dtype) for k, v in base.dense.items() if not _is_bias_of(k, base)}
    missing, unexpected = model.load_state_dict(dense, strict=False, assign=True)
    if unexpected:
        raise ValueError(f"sketch has tensors the model does not: {unexpected[:5]}")
    if getattr(config, "tie_word_embeddings", False):
        model.tie_weights()
    _materialise_rotary(model, config, device)
    still_meta = [n for n, t in list(model.named_parameters()) + list(model.named_buffers()) if t.is_meta]
    if still_meta:
        raise ValueError(f"sketch lacks tensors the model needs: {still_meta[:5]}")
    return model.eval(), base


def _is_bias_of(key: str, base: SketchedBase) -> bool:
    return key.endswith(".bias") and key.removesuffix(".bias") in base.codes


def _materialise_rotary(model: nn.Module, config, device) -> None:
    """Rotary inverse frequencies are non-persistent buffers, created on meta: rebuild them for real."""
    for name, module in list(model.named_modules()):
        if type(module).__name__.endswith("RotaryEmbedding"):
            with torch.device(device):
                _set_module(model, name, type(module)(config=config))


def dense_state_dict(base: SketchedBase, dtype: torch.dtype = torch.float32) -> dict[str, torch.Tensor]:
    """The Hugging Face state dict with every sketched weight dequantized (parity tests, export)."""
    state = {k: v.to(dtype) for k, v in base.dense.items()}
    for name in base.layer_names:
        _, k = base.layer_shapes[name]
        state[f"{name}.weight"] = dequantize(base.codes[name], base.luts[name].float(), base.bits, k).to(dtype)
    return state


def luts_of(model: nn.Module) -> dict[str, torch.Tensor]:
    """The current LUT of every LutLinear in `model`, by projection name."""
    return {name: m.lut.detach() for name, m in model.named_modules() if isinstance(m, LutLinear)}
