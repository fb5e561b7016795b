"""The gradient of the decoder's log Φ is the Mills ratio φ(x)/Φ(x), on both sides of 0.

``diffusion.decoder.log_ndtr`` has its own backward: √(2/π)/erfcx(-x/√2) for x < 0 and
exp(log φ(x) - log Φ(x)) for x ≥ 0. The oracle is mpmath at 50 digits (``npdf/ncdf``), with
points in both branches, at the branch point, and deep in the lower tail.
"""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
import torch

from ddpm_math.diffusion.decoder import log_ndtr
from ddpm_math.testing.tolerances import TOLERANCES, assert_close

POINTS = [-1e10, -1000.0, -37.5, -8.0, -2.5, -1.0, -0.25, 0.0, 0.25, 0.5, 1.0, 2.0,
          3.5, 6.0, 9.0, 40.0]


def mills_ratio(x: float) -> float:
    with mpmath.workdps(50):
        x = mpmath.mpf(x)
        return float(mpmath.npdf(x) / mpmath.ncdf(x))


def log_cdf(x: float) -> float:
    with mpmath.workdps(50):
        return float(mpmath.log(mpmath.ncdf(mpmath.mpf(x))))


def test_log_ndtr_gradient_is_the_mills_ratio():
    x = torch.tensor(POINTS, dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(log_ndtr(x).sum(), x)
    want = np.array([mills_ratio(p) for p in POINTS])
    # float64: a few ulps, except erfcx and exp(-x²/2 - log Φ) carry ~x² ulps of rounding
    assert_close(grad, want, TOLERANCES["float64"].scaled(10.0))


def test_log_ndtr_gradient_far_in_the_lower_tail():
    """φ(x)/Φ(x) = |x| (1 + x⁻² + O(x⁻⁴)) as x → -∞ (the Mills ratio's asymptotic series); at
    x = -1e150 that is 1e150 to float64 precision, where mpmath's ncdf underflows."""
    x = torch.tensor([-1e150, -1e100], dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(log_ndtr(x).sum(), x)
    assert_close(grad, np.array([1e150, 1e100]), TOLERANCES["float64"])


@pytest.mark.parametrize("scale", [0.5, 3.0])
def test_log_ndtr_gradient_is_the_chain_rule_factor(scale):
    """d/dx log Φ(c x) = c φ(cx)/Φ(cx): the incoming gradient multiplies the ratio."""
    x = torch.tensor([-3.0, -0.5, 0.5, 3.0], dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad((scale * log_ndtr(x)).sum(), x)
    want = np.array([scale * mills_ratio(p) for p in (-3.0, -0.5, 0.5, 3.0)])
    assert_close(grad, want, TOLERANCES["float64"].scaled(10.0))


def test_log_ndtr_value():
    x = torch.tensor(POINTS[1:], dtype=torch.float64)
    assert_close(log_ndtr(x), np.array([log_cdf(p) for p in POINTS[1:]]),
                 TOLERANCES["float64"].scaled(10.0))
