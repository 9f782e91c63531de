"""Calibration sequences: the three file formats, windows of the shuffled stream, data-free sampling."""

from __future__ import annotations

import json

import pytest
import torch

from sketch.calibration import (
    CalibrationConfig,
    CalibrationError,
    calibration_from_texts,
    calibration_tokens,
    data_free_calibration,
    nucleus,
    read_texts,
    sample_top_p,
)
from tests.sketch.tiny_hf import tiny_llama
from tests.sketch.tiny_llm import BOS, byte_tokenizer


def test_plain_text_is_one_document(tmp_path):
    f = tmp_path / "corpus.txt"
    f.write_text("First line.\nSecond line.\n")
    assert read_texts(f) == ["First line.\nSecond line.\n"]


def test_jsonl_reads_the_text_field(tmp_path):
    f = tmp_path / "corpus.jsonl"
    f.write_text('{"text": "alpha"}\n\n{"text": "beta", "id": 2}\n')
    assert read_texts(f) == ["alpha", "beta"]


def test_jsonl_without_text_field_is_refused(tmp_path):
    f = tmp_path / "bad.jsonl"
    f.write_text('{"body": "alpha"}\n')
    with pytest.raises(CalibrationError, match="text"):
        read_texts(f)


def test_instruction_json_joins_instruction_input_output(tasks_dir):
    texts = read_texts(tasks_dir / "math_train.json")
    rows = json.loads((tasks_dir / "math_train.json").read_text())
    assert len(texts) == len(rows)
    assert texts[0].startswith(rows[0]["instruction"].strip())
    assert texts[0].endswith(rows[0]["output"].strip())


def test_empty_file_is_refused(tmp_path):
    f = tmp_path / "empty.txt"
    f.write_text("  \n")
    with pytest.raises(CalibrationError):
        read_texts(f)


def test_windows_of_the_shuffled_stream_are_seeded():
    tok = byte_tokenizer()
    texts = [f"document number {i} " * 3 for i in range(20)]
    a = calibration_from_texts(tok, texts, n_samples=5, seq_len=32, seed=1)
    assert a.shape == (5, 32) and a.dtype == torch.long
    assert torch.equal(a, calibration_from_texts(tok, texts, 5, 32, seed=1))
    assert not torch.equal(a, calibration_from_texts(tok, texts, 5, 32, seed=2))


def test_short_text_gives_fewer_windows():
    tok = byte_tokenizer()
    ids = calibration_from_texts(tok, ["x" * 100], n_samples=10, seq_len=40, seed=0)
    assert ids.shape == (2, 40)  # 101 tokens (text + EOS) hold two windows of 40


def test_data_free_samples_start_at_bos_and_are_seeded():
    model = tiny_llama()
    a = data_free_calibration(model, bos_token_id=1, n_samples=5, seq_len=12, seed=0, batch_size=2)
    assert a.shape == (5, 12)
    assert torch.all(a[:, 0] == 1)
    assert int(a.max()) < 256
    assert torch.equal(a, data_free_calibration(model, 1, 5, 12, seed=0, batch_size=2))
    assert len({tuple(row.tolist()) for row in a}) > 1, "samples should differ from one another"


@pytest.mark.parametrize("temperature", [0.3, 1.0, 30.0])  # peaked rows (few candidates) to flat ones (past 256)
def test_the_nucleus_is_the_smallest_most_likely_set_holding_top_p(temperature):
    g = torch.Generator().manual_seed(7)
    probs = torch.softmax(torch.randn(6, 5000, generator=g) * 4 / temperature, dim=-1)
    probs[0] = torch.softmax(torch.full((5000,), 2.0), dim=-1)  # all tied: every row's set is about top_p of them
    kept, ids = nucleus(probs, 0.9)
    for row in range(6):
        ordered = probs[row].sort(descending=True).values
        size = int((ordered.cumsum(0) - ordered < 0.9).sum())  # the smallest prefix holding 0.9 of the mass
        chosen = ids[row][kept[row] > 0]
        assert len(chosen) == size == len(set(chosen.tolist()))
        assert torch.equal(probs[row][chosen], ordered[:size])  # the most likely ones, in descending order
        assert torch.equal(kept[row][kept[row] > 0], probs[row][chosen])  # with the model's probabilities


def test_sampling_draws_what_a_multinomial_over_the_sorted_vocabulary_draws():
    """The sampler that earlier sketches were calibrated with sorted the whole vocabulary and drew with
    torch.multinomial; the faster one must draw the same tokens from the same generator, ties included, so that
    cached sketches and the task LUTs trained on them stay valid."""

    def sorted_multinomial(logits, top_p, g):
        sorted_p, order = torch.softmax(logits, dim=-1).sort(dim=-1, descending=True)
        keep = sorted_p.cumsum(-1) - sorted_p < top_p
        return order.gather(1, torch.multinomial(sorted_p * keep, 1, generator=g))[:, 0]

    source = torch.Generator().manual_seed(3)
    for scale in (0.2, 1.0, 4.0, 12.0):  # flat rows (nuclei past the candidates) to peaked ones
        for ties in (False, True):
            logits = torch.randn(16, 6000, generator=source) * scale
            logits = logits.round() if ties else logits  # many equally likely tokens
            g_old, g_new = torch.Generator().manual_seed(11), torch.Generator().manual_seed(11)
            for _ in range(3):  # the generators must stay in step from one draw to the next
                assert torch.equal(sorted_multinomial(logits, 0.95, g_old), sample_top_p(logits, 0.95, g_new))


def test_config_dispatches_file_or_data_free(tmp_path):
    model, tok = tiny_llama(vocab_size=259), byte_tokenizer()
    f = tmp_path / "c.txt"
    f.write_text("some calibration text " * 20)
    from_file = calibration_tokens(model, tok, CalibrationConfig(str(f), n_samples=3, seq_len=16))
    data_free = calibration_tokens(model, tok, CalibrationConfig(None, n_samples=3, seq_len=16))
    assert from_file.shape == data_free.shape == (3, 16)
    assert torch.all(data_free[:, 0] == tok.convert_tokens_to_ids(BOS))
    assert CalibrationConfig(str(f)).describe()["sha256"]
    assert CalibrationConfig(None).describe()["source"] == "data-free"
