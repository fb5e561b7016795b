"""The discretised decoder of DDPM eq. (13): bin probabilities, normalisation, and the CDFs.

Oracles: ``scipy.stats.norm.cdf`` at the bin edges (independent of our kernels), mpmath at 50
digits for tail bins whose probabilities underflow scipy's differences, and the numpy
transcription of the reference code for the default (approximate) mode.
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from scipy import special, stats

from ddpm_math import (
    approx_standard_normal_cdf,
    discretized_gaussian_log_likelihood,
    standard_normal_cdf,
)
from ddpm_math.reference import decoder as reference
from ddpm_math.testing.strategies import reals
from ddpm_math.testing.tolerances import TOLERANCES, assert_close

F64 = TOLERANCES["float64"]
#: The 256 values of an 8-bit channel in the [-1, 1] data scale: x = k/127.5 - 1.
PIXELS = torch.arange(256, dtype=torch.float64) / 127.5 - 1.0

means = reals(-3.0, 3.0)
#: scales from 1e-4 to 10 (the range the issue asks the exact mode to normalise over)
log_scales = st.floats(math.log(1e-4), math.log(10.0))


def all_bins(mean: float, log_scale: float, *, exact: bool) -> torch.Tensor:
    """log P(k) for the 256 values under one Gaussian, float64."""
    m = torch.full((256,), mean, dtype=torch.float64)
    return discretized_gaussian_log_likelihood(PIXELS, m, log_scale, exact=exact)


def scipy_bin_probabilities(mean: float, scale: float, half_width: float = 1 / 255) -> np.ndarray:
    """P(bin k) = Φ(upper) - Φ(lower) at the bin edges, first and last bins open."""
    x = PIXELS.numpy()
    upper = np.where(x > 0.999, np.inf, x + half_width)
    lower = np.where(x < -0.999, -np.inf, x - half_width)
    return stats.norm.cdf(upper, mean, scale) - stats.norm.cdf(lower, mean, scale)


@given(means, log_scales)
def test_exact_bins_equal_scipy_cdf_differences(mean, log_scale):
    probs = all_bins(mean, log_scale, exact=True).exp().numpy()
    expected = scipy_bin_probabilities(mean, math.exp(log_scale))
    # scipy's difference of two CDFs has absolute error ~eps; the tolerance is absolute.
    np.testing.assert_allclose(probs, expected, rtol=1e-9, atol=1e-14)


@given(means, log_scales)
def test_exact_probabilities_sum_to_one_and_are_finite(mean, log_scale):
    log_probs = all_bins(mean, log_scale, exact=True)
    assert torch.isfinite(log_probs).all()
    total = float(torch.logsumexp(log_probs, 0).exp())
    assert abs(total - 1.0) <= 1e-10


@pytest.mark.parametrize("mean", [-3.0, -1.0, -0.5, 0.0, 0.77, 1.0, 3.0])
@pytest.mark.parametrize("scale", [1e-4, 1e-3, 0.01, 0.1, 1.0, 10.0])
def test_exact_probabilities_sum_to_one_on_a_grid(mean, scale):
    log_probs = all_bins(mean, math.log(scale), exact=True)
    assert torch.isfinite(log_probs).all()
    assert abs(float(torch.logsumexp(log_probs, 0).exp()) - 1.0) <= 1e-10


def test_wrong_bin_widths_fail_the_normalisation_check():
    """Bins of half-width 1/127.5 overlap and closed end bins lose the tails: neither sums to 1."""
    assert abs(scipy_bin_probabilities(0.2, 0.5).sum() - 1) <= 1e-12
    assert abs(scipy_bin_probabilities(0.2, 0.5, half_width=1 / 127.5).sum() - 1) > 0.5
    x = PIXELS.numpy()
    closed = stats.norm.cdf(x + 1 / 255, 0.9, 0.5) - stats.norm.cdf(x - 1 / 255, 0.9, 0.5)
    assert abs(closed.sum() - 1) > 0.1


def mp_log_bin_probability(x: float, mean: float, scale: float) -> float:
    """log P(bin of x) in mpmath at 50 digits: a difference of lower-tail CDFs left of the mean
    and of survival functions right of it (erfc keeps the far tails; 1 - CDF would not)."""
    with mpmath.workdps(50):
        lo = -mpmath.inf if x < -0.999 else mpmath.mpf(x) - mpmath.mpf(1) / 255
        hi = mpmath.inf if x > 0.999 else mpmath.mpf(x) + mpmath.mpf(1) / 255
        cdf = lambda v: mpmath.erfc(-(v - mean) / (scale * mpmath.sqrt(2))) / 2  # noqa: E731
        survival = lambda v: mpmath.erfc((v - mean) / (scale * mpmath.sqrt(2))) / 2  # noqa: E731
        mass = survival(lo) - survival(hi) if lo > mean else cdf(hi) - cdf(lo)
        return float(mpmath.log(mass))


@pytest.mark.parametrize(
    "k, mean, scale",
    [(0, 3.0, 1e-4), (255, -3.0, 1e-4), (128, 3.0, 0.01), (10, -0.9, 1e-3), (250, 0.999, 1e-3),
     (200, 0.0, 0.05), (255, 1.0, 1e-4), (0, -1.0, 10.0)],
)
def test_exact_tail_bins_match_mpmath(k, mean, scale):
    """Far-tail bins (log P down to about -10^9): relative accuracy in log P, where scipy
    differences would give log 0 = -inf."""
    x = float(PIXELS[k])
    got = float(discretized_gaussian_log_likelihood(
        PIXELS[k:k + 1], torch.tensor([mean], dtype=torch.float64), math.log(scale), exact=True))
    want = mp_log_bin_probability(x, mean, scale)
    assert got == pytest.approx(want, rel=1e-9, abs=1e-12)


def test_float32_exact_mode_is_finite_and_normalised():
    for mean, scale in [(3.0, 1e-4), (-3.0, 1e-4), (0.1, 10.0), (0.5, 0.01)]:
        m = torch.full((256,), mean, dtype=torch.float32)
        log_probs = discretized_gaussian_log_likelihood(PIXELS.float(), m, math.log(scale),
                                                        exact=True)
        assert torch.isfinite(log_probs).all()
        assert abs(float(torch.logsumexp(log_probs.double(), 0).exp()) - 1) < 1e-5


@given(means, log_scales)
def test_default_mode_equals_reference_code_transcription(mean, log_scale):
    got = all_bins(mean, log_scale, exact=False)
    want = reference.discretized_gaussian_log_likelihood(PIXELS.numpy(), mean, log_scale)
    # Φ̃ = ½(1 + tanh(·)) carries an absolute error of a few eps where tanh ≈ -1, so two
    # implementations agree to a few eps in probability, not in log-probability.
    np.testing.assert_allclose(got.exp().numpy(), np.exp(want), rtol=F64.rtol, atol=1e-15)


@given(means, st.floats(math.log(1e-2), math.log(10.0)))
def test_exact_mode_matches_reference_transcription_where_it_is_finite(mean, log_scale):
    got = all_bins(mean, log_scale, exact=True).numpy()
    want = reference.discretized_gaussian_log_likelihood(PIXELS.numpy(), mean, log_scale,
                                                         exact=True)
    finite = np.exp(want) > 1e-250  # the naive transcription loses relative accuracy below
    np.testing.assert_allclose(got[finite], want[finite], rtol=1e-8, atol=1e-12)


def test_exact_cdf_matches_special_ndtr_including_the_lower_tail():
    """Relative accuracy down to Φ(-37) ≈ 6e-300; rounding x/√2 costs a relative x²·eps."""
    x = torch.linspace(-37, 30, 10001, dtype=torch.float64)
    want = special.ndtr(x.numpy())
    allowed = 1e-15 * (4 + x.numpy() ** 2)

    def relative_error(cdf):
        return np.abs(cdf(x).numpy() - want) / want

    assert np.all(relative_error(standard_normal_cdf) <= allowed)
    # torch.special.ndtr, which this replaces, fails the same check (it is 0 at x = -9)
    assert not np.all(relative_error(torch.special.ndtr) <= allowed)
    np.testing.assert_allclose(reference.standard_normal_cdf(x.numpy()), want,
                               rtol=1e-12, atol=1e-16)


def test_approximate_cdf_worst_error_is_about_1_8e_4():
    """Measured on a grid of step 1e-5 over [-12, 12]: max |Φ̃ - Φ| = 1.789e-4 at |x| ≈ 2.592.

    This pins the figure the docstring of ``approx_standard_normal_cdf`` states."""
    x = torch.linspace(-12, 12, 2_400_001, dtype=torch.float64)
    error = (approx_standard_normal_cdf(x) - standard_normal_cdf(x)).abs()
    worst = int(error.argmax())
    assert 1.78e-4 < float(error[worst]) < 1.80e-4
    assert abs(abs(float(x[worst])) - 2.592) < 1e-2


def test_approximate_cdf_tail_behaviour():
    """The tanh form underestimates the tail: 1 - Φ̃(x) / (1 - Φ(x)) = 0.55 at 4, 0.16 at 5,
    0.014 at 6 (scipy for Φ), and 1 - Φ̃ is exactly 0 in float64 from x ≈ 7.11 on, which is why
    the reference code floors probabilities at 1e-12."""
    x = torch.tensor([4.0, 5.0, 6.0, 7.12], dtype=torch.float64)
    ratio = (1 - approx_standard_normal_cdf(x)).numpy() / special.ndtr(-x.numpy())
    np.testing.assert_allclose(ratio[:3], [0.5545, 0.1599, 0.01426], rtol=1e-3)
    assert float(ratio[3]) == 0.0
    # symmetry Φ̃(-x) = 1 - Φ̃(x) holds (tanh is odd)
    assert_close(approx_standard_normal_cdf(-x), 1 - approx_standard_normal_cdf(x),
                 F64.scaled(1e3))
    # the floor makes the default mode finite where 1 - Φ̃ underflows
    far = discretized_gaussian_log_likelihood(
        PIXELS[-1:], torch.tensor([-3.0], dtype=torch.float64), math.log(1e-2))
    assert float(far) == pytest.approx(math.log(1e-12))


def test_exact_mode_gradients_are_finite():
    m = torch.tensor([0.3, -2.9, 2.9], dtype=torch.float64, requires_grad=True)
    s = torch.tensor([-4.0, -9.0, 2.0], dtype=torch.float64, requires_grad=True)
    x = PIXELS[[0, 128, 255]]
    discretized_gaussian_log_likelihood(x, m, s, exact=True).sum().backward()
    assert torch.isfinite(m.grad).all() and torch.isfinite(s.grad).all()
    assert torch.autograd.gradcheck(
        lambda mm, ss: discretized_gaussian_log_likelihood(x, mm, ss, exact=True),
        (m.detach().clone().requires_grad_(), torch.full((3,), -1.0, dtype=torch.float64,
                                                         requires_grad=True)))
