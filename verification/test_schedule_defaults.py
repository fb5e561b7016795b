"""The schedule constructors' defaults are the papers' values, and their arguments reach the betas.

DDPM §4: T = 1000, β linear from β_1 = 1e-4 to β_T = 0.02. Improved DDPM §3.2, eq. (17):
ᾱ_t = f(t)/f(0), f(t) = cos²((t/T + s)/(1 + s) · π/2), s = 0.008, β_t = 1 - ᾱ_t/ᾱ_{t-1} clipped
to 0.999. The betas below are written out from those formulas with ``math``, not taken from
``linear_betas``/``cosine_betas``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from ddpm_math.schedules import NoiseSchedule


def linear_by_hand(T, beta_start, beta_end):
    return np.array([beta_start + (beta_end - beta_start) * i / (T - 1) for i in range(T)])


def cosine_by_hand(T, s, max_beta):
    def f(t):
        return math.cos((t / T + s) / (1.0 + s) * math.pi / 2.0) ** 2
    return np.array([min(1.0 - f(t) / f(t - 1), max_beta) for t in range(1, T + 1)])


def test_linear_default_is_ddpm_section_4():
    schedule = NoiseSchedule.linear()
    assert schedule.num_steps == 1000
    np.testing.assert_allclose(schedule.beta, linear_by_hand(1000, 1e-4, 0.02), rtol=1e-13)
    assert schedule.beta[0] == 1e-4 and schedule.beta[-1] == pytest.approx(0.02, rel=1e-15)


@pytest.mark.parametrize(("T", "beta_start", "beta_end"), [(10, 1e-3, 0.05), (7, 0.1, 0.1)])
def test_linear_arguments_reach_the_betas(T, beta_start, beta_end):
    schedule = NoiseSchedule.linear(T, beta_start, beta_end)
    np.testing.assert_allclose(schedule.beta, linear_by_hand(T, beta_start, beta_end),
                               rtol=1e-13)


def test_linear_rescale_to_1000_reaches_the_betas():
    """Improved DDPM's rescale: both ends times 1000/T (T = 100: 1e-3 to 0.2)."""
    schedule = NoiseSchedule.linear(100, rescale_to_1000=True)
    np.testing.assert_allclose(schedule.beta, linear_by_hand(100, 1e-3, 0.2), rtol=1e-13)


def test_cosine_default_is_improved_ddpm_eq17():
    schedule = NoiseSchedule.cosine()
    assert schedule.num_steps == 1000
    np.testing.assert_allclose(schedule.beta, cosine_by_hand(1000, 0.008, 0.999), rtol=1e-9)
    assert schedule.beta[-1] == 0.999  # the clip binds at t = T


@pytest.mark.parametrize(("T", "s", "max_beta"), [(20, 0.05, 0.5), (30, 0.0, 0.3)])
def test_cosine_arguments_reach_the_betas(T, s, max_beta):
    schedule = NoiseSchedule.cosine(T, s=s, max_beta=max_beta)
    want = cosine_by_hand(T, s, max_beta)
    assert np.sum(want == max_beta) >= 2  # the clip binds: max_beta is exercised
    np.testing.assert_allclose(schedule.beta, want, rtol=1e-9)


def test_quadratic_and_sqrt_linear_defaults_are_ddpms_ends():
    """Both default to DDPM's ends, 1e-4 and 0.02 (§4): β_t = β_1 + (β_T - β_1)((t-1)/(T-1))²
    (the notes' quadratic schedule) and β_t = (√β_1 + (√β_T - √β_1)(t-1)/(T-1))² (the DDPM TF
    code's "quad"), written out here with ``math``."""
    from ddpm_math.schedules import quadratic_betas, sqrt_linear_betas

    T = 50
    quadratic = [1e-4 + (0.02 - 1e-4) * (i / (T - 1)) ** 2 for i in range(T)]
    sqrt_linear = [(math.sqrt(1e-4) + (math.sqrt(0.02) - math.sqrt(1e-4)) * i / (T - 1)) ** 2
                   for i in range(T)]
    np.testing.assert_allclose(quadratic_betas(T), quadratic, rtol=1e-13)
    np.testing.assert_allclose(sqrt_linear_betas(T), sqrt_linear, rtol=1e-13)


@pytest.mark.parametrize("builder", ["linear_betas", "quadratic_betas", "sqrt_linear_betas"])
def test_one_step_schedules_are_beta_start(builder):
    """T = 1: the single step is β_start (the (t-1)/(T-1) grid has one point, t = 1); the
    √-linear one squares √0.3, one rounding away."""
    from ddpm_math import schedules

    betas = getattr(schedules, builder)(1, 0.3, 0.5)
    assert betas.dtype == np.float64 and betas.shape == (1,)
    assert betas[0] == pytest.approx(0.3, rel=2e-16, abs=0)
