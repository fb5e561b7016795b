"""normal_kl, DDPM eq. (5)'s Gaussian KL, where its terms overflow float64, against mpmath.

KL(N(μ1, e^{v1}) ‖ N(μ2, e^{v2})) = ½(-1 + v2 - v1 + e^{v1 - v2} + (μ1 - μ2)² e^{-v2}).
The kernel forms Δμ = μ1 - μ2 from halves when it overflows (μ1 = -μ2 = 1.5e308) and returns
+inf when one half of the KL diverges; a NaN anywhere gives NaN, even where another term
diverges. The oracle evaluates the formula in mpmath at 50 digits on the same float64 inputs.
"""

from __future__ import annotations

import math

import mpmath
import pytest
import torch

from ddpm_math.diffusion.kl import normal_kl


def kl_mpmath(mean1, logvar1, mean2, logvar2) -> float:
    with mpmath.workdps(50):
        m1, v1, m2, v2 = (mpmath.mpf(a) for a in (mean1, logvar1, mean2, logvar2))
        kl = (-1 + v2 - v1 + mpmath.exp(v1 - v2) + (m1 - m2) ** 2 * mpmath.exp(-v2)) / 2
        return float(kl)


CASES = [
    (1.5e308, 0.0, -1.5e308, 1400.0),  # Δμ overflows; ½Δμ² e^{-v2} ≈ 4.5e8 does not
    (-1.7e308, 2.0, 1.6e308, 1410.0),
    (1e308, -3.0, -1e308, 1300.0),
    (1e300, 0.5, -1e300, 1380.0),  # Δμ finite: the ordinary path, same scale
    (3.0, 700.0, -2.0, 650.0),  # e^{v1 - v2} = e^{50}
]


@pytest.mark.parametrize("args", CASES)
def test_kl_matches_mpmath_where_the_mean_difference_overflows(args):
    got = float(normal_kl(*(torch.tensor(a, dtype=torch.float64) for a in args)))
    assert got == pytest.approx(kl_mpmath(*args), rel=1e-12)


def test_kl_is_infinite_when_a_variance_is_infinite():
    inf = math.inf
    assert float(normal_kl(*(torch.tensor(a) for a in (0.0, inf, 0.0, 0.0)))) == inf
    assert float(normal_kl(*(torch.tensor(a) for a in (0.0, 1000.0, 0.0, 0.0)))) == inf


@pytest.mark.parametrize("position", range(4))
def test_a_nan_argument_gives_nan_even_where_another_term_diverges(position):
    args = [0.0, 1000.0, 0.0, 0.0]  # e^{v1 - v2} overflows: the KL would be +inf
    args[position] = math.nan
    assert math.isnan(float(normal_kl(*(torch.tensor(a, dtype=torch.float64) for a in args))))
