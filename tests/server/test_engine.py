"""The engine: a mixed batch of tasks gives each request the tokens it gets alone; preemption, cancellation and
LUT replacement change no output; KV blocks and pool pins all come back."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import threading
import time
from collections import Counter

import pytest
import torch

from kernels.cpu_threads import _openmp_runtime
from server.cpu_weights import DenseWeightCache
from server.engine import Engine
from server.errors import (
    EngineStoppedError,
    InvalidParamsError,
    PromptTooLongError,
    QueueFullError,
    TaskBusyError,
    TaskQueueFullError,
    TenantQueueFullError,
    UnknownTaskError,
    UnknownVersionError,
)
from server.runner import DecodeGraphs
from server.sampling import SamplingParams
from server.tokenizer import ByteTokenizer
from tests.native_threads import non_python_threads_since, threads_of_this_process
from tests.server.conftest import (
    collect,
    create_engine,
    engine_config,
    greedy,
    make_resident,
    prompt_ids,
    task_lut_file,
)

TASKS = ["base", "alpha", "beta", "gamma"]


_SOLO: dict[tuple, list[int]] = {}  # every test's base is create_base(): solo runs are shared by LUT checksum


def solo_tokens(base, store, task: str, prompt: list[int], max_tokens: int) -> list[int]:
    """The greedy tokens of one request run alone (batch of one) with its task's current LUT."""
    lut = store.latest(task).sha256 if task != "base" else base.fingerprint
    key = (base.fingerprint, lut, tuple(prompt), max_tokens)
    if key not in _SOLO:
        engine = create_engine(base, store, max_num_seqs=1)
        _SOLO[key] = [t for o in engine.generate(task, prompt, greedy(max_tokens)) for t in o.token_ids]
        engine.stop()
    return _SOLO[key]


@pytest.fixture
def requests_and_solo(base, store):
    """8 requests over 4 tasks (base + 3), prompts of 3..40 tokens, with each one's tokens when run alone."""
    specs = [(TASKS[i % 4], prompt_ids(i, 3 + 5 * i), 6 + i % 3) for i in range(8)]
    solo = [solo_tokens(base, store, task, prompt, n) for task, prompt, n in specs]
    return specs, solo


def assert_all_returned(engine):
    stats = engine.stats()
    assert stats.kv_blocks_used == 0 and stats.running == 0 and stats.waiting == 0
    assert stats.pool.pins == 0


def test_each_task_computes_its_own_function(base, store):
    outputs = {tuple(solo_tokens(base, store, task, prompt_ids(0, 6), 6)) for task in TASKS}
    assert len(outputs) == len(TASKS)


@pytest.mark.parametrize("decode_steps", [1, 4])  # 4: multi-step decode plans between the prefills
def test_mixed_batch_equals_solo_runs(base, store, requests_and_solo, decode_steps):
    specs, solo = requests_and_solo
    # prompts up to 38 tokens: chunked prefill
    engine = create_engine(base, store, max_num_batched_tokens=32, decode_steps=decode_steps)
    make_resident(engine, TASKS)
    handles = [engine.add_request(task, prompt, greedy(n)) for task, prompt, n in specs]
    got = collect(engine, handles)
    assert [got[h.request_id] for h in handles] == solo
    assert max(s.num_tasks for s in engine.stats().recent_steps) == 4  # the batches did mix all tasks
    assert max(s.decode_steps for s in engine.stats().recent_steps) == decode_steps
    assert_all_returned(engine)


