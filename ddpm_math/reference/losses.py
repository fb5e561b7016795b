"""Per-example training losses, DDPM eqs. (12) and (14) and Improved DDPM §3.1, numpy float64.

Options are strings as in :mod:`.reverse`; ``loss_type`` 'simple', 'weighted', 'vlb', 'hybrid'.
Tables come from β alone (:mod:`.schedule`). Timesteps ``t`` are 0-based int64 arrays [B].
"""

from __future__ import annotations

import numpy as np

from ddpm_math.reference import parameterization
from ddpm_math.reference.forward import gather
from ddpm_math.reference.posterior import mu_tilde
from ddpm_math.reference.reverse import model_variance, p_mean_variance, split_model_output
from ddpm_math.reference.schedule import step_tables
from ddpm_math.reference.vlb import vb_terms_bpd

__all__ = ["HYBRID_VLB_WEIGHT", "mse_target", "mse_weight", "training_losses"]

#: λ of L_simple + λ L_vlb, Improved DDPM §3.1.
HYBRID_VLB_WEIGHT = 1e-3


def mse_target(schedule, x0, x_t, t, noise, mean_type: str) -> np.ndarray:
    """ε, x_0, μ̃_t(x_t, x_0) or v = √ᾱ_t ε - √(1-ᾱ_t) x_0: what the mean block regresses onto."""
    if mean_type == "eps":
        return np.asarray(noise, dtype=np.float64)
    if mean_type == "x0":
        return np.asarray(x0, dtype=np.float64)
    if mean_type == "v":
        return parameterization.v_from_x0_eps(schedule, x0, t, noise)
    return mu_tilde(schedule, x0, x_t, t)


def mse_weight(schedule, t, log_sigma2, mean_type: str) -> np.ndarray:
    """w_t with ‖μ̃ - μ_θ‖²/(2σ_t²) = w_t ‖target - prediction‖², eq. (12) for ε:
    c²/(2σ_t²) with c = β_t/(√α_t √(1-ᾱ_t)) (ε), √ᾱ_{t-1} β_t/(1-ᾱ_t) (x_0), that times
    √(1-ᾱ_t) (v), 1 (the mean itself)."""
    tables, ndim = step_tables(schedule), np.ndim(log_sigma2)
    beta = gather(tables.beta, t, ndim)
    coef_x0 = gather(np.sqrt(tables.alpha_bar_prev) * tables.beta / tables.one_minus_alpha_bar,
                     t, ndim)
    if mean_type == "eps":
        c2 = beta**2 / (gather(tables.alpha, t, ndim) * gather(tables.one_minus_alpha_bar, t, ndim))
    elif mean_type == "x0":
        c2 = coef_x0**2
    elif mean_type == "v":
        c2 = coef_x0**2 * gather(tables.one_minus_alpha_bar, t, ndim)
    else:
        c2 = np.ones_like(beta)
    return c2 / (2.0 * np.exp(log_sigma2))


def training_losses(schedule, output, x0, x_t, t, noise, mean_type: str, var_type: str,
                    loss_type: str, decoder: str = "discretized") -> dict[str, np.ndarray]:
    """``loss`` [B] and its parts: ``mse`` (not vlb) the mean over dimensions of the squared
    error (times w_t for 'weighted'), ``vb`` (vlb, hybrid) the bound's term at t in bits/dim;
    loss = mse (simple, weighted), T·vb (vlb), mse + 1e-3·T·vb (hybrid)."""
    mean_output, var_output = split_model_output(output, var_type)
    num_steps = step_tables(schedule).beta.size
    terms: dict[str, np.ndarray] = {}
    if loss_type != "vlb":
        squared = (mse_target(schedule, x0, x_t, t, noise, mean_type) - mean_output) ** 2
        if loss_type == "weighted":
            _, log_sigma2 = model_variance(schedule, t, var_type, x_t, var_output)
            squared = mse_weight(schedule, t, log_sigma2, mean_type) * squared
        terms["mse"] = squared.reshape(squared.shape[0], -1).mean(axis=1)
    if loss_type in ("vlb", "hybrid"):
        out = p_mean_variance(schedule, output, x_t, t, mean_type, var_type)
        terms["vb"] = vb_terms_bpd(schedule, x0, x_t, t, out["mean"], out["log_variance"],
                                   decoder)
    if loss_type == "vlb":
        terms["loss"] = num_steps * terms["vb"]
    elif loss_type == "hybrid":
        terms["loss"] = terms["mse"] + HYBRID_VLB_WEIGHT * num_steps * terms["vb"]
    else:
        terms["loss"] = terms["mse"]
    return terms
