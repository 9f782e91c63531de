"""Triton backward kernels (grad_x, grad_lut) against the torch reference; segments helper; autotune cache."""

import json

import pytest
import torch

from kernels import autotune, lut_linear_autograd
from kernels.reference import lut_linear_backward_reference
from kernels.triton_backward import default_grad_x_config, launch_grad_lut, launch_grad_x
from kernels.triton_common import segments_of_sorted, sort_tokens_by_slot
from kernels.triton_ops import lut_linear_backward
from tests.kernels.test_triton_forward import DEVICE, TOL, make_case, rel_err

BACKWARD_CASES = [
    # m, n, k, bits, gpr, slots, assignment, dtype
    (5, 37, 70, 4, 4, 3, "random", torch.float16),
    (70, 50, 90, 3, 3, 4, "random", torch.bfloat16),
    (20, 33, 40, 2, 8, 20, "distinct", torch.float16),
    (9, 24, 66, 4, 1, 2, "one", torch.float16),
]


@pytest.mark.parametrize("m,n,k,bits,gpr,slots,assign,dtype", BACKWARD_CASES)
def test_backward_matches_reference(m, n, k, bits, gpr, slots, assign, dtype):
    x, codes, pool, slot_of_token = make_case(m, n, k, bits, gpr, slots, assign, dtype, seed=3 * m + k)
    grad_y = torch.randn(m, n, device=DEVICE).to(dtype)
    grad_x, grad_lut = lut_linear_backward(grad_y, x, codes, pool, slot_of_token, bits, True, True)
    ref_x, ref_lut = lut_linear_backward_reference(grad_y, x, codes, pool, slot_of_token, bits)
    assert grad_x.dtype == dtype and grad_lut.dtype == pool.dtype and grad_lut.shape == pool.shape
    assert rel_err(grad_x, ref_x) < TOL[dtype]
    assert rel_err(grad_lut, ref_lut) < TOL[dtype]
    unused = torch.ones(slots, dtype=torch.bool, device=DEVICE)
    unused[slot_of_token.long()] = False
    assert (grad_lut[unused] == 0).all()


def test_grad_x_poisoned_and_grad_lut_scatter_variant():
    m, n, k, bits, gpr = 24, 20, 48, 4, 2
    x, codes, pool, slot_of_token = make_case(m, n, k, bits, gpr, 4, "random", torch.float16, seed=11)
    grad_y = torch.randn(m, n, device=DEVICE).to(x.dtype)
    ref_x, ref_lut = lut_linear_backward_reference(grad_y, x, codes, pool, slot_of_token, bits)
    perm, slot_sorted = sort_tokens_by_slot(slot_of_token)

    grad_x = torch.full((m, k), float("nan"), dtype=x.dtype, device=DEVICE)
    config = dict(default_grad_x_config(), BLOCK_M=16, BLOCK_N=16, BLOCK_K=16)
    launch_grad_x(grad_y, codes, pool, slot_sorted, perm, bits, grad_x, config)
    assert rel_err(grad_x, ref_x) < TOL[x.dtype]

    grad_lut = torch.zeros(pool.shape, dtype=torch.float32, device=DEVICE)
    config = {"BLOCK_M": 16, "BLOCK_N": 16, "BLOCK_K": 32, "SCATTER": True}
    launch_grad_lut(grad_y, x, codes, perm, segments_of_sorted(slot_sorted), bits, grad_lut, config)
    assert rel_err(grad_lut, ref_lut) < TOL[x.dtype]


def test_segments_of_sorted():
    sorted_slots = torch.tensor([0, 0, 2, 5, 5, 5, 7], dtype=torch.int32)
    seg_slot, seg_start, num_seg = segments_of_sorted(sorted_slots)
    assert num_seg.tolist() == [4]
    assert seg_slot[:4].tolist() == [0, 2, 5, 7]
    assert seg_start[:5].tolist() == [0, 2, 3, 6, 7]


