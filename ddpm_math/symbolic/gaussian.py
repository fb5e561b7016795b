"""1-D Gaussian densities as sympy expressions, and the mechanical Gaussian integral.

Every derivation in :mod:`ddpm_math.symbolic` manipulates densities of the form
``scale · exp(exponent)`` with ``exponent`` a quadratic polynomial in the random variables.
Products and quotients of such densities (Bayes' rule) stay in this form; integrating one
variable out over the real line uses the Gaussian integral

    ∫ exp(a x² + b x + c) dx = √(π/(-a)) · exp(c - b²/(4a)),   a < 0,

which :func:`gaussian_integral` states and the verification suite checks against
``sympy.integrate``. Completing the square turns the exponent's quadratic in one variable into
a mean and a variance. Working with ``scale`` and ``exponent`` apart keeps every simplification a
rational-function cancellation (no logarithms to combine).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import sympy as sp

__all__ = [
    "Density",
    "MeanVariance",
    "complete_square",
    "expectation",
    "gaussian_integral",
    "agree_numerically",
    "integrate_out",
    "is_zero",
    "normal",
    "quadratic_coefficients",
]


@dataclass(frozen=True)
class Density:
    """An unnormalised density ``scale · exp(exponent)`` over some real variables."""

    scale: sp.Expr
    exponent: sp.Expr

    def __mul__(self, other: Density) -> Density:
        return Density(self.scale * other.scale, self.exponent + other.exponent)

    def __truediv__(self, other: Density) -> Density:
        return Density(self.scale / other.scale, self.exponent - other.exponent)

    @property
    def expr(self) -> sp.Expr:
        """The density as one sympy expression."""
        return self.scale * sp.exp(self.exponent)

    @property
    def log(self) -> sp.Expr:
        """log density = log scale + exponent."""
        return sp.log(self.scale) + self.exponent


@dataclass(frozen=True)
class MeanVariance:
    """A density in one variable written as ``mass · N(x; mean, variance)``."""

    mean: sp.Expr
    variance: sp.Expr
    mass: sp.Expr


def normal(x: sp.Expr, mean: sp.Expr, variance: sp.Expr) -> Density:
    """Gaussian density N(x; mean, variance) = (2π variance)^(-½) exp(-(x-mean)²/(2 variance))."""
    return Density(1 / sp.sqrt(2 * sp.pi * variance), -((x - mean) ** 2) / (2 * variance))


def quadratic_coefficients(exponent: sp.Expr, x: sp.Symbol) -> tuple[sp.Expr, sp.Expr, sp.Expr]:
    """(a, b, c) with exponent = a x² + b x + c; raises ValueError if it is not quadratic in x."""
    poly = sp.Poly(sp.expand(exponent), x)
    if poly.degree() > 2:
        raise ValueError(f"exponent must be at most quadratic in {x}, has degree {poly.degree()}")
    a, b, c = ([sp.S.Zero] * 3 + poly.all_coeffs())[-3:]
    return a, b, c


def gaussian_integral(a: sp.Expr, b: sp.Expr, c: sp.Expr) -> sp.Expr:
    """∫_ℝ exp(a x² + b x + c) dx = √(π/(-a)) exp(c - b²/(4a)) for a < 0 (completing the square)."""
    return sp.sqrt(sp.pi / (-a)) * sp.exp(c - b**2 / (4 * a))


def integrate_out(density: Density, x: sp.Symbol) -> Density:
    """∫ density dx over the real line, as a Density in the remaining variables."""
    a, b, c = quadratic_coefficients(density.exponent, x)
    return Density(density.scale * sp.sqrt(sp.pi / sp.cancel(-a)), sp.cancel(c - b**2 / (4 * a)))


def complete_square(density: Density, x: sp.Symbol) -> MeanVariance:
    """Write a density in x as mass · N(x; mean, variance) by completing the square in x.

    With exponent a x² + b x + c: variance = -1/(2a), mean = b·variance, and the leftover
    c + mean²/(2 variance) goes into ``mass`` = ∫ density dx together with the normaliser.
    """
    a, b, c = quadratic_coefficients(density.exponent, x)
    variance = sp.cancel(-1 / (2 * a))
    mean = sp.cancel(b * variance)
    leftover = sp.cancel(c + mean**2 / (2 * variance))
    mass = density.scale * sp.sqrt(2 * sp.pi * variance) * sp.exp(leftover)
    return MeanVariance(mean, variance, mass)


def expectation(f: sp.Expr, x: sp.Symbol, mean: sp.Expr, variance: sp.Expr) -> sp.Expr:
    """E[f(x)] under N(mean, variance) for f polynomial in x, moment by moment via sympy.integrate.

    The k-th moment ∫ x^k N(x; m, v) dx is integrated once per k (cached) with positive v.
    """
    poly = sp.Poly(sp.expand(f), x)
    total = sp.S.Zero
    for (k,), coef in poly.terms():
        total += coef * _moment(k).subs({_M: mean, _V: variance}, simultaneous=True)
    return sp.expand(total)


_M = sp.Symbol("m", real=True)
_V = sp.Symbol("v", positive=True)

@cache
def _moment(k: int) -> sp.Expr:
    """∫ x^k N(x; m, v) dx by sympy.integrate, cached per k."""
    x = sp.Symbol("x", real=True)
    integrand = x**k * normal(x, _M, _V).expr
    return sp.expand(sp.simplify(sp.integrate(integrand, (x, -sp.oo, sp.oo))))


def is_zero(expr: sp.Expr) -> bool:
    """True when sympy proves ``expr`` is identically 0 (cancel, then simplify as a fallback)."""
    expr = sp.cancel(sp.expand(expr))
    return expr == 0 or sp.simplify(expr) == 0


def agree_numerically(a: sp.Expr, b: sp.Expr, *, points: int = 3, seed: int = 0) -> bool:
    """True when a and b agree to 30 digits at ``points`` random rational points.

    Positive symbols get values in (0, 1) (every positive symbol here is a probability-like
    quantity or a variance), other symbols values in [-3, 3]. A spot check that backs up
    :func:`is_zero` and catches a wrong formula that a failed simplification would hide.
    """
    import random

    rng = random.Random(seed)
    symbols = sorted(sp.sympify(a).free_symbols | sp.sympify(b).free_symbols, key=str)
    for _ in range(points):
        values = {
            s: sp.Rational(rng.randint(1, 999), 1000) if s.is_positive
            else sp.Rational(rng.randint(-3000, 3000), 1000)
            for s in symbols
        }
        difference = sp.N((a - b).subs(values), 40)
        scale = 1 + abs(sp.N(a.subs(values), 40))
        if not abs(difference) <= sp.Float(10) ** -30 * scale:
            return False
    return True
