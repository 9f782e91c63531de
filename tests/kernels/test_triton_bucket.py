"""Bucket-sum decode kernel (kernels/triton_bucket.py) against the torch reference, and its dispatch.

CPU: Triton's interpreter (tests/kernels/conftest.py) takes the select-based one-hot; CUDA runs the
compiled kernel with the inline-asm one-hot too. Fresh random inputs; outputs poisoned with NaN.
"""

import importlib

import pytest
import torch

from kernels import SlotSegments, lut_linear, triton_ops
from kernels.reference import lut_linear_reference
from kernels.triton_bucket import bucket_candidates, default_bucket_config, k_order_flags, launch_bucket, quads_ok
from tests.kernels.test_triton_forward import DEVICE, TOL, make_case, rel_err

lut_linear_module = importlib.import_module("kernels.lut_linear")  # the package re-exports a function of that name


def per_byte(bits):
    return 4 if bits == 2 else 2


CASES = [
    # m, n, k, bits, gpr, slots, assignment, x dtype, lut dtype; K odd or not a multiple of the block / gpr
    (1, 37, 70, 4, 1, 3, "random", torch.float16, None),
    (3, 37, 70, 4, 4, 3, "distinct", torch.bfloat16, None),
    (16, 19, 45, 3, 2, 16, "distinct", torch.float16, torch.float32),
    (3, 24, 101, 3, 8, 4, "random", torch.bfloat16, torch.float16),
    (16, 40, 133, 2, 4, 5, "random", torch.bfloat16, torch.bfloat16),
    (1, 33, 66, 2, 8, 2, "one", torch.float16, torch.float32),
    (16, 21, 90, 4, 8, 16, "distinct", torch.float16, torch.bfloat16),
    (3, 30, 50, 2, 2, 3, "distinct", torch.float16, None),
]


def _config(bits, split, block_n=16, bytes_per_block=16):
    return {"BLOCK_N": block_n, "BLOCK_K": bytes_per_block * per_byte(bits), "SPLIT_K": split, "num_warps": 4}


@pytest.mark.parametrize("m,n,k,bits,gpr,slots,assign,x_dtype,lut_dtype", CASES)
def test_bucket_matches_reference(m, n, k, bits, gpr, slots, assign, x_dtype, lut_dtype):
    x, codes, pool, slot_of_token = make_case(m, n, k, bits, gpr, slots, assign, x_dtype, lut_dtype, seed=m * k + bits)
    ref = lut_linear_reference(x, codes, pool, slot_of_token, bits)
    # Smallest blocks (16 packed bytes: group boundaries inside blocks, several groups per program),
    # split-K 3 (last split short) and the default config; the same for the codes-as-B layout, with its K over
    # bytes and (PAIRS, ignored at 2 bits) over columns.
    configs = [_config(bits, 1), _config(bits, 3), default_bucket_config(m, n, k, bits, 4)]
    configs += [dict(_config(bits, 1), LAYOUT="cols"), dict(_config(bits, 3, block_n=8), LAYOUT="cols")]
    configs += [dict(_config(bits, 1), LAYOUT="cols", PAIRS=True), dict(_config(bits, 3, block_n=8), LAYOUT="cols",
                                                                        PAIRS=True)]  # fmt: skip
    # and over 16-bit words (QUADS: 3/4 bits, rows of whole words, blocks of >= 64 columns; else PAIRS serves)
    configs += [dict(_config(bits, 2, block_n=8), LAYOUT="cols", QUADS=True, BLOCK_K=64),
                dict(_config(bits, 3, block_n=16), LAYOUT="cols", QUADS=True, BLOCK_K=128)]  # fmt: skip
    for config in configs:
        y = torch.full((m, n), float("nan"), dtype=x_dtype, device=DEVICE)
        launch_bucket(x, codes, pool, slot_of_token, bits, y, config)
        assert rel_err(y, ref) < TOL[x_dtype], config


