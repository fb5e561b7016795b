"""mpmath oracle (lambdified eq. 4 derivation) against the float64 reference of q(x_t | x_0)."""

import numpy as np
import pytest
from hypothesis import given

from ddpm_math import NoiseSchedule
from ddpm_math.reference import forward as ref
from ddpm_math.reference import mp
from ddpm_math.testing.strategies import diffusion_batches
from ddpm_math.testing.tolerances import TOLERANCES, assert_close

TOL = TOLERANCES["mpmath_vs_float64"]


def _summation_scale(*terms) -> float:
    """Σ|term|, the size of the rounding error of a float64 sum relative to eps (at least 1)."""
    return max(1.0, float(np.max(sum(np.abs(term) for term in terms))))


@given(diffusion_batches(n_arrays=1))
def test_q_mean_variance(batch):
    schedule, t, (x0,) = batch
    for actual, expected in zip(ref.q_mean_variance(schedule, x0, t),
                                mp.q_mean_variance(schedule, x0, t), strict=True):
        assert_close(actual, expected, TOL)


@given(diffusion_batches(n_arrays=2))
def test_q_sample(batch):
    schedule, t, (x0, noise) = batch
    mean, variance, _ = mp.q_mean_variance(schedule, x0, t)
    scale = _summation_scale(mean, np.sqrt(variance) * noise)
    assert_close(ref.q_sample(schedule, x0, t, noise), mp.q_sample(schedule, x0, t, noise),
                 TOL.scaled(scale))


def test_oracle_rejects_plausible_wrong_kernels():
    """ᾱ_{t-1} for ᾱ_t, or ᾱ_t without its square root, fails the same comparison."""
    schedule = NoiseSchedule.linear(1000)  # the DDPM §4 schedule
    t = np.array([0, 10, 500, 999])
    x0 = np.full((4, 2), 0.7)
    expected_mean, expected_variance, _ = mp.q_mean_variance(schedule, x0, t)
    wrong_means = [
        np.sqrt(schedule.alpha_bar_prev[t])[:, None] * x0,
        schedule.alpha_bar[t][:, None] * x0,
    ]
    for wrong in wrong_means:
        with pytest.raises(AssertionError):
            assert_close(wrong, expected_mean, TOL)
    with pytest.raises(AssertionError):
        assert_close(np.broadcast_to(1.0 - schedule.alpha_bar_prev[t][:, None], x0.shape),
                     expected_variance, TOL)
