"""Triton forward kernels (decode and prefill) against the torch reference, on fresh random inputs.

On the CPU these run through Triton's interpreter (tests/kernels/conftest.py), at small odd shapes;
on CUDA the same tests run compiled. Outputs are poisoned with NaN before each call.
"""

import json
import os
import subprocess
import sys

import pytest
import torch
import triton

from kernels import SlotSegments, lut_linear, pack_codes, triton_ops
from kernels.reference import lut_linear_reference
from kernels.triton_decode import MODE_DOT, MODE_DOT_SWAP, MODE_FMA, _decode_kernel, decode_candidates, launch_decode
from kernels.triton_ops import DECODE_MAX_M, lut_linear_forward
from kernels.triton_prefill import DENSE_MIN_TOKENS, _prefill_kernel, launch_prefill, prefill_candidates
from kernels.triton_prefill_prmt import prefill_prmt_ok

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
TOL = {torch.float16: 3e-3, torch.bfloat16: 1.5e-2, torch.float32: 1e-5}


def make_case(m, n, k, bits, gpr, slots, assign, x_dtype, lut_dtype=None, seed=0):
    g = torch.Generator().manual_seed(seed)
    codes = torch.randint(0, 2**bits, (n, k), generator=g)
    lut_pool = torch.randn(slots, n, gpr, 2**bits, generator=g).to(lut_dtype or x_dtype)
    x = torch.randn(m, k, generator=g).to(x_dtype)
    if assign == "random":
        slot_of_token = torch.randint(0, slots, (m,), generator=g)
    elif assign == "one":
        slot_of_token = torch.full((m,), slots - 1)
    else:  # every token a different slot
        assert slots >= m
        slot_of_token = torch.randperm(slots, generator=g)[:m]
    to = dict(device=DEVICE)
    return x.to(**to), pack_codes(codes, bits).to(**to), lut_pool.to(**to), slot_of_token.to(torch.int32).to(**to)


def rel_err(y, ref):
    assert torch.isfinite(y).all(), "output has NaN/inf: an element was not written"
    return ((y.float() - ref.float()).norm() / ref.float().norm()).item()


def test_kernels_run_through_the_interpreter_on_cpu():
    if torch.cuda.is_available():
        pytest.skip("compiled on CUDA")
    assert os.environ.get("TRITON_INTERPRET") == "1"
    from triton.runtime.interpreter import InterpretedFunction

    assert isinstance(_decode_kernel, InterpretedFunction)
    assert isinstance(_prefill_kernel, InterpretedFunction)


DECODE_CASES = [
    # m, n, k, bits, gpr, slots, assignment, x dtype, lut dtype
    (1, 37, 70, 4, 1, 3, "random", torch.float16, None),
    (5, 37, 70, 4, 4, 3, "random", torch.float16, None),
    (7, 40, 66, 2, 2, 8, "distinct", torch.bfloat16, None),
    (3, 33, 50, 3, 8, 2, "one", torch.float16, torch.float32),
    (16, 19, 45, 3, 2, 16, "distinct", torch.bfloat16, torch.float16),
    (6, 24, 96, 2, 1, 4, "random", torch.float32, torch.float32),
]


@pytest.mark.parametrize("m,n,k,bits,gpr,slots,assign,x_dtype,lut_dtype", DECODE_CASES)
def test_decode_matches_reference(m, n, k, bits, gpr, slots, assign, x_dtype, lut_dtype):
    x, codes, pool, slot_of_token = make_case(m, n, k, bits, gpr, slots, assign, x_dtype, lut_dtype, seed=m * k)
    assert m <= DECODE_MAX_M
    out = torch.full((m, n), float("nan"), dtype=x_dtype, device=DEVICE)
    y = lut_linear_forward(x, codes, pool, slot_of_token, bits, None, out=out)
    assert y is out
    assert rel_err(y, lut_linear_reference(x, codes, pool, slot_of_token, bits)) < TOL[x_dtype]


