"""Tiny random Hugging Face Llama models for the sketching tests (nothing downloaded)."""

from __future__ import annotations

from pathlib import Path

import torch

from sketch.synthetic import llama_config
from tests.sketch.tiny_llm import VOCAB_SIZE, byte_tokenizer


def tiny_llama(seed: int = 0, **config):
    """A 2-block random LlamaForCausalLM (hidden 64, GQA 4/2 heads, vocab 256) in float32."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    return LlamaForCausalLM(LlamaConfig(**llama_config(**config))).eval()


def calibration(n: int = 8, seq_len: int = 32, seed: int = 0) -> torch.Tensor:
    """[n, seq_len] uniform random token ids below 256."""
    return torch.randint(0, 256, (n, seq_len), generator=torch.Generator().manual_seed(seed))


def save_tiny_hf_dir(out: Path, seed: int = 0) -> Path:
    """A Hugging Face model directory (config, safetensors, byte-level tokenizer) of a tiny random Llama."""
    model = tiny_llama(seed, vocab_size=VOCAB_SIZE, bos_token_id=256, eos_token_id=257, pad_token_id=258)
    model.save_pretrained(str(out))
    byte_tokenizer().save_pretrained(str(out))
    return out
