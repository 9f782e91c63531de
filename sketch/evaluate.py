"""Task quality of a causal LM: held-out loss on the response tokens, and accuracy of greedy answers.

Works on any transformers causal LM: a sketched model (sketch/lut_model.py) with or without a task LUT,
a dense model, a peft-wrapped one. Prompts come from sketch/prompts.py, the same as in training.

Answer extraction (the LLM-Adapters conventions, which the datasets come from):
    boolq  the first "true" / "false" in the generated text
    arc    the first "answer1".."answer5"
    math   the last number in the text, equal to `answer` within 1e-3
    tool   the function calls the text makes (sketch/tools.parse_calls), equal to the answer's: names and arguments
           (a conversation row whose response is tool calls has them as its answer)
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import time
from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F
from tqdm import tqdm

from sketch.prompts import IGNORE_INDEX, collate, collate_prompts, encode_example, encode_prompt, pad_id_of
from sketch.tools import parse_calls

ANSWER_KINDS = ("boolq", "arc", "math", "tool")
MAX_NEW_TOKENS = {"boolq": 16, "arc": 16, "math": 256, "tool": 128}  # "the correct answer is true" is ~7 tokens
MATH_TOLERANCE = 1e-3

_BOOL = re.compile(r"\b(true|false)\b", re.IGNORECASE)
_CHOICE = re.compile(r"answer\s*([1-5])\b", re.IGNORECASE)
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


@dataclass
class EvalResult:
    loss: float | None  # mean loss per response token (None: no example has an output)
    accuracy: float | None  # None: no example has an answer
    n: int  # examples evaluated
    loss_tokens: int
    kind: str | None
    time_s: float
    correct: list[bool] | None = None  # per example with an answer, in order

    def as_dict(self) -> dict:
        return asdict(self)


def detect_answer_kind(examples: list[dict[str, str]]) -> str | None:
    """'boolq', 'arc', 'math' or 'tool' from the `answer` fields (all must agree); None if there are no answers."""
    answers = [e["answer"].strip().lower() for e in examples if e.get("answer", "").strip()]
    if not answers:
        return None
    if all(parse_calls(e["answer"], None) for e in examples if e.get("answer", "").strip()):
        return "tool"
    if all(a in ("true", "false") for a in answers):
        return "boolq"
    if all(re.fullmatch(r"answer[1-5]", a) for a in answers):
        return "arc"
    if all(_as_float(a) is not None for a in answers):
        return "math"
    raise ValueError(f"cannot tell the answer kind from answers such as {answers[:3]}; pass one of {ANSWER_KINDS}")


def extract_answer(text: str, kind: str) -> str | float | None:
    """The answer a generated text gives, or None when it gives none."""
    if kind == "boolq":
        m = _BOOL.search(text)
        return m.group(1).lower() if m else None
    if kind == "arc":
        m = _CHOICE.search(text)
        return f"answer{m.group(1)}" if m else None
    if kind == "math":
        numbers = _NUMBER.findall(re.sub(r"(?<=\d),(?=\d)", "", text))  # 1,234 -> 1234
        return float(numbers[-1]) if numbers else None
    if kind == "tool":
        parsed = parse_calls(text, None)
        return json.dumps(parsed[1], sort_keys=True) if parsed else None  # the calls, in order, canonical
    raise ValueError(f"answer kind must be one of {ANSWER_KINDS}, got {kind!r}")


def is_correct(text: str, answer: str, kind: str) -> bool:
    predicted = extract_answer(text, kind)
    if predicted is None:
        return False
    if kind == "math":
        expected = _as_float(answer)
        return expected is not None and abs(predicted - expected) <= MATH_TOLERANCE
    if kind == "tool":
        return predicted == extract_answer(answer, kind)
    return predicted == answer.strip().lower()


def _as_float(s: str) -> float | None:
    try:
        value = float(s.replace(",", ""))
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def device_of(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


def autocast_for(device: torch.device) -> contextlib.AbstractContextManager:
    """bf16 autocast on CUDA; plain fp32 elsewhere (CPU autocast would only add casts)."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def response_loss(model: nn.Module, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """(sum of token losses over response positions, number of those positions); fp32 cross entropy.

    Position t predicts token t+1, so the hidden state at t is scored against labels[:, t + 1]. Only the response
    positions go through lm_head: the logits of a batch are [B, T, vocab] (16 x 256 x 49,152 floats, 0.8 GB, for
    the default model) where a BoolQ response is ~10 % of the tokens; on a 2-core CPU the whole-sequence head and
    its log-softmax took ~1.1 s of a ~6 s training step.
    """
    lm = model.get_base_model() if hasattr(model, "get_base_model") else model  # (under a peft LoRA wrapper)
    hidden = lm.get_decoder()(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                              use_cache=False).last_hidden_state  # [B, T, H]  # fmt: skip
    targets = batch["labels"][:, 1:]  # [B, T-1]
    scored = targets != IGNORE_INDEX
    logits = lm.get_output_embeddings()(hidden[:, :-1][scored])  # [R, vocab], R = response positions
    loss_sum = F.cross_entropy(logits.float(), targets[scored], reduction="sum")
    return loss_sum, scored.sum()


def _length_sorted_batches(lengths: list[int], batch_size: int) -> list[list[int]]:
    """Indices grouped into batches of similar length (less padding); longest first, so OOM shows early."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


