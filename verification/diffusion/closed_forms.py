"""Closed forms of DDPM's per-step coefficients, written from β alone for the kernel tests.

ᾱ is recomputed here by a plain cumulative product of 1 - β (not read from NoiseSchedule), so a
kernel test checks the kernel's formula against the paper's, not a schedule array against itself.
1 - ᾱ is formed as -expm1(Σ log1p(-β)): 1 - cumprod loses relative accuracy eps/(1-ᾱ) for small
β (1e-11 at β = 1e-5), which would make the oracle, not the kernel, the inaccurate side.
Every value is float64 with shape [B, 1, ..., 1] to broadcast against a batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ddpm_math.reference.schedule import step_tables
from ddpm_math.schedules import NoiseSchedule
from ddpm_math.testing.tolerances import Tolerance, for_dtype


@dataclass(frozen=True)
class StepCoefficients:
    """β_t, α_t, ᾱ_t, ᾱ_{t-1} at 0-based indices t (index t is the paper's step t+1)."""

    beta: np.ndarray
    alpha: np.ndarray
    alpha_bar: np.ndarray
    alpha_bar_prev: np.ndarray
    one_minus_alpha_bar: np.ndarray
    one_minus_alpha_bar_prev: np.ndarray

    @property
    def beta_tilde(self) -> np.ndarray:
        """β̃_t = (1 - ᾱ_{t-1})/(1 - ᾱ_t) β_t, DDPM eq. (7)."""
        return self.one_minus_alpha_bar_prev / self.one_minus_alpha_bar * self.beta


def coefficients(schedule: NoiseSchedule, t: np.ndarray, ndim: int) -> StepCoefficients:
    """The coefficients at ``t`` shaped [B, 1, ..., 1] for data of ``ndim`` dimensions."""
    tables = step_tables(schedule)  # from β alone (ddpm_math/reference/schedule.py)
    shape = (-1,) + (1,) * (ndim - 1)
    arrays = (tables.beta, tables.alpha, tables.alpha_bar, tables.alpha_bar_prev,
              tables.one_minus_alpha_bar, tables.one_minus_alpha_bar_prev)
    return StepCoefficients(*(a[t].reshape(shape) for a in arrays))


def as_torch(array: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
    """A float64 array as a tensor in ``dtype``."""
    return torch.from_numpy(np.array(array)).to(dtype)


def rounded(array: np.ndarray, dtype: torch.dtype) -> np.ndarray:
    """The float64 values of ``array`` after rounding to ``dtype``: the input the kernel sees."""
    return as_torch(array, dtype).double().numpy()


def tolerance(dtype: torch.dtype, condition: float = 1.0) -> Tolerance:
    """The dtype's tolerance scaled by ``condition`` (the quantity's amplification of rounding)."""
    return for_dtype(dtype).scaled(max(1.0, float(condition)))


def close(actual: torch.Tensor, expected: np.ndarray, tol: Tolerance) -> bool:
    """Whether ``actual`` matches ``expected`` within ``tol`` elementwise."""
    got = actual.detach().double().numpy()
    return bool(np.all(np.abs(got - expected) <= tol.atol + tol.rtol * np.abs(expected)))
