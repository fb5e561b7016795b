"""The discretised decoder of DDPM eq. (13): bin probabilities from integrating the Gaussian.

Data values x_k = k/127.5 - 1 (k = 0..255) sit on a grid of spacing 2/255. Bin k is
[x_k - 1/255, x_k + 1/255], the first opened to -∞ and the last to +∞. Its probability under
N(μ, σ²) is the integral of the density over the bin; the Gaussian CDF Φ is obtained here by
``sympy.integrate`` of the density from -∞. Because the upper edge of bin k is the lower edge of
bin k+1, the probabilities telescope to Φ(+∞) - Φ(-∞) = 1.
"""

from __future__ import annotations

from functools import cache

import sympy as sp

from ddpm_math.symbolic.gaussian import normal

__all__ = ["BIN_HALF_WIDTH", "bin_edges", "bin_probabilities", "gaussian_cdf", "mean", "scale"]

mean = sp.Symbol("mu", real=True)
scale = sp.Symbol("sigma", positive=True)
_u = sp.Symbol("u", real=True)

#: Half-width of one 8-bit bin on the [-1, 1] scale (notation.BIN_HALF_WIDTH), exact.
BIN_HALF_WIDTH = sp.Rational(1, 255)


@cache
def gaussian_cdf() -> sp.Lambda:
    """Φ_{μ,σ}(u) = ∫_{-∞}^u N(x; μ, σ²) dx, integrated by sympy (an erf expression)."""
    x = sp.Symbol("x", real=True)
    integral = sp.integrate(normal(x, mean, scale**2).expr, (x, -sp.oo, _u))
    return sp.Lambda(_u, sp.simplify(integral))


def bin_edges(half_width: sp.Expr = BIN_HALF_WIDTH) -> list[tuple[sp.Expr, sp.Expr]]:
    """(lower, upper) of the 256 bins around x_k = k/127.5 - 1, outer bins open (eq. 13)."""
    edges = []
    for k in range(256):
        centre = sp.Rational(2 * k, 255) - 1  # k/127.5 - 1, exactly
        lower = -sp.oo if k == 0 else centre - half_width
        upper = sp.oo if k == 255 else centre + half_width
        edges.append((lower, upper))
    return edges


def bin_probabilities(half_width: sp.Expr = BIN_HALF_WIDTH) -> list[sp.Expr]:
    """P(bin k) = Φ(upper) - Φ(lower), with Φ(±∞) taken as the limits of the integrated CDF."""
    cdf = gaussian_cdf()
    at_edge = {-sp.oo: sp.limit(cdf(_u), _u, -sp.oo), sp.oo: sp.limit(cdf(_u), _u, sp.oo)}
    value = lambda edge: at_edge[edge] if edge in at_edge else cdf(edge)  # noqa: E731
    return [value(upper) - value(lower) for lower, upper in bin_edges(half_width)]
