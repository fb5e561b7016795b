"""The bound's terms in bits/dim (DDPM eq. 5) against closed forms written in the test, and
L_T for the paper's linear schedule against the paper's "about 1e-5 bits/dim" (DDPM §4).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from ddpm_math.diffusion.decoder import discretized_gaussian_log_likelihood
from ddpm_math.diffusion.options import DecoderType
from ddpm_math.diffusion.posterior import q_posterior
from ddpm_math.diffusion.vlb import prior_bpd, vb_terms_bpd
from ddpm_math.schedules import NoiseSchedule
from ddpm_math.testing.strategies import diffusion_batches
from ddpm_math.testing.tolerances import assert_close
from verification.diffusion.closed_forms import coefficients, tolerance

LN2 = math.log(2.0)


def per_example_mean(x: np.ndarray) -> np.ndarray:
    return x.reshape(x.shape[0], -1).mean(axis=1)


def prior_closed_form(schedule, x0):
    """KL(N(√ᾱ_T x_0, 1-ᾱ_T) ‖ N(0, 1)) = ½(ᾱ_T x_0² - ᾱ_T - log(1-ᾱ_T)), mean over dims, bits."""
    alpha_bar_T = np.cumprod(1.0 - schedule.beta)[-1]
    kl = 0.5 * (alpha_bar_T * x0**2 - alpha_bar_T - np.log1p(-alpha_bar_T))
    return per_example_mean(kl) / LN2


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@given(case=diffusion_batches(n_arrays=1))
def test_prior_bpd_matches_closed_form(dtype, case):
    schedule, _, (x0,) = case
    x0 = torch.from_numpy(x0).to(dtype).double().numpy()
    actual = prior_bpd(schedule.to_torch(dtype=dtype), torch.from_numpy(x0).to(dtype))
    assert actual.shape == (x0.shape[0],) and actual.dtype == dtype
    # ½(e^Δ - 1 - Δ) cancels to O(ᾱ_T): absolute rounding is eps, relative to a term of size ᾱ_T.
    assert_close(actual, prior_closed_form(schedule, x0), tolerance(dtype, 10.0))


def test_prior_of_8bit_images_under_the_ddpm_schedule_is_about_1e_minus_5_bits():
    """DDPM §4: "L_T = D_KL(q(x_T|x_0) ‖ N(0, I)) ≈ 10^-5 bits per dimension" (linear, T=1000)."""
    schedule = NoiseSchedule.linear(1000)
    values = torch.arange(256, dtype=torch.float64) / 127.5 - 1.0  # every 8-bit value once
    images = values.reshape(1, 1, 16, 16)
    bpd = float(prior_bpd(schedule.to_torch(), images)[0])
    assert 3e-6 < bpd < 3e-5  # "about 1e-5": within a factor of about 3
    # First order in ᾱ_T: KL ≈ ½ ᾱ_T x_0², so L_T ≈ ᾱ_T E[x_0²]/(2 ln 2), with ᾱ_T ≈ 4.0e-5.
    alpha_bar_T = float(np.prod(1.0 - np.linspace(1e-4, 0.02, 1000)))
    first_order = alpha_bar_T * float((values**2).mean()) / (2 * LN2)
    assert bpd == pytest.approx(first_order, rel=1e-3)
    worst = float(prior_bpd(schedule.to_torch(), torch.ones(1, 3, 2, 2, dtype=torch.float64))[0])
    assert worst == pytest.approx(alpha_bar_T / (2 * LN2), rel=1e-3)


def kl_term_closed_form(schedule, t, x0, x_t, mean, log_variance):
    """KL(N(μ̃, β̃) ‖ N(mean, e^log_variance)) for t > 0, textbook form, mean over dims, bits."""
    c = coefficients(schedule, t, x0.ndim)
    coef_x0 = np.sqrt(c.alpha_bar_prev) * c.beta / (c.one_minus_alpha_bar)
    coef_xt = np.sqrt(c.alpha) * (c.one_minus_alpha_bar_prev) / (c.one_minus_alpha_bar)
    mu, var = coef_x0 * x0 + coef_xt * x_t, c.beta_tilde
    var2 = np.exp(log_variance)
    kl = 0.5 * (np.log(var2 / var) + (var + (mu - mean) ** 2) / var2 - 1.0)
    return per_example_mean(kl) / LN2


@given(case=diffusion_batches(n_arrays=3, min_steps=2), log_variance=st.floats(-8.0, 0.0))
def test_kl_terms_match_closed_form(case, log_variance):
    schedule, t, (x0, x_t, mean) = case
    t = np.maximum(t, 1)  # index 0 holds the decoder term
    log_var = np.full(x0.shape, log_variance)
    actual = vb_terms_bpd(schedule.to_torch(), *map(torch.from_numpy, (x0, x_t, t, mean, log_var)))
    expected = kl_term_closed_form(schedule, t, x0, x_t, mean, log_var)
    assert_close(actual, expected, tolerance(torch.float64, 1e3))  # log ratio: cancellation


@given(case=diffusion_batches(n_arrays=2, max_abs=1.0), log_variance=st.floats(-8.0, 0.0))
def test_decoder_terms_match_closed_form(case, log_variance):
    schedule, _, (x0, mean) = case
    t = np.zeros(x0.shape[0], dtype=np.int64)
    x0 = np.round((x0 + 1) * 127.5) / 127.5 - 1  # 8-bit values
    args = [torch.from_numpy(a) for a in (x0, x0, t, mean, np.full(x0.shape, log_variance))]
    gaussian = vb_terms_bpd(schedule.to_torch(), *args, DecoderType.GAUSSIAN)
    density = stats.norm.logpdf(x0, loc=mean, scale=math.exp(0.5 * log_variance))
    assert_close(gaussian, -per_example_mean(density) / LN2, tolerance(torch.float64, 10.0))
    discretized = vb_terms_bpd(schedule.to_torch(), *args, DecoderType.DISCRETIZED)
    log_likelihood = discretized_gaussian_log_likelihood(
        args[0], args[3], 0.5 * log_variance, exact=True).numpy()
    assert_close(discretized, -per_example_mean(log_likelihood) / LN2, tolerance(torch.float64))


@given(case=diffusion_batches(n_arrays=2))
def test_kl_term_vanishes_at_the_true_posterior(case):
    schedule, t, (x0, x_t) = case
    t = torch.from_numpy(np.maximum(t, 1))
    coefs, x0, x_t = schedule.to_torch(), torch.from_numpy(x0), torch.from_numpy(x_t)
    mean, _, log_variance = q_posterior(coefs, x0, x_t, t)
    assert_close(vb_terms_bpd(coefs, x0, x_t, t, mean, log_variance),
                 np.zeros(x0.shape[0]), tolerance(torch.float64))


# -- plausible wrong formulas fail the same check -----------------------------------------------

def test_wrong_bound_formulas_fail():
    schedule = NoiseSchedule.linear(10, 1e-3, 0.2)
    rng = np.random.default_rng(0)
    x0, x_t, mean = (rng.normal(size=(3, 2, 2)) for _ in range(3))
    t, log_var = np.array([1, 4, 9]), np.full((3, 2, 2), -2.0)
    expected = kl_term_closed_form(schedule, t, x0, x_t, mean, log_var)
    tol = tolerance(torch.float64, 1e3)
    right = vb_terms_bpd(schedule.to_torch(), *map(torch.from_numpy, (x0, x_t, t, mean, log_var)))
    assert np.allclose(right.numpy(), expected, rtol=tol.rtol, atol=tol.atol)
    coefs = schedule.to_torch()
    true_mean, _, true_log_var = q_posterior(coefs, *map(torch.from_numpy, (x0, x_t, t)))
    from ddpm_math.diffusion.kl import normal_kl

    kl = normal_kl(true_mean, true_log_var, torch.from_numpy(mean), torch.from_numpy(log_var))
    wrong = {
        "nats_not_bits": kl.mean(dim=(1, 2)),
        "sum_not_mean": kl.sum(dim=(1, 2)) / LN2,
        "reversed_kl": normal_kl(torch.from_numpy(mean), torch.from_numpy(log_var), true_mean,
                                 true_log_var).mean(dim=(1, 2)) / LN2,
    }
    for name, value in wrong.items():
        assert not np.allclose(value.numpy(), expected, rtol=1e-6), name
    alpha_bar_T = np.cumprod(1.0 - schedule.beta)[-1]
    wrong_prior = per_example_mean(0.5 * (alpha_bar_T * x0**2 - alpha_bar_T)) / LN2  # lost log
    assert not np.allclose(wrong_prior, prior_closed_form(schedule, x0), rtol=1e-6)
    assert np.allclose(prior_bpd(coefs, torch.from_numpy(x0)).numpy(),
                       prior_closed_form(schedule, x0), rtol=1e-10)