def test_autotune_cache_round_trip(tmp_path, monkeypatch):
    monkeypatch.setenv("SKETCHSERVE_CACHE", str(tmp_path))
    monkeypatch.setenv("SKETCHSERVE_AUTOTUNE", "1")
    monkeypatch.setattr(autotune, "_MEMORY", {})
    monkeypatch.setattr(autotune, "_FAST", {})
    monkeypatch.setattr(autotune, "_LOADED", set())
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    default = {"BLOCK_N": 64}
    if device.type == "cpu":  # no timing without a GPU: the heuristic default comes back
        got = autotune.pick_config("decode", (1, 2), lambda: [{"BLOCK_N": 32}], lambda c: None, lambda: default, device)
        assert got == default
        return
    a = torch.randn(1 << 20, device=device)
    slow = {"BLOCK_N": 32}
    launch = lambda c: a.mul_(1.0) if c is default else [a.mul_(1.0) for _ in range(20)]
    assert autotune.pick_config("decode", (1, 2), lambda: [slow, default], launch, lambda: slow, device) == default
    on_disk = json.loads(autotune.cache_path(device).read_text())
    assert on_disk == {"decode|1,2": default}


@pytest.mark.gpu
def test_autograd_function_on_cuda():
    m, n, k, bits, gpr = 96, 256, 512, 4, 4
    x, codes, pool, slot_of_token = make_case(m, n, k, bits, gpr, 3, "random", torch.bfloat16, seed=5)
    x.requires_grad_(True)
    pool = pool.clone().requires_grad_(True)
    grad_y = torch.randn(m, n, device=DEVICE).to(x.dtype)
    lut_linear_autograd(x, codes, pool, slot_of_token, bits, gpr).backward(grad_y)
    ref_x, ref_lut = lut_linear_backward_reference(grad_y, x.detach(), codes, pool.detach(), slot_of_token, bits)
    assert rel_err(x.grad, ref_x) < TOL[x.dtype]
    assert rel_err(pool.grad, ref_lut) < TOL[x.dtype]


def test_shipped_tuning_choices_are_read_under_the_users_own(tmp_path, monkeypatch):
    shipped, user = tmp_path / "shipped", tmp_path / "user" / "GPU_X.v3.json"
    shipped.mkdir()
    user.parent.mkdir()
    (shipped / user.name).write_text(json.dumps({"decode|1,2": {"BLOCK_N": 8}, "bucket|16": {"BLOCK_N": 32}}))
    user.write_text(json.dumps({"decode|1,2": {"BLOCK_N": 64}}))  # tuned on this machine: it wins
    monkeypatch.setattr(autotune, "SHIPPED_DIR", shipped)
    for shipped_on, expected in (("1", {"decode|1,2": {"BLOCK_N": 64}, "bucket|16": {"BLOCK_N": 32}}),
                                 ("0", {"decode|1,2": {"BLOCK_N": 64}})):  # fmt: skip
        monkeypatch.setenv("SKETCHSERVE_SHIPPED_TUNING", shipped_on)
        monkeypatch.setattr(autotune, "_MEMORY", {})
        monkeypatch.setattr(autotune, "_LOADED", set())
        autotune._load(user)
        assert autotune._MEMORY == expected


def test_every_shipped_choice_file_is_for_this_cache_version_and_names_kernels_the_op_tunes():
    """kernels/tuned/: one file a GPU (the H200's and, since the fifty-first session, the H100's), named as the cache
    names it (the GPU's name, the cache version), each entry a config for a key of a kernel the op tunes."""
    import re
    from pathlib import Path

    op_source = (Path(autotune.__file__).parent / "triton_ops.py").read_text()
    tuned_kernels = set(re.findall(r'pick_config\(\s*"(\w+)"', op_source))
    files = sorted(autotune.SHIPPED_DIR.glob("*.json"))
    assert {f.name for f in files} >= {"NVIDIA_H200.v8.json", "NVIDIA_H100_80GB_HBM3.v8.json"}
    for file in files:
        assert file.name.endswith(f".v{autotune.CACHE_VERSION}.json"), file.name
        choices = json.loads(file.read_text())
        assert choices and all(isinstance(c, dict) and c for c in choices.values()), file.name
        assert {entry.split("|")[0] for entry in choices} <= tuned_kernels, file.name
