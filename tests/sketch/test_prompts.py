"""The instruction prompt: one template for training and evaluation; the loss sees only the response."""

import json

import pytest

from sketch.prompts import (
    IGNORE_INDEX,
    build_prompt,
    collate,
    collate_prompts,
    encode_example,
    encode_prompt,
    load_examples,
)
from tests.sketch.tiny_llm import CHAT_TEMPLATE, byte_tokenizer

EXAMPLE = {
    "instruction": "Please answer the following question with true or false, question: is water wet?",
    "input": "",
    "output": "the correct answer is true",
    "answer": "true",
}


def test_chat_template_is_used_when_the_tokenizer_has_one():
    prompt = build_prompt(EXAMPLE, byte_tokenizer(CHAT_TEMPLATE))
    assert prompt == f"<|user|>\n{EXAMPLE['instruction']}\n<|assistant|>\n"


def test_alpaca_template_without_chat_template_and_input_is_appended():
    prompt = build_prompt(EXAMPLE, byte_tokenizer())
    assert prompt.startswith("Below is an instruction") and prompt.endswith("### Response:\n")
    assert "### Input:" not in prompt
    with_input = build_prompt({**EXAMPLE, "input": "CONTEXT"}, byte_tokenizer())
    assert "### Input:\nCONTEXT\n\n### Response:\n" in with_input
    chat = build_prompt({**EXAMPLE, "input": "CONTEXT"}, byte_tokenizer(CHAT_TEMPLATE))
    assert f"{EXAMPLE['instruction']}\n\nCONTEXT" in chat


@pytest.mark.parametrize("template", [None, CHAT_TEMPLATE])
def test_labels_mask_the_prompt_and_keep_response_plus_eos(template):
    tok = byte_tokenizer(template)
    enc = encode_example(EXAMPLE, tok, max_length=1024)
    prompt_ids = encode_prompt(EXAMPLE, tok)
    assert enc.input_ids[: enc.prompt_len] == prompt_ids  # the ids evaluation generates from
    assert enc.labels[: enc.prompt_len] == [IGNORE_INDEX] * len(prompt_ids)
    response = enc.labels[enc.prompt_len :]
    assert response == enc.input_ids[enc.prompt_len :]
    assert response[-1] == tok.eos_token_id
    assert tok.decode(response[:-1]) == EXAMPLE["output"]


def test_truncation_drops_the_start_of_the_prompt_never_the_response():
    tok = byte_tokenizer()
    full = encode_example(EXAMPLE, tok, max_length=1024)
    short = encode_example(EXAMPLE, tok, max_length=40)
    n_response = len(full.input_ids) - full.prompt_len
    assert len(short.input_ids) == 40
    assert short.input_ids == full.input_ids[-40:]
    assert short.labels[-n_response:] == full.labels[-n_response:]


def test_collate_pads_right_for_training_and_left_for_generation():
    tok = byte_tokenizer()
    a = encode_example(EXAMPLE, tok, 1024)
    b = encode_example({**EXAMPLE, "instruction": "short?"}, tok, 1024)
    batch = collate([a, b], pad_id=tok.pad_token_id)
    assert batch["input_ids"].shape == (2, len(a.input_ids))
    assert batch["attention_mask"][1].sum() == len(b.input_ids)
    assert (batch["labels"][1, len(b.input_ids) :] == IGNORE_INDEX).all()
    gen = collate_prompts([[1, 2, 3], [4]], pad_id=0)
    assert gen["input_ids"].tolist() == [[1, 2, 3], [0, 0, 4]]
    assert gen["attention_mask"].tolist() == [[1, 1, 1], [0, 0, 1]]


def test_load_examples_reads_the_task_files_and_rejects_other_json(tasks_dir, tmp_path):
    rows = load_examples(tasks_dir / "boolq_test.json")
    assert len(rows) == 3270 and set(rows[0]) == {"instruction", "input", "output", "answer"}
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"instruction": "not a list"}))
    with pytest.raises(ValueError, match="JSON list"):
        load_examples(bad)
