"""The reference's weighted loss and decoder choice against DDPM eqs. (7), (12), (13) written out.

The oracle computes ᾱ, β̃ and μ̃ from β by hand (eq. 7: μ̃ = √ᾱ_{t-1}β_t/(1-ᾱ_t) x_0 +
√α_t(1-ᾱ_{t-1})/(1-ᾱ_t) x_t) and the weighted loss from its definition, eq. (12):
‖μ̃(x_t, x_0) - μ_θ(x_t, t)‖²/(2σ_t²), with μ_θ = μ̃(x_t, x̂_0) for the ε, x_0 and v heads and
the prediction itself for the mean head. ``reference.losses`` instead multiplies a closed-form
weight w_t by ‖target - prediction‖²; the two agree because μ̃ is affine in x_0. Each variance
choice is checked, the learned ones included (σ² from the model's second block).
The expected values come from the oracle alone, so the tolerance does not scale with the output
of the code under test.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from ddpm_math.reference import losses as ref_losses
from ddpm_math.reference import vlb as ref_vlb
from ddpm_math.schedules import linear_betas

T = 12
BETAS = linear_betas(T, 1e-3, 0.2)  # large β: the weights differ by orders of magnitude over t
RTOL = 1e-9  # float64 with the cancellation of μ̃(x_0) - μ̃(x̂_0); the weights span ~1e6


def _tables():
    alpha = 1.0 - BETAS
    alpha_bar = np.cumprod(alpha)
    alpha_bar_prev = np.concatenate([[1.0], alpha_bar[:-1]])
    beta_tilde = BETAS * (1.0 - alpha_bar_prev) / (1.0 - alpha_bar)
    log_beta_tilde = np.log(np.concatenate([[beta_tilde[1]], beta_tilde[1:]]))  # index 0 → 1
    return alpha, alpha_bar, alpha_bar_prev, log_beta_tilde


def _col(a, t):
    return a[t].reshape(-1, 1, 1)


def _mu_tilde(x0, x_t, t):
    alpha, alpha_bar, alpha_bar_prev, _ = _tables()
    coef_x0 = np.sqrt(alpha_bar_prev) * BETAS / (1.0 - alpha_bar)
    coef_xt = np.sqrt(alpha) * (1.0 - alpha_bar_prev) / (1.0 - alpha_bar)
    return _col(coef_x0, t) * x0 + _col(coef_xt, t) * x_t


def _mu_theta(prediction, x_t, t, mean_type):
    _, alpha_bar, _, _ = _tables()
    signal, noise = _col(np.sqrt(alpha_bar), t), _col(np.sqrt(1.0 - alpha_bar), t)
    if mean_type == "xprev":
        return prediction
    x0_hat = {"eps": (x_t - noise * prediction) / signal, "x0": prediction,
              "v": signal * x_t - noise * prediction}[mean_type]
    return _mu_tilde(x0_hat, x_t, t)


def _log_sigma2(t, var_type, var_block):
    _, _, _, log_beta_tilde = _tables()
    log_beta = np.log(BETAS)
    if var_type == "fixed_small":
        return _col(log_beta_tilde, t) * np.ones_like(var_block)
    if var_type == "fixed_large":
        return _col(np.where(np.arange(T) == 0, log_beta_tilde, log_beta), t) * np.ones_like(
            var_block)
    if var_type == "learned":
        return var_block
    u = (var_block + 1.0) / 2.0  # learned_range, Improved DDPM eq. (15)
    return u * _col(log_beta, t) + (1.0 - u) * _col(log_beta_tilde, t)


def _case(seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(T)
    x0, noise = rng.uniform(-1, 1, (T, 2, 3)), rng.standard_normal((T, 2, 3))
    _, alpha_bar, _, _ = _tables()
    x_t = _col(np.sqrt(alpha_bar), t) * x0 + _col(np.sqrt(1.0 - alpha_bar), t) * noise
    mean_block = rng.standard_normal((T, 2, 3))
    var_block = rng.uniform(-1, 1, (T, 2, 3))
    return t, x0, noise, x_t, mean_block, var_block


@pytest.mark.parametrize("var_type", ["fixed_small", "fixed_large", "learned", "learned_range"])
@pytest.mark.parametrize("mean_type", ["eps", "x0", "v", "xprev"])
def test_weighted_loss_is_the_posterior_mean_error_over_2_sigma2(mean_type, var_type):
    t, x0, noise, x_t, mean_block, var_block = _case()
    learned = var_type.startswith("learned")
    output = np.concatenate([mean_block, var_block], axis=1) if learned else mean_block
    terms = ref_losses.training_losses(BETAS, output, x0, x_t, t, noise, mean_type, var_type,
                                       "weighted")
    error = _mu_tilde(x0, x_t, t) - _mu_theta(mean_block, x_t, t, mean_type)
    expected = (error**2 / (2.0 * np.exp(_log_sigma2(t, var_type, var_block)))).reshape(
        T, -1).mean(axis=1)
    np.testing.assert_allclose(terms["mse"], expected, rtol=RTOL, atol=0.0)
    np.testing.assert_allclose(terms["loss"], expected, rtol=RTOL, atol=0.0)


@pytest.mark.parametrize("loss_type", ["vlb", "hybrid"])
def test_the_decoder_choice_reaches_the_bound_at_t0(loss_type):
    """At t = 0 the bound's term is -log p_θ(x_0|x_1); with decoder='gaussian' the density
    N(x_0; μ_θ, σ_1²) (here by scipy.stats.norm.logpdf), in bits per dimension."""
    _, x0, noise, x_t, mean_block, var_block = _case(seed=1)
    t = np.zeros(T, dtype=np.int64)
    _, alpha_bar, _, _ = _tables()
    x_t = math.sqrt(alpha_bar[0]) * x0 + math.sqrt(1.0 - alpha_bar[0]) * noise
    terms = ref_losses.training_losses(BETAS, mean_block, x0, x_t, t, noise, "eps",
                                       "fixed_small", loss_type, "gaussian")
    sigma = np.exp(0.5 * _log_sigma2(t, "fixed_small", mean_block))
    nll = -stats.norm.logpdf(x0, loc=_mu_theta(mean_block, x_t, t, "eps"), scale=sigma)
    expected_vb = nll.reshape(T, -1).mean(axis=1) / math.log(2.0)
    np.testing.assert_allclose(terms["vb"], expected_vb, rtol=RTOL, atol=0.0)


def test_vb_terms_default_decoder_is_the_discretized_eq13():
    """The default decoder is eq. (13)'s discretised one (exact CDF), not the density."""
    _, x0, _, x_t, mean_block, _ = _case(seed=2)
    t = np.zeros(T, dtype=np.int64)
    log_variance = np.full_like(x0, -4.0)
    default = ref_vlb.vb_terms_bpd(BETAS, x0, x_t, t, mean_block, log_variance)
    discretized = ref_vlb.vb_terms_bpd(BETAS, x0, x_t, t, mean_block, log_variance, "discretized")
    gaussian = ref_vlb.vb_terms_bpd(BETAS, x0, x_t, t, mean_block, log_variance, "gaussian")
    np.testing.assert_array_equal(default, discretized)
    assert not np.allclose(default, gaussian)


@pytest.mark.parametrize("variance", ["beta", "beta_tilde"])
def test_eps_weight_is_eq12_lambda_and_infinite_at_the_first_step_for_beta_tilde(variance):
    """λ_t = β_t²/(2σ_t² α_t (1-ᾱ_t)), DDPM eq. (12); with σ² = β̃ it is +inf at index 0
    (β̃_1 = 0), returned without a divide-by-zero warning (pytest turns warnings into errors)."""
    alpha, alpha_bar, alpha_bar_prev, _ = _tables()
    beta_tilde = BETAS * (1.0 - alpha_bar_prev) / (1.0 - alpha_bar)
    sigma2 = BETAS if variance == "beta" else beta_tilde
    with np.errstate(divide="ignore"):
        expected = BETAS**2 / (2.0 * sigma2 * alpha * (1.0 - alpha_bar))
    got = ref_vlb.eps_weight(BETAS, np.arange(T), variance)
    np.testing.assert_allclose(got, expected, rtol=RTOL, atol=0.0)
    assert np.isinf(got[0]) == (variance == "beta_tilde")
