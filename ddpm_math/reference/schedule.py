"""The per-step tables of DDPM eq. (4) written from β alone, numpy float64.

Every kernel of :mod:`ddpm_math.reference` takes a ``schedule`` and reads only ``schedule.beta``
from it (a :class:`~ddpm_math.schedules.NoiseSchedule`, or any object with a ``beta`` array):
α, ᾱ, ᾱ_{t-1}, 1 - ᾱ and β̃ are formed here by hand, so a wrong derived array of the schedule
under test cannot reach both sides of a torch-versus-reference comparison.

1 - ᾱ_t is formed as -expm1(Σ log1p(-β)): 1 - cumprod would lose relative accuracy
eps/(1-ᾱ_t) for small β (1e-11 at β = 1e-5). Index t is the paper's step t+1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["StepTables", "step_tables"]


@dataclass(frozen=True)
class StepTables:
    """β_t, α_t, ᾱ_t, ᾱ_{t-1}, 1-ᾱ_t, 1-ᾱ_{t-1} and β̃_t per 0-based index t, float64 [T]."""

    beta: np.ndarray
    alpha: np.ndarray
    alpha_bar: np.ndarray
    alpha_bar_prev: np.ndarray
    one_minus_alpha_bar: np.ndarray
    one_minus_alpha_bar_prev: np.ndarray

    @property
    def beta_tilde(self) -> np.ndarray:
        """β̃_t = (1 - ᾱ_{t-1})/(1 - ᾱ_t) β_t, DDPM eq. (7); 0 at index 0."""
        return self.one_minus_alpha_bar_prev / self.one_minus_alpha_bar * self.beta

    @property
    def log_beta_tilde_clipped(self) -> np.ndarray:
        """log β̃_t with index 0 holding index 1's value (β̃_1 = 0); log β_1 when T = 1."""
        if self.beta.size == 1:
            return np.log(self.beta)
        beta_tilde = self.beta_tilde
        return np.log(np.concatenate((beta_tilde[1:2], beta_tilde[1:])))


def step_tables(schedule) -> StepTables:
    """The tables of ``schedule.beta`` (or of a plain array of betas), from β alone."""
    beta = np.array(getattr(schedule, "beta", schedule), dtype=np.float64).reshape(-1)
    alpha = 1.0 - beta
    alpha_bar = np.cumprod(alpha)
    with np.errstate(divide="ignore"):  # β = 1: log 0 = -inf, ᾱ = 0 from there on
        one_minus_alpha_bar = -np.expm1(np.cumsum(np.log1p(-beta)))
    alpha_bar_prev = np.concatenate(([1.0], alpha_bar[:-1]))
    one_minus_alpha_bar_prev = np.concatenate(([0.0], one_minus_alpha_bar[:-1]))
    return StepTables(beta, alpha, alpha_bar, alpha_bar_prev, one_minus_alpha_bar,
                      one_minus_alpha_bar_prev)