DECODE_VARIANTS = [
    {"MODE": MODE_DOT, "SPLIT_K": 1},
    {"MODE": MODE_DOT_SWAP, "SPLIT_K": 3, "PREFETCH": 2},
    {"MODE": MODE_DOT_SWAP, "SPLIT_K": 1, "PREFETCH": 0, "SLOT_OUTER": True},
    {"MODE": MODE_DOT, "SPLIT_K": 3, "PREFETCH": 3, "SLOT_OUTER": True},
    {"MODE": MODE_FMA, "SPLIT_K": 1, "PREFETCH": 3},
    {"MODE": MODE_FMA, "SPLIT_K": 3, "PREFETCH": 0},
]


@pytest.mark.parametrize("variant", DECODE_VARIANTS, ids=lambda v: "-".join(f"{k}{v[k]}" for k in v))
def test_decode_variants_and_split_k(variant):
    # Split-K over a K range that leaves the last split short; group boundaries inside blocks.
    mode = variant["MODE"]
    m, n, k, bits, gpr = (1 if mode == MODE_FMA else 4), 20, 100, 4, 3
    x, codes, pool, slot_of_token = make_case(m, n, k, bits, gpr, 5, "random", torch.float16, seed=len(str(variant)))
    ref = lut_linear_reference(x, codes, pool, slot_of_token, bits)
    for _ in range(2):  # twice: the arrival counters must be back at zero after a launch
        y = torch.full((m, n), float("nan"), dtype=x.dtype, device=DEVICE)
        launch_decode(x, codes, pool, slot_of_token, bits, y, dict(variant, BLOCK_N=16, BLOCK_K=32))
        assert rel_err(y, ref) < TOL[x.dtype]


PREFILL_CASES = [
    # m, n, k, bits, gpr, slots, assignment, x dtype, segments given
    (80, 37, 70, 4, 2, 3, "random", torch.float16, False),
    (70, 50, 90, 3, 3, 4, "one", torch.bfloat16, False),
    (96, 30, 64, 2, 8, 96, "distinct", torch.float16, False),
    (72, 21, 40, 4, 1, 5, "random", torch.float16, True),
]


@pytest.mark.parametrize("m,n,k,bits,gpr,slots,assign,x_dtype,with_segments", PREFILL_CASES)
def test_prefill_matches_reference(m, n, k, bits, gpr, slots, assign, x_dtype, with_segments):
    x, codes, pool, slot_of_token = make_case(m, n, k, bits, gpr, slots, assign, x_dtype, seed=m + k)
    assert m > DECODE_MAX_M
    segments = None
    if with_segments:  # tokens contiguous per slot, slots not in increasing order
        slot_of_token = torch.sort(slot_of_token, descending=True).values
        uniq, counts = torch.unique_consecutive(slot_of_token, return_counts=True)
        segments = SlotSegments.from_counts(uniq.tolist(), counts.tolist(), DEVICE)
    out = torch.full((m, n), float("nan"), dtype=x_dtype, device=DEVICE)
    y = lut_linear_forward(x, codes, pool, slot_of_token, bits, segments, out=out)
    assert rel_err(y, lut_linear_reference(x, codes, pool, slot_of_token, bits)) < TOL[x_dtype]


@pytest.mark.parametrize("row_warp,prefetch", [(False, 0), (True, 1), (True, 2)])
def test_prefill_tile_straddling_slots_with_small_tiles(row_warp, prefetch):
    # Token tiles of 16 over unsorted slots with an explicit permutation: several slots per tile.
    m, n, k, bits, gpr = 40, 18, 36, 4, 2
    x, codes, pool, slot_of_token = make_case(m, n, k, bits, gpr, 6, "random", torch.float16, seed=7)
    slot_sorted, perm = torch.sort(slot_of_token, stable=True)
    y = torch.full((m, n), float("nan"), dtype=x.dtype, device=DEVICE)
    config = {"BLOCK_M": 16, "BLOCK_N": 16, "BLOCK_K": 16, "num_warps": 4, "num_stages": 2,
              "ROW_WARP": row_warp, "PREFETCH": prefetch}  # fmt: skip
    launch_prefill(x, codes, pool, slot_sorted.to(torch.int32), perm.to(torch.int32), bits, y, config)
    assert rel_err(y, lut_linear_reference(x, codes, pool, slot_of_token, bits)) < TOL[x.dtype]


