"""The forward posterior q(x_{t-1} | x_t, x_0) of DDPM eqs. (6)-(7) and (10)-(11), numpy float64.

Timesteps ``t`` are 0-based int64 arrays of shape [B]: index t is the paper's step t+1. At index
0 (paper t = 1) ᾱ_0 = 1, so μ̃ = x_0 and β̃ = 0; the clipped log-variance there holds log β̃_2.
"""

from __future__ import annotations

import numpy as np

from ddpm_math.reference.forward import gather
from ddpm_math.reference.schedule import step_tables
from ddpm_math.schedules import NoiseSchedule

__all__ = ["mu_tilde", "mu_tilde_from_eps", "one_minus_alpha_bar_prev_array", "q_posterior"]


def one_minus_alpha_bar_prev_array(schedule: NoiseSchedule) -> np.ndarray:
    """1 - ᾱ_{t-1} per index t (0 at index 0), formed from β alone (:func:`step_tables`).

    Forming it as 1 - ᾱ_{t-1} would lose relative accuracy eps/(1-ᾱ_{t-1}) (1e-11 at β = 1e-5).
    """
    return step_tables(schedule).one_minus_alpha_bar_prev


def mu_tilde(
    schedule: NoiseSchedule, x0: np.ndarray, x_t: np.ndarray, t: np.ndarray
) -> np.ndarray:
    """Posterior mean μ̃_t(x_t, x_0), DDPM eq. (7).

    μ̃_t = √ᾱ_{t-1} β_t/(1-ᾱ_t) · x_0 + √α_t (1-ᾱ_{t-1})/(1-ᾱ_t) · x_t, written out from the
    β alone (:func:`step_tables`), not from the schedule's derived arrays or coefficients.
    """
    x_t = np.asarray(x_t, dtype=np.float64)
    ndim, tables = x_t.ndim, step_tables(schedule)
    beta = gather(tables.beta, t, ndim)
    alpha = gather(tables.alpha, t, ndim)
    alpha_bar_prev = gather(tables.alpha_bar_prev, t, ndim)
    one_minus_alpha_bar = gather(tables.one_minus_alpha_bar, t, ndim)
    one_minus_alpha_bar_prev = gather(tables.one_minus_alpha_bar_prev, t, ndim)
    coef_x0 = np.sqrt(alpha_bar_prev) * beta / one_minus_alpha_bar
    coef_xt = np.sqrt(alpha) * one_minus_alpha_bar_prev / one_minus_alpha_bar
    return coef_x0 * np.asarray(x0, dtype=np.float64) + coef_xt * x_t


def q_posterior(
    schedule: NoiseSchedule, x0: np.ndarray, x_t: np.ndarray, t: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean μ̃_t, variance β̃_t and clipped log β̃_t of q(x_{t-1} | x_t, x_0), DDPM eqs. (6)-(7).

    β̃_t = (1-ᾱ_{t-1})/(1-ᾱ_t) β_t. The log-variance at index 0 is log β̃ at index 1 (β̃_1 = 0),
    as the reference implementation clips it; with T = 1 it is log β_1.
    """
    x_t = np.asarray(x_t, dtype=np.float64)
    tables = step_tables(schedule)
    beta = tables.beta
    beta_tilde = tables.one_minus_alpha_bar_prev / tables.one_minus_alpha_bar * beta
    clipped = np.concatenate((beta_tilde[1:2], beta_tilde[1:])) if beta.size > 1 else beta
    variance = np.broadcast_to(gather(beta_tilde, t, x_t.ndim), x_t.shape)
    log_variance = np.broadcast_to(gather(np.log(clipped), t, x_t.ndim), x_t.shape)
    return mu_tilde(schedule, x0, x_t, t), variance, log_variance


def mu_tilde_from_eps(
    schedule: NoiseSchedule, x_t: np.ndarray, t: np.ndarray, eps: np.ndarray
) -> np.ndarray:
    """μ̃_t through the noise: 1/√α_t (x_t - β_t/√(1-ᾱ_t) ε), DDPM eqs. (10)-(11)."""
    x_t = np.asarray(x_t, dtype=np.float64)
    tables = step_tables(schedule)
    beta = gather(tables.beta, t, x_t.ndim)
    alpha = gather(tables.alpha, t, x_t.ndim)
    sqrt_one_minus_alpha_bar = gather(np.sqrt(tables.one_minus_alpha_bar), t, x_t.ndim)
    eps_coef = beta / sqrt_one_minus_alpha_bar
    return (x_t - eps_coef * np.asarray(eps, dtype=np.float64)) / np.sqrt(alpha)
