"""mpmath oracle (Gaussian KL integrated in sympy) against the float64 reference normal_kl."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ddpm_math.reference import kl as ref
from ddpm_math.reference import mp
from ddpm_math.testing.strategies import log_variances, reals
from ddpm_math.testing.tolerances import TOLERANCES, assert_close

TOL = TOLERANCES["mpmath_vs_float64"]


@given(reals(-5, 5), log_variances(-10, 5), reals(-5, 5), log_variances(-10, 5))
def test_normal_kl(mean1, logvar1, mean2, logvar2):
    expected = mp.normal_kl(mean1, logvar1, mean2, logvar2)
    # the reference sums terms of size up to e^(logvar1-logvar2) and (Δmean)²/var2
    terms = (1.0, abs(logvar1), abs(logvar2), np.exp(logvar1 - logvar2),
             (mean1 - mean2) ** 2 * np.exp(-logvar2))
    assert_close(ref.normal_kl(mean1, logvar1, mean2, logvar2), expected,
                 TOL.scaled(max(1.0, sum(terms) / max(abs(float(expected)), 1.0))))


@given(st.data())
def test_normal_kl_rejects_dropped_half(data):
    """The KL without its ½ fails the same comparison (KL > 0 away from equal Gaussians)."""
    mean1 = data.draw(reals(-5, 5))
    mean2 = data.draw(reals(-5, 5).filter(lambda m: abs(m - mean1) > 0.1))
    expected = mp.normal_kl(mean1, 0.0, mean2, 0.5)
    with pytest.raises(AssertionError):
        assert_close(2 * ref.normal_kl(mean1, 0.0, mean2, 0.5), expected, TOL)
