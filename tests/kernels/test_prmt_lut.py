"""The register-LUT one-token decode kernel (kernels/triton_decode_prmt.py) and its byte-permute lookup.

The asm cannot run on the CPU: its instruction sequence runs through an emulator of the same instructions
(kernels/prmt_lut.py) against a plain table lookup, the byte tables the kernel builds are checked against the
emulator's format, and the kernel's loop (groups, masks, split-K) runs through the interpreter with a gather in
place of the asm. On CUDA the compiled kernel itself is compared to the reference.
"""

import numpy as np
import pytest
import torch
import triton
import triton.language as tl

from kernels import autotune, triton_decode_prmt
from kernels.prmt_lut import (
    byte_tables,
    dequant_program,
    emulate,
    f32,
    lookup_program,
    pairs_program,
    table_from_pairs,
    table_ptx,
    to_ptx,
)
from kernels.reference import lut_linear_reference
from kernels.triton_common import interpreting
from kernels.triton_decode import MODE_PRMT, MODE_PRMT_DOT, decode_candidates, launch_decode
from kernels.triton_decode_prmt import (
    PRMT_CANDIDATES,
    _byte_table,
    half2_ok,
    launch_decode_prmt,
    launch_decode_prmt_dot,
    prmt_ok,
)

from .test_triton_forward import DEVICE, TOL, make_case, rel_err


def lut_bits(rng, lut_dtype: str) -> tuple[np.ndarray, np.ndarray]:
    """16 random LUT entries: (uint16 bit patterns, their values as float64)."""
    if lut_dtype == "f16":
        values = rng.standard_normal(16).astype(np.float16)
        return values.view(np.uint16), values.astype(np.float64)
    bits = (rng.standard_normal(16).astype(np.float32).view(np.uint32) >> 16).astype(np.uint16)
    return bits, (bits.astype(np.uint32) << 16).view(np.float32).astype(np.float64)


@pytest.mark.parametrize("lut_dtype", ["f16", "bf16"])
def test_the_asm_sequence_looks_up_every_code_and_accumulates(lut_dtype):
    rng = np.random.default_rng(7)
    program = lookup_program(lut_dtype)
    assert to_ptx(program).count(";") >= len(program)  # one PTX statement per instruction (+ declarations)
    for trial in range(64):
        entries, values = lut_bits(rng, lut_dtype)
        codes = rng.permutation(16)[:8] if trial % 2 else rng.integers(0, 16, 8)  # bit 3 set and clear
        word = sum(int(c) << (4 * i) for i, c in enumerate(codes))
        x = rng.standard_normal(8).astype(np.float32)
        acc = float(np.float32(rng.standard_normal()))
        lo, hi = byte_tables(entries)
        operands = {"$1": acc, "$2": word}
        operands |= {f"${3 + i}": v for i, v in enumerate(lo + hi)} | {f"${11 + j}": float(x[j]) for j in range(8)}
        want = acc + sum(values[c] * float(x[j]) for j, c in enumerate(codes))
        assert f32(emulate(program, operands)["$0"]) == pytest.approx(want, rel=1e-5, abs=1e-5)


def test_the_half_precision_asm_sequence_rounds_as_an_fp16_gemv():
    """fp16 products, the word's 4 products per half summed in fp16 (fused multiply-adds), that sum added in fp32."""
    rng = np.random.default_rng(9)
    program = lookup_program("f16x2")
    ptx = to_ptx(program)
    assert "fma.rn.f16x2" in ptx and "mul.rn.f16x2" in ptx
    for trial in range(64):
        entries, values = lut_bits(rng, "f16")
        codes = rng.permutation(16)[:8] if trial % 2 else rng.integers(0, 16, 8)
        word = sum(int(c) << (4 * i) for i, c in enumerate(codes))
        x = rng.standard_normal(8).astype(np.float16)
        acc = float(np.float32(rng.standard_normal()))
        lo, hi = byte_tables(entries)
        pairs = [int(x[2 * i].view(np.uint16)) | int(x[2 * i + 1].view(np.uint16)) << 16 for i in range(4)]
        operands = {"$1": acc, "$2": word}
        operands |= {f"${3 + i}": v for i, v in enumerate(lo + hi)} | {f"${11 + i}": p for i, p in enumerate(pairs)}
        halves = []
        for j in (0, 1):  # the even columns in the low half, the odd ones in the high half
            h = np.float16(values[codes[j]] * float(x[j]))
            for i in (1, 2, 3):
                h = np.float16(values[codes[2 * i + j]] * float(x[2 * i + j]) + float(h))  # one rounding each
            halves.append(h)
        want = np.float32(np.float32(acc) + np.float32(halves[0])) + np.float32(halves[1])
        assert f32(emulate(program, operands)["$0"]) == want
        exact = acc + sum(values[c] * float(x[j]) for j, c in enumerate(codes))
        assert f32(emulate(program, operands)["$0"]) == pytest.approx(exact, rel=1e-2, abs=1e-2)


