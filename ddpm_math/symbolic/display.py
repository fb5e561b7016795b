"""The derivations' results written in the paper's symbols, for reading (not for computing).

The derivations work in the step symbols ``sqrt_alpha`` = √α_t and ``sqrt_alpha_bar_prev`` =
√ᾱ_{t-1} and the variables ``x_0, x_1, x_2`` (x_0, x_{t-1}, x_t), which keep sympy's algebra
free of square-root branch questions. :func:`paper_form` substitutes α_t, ᾱ_{t-1},
ᾱ_t = α_t ᾱ_{t-1}, β_t = 1 - α_t, x_0, x_{t-1}, x_t, collects the terms of the named variables
and writes factors s - 1 as 1 - s, as DDPM eqs. (6)-(7) write them:

    >>> from ddpm_math.symbolic import posterior
    >>> from ddpm_math.symbolic.display import paper_form, simplified_mass, X0, XT
    >>> q = posterior.q_posterior()
    >>> paper_form(q.mean, collect=(X0, XT))
    x_0*β_t*sqrt(ᾱ_{t-1})/(1 - ᾱ_t) + x_t*sqrt(α_t)*(1 - ᾱ_{t-1})/(1 - ᾱ_t)
    >>> paper_form(q.variance)
    (β_t*(1 - ᾱ_{t-1}))/(1 - ᾱ_t)
    >>> simplified_mass(q.mass)
    1
"""

from __future__ import annotations

from collections.abc import Sequence

import sympy as sp

from ddpm_math.symbolic.forward import sqrt_alpha, sqrt_alpha_bar_prev, x_symbols
from ddpm_math.symbolic.posterior import eps

__all__ = ["ALPHA", "ALPHA_BAR", "ALPHA_BAR_PREV", "BETA", "EPS", "X0", "XPREV", "XT",
           "paper_form", "simplified_mass"]

ALPHA = sp.Symbol("α_t", positive=True)
ALPHA_BAR_PREV = sp.Symbol("ᾱ_{t-1}", positive=True)
ALPHA_BAR = sp.Symbol("ᾱ_t", positive=True)
BETA = sp.Symbol("β_t", positive=True)
X0, XPREV, XT = sp.symbols("x_0 x_{t-1} x_t", real=True)
EPS = sp.Symbol("ε", real=True)


def _substituted(expr: sp.Expr) -> sp.Expr:
    x0, x_prev, x_t = x_symbols(2)
    return expr.subs({sqrt_alpha: sp.sqrt(ALPHA), sqrt_alpha_bar_prev: sp.sqrt(ALPHA_BAR_PREV),
                      x0: X0, x_prev: XPREV, x_t: XT, eps: EPS})


def _coefficient(expr: sp.Expr) -> sp.Expr:
    """One coefficient in α_t, β_t, ᾱ_{t-1}, ᾱ_t: factors s - 1 written 1 - s, 1 - β_t as α_t."""
    expr = sp.factor(sp.simplify(expr)).subs(ALPHA * ALPHA_BAR_PREV, ALPHA_BAR)
    expr = sp.factor(expr.subs(ALPHA, 1 - BETA).subs((1 - BETA) * ALPHA_BAR_PREV, ALPHA_BAR))
    expr = expr.subs(sp.sqrt(1 - BETA), sp.sqrt(ALPHA))
    numerator, denominator = sp.fraction(expr)
    sign_n, numerator = _ones_first(numerator)
    sign_d, denominator = _ones_first(denominator)
    sign = sign_n / sign_d
    parts = [numerator] if denominator == 1 else [numerator,
                                                  sp.Pow(denominator, -1, evaluate=False)]
    return sp.Mul(*([sign] if sign != 1 else []), *parts, evaluate=False)


def _ones_first(expr: sp.Expr) -> tuple[sp.Expr, sp.Expr]:
    """(sign, product) with each factor s - 1 written 1 - s and 1 - β_t written α_t."""
    sign, parts = sp.Integer(1), []
    for factor in sp.Mul.make_args(sp.factor(expr)):
        if factor.is_Number:
            sign, factor = (-sign, -factor) if factor < 0 else (sign, factor)
            if factor != 1:
                parts.insert(0, factor)
            continue
        base, power = factor.as_base_exp()
        if isinstance(base, sp.Add) and (base + 1).is_Symbol and power.is_integer:
            sign = sign * (-1) ** power  # s - 1 → -(1 - s)
            base = ALPHA if base + 1 == BETA else sp.Add(1, -(base + 1), evaluate=False)
            factor = base if power == 1 else sp.Pow(base, power, evaluate=False)
        parts.append(factor)
    if not parts:
        return sign, sp.Integer(1)
    return sign, parts[0] if len(parts) == 1 else sp.Mul(*parts, evaluate=False)


def paper_form(expr: sp.Expr, collect: Sequence[sp.Symbol] = ()) -> sp.Expr:
    """``expr`` in the paper's symbols, the terms of ``collect`` (e.g. X0, XT) gathered."""
    expr = sp.expand(sp.simplify(_substituted(expr)))
    if not collect:
        return _coefficient(expr)
    parts = sp.collect(expr, list(collect), evaluate=False)
    return sp.Add(*(_coefficient(c) * k for k, c in parts.items()), evaluate=False)


def simplified_mass(mass: sp.Expr) -> sp.Expr:
    """A density's mass simplified with √a·√b = √(ab), valid here: every radicand of the
    derivations (1 - α_t, 1 - ᾱ_{t-1}, 1 - ᾱ_t and their ratios) is positive for α_t, ᾱ_{t-1}
    in (0, 1); sympy does not merge the roots without that knowledge."""
    return sp.simplify(sp.powsimp(sp.powdenest(mass, force=True), force=True))
