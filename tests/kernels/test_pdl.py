"""Programmatic dependent launch (PDL) of the decode-path kernels (kernels/triton_common.py, pdl_enabled).

On where the GPU has it (compute capability 9.0 or above) unless SKETCHSERVE_PDL=0; under it each such kernel waits
(griddepcontrol.wait) before it reads anything a kernel writes, and the fused decoder kernels let the next kernel
start at once (griddepcontrol.launch_dependents); the tensor-core and one-token kernels' pipelined configs launch
without it (slower with it: steps on the H200, the op after the norm on the H100). On the CPU: the switches, and
the compiled sm_90 PTX of each kernel with and without PDL (the wait where the rule puts it). On CUDA: the results
with PDL on equal those with it off."""

from __future__ import annotations

import pytest
import torch

from kernels import triton_common, triton_decode_prmt, triton_ops
from kernels.reference import lut_linear_reference
from kernels.triton_bucket import bucket_candidates, launch_bucket
from kernels.triton_common import pdl_args, pdl_available, pdl_enabled, pdl_scope
from kernels.triton_decode import MODE_DOT, MODE_MMA, MODE_PRMT, launch_decode
from kernels.triton_decode_prmt import launch_decode_prmt, one_stage_pdl_args

from .compiled_layouts import BUCKET_INTS, GATHER_INTS, compile_ptx, linear_ptx_body
from .compiled_layouts import PDL_RELEASE as RELEASE
from .compiled_layouts import PDL_WAIT as WAIT
from .test_triton_forward import DEVICE, TOL, make_case, rel_err


def test_pdl_only_on_a_gpu_that_has_it_and_not_when_turned_off(monkeypatch):
    monkeypatch.setattr(triton_common, "_PDL", {})
    monkeypatch.delenv("SKETCHSERVE_PDL", raising=False)
    with pdl_scope():
        assert not pdl_enabled(torch.device("cpu"))  # the CPU (and the interpreter) never
        assert pdl_args(torch.device("cpu")) == {}  # so its launches see neither the constexpr nor the option
    if torch.cuda.is_available():
        cuda = torch.device("cuda", torch.cuda.current_device())
        expected = torch.cuda.get_device_capability()[0] >= 9 and not triton_common.interpreting()
        assert pdl_available(cuda) == (expected and triton_common.triton_has_pdl())
        with pdl_scope():
            assert pdl_enabled(cuda) == pdl_available(cuda)
            assert pdl_args(cuda) == ({"PDL": True, "launch_pdl": True} if pdl_enabled(cuda) else {})
        monkeypatch.setenv("SKETCHSERVE_PDL", "0")
        monkeypatch.setattr(triton_common, "_PDL", {})
        with pdl_scope():
            assert not pdl_enabled(cuda) and pdl_args(cuda) == {}
    monkeypatch.setattr(triton_common, "triton_has_pdl", lambda: False)  # a Triton without it: never
    monkeypatch.setattr(triton_common, "_PDL", {})
    monkeypatch.delenv("SKETCHSERVE_PDL", raising=False)
    if torch.cuda.is_available():
        assert not pdl_available(torch.device("cuda", torch.cuda.current_device()))


def test_pdl_only_inside_a_scope_whose_caller_vouches_for_the_slots(monkeypatch):
    device = torch.device("cuda", 0)
    monkeypatch.setattr(triton_common, "_PDL", {device: True})  # as on an sm_90 GPU
    assert not pdl_enabled(device) and pdl_args(device) == {}  # the public op, called on slots of unknown age
    with pdl_scope():
        assert pdl_enabled(device) and pdl_args(device) == {"PDL": True, "launch_pdl": True}
        with pdl_scope(False):  # slots converted on the device just before a launch
            assert not pdl_enabled(device)
        assert pdl_enabled(device)
    assert not pdl_enabled(device)


def test_the_tensor_core_kernel_takes_pdl_with_one_stage_only(monkeypatch):
    """Measured on the H200 (twenty-sixth session): PDL slows the pipelined configs down by 5-25 %."""
    device = torch.device("cuda", 0)
    monkeypatch.setattr(triton_common, "_PDL", {device: True})  # as on an sm_90 GPU
    with pdl_scope():
        one = {"PDL": True, "launch_pdl": True}
        assert one_stage_pdl_args(device, {"num_stages": 1}) == one_stage_pdl_args(device, {}) == one
        assert one_stage_pdl_args(device, {"num_stages": 2}) == one_stage_pdl_args(device, {"num_stages": 4}) == {}
    assert one_stage_pdl_args(device, {"num_stages": 1}) == {}  # outside a scope: never


