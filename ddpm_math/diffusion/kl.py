"""KL divergence between diagonal Gaussians, the building block of the bound (DDPM eq. 5)."""

from __future__ import annotations

import functools
import math
import numbers
from typing import Any

import numpy as np
import torch

__all__ = ["normal_kl"]

_NAMES = ("mean1", "logvar1", "mean2", "logvar2")
_HALF_DTYPES = (torch.float16, torch.bfloat16)
_SQRT_HALF = math.sqrt(0.5)
_SQRT_TWO = math.sqrt(2.0)
_ACCEPTED = "a floating torch.Tensor, a real Python number, or a real numpy array or scalar"


def normal_kl(
    mean1: torch.Tensor | float | np.ndarray,
    logvar1: torch.Tensor | float | np.ndarray,
    mean2: torch.Tensor | float | np.ndarray,
    logvar2: torch.Tensor | float | np.ndarray,
) -> torch.Tensor:
    """KL(N(mean1, e^logvar1) ‖ N(mean2, e^logvar2)) elementwise, in nats (DDPM eq. 5).

    KL = ½ (e^Δ - 1 - Δ) + ½ (mean1 - mean2)² e^{-logvar2} with Δ = logvar1 - logvar2; the
    symbolic derivation is :func:`ddpm_math.symbolic.kl.normal_kl`.

    Input contract (one rule for all four arguments):

    - Type: a ``torch.Tensor`` of a floating dtype, a real Python number (``int`` or
      ``float``, not ``bool``), or a numpy array or scalar of a float or integer dtype
      (read-only arrays, such as a :class:`~ddpm_math.schedules.NoiseSchedule`'s, included:
      numpy values are copied). At least one argument must be a tensor. Anything else
      (``None``, strings, lists, complex, bool, integer tensors) is a ``TypeError`` naming
      the argument.
    - dtype: tensor arguments of different floating dtypes are promoted
      (``torch.promote_types``) and the result has that dtype. Numbers and numpy values do not
      take part in the promotion: they become tensors in the computation dtype. float16 and
      bfloat16 are computed in float32 and the result is rounded once to the input dtype.
    - Device: the first tensor's; other tensors must be on it (a 0-dim CPU tensor is moved,
      as torch does with numbers), else a ``ValueError`` naming both arguments.
    - Shape: the four shapes broadcast (numpy rules); shapes that do not are a ``ValueError``
      naming the two arguments and their shapes. The result has the broadcast shape.
    - Values: any real number, ±inf included. For finite inputs the result is finite and
      ≥ 0 unless the true KL exceeds the largest finite value of the result dtype (65504 for
      float16): no intermediate overflows before the result itself does.

    Infinite arguments give the mathematical limit, which is +inf wherever it exists: a
    variance going to 0 or to ∞ on one side only (Δ = ±inf: logvar1 → +inf is the σ1²/σ2²
    term, logvar1 → -inf the -log σ1² term, logvar2 → +inf the log σ2² term, logvar2 → -inf
    the σ1²/σ2² term), an infinite mean difference, or a non-zero mean difference with
    logvar2 = -inf. Where no limit exists the result is NaN: logvar1 and logvar2 the same
    infinity (the ratio σ1²/σ2² is undetermined) with a mean term that stays finite, or mean1
    and mean2 the same infinity with a finite variance term. A NaN argument gives NaN
    (values are not inspected, so there is no host synchronisation).

    Accuracy: ``e^Δ - 1 - Δ`` is evaluated as ``expm1(Δ) - Δ`` for Δ ≤ 1 so that nearly equal
    variances keep their relative accuracy, and the result is exactly 0 when the two
    Gaussians are equal. Differentiable (no ``no_grad``).
    """
    arguments = dict(zip(_NAMES, (mean1, logvar1, mean2, logvar2), strict=True))
    tensors = {name: value for name, value in arguments.items() if isinstance(value, torch.Tensor)}
    if not tensors:
        raise TypeError(
            "normal_kl: at least one of mean1, logvar1, mean2, logvar2 must be a tensor; got "
            + ", ".join(f"{name}: {type(value).__name__}" for name, value in arguments.items())
        )
    for name, value in arguments.items():
        _check_type(name, value)
    out_dtype = functools.reduce(torch.promote_types, (t.dtype for t in tensors.values()))
    compute_dtype = torch.float32 if out_dtype in _HALF_DTYPES else out_dtype
    device = next(iter(tensors.values())).device
    converted = {
        name: _convert(name, value, compute_dtype, device, tensors)
        for name, value in arguments.items()
    }
    _check_broadcast(converted)
    kl = _kl_with_limits(**converted)
    return kl if kl.dtype == out_dtype else kl.to(out_dtype)


