"""Conversions between x_0, ε, v, the score and the x_{t-1} mean, derived by solving in sympy.

Everything follows from two linear relations at one step t:

- eq. (4) reparameterised: x_t = √ᾱ_t x_0 + √(1-ᾱ_t) ε;
- the definition of v (Salimans & Ho 2022, §4): v = √ᾱ_t ε - √(1-ᾱ_t) x_0;

solved with ``sympy.solve`` for the unknowns each conversion needs. The score is the derivative
of log q(x_t | x_0) (eq. 4) in x_t, and the x_{t-1}-mean parameterisation inverts the derived
posterior mean μ̃_t of :mod:`ddpm_math.symbolic.posterior` in x_0.

Symbols: ``alpha_bar`` (ᾱ_t ∈ (0, 1)), ``x0``, ``x_t``, ``eps``, ``v``, ``xprev`` (a predicted
posterior mean); :func:`x0_from_xprev` uses the step symbols of the posterior module.
"""

from __future__ import annotations

from functools import cache

import sympy as sp

from ddpm_math.symbolic import posterior
from ddpm_math.symbolic.forward import x_symbols
from ddpm_math.symbolic.gaussian import normal

__all__ = [
    "alpha_bar",
    "eps",
    "eps_from_v",
    "eps_from_x0",
    "score_from_eps",
    "v",
    "v_from_x0_eps",
    "x0",
    "x0_from_eps",
    "x0_from_v",
    "x0_from_xprev",
    "x_t",
    "xprev",
]

alpha_bar = sp.Symbol("alpha_bar", positive=True)
x0, x_t, eps, v, xprev = sp.symbols("x_0 x_t eps v xprev", real=True)


def _forward_relation() -> sp.Expr:
    """x_t - (√ᾱ_t x_0 + √(1-ᾱ_t) ε), zero on the reparameterised eq. (4)."""
    return x_t - (sp.sqrt(alpha_bar) * x0 + sp.sqrt(1 - alpha_bar) * eps)


def v_from_x0_eps() -> sp.Expr:
    """v = √ᾱ_t ε - √(1-ᾱ_t) x_0, the definition of Salimans & Ho 2022 (§4)."""
    return sp.sqrt(alpha_bar) * eps - sp.sqrt(1 - alpha_bar) * x0


def x0_from_eps() -> sp.Expr:
    """x_0 = (x_t - √(1-ᾱ_t) ε)/√ᾱ_t: eq. (4) solved for x_0."""
    (solution,) = sp.solve(_forward_relation(), x0)
    return solution


def eps_from_x0() -> sp.Expr:
    """ε = (x_t - √ᾱ_t x_0)/√(1-ᾱ_t): eq. (4) solved for ε."""
    (solution,) = sp.solve(_forward_relation(), eps)
    return solution


@cache
def _x0_eps_from_v() -> dict[sp.Symbol, sp.Expr]:
    """Solve {eq. (4), definition of v} for (x_0, ε) given (x_t, v); uses ᾱ + (1-ᾱ) = 1."""
    solution = sp.solve([_forward_relation(), v_from_x0_eps() - v], [x0, eps], dict=True)[0]
    return {key: sp.simplify(value) for key, value in solution.items()}


def x0_from_v() -> sp.Expr:
    """x_0 = √ᾱ_t x_t - √(1-ᾱ_t) v, from eq. (4) and the definition of v."""
    return _x0_eps_from_v()[x0]


def eps_from_v() -> sp.Expr:
    """ε = √(1-ᾱ_t) x_t + √ᾱ_t v, from eq. (4) and the definition of v."""
    return _x0_eps_from_v()[eps]


def score_from_eps() -> sp.Expr:
    """∇_{x_t} log q(x_t | x_0) = -ε/√(1-ᾱ_t) (DDPM §3.2), by differentiating eq. (4).

    The log-density is differentiated in x_t, then x_t = √ᾱ_t x_0 + √(1-ᾱ_t) ε substituted.
    """
    density = normal(x_t, sp.sqrt(alpha_bar) * x0, 1 - alpha_bar)
    score = sp.diff(density.exponent, x_t)
    x_t_of_eps = sp.sqrt(alpha_bar) * x0 + sp.sqrt(1 - alpha_bar) * eps
    return sp.simplify(score.subs(x_t, x_t_of_eps))


@cache
def x0_from_xprev() -> sp.Expr:
    """x_0 from a predicted posterior mean: the derived μ̃_t(x_t, x_0) = xprev solved for x_0.

    In the posterior module's symbols (√α_t, √ᾱ_{t-1}, x_0, x_t = ``x_symbols(2)[2]``).
    """
    (solution,) = sp.solve(posterior.mu_tilde() - xprev, x_symbols(2)[0])
    return sp.cancel(solution)
