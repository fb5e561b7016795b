"""Every NoiseSchedule array equals its defining formula computed another way.

The second route is either an independent float64 computation (ᾱ by exp(Σ log1p(-β)) against
the cumulative product) or mpmath at 50 digits from the betas alone (provenance of every
expected value). Each claim has a companion test in which a plausible wrong formula fails.
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ddpm_math import (
    NoiseSchedule,
    betas_from_alpha_bar,
    cosine_alpha_bar,
    cosine_betas,
    linear_betas,
    quadratic_betas,
    rescale_zero_terminal_snr,
    sqrt_linear_betas,
)
from ddpm_math.reference.schedule import step_tables
from ddpm_math.testing.strategies import beta_arrays, schedules
from ddpm_math.testing.tolerances import TOLERANCES, assert_close

F64 = TOLERANCES["float64"]
MP = TOLERANCES["mpmath_vs_float64"]


def mp_schedule_arrays(betas: np.ndarray) -> dict[str, np.ndarray]:
    """The schedule arrays from the paper's definitions, in mpmath at 50 digits, rounded once."""
    with mpmath.workdps(50):
        beta = [mpmath.mpf(float(b)) for b in betas]
        alpha = [1 - b for b in beta]
        alpha_bar, running = [], mpmath.mpf(1)
        for a in alpha:  # ᾱ_t = ∏_{s≤t} α_s, DDPM eq. (4)
            running *= a
            alpha_bar.append(running)
        alpha_bar_prev = [mpmath.mpf(1)] + alpha_bar[:-1]
        steps = list(zip(alpha, alpha_bar_prev, alpha_bar, beta, strict=True))
        out = {
            "alpha_bar": alpha_bar,
            "alpha_bar_prev": alpha_bar_prev,
            "one_minus_alpha_bar": [1 - ab for ab in alpha_bar],
            "sqrt_alpha_bar": [mpmath.sqrt(ab) for ab in alpha_bar],
            "sqrt_one_minus_alpha_bar": [mpmath.sqrt(1 - ab) for ab in alpha_bar],
            # DDPM eq. (7)
            "beta_tilde": [(1 - p) / (1 - ab) * b for a, p, ab, b in steps],
            "mu_tilde_coef_x0": [mpmath.sqrt(p) * b / (1 - ab) for a, p, ab, b in steps],
            "mu_tilde_coef_xt": [mpmath.sqrt(a) * (1 - p) / (1 - ab) for a, p, ab, b in steps],
            "snr": [ab / (1 - ab) for ab in alpha_bar],
        }
        return {name: np.array([float(v) for v in values]) for name, values in out.items()}


@given(beta_arrays(max_beta=0.999))
def test_alpha_bar_cumprod_equals_exp_of_log_sum(betas):
    schedule = NoiseSchedule(betas)
    by_logs = np.exp(np.cumsum(np.log1p(-betas)))
    assert_close(schedule.alpha_bar, by_logs, F64.scaled(len(betas)))
    assert_close(schedule.alpha, 1.0 - betas, F64)
    # 1 - ᾱ by -expm1 (the schedule) and by subtraction: the subtraction's absolute error is
    # about eps·T, which atol covers; relative to a small 1 - ᾱ it can be much larger.
    np.testing.assert_allclose(schedule.one_minus_alpha_bar, 1.0 - by_logs, rtol=0,
                               atol=F64.atol * len(betas) + 1e-15)


@given(beta_arrays(max_beta=0.999))
def test_every_array_matches_mpmath_definitions(betas):
    schedule = NoiseSchedule(betas)
    expected = mp_schedule_arrays(betas)
    for name, values in expected.items():
        # Rounding accumulates along the cumulative product: T steps of relative eps each.
        assert_close(getattr(schedule, name), values, MP.scaled(len(betas)), err_msg=name)


def test_wrong_beta_tilde_is_rejected_by_the_mpmath_check():
    """β̃ with ᾱ_t in place of ᾱ_{t-1} (a common slip) fails the comparison above."""
    betas = linear_betas(20)
    expected = mp_schedule_arrays(betas)["beta_tilde"]
    tables = step_tables(betas)  # the wrong formulas are built from β, not the schedule object
    wrong = tables.one_minus_alpha_bar / tables.one_minus_alpha_bar * tables.beta
    with pytest.raises(AssertionError):
        assert_close(wrong, expected, MP.scaled(20))
    wrong_coef = np.sqrt(tables.alpha_bar) * tables.beta / tables.one_minus_alpha_bar
    with pytest.raises(AssertionError):
        assert_close(wrong_coef, mp_schedule_arrays(betas)["mu_tilde_coef_x0"], MP.scaled(20))


