"""Overlapped scheduling (EngineConfig.overlap_scheduling): the engine schedules and launches the next plan before it
reads the plan before back, and that plan's rows of the same requests take their tokens on the device. Outputs are
those of the engine without it; requests that end or are cancelled while a plan is in flight give back every KV
block and LUT pin, the pins only once no launched step can read their slots.

On the CPU each plan runs through runner.eager; on CUDA through the decode graphs.
"""

from __future__ import annotations

import pytest
import torch

from server.runner import Flight
from server.sampling import SamplingParams

from .conftest import create_engine, greedy, make_resident, prompt_ids

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
TASKS = ("alpha", "beta", "gamma")


def run(base, store, overlap: bool, specs, **engine_kw):
    """(task, prompt, params) requests started together; each one's outputs (TokenOutput list) and the engine."""
    engine = create_engine(base, store, device=DEVICE, overlap_scheduling="on" if overlap else "off", **engine_kw)
    make_resident(engine, TASKS)
    handles = [engine.add_request(task, prompt, params) for task, prompt, params in specs]
    engine.run_until_idle(timeout_s=120)
    stats = engine.stats()
    assert stats.kv_blocks_used == 0 and stats.running == 0 and stats.pool.pins == 0  # all given back
    return [h.poll() for h in handles], engine


def tokens(outputs) -> list[int]:
    return [t for o in outputs for t in o.token_ids]


@pytest.fixture
def specs():
    """Three tasks; greedy, seeded top-p and seeded plain-temperature requests of different lengths, one prompt
    longer than a step's token budget (16 here: chunked, so prefill chunks share steps with decodes)."""
    top_p = SamplingParams(max_tokens=7, temperature=0.8, top_p=0.9, seed=3, ignore_eos=True)
    plain = SamplingParams(max_tokens=10, temperature=1.0, seed=11, ignore_eos=True)
    return [("alpha", prompt_ids(1, 5), greedy(9)), ("beta", prompt_ids(2, 11), top_p),
            ("gamma", prompt_ids(3, 23), greedy(4)), ("alpha", prompt_ids(4, 3), plain)]  # fmt: skip


@pytest.mark.parametrize("decode_steps", [1, 4])
def test_outputs_equal_those_of_the_engine_without_overlap(base, store, specs, decode_steps):
    overlapped, _ = run(base, store, True, specs, decode_steps=decode_steps, max_num_batched_tokens=16)
    serial, _ = run(base, store, False, specs, decode_steps=decode_steps, max_num_batched_tokens=16)
    assert [tokens(o) for o in overlapped] == [tokens(o) for o in serial]
    assert [len(tokens(o)) for o in overlapped] == [9, 7, 4, 10]
    assert all(o[-1].finish_reason == "length" for o in overlapped)


def test_the_next_plan_is_launched_before_the_plan_before_is_read_back(base, store, specs, monkeypatch):
    engine = create_engine(base, store, device=DEVICE, overlap_scheduling="on", decode_steps=1)
    make_resident(engine, TASKS)
    events = []
    launch, collect = engine.runner.launch, Flight.collect

    def spy_launch(plan, *args, **kwargs):
        flight = launch(plan, *args, **kwargs)
        events.append(("launch", id(flight), sum(c.fed for c in plan.chunks)))
        return flight

    def spy_collect(flight):
        if flight.result is None:  # still on the device: this reads it back
            events.append(("collect", id(flight), 0))
        return collect(flight)

    monkeypatch.setattr(engine.runner, "launch", spy_launch)
    monkeypatch.setattr(Flight, "collect", spy_collect)
    handles = [engine.add_request(task, prompt, greedy(6)) for task, prompt, _ in specs[:3]]
    engine.run_until_idle(timeout_s=120)
    assert all(len(tokens(h.poll())) == 6 for h in handles)
    # a plan is read back only after the next one is launched (the spy records a launch once it returned, having
    # read back the plan before meanwhile: so check launches against the reads of the plans before them)
    launched = [e for e in events if e[0] == "launch"]
    read = [e[1] for e in events if e[0] == "collect"]
    assert len(read) == len(launched)  # every plan was left on the device, then read back
    assert all(launched[i][1] == read[i] for i in range(len(read)))  # in launch order
    assert sum(fed for _, _, fed in launched) >= 3 * 4  # the decodes took their tokens on the device


