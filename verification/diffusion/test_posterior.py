"""The posterior q(x_{t-1} | x_t, x_0) against Bayes' rule, DDPM eqs. (6)-(7), and μ̃ through ε
(eqs. 10-11) against μ̃ through its two coefficients.

The oracle is Bayes' rule for the two Gaussians q(x_{t-1} | x_0) = N(√ᾱ_{t-1} x_0, 1-ᾱ_{t-1})
and q(x_t | x_{t-1}) = N(√α_t x_{t-1}, β_t): precision 1/(1-ᾱ_{t-1}) + α_t/β_t, mean the
precision-weighted sum. It never mentions β̃ or the μ̃ coefficients.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given

from ddpm_math.diffusion.forward import q_sample
from ddpm_math.diffusion.posterior import mu_tilde, mu_tilde_from_eps, q_posterior
from ddpm_math.diffusion.tensors import gather
from ddpm_math.reference import posterior as reference
from ddpm_math.schedules import NoiseSchedule
from ddpm_math.testing.strategies import diffusion_batches
from ddpm_math.testing.tolerances import assert_close
from verification.diffusion.closed_forms import (
    as_torch,
    close,
    coefficients,
    rounded,
    tolerance,
)

DTYPES = [torch.float64, torch.float32]


def posterior_by_bayes(schedule, t, x0, x_t):
    """Mean and variance of x_{t-1} given x_t and x_0 by Bayes' rule; a point mass at t = 0."""
    c = coefficients(schedule, t, x0.ndim)
    prior_variance = c.one_minus_alpha_bar_prev  # 0 at index 0: x_{t-1} = x_0 exactly
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = 1.0 / prior_variance + c.alpha / c.beta
        variance = np.where(prior_variance > 0, 1.0 / precision, 0.0)
        weighted = np.sqrt(c.alpha_bar_prev) * x0 / prior_variance + np.sqrt(c.alpha) * x_t / c.beta
        mean = np.where(prior_variance > 0, variance * weighted, x0)
    return mean, np.broadcast_to(variance, x0.shape)


@pytest.mark.parametrize("dtype", DTYPES)
@given(case=diffusion_batches())
def test_q_posterior_is_bayes_rule(dtype, case):
    schedule, t, (x0, x_t) = case
    x0, x_t = rounded(x0, dtype), rounded(x_t, dtype)
    mean, variance, log_variance = q_posterior(
        schedule.to_torch(dtype=dtype), as_torch(x0, dtype), as_torch(x_t, dtype),
        torch.from_numpy(t))
    want_mean, want_variance = posterior_by_bayes(schedule, t, x0, x_t)
    # Bayes' rule here subtracts nothing; the kernel's coefficients are each at most 1/(1-ᾱ_t)·β_t
    # ≤ 1 in size, but the oracle's own 1/β terms round at a few ulps of α/β: allow 10 ulps more.
    tol = tolerance(dtype, 10.0)
    assert_close(mean, want_mean, tol)
    assert_close(variance, want_variance, tol)
    clipped_index = np.maximum(t, 1)  # log β̃ with the t = 1 entry replaced by t = 2's
    if schedule.num_steps > 1:
        c2 = coefficients(schedule, clipped_index, x0.ndim)
        assert_close(log_variance, np.broadcast_to(np.log(c2.beta_tilde), x0.shape), tol)


@pytest.mark.parametrize("dtype", DTYPES)
@given(case=diffusion_batches())
def test_mu_tilde_through_eps_equals_mu_tilde_through_x0(dtype, case):
    """eq. (10): μ̃_t(x_t(x_0, ε), x_0) = (x_t - β_t/√(1-ᾱ_t) ε)/√α_t for x_t = q_sample(x_0, ε)."""
    schedule, t, (x0, eps) = case
    coefs, t_torch = schedule.to_torch(dtype=dtype), torch.from_numpy(t)
    x0, eps = as_torch(x0, dtype), as_torch(eps, dtype)
    x_t = q_sample(coefs, x0, t_torch, eps)
    by_x0 = mu_tilde(coefs, x0, x_t, t_torch)
    by_eps = mu_tilde_from_eps(coefs, x_t, t_torch, eps)
    # x_t carries rounding of size |x_0| + |ε| ≤ 6; both routes scale it by at most 1/√α_t.
    alpha = gather(coefs.alpha, t_torch, x_t).double()
    assert_close(by_eps, by_x0, tolerance(dtype, 6.0 / float(alpha.min().sqrt())))


