"""Cosine schedule relations (Nichol & Dhariwal eq. 17) and the zero-terminal-SNR rescale."""

import pytest
import sympy as sp

from ddpm_math.symbolic import schedule
from ddpm_math.symbolic.gaussian import agree_numerically

T = 4  # small concrete T keeps the trigonometric simplification fast


@pytest.mark.parametrize("t", range(1, T + 1))
def test_cosine_betas_telescope_to_alpha_bar(t):
    """∏_{s≤t}(1 - β_s) = ᾱ_t = f(t/T)/f(0)."""
    product = sp.Mul(*[1 - schedule.cosine_beta(s, T) for s in range(1, t + 1)])
    assert sp.simplify(product - schedule.cosine_alpha_bar(t, T)) == 0
    # ᾱ_t = f(t/T) without the normalisation by f(0) is rejected (at t = T both are 0:
    # f(1) = cos²(π/2), which is why the unclipped cosine β_T is exactly 1)
    if t < T:
        assert not agree_numerically(product, schedule.cosine_f(sp.Rational(t, T)))
    else:
        assert product == 0 or sp.simplify(product) == 0


def test_cosine_alpha_bar_starts_at_one_and_beta_ignores_normalisation():
    assert schedule.cosine_alpha_bar(0, T) == 1
    f = schedule.cosine_f
    for t in range(1, T + 1):
        unnormalised = 1 - f(sp.Rational(t, T)) / f(sp.Rational(t - 1, T))
        assert sp.simplify(schedule.cosine_beta(t, T) - unnormalised) == 0
        # ᾱ_t/ᾱ_{t+1}-style off-by-one is rejected
        wrong = 1 - f(sp.Rational(t - 1, T)) / f(sp.Rational(t, T))
        assert not agree_numerically(schedule.cosine_beta(t, T), wrong)


@pytest.mark.parametrize("steps", [2, 3, 5])
def test_rescale_zero_terminal_snr(steps):
    """The solved affine map gives ᾱ_T = 0, keeps ᾱ_1, makes β_T = 1 and keeps β_1."""
    a = schedule.sqrt_alpha_bar_symbols(steps)
    alpha_bar = schedule.rescaled_alpha_bar(steps)
    beta = schedule.rescaled_beta(steps)
    assert alpha_bar[-1] == 0 and sp.cancel(alpha_bar[0] - a[0] ** 2) == 0
    assert beta[-1] == 1 and sp.cancel(beta[0] - (1 - a[0] ** 2)) == 0
    k, c = schedule.rescale_map(steps)
    assert sp.cancel(k - a[0] / (a[0] - a[-1])) == 0 and c == a[-1]


def test_rescale_rejects_shift_without_scale():
    """Shifting √ᾱ by √ᾱ_T without rescaling (k = 1) changes ᾱ_1: the same check fails."""
    a = schedule.sqrt_alpha_bar_symbols(3)
    shifted_first = (a[0] - a[-1]) ** 2
    assert sp.cancel(shifted_first - a[0] ** 2) != 0
