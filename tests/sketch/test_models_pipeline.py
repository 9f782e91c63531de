"""Model sources and the cache: what a spec resolves to, atomic directories, the lock, cache keys."""

from __future__ import annotations

import threading
import time

import pytest

from sketch.models import ModelSourceError, atomic_directory, cache_root, file_lock, resolve_model_dir
from sketch.pipeline import default_sketch_dir
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


def test_default_sketch_cache_key_follows_every_setting():
    assert default_sketch_dir(4, 4) == default_sketch_dir(4, 4)
    assert default_sketch_dir(4, 4) != default_sketch_dir(4, 8)
    assert default_sketch_dir(4, 4) != default_sketch_dir(4, 4, n_samples=8)
    assert default_sketch_dir(4, 4) != default_sketch_dir(4, 4, emphasis=2.0)
    with pytest.raises(TypeError, match="unknown"):
        default_sketch_dir(4, 4, colour="blue")
