"""A step with a long prompt chunk hands the op its slot runs (server/runner.py, slot_runs): on CUDA the chunk's
projections then run as one dequantized weight + a dense matmul, the other tokens through the fused kernels.

The engine runs on the test device with the Triton op (on the CPU through the interpreter, which tests/conftest.py
switches on, forced in place of the CPU path) and, for reference, with the torch reference op.
"""

from __future__ import annotations

import importlib

import torch

from kernels import triton_ops
from kernels.triton_prefill import DENSE_MIN_TOKENS
from server import runner
from server.sampling import SamplingParams
from server.scheduler import ScheduledChunk

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


def chunk(slot: int, n: int) -> ScheduledChunk:
    return ScheduledChunk("r", [0] * n, 0, [], slot, False, SamplingParams(), None)


def test_slot_runs_merges_neighbours_of_one_slot_and_needs_one_long_run():
    chunks = [chunk(1, 1), chunk(1, 1), chunk(0, 1), chunk(2, 130), chunk(2, 5), chunk(1, 3)]
    per_token = torch.zeros(141, dtype=torch.int32)
    segments = runner.slot_runs(chunks, per_token, min_run=128)
    assert segments.host_bounds == ((1, 0, 2), (0, 2, 3), (2, 3, 138), (1, 138, 141))
    assert segments.slot_of_token() is per_token  # the runner's tensor, not rebuilt per call
    assert runner.slot_runs(chunks[:3] + [chunk(2, 20)], per_token[:23], min_run=128) is None


def test_a_long_prompt_next_to_decoding_requests_gives_the_reference_tokens(tmp_path, monkeypatch):
    """A 140-token prompt joins three requests of other tasks that are decoding: the op sees every step as runs
    (the long prompt dense, the rest as one short run; the short prompts' steps unsorted, on the fused kernel) and
    every request's tokens equal the torch op's."""
    base = create_base(seed=5)
    store = create_store(base, tmp_path, {"alpha": 1, "beta": 2, "gamma": 3})
    specs = [("alpha", prompt_ids(1, 5), 6), ("beta", prompt_ids(2, 7), 6), ("gamma", prompt_ids(3, 4), 6),
             ("beta", prompt_ids(4, DENSE_MIN_TOKENS + 12), 3)]  # fmt: skip

    op_module = importlib.import_module("kernels.lut_linear")  # `kernels.lut_linear` is the function

    def run(triton_op: bool) -> list[list[int]]:
        monkeypatch.setattr(op_module, "_use_triton", lambda x: triton_op)  # on the CPU: interpreted
        # no CUDA graphs: the reference op reads its slots back (torch.unique), which a capture cannot hold
        engine = create_engine(base, store, cpu_weight_cache_bytes=0, max_num_batched_tokens=256, device=DEVICE,
                               cuda_graphs=False)  # fmt: skip
        # else load timing decides who prefills together: beta's short prompt beside the long one is one 147-token run
        make_resident(engine, ("alpha", "beta", "gamma"))
        handles = decoding_together(engine, specs[:3])  # then the long one joins
        handles.append(engine.add_request(*specs[3][:2], greedy(specs[3][2])))
        got = collect(engine, handles)
        return [got[h.request_id] for h in handles]

    reference = run(triton_op=False)
    dense_calls = []
    real_dense = triton_ops.launch_dense_segments

    def dense(x, codes, pool, segments, bits, y, slots):
        dense_calls.append((x.shape[0], [b - a for _, a, b in segments]))
        real_dense(x, codes, pool, segments, bits, y, slots)

    monkeypatch.setattr(triton_ops, "launch_dense_segments", dense)
    # on the CPU too, the runs the runner gives the CUDA op (every step: its short runs skip the slot sort)
    monkeypatch.setattr(runner.ModelRunner, "segments_of",
                        lambda self, chunks, slots: runner.slot_runs(chunks, slots, min_run=1))  # fmt: skip
    assert run(triton_op=True) == reference
    assert dense_calls and all(lengths == [DENSE_MIN_TOKENS + 12] for _, lengths in dense_calls)
    assert all(rows > DENSE_MIN_TOKENS + 12 for rows, _ in dense_calls)  # with other requests' tokens in the step