@torch.no_grad()
def task_loss(
    model: nn.Module, tokenizer, examples: list[dict[str, str]], max_length: int = 512, batch_size: int = 32
) -> tuple[float | None, int]:
    """(mean loss per response token, response tokens) over examples with a non-empty `output`."""
    device = device_of(model)
    encoded = [encode_example(e, tokenizer, max_length) for e in examples if e.get("output")]
    if not encoded:
        return None, 0
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    for idx in _length_sorted_batches([len(e.input_ids) for e in encoded], batch_size):
        batch = {k: v.to(device) for k, v in collate([encoded[i] for i in idx], pad_id_of(tokenizer)).items()}
        with autocast_for(device):
            loss_sum, n = response_loss(model, batch)
        total += float(loss_sum)
        count += int(n)
    model.train(was_training)
    return total / max(count, 1), count


@torch.no_grad()
def generate_responses(
    model: nn.Module,
    tokenizer,
    examples: list[dict[str, str]],
    max_new_tokens: int,
    batch_size: int = 32,
    max_length: int = 512,
    progress: bool = True,
) -> list[str]:
    """Greedy continuation of each example's prompt (the training prompt), decoded without special tokens."""
    from transformers import GenerationConfig

    device = device_of(model)
    pad_id = pad_id_of(tokenizer)
    prompts = [encode_prompt(e, tokenizer)[-max_length:] for e in examples]
    config = GenerationConfig(
        max_new_tokens=max_new_tokens,
        do_sample=False,
        pad_token_id=pad_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    was_training = model.training
    model.eval()
    texts: list[str] = [""] * len(examples)
    batches = _length_sorted_batches([len(p) for p in prompts], batch_size)
    for idx in tqdm(batches, desc="generate", unit="batch", disable=not progress, leave=False):
        batch = {k: v.to(device) for k, v in collate_prompts([prompts[i] for i in idx], pad_id).items()}
        with autocast_for(device):
            out = model.generate(**batch, generation_config=config)  # [B, T + new]
        new_tokens = out[:, batch["input_ids"].shape[1] :]
        for row, i in enumerate(idx):
            texts[i] = tokenizer.decode(new_tokens[row], skip_special_tokens=True)
    model.train(was_training)
    return texts


def evaluate(
    model: nn.Module,
    tokenizer,
    examples: list[dict[str, str]],
    kind: str | None = None,
    max_length: int = 512,
    batch_size: int = 32,
    max_new_tokens: int | None = None,
    progress: bool = True,
) -> EvalResult:
    """Held-out task loss and greedy-answer accuracy of `model` on `examples`."""
    start = time.perf_counter()
    kind = kind or detect_answer_kind(examples)
    loss, tokens = task_loss(model, tokenizer, examples, max_length, batch_size)
    accuracy, correct = None, None
    scored = [e for e in examples if e.get("answer", "").strip()]
    if kind is not None and scored:
        texts = generate_responses(
            model, tokenizer, scored, max_new_tokens or MAX_NEW_TOKENS[kind], batch_size, max_length, progress
        )
        correct = [is_correct(t, e["answer"], kind) for t, e in zip(texts, scored, strict=True)]
        accuracy = sum(correct) / len(scored)
    return EvalResult(loss, accuracy, len(examples), tokens, kind, time.perf_counter() - start, correct)
