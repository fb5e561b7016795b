"""One optimiser step and the loop around it: DDPM Algorithm 1 with Adam, warm-up, clipping, EMA.

A step draws the timesteps and the noise of the *global* batch (all ranks together) from a
generator seeded identically on every rank, and each rank takes its slice: N processes at batch
B then compute exactly what one process computes at batch N·B. The loss is the engine's
:meth:`GaussianDiffusion.training_losses` at those t and ε, weighted by the timestep sampler's
1/(T p_t).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from ddpm_math.diffusion.gaussian_diffusion import GaussianDiffusion
from ddpm_math.diffusion.resample import UniformSampler
from ddpm_math.train.config import TrainConfig
from ddpm_math.train.distributed import World, all_gather_cat
from ddpm_math.train.optim import ema_decay_at, ema_update, lr_at, set_lr

__all__ = ["TrainState", "quartile_losses", "train_step"]


@dataclass
class TrainState:
    """Everything a step reads and changes; a checkpoint saves all of it."""

    model: nn.Module  #: the network itself (not its DDP wrapper)
    ema: nn.Module  #: the moving average of ``model``'s weights, used to sample and evaluate
    optimizer: torch.optim.Optimizer
    batches: Iterator[torch.Tensor]  #: this rank's slices of the global batches
    generator: torch.Generator  #: draws t and ε of the global batch; same seed on every rank
    sampler: UniformSampler  #: the timestep sampler (uniform or importance-sampled)
    step: int = 0  #: optimiser steps taken
    network: Callable[..., torch.Tensor] | None = None  #: what to call: model or its DDP wrapper
    extra: dict[str, Any] = field(default_factory=dict)


def _draw(state: TrainState, global_batch: int, shape: torch.Size, device: torch.device,
          dtype: torch.dtype):
    """Timesteps, weights 1/(T p_t) and noise ε of the global batch, from ``state.generator``."""
    t, weights = state.sampler.sample(global_batch, state.generator.device, state.generator)
    noise = torch.randn((global_batch, *shape), generator=state.generator, dtype=dtype,
                        device=state.generator.device)
    return t.to(device), weights.to(device, dtype), noise.to(device)


def _autocast(device: torch.device, enabled: bool):
    if enabled and device.type == "cuda":
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _micro_step(state, diffusion, config, world, device, sync: bool):
    """Forward and backward of one micro-batch; returns its global (t, unweighted loss, mse)."""
    x0 = next(state.batches).to(device, non_blocking=True)
    local = x0.shape[0]
    t, weights, noise = _draw(state, local * world.size, x0.shape[1:], device, x0.dtype)
    mine = slice(world.rank * local, (world.rank + 1) * local)
    network = state.network or state.model
    no_sync = getattr(network, "no_sync", None)
    context = contextlib.nullcontext() if sync or no_sync is None else no_sync()
    with context:
        def model(x_t, t_model):  # bf16 inside the network only; the loss in x_t's dtype
            with _autocast(device, config.bf16):
                return network(x_t, t_model).to(x_t.dtype)

        # the data's range and grid are checked on a process's first step (a host sync on GPU)
        first = not state.extra.get("data_checked", False)
        terms = diffusion.training_losses(model, x0, t=t[mine], noise=noise[mine],
                                          check_values=first)
        state.extra["data_checked"] = True
        loss = (terms["loss"] * weights[mine]).mean() / config.grad_accum
        loss.backward()
    gathered = torch.stack([terms["loss"].detach(), terms["mse"].detach()]
                           if "mse" in terms else [terms["loss"].detach()] * 2)
    gathered = all_gather_cat(gathered.T.contiguous(), world)
    return t, weights, gathered[:, 0], gathered[:, 1]


def train_step(state: TrainState, diffusion: GaussianDiffusion, config: TrainConfig,
               world: World | None = None) -> dict[str, Any]:
    """One optimiser step (Algorithm 1 over ``grad_accum`` micro-batches); returns its log line."""
    world = world or World()
    device = next(state.model.parameters()).device
    state.model.train()
    state.optimizer.zero_grad(set_to_none=True)
    parts = [_micro_step(state, diffusion, config, world, device,
                         sync=micro == config.grad_accum - 1)
             for micro in range(config.grad_accum)]
    t, weights, losses, mse = (torch.cat(column) for column in zip(*parts, strict=True))
    state.sampler.update_with_losses(t, losses)
    lr = lr_at(state.step, config.lr, config.warmup)
    set_lr(state.optimizer, lr)
    grad_norm = torch.nn.utils.clip_grad_norm_(state.model.parameters(), config.grad_clip)
    state.optimizer.step()
    decay = ema_decay_at(state.step, config.ema_decay, config.ema_warmup)
    ema_update(state.ema, state.model, decay)
    state.step += 1
    line = {"step": state.step, "loss": float((losses * weights).mean()),
            "mse": float(mse.mean()), "lr": lr, "grad_norm": float(grad_norm),
            "ema_decay": decay}
    line.update(quartile_losses(t, losses, diffusion.num_steps))
    return line


def quartile_losses(t: torch.Tensor, losses: torch.Tensor,
                    num_steps: int) -> dict[str, float | None]:
    """Mean unweighted loss of the examples whose t lies in each quarter of [0, T): ``loss_q0``
    (the quarter nearest the data) to ``loss_q3`` (Improved DDPM's logs); None if empty."""
    quarter = torch.div(t.to("cpu") * 4, num_steps, rounding_mode="floor")
    values = losses.to("cpu", torch.float64)
    out = {}
    for q in range(4):
        chosen = values[quarter == q]
        out[f"loss_q{q}"] = float(chosen.mean()) if chosen.numel() else None
    return out
