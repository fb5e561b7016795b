"""The forward posterior q(x_{t-1} | x_t, x_0) = N(μ̃_t, β̃_t), DDPM eqs. (6)-(7), derived in sympy.

Bayes' rule for the Markov chain, q(x_{t-1} | x_t, x_0) = q(x_t | x_{t-1}) q(x_{t-1} | x_0) /
q(x_t | x_0), with the one-step kernel of eq. (2) and the marginals of eq. (4) (the marginal of
x_t is the one :func:`~ddpm_math.symbolic.forward.q_mean_variance_step` derived). Completing the
square in x_{t-1} reads off μ̃_t and β̃_t and the mass, which must be 1. Substituting
x_0 = (x_t - √(1-ᾱ_t) ε)/√ᾱ_t gives the ε form of eqs. (10)-(11).

Symbols: ``sqrt_alpha`` = √α_t, ``sqrt_alpha_bar_prev`` = √ᾱ_{t-1} (so ᾱ_t is their product
squared) and x_0, x_{t-1}, x_t = ``x_symbols(2)``; a paper step t ≥ 2 (at t = 1, ᾱ_0 = 1 and the
posterior is the point mass at x_0: the limit √ᾱ_{t-1} → 1 of the result).
"""

from __future__ import annotations

from functools import cache

import sympy as sp

from ddpm_math.symbolic.forward import (
    q_mean_variance_step,
    q_step,
    sqrt_alpha,
    sqrt_alpha_bar_prev,
    x_symbols,
)
from ddpm_math.symbolic.gaussian import MeanVariance, complete_square, normal

__all__ = [
    "beta_tilde",
    "beta_tilde_closed_form",
    "eps",
    "mu_tilde",
    "mu_tilde_closed_form",
    "mu_tilde_from_eps",
    "mu_tilde_from_eps_closed_form",
    "q_posterior",
    "step_quantities",
]

#: The noise ε of the reparameterisation x_t = √ᾱ_t x_0 + √(1-ᾱ_t) ε.
eps = sp.Symbol("eps", real=True)


def step_quantities() -> dict[str, sp.Expr]:
    """α_t, β_t, ᾱ_{t-1}, ᾱ_t (= α_t ᾱ_{t-1}, from the induction step) in the step symbols."""
    alpha, alpha_bar_prev = sqrt_alpha**2, sqrt_alpha_bar_prev**2
    return {"alpha": alpha, "beta": 1 - alpha, "alpha_bar_prev": alpha_bar_prev,
            "alpha_bar": alpha * alpha_bar_prev}


@cache
def q_posterior() -> MeanVariance:
    """q(x_{t-1} | x_t, x_0) by Bayes' rule and completing the square in x_{t-1}, eqs. (6)-(7)."""
    x0, x_prev, x_t = x_symbols(2)
    alpha_bar_prev = sqrt_alpha_bar_prev**2
    marginal = q_mean_variance_step()  # q(x_t | x_0), derived from the same kernels
    joint = q_step(x_t, x_prev, 1 - sqrt_alpha**2) * normal(
        x_prev, sqrt_alpha_bar_prev * x0, 1 - alpha_bar_prev
    )
    return complete_square(joint / normal(x_t, marginal.mean, marginal.variance), x_prev)


def mu_tilde() -> sp.Expr:
    """Posterior mean μ̃_t(x_t, x_0), DDPM eq. (7), as derived by :func:`q_posterior`."""
    return q_posterior().mean


def beta_tilde() -> sp.Expr:
    """Posterior variance β̃_t, DDPM eq. (7), as derived by :func:`q_posterior`."""
    return q_posterior().variance


def mu_tilde_closed_form() -> sp.Expr:
    """μ̃_t = √ᾱ_{t-1} β_t/(1-ᾱ_t) x_0 + √α_t (1-ᾱ_{t-1})/(1-ᾱ_t) x_t as the paper states (eq. 7)."""
    x0, _, x_t = x_symbols(2)
    q = step_quantities()
    coef_x0 = sqrt_alpha_bar_prev * q["beta"] / (1 - q["alpha_bar"])
    coef_xt = sqrt_alpha * (1 - q["alpha_bar_prev"]) / (1 - q["alpha_bar"])
    return coef_x0 * x0 + coef_xt * x_t


def beta_tilde_closed_form() -> sp.Expr:
    """β̃_t = (1-ᾱ_{t-1})/(1-ᾱ_t) β_t as the paper states (eq. 7)."""
    q = step_quantities()
    return (1 - q["alpha_bar_prev"]) / (1 - q["alpha_bar"]) * q["beta"]


def x0_of_eps() -> sp.Expr:
    """x_0 = (x_t - √(1-ᾱ_t) ε)/√ᾱ_t, eq. (4) reparameterised and solved for x_0 (by sympy)."""
    x0, _, x_t = x_symbols(2)
    alpha_bar = step_quantities()["alpha_bar"]
    (solution,) = sp.solve(sp.sqrt(alpha_bar) * x0 + sp.sqrt(1 - alpha_bar) * eps - x_t, x0)
    return solution


@cache
def mu_tilde_from_eps() -> sp.Expr:
    """μ̃_t in terms of x_t and ε, DDPM eqs. (10)-(11): the derived μ̃_t with x_0 substituted."""
    x0 = x_symbols(2)[0]
    return sp.cancel(mu_tilde().subs(x0, x0_of_eps()))


def mu_tilde_from_eps_closed_form() -> sp.Expr:
    """1/√α_t (x_t - β_t/√(1-ᾱ_t) ε) as the paper states (eq. 11 with ε_θ = ε)."""
    x_t = x_symbols(2)[2]
    q = step_quantities()
    return (x_t - q["beta"] / sp.sqrt(1 - q["alpha_bar"]) * eps) / sqrt_alpha
