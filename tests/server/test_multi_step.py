"""Multi-step decoding (SchedulerConfig.decode_steps): when every running request decodes and none waits, a plan's
decodes run several steps back to back, each step's tokens drawn on the device and fed to the next. Outputs are
those of single steps; a request that ends inside such a plan keeps its tokens up to its end and nothing after.

On the CPU the steps run eagerly; on CUDA through the decode graphs.
"""

from __future__ import annotations

import pytest
import torch

from server.sampling import SamplingParams

from .conftest import create_engine, greedy, make_resident, prompt_ids

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
TASKS = ("alpha", "beta", "gamma")


def run(base, store, decode_steps: int, specs):
    """(task, prompt, params) requests started together on an engine with these decode steps per plan: each
    request's outputs (TokenOutput list) and the engine's step stats."""
    engine = create_engine(base, store, device=DEVICE, decode_steps=decode_steps)
    make_resident(engine, TASKS)
    first = len(engine.stats().recent_steps)
    handles = [engine.add_request(task, prompt, params) for task, prompt, params in specs]
    engine.run_until_idle(timeout_s=120)
    stats = engine.stats()
    assert stats.kv_blocks_used == 0 and stats.running == 0 and stats.pool.pins == 0  # all given back
    return [h.poll() for h in handles], stats.recent_steps[first:]


def tokens(outputs) -> list[int]:
    return [t for o in outputs for t in o.token_ids]


@pytest.fixture
def specs():
    """Three tasks' requests, greedy and seeded sampling, all 9 tokens (so they decode together to the end)."""
    sampled = SamplingParams(max_tokens=9, temperature=0.8, top_p=0.9, seed=3, ignore_eos=True)
    return [("alpha", prompt_ids(1, 5), greedy(9)), ("beta", prompt_ids(2, 11), sampled),
            ("gamma", prompt_ids(3, 7), greedy(9))]  # fmt: skip


def test_plans_of_several_decode_steps_give_the_tokens_of_single_steps(base, store, specs):
    single, single_steps = run(base, store, 1, specs)
    multi, multi_steps = run(base, store, 4, specs)
    assert [tokens(o) for o in multi] == [tokens(o) for o in single]
    assert all(len(tokens(o)) == 9 for o in multi)
    assert {s.decode_steps for s in single_steps} == {1}
    # 8 tokens after the prompts' first: two plans of 4 steps
    assert [s.decode_steps for s in multi_steps if s.decode_steps > 1] == [4, 4]
    assert sum(s.decode_tokens for s in multi_steps) == sum(s.decode_tokens for s in single_steps)


def test_a_multi_step_plans_tokens_stream_as_one_output(base, store, specs):
    [outputs, *_], _ = run(base, store, 4, specs)
    assert [len(o.token_ids) for o in outputs] == [1, 4, 4]  # the prompt's token, then one output per plan
    assert outputs[-1].finished and outputs[-1].finish_reason == "length"


def test_a_request_that_stops_inside_a_plan_keeps_its_tokens_up_to_the_stop(base, store, specs):
    [alone, *_], _ = run(base, store, 1, specs)
    seen = tokens(alone)
    stop_at = next(i for i in range(2, 9) if seen[i] not in seen[:i])  # a token whose first use is mid-plan
    stopping = ("alpha", specs[0][1], greedy(9, stop_token_ids=[seen[stop_at]]))
    multi, steps = run(base, store, 4, [stopping, *specs[1:]])
    assert tokens(multi[0]) == seen[: stop_at + 1]  # up to the stop token, nothing drawn after it
    assert multi[0][-1].finish_reason == "stop"
    single, _ = run(base, store, 1, [stopping, *specs[1:]])
    assert [tokens(o) for o in multi] == [tokens(o) for o in single]  # the others go on unchanged
    assert any(s.decode_steps > 1 for s in steps)


def test_requests_of_different_lengths_end_at_their_max_tokens_inside_longer_plans(base, store, specs):
    uneven = [(task, prompt, greedy(n)) for (task, prompt, _), n in zip(specs, (2, 9, 6), strict=True)]
    single, _ = run(base, store, 1, uneven)
    multi, steps = run(base, store, 4, uneven)
    assert [tokens(o) for o in multi] == [tokens(o) for o in single]
    assert [len(tokens(o)) for o in multi] == [2, 9, 6]
    assert [s.decode_steps for s in steps if s.decode_steps > 1] == [4, 4]  # the 9-token request sets the length


def test_a_request_arriving_during_decodes_is_admitted_after_the_plan(base, store, specs):
    engine = create_engine(base, store, device=DEVICE, decode_steps=4)
    make_resident(engine, TASKS)
    first = engine.add_request(*specs[0][:2], greedy(20))
    engine.step()  # its prompt
    engine.step()  # a plan of 4 decode steps
    assert engine.stats().recent_steps[-1].decode_steps == 4
    late = engine.add_request(*specs[2][:2], greedy(3))
    engine.step()  # the late prompt's step, the first request decoding beside it (one step)
    assert engine.stats().recent_steps[-1].prefill_tokens == len(specs[2][1])
    engine.run_until_idle(timeout_s=120)
    assert len(tokens(late.poll())) == 3 and len(tokens(first.poll())) == 20


def test_a_request_arriving_inside_a_plan_ends_it_early_and_starts_at_the_next_step(base, store, specs):
    """The runner asks between steps whether a waiting request could start (on the CPU before every step; on CUDA
    once the step two back has ended); such an arrival ends the plan there instead of waiting for all of it."""
    engine = create_engine(base, store, device="cpu", decode_steps=8)  # the CPU: each step through runner.eager
    make_resident(engine, TASKS)
    first = engine.add_request(*specs[0][:2], greedy(30))
    engine.step()  # its prompt
    calls, late = [], []
    eager = engine.runner.eager

    def arriving(chunks, args):
        calls.append(len(chunks))
        if len(calls) == 2:  # during the plan's second step
            late.append(engine.add_request(*specs[2][:2], greedy(3)))
        return eager(chunks, args)

    engine.runner.eager = arriving
    engine.step()
    assert engine.stats().recent_steps[-1].decode_steps == 2  # stopped before its third step
    engine.step()
    assert engine.stats().recent_steps[-1].prefill_tokens == len(specs[2][1])  # the arrival starts at once
    engine.run_until_idle(timeout_s=120)
    alone = create_engine(base, store, device="cpu", decode_steps=1)
    assert tokens(first.poll()) == tokens(alone.generate(*specs[0][:2], greedy(30)))
    assert len(tokens(late[0].poll())) == 3
    stats = engine.stats()
    assert stats.kv_blocks_used == 0 and stats.pool.pins == 0


def test_a_request_short_of_its_min_tokens_decodes_a_step_at_a_time(base, store, specs):
    """min_tokens: the host's sampler bans the request's stop ids until it has that many tokens, so plans of several
    steps (drawn on the device) start only then; its tokens are those of single steps."""
    prompt = specs[0][1]
    [free], _ = run(base, store, 1, [("alpha", prompt, greedy(12))])
    absent = next(t for t in range(256) if t not in tokens(free))  # banned, and never drawn anyway
    [multi], steps = run(base, store, 4, [("alpha", prompt, greedy(12, min_tokens=6, stop_token_ids=[absent]))])
    assert tokens(multi) == tokens(free)
    assert [s.decode_steps for s in steps] == [1] * 6 + [4, 2]  # the prompt's token and 5 decodes, then plans
