"""mpmath oracles (solved in sympy) against the float64 reference conversions."""

import numpy as np
import pytest
from hypothesis import given

from ddpm_math import NoiseSchedule
from ddpm_math.reference import mp
from ddpm_math.reference import parameterization as ref
from ddpm_math.testing.strategies import diffusion_batches
from ddpm_math.testing.tolerances import TOLERANCES, assert_close

TOL = TOLERANCES["mpmath_vs_float64"]


def _per_step(schedule, name, t, ndim):
    return getattr(schedule, name)[t].reshape((-1,) + (1,) * (ndim - 1))


def _scale(*terms, divisor=1.0) -> float:
    """Σ|term| / divisor (at least 1): the float64 rounding error of a sum, amplified by a
    division by ``divisor`` (the condition number of the conversion, e.g. 1/√ᾱ_t)."""
    return max(1.0, float(np.max(sum(np.abs(term) for term in terms) / divisor)))


@given(diffusion_batches(n_arrays=2))
def test_eps_x0_conversions(batch):
    schedule, t, (x_t, other) = batch
    signal = _per_step(schedule, "sqrt_alpha_bar", t, x_t.ndim)
    noise = _per_step(schedule, "sqrt_one_minus_alpha_bar", t, x_t.ndim)
    assert_close(ref.x0_from_eps(schedule, x_t, t, other), mp.x0_from_eps(schedule, x_t, t, other),
                 TOL.scaled(_scale(x_t, noise * other, divisor=signal)))
    assert_close(ref.eps_from_x0(schedule, x_t, t, other), mp.eps_from_x0(schedule, x_t, t, other),
                 TOL.scaled(_scale(x_t, signal * other, divisor=noise)))


@given(diffusion_batches(n_arrays=2))
def test_v_conversions(batch):
    schedule, t, (a, b) = batch
    signal = _per_step(schedule, "sqrt_alpha_bar", t, a.ndim)
    noise = _per_step(schedule, "sqrt_one_minus_alpha_bar", t, a.ndim)
    scale = _scale(signal * a, noise * b) + _scale(noise * a, signal * b)
    for name in ("v_from_x0_eps", "x0_from_v", "eps_from_v"):
        assert_close(getattr(ref, name)(schedule, a, t, b), getattr(mp, name)(schedule, a, t, b),
                     TOL.scaled(scale), err_msg=name)


@given(diffusion_batches(n_arrays=1))
def test_score_from_eps(batch):
    schedule, t, (eps,) = batch
    assert_close(ref.score_from_eps(schedule, t, eps), mp.score_from_eps(schedule, t, eps), TOL)


@given(diffusion_batches(n_arrays=2))
def test_x0_from_xprev(batch):
    schedule, t, (x_t, xprev) = batch
    ones, zeros = np.ones_like(x_t), np.zeros_like(x_t)
    coef_x0, coef_xt = mp.mu_tilde(schedule, ones, zeros, t), mp.mu_tilde(schedule, zeros, ones, t)
    scale = _scale(xprev, coef_xt * x_t, divisor=np.abs(coef_x0))
    assert_close(ref.x0_from_xprev(schedule, x_t, t, xprev),
                 mp.x0_from_xprev(schedule, x_t, t, xprev), TOL.scaled(scale))


def test_oracles_reject_plausible_wrong_conversions():
    """A missing square root or swapped √ᾱ/√(1-ᾱ) fails the same comparison."""
    schedule = NoiseSchedule.linear(1000)  # the DDPM §4 schedule
    t = np.array([0, 10, 500, 999])
    x_t, other = np.full((4, 2), 0.8), np.full((4, 2), -0.3)
    alpha_bar = schedule.alpha_bar[t][:, None]
    signal, noise = np.sqrt(alpha_bar), np.sqrt(1 - alpha_bar)
    cases = [
        ((x_t - noise * other) / alpha_bar, mp.x0_from_eps(schedule, x_t, t, other)),
        ((x_t - signal * other) / (1 - alpha_bar), mp.eps_from_x0(schedule, x_t, t, other)),
        (noise * x_t - signal * other, mp.x0_from_v(schedule, x_t, t, other)),
        (-other / (1 - alpha_bar), mp.score_from_eps(schedule, t, other)),
    ]
    for wrong, expected in cases:
        with pytest.raises(AssertionError):
            assert_close(wrong, expected, TOL)
