"""Piecewise prefill graphs (server/prefill_graphs.py): which steps take them, and that the pieces (each layer's work
but attention, on static buffers, attention eager between) give what the model's own forward gives.

On the CPU the pieces run eagerly (use_graphs=False: the split, the padding and the static buffers, no capture);
on CUDA the real graphs are captured and replayed.
"""

from __future__ import annotations

import importlib
import time
import zlib

import pytest
import torch

from server import model as server_model
from server import prefill_graphs, triton_fused
from server.prefill_graphs import PrefillGraphs
from server.sampling import SamplingParams
from server.scheduler import ScheduledChunk, SchedulerOutput

from .conftest import (
    collect,
    create_base,
    create_engine,
    create_store,
    decoding_together,
    greedy,
    make_resident,
    prompt_ids,
)

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


def chunk(rid: str, n: int, start: int, slot: int, first_block: int, sample: bool = True, **kw) -> ScheduledChunk:
    """n tokens from position start, over blocks first_block, first_block + 1, ... (block size 4; block 0 is the
    null block the padding rows write)."""
    blocks = list(range(first_block, first_block + (start + n + 3) // 4))
    tokens = prompt_ids(zlib.crc32(rid.encode()), n)
    return ScheduledChunk(rid, tokens, start, blocks, slot, sample, SamplingParams(), None, **kw)


def pieces(engine, use_graphs: bool = False, classes: tuple[int, ...] = (2,)) -> PrefillGraphs:
    """The engine's runner with prefill pieces (on the CPU: run eagerly), decode rows padded to 1, 2, 4, 8, 16, the
    decode kernel changing at classes' task counts."""
    graphs = PrefillGraphs(engine.runner, engine.config.scheduler.max_num_batched_tokens, [1, 2, 4, 8, 16],
                           lambda rows: classes, use_graphs=use_graphs)  # fmt: skip
    engine.runner.prefill_graphs = graphs
    return graphs


def tokens_engine(base, store, budget: int, triton_op: bool, monkeypatch, ran: list, overlap: str = "off"):
    """An engine on the test device, its three tasks resident. triton_op: the projections run the Triton op (on the
    CPU through the interpreter) and steps take the prefill pieces, each (plan, key) they run appended to ran; else
    the torch reference op, eagerly (it reads its slots back, which a capture cannot hold). overlap: the engine's
    overlap_scheduling (on: the decode rows take their tokens on the device)."""
    monkeypatch.setattr(importlib.import_module("kernels.lut_linear"), "_use_triton", lambda x: triton_op)
    engine = create_engine(base, store, cpu_weight_cache_bytes=0, max_num_batched_tokens=budget, device=DEVICE,
                           cuda_graphs=triton_op and DEVICE == "cuda", prefill_graphs=triton_op,
                           overlap_scheduling=overlap)  # fmt: skip
    if triton_op:
        graphs = pieces(engine) if DEVICE == "cpu" else engine.runner.prefill_graphs
        real_run = graphs.run

        def recorded(plan, key):
            ran.append((plan, key))
            return real_run(plan, key)

        monkeypatch.setattr(graphs, "run", recorded)
    make_resident(engine, ("alpha", "beta", "gamma"))
    return engine


@pytest.fixture
def engine(base, store):
    return create_engine(base, store, max_num_batched_tokens=256, device=DEVICE)


def test_a_step_of_decodes_and_one_tasks_chunks_is_keyed_by_its_padded_rows(engine):
    graphs = pieces(engine, classes=(2, 3))
    decodes = [chunk("d0", 1, 5, slot=1, first_block=1), chunk("d1", 1, 9, slot=2, first_block=10),
               chunk("d2", 1, 2, slot=1, first_block=20)]  # fmt: skip
    prompt = [chunk("p0", 90, 0, slot=3, first_block=30), chunk("p1", 50, 0, slot=3, first_block=60)]
    assert graphs.key_for(SchedulerOutput(decodes=decodes, prefills=prompt)) == (4, (256,), 1, False)  # class 1
    assert graphs.key_for(SchedulerOutput(prefills=prompt[:1])) == (0, (128,), 0, False)
    more_tasks = decodes + [chunk("d3", 1, 4, slot=4, first_block=90)]
    assert graphs.key_for(SchedulerOutput(decodes=more_tasks, prefills=prompt[:1])) == (4, (128,), 2, False)  # 3 tasks
    one_task = [chunk("d0", 1, 5, slot=3, first_block=1)]
    assert graphs.key_for(SchedulerOutput(decodes=one_task, prefills=prompt)) == (1, (256,), 0, False)


def test_other_tasks_chunks_join_the_short_rows(engine):
    graphs = pieces(engine, classes=(3,))
    head, tail = chunk("p0", 90, 0, slot=3, first_block=1), chunk("p1", 10, 30, slot=2, first_block=30)
    decodes = [chunk("d0", 1, 5, slot=1, first_block=50)]
    plan = SchedulerOutput(decodes=decodes, prefills=[tail, head])
    assert graphs.split(plan) == ([tail], [[head]])  # the task with the most prompt tokens gives the long rows
    assert graphs.key_for(plan) == (16, (128,), 0, False)  # 11 short rows over 2 tasks
    over_three = SchedulerOutput(decodes=decodes + [chunk("d1", 1, 5, slot=4, first_block=60)], prefills=[tail, head])
    assert graphs.key_for(over_three) == (16, (128,), 1, False)


def test_tasks_whose_chunks_do_not_fit_the_short_rows_are_long_groups_largest_first(engine):
    graphs = pieces(engine, classes=(3,))
    small, middle = chunk("p0", 12, 0, slot=1, first_block=1), chunk("p1", 30, 0, slot=2, first_block=10)
    large, large_end = chunk("p2", 90, 0, slot=3, first_block=20), chunk("p3", 5, 40, slot=3, first_block=50)
    plan = SchedulerOutput(prefills=[small, large, middle, large_end])
    # 16 short rows at most: the 12-token task fits, the 30-token one does not
    assert graphs.split(plan) == ([small], [[large, large_end], [middle]])
    assert graphs.key_for(plan) == (16, (128, 128), 0, False)
    decodes = [chunk(f"d{i}", 1, 3, slot=4, first_block=60 + i) for i in range(5)]  # 5 + 12 > 16
    crowded = SchedulerOutput(decodes=decodes, prefills=plan.prefills)
    assert graphs.split(crowded) == ([], [[large, large_end], [middle], [small]])
    assert graphs.key_for(crowded) == (8, (128, 128, 128), 0, False)


def test_a_burst_of_prompts_over_several_tasks_is_one_group_a_task_up_to_the_most_groups(engine, monkeypatch):
    graphs = pieces(engine)
    four_tasks = [chunk(f"p{i}", 40, 0, slot=i + 1, first_block=20 * i) for i in range(4)]
    assert graphs.key_for(SchedulerOutput(prefills=four_tasks)) == (0, (128, 128, 128, 128), 0, False)
    monkeypatch.setattr(prefill_graphs, "MAX_LONG_GROUPS", 3)
    assert graphs.key_for(SchedulerOutput(prefills=four_tasks)) is None  # eager
    # as many groups as the rows allow: 4 x 128 + 2 x 256 rows are above the largest decode size + 2 x 256
    assert graphs.max_rows < 4 * 128 + 2 * 256


def test_other_steps_run_eagerly(engine):
    graphs = pieces(engine)
    four_tasks = [chunk(f"p{i}", 40, 0, slot=i + 1, first_block=20 * i) for i in range(4)]
    scored = chunk("p", 90, 0, slot=3, first_block=0, prompt_targets=list(range(90)))
    assert graphs.key_for(SchedulerOutput(prefills=[scored])) is None
    assert graphs.key_for(SchedulerOutput(decodes=[chunk("d", 1, 3, slot=1, first_block=0)])) is None  # no prompt
    many = [chunk(f"d{i}", 1, 3, slot=1, first_block=i) for i in range(17)]  # above the largest decode size
    assert graphs.key_for(SchedulerOutput(decodes=many, prefills=four_tasks[:1])) is None
    too_long = chunk("p", 300, 0, slot=3, first_block=0)  # above the budget's bucket (256)
    assert graphs.key_for(SchedulerOutput(prefills=[too_long])) is None


@pytest.mark.parametrize(
    "fused,groups",
    [(False, 1), (False, 2), (False, 4), (True, 1), (True, 2),
     pytest.param(True, 4, marks=pytest.mark.skipif(DEVICE == "cpu", reason="41 s in the interpreter; 1 and 2 cover "
                                                                            "its fused kernels"))],
)  # fmt: skip
def test_the_pieces_give_the_models_logits(engine, fused, groups, monkeypatch):
    """Decode rows of two tasks beside one task's prompt chunks, or beside two tasks' (a 20-token chunk that does
    not fit the 13 short rows left), or four (chunks of the other task and of the base too: one group each)."""
    if fused and DEVICE == "cpu":  # the fused decoder kernels through the interpreter, in both forms
        monkeypatch.setattr(server_model, "fused_ops_for", lambda x: triton_fused)
        monkeypatch.setattr(prefill_graphs, "fused_ops_for", lambda x: triton_fused)
    elif not fused and DEVICE == "cuda":
        return  # CUDA runs them anyway
    make_resident(engine, ("alpha", "beta", "gamma"))
    graphs = pieces(engine, use_graphs=DEVICE == "cuda")

    def step(slots: tuple[int, int, int], start: int) -> SchedulerOutput:
        """Decodes of slots[0] and slots[1], slots[2]'s prompt chunks (and with two groups a chunk of slots[0])."""
        decodes = [chunk("d0", 1, 5 + start, slot=slots[0], first_block=1),
                   chunk("d1", 1, 9 + start, slot=slots[1], first_block=10),
                   chunk("d2", 1, 2 + start, slot=slots[0], first_block=20)]  # fmt: skip
        prompt = [chunk("p0", 70, 12 + start, slot=slots[2], first_block=30),
                  chunk("p1", 40, start, slot=slots[2], first_block=60)]  # fmt: skip
        if groups >= 2:
            prompt.insert(1, chunk("p2", 20, start, slot=slots[0], first_block=90))
        if groups == 4:
            prompt += [chunk("p3", 24, start, slot=slots[1], first_block=110),
                       chunk("p4", 30, start, slot=0, first_block=130)]  # fmt: skip
        return SchedulerOutput(decodes=decodes, prefills=prompt)

    plan = step((1, 2, 3), 0)
    key = graphs.key_for(plan)
    # 2 decode tasks: the bucket kernel's class at threshold 2
    assert key == (4, (128,) * groups, 1, False)
    expected = engine.runner.forward(*engine.runner.prepare(plan.decodes, plan.prefills))  # [R, V]: plan order
    # CUDA: the model's own forward runs the fused prefill kernel on all rows (TF32 dots on fp32 inputs), the
    # pieces the decode kernels and the dense path (cuBLAS)
    tol = 2e-3 if DEVICE == "cpu" else 2e-2
    for _ in range(2):  # eager both times: the first leaves its capture pending, the second captures (on CUDA)
        logits = graphs.run(plan, key)
        assert logits.shape == expected.shape
        torch.testing.assert_close(logits, expected, rtol=tol, atol=tol)
    # the same shapes for other tasks: the graph captured for the first plan replays, the decode rows and each group
    # reading their new slots (every slot is read on the device)
    other = step((3, 1, 2), 40)
    assert graphs.key_for(other) == key
    expected = engine.runner.forward(*engine.runner.prepare(other.decodes, other.prefills))
    torch.testing.assert_close(graphs.run(other, key), expected, rtol=tol, atol=tol)


@pytest.mark.parametrize("overlap", ["off", "on"])
def test_an_engine_with_prefill_pieces_gives_the_reference_tokens(tmp_path, monkeypatch, overlap):
    """Long prompts join requests of other tasks that are decoding; the projections run the Triton op (on the CPU
    through the interpreter): decode kernels on the decode rows, the dense path on the chunk rows, reading the
    chunk's slot on the device. Every request's tokens equal the torch op's in an engine without the pieces (with
    overlapped scheduling too: the decode rows' tokens are then fed on the device)."""
    base = create_base(seed=5)
    store = create_store(base, tmp_path, {"alpha": 1, "beta": 2, "gamma": 3})
    # the first three decode long enough to still run when the long prompts join (on CUDA plans of 4 decode steps,
    # and with overlap one more plan on the device, take them 8 tokens on before the joins)
    specs = [("alpha", prompt_ids(1, 5), 16), ("beta", prompt_ids(2, 7), 16), ("gamma", prompt_ids(3, 4), 16),
             ("beta", prompt_ids(4, 140), 3), ("gamma", prompt_ids(5, 100), 3)]  # fmt: skip
    ran = []

    def run(triton_op: bool) -> list[list[int]]:
        engine = tokens_engine(base, store, 256, triton_op, monkeypatch, ran, overlap if triton_op else "off")
        handles = decoding_together(engine, specs[:3])  # then the long ones join
        for task, prompt, n in specs[3:]:  # each joins alone: its step is decode rows and one task's chunk
            handles.append(engine.add_request(task, prompt, greedy(n)))
            engine.step()
        got = collect(engine, handles)
        return [got[h.request_id] for h in handles]

    reference = run(triton_op=False)
    assert run(triton_op=True) == reference
    assert any(key[:2] == (4, (256,)) for _, key in ran)  # 3 tasks' decode rows beside the 140-token prompt's chunk
    if overlap == "on":  # those decode rows took their tokens on the device
        assert any(c.fed for plan, key in ran if key[:2] == (4, (256,)) for c in plan.decodes)


def test_a_burst_of_prompts_of_different_tasks_gives_the_reference_tokens(tmp_path, monkeypatch):
    """Prompts of three tasks arrive together, longer than the step's token budget (96): steps hold the end of one
    prompt beside the head of the next (short rows of one task, long rows of another) and the first prompts'
    decodes. Every request's tokens equal the torch op's without the pieces."""
    base = create_base(seed=6)
    store = create_store(base, tmp_path, {"alpha": 1, "beta": 2, "gamma": 3})
    specs = [(task, prompt_ids(10 + i, 70 + 5 * i), 4) for i, task in enumerate(["alpha", "beta", "gamma", "beta"])]
    ran = []

    def run(triton_op: bool) -> list[list[int]]:
        engine = tokens_engine(base, store, 96, triton_op, monkeypatch, ran)
        handles = [engine.add_request(task, prompt, greedy(n)) for task, prompt, n in specs]
        got = collect(engine, handles)
        return [got[h.request_id] for h in handles]

    reference = run(triton_op=False)
    assert run(triton_op=True) == reference
    assert max(len({c.slot for c in plan.chunks}) for plan, _ in ran) >= 2  # steps of several tasks took the pieces
    if DEVICE == "cpu":  # 16 short rows at most: a prompt's end of 17+ tokens is a second long group
        assert any(len(key[1]) == 2 for _, key in ran)


def test_lone_prompt_steps_can_be_captured_before_the_first_prompt(engine):
    graphs = pieces(engine, use_graphs=DEVICE == "cuda")
    free = engine.scheduler.blocks.num_free
    captured = graphs.capture_lone_prompts()  # a dummy prompt per bucket, on the null block
    assert graphs.buckets == [128, 256]  # the token budget (256) rounded up
    assert captured == (2 if DEVICE == "cuda" else 0)  # the CPU's stand-in captures nothing
    assert engine.scheduler.blocks.num_free == free  # no block taken


def recording_captures(graphs: PrefillGraphs, monkeypatch) -> list[tuple]:
    """graphs as on CUDA (use_graphs), each capture recorded as (key, first step seconds, the hints it saw) instead
    of made (the CPU has no graphs: the key's steps keep running eagerly)."""
    graphs.use_graphs = True
    captured = []

    def capture(key, views, fused, first_step):
        hints = graphs.model.kernel_hints
        assert torch.is_inference_mode_enabled()  # the static buffers are inference tensors (CUDA's capture copies)
        captured.append((key, first_step, hints.num_tasks, hints.segments is views.segments))

    monkeypatch.setattr(graphs, "_capture", capture)
    return captured


def test_a_keys_capture_waits_for_an_idle_moment_or_its_second_step(engine, monkeypatch):
    make_resident(engine, ("alpha", "beta"))
    graphs = pieces(engine)
    captured = recording_captures(graphs, monkeypatch)
    one = SchedulerOutput(prefills=[chunk("p0", 90, 0, slot=1, first_block=1)])
    two = SchedulerOutput(prefills=one.prefills + [chunk("p1", 60, 0, slot=2, first_block=30)])
    engine.runner.model.kernel_hints.num_tasks = 1
    graphs.run(one, graphs.key_for(one))
    assert captured == [] and list(graphs.pending) == [graphs.key_for(one)]  # its first step: eager, no capture
    graphs.run(one, graphs.key_for(one))
    assert [c[0] for c in captured] == [graphs.key_for(one)] and not graphs.pending  # its second: captured then
    engine.runner.model.kernel_hints.num_tasks = 2
    graphs.run(two, graphs.key_for(two))
    engine.runner.model.kernel_hints.num_tasks = None  # another step's since
    assert graphs.capture_pending() and not graphs.capture_pending()  # the engine's idle moment: one key, then none
    key, first_step, num_tasks, own_segments = captured[-1]
    assert key == graphs.key_for(two) == (0, (128, 128), 0, False)
    assert first_step > 0 and num_tasks == 2 and own_segments  # captured as its own step ran
    assert engine.runner.model.kernel_hints.segments is None


def test_a_warm_up_run_neither_marks_its_key_run_nor_captures_it(engine, monkeypatch):
    """capture_lone_prompts' compile-only pass (inside kernels.compile_ahead: its launches only compile) runs a key's
    pieces with warm_up: the key's first real step after it is still the eager one that marks it for capture."""
    graphs = pieces(engine)
    captured = recording_captures(graphs, monkeypatch)
    one = SchedulerOutput(prefills=[chunk("p0", 90, 0, slot=0, first_block=1)])
    key = graphs.key_for(one)
    graphs.run(one, key, warm_up=True)
    graphs.run(one, key, warm_up=True)
    assert captured == [] and not graphs.pending
    graphs.run(one, key)
    assert captured == [] and list(graphs.pending) == [key]


def test_the_engine_captures_pending_keys_when_it_has_nothing_to_run(tmp_path, monkeypatch):
    base = create_base(seed=6)
    store = create_store(base, tmp_path, {"alpha": 1, "beta": 2, "gamma": 3})
    ran = []
    engine = tokens_engine(base, store, 96, True, monkeypatch, ran)
    graphs = engine.runner.prefill_graphs
    captured = recording_captures(graphs, monkeypatch)
    ran.clear()  # make_resident's steps, before graphs were "on"
    engine.start()
    try:
        handles = [engine.add_request(task, prompt_ids(20 + i, 80), greedy(2))
                   for i, task in enumerate(["alpha", "beta"])]  # fmt: skip
        for h in handles:
            list(h)
        deadline = time.monotonic() + 30
        while graphs.pending and time.monotonic() < deadline:
            time.sleep(0.01)
        assert ran and not graphs.pending
        assert {c[0] for c in captured} == {key for _, key in ran}  # every key that ran, captured once idle
    finally:
        engine.stop()