@pytest.mark.parametrize(
    "m,n,k,bits,gpr,x_dtype",
    [
        (16, 40, 100, 4, 3, torch.float16),  # groups of 34 columns: blocks straddle groups; the last word partial
        (5, 33, 196, 3, 4, torch.bfloat16),  # 3-bit codes, odd N
        (1, 24, 260, 4, 1, torch.float32),  # one group, K past the last block
    ],
)
def test_the_word_order_matches_the_reference(m, n, k, bits, gpr, x_dtype):
    """QUADS reads the codes as 16-bit words (K a multiple of 4 here: rows of whole words) and x split into its
    four column phases; every block size, split-K, and a group boundary inside a word; under a register cap
    (maxnreg, which only the compiled kernel heeds)."""
    x, codes, pool, slot_of_token = make_case(m, n, k, bits, gpr, 8, "random", x_dtype, seed=k + m)
    assert quads_ok(codes)
    ref = lut_linear_reference(x, codes, pool, slot_of_token, bits)
    for block_k, split, block_n in ((64, 1, 8), (64, 3, 16), (128, 2, 32)):
        y = torch.full((m, n), float("nan"), dtype=x_dtype, device=DEVICE)
        config = {"LAYOUT": "cols", "QUADS": True, "BLOCK_N": block_n, "BLOCK_K": block_k, "SPLIT_K": split,
                  "maxnreg": 128}  # fmt: skip
        launch_bucket(x, codes, pool, slot_of_token, bits, y, config)
        assert rel_err(y, ref) < TOL[x_dtype], config


@pytest.mark.parametrize(
    "m,n,k,bits,gpr,x_dtype,lut_dtype",
    [
        (16, 40, 100, 4, 3, torch.float16, None),  # groups of 34 columns: a block straddles groups
        (5, 33, 196, 3, 4, torch.bfloat16, torch.float32),  # 3-bit codes (8 LUT entries), odd N, fp32 LUTs
        (3, 30, 50, 2, 2, torch.float16, torch.bfloat16),  # 2-bit codes (4 entries)
    ],
)
def test_the_fold_from_one_lut_tile_matches_the_reference(m, n, k, bits, gpr, x_dtype, lut_dtype):
    """FOLD_TILE reads a group's LUTs in [tokens, rows, chunk] tiles (chunk above 2**bits: the whole row's) and
    splits them per code value in registers: the same sums as the per-code gathers, in every K order, split-K."""
    x, codes, pool, slot_of_token = make_case(m, n, k, bits, gpr, 6, "random", x_dtype, lut_dtype, seed=n + k)
    ref = lut_linear_reference(x, codes, pool, slot_of_token, bits)
    # chunk 0: the per-code gathers (the fold before FOLD_TILE); 16 at 2 or 3 bits: the row's 4 or 8 entries
    for order, split, block_n, chunk in (("bytes", 1, 8, 2), ("pairs", 3, 16, 4), ("quads", 2, 32, 16),
                                         ("quads", 1, 16, 0)):
        y = torch.full((m, n), float("nan"), dtype=x_dtype, device=DEVICE)
        config = {"LAYOUT": "cols", "FOLD_TILE": chunk, "BLOCK_N": block_n, "BLOCK_K": 64 * per_byte(bits) // 2,
                  "SPLIT_K": split, **k_order_flags(order)}  # fmt: skip
        launch_bucket(x, codes, pool, slot_of_token, bits, y, config)
        assert rel_err(y, ref) < TOL[x_dtype], config
    with pytest.raises(ValueError, match="FOLD_TILE"):
        launch_bucket(x, codes, pool, slot_of_token, bits, y, dict(config, FOLD_TILE=3))


def test_the_word_order_needs_whole_words_and_blocks_of_16_words():
    x, codes, pool, slot_of_token = make_case(2, 8, 70, 4, 1, 2, "one", torch.float16)  # 35 bytes per row
    assert not quads_ok(codes)  # so PAIRS serves the call
    y = torch.full((2, 8), float("nan"), dtype=x.dtype, device=DEVICE)
    launch_bucket(x, codes, pool, slot_of_token, 4, y, {"LAYOUT": "cols", "QUADS": True, "BLOCK_N": 8, "BLOCK_K": 32})
    assert rel_err(y, lut_linear_reference(x, codes, pool, slot_of_token, 4)) < TOL[torch.float16]
    x, codes, pool, slot_of_token = make_case(2, 8, 64, 4, 1, 2, "one", torch.float16)
    with pytest.raises(ValueError, match="QUADS needs BLOCK_K >= 64"):
        launch_bucket(x, codes, pool, slot_of_token, 4, y, {"LAYOUT": "cols", "QUADS": True, "BLOCK_N": 8,
                                                            "BLOCK_K": 32})  # fmt: skip


