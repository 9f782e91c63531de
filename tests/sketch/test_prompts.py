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
    bad.write_text(json.dumps({"rows": [EXAMPLE]}))
    with pytest.raises(ValueError, match="row 1 has neither"):
        load_examples(bad)
    bad.write_text(json.dumps({"instruction": "pretty-printed, not a list"}, indent=2))
    with pytest.raises(ValueError, match="line 1 is not JSON"):
        load_examples(bad)


def test_json_lines_read_as_the_json_list_does(tmp_path):
    rows = [EXAMPLE, {"instruction": "second", "output": "2"}]
    listed, lines = tmp_path / "rows.json", tmp_path / "rows.jsonl"
    listed.write_text(json.dumps(rows))
    lines.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")  # (blank lines are skipped)
    assert load_examples(lines) == load_examples(listed)
    assert load_examples(lines)[1] == {"instruction": "second", "input": "", "output": "2", "answer": ""}


CONVERSATION = {"messages": [{"role": "developer", "content": "Answer true or false."},
                             {"role": "user", "content": "is water wet?"},
                             {"role": "assistant", "content": "true"}], "answer": "true"}  # fmt: skip


@pytest.mark.parametrize("template", [None, CHAT_TEMPLATE])
def test_a_conversation_trains_on_its_last_assistant_message_after_the_chat_prompt(tmp_path, template):
    """OpenAI's chat fine-tuning rows (JSON lines of {messages}): the prompt is what /v1/chat/completions renders
    for the messages before the last (the chat template, or the server's plain transcript without one; developer
    as system), the response the last, assistant message + eos."""
    from server.api.protocol import ChatMessage
    from server.api.routes.openai import render_chat

    data = tmp_path / "chat.jsonl"
    data.write_text(json.dumps(CONVERSATION) + "\n")
    [example] = load_examples(data)
    assert example["output"] == "true" and example["answer"] == "true"
    assert example["messages"][0] == {"role": "system", "content": "Answer true or false."}
    tok = byte_tokenizer(template)
    enc = encode_example(example, tok, max_length=1024)
    served = render_chat(tok, [ChatMessage(**m).template_message() for m in CONVERSATION["messages"][:-1]])
    assert enc.input_ids[: enc.prompt_len] == served
    assert tok.decode(enc.labels[enc.prompt_len : -1]) == "true" and enc.labels[-1] == tok.eos_token_id
    assert set(enc.labels[: enc.prompt_len]) == {IGNORE_INDEX}


def test_every_assistant_turn_of_a_conversation_is_an_example_after_the_turns_before_it(tmp_path):
    """OpenAI's format trains on each assistant message (weight 0 leaves one out): one example per such turn, whose
    prompt is what /v1/chat/completions renders for the messages before it."""
    from server.api.protocol import ChatMessage
    from server.api.routes.openai import render_chat

    turns = [{"role": "system", "content": "Count."}, {"role": "user", "content": "one"},
             {"role": "assistant", "content": "two"}, {"role": "user", "content": "three"},
             {"role": "assistant", "content": "FOUR", "weight": 0}, {"role": "user", "content": "five"},
             {"role": "assistant", "content": "six"}]  # fmt: skip
    data = tmp_path / "turns.jsonl"
    data.write_text(json.dumps({"messages": turns, "answer": "six"}) + "\n")
    examples = load_examples(data)
    assert [(e["output"], e["answer"], len(e["messages"])) for e in examples] == [("two", "", 2), ("six", "six", 6)]
    tok = byte_tokenizer(CHAT_TEMPLATE)
    for example, end in zip(examples, (2, 6), strict=True):
        enc = encode_example(example, tok, max_length=1024)
        served = render_chat(tok, [ChatMessage(**{k: v for k, v in m.items() if k != "weight"}).template_message()
                                   for m in turns[:end]])  # fmt: skip
        assert enc.input_ids[: enc.prompt_len] == served
    data.write_text(json.dumps({"messages": [turns[1], {**turns[2], "weight": 0}]}) + "\n")
    with pytest.raises(ValueError, match="no assistant message to train on"):
        load_examples(data)


@pytest.mark.parametrize("messages, error", [
    ([{"role": "user", "content": "hi"}], "at least a prompt message"),
    ([{"role": "user", "content": "hi"}, {"role": "user", "content": "again"}], "must be the assistant's"),
    ([{"role": "robot", "content": "hi"}, {"role": "assistant", "content": "x"}], "message 0 needs a role"),
    ([{"role": "user", "content": None}, {"role": "assistant", "content": "x"}], "message 0 needs a role"),
    ("not a list", "at least a prompt message"),
])  # fmt: skip
def test_a_malformed_conversation_names_its_row(tmp_path, messages, error):
    data = tmp_path / "chat.jsonl"
    data.write_text(json.dumps(CONVERSATION) + "\n" + json.dumps({"messages": messages}) + "\n")
    with pytest.raises(ValueError, match=f"row 2.*{error}"):
        load_examples(data)
