"""mpmath oracle (lambdified Bayes derivation) against the float64 reference posterior."""

import numpy as np
import pytest
from hypothesis import given

from ddpm_math import NoiseSchedule
from ddpm_math.reference import mp
from ddpm_math.reference import posterior as ref
from ddpm_math.testing.strategies import diffusion_batches
from ddpm_math.testing.tolerances import TOLERANCES, assert_close

TOL = TOLERANCES["mpmath_vs_float64"]


def _scale(*terms) -> float:
    """Σ|term| (at least 1): the rounding error of a float64 sum is about eps times this."""
    return max(1.0, float(np.max(sum(np.abs(term) for term in terms))))


def _coefficients(schedule, t, ndim):
    """The two eq. (7) coefficients at t, from the oracle (x_0 = 1, x_t = 0 and vice versa)."""
    shape = (len(t),) + (1,) * (ndim - 1)
    ones, zeros = np.ones(shape), np.zeros(shape)
    return mp.mu_tilde(schedule, ones, zeros, t), mp.mu_tilde(schedule, zeros, ones, t)


@given(diffusion_batches(n_arrays=2))
def test_q_posterior(batch):
    schedule, t, (x0, x_t) = batch
    coef_x0, coef_xt = _coefficients(schedule, t, x0.ndim)
    expected = mp.q_posterior(schedule, x0, x_t, t)
    actual = ref.q_posterior(schedule, x0, x_t, t)
    assert_close(actual[0], expected[0], TOL.scaled(_scale(coef_x0 * x0, coef_xt * x_t)))
    assert_close(actual[1], expected[1], TOL)
    assert_close(actual[2], expected[2], TOL)


@given(diffusion_batches(n_arrays=2))
def test_mu_tilde_from_eps(batch):
    schedule, t, (x_t, eps) = batch
    sqrt_alpha = np.sqrt(schedule.alpha[t]).reshape((-1,) + (1,) * (x_t.ndim - 1))
    eps_coef = (schedule.beta / schedule.sqrt_one_minus_alpha_bar)[t].reshape(sqrt_alpha.shape)
    scale = _scale(x_t, eps_coef * eps) / float(np.min(sqrt_alpha))
    assert_close(ref.mu_tilde_from_eps(schedule, x_t, t, eps),
                 mp.mu_tilde_from_eps(schedule, x_t, t, eps), TOL.scaled(scale))


@given(diffusion_batches(n_arrays=2))
def test_two_routes_to_mu_tilde(batch):
    """μ̃ via its two coefficients equals μ̃ via the ε form when x_t is made from (x_0, ε)."""
    schedule, t, (x0, eps) = batch
    shape = (-1,) + (1,) * (x0.ndim - 1)
    x_t = (schedule.sqrt_alpha_bar[t].reshape(shape) * x0
           + schedule.sqrt_one_minus_alpha_bar[t].reshape(shape) * eps)
    via_x0 = mp.mu_tilde(schedule, x0, x_t, t)
    via_eps = mp.mu_tilde_from_eps(schedule, x_t, t, eps)
    # both oracles are exact for the same x_t, so they agree far below float64 rounding
    assert_close(via_x0, via_eps, TOL.scaled(_scale(x_t, eps) / float(np.min(np.sqrt(
        schedule.alpha[t])))))


def test_oracle_rejects_plausible_wrong_posteriors():
    """ᾱ_t for ᾱ_{t-1}, swapped coefficients and β_t for β̃_t all fail the same comparison."""
    schedule = NoiseSchedule.linear(1000)  # the DDPM §4 schedule
    t = np.array([1, 10, 500, 999])
    x0, x_t = np.full((4, 3), 0.5), np.full((4, 3), -1.25)
    mean, variance, _ = mp.q_posterior(schedule, x0, x_t, t)
    beta, alpha = schedule.beta[t][:, None], schedule.alpha[t][:, None]
    alpha_bar = schedule.alpha_bar[t][:, None]
    one_minus = schedule.one_minus_alpha_bar[t][:, None]
    prev = schedule.alpha_bar_prev[t][:, None]
    coef_x0 = np.sqrt(prev) * beta / one_minus
    coef_xt = np.sqrt(alpha) * (1 - prev) / one_minus
    wrong_means = [
        np.sqrt(alpha_bar) * beta / one_minus * x0 + coef_xt * x_t,  # ᾱ_t for ᾱ_{t-1}
        coef_xt * x0 + coef_x0 * x_t,  # swapped coefficients
        coef_x0 * x0 + alpha * (1 - prev) / one_minus * x_t,  # missing square root
    ]
    for wrong in wrong_means:
        with pytest.raises(AssertionError):
            assert_close(wrong, mean, TOL)
    with pytest.raises(AssertionError):
        assert_close(np.broadcast_to(beta, x_t.shape), variance, TOL)
