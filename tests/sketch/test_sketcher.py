"""One weight: codes in range, exact on few distinct values, and better than the naive baseline."""

from __future__ import annotations

import pytest
import torch

from kernels import dequantize
from kernels.packing import pack_codes
from sketch.sketcher import (
    SketchOptions,
    damped_hessian_factor,
    dequantize_codes,
    naive_sketch_weight,
    refine_lut,
    relative_output_error,
    sketch_weight,
)


def correlated_inputs(k: int, n: int, seed: int = 0) -> torch.Tensor:
    """X [n, K] with strongly correlated columns and a few outlier channels, like LLM activations."""
    g = torch.Generator().manual_seed(seed)
    mixing = torch.randn(k, k, generator=g) / k**0.5
    x = torch.randn(n, k, generator=g) @ mixing + 0.3 * torch.randn(n, k, generator=g)
    x[:, torch.randperm(k, generator=g)[:4]] *= 10
    return x


def hessian_of(x: torch.Tensor) -> torch.Tensor:
    return 2 * x.T @ x / x.shape[0]


def random_weight(n: int, k: int, seed: int = 1) -> torch.Tensor:
    return torch.randn(n, k, generator=torch.Generator().manual_seed(seed)) / k**0.5


@pytest.mark.parametrize("bits,gpr", [(2, 1), (3, 2), (4, 4), (4, 8)])
def test_codes_in_range_and_lut_shape(bits, gpr):
    w = random_weight(24, 72)
    codes, lut = sketch_weight(w, hessian_of(correlated_inputs(72, 256)), SketchOptions(bits=bits, gpr=gpr))
    assert codes.shape == (24, 72) and codes.dtype == torch.int64
    assert int(codes.min()) >= 0 and int(codes.max()) < 2**bits
    assert lut.shape == (24, gpr, 2**bits)
    assert torch.equal(lut, lut.half().float()), "LUT values must be exactly what float16 storage keeps"


@pytest.mark.parametrize("method", ["sketchtune", "naive"])
@pytest.mark.parametrize("bits,gpr", [(2, 4), (3, 1), (4, 2), (4, 8)])
def test_row_groups_with_at_most_2_pow_bits_distinct_values_are_exact(method, bits, gpr):
    n, k, levels = 16, 64, 2**bits
    g = torch.Generator().manual_seed(5)
    group = k // gpr
    values = torch.randint(-64, 64, (n, gpr, levels), generator=g).float() / 128  # float16-exact
    picks = torch.randint(0, levels, (n, k), generator=g)
    w = values.reshape(n, -1).gather(1, (torch.arange(k) // group) * levels + picks)
    options = SketchOptions(bits=bits, gpr=gpr, method=method)
    if method == "naive":
        codes, lut = naive_sketch_weight(w, options)
    else:
        codes, lut = sketch_weight(w, hessian_of(correlated_inputs(k, 256)), options)
    assert torch.equal(dequantize_codes(codes, lut), w)


@pytest.mark.parametrize("bits,gpr", [(2, 4), (3, 4), (4, 1), (4, 4), (4, 8)])
def test_output_error_on_correlated_inputs_is_below_the_naive_baseline(bits, gpr):
    x = correlated_inputs(256, 2048)  # groups of >= 32 columns, so 16 levels cannot be exact
    h = hessian_of(x)
    w = random_weight(64, 256)
    options = SketchOptions(bits=bits, gpr=gpr)
    sketched = dequantize_codes(*sketch_weight(w, h, options))
    naive = dequantize_codes(*naive_sketch_weight(w, options))
    err_sketch = torch.linalg.norm((w - sketched) @ x.T)
    err_naive = torch.linalg.norm((w - naive) @ x.T)
    assert err_sketch < 0.8 * err_naive


def test_lut_refit_never_increases_the_output_error():
    h = hessian_of(correlated_inputs(96, 1024))
    w = random_weight(32, 96)
    codes, lut = sketch_weight(w, h, SketchOptions(bits=3, gpr=2, refine_iters=0))
    damped, _ = damped_hessian_factor(h, 0.01)
    refit = refine_lut(w, codes, lut, damped, iters=5)
    before = relative_output_error(w, dequantize_codes(codes, lut), h)
    after = relative_output_error(w, dequantize_codes(codes, refit), h)
    assert after < before


def test_dead_and_rank_deficient_inputs_are_handled():
    x = correlated_inputs(64, 16)  # fewer tokens than columns: H is singular
    x[:, :5] = 0  # columns never activated
    codes, lut = sketch_weight(random_weight(8, 64), hessian_of(x), SketchOptions(bits=4, gpr=4))
    assert torch.isfinite(lut).all()


def test_uneven_groups_when_k_is_not_a_multiple_of_gpr():
    w = random_weight(8, 36)  # gpr 8: groups of ceil(36/8) = 5 columns, the last one has 1
    codes, lut = sketch_weight(w, hessian_of(correlated_inputs(36, 128)), SketchOptions(bits=4, gpr=8))
    packed = pack_codes(codes, 4)
    assert torch.equal(dequantize(packed, lut, 4, 36), dequantize_codes(codes, lut))
