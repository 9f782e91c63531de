"""The torch reference op against a plain dense computation, and its backward against autograd."""

import pytest
import torch

from kernels import SlotSegments, dequantize, lut_linear, lut_linear_autograd, pack_codes
from kernels.reference import code_counts, column_groups


def make_layer(n, k, bits, gpr, slots, seed=0):
    g = torch.Generator().manual_seed(seed)
    codes = torch.randint(0, 2**bits, (n, k), generator=g)
    lut_pool = torch.randn(slots, n, gpr, 2**bits, generator=g)
    return codes, pack_codes(codes, bits), lut_pool


def dense_weight(codes, lut, k):
    # Straight from the definition: W[r, c] = lut[r, c // gs, codes[r, c]].
    n, gpr, _ = lut.shape
    groups = column_groups(k, gpr)
    w = torch.empty(n, k)
    for r in range(n):
        for c in range(k):
            w[r, c] = lut[r, groups[c], codes[r, c]]
    return w


@pytest.mark.parametrize("bits,gpr,k", [(4, 1, 16), (4, 4, 33), (3, 2, 17), (2, 8, 40)])
def test_dequantize_matches_definition(bits, gpr, k):
    codes, packed, pool = make_layer(7, k, bits, gpr, 1)
    assert torch.equal(dequantize(packed, pool[0], bits, k), dense_weight(codes, pool[0], k))


@pytest.mark.parametrize("bits", [2, 3, 4])
def test_each_token_uses_its_own_slot(bits):
    n, k, gpr, s, m = 11, 37, 4, 3, 9
    codes, packed, pool = make_layer(n, k, bits, gpr, s, seed=bits)
    x = torch.randn(m, k)
    slot_of_token = torch.randint(0, s, (m,), dtype=torch.int32)
    y = lut_linear(x, packed, pool, slot_of_token, bits, gpr)
    for t in range(m):
        w = dense_weight(codes, pool[slot_of_token[t]], k)
        torch.testing.assert_close(y[t], x[t] @ w.T, rtol=1e-5, atol=1e-5)


