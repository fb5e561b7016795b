"""The terms of the variational bound L = L_T + Σ_{t>1} L_{t-1} + L_0 in bits/dim, DDPM eq. (5).

Each term is per example: a mean over the data dimensions of the per-element value in nats,
divided by ln 2 (bits per dimension). These kernels do not read their inputs' values: the
facade (:class:`GaussianDiffusion`) checks x_0 (finite; 8-bit in [-1, 1] for the discretised
decoders) before it calls them. Timesteps ``t`` are 0-based int64 [B] tensors: index t is
the paper's step t+1, so index 0 holds the decoder term L_0 and index t > 0 holds L_t (paper
L_{t}, the KL for x_{t} given x_{t+1}).
"""

from __future__ import annotations

import math

import torch
from tqdm.auto import tqdm

from ddpm_math.diffusion.decoder import discretized_gaussian_log_likelihood
from ddpm_math.diffusion.forward import q_mean_variance, q_sample
from ddpm_math.diffusion.kl import normal_kl
from ddpm_math.diffusion.options import DecoderType
from ddpm_math.diffusion.posterior import q_posterior
from ddpm_math.diffusion.validation import check_generator
from ddpm_math.schedules import TorchSchedule

__all__ = ["bpd_loop", "decoder_nll", "mean_flat", "prior_bpd", "vb_terms_bpd"]

LN2 = math.log(2.0)
LOG_2PI = math.log(2.0 * math.pi)


def mean_flat(x: torch.Tensor) -> torch.Tensor:
    """The mean over every dimension but the batch: [B, ...] → [B]."""
    return x.mean(dim=tuple(range(1, x.ndim))) if x.ndim > 1 else x


def prior_bpd(schedule: TorchSchedule, x0: torch.Tensor) -> torch.Tensor:
    """L_T = KL(q(x_T | x_0) ‖ N(0, I)) in bits/dim, DDPM eq. (5); [B]."""
    t_last = torch.full((x0.shape[0],), schedule.num_steps - 1, dtype=torch.int64,
                        device=x0.device)
    mean, _, log_variance = q_mean_variance(schedule, x0, t_last)
    return mean_flat(normal_kl(mean, log_variance, 0.0, 0.0)) / LN2


def decoder_nll(
    x0: torch.Tensor, mean: torch.Tensor, log_variance: torch.Tensor, decoder: DecoderType
) -> torch.Tensor:
    """L_0 = -log p_θ(x_0 | x_1) per element in nats: DDPM eq. (13) or a Gaussian density.

    ``x0`` is not checked here (the facade checks it once): for the discretised decoders it must
    hold 8-bit values k/127.5 - 1.
    """
    if decoder is DecoderType.GAUSSIAN:
        squared = (x0 - mean) ** 2 * torch.exp(-log_variance)
        return 0.5 * (LOG_2PI + log_variance + squared)
    exact = decoder is DecoderType.DISCRETIZED
    return -discretized_gaussian_log_likelihood(x0, mean, 0.5 * log_variance, exact=exact,
                                                check_values=False)


def vb_terms_bpd(
    schedule: TorchSchedule,
    x0: torch.Tensor,
    x_t: torch.Tensor,
    t: torch.Tensor,
    mean: torch.Tensor,
    log_variance: torch.Tensor,
    decoder: DecoderType = DecoderType.DISCRETIZED,
) -> torch.Tensor:
    """The bound's term at index t in bits/dim, DDPM eq. (5); [B].

    KL(q(x_{t-1} | x_t, x_0) ‖ N(mean, e^log_variance)) for t > 0, and the decoder's negative
    log-likelihood of x_0 under N(mean, e^log_variance) for t = 0. ``mean`` and
    ``log_variance`` are those of p_θ(x_{t-1} | x_t) (see :func:`reverse.p_mean_variance`).
    """
    true_mean, _, true_log_variance = q_posterior(schedule, x0, x_t, t)
    kl = mean_flat(normal_kl(true_mean, true_log_variance, mean, log_variance)) / LN2
    nll = mean_flat(decoder_nll(x0, mean, log_variance, decoder)) / LN2
    return torch.where(t == 0, nll, kl)


def bpd_loop(
    denoise,
    schedule: TorchSchedule,
    x0: torch.Tensor,
    decoder: DecoderType = DecoderType.DISCRETIZED,
    generator: torch.Generator | None = None,
    progress: bool = False,
) -> dict[str, torch.Tensor]:
    """Every term of the bound for each example: L = L_T + Σ_t L_t in bits/dim, DDPM eq. (5).

    For each index t a fresh x_t ~ q(x_t | x_0) is drawn and ``denoise(x_t, t)`` (a
    p_mean_variance mapping) gives the term. Returns ``total_bpd`` [B], ``prior_bpd`` [B] and
    ``vb``, ``x0_mse``, ``mse`` (ε̂ against ε) as [B, T] with column t holding index t.
    ``progress`` shows a tqdm bar (on stderr) over the T steps.
    """
    check_generator(generator, x0.device)
    batch, num_steps = x0.shape[0], schedule.num_steps
    columns: dict[str, list[torch.Tensor]] = {"vb": [], "x0_mse": [], "mse": []}
    indices = range(num_steps - 1, -1, -1)
    if progress:
        indices = tqdm(indices, desc="bound", total=num_steps)
    for index in indices:  # t = T-1, ..., 0
        t = torch.full((batch,), index, dtype=torch.int64, device=x0.device)
        noise = torch.randn(x0.shape, generator=generator, dtype=x0.dtype, device=x0.device)
        x_t = q_sample(schedule, x0, t, noise)
        out = denoise(x_t, t)
        columns["vb"].append(vb_terms_bpd(schedule, x0, x_t, t, out["mean"],
                                          out["log_variance"], decoder))
        columns["x0_mse"].append(mean_flat((out["x0_hat"] - x0) ** 2))
        columns["mse"].append(mean_flat((out["eps_hat"] - noise) ** 2))
    result = {name: torch.stack(values[::-1], dim=1) for name, values in columns.items()}
    result["prior_bpd"] = prior_bpd(schedule, x0)
    result["total_bpd"] = result["vb"].sum(dim=1) + result["prior_bpd"]
    return result