@pytest.mark.parametrize("decode_steps", [1, 4])  # 4: multi-step plans only where their blocks are all free
def test_preemption_by_recompute_keeps_outputs(base, store, requests_and_solo, decode_steps):
    specs, solo = requests_and_solo
    # 16 blocks of 4 tokens (one is the null block): far less than the 8 requests need at once
    engine = create_engine(base, store, num_blocks=16, max_num_batched_tokens=32, decode_steps=decode_steps)
    make_resident(engine, TASKS)  # which steps may run a multi-step plan must not depend on when a LUT load lands
    handles = [engine.add_request(task, prompt, greedy(n)) for task, prompt, n in specs]
    got = collect(engine, handles)
    assert engine.stats().preemptions_total > 0
    assert max(s.decode_steps for s in engine.stats().recent_steps) == decode_steps
    assert [got[h.request_id] for h in handles] == solo
    assert_all_returned(engine)


def test_pinned_slots_are_never_evicted(base, store, requests_and_solo):
    specs, solo = requests_and_solo
    engine = create_engine(base, store, num_slots=2)  # base + one task slot for three tasks
    handles = [engine.add_request(task, prompt, greedy(n)) for task, prompt, n in specs]
    resident_while_pinned = []
    while engine._requests:
        engine._step_or_wait()
        running_keys = {r.key for r in engine.scheduler.running}
        assert len(running_keys - {("base", 0)}) <= 1  # one task slot: never two tasks' requests at once
        resident_while_pinned += [engine.pool.slot_of(k) is not None for k in running_keys]
    assert all(resident_while_pinned)
    got = {h.request_id: [t for o in h.poll() for t in o.token_ids] for h in handles}
    assert [got[h.request_id] for h in handles] == solo
    assert engine.pool.stats().evictions >= 2
    assert_all_returned(engine)


@pytest.mark.parametrize("cache_bytes", [0, 40_000, 64 << 20], ids=["reference-op", "tiny-cache", "cache"])
def test_cpu_weight_cache_changes_no_output(base, store, requests_and_solo, cache_bytes):
    # 2 slots for 4 tasks: slots are refilled, so a cached weight of a slot's previous task must never be used
    specs, solo = requests_and_solo
    engine = create_engine(base, store, num_slots=2, cpu_weight_cache_bytes=cache_bytes)
    handles = [engine.add_request(task, prompt, greedy(n)) for task, prompt, n in specs]
    got = collect(engine, handles)
    assert [got[h.request_id] for h in handles] == solo
    assert engine.pool.stats().evictions >= 2


def test_bf16_cpu_weights_take_half_the_cache_and_batches_still_equal_solo_runs(base, store):
    specs = [(TASKS[i % 4], prompt_ids(i, 3 + 5 * i), 6) for i in range(8)]
    solo = []
    for task, prompt, n in specs:  # each alone, in the same weight dtype
        engine = create_engine(base, store, max_num_seqs=1, cpu_weight_dtype="bfloat16")
        solo.append([t for o in engine.generate(task, prompt, greedy(n)) for t in o.token_ids])
        engine.stop()
    engines = {}
    for dtype in ("float32", "bfloat16"):
        engine = engines[dtype] = create_engine(base, store, cpu_weight_dtype=dtype)
        make_resident(engine, TASKS)
        handles = [engine.add_request(task, prompt, greedy(n)) for task, prompt, n in specs]
        got = collect(engine, handles)
        if dtype == "bfloat16":
            assert [got[h.request_id] for h in handles] == solo
            assert max(s.num_tasks for s in engine.stats().recent_steps) == 4
        assert_all_returned(engine)
    caches = {dtype: e.runner.model.dense_cache for dtype, e in engines.items()}
    assert caches["bfloat16"].nbytes * 2 == caches["float32"].nbytes > 0  # the same weights, half the bytes
    assert engines["bfloat16"].runner.model.lm_head_lowp.dtype == torch.bfloat16  # the lm_head follows
    assert engines["float32"].runner.model.lm_head_lowp is None