def test_the_dequantizing_asm_sequence_yields_every_codes_entry_bit_exactly():
    rng = np.random.default_rng(8)
    program = dequant_program()
    for trial in range(64):
        entries, _ = lut_bits(rng, "bf16" if trial % 2 else "f16")  # any 16-bit pattern: bytes are moved
        codes = rng.integers(0, 16, 8)
        lo, hi = byte_tables(entries)
        operands = {"$8": sum(int(c) << (4 * i) for i, c in enumerate(codes))}
        operands |= {f"${9 + i}": v for i, v in enumerate(lo + hi)}
        regs = emulate(program, operands)
        assert [regs[f"${j}"] for j in range(8)] == [int(entries[c]) for c in codes]


def test_the_pairs_program_leaves_each_words_entries_as_16_bit_pairs():
    """The fragment kernel's lookup (pairs_program): q0 .. q3 hold the entries of columns (0, 1) .. (6, 7), low
    half first, as mma.sync's fragments take them."""
    rng = np.random.default_rng(9)
    program = pairs_program()
    for trial in range(64):
        entries, _ = lut_bits(rng, "bf16" if trial % 2 else "f16")
        codes = rng.integers(0, 16, 8)
        lo, hi = byte_tables(entries)
        operands = {"$4": sum(int(c) << (4 * i) for i, c in enumerate(codes))}
        operands |= {f"${5 + i}": v for i, v in enumerate(lo + hi)}
        regs = emulate(program, operands)
        assert [regs[f"${j}"] for j in range(4)] == [int(entries[codes[2 * j]]) | int(entries[codes[2 * j + 1]]) << 16
                                                     for j in range(4)]  # fmt: skip


@triton.jit
def _tables_kernel(pairs_ptr, out_ptr, ASM: tl.constexpr):
    p = tl.load(pairs_ptr + tl.arange(0, 8))  # [8] uint32, one row's 16 entries
    for t in tl.static_range(4):
        pa = tl.sum(tl.where(tl.arange(0, 8) == 2 * t, p, 0), axis=0)
        pb = tl.sum(tl.where(tl.arange(0, 8) == 2 * t + 1, p, 0), axis=0)
        tl.store(out_ptr + t, _byte_table(pa, pb, False, ASM))
        tl.store(out_ptr + 4 + t, _byte_table(pa, pb, True, ASM))


def test_one_prmt_builds_each_byte_table_from_the_entry_pairs_as_loaded():
    """The kernels' asm form of the tables (table_ptx), run by the emulator's prmt, against byte_tables."""
    for seed in range(20):
        entries, _ = lut_bits(np.random.default_rng(seed), "f16" if seed % 2 else "bf16")
        e = [int(v) for v in entries]
        pairs = [e[2 * i] | e[2 * i + 1] << 16 for i in range(8)]
        lo, hi = byte_tables(entries)
        assert [table_from_pairs(pairs[2 * t], pairs[2 * t + 1], "lo") for t in range(4)] == lo
        assert [table_from_pairs(pairs[2 * t], pairs[2 * t + 1], "hi") for t in range(4)] == hi
    assert table_ptx("hi") == "prmt.b32 $0, $1, $2, 0x7531;"


