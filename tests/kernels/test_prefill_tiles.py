"""Prefill over a step's segments: the register-LUT kernel's segment tiles against the dense path.

A step's tokens come in runs of one slot (SlotSegments with host bounds). Long runs take either the dense path (one
dequantized weight per run, then cuBLAS) or the register-LUT prefill kernel over token tiles that each hold one
run's tokens (kernels/triton_prefill_prmt.py, SegmentTiles); kernels.triton_ops.dense_pays draws the line. On the
CPU these run through Triton's interpreter, on CUDA compiled; outputs are poisoned with NaN first.
"""

import pytest
import torch

from kernels import SlotSegments, triton_ops
from kernels.reference import lut_linear_reference
from kernels.triton_ops import DECODE_MAX_M, dense_pays, lut_linear_forward
from kernels.triton_prefill import DENSE_MAX_SEGMENTS, DENSE_MIN_MEAN_TOKENS, DENSE_MIN_TOKENS
from kernels.triton_prefill_prmt import SegmentTiles, launch_prefill_prmt
from tests.kernels.test_triton_forward import DEVICE, TOL, make_case, rel_err

# 4-bit codes, 2 groups of 32 columns: the register-LUT kernel takes these layers (16-column blocks fit a group)
N, K, BITS, GPR = 21, 64, 4, 2


def step(slots: list[int], counts: list[int], dtype=torch.float16, seed=0):
    m = sum(counts)
    x, codes, pool, _ = make_case(m, N, K, BITS, GPR, 4, "one", dtype, seed=seed)
    segments = SlotSegments.from_counts(slots, counts, DEVICE)
    return x, codes, pool, segments, segments.slot_of_token()


def test_segment_tiles_cut_each_long_enough_segment_into_chunks_of_block_m():
    starts = torch.tensor([0, 5, 25, 26, 66], dtype=torch.int32)
    assert SegmentTiles(starts, (5, 20, 1, 40)).count(16) == 1 + 2 + 1 + 3
    assert SegmentTiles(starts, (5, 20, 1, 40), min_len=20).count(16) == 2 + 3
    assert SegmentTiles(starts, (5, 20, 1, 40), min_len=41).count(16) == 0


@pytest.mark.parametrize("min_len", [1, 4, 21])
def test_the_kernel_writes_the_rows_of_the_tiled_segments_and_no_other(min_len):
    counts, slots = [5, 20, 1, 40, 3], [3, 0, 2, 1, 3]
    x, codes, pool, segments, slot_of_token = step(slots, counts, seed=min_len)
    y = torch.full((sum(counts), N), float("nan"), dtype=x.dtype, device=DEVICE)
    config = {"BLOCK_M": 16, "BLOCK_N": 16, "BLOCK_K": 16, "num_warps": 4, "num_stages": 2, "W_LEFT": min_len % 2}
    tiles = SegmentTiles(segments.starts, tuple(counts), min_len)
    launch_prefill_prmt(x, codes, pool, slot_of_token, None, BITS, y, config, tiles=tiles)
    tiled = torch.cat([torch.full((c,), c >= min_len) for c in counts]).to(DEVICE)
    ref = lut_linear_reference(x, codes, pool, slot_of_token, BITS)
    assert rel_err(y[tiled], ref[tiled]) < TOL[x.dtype]
    assert torch.isnan(y[~tiled]).all()


def test_segment_tiles_with_a_last_block_past_k():
    """K = 47 in 3 groups of 16: the last K block reads past the row (masked), rows of one tile re-read the
    segment's last token past its end (never stored)."""
    n, k, gpr, counts, slots = 29, 47, 3, [19, 40, 7], [1, 0, 2]
    x, codes, pool, _ = make_case(sum(counts), n, k, BITS, gpr, 3, "one", torch.bfloat16, seed=4)
    segments = SlotSegments.from_counts(slots, counts, DEVICE)
    slot_of_token = segments.slot_of_token()
    y = torch.full((sum(counts), n), float("nan"), dtype=x.dtype, device=DEVICE)
    config = {"BLOCK_M": 16, "BLOCK_N": 16, "BLOCK_K": 16, "num_warps": 4, "num_stages": 2, "W_LEFT": 1}
    launch_prefill_prmt(x, codes, pool, slot_of_token, None, BITS, y, config, SegmentTiles(segments.starts,
                                                                                         tuple(counts)))  # fmt: skip
    assert rel_err(y, lut_linear_reference(x, codes, pool, slot_of_token, BITS)) < TOL[x.dtype]