def test_replacing_a_lut_mid_request_does_not_change_it(base, store, tmp_path):
    prompt = prompt_ids(1, 10)
    before = solo_tokens(base, store, "alpha", prompt, 12)
    engine = create_engine(base, store)
    handle = engine.add_request("alpha", prompt, greedy(12))
    for _ in range(4):
        engine._step_or_wait()
    info = store.put("alpha", task_lut_file(base, "alpha", 99, tmp_path))  # a new version, mid-request
    late = engine.add_request("alpha", prompt, greedy(12))
    got = collect(engine, [handle, late])
    assert got[handle.request_id] == before
    assert got[late.request_id] == solo_tokens(base, store, "alpha", prompt, 12) != before
    assert info.version == 2 and engine.pool.slot_of(("alpha", 1)) is None  # the old version's slot was freed
    assert_all_returned(engine)


def test_a_request_may_pin_a_kept_version_while_others_take_the_latest(base, store, tmp_path):
    prompt = prompt_ids(3, 10)
    first = solo_tokens(base, store, "alpha", prompt, 10)  # alpha v1
    store.put("alpha", task_lut_file(base, "alpha", 77, tmp_path))  # v2, now the latest
    engine = create_engine(base, store)
    pinned = engine.add_request("alpha", prompt, greedy(10), version=1)
    latest = engine.add_request("alpha", prompt, greedy(10))
    same = engine.add_request("alpha", prompt, greedy(10), version=2)  # the latest, named
    assert (pinned.version, latest.version, same.version) == (1, 2, 2)
    got = collect(engine, [pinned, latest, same])
    assert got[pinned.request_id] == first  # one batch, each request on its own version's LUT
    assert got[latest.request_id] == got[same.request_id] == solo_tokens(base, store, "alpha", prompt, 10) != first
    with pytest.raises(UnknownVersionError, match=r"version 5 of task .alpha. is not stored \(the kept versions: 1, 2"):
        engine.add_request("alpha", prompt, greedy(2), version=5)
    assert engine.add_request("base", prompt, greedy(1), version=0).version == 0
    with pytest.raises(UnknownVersionError, match="one version, 0"):
        engine.add_request("base", prompt, greedy(1), version=1)
    with pytest.raises(UnknownTaskError) as unknown:
        engine.add_request("nope", prompt, greedy(1), version=1)
    assert not isinstance(unknown.value, UnknownVersionError)  # an unknown task reads as one, whatever the version
    engine.run_until_idle()
    assert_all_returned(engine)


def test_cancel_frees_blocks_and_pins(base, store):
    engine = create_engine(base, store)
    handles = [engine.add_request(t, prompt_ids(i, 20), greedy(50)) for i, t in enumerate(TASKS)]
    for _ in range(6):
        engine._step_or_wait()
    assert engine.stats().kv_blocks_used > 0 and engine.pool.pins() > 0
    for h in handles[:3]:
        h.cancel()
    engine.run_until_idle()
    reasons = [[o for o in h.poll()][-1].finish_reason for h in handles]
    assert reasons == ["cancelled", "cancelled", "cancelled", "length"]
    assert_all_returned(engine)


def test_corrupt_lut_fails_only_its_task(base, store):
    path = store.path("beta", 1)
    data = bytearray(path.read_bytes())
    data[-5] ^= 0xFF  # bit rot after the put
    path.write_bytes(bytes(data))
    engine = create_engine(base, store)
    bad = [engine.add_request("beta", prompt_ids(i, 5), greedy(4)) for i in range(2)]
    good = engine.add_request("alpha", prompt_ids(9, 5), greedy(4))
    engine.run_until_idle()
    for h in bad:
        last = h.poll()[-1]
        assert last.finish_reason == "error" and "checksum" in last.error
    assert good.poll()[-1].finish_reason == "length"
    assert store.latest("beta") is None and store.quarantined  # the bad version left the store
    with pytest.raises(UnknownTaskError):
        engine.add_request("beta", [1, 2, 3])
    assert_all_returned(engine)