def test_bucket_fp32_x_and_strided_output():
    m, n, k, bits, gpr = 5, 20, 64, 4, 2
    x, codes, pool, slot_of_token = make_case(m, n, k, bits, gpr, 5, "distinct", torch.float32, seed=3)
    big = torch.full((m, n + 7), float("nan"), dtype=x.dtype, device=DEVICE)
    y = big[:, :n]  # row stride n + 7
    for layout, pairs, quads in (("rows", False, False), ("cols", False, False), ("cols", True, False),
                                 ("cols", False, True)):  # fmt: skip
        y.fill_(float("nan"))
        config = dict(_config(bits, 2, block_n=8), LAYOUT=layout, PAIRS=pairs, QUADS=quads)
        launch_bucket(x, codes, pool, slot_of_token, bits, y, dict(config, BLOCK_K=64) if quads else config)
        assert rel_err(y, lut_linear_reference(x, codes, pool, slot_of_token, bits)) < TOL[torch.float32]
        assert torch.isnan(big[:, n:]).all()


def test_bucket_rejects_bad_blocks_and_large_batches():
    x, codes, pool, slot_of_token = make_case(2, 8, 64, 4, 1, 1, "one", torch.float16)
    y = torch.empty(2, 8, dtype=x.dtype, device=DEVICE)
    with pytest.raises(ValueError, match="packed bytes"):
        launch_bucket(x, codes, pool, slot_of_token, 4, y, {"BLOCK_N": 16, "BLOCK_K": 16})
    x, codes, pool, slot_of_token = make_case(65, 8, 64, 4, 1, 1, "one", torch.float16)
    with pytest.raises(ValueError, match="at most 64"):
        launch_bucket(x, codes, pool, slot_of_token, 4, torch.empty(65, 8, dtype=x.dtype), _config(4, 1))


def test_bucket_candidates_are_valid():
    for bits in (2, 3, 4):
        for m in (1, 16, 64):
            candidates = bucket_candidates(m, 4096, 4096, bits, 132)
            layouts = {(c.get("LAYOUT", "rows"), c.get("PAIRS", False), c.get("QUADS", False)) for c in candidates}
            # cols (mma.sync) up to 16 tokens: at 3/4 bits its pairs order, which won every H200 case, and the
            # word order (v13, untimed); at 2 bits (neither applies) the bytes order and the rows layout
            small = {("cols", True, False), ("cols", True, True)} if bits > 2 else {("cols", False, False),
                                                                                    ("rows", False, False)}
            assert layouts == (small if m <= 16 else {("rows", False, False)})
            for c in candidates:
                assert c["BLOCK_K"] // per_byte(bits) >= 16 and c["BLOCK_N"] * 2**bits >= 16
                assert c["BLOCK_N"] & (c["BLOCK_N"] - 1) == 0


@pytest.fixture
def spy(monkeypatch):
    """Records which decode launcher ran; lut_linear goes to the Triton path on CPU (the interpreter).

    Autotuning off: on CUDA its timing launches of every candidate would be recorded too.
    """
    monkeypatch.setenv("SKETCHSERVE_AUTOTUNE", "0")
    calls = []
    real_bucket, real_gather = triton_ops.launch_bucket, triton_ops.launch_decode
    monkeypatch.setattr(triton_ops, "launch_bucket", lambda *a: (calls.append("bucket"), real_bucket(*a))[1])
    monkeypatch.setattr(triton_ops, "launch_decode", lambda *a: (calls.append("gather"), real_gather(*a))[1])
    monkeypatch.setattr(lut_linear_module, "_use_triton", lambda x: True)
    return calls


def test_forcing_switch_routes_lut_linear_through_bucket(spy, monkeypatch):
    m, n, k, bits, gpr = 6, 24, 80, 4, 2
    x, codes, pool, slot_of_token = make_case(m, n, k, bits, gpr, 6, "distinct", torch.float16, seed=11)
    ref = lut_linear_reference(x, codes, pool, slot_of_token, bits)
    monkeypatch.setattr(triton_ops, "DECODE_KERNEL", "bucket")  # what SKETCHSERVE_DECODE_KERNEL=bucket sets
    y = lut_linear(x, codes, pool, slot_of_token, bits, gpr)
    assert spy == ["bucket"] and rel_err(y, ref) < TOL[x.dtype]
    monkeypatch.setattr(triton_ops, "DECODE_KERNEL", "gather")
    y = lut_linear(x, codes, pool, slot_of_token, bits, gpr, num_tasks=m)  # forced gather beats the hint
    assert spy == ["bucket", "gather"] and rel_err(y, ref) < TOL[x.dtype]
    out = torch.full((m, n), float("nan"), dtype=x.dtype, device=DEVICE)
    y = triton_ops.lut_linear_forward(x, codes, pool, slot_of_token, bits, out=out, decode_kernel="bucket")
    assert spy[-1] == "bucket" and rel_err(y, ref) < TOL[x.dtype]


