"""The reverse step p_θ(x_{t-1} | x_t) = N(μ_θ, σ_t² I) from a network output, DDPM eq. (1), §3.2.

A network output is turned into the mean (through x̂_0 or ε̂, per :class:`MeanType`) and the
variance (fixed or learned, per :class:`VarType`). Timesteps ``t`` are 0-based int64 [B]
tensors: index t is the paper's step t+1.
"""

from __future__ import annotations

import torch

from ddpm_math.diffusion.options import MeanType, VarType
from ddpm_math.diffusion.parameterization import (
    eps_from_v,
    eps_from_x0,
    x0_from_eps,
    x0_from_v,
    x0_from_xprev,
)
from ddpm_math.diffusion.posterior import mu_tilde
from ddpm_math.diffusion.tensors import gather
from ddpm_math.schedules import TorchSchedule

__all__ = ["model_variance", "p_mean_variance", "split_model_output"]


def split_model_output(
    output: torch.Tensor, var_type: VarType
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The mean block (first C channels) and the variance block (last C, if learned)."""
    if not var_type.learned:
        return output, None
    mean_output, var_output = torch.chunk(output, 2, dim=1)
    return mean_output, var_output


def model_variance(
    schedule: TorchSchedule,
    t: torch.Tensor,
    var_type: VarType,
    like: torch.Tensor,
    var_output: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """σ_t² and log σ_t² of the reverse step, DDPM §3.2 (fixed) / Improved DDPM eq. (15) (range).

    fixed_small: β̃_t, log with the t=1 entry clipped to log β̃_2; fixed_large: β_t with the
    t=1 entry β̃_2, as the reference code (a finite decoder variance); learned: exp of the
    output; learned_range: log σ² = u log β_t + (1-u) log β̃_t (clipped), u = (v + 1)/2.
    """
    log_beta_tilde = gather(schedule.log_beta_tilde_clipped, t, like)
    if var_type is VarType.FIXED_SMALL:
        sigma2 = gather(schedule.beta_tilde, t, like).expand_as(like)
        return sigma2, log_beta_tilde.expand_as(like)
    if var_type is VarType.FIXED_LARGE:
        first_step = (t == 0).reshape(log_beta_tilde.shape)
        beta = gather(schedule.beta, t, like)
        sigma2 = torch.where(first_step, torch.exp(log_beta_tilde), beta).expand_as(like)
        return sigma2, torch.log(sigma2)
    if var_output is None:
        raise ValueError(f"var_type={var_type.value!r} needs the variance block of the output")
    if var_type is VarType.LEARNED:
        log_sigma2 = var_output
    else:
        fraction = (var_output + 1.0) / 2.0
        log_beta = torch.log(gather(schedule.beta, t, like))
        log_sigma2 = fraction * log_beta + (1.0 - fraction) * log_beta_tilde
    return torch.exp(log_sigma2), log_sigma2


def _x0_hat(
    schedule: TorchSchedule,
    mean_output: torch.Tensor,
    x_t: torch.Tensor,
    t: torch.Tensor,
    mean_type: MeanType,
) -> torch.Tensor:
    """x̂_0 from the mean block of the output, for each parameterisation."""
    if mean_type is MeanType.EPS:
        return x0_from_eps(schedule, x_t, t, mean_output)
    if mean_type is MeanType.X0:
        return mean_output
    if mean_type is MeanType.V:
        return x0_from_v(schedule, x_t, t, mean_output)
    return x0_from_xprev(schedule, x_t, t, mean_output)


def p_mean_variance(
    schedule: TorchSchedule,
    output: torch.Tensor,
    x_t: torch.Tensor,
    t: torch.Tensor,
    mean_type: MeanType,
    var_type: VarType,
    clip_denoised: bool = False,
) -> dict[str, torch.Tensor]:
    """Mean μ_θ(x_t, t) = μ̃_t(x̂_0, x_t) and variance σ_t² of p_θ(x_{t-1} | x_t), DDPM eq. (1).

    Returns ``mean``, ``variance``, ``log_variance``, ``x0_hat`` and ``eps_hat``. With
    ``clip_denoised`` x̂_0 is clipped to [-1, 1] and the mean and ε̂ are formed from the
    clipped x̂_0 for every parameterisation (an "xprev" model's mean is then μ̃(clip(x̂_0), x_t),
    not its raw output). Without clipping an "xprev" model's mean is its output exactly, and an
    "eps" model's ε̂ is its output exactly.
    """
    mean_output, var_output = split_model_output(output, var_type)
    variance, log_variance = model_variance(schedule, t, var_type, x_t, var_output)
    x0_hat = _x0_hat(schedule, mean_output, x_t, t, mean_type)
    if clip_denoised:
        x0_hat = x0_hat.clamp(-1.0, 1.0)
    if mean_type is MeanType.XPREV and not clip_denoised:
        mean = mean_output
    else:
        mean = mu_tilde(schedule, x0_hat, x_t, t)
    if mean_type is MeanType.EPS and not clip_denoised:
        eps_hat = mean_output
    elif mean_type is MeanType.V and not clip_denoised:
        eps_hat = eps_from_v(schedule, x_t, t, mean_output)
    else:
        eps_hat = eps_from_x0(schedule, x_t, t, x0_hat)
    return {"mean": mean, "variance": variance, "log_variance": log_variance,
            "x0_hat": x0_hat, "eps_hat": eps_hat}
