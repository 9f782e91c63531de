"""Test support for fine-tuning and evaluation: a byte-level tokenizer made in memory (nothing downloaded)
and a tiny random sketched base directory (config + sketch.safetensors + tokenizer files)."""

from __future__ import annotations

from pathlib import Path

from sketch.format import SketchedBase, save_sketched_base
from sketch.synthetic import llama_config, random_sketched_base

BOS, EOS, PAD = "<s>", "</s>", "<pad>"
VOCAB_SIZE = 256 + 3  # every byte, then BOS, EOS, PAD

# A ChatML-like template, as SmolLM2-Instruct's (written as text, so it tokenizes byte by byte).
CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)


def byte_tokenizer(chat_template: str | None = None):
    """A PreTrainedTokenizerFast with one token per byte (ids 0..255) and BOS/EOS/PAD specials."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {ch: i for i, ch in enumerate(sorted(pre_tokenizers.ByteLevel.alphabet()))}
    for special in (BOS, EOS, PAD):
        vocab[special] = len(vocab)
    core = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    core.decoder = decoders.ByteLevel()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, bos_token=BOS, eos_token=EOS, pad_token=PAD)
    if chat_template:
        tokenizer.chat_template = chat_template
    return tokenizer


def tiny_base(gpr: int = 2, seed: int = 0, **config) -> SketchedBase:
    """2 layers, hidden 64: LUT fine-tuning steps take milliseconds on the CPU."""
    return random_sketched_base(
        llama_config(vocab_size=VOCAB_SIZE, bos_token_id=256, eos_token_id=257, pad_token_id=258, **config),
        bits=4,
        gpr=gpr,
        seed=seed,
    )


def write_tiny_base(out_dir: str | Path, gpr: int = 2, seed: int = 0, chat_template: str | None = None) -> Path:
    """A sketched base directory, as the sketcher writes it: config, sketch.safetensors, tokenizer files."""
    out = save_sketched_base(tiny_base(gpr, seed), out_dir)
    byte_tokenizer(chat_template).save_pretrained(str(out))
    return out
