"""KL divergence between Gaussians by integration, and the L_{t-1} term of DDPM eq. (8).

KL(p ‖ q) = E_p[log p(x) - log q(x)]. For Gaussians the log-ratio is a quadratic polynomial in x,
so its expectation needs the moments ∫ x^k N(x; m, v) dx for k ≤ 2, which
:func:`~ddpm_math.symbolic.gaussian.expectation` integrates with ``sympy.integrate``. An isotropic
d-dimensional Gaussian is a product of d one-dimensional ones; its log-ratio is the sum over
coordinates, each integrated against its own marginal. With the reverse variance fixed to σ_t²,
L_{t-1} = KL(q(x_{t-1}|x_t,x_0) ‖ p_θ(x_{t-1}|x_t)) = ‖μ̃_t - μ_θ‖²/(2σ_t²) + C (eq. 8), and C is
what is left after subtracting the mean term: it depends on β̃_t, σ_t² and d, not on μ_θ.
"""

from __future__ import annotations

from functools import cache

import sympy as sp

from ddpm_math.symbolic.gaussian import expectation, normal

__all__ = [
    "eq8_constant",
    "eq8_constant_closed_form",
    "mean1",
    "mean2",
    "normal_kl",
    "normal_kl_closed_form",
    "normal_kl_isotropic",
    "normal_kl_isotropic_closed_form",
    "var1",
    "var2",
]

mean1, mean2 = sp.symbols("mean1 mean2", real=True)
var1, var2 = sp.symbols("var1 var2", positive=True)


def _kl_1d(m1: sp.Expr, v1: sp.Expr, m2: sp.Expr, v2: sp.Expr) -> sp.Expr:
    """E_{N(m1,v1)}[log N(x; m1, v1) - log N(x; m2, v2)], integrated moment by moment."""
    x = sp.Dummy("x", real=True)
    p, q = normal(x, m1, v1), normal(x, m2, v2)
    log_ratio = sp.expand_log(sp.log(p.scale / q.scale), force=True) + p.exponent - q.exponent
    return expectation(log_ratio, x, m1, v1)


@cache
def normal_kl() -> sp.Expr:
    """KL(N(mean1, var1) ‖ N(mean2, var2)) in nats, by integration."""
    return sp.expand(_kl_1d(mean1, var1, mean2, var2))


def normal_kl_closed_form() -> sp.Expr:
    """The textbook ½(log(var2/var1) + var1/var2 + (mean1 - mean2)²/var2 - 1)."""
    return (sp.log(var2 / var1) + var1 / var2 + (mean1 - mean2) ** 2 / var2 - 1) / 2


@cache
def _vector_symbols(d: int) -> tuple[tuple[sp.Symbol, ...], tuple[sp.Symbol, ...]]:
    """Real coordinates of two d-dimensional means."""
    return sp.symbols(f"m1_0:{d}", real=True), sp.symbols(f"m2_0:{d}", real=True)


@cache
def normal_kl_isotropic(d: int) -> sp.Expr:
    """KL(N(m1, var1 I_d) ‖ N(m2, var2 I_d)) for concrete d, a sum of per-coordinate integrals."""
    m1, m2 = _vector_symbols(d)
    return sp.expand(sum(_kl_1d(a, var1, b, var2) for a, b in zip(m1, m2, strict=True)))


def normal_kl_isotropic_closed_form(d: int) -> sp.Expr:
    """d/2 (log(var2/var1) + var1/var2 - 1) + ‖m1 - m2‖²/(2 var2)."""
    m1, m2 = _vector_symbols(d)
    squared_distance = sum((a - b) ** 2 for a, b in zip(m1, m2, strict=True))
    return sp.Rational(d, 2) * (sp.log(var2 / var1) + var1 / var2 - 1) + squared_distance / (
        2 * var2
    )


@cache
def eq8_constant(d: int) -> sp.Expr:
    """C of DDPM eq. (8): L_{t-1} - ‖μ̃_t - μ_θ‖²/(2σ_t²) for concrete d, with var1 = β̃_t and
    var2 = σ_t² (symbols ``var1``, ``var2``; μ̃_t and μ_θ are the vector symbols m1, m2)."""
    m1, m2 = _vector_symbols(d)
    mean_term = sum((a - b) ** 2 for a, b in zip(m1, m2, strict=True)) / (2 * var2)
    return sp.expand(normal_kl_isotropic(d) - mean_term)


def eq8_constant_closed_form(d: int) -> sp.Expr:
    """C = d/2 (β̃_t/σ_t² - 1 - log(β̃_t/σ_t²)), free of μ_θ (var1 = β̃_t, var2 = σ_t²)."""
    ratio = var1 / var2
    return sp.Rational(d, 2) * (ratio - 1 - sp.log(ratio))
