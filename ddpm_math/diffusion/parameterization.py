"""Conversions between what a network may predict: x_0, ε, v, the score and the mean of x_{t-1}.

All follow from x_t = √ᾱ_t x_0 + √(1-ᾱ_t) ε (DDPM eq. 4) and v = √ᾱ_t ε - √(1-ᾱ_t) x_0
(Salimans & Ho 2022, §4). Timesteps ``t`` are 0-based int64 [B] tensors: index t is the paper's
step t+1.
"""

from __future__ import annotations

import torch

from ddpm_math.diffusion.tensors import gather
from ddpm_math.schedules import TorchSchedule

__all__ = [
    "eps_from_v",
    "eps_from_x0",
    "score_from_eps",
    "v_from_x0_eps",
    "x0_from_eps",
    "x0_from_v",
    "x0_from_xprev",
]


def x0_from_eps(
    schedule: TorchSchedule, x_t: torch.Tensor, t: torch.Tensor, eps: torch.Tensor
) -> torch.Tensor:
    """x̂_0 = (x_t - √(1-ᾱ_t) ε)/√ᾱ_t, DDPM eq. (4) solved for x_0 (as in eq. 15)."""
    noise_part = gather(schedule.sqrt_one_minus_alpha_bar, t, x_t) * eps
    return (x_t - noise_part) / gather(schedule.sqrt_alpha_bar, t, x_t)


def eps_from_x0(
    schedule: TorchSchedule, x_t: torch.Tensor, t: torch.Tensor, x0: torch.Tensor
) -> torch.Tensor:
    """ε = (x_t - √ᾱ_t x_0)/√(1-ᾱ_t), DDPM eq. (4) solved for ε."""
    signal = gather(schedule.sqrt_alpha_bar, t, x_t) * x0
    return (x_t - signal) / gather(schedule.sqrt_one_minus_alpha_bar, t, x_t)


def v_from_x0_eps(
    schedule: TorchSchedule, x0: torch.Tensor, t: torch.Tensor, eps: torch.Tensor
) -> torch.Tensor:
    """v = √ᾱ_t ε - √(1-ᾱ_t) x_0, Salimans & Ho 2022 §4."""
    eps_part = gather(schedule.sqrt_alpha_bar, t, x0) * eps
    return eps_part - gather(schedule.sqrt_one_minus_alpha_bar, t, x0) * x0


def x0_from_v(
    schedule: TorchSchedule, x_t: torch.Tensor, t: torch.Tensor, v: torch.Tensor
) -> torch.Tensor:
    """x̂_0 = √ᾱ_t x_t - √(1-ᾱ_t) v (from eq. 4 and the definition of v)."""
    signal = gather(schedule.sqrt_alpha_bar, t, x_t) * x_t
    return signal - gather(schedule.sqrt_one_minus_alpha_bar, t, x_t) * v


def eps_from_v(
    schedule: TorchSchedule, x_t: torch.Tensor, t: torch.Tensor, v: torch.Tensor
) -> torch.Tensor:
    """ε̂ = √(1-ᾱ_t) x_t + √ᾱ_t v (from eq. 4 and the definition of v)."""
    noise_part = gather(schedule.sqrt_one_minus_alpha_bar, t, x_t) * x_t
    return noise_part + gather(schedule.sqrt_alpha_bar, t, x_t) * v


def score_from_eps(schedule: TorchSchedule, t: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """Score ∇_{x_t} log q(x_t | x_0) = -ε/√(1-ᾱ_t) (DDPM §3.2, the link to score matching)."""
    return -eps / gather(schedule.sqrt_one_minus_alpha_bar, t, eps)


def x0_from_xprev(
    schedule: TorchSchedule, x_t: torch.Tensor, t: torch.Tensor, xprev: torch.Tensor
) -> torch.Tensor:
    """x̂_0 from a predicted posterior mean: (μ - coef_xt x_t)/coef_x0, DDPM eq. (7) solved."""
    coef_xt = gather(schedule.mu_tilde_coef_xt, t, x_t)
    return (xprev - coef_xt * x_t) / gather(schedule.mu_tilde_coef_x0, t, x_t)
