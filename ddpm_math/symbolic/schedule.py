"""Schedule relations: the cosine schedule's ᾱ and β (Nichol & Dhariwal 2021, eq. 17) and the
zero-terminal-SNR rescale (Lin et al. 2023, Algorithm 1), derived in sympy.

Cosine: f(u) = cos²((u + s)/(1 + s) · π/2), ᾱ_t = f(t/T)/f(0) and β_t = 1 - ᾱ_t/ᾱ_{t-1}. The
product ∏_{s≤t}(1 - β_s) telescopes back to ᾱ_t, and β_t = 1 - f(t/T)/f((t-1)/T) does not depend
on the normalisation f(0).

Rescale: √ᾱ_t ↦ k(√ᾱ_t - c), the affine map fixed by sending √ᾱ_T to 0 and keeping √ᾱ_1; it is
found with ``sympy.solve``. The new β_T is then 1 and the new β_1 equals the old one.
"""

from __future__ import annotations

from functools import cache

import sympy as sp

__all__ = [
    "cosine_alpha_bar",
    "cosine_beta",
    "cosine_f",
    "offset",
    "rescale_map",
    "rescaled_alpha_bar",
    "rescaled_beta",
    "sqrt_alpha_bar_symbols",
]

offset = sp.Symbol("s", positive=True)


def cosine_f(u: sp.Expr) -> sp.Expr:
    """f(u) = cos²((u + s)/(1 + s) · π/2), Nichol & Dhariwal 2021 eq. (17)."""
    return sp.cos((u + offset) / (1 + offset) * sp.pi / 2) ** 2


def cosine_alpha_bar(t: int, T: int) -> sp.Expr:
    """ᾱ_t = f(t/T)/f(0), normalised so ᾱ_0 = 1."""
    return cosine_f(sp.Rational(t, T)) / cosine_f(0)


def cosine_beta(t: int, T: int) -> sp.Expr:
    """β_t = 1 - ᾱ_t/ᾱ_{t-1} (before the clip at max_beta), paper step t ≥ 1."""
    return 1 - cosine_alpha_bar(t, T) / cosine_alpha_bar(t - 1, T)


@cache
def sqrt_alpha_bar_symbols(T: int) -> tuple[sp.Symbol, ...]:
    """Positive symbols a_1, ..., a_T standing for √ᾱ_1, ..., √ᾱ_T of the schedule to rescale."""
    return tuple(sp.symbols(f"a_1:{T + 1}", positive=True))


@cache
def rescale_map(T: int) -> tuple[sp.Expr, sp.Expr]:
    """(k, c) of √ᾱ ↦ k(√ᾱ - c), solved from k(a_T - c) = 0 and k(a_1 - c) = a_1 (k ≠ 0)."""
    a = sqrt_alpha_bar_symbols(T)
    k, c = sp.symbols("k c")
    solutions = sp.solve([k * (a[-1] - c), k * (a[0] - c) - a[0]], [k, c], dict=True)
    (solution,) = [sol for sol in solutions if sol[k] != 0]
    return solution[k], solution[c]


def rescaled_alpha_bar(T: int) -> list[sp.Expr]:
    """New ᾱ_1..ᾱ_T = (k(a_t - c))²."""
    k, c = rescale_map(T)
    return [sp.factor((k * (a - c)) ** 2) for a in sqrt_alpha_bar_symbols(T)]


def rescaled_beta(T: int) -> list[sp.Expr]:
    """New β_t = 1 - ᾱ_t/ᾱ_{t-1} with ᾱ_0 = 1."""
    alpha_bar = [sp.S.One, *rescaled_alpha_bar(T)]
    return [sp.cancel(1 - alpha_bar[t] / alpha_bar[t - 1]) for t in range(1, T + 1)]
