"""Programmatic dependent launch (PDL) of the decode-path kernels (kernels/triton_common.py, pdl_enabled).

On where the GPU has it (compute capability 9.0 or above) unless SKETCHSERVE_PDL=0; under it each such kernel waits
(griddepcontrol.wait) before it reads anything a kernel writes, and the fused decoder kernels let the next kernel
start at once (griddepcontrol.launch_dependents). On the CPU: the switch, and the compiled sm_90 PTX of each kernel
with and without PDL (the wait where the rule puts it). On CUDA: the results with PDL on equal those with it off."""

from __future__ import annotations

import pytest
import torch

from kernels import triton_common
from kernels.reference import lut_linear_reference
from kernels.triton_common import pdl_args, pdl_enabled
from kernels.triton_decode import MODE_MMA, MODE_PRMT, launch_decode

from .compiled_layouts import compile_ptx
from .test_triton_forward import DEVICE, TOL, make_case, rel_err

LINEAR_SIG = {"x_ptr": "*fp16", "codes_ptr": "*u8", "lut_ptr": "*fp16", "slot_ptr": "*i32", "y_ptr": "*fp16",
              "ws_ptr": "*fp32", "counter_ptr": "*i32"}  # fmt: skip
WAIT, RELEASE = "griddepcontrol.wait", "griddepcontrol.launch_dependents"


def test_pdl_only_on_a_gpu_that_has_it_and_not_when_turned_off(monkeypatch):
    monkeypatch.setattr(triton_common, "_PDL", {})
    monkeypatch.delenv("SKETCHSERVE_PDL", raising=False)
    assert not pdl_enabled(torch.device("cpu"))  # the CPU (and the interpreter) never
    assert pdl_args(torch.device("cpu")) == {}  # so its launches see neither the constexpr nor the option
    if torch.cuda.is_available():
        cuda = torch.device("cuda", torch.cuda.current_device())
        expected = torch.cuda.get_device_capability()[0] >= 9 and not triton_common.interpreting()
        assert pdl_enabled(cuda) == (expected and triton_common.triton_has_pdl())
        assert pdl_args(cuda) == ({"PDL": True, "launch_pdl": True} if pdl_enabled(cuda) else {})
        monkeypatch.setenv("SKETCHSERVE_PDL", "0")
        monkeypatch.setattr(triton_common, "_PDL", {})
        assert not pdl_enabled(cuda) and pdl_args(cuda) == {}
    monkeypatch.setattr(triton_common, "triton_has_pdl", lambda: False)  # a Triton without it: never
    monkeypatch.setattr(triton_common, "_PDL", {})
    monkeypatch.delenv("SKETCHSERVE_PDL", raising=False)
    if torch.cuda.is_available():
        assert not pdl_enabled(torch.device("cuda", torch.cuda.current_device()))


def _one_token_ptx(pdl: bool, prefetch: int) -> str:
    ints = ["N", "K", "KW", "GS", "stride_cw", "stride_ls", "stride_ln", "K_PER_SPLIT", "SPLIT_K"]
    const = {"BITS": 4, "BLOCK_N": 8, "BLOCK_K": 1024, "USE_SPLIT": False, "ASM": True, "LUT_BF16": False,
             "PREFETCH": prefetch, "X_VEC": True, "GROUP_ALIGNED": False, "HALF2": True, "PDL": pdl}  # fmt: skip
    sig = {**LINEAR_SIG, **dict.fromkeys(ints, "i32")}
    return compile_ptx("kernels.triton_decode_prmt", "_decode_prmt_kernel", sig, const,
                       div16=("x_ptr", "codes_ptr", "lut_ptr", "y_ptr", "K", "GS", "stride_cw"))  # fmt: skip


def test_the_one_token_kernel_waits_after_its_codes_slot_and_lut_loads():
    assert WAIT not in _one_token_ptx(False, 1)
    ptx = _one_token_ptx(True, 1)
    body = ptx[ptx.index(".entry"):]
    wait = body.index(WAIT)
    # before the wait: the prefetched codes block and the slot -> LUT loads (all loads but x's); after it, x's
    assert body[:wait].count("ld.global") >= 3 and "ld.global" in body[wait:]
    assert "st.global" not in body[:wait] and "atom" not in body[:wait]
    assert RELEASE not in ptx  # a linear layer's dependents start when it exits


def test_the_fused_decoder_kernels_wait_then_release_at_their_start():
    sig = {"x_ptr": "*fp16", "delta_ptr": "*fp16", "w_ptr": "*fp16", "sum_ptr": "*fp16", "out_ptr": "*fp16",
           "D": "i32", "stride_x": "i32", "stride_d": "i32", "stride_s": "i32", "stride_o": "i32", "eps": "fp32"}
    for pdl in (False, True):
        ptx = compile_ptx("server.triton_fused", "_rms_norm_kernel", sig,
                          {"HAS_DELTA": True, "BLOCK_D": 1024, "PDL": pdl})  # fmt: skip
        body = ptx[ptx.index(".entry"):]
        assert (WAIT in body) == pdl and (RELEASE in body) == pdl
        if pdl:
            assert body.index(WAIT) < body.index(RELEASE) < body.index("ld.global")


def test_the_fragment_and_tensor_core_kernels_wait_before_their_loop():
    ints = ["M", "N", "K", "GS", "stride_xm", "stride_cw", "stride_ls", "stride_ln", "stride_ym", "K_PER_SPLIT",
            "SPLIT_K"]
    const = {"BITS": 4, "WARPS": 2, "WPL": 2, "TILES": 1, "ROWS": 2, "USE_SPLIT": False, "ASM": True, "BF16": False,
             "X16": True, "PDL": True}  # fmt: skip
    ptx = compile_ptx("kernels.triton_decode_mma", "_decode_mma_kernel", {**LINEAR_SIG, **dict.fromkeys(ints, "i32")},
                      const, warps=2, div16=("x_ptr", "codes_ptr", "lut_ptr", "y_ptr", "K", "GS"))  # fmt: skip
    body = ptx[ptx.index(".entry"):]
    assert body.index(WAIT) < body.index("mma.sync")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available() or torch.cuda.get_device_capability()[0] < 9, reason="needs sm_90")
@pytest.mark.parametrize("m,mode", [(1, MODE_PRMT), (4, MODE_MMA)])
def test_pdl_launches_give_the_same_results_on_cuda(monkeypatch, m, mode):
    x, codes, pool, slots = make_case(m, 300, 2048, 4, 2, 3, "random", torch.float16, seed=m)
    config = {"MODE": mode, "BLOCK_N": 8, "BLOCK_K": 1024, "PREFETCH": 1, "X_VEC": 1, "HALF2": 1, "num_warps": 2,
              "ROWS": 2, "WPL": 2, "SPLIT_K": 1}  # fmt: skip
    out = {}
    for flag in ("0", "1"):
        monkeypatch.setenv("SKETCHSERVE_PDL", flag)
        monkeypatch.setattr(triton_common, "_PDL", {})
        y = torch.full((m, 300), float("nan"), dtype=x.dtype, device=DEVICE)
        for _ in range(3):  # back to back, each may start while the one before finishes
            launch_decode(x, codes, pool, slots, 4, y, config)
        out[flag] = y
        assert pdl_enabled(x.device) == (flag == "1")
    assert torch.equal(out["0"], out["1"])
    assert rel_err(out["1"], lut_linear_reference(x, codes, pool, slots, 4)) < TOL[torch.float16]
