"""Peers: diffusers' DDPM and DDIM loops driven with our model signature, for side-by-side runs.

diffusers is optional (``pip install "ddpm_math[peers]"``) and imported only when a loop or a
scheduler is built, never when this module is imported. The loops below are the ones diffusers'
``DDPMPipeline`` / ``DDIMPipeline`` run (``for t in scheduler.timesteps: out = model(x, t);
x = scheduler.step(out, t, x, ...).prev_sample``), with the network called as ours is:
``model(x_t, t)``, t a [B] int64 tensor of 0-based indices (index t is the paper's step t+1;
diffusers' timesteps are 0-based too, so no shift is needed).

Settings under which diffusers computes what :class:`GaussianDiffusion` computes by default
(ε-prediction, ``var_type='fixed_small'``, ``clip_denoised=True``):

- DDPM (:func:`ddpm_loop` vs ``p_sample_loop``): ``DDPMScheduler(trained_betas=β,
  variance_type='fixed_small', clip_sample=True, clip_sample_range=1, prediction_type='epsilon')``,
  ``set_timesteps(T)``. σ_t² = β̃_t; noise only at t > 0, one ``torch.randn(x.shape, generator)``
  per step, in our order (model call, then the draw): the same stream as our ``buf.normal_``.
- DDIM (:func:`ddim_loop` vs ``respaced('ddimN').ddim_sample_loop``): ``DDIMScheduler(...,
  timestep_spacing='leading', steps_offset=0, set_alpha_to_one=True)`` and
  ``step(..., use_clipped_model_output=True)``. 'leading' keeps 0, s, 2s, ... with s = T // N
  and steps t → t - s, ᾱ_{-s} := 1 (set_alpha_to_one); ours ("ddimN") keeps 0, s', 2s', ...
  with s' the smallest stride giving exactly N steps. The two are the same steps exactly when N
  divides T (otherwise s' > s: T = 1000, N = 30 gives s' = 34, s = 33), so :func:`ddim_loop`
  refuses other N. With clipping ours forms ε̂ from the clipped x̂_0 (the x̂_0 and ε̂ of one
  consistent x_t); diffusers does so only with ``use_clipped_model_output=True`` (its
  ``DDIMPipeline`` passes None, i.e. the raw model output as ε̂). With η > 0 diffusers also draws
  (and multiplies by σ = 0) at the last step; ours draws only at t > 0: the samples agree.

Where they differ by construction:

- diffusers stores β, α, ᾱ in float32 (``torch.tensor(trained_betas, dtype=torch.float32)``) and
  indexes 0-dim tensors of them at each step; ours computes every coefficient in float64 once.
  In float32 that is invisible; in float64 it limits agreement to float32 rounding of ᾱ.
  ``tables_dtype=torch.float64`` rebuilds diffusers' tables in float64 (1 - β, cumprod, as its
  constructor does) so a float64 comparison measures the loop, not the tables.
- timestep_spacing 'trailing' (999, 979, ..., 19) has no counterpart here; 'linspace' keeps our
  single-section ``space_timesteps(T, "N")`` steps, but DDIMScheduler then steps t → t - T // N,
  not to the previous kept step: not a respaced chain.
- diffusers' DDPM ``step`` looks the previous timestep up with ``nonzero`` on every step (a
  host-device synchronisation on a GPU); its loop cost is part of what the benchmarks measure.
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
from collections.abc import Callable
from typing import Any

import torch

from ddpm_math.schedules import NoiseSchedule

__all__ = [
    "INSTALL_HINT",
    "available",
    "ddim_loop",
    "ddim_scheduler",
    "ddpm_loop",
    "ddpm_scheduler",
    "version",
]

Model = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

#: How to get the optional peers, named in every error about a missing diffusers.
INSTALL_HINT = 'pip install "ddpm_math[peers]"'


@functools.lru_cache(maxsize=1)
def available() -> bool:
    """Whether diffusers can be imported (imports it on the first call, then caches the answer)."""
    try:
        _diffusers()
    except ImportError:
        return False
    return True


def version() -> str | None:
    """The installed diffusers version (from its metadata, without importing it), or None."""
    try:
        return importlib.metadata.version("diffusers")
    except importlib.metadata.PackageNotFoundError:
        return None


def _diffusers() -> Any:
    """The diffusers module; ImportError naming :data:`INSTALL_HINT` when it is missing."""
    try:
        return importlib.import_module("diffusers")
    except ImportError as err:
        raise ImportError(f"the diffusers peers need the optional dependency diffusers, which "
                          f"could not be imported ({err}); install it with {INSTALL_HINT}",
                          name="diffusers") from err


def _check_schedule(schedule: Any) -> NoiseSchedule:
    if not isinstance(schedule, NoiseSchedule):
        raise TypeError(f"schedule must be a NoiseSchedule (NoiseSchedule(betas) wraps an array "
                        f"of betas), got {type(schedule).__name__}")
    return schedule


def _rebuild_tables(scheduler: Any, schedule: NoiseSchedule, dtype: torch.dtype | None) -> Any:
    """``scheduler`` with β, α, ᾱ rebuilt in ``dtype`` as its constructor builds them (None:
    diffusers' own float32 tables, untouched)."""
    if dtype is None:
        return scheduler
    if dtype not in (torch.float32, torch.float64):
        raise ValueError(f"tables_dtype must be None, torch.float32 or torch.float64, got {dtype}")
    scheduler.betas = torch.tensor(schedule.beta, dtype=dtype)
    scheduler.alphas = 1.0 - scheduler.betas
    scheduler.alphas_cumprod = torch.cumprod(scheduler.alphas, dim=0)
    if hasattr(scheduler, "one"):  # DDPM: ᾱ_{-1} := 1
        scheduler.one = torch.tensor(1.0, dtype=dtype)
    if hasattr(scheduler, "final_alpha_cumprod"):  # DDIM, set_alpha_to_one=True: ᾱ_{-s} := 1
        scheduler.final_alpha_cumprod = torch.tensor(1.0, dtype=dtype)
    return scheduler


def ddpm_scheduler(schedule: NoiseSchedule, tables_dtype: torch.dtype | None = None) -> Any:
    """A ``diffusers.DDPMScheduler`` for ``schedule``'s β with our defaults (ε-prediction,
    σ_t² = β̃_t 'fixed_small', x̂_0 clipped to [-1, 1]), timesteps set to all T steps."""
    schedule = _check_schedule(schedule)
    scheduler = _diffusers().DDPMScheduler(
        num_train_timesteps=schedule.num_steps, trained_betas=schedule.beta.tolist(),
        variance_type="fixed_small", clip_sample=True, clip_sample_range=1.0,
        prediction_type="epsilon", thresholding=False, timestep_spacing="leading",
        steps_offset=0)
    scheduler.set_timesteps(schedule.num_steps)  # T-1, ..., 0
    return _rebuild_tables(scheduler, schedule, tables_dtype)


def ddim_scheduler(schedule: NoiseSchedule, num_steps: int,
                   tables_dtype: torch.dtype | None = None,
                   timestep_spacing: str = "leading") -> Any:
    """A ``diffusers.DDIMScheduler`` for ``schedule``'s β, ``num_steps`` timesteps by
    ``timestep_spacing`` ('leading': 0, s, ..., s = T // num_steps, our "ddimN" when num_steps
    divides T), ᾱ before the first kept step = 1, x̂_0 clipped to [-1, 1]."""
    schedule = _check_schedule(schedule)
    scheduler = _diffusers().DDIMScheduler(
        num_train_timesteps=schedule.num_steps, trained_betas=schedule.beta.tolist(),
        clip_sample=True, clip_sample_range=1.0, set_alpha_to_one=True, steps_offset=0,
        prediction_type="epsilon", thresholding=False, timestep_spacing=timestep_spacing)
    scheduler.set_timesteps(num_steps)
    return _rebuild_tables(scheduler, schedule, tables_dtype)


def _model_timesteps(t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """diffusers' 0-dim timestep as our [B] int64 tensor (as UNet2DModel broadcasts it)."""
    return t.to(device=x.device, dtype=torch.int64).expand(x.shape[0])


def ddpm_loop(model: Model, schedule: NoiseSchedule, x_T: torch.Tensor,
              generator: torch.Generator | None = None, *,
              tables_dtype: torch.dtype | None = None) -> torch.Tensor:
    """x_0 from x_T by diffusers' DDPMScheduler (DDPM Algorithm 2): what
    ``GaussianDiffusion(schedule).p_sample_loop(model, x_T.shape, noise=x_T,
    generator=generator)`` computes, from the same draws.

    ``model(x_t, t)``: t a [B] int64 tensor of 0-based indices; ``generator`` on x_T's device
    (or None: torch's default generator); ``tables_dtype``: see the module docstring.
    """
    scheduler = ddpm_scheduler(schedule, tables_dtype)
    x = x_T
    with torch.no_grad():
        for t in scheduler.timesteps:  # t = T-1, ..., 0
            output = model(x, _model_timesteps(t, x))
            x = scheduler.step(output, t, x, generator=generator).prev_sample
    return x


def ddim_loop(model: Model, schedule: NoiseSchedule, x_T: torch.Tensor, num_steps: int,
              eta: float = 0.0, generator: torch.Generator | None = None, *,
              tables_dtype: torch.dtype | None = None,
              use_clipped_model_output: bool = True) -> torch.Tensor:
    """x_0 from x_T by diffusers' DDIMScheduler (DDIM eq. 12, σ_t(η) of eq. 16) on
    ``num_steps`` of the T steps: what ``GaussianDiffusion(schedule).respaced(f"ddim{num_steps}")
    .ddim_sample_loop(model, x_T.shape, noise=x_T, eta=eta, generator=generator)`` computes.

    ``num_steps``: an integer in [1, T] dividing T (the only case where diffusers' 'leading'
    spacing keeps our "ddimN" steps; module docstring). ``use_clipped_model_output=False`` is
    diffusers' pipeline default (ε̂ the raw output even when x̂_0 was clipped), not ours.
    """
    schedule = _check_schedule(schedule)
    total = schedule.num_steps
    if (isinstance(num_steps, bool) or not isinstance(num_steps, int)
            or not 1 <= num_steps <= total or total % num_steps):
        raise ValueError(f"num_steps must be an integer in [1, T = {total}] dividing T (then "
                         f"diffusers' 'leading' stride T // num_steps keeps our 'ddimN' steps), "
                         f"got {num_steps!r}")
    if not 0.0 <= float(eta) <= 1.0:
        raise ValueError(f"eta must be a real number in [0, 1], got {eta!r}")
    scheduler = ddim_scheduler(schedule, num_steps, tables_dtype)
    x = x_T
    with torch.no_grad():
        for t in scheduler.timesteps:  # t = T-s, ..., s, 0 (original indices)
            output = model(x, _model_timesteps(t, x))
            x = scheduler.step(output, t, x, eta=float(eta), generator=generator,
                               use_clipped_model_output=use_clipped_model_output).prev_sample
    return x
