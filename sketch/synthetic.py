"""Random sketched bases and task LUTs, made directly (no source model): for tests and speed benchmarks.

Random weights are fine for speed work; quality work uses a real model sketched by sketch/sketcher.py.
"""

from __future__ import annotations

import torch

from kernels.packing import pack_codes
from sketch.format import SKETCHED_PROJECTIONS, SketchedBase


def llama_config(
    vocab_size: int = 256,
    hidden_size: int = 64,
    intermediate_size: int = 160,
    num_hidden_layers: int = 2,
    num_attention_heads: int = 4,
    num_key_value_heads: int = 2,
    max_position_embeddings: int = 512,
    tie_word_embeddings: bool = False,
    **extra,
) -> dict:
    """A Hugging Face LlamaConfig dict; defaults are a tiny model for CPU tests."""
    config = {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "vocab_size": vocab_size,
        "hidden_size": hidden_size,
        "intermediate_size": intermediate_size,
        "num_hidden_layers": num_hidden_layers,
        "num_attention_heads": num_attention_heads,
        "num_key_value_heads": num_key_value_heads,
        "max_position_embeddings": max_position_embeddings,
        "rms_norm_eps": 1e-5,
        "rope_theta": 10000.0,
        "hidden_act": "silu",
        "tie_word_embeddings": tie_word_embeddings,
        "bos_token_id": 1,
        "eos_token_id": 2,
        "torch_dtype": "float16",
        "attention_bias": False,
        "mlp_bias": False,
    }
    config.update(extra)
    return config


def llama2_7b_config(num_hidden_layers: int = 32) -> dict:
    return llama_config(
        vocab_size=32000,
        hidden_size=4096,
        intermediate_size=11008,
        num_hidden_layers=num_hidden_layers,
        num_attention_heads=32,
        num_key_value_heads=32,
        max_position_embeddings=4096,
    )


def projection_shapes(config: dict) -> dict[str, tuple[int, int]]:
    """(N, K) of every sketched projection of a Llama-family config."""
    d = config["hidden_size"]
    ff = config["intermediate_size"]
    heads = config["num_attention_heads"]
    kv_heads = config.get("num_key_value_heads", heads)
    head_dim = config.get("head_dim") or d // heads
    per_proj = {
        "self_attn.q_proj": (heads * head_dim, d),
        "self_attn.k_proj": (kv_heads * head_dim, d),
        "self_attn.v_proj": (kv_heads * head_dim, d),
        "self_attn.o_proj": (d, heads * head_dim),
        "mlp.gate_proj": (ff, d),
        "mlp.up_proj": (ff, d),
        "mlp.down_proj": (d, ff),
    }
    return {
        f"model.layers.{i}.{proj}": per_proj[proj]
        for i in range(config["num_hidden_layers"])
        for proj in SKETCHED_PROJECTIONS
    }


def random_lut(n: int, k: int, gpr: int, bits: int, generator: torch.Generator, dtype: torch.dtype) -> torch.Tensor:
    """[N, gpr, 2**bits] sorted centroids with the spread of a Kaiming-initialised weight."""
    lut = torch.randn(n, gpr, 2**bits, generator=generator) / k**0.5
    return lut.sort(dim=-1).values.to(dtype)


def random_sketched_base(
    config: dict,
    bits: int = 4,
    gpr: int = 4,
    seed: int = 0,
    lut_dtype: torch.dtype = torch.float16,
    dense_dtype: torch.dtype = torch.float16,
) -> SketchedBase:
    """A complete random SketchedBase for `config` (codes uniform, LUTs random, dense tensors random)."""
    g = torch.Generator().manual_seed(seed)
    shapes = projection_shapes(config)
    codes, luts = {}, {}
    for name, (n, k) in shapes.items():
        codes[name] = pack_codes(torch.randint(0, 2**bits, (n, k), generator=g), bits)
        luts[name] = random_lut(n, k, gpr, bits, g, lut_dtype)
    d, vocab = config["hidden_size"], config["vocab_size"]
    dense = {"model.embed_tokens.weight": (torch.randn(vocab, d, generator=g) * 0.5).to(dense_dtype)}
    for i in range(config["num_hidden_layers"]):
        for norm in ("input_layernorm", "post_attention_layernorm"):
            dense[f"model.layers.{i}.{norm}.weight"] = (1 + 0.1 * torch.randn(d, generator=g)).to(dense_dtype)
    dense["model.norm.weight"] = (1 + 0.1 * torch.randn(d, generator=g)).to(dense_dtype)
    if not config.get("tie_word_embeddings", False):
        dense["lm_head.weight"] = (torch.randn(vocab, d, generator=g) / d**0.5).to(dense_dtype)
    return SketchedBase(
        config=dict(config),
        bits=bits,
        gpr=gpr,
        codes=codes,
        luts=luts,
        layer_shapes=shapes,
        dense=dense,
        source_model="random",
        sketch_config={"synthetic": True, "seed": seed},
    )


def random_task_luts(base: SketchedBase, seed: int, scale: float = 0.2) -> dict[str, torch.Tensor]:
    """A task's LUT set: the base LUT perturbed multiplicatively, so each task computes a different function."""
    g = torch.Generator().manual_seed(seed)
    out = {}
    for name, lut in base.luts.items():
        noise = torch.randn(lut.shape, generator=g) * scale
        out[name] = (lut.float() * (1 + noise)).to(lut.dtype)
    return out
