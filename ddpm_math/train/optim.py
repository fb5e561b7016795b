"""Optimiser, learning-rate warm-up and the EMA of the weights, DDPM appendix B.

DDPM trains with Adam at 2e-4 (β = (0.9, 0.999), no weight decay), a linear warm-up of 5000
steps, the global gradient norm clipped at 1, and samples and evaluates with an exponential
moving average of the weights (decay 0.9999).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

__all__ = ["copy_for_ema", "ema_decay_at", "ema_update", "lr_at", "make_optimizer", "set_lr"]


def make_optimizer(params: Iterable[torch.nn.Parameter], lr: float) -> torch.optim.Adam:
    """Adam with DDPM's settings: β = (0.9, 0.999), ε = 1e-8, no weight decay."""
    return torch.optim.Adam(params, lr=lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)


def lr_at(step: int, lr: float, warmup: int) -> float:
    """Learning rate of optimiser step ``step`` (0-based): lr·min(1, (step+1)/warmup)."""
    if warmup <= 0:
        return lr
    return lr * min(1.0, (step + 1) / warmup)


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """Set the learning rate of every parameter group."""
    for group in optimizer.param_groups:
        group["lr"] = lr


def ema_decay_at(update: int, decay: float, warmup: bool) -> float:
    """EMA decay of update ``update`` (0-based): ``decay``, or min(decay, (1+n)/(10+n)) with
    ``warmup`` (the num_updates rule of TensorFlow's ExponentialMovingAverage), which lets a short
    run's average forget the random initialisation: 0.1 at the first update, 0.9 by the 80th."""
    if not warmup:
        return decay
    return min(decay, (1.0 + update) / (10.0 + update))


def copy_for_ema(model: nn.Module) -> nn.Module:
    """A frozen copy of ``model`` in eval mode that holds the moving average."""
    import copy

    ema = copy.deepcopy(model).eval()
    ema.requires_grad_(False)
    return ema


@torch.no_grad()
def ema_update(ema: nn.Module, model: nn.Module, decay: float) -> None:
    """θ_ema ← decay·θ_ema + (1-decay)·θ for every parameter; buffers are copied."""
    ema_params = list(ema.parameters())
    params = list(model.parameters())
    if len(ema_params) != len(params):
        raise ValueError(f"ema has {len(ema_params)} parameters, the model {len(params)}")
    for average, param in zip(ema_params, params, strict=True):
        average.lerp_(param.detach(), 1.0 - decay)
    for average, buffer in zip(ema.buffers(), model.buffers(), strict=True):
        average.copy_(buffer)