PRMT_PREFILL_CASES = [
    # m, n, k, bits, gpr, slots, assignment, x dtype, W_LEFT, tokens grouped by segments (no perm)
    (70, 37, 64, 4, 2, 5, "random", torch.float16, 1, False),
    (70, 37, 64, 4, 2, 5, "random", torch.float16, 0, True),
    (50, 21, 96, 3, 2, 3, "random", torch.bfloat16, 0, False),
    (40, 19, 48, 4, 1, 40, "distinct", torch.bfloat16, 1, False),
    (33, 40, 32, 4, 2, 2, "one", torch.float32, 0, True),
]


@pytest.mark.parametrize("m,n,k,bits,gpr,slots,assign,x_dtype,w_left,grouped", PRMT_PREFILL_CASES)
def test_register_lut_prefill_matches_reference(m, n, k, bits, gpr, slots, assign, x_dtype, w_left, grouped):
    # Token tiles of 16 over sorted slots (several slots per tile), odd N, 16-column blocks inside each group.
    lut_dtype = torch.float16 if x_dtype == torch.float32 else x_dtype  # the kernel takes a 16-bit LUT
    x, codes, pool, slot_of_token = make_case(m, n, k, bits, gpr, slots, assign, x_dtype, lut_dtype, seed=m * n)
    if grouped:  # segments: tokens contiguous per slot, passed without a permutation
        slot_of_token = torch.sort(slot_of_token, descending=True).values
        slot_sorted, perm = slot_of_token, None
    else:
        slot_sorted, perm = torch.sort(slot_of_token, stable=True)
        perm = perm.to(torch.int32)
    y = torch.full((m, n), float("nan"), dtype=x_dtype, device=DEVICE)
    config = {"PRMT": 1, "BLOCK_M": 16, "BLOCK_N": 16, "BLOCK_K": 16, "num_warps": 4, "num_stages": 2,
              "W_LEFT": w_left}  # fmt: skip
    launch_prefill(x, codes, pool, slot_sorted.to(torch.int32), perm, bits, y, config)
    assert rel_err(y, lut_linear_reference(x, codes, pool, slot_of_token, bits)) < TOL[x_dtype]


def test_register_lut_prefill_refuses_what_it_cannot_take():
    x, codes, pool, slot_of_token = make_case(20, 16, 64, 4, 2, 2, "random", torch.float16, seed=3)
    y = torch.empty(20, 16, dtype=x.dtype, device=DEVICE)
    config = {"PRMT": 1, "BLOCK_M": 16, "BLOCK_N": 16, "BLOCK_K": 64, "num_warps": 4, "num_stages": 2}
    with pytest.raises(ValueError, match="dividing the group size 32"):
        launch_prefill(x, codes, pool, slot_of_token, None, 4, y, config)
    x2, codes2, pool2, _ = make_case(20, 16, 64, 2, 2, 2, "random", torch.float16, seed=3)
    with pytest.raises(ValueError, match="3/4-bit codes"):
        launch_prefill(x2, codes2, pool2, slot_of_token, None, 2, y, dict(config, BLOCK_K=16))
    assert not prefill_prmt_ok(codes, pool, 4, 24)  # groups of 24 columns: no 16-column block fits
    assert prefill_prmt_ok(codes, pool, 4, 32)
    assert not prefill_prmt_ok(codes, pool.float(), 4, 32)


