"""Fast sampling loops: DDPM Algorithm 2 and DDIM with one table of per-step Python floats.

While sampling, every batch element shares t, so a step's coefficients are scalars. They are
computed once per loop call, in float64 from the :class:`NoiseSchedule` arrays, as one table
(:func:`step_table`), and each step is a few fused in-place ops on preallocated buffers: the
network output is affine in x_t, x̂_0 = P x_t + Q out and ε̂ = R x_t + S out, so

- unclipped: x_{t-1} = A x_t + B out + σ_t z (A, B fold DDPM eq. (7) or DDIM eq. (12) over P..S);
- clipped:   x_{t-1} = K clip(x̂_0, ±1) + L x_t + σ_t z, with clip(P y) = P clip(y, ±1/|P|).

The last step (index 0, no noise) runs the kernels themselves, once; so does a step where
ᾱ_t = 0 (a zero terminal SNR schedule), where P = 1/√ᾱ_t is infinite (:func:`kernel_rows`).

The draws are those of :func:`ddpm_math.diffusion.sampling.ancestral_loop` / ``ddim_loop`` (the
reference: the same generator, order and shapes, noise at indices t > 0 only), so both loops
give the same samples (``verification/diffusion/test_fast_loop.py``). The model output and x_T
are checked for NaN/inf on the first step only and x_0 after the last; nothing is read from a
tensor in between. Timesteps are 0-based: index t is the paper's step t+1.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from ddpm_math.diffusion.options import MeanType, VarType
from ddpm_math.diffusion.reverse import p_mean_variance
from ddpm_math.diffusion.sampling import _reverse_indices, ddim_step, finish, p_sample
from ddpm_math.diffusion.validation import check_generator, check_model_output
from ddpm_math.schedules import NoiseSchedule

__all__ = [
    "fast_ancestral_loop", "fast_ddim_loop", "kernel_noise", "kernel_rows", "kernel_step",
    "prediction_coefficients", "step_table",
]

Model = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
KernelStep = Callable[[torch.Tensor, torch.Tensor, int, torch.Tensor], torch.Tensor]

#: Columns of :func:`step_table`, one row per 0-based index t.
COLUMNS = ("A", "B", "out_alpha", "bound", "scale", "L", "p_zero", "sigma", "slope")


def prediction_coefficients(schedule: Any, mean_type: MeanType):
    """(P, Q, R, S) arrays [T] with x̂_0 = P x_t + Q out and ε̂ = R x_t + S out, from eq. (4)
    (eps, x0, v) and eq. (7) solved for x_0 (xprev: the output is μ̃_t)."""
    sab, s1m = schedule.sqrt_alpha_bar, schedule.sqrt_one_minus_alpha_bar
    zero, one = np.zeros_like(sab), np.ones_like(sab)
    if mean_type is MeanType.EPS:
        return 1.0 / sab, -s1m / sab, zero, one
    if mean_type is MeanType.V:
        return sab, -s1m, s1m, sab
    if mean_type is MeanType.X0:
        p, q = zero, one
    else:  # xprev: x̂_0 = (out - coef_xt x_t)/coef_x0
        p = -schedule.mu_tilde_coef_xt / schedule.mu_tilde_coef_x0
        q = 1.0 / schedule.mu_tilde_coef_x0
    return p, q, (1.0 - sab * p) / s1m, -sab * q / s1m  # ε̂ from x̂_0, eq. (4)


def _ancestral_noise(schedule: Any, var_type: VarType):
    """(sigma, slope) arrays [T]: σ_t = sigma·exp(slope·v), v the variance output (Improved
    DDPM eq. 15: ½ log σ² = v (log β - log β̃)/4 + (log β + log β̃)/4; fixed: slope 0)."""
    log_beta_tilde = schedule.log_beta_tilde_clipped
    zero = np.zeros_like(log_beta_tilde)
    if var_type is VarType.FIXED_SMALL:
        return np.exp(0.5 * log_beta_tilde), zero
    if var_type is VarType.FIXED_LARGE:  # β_t, the t = 1 entry β̃_2 (never used: no noise there)
        return np.sqrt(np.concatenate((np.exp(log_beta_tilde[:1]), schedule.beta[1:]))), zero
    if var_type is VarType.LEARNED:  # log σ² = v
        return np.ones_like(log_beta_tilde), zero + 0.5
    log_beta = np.log(schedule.beta)
    return np.exp(0.25 * (log_beta + log_beta_tilde)), 0.25 * (log_beta - log_beta_tilde)


def _ddim_coefficients(schedule: Any, eta: float):
    """(√ᾱ_{t-1}, √(1-ᾱ_{t-1}-σ_t²), σ_t) arrays [T], DDIM eqs. (12) and (16), as ddim_step."""
    alpha_bar, alpha_bar_prev = schedule.alpha_bar, schedule.alpha_bar_prev
    variance_ratio = (1.0 - alpha_bar_prev) / schedule.one_minus_alpha_bar
    sigma = eta * np.sqrt(variance_ratio * (1.0 - alpha_bar / alpha_bar_prev))
    direction = np.sqrt(np.clip(1.0 - alpha_bar_prev - sigma**2, 0.0, None))
    return np.sqrt(alpha_bar_prev), direction, sigma


def step_table(schedule: Any, mean_type: MeanType, var_type: VarType,
               eta: float | None = None) -> list[tuple[float, ...]]:
    """Per-step floats (:data:`COLUMNS`), rows for t = 0..T-1, of ancestral sampling (``eta``
    None: μ̃_t(x̂_0, x_t) of eq. (7), σ_t per ``var_type``) or DDIM with η = ``eta``.

    ``schedule``: anything with the float64 arrays of a :class:`NoiseSchedule`.
    """
    with np.errstate(divide="ignore", invalid="ignore"):  # ᾱ_T = 0 gives inf, as the kernels
        p, q, r, s = prediction_coefficients(schedule, mean_type)
        if eta is None:
            k, l = schedule.mu_tilde_coef_x0, schedule.mu_tilde_coef_xt  # μ̃ = K x̂_0 + L x_t
            a, b = k * p + l, k * q
            if mean_type is MeanType.XPREV:  # the output is the mean itself, exactly
                a, b = np.zeros_like(a), np.ones_like(b)
            sigma, slope = _ancestral_noise(schedule, var_type)
        else:
            sqrt_alpha_bar_prev, direction, sigma = _ddim_coefficients(schedule, eta)
            a, b = sqrt_alpha_bar_prev * p + direction * r, sqrt_alpha_bar_prev * q + direction * s
            # clipped: ε̂ = (x_t - √ᾱ_t x̂_0)/√(1-ᾱ_t) from the clipped x̂_0
            l = direction / schedule.sqrt_one_minus_alpha_bar
            k = sqrt_alpha_bar_prev - l * schedule.sqrt_alpha_bar
            slope = np.zeros_like(sigma)
        p_zero = p == 0.0
        safe_p = np.where(p_zero, 1.0, p)
        out_alpha = np.where(p_zero, q, q / safe_p)
        bound = np.where(p_zero, 1.0, 1.0 / np.abs(safe_p))
        scale = np.where(p_zero, k, k * p)
        columns = (a, b, out_alpha, bound, scale, l, p_zero.astype(np.float64), sigma, slope)
    return [tuple(row) for row in np.stack(columns, axis=1).tolist()]


def _mean_into(buf: torch.Tensor, x: torch.Tensor, out: torch.Tensor, row, clip: bool,
               has_noise: bool, scratch: torch.Tensor) -> torch.Tensor:
    """``buf`` (+)= A x + B out, or K clip(x̂_0) + L x with clipping (x̂_0 into ``scratch``);
    buf holds σz if has_noise."""
    a, b, out_alpha, bound, scale, l, p_zero = row[:7]
    if clip:
        if p_zero:
            x0 = torch.mul(out, out_alpha, out=scratch).clamp_(-1.0, 1.0)
        else:  # clip(P x + Q out, ±1) = P clip(x + (Q/P) out, ±1/|P|)
            x0 = torch.add(x, out, alpha=out_alpha, out=scratch).clamp_(-bound, bound)
        first, first_coef, second_coef = x0, scale, l
    else:
        first, first_coef, second_coef = out, b, a
    if has_noise:
        buf.add_(first, alpha=first_coef)
    else:
        torch.mul(first, first_coef, out=buf)
    if second_coef != 0.0:
        buf.add_(x, alpha=second_coef)
    return buf


def _draw(buf: torch.Tensor, row, var_out: torch.Tensor | None, generator) -> torch.Tensor:
    """σ_t z into ``buf``, z ~ N(0, I) drawn as torch.randn(buf.shape, generator) draws it."""
    buf.normal_(0.0, row[7], generator=generator)
    if var_out is not None:  # learned: σ_t = sigma·exp(slope·v), elementwise
        buf.mul_(torch.mul(var_out, row[8]).exp_())
    return buf


def _timesteps(model_steps: Sequence[int], batch: int, device: torch.device):
    """``index -> t``, a [B] int64 tensor of ``model_steps[index]``. On the CPU every row is
    made once, before the loop (no per-step op); elsewhere one buffer is refilled each step (a
    fill with a host scalar is a kernel launch, where copying rows from the host would be a
    synchronisation)."""
    if device.type == "cpu":
        rows = torch.tensor(list(model_steps), dtype=torch.int64)[:, None]
        return rows.expand(len(rows), batch).contiguous().unbind(0).__getitem__
    t = torch.empty(batch, dtype=torch.int64, device=device)
    return lambda index: t.fill_(model_steps[index])


def _run_fast(model: Model, x_T: torch.Tensor, table, model_steps: Sequence[int],
              kernel: KernelStep, *, learned: bool, clip: bool, noisy: bool,
              learned_noise: bool, generator, progress: bool, return_trajectory: bool):
    """x_0 from x_T by the rows of ``table`` for t = T-1, ..., 1 and ``kernel`` (the kernels'
    own step) at t = 0 and at the rows :func:`kernel_rows` names (ᾱ_t = 0); draws only when
    ``noisy`` and t > 0 (σ_t scaled by the variance output if ``learned_noise``); checks the
    first model output and x_T, then x_0, for NaN/inf."""
    check_generator(generator, x_T.device if noisy else None)
    x, trajectory = x_T, ([x_T] if return_trajectory else None)
    timestep = _timesteps(model_steps, x.shape[0], x.device)
    buffers = [torch.empty_like(x, memory_format=torch.contiguous_format) for _ in range(3)]
    scratch = buffers.pop()
    by_kernel = kernel_rows(table)
    with torch.no_grad():
        for index in _reverse_indices(len(table), progress):  # t = T-1, ..., 0
            output = model(x, timestep(index))
            if index == len(table) - 1:  # first step: C (2C) channels, finite output and x_T
                check_model_output(output, x, learned, x_t_name="noise (x_T)")
            if index == 0:
                x = kernel(x, output, 0, torch.zeros_like(x))
            elif index in by_kernel:
                x = kernel(x, output, index, kernel_noise(x, noisy, generator))
            else:
                out, var_out = torch.chunk(output, 2, dim=1) if learned else (output, None)
                buf = torch.empty_like(x) if trajectory is not None else buffers[index % 2]
                if noisy:
                    _draw(buf, table[index], var_out if learned_noise else None, generator)
                x = _mean_into(buf, x, out, table[index], clip, noisy, scratch)
            if trajectory is not None:
                trajectory.append(x)
    return finish(x, trajectory)


def kernel_rows(table: Sequence[Sequence[float]]) -> frozenset[int]:
    """The indices t ≥ 1 whose row holds a non-finite coefficient: ᾱ_t = 0 (a zero terminal
    SNR schedule), where x̂_0 = (x_t - √(1-ᾱ_t) ε̂)/√ᾱ_t divides by 0 and the fused update
    would turn the kernels' ±inf (clipped to ±1) into 0·inf = NaN. Those steps run the kernels."""
    return frozenset(index for index, row in enumerate(table)
                     if index > 0 and not all(math.isfinite(value) for value in row))


