"""A program's main thread builds the CPU engine, then start()s it: decode tok/s through Engine.generate.

    python3 benchmarks/engine_start_threads.py passing    # Engine.from_dir as it is: the set-up on a passing thread
    python3 benchmarks/engine_start_threads.py in_place   # the set-up on the main thread (the form before)

Per run: the embedded default model's sketch on the CPU, start(), then 4 greedy requests of 64 new tokens one after
another; prints the tok/s of the last 3 (the first warms up). Run the two modes in turns, each in its own process:
a main thread that ran the set-up's large torch ops keeps an OpenMP team beside the engine loop's, and two teams on
a small CPU throttle each other (kernels/cpu_threads.py). Results: results/engine_start_main_thread_twentyfifth.log.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from transformers import AutoTokenizer  # noqa: E402

from server.config import EngineConfig  # noqa: E402
from server.engine import Engine  # noqa: E402
from server.sampling import SamplingParams  # noqa: E402
from sketch.format import load_sketched_base  # noqa: E402
from sketch.pipeline import ensure_default_sketch  # noqa: E402


def main(mode: str) -> list[float]:
    sketch = ensure_default_sketch()
    config = EngineConfig(device="cpu")
    if mode == "in_place":
        engine = Engine.__new__(Engine)
        engine._build(load_sketched_base(sketch), AutoTokenizer.from_pretrained(str(sketch)), config, None)
    elif mode == "passing":
        engine = Engine.from_dir(sketch, config)
    else:
        raise SystemExit(f"mode must be 'passing' or 'in_place', got {mode!r}")
    engine.start()
    params = SamplingParams(max_tokens=64, temperature=0.0, ignore_eos=True)
    rates = []
    for _ in range(4):
        t0, tokens = time.perf_counter(), 0
        for out in engine.generate("base", "The capital of France is", params):
            tokens += len(out.token_ids)
        rates.append(tokens / (time.perf_counter() - t0))
    engine.stop()
    print(mode, " ".join(f"{r:.1f}" for r in rates[1:]), "tok/s", flush=True)
    return rates[1:]


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "passing")