@given(schedules())
def test_alpha_bar_strictly_decreasing_and_posterior_variance_bounded(schedule):
    assert np.all(np.diff(schedule.alpha_bar) < 0)
    assert schedule.beta_tilde[0] == 0.0  # exactly: 1 - ᾱ_0 = 0
    assert np.all(schedule.beta_tilde >= 0.0)
    assert np.all(schedule.beta_tilde <= schedule.beta)
    assert schedule.log_beta_tilde_clipped[0] == schedule.log_beta_tilde_clipped[1]
    assert_close(schedule.log_beta_tilde_clipped[1:], np.log(schedule.beta_tilde[1:]), F64)
    assert np.all(np.isfinite(schedule.log_beta_tilde_clipped))


def test_linear_schedule_matches_ddpm_section_4():
    """DDPM §4: β from 1e-4 to 0.02 linearly over T = 1000 steps."""
    betas = linear_betas(1000)
    assert betas[0] == 1e-4 and betas[-1] == 0.02
    assert_close(np.diff(betas), np.full(999, (0.02 - 1e-4) / 999), F64)


def test_linear_rescale_to_1000_scales_both_ends():
    """Improved DDPM: β ends scaled by 1000/T; T = 4000 gives 2.5e-5 and 5e-3."""
    betas = linear_betas(4000, rescale_to_1000=True)
    assert_close(betas[[0, -1]], [2.5e-5, 5e-3], F64)
    assert_close(linear_betas(1000, rescale_to_1000=True), linear_betas(1000), F64)


@pytest.mark.parametrize("T", [2, 7, 50])
def test_quadratic_schedule_is_quadratic_in_t_not_sqrt_linear(T):
    """The notes' schedule: β_t - β_min ∝ ((t-1)/(T-1))². The TF code's "quad" is linear in √β."""
    betas = quadratic_betas(T, 1e-4, 0.02)
    expected = [1e-4 + (0.02 - 1e-4) * ((t - 1) / (T - 1)) ** 2 for t in range(1, T + 1)]
    assert_close(betas, expected, F64)
    if T > 2:  # with two steps the two schedules coincide at both ends
        with pytest.raises(AssertionError):
            assert_close(sqrt_linear_betas(T, 1e-4, 0.02), expected, F64)
    assert_close(np.sqrt(sqrt_linear_betas(T, 1e-4, 0.02)),
                 np.linspace(0.01, math.sqrt(0.02), T), F64)


def mp_cosine_betas(T: int, s: float, max_beta: float) -> np.ndarray:
    """Nichol & Dhariwal 2021 eq. (17) in mpmath at 50 digits."""
    with mpmath.workdps(50):
        f = lambda u: mpmath.cos((u + s) / (1 + s) * mpmath.pi / 2) ** 2  # noqa: E731
        return np.array([float(min(1 - f(mpmath.mpf(t) / T) / f(mpmath.mpf(t - 1) / T), max_beta))
                         for t in range(1, T + 1)])


@pytest.mark.parametrize("T", [10, 1000])
def test_cosine_schedule_matches_nichol_dhariwal_eq_17(T):
    betas = cosine_betas(T)
    assert_close(betas, mp_cosine_betas(T, 0.008, 0.999), F64.scaled(100))
    assert betas[-1] == 0.999  # ᾱ(1) = 0, so the last β is the clip
    # Without clipping, ∏(1 - β) telescopes to f(t/T)/f(0): eq. (17)'s normalised ᾱ_t.
    schedule = NoiseSchedule(betas)
    f = np.array([cosine_alpha_bar(t / T) for t in range(T + 1)])
    unclipped = np.flatnonzero(betas < 0.999)
    assert_close(schedule.alpha_bar[unclipped], (f[1:] / f[0])[unclipped], F64.scaled(T))


