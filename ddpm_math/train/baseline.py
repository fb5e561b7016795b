"""The baseline the bound is compared with: an independent Gaussian per pixel (per dimension).

Each dimension d gets the maximum-likelihood Gaussian of the training split, mean μ_d and
standard deviation σ_d = √(mean of (x - μ_d)²), floored at :data:`STD_FLOOR` (in [-1, 1] units;
it keeps pixels that are constant in training finite). The held-out split is scored

- on 8-bit data, by the exact discretised decoder of DDPM eq. (13)
  (:func:`ddpm_math.discretized_gaussian_log_likelihood` with ``exact=True``): a probability
  per value, so the bits/dim are a code length comparable with the diffusion bound;
- on continuous data (the toy sets), by the Gaussian density: a negative log-*density* in
  bits/dim, which can be negative and is comparable only with other densities.

bits/dim = -(1/(N·D)) Σ_n Σ_d log p(x_nd) / ln 2, over N held-out examples of D dimensions.
"""

from __future__ import annotations

import math

import torch

from ddpm_math import discretized_gaussian_log_likelihood
from ddpm_math.train.data import on_8bit_grid

__all__ = ["STD_FLOOR", "fit_per_pixel_gaussian", "per_pixel_gaussian_bpd"]

#: Smallest standard deviation of the baseline, in [-1, 1] units (an 8-bit step is 2/255 ≈ 0.0078).
STD_FLOOR = 1e-3
_ROWS = 1024  # held-out examples scored per chunk (bounds the decoder's float64 temporaries)


def fit_per_pixel_gaussian(train: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Maximum-likelihood (mean, std) per dimension of ``train`` [N, ...], float64, std floored
    at :data:`STD_FLOOR`; each has the shape of one example."""
    _check_split(train, "train")
    values = train.detach().to("cpu", torch.float64)
    mean = values.mean(dim=0)
    std = (values - mean).square().mean(dim=0).sqrt().clamp(min=STD_FLOOR)
    return mean, std


def _check_split(x, name: str) -> None:
    """Raise unless ``x`` is a finite floating tensor [N >= 1, ...] of examples."""
    if not isinstance(x, torch.Tensor) or x.ndim < 2 or x.shape[0] < 1:
        raise ValueError(f"{name} must be a tensor [N >= 1, ...] of examples, got "
                         f"{getattr(x, 'shape', type(x).__name__)}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must have a floating dtype (data in [-1, 1] units; 8-bit images "
                        f"as k/127.5 - 1), got {x.dtype}")
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} holds NaN or inf values; it must be finite")


def _log_likelihood(x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor,
                    discrete: bool) -> torch.Tensor:
    """log p(x) in nats per value, float64."""
    if discrete:
        return discretized_gaussian_log_likelihood(x, mean.expand_as(x), std.log(), exact=True)
    z = (x - mean) / std
    return -0.5 * z.square() - std.log() - 0.5 * math.log(2 * math.pi)


def per_pixel_gaussian_bpd(train: torch.Tensor, heldout: torch.Tensor, *,
                           discrete: bool | None = None) -> float:
    """Bits/dim of ``heldout`` under the per-pixel Gaussian fitted to ``train`` (module docstring).

    ``discrete=None`` scores with the discretised decoder when both splits lie on the 8-bit grid
    and with the density otherwise; True (heldout must then lie on the grid) or False forces one.

    Input contract: ``train`` and ``heldout`` finite floating tensors [N >= 1, ...] of one
    example shape; ``discrete`` True, False or None. Otherwise ``TypeError``/``ValueError``
    naming the parameter.
    """
    mean, std = fit_per_pixel_gaussian(train)
    if not isinstance(heldout, torch.Tensor) or heldout.shape[1:] != train.shape[1:]:
        raise ValueError(f"heldout must be a tensor [M, {', '.join(map(str, train.shape[1:]))}]")
    if heldout.shape[0] < 1:
        raise ValueError("heldout must hold at least one example")
    _check_split(heldout, "heldout")
    if discrete is not None and not isinstance(discrete, bool):
        raise TypeError(f"discrete must be True, False or None, got {discrete!r}")
    if discrete is None:
        discrete = on_8bit_grid(train) and on_8bit_grid(heldout)
    elif discrete and not on_8bit_grid(heldout):
        raise ValueError("discrete=True scores heldout with the discretised decoder, which needs "
                         "8-bit data k/127.5 - 1 (k = 0..255); heldout is not on that grid")
    total = 0.0
    for chunk in heldout.detach().split(_ROWS):
        total += float(_log_likelihood(chunk.to("cpu", torch.float64), mean, std, discrete).sum())
    return -total / (heldout.numel() * math.log(2))