def test_the_one_token_kernel_takes_pdl_with_one_stage_only(monkeypatch):
    """Measured on the H100 (seventy-fifth session): after the fused RMSNorm the one-token kernel's 2-stage choices
    ran 14-18 % slower with PDL, its one-stage ones faster. The launcher's options, inside a scope, on a device
    marked as having PDL (the kernel itself stubbed: only its launch options are looked at)."""
    device = torch.device(DEVICE)
    monkeypatch.setattr(triton_common, "_PDL", {device: True})
    launches = []

    class KernelSpy:
        def __getitem__(self, grid):
            return lambda *args, **options: launches.append(options)

    monkeypatch.setattr(triton_decode_prmt, "_decode_prmt_kernel", KernelSpy())
    x, codes, pool, slots = make_case(1, 32, 256, 4, 1, 2, "one", torch.float16, seed=0)
    y = torch.empty(1, 32, dtype=torch.float16, device=device)
    config = {"BLOCK_N": 16, "BLOCK_K": 64, "SPLIT_K": 1, "num_warps": 4, "HALF2": 1}
    with pdl_scope():
        for stages in (1, 2, 3):
            launch_decode_prmt(x, codes, pool, slots, 4, y, config | {"num_stages": stages})
    assert [(o["num_stages"], o.get("launch_pdl", False), o.get("PDL", False)) for o in launches] == [
        (1, True, True), (2, False, False), (3, False, False)]  # fmt: skip


def test_the_op_launches_on_slots_it_converted_without_pdl(monkeypatch):
    """lut_linear_forward's int64 -> int32 conversion is a kernel just before the launch: the PDL rule's slot reads
    before the wait would race with it, so those launches leave PDL off even inside a scope."""
    seen = []
    monkeypatch.setattr(triton_ops, "_forward", lambda x, codes, pool, slots, *rest: seen.append(
        (slots.dtype, triton_common._PDL_SCOPE.get())))  # fmt: skip
    x, codes, pool, slots = make_case(2, 24, 64, 4, 2, 3, "random", torch.float16, seed=0)
    with pdl_scope():
        for given in (slots.to(torch.int32), slots.to(torch.int64)):
            triton_ops.lut_linear_forward(x, codes, pool, given, 4)
    assert seen == [(torch.int32, True), (torch.int32, False)]


def _one_token_ptx(pdl: bool, prefetch: int) -> str:
    ints = ["N", "K", "KW", "GS", "stride_cw", "stride_ls", "stride_ln", "K_PER_SPLIT", "SPLIT_K"]
    const = {"BITS": 4, "BLOCK_N": 8, "BLOCK_K": 1024, "USE_SPLIT": False, "ASM": True, "LUT_BF16": False,
             "PREFETCH": prefetch, "X_VEC": True, "GROUP_ALIGNED": False, "HALF2": True, "PDL": pdl}  # fmt: skip
    return linear_ptx_body("kernels.triton_decode_prmt", "_decode_prmt_kernel", ints, const,
                           div16=("x_ptr", "codes_ptr", "lut_ptr", "y_ptr", "K", "GS", "stride_cw"))  # fmt: skip


def test_the_one_token_kernel_waits_after_its_codes_slot_and_lut_loads():
    assert WAIT not in _one_token_ptx(False, 1)
    body = _one_token_ptx(True, 1)
    wait = body.index(WAIT)
    # before the wait: the prefetched codes block and the slot -> LUT loads (all loads but x's); after it, x's
    assert body[:wait].count("ld.global") >= 3 and "ld.global" in body[wait:]
    assert "st.global" not in body[:wait] and "atom" not in body[:wait]
    assert RELEASE not in body  # a linear layer's dependents start when it exits


def test_the_fused_decoder_kernels_wait_then_release_at_their_start():
    sig = {"x_ptr": "*fp16", "delta_ptr": "*fp16", "w_ptr": "*fp16", "sum_ptr": "*fp16", "out_ptr": "*fp16",
           "D": "i32", "stride_x": "i32", "stride_d": "i32", "stride_s": "i32", "stride_o": "i32", "eps": "fp32",
           "hi_ptr": "*i8", "lo_ptr": "*i8", "step_ptr": "*fp32", "sums_ptr": "*i32", "stride_digits": "i32",
           "stride_sums": "i32"}
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
    body = linear_ptx_body("kernels.triton_decode_mma", "_decode_mma_kernel", ints, const, warps=2)
    assert body.index(WAIT) < body.index("mma.sync")


def _ptx_before_and_after_the_wait(kernel: str, module: str, ints: list[str], const: dict) -> tuple[str, str]:
    body = linear_ptx_body(module, kernel, ints, const)
    assert RELEASE not in body  # a linear layer's dependents start when it exits
    wait = body.index(WAIT)
    return body[:wait], body[wait:]


