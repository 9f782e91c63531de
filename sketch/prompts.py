"""Instruction prompts: the one template used by fine-tuning and by evaluation.

An example is a dict {instruction, input, output, answer} (the format of ../shared/data/tasks/*.json):

    user message = instruction                       (+ "\\n\\n" + input when input is not empty)
    prompt       = the tokenizer's chat template: one user turn, generation prompt added;
                   or, for a tokenizer without a chat template, the Alpaca template
    response     = output + eos

    input_ids    = [ prompt ids ............ | response ids ...... eos ]
    labels       = [ -100 -100 ...      -100 | response ids ...... eos ]   (the loss counts the response only)

Prompt and response are tokenized separately and concatenated, so the prompt ids of a training example
are exactly the ids evaluation feeds to `generate`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

import torch

IGNORE_INDEX = -100  # label of a position the loss skips (torch cross_entropy's default ignore_index)

ALPACA_PROMPT = (
    "Below is an instruction that describes a task. Write a response that appropriately completes the request."
    "\n\n### Instruction:\n{instruction}\n\n### Response:\n"
)
ALPACA_PROMPT_WITH_INPUT = (
    "Below is an instruction that describes a task, paired with an input that provides further context. "
    "Write a response that appropriately completes the request."
    "\n\n### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:\n"
)


@dataclass
class EncodedExample:
    input_ids: list[int]  # prompt ids + response ids
    labels: list[int]  # IGNORE_INDEX on the prompt, the response ids after it
    prompt_len: int


def load_examples(path: str | os.PathLike) -> list[dict[str, str]]:
    """Read an instruction JSON list; every row needs `instruction`; `input`/`output`/`answer` default to ''."""
    with open(path, encoding="utf-8") as f:
        rows = json.load(f)
    if not isinstance(rows, list):
        raise ValueError(f"{path}: expected a JSON list of {{instruction, input, output, answer}} rows")
    examples = []
    for i, row in enumerate(rows):
        if not isinstance(row, dict) or not isinstance(row.get("instruction"), str):
            raise ValueError(f"{path}: row {i} has no string 'instruction'")
        examples.append({key: str(row.get(key) or "") for key in ("instruction", "input", "output", "answer")})
    return examples


def has_chat_template(tokenizer) -> bool:
    return bool(getattr(tokenizer, "chat_template", None))


def user_message(example: dict[str, str]) -> str:
    text = example["instruction"]
    if example.get("input"):
        text += "\n\n" + example["input"]
    return text


def build_prompt(example: dict[str, str], tokenizer) -> str:
    """The prompt text, ending exactly where the model's response begins."""
    if has_chat_template(tokenizer):
        messages = [{"role": "user", "content": user_message(example)}]
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    if example.get("input"):
        return ALPACA_PROMPT_WITH_INPUT.format(instruction=example["instruction"], input=example["input"])
    return ALPACA_PROMPT.format(instruction=example["instruction"])


def encode_prompt(example: dict[str, str], tokenizer) -> list[int]:
    """Prompt ids. A chat template writes its own special tokens (BOS included), so none are added to it;
    the plain template gets the tokenizer's usual ones (e.g. BOS)."""
    add_special = not has_chat_template(tokenizer)
    return tokenizer(build_prompt(example, tokenizer), add_special_tokens=add_special)["input_ids"]


def encode_response(example: dict[str, str], tokenizer) -> list[int]:
    ids = tokenizer(example["output"], add_special_tokens=False)["input_ids"]
    if tokenizer.eos_token_id is not None:
        ids = ids + [tokenizer.eos_token_id]
    return ids


def encode_example(example: dict[str, str], tokenizer, max_length: int) -> EncodedExample:
    """Prompt + response ids, labels masked on the prompt.

    Past max_length the prompt loses tokens from its start (its end holds the question and the generation
    prompt); a response longer than max_length alone is cut at its end.
    """
    prompt = encode_prompt(example, tokenizer)
    response = encode_response(example, tokenizer)[:max_length]
    prompt = prompt[max(0, len(prompt) + len(response) - max_length) :]
    return EncodedExample(prompt + response, [IGNORE_INDEX] * len(prompt) + response, len(prompt))


def pad_id_of(tokenizer) -> int:
    for token_id in (tokenizer.pad_token_id, tokenizer.eos_token_id):
        if token_id is not None:
            return int(token_id)
    return 0


def collate(encoded: list[EncodedExample], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-padded training batch: input_ids, attention_mask, labels, each [B, T] (T = longest row)."""
    length = max(len(e.input_ids) for e in encoded)
    input_ids = torch.full((len(encoded), length), pad_id, dtype=torch.long)
    labels = torch.full((len(encoded), length), IGNORE_INDEX, dtype=torch.long)
    attention_mask = torch.zeros((len(encoded), length), dtype=torch.long)
    for row, e in enumerate(encoded):
        n = len(e.input_ids)
        input_ids[row, :n] = torch.tensor(e.input_ids)
        labels[row, :n] = torch.tensor(e.labels)
        attention_mask[row, :n] = 1
    return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}


def collate_prompts(prompts: list[list[int]], pad_id: int) -> dict[str, torch.Tensor]:
    """Left-padded generation batch (new tokens follow every prompt at the same column): [B, T]."""
    length = max(len(p) for p in prompts)
    input_ids = torch.full((len(prompts), length), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(prompts), length), dtype=torch.long)
    for row, p in enumerate(prompts):
        input_ids[row, length - len(p) :] = torch.tensor(p)
        attention_mask[row, length - len(p) :] = 1
    return {"input_ids": input_ids, "attention_mask": attention_mask}
