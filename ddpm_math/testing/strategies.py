"""Hypothesis strategies shared by the test suites.

Conventions: bounded floats (no NaN/inf unless that is the point), T drawn first and t from it,
small shapes. Draw a timestep with ``timesteps(data, T)`` inside a test that takes ``st.data()``.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from ddpm_math.schedules import (
    NoiseSchedule,
    cosine_betas,
    linear_betas,
    quadratic_betas,
    sqrt_linear_betas,
)

__all__ = [
    "beta_arrays",
    "diffusion_batches",
    "log_variances",
    "num_steps",
    "reals",
    "schedules",
    "small_shapes",
    "timesteps",
]


def num_steps(min_value: int = 1, max_value: int = 64) -> st.SearchStrategy[int]:
    """A number of diffusion steps T."""
    return st.integers(min_value=min_value, max_value=max_value)


def reals(min_value: float = -10.0, max_value: float = 10.0) -> st.SearchStrategy[float]:
    """Bounded finite floats."""
    return st.floats(min_value, max_value, allow_nan=False, allow_infinity=False)


def log_variances(min_value: float = -20.0, max_value: float = 10.0) -> st.SearchStrategy[float]:
    """Log-variances of a Gaussian."""
    return reals(min_value, max_value)


@st.composite
def beta_arrays(
    draw, min_steps: int = 1, max_steps: int = 64, min_beta: float = 1e-5, max_beta: float = 0.5
) -> np.ndarray:
    """An arbitrary (not necessarily monotone) float64 array of betas in [min_beta, max_beta]."""
    T = draw(num_steps(min_steps, max_steps))
    return draw(
        hnp.arrays(np.float64, T, elements=st.floats(min_beta, max_beta, allow_nan=False))
    )


@st.composite
def schedules(draw, min_steps: int = 2, max_steps: int = 64) -> NoiseSchedule:
    """A NoiseSchedule: one of the named builders with random T and ends, or random betas."""
    T = draw(num_steps(min_steps, max_steps))
    kind = draw(st.sampled_from(["linear", "quadratic", "sqrt_linear", "cosine", "random"]))
    if kind == "cosine":
        return NoiseSchedule(cosine_betas(T, s=draw(st.floats(0.0, 0.1))))
    if kind == "random":
        return NoiseSchedule(draw(beta_arrays(T, T)))
    beta_start = draw(st.floats(1e-5, 1e-2))
    beta_end = draw(st.floats(beta_start, 0.5))
    builder = {"linear": linear_betas, "quadratic": quadratic_betas,
               "sqrt_linear": sqrt_linear_betas}[kind]
    return NoiseSchedule(builder(T, beta_start, beta_end))


def timesteps(data: st.DataObject, T: int, batch: int | None = None):
    """A 0-based timestep index in [0, T-1] (index t is the paper's step t+1), or an int64
    array of ``batch`` of them."""
    index = st.integers(min_value=0, max_value=T - 1)
    if batch is None:
        return data.draw(index, label="t")
    return np.asarray(data.draw(st.lists(index, min_size=batch, max_size=batch), label="t"),
                      dtype=np.int64)


def small_shapes(min_dims: int = 1, max_dims: int = 4, max_side: int = 4):
    """A small array shape (batch first)."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=1, max_side=max_side)


@st.composite
def diffusion_batches(
    draw, n_arrays: int = 2, min_steps: int = 2, max_steps: int = 64, max_abs: float = 3.0,
    max_dims: int = 4, min_dims: int = 1,
):
    """(schedule, t, arrays): a schedule, int64 [B] 0-based timesteps drawn from its T, and
    ``n_arrays`` float64 arrays of one small shape [B, ...] with entries in [-max_abs, max_abs]."""
    schedule = draw(schedules(min_steps, max_steps), label="schedule")
    shape = draw(small_shapes(min_dims=min_dims, max_dims=max_dims), label="shape")
    index = st.integers(min_value=0, max_value=schedule.num_steps - 1)
    t = np.asarray(draw(st.lists(index, min_size=shape[0], max_size=shape[0]), label="t"),
                   dtype=np.int64)
    element = st.floats(-max_abs, max_abs, allow_nan=False, allow_infinity=False)
    arrays = [draw(hnp.arrays(np.float64, shape, elements=element), label=f"array{i}")
              for i in range(n_arrays)]
    return schedule, t, arrays


@st.composite
def gaussian_data(draw, min_dims: int = 1, max_dims: int = 4, max_abs_mean: float = 2.0,
                  min_std: float = 0.05, max_std: float = 2.0):
    """(mean, var): float64 [D] parameters of data x_0 ~ N(mean, var) with independent dims, for
    the exact oracles of :mod:`ddpm_math.testing.oracles`."""
    dims = draw(st.integers(min_dims, max_dims), label="D")
    mean = draw(hnp.arrays(np.float64, dims, elements=reals(-max_abs_mean, max_abs_mean)))
    std = draw(hnp.arrays(np.float64, dims, elements=st.floats(min_std, max_std)))
    return mean, std**2


__all__ += ["gaussian_data"]
