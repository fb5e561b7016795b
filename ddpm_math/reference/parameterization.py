"""Conversions between x_0, ε, v, the score and the x_{t-1} mean, numpy float64 transcription.

From x_t = √ᾱ_t x_0 + √(1-ᾱ_t) ε (DDPM eq. 4) and v = √ᾱ_t ε - √(1-ᾱ_t) x_0 (Salimans & Ho
2022, §4). Timesteps ``t`` are 0-based int64 arrays of shape [B]: index t is the paper's step t+1.
"""

from __future__ import annotations

import numpy as np

from ddpm_math.reference.forward import gather
from ddpm_math.reference.schedule import step_tables
from ddpm_math.schedules import NoiseSchedule

__all__ = [
    "eps_from_v",
    "eps_from_x0",
    "score_from_eps",
    "v_from_x0_eps",
    "x0_from_eps",
    "x0_from_v",
    "x0_from_xprev",
]


def _signal_noise(schedule: NoiseSchedule, t: np.ndarray, ndim: int):
    """(√ᾱ_t, √(1-ᾱ_t)) gathered at ``t`` for data with ``ndim`` dims."""
    tables = step_tables(schedule)
    signal = gather(np.sqrt(tables.alpha_bar), t, ndim)
    return signal, gather(np.sqrt(tables.one_minus_alpha_bar), t, ndim)


def x0_from_eps(schedule: NoiseSchedule, x_t, t, eps) -> np.ndarray:
    """x̂_0 = (x_t - √(1-ᾱ_t) ε)/√ᾱ_t, DDPM eq. (4) solved for x_0."""
    x_t = np.asarray(x_t, dtype=np.float64)
    signal, noise = _signal_noise(schedule, t, x_t.ndim)
    return (x_t - noise * np.asarray(eps, dtype=np.float64)) / signal


def eps_from_x0(schedule: NoiseSchedule, x_t, t, x0) -> np.ndarray:
    """ε = (x_t - √ᾱ_t x_0)/√(1-ᾱ_t), DDPM eq. (4) solved for ε."""
    x_t = np.asarray(x_t, dtype=np.float64)
    signal, noise = _signal_noise(schedule, t, x_t.ndim)
    return (x_t - signal * np.asarray(x0, dtype=np.float64)) / noise


def v_from_x0_eps(schedule: NoiseSchedule, x0, t, eps) -> np.ndarray:
    """v = √ᾱ_t ε - √(1-ᾱ_t) x_0, Salimans & Ho 2022 §4."""
    x0 = np.asarray(x0, dtype=np.float64)
    signal, noise = _signal_noise(schedule, t, x0.ndim)
    return signal * np.asarray(eps, dtype=np.float64) - noise * x0


def x0_from_v(schedule: NoiseSchedule, x_t, t, v) -> np.ndarray:
    """x̂_0 = √ᾱ_t x_t - √(1-ᾱ_t) v."""
    x_t = np.asarray(x_t, dtype=np.float64)
    signal, noise = _signal_noise(schedule, t, x_t.ndim)
    return signal * x_t - noise * np.asarray(v, dtype=np.float64)


def eps_from_v(schedule: NoiseSchedule, x_t, t, v) -> np.ndarray:
    """ε̂ = √(1-ᾱ_t) x_t + √ᾱ_t v."""
    x_t = np.asarray(x_t, dtype=np.float64)
    signal, noise = _signal_noise(schedule, t, x_t.ndim)
    return noise * x_t + signal * np.asarray(v, dtype=np.float64)


def score_from_eps(schedule: NoiseSchedule, t, eps) -> np.ndarray:
    """∇_{x_t} log q(x_t | x_0) = -ε/√(1-ᾱ_t), DDPM §3.2."""
    eps = np.asarray(eps, dtype=np.float64)
    return -eps / _signal_noise(schedule, t, eps.ndim)[1]


def x0_from_xprev(schedule: NoiseSchedule, x_t, t, xprev) -> np.ndarray:
    """x̂_0 from a predicted posterior mean: eq. (7) solved for x_0.

    x_0 = (xprev - √α_t (1-ᾱ_{t-1})/(1-ᾱ_t) x_t) · (1-ᾱ_t)/(√ᾱ_{t-1} β_t).
    """
    x_t = np.asarray(x_t, dtype=np.float64)
    tables = step_tables(schedule)
    beta = gather(tables.beta, t, x_t.ndim)
    alpha = gather(tables.alpha, t, x_t.ndim)
    alpha_bar_prev = gather(tables.alpha_bar_prev, t, x_t.ndim)
    one_minus_alpha_bar = gather(tables.one_minus_alpha_bar, t, x_t.ndim)
    one_minus_alpha_bar_prev = gather(tables.one_minus_alpha_bar_prev, t, x_t.ndim)
    coef_xt = np.sqrt(alpha) * one_minus_alpha_bar_prev / one_minus_alpha_bar
    coef_x0 = np.sqrt(alpha_bar_prev) * beta / one_minus_alpha_bar
    return (np.asarray(xprev, dtype=np.float64) - coef_xt * x_t) / coef_x0