def test_seed_cosine_formula_without_the_1_plus_s_is_rejected():
    """Seed note 003 writes ᾱ_t = cos²(π/2 (t/T + s))/cos²(sπ/2), dropping the /(1+s)."""
    T, s = 1000, 0.008
    seed = np.array([math.cos(math.pi / 2 * (t / T + s)) ** 2 / math.cos(s * math.pi / 2) ** 2
                     for t in range(1, T)])
    true_alpha_bar = NoiseSchedule(cosine_betas(T)).alpha_bar[: T - 1]
    with pytest.raises(AssertionError):
        assert_close(seed, true_alpha_bar, F64.scaled(1e6))
    # It is not a small difference: ᾱ at t = T - 1 differs by more than a factor 2.
    assert seed[-1] < 0.5 * true_alpha_bar[-1] or seed[-1] > 2 * true_alpha_bar[-1]


@given(st.integers(1, 200), st.floats(0.1, 20.0))
def test_betas_from_exponential_alpha_bar_are_constant(T, rate):
    """ᾱ(u) = e^{-rate·u} gives β_t = 1 - e^{-rate/T} for every t (analytic oracle)."""
    betas = betas_from_alpha_bar(lambda u: math.exp(-rate * u), T, max_beta=1.0)
    assert_close(betas, np.full(T, -math.expm1(-rate / T)), F64.scaled(1e3))


@given(beta_arrays(min_steps=2, max_beta=0.2))
def test_zero_terminal_snr_rescale(betas):
    """Lin et al. 2023: ᾱ_T = 0 exactly, ᾱ_1 unchanged, √ᾱ affine in the old √ᾱ."""
    old = NoiseSchedule(betas)
    new = NoiseSchedule(rescale_zero_terminal_snr(betas))
    assert new.alpha_bar[-1] == 0.0 and new.snr[-1] == 0.0 and new.beta[-1] == 1.0
    assert_close(new.alpha_bar[0], old.alpha_bar[0], F64.scaled(10))
    # √ᾱ_new = a·√ᾱ_old + b with a, b fixed by the two ends.
    a = old.sqrt_alpha_bar[0] / (old.sqrt_alpha_bar[0] - old.sqrt_alpha_bar[-1])
    b = -a * old.sqrt_alpha_bar[-1]
    expected = a * old.sqrt_alpha_bar + b
    tol = F64.scaled(10 * a * len(betas))  # a amplifies rounding: a = √ᾱ_1/(√ᾱ_1 - √ᾱ_T)
    assert_close(new.sqrt_alpha_bar, expected, tol)


def test_rescaling_alpha_bar_instead_of_its_square_root_is_rejected():
    """Shifting ᾱ (not √ᾱ) also gives ᾱ_T = 0 and keeps ᾱ_1, but is not Lin et al.'s rescale."""
    old = NoiseSchedule(linear_betas(100))
    ab = old.alpha_bar
    wrong_alpha_bar = (ab - ab[-1]) * ab[0] / (ab[0] - ab[-1])
    right_alpha_bar = NoiseSchedule(rescale_zero_terminal_snr(old.beta)).alpha_bar
    with pytest.raises(AssertionError):
        assert_close(wrong_alpha_bar, right_alpha_bar, F64.scaled(1e6))


def test_torch_view_equals_arrays_and_is_cached():
    torch = pytest.importorskip("torch")
    schedule = NoiseSchedule.cosine(50)
    view = schedule.to_torch()
    assert view is schedule.to_torch("cpu", torch.float64)
    assert view.alpha_bar.dtype == torch.float64
    np.testing.assert_array_equal(view.beta_tilde.numpy(), schedule.beta_tilde)
    view32 = schedule.to_torch(dtype=torch.float32)
    assert view32.snr.dtype == torch.float32 and view32 is not view
    np.testing.assert_array_equal(view32.snr.numpy(), schedule.snr.astype(np.float32))


def test_betas_from_an_alpha_bar_that_reaches_zero_early():
    """ᾱ(u) = max(0, 1 - 2u) on u = t/4: ᾱ = 1, 1/2, 0, 0, 0. β_1 = 1 - (1/2)/1 = 1/2; from
    ᾱ = 0 on, no signal is left and β = 1, clipped to max_beta (default 0.999, Improved DDPM
    §3.2), never the 0/0 of the ratio (hand computation; the default clip is the paper's)."""
    def falls_to_zero(u):
        return max(0.0, 1.0 - 2.0 * u)

    np.testing.assert_array_equal(betas_from_alpha_bar(falls_to_zero, 4),
                                  [0.5, 0.999, 0.999, 0.999])
    np.testing.assert_array_equal(betas_from_alpha_bar(falls_to_zero, 4, max_beta=1.0),
                                  [0.5, 1.0, 1.0, 1.0])
