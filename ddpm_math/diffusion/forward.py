"""The forward process q: one step q(x_t | x_{t-1}) (DDPM eq. 2) and the marginal q(x_t | x_0)
(eq. 4), as pure torch kernels over a :class:`~ddpm_math.schedules.TorchSchedule`.

Timesteps ``t`` are 0-based int64 [B] tensors: index t is the paper's step t+1. Coefficients are
gathered on the device and in the dtype of the data tensor.
"""

from __future__ import annotations

import torch

from ddpm_math.diffusion.tensors import gather
from ddpm_math.schedules import TorchSchedule

__all__ = ["q_mean_variance", "q_sample", "q_step_mean_variance", "q_step_sample"]


def q_mean_variance(
    schedule: TorchSchedule, x0: torch.Tensor, t: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Mean √ᾱ_t x_0, variance 1 - ᾱ_t and its log of q(x_t | x_0), DDPM eq. (4).

    The variance and log-variance are broadcast to the shape of ``x0`` (as expanded views).
    """
    mean = gather(schedule.sqrt_alpha_bar, t, x0) * x0
    variance = gather(schedule.one_minus_alpha_bar, t, x0).expand_as(x0)
    return mean, variance, torch.log(variance)


def q_sample(
    schedule: TorchSchedule, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor
) -> torch.Tensor:
    """x_t = √ᾱ_t x_0 + √(1 - ᾱ_t) ε, a draw from q(x_t | x_0), DDPM eq. (4) reparameterised."""
    signal = gather(schedule.sqrt_alpha_bar, t, x0) * x0
    return signal + gather(schedule.sqrt_one_minus_alpha_bar, t, x0) * noise


def q_step_mean_variance(
    schedule: TorchSchedule, x_prev: torch.Tensor, t: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Mean √(1 - β_t) x_{t-1}, variance β_t and its log of one step q(x_t | x_{t-1}), eq. (2)."""
    mean = torch.sqrt(gather(schedule.alpha, t, x_prev)) * x_prev
    variance = gather(schedule.beta, t, x_prev).expand_as(x_prev)
    return mean, variance, torch.log(variance)


def q_step_sample(
    schedule: TorchSchedule, x_prev: torch.Tensor, t: torch.Tensor, noise: torch.Tensor
) -> torch.Tensor:
    """x_t = √(1 - β_t) x_{t-1} + √β_t ε, a draw from one forward step, DDPM eq. (2).

    ``t`` is the index of the step taken: index t maps x_t (paper) from x_{t-1}, i.e. from the
    code's x at index t-1 (the data itself for t = 0).
    """
    mean = torch.sqrt(gather(schedule.alpha, t, x_prev)) * x_prev
    return mean + torch.sqrt(gather(schedule.beta, t, x_prev)) * noise
