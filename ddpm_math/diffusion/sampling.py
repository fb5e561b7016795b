"""Reverse-process samplers: ancestral sampling (DDPM Algorithm 2) and DDIM (Song et al. 2021).

The steps are pure kernels; the loops take a ``denoise(x_t, t) -> p_mean_variance mapping``
closure (the facade builds it around the network) and run without host-device
synchronisation: the per-step timesteps are filled on the device and no tensor value is read
until the final finiteness check. Timesteps are 0-based: index t is the paper's step t+1.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch
from tqdm.auto import tqdm

from ddpm_math.diffusion.tensors import append_dims, gather
from ddpm_math.diffusion.validation import check_generator
from ddpm_math.schedules import TorchSchedule

__all__ = ["ancestral_loop", "ddim_loop", "ddim_sigma", "ddim_step", "p_sample"]

Denoiser = Callable[[torch.Tensor, torch.Tensor], Mapping[str, torch.Tensor]]


def p_sample(
    out: Mapping[str, torch.Tensor], t: torch.Tensor, noise: torch.Tensor
) -> torch.Tensor:
    """x_{t-1} = μ_θ(x_t, t) + σ_t z, DDPM Algorithm 2 line 4, with z = 0 at index 0 (t = 1)."""
    mean = out["mean"]
    keep_noise = append_dims((t != 0).to(mean.dtype), mean.ndim)
    return mean + keep_noise * torch.exp(0.5 * out["log_variance"]) * noise


def ddim_sigma(
    schedule: TorchSchedule, t: torch.Tensor, eta: float, like: torch.Tensor
) -> torch.Tensor:
    """σ_t(η) = η √((1-ᾱ_{t-1})/(1-ᾱ_t)) √(1-ᾱ_t/ᾱ_{t-1}), DDIM eq. (16)."""
    alpha_bar = gather(schedule.alpha_bar, t, like)
    alpha_bar_prev = gather(schedule.alpha_bar_prev, t, like)
    variance_ratio = (1.0 - alpha_bar_prev) / gather(schedule.one_minus_alpha_bar, t, like)
    return eta * torch.sqrt(variance_ratio * (1.0 - alpha_bar / alpha_bar_prev))


def ddim_step(
    schedule: TorchSchedule,
    x0_hat: torch.Tensor,
    eps_hat: torch.Tensor,
    t: torch.Tensor,
    eta: float,
    noise: torch.Tensor,
) -> torch.Tensor:
    """x_{t-1} = √ᾱ_{t-1} x̂_0 + √(1-ᾱ_{t-1}-σ_t²) ε̂ + σ_t z, DDIM eq. (12)."""
    sigma = ddim_sigma(schedule, t, eta, x0_hat)
    alpha_bar_prev = gather(schedule.alpha_bar_prev, t, x0_hat)
    direction_coef = torch.sqrt((1.0 - alpha_bar_prev - sigma**2).clamp(min=0.0))
    return torch.sqrt(alpha_bar_prev) * x0_hat + direction_coef * eps_hat + sigma * noise


def _reverse_indices(num_steps: int, progress: bool):
    """num_steps - 1, ..., 0, wrapped in a tqdm progress bar when asked."""
    indices = range(num_steps - 1, -1, -1)
    return tqdm(indices, desc="sampling", total=num_steps) if progress else indices


def _run(step, x_T: torch.Tensor, num_steps: int, generator, return_trajectory: bool,
         stochastic: bool = True):
    """Apply ``step(x, t, noise)`` for t = T-1, ..., 0; finite check once at the end.

    Noise is drawn for every step but the last (zeros there, and everywhere when not
    ``stochastic``, so a deterministic sampler leaves the generator untouched).
    """
    check_generator(generator, x_T.device if stochastic else None)  # where it draws
    x = x_T
    trajectory = [x] if return_trajectory else None
    batch = x.shape[0]
    for index in range(num_steps - 1, -1, -1):  # t = T-1, ..., 0
        t = torch.full((batch,), index, dtype=torch.int64, device=x.device)
        if index > 0 and stochastic:
            noise = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
        else:  # Algorithm 2: no noise at the last step (DDIM η = 0: none at all)
            noise = torch.zeros_like(x)
        x = step(x, t, noise)
        if trajectory is not None:
            trajectory.append(x)
    return finish(x, trajectory)


def finish(x: torch.Tensor, trajectory: list[torch.Tensor] | None):
    """x_0 (and the stacked trajectory) after the loop's one finiteness check of x_0."""
    if not bool(torch.isfinite(x).all()):
        raise ValueError("sampling produced NaN or inf (the first step's model output was "
                         "finite): the model returned non-finite values at a later step, or "
                         "x̂_0 = (x_t - √(1-ᾱ_t) ε̂)/√ᾱ_t divided by ᾱ_t = 0 (a zero terminal SNR "
                         "schedule with an ε output: use clip_denoised=True or mean_type 'v')")
    return (x, torch.stack(trajectory)) if trajectory is not None else x


def ancestral_loop(
    denoise: Denoiser,
    x_T: torch.Tensor,
    num_steps: int,
    generator: torch.Generator | None = None,
    return_trajectory: bool = False,
):
    """x_0 from x_T by DDPM Algorithm 2; with ``return_trajectory`` also [T+1, ...] x_T..x_0.
    The kernels one step at a time: the reference of the fast loops (no progress bar)."""

    def step(x, t, noise):
        return p_sample(denoise(x, t), t, noise)

    with torch.no_grad():
        return _run(step, x_T, num_steps, generator, return_trajectory)


def ddim_loop(
    denoise: Denoiser,
    schedule: TorchSchedule,
    x_T: torch.Tensor,
    eta: float,
    generator: torch.Generator | None = None,
    return_trajectory: bool = False,
):
    """x_0 from x_T by DDIM (eq. 12, η = 0 deterministic); trajectory as in ancestral_loop."""

    def step(x, t, noise):
        out = denoise(x, t)
        return ddim_step(schedule, out["x0_hat"], out["eps_hat"], t, eta, noise)

    with torch.no_grad():
        return _run(step, x_T, schedule.num_steps, generator, return_trajectory,
                    stochastic=eta > 0)
