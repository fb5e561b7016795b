"""The reverse step p_θ(x_{t-1} | x_t) from a network output, DDPM eq. (1) and §3.2, numpy float64.

Options are the strings of :mod:`ddpm_math.diffusion.options` (this package does not import the
torch engine): ``mean_type`` 'eps', 'x0', 'xprev', 'v'; ``var_type`` 'fixed_small',
'fixed_large', 'learned', 'learned_range'. A learned variance means the output has 2C channels
on axis 1, the last C holding the variance block. Tables come from β alone (:mod:`.schedule`).
Timesteps ``t`` are 0-based int64 arrays [B]: index t is the paper's step t+1.
"""

from __future__ import annotations

import numpy as np

from ddpm_math.reference import parameterization
from ddpm_math.reference.forward import gather
from ddpm_math.reference.posterior import mu_tilde
from ddpm_math.reference.schedule import step_tables

__all__ = ["model_variance", "p_mean_variance", "split_model_output"]

LEARNED = ("learned", "learned_range")


def split_model_output(output, var_type: str) -> tuple[np.ndarray, np.ndarray | None]:
    """(mean block, variance block or None): the first and last C of 2C channels if learned."""
    output = np.asarray(output, dtype=np.float64)
    if var_type not in LEARNED:
        return output, None
    channels = output.shape[1] // 2
    return output[:, :channels], output[:, channels:]


def model_variance(schedule, t, var_type: str, x_t, var_output=None):
    """(σ_t², log σ_t²) broadcast to x_t: β̃_t, its log clipped (fixed_small), β_t with index 0 → β̃_2
    (fixed_large), exp(output) (learned), exp(u log β_t + (1-u) log β̃_t), u = (v+1)/2
    (learned_range, Improved DDPM eq. 15), each log β̃ with index 0 clipped to index 1."""
    x_t = np.asarray(x_t, dtype=np.float64)
    tables = step_tables(schedule)
    log_beta_tilde = gather(tables.log_beta_tilde_clipped, t, x_t.ndim)
    if var_type == "fixed_small":  # β̃_1 = 0 itself, its log clipped
        variance = np.broadcast_to(gather(tables.beta_tilde, t, x_t.ndim), x_t.shape)
        return variance, np.broadcast_to(log_beta_tilde, x_t.shape)
    if var_type == "fixed_large":
        first = (np.asarray(t) == 0).reshape(log_beta_tilde.shape)
        log_sigma2 = np.where(first, log_beta_tilde, np.log(gather(tables.beta, t, x_t.ndim)))
    elif var_type == "learned":
        log_sigma2 = np.asarray(var_output, dtype=np.float64)
    elif var_type == "learned_range":
        u = (np.asarray(var_output, dtype=np.float64) + 1.0) / 2.0
        log_sigma2 = u * np.log(gather(tables.beta, t, x_t.ndim)) + (1.0 - u) * log_beta_tilde
    else:
        raise ValueError(f"var_type must be one of fixed_small, fixed_large, learned, "
                         f"learned_range; got {var_type!r}")
    log_sigma2 = np.broadcast_to(log_sigma2, x_t.shape)
    return np.exp(log_sigma2), log_sigma2


def p_mean_variance(schedule, output, x_t, t, mean_type: str, var_type: str,
                    clip_denoised: bool = False) -> dict[str, np.ndarray]:
    """``mean`` μ̃_t(x̂_0, x_t) (an unclipped 'xprev' output is the mean itself), ``variance``,
    ``log_variance``, ``x0_hat`` (clipped to [-1, 1] with ``clip_denoised``) and ``eps_hat``."""
    x_t = np.asarray(x_t, dtype=np.float64)
    mean_output, var_output = split_model_output(output, var_type)
    variance, log_variance = model_variance(schedule, t, var_type, x_t, var_output)
    if mean_type == "eps":
        x0_hat = parameterization.x0_from_eps(schedule, x_t, t, mean_output)
    elif mean_type == "x0":
        x0_hat = mean_output
    elif mean_type == "v":
        x0_hat = parameterization.x0_from_v(schedule, x_t, t, mean_output)
    else:
        x0_hat = parameterization.x0_from_xprev(schedule, x_t, t, mean_output)
    if clip_denoised:
        x0_hat = np.clip(x0_hat, -1.0, 1.0)
    unclipped = not clip_denoised
    mean = mean_output if mean_type == "xprev" and unclipped else mu_tilde(
        schedule, x0_hat, x_t, t)
    if mean_type == "eps" and unclipped:
        eps_hat = mean_output
    else:
        eps_hat = parameterization.eps_from_x0(schedule, x_t, t, x0_hat)
    return {"mean": mean, "variance": variance, "log_variance": log_variance,
            "x0_hat": x0_hat, "eps_hat": eps_hat}
