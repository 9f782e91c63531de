"""A CUDA engine tunes its kernels while it starts (server/runner.py, tune_kernels): every shape the op will meet
is called once, so no request waits for the autotuner. The plan and the calls are checked here on the CPU (where
nothing is timed); on CUDA the same calls time the candidates once per GPU and read the cache afterwards."""

from __future__ import annotations

import pytest
import torch

from server import runner
from server.model import LutProjection

from .conftest import collect, create_engine, decoding_together, make_resident, prompt_ids

POWERS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]


def op_classes(tokens: int) -> tuple[int, ...]:
    """The op's task classes (kernels/triton_ops.py): the few-task kernel from 2 tasks up to 16 rows, the bucket
    kernel from 7 up to 8 rows, from 5 up to 16 and from 13 above."""
    return (2, 7) if tokens <= 8 else (2, 5) if tokens <= 16 else (13,)


def test_the_plan_covers_every_token_count_key_up_to_the_budget_with_every_decode_kernel():
    """The op keys its choices by the token count rounded up to a power of two, and a step can hold any count up to
    the token budget (a mixed step), so every power of two up to it, whatever the batch limit."""
    plan = runner.kernel_tuning_plan(token_budget=512, num_slots=20, task_classes=op_classes)
    assert [p for p in plan if p[1] == 1] == [(t, 1) for t in POWERS]
    # the other classes' entries: decode sizes only (<= 64), each at the count that starts the class, where a batch
    # of that size can hold it (2 tasks: the few-task kernel; 7, 5 and 13: the bucket kernel)
    several = [(2, 2), (4, 2), (8, 2), (8, 7), (16, 2), (16, 5), (32, 13), (64, 13)]
    assert [p for p in plan if p[1] > 1][:8] == several
    odd_budget = runner.kernel_tuning_plan(token_budget=300, num_slots=20, task_classes=op_classes)
    assert max(tokens for tokens, _ in odd_budget) == 512  # 300 tokens are keyed as 512


def test_the_plan_also_calls_the_decode_graph_sizes_that_are_not_powers_of_two():
    """Their configs are the power of two's above, but the bucket kernel compiles a variant per class of the token
    count (a multiple of 16 or not): batch 24 over many tasks compiled at its first step (thirteenth session)."""
    plan = runner.kernel_tuning_plan(512, 20, op_classes, 64, runner.GRAPH_BATCH_SIZES)
    assert plan[-6:-2] == [(24, 1), (24, 13), (48, 1), (48, 13)]  # after the powers of two; 96 and up: above 64
    small = runner.kernel_tuning_plan(16, 20, op_classes, 64, runner.GRAPH_BATCH_SIZES)
    assert max(tokens for tokens, _ in small) == 16  # no size above the budget's


