"""Instruction prompts: the one template used by fine-tuning and by evaluation.

An example is a dict {instruction, input, output, answer} (the format of ../shared/data/tasks/*.json):

    user message = instruction                       (+ "\\n\\n" + input when input is not empty)
    prompt       = the tokenizer's chat template: one user turn, generation prompt added;
                   or, for a tokenizer without a chat template, the Alpaca template
    response     = output + eos

or a conversation, {messages, tools, output, answer} (from a row of OpenAI's chat fine-tuning format, {"messages":
[...], "tools": [...]}, whose last message is the assistant's: each assistant message but those of weight 0 is the
output of one example, its tool calls written as sketch/tools.py's answer_text, the messages before it its messages):

    prompt       = the chat template over the messages, generation prompt added (the prompt /v1/chat/completions
                   renders for them); without a chat template, chat_transcript's plain format (the server's too)
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
from typing import Any

import torch

from sketch.tools import (
    ToolFormatError,
    answer_text,
    call_text,
    functions,
    message_calls,
    template_messages,
    template_renders_tools,
)

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


CHAT_ROLES = ("system", "developer", "user", "assistant", "tool")  # developer: OpenAI's newer name of system


def load_examples(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Read a dataset: a JSON list, or JSON lines (one object a line). A row is an instruction, {instruction, input,
    output, answer} (`instruction` needed, the others default to ''), or a conversation, {messages: [{role,
    content}, ...], tools, answer} (OpenAI's chat fine-tuning format; the last message is the assistant's): one
    example per assistant message trained on (_conversation)."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if text.lstrip().startswith("["):
        rows = json.loads(text)
        numbered = list(enumerate(rows))
    else:  # JSON lines: a row's number is its line's
        numbered = []
        for n, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    numbered.append((n, json.loads(line)))
                except json.JSONDecodeError as e:
                    raise ValueError(f"{path}: line {n} is not JSON ({e.msg})") from None
        if not numbered:
            raise ValueError(f"{path}: expected a JSON list or JSON lines of instruction or messages rows")
    examples = []
    for i, row in numbered:
        where = f"{path}: row {i}"
        if isinstance(row, dict) and "messages" in row:
            examples.extend(_conversation(row, where))
        elif isinstance(row, dict) and isinstance(row.get("instruction"), str):
            examples.append({key: str(row.get(key) or "") for key in ("instruction", "input", "output", "answer")})
        else:
            raise ValueError(f"{where} has neither a string 'instruction' nor 'messages'")
    return examples


def _conversation(row: dict, where: str) -> list[dict[str, Any]]:
    """One example per assistant message of a messages row that is trained on (all but those of weight 0, as in
    OpenAI's format), each {messages (those before it), tools, output (its content, or its tool calls as
    sketch/tools.answer_text writes them), answer}. The row's `answer` belongs to its last message; a turn of tool
    calls has its calls as its answer (evaluation's "tool" kind)."""
    messages, tools = row["messages"], row.get("tools")
    if not isinstance(messages, list) or len(messages) < 2:
        raise ValueError(f"{where}: 'messages' must list at least a prompt message and the assistant's response")
    for j, m in enumerate(messages):
        calls = isinstance(m, dict) and m.get("role") == "assistant" and m.get("tool_calls")
        if not (isinstance(m, dict) and m.get("role") in CHAT_ROLES
                and (isinstance(m.get("content"), str) or (calls and m.get("content") is None))):  # fmt: skip
            raise ValueError(f"{where}: message {j} needs a role in {CHAT_ROLES} and a string content (or, the "
                             "assistant's, tool_calls)")  # fmt: skip
        if m.get("weight", 1) not in (0, 1):
            raise ValueError(f"{where}: message {j}'s weight must be 0 or 1")
    if messages[-1]["role"] != "assistant":
        raise ValueError(f"{where}: the last message must be the assistant's (the response trained on)")
    try:
        names = {f["name"] for f in functions(tools)}
        turns = [(i, message_calls(m)) for i, m in enumerate(messages)]
    except ToolFormatError as e:
        raise ValueError(f"{where}: {e}") from None
    examples = []
    for i, calls in turns:
        m = messages[i]
        if m["role"] != "assistant" or i == 0 or m.get("weight", 1) == 0:
            continue
        if calls and not {c["name"] for c in calls} <= names:
            raise ValueError(f"{where}: message {i} calls a function that 'tools' does not define")
        output = m.get("content") or ""
        answer = str(row.get("answer") or "") if i == len(messages) - 1 else ""
        if calls:
            output = answer_text(output, calls)
            answer = answer or call_text(calls)
        prompt = [{**p, **template_message(p["role"], p.get("content") or "")} for p in messages[:i]]
        examples.append({"messages": prompt, "tools": tools, "output": output, "answer": answer})
    if not examples:
        raise ValueError(f"{where}: no assistant message to train on (every one has weight 0)")
    return examples


def has_chat_template(tokenizer) -> bool:
    return bool(getattr(tokenizer, "chat_template", None))


def user_message(example: dict[str, Any]) -> str:
    text = example["instruction"]
    if example.get("input"):
        text += "\n\n" + example["input"]
    return text


def template_message(role: str, content: str) -> dict[str, str]:
    """A chat message as a chat template reads it: OpenAI's developer role as system (templates know no other).
    Training (conversation rows) and the server (ChatMessage) render messages through it alike."""
    return {"role": "system" if role == "developer" else role, "content": content}


def render_conversation(tokenizer, messages: list[dict], tools: list[dict] | None = None) -> str:
    """A conversation's prompt text, ending where the assistant's turn begins: the chat template over the messages
    (OpenAI-shaped, their roles through template_message; tools, tool calls and tool results as sketch/tools.py
    renders them), or chat_transcript for a tokenizer without one. Training and /v1/chat/completions both call it."""
    native = bool(tools) and template_renders_tools(tokenizer)
    rendered = template_messages(messages, tools, native)
    if has_chat_template(tokenizer):
        extra = {"tools": [{"type": "function", "function": f} for f in functions(tools)]} if native else {}
        return tokenizer.apply_chat_template(rendered, tokenize=False, add_generation_prompt=True, **extra)
    return chat_transcript(rendered)


def chat_transcript(messages: list[dict[str, str]]) -> str:
    """A conversation's prompt for a tokenizer without a chat template: a plain, documented transcript, ending where
    the assistant's turn begins (the server renders chat requests the same way)."""
    return "".join(f"{m['role']}: {m['content']}\n" for m in messages) + "assistant:"


def build_prompt(example: dict[str, Any], tokenizer) -> str:
    """The prompt text, ending exactly where the model's response begins."""
    if example.get("messages"):
        return render_conversation(tokenizer, example["messages"], example.get("tools"))
    if has_chat_template(tokenizer):
        messages = [{"role": "user", "content": user_message(example)}]
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    if example.get("input"):
        return ALPACA_PROMPT_WITH_INPUT.format(instruction=example["instruction"], input=example["input"])
    return ALPACA_PROMPT.format(instruction=example["instruction"])


def encode_prompt(example: dict[str, Any], tokenizer) -> list[int]:
    """Prompt ids. A chat template writes its own special tokens (BOS included), so none are added to it;
    the plain template gets the tokenizer's usual ones (e.g. BOS)."""
    add_special = not has_chat_template(tokenizer)
    return tokenizer(build_prompt(example, tokenizer), add_special_tokens=add_special)["input_ids"]


def encode_response(example: dict[str, Any], tokenizer) -> list[int]:
    ids = tokenizer(example["output"], add_special_tokens=False)["input_ids"]
    if tokenizer.eos_token_id is not None:
        ids = ids + [tokenizer.eos_token_id]
    return ids


def encode_example(example: dict[str, Any], tokenizer, max_length: int) -> EncodedExample:
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
