"""The forward-process kernels against DDPM eqs. (2) and (4), written from β in the test.

float64 tight, float32 with the dtype tolerance (the forward maps are well conditioned: every
coefficient is at most 1). Each claim has a companion showing that a plausible wrong formula
fails the same check.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given

from ddpm_math.diffusion.forward import (
    q_mean_variance,
    q_sample,
    q_step_mean_variance,
    q_step_sample,
)
from ddpm_math.diffusion.tensors import gather
from ddpm_math.reference import forward as reference
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


def q_sample_closed_form(schedule, t, x0, noise):
    """√ᾱ_t x_0 + √(1-ᾱ_t) ε, DDPM eq. (4)."""
    c = coefficients(schedule, t, x0.ndim)
    return np.sqrt(c.alpha_bar) * x0 + np.sqrt(c.one_minus_alpha_bar) * noise


@pytest.mark.parametrize("dtype", DTYPES)
@given(case=diffusion_batches())
def test_q_sample_matches_eq4(dtype, case):
    schedule, t, (x0, noise) = case
    x0, noise = rounded(x0, dtype), rounded(noise, dtype)
    actual = q_sample(schedule.to_torch(dtype=dtype), as_torch(x0, dtype), torch.from_numpy(t),
                      as_torch(noise, dtype))
    assert actual.dtype == dtype
    assert_close(actual, q_sample_closed_form(schedule, t, x0, noise), tolerance(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@given(case=diffusion_batches(n_arrays=1))
def test_q_mean_variance_matches_eq4(dtype, case):
    schedule, t, (x0,) = case
    x0 = rounded(x0, dtype)
    c = coefficients(schedule, t, x0.ndim)
    mean, variance, log_variance = q_mean_variance(
        schedule.to_torch(dtype=dtype), as_torch(x0, dtype), torch.from_numpy(t))
    tol = tolerance(dtype)
    assert mean.shape == variance.shape == log_variance.shape == x0.shape
    assert_close(mean, np.sqrt(c.alpha_bar) * x0, tol)
    assert_close(variance, np.broadcast_to(c.one_minus_alpha_bar, x0.shape), tol)
    assert_close(log_variance, np.broadcast_to(np.log(c.one_minus_alpha_bar), x0.shape), tol)


@pytest.mark.parametrize("dtype", DTYPES)
@given(case=diffusion_batches())
def test_q_step_matches_eq2(dtype, case):
    schedule, t, (x_prev, noise) = case
    x_prev, noise = rounded(x_prev, dtype), rounded(noise, dtype)
    c = coefficients(schedule, t, x_prev.ndim)
    coefs, t_torch = schedule.to_torch(dtype=dtype), torch.from_numpy(t)
    tol = tolerance(dtype)
    sample = q_step_sample(coefs, as_torch(x_prev, dtype), t_torch, as_torch(noise, dtype))
    assert_close(sample, np.sqrt(1.0 - c.beta) * x_prev + np.sqrt(c.beta) * noise, tol)
    mean, variance, _ = q_step_mean_variance(coefs, as_torch(x_prev, dtype), t_torch)
    assert_close(mean, np.sqrt(1.0 - c.beta) * x_prev, tol)
    assert_close(variance, np.broadcast_to(c.beta, x_prev.shape), tol)


@given(case=diffusion_batches(n_arrays=1))
def test_marginal_is_the_composition_of_steps(case):
    """Chaining eq. (2) from x_0 gives eq. (4): mean √ᾱ_t x_0 and variance 1 - ᾱ_t."""
    schedule, _, (x0,) = case
    coefs = schedule.to_torch()
    mean, variance = torch.from_numpy(x0), torch.zeros(x0.shape, dtype=torch.float64)
    for index in range(schedule.num_steps):  # t = 0, ..., T-1
        t = torch.full((x0.shape[0],), index, dtype=torch.int64)
        step_mean, step_variance, _ = q_step_mean_variance(coefs, mean, t)
        alpha = gather(coefs.alpha, t, mean)
        mean, variance = step_mean, alpha * variance + step_variance
        marginal_mean, marginal_variance, _ = q_mean_variance(coefs, torch.from_numpy(x0), t)
        assert_close(mean, marginal_mean, tolerance(torch.float64, schedule.num_steps))
        assert_close(variance, marginal_variance, tolerance(torch.float64, schedule.num_steps))


# -- plausible wrong formulas fail the same check -----------------------------------------------

FIXED = (NoiseSchedule.linear(10, 1e-3, 0.2), np.array([0, 4, 9]),
         np.linspace(-1, 1, 6).reshape(3, 2), np.linspace(2, -1, 6).reshape(3, 2))


def agrees_with_eq4(values: np.ndarray) -> bool:
    """Whether ``values`` (x_t for FIXED's batch) match eq. (4)'s closed form from β."""
    schedule, t, x0, noise = FIXED
    return close(torch.from_numpy(values), q_sample_closed_form(schedule, t, x0, noise),
                 tolerance(torch.float64))


def _from_betas(formula):
    """x_t of FIXED's batch by ``formula(c, x0, noise)``, c the coefficients formed from β
    (closed_forms.coefficients): a wrong formula built independently of the schedule object."""
    schedule, t, x0, noise = FIXED
    return formula(coefficients(schedule, t, x0.ndim), x0, noise)


@pytest.mark.parametrize(
    "wrong",
    [
        lambda c, x0, e: np.sqrt(c.alpha_bar_prev) * x0
        + np.sqrt(c.one_minus_alpha_bar_prev) * e,  # ᾱ_{t-1} for ᾱ_t
        lambda c, x0, e: c.alpha_bar * x0 + c.one_minus_alpha_bar * e,  # missing square roots
        lambda c, x0, e: np.sqrt(c.alpha_bar) * x0 + np.sqrt(c.beta) * e,  # one step's noise
    ],
    ids=["alpha_bar_prev", "no_sqrt", "step_noise"],
)
def test_wrong_forward_formulas_fail(wrong):
    schedule, t, x0, noise = FIXED
    right = q_sample(schedule.to_torch(), torch.from_numpy(x0), torch.from_numpy(t),
                     torch.from_numpy(noise))
    assert agrees_with_eq4(right.numpy())
    assert not agrees_with_eq4(_from_betas(wrong))


@pytest.mark.parametrize("dtype", DTYPES)
@given(case=diffusion_batches())
def test_forward_matches_reference(dtype, case):
    schedule, t, (x0, noise) = case
    x0, noise = rounded(x0, dtype), rounded(noise, dtype)
    coefs, t_torch = schedule.to_torch(dtype=dtype), torch.from_numpy(t)
    tol = tolerance(dtype)
    assert_close(q_sample(coefs, as_torch(x0, dtype), t_torch, as_torch(noise, dtype)),
                 reference.q_sample(schedule, x0, t, noise), tol)
    for got, want in zip(q_mean_variance(coefs, as_torch(x0, dtype), t_torch),
                         reference.q_mean_variance(schedule, x0, t), strict=True):
        assert_close(got, np.broadcast_to(want, x0.shape), tol)
