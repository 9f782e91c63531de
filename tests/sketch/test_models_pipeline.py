"""Model sources and the cache: what a spec resolves to, atomic directories, the lock, cache keys."""

from __future__ import annotations

import threading
import time

import pytest

from sketch import pipeline
from sketch.format import SKETCH_FILE, read_sketch_metadata
from sketch.models import (
    ModelSourceError,
    atomic_directory,
    cache_root,
    file_lock,
    file_sha256,
    remembered_file_sha256,
    resolve_model_dir,
)
from sketch.pipeline import default_sketch_dir, ensure_sketch, sketch_cache_dir
from tests.sketch.tiny_hf import save_tiny_hf_dir


def test_cache_root_honours_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("SKETCHSERVE_CACHE", str(tmp_path / "c"))
    assert cache_root() == tmp_path / "c"


def test_hf_directory_resolves_to_itself(tmp_path):
    path = save_tiny_hf_dir(tmp_path / "hf")
    assert resolve_model_dir(str(path))[0] == path


def test_a_sketched_base_or_a_missing_path_is_not_a_model_source(tmp_path):
    (tmp_path / "sketch.safetensors").write_bytes(b"")
    with pytest.raises(ModelSourceError, match="already a sketched base"):
        resolve_model_dir(str(tmp_path))
    with pytest.raises(ModelSourceError):
        resolve_model_dir(str(tmp_path / "nothing-here"))


def test_unsupported_architecture_is_refused(tmp_path):
    from transformers import GPT2Config, GPT2LMHeadModel

    from sketch.models import load_hf_model

    GPT2LMHeadModel(GPT2Config(n_layer=1, n_embd=32, n_head=2, vocab_size=64)).save_pretrained(str(tmp_path))
    with pytest.raises(ModelSourceError, match="unsupported architecture"):
        load_hf_model(tmp_path)


def test_atomic_directory_appears_whole_or_not_at_all(tmp_path):
    final = tmp_path / "entry"
    with pytest.raises(RuntimeError), atomic_directory(final) as tmp:
        (tmp / "half.txt").write_text("written before the crash")
        raise RuntimeError("crash")
    assert not final.exists() and list(tmp_path.iterdir()) == []
    with atomic_directory(final) as tmp:
        (tmp / "whole.txt").write_text("ok")
    assert (final / "whole.txt").read_text() == "ok"
    assert [p.name for p in tmp_path.iterdir()] == ["entry"]


def test_file_lock_lets_one_holder_in_at_a_time(tmp_path):
    lock, events = tmp_path / "x.lock", []

    def worker(name):
        with file_lock(lock):
            events.append(f"{name} in")
            time.sleep(0.2)
            events.append(f"{name} out")

    threads = [threading.Thread(target=worker, args=(n,)) for n in "ab"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert events[0][0] == events[1][0] and events[2][0] == events[3][0]  # never interleaved


def test_a_files_sha256_is_remembered_until_its_size_or_time_changes(monkeypatch, tmp_path):
    """A large GGUF is hashed once: later calls read the note while the file's size and mtime match; an edited
    file is hashed again; a damaged note costs only the hash."""
    weights = tmp_path / "model.gguf"
    weights.write_bytes(b"a" * 1000)
    first = remembered_file_sha256(weights, tmp_path / "cache")
    assert first == file_sha256(weights)

    hashed = []
    monkeypatch.setattr("sketch.models.file_sha256", lambda p: hashed.append(p) or file_sha256(p))
    assert remembered_file_sha256(weights, tmp_path / "cache") == first and hashed == []  # read from the note

    weights.write_bytes(b"b" * 1001)  # edited: another size (and time)
    assert remembered_file_sha256(weights, tmp_path / "cache") == file_sha256(weights) != first
    assert len(hashed) == 1

    (note,) = (tmp_path / "cache" / "digests").glob("*.json")
    note.write_text("{not json")
    assert remembered_file_sha256(weights, tmp_path / "cache") == file_sha256(weights)
    assert len(hashed) == 2 and '"sha256"' in note.read_text()  # rewritten whole
    note.write_text("[1, 2]")  # JSON, but not a note
    assert remembered_file_sha256(weights, tmp_path / "cache") == file_sha256(weights) and len(hashed) == 3


def test_default_sketch_cache_key_follows_every_setting():
    assert default_sketch_dir(4, 4) == default_sketch_dir(4, 4)
    assert default_sketch_dir(4, 4) != default_sketch_dir(4, 8)
    assert default_sketch_dir(4, 4) != default_sketch_dir(4, 4, n_samples=8)
    assert default_sketch_dir(4, 4) != default_sketch_dir(4, 4, emphasis=2.0)
    with pytest.raises(TypeError, match="unknown"):
        default_sketch_dir(4, 4, colour="blue")


def test_a_hugging_face_directory_is_sketched_once_then_read_from_the_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("SKETCHSERVE_CACHE", str(tmp_path / "cache"))
    hf = save_tiny_hf_dir(tmp_path / "My Model")
    settings = {"bits": 4, "gpr": 1, "n_samples": 2, "seq_len": 16}
    first = ensure_sketch(str(hf), **settings)
    assert first.parent == tmp_path / "cache" / "sketches" and first.name.startswith("my-model-b4g1-")
    assert read_sketch_metadata(first)["bits"] == "4" and (first / "tokenizer.json").exists()

    def sketching_again(*args, **kwargs):
        raise AssertionError("a cached sketch was built again")

    monkeypatch.setattr(pipeline, "build_sketch", sketching_again)
    assert ensure_sketch(str(hf), **settings) == first
    assert sketch_cache_dir(str(hf), **{**settings, "gpr": 2}) != first  # other settings: another entry
    time.sleep(0.01)
    save_tiny_hf_dir(hf, seed=1)  # the model written again in place: its files' times change
    assert sketch_cache_dir(str(hf), **settings) != first
    assert (first / SKETCH_FILE).exists()  # the older entry stays