def test_register_lut_prefill_is_offered_to_the_autotuner_only_where_it_fits():
    assert not any(c.get("PRMT") for c in prefill_candidates(2048, 4096, 4096))
    offered = [c for c in prefill_candidates(2048, 4096, 4096, prmt_group_size=1024) if c.get("PRMT")]
    assert offered and all(1024 % c["BLOCK_K"] == 0 for c in offered)
    assert all(32 % c["BLOCK_K"] == 0 for c in prefill_candidates(2048, 64, 64, 32) if c.get("PRMT"))


def test_prefill_long_segments_take_the_dense_path():
    # A segment of >= DENSE_MIN_TOKENS tokens (dequantized weight + matmul) next to short fused ones.
    n, k, bits, gpr = 21, 40, 3, 2
    counts = [DENSE_MIN_TOKENS + 2, 5, 30]
    m = sum(counts)
    x, codes, pool, _ = make_case(m, n, k, bits, gpr, 4, "one", torch.bfloat16, seed=9)
    segments = SlotSegments.from_counts([2, 0, 3], counts, DEVICE)
    slot_of_token = segments.slot_of_token()
    out = torch.full((m, n), float("nan"), dtype=x.dtype, device=DEVICE)
    y = lut_linear_forward(x, codes, pool, slot_of_token, bits, segments, out=out)
    assert rel_err(y, lut_linear_reference(x, codes, pool, slot_of_token, bits)) < TOL[x.dtype]


def test_the_dense_path_reads_each_segments_slot_on_the_device():
    # A CUDA graph keeps the host bounds it was captured with; the step it replays for may fill them with another
    # task's tokens: the slot must come from slot_of_token (here slot 2, where the bounds still say slot 1).
    n, k, bits, gpr = 19, 40, 4, 2
    counts = [DENSE_MIN_TOKENS + 1, 3]
    m = sum(counts)
    x, codes, pool, _ = make_case(m, n, k, bits, gpr, 4, "one", torch.float16, seed=10)
    captured = SlotSegments.from_counts([1, 0], counts, DEVICE)
    slot_of_token = torch.tensor([2] * counts[0] + [0] * counts[1], dtype=torch.int32, device=DEVICE)
    now = SlotSegments(captured.slots, captured.starts, captured.host_bounds, per_token=slot_of_token)
    y = lut_linear_forward(x, codes, pool, slot_of_token, bits, now)
    assert rel_err(y, lut_linear_reference(x, codes, pool, slot_of_token, bits)) < TOL[x.dtype]
    stale = lut_linear_reference(x, codes, pool, captured.slot_of_token(), bits)
    assert rel_err(y, stale) > 10 * TOL[x.dtype]  # not what slot 1 gives


def test_segments_spare_the_fused_prefill_its_sort_even_when_unsorted_and_all_short(monkeypatch):
    """A step of short runs (none dense) in step order, slots not sorted and one slot in two runs: with segments the
    fused kernel visits each token tile's slots as they come (the server passes them for every step: no sort of
    the slots per projection call)."""
    n, k, bits, gpr = 23, 40, 4, 2
    slots, counts = [3, 1, 3, 0, 2], [20, 9, 17, 30, 5]
    m = sum(counts)
    assert m > DECODE_MAX_M and max(counts) < DENSE_MIN_TOKENS
    x, codes, pool, _ = make_case(m, n, k, bits, gpr, 4, "one", torch.float16, seed=12)
    segments = SlotSegments.from_counts(slots, counts, DEVICE)
    slot_of_token = segments.slot_of_token()

    def no_sort(slots):
        raise AssertionError("the slots were sorted although segments were given")

    monkeypatch.setattr(triton_ops, "sort_tokens_by_slot", no_sort)
    out = torch.full((m, n), float("nan"), dtype=x.dtype, device=DEVICE)
    y = lut_linear_forward(x, codes, pool, slot_of_token, bits, segments, out=out)
    assert rel_err(y, lut_linear_reference(x, codes, pool, slot_of_token, bits)) < TOL[x.dtype]


