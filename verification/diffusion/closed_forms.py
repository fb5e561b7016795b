"""Closed forms of DDPM's per-step coefficients, written from β alone for the kernel tests.

The tables come from :func:`ddpm_math.reference.schedule.step_tables`, which forms α, ᾱ, 1 - ᾱ
and β̃ from ``schedule.beta`` by hand (not read from NoiseSchedule's derived arrays), so a kernel
test checks the kernel's formula against the paper's, not a schedule array against itself.
Every value is float64 with shape [B, 1, ..., 1] to broadcast against a batch.
"""

from __future__ import annotations

from dataclasses import fields

import numpy as np
import torch

from ddpm_math.reference.schedule import StepTables, step_tables
from ddpm_math.schedules import NoiseSchedule
from ddpm_math.testing.tolerances import Tolerance, for_dtype


def coefficients(schedule: NoiseSchedule, t: np.ndarray, ndim: int) -> StepTables:
    """The coefficients at ``t`` shaped [B, 1, ..., 1] for data of ``ndim`` dimensions (the
    tables of ``reference.step_tables``, from β alone, indexed at t: ``beta_tilde`` holds
    β̃_t at each t; the whole-table property ``log_beta_tilde_clipped`` does not apply)."""
    tables = step_tables(schedule)
    shape = (-1,) + (1,) * (ndim - 1)
    return StepTables(**{field.name: getattr(tables, field.name)[t].reshape(shape)
                         for field in fields(tables)})


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