def test_backward_matches_autograd_of_dense_weight():
    n, k, bits, gpr, s, m = 6, 20, 4, 2, 2, 5
    codes, packed, pool = make_layer(n, k, bits, gpr, s, seed=3)
    x = torch.randn(m, k, requires_grad=True)
    pool = pool.clone().requires_grad_(True)
    slot_of_token = torch.tensor([0, 1, 1, 0, 1], dtype=torch.int32)
    grad_y = torch.randn(m, n)
    lut_linear_autograd(x, packed, pool, slot_of_token, bits, gpr).backward(grad_y)

    x2 = x.detach().clone().requires_grad_(True)
    pool2 = pool.detach().clone().requires_grad_(True)
    groups = column_groups(k, gpr)
    ys = []
    for t in range(m):
        w = pool2[slot_of_token[t]][torch.arange(n)[:, None], groups[None, :], codes]  # autograd through gather
        ys.append(x2[t] @ w.T)
    torch.stack(ys).backward(grad_y)
    torch.testing.assert_close(x.grad, x2.grad, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(pool.grad, pool2.grad, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("one_slot", [True, False], ids=["one slot (fine-tuning)", "mixed slots"])
def test_bf16_cpu_compute_keeps_float32_outputs_and_lut_gradient_sums_within_bf16_rounding(one_slot):
    """cpu_compute_dtype=bfloat16 (CPU fine-tuning on bf16 matrix units): the matmuls take bf16 inputs, so y, grad_x
    and grad_lut are the float32 path's within bf16's rounding of the inputs (2**-8 relative), in the float32 dtypes
    of x and the pool; the LUT gradient's sums stay float32 (no bf16 accumulation over the many weights of an entry)."""
    n, k, bits, gpr, s, m = 48, 256, 4, 2, 2, 24
    codes, packed, pool = make_layer(n, k, bits, gpr, s, seed=5)
    x = torch.randn(m, k)
    slot_of_token = torch.zeros(m, dtype=torch.int32) if one_slot else torch.randint(0, s, (m,), dtype=torch.int32)
    grad_y = torch.randn(m, n)
    grads = {}
    for dtype in (torch.float32, torch.bfloat16):
        xi, pi = x.clone().requires_grad_(True), pool.clone().requires_grad_(True)
        y = lut_linear_autograd(xi, packed, pi, slot_of_token, bits, gpr, cpu_compute_dtype=dtype)
        y.backward(grad_y)
        assert y.dtype == xi.grad.dtype == pi.grad.dtype == torch.float32
        grads[dtype] = (y.detach(), xi.grad, pi.grad)
    for exact, fast in zip(grads[torch.float32], grads[torch.bfloat16], strict=True):
        assert not torch.equal(exact, fast)  # (the bf16 path ran)
        scale = exact.abs().max()
        torch.testing.assert_close(fast / scale, exact / scale, rtol=0, atol=2e-2)


def test_bad_arguments_are_rejected_with_clear_errors():
    _, packed, pool = make_layer(4, 16, 4, 2, 2)
    x = torch.randn(3, 16)
    ok = torch.zeros(3, dtype=torch.int32)
    with pytest.raises(ValueError, match="slots in"):
        lut_linear(x, packed, pool, torch.tensor([0, 2, 1], dtype=torch.int32), 4, 2)
    with pytest.raises(ValueError, match="lut_pool must be"):
        lut_linear(x, packed, pool, ok, 4, 4)
    with pytest.raises(ValueError, match="packs to"):
        lut_linear(torch.randn(3, 24), packed, pool, ok, 4, 2)
    with pytest.raises(ValueError, match="slot_of_token must be"):
        lut_linear(x, packed, pool, torch.zeros(2, dtype=torch.int32), 4, 2)


@pytest.mark.parametrize("bits, k, gpr", [(4, 37, 3), (2, 20, 1), (3, 64, 4), (4, 130, 2)])
def test_code_counts_weigh_each_lut_entry_by_the_weights_that_use_it(bits, k, gpr):
    """code_counts [N, gpr, 2**bits]: each row's counts sum to K, and sum(counts * lut**2) is ||W_hat||**2 for any
    LUT (here in row chunks of 3, the last one short)."""
    g = torch.Generator().manual_seed(bits * k)
    codes = torch.randint(0, 2**bits, (7, k), generator=g)
    counts = code_counts(pack_codes(codes, bits), bits, k, gpr, rows_at_once=3)
    assert counts.shape == (7, gpr, 2**bits) and torch.equal(counts.sum(dim=(1, 2)), torch.full((7,), float(k)))
    lut = torch.randn(7, gpr, 2**bits, generator=g, dtype=torch.float64)
    w = dequantize(pack_codes(codes, bits), lut, bits, k)
    assert torch.allclose((counts.double() * lut**2).sum(), w.pow(2).sum())


@pytest.mark.parametrize("counts", [[5], [2, 0, 7], [1, 1, 1, 1, 3]])
def test_segments_from_counts_hold_each_run_s_slot_and_start_on_the_device_and_host(counts):
    """One device tensor holds both (one copy): starts [G + 1] first, the slots [G] from a 16-byte boundary after
    them; host_bounds says the same as (slot, start, end); per_token must cover every token."""
    slots = [3, 0, 2, 1, 4][: len(counts)]
    segments = SlotSegments.from_counts(slots, counts, "cpu")
    starts = [sum(counts[:i]) for i in range(len(counts) + 1)]
    assert segments.slots.dtype == segments.starts.dtype == torch.int32
    assert segments.slots.tolist() == slots and segments.starts.tolist() == starts
    assert (segments.slots.data_ptr() - segments.starts.data_ptr()) % 16 == 0
    assert segments.host_bounds == tuple(zip(slots, starts[:-1], starts[1:], strict=True))
    per_token = [slot for slot, c in zip(slots, counts, strict=True) for _ in range(c)]
    assert segments.slot_of_token().tolist() == per_token
    with pytest.raises(ValueError, match="per_token must be"):
        SlotSegments.from_counts(slots, counts, "cpu", per_token=torch.zeros(sum(counts) + 1, dtype=torch.int32))


def test_autograd_takes_segments_as_lut_linear_does_and_gives_the_per_token_gradients():
    """Slots given as SlotSegments (two tasks' tokens contiguous) give the same output and gradients as the same slots
    per token."""
    n, k, bits, gpr = 6, 20, 4, 2
    _, packed, pool = make_layer(n, k, bits, gpr, 2, seed=4)
    x = torch.randn(5, k)
    segments = SlotSegments.from_counts([1, 0], [2, 3], "cpu")
    grad_y = torch.randn(5, n)
    grads = []
    for slots in (segments, segments.slot_of_token()):
        xi, pi = x.clone().requires_grad_(True), pool.clone().requires_grad_(True)
        y = lut_linear_autograd(xi, packed, pi, slots, bits, gpr)
        y.backward(grad_y)
        grads.append((y.detach(), xi.grad, pi.grad))
    for a, b in zip(*grads, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_on_cuda_autograd_hands_the_segments_to_the_triton_forward(monkeypatch):
    """The CUDA path (faked here: CI has no GPU) gets the caller's segments, so a long one takes the planned path
    (one dequantized weight and cuBLAS) instead of the fused kernel over sorted per-token slots."""
    import importlib

    from kernels import reference, triton_ops

    module = importlib.import_module("kernels.lut_linear")  # the module (the package exports its function)

    seen = []

    def forward(x, codes_packed, lut_pool, slots, bits, segments=None, **kwargs):
        seen.append(segments)
        return reference.lut_linear_reference(x, codes_packed, lut_pool, slots, bits)

    monkeypatch.setattr(module, "_use_triton", lambda x: True)
    monkeypatch.setattr(triton_ops, "lut_linear_forward", forward)
    _, packed, pool = make_layer(6, 20, 4, 1, 1, seed=5)
    segments = SlotSegments.from_counts([0], [4], "cpu")
    lut_linear_autograd(torch.randn(4, 20), packed, pool, segments, 4, 1)
    assert len(seen) == 1 and seen[0] is segments


def test_on_cuda_the_range_checks_one_host_copy_of_the_slots_hands_it_to_the_prefill_plan(monkeypatch):
    """lut_linear and its autograd form read per-token slots back once for the range check and give that copy to the
    Triton forward (CUDA faked here), which plans a prefill from it; no copy where the caller gave segments or
    skipped the check (the server's graphs, which must not read the device)."""
    import importlib

    from kernels import reference, triton_ops

    module = importlib.import_module("kernels.lut_linear")
    seen = []

    def forward(x, codes_packed, lut_pool, slots, bits, segments=None, host_slots=None, **kwargs):
        seen.append(host_slots)
        return reference.lut_linear_reference(x, codes_packed, lut_pool, slots, bits)

    monkeypatch.setattr(module, "_use_triton", lambda x: True)
    monkeypatch.setattr(triton_ops, "lut_linear_forward", forward)
    _, packed, pool = make_layer(6, 20, 4, 1, 3, seed=7)
    x, slots = torch.randn(4, 20), torch.tensor([2, 2, 0, 1], dtype=torch.int32)
    lut_linear(x, packed, pool, slots, 4, 1)
    lut_linear_autograd(x, packed, pool, slots, 4, 1)
    assert len(seen) == 2 and all(torch.equal(h, slots) and h.device.type == "cpu" for h in seen)
    seen.clear()
    lut_linear(x, packed, pool, slots, 4, 1, check_slot_range=False)
    lut_linear(x, packed, pool, SlotSegments.from_counts([2, 0], [2, 2], "cpu"), 4, 1)
    lut_linear_autograd(x, packed, pool, slots, 4, 1, check_slot_range=False)
    assert seen == [None, None, None]

def test_autograd_checks_the_slot_range_unless_told_the_slots_are_valid():
    """A slot past the pool is a clear ValueError by default; check_slot_range=False (a caller whose slots are valid
    by construction) skips that device read and computes as before on valid slots."""
    _, packed, pool = make_layer(6, 20, 4, 1, 2, seed=6)
    x = torch.randn(3, 20)
    with pytest.raises(ValueError, match="slot"):
        lut_linear_autograd(x, packed, pool, torch.tensor([0, 2, 1], dtype=torch.int32), 4, 1)
    slots = torch.tensor([0, 1, 1], dtype=torch.int32)
    torch.testing.assert_close(lut_linear_autograd(x, packed, pool, slots, 4, 1, check_slot_range=False),
                               lut_linear_autograd(x, packed, pool, slots, 4, 1), rtol=0, atol=0)  # fmt: skip
