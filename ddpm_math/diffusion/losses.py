"""Per-example training losses: L_simple (DDPM eq. 14), the eq. (12) weighting, the bound, and
the hybrid objective of Improved DDPM (§3.1).

The network is called by the facade; these kernels take its output. Timesteps ``t`` are 0-based
int64 [B] tensors: index t is the paper's step t+1.
"""

from __future__ import annotations

import torch

from ddpm_math.diffusion.options import DecoderType, LossType, MeanType, VarType
from ddpm_math.diffusion.parameterization import v_from_x0_eps
from ddpm_math.diffusion.posterior import mu_tilde
from ddpm_math.diffusion.reverse import model_variance, p_mean_variance, split_model_output
from ddpm_math.diffusion.tensors import gather
from ddpm_math.diffusion.vlb import mean_flat, vb_terms_bpd
from ddpm_math.schedules import TorchSchedule

__all__ = ["HYBRID_VLB_WEIGHT", "mse_target", "mse_weight", "training_losses"]

#: λ of the hybrid objective L_simple + λ L_vlb, Improved DDPM §3.1.
HYBRID_VLB_WEIGHT = 1e-3


def mse_target(
    schedule: TorchSchedule,
    x0: torch.Tensor,
    x_t: torch.Tensor,
    t: torch.Tensor,
    noise: torch.Tensor,
    mean_type: MeanType,
) -> torch.Tensor:
    """What the mean block regresses onto: ε, x_0, μ̃_t(x_t, x_0) or v."""
    if mean_type is MeanType.EPS:
        return noise
    if mean_type is MeanType.X0:
        return x0
    if mean_type is MeanType.V:
        return v_from_x0_eps(schedule, x0, t, noise)
    return mu_tilde(schedule, x0, x_t, t)


def mse_weight(
    schedule: TorchSchedule, t: torch.Tensor, log_sigma2: torch.Tensor, mean_type: MeanType,
    like: torch.Tensor,
) -> torch.Tensor:
    """The factor w_t with L_{t-1} - C = w_t ‖target - prediction‖², DDPM eq. (12) for ε.

    ‖μ̃ - μ_θ‖²/(2σ_t²) written in each parameterisation: μ̃ - μ_θ = c (prediction - target)
    with c = β_t/(√α_t √(1-ᾱ_t)) for ε, the x_0 coefficient of μ̃ for x_0, 1 for the mean
    itself, and that coefficient times √(1-ᾱ_t) for v. At index 0 it is the Gaussian decoder's
    weight (the bin integral of eq. 13 approximated by the density), with σ_1² = e^log_sigma2.
    """
    if mean_type is MeanType.EPS:
        beta = gather(schedule.beta, t, like)
        alpha = gather(schedule.alpha, t, like)
        coef2 = beta**2 / (alpha * gather(schedule.one_minus_alpha_bar, t, like))
    elif mean_type is MeanType.X0:
        coef2 = gather(schedule.mu_tilde_coef_x0, t, like) ** 2
    elif mean_type is MeanType.V:
        coef_x0 = gather(schedule.mu_tilde_coef_x0, t, like)
        coef2 = coef_x0**2 * gather(schedule.one_minus_alpha_bar, t, like)
    else:
        coef2 = torch.ones_like(gather(schedule.beta, t, like))
    return coef2 * torch.exp(-log_sigma2) / 2.0


def training_losses(
    schedule: TorchSchedule,
    output: torch.Tensor,
    x0: torch.Tensor,
    x_t: torch.Tensor,
    t: torch.Tensor,
    noise: torch.Tensor,
    mean_type: MeanType,
    var_type: VarType,
    loss_type: LossType,
    decoder: DecoderType = DecoderType.DISCRETIZED,
) -> dict[str, torch.Tensor]:
    """Per-example losses [B] for a network output at (x_t, t): ``loss``, ``mse``, ``vb``.

    ``mse`` (all but vlb) is the (weighted) squared error, ``vb`` (vlb, hybrid) the bound's
    term at t in bits/dim, and ``loss`` the objective built from them:

    simple: mean over dimensions of ‖target - prediction‖² (eq. 14); weighted: that mean times
    the eq. (12) weight (nats/dim, the bound up to constants; fixed variances only); vlb: T · vb
    (under uniform t an unbiased estimate of the bound without L_T); hybrid: mse + λ T · vb with
    the mean detached in vb (λ = 1e-3, Improved DDPM).
    """
    mean_output, var_output = split_model_output(output, var_type)
    terms: dict[str, torch.Tensor] = {}
    if loss_type is not LossType.VLB:
        squared = (mse_target(schedule, x0, x_t, t, noise, mean_type) - mean_output) ** 2
        if loss_type is LossType.WEIGHTED:
            _, log_sigma2 = model_variance(schedule, t, var_type, x_t, var_output)
            squared = mse_weight(schedule, t, log_sigma2, mean_type, x_t) * squared
        terms["mse"] = mean_flat(squared)
    if loss_type in (LossType.VLB, LossType.HYBRID):
        if loss_type is LossType.HYBRID:  # L_vlb trains only the variance
            mean_output = mean_output.detach()
        frozen = mean_output if var_output is None else torch.cat([mean_output, var_output], 1)
        out = p_mean_variance(schedule, frozen, x_t, t, mean_type, var_type)
        terms["vb"] = vb_terms_bpd(schedule, x0, x_t, t, out["mean"], out["log_variance"],
                                   decoder)
    vb_weight = schedule.num_steps * (HYBRID_VLB_WEIGHT if loss_type is LossType.HYBRID else 1.0)
    if loss_type is LossType.VLB:
        terms["loss"] = vb_weight * terms["vb"]
    elif loss_type is LossType.HYBRID:
        terms["loss"] = terms["mse"] + vb_weight * terms["vb"]
    else:
        terms["loss"] = terms["mse"]
    return terms
