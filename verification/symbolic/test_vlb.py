"""DDPM eq. (12) reweighting, its SNR form, what L_simple drops, eq. (5) and the bound (eq. 3)."""

import pytest
import sympy as sp

from ddpm_math.symbolic import kl, posterior, vlb
from ddpm_math.symbolic.forward import sqrt_alpha, sqrt_alpha_bar_prev
from ddpm_math.symbolic.gaussian import agree_numerically, is_zero


def _holds(derived, expected) -> bool:
    return is_zero(derived - expected) and agree_numerically(derived, expected)


def _swap_prev(expr):
    """ᾱ_t where ᾱ_{t-1} belongs."""
    return expr.subs(sqrt_alpha_bar_prev, sqrt_alpha * sqrt_alpha_bar_prev)


@pytest.mark.parametrize("variance", ["beta", "beta_tilde"])
def test_eps_weight_is_eq12(variance):
    assert _holds(vlb.eps_weight(variance), vlb.eps_weight_closed_form(variance))
    # a dropped ½ and a missing α_t are rejected
    assert not _holds(vlb.eps_weight(variance), 2 * vlb.eps_weight_closed_form(variance))
    assert not _holds(vlb.eps_weight(variance),
                      vlb.eps_weight_closed_form(variance) * sqrt_alpha**2)


def test_eps_weight_snr_form():
    """For σ_t² = β̃_t, λ_t = ½(SNR(t-1)/SNR(t) - 1)."""
    assert _holds(vlb.eps_weight("beta_tilde"), vlb.snr_weight_closed_form())
    q = posterior.step_quantities()
    inverted = (vlb.snr(q["alpha_bar"]) / vlb.snr(q["alpha_bar_prev"]) - 1) / 2
    assert not _holds(vlb.eps_weight("beta_tilde"), inverted)
    assert not _holds(vlb.eps_weight("beta"), vlb.snr_weight_closed_form())


@pytest.mark.parametrize("variance", ["beta", "beta_tilde"])
def test_what_l_simple_drops(variance):
    """The full 1-D L_{t-1} = λ_t (ε - ε_θ)² + C: L_simple keeps (ε - ε_θ)² and drops λ_t and C.

    The KL (integrated in sympy) between q(x_{t-1}|x_t,x_0) and N(μ_θ(ε_θ), σ_t²) minus
    λ_t(ε - ε_θ)² is free of ε and ε_θ, and is 0 for σ_t² = β̃_t.
    """
    sigma2 = vlb._sigma2(variance)
    mu = posterior.mu_tilde_from_eps()
    full = kl.normal_kl().subs({kl.mean1: mu, kl.var1: posterior.beta_tilde(),
                                kl.mean2: mu.subs(posterior.eps, vlb.eps_hat), kl.var2: sigma2},
                               simultaneous=True)
    constant = sp.expand_log(full - vlb.eps_weight(variance) * (posterior.eps - vlb.eps_hat) ** 2,
                             force=True)
    assert sp.cancel(sp.diff(constant, posterior.eps)) == 0
    assert sp.cancel(sp.diff(constant, vlb.eps_hat)) == 0
    if variance == "beta_tilde":
        assert is_zero(constant)
    wrong = full - 2 * vlb.eps_weight(variance) * (posterior.eps - vlb.eps_hat) ** 2
    assert sp.cancel(sp.diff(wrong, vlb.eps_hat)) != 0


@pytest.mark.parametrize("T", [2, 3])
def test_elbo_decomposition_eq5(T):
    """log q(x_{1:T}|x_0)/p_θ(x_{0:T}) = L_T + Σ_{t>1} L_{t-1} + L_0 pointwise, concrete T."""
    assert vlb.elbo_residual(T) == (0, 1)


def test_elbo_decomposition_rejects_wrong_posterior():
    """With ᾱ_t for ᾱ_{t-1} in μ̃_t, or β_t for β̃_t, the decomposition no longer holds."""
    wrong_mean = _swap_prev(posterior.mu_tilde_closed_form())
    assert vlb.elbo_residual(2, mean=wrong_mean)[0] != 0
    residual = vlb.elbo_residual(2, variance=1 - sqrt_alpha**2)
    assert residual != (0, 1)


def test_jensen_gap_is_a_kl():
    """Bound - (-log p_θ(x_0)) = KL(q(x_1|x_0) ‖ p_θ(x_1|x_0)) ≥ 0 (eq. 3, T = 1, all Gaussian)."""
    bound, nll, gap = vlb.jensen_gap()
    assert is_zero(sp.expand_log(gap - vlb.jensen_kl(), force=True))
    assert agree_numerically(gap, vlb.jensen_kl())


def test_jensen_gap_nonnegative_and_tight():
    """The gap is ≥ 0 at random rational points and 0 when p_θ's posterior is q (c = r,
    s = 1 - r²); dropping the entropy term E_q log q breaks the bound at that point."""
    bound, nll, gap = vlb.jensen_gap()
    r = sp.Symbol("r_1", positive=True)
    c, s, x0 = sp.Symbol("c", real=True), sp.Symbol("s", positive=True), sp.Symbol("x_0", real=True)
    for values in ({r: sp.Rational(1, 2), c: sp.Rational(1, 3), s: sp.Rational(2, 5),
                    x0: sp.Rational(3, 4)},
                   {r: sp.Rational(9, 10), c: -1, s: sp.Rational(1, 10), x0: -2}):
        assert sp.N(gap.subs(values)) > 0
    tight = {c: r, s: 1 - r**2}
    assert sp.simplify(gap.subs(tight)) == 0
    entropy = sp.log(2 * sp.pi * sp.E * (1 - r**2)) / 2  # differential entropy of q(x_1|x_0)
    cross_entropy_only = bound + entropy
    point = {r: sp.Rational(99, 100), x0: sp.Rational(1, 2)}
    assert sp.N((cross_entropy_only - nll).subs(tight).subs(point)) < 0
