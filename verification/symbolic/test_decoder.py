"""DDPM eq. (13): the 256 bin probabilities of the discretised decoder telescope to 1."""

import sympy as sp

from ddpm_math.symbolic import decoder


def test_cdf_is_the_integrated_density():
    """Φ from sympy.integrate is ½(1 + erf((u - μ)/(σ√2))) and has limits 0 and 1."""
    u = sp.Symbol("u", real=True)
    stated = (1 + sp.erf((u - decoder.mean) / (decoder.scale * sp.sqrt(2)))) / 2
    assert sp.simplify(decoder.gaussian_cdf()(u) - stated) == 0
    assert sp.simplify(decoder.gaussian_cdf()(u) - stated.subs(decoder.scale, 1)) != 0


def test_bin_edges_touch():
    """The upper edge of bin k is the lower edge of bin k+1 (exact rationals)."""
    edges = decoder.bin_edges()
    assert all(edges[k][1] == edges[k + 1][0] for k in range(255))
    assert edges[0][0] == -sp.oo and edges[255][1] == sp.oo


def test_bin_probabilities_telescope_to_one():
    assert sp.simplify(sp.Add(*decoder.bin_probabilities())) == 1


def test_wrong_bin_width_does_not_sum_to_one():
    """Half-width 1/256 (a plausible slip) leaves gaps between bins: the sum is below 1.

    Checked numerically at μ = 1/10, σ = 1/2 (30 digits) as the exact sum stays unsimplified.
    """
    total = sp.Add(*decoder.bin_probabilities(sp.Rational(1, 256)))
    value = sp.N(total.subs({decoder.mean: sp.Rational(1, 10), decoder.scale: sp.Rational(1, 2)}),
                 30)
    assert value < 1 - sp.Float("1e-4")
