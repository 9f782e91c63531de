"""The engine's int8 activation mode (the server's default) on an sm_90 GPU: decode steps of 16 rows
over 8 tasks take the int8 bucket kernel's BASE_CORR form, and each generated token's log-probability stays the
exact engine's within the mode's error, for task LUTs as close to the base's as a real fine-tune left them (a math
task LUT moved the default model's weights 0.67 %; benchmarks/NOTES.md, forty-third session)."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from adapters.store import LutStore
from server.engine import Engine
from server.tokenizer import ByteTokenizer
from sketch.synthetic import random_task_luts
from sketch.task_lut import TaskLut, save_task_lut
from tests.server.conftest import create_base, engine_config, greedy, make_resident, prompt_ids

pytestmark = pytest.mark.skipif(not torch.cuda.is_available() or torch.cuda.get_device_capability() < (9, 0),
                                reason="the int8 bucket kernel needs an sm_90 GPU")  # fmt: skip

TASKS = [f"t{i}" for i in range(8)]


def near_base_store(base, root) -> LutStore:
    """Task LUTs within ~1 % of the base's (the base's values times 1 + 1 % noise), and "far", 30 % off."""
    store = LutStore(root / "store", base.spec())
    for i, (task, scale) in enumerate([(t, 0.01) for t in TASKS] + [("far", 0.3)]):
        luts = random_task_luts(base, seed=10 + i, scale=scale)
        store.put(task, save_task_lut(TaskLut(task, luts, base.fingerprint, base.bits, base.gpr),
                                      root / f"{task}.safetensors"))  # fmt: skip
    return store


def generate(base, store, int8: bool, monkeypatch, far_tokens: int = 0) -> tuple[list[list[tuple[int, float]]], int]:
    """16 greedy requests over the 8 tasks, their prompts in one step (96 rows: the exact kernels), then decoding
    together (16 rows: the int8 kernel where the mode is on): each one's (token, logprob) list, and how many times
    the op launched the int8 kernel (CUDA graphs capture each launch once). far_tokens: request 0 is far's instead,
    for that many tokens."""
    import kernels.triton_ops as ops

    launches = []
    launch = ops.launch_bucket_int8
    monkeypatch.setattr(ops, "launch_bucket_int8", lambda *a, **kw: launches.append(1) or launch(*a, **kw))
    # one decode step a plan: a multi-step plan is one choice, and far's would cover the near ones' last tokens
    config = engine_config(device="cuda", dtype="float16", max_num_batched_tokens=128, num_slots=12,
                           decode_steps=1 if far_tokens else 0)  # fmt: skip
    engine = Engine(base, ByteTokenizer(), dataclasses.replace(config, int8_activations=int8), store)
    make_resident(engine, TASKS + ["far"] * bool(far_tokens))
    launches.clear()  # (make_resident's own requests)
    requests = [(TASKS[i % len(TASKS)], 5) for i in range(16)]
    if far_tokens:
        requests[0] = ("far", far_tokens)
    handles = [engine.add_request(task, prompt_ids(100 + i, 6), greedy(n, logprobs=0))
               for i, (task, n) in enumerate(requests)]  # fmt: skip
    engine.run_until_idle(timeout_s=120)
    out = []
    for h in handles:
        outputs = h.poll()
        assert outputs and outputs[-1].finished
        out.append([(lp.token_id, lp.logprob) for o in outputs for lp in (o.logprobs or [])])
    return out, len(launches)


def test_int8_activations_take_the_int8_kernel_and_keep_the_exact_log_probabilities(tmp_path, monkeypatch):
    base = create_base(gpr=1, intermediate_size=128)  # K 64 and 128: BLOCK_K 64 and 128 tile them
    store = near_base_store(base, tmp_path)
    exact, exact_launches = generate(base, store, False, monkeypatch)
    int8, int8_launches = generate(base, store, True, monkeypatch)
    assert exact_launches == 0 and int8_launches > 0
    agree = 0
    for a, b in zip(exact, int8, strict=True):
        assert a[0] == b[0]  # the prompt's step (more than 16 rows): the exact kernels in both
        for (ta, la), (tb, lb) in zip(a, b, strict=True):
            if ta != tb:
                break
            assert abs(la - lb) < 0.05, (la, lb)
            agree += 1
    assert agree >= 0.8 * sum(len(a) for a in exact)


def test_steps_with_a_task_far_from_the_base_run_exact_in_the_int8_mode(tmp_path, monkeypatch):
    """A request of a task 30 % off the base (beyond int8_max_lut_distance) among 15 near ones: while it decodes,
    every step is exact (its log-probabilities are the exact engine's, bit for bit: the same kernels on the same
    batches); once it finished, the near ones' steps take the int8 kernel."""
    base = create_base(gpr=1, intermediate_size=128)
    store = near_base_store(base, tmp_path)
    exact, exact_launches = generate(base, store, False, monkeypatch, far_tokens=2)
    int8, int8_launches = generate(base, store, True, monkeypatch, far_tokens=2)
    assert exact_launches == 0 and int8_launches > 0
    assert int8[0] == exact[0] and len(int8[0]) == 2


@pytest.mark.parametrize("producers", [{"norm"}, {"norm", "silu"}], ids=["norm (the default)", "norm and silu"])
def test_the_norms_digits_change_no_output_of_the_int8_mode(tmp_path, monkeypatch, producers):
    """SKETCHSERVE_INT8_NORM_DIGITS (the fused norms write qkv_proj's and gate_up_proj's int8 digits, and with "silu"
    SiLU down_proj's, so those calls launch no digits kernel): the int8 engine's tokens and log-probabilities bit
    for bit against none ("0"), with fewer launches of the digits kernel (CUDA graphs capture each once)."""
    import kernels.triton_bucket_int8 as int8_module
    import server.model

    base = create_base(gpr=1, intermediate_size=128)
    store = near_base_store(base, tmp_path)
    made = []
    digits = int8_module.int8_digits
    monkeypatch.setattr(int8_module, "int8_digits", lambda *a, **kw: made.append(1) or digits(*a, **kw))
    monkeypatch.setattr(server.model, "INT8_NORM_DIGITS", frozenset())
    plain, _ = generate(base, store, True, monkeypatch)
    plain_made, made[:] = len(made), []
    monkeypatch.setattr(server.model, "INT8_NORM_DIGITS", frozenset(producers))
    normed, launches = generate(base, store, True, monkeypatch)
    assert launches > 0 and normed == plain
    assert len(made) < plain_made
