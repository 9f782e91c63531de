"""Calibration token sequences for sketching: from a user's file, or data-free (sampled by the model itself).

File formats (detected from the content, not the name):
    plain text          the whole file is one document
    JSONL               one JSON object per line with a "text" field
    instruction JSON    a list of {"instruction", "input", "output", ...} (../shared/data/tasks/*.json);
                        a row becomes "instruction\\ninput\\noutput"

Documents are shuffled (seeded), tokenized, joined with EOS into one stream and cut into `n_samples`
windows of `seq_len` tokens: calibration is a LongTensor [n_samples, seq_len].
Data-free calibration samples `n_samples` sequences of `seq_len` tokens from the model, starting at BOS
(temperature 1, top-p 0.95), so a model can be sketched with nothing but itself.
"""

from __future__ import annotations

import inspect
import json
import os
import random
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm import tqdm

INSTRUCTION_FIELDS = ("instruction", "input", "output")


class CalibrationError(ValueError):
    """A calibration file is empty, unreadable, or of an unknown format."""


def read_texts(path: str | os.PathLike) -> list[str]:
    """The documents of a plain-text, JSONL (`text` field) or instruction-JSON file."""
    p = Path(path)
    raw = p.read_text(encoding="utf-8")
    stripped = raw.lstrip()
    texts: list[str]
    if stripped.startswith("["):
        texts = _instruction_texts(json.loads(raw), p)
    elif stripped.startswith("{"):
        texts = _jsonl_texts(raw, p)
    else:
        texts = [raw]
    texts = [t for t in texts if t.strip()]
    if not texts:
        raise CalibrationError(f"{p} holds no text")
    return texts


def _instruction_texts(rows: list, path: Path) -> list[str]:
    texts = []
    for i, row in enumerate(rows):
        if isinstance(row, str):
            texts.append(row)
            continue
        if not isinstance(row, dict) or not any(k in row for k in (*INSTRUCTION_FIELDS, "text")):
            raise CalibrationError(f"{path}: row {i} has none of instruction/input/output/text")
        if "text" in row:
            texts.append(str(row["text"]))
        else:
            texts.append("\n".join(str(row[k]).strip() for k in INSTRUCTION_FIELDS if str(row.get(k, "")).strip()))
    return texts


