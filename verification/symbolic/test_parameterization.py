"""x_0 ↔ ε ↔ v ↔ score conversions and the x_{t-1}-mean parameterisation, solved in sympy."""

import pytest
import sympy as sp

from ddpm_math.symbolic import parameterization as P
from ddpm_math.symbolic import posterior
from ddpm_math.symbolic.forward import sqrt_alpha, sqrt_alpha_bar_prev, x_symbols
from ddpm_math.symbolic.gaussian import agree_numerically, is_zero

A, S = sp.sqrt(P.alpha_bar), sp.sqrt(1 - P.alpha_bar)


def _holds(derived, expected) -> bool:
    return is_zero(derived - expected) and agree_numerically(derived, expected)


CLAIMS = {
    # name: (derived, stated form, plausible wrong form)
    "x0_from_eps": (P.x0_from_eps, (P.x_t - S * P.eps) / A, (P.x_t - S * P.eps) / P.alpha_bar),
    "eps_from_x0": (P.eps_from_x0, (P.x_t - A * P.x0) / S, (P.x_t - A * P.x0) / (1 - P.alpha_bar)),
    "x0_from_v": (P.x0_from_v, A * P.x_t - S * P.v, S * P.x_t - A * P.v),
    "eps_from_v": (P.eps_from_v, S * P.x_t + A * P.v, A * P.x_t + S * P.v),
    "score_from_eps": (P.score_from_eps, -P.eps / S, -P.eps / (1 - P.alpha_bar)),
}


@pytest.mark.parametrize("name", sorted(CLAIMS))
def test_conversion_matches_stated_form(name):
    derived, stated, _ = CLAIMS[name]
    assert _holds(derived(), stated)


@pytest.mark.parametrize("name", sorted(CLAIMS))
def test_conversion_rejects_wrong_form(name):
    derived, _, wrong = CLAIMS[name]
    assert not _holds(derived(), wrong)


def test_round_trips_through_v():
    """x_0 → (x_t, v) → x_0 and ε → (x_t, v) → ε are identities."""
    x_t = A * P.x0 + S * P.eps
    substitution = {P.x_t: x_t, P.v: P.v_from_x0_eps()}
    assert is_zero(P.x0_from_v().subs(substitution, simultaneous=True) - P.x0)
    assert is_zero(P.eps_from_v().subs(substitution, simultaneous=True) - P.eps)
    # with v defined with the signs flipped, the round trip fails
    flipped = {P.x_t: x_t, P.v: -P.v_from_x0_eps()}
    assert not is_zero(P.x0_from_v().subs(flipped, simultaneous=True) - P.x0)


def test_x0_from_xprev_inverts_mu_tilde():
    """x_0 from a predicted mean: solving μ̃_t(x_t, x_0) = xprev, and it inverts μ̃_t."""
    x0, _, x_t = x_symbols(2)
    q = posterior.step_quantities()
    coef_x0 = sqrt_alpha_bar_prev * q["beta"] / (1 - q["alpha_bar"])
    coef_xt = sqrt_alpha * (1 - q["alpha_bar_prev"]) / (1 - q["alpha_bar"])
    assert _holds(P.x0_from_xprev(), (P.xprev - coef_xt * x_t) / coef_x0)
    assert is_zero(P.x0_from_xprev().subs(P.xprev, posterior.mu_tilde()) - x0)
    # the two coefficients swapped is rejected
    assert not _holds(P.x0_from_xprev(), (P.xprev - coef_x0 * x_t) / coef_xt)
