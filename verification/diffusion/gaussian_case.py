"""The Gaussian-data case shared by the oracle tests: data N(MEAN, VAR) per dimension, the
schedule, and the false-failure budget of each statistical test."""

from __future__ import annotations

import numpy as np

from ddpm_math.schedules import NoiseSchedule

MEAN = np.array([0.3, -0.5, 0.8])
VAR = np.array([0.25, 0.04, 1.0])
#: Total false-failure probability of each statistical test (Bonferroni over its p-values).
P_FALSE = 1e-6
#: β from 0.002 to 0.4 (the DDPM schedule rescaled by 1000/T, Improved DDPM): big steps, so
#: ᾱ_t and ᾱ_{t-1} differ enough for the negative tests to have power at these sample sizes.
SCHEDULE = NoiseSchedule.linear(50, rescale_to_1000=True)


def alpha_bar_of(schedule: NoiseSchedule) -> tuple[np.ndarray, np.ndarray]:
    """ᾱ_t and ᾱ_{t-1} by a plain cumulative product (DDPM eq. 4), independent of the oracle."""
    alpha_bar = np.cumprod(1.0 - schedule.beta)
    return alpha_bar, np.concatenate(([1.0], alpha_bar[:-1]))


def mu_tilde_coefficients(schedule: NoiseSchedule) -> tuple[np.ndarray, np.ndarray]:
    """c_x0 = √ᾱ_{t-1} β_t/(1-ᾱ_t), c_xt = √α_t (1-ᾱ_{t-1})/(1-ᾱ_t), DDPM eq. (7), transcribed."""
    alpha_bar, alpha_bar_prev = alpha_bar_of(schedule)
    beta = schedule.beta
    return (np.sqrt(alpha_bar_prev) * beta / (1 - alpha_bar),
            np.sqrt(1 - beta) * (1 - alpha_bar_prev) / (1 - alpha_bar))