def test_the_kernels_byte_tables_are_what_the_asm_expects():
    entries, _ = lut_bits(np.random.default_rng(3), "f16")
    pairs = torch.from_numpy(entries.astype(np.int32)).view(-1, 2)
    pairs = (pairs[:, 0] | (pairs[:, 1] << 16)).to(torch.int64).to(torch.uint32).to(DEVICE)
    out = torch.zeros(8, dtype=torch.uint32, device=DEVICE)
    _tables_kernel[(1,)](pairs, out, ASM=not interpreting())  # on CUDA the prmt form
    lo, hi = byte_tables(entries)
    assert out.cpu().to(torch.int64).tolist() == lo + hi


@pytest.mark.parametrize(
    "bits,n,k,gpr,block_k,split",
    [
        (4, 20, 96, 2, 32, 1),  # blocks inside groups
        (4, 33, 200, 3, 64, 2),  # group size 67: words and blocks straddle groups; split-K; odd N
        (3, 17, 128, 4, 32, 3),  # 3-bit codes in 4-bit slots, 8-entry LUTs
        (4, 16, 256, 1, 256, 1),  # one group, one block
        (4, 24, 256, 2, 32, 3),  # 4 blocks a group, splits of 3 blocks across the group boundary
        (4, 24, 192, 2, 64, 1),  # group size 96: a whole block and a part one per group (GROUP_SPLIT)
    ],
)
@pytest.mark.parametrize("x_dtype,lut_dtype", [(torch.float16, torch.float16), (torch.bfloat16, torch.bfloat16),
                                               (torch.float32, torch.float16)])  # fmt: skip
@pytest.mark.parametrize("prefetch,x_vec,group_split,half2",
                         [(0, 0, 0, 0), (1, 0, 0, 0), (0, 1, 0, 0), (0, 0, 1, 0), (1, 0, 1, 0), (0, 0, 0, 1),
                          (1, 0, 1, 1), (2, 0, 0, 0), (3, 0, 0, 1), (3, 0, 1, 0), (0, 1, 0, 1), (1, 1, 0, 1),
                          (2, 1, 0, 1)])  # fmt: skip