def test_auto_mode_uses_host_side_task_count_only(spy, monkeypatch):
    monkeypatch.setattr(triton_ops, "DECODE_KERNEL", "auto")
    m, n, k, bits, gpr = 9, 20, 48, 3, 1
    many = triton_ops.bucket_min_tasks(m)
    x, codes, pool, slot_of_token = make_case(m, n, k, bits, gpr, m, "distinct", torch.bfloat16, seed=5)
    ref = lut_linear_reference(x, codes, pool, slot_of_token, bits)
    # No host-side count: gather (the distinct slots are never read back from the device).
    assert rel_err(lut_linear(x, codes, pool, slot_of_token, bits, gpr), ref) < TOL[x.dtype]
    assert rel_err(lut_linear(x, codes, pool, slot_of_token, bits, gpr, num_tasks=many - 1), ref) < TOL[x.dtype]
    assert rel_err(lut_linear(x, codes, pool, slot_of_token, bits, gpr, num_tasks=many), ref) < TOL[x.dtype]
    assert spy == ["gather", "gather", "bucket"]
    # Segments with host bounds: distinct slots counted from them (empty segments ignored).
    segments = SlotSegments.from_counts(slot_of_token.tolist() + [0], [1] * m + [0], DEVICE)
    assert rel_err(lut_linear(x, codes, pool, segments, bits, gpr), ref) < TOL[x.dtype]
    one_slot = SlotSegments.from_counts([2], [m], DEVICE)
    ref_one = lut_linear_reference(x, codes, pool, one_slot.slot_of_token(), bits)
    assert rel_err(lut_linear(x, codes, pool, one_slot, bits, gpr), ref_one) < TOL[x.dtype]
    assert spy[3:] == ["bucket", "gather"]
    # fp32 activations stay on the gather kernel in auto mode.
    lut_linear(x.float(), codes, pool.float(), slot_of_token, bits, gpr, num_tasks=m)
    assert spy[-1] == "gather"


def test_a_batch_of_a_few_tasks_takes_the_fragment_kernels_own_choice(spy, monkeypatch):
    """From 2 known tasks up to the bucket kernel's count, batches of up to 16 rows take the few-task class: the
    fragment kernel, tuned under its own key (timed over several tasks; the gather class's is timed over one)."""
    from kernels import autotune

    monkeypatch.setattr(triton_ops, "DECODE_KERNEL", "auto")
    kinds = []
    real_pick = autotune.pick_config

    def pick(kind, *args, **kwargs):
        kinds.append(kind)
        return real_pick(kind, *args, **kwargs)

    monkeypatch.setattr(autotune, "pick_config", pick)
    above_16 = 5 if triton_ops.wgmma_bucket_gpu() else 13  # 17-32 rows: no few-task class there
    assert triton_ops.task_classes(16) == (2, triton_ops.bucket_min_tasks(16))
    assert triton_ops.task_classes(17) == (above_16,)
    m, n, k, bits, gpr = 6, 40, 256, 4, 2
    x, codes, pool, slot_of_token = make_case(m, n, k, bits, gpr, 3, "random", torch.float16, seed=3)
    ref = lut_linear_reference(x, codes, pool, slot_of_token, bits)
    bucket = triton_ops.bucket_min_tasks(m)
    for tasks, kind in ((1, "decode"), (2, "decode_few"), (bucket - 1, "decode_few"), (bucket, "bucket")):
        y = lut_linear(x, codes, pool, slot_of_token, bits, gpr, num_tasks=tasks)
        assert kinds[-1] == kind and rel_err(y, ref) < TOL[x.dtype], tasks
    # calls the fragment kernel cannot take keep the gather class: K in 48-column groups, fp32 activations
    x48, codes48, pool48, slots48 = make_case(m, n, 96, bits, gpr, 3, "random", torch.float16, seed=4)
    lut_linear(x48, codes48, pool48, slots48, bits, gpr, num_tasks=2)
    lut_linear(x.float(), codes, pool.float(), slot_of_token, bits, gpr, num_tasks=2)
    assert kinds[-2:] == ["decode", "decode"]
    # SKETCHSERVE_FEW_TASKS=0: no such class, and the bucket kernel from 4 tasks again
    monkeypatch.setattr(triton_ops, "FEW_TASKS", False)
    assert triton_ops.task_classes(16) == (4,)
    lut_linear(x, codes, pool, slot_of_token, bits, gpr, num_tasks=2)
    assert kinds[-1] == "decode"
    monkeypatch.setattr(triton_ops, "DECODE_KERNEL", "gather")
    assert triton_ops.task_classes(16) == ()


