"""Gaussian KL by integration, its isotropic form, and the constant C of DDPM eq. (8)."""

import pytest
import sympy as sp

from ddpm_math.symbolic import kl
from ddpm_math.symbolic.gaussian import agree_numerically, is_zero


def _holds(derived, expected) -> bool:
    difference = sp.expand_log(derived - expected, force=True)
    return is_zero(difference) and agree_numerically(derived, expected)


def test_normal_kl_by_integration():
    assert _holds(kl.normal_kl(), kl.normal_kl_closed_form())


def test_normal_kl_direct_integral():
    """sympy.integrate of p log(p/q) at a rational parameter point gives the same number."""
    x = sp.Symbol("x", real=True)
    values = {kl.mean1: sp.Rational(1, 3), kl.var1: sp.Rational(1, 2),
              kl.mean2: sp.Rational(-1, 4), kl.var2: sp.Rational(3, 2)}
    p = sp.exp(-((x - values[kl.mean1]) ** 2) / (2 * values[kl.var1]))
    p = p / sp.sqrt(2 * sp.pi * values[kl.var1])
    q = sp.exp(-((x - values[kl.mean2]) ** 2) / (2 * values[kl.var2]))
    q = q / sp.sqrt(2 * sp.pi * values[kl.var2])
    integral = sp.Integral(p * sp.expand_log(sp.log(p) - sp.log(q), force=True),
                           (x, -sp.oo, sp.oo))
    assert abs(sp.N(integral, 30) - sp.N(kl.normal_kl().subs(values), 30)) < 1e-25


@pytest.mark.parametrize(
    "wrong",
    [
        (sp.log(kl.var2 / kl.var1) + kl.var1 / kl.var2 + (kl.mean1 - kl.mean2) ** 2 / kl.var2 - 1),
        (sp.log(kl.var1 / kl.var2) + kl.var1 / kl.var2 + (kl.mean1 - kl.mean2) ** 2 / kl.var2 - 1)
        / 2,
        (sp.log(kl.var2 / kl.var1) + kl.var1 / kl.var2 + (kl.mean1 - kl.mean2) ** 2 / kl.var1 - 1)
        / 2,
    ],
    ids=["dropped_half", "inverted_log_ratio", "divides_by_var1"],
)
def test_normal_kl_rejects_wrong_forms(wrong):
    assert not _holds(kl.normal_kl(), wrong)


@pytest.mark.parametrize("d", [1, 3])
def test_isotropic_kl(d):
    assert _holds(kl.normal_kl_isotropic(d), kl.normal_kl_isotropic_closed_form(d))
    # the log term without the factor d
    m1, m2 = kl._vector_symbols(d)
    wrong = kl.normal_kl_isotropic_closed_form(d) - sp.Rational(d - 1, 2) * sp.log(
        kl.var2 / kl.var1
    )
    assert d == 1 or not _holds(kl.normal_kl_isotropic(d), wrong)


def test_eq8_constant():
    """L_{t-1} = ‖μ̃ - μ_θ‖²/(2σ²) + C with C free of both means, and C's closed form."""
    d = 3
    constant = kl.eq8_constant(d)
    m1, m2 = kl._vector_symbols(d)
    assert constant.free_symbols == {kl.var1, kl.var2}
    assert _holds(constant, kl.eq8_constant_closed_form(d))
    assert not _holds(constant, kl.eq8_constant_closed_form(d) / d)  # per-dimension C


def test_eq8_constant_vanishes_when_variances_match():
    """σ_t² = β̃_t gives C = 0: L_{t-1} is exactly the mean term."""
    assert sp.simplify(kl.eq8_constant(3).subs(kl.var2, kl.var1)) == 0
    assert sp.simplify(kl.eq8_constant(3).subs(kl.var2, 2 * kl.var1)) != 0
