"""normal_kl and the decoder as users call them: dtypes, devices, broadcasting, Python floats,
and clear errors."""

from __future__ import annotations

import math

import pytest
import torch

from ddpm_math import (
    approx_standard_normal_cdf,
    discretized_gaussian_log_likelihood,
    normal_kl,
    standard_normal_cdf,
)

FLOAT_DTYPES = [torch.float64, torch.float32, torch.bfloat16, torch.float16]


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_normal_kl_keeps_dtype_and_accepts_python_floats(dtype):
    mean1 = torch.zeros(2, 3, dtype=dtype)
    kl = normal_kl(mean1, 0.0, 1.0, math.log(2.0))
    assert kl.dtype == dtype and kl.shape == (2, 3)
    expected = 0.5 * (math.log(2.0) - 1 + 0.5 + 0.5)  # ½(log(σ2²/σ1²) - 1 + σ1²/σ2² + Δμ²/σ2²)
    assert float(kl[0, 0]) == pytest.approx(expected, rel=1e-2 if dtype.itemsize == 2 else 1e-6)


def test_normal_kl_broadcasts_like_the_reference_code():
    kl = normal_kl(torch.zeros(5, 1, 4), torch.zeros(1, 3, 1), torch.ones(4), 0.5)
    assert kl.shape == (5, 3, 4)


def test_normal_kl_needs_a_tensor():
    with pytest.raises(TypeError, match="at least one of mean1, logvar1, mean2, logvar2"):
        normal_kl(0.0, 0.0, 1.0, 0.0)


def test_normal_kl_rejects_integer_tensors():
    with pytest.raises(TypeError, match="floating dtype"):
        normal_kl(torch.zeros(3, dtype=torch.int64), 0.0, 1.0, 0.0)


def test_normal_kl_is_differentiable():
    args = [torch.randn(4, dtype=torch.float64, generator=torch.Generator().manual_seed(i),
                        requires_grad=True) for i in range(4)]
    assert torch.autograd.gradcheck(normal_kl, args)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("exact", [False, True])
def test_decoder_keeps_dtype_and_shape(dtype, exact):
    x = (torch.arange(256) / 127.5 - 1).to(dtype).reshape(4, 64)
    means = torch.zeros(4, 64, dtype=dtype)
    log_probs = discretized_gaussian_log_likelihood(x, means, -1.0, exact=exact)
    assert log_probs.dtype == dtype and log_probs.shape == (4, 64)
    assert torch.isfinite(log_probs).all()


def test_half_precision_decoder_is_computed_in_float32():
    """Pixel values rounded to float16 still land in their own bins (2/255 apart); the result is
    the float32 computation rounded once."""
    x = torch.arange(256) / 127.5 - 1
    means = torch.full((256,), 0.25)
    half = discretized_gaussian_log_likelihood(x.half(), means.half(), -3.0)
    single = discretized_gaussian_log_likelihood(x.half().float(), means, -3.0)
    assert torch.equal(half, single.half())


def test_decoder_broadcasts_log_scales():
    x = torch.full((2, 3, 8, 8), 1 / 255)  # k = 128, on the 8-bit grid
    log_probs = discretized_gaussian_log_likelihood(x, x, torch.full((1, 3, 1, 1), -2.0))
    assert log_probs.shape == (2, 3, 8, 8)


def test_decoder_rejects_non_tensor_and_integer_inputs():
    with pytest.raises(TypeError, match="x and means must be tensors"):
        discretized_gaussian_log_likelihood([0.0], torch.zeros(1), 0.0)
    with pytest.raises(TypeError, match="floating dtype"):
        discretized_gaussian_log_likelihood(torch.zeros(1, dtype=torch.int64), torch.zeros(1), 0.0)


def test_cdfs_at_known_points():
    """Φ(0) = ½ and Φ(1.959963984540054) = 0.975 (the two-sided 95% point; scipy.stats.norm.ppf)."""
    x = torch.tensor([0.0, 1.959963984540054], dtype=torch.float64)
    assert standard_normal_cdf(x).tolist() == pytest.approx([0.5, 0.975], rel=1e-15)
    assert approx_standard_normal_cdf(x).tolist() == pytest.approx([0.5, 0.975], abs=2e-4)