def test_above_16_rows_the_bucket_kernel_serves_from_fewer_tasks_where_its_wgmma_form_runs(monkeypatch):
    """sm_90 (the wgmma bucket kernel): from 5 tasks at 17-32 rows (its WIDE form's 16-token tiles) and 7 above,
    elsewhere from 13; up to 16 rows from 4 (its WIDE form) against 5 at 9-16 rows and 7 up to 8."""
    monkeypatch.setattr(triton_ops, "DECODE_KERNEL", "auto")
    monkeypatch.setattr(triton_ops, "wgmma_bucket_gpu", lambda: False)
    assert triton_ops.task_classes(17) == (13,) and triton_ops.task_classes(64) == (13,)
    assert triton_ops.task_classes(16) == (2, 5)
    assert triton_ops.task_classes(1) == triton_ops.task_classes(8) == (2, 7)
    monkeypatch.setattr(triton_ops, "wgmma_bucket_gpu", lambda: True)
    assert triton_ops.task_classes(17) == triton_ops.task_classes(32) == (5,)
    assert triton_ops.task_classes(33) == triton_ops.task_classes(64) == (7,)
    assert triton_ops.task_classes(1) == triton_ops.task_classes(8) == (2, 4)
    assert triton_ops.task_classes(9) == triton_ops.task_classes(16) == (2, 4)


def test_a_few_rows_take_the_8_token_bucket_key_where_the_wide_form_runs(monkeypatch):
    """The WIDE bucket kernel's 8-token tile serves 1-8 rows alike, so up to 8 rows share its tuning key there; the
    1-, 2- and 4-token keys (older choices) serve only where it does not run."""
    x, codes, pool, _ = make_case(3, 64, 256, 4, 1, 3, "random", torch.float16)
    wide = triton_ops.bucket_wgmma_ok(x, codes, pool, 4, 32)
    assert triton_ops._bucket_m_key(x, codes, pool, 4) == (8 if wide else 4)
    monkeypatch.setattr(triton_ops, "bucket_wgmma_ok", lambda *args: True)
    assert [triton_ops._bucket_m_key(x[:m], codes, pool, 4) for m in (1, 2, 3, 5, 8)] == [8] * 5
    x16, codes16, pool16, _ = make_case(16, 64, 256, 4, 1, 3, "random", torch.float16)
    assert triton_ops._bucket_m_key(x16[:12], codes16, pool16, 4) == 16
    monkeypatch.setattr(triton_ops, "bucket_wgmma_ok", lambda *args: False)
    assert [triton_ops._bucket_m_key(x[:m], codes, pool, 4) for m in (1, 2, 3)] == [1, 2, 4]


@pytest.mark.gpu
def test_a_batch_of_four_rows_over_four_tasks_takes_the_bucket_kernel_where_the_wide_form_runs(spy, monkeypatch):
    monkeypatch.setattr(triton_ops, "DECODE_KERNEL", "auto")
    x, codes, pool, slot_of_token = make_case(4, 512, 1024, 4, 1, 4, "distinct", torch.float16, seed=11)
    ref = lut_linear_reference(x, codes, pool, slot_of_token, 4)
    y = lut_linear(x, codes, pool, slot_of_token, 4, 1, num_tasks=4)
    assert rel_err(y, ref) < TOL[x.dtype]
    assert spy[-1] == ("bucket" if triton_ops.wgmma_bucket_gpu() else "gather")


def test_unknown_decode_kernel_name_raises():
    x, codes, pool, slot_of_token = make_case(2, 8, 32, 4, 1, 1, "one", torch.float16)
    with pytest.raises(ValueError, match="decode kernel"):
        triton_ops.lut_linear_forward(x, codes, pool, slot_of_token, 4, decode_kernel="fast")


