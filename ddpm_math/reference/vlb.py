"""The ε-reweighting of the bound, DDPM eq. (12), and the bound's terms, eq. (5), numpy float64."""

from __future__ import annotations

import numpy as np

from ddpm_math.reference.decoder import discretized_gaussian_log_likelihood
from ddpm_math.reference.forward import q_mean_variance
from ddpm_math.reference.kl import normal_kl
from ddpm_math.reference.posterior import q_posterior
from ddpm_math.reference.schedule import step_tables
from ddpm_math.schedules import NoiseSchedule

__all__ = ["decoder_nll", "eps_weight", "prior_bpd", "vb_terms_bpd"]


def eps_weight(schedule: NoiseSchedule, t: np.ndarray, variance: str) -> np.ndarray:
    """λ_t = β_t²/(2σ_t² α_t (1-ᾱ_t)) with σ_t² = β_t or β̃_t, DDPM eq. (12); shape [B].

    ``t`` holds 0-based indices (index t is the paper's step t+1). For σ_t² = β̃_t the weight is
    β_t/(2α_t(1-ᾱ_{t-1})), infinite at index 0 where β̃_1 = 0.
    """
    t, tables = np.asarray(t, dtype=np.int64), step_tables(schedule)
    beta, alpha = tables.beta[t], tables.alpha[t]
    one_minus_alpha_bar = tables.one_minus_alpha_bar[t]
    if variance == "beta":
        sigma2 = beta
    elif variance == "beta_tilde":
        sigma2 = tables.one_minus_alpha_bar_prev[t] / one_minus_alpha_bar * beta
    else:
        raise ValueError(f"variance must be 'beta' or 'beta_tilde', got {variance!r}")
    with np.errstate(divide="ignore"):
        return beta**2 / (2.0 * sigma2 * alpha * one_minus_alpha_bar)


LN2 = np.log(2.0)


def _mean_flat(x: np.ndarray) -> np.ndarray:
    return x.reshape(x.shape[0], -1).mean(axis=1)


def prior_bpd(schedule: NoiseSchedule, x0) -> np.ndarray:
    """L_T = KL(q(x_T | x_0) ‖ N(0, I)) in bits/dim, DDPM eq. (5); [B]."""
    x0 = np.asarray(x0, dtype=np.float64)
    last = np.full(x0.shape[0], step_tables(schedule).beta.size - 1)
    mean, _, log_variance = q_mean_variance(schedule, x0, last)
    return _mean_flat(normal_kl(mean, log_variance, 0.0, 0.0)) / LN2


def decoder_nll(x0, mean, log_variance, decoder: str) -> np.ndarray:
    """-log p_θ(x_0 | x_1) per element in nats: eq. (13) ('discretized' exact CDF,
    'discretized_approx' the reference code's tanh CDF) or the density ('gaussian')."""
    x0, mean, log_variance = (np.asarray(a, dtype=np.float64) for a in (x0, mean, log_variance))
    if decoder == "gaussian":
        return 0.5 * (np.log(2.0 * np.pi) + log_variance
                      + (x0 - mean) ** 2 * np.exp(-log_variance))
    return -discretized_gaussian_log_likelihood(x0, mean, 0.5 * log_variance,
                                                exact=decoder == "discretized")


def vb_terms_bpd(schedule: NoiseSchedule, x0, x_t, t, mean, log_variance,
                 decoder: str = "discretized") -> np.ndarray:
    """The bound's term at index t in bits/dim, [B]: KL(q(x_{t-1}|x_t,x_0) ‖ N(mean, e^logvar))
    for t > 0 (eq. 5), the decoder NLL of x_0 for t = 0 (eq. 13)."""
    true_mean, _, true_log_variance = q_posterior(schedule, x0, x_t, t)
    kl = _mean_flat(normal_kl(true_mean, true_log_variance, mean, log_variance)) / LN2
    nll = _mean_flat(decoder_nll(x0, mean, log_variance, decoder)) / LN2
    return np.where(np.asarray(t) == 0, nll, kl)