def test_a_mixed_step_runs_its_long_chunk_dense_and_each_run_of_short_segments_as_one_call(monkeypatch):
    """A server step: one-token decode segments of several tasks, a long prompt chunk, two short chunks."""
    n, k, bits, gpr = 19, 48, 4, 2
    slots = [1, 3, 1, 0, 2, 3, 2, 1, 0]
    counts = [1, 1, 1, 1, 1, 1, DENSE_MIN_TOKENS + 3, 7, 4]
    m = sum(counts)
    x, codes, pool, _ = make_case(m, n, k, bits, gpr, 4, "one", torch.float16, seed=11)
    segments = SlotSegments.from_counts(slots, counts, DEVICE)
    slot_of_token = segments.slot_of_token()
    calls = []
    real_forward = triton_ops.lut_linear_forward

    def counting(x, *args, **kwargs):
        calls.append((x.shape[0], kwargs.get("num_tasks")))
        return real_forward(x, *args, **kwargs)

    monkeypatch.setattr(triton_ops, "lut_linear_forward", counting)
    out = torch.full((m, n), float("nan"), dtype=x.dtype, device=DEVICE)
    y = counting(x, codes, pool, slot_of_token, bits, segments, out=out)
    assert rel_err(y, lut_linear_reference(x, codes, pool, slot_of_token, bits)) < TOL[x.dtype]
    assert calls[1:] == [(6, 4), (11, 2)]  # the decode tokens (4 tasks), then the two short chunks (2 tasks)
    assert triton_ops._short_runs(list(segments.host_bounds)) == [(0, 6, 4), (6 + DENSE_MIN_TOKENS + 3, m, 2)]


def test_layout_checks():
    x, codes, pool, slot_of_token = make_case(2, 8, 16, 4, 1, 1, "one", torch.float16)
    with pytest.raises(ValueError, match="codes_packed must be contiguous"):
        lut_linear_forward(x, codes.t().contiguous().t(), pool, slot_of_token, 4)
    with pytest.raises(ValueError, match="unit column stride"):
        lut_linear_forward(x.t().contiguous().t(), codes, pool, slot_of_token, 4)


@pytest.mark.gpu
@pytest.mark.parametrize("m", [1, 16, 64, 300])
@pytest.mark.parametrize("gpr", [1, 4])
def test_public_op_on_cuda_at_llama_shape(m, gpr):
    n, k, bits, slots = 1024, 4096, 4, 8
    x, codes, pool, slot_of_token = make_case(m, n, k, bits, gpr, slots, "random", torch.float16, seed=m)
    y = lut_linear(x, codes, pool, slot_of_token, bits, gpr)
    assert rel_err(y, lut_linear_reference(x, codes, pool, slot_of_token, bits)) < TOL[x.dtype]
    assert triton.cdiv(k, gpr) >= 512


@pytest.mark.gpu
@pytest.mark.parametrize("m,tasks", [(1, 1), (16, 1), (16, 16)])
def test_every_decode_candidate_on_cuda(m, tasks):
    n, k, bits, gpr = 512, 2048, 4, 4
    x, codes, pool, slot_of_token = make_case(m, n, k, bits, gpr, 16, "random", torch.float16, seed=m + tasks)
    slot_of_token = slot_of_token % tasks
    ref = lut_linear_reference(x, codes, pool, slot_of_token, bits)
    for config in decode_candidates(m, n, k, 132):
        y = torch.full((m, n), float("nan"), dtype=x.dtype, device=DEVICE)
        launch_decode(x, codes, pool, slot_of_token, bits, y, config)
        assert rel_err(y, ref) < TOL[x.dtype], config


