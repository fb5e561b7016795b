"""Conversions between x_0, ε, v, the score and the posterior mean, against their closed forms
from x_t = √ᾱ_t x_0 + √(1-ᾱ_t) ε (DDPM eq. 4), v = √ᾱ_t ε - √(1-ᾱ_t) x_0 (Salimans & Ho 2022)
and μ̃ (DDPM eq. 7).

Tolerances are scaled by each conversion's condition number: x̂_0 from (x_t, ε) divides by √ᾱ_t,
ε̂ from (x_t, x_0) by √(1-ᾱ_t), x̂_0 from the posterior mean by its x_0 coefficient; each also
multiplies the size of its inputs (at most 3 here).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given

from ddpm_math.diffusion import parameterization as kernels
from ddpm_math.diffusion.forward import q_sample
from ddpm_math.diffusion.posterior import mu_tilde
from ddpm_math.diffusion.tensors import gather
from ddpm_math.reference import parameterization as reference
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
MAX_ABS = 3.0  # the strategy's bound on every input entry


def closed_forms(schedule, t, x_t, other):
    """Each conversion's closed form with ``other`` as its second input (ε, x_0, v or μ)."""
    c = coefficients(schedule, t, x_t.ndim)
    a, s = np.sqrt(c.alpha_bar), np.sqrt(c.one_minus_alpha_bar)
    coef_x0 = np.sqrt(c.alpha_bar_prev) * c.beta / (c.one_minus_alpha_bar)
    coef_xt = np.sqrt(c.alpha) * (c.one_minus_alpha_bar_prev) / (c.one_minus_alpha_bar)
    return {
        "x0_from_eps": ((x_t - s * other) / a, 1.0 / a),
        "eps_from_x0": ((x_t - a * other) / s, 1.0 / s),
        "x0_from_v": (a * x_t - s * other, 1.0),
        "eps_from_v": (s * x_t + a * other, 1.0),
        "x0_from_xprev": ((other - coef_xt * x_t) / coef_x0, (1.0 + coef_xt) / coef_x0),
    }


@pytest.mark.parametrize("name", ["x0_from_eps", "eps_from_x0", "x0_from_v", "eps_from_v",
                                  "x0_from_xprev"])
@pytest.mark.parametrize("dtype", DTYPES)
@given(case=diffusion_batches())
def test_conversion_matches_closed_form(name, dtype, case):
    schedule, t, (x_t, other) = case
    x_t, other = rounded(x_t, dtype), rounded(other, dtype)
    actual = getattr(kernels, name)(schedule.to_torch(dtype=dtype), as_torch(x_t, dtype),
                                    torch.from_numpy(t), as_torch(other, dtype))
    expected, condition = closed_forms(schedule, t, x_t, other)[name]
    assert actual.dtype == dtype
    assert_close(actual, expected, tolerance(dtype, 2 * MAX_ABS * np.max(condition)))


@pytest.mark.parametrize("dtype", DTYPES)
@given(case=diffusion_batches())
def test_v_and_score_match_closed_forms(dtype, case):
    schedule, t, (x0, eps) = case
    x0, eps = rounded(x0, dtype), rounded(eps, dtype)
    c = coefficients(schedule, t, x0.ndim)
    coefs, t_torch = schedule.to_torch(dtype=dtype), torch.from_numpy(t)
    v = kernels.v_from_x0_eps(coefs, as_torch(x0, dtype), t_torch, as_torch(eps, dtype))
    assert_close(v, np.sqrt(c.alpha_bar) * eps - np.sqrt(c.one_minus_alpha_bar) * x0,
                 tolerance(dtype, 2 * MAX_ABS))
    score = kernels.score_from_eps(coefs, t_torch, as_torch(eps, dtype))
    assert_close(score, -eps / np.sqrt(c.one_minus_alpha_bar), tolerance(dtype, np.max(
        1 / np.sqrt(c.one_minus_alpha_bar))))


