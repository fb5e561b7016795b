"""normal_kl equals KL(p ‖ q) = ∫ p log(p/q) computed by numerical integration (scipy quad).

The quadrature is the independent oracle: it knows only the two Gaussian log-densities. It is
run in the standardised variable z = (x - mean1)/σ1 so that p's mass is where quad looks,
with log p - log q formed from log-densities (no density underflow at log-variance -20).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from scipy import integrate

from ddpm_math import normal_kl
from ddpm_math.reference.kl import normal_kl as reference_normal_kl
from ddpm_math.testing.strategies import log_variances, reals
from ddpm_math.testing.tolerances import TOLERANCES, assert_close

#: quad's accuracy on these smooth integrands (epsabs=1e-12, epsrel=1e-11), with headroom.
QUAD = dict(rtol=1e-8, atol=1e-10)


def kl_by_quadrature(mean1: float, logvar1: float, mean2: float, logvar2: float) -> float:
    """∫ N(x; mean1, e^logvar1) (log N(x; mean1, ·) - log N(x; mean2, ·)) dx, by quad."""
    sd1 = math.exp(0.5 * logvar1)

    def integrand(z: float) -> float:
        x_minus_mean2 = (mean1 - mean2) + sd1 * z
        log_p = -0.5 * z * z - 0.5 * logvar1
        log_q = -0.5 * x_minus_mean2**2 * math.exp(-logvar2) - 0.5 * logvar2
        return math.exp(-0.5 * z * z) / math.sqrt(2 * math.pi) * (log_p - log_q)

    value, _ = integrate.quad(integrand, -40.0, 40.0, epsabs=1e-12, epsrel=1e-11, limit=200,
                              points=[0.0])
    return value


def matches_quadrature(kl_fn, params) -> bool:
    """Whether ``kl_fn`` agrees with the quadrature on every parameter tuple in ``params``."""
    for mean1, logvar1, mean2, logvar2 in params:
        got = float(kl_fn(torch.tensor(mean1, dtype=torch.float64), logvar1, mean2, logvar2))
        want = kl_by_quadrature(mean1, logvar1, mean2, logvar2)
        if not abs(got - want) <= QUAD["atol"] + QUAD["rtol"] * abs(want):
            return False
    return True


gaussian_pairs = st.tuples(reals(-10, 10), log_variances(), reals(-10, 10), log_variances())


@given(gaussian_pairs)
def test_normal_kl_equals_quadrature(params):
    assert matches_quadrature(normal_kl, [params])


FIXED_PARAMS = [(0.3, -1.0, -0.2, 0.5), (2.0, 0.0, 0.0, 0.0), (0.0, 1.0, 0.0, -1.0)]


@pytest.mark.parametrize(
    "wrong_kl",
    [
        lambda m1, v1, m2, v2: 2 * normal_kl(m1, v1, m2, v2),  # dropped ½
        lambda m1, v1, m2, v2: normal_kl(m2, v2, m1, v1),  # arguments swapped: KL(q ‖ p)
        lambda m1, v1, m2, v2: 0.5 * ((m1 - m2) ** 2 * math.exp(-v2) + v2 - v1),  # lost e^Δ - 1
        lambda m1, v1, m2, v2: normal_kl(m1, 0.5 * v1, m2, 0.5 * v2),  # log σ for log σ²
    ],
    ids=["dropped_half", "reversed", "missing_ratio_term", "log_sd_for_log_var"],
)
def test_wrong_kl_formulas_fail_the_quadrature_check(wrong_kl):
    assert matches_quadrature(normal_kl, FIXED_PARAMS)
    assert not matches_quadrature(wrong_kl, FIXED_PARAMS)


@given(st.tuples(reals(-10, 10), log_variances(), reals(-10, 10), log_variances()))
def test_normal_kl_is_nonnegative(params):
    kl = normal_kl(*(torch.tensor(v, dtype=torch.float64) for v in params))
    assert kl >= 0.0


@given(reals(-10, 10), log_variances())
def test_normal_kl_is_exactly_zero_for_equal_gaussians(mean, logvar):
    for dtype in (torch.float64, torch.float32):
        m, v = torch.tensor(mean, dtype=dtype), torch.tensor(logvar, dtype=dtype)
        assert normal_kl(m, v, m, v) == 0.0


@given(gaussian_pairs)
def test_float32_agrees_with_float64(params):
    """Same (float32-representable) inputs in both dtypes; the float32 error bound follows from
    rounding each of the three terms: |err| ≤ c·eps32·(|e^Δ - 1| + |Δ| + mean term), c = 8."""
    inputs32 = [torch.tensor(v, dtype=torch.float32) for v in params]
    kl32 = normal_kl(*inputs32).double()
    kl64 = normal_kl(*(v.double() for v in inputs32))
    m1, v1, m2, v2 = (float(v) for v in inputs32)
    delta = v1 - v2
    scale = abs(math.expm1(delta)) + abs(delta) + (m1 - m2) ** 2 * math.exp(-v2)
    bound = 8 * torch.finfo(torch.float32).eps * scale + 1e-30
    assert abs(float(kl32 - kl64)) <= bound


@given(gaussian_pairs)
def test_torch_float64_matches_numpy_reference(params):
    """The reference uses the textbook form -1 + Δ' + e^Δ; it loses absolute accuracy ~eps·e^Δ."""
    torch_kl = normal_kl(*(torch.tensor(v, dtype=torch.float64) for v in params))
    ref_kl = reference_normal_kl(*params)
    delta = params[1] - params[3]
    tol = TOLERANCES["float64"]
    np.testing.assert_allclose(float(torch_kl), ref_kl, rtol=tol.rtol,
                               atol=tol.atol * (1 + math.exp(delta) + abs(delta)))


def test_broadcasting_and_python_floats():
    mean1 = torch.zeros(4, 1, dtype=torch.float64)
    mean2 = torch.linspace(-1, 1, 3, dtype=torch.float64)
    kl = normal_kl(mean1, 0.0, mean2, math.log(2.0))
    assert kl.shape == (4, 3) and kl.dtype == torch.float64
    expected = [kl_by_quadrature(0.0, 0.0, float(m), math.log(2.0)) for m in mean2]
    assert_close(kl[0], expected, TOLERANCES["float64"].scaled(1e4))
