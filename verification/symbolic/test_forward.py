"""DDPM eq. (4), q(x_t | x_0) = N(√ᾱ_t x_0, 1-ᾱ_t), derived by composing the kernels of eq. (2)."""

import pytest
import sympy as sp

from ddpm_math.symbolic import forward
from ddpm_math.symbolic.gaussian import (
    agree_numerically,
    complete_square,
    gaussian_integral,
    is_zero,
    normal,
)


def _holds(derived, expected) -> bool:
    """Exact (sympy) and numeric (random rational points) agreement."""
    return is_zero(derived - expected) and agree_numerically(derived, expected)


def test_gaussian_integral_matches_sympy_integrate():
    """The Gaussian integral every derivation uses agrees with sympy.integrate."""
    x, b, c = sp.symbols("x b c", real=True)
    a = sp.Symbol("a", positive=True)
    integrated = sp.integrate(sp.exp(-a * x**2 + b * x + c), (x, -sp.oo, sp.oo))
    assert is_zero(sp.simplify(integrated / gaussian_integral(-a, b, c)) - 1)
    # a dropped 1/4 in the completed square is rejected by the same check
    wrong = sp.sqrt(sp.pi / a) * sp.exp(c + b**2 / a)
    assert not is_zero(sp.simplify(integrated / wrong) - 1)


def test_normal_density_integrates_to_one():
    """N(x; m, v) as built by ``normal`` has mass 1 (sympy.integrate over the real line)."""
    x, m = sp.symbols("x m", real=True)
    v = sp.Symbol("v", positive=True)
    assert sp.simplify(sp.integrate(normal(x, m, v).expr, (x, -sp.oo, sp.oo))) == 1
    assert complete_square(normal(x, m, v), x).mass == 1


@pytest.mark.parametrize("t", [1, 2, 3, 4, 5, 6])
def test_composed_kernels_give_eq4(t):
    """Integrating x_1..x_{t-1} out of ∏ q(x_s|x_{s-1}) gives N(√ᾱ_t x_0, 1-ᾱ_t) with mass 1."""
    derived = forward.q_mean_variance(t)
    mean, variance = forward.q_mean_variance_closed_form(t)
    assert _holds(derived.mean, mean)
    assert _holds(derived.variance, variance)
    assert sp.cancel(derived.mass**2) == 1


@pytest.mark.parametrize("t", [2, 3, 5])
def test_composed_kernels_reject_wrong_closed_forms(t):
    """Plausible wrong statements of eq. (4) fail the same check."""
    derived = forward.q_mean_variance(t)
    mean, variance = forward.q_mean_variance_closed_form(t)
    x0 = forward.x_symbols(t)[0]
    alpha_bar = forward.alpha_bar(t)
    assert not _holds(derived.mean, alpha_bar * x0)  # missing square root
    assert not _holds(derived.variance, sum(forward.beta_symbols(t)))  # variances just added
    assert not _holds(derived.variance, 1 - forward.alpha_bar(t - 1))  # ᾱ_{t-1} for ᾱ_t
    assert not _holds(derived.mean, sp.sqrt(forward.alpha_bar(t - 1)) * x0)


@pytest.mark.parametrize("t", [1, 3, 5])
def test_sum_of_independent_gaussians_route(t):
    """Unrolling the reparameterised kernel gives the same moments as integration."""
    coefficient, variance = forward.q_sample_coefficients(t)
    mean_closed, variance_closed = forward.q_mean_variance_closed_form(t)
    x0 = forward.x_symbols(t)[0]
    assert _holds(coefficient * x0, mean_closed)
    assert _holds(variance, variance_closed)
    assert not _holds(variance, variance_closed + forward.beta_symbols(t)[-1])


def test_induction_step():
    """N(√ᾱ_{t-1} x_0, 1-ᾱ_{t-1}) composed with one kernel: N(√(α_t ᾱ_{t-1}) x_0, 1-α_t ᾱ_{t-1})."""
    step = forward.q_mean_variance_step()
    x0 = forward.x_symbols(2)[0]
    alpha_bar = forward.sqrt_alpha**2 * forward.sqrt_alpha_bar_prev**2
    assert _holds(step.mean, sp.sqrt(alpha_bar) * x0)
    assert _holds(step.variance, 1 - alpha_bar)
    assert sp.cancel(step.mass**2) == 1
    # wrong recursions: ᾱ_t = ᾱ_{t-1} (step ignored), variance 1 - α_t + 1 - ᾱ_{t-1}
    assert not _holds(step.variance, 1 - forward.sqrt_alpha_bar_prev**2)
    assert not _holds(step.variance, 2 - forward.sqrt_alpha**2 - forward.sqrt_alpha_bar_prev**2)


def test_base_case_is_the_kernel():
    """At t = 1 the marginal is the one-step kernel itself: ᾱ_1 = α_1."""
    derived = forward.q_mean_variance(1)
    assert _holds(derived.variance, forward.beta_symbols(1)[0])