def test_a_version_pruned_before_it_loaded_runs_on_the_latest(base, store, tmp_path):
    engine = create_engine(base, store)
    handle = engine.add_request("alpha", prompt_ids(2, 8), greedy(6))  # resolved to alpha v1, not loaded yet
    pinned = engine.add_request("alpha", prompt_ids(2, 8), greedy(6), version=1)  # asked for v1: never another
    for seed in (11, 12, 13):  # three newer versions: the store keeps 3, so v1's file is pruned
        store.put("alpha", task_lut_file(base, "alpha", seed, tmp_path))
    assert [v.version for v in store.versions("alpha")] == [2, 3, 4]
    got = collect(engine, [handle])
    assert got[handle.request_id] == solo_tokens(base, store, "alpha", prompt_ids(2, 8), 6)
    assert handle.version == 4  # the response names the version that served it
    engine.run_until_idle()
    last = pinned.poll()[-1]
    assert last.finish_reason == "error" and "version 1 of task 'alpha' is no longer stored" in last.error
    assert pinned.version == 1
    assert engine.pool.stats().load_failures == 0  # a pruned version is not a failed load
    assert_all_returned(engine)


def test_delete_refuses_while_requests_are_in_flight_and_then_deletes(base, store):
    engine = create_engine(base, store)
    handle = engine.add_request("alpha", prompt_ids(3, 5), greedy(4))
    with pytest.raises(TaskBusyError) as busy:
        engine.delete_task("alpha")
    assert busy.value.in_flight == 1 and store.latest("alpha") is not None
    engine.run_until_idle()
    assert handle.poll()[-1].finish_reason == "length"
    assert engine.delete_task("alpha") == 1 and engine.delete_task("alpha") == 0
    with pytest.raises(UnknownTaskError):
        engine.add_request("alpha", [1, 2, 3])
    assert_all_returned(engine)


def test_add_and_delete_racing_from_threads_never_strand_a_request(base, store, tmp_path):
    """Either the delete sees the request (busy) or the request sees no task (unknown): never an error finish."""
    engine = create_engine(base, store)
    engine.start()
    lut = task_lut_file(base, "churn", 5, tmp_path)
    outcomes, stop = [], threading.Event()

    def churn():
        while not stop.is_set():
            try:
                engine.delete_task("churn")
            except TaskBusyError:
                pass
            store.put("churn", lut)
            time.sleep(0.005)  # let requests in between the churn's put and its next delete

    thread = threading.Thread(target=churn)
    thread.start()
    try:
        deadline, i = time.monotonic() + 60, 0
        while outcomes.count("length") < 10 and time.monotonic() < deadline:  # until 10 requests got in and ran
            i += 1
            try:
                handle = engine.add_request("churn", prompt_ids(i, 4), greedy(2))
            except UnknownTaskError:
                outcomes.append("unknown")
                time.sleep(0.001)
                continue
            outcomes.append(list(handle)[-1].finish_reason)
    finally:
        stop.set()
        thread.join()
        engine.stop()
    assert "error" not in outcomes and "length" in outcomes, Counter(outcomes)
    assert_all_returned(engine)


def test_one_task_cannot_fill_the_admission_queue_for_the_others(base, store):
    """A task may queue three quarters of max_waiting (by default); the rest stays for other tasks, until the
    queue itself is full. Refused requests leave nothing queued, and the queued ones all run."""
    engine = create_engine(base, store, max_waiting=8)  # (not started: every request stays waiting)
    assert engine.config.scheduler.waiting_cap_per_task == 6
    for i in range(6):
        engine.add_request("alpha", [1, i], greedy(2))
    with pytest.raises(TaskQueueFullError, match="6 requests of task 'alpha'"):
        engine.add_request("alpha", [9])
    engine.add_request("beta", [1], greedy(2))
    engine.add_request("base", [1], greedy(2))
    with pytest.raises(QueueFullError, match="8 requests are already waiting"):
        engine.add_request("gamma", [1])
    assert engine.stats().waiting == 8
    engine.run_until_idle()
    events = engine.stats().request_events
    assert Counter(e.task for e in events) == {"alpha": 6, "beta": 1, "base": 1}
    assert all(e.finish_reason == "length" for e in events)
    explicit = create_engine(base, store, max_waiting=8, max_waiting_per_task=2)
    explicit.add_request("alpha", [1])
    explicit.add_request("alpha", [2])
    with pytest.raises(TaskQueueFullError):
        explicit.add_request("alpha", [3])
    explicit.add_request("beta", [1])
    explicit.stop(drain=False)