def test_segment_tiles_take_tokens_in_place_and_a_bounded_count_of_segments():
    x, codes, pool, segments, slot_of_token = step([0, 1], [10, 10])
    y = torch.empty(20, N, dtype=x.dtype, device=DEVICE)
    config = {"BLOCK_M": 16, "BLOCK_N": 16, "BLOCK_K": 16, "num_warps": 4, "num_stages": 2}
    perm = torch.arange(20, dtype=torch.int32, device=DEVICE)
    with pytest.raises(ValueError, match="no perm"):
        launch_prefill_prmt(x, codes, pool, slot_of_token, perm, BITS, y, config, tiles=SegmentTiles(
            segments.starts, (10, 10)))  # fmt: skip
    with pytest.raises(ValueError, match="one more than their lengths"):
        launch_prefill_prmt(x, codes, pool, slot_of_token, None, BITS, y, config, tiles=SegmentTiles(
            segments.starts, (20,)))  # fmt: skip


def test_the_dense_path_pays_for_one_or_two_segments_or_long_ones():
    short_long = DENSE_MIN_TOKENS + 10
    assert not dense_pays([])
    assert dense_pays([2048]) and dense_pays([96]) and dense_pays([1024, 1024])
    assert DENSE_MAX_SEGMENTS == 2 and dense_pays([short_long] * 2)
    assert not dense_pays([short_long] * 3)
    assert not dense_pays([256] * 8) and not dense_pays([128] * 4)
    assert dense_pays([DENSE_MIN_MEAN_TOKENS] * 4) and not dense_pays([DENSE_MIN_MEAN_TOKENS - 1] * 4)


def _forbid(monkeypatch, name: str):
    def forbidden(*args, **kwargs):
        raise AssertionError(f"{name} was called")

    monkeypatch.setattr(triton_ops, name, forbidden)


def test_four_prompt_chunks_take_the_segment_tiles_and_the_decode_rows_their_own_call(monkeypatch):
    """Two decode rows, then four tasks' prompt chunks of 65-100 tokens: the chunks in segment tiles (no dense
    weight, no sort), the decode rows as one call of the op."""
    slots, counts = [2, 0, 1, 3, 0, 2], [1, 1, 100, 70, 90, DENSE_MIN_TOKENS + 1]
    x, codes, pool, segments, slot_of_token = step(slots, counts, seed=5)
    _forbid(monkeypatch, "launch_dense_segments")
    _forbid(monkeypatch, "sort_tokens_by_slot")
    tiled, calls = [], []
    real_tiles, real_forward = triton_ops._launch_tiles, triton_ops.lut_linear_forward

    def spy_tiles(*args, **kwargs):
        tiled.append(args[6])
        return real_tiles(*args, **kwargs)

    def spy_forward(x, *args, **kwargs):
        calls.append((x.shape[0], kwargs.get("num_tasks")))
        return real_forward(x, *args, **kwargs)

    monkeypatch.setattr(triton_ops, "_launch_tiles", spy_tiles)
    monkeypatch.setattr(triton_ops, "lut_linear_forward", spy_forward)
    out = torch.full((sum(counts), N), float("nan"), dtype=x.dtype, device=DEVICE)
    y = spy_forward(x, codes, pool, slot_of_token, BITS, segments, out=out)
    assert rel_err(y, lut_linear_reference(x, codes, pool, slot_of_token, BITS)) < TOL[x.dtype]
    assert len(tiled) == 1 and tiled[0].min_len == DENSE_MIN_TOKENS and tiled[0].lengths == tuple(counts)
    assert calls[1:] == [(2, 2)]  # the two decode rows, two tasks


def test_segment_tiles_are_tuned_per_token_bucket_and_class_of_segment_length(monkeypatch):
    """8 x 64 and 4 x 127 tokens share a token bucket (512) but not their best tiles (on the H200 a tile tuned on
    127-token segments cost 64-token ones 2.5x): the tiles' choice is keyed by both."""
    keys = []
    real = triton_ops.autotune.pick_config

    def spy(kernel, key, *args, **kwargs):
        if kernel == "prefill_tiles":
            keys.append(key)
        return real(kernel, key, *args, **kwargs)

    monkeypatch.setattr(triton_ops.autotune, "pick_config", spy)
    for counts in ([64] * 8, [127] * 4):
        x, codes, pool, segments, slot_of_token = step([i % 4 for i in range(len(counts))], counts, seed=len(counts))
        y = lut_linear_forward(x, codes, pool, slot_of_token, BITS, segments)
        assert rel_err(y, lut_linear_reference(x, codes, pool, slot_of_token, BITS)) < TOL[x.dtype]
    assert [k[0] for k in keys] == [512, 512]
    assert [k[-1] for k in keys] == [triton_ops.SHORT_SEGMENTS, triton_ops.MAX_SEGMENT_CLASS]


