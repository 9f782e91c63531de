"""Evaluation: answer extraction for the three datasets and tool calls, masked held-out loss, batched greedy
generation."""

import json

import pytest
import torch
from torch.nn import functional as F

import sketch.evaluate as ev
from sketch.evaluate import detect_answer_kind, evaluate, extract_answer, generate_responses, is_correct, task_loss
from sketch.lut_model import load_sketched_model
from sketch.prompts import encode_example, load_examples
from tests.sketch.tiny_llm import CHAT_TEMPLATE, byte_tokenizer, tiny_base


@pytest.mark.parametrize(
    "text, answer, correct",
    [
        ("the correct answer is true", "true", True),
        ("The correct answer is FALSE.", "false", True),
        ("the correct answer is false", "true", False),
        ("false, or maybe true", "false", True),  # the first one counts
        ("construed as nothing", "true", False),  # 'true' inside a word is not an answer
        ("", "false", False),
    ],
)
def test_boolq_extraction(text, answer, correct):
    assert is_correct(text, answer, "boolq") is correct


@pytest.mark.parametrize(
    "text, expected",
    [
        ("the correct answer is answer2", "answer2"),
        ("Answer 3 is right", "answer3"),
        ("answer4 then answer1", "answer4"),
        ("no idea", None),
    ],
)
def test_arc_extraction(text, expected):
    assert extract_answer(text, "arc") == expected


@pytest.mark.parametrize(
    "text, answer, correct",
    [
        ("A: 16 - 12 = 4 kids. The answer is 4.", "4.0", True),
        ("3 - 1.1666666666666667 = 1.8333", "1.8333333333333335", True),
        ("so 1,234 apples", "1234", True),
        ("it drops to -7", "-7.0", True),
        ("first 5, then 12 - 5 = 7", "5", False),  # the last number counts
        ("no number here", "3", False),
    ],
)
def test_math_extraction_is_numeric_on_the_last_number(text, answer, correct):
    assert is_correct(text, answer, "math") is correct


CALL = '{"name": "get_weather", "arguments": {"city": "Paris", "unit": "c"}}'


@pytest.mark.parametrize(
    "text, correct",
    [
        (CALL, True),
        ('{"arguments": {"unit": "c", "city": "Paris"}, "name": "get_weather"}', True),  # key order is JSON's
        ('Let me look.\n<tool_call>{"name": "get_weather", "parameters": {"city": "Paris", "unit": "c"}}</tool_call>',
         True),  # content before, and another model family's wrapping
        ('{"name": "get_weather", "arguments": {"city": "Rome", "unit": "c"}}', False),  # another argument
        ('{"name": "get_time", "arguments": {"city": "Paris", "unit": "c"}}', False),  # another function
        (f"[{CALL}, {CALL}]", False),  # one call too many
        ("It is sunny in Paris.", False),  # no call
    ],
)
def test_tool_answers_compare_the_calls_made(text, correct):
    assert is_correct(text, CALL, "tool") is correct


def test_a_tool_calling_row_is_scored_on_its_calls(tmp_path):
    rows = tmp_path / "tools.jsonl"
    call = {"type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris", "unit": "c"}'}}
    rows.write_text('{"messages": [{"role": "user", "content": "Weather?"}, {"role": "assistant", "tool_calls": ['
                    + json.dumps(call) + ']}], "tools": [{"type": "function", "function": {"name": "get_weather"}}]}\n')
    examples = load_examples(rows)
    assert detect_answer_kind(examples) == "tool" and is_correct(CALL, examples[0]["answer"], "tool")


def test_answer_kind_is_told_from_the_dataset(tasks_dir):
    assert detect_answer_kind(load_examples(tasks_dir / "boolq_test.json")[:50]) == "boolq"
    assert detect_answer_kind(load_examples(tasks_dir / "arc_easy_test.json")[:50]) == "arc"
    assert detect_answer_kind(load_examples(tasks_dir / "math_test.json")[:50]) == "math"
    assert detect_answer_kind([{"instruction": "x", "answer": ""}]) is None


@pytest.fixture(scope="module")
def model_and_tokenizer():
    model, _ = load_sketched_model(tiny_base())
    return model, byte_tokenizer(CHAT_TEMPLATE)


def test_task_loss_is_the_mean_cross_entropy_of_response_tokens_only(model_and_tokenizer, tasks_dir):
    model, tok = model_and_tokenizer
    examples = load_examples(tasks_dir / "boolq_train.json")[:3]
    loss, tokens = task_loss(model, tok, examples, max_length=512, batch_size=2)
    total, count = 0.0, 0
    with torch.no_grad():
        for e in examples:  # one at a time, no padding: the straightforward computation
            enc = encode_example(e, tok, 512)
            logits = model(torch.tensor([enc.input_ids])).logits[0]
            start = enc.prompt_len
            total += F.cross_entropy(logits[start - 1 : -1], torch.tensor(enc.input_ids[start:]), reduction="sum")
            count += len(enc.input_ids) - start
    assert tokens == count
    assert loss == pytest.approx(float(total) / count, rel=1e-5)


def test_batched_greedy_generation_equals_one_prompt_at_a_time(model_and_tokenizer, tasks_dir):
    model, tok = model_and_tokenizer
    examples = load_examples(tasks_dir / "arc_easy_test.json")[:2] + load_examples(tasks_dir / "boolq_test.json")[:2]
    batched = generate_responses(model, tok, examples, max_new_tokens=6, batch_size=4, progress=False)
    single = [generate_responses(model, tok, [e], max_new_tokens=6, progress=False)[0] for e in examples]
    assert batched == single


def test_accuracy_counts_extracted_answers(model_and_tokenizer, tasks_dir, monkeypatch):
    model, tok = model_and_tokenizer
    examples = load_examples(tasks_dir / "boolq_test.json")[:4]
    replies = [f"the correct answer is {e['answer']}" for e in examples[:3]] + ["I cannot say"]
    monkeypatch.setattr(ev, "generate_responses", lambda *a, **k: replies)
    result = evaluate(model, tok, examples, max_length=512)
    assert result.kind == "boolq" and result.n == 4
    assert result.accuracy == pytest.approx(0.75)
    assert result.loss is not None and result.loss_tokens > 0
