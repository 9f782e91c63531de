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

from kernels import autotune
from kernels.prmt_lut import byte_tables, emulate, lookup_program, to_ptx
from kernels.reference import lut_linear_reference
from kernels.triton_decode import MODE_PRMT, decode_candidates, launch_decode
from kernels.triton_decode_prmt import PRMT_CANDIDATES, _byte_table, launch_decode_prmt, prmt_ok

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
        assert emulate(program, operands) == pytest.approx(want, rel=1e-5, abs=1e-5)


@triton.jit
def _tables_kernel(pairs_ptr, out_ptr):
    p = tl.load(pairs_ptr + tl.arange(0, 8))  # [8] uint32, one row's 16 entries
    for t in tl.static_range(4):
        pa = tl.sum(tl.where(tl.arange(0, 8) == 2 * t, p, 0), axis=0)
        pb = tl.sum(tl.where(tl.arange(0, 8) == 2 * t + 1, p, 0), axis=0)
        tl.store(out_ptr + t, _byte_table(pa, pb, False))
        tl.store(out_ptr + 4 + t, _byte_table(pa, pb, True))


def test_the_kernels_byte_tables_are_what_the_asm_expects():
    entries, _ = lut_bits(np.random.default_rng(3), "f16")
    pairs = torch.from_numpy(entries.astype(np.int32)).view(-1, 2)
    pairs = (pairs[:, 0] | (pairs[:, 1] << 16)).to(torch.int64).to(torch.uint32).to(DEVICE)
    out = torch.zeros(8, dtype=torch.uint32, device=DEVICE)
    _tables_kernel[(1,)](pairs, out)
    lo, hi = byte_tables(entries)
    assert out.cpu().to(torch.int64).tolist() == lo + hi


@pytest.mark.parametrize(
    "bits,n,k,gpr,block_k,split",
    [
        (4, 20, 96, 2, 32, 1),  # blocks inside groups
        (4, 33, 200, 3, 64, 2),  # group size 67: words and blocks straddle groups; split-K; odd N
        (3, 17, 128, 4, 32, 3),  # 3-bit codes in 4-bit slots, 8-entry LUTs
        (4, 16, 256, 1, 256, 1),  # one group, one block
    ],
)
@pytest.mark.parametrize("x_dtype,lut_dtype", [(torch.float16, torch.float16), (torch.bfloat16, torch.bfloat16),
                                               (torch.float32, torch.float16)])  # fmt: skip
def test_the_register_lut_kernel_matches_the_reference(bits, n, k, gpr, block_k, split, x_dtype, lut_dtype):
    x, codes, pool, slot_of_token = make_case(1, n, k, bits, gpr, 3, "one", x_dtype, lut_dtype, seed=n + k)
    ref = lut_linear_reference(x, codes, pool, slot_of_token, bits)
    y = torch.full((1, n), float("nan"), dtype=x_dtype, device=DEVICE)
    launch_decode(x, codes, pool, slot_of_token, bits, y,
                  {"MODE": MODE_PRMT, "BLOCK_N": 16, "BLOCK_K": block_k, "SPLIT_K": split})  # fmt: skip
    assert rel_err(y, ref) < TOL[torch.bfloat16 if torch.bfloat16 in (x_dtype, lut_dtype) else x_dtype]


def test_the_kernel_takes_only_calls_it_can_serve():
    x, codes, pool, slots = make_case(1, 8, 64, 4, 1, 2, "one", torch.float16)
    assert prmt_ok(x, codes, pool, 4)
    assert not prmt_ok(x.expand(2, -1), codes, pool, 4)  # two tokens
    assert not prmt_ok(x, codes, pool.float(), 4)  # 32-bit LUT
    x2, codes2, pool2, _ = make_case(1, 8, 64, 2, 1, 2, "one", torch.float16)
    assert not prmt_ok(x2, codes2, pool2, 2)  # 2-bit codes: 4 per byte
    x6, codes6, pool6, _ = make_case(1, 8, 12, 4, 1, 2, "one", torch.float16)
    assert not prmt_ok(x6, codes6, pool6, 4)  # 6 bytes per row: not whole words
    with pytest.raises(ValueError, match="one token"):
        launch_decode_prmt(x6, codes6, pool6, slots, 4, torch.empty(1, 8, dtype=x.dtype, device=DEVICE),
                           {"BLOCK_N": 16, "BLOCK_K": 64})  # fmt: skip


def test_register_lut_configs_are_candidates_only_where_they_apply():
    assert len([c for c in decode_candidates(1, 4096, 4096, 132, prmt=True) if c["MODE"] == MODE_PRMT]) == len(
        PRMT_CANDIDATES
    )
    assert all(c["MODE"] != MODE_PRMT for c in decode_candidates(1, 4096, 4096, 132, prmt=False))
    assert all(c["MODE"] != MODE_PRMT for c in decode_candidates(4, 4096, 4096, 132, prmt=True))


def test_autotune_drops_a_fast_candidate_that_computes_something_else(monkeypatch, tmp_path, caplog):
    """A variant miscompiled on some GPU must not win the timing: results are compared with the default's."""
    import triton.testing

    monkeypatch.setenv("SKETCHSERVE_CACHE", str(tmp_path))
    monkeypatch.setattr(autotune, "_MEMORY", {})
    monkeypatch.setattr(autotune, "_FAST", {})
    monkeypatch.setattr(autotune, "tuning_enabled", lambda device: True)  # as on a GPU
    monkeypatch.setattr(autotune, "_save", lambda path, entry, config: None)  # no per-GPU cache file on the CPU
    speed = {"default": 3.0, "broken": 1.0, "good": 2.0}

    def fake_bench(fn, **kw):
        fn()
        return speed[current["name"]]

    monkeypatch.setattr(triton.testing, "do_bench", fake_bench)
    out = torch.zeros(4)
    current = {}

    def launch(config):
        current["name"] = config["name"]
        out.copy_(torch.arange(4.0) + (100.0 if config["name"] == "broken" else 0.0))

    candidates = [{"name": "broken"}, {"name": "good"}]
    got = autotune.pick_config("decode", ("t",), lambda: candidates, launch, lambda: {"name": "default"},
                               torch.device("cpu"), output=out)  # fmt: skip
    assert got == {"name": "good"} and "disagrees" in caplog.text


@pytest.mark.gpu
@pytest.mark.parametrize("lut_dtype", [torch.float16, torch.bfloat16])
def test_every_register_lut_candidate_on_cuda(lut_dtype):
    x, codes, pool, slot_of_token = make_case(1, 300, 2752, 4, 4, 3, "one", torch.float16, lut_dtype, seed=5)
    ref = lut_linear_reference(x, codes, pool, slot_of_token, 4)
    for config in decode_candidates(1, 300, 2752, 132, prmt=True):
        if config["MODE"] == MODE_PRMT:
            y = torch.full((1, 300), float("nan"), dtype=x.dtype, device=DEVICE)
            launch_decode(x, codes, pool, slot_of_token, 4, y, config)
            assert rel_err(y, ref) < TOL[lut_dtype], config