@pytest.mark.parametrize("slot_outer", [False, True])
def test_the_gather_kernel_waits_after_its_slot_and_first_codes_loads(slot_outer):
    const = {"BITS": 4, "BLOCK_M": 16, "BLOCK_N": 32, "BLOCK_K": 64, "MODE": 0, "USE_SPLIT": False,
             "ONE_BOUNDARY": True, "DOT_PRECISION": "tf32", "ASM": True, "FAST": False, "PREFETCH": 1,
             "SLOT_OUTER": slot_outer, "PDL": True}  # fmt: skip
    before, after = _ptx_before_and_after_the_wait("_decode_kernel", "kernels.triton_decode", GATHER_INTS, const)
    # the slots (and, K outside, the prefetched codes tile) before it; no store, and x, the LUT and the MMAs after
    assert before.count("ld.global") >= (1 if slot_outer else 2)
    assert "st.global" not in before and "atom" not in before and "mma" not in before
    assert "mma.sync" in after


@pytest.mark.parametrize("layout", ["rows", "quads"])
def test_the_bucket_kernels_wait_after_their_slot_load(layout):
    const = {"BITS": 4, "BLOCK_M": 16, "BLOCK_N": 16 if layout == "rows" else 32, "BLOCK_K": 64, "USE_SPLIT": False,
             "DOT_PRECISION": "tf32", "ASM": True, "PDL": True}  # fmt: skip
    if layout == "rows":
        before, after = _ptx_before_and_after_the_wait("_bucket_kernel", "kernels.triton_bucket", BUCKET_INTS, const)
    else:
        const = {**const, "PAIRS": True, "QUADS": True}
        before, after = _ptx_before_and_after_the_wait("_bucket_cols_kernel", "kernels.triton_bucket_cols",
                                                       BUCKET_INTS, const)  # fmt: skip
    # before it only the slots: scalar int32 loads (as many as the tile's layout replicates them); codes, x and the
    # LUT after it
    loads = [line for line in before.splitlines() if "ld.global" in line]
    assert loads and all("ld.global.b32 { %r" in line for line in loads), loads
    assert after.count("ld.global") > len(loads)
    assert "st.global" not in before and "atom" not in before and "mma" in after  # mma.sync or wgmma


def _with_and_without_pdl(monkeypatch, launch, y: torch.Tensor) -> dict[str, torch.Tensor]:
    out = {}
    for flag in ("0", "1"):
        monkeypatch.setenv("SKETCHSERVE_PDL", flag)
        monkeypatch.setattr(triton_common, "_PDL", {})
        out[flag] = y.clone().fill_(float("nan"))
        with pdl_scope():
            for _ in range(3):  # back to back, each may start while the one before finishes
                launch(out[flag])
            assert pdl_enabled(y.device) == (flag == "1")
    return out


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available() or torch.cuda.get_device_capability()[0] < 9, reason="needs sm_90")
@pytest.mark.parametrize("m,mode", [(1, MODE_PRMT), (4, MODE_MMA), (8, MODE_DOT), (16, "bucket")])
def test_pdl_launches_give_the_same_results_on_cuda(monkeypatch, m, mode):
    tasks = 16 if mode == "bucket" else 3
    x, codes, pool, slots = make_case(m, 300, 2048, 4, 2, tasks, "random", torch.float16, seed=m)
    y = torch.empty(m, 300, dtype=x.dtype, device=DEVICE)
    if mode == "bucket":
        configs = [c for c in bucket_candidates(m, 300, 2048, 4, 132) if c.get("QUADS") or "LAYOUT" not in c][:2]
        configs += [{"BLOCK_N": 16, "BLOCK_K": 64, "num_warps": 4, "num_stages": 2, "SPLIT_K": 2}]  # rows layout
    else:
        configs = [{"MODE": mode, "BLOCK_N": 8 if mode != MODE_DOT else 32, "BLOCK_K": 1024 if mode != MODE_DOT else 64,
                    "PREFETCH": 1, "X_VEC": 1, "HALF2": 1, "num_warps": 2, "ROWS": 2, "WPL": 2, "SPLIT_K": 2}]
    launch = launch_bucket if mode == "bucket" else launch_decode
    for config in configs:
        out = _with_and_without_pdl(monkeypatch, lambda y, c=config: launch(x, codes, pool, slots, 4, y, c), y)
        assert torch.equal(out["0"], out["1"]), config
        assert rel_err(out["1"], lut_linear_reference(x, codes, pool, slots, 4)) < TOL[torch.float16], config