def test_one_tenant_cannot_fill_the_admission_queue_over_several_tasks(base, store):
    """A tenant's waiting requests over all the tasks it calls share one task's bound (6 of 8 here); other
    tenants, and requests of no known tenant, are still admitted until the queue is full."""
    engine = create_engine(base, store, max_waiting=8)
    for task in ("alpha", "beta", "base"):
        for i in range(2):
            engine.add_request(task, [1, i], greedy(2), tenant="acme")
    with pytest.raises(TenantQueueFullError, match="6 requests of tenant 'acme'"):
        engine.add_request("gamma", [1], tenant="acme")
    engine.add_request("alpha", [1], greedy(2), tenant="globex")
    engine.add_request("gamma", [1], greedy(2))
    engine.run_until_idle()
    assert Counter(e.task for e in engine.stats().request_events) == {"alpha": 3, "beta": 2, "base": 2, "gamma": 1}


def test_add_request_rejects_bad_input(base, store):
    engine = create_engine(base, store, max_waiting=2, max_prompt_tokens=50)
    with pytest.raises(UnknownTaskError):
        engine.add_request("nope", [1, 2])
    with pytest.raises(InvalidParamsError):
        engine.add_request("../etc", [1, 2])
    with pytest.raises(PromptTooLongError):
        engine.add_request("base", [1] * 51)
    with pytest.raises(InvalidParamsError):
        engine.add_request("base", [])
    with pytest.raises(InvalidParamsError):
        engine.add_request("base", [256])
    with pytest.raises(InvalidParamsError):
        engine.add_request("base", [1], SamplingParams(temperature=-1))
    engine.add_request("base", [1])
    engine.add_request("base", [2])
    with pytest.raises(QueueFullError):
        engine.add_request("base", [3])
    engine.stop(drain=False)
    with pytest.raises(EngineStoppedError):
        engine.add_request("base", [1])


def test_background_loop_streams_to_sync_and_async_consumers(base, store):
    engine = create_engine(base, store)
    engine.start()
    try:
        expected = solo_tokens(base, store, "gamma", prompt_ids(5, 9), 7)
        sync_outs = list(engine.add_request("gamma", prompt_ids(5, 9), greedy(7)))

        async def consume():
            handle = engine.add_request("gamma", prompt_ids(5, 9), greedy(7))
            return [o async for o in handle]

        async_outs = asyncio.run(consume())
        for outs in (sync_outs, async_outs):
            assert [t for o in outs for t in o.token_ids] == expected
            assert outs[-1].finished and outs[-1].usage.completion_tokens == 7 and outs[-1].ttft_s > 0
        stream = list(engine.generate("base", "hello", greedy(3)))
        assert stream[-1].usage.prompt_tokens == 5
    finally:
        engine.stop(drain=True)
    assert_all_returned(engine)
    assert engine.stats().request_events[-1].task == "base"


def test_a_step_that_outputs_nothing_is_followed_at_once_by_the_next(base, store):
    """A long prompt's earlier chunks output nothing; the loop must step on, not idle for a LUT load's wake-up
    (that wait cost 50 ms per chunk: a 2,048-token prompt's TTFT on the H200 was 308 ms, 150 of them idle)."""
    engine = create_engine(base, store, max_num_batched_tokens=16)
    make_resident(engine, ["alpha"])
    waits = []
    wait = engine._work.wait
    engine._work.wait = lambda timeout=None: waits.append(timeout) or wait(timeout)
    outs = list(engine.generate("alpha", prompt_ids(9, 60), greedy(2)))  # 4 chunks, the first 3 output nothing
    assert [t for o in outs for t in o.token_ids] == solo_tokens(base, store, "alpha", prompt_ids(9, 60), 2)
    assert waits == []
    assert [s.prefill_tokens for s in engine.stats().recent_steps[-5:-1]] == [16, 16, 16, 12]