def test_a_request_that_stops_while_the_next_plan_is_in_flight_keeps_its_tokens_up_to_the_stop(base, store, specs):
    [alone, *_], _ = run(base, store, False, specs[:3])
    seen = tokens(alone)
    stop_at = next(i for i in range(2, 9) if seen[i] not in seen[:i])
    stopping = ("alpha", specs[0][1], greedy(9, stop_token_ids=[seen[stop_at]]))
    for decode_steps in (1, 4):
        overlapped, _ = run(base, store, True, [stopping, *specs[1:3]], decode_steps=decode_steps)
        serial, _ = run(base, store, False, [stopping, *specs[1:3]], decode_steps=decode_steps)
        assert tokens(overlapped[0]) == seen[: stop_at + 1]  # up to the stop token, nothing drawn after it
        assert overlapped[0][-1].finish_reason == "stop"
        assert [tokens(o) for o in overlapped] == [tokens(o) for o in serial]


def test_a_finished_requests_pin_is_held_until_the_plan_launched_with_its_row_is_read_back(base, store):
    alone = create_engine(base, store, device=DEVICE)
    seen = tokens(alone.generate("beta", prompt_ids(5, 4), greedy(8)))
    stop_at = next(i for i in range(1, 8) if seen[i] not in seen[:i])
    engine = create_engine(base, store, device=DEVICE, overlap_scheduling="on", decode_steps=1)
    make_resident(engine, TASKS)
    # beta's only request, ending on a stop token (a request whose max_tokens is reached gets no further row)
    short = engine.add_request("beta", prompt_ids(5, 4), greedy(8, stop_token_ids=[seen[stop_at]]))
    long = engine.add_request("alpha", prompt_ids(6, 4), greedy(8))
    key = ("beta", engine.store.latest("beta").version)
    while not short.finished.is_set():
        engine.step()
    # its last token was read back while the next plan, with a row for it, was already on the device
    in_flight = engine._flight.flight.plan.chunks
    assert any(c.request_id == short.request_id for c in in_flight)
    assert engine.pool.pins(key) == 1
    engine.step()  # reads that plan back
    assert engine.pool.pins(key) == 0
    engine.run_until_idle(timeout_s=120)
    assert tokens(short.poll()) == seen[: stop_at + 1]
    assert tokens(long.poll()) == tokens(alone.generate("alpha", prompt_ids(6, 4), greedy(8)))
    assert engine.stats().pool.pins == 0


def test_a_request_cancelled_while_its_plan_is_in_flight_ends_and_gives_everything_back(base, store, specs):
    engine = create_engine(base, store, device=DEVICE, overlap_scheduling="on", decode_steps=1)
    make_resident(engine, TASKS)
    handles = [engine.add_request(task, prompt, greedy(12)) for task, prompt, _ in specs[:3]]
    for _ in range(4):
        engine.step()
    assert engine._flight is not None
    handles[1].cancel()
    engine.run_until_idle(timeout_s=120)
    outputs = handles[1].poll()
    assert outputs[-1].finished and outputs[-1].finish_reason == "cancelled"
    assert len(tokens(outputs)) < 12
    stats = engine.stats()
    assert stats.kv_blocks_used == 0 and stats.running == 0 and stats.pool.pins == 0
    serial, _ = run(base, store, False, [(task, prompt, greedy(12)) for task, prompt, _ in specs[:3]])
    assert tokens(handles[0].poll()) == tokens(serial[0]) and tokens(handles[2].poll()) == tokens(serial[2])


def test_preemption_of_requests_with_pending_tokens_keeps_the_outputs(base, store, specs):
    """Few KV blocks: the newest running request is preempted while its token is still on the device; it is
    re-admitted once that token is read back, and recomputes."""
    many = [(task, prompt, greedy(14)) for task, prompt, _ in specs]
    overlapped, engine = run(base, store, True, many, num_blocks=14)
    serial, _ = run(base, store, False, many, num_blocks=14)
    assert engine.stats().preemptions_total > 0
    assert [tokens(o) for o in overlapped] == [tokens(o) for o in serial]