def _check_type(name: str, value: Any) -> None:
    """Raise a TypeError naming ``name`` unless ``value`` is an accepted argument type."""
    if isinstance(value, torch.Tensor):
        if not value.is_floating_point():
            raise TypeError(f"normal_kl: {name} must have a floating dtype, got {value.dtype}")
        return
    if isinstance(value, (np.ndarray, np.generic)):
        if value.dtype.kind not in "fiu":
            raise TypeError(
                f"normal_kl: {name} must be {_ACCEPTED}; got a numpy value of dtype {value.dtype}"
            )
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"normal_kl: {name} must be {_ACCEPTED}; got {value!r} "
                        f"of type {type(value).__name__}")


def _convert(
    name: str, value: Any, dtype: torch.dtype, device: torch.device, tensors: dict
) -> torch.Tensor:
    """``value`` (already type-checked) as a tensor in ``dtype`` on ``device``."""
    if isinstance(value, torch.Tensor):
        if value.device != device:
            if value.ndim != 0 or value.device.type != "cpu":
                first = next(iter(tensors))
                raise ValueError(
                    f"normal_kl: {name} is on {value.device} but {first} is on {device}; "
                    "put the tensors on one device"
                )
            value = value.to(device)
        return value if value.dtype == dtype else value.to(dtype)
    if isinstance(value, (np.ndarray, np.generic)):
        # torch.tensor copies: read-only arrays (a NoiseSchedule's) convert without a warning.
        return torch.tensor(np.asarray(value, dtype=np.float64), dtype=dtype, device=device)
    try:
        number = float(value)
    except OverflowError:  # an integer beyond float range
        number = math.inf if value > 0 else -math.inf  # copysign would convert it too
    return torch.tensor(number, dtype=dtype, device=device)


def _check_broadcast(arguments: dict[str, torch.Tensor]) -> None:
    """Raise a ValueError naming the first pair of arguments whose shapes do not broadcast."""
    try:
        torch.broadcast_shapes(*(t.shape for t in arguments.values()))
        return
    except RuntimeError:
        pass
    names = list(arguments)
    for i, first in enumerate(names):
        for second in names[i + 1:]:
            shape1, shape2 = arguments[first].shape, arguments[second].shape
            try:
                torch.broadcast_shapes(shape1, shape2)
            except RuntimeError:
                raise ValueError(
                    f"normal_kl: {first} of shape {tuple(shape1)} and {second} of shape "
                    f"{tuple(shape2)} do not broadcast (numpy broadcasting rules)"
                ) from None
    raise AssertionError("unreachable: pairwise-broadcastable shapes broadcast")  # pragma: no cover


def _kl_with_limits(
    mean1: torch.Tensor, logvar1: torch.Tensor, mean2: torch.Tensor, logvar2: torch.Tensor
) -> torch.Tensor:
    """KL as ½(e^Δ - 1 - Δ) + ½(Δμ)² e^{-logvar2}, both halves ≥ 0, with the limits at ±inf.

    No intermediate overflows unless its half of the KL does: Δ/2 is formed from halves of the
    log-variances, ½e^Δ as (e^{Δ/2}·√½)², and ½(Δμ)²e^{-logvar2} as the square of
    Δμ·e^{-logvar2/4}·(√½·e^{-logvar2/4}), with Δμ formed from halves where it overflows.
    Each half is ≥ 0 for every finite input, so the KL is +inf as soon as one half tends to
    +inf, even where the other half's limit is undetermined (an inf·0 or inf - inf).
    """
    half_delta = 0.5 * logvar1 - 0.5 * logvar2
    # Δ ≤ 1: ½expm1(Δ) - Δ/2 keeps relative accuracy for Δ → 0 (exactly 0 at Δ = 0).
    small = 0.5 * torch.expm1((logvar1 - logvar2).clamp(max=1.0)) - half_delta
    # Δ > 1: ½e^Δ cannot cancel against ½ + Δ/2 and is formed so it overflows only if ½e^Δ does.
    large = (torch.exp(half_delta.clamp(min=0.5)) * _SQRT_HALF) ** 2 - 0.5 - half_delta
    variance_half = torch.where(half_delta > 0.5, large, small)
    mean_diff = mean1 - mean2
    quarter = torch.exp(-0.25 * logvar2)  # e^{-logvar2/4}
    scaled_diff = torch.where(
        mean_diff.isinf(),  # Δμ overflowed (or is infinite): form it from halves instead
        (0.5 * mean1 - 0.5 * mean2) * quarter * (quarter * _SQRT_TWO),
        mean_diff * quarter * (quarter * _SQRT_HALF),
    )
    # Δμ = 0 exactly: the mean term is 0 for every σ2², also in the limit logvar2 → -inf.
    mean_half = torch.where(mean_diff == 0, 0.0, scaled_diff**2)
    kl = variance_half + mean_half
    to_infinity = (half_delta == math.inf) | (variance_half == math.inf) | (mean_half == math.inf)
    kl = torch.where(to_infinity, math.inf, kl)
    nan_input = mean1.isnan() | logvar1.isnan() | mean2.isnan() | logvar2.isnan()
    return torch.where(nan_input, math.nan, kl)
