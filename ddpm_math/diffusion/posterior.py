"""The forward-process posterior q(x_{t-1} | x_t, x_0) = N(μ̃_t, β̃_t I), DDPM eqs. (6)-(7),
and its mean written through the noise, eq. (10)-(11).

Timesteps ``t`` are 0-based int64 [B] tensors: index t is the paper's step t+1. At index 0
(paper t = 1) μ̃ = x_0 and β̃ = 0; the log-variance there is the clipped entry log β̃_2.
"""

from __future__ import annotations

import torch

from ddpm_math.diffusion.tensors import gather
from ddpm_math.schedules import TorchSchedule

__all__ = ["mu_tilde", "mu_tilde_from_eps", "q_posterior"]


def mu_tilde(
    schedule: TorchSchedule, x0: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor
) -> torch.Tensor:
    """Posterior mean μ̃_t(x_t, x_0) = √ᾱ_{t-1}β_t/(1-ᾱ_t) x_0 + √α_t(1-ᾱ_{t-1})/(1-ᾱ_t) x_t,
    DDPM eq. (7)."""
    coef_x0 = gather(schedule.mu_tilde_coef_x0, t, x_t)
    coef_xt = gather(schedule.mu_tilde_coef_xt, t, x_t)
    return coef_x0 * x0 + coef_xt * x_t


def q_posterior(
    schedule: TorchSchedule, x0: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Mean μ̃_t, variance β̃_t and clipped log β̃_t of q(x_{t-1} | x_t, x_0), DDPM eqs. (6)-(7).

    The variance and log-variance are broadcast to the shape of ``x_t`` (expanded views).
    """
    variance = gather(schedule.beta_tilde, t, x_t).expand_as(x_t)
    log_variance = gather(schedule.log_beta_tilde_clipped, t, x_t).expand_as(x_t)
    return mu_tilde(schedule, x0, x_t, t), variance, log_variance


def mu_tilde_from_eps(
    schedule: TorchSchedule, x_t: torch.Tensor, t: torch.Tensor, eps: torch.Tensor
) -> torch.Tensor:
    """μ̃_t written through the noise: (x_t - β_t/√(1-ᾱ_t) ε)/√α_t, DDPM eqs. (10)-(11)."""
    beta = gather(schedule.beta, t, x_t)
    sqrt_one_minus_alpha_bar = gather(schedule.sqrt_one_minus_alpha_bar, t, x_t)
    eps_coef = beta / sqrt_one_minus_alpha_bar
    return (x_t - eps_coef * eps) * torch.rsqrt(gather(schedule.alpha, t, x_t))