def test_stop_without_drain_cancels_in_flight(base, store):
    engine = create_engine(base, store)
    handles = [engine.add_request("alpha", prompt_ids(i, 8), greedy(200)) for i in range(3)]
    engine.start()
    threading.Event().wait(0.05)
    engine.stop(drain=False, timeout_s=30)
    assert {list(h)[-1].finish_reason for h in handles} <= {"cancelled", "length"}
    assert_all_returned(engine)


class PaddedEagerGraphs(DecodeGraphs):
    """The CUDA-graph decode path (padded batch, padded block tables, null block) run eagerly on the CPU."""

    def __init__(self, runner, max_batch):
        self.runner, self.batch_sizes, self.failed, self.graphs = runner, [1, 2, 4, 8], False, {}

    def replay(self, key, args):
        self.graphs[key] = None
        return self.runner.forward(*args)


@pytest.mark.parametrize("decode_steps", [1, 4])  # 4: a multi-step plan's later steps through the padded path too
def test_padding_of_the_graph_decode_path_changes_no_output(base, store, requests_and_solo, decode_steps):
    specs, solo = requests_and_solo
    engine = create_engine(base, store, max_num_batched_tokens=32, decode_steps=decode_steps)
    engine.runner.graphs = PaddedEagerGraphs(engine.runner, 8)
    make_resident(engine, TASKS)  # (as in the preemption test: the multi-step check must not depend on load timing)
    handles = [engine.add_request(task, prompt, greedy(n)) for task, prompt, n in specs[:7]]  # pads 7 -> 8
    got = collect(engine, handles)
    assert [got[h.request_id] for h in handles] == solo[:7]
    assert {key[0] for key in engine.runner.graphs.graphs} >= {8} and len(engine.runner.graphs.graphs) > 1
    assert max(s.decode_steps for s in engine.stats().recent_steps) == decode_steps
    assert_all_returned(engine)


def test_every_lut_call_is_told_the_steps_true_task_count(base, store, requests_and_solo, monkeypatch):
    """The runner's host-side hint (it picks the CUDA decode kernel) equals the distinct slots of each call."""
    import kernels.triton_ops
    import server.model

    calls = []

    def recording_lut_linear(x, codes, pool, slot_of_token, bits, gpr, check, num_tasks=None, **int8):
        calls.append((num_tasks, len(set(slot_of_token.tolist()))))
        return real(x, codes, pool, slot_of_token, bits, gpr, check, **int8)

    real = server.model.lut_linear
    monkeypatch.setattr(server.model, "lut_linear", recording_lut_linear)
    monkeypatch.setattr(kernels.triton_ops, "BUCKET_MIN_TASKS", 3)
    specs, solo = requests_and_solo
    engine = create_engine(base, store, max_num_batched_tokens=32, cpu_weight_cache_bytes=0)  # the op, not dense
    engine.runner.graphs = PaddedEagerGraphs(engine.runner, 8)
    make_resident(engine, TASKS)
    handles = [engine.add_request(task, prompt, greedy(n)) for task, prompt, n in specs[:6]]
    got = collect(engine, handles)
    assert [got[h.request_id] for h in handles] == solo[:6]
    assert calls and all(hint is not None for hint, _ in calls)
    # padded graph steps too: their padding rows take a real row's slot, so they add no task to pay for
    assert all(seen == hint for hint, seen in calls) and any(hint == 4 for hint, _ in calls)
    # one graph per kernel class: 4 tasks decoding (>= 3 here: the bucket kernel, class 2), then fewer as they
    # finish (2: the few-task class, 1; one task: 0)
    assert {klass for _, _, klass, _ in engine.runner.graphs.graphs} == {0, 1, 2}
    assert not any(int8 for *_, int8 in engine.runner.graphs.graphs)  # (the int8 activation mode is off)
    assert_all_returned(engine)



