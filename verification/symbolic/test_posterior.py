"""DDPM eqs. (6)-(7) and (10)-(11): the forward posterior from Bayes' rule."""

import mpmath
import pytest
import sympy as sp

from ddpm_math.symbolic import posterior
from ddpm_math.symbolic.forward import sqrt_alpha, sqrt_alpha_bar_prev, x_symbols
from ddpm_math.symbolic.gaussian import agree_numerically, is_zero

X0, X_PREV, X_T = x_symbols(2)


def _holds(derived, expected) -> bool:
    return is_zero(derived - expected) and agree_numerically(derived, expected)


def _swap_prev(expr):
    """Put ᾱ_t where ᾱ_{t-1} stands (a common slip): √ᾱ_{t-1} → √α_t √ᾱ_{t-1}."""
    return expr.subs(sqrt_alpha_bar_prev, sqrt_alpha * sqrt_alpha_bar_prev)


def _without_sqrt_on_alpha():
    """eq. (7) with α_t (not √α_t) in the x_t coefficient."""
    q = posterior.step_quantities()
    coef_x0 = sqrt_alpha_bar_prev * q["beta"] / (1 - q["alpha_bar"])
    coef_xt = q["alpha"] * (1 - q["alpha_bar_prev"]) / (1 - q["alpha_bar"])
    return coef_x0 * X0 + coef_xt * X_T


def test_mu_tilde_is_eq7():
    assert _holds(posterior.mu_tilde(), posterior.mu_tilde_closed_form())


def test_beta_tilde_is_eq7():
    assert _holds(posterior.beta_tilde(), posterior.beta_tilde_closed_form())


def test_posterior_has_mass_one():
    """The Bayes quotient, completed in x_{t-1}, is a normalised density (mass² cancels to 1)."""
    assert sp.cancel(posterior.q_posterior().mass ** 2) == 1


def test_posterior_integrates_to_one_numerically():
    """mpmath quadrature of the Bayes quotient over x_{t-1} at a rational point (50 digits)."""
    values = {sqrt_alpha: sp.Rational(9, 10), sqrt_alpha_bar_prev: sp.Rational(7, 10),
              X0: sp.Rational(1, 3), X_T: sp.Rational(-1, 2)}
    derived = posterior.q_posterior()
    density = (derived.mass * sp.exp(-((X_PREV - derived.mean) ** 2) / (2 * derived.variance))
               / sp.sqrt(2 * sp.pi * derived.variance)).subs(values)
    fn = sp.lambdify(X_PREV, density, modules="mpmath")
    with mpmath.workdps(50):
        assert abs(mpmath.quad(fn, [-mpmath.inf, 0, mpmath.inf]) - 1) < mpmath.mpf(10) ** -40


@pytest.mark.parametrize(
    "wrong",
    [
        lambda: _swap_prev(posterior.mu_tilde_closed_form()),  # ᾱ_t for ᾱ_{t-1}
        lambda: posterior.mu_tilde_closed_form().subs(  # coefficients of x_0 and x_t swapped
            {X0: X_T, X_T: X0}, simultaneous=True),
        lambda: _without_sqrt_on_alpha(),  # α_t where √α_t belongs
    ],
    ids=["alpha_bar_t_for_prev", "swapped_coefficients", "missing_sqrt"],
)
def test_mu_tilde_rejects_wrong_forms(wrong):
    assert not _holds(posterior.mu_tilde(), wrong())


def test_beta_tilde_rejects_wrong_forms():
    closed = posterior.beta_tilde_closed_form()
    assert not _holds(posterior.beta_tilde(), _swap_prev(closed))
    assert not _holds(posterior.beta_tilde(), 1 - sqrt_alpha**2)  # β_t instead of β̃_t
    # inverted ratio (1-ᾱ_t)/(1-ᾱ_{t-1}) β_t
    alpha_bar_prev, alpha_bar = sqrt_alpha_bar_prev**2, (sqrt_alpha * sqrt_alpha_bar_prev) ** 2
    assert not _holds(posterior.beta_tilde(),
                      (1 - alpha_bar) / (1 - alpha_bar_prev) * (1 - sqrt_alpha**2))


def test_first_step_is_point_mass_at_x0():
    """At t = 1 (ᾱ_0 = 1) the derived posterior is N(x_0, 0), as NoiseSchedule stores it."""
    assert sp.cancel(posterior.mu_tilde().subs(sqrt_alpha_bar_prev, 1)) == X0
    assert sp.cancel(posterior.beta_tilde().subs(sqrt_alpha_bar_prev, 1)) == 0


def test_mu_tilde_from_eps_is_eq11():
    assert _holds(posterior.mu_tilde_from_eps(), posterior.mu_tilde_from_eps_closed_form())


def test_mu_tilde_from_eps_rejects_wrong_forms():
    closed = posterior.mu_tilde_from_eps_closed_form()
    eps = posterior.eps
    quantities = posterior.step_quantities()
    assert not _holds(posterior.mu_tilde_from_eps(), closed * sqrt_alpha)  # √α_t multiplies
    no_sqrt = (X_T - quantities["beta"] / (1 - quantities["alpha_bar"]) * eps) / sqrt_alpha
    assert not _holds(posterior.mu_tilde_from_eps(), no_sqrt)  # missing √ on 1-ᾱ_t
    assert not _holds(posterior.mu_tilde_from_eps(), _swap_prev(closed))
