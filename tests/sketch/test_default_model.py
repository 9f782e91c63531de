"""The real embedded model (SmolLM2-135M-Instruct): its cached default sketch is close to the original.

Slow the first time on a machine (GGUF conversion + sketching, a few minutes on 2 cores); both results
are cached under $SKETCHSERVE_CACHE (~/.cache/sketchserve), so later runs take seconds.
"""

from __future__ import annotations

import math
import tempfile
import time
from pathlib import Path

import pytest

from sketch.format import load_sketched_base
from sketch.lut_model import load_sketched_model
from sketch.models import resolve_model_source
from sketch.perplexity import held_out_solutions, perplexity
from sketch.pipeline import ensure_default_sketch
from tests.conftest import TASKS_DIR

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def default_sketch():
    return ensure_default_sketch()  # 4-bit, gpr=4, data-free calibration: what `serve --model default` uses


@pytest.fixture(scope="module")
def held_out_ids():
    """~1k tokens of worked solutions from math_train.json (the default sketch never saw them: data-free)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(ensure_default_sketch()))
    return held_out_solutions(tokenizer, TASKS_DIR / "math_train.json", 1024)


def test_default_sketch_is_cached_and_describes_itself(default_sketch):
    t0 = time.perf_counter()
    assert ensure_default_sketch() == default_sketch
    assert time.perf_counter() - t0 < 5
    base = load_sketched_base(default_sketch)
    assert (base.bits, base.gpr) == (4, 4)
    assert len(base.codes) == 30 * 7
    assert base.sketch_config["calibration"]["source"] == "data-free"
    assert "SmolLM2-135M-Instruct" in base.source_model
    assert (default_sketch / "tokenizer.json").exists()


def test_default_sketch_perplexity_is_close_to_the_unsketched_model(default_sketch, held_out_ids):
    original, _, _ = resolve_model_source("default")
    ppl_original = perplexity(original, held_out_ids, seq_len=512, progress=False).ppl
    del original
    sketched, _ = load_sketched_model(default_sketch)
    ppl_sketched = perplexity(sketched, held_out_ids, seq_len=512, progress=False).ppl
    assert math.isfinite(ppl_sketched)
    assert ppl_sketched < 1.15 * ppl_original, (ppl_sketched, ppl_original)


def test_the_server_scores_the_default_sketch_as_the_offline_model_does(default_sketch, held_out_ids):
    """Every held-out token's log-probability through the engine (prompt scoring, float32 CPU weights) gives the
    perplexity of the transformers LUT model: the server serves the model that was sketched."""
    from transformers import AutoTokenizer

    from tests.conftest import load_benchmark

    bench = load_benchmark("serving_ppl")
    base = load_sketched_base(default_sketch)
    offline, _ = load_sketched_model(base)
    ppl_offline = perplexity(offline, held_out_ids, seq_len=512, progress=False).ppl
    del offline
    tokenizer = AutoTokenizer.from_pretrained(str(default_sketch))
    with tempfile.TemporaryDirectory() as d:
        engine = bench.make_engine(base, tokenizer, "cpu", "float32", 512, Path(d))
        served = bench.served_perplexity(engine, held_out_ids, 512)
        engine.stop()
    assert served["tokens"] == 1024 - 2
    assert served["ppl"] == pytest.approx(ppl_offline, rel=1e-5)
