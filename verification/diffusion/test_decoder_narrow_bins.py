"""The exact decoder's narrow-bin and far-tail branch, and log(sinh y / y), against mpmath.

DDPM eq. (13) integrates N(μ, σ²) over the bin [x - 1/255, x + 1/255]. For enormous σ, or a
bin far in a tail, the CDF difference Φ(b) - Φ(a) cancels; ``diffusion.decoder`` then uses
φ(m) · w · sinh(y)/y (m, w: the standardised centre and width, y = |m| w / 2), whose
log(sinh y / y) is evaluated by a series below y = 0.01. The oracle is mpmath at 50 digits on
the same float64 inputs, taking the difference on the side of the mean where it does not
cancel (Φ(b) - Φ(a) = Q(a) - Q(b), Q(z) = Φ(-z)).
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import torch

from ddpm_math.diffusion.decoder import _log_sinhc, discretized_gaussian_log_likelihood

X = 2.0 * 128 / 255 - 1.0  # an interior 8-bit value, k = 128


def _bin(x: float, mean: float, log_scale: float):
    """σ, the standardised bin edges a < b and the bin mass Φ(b) - Φ(a) (from the nearer
    tail), in mpmath at the caller's working precision."""
    sigma = mpmath.exp(mpmath.mpf(log_scale))
    a = (mpmath.mpf(x) - mpmath.mpf(mean) - mpmath.mpf(1) / 255) / sigma
    b = (mpmath.mpf(x) - mpmath.mpf(mean) + mpmath.mpf(1) / 255) / sigma
    mass = mpmath.ncdf(-a) - mpmath.ncdf(-b) if a > 0 else mpmath.ncdf(b) - mpmath.ncdf(a)
    return sigma, a, b, mass


def log_bin_mass(x: float, mean: float, log_scale: float) -> float:
    with mpmath.workdps(50):
        return float(mpmath.log(_bin(x, mean, log_scale)[3]))


# (mean, log σ): which condition makes the bin narrow, and y = |m| w / 2 there
CASES = {
    "huge_scale_centred": (X + 0.3, math.log(1e6)),  # w ≈ 7.8e-9, m ≈ -3e-7: w³ ≤ 8 eps
    "huge_scale_off_centre": (X - 5e6, math.log(1e6)),  # m = 5, y ≈ 2e-8
    "far_tail_small_y": (X + 3e5, math.log(1e3)),  # m = -300, w ≈ 7.8e-6, y ≈ 1.2e-3
    "far_tail_series_edge": (X - 2.5e6, math.log(2e3)),  # m = 1250, y ≈ 4.9e-3
    "far_tail_large_y": (X - 3e5, math.log(10.0)),  # m = 3e4, w ≈ 7.8e-4: w² ≤ 4 eps m², y ≈ 12
    "ordinary_bin": (X + 0.01, math.log(0.05)),  # not narrow: the CDF difference
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_exact_interior_bin_mass_matches_mpmath(name):
    mean, log_scale = CASES[name]
    got = discretized_gaussian_log_likelihood(
        torch.tensor([X], dtype=torch.float64), torch.tensor([mean], dtype=torch.float64),
        torch.tensor([log_scale], dtype=torch.float64), exact=True)
    want = log_bin_mass(X, mean, log_scale)
    # relative 1e-13 of log P: the rounding of log φ(m) = -m²/2 - ½log 2π and of m itself
    assert float(got[0]) == pytest.approx(want, rel=1e-13, abs=1e-13)


Y = [0.0, 1e-8, 1e-4, 3e-3, 9.9e-3, 1e-2, 0.05, 0.5, 3.0, 40.0, 700.0]


def log_sinhc(y: float) -> float:
    with mpmath.workdps(50):
        y = mpmath.mpf(y)
        return 0.0 if y == 0 else float(mpmath.log(mpmath.sinh(y) / y))


def test_log_sinhc_matches_mpmath():
    got = _log_sinhc(torch.tensor(Y, dtype=torch.float64)).numpy()
    want = np.array([log_sinhc(y) for y in Y])
    # the series y²/6 - y⁴/180 stops with error y⁶/2835: relative y⁴/472, 2e-11 at y = 0.01
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=0.0)


def d_log_bin_mass_d_mean(x: float, mean: float, log_scale: float) -> float:
    """∂/∂μ log(Φ(b) - Φ(a)) = (φ(a) - φ(b)) / (σ (Φ(b) - Φ(a))), mpmath at 50 digits."""
    with mpmath.workdps(50):
        sigma, a, b, mass = _bin(x, mean, log_scale)
        return float((mpmath.npdf(a) - mpmath.npdf(b)) / (sigma * mass))


@pytest.mark.parametrize("name", sorted(CASES))
def test_exact_interior_bin_gradient_in_the_mean_matches_mpmath(name):
    """The gradient is finite on the narrow branch too: torch.where's unused branch must stay
    finite there, or 0 · inf = NaN reaches the mean's gradient."""
    mean, log_scale = CASES[name]
    means = torch.tensor([mean], dtype=torch.float64, requires_grad=True)
    log_p = discretized_gaussian_log_likelihood(
        torch.tensor([X], dtype=torch.float64), means,
        torch.tensor([log_scale], dtype=torch.float64), exact=True)
    (grad,) = torch.autograd.grad(log_p.sum(), means)
    want = d_log_bin_mass_d_mean(X, mean, log_scale)
    # the narrow form drops e^{-u²/2} (relative error ≤ w²/8 in the mass, and in its slope)
    assert float(grad[0]) == pytest.approx(want, rel=1e-7, abs=1e-12)
