"""The forward marginal q(x_t | x_0) of DDPM eq. (4), numpy float64 transcription.

Timesteps ``t`` are 0-based int64 arrays of shape [B]: index t is the paper's step t+1. The
per-step coefficients are formed from ``schedule.beta`` alone (:mod:`.schedule`), never read from
the schedule's derived arrays, and broadcast over x's trailing dims.
"""

from __future__ import annotations

import numpy as np

from ddpm_math.reference.schedule import step_tables
from ddpm_math.schedules import NoiseSchedule

__all__ = ["gather", "q_mean_variance", "q_sample"]


def gather(coef: np.ndarray, t: np.ndarray, ndim: int) -> np.ndarray:
    """``coef[t]`` as float64 of shape [B, 1, ..., 1] for data with ``ndim`` dimensions."""
    values = np.asarray(coef, dtype=np.float64)[np.asarray(t, dtype=np.int64)]
    return values.reshape(values.shape + (1,) * (ndim - 1))


def q_mean_variance(
    schedule: NoiseSchedule, x0: np.ndarray, t: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean √ᾱ_t x_0, variance 1 - ᾱ_t and log-variance of q(x_t | x_0), DDPM eq. (4)."""
    x0 = np.asarray(x0, dtype=np.float64)
    tables = step_tables(schedule)
    mean = gather(np.sqrt(tables.alpha_bar), t, x0.ndim) * x0
    variance = np.broadcast_to(gather(tables.one_minus_alpha_bar, t, x0.ndim), x0.shape)
    return mean, variance, np.log(variance)


def q_sample(
    schedule: NoiseSchedule, x0: np.ndarray, t: np.ndarray, noise: np.ndarray
) -> np.ndarray:
    """x_t = √ᾱ_t x_0 + √(1-ᾱ_t) ε, DDPM eq. (4) reparameterised (as in Algorithm 1)."""
    x0 = np.asarray(x0, dtype=np.float64)
    tables = step_tables(schedule)
    sqrt_alpha_bar = gather(np.sqrt(tables.alpha_bar), t, x0.ndim)
    sqrt_one_minus_alpha_bar = gather(np.sqrt(tables.one_minus_alpha_bar), t, x0.ndim)
    return sqrt_alpha_bar * x0 + sqrt_one_minus_alpha_bar * np.asarray(noise, dtype=np.float64)
