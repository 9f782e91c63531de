"""benchmarks/bench_serving.py measures what it says: full-batch decode steps, even behind long prompts."""

from types import SimpleNamespace

import pytest
import torch

from adapters.store import LutStore
from sketch.synthetic import llama_config
from tests.conftest import load_benchmark


@pytest.fixture(scope="module")
def bench():
    return load_benchmark("bench_serving")


def test_a_batch_of_long_prompts_still_reaches_full_batch_decode_steps(bench, tmp_path):
    """8 prompts of 1,200 tokens take 19 prefill steps of 512 tokens, more than the 2 new tokens asked for: each
    request must keep decoding until the last prompt is in, so that the batch of 8 decodes together, and the
    engine's length limit and KV cache must leave room for those extra tokens."""
    config = llama_config(vocab_size=512, hidden_size=64, intermediate_size=128, num_hidden_layers=1,
                          num_attention_heads=4, num_key_value_heads=2)  # fmt: skip
    args = SimpleNamespace(device=torch.device("cpu"), prompt=1200, new_tokens=2, ttft_prompt=16,
                           cpu_weight_dtype="float32", cuda_graph_max_batch=64)  # fmt: skip
    base = bench.random_base(config, gpr=1, device=args.device)
    store = LutStore(tmp_path / "store", base.spec(), verify_on_open=False)
    bench.fill_store(base, store, ["task0"], tmp_path)
    engine = bench.make_engine(base, store, args, num_slots=2, max_batch=8)
    try:
        point = bench.decode_point(engine, base, ["task0"], 8, args, lambda tasks, batch, ctx: 1e-3)
    finally:
        engine.stop()
    assert point["batch"] == 8 and point["decode_steps"] >= args.new_tokens
    assert point["tok_per_s"] > 0 and point["step_ms"] > 0


def test_the_tiny_run_reports_every_table_field_and_its_start_up_cost(bench, tmp_path, monkeypatch):
    """The script end to end on the CPU (--tiny --peers): each gpr run has its decode points, TTFTs, and what a first
    start costs: the warm-up and the kernel autotuning (none on the CPU, where no kernel is timed); the issue's peers
    (HF generate, peft with 4 LoRAs mixed in a batch) run first, in the same process."""
    import json

    monkeypatch.setattr("sys.argv", ["bench_serving.py", "--tiny", "--peers", "--out", str(tmp_path)])
    bench.main()
    results = json.loads((tmp_path / "serving_tiny.json").read_text())
    assert set(results["peers"]) == {f"{peer}_batch{b}_tok_per_s" for peer in ("hf_fp16", "peft_4lora") for b in (1, 4)}
    assert all(v > 0 for v in results["peers"].values())
    runs = results["runs"]
    assert [r["gpr"] for r in runs] == [1, 4]
    for run in runs:
        assert {(p["batch"], p["tasks"]) for p in run["decode"]} == {(1, 1), (4, 1), (4, 2)}
        assert run["engine_start_s"] > 0 and run["warm_up_s"] > 0 and run["ttft_warm_s"] > 0
        assert run["ttft_prefix_cached_s"] > 0  # the same prompt again, on its cached blocks (timed, not asserted)
        # one task with 16 heads, one shared head, then twice the requests over the run's tasks in turn (2 in --tiny)
        bursts = [(b["shared"], b["requests"], b["tasks"]) for b in run["burst"]]
        assert bursts == [(False, 16, 1), (True, 16, 1), (False, 16, 2), (False, 16, 2)]
        assert run["autotune"] == run["autotune_after_start"] == {"keys": 0, "candidates": 0, "seconds": 0.0}
        for point in run["staggered"]:  # each engine step of the timed run traced: its model steps add up
            trace = point["steps"]
            decode = [dict(zip(trace["fields"], row, strict=True)) for row in trace["rows"]]
            assert sum(r["decode_steps"] for r in decode if r["prefill_tokens"] == 0) == point["decode_steps"]
            assert all(r["ms"] > 0 and 1 <= r["tasks"] <= point["tasks"] for r in decode)
    # residency (gpr 1): the pool that fits here, and projected to the 80 GB GPU: LUT sets that fit in it
    fits = runs[0]["residency"]
    assert fits["slots_affordable"] > 0
    assert 0 < fits["slots_on_80gb"] * fits["lut_set_bytes"] < bench.H100_80GB_BYTES


def test_the_lut_load_benchmark_times_each_phase_and_the_pools_loads(tmp_path, monkeypatch):
    """benchmarks/lut_load.py end to end on the CPU (--tiny): every phase timed, and one pool load per task."""
    import json
    import sys

    lut_load = load_benchmark("lut_load")
    monkeypatch.setattr(sys, "argv", ["lut_load.py", "--out", str(tmp_path), "--tiny", "--layers", "2", "--tasks", "3",
                                      "--device", "cpu"])  # fmt: skip
    lut_load.main()
    out = json.loads((tmp_path / "lut_load_gpr1_cpu.json").read_text())
    phases = ("sha256_s", "load_task_lut_s", "load_task_lut_verified_s", "stage_s", "copy_s")
    assert all(out[p] > 0 for p in phases) and len(out["pool_load_s"]) == 3 and min(out["pool_load_s"]) > 0