def kernel_noise(like: torch.Tensor, noisy: bool, generator) -> torch.Tensor:
    """The z of a step run by :func:`kernel_step`, drawn as the kernel loop draws it
    (``torch.randn`` of x's shape from ``generator``), or zeros when the sampler is not
    ``noisy`` (DDIM at η = 0)."""
    if not noisy:
        return torch.zeros_like(like)
    return torch.randn(like.shape, generator=generator, dtype=like.dtype, device=like.device)


def kernel_step(schedule: Any, mean_type: MeanType, var_type: VarType,
                clip_denoised: bool, eta: float | None = None) -> KernelStep:
    """``(x_t, output, index, z) -> x_{t-1}`` by the kernels themselves: p_mean_variance and
    p_sample (``eta`` None) or ddim_step at the 0-based ``index``, with standard normal noise
    ``z`` (zeros at index 0). The schedule's tensors and t are made on the first call at an
    index and kept, so later calls copy nothing from the host."""
    cache: dict[tuple, Any] = {}

    def step(x: torch.Tensor, output: torch.Tensor, index: int, z: torch.Tensor) -> torch.Tensor:
        key = (x.device, x.dtype, x.shape[0], index)
        if key not in cache:
            cache[key] = (schedule.to_torch(x.device, x.dtype),
                          torch.full((x.shape[0],), index, dtype=torch.int64, device=x.device))
        coefs, t = cache[key]
        out = p_mean_variance(coefs, output, x, t, mean_type, var_type, clip_denoised)
        if eta is None:
            return p_sample(out, t, z)
        return ddim_step(coefs, out["x0_hat"], out["eps_hat"], t, eta, z)

    return step