@pytest.mark.parametrize("dtype", DTYPES)
@given(case=diffusion_batches())
def test_round_trips_recover_x0_and_eps(dtype, case):
    """From x_t = q_sample(x_0, ε): x̂_0 and ε̂ by every route give back x_0 and ε."""
    schedule, t, (x0_np, eps_np) = case
    coefs, t_torch = schedule.to_torch(dtype=dtype), torch.from_numpy(t)
    x0, eps = as_torch(x0_np, dtype), as_torch(eps_np, dtype)
    x_t = q_sample(coefs, x0, t_torch, eps)
    v = kernels.v_from_x0_eps(coefs, x0, t_torch, eps)
    c = coefficients(schedule, t, x0.ndim)
    # x_t's rounding (size ≤ 2·MAX_ABS) is amplified by 1/√ᾱ_t in x̂_0, 1/√(1-ᾱ_t) in ε̂.
    tol_x0 = tolerance(dtype, 2 * MAX_ABS * np.max(1 / np.sqrt(c.alpha_bar)))
    tol_eps = tolerance(dtype, 2 * MAX_ABS * np.max(1 / np.sqrt(c.one_minus_alpha_bar)))
    assert_close(kernels.x0_from_eps(coefs, x_t, t_torch, eps), x0_np, tol_x0)
    assert_close(kernels.eps_from_x0(coefs, x_t, t_torch, x0), eps_np, tol_eps)
    assert_close(kernels.x0_from_v(coefs, x_t, t_torch, v), x0_np, tolerance(dtype, 4 * MAX_ABS))
    assert_close(kernels.eps_from_v(coefs, x_t, t_torch, v), eps_np, tolerance(dtype, 4 * MAX_ABS))
    mean = mu_tilde(coefs, x0, x_t, t_torch)
    coef_x0 = gather(coefs.mu_tilde_coef_x0, t_torch, x_t).double()
    tol_xprev = tolerance(dtype, 4 * MAX_ABS / float(coef_x0.min()))
    assert_close(kernels.x0_from_xprev(coefs, x_t, t_torch, mean), x0_np, tol_xprev)


# -- plausible wrong formulas fail the same check -----------------------------------------------

FIXED = (NoiseSchedule.linear(10, 1e-3, 0.2), np.array([0, 4, 9]),
         np.linspace(-1, 1, 6).reshape(3, 2), np.linspace(2, -1, 6).reshape(3, 2))


def agrees(name, fn) -> bool:
    schedule, t, x_t, other = FIXED
    actual = fn(schedule.to_torch(), torch.from_numpy(x_t), torch.from_numpy(t),
                torch.from_numpy(other))
    return close(actual, closed_forms(schedule, t, x_t, other)[name][0], tolerance(torch.float64))


def _g(name):
    return lambda s, t, x: gather(getattr(s, name), t, x)


WRONG = [
    ("x0_from_eps", lambda s, x, t, e: (x - _g("sqrt_one_minus_alpha_bar")(s, t, x) * e)
     / _g("alpha_bar")(s, t, x)),  # ᾱ for √ᾱ
    ("x0_from_eps", lambda s, x, t, e: (x - _g("sqrt_one_minus_alpha_bar")(s, t, x) * e)
     / _g("alpha_bar_prev")(s, t, x).sqrt()),  # ᾱ_{t-1} for ᾱ_t
    ("eps_from_x0", lambda s, x, t, x0: (x - _g("sqrt_alpha_bar")(s, t, x) * x0)
     / _g("one_minus_alpha_bar")(s, t, x)),  # missing square root
    ("x0_from_v", lambda s, x, t, v: _g("sqrt_alpha_bar")(s, t, x) * x
     + _g("sqrt_one_minus_alpha_bar")(s, t, x) * v),  # sign of v
    ("eps_from_v", lambda s, x, t, v: _g("sqrt_alpha_bar")(s, t, x) * x
     + _g("sqrt_one_minus_alpha_bar")(s, t, x) * v),  # coefficients swapped
    ("x0_from_xprev", lambda s, x, t, m: (m - _g("mu_tilde_coef_x0")(s, t, x) * x)
     / _g("mu_tilde_coef_xt")(s, t, x)),  # μ̃ coefficients swapped
]


@pytest.mark.parametrize("name, wrong", WRONG,
                         ids=["x0_eps_no_sqrt", "x0_eps_prev", "eps_x0_no_sqrt", "x0_v_sign",
                              "eps_v_swapped", "xprev_swapped"])
def test_wrong_conversions_fail(name, wrong):
    assert agrees(name, getattr(kernels, name))
    assert not agrees(name, wrong)


@pytest.mark.parametrize("dtype", DTYPES)
@given(case=diffusion_batches())
def test_conversions_match_reference(dtype, case):
    schedule, t, (x_t, other) = case
    x_t, other = rounded(x_t, dtype), rounded(other, dtype)
    coefs, t_torch = schedule.to_torch(dtype=dtype), torch.from_numpy(t)
    args = as_torch(x_t, dtype), t_torch, as_torch(other, dtype)
    for name, (_, condition) in closed_forms(schedule, t, x_t, other).items():
        tol = tolerance(dtype, 2 * MAX_ABS * np.max(condition))
        assert_close(getattr(kernels, name)(coefs, *args),
                     getattr(reference, name)(schedule, x_t, t, other), tol, err_msg=name)
    assert_close(kernels.v_from_x0_eps(coefs, *args),
                 reference.v_from_x0_eps(schedule, x_t, t, other), tolerance(dtype, 2 * MAX_ABS))
    assert_close(kernels.score_from_eps(coefs, t_torch, args[2]),
                 reference.score_from_eps(schedule, t, other), tolerance(dtype, 1e3))