def test_on_sm90_the_tiles_offer_the_wgmma_kernel_and_launch_the_one_chosen(monkeypatch):
    """Where the wgmma prefill kernel can run (sm_90; on this machine by a stand-in), the tiles' autotuning gets its
    candidates beside the register-LUT ones, and a WGMMA choice launches it with the step's segment tiles."""
    from kernels.triton_prefill_wgmma import prefill_wgmma_candidates

    counts, k, gpr = [127] * 4, 128, 1  # groups of 128 columns: the wgmma kernel's 64-column blocks fit
    x, codes, pool, _ = make_case(sum(counts), N, k, BITS, gpr, 4, "one", torch.float16, seed=9)
    segments = SlotSegments.from_counts([0, 1, 2, 3], counts, DEVICE)
    slot_of_token = segments.slot_of_token()
    offered, launched = [], []

    def pick(kernel, key, candidates, launch, default, device, output=None):
        if kernel != "prefill_tiles":
            return default()
        offered.extend(candidates())
        return next(c for c in offered if c.get("WGMMA"))

    def fake_wgmma(x, codes, pool, slots, bits, y, config, tiles):  # the reference in its place
        launched.append((config, tiles.lengths, tiles.min_len))
        y.copy_(lut_linear_reference(x, codes, pool, slots, bits))

    monkeypatch.setattr(triton_ops, "wgmma_prefill_ok", lambda *args: True)
    monkeypatch.setattr(triton_ops.autotune, "pick_config", pick)
    monkeypatch.setattr(triton_ops, "launch_prefill_wgmma", fake_wgmma)
    y = lut_linear_forward(x, codes, pool, slot_of_token, BITS, segments)
    assert rel_err(y, lut_linear_reference(x, codes, pool, slot_of_token, BITS)) < TOL[x.dtype]
    assert [c for c in offered if c.get("WGMMA")] == prefill_wgmma_candidates(k // gpr)
    assert any(c.get("PRMT") for c in offered)
    assert launched == [(offered[[c.get("WGMMA") for c in offered].index(1)], tuple(counts), DENSE_MIN_TOKENS)]


def test_one_long_prompt_beside_short_chunks_still_takes_the_dense_path(monkeypatch):
    slots, counts = [1, 3, 0], [DENSE_MIN_TOKENS + 40, 7, 12]
    x, codes, pool, segments, slot_of_token = step(slots, counts, dtype=torch.bfloat16, seed=6)
    _forbid(monkeypatch, "_launch_tiles")
    y = lut_linear_forward(x, codes, pool, slot_of_token, BITS, segments)
    assert rel_err(y, lut_linear_reference(x, codes, pool, slot_of_token, BITS)) < TOL[x.dtype]


def test_a_burst_of_short_prompts_over_several_tasks_takes_the_segment_tiles_over_every_segment(monkeypatch):
    """No chunk reaches DENSE_MIN_TOKENS but the step has more than DECODE_MAX_M tokens: one tile set over all of
    them (the sorted kernel's tiles would each loop over 2-4 slots), slots not in order, one slot twice."""
    slots, counts = [3, 1, 3, 0, 2], [20, 9, 17, 30, 5]
    assert sum(counts) > DECODE_MAX_M and max(counts) < DENSE_MIN_TOKENS
    x, codes, pool, segments, slot_of_token = step(slots, counts, seed=7)
    _forbid(monkeypatch, "sort_tokens_by_slot")
    _forbid(monkeypatch, "launch_prefill")
    out = torch.full((sum(counts), N), float("nan"), dtype=x.dtype, device=DEVICE)
    y = lut_linear_forward(x, codes, pool, slot_of_token, BITS, segments, out=out)
    assert rel_err(y, lut_linear_reference(x, codes, pool, slot_of_token, BITS)) < TOL[x.dtype]


def test_a_layer_the_register_lut_kernel_cannot_take_keeps_the_dense_path_for_many_segments(monkeypatch):
    """Groups of 20 columns (no 16-column block fits one): four long chunks go dense, as before the tiles."""
    n, k, gpr = 19, 40, 2
    counts = [DENSE_MIN_TOKENS + 1] * 4
    x, codes, pool, _ = make_case(sum(counts), n, k, BITS, gpr, 4, "one", torch.float16, seed=8)
    segments = SlotSegments.from_counts([0, 1, 2, 3], counts, DEVICE)
    slot_of_token = segments.slot_of_token()
    _forbid(monkeypatch, "_launch_tiles")
    y = lut_linear_forward(x, codes, pool, slot_of_token, BITS, segments)
    assert rel_err(y, lut_linear_reference(x, codes, pool, slot_of_token, BITS)) < TOL[x.dtype]


def _spy(monkeypatch, name: str) -> list:
    """Record each call of triton_ops.<name> (its positional arguments) and let it run. The autotuner is off, so the
    calls are the op's own: on a GPU whose tuning cache lacks the shape, its candidate timings would be counted too."""
    monkeypatch.setenv("SKETCHSERVE_AUTOTUNE", "0")
    calls, real = [], getattr(triton_ops, name)

    def spy(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(triton_ops, name, spy)
    return calls


def test_per_token_slots_read_back_by_the_caller_are_planned_per_run_as_segments_are(monkeypatch):
    """lut_linear's range check reads the slots to the host: with that copy a prefill of per-token slots (a direct
    caller's, no SlotSegments) is planned per run of equal slots, as the engine's segments are: the long run in
    segment tiles or dense, the short one as its own call; neither the fused kernel nor a sort of the slots."""
    counts = [DENSE_MIN_TOKENS + 6, 20]
    x, codes, pool, _, slot_of_token = step([3, 1], counts, seed=9)
    _forbid(monkeypatch, "sort_tokens_by_slot")
    _forbid(monkeypatch, "launch_prefill")
    planned = _spy(monkeypatch, "_planned_segments")
    out = torch.full((sum(counts), N), float("nan"), dtype=x.dtype, device=DEVICE)
    y = lut_linear_forward(x, codes, pool, slot_of_token, BITS, out=out, host_slots=slot_of_token.cpu())
    assert y is out
    assert rel_err(y, lut_linear_reference(x, codes, pool, slot_of_token, BITS)) < TOL[x.dtype]
    assert [(p[3], p[4]) for p in planned] == [(((3, 0, counts[0]), (1, counts[0], sum(counts))), None)]


def test_runs_read_back_by_the_caller_take_the_segment_tiles_with_their_starts_copied_to_the_device(monkeypatch):
    """Three tasks' short runs, 75 tokens in all: the segment tiles over every run, their starts built on the device
    from the host bounds (the tiles alone read them)."""
    counts = [30, 20, 25]
    x, codes, pool, _, slot_of_token = step([3, 1, 0], counts, seed=13)
    _forbid(monkeypatch, "launch_prefill")
    tiled = _spy(monkeypatch, "_launch_tiles")
    y = lut_linear_forward(x, codes, pool, slot_of_token, BITS, host_slots=slot_of_token.cpu())
    assert rel_err(y, lut_linear_reference(x, codes, pool, slot_of_token, BITS)) < TOL[x.dtype]
    (tiles,) = [t[6] for t in tiled]
    assert tiles.starts.tolist() == [0, 30, 50, 75] and tiles.lengths == tuple(counts) and tiles.min_len == 1


LONG = DENSE_MIN_TOKENS + 4  # a run the plan calls long; three of them are too short on average to go dense


@pytest.mark.parametrize(
    "counts, planned",
    [([LONG] * 3, False), ([LONG, LONG, LONG, 60], False), ([LONG, LONG, LONG, 2], True),
     ([LONG, LONG], True), ([3 * LONG, 2, 2], True)],
)  # fmt: skip
def test_runs_long_on_average_read_back_by_the_caller_keep_the_fused_kernel_where_they_would_take_the_tiles(
    monkeypatch, counts, planned
):
    """Runs whose mean reaches HOST_PLAN_FUSED_MEAN_RUN (here DENSE_MIN_TOKENS) and whose long ones would take the
    segment tiles (more than DENSE_MAX_SEGMENTS of them, too short to go dense): the fused kernel, one call over
    the sorted slots. Planned as before: a shorter mean, two long runs, one long run (dense) among short ones."""
    monkeypatch.setattr(triton_ops, "HOST_PLAN_FUSED_MEAN_RUN", DENSE_MIN_TOKENS)
    assert not dense_pays([LONG] * 3) and dense_pays([LONG] * 2)  # the cases' premise
    x, codes, pool, _, slot_of_token = step(list(range(len(counts))), counts, seed=14)
    fused = _spy(monkeypatch, "launch_prefill")
    plans = _spy(monkeypatch, "_planned_segments")
    y = lut_linear_forward(x, codes, pool, slot_of_token, BITS, host_slots=slot_of_token.cpu())
    assert rel_err(y, lut_linear_reference(x, codes, pool, slot_of_token, BITS)) < TOL[x.dtype]
    assert (len(plans), len(fused)) == ((1, 0) if planned else (0, 1))


def test_long_runs_read_back_by_the_caller_on_a_layer_without_segment_tiles_still_go_dense(monkeypatch):
    """Groups of 20 columns (no segment tiles): three long runs take the dense path, as the plan gives them, though
    their mean reaches HOST_PLAN_FUSED_MEAN_RUN (here DENSE_MIN_TOKENS): the rule is for runs the tiles would take."""
    monkeypatch.setattr(triton_ops, "HOST_PLAN_FUSED_MEAN_RUN", DENSE_MIN_TOKENS)
    counts = [LONG] * 3
    x, codes, pool, _ = make_case(sum(counts), 19, 40, BITS, 2, 4, "one", torch.float16, seed=15)
    slot_of_token = SlotSegments.from_counts([0, 1, 2], counts, DEVICE).slot_of_token()
    _forbid(monkeypatch, "launch_prefill")
    dense = _spy(monkeypatch, "launch_dense_segments")
    y = lut_linear_forward(x, codes, pool, slot_of_token, BITS, host_slots=slot_of_token.cpu())
    assert rel_err(y, lut_linear_reference(x, codes, pool, slot_of_token, BITS)) < TOL[x.dtype]
    assert len(dense) == 1


def test_one_task_s_long_run_read_back_by_the_caller_goes_dense_without_copying_its_bounds(monkeypatch):
    """One task's 100 tokens: the dense path (one dequantized weight, then a matmul) straight from the host copy's
    run, no segments built on the device."""
    counts = [100]
    x, codes, pool, _, slot_of_token = step([2], counts, seed=12)

    def no_segments(*args, **kwargs):
        raise AssertionError("the runs' bounds were copied to the device")

    monkeypatch.setattr(SlotSegments, "from_counts", staticmethod(no_segments))
    _forbid(monkeypatch, "launch_prefill")
    _forbid(monkeypatch, "_launch_tiles")
    planned = _spy(monkeypatch, "_planned_segments")
    dense = _spy(monkeypatch, "launch_dense_segments")
    y = lut_linear_forward(x, codes, pool, slot_of_token, BITS, host_slots=slot_of_token.cpu())
    assert rel_err(y, lut_linear_reference(x, codes, pool, slot_of_token, BITS)) < TOL[x.dtype]
    assert [d[3] for d in dense] == [[(2, 0, 100)]]
    assert [p[4] for p in planned] == [None]  # no starts on the device


@pytest.mark.parametrize("m", [90, 300])
def test_interleaved_tasks_tokens_keep_the_fused_kernel_over_sorted_slots(monkeypatch, m):
    """Four tasks' tokens interleaved (each slot in many runs; 300 runs: more than the segment tiles take): no plan
    (gathering the rows into slot order and back cost more than it saved), the fused kernel sorts them, the output
    lands in place (a column slice of a wider buffer here)."""
    x, codes, pool, _ = make_case(m, N, K, BITS, GPR, 4, "one", torch.float16, seed=10)
    slot_of_token = torch.tensor([(3 * t) % 4 for t in range(m)], dtype=torch.int32).to(DEVICE)  # 0, 3, 2, 1, 0..
    _forbid(monkeypatch, "_planned_segments")
    fused = _spy(monkeypatch, "launch_prefill")
    wide = torch.full((m, N + 5), float("nan"), dtype=x.dtype, device=DEVICE)
    y = lut_linear_forward(x, codes, pool, slot_of_token, BITS, out=wide[:, 2 : N + 2],
                           host_slots=slot_of_token.cpu())  # fmt: skip
    assert rel_err(y, lut_linear_reference(x, codes, pool, slot_of_token, BITS)) < TOL[x.dtype]
    assert torch.isnan(wide[:, :2]).all() and torch.isnan(wide[:, N + 2 :]).all()
    assert len(fused) == 1 and fused[0][5] is not None  # with the sort's permutation


def test_the_run_check_declines_a_slot_in_two_runs_before_weighing_the_layer_or_the_runs_lengths(monkeypatch):
    """Interleaved tokens in fewer runs than the segment tiles take (90 here): the plan is declined on its cheapest
    test, a slot in two runs, without the layer's or the runs' checks (a declined call's host time at 128 tokens
    over 8 tasks: 29 -> 9 us on the 2-core dev machine)."""
    m = 90
    x, codes, pool, _ = make_case(m, N, K, BITS, GPR, 4, "one", torch.float16, seed=16)
    slot_of_token = torch.tensor([(3 * t) % 4 for t in range(m)], dtype=torch.int32)
    _forbid(monkeypatch, "prefill_prmt_ok")
    _forbid(monkeypatch, "_planned_segments")
    y = torch.empty(m, N, dtype=x.dtype, device=DEVICE)
    group_size = -(-K // pool.shape[2])
    assert not triton_ops._host_planned(x, codes, pool, slot_of_token, slot_of_token.to(DEVICE), BITS, y, group_size)


@pytest.mark.parametrize("host_plan", [True, False])
def test_short_runs_on_a_layer_without_segment_tiles_and_the_plan_turned_off_keep_the_fused_kernel(
    monkeypatch, host_plan
):
    """Groups of 20 columns (no segment tiles) and no run of DENSE_MIN_TOKENS: nothing to plan, so the fused kernel
    over sorted slots takes them, as it does everything when HOST_PLAN is off."""
    n, k, gpr = 19, 40, 2
    x, codes, pool, slot_of_token = make_case(80, n, k, BITS, gpr, 4, "random", torch.float16, seed=11)
    if not host_plan:  # a run long enough to plan, which the switch leaves to the fused kernel
        slot_of_token = torch.sort(slot_of_token).values
        slot_of_token[: DENSE_MIN_TOKENS + 1] = 0
    monkeypatch.setattr(triton_ops, "HOST_PLAN", host_plan)
    fused = _spy(monkeypatch, "launch_prefill")
    _forbid(monkeypatch, "_planned_segments")
    y = lut_linear_forward(x, codes, pool, slot_of_token, BITS, host_slots=slot_of_token.cpu())
    assert rel_err(y, lut_linear_reference(x, codes, pool, slot_of_token, BITS)) < TOL[x.dtype]
    assert len(fused) == 1


_SPILLS_SCRIPT = r"""
import json, os, sys
os.environ.pop("TRITON_INTERPRET", None)
sys.path.insert(0, "benchmarks")
from bench_kernels import compile_prefill_prmt_sm90
print(json.dumps([[int(v) for v in compile_prefill_prmt_sm90(c)[:3]] for c in json.loads(sys.argv[1])]))
"""


def test_every_register_lut_prefill_candidate_and_shipped_choice_compiles_for_sm90_without_spills():
    """As the op's segment tiles launch them at Llama shapes, compiled for sm_90 on this machine (ptxas and
    cuobjdump ship with Triton): a config that spills registers to the stack or needs more shared memory than an
    H100/H200 SM has would be slow or fail to launch, and only a GPU run would show it."""
    import json
    from pathlib import Path

    from kernels.triton_prefill_prmt import prefill_prmt_candidates
    from tests.kernels.compiled_layouts import sm90_results

    root = Path(__file__).resolve().parents[2]
    shipped = json.loads((root / "kernels" / "tuned" / "NVIDIA_H200.v8.json").read_text())
    configs = prefill_prmt_candidates(4096)
    # the wgmma kernel's shipped choices: tests/kernels/test_prefill_wgmma.py
    configs += [c for k, c in shipped.items() if k.startswith("prefill_tiles|") and not c.get("WGMMA")]
    configs = [dict(t) for t in dict.fromkeys(tuple(sorted(c.items())) for c in configs)]
    results = sm90_results(_SPILLS_SCRIPT, configs)
    for config, (regs, stack, smem) in zip(configs, results, strict=True):
        assert stack == 0, (config, regs, stack)
        assert smem <= 227 * 1024, (config, smem)
        if config.get("maxnreg"):
            assert regs <= config["maxnreg"], (config, regs)
