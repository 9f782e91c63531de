"""`serve --model`: a sketched base as it is; a Hugging Face directory or a .gguf file sketched at the first start
(cached, so the next start reads it); anything else a clear error, reported by /ready, with the process still up."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from server.api.app import create_app
from server.api.state import resolve_model_dir
from server.settings import Settings
from sketch.format import SKETCH_FILE, read_sketch_metadata
from tests.sketch.tiny_hf import save_tiny_hf_dir


@pytest.fixture
def cache(monkeypatch, tmp_path):
    monkeypatch.setenv("SKETCHSERVE_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def wait_loaded(client: TestClient, seconds: float = 300) -> dict:
    """/ready's body once the load has ended, loaded or failed."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        body = client.get("/ready").json()
        if body["status"] != "loading":
            return body
        time.sleep(0.2)
    raise AssertionError("the model did not load in time")


def test_a_hugging_face_directory_is_served_from_its_sketch_made_at_the_first_start(cache, tmp_path):
    hf = save_tiny_hf_dir(tmp_path / "tiny-llama")
    settings = Settings(model=str(hf), sketch_gpr=1, device="cpu", lut_store=tmp_path / "store", kv_cache_mb=8,
                        max_batch_size=4)
    with TestClient(create_app(settings)) as client:
        assert wait_loaded(client) == {"status": "ready"}
        out = client.post("/v1/generate", json={"task": "base", "prompt": "hi", "max_tokens": 3, "temperature": 0})
        assert out.status_code == 200 and out.json()["usage"]["completion_tokens"] == 3
    sketches = [p for p in (cache / "sketches").iterdir() if (p / SKETCH_FILE).exists()]
    assert [p.name.split("-b")[0] for p in sketches] == ["tiny-llama"]
    meta = read_sketch_metadata(sketches[0])
    assert (meta["bits"], meta["gpr"]) == ("4", "1")
    assert resolve_model_dir(str(hf), gpr=1) == sketches[0]  # the next start: the cached sketch
    assert resolve_model_dir(str(sketches[0])) == sketches[0]  # a sketched base is served as it is


def test_a_path_that_is_no_model_fails_the_load_clearly_and_the_server_stays_up(cache, tmp_path):
    (tmp_path / "notes").mkdir()
    with pytest.raises(FileNotFoundError, match="neither a sketched base directory"):
        resolve_model_dir(str(tmp_path / "notes"))
    settings = Settings(model=str(tmp_path / "missing.gguf"), device="cpu", lut_store=tmp_path / "store")
    with TestClient(create_app(settings)) as client:
        body = wait_loaded(client)
        assert body["status"] == "failed" and "missing.gguf" in body["error"]
        assert client.get("/ready").status_code == 503
        assert client.get("/health").status_code == 200
    assert not (cache / "sketches").exists()  # nothing sketched


@pytest.mark.parametrize(("field", "value"), [("sketch_bits", 5), ("sketch_bits", 8), ("sketch_gpr", 3)])
def test_sketch_settings_outside_the_supported_ones_are_refused(field, value):
    with pytest.raises(ValidationError, match=field):
        Settings(**{field: value})