def test_the_int8_mode_serves_a_step_exactly_when_one_of_its_tasks_lies_far_from_the_base(base, tmp_path, monkeypatch):
    """With the int8 activation mode's tables set (the CPU op stays exact, so the tables are only passed on), every
    LUT call of a step over tasks within int8_max_lut_distance of the base gets them, and every call of a step with
    a task farther off does not (ModelRunner.int8_allowed on LutPool.base_distance); graph keys record the choice
    for 9-16 rows only (Transformer.int8_key)."""
    import server.model
    from adapters.store import LutStore
    from sketch.synthetic import random_task_luts
    from sketch.task_lut import TaskLut, save_task_lut

    store = LutStore(tmp_path / "store", base.spec())
    for task, scale in (("near", 0.01), ("far", 0.3)):  # the base's values times 1 + scale x noise
        luts = random_task_luts(base, seed=len(task), scale=scale)
        store.put(task, save_task_lut(TaskLut(task, luts, base.fingerprint, base.bits, base.gpr),
                                      tmp_path / f"{task}.safetensors"))  # fmt: skip
    calls = []

    def recording_lut_linear(x, codes, pool, slot_of_token, bits, gpr, check, num_tasks=None, **int8):
        calls.append((set(slot_of_token.tolist()), int8.get("int8_base") is not None))
        return real(x, codes, pool, slot_of_token, bits, gpr, check)

    real = server.model.lut_linear
    monkeypatch.setattr(server.model, "lut_linear", recording_lut_linear)
    config = dataclasses.replace(engine_config(cpu_weight_cache_bytes=0), int8_activations=True)  # the op, no cache
    engine = Engine(base, ByteTokenizer(), config, store)  # (on the CPU the mode only measures the distances)
    model, runner = engine.runner.model, engine.runner
    assert not model.int8_activations and model.enable_int8_activations() > 0
    make_resident(engine, ["near", "far"])
    near, far = (engine.pool.slot_of(engine.pool.latest_key(t)) for t in ("near", "far"))
    assert engine.pool.base_distance[near] < 0.05 < engine.pool.base_distance[far]
    assert runner.int8_allowed({0, near}) and not runner.int8_allowed({near, far})
    model.kernel_hints.int8 = True
    assert model.int8_key(16) and model.int8_key() and not model.int8_key(8)
    model.kernel_hints.int8 = False
    assert not model.int8_key(16)

    calls.clear()  # (make_resident's own requests)
    exact_steps = engine.stats().int8_exact_steps_total
    handles = [engine.add_request(task, prompt_ids(i, 5), greedy(6)) for i, task in enumerate(["near", "base"])]
    collect(engine, handles)
    assert engine.stats().int8_exact_steps_total == exact_steps
    assert calls and all(int8 for _, int8 in calls)  # near and base only: every call may take the int8 kernel
    calls.clear()
    handles = [engine.add_request("near", prompt_ids(0, 5), greedy(12)),
               engine.add_request("far", prompt_ids(1, 5), greedy(3))]  # fmt: skip
    collect(engine, handles)
    assert any(far in slots for slots, _ in calls)
    assert all(not int8 for slots, int8 in calls if far in slots)
    assert calls[-1] == ({near}, True)  # near decoding alone once far finished
    assert engine.stats().int8_exact_steps_total >= exact_steps + 2  # far's prompt step and decode steps
    assert_all_returned(engine)