@pytest.mark.gpu
@pytest.mark.parametrize("m,tasks", [(1, 1), (16, 16), (64, 8)])
@pytest.mark.parametrize("x_dtype", [torch.float16, torch.bfloat16])
def test_every_bucket_candidate_on_cuda(m, tasks, x_dtype):
    n, k, bits, gpr = 512, 2048, 4, 4
    x, codes, pool, slot_of_token = make_case(m, n, k, bits, gpr, 16, "random", x_dtype, seed=m + tasks)
    slot_of_token = slot_of_token % tasks
    ref = lut_linear_reference(x, codes, pool, slot_of_token, bits)
    seen_layouts = set()
    for config in bucket_candidates(m, n, k, bits, 132):
        layout = (config.get("LAYOUT", "rows"), config.get("PAIRS", False), config.get("QUADS", False))
        # The inline-asm one-hot everywhere (what runs); the integer fallback once per layout (compiles are slow).
        for asm in (True, False) if layout not in seen_layouts else (True,):
            y = torch.full((m, n), float("nan"), dtype=x.dtype, device=DEVICE)
            launch_bucket(x, codes, pool, slot_of_token, bits, y, dict(config, ASM=asm))
            assert rel_err(y, ref) < TOL[x.dtype], (config, asm)
        seen_layouts.add(layout)


def test_auto_mode_threshold_is_lower_for_small_batches_and_one_override_sets_all(monkeypatch):
    # measured: the cols bucket layout (M <= 16) wins from fewer tasks than the rows layout above it, and the
    # few-task class's fragment kernel costs less per task at up to 8 rows than at 16; on sm_90 the WIDE bucket
    # kernel's 16-token tiles win from fewer tasks at 17-32 rows than the wgmma form above 32
    monkeypatch.setattr(triton_ops, "wgmma_bucket_gpu", lambda: False)  # another GPU than sm_90
    assert triton_ops.bucket_min_tasks(1) == triton_ops.bucket_min_tasks(8) > triton_ops.bucket_min_tasks(9)
    assert triton_ops.bucket_min_tasks(9) == triton_ops.bucket_min_tasks(16) < triton_ops.bucket_min_tasks(17)
    assert triton_ops.bucket_min_tasks(17) == triton_ops.bucket_min_tasks(64)
    monkeypatch.setattr(triton_ops, "wgmma_bucket_gpu", lambda: True)  # sm_90: the WIDE bucket kernel from 9 rows
    assert triton_ops.bucket_min_tasks(1) == triton_ops.bucket_min_tasks(16) == 4
    assert triton_ops.bucket_min_tasks(16) < triton_ops.bucket_min_tasks(17) == triton_ops.bucket_min_tasks(32) == 5
    assert triton_ops.bucket_min_tasks(32) < triton_ops.bucket_min_tasks(33) == triton_ops.bucket_min_tasks(64) == 7
    monkeypatch.setattr(triton_ops, "FEW_TASKS", False)  # without the class: one count up to 16 rows
    assert triton_ops.bucket_min_tasks(1) == triton_ops.bucket_min_tasks(16) < triton_ops.bucket_min_tasks(17)
    monkeypatch.setattr(triton_ops, "BUCKET_MIN_TASKS", 3)  # what SKETCHSERVE_BUCKET_MIN_TASKS=3 sets
    assert {triton_ops.bucket_min_tasks(m) for m in (1, 16, 17, 64)} == {3}


def test_the_cols_one_hot_compares_codes_held_as_exact_distinct_16_bit_floats():
    """The cols kernel's asm (set.eq on code pairs) is right only if every code value has its own exact float:
    1024 + c in fp16, 128 + c in bf16, and the asm compares both halves with the same c."""
    from kernels.triton_bucket_cols import CODE_BITS, one_hot_pair_ptx

    for name, dtype, base in (("f16", torch.float16, 1024), ("bf16", torch.bfloat16, 128)):
        bits = torch.tensor([CODE_BITS[name] | c for c in range(16)], dtype=torch.int16)
        assert bits.view(dtype).float().tolist() == [float(base + c) for c in range(16)]
        for c in (0, 5, 15):
            pair = (CODE_BITS[name] | c) * 0x00010001
            assert f"mov.b32 k, {pair:#x};" in one_hot_pair_ptx(name, c)
            assert f"set.eq.{name}x2.{name}x2 $0, $1, k;" in one_hot_pair_ptx(name, c)
