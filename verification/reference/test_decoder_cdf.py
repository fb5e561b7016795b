"""The float64 reference Φ of the decoder (DDPM eq. 13) against scipy.stats.norm.cdf.

``reference.decoder.standard_normal_cdf`` is ½(1 + erf(x/√2)). Checked at points away from 0,
where every constant of that formula (the ½, the 1, the √2) moves the value, and for inputs of
every real dtype: a float64 reference computes in float64 whatever it is handed, so a float32 or
float16 input gives Φ of the same number to float64 accuracy, not to the input's epsilon
(under NumPy 1's value-based casting a float32 array divided by √2 stays float32), and exact
rationals (``fractions.Fraction``, as the sympy layer produces them) are real numbers too.
The oracle, ``scipy.stats.norm.cdf``, evaluates Φ by ``special.ndtr`` (Cephes), not through erf.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from scipy import stats

from ddpm_math.reference.decoder import standard_normal_cdf
from ddpm_math.testing.tolerances import TOLERANCES, assert_close

# ½(1 + erf) loses relative accuracy in the left tail (1 + erf cancels), not absolute accuracy:
# compare with the float64 table's atol, 1e-14 (Φ(-8) = 6.2e-16 is then checked only as ~0).
TOL = TOLERANCES["float64"]

# exactly representable in float16, float32 and float64, so every dtype holds the same number
POINTS = np.array([-8.0, -3.5, -2.0, -1.25, -0.5, 0.75, 1.5, 2.25, 4.0, 6.0])


def test_cdf_matches_scipy_away_from_zero():
    assert_close(standard_normal_cdf(POINTS), stats.norm.cdf(POINTS), TOL)


def test_cdf_known_values():
    """Φ(1) = 0.8413447460685429, Φ(-2) = 0.02275013194817921, Φ(3) = 0.9986501019683699
    (mpmath.ncdf at 50 digits, rounded to float64)."""
    got = standard_normal_cdf([1.0, -2.0, 3.0])
    assert_close(got, [0.8413447460685429, 0.02275013194817921, 0.9986501019683699], TOL)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.int64])
def test_cdf_computes_in_float64_for_every_input_dtype(dtype):
    points = POINTS.astype(dtype) if dtype is not np.int64 else np.array([-3, -2, -1, 1, 2, 5])
    got = standard_normal_cdf(points)
    assert got.dtype == np.float64
    assert_close(got, stats.norm.cdf(points.astype(np.float64)), TOL)


def test_cdf_accepts_python_numbers_and_lists():
    assert_close(standard_normal_cdf(-1.25), stats.norm.cdf(-1.25), TOL)
    assert_close(standard_normal_cdf([0.75, 2.25]), stats.norm.cdf([0.75, 2.25]), TOL)


def test_cdf_accepts_exact_rationals():
    """Φ(-5/4) and Φ(3/4) from Fractions: the reference converts to float64 before erf."""
    got = standard_normal_cdf([Fraction(-5, 4), Fraction(3, 4)])
    assert got.dtype == np.float64
    assert_close(got, stats.norm.cdf([-1.25, 0.75]), TOL)
