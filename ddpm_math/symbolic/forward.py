"""The forward marginal q(x_t | x_0) = N(√ᾱ_t x_0, 1 - ᾱ_t), DDPM eq. (4), derived in sympy.

Three routes, each a computation from the one-step kernel q(x_t | x_{t-1}) = N(√(1-β_t) x_{t-1},
β_t) of eq. (2):

- :func:`q_mean_variance`: for a concrete t, multiply the kernels of steps 1..t and integrate
  x_1, ..., x_{t-1} out over the real line one at a time (symbolic β_1, ..., β_t);
- :func:`q_sample_coefficients`: unroll x_s = √(1-β_s) x_{s-1} + √β_s ε_s and apply the rule for
  a sum of independent Gaussians (variances add with squared coefficients);
- :func:`q_mean_variance_step`: the induction step for general t: from q(x_{t-1} | x_0) =
  N(√a x_0, 1 - a) and one kernel with α_t, integrating x_{t-1} out gives N(√(α_t a) x_0,
  1 - α_t a), so ᾱ_t = α_t ᾱ_{t-1} and, with ᾱ_1 = α_1, ᾱ_t = ∏_{s≤t} α_s.

Steps are the paper's 1-based t here (see :mod:`ddpm_math.notation`). Every β is a symbol written
as β_s = 1 - r_s² with r_s = √α_s > 0: the kernel is unchanged, and √(1-β_s) = r_s keeps every
intermediate a rational function, which sympy cancels exactly and quickly.
"""

from __future__ import annotations

from functools import cache

import sympy as sp

from ddpm_math.symbolic.gaussian import (
    Density,
    MeanVariance,
    complete_square,
    integrate_out,
    normal,
)

__all__ = [
    "alpha_bar",
    "beta_symbols",
    "sqrt_alpha",
    "sqrt_alpha_bar_prev",
    "sqrt_alpha_symbols",
    "q_mean_variance",
    "q_mean_variance_closed_form",
    "q_mean_variance_step",
    "q_sample_coefficients",
    "q_step",
    "x_symbols",
]

#: Symbols of one general step: √α_t and √ᾱ_{t-1}, both in (0, 1) (so α_t = sqrt_alpha**2).
sqrt_alpha, sqrt_alpha_bar_prev = sp.symbols("sqrt_alpha sqrt_alpha_bar_prev", positive=True)


@cache
def sqrt_alpha_symbols(t: int) -> tuple[sp.Symbol, ...]:
    """Positive symbols r_1, ..., r_t standing for √α_s = √(1-β_s)."""
    return tuple(sp.symbols(f"r_1:{t + 1}", positive=True)) if t > 0 else ()


@cache
def beta_symbols(t: int) -> tuple[sp.Expr, ...]:
    """Symbolic β_1, ..., β_t, each written β_s = 1 - r_s² (see the module docstring)."""
    return tuple(1 - r**2 for r in sqrt_alpha_symbols(t))


@cache
def x_symbols(t: int) -> tuple[sp.Symbol, ...]:
    """Real symbols x_0, ..., x_t."""
    return sp.symbols(f"x_0:{t + 1}", real=True)


def q_step(x_t: sp.Expr, x_prev: sp.Expr, beta: sp.Expr) -> Density:
    """One forward kernel q(x_t | x_{t-1}) = N(x_t; √(1-β_t) x_{t-1}, β_t), DDPM eq. (2)."""
    return normal(x_t, sp.sqrt(1 - beta) * x_prev, beta)


def alpha_bar(t: int) -> sp.Expr:
    """ᾱ_t = ∏_{s≤t} (1 - β_s) in the symbols of :func:`beta_symbols`, DDPM §2 definition."""
    return sp.Mul(*[1 - beta for beta in beta_symbols(t)])


def q_mean_variance_closed_form(t: int) -> tuple[sp.Expr, sp.Expr]:
    """The paper's stated result for q(x_t | x_0): mean √ᾱ_t x_0 and variance 1 - ᾱ_t, eq. (4)."""
    return sp.sqrt(alpha_bar(t)) * x_symbols(t)[0], 1 - alpha_bar(t)


@cache
def q_mean_variance(t: int) -> MeanVariance:
    """q(x_t | x_0), DDPM eq. (4), by integrating x_1..x_{t-1} out of ∏_{s≤t} q(x_s | x_{s-1}).

    Each integration is the Gaussian integral of :func:`~.gaussian.integrate_out`; the result is
    written as mass · N(x_t; mean, variance) by completing the square in x_t.
    """
    if t < 1:
        raise ValueError(f"t must be a paper step >= 1, got {t}")
    xs, betas = x_symbols(t), beta_symbols(t)
    joint = q_step(xs[1], xs[0], betas[0])
    for s in range(2, t + 1):
        joint = integrate_out(joint * q_step(xs[s], xs[s - 1], betas[s - 1]), xs[s - 1])
    return complete_square(joint, xs[t])


def q_sample_coefficients(t: int) -> tuple[sp.Expr, sp.Expr]:
    """(mean, variance) of x_t given x_0 from the unrolled reparameterisation, eq. (4).

    x_t = √(1-β_t) x_{t-1} + √β_t ε_t is expanded down to x_0; x_t is then x_0 times a
    coefficient plus a sum of independent standard normals ε_s, whose variance is the sum of the
    squared coefficients of the ε_s.
    """
    xs, betas = x_symbols(t), beta_symbols(t)
    eps = sp.symbols(f"eps_1:{t + 1}", real=True)
    x_t = xs[0]
    for s in range(1, t + 1):
        x_t = sp.sqrt(1 - betas[s - 1]) * x_t + sp.sqrt(betas[s - 1]) * eps[s - 1]
    x_t = sp.expand(x_t)
    variance = sum(x_t.coeff(e) ** 2 for e in eps)
    return x_t.coeff(xs[0]), sp.expand(variance)


@cache
def q_mean_variance_step() -> MeanVariance:
    """Induction step of eq. (4): ∫ q(x_t | x_{t-1}) N(x_{t-1}; √ᾱ_{t-1} x_0, 1-ᾱ_{t-1}) dx_{t-1}.

    In the symbols ``sqrt_alpha`` (√α_t) and ``sqrt_alpha_bar_prev`` (√ᾱ_{t-1}); the result is a
    density in x_t (symbol x_2 of :func:`x_symbols`, x_1 being x_{t-1}, x_0 the data).
    """
    x0, x_prev, x_t = x_symbols(2)
    alpha_bar_prev = sqrt_alpha_bar_prev**2
    previous = normal(x_prev, sqrt_alpha_bar_prev * x0, 1 - alpha_bar_prev)
    joint = integrate_out(previous * q_step(x_t, x_prev, 1 - sqrt_alpha**2), x_prev)
    return complete_square(joint, x_t)