# -- plausible wrong formulas fail the same check -----------------------------------------------

FIXED = (NoiseSchedule.linear(10, 1e-3, 0.2), np.array([1, 4, 9]),
         np.linspace(-1, 1, 6).reshape(3, 2), np.linspace(2, -1, 6).reshape(3, 2))


def agrees_with_bayes(mu_fn) -> bool:
    schedule, t, x0, x_t = FIXED
    actual = mu_fn(schedule.to_torch(), torch.from_numpy(x0), torch.from_numpy(x_t),
                   torch.from_numpy(t))
    return close(actual, posterior_by_bayes(schedule, t, x0, x_t)[0], tolerance(torch.float64))


def _mu(coef_x0, coef_xt):
    return lambda s, x0, x_t, t: coef_x0(s, t, x0) * x0 + coef_xt(s, t, x0) * x_t


@pytest.mark.parametrize(
    "wrong",
    [
        _mu(lambda s, t, x: gather(s.mu_tilde_coef_xt, t, x),
            lambda s, t, x: gather(s.mu_tilde_coef_x0, t, x)),  # coefficients swapped
        _mu(lambda s, t, x: gather(s.sqrt_alpha_bar * s.beta / s.one_minus_alpha_bar, t, x),
            lambda s, t, x: gather(s.mu_tilde_coef_xt, t, x)),  # √ᾱ_t for √ᾱ_{t-1}
        _mu(lambda s, t, x: gather(s.mu_tilde_coef_x0, t, x),
            lambda s, t, x: gather(s.alpha * (1 - s.alpha_bar_prev) / s.one_minus_alpha_bar,
                                   t, x)),  # α_t for √α_t
    ],
    ids=["swapped", "alpha_bar_for_prev", "missing_sqrt"],
)
def test_wrong_posterior_means_fail(wrong):
    assert agrees_with_bayes(mu_tilde)
    assert not agrees_with_bayes(wrong)


def test_beta_for_beta_tilde_fails_bayes():
    schedule, t, x0, x_t = FIXED
    _, variance, _ = q_posterior(schedule.to_torch(), torch.from_numpy(x0),
                                 torch.from_numpy(x_t), torch.from_numpy(t))
    want = posterior_by_bayes(schedule, t, x0, x_t)[1]
    assert close(variance, want, tolerance(torch.float64))
    wrong = np.broadcast_to(coefficients(schedule, t, 2).beta, x0.shape)
    assert not np.allclose(wrong, want, rtol=1e-6)


@pytest.mark.parametrize("dtype", DTYPES)
@given(case=diffusion_batches(n_arrays=3))
def test_posterior_matches_reference(dtype, case):
    schedule, t, (x0, x_t, eps) = case
    x0, x_t, eps = (rounded(a, dtype) for a in (x0, x_t, eps))
    coefs, t_torch = schedule.to_torch(dtype=dtype), torch.from_numpy(t)
    args = as_torch(x0, dtype), as_torch(x_t, dtype)
    alpha = coefficients(schedule, t, x0.ndim).alpha
    tol = tolerance(dtype, 10.0 / float(np.sqrt(alpha.min())))
    assert_close(mu_tilde(coefs, *args, t_torch), reference.mu_tilde(schedule, x0, x_t, t), tol)
    for got, want in zip(q_posterior(coefs, *args, t_torch),
                         reference.q_posterior(schedule, x0, x_t, t), strict=True):
        assert_close(got, np.broadcast_to(want, x0.shape), tol)
    assert_close(mu_tilde_from_eps(coefs, as_torch(x_t, dtype), t_torch, as_torch(eps, dtype)),
                 reference.mu_tilde_from_eps(schedule, x_t, t, eps), tol)
