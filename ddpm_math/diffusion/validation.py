"""Input checks for the diffusion engine: clear ValueError/TypeError naming the parameter.

Every check runs before any work. The checks that read tensor values (the range of ``t``, NaN
in a model output) synchronise with the device, so the sampling loops call them once, on the
first step, and only the shape checks (metadata, no synchronisation) on every step.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import torch

__all__ = [
    "check_data",
    "check_eta",
    "check_like",
    "check_model_output",
    "check_shape",
    "check_timesteps",
]


def check_data(x: Any, name: str = "x0", *, min_ndim: int = 1) -> torch.Tensor:
    """``x`` after checking it is a floating tensor with a batch dimension (and a channel one)."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must have a floating dtype, got {x.dtype}")
    if x.ndim < min_ndim:
        layout = "[B, C, ...] (batch, channels, ...)" if min_ndim >= 2 else "[B, ...]"
        raise ValueError(f"{name} must have shape {layout}, got shape {tuple(x.shape)}")
    if x.shape[0] == 0:
        raise ValueError(f"{name} must hold at least one example, got batch size 0")
    return x


def check_like(value: Any, name: str, like: torch.Tensor, like_name: str) -> torch.Tensor:
    """``value`` after checking it is a floating tensor of the shape of ``like``."""
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    if not value.is_floating_point():
        raise TypeError(f"{name} must have a floating dtype, got {value.dtype}")
    if value.shape != like.shape:
        raise ValueError(
            f"{name} must have the shape of {like_name}, {tuple(like.shape)}; "
            f"got {tuple(value.shape)}"
        )
    return value


def check_timesteps(t: Any, num_steps: int, like: torch.Tensor) -> torch.Tensor:
    """``t`` as an int64 [B] tensor on ``like``'s device, after checking 0 ≤ t ≤ T-1.

    Index t is the paper's step t+1. A Python integer is broadcast to the batch.
    """
    batch = like.shape[0]
    if isinstance(t, numbers.Integral) and not isinstance(t, bool):
        t = torch.full((batch,), int(t), dtype=torch.int64, device=like.device)
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"t must be an int64 tensor of timestep indices, got {type(t).__name__}")
    if t.dtype == torch.bool or t.is_floating_point() or t.is_complex():
        raise TypeError(
            f"t must hold integer timestep indices in [0, {num_steps - 1}], got dtype {t.dtype}"
        )
    if t.shape != (batch,):
        raise ValueError(f"t must have shape [B] = ({batch},), one index per example; "
                         f"got {tuple(t.shape)}")
    low, high = int(t.min()), int(t.max())
    if low < 0 or high > num_steps - 1:
        raise ValueError(
            f"t must lie in [0, T-1] = [0, {num_steps - 1}] (0-based: index t is the paper's "
            f"step t+1); got values from {low} to {high}"
        )
    return t.to(device=like.device, dtype=torch.int64)


def check_model_output(
    output: Any, x_t: torch.Tensor, learned_variance: bool, *, check_finite: bool = True
) -> torch.Tensor:
    """The model's output after checking it has C channels (2C with a learned variance).

    ``check_finite`` reads the values (a device synchronisation): the loops pass it on the first
    call only.
    """
    if not isinstance(output, torch.Tensor):
        raise TypeError(f"model must return a torch.Tensor, got {type(output).__name__}")
    channels = x_t.shape[1]
    want = 2 * channels if learned_variance else channels
    expected = (x_t.shape[0], want, *x_t.shape[2:])
    if tuple(output.shape) != expected:
        what = "2C (mean and variance)" if learned_variance else "C"
        raise ValueError(
            f"model output must have {what} = {want} channels, shape {expected} for x_t of "
            f"shape {tuple(x_t.shape)}; got {tuple(output.shape)}"
        )
    if not output.is_floating_point():
        raise TypeError(f"model output must have a floating dtype, got {output.dtype}")
    if check_finite and not bool(torch.isfinite(output).all()):
        raise ValueError("model output holds NaN or inf values")
    return output


def check_shape(shape: Any) -> tuple[int, ...]:
    """``shape`` of the samples after checking it is [B, C, ...] with positive sizes."""
    if isinstance(shape, torch.Size):
        shape = tuple(shape)
    if not isinstance(shape, Sequence) or not all(
        isinstance(size, numbers.Integral) and not isinstance(size, bool) for size in shape
    ):
        raise TypeError(f"shape must be a sequence of integers [B, C, ...], got {shape!r}")
    if len(shape) < 2 or any(size < 1 for size in shape):
        raise ValueError(
            f"shape must be [B, C, ...] with at least two positive sizes, got {tuple(shape)}"
        )
    return tuple(int(size) for size in shape)


def check_eta(eta: Any) -> float:
    """η of DDIM after checking it lies in [0, 1] (0: deterministic, 1: ancestral variance β̃)."""
    if isinstance(eta, bool) or not isinstance(eta, numbers.Real):
        raise TypeError(f"eta must be a real number in [0, 1], got {eta!r}")
    if not 0.0 <= eta <= 1.0:
        raise ValueError(f"eta must lie in [0, 1] (DDIM eq. 16), got {eta!r}")
    return float(eta)
