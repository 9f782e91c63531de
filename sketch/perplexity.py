"""Perplexity of a causal LM on a token stream, measured the same way for unsketched and sketched models.

The stream [T] is cut into non-overlapping windows of `seq_len` tokens (the last one may be shorter);
every token but the first of each window is predicted from the ones before it in its window:

    ppl = exp( sum of token NLLs / number of predicted tokens )
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch.nn import functional as F
from tqdm import tqdm

from sketch.calibration import read_texts, token_stream

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase


@dataclass
class PerplexityResult:
    ppl: float
    nll: float  # mean negative log-likelihood per predicted token (nats)
    tokens: int  # predicted tokens
    seconds: float

    def as_dict(self) -> dict:
        return asdict(self)


def eval_tokens(tokenizer, path: str | os.PathLike, max_tokens: int | None = None) -> torch.Tensor:
    """[T] token ids of a text / JSONL / instruction-JSON file, documents in file order joined with EOS."""
    ids = token_stream(tokenizer, read_texts(path))
    return torch.tensor(ids[:max_tokens] if max_tokens else ids, dtype=torch.long)


def held_out_solutions(tokenizer, path: str | os.PathLike, max_tokens: int) -> torch.Tensor:
    """[max_tokens] ids of the worked solutions (`output`) of an instruction-JSON file, from its last row backwards,
    each followed by EOS: text no data-free sketch and no fine-tune on the file's first rows has seen."""
    rows = json.loads(Path(path).read_text())
    ids: list[int] = []
    for row in reversed(rows):
        ids += tokenizer(row["output"].strip(), add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
        if len(ids) >= max_tokens:
            break
    return torch.tensor(ids[:max_tokens])


@torch.no_grad()
def perplexity(
    model, token_ids: torch.Tensor, seq_len: int = 512, batch_size: int = 4, progress: bool = True
) -> PerplexityResult:
    """Perplexity of `model` on token_ids [T] (windows of seq_len, see the module docstring)."""
    t0 = time.perf_counter()
    device = next(model.parameters()).device
    ids = token_ids.reshape(-1)
    windows = [w for w in ids.split(seq_len) if w.numel() >= 2]
    if not windows:
        raise ValueError("perplexity needs at least two tokens")
    total_nll, total_tokens = 0.0, 0
    batches = [windows[i : i + batch_size] for i in range(0, len(windows), batch_size)]
    for batch in tqdm(batches, desc="perplexity", unit="batch", disable=not progress, leave=False):
        # Windows of one batch have equal length except possibly the last window of the stream.
        for same in _by_length(batch):
            x = torch.stack(same).to(device)  # [b, S]
            logits = model(input_ids=x, use_cache=False).logits.float()  # [b, S, V]
            nll = F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), x[:, 1:].reshape(-1), reduction="sum")
            total_nll += float(nll)
            total_tokens += x[:, 1:].numel()
    mean = total_nll / total_tokens
    return PerplexityResult(math.exp(mean), mean, total_tokens, time.perf_counter() - t0)


def _by_length(windows: list[torch.Tensor]) -> list[list[torch.Tensor]]:
    groups: dict[int, list[torch.Tensor]] = {}
    for w in windows:
        groups.setdefault(w.numel(), []).append(w)
    return list(groups.values())


def load_eval_model(
    spec: str, dtype: torch.dtype | None = None, device: str = "cpu"
) -> tuple[torch.nn.Module, PreTrainedTokenizerBase, str]:
    """'default' | HF directory | .gguf | sketched base directory -> (model, tokenizer, name)."""
    from transformers import AutoTokenizer

    path = Path(spec).expanduser()
    if spec != "default" and (path / "sketch.safetensors").exists():
        from sketch.lut_model import load_sketched_model

        model, base = load_sketched_model(path, dtype=dtype or torch.float32, device=device)
        tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        return model, tokenizer, f"{path.name} (sketch of {base.source_model}, {base.bits}b gpr{base.gpr})"
    from sketch.models import resolve_model_source

    return resolve_model_source(spec, dtype=dtype, device=device)