def test_the_plan_calls_the_bucket_kernel_at_a_count_not_a_multiple_of_16_for_each_tile_height():
    """The bucket kernel's tile height is the power of two >= 16 above the token count, and it specializes on the
    count being a multiple of 16; an eager step gives it any count (decodes plus prompt tokens), so each height
    needs a call at an odd count: M = 37..59 compiled after the start when only 24 (height 32) was called
    (fourteenth session)."""
    plan = runner.kernel_tuning_plan(512, 20, op_classes, 64, runner.GRAPH_BATCH_SIZES)
    assert plan[-2:] == [(12, 5), (60, 13)]  # 24 covers height 32; 48 is a multiple of 16
    for height in (16, 32, 64):
        assert any(height // 2 < t <= height and t % 16 and tasks >= op_classes(t)[-1] for t, tasks in plan)
    powers_only = runner.kernel_tuning_plan(token_budget=512, num_slots=20, task_classes=op_classes)
    assert [p for p in powers_only if p[1] > 1][8:] == [(12, 5), (28, 13), (60, 13)]
    assert runner.kernel_tuning_plan(16, 20, op_classes)[-1] == (12, 5)  # no height above the budget's


def test_the_plan_leaves_out_task_counts_the_pool_cannot_hold_and_fixed_kernels():
    plan = runner.kernel_tuning_plan(token_budget=128, num_slots=8, task_classes=op_classes)
    assert max(tasks for _, tasks in plan) == 7  # 13 distinct tasks need 13 slots
    fixed = runner.kernel_tuning_plan(16, 8, lambda tokens: ())  # SKETCHSERVE_DECODE_KERNEL set
    assert fixed == [(1, 1), (2, 1), (4, 1), (8, 1), (16, 1)]


def test_tuning_calls_each_projection_shape_once_per_plan_entry_with_its_task_count(base, monkeypatch):
    engine = create_engine(base, cpu_weight_cache_bytes=0)  # the reference op: every call reaches the projection
    model = engine.runner.model
    calls = []
    real_forward = LutProjection.forward

    def spy(self, x, slot_of_token):
        calls.append((tuple(self.codes_packed.shape), x.shape[0], len(set(slot_of_token.tolist())),
                      self.hints.num_tasks))  # fmt: skip
        return real_forward(self, x, slot_of_token)

    monkeypatch.setattr(LutProjection, "forward", spy)
    monkeypatch.setattr(runner.DecodeGraphs, "task_classes", staticmethod(lambda batch: (2,)))
    try:
        runner.tune_kernels(model, token_budget=4, num_slots=engine.runner.num_slots)
    finally:
        engine.stop()
    shapes = {tuple(m.codes_packed.shape) for m in model.modules() if isinstance(m, LutProjection)}
    plan = [(1, 1), (2, 1), (2, 2), (4, 1), (4, 2)]
    assert sorted(calls) == sorted((shape, tokens, tasks, tasks) for shape in shapes for tokens, tasks in plan)
    assert model.kernel_hints.num_tasks is None  # the hint is the runner's again


def test_where_the_gpu_has_pdl_the_calls_run_again_as_steps_launch_them(base, monkeypatch):
    """The model's steps launch the decode kernels inside a pdl_scope, another compiled variant (PDL on): the start
    compiles it too, after the calls' inputs are written (the PDL rule), so that no request waits for it. The
    prefill-sized calls run once (the prefill kernels take no PDL)."""
    from kernels import triton_common, triton_ops

    engine = create_engine(base, cpu_weight_cache_bytes=0)
    model = engine.runner.model
    scopes, syncs = [], []
    real_forward = LutProjection.forward

    def spy(self, x, slot_of_token):
        scopes.append((x.shape[0], self.hints.num_tasks, triton_common._PDL_SCOPE.get()))
        return real_forward(self, x, slot_of_token)

    monkeypatch.setattr(LutProjection, "forward", spy)
    monkeypatch.setattr(triton_common, "pdl_available", lambda device: True)
    monkeypatch.setattr(runner.torch.cuda, "synchronize", lambda device=None: syncs.append(len(scopes)))
    monkeypatch.setattr(runner.DecodeGraphs, "task_classes", staticmethod(lambda batch: (2,)))
    try:
        runner.warm_up_kernels(model, engine.runner.kv_cache, token_budget=100, num_slots=engine.runner.num_slots)
    finally:
        engine.stop()
    first = [s for s in scopes if not s[2]]
    second = [s for s in scopes if s[2]]
    assert scopes == first + second and syncs == [len(first)]  # the inputs written before the scope's first call
    decode_sized = [s[:2] for s in first if s[0] <= triton_ops.DECODE_MAX_M]
    assert decode_sized and [s[:2] for s in second] == decode_sized
    assert any(s[0] > triton_ops.DECODE_MAX_M for s in first)  # (the plan up to 128 tokens)
    assert not triton_common._PDL_SCOPE.get()


def test_prefill_sizes_are_also_called_in_runs_of_one_slot_as_eager_steps_give_them(base, monkeypatch):
    """An eager prefill step hands the op its tokens as runs of one slot: short runs take the prefill kernel
    without its sort, a long run the dense path; each is another kernel to compile, so the start calls both."""
    from kernels import triton_ops

    engine = create_engine(base, cpu_weight_cache_bytes=0)
    model = engine.runner.model
    segmented = []
    real_forward = LutProjection.forward

    def spy(self, x, slot_of_token):
        seg = self.hints.segments
        if seg is not None:
            assert seg.per_token is slot_of_token  # the op takes the runs for these very slots
            runs = [(s, b - a) for s, a, b in seg.host_bounds]
            assert slot_of_token.tolist() == [s for s, n in runs for _ in range(n)]
            segmented.append((x.shape[0], tuple(n for _, n in runs), self.hints.num_tasks))
        return real_forward(self, x, slot_of_token)

    monkeypatch.setattr(LutProjection, "forward", spy)
    try:
        runner.tune_kernels(model, token_budget=100, num_slots=engine.runner.num_slots)  # plan up to 128 tokens
    finally:
        engine.stop()
    short = triton_ops.DENSE_MIN_TOKENS // 2
    shapes = {tuple(m.codes_packed.shape) for m in model.modules() if isinstance(m, LutProjection)}
    assert sorted(segmented) == sorted([(128, (short,) * (128 // short), 128 // short), (128, (128,), 1)] * len(shapes))
    assert model.kernel_hints.segments is None and model.kernel_hints.num_tasks is None


def test_a_failing_start_up_tuning_is_logged_and_the_runner_still_built(base, monkeypatch, caplog):
    """Tuning is an optimisation: if it fails (a kernel that does not compile on some GPU), the server still starts
    and the shapes left tune on first use. The device is only a label here: no CUDA call runs."""
    import dataclasses

    import torch

    engine = create_engine(base)
    engine.stop()

    def broken(*args, **kwargs):
        raise RuntimeError("no kernel image for this GPU")

    monkeypatch.setattr(runner, "tune_kernels", broken)
    config = dataclasses.replace(engine.config, cuda_graphs=False, tune_at_start=True)
    built = runner.ModelRunner(engine.runner.model, engine.runner.kv_cache, engine.runner.num_slots, config,
                               torch.device("cuda"))  # fmt: skip
    assert built.graphs is None
    assert "start-up kernel tuning stopped (no kernel image for this GPU)" in caplog.text


@pytest.mark.parametrize("ahead", [True, False])
def test_the_start_compiles_each_modes_calls_ahead_on_threads_then_runs_them_for_real(base, monkeypatch, ahead):
    """With compile-ahead on, each launch mode's warm-up calls run twice: inside the block (launches only compile,
    on a pool of threads), then for real (the autotuner times its candidates compiled), before the next mode's, whose
    compiles then meet the first mode's choices. Off, once per mode."""
    from contextlib import contextmanager
    from types import SimpleNamespace

    from kernels import compile_ahead, triton_common

    engine = create_engine(base)
    engine.stop()
    inside, calls = [False], []

    @contextmanager
    def fake_compile_ahead(threads=None):
        inside[0] = ahead
        yield ahead
        inside[0] = False

    monkeypatch.setattr(compile_ahead, "compile_ahead", fake_compile_ahead)
    monkeypatch.setattr(triton_common, "pdl_available", lambda device: True)
    monkeypatch.setattr(runner.torch.cuda, "synchronize", lambda device=None: None)
    def tune(model, budget, slots, pdl):
        calls.append(("tune", pdl, inside[0]))

    def attention(k_cache, v_cache, heads):
        calls.append(("attention", triton_common._PDL_SCOPE.get(), inside[0]))

    monkeypatch.setattr(runner, "tune_kernels", tune)
    monkeypatch.setattr(runner, "fused_ops_for", lambda x: SimpleNamespace(warm_up_attention=attention))
    runner.warm_up_kernels(engine.runner.model, engine.runner.kv_cache, 16, engine.runner.num_slots)
    passes = [True, False] if ahead else [False]
    assert calls == [(kind, pdl, compiling) for pdl in (False, True) for compiling in passes
                     for kind in ("tune", "attention")]  # fmt: skip


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_an_engine_whose_start_compiled_ahead_generates_the_tokens_of_one_without_the_warm_up(base, store):
    """The start's compile pass runs nothing and leaves no state behind: a mixed greedy batch over 3 tasks gives the
    same tokens in an engine that warmed up (compiles on threads, then the calls for real) as in one that did not."""
    tokens = []
    for tune in (True, False):
        engine = create_engine(base, store, device="cuda", tune_at_start=tune)
        try:
            make_resident(engine, ["alpha", "beta", "gamma"])
            specs = [(task, prompt_ids(i, 5 + 7 * i), 10) for i, task in enumerate(["alpha", "beta", "gamma", "alpha"])]
            tokens.append(list(collect(engine, decoding_together(engine, specs)).values()))
        finally:
            engine.stop()
    assert tokens[0] == tokens[1]


def test_prefill_sized_tuning_calls_come_as_a_steps_runs_long_chunks_first():
    """Per prefill size: several tasks' chunks of 65-256 tokens first (they tune the segment tiles' choice for the
    token bucket and long segments), then 32-token runs (the short segments' class), then one run (the dense
    path)."""
    calls = list(runner._tuning_calls([(1, 1), (512, 1), (2048, 1), (100, 1), (256, 1)], num_slots=4, decode_max=64,
                                      dense_min=64, device=torch.device("cpu"), short_segments=64))  # fmt: skip
    prefill = [(tokens, [b - a for _, a, b in seg.host_bounds], tasks) for tokens, _, seg, tasks in calls if seg]
    assert [c[0] for c in prefill] == [100, 100, 256, 256, 256, 512, 512, 512, 2048, 2048, 2048]
    assert prefill[0][1] == [32, 32, 32, 4] and prefill[1][1] == [100]  # 100 tokens hold no three 65-token runs
    assert prefill[2][1] == [65, 65, 65, 61]  # mean past 64 tokens: the long class, even at 256 tokens
    assert prefill[5] == (512, [128] * 4, 4) and prefill[6][1] == [32] * 16 and prefill[7][1] == [512]
    assert prefill[8] == (2048, [256] * 8, 4)  # 8 runs over the pool's 4 slots
    for tokens, slots, seg, _ in calls:
        assert slots.shape == (tokens,) and (seg is None or seg.host_bounds[-1][2] == tokens)