def test_an_unset_cpu_weight_budget_keeps_every_resident_tasks_weights(base, store, requests_and_solo):
    """cpu_weight_cache_bytes None (the server's default): sized for all slots, so a batch over several tasks
    rebuilds no weight once each was built, and the tokens are each request's alone."""
    specs, solo = requests_and_solo
    engine = create_engine(base, store, num_slots=5, cpu_weight_cache_bytes=None)
    cache = engine.runner.model.dense_cache
    assert cache.budget_bytes == DenseWeightCache.auto_budget(base, torch.float32, 5)
    make_resident(engine, TASKS)
    for round_ in range(2):
        handles = [engine.add_request(task, prompt, greedy(n)) for task, prompt, n in specs]
        got = collect(engine, handles)
        assert [got[h.request_id] for h in handles] == solo
        if round_ == 0:
            misses = cache.misses
    assert cache.misses == misses  # every task's weights stayed


def native_threads_left_by_an_engine_built_on_a_living_thread(build) -> set[str]:
    """Run build() (-> an Engine) on a thread that stays alive, as a program's main thread does; the native threads
    it leaves in the process that are not Python threads (OpenMP workers), once threads that end have ended."""
    before, built, release, out = threads_of_this_process(), threading.Event(), threading.Event(), {}

    def owner() -> None:
        out["engine"] = build()
        built.set()
        release.wait()

    thread = threading.Thread(target=owner)
    thread.start()
    built.wait(120)
    deadline = time.monotonic() + 3.0
    while True:  # the passing build thread's workers exit just after it does
        left = non_python_threads_since(before)
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    release.set()
    thread.join()
    out["engine"].stop()
    return left


@pytest.mark.skipif((os.cpu_count() or 1) < 2 or _openmp_runtime() is None, reason="one CPU or no OpenMP runtime")
def test_building_a_cpu_engine_leaves_the_building_thread_no_openmp_team(base, store):
    """The set-up's large ops (the KV cache's fill) run on a thread that ends: a program's main thread that builds
    the engine and start()s it keeps no OpenMP team beside the loop's (two teams on a small CPU throttle each
    other: kernels/cpu_threads.py). Built in place on the living thread, the same set-up leaves workers behind."""
    config = engine_config(num_blocks=512)  # the KV cache's fill: a parallel op in torch

    def in_place():
        engine = Engine.__new__(Engine)
        engine._build(base, ByteTokenizer(), config, store)
        return engine

    assert native_threads_left_by_an_engine_built_on_a_living_thread(in_place)  # what the passing thread avoids
    assert native_threads_left_by_an_engine_built_on_a_living_thread(
        lambda: Engine(base, ByteTokenizer(), config, store)
    ) == set()


def test_bfloat16_activations_on_the_cpu_score_as_the_float32_engine_does(base, store):
    """--dtype bfloat16 on the CPU: KV cache and LUT pool in bf16, every task's prompt log-probabilities within bf16
    rounding of the float32 engine's (a random tiny model: log-probabilities of ~-5.5)."""
    prompt = prompt_ids(5, 24)
    scores = {}
    for dtype in ("float32", "bfloat16"):
        engine = create_engine(base, store, dtype=dtype, cpu_weight_dtype="bfloat16")
        assert engine.runner.kv_cache.layers[0][0].dtype == getattr(torch, dtype)
        params = SamplingParams(max_tokens=0, prompt_logprobs=0)
        last = {task: list(engine.generate(task, prompt, params))[-1] for task in TASKS}
        scores[dtype] = {task: [lp.logprob for lp in out.prompt_logprobs[1:]] for task, out in last.items()}
        engine.stop()
    for task in TASKS:
        torch.testing.assert_close(torch.tensor(scores["bfloat16"][task]), torch.tensor(scores["float32"][task]),
                                   atol=0.15, rtol=0.03)  # fmt: skip
    assert scores["float32"]["alpha"] != scores["float32"]["beta"]  # the tasks differ: each scored with its own LUT
