"""KL divergence between diagonal Gaussians, the building block of the bound (DDPM eq. 5)."""

from __future__ import annotations

import torch

from ddpm_math.diffusion.tensors import as_tensor_like

__all__ = ["normal_kl"]


def normal_kl(
    mean1: torch.Tensor | float,
    logvar1: torch.Tensor | float,
    mean2: torch.Tensor | float,
    logvar2: torch.Tensor | float,
) -> torch.Tensor:
    """KL(N(mean1, e^logvar1) ‖ N(mean2, e^logvar2)) elementwise, in nats.

    KL = ½ (e^{Δ} - 1 - Δ + (mean1 - mean2)² e^{-logvar2}) with Δ = logvar1 - logvar2; the
    symbolic derivation is :func:`ddpm_math.symbolic.kl.normal_kl`. ``e^Δ - 1 - Δ`` is
    evaluated as ``expm1(Δ) - Δ`` so that nearly equal variances keep their relative accuracy,
    and the result is exactly 0 when both arguments are equal. Arguments broadcast; at least
    one must be a tensor, whose dtype and device the Python-float arguments adopt.
    """
    like = next((a for a in (mean1, logvar1, mean2, logvar2) if isinstance(a, torch.Tensor)), None)
    if like is None:
        raise TypeError(
            "normal_kl: at least one of mean1, logvar1, mean2, logvar2 must be a tensor"
        )
    if not like.is_floating_point():
        raise TypeError(f"normal_kl: tensors must have a floating dtype, got {like.dtype}")
    mean1, logvar1, mean2, logvar2 = (
        as_tensor_like(a, like) for a in (mean1, logvar1, mean2, logvar2)
    )
    log_ratio = logvar1 - logvar2
    variance_term = torch.expm1(log_ratio) - log_ratio
    mean_term = (mean1 - mean2) ** 2 * torch.exp(-logvar2)
    return 0.5 * (variance_term + mean_term)