@pytest.mark.gpu
def test_every_prefill_candidate_on_cuda():
    m, n, k, bits, gpr = 300, 512, 2048, 4, 4
    x, codes, pool, slot_of_token = make_case(m, n, k, bits, gpr, 4, "random", torch.bfloat16, seed=1)
    slot_sorted, perm = torch.sort(slot_of_token, stable=True)
    ref = lut_linear_reference(x, codes, pool, slot_of_token, bits)
    assert prefill_prmt_ok(codes, pool, bits, k // gpr)
    for config in prefill_candidates(m, n, k, prmt_group_size=k // gpr):
        y = torch.full((m, n), float("nan"), dtype=x.dtype, device=DEVICE)
        launch_prefill(x, codes, pool, slot_sorted.to(torch.int32), perm.to(torch.int32), bits, y, config)
        assert rel_err(y, ref) < TOL[x.dtype], config


@pytest.mark.gpu
@pytest.mark.parametrize("counts", [[256] * 4, [2048], [70, 300, 130]])
def test_every_register_lut_prefill_candidate_in_segment_tiles_on_cuda(counts):
    """Compiled at a Llama shape, as the op's plan launches them: on the H200 one fast config (256x128, 8 warps,
    the weight on the left) gave wrong values there and NaN in segment tiles while the small cases passed."""
    from kernels.triton_prefill_prmt import (
        SegmentTiles,
        default_prefill_prmt_config,
        launch_prefill_prmt,
        prefill_prmt_candidates,
    )

    n, k, bits, gpr = 4096, 4096, 4, 1
    m = sum(counts)
    x, codes, pool, _ = make_case(m, n, k, bits, gpr, len(counts), "one", torch.float16, seed=2)
    segments = SlotSegments.from_counts(list(range(len(counts))), counts, DEVICE)
    slot_of_token = segments.slot_of_token()
    ref = lut_linear_reference(x, codes, pool, slot_of_token, bits)
    for config in [default_prefill_prmt_config(k), *prefill_prmt_candidates(k)]:
        for tiles in (SegmentTiles(segments.starts, tuple(counts)), None):
            y = torch.full((m, n), float("nan"), dtype=x.dtype, device=DEVICE)
            launch_prefill_prmt(x, codes, pool, slot_of_token, None, bits, y, config, tiles=tiles)
            assert rel_err(y, ref) < TOL[x.dtype], (config, tiles is not None)


def test_no_kernel_compiles_again_for_a_slot_array_view_at_another_offset():
    """A step's pieces pass views of its slot array at any offset; the kernels must not specialize on that
    pointer's alignment, or the first such step compiles again (~0.5 s per kernel variant, H200, NOTES.md
    fourteenth session). Read from the compiled (not interpreted) kernels, in a child process."""
    probe = (
        "import json, kernels.triton_bucket as b, kernels.triton_bucket_cols as c, kernels.triton_decode as d, "
        "kernels.triton_decode_prmt as p, kernels.triton_prefill as f, kernels.triton_prefill_prmt as fp\n"
        "ks = [b._bucket_kernel, c._bucket_cols_kernel, d._decode_kernel, p._decode_prmt_kernel, "
        "p._decode_prmt_dot_kernel, f._prefill_kernel, f._dequant_kernel, "
        "fp._prefill_prmt_kernel]\n"
        "print(json.dumps({k.fn.__name__: [[a for a in k.arg_names if 'slot' in a or a == 'perm_ptr'], "
        "list(getattr(k, 'do_not_specialize_on_alignment', [])) + list(k.do_not_specialize)] for k in ks}))"
    )
    env = {**os.environ, "TRITON_INTERPRET": "0"}
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True)
    kernels = json.loads(out.stdout.strip().splitlines()[-1])
    assert len(kernels) == 8
    for name, (slot_args, unspecialized) in kernels.items():
        assert slot_args and set(slot_args) <= set(unspecialized), name
