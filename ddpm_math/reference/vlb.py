"""The ε-reweighting of the bound, DDPM eq. (12), numpy float64 transcription."""

from __future__ import annotations

import numpy as np

from ddpm_math.reference.posterior import one_minus_alpha_bar_prev_array
from ddpm_math.schedules import NoiseSchedule

__all__ = ["eps_weight"]


def eps_weight(schedule: NoiseSchedule, t: np.ndarray, variance: str) -> np.ndarray:
    """λ_t = β_t²/(2σ_t² α_t (1-ᾱ_t)) with σ_t² = β_t or β̃_t, DDPM eq. (12); shape [B].

    ``t`` holds 0-based indices (index t is the paper's step t+1). For σ_t² = β̃_t the weight is
    β_t/(2α_t(1-ᾱ_{t-1})), infinite at index 0 where β̃_1 = 0.
    """
    t = np.asarray(t, dtype=np.int64)
    beta, alpha = schedule.beta[t], schedule.alpha[t]
    one_minus_alpha_bar = schedule.one_minus_alpha_bar[t]
    if variance == "beta":
        sigma2 = beta
    elif variance == "beta_tilde":
        sigma2 = one_minus_alpha_bar_prev_array(schedule)[t] / one_minus_alpha_bar * beta
    else:
        raise ValueError(f"variance must be 'beta' or 'beta_tilde', got {variance!r}")
    with np.errstate(divide="ignore"):
        return beta**2 / (2.0 * sigma2 * alpha * one_minus_alpha_bar)