def fast_ancestral_loop(model: Model, schedule: NoiseSchedule, x_T: torch.Tensor,
                        mean_type: MeanType, var_type: VarType, clip_denoised: bool,
                        model_steps: Sequence[int] | None = None,
                        generator: torch.Generator | None = None, progress: bool = False,
                        return_trajectory: bool = False):
    """x_0 from x_T by DDPM Algorithm 2 (eq. 11 fused); the samples of
    :func:`sampling.ancestral_loop` for the same generator. ``model`` is called as
    ``model(x_t, t)`` with t = ``model_steps[index]`` (the original steps of a respaced
    schedule; default the index), a [B] int64 tensor (on a GPU one buffer refilled each step:
    do not keep it).
    The last step (index 0, no noise: x_0 = μ_θ(x_1, 1)) is the kernels' own."""

    table = step_table(schedule, mean_type, var_type)
    steps = range(len(table)) if model_steps is None else model_steps
    kernel = kernel_step(schedule, mean_type, var_type, clip_denoised)
    return _run_fast(model, x_T, table, steps, kernel, learned=var_type.learned,
                     clip=clip_denoised, noisy=True, learned_noise=var_type.learned,
                     generator=generator, progress=progress,
                     return_trajectory=return_trajectory)


def fast_ddim_loop(model: Model, schedule: NoiseSchedule, x_T: torch.Tensor,
                   mean_type: MeanType, var_type: VarType, eta: float,
                   clip_denoised: bool, model_steps: Sequence[int] | None = None,
                   generator: torch.Generator | None = None, progress: bool = False,
                   return_trajectory: bool = False):
    """x_0 from x_T by DDIM (eq. 12 fused, σ_t(η) of eq. 16); the samples of
    :func:`sampling.ddim_loop` for the same generator; arguments as
    :func:`fast_ancestral_loop` (a learned variance output is ignored, as there)."""

    table = step_table(schedule, mean_type, var_type, eta=eta)
    steps = range(len(table)) if model_steps is None else model_steps
    kernel = kernel_step(schedule, mean_type, var_type, clip_denoised, eta)
    return _run_fast(model, x_T, table, steps, kernel, learned=var_type.learned,
                     clip=clip_denoised, noisy=eta > 0, learned_noise=False,
                     generator=generator, progress=progress,
                     return_trajectory=return_trajectory)