def _jsonl_texts(raw: str, path: Path) -> list[str]:
    texts = []
    for n, line in enumerate(raw.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise CalibrationError(f"{path}:{n}: not JSON ({e})") from e
        if not isinstance(row, dict) or "text" not in row:
            raise CalibrationError(f"{path}:{n}: JSONL rows need a 'text' field")
        texts.append(str(row["text"]))
    return texts


def token_stream(tokenizer, texts: list[str]) -> list[int]:
    """All documents tokenized (no special tokens) and joined with EOS."""
    sep = tokenizer.eos_token_id
    ids: list[int] = []
    for encoded in tokenizer(texts, add_special_tokens=False)["input_ids"]:
        ids.extend(encoded)
        if sep is not None:
            ids.append(sep)
    return ids


def calibration_from_texts(
    tokenizer, texts: list[str], n_samples: int, seq_len: int, seed: int = 0
) -> torch.Tensor:
    """[n, seq_len] windows of the shuffled token stream; n = n_samples unless the text is too short."""
    order = list(texts)
    random.Random(seed).shuffle(order)
    stream = token_stream(tokenizer, order)
    if len(stream) < 2:
        raise CalibrationError("calibration text is shorter than two tokens")
    seq_len = min(seq_len, len(stream))
    n = min(n_samples, len(stream) // seq_len)
    if n < n_samples:
        print(f"calibration: text holds {len(stream)} tokens, using {n} windows of {seq_len}", flush=True)
    return torch.tensor(stream[: n * seq_len], dtype=torch.long).view(n, seq_len)


def calibration_from_file(
    tokenizer, path: str | os.PathLike, n_samples: int, seq_len: int, seed: int = 0
) -> torch.Tensor:
    return calibration_from_texts(tokenizer, read_texts(path), n_samples, seq_len, seed)


def kv_cache_name(model: torch.nn.Module) -> str:
    """The KV-cache argument (and output field) of a transformers causal LM's forward: `cache` since transformers
    5.2x, `past_key_values` before (deprecated there, removed in 5.40)."""
    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


@torch.no_grad()
def data_free_calibration(
    model,
    bos_token_id: int,
    n_samples: int,
    seq_len: int,
    seed: int = 0,
    batch_size: int = 32,
    temperature: float = 1.0,
    top_p: float = 0.95,
) -> torch.Tensor:
    """[n_samples, seq_len] token ids sampled from the model itself, each starting with BOS.

    EOS does not stop a sequence: the model simply goes on (for a chat model, with a new turn).
    """
    device = next(model.parameters()).device
    cache_name = kv_cache_name(model)
    g = torch.Generator(device="cpu").manual_seed(seed)
    out = torch.empty(n_samples, seq_len, dtype=torch.long)
    steps = -(-n_samples // batch_size) * (seq_len - 1)
    bar = tqdm(total=steps, desc="data-free calibration", unit="tok", leave=False)
    for start in range(0, n_samples, batch_size):
        b = min(batch_size, n_samples - start)
        ids = torch.full((b, 1), bos_token_id, dtype=torch.long, device=device)
        seq = [ids]
        past = None
        for _ in range(seq_len - 1):
            result = model(input_ids=ids, use_cache=True, **{cache_name: past})
            past = getattr(result, cache_name)
            logits = result.logits[:, -1].float().cpu() / temperature  # [b, vocab]
            ids = sample_top_p(logits, top_p, g).to(device)[:, None]
            seq.append(ids)
            bar.update(1)
        out[start : start + b] = torch.cat(seq, dim=1).cpu()
    bar.close()
    return out


# Candidates of the nucleus looked at first; a row whose nucleus (top_p of the mass) reaches past them sorts its whole
# vocabulary. Sorting 49,152 probabilities for each of 32 rows took ~50 ms of a ~190 ms calibration step on a 2-core
# CPU (the sampling ~97 ms, as long as the model's forward). The default model's samples have nuclei of 262 tokens
# (median), 2,946 at the 95th percentile, 11k at most; 4,096 candidates take ~10 ms a step.
TOP_P_CANDIDATES = 4096


def _in_nucleus(descending: torch.Tensor, top_p: float) -> torch.Tensor:
    """[b, w] probabilities in descending order -> bool [b, w]: inside the nucleus (the mass before a token is under
    top_p; the most likely token always is)."""
    return descending.cumsum(-1) - descending < top_p


def nucleus(probs: torch.Tensor, top_p: float) -> tuple[torch.Tensor, torch.Tensor]:
    """probs [b, V] -> (kept [b, w], ids [b, w]): each row's smallest set of most likely tokens holding `top_p` of
    its mass, in descending order, their probabilities (zero past a row's set) and token ids.

    A row whose set lies in its TOP_P_CANDIDATES most likely tokens, with no two of them equally likely, never sorts
    the whole vocabulary. The others are sorted whole, as before: where probabilities tie, the sort's order of them
    decides which are kept and where each stands, and topk may order them otherwise."""
    k = min(TOP_P_CANDIDATES, probs.shape[-1])
    top, ids = probs.topk(k, dim=-1)  # [b, k], descending
    keep = _in_nucleus(top, top_p)
    tied = (keep[:, :-1] & (top[:, 1:] == top[:, :-1])).any(-1)  # a kept token ties with the next one
    redo = keep[:, -1] | tied  # the set may reach past the candidates, or its order is the sort's to decide
    if bool(redo.any()):
        rows = redo.nonzero()[:, 0]
        full, full_ids = probs[rows].sort(dim=-1, descending=True)
        full_keep = _in_nucleus(full, top_p)
        width = max(k, int(full_keep.sum(-1).max()))
        top, ids, keep = (torch.cat([t, t.new_zeros(t.shape[0], width - k)], dim=1) for t in (top, ids, keep))
        top[rows], ids[rows], keep[rows] = full[:, :width], full_ids[:, :width], full_keep[:, :width]
    return top * keep, ids


def sample_top_p(logits: torch.Tensor, top_p: float, g: torch.Generator) -> torch.Tensor:
    """logits [b, V] -> [b] ids sampled from each row's nucleus (top_p of the mass), in proportion to the model.

    The draw is the one torch.multinomial made on the whole sorted vocabulary (zeros past the nucleus), which earlier
    sketches were calibrated with: ATen samples one index as argmax(p / q) with q ~ Exp(1) drawn for every entry of
    the row. The same [b, V] draws are made here (the generator advances as it did), and the argmax looks only at
    the candidates (nucleus: in the sort's order), so the samples, the sketches and their code fingerprints stay the
    same (tests/sketch/test_calibration.py; on the default model its 64 x 256 calibration tokens are identical)."""
    probs = torch.softmax(logits, dim=-1)
    kept, ids = nucleus(probs, top_p)
    q = torch.empty_like(probs).exponential_(1, generator=g)[:, : kept.shape[1]]
    pick = (kept / q).argmax(dim=-1, keepdim=True)  # [b, 1] index into the row's candidates
    return ids.gather(1, pick)[:, 0]


@dataclass(frozen=True)
class CalibrationConfig:
    """Where calibration sequences come from; recorded in the sketched base's sketch_config."""

    path: str | None = None  # text / JSONL / instruction-JSON file; None: data-free (sampled by the model)
    n_samples: int = 64
    seq_len: int = 256
    seed: int = 0

    def describe(self) -> dict:
        if self.path is None:
            source = {"source": "data-free", "temperature": 1.0, "top_p": 0.95, "start": "bos"}
        else:
            from sketch.models import file_sha256

            source = {"source": str(Path(self.path).resolve()), "sha256": file_sha256(self.path)}
        return {**source, "n_samples": self.n_samples, "seq_len": self.seq_len, "seed": self.seed}


def calibration_tokens(model, tokenizer, config: CalibrationConfig) -> torch.Tensor:
    """LongTensor [n, seq_len] for `config`: windows of the file, or sequences sampled from BOS."""
    if config.path is not None:
        return calibration_from_file(tokenizer, config.path, config.n_samples, config.seq_len, config.seed)
    bos = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
    if bos is None:
        raise CalibrationError("data-free calibration needs a BOS (or EOS) token to start from")
    return data_free_calibration(model, bos, config.n_samples, config.seq_len, config.seed)
