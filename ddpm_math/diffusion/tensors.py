"""Small tensor helpers shared by the torch kernels: gathering per-timestep coefficients.

These replace the reference code's ``_extract_into_tensor`` without its hidden cast to
float32: the result takes the dtype and device of the tensor it will be combined with.
"""

from __future__ import annotations

import torch

__all__ = ["append_dims", "as_tensor_like", "gather"]


def append_dims(v: torch.Tensor, ndim: int) -> torch.Tensor:
    """View ``v`` with trailing singleton dimensions appended until it has ``ndim`` dimensions."""
    missing = ndim - v.ndim
    if missing < 0:
        raise ValueError(f"append_dims: tensor has {v.ndim} dims, more than the target ndim={ndim}")
    return v.reshape(v.shape + (1,) * missing)


def gather(coef: torch.Tensor, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """``coef[t]`` shaped [B, 1, ..., 1] to broadcast against ``like``, in its dtype and device.

    ``coef`` is a length-T schedule array (0-based: index t is the paper's step t+1) and ``t`` a
    [B] int64 tensor of indices. The coefficient is converted to ``like``'s dtype after
    indexing, so a float64 schedule serves float32 and bfloat16 inputs without an upload.
    Conversions are skipped when nothing needs converting (this runs several times per
    sampling step).
    """
    if coef.device != like.device:
        coef = coef.to(device=like.device)
    if t.device != coef.device:
        t = t.to(device=coef.device)
    values = coef[t]
    if values.dtype != like.dtype:
        values = values.to(like.dtype)
    return values.reshape(values.shape + (1,) * (like.ndim - values.ndim))


def as_tensor_like(value: float | torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """``value`` as a tensor in the dtype and on the device of ``like`` (Python floats allowed)."""
    if isinstance(value, torch.Tensor):
        return value
    return torch.as_tensor(value, dtype=like.dtype, device=like.device)