def test_requests_sampled_on_the_host_run_beside_overlapped_ones(base, store, specs):
    """A request with logprobs needs each token on the host: the plans it is in are read back at once; the other
    requests' plans stay overlapped. Tokens and log-probabilities are those without overlap."""
    mixed = [specs[0], ("beta", specs[1][1], greedy(7, logprobs=2)), specs[2]]
    overlapped, _ = run(base, store, True, mixed, max_num_batched_tokens=16)
    serial, _ = run(base, store, False, mixed, max_num_batched_tokens=16)
    assert [tokens(o) for o in overlapped] == [tokens(o) for o in serial]
    lps = [[lp for o in outs for lp in o.logprobs or []] for outs in (overlapped[1], serial[1])]
    assert [lp.token_id for lp in lps[0]] == [lp.token_id for lp in lps[1]]
    assert [lp.logprob for lp in lps[0]] == pytest.approx([lp.logprob for lp in lps[1]], abs=1e-5)


def test_blocks_computed_under_overlap_are_reused_as_a_cached_prefix(base, store):
    engine = create_engine(base, store, device=DEVICE, overlap_scheduling="on", decode_steps=1)
    make_resident(engine, TASKS)
    prompt = prompt_ids(7, 9)
    first = tokens(engine.generate("alpha", prompt, greedy(8)))
    hits = engine.stats().prefix_cache_hit_tokens_total
    # the first request's prompt and generated tokens, continued: its blocks (block size 4) are all cached
    again = tokens(engine.generate("alpha", prompt + first, greedy(3)))
    assert engine.stats().prefix_cache_hit_tokens_total - hits == 16  # (9 + 8 - 1) // 4 full blocks
    alone = create_engine(base, store, device=DEVICE, prefix_caching=False)
    assert again == tokens(alone.generate("alpha", prompt + first, greedy(3)))


def test_a_plan_that_fails_on_the_device_fails_its_requests_and_the_engine_serves_on(base, store, monkeypatch):
    engine = create_engine(base, store, device=DEVICE, overlap_scheduling="on", decode_steps=1)
    make_resident(engine, TASKS)
    collect, failed = Flight.collect, []

    def failing_once(flight):
        if flight.result is None and not failed and any(c.fed for c in flight.plan.chunks):
            failed.append(flight)
            raise RuntimeError("device lost")
        return collect(flight)

    monkeypatch.setattr(Flight, "collect", failing_once)
    handles = [engine.add_request(task, prompt_ids(i, 5), greedy(6)) for i, task in enumerate(TASKS)]
    engine.run_until_idle(timeout_s=120)
    assert failed and all(h.poll()[-1].finish_reason == "error" for h in handles)
    stats = engine.stats()
    assert stats.kv_blocks_used == 0 and stats.running == 0 and stats.pool.pins == 0
    after = engine.generate("alpha", prompt_ids(9, 5), greedy(4))
    alone = create_engine(base, store, device=DEVICE)
    assert tokens(after) == tokens(alone.generate("alpha", prompt_ids(9, 5), greedy(4)))


def test_min_tokens_holds_off_the_same_stop_token_with_and_without_overlap(base, store, specs):
    """A request short of its min_tokens is sampled on the host (its stop ids banned), beside requests whose tokens
    stay on the device: the outputs are those of the engine without overlap, and the stop token comes no earlier
    than min_tokens allows."""
    [free], _ = run(base, store, False, specs[:1])
    seen = tokens(free)
    stop = next(seen[i] for i in range(1, 6) if seen[i] not in seen[:i])  # drawn before the 6th token
    held = ("alpha", specs[0][1], greedy(9, stop_token_ids=[stop], min_tokens=6))
    overlapped, _ = run(base, store, True, [held, *specs[1:]], decode_steps=4, max_num_batched_tokens=16)
    serial, _ = run(base, store, False, [held, *specs[1:]], decode_steps=4, max_num_batched_tokens=16)
    assert [tokens(o) for o in overlapped] == [tokens(o) for o in serial]
    assert stop not in tokens(overlapped[0])[:6] and len(tokens(overlapped[0])) > 6