def test_the_register_lut_kernel_matches_the_reference(bits, n, k, gpr, block_k, split, x_dtype, lut_dtype,
                                                       prefetch, x_vec, group_split, half2):  # fmt: skip
    gs = -(-k // gpr)
    if group_split and gs % 32:
        pytest.skip("GROUP_SPLIT takes groups of 32-column multiples")
    if prefetch and gs % block_k and not group_split:
        pytest.skip("prefetch takes blocks that divide the group size")
    x, codes, pool, slot_of_token = make_case(1, n, k, bits, gpr, 3, "one", x_dtype, lut_dtype, seed=n + k)
    ref = lut_linear_reference(x, codes, pool, slot_of_token, bits)
    y = torch.full((1, n), float("nan"), dtype=x_dtype, device=DEVICE)
    config = {"MODE": MODE_PRMT, "BLOCK_N": 16, "BLOCK_K": block_k, "SPLIT_K": split, "PREFETCH": prefetch,
              "X_VEC": x_vec, "GROUP_SPLIT": group_split, "HALF2": half2}  # fmt: skip
    launch_decode(x, codes, pool, slot_of_token, bits, y, config)
    assert rel_err(y, ref) < TOL[torch.bfloat16 if torch.bfloat16 in (x_dtype, lut_dtype) else x_dtype]


def test_half_precision_products_only_where_they_keep_fp16_accuracy():
    x, codes, pool, slots = make_case(1, 40, 256, 4, 2, 3, "one", torch.float16, seed=3)
    assert half2_ok(x, pool)
    assert not half2_ok(x.to(torch.bfloat16), pool.to(torch.bfloat16))  # bf16: 8-bit products
    assert not half2_ok(x.float(), pool)  # fp32 activations keep fp32 products
    x6, _, pool6, _ = make_case(1, 8, 24, 4, 4, 2, "one", torch.float16)
    assert half2_ok(x6, pool6)  # groups of 6 columns
    x3, _, pool3, _ = make_case(1, 8, 24, 4, 8, 2, "one", torch.float16)
    assert not half2_ok(x3, pool3)  # groups of 3: an x pair would straddle two
    # where it does not apply, the config's HALF2 falls back to fp32 products: the bf16 result is bf16-accurate
    xb, codesb, poolb, slotsb = make_case(1, 40, 256, 4, 2, 3, "one", torch.bfloat16, seed=4)
    y = torch.full((1, 40), float("nan"), dtype=xb.dtype, device=DEVICE)
    launch_decode_prmt(xb, codesb, poolb, slotsb, 4, y, {"BLOCK_N": 16, "BLOCK_K": 64, "HALF2": 1})
    assert rel_err(y, lut_linear_reference(xb, codesb, poolb, slotsb, 4)) < TOL[torch.bfloat16]
    # fp16 products: each weight's product and the code word's partial sums rounded to fp16, no worse than an
    # fp16 GEMV; sums beyond a word in fp32
    y = torch.full((1, 40), float("nan"), dtype=x.dtype, device=DEVICE)
    launch_decode_prmt(x, codes, pool, slots, 4, y, {"BLOCK_N": 16, "BLOCK_K": 64, "HALF2": 1})
    assert 0 < rel_err(y, lut_linear_reference(x, codes, pool, slots, 4)) < 1.5e-3


def test_fp16_products_can_be_turned_off_even_where_a_cached_choice_asks_for_them(monkeypatch):
    x, codes, pool, slots = make_case(1, 40, 256, 4, 2, 3, "one", torch.float16, seed=5)
    config = {"BLOCK_N": 16, "BLOCK_K": 64}
    outputs = {}
    for name, flag, half2 in (("fp32", True, 0), ("half2", True, 1), ("off", False, 1)):
        monkeypatch.setattr(triton_decode_prmt, "FP16_PRODUCTS", flag)  # what SKETCHSERVE_FP16_PRODUCTS=0 sets
        outputs[name] = torch.full((1, 40), float("nan"), dtype=x.dtype, device=DEVICE)
        launch_decode_prmt(x, codes, pool, slots, 4, outputs[name], config | {"HALF2": half2})
    assert torch.equal(outputs["off"], outputs["fp32"]) and not torch.equal(outputs["half2"], outputs["fp32"])
    assert not half2_ok(x, pool)  # so the autotuner is not offered the fp16 form either


def test_prefetch_refuses_blocks_that_straddle_groups():
    x, codes, pool, slots = make_case(1, 16, 96, 4, 2, 2, "one", torch.float16)  # group size 48
    y = torch.empty(1, 16, dtype=x.dtype, device=DEVICE)
    with pytest.raises(ValueError, match="divide the group size"):
        launch_decode_prmt(x, codes, pool, slots, 4, y, {"BLOCK_N": 16, "BLOCK_K": 32, "PREFETCH": 1})


def test_prefetch_is_a_depth_of_at_most_three_blocks():
    x, codes, pool, slots = make_case(1, 16, 128, 4, 1, 2, "one", torch.float16)
    y = torch.empty(1, 16, dtype=x.dtype, device=DEVICE)
    with pytest.raises(ValueError, match="depth of 0 to 3"):
        launch_decode_prmt(x, codes, pool, slots, 4, y, {"BLOCK_N": 16, "BLOCK_K": 32, "PREFETCH": 4})


def test_group_split_takes_only_groups_of_32_column_multiples():
    x, codes, pool, slots = make_case(1, 16, 200, 4, 4, 2, "one", torch.float16)  # group size 50
    y = torch.empty(1, 16, dtype=x.dtype, device=DEVICE)
    with pytest.raises(ValueError, match="multiple of 32"):
        launch_decode_prmt(x, codes, pool, slots, 4, y, {"BLOCK_N": 16, "BLOCK_K": 32, "GROUP_SPLIT": 1})


@pytest.mark.parametrize(
    "m,bits,n,k,gpr,block_k,split,assign",
    [
        (2, 4, 20, 128, 2, 32, 1, "distinct"),
        (5, 4, 33, 192, 3, 64, 2, "random"),  # odd N, split-K
        (16, 3, 17, 128, 4, 32, 1, "random"),  # 3-bit codes, 8-entry LUTs
        (33, 4, 64, 256, 1, 128, 3, "one"),  # more than 32 tokens, a last split past K
    ],
)
@pytest.mark.parametrize("x_dtype,lut_dtype", [(torch.float16, torch.float16), (torch.bfloat16, torch.bfloat16),
                                               (torch.float32, torch.float16)])  # fmt: skip
def test_the_register_lut_tensor_core_kernel_matches_the_reference(m, bits, n, k, gpr, block_k, split, assign,
                                                                     x_dtype, lut_dtype):  # fmt: skip
    slots = max(m, 4) if assign == "distinct" else 4
    x, codes, pool, slot_of_token = make_case(m, n, k, bits, gpr, slots, assign, x_dtype, lut_dtype, seed=m + n)
    ref = lut_linear_reference(x, codes, pool, slot_of_token, bits)
    y = torch.full((m, n), float("nan"), dtype=x_dtype, device=DEVICE)
    launch_decode(x, codes, pool, slot_of_token, bits, y,
                  {"MODE": MODE_PRMT_DOT, "BLOCK_N": 16, "BLOCK_K": block_k, "SPLIT_K": split})  # fmt: skip
    assert rel_err(y, ref) < TOL[torch.bfloat16 if torch.bfloat16 in (x_dtype, lut_dtype) else x_dtype]


def test_the_kernel_takes_only_calls_it_can_serve():
    x, codes, pool, slots = make_case(1, 8, 64, 4, 1, 2, "one", torch.float16)
    assert prmt_ok(codes, pool, 4)
    assert not prmt_ok(codes, pool.float(), 4)  # 32-bit LUT
    _, codes2, pool2, _ = make_case(1, 8, 64, 2, 1, 2, "one", torch.float16)
    assert not prmt_ok(codes2, pool2, 2)  # 2-bit codes: 4 per byte
    x6, codes6, pool6, _ = make_case(1, 8, 12, 4, 1, 2, "one", torch.float16)
    assert not prmt_ok(codes6, pool6, 4)  # 6 bytes per row: not whole words
    y = torch.empty(1, 8, dtype=x.dtype, device=DEVICE)
    with pytest.raises(ValueError, match="one token"):
        launch_decode_prmt(x6, codes6, pool6, slots, 4, y, {"BLOCK_N": 16, "BLOCK_K": 64})
    with pytest.raises(ValueError, match="one token"):
        launch_decode_prmt(x.expand(2, -1), codes, pool, slots.expand(2), 4, y.expand(2, -1), {"BLOCK_N": 16,
                           "BLOCK_K": 64})  # fmt: skip
    x3, codes3, pool3, slots3 = make_case(2, 8, 96, 4, 1, 2, "one", torch.float16)  # group of 96 columns
    with pytest.raises(ValueError, match="dividing the group size"):
        launch_decode_prmt_dot(x3, codes3, pool3, slots3, 4, torch.empty(2, 8, dtype=x.dtype, device=DEVICE),
                               {"BLOCK_N": 16, "BLOCK_K": 64})  # fmt: skip


def test_register_lut_configs_replace_the_gather_list_where_they_apply():
    # they won every H200 case where they apply, so the start-up tuning times only them there
    one = decode_candidates(1, 4096, 4096, 132, prmt=True)
    assert len(one) == len(PRMT_CANDIDATES) and all(c["MODE"] == MODE_PRMT for c in one)
    assert any(c.get("PREFETCH") for c in one)
    # x's pairs from one 16-byte load a word (X_VEC) came with every prefetch config's best on the H200
    assert all(c.get("X_VEC") == 1 for c in one if c.get("PREFETCH")) and any(not c.get("X_VEC") for c in one)
    # register prefetch visits each block once: only blocks that divide the group size (2752 = 2^6 x 43 columns)
    assert all(not c.get("PREFETCH") for c in decode_candidates(1, 4096, 11008, 132, prmt=True, group_size=2752))
    assert not any(c.get("HALF2") for c in one)
    # fp16 calls are offered each config with fp16 products too; several tokens keep the tensor cores' fp32 sums
    half = decode_candidates(1, 4096, 4096, 132, prmt=True, half2=True)
    assert [c for c in half if not c.get("HALF2")] == one and [c | {"HALF2": 1} for c in one] == half[1::2]
    assert not any(c.get("HALF2") for c in decode_candidates(4, 4096, 4096, 132, prmt=True, half2=True))
    assert all(c["MODE"] not in (MODE_PRMT, MODE_PRMT_DOT) for c in decode_candidates(1, 4096, 4096, 132))
    several = decode_candidates(4, 4096, 4096, 132, prmt=True, group_size=1024)
    assert several and all(c["MODE"] == MODE_PRMT_DOT and 1024 % c["BLOCK_K"] == 0 for c in several)
    # 11008 columns in 4 groups of 2752 = 2^6 x 43: only 64-column blocks fit; groups of 1000: none, so the
    # gather kernel's list is timed instead
    down = decode_candidates(4, 4096, 11008, 132, prmt=True, group_size=2752)
    assert down and {c["BLOCK_K"] for c in down} == {64} and all(c["MODE"] == MODE_PRMT_DOT for c in down)
    fallback = decode_candidates(4, 4096, 4000, 132, prmt=True, group_size=1000)
    assert fallback and all(c["MODE"] < 3 for c in fallback)


def test_autotune_drops_a_fast_candidate_that_computes_something_else(monkeypatch, tmp_path, caplog):
    """A variant miscompiled on some GPU must not win the timing: results are compared with the default's."""
    monkeypatch.setenv("SKETCHSERVE_CACHE", str(tmp_path))
    monkeypatch.setattr(autotune, "_MEMORY", {})
    monkeypatch.setattr(autotune, "_FAST", {})
    monkeypatch.setattr(autotune, "_STATS", {"keys": 0, "candidates": 0, "seconds": 0.0})
    monkeypatch.setattr(autotune, "tuning_enabled", lambda device: True)  # as on a GPU
    monkeypatch.setattr(autotune, "_save", lambda path, entry, config: None)  # no per-GPU cache file on the CPU
    speed = {"default": 3.0, "broken": 1.0, "good": 2.0}

    def fake_time_ms(fn):
        fn()
        return speed[current["name"]]

    monkeypatch.setattr(autotune, "time_ms", fake_time_ms)
    out = torch.zeros(4)
    current = {}

    def launch(config):
        current["name"] = config["name"]
        out.copy_(torch.arange(4.0) + (100.0 if config["name"] == "broken" else 0.0))

    candidates = [{"name": "broken"}, {"name": "good"}]
    got = autotune.pick_config("decode", ("t",), lambda: candidates, launch, lambda: {"name": "default"},
                               torch.device("cpu"), output=out)  # fmt: skip
    assert got == {"name": "good"} and "disagrees" in caplog.text
    stats = autotune.tuning_stats()  # what a first start on a GPU reports as its tuning cost
    assert stats["keys"] == 1 and stats["candidates"] == 2 and stats["seconds"] > 0


def test_autotune_writes_each_candidates_outcome_where_asked(monkeypatch, tmp_path):
    """SKETCHSERVE_AUTOTUNE_TRIALS: one JSON line per timed candidate (its time, its failure's first line, or that it
    disagreed), so a poor choice on a lent GPU can be read back; unset, nothing is written."""
    import json

    trials = tmp_path / "trials.jsonl"
    monkeypatch.setenv("SKETCHSERVE_CACHE", str(tmp_path))
    monkeypatch.setattr(autotune, "_MEMORY", {})
    monkeypatch.setattr(autotune, "_FAST", {})
    monkeypatch.setattr(autotune, "tuning_enabled", lambda device: True)
    monkeypatch.setattr(autotune, "_save", lambda path, entry, config: None)
    current, speed = {}, {"default": 3.0, "broken": 1.0, "good": 2.0}
    monkeypatch.setattr(autotune, "time_ms", lambda fn: (fn(), speed[current["name"]])[1])
    out = torch.zeros(4)

    def launch(config):
        current["name"] = config["name"]
        if config["name"] == "too_big":
            raise RuntimeError("out of resource: shared memory, Required: 300000\nmore detail")
        out.copy_(torch.arange(4.0) + (100.0 if config["name"] == "broken" else 0.0))

    candidates = [{"name": name} for name in ("too_big", "broken", "good")]
    tune = lambda key: autotune.pick_config("decode", key, lambda: candidates, launch, lambda: {"name": "default"},  # noqa: E731
                                            torch.device("cpu"), output=out)  # fmt: skip
    assert tune(("unset",)) == {"name": "good"} and not trials.exists()
    monkeypatch.setenv("SKETCHSERVE_AUTOTUNE_TRIALS", str(trials))
    assert tune(("set",)) == {"name": "good"}
    lines = [json.loads(line) for line in trials.read_text().splitlines()]
    assert [line["config"]["name"] for line in lines] == ["too_big", "broken", "good"]
    assert all(line["entry"].startswith("decode|") for line in lines)
    assert lines[0]["failed"] == "out of resource: shared memory, Required: 300000"
    assert lines[1]["disagrees"] is True and lines[2]["ms"] == 2.0


def test_autotune_compares_only_the_rows_a_launch_writes(monkeypatch, tmp_path, caplog):
    """Segment tiles leave a step's decode rows to another path: whatever the output buffer held there (here inf,
    as uninitialized memory may) must not make every candidate disagree, and a candidate that skips a row the
    default writes, or writes one it leaves, is still dropped."""
    monkeypatch.setenv("SKETCHSERVE_CACHE", str(tmp_path))
    monkeypatch.setattr(autotune, "_MEMORY", {})
    monkeypatch.setattr(autotune, "_FAST", {})
    monkeypatch.setattr(autotune, "tuning_enabled", lambda device: True)
    monkeypatch.setattr(autotune, "_save", lambda path, entry, config: None)
    speed = {"default": 4.0, "skips_a_row": 1.0, "writes_too_much": 1.5, "good": 2.0}
    current = {}
    monkeypatch.setattr(autotune, "time_ms", lambda fn: (fn(), speed[current["name"]])[1])
    out = torch.full((6, 3), float("inf"))  # rows 4 and 5: the other path's, never written here
    values = torch.arange(18.0).reshape(6, 3)

    def launch(config):
        current["name"] = name = config["name"]
        rows = {"skips_a_row": 3, "writes_too_much": 5}.get(name, 4)
        out[:rows] = values[:rows]

    candidates = [{"name": name} for name in ("skips_a_row", "writes_too_much", "good")]
    got = autotune.pick_config("prefill_tiles", ("t",), lambda: candidates, launch, lambda: {"name": "default"},
                               torch.device("cpu"), output=out)  # fmt: skip
    assert got == {"name": "good"}
    assert caplog.text.count("disagrees") == 2 and "'good'" not in caplog.text


@pytest.mark.gpu
@pytest.mark.parametrize("lut_dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("k", [2752, 4096])  # groups of 688 columns (no prefetch config applies) and of 1,024 (all)
def test_every_register_lut_candidate_on_cuda(lut_dtype, k):
    x, codes, pool, slot_of_token = make_case(1, 300, k, 4, 4, 3, "one", torch.float16, lut_dtype, seed=5)
    ref = lut_linear_reference(x, codes, pool, slot_of_token, 4)
    for config in decode_candidates(1, 300, k, 132, prmt=True, half2=half2_ok(x, pool), group_size=k // 4):
        if config["MODE"] == MODE_PRMT:
            y = torch.full((1, 300), float("nan"), dtype=x.dtype, device=DEVICE)
            launch_decode(x, codes, pool, slot_of_token, 4, y, config)
            assert rel_err(y, ref) < TOL[lut_dtype], config
