"""A whole training run from a :class:`TrainConfig`: build, resume, loop, log, checkpoint.

A run directory holds ``config.json`` (the run's options), ``log.jsonl`` (one JSON line per
step: loss, mse, learning rate, gradient norm, EMA decay and the loss per timestep quartile) and
``checkpoints/step_XXXXXXXX/`` (see :mod:`ddpm_math.train.checkpoint`). A checkpoint is written
every ``checkpoint_every`` steps, at the end, and when the run is interrupted (Ctrl-C), so at most
the steps since the last one are lost; ``resume=True`` continues from the newest one, bit for bit
on one process.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from ddpm_math.diffusion.gaussian_diffusion import GaussianDiffusion
from ddpm_math.diffusion.resample import LossSecondMomentResampler, UniformSampler
from ddpm_math.diffusion.validation import check_device
from ddpm_math.schedules import NoiseSchedule
from ddpm_math.train import checkpoint as ckpt
from ddpm_math.train.batches import BatchIterator
from ddpm_math.train.config import TrainConfig
from ddpm_math.train.data import Dataset, load_dataset
from ddpm_math.train.distributed import World, setup, teardown
from ddpm_math.train.loop import TrainState, train_step
from ddpm_math.train.optim import copy_for_ema, make_optimizer

__all__ = ["RunResult", "build_diffusion", "build_network", "load_trained", "run_training"]


@dataclass
class RunResult:
    """What a finished (or interrupted) run leaves: its state and where it wrote."""

    state: TrainState
    config: TrainConfig
    out_dir: Path
    checkpoint: Path | None
    interrupted: bool = False


def resolve_device(config: TrainConfig, world: World) -> torch.device:
    """The training device: CUDA (this rank's GPU) when asked for or available under "auto"."""
    if config.device == "cuda" or (config.device == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise ValueError("device 'cuda' was asked for, but torch sees no CUDA device")
        return torch.device("cuda", world.local_rank)
    return torch.device("cpu")


def build_diffusion(config: TrainConfig) -> GaussianDiffusion:
    """The engine of the run: schedule, parameterisation, loss and decoder from ``config``."""
    if config.schedule == "linear":  # DDPM's β_1..β_T = 1e-4..0.02 for T = 1000, scaled by 1000/T
        schedule = NoiseSchedule.linear(config.num_steps, rescale_to_1000=True)
    else:
        schedule = NoiseSchedule.cosine(config.num_steps)
    sampler = (LossSecondMomentResampler(config.num_steps)
               if config.timestep_sampler == "loss-second-moment" else None)
    return GaussianDiffusion(schedule, config.mean_type, config.var_type, config.loss_type,
                             config.decoder, timestep_sampler=sampler)


def build_network(config: TrainConfig, data_shape: tuple[int, ...]) -> nn.Module:
    """The network ``config.model`` for data of shape ``data_shape`` (one example)."""
    from ddpm_math import nn as ddpm_nn

    if config.model not in ddpm_nn.CONFIGS:
        raise ValueError(f"model must name a network config, one of {sorted(ddpm_nn.CONFIGS)}"
                         f", got {config.model!r} (or pass run_training(..., network=))")
    overrides: dict[str, Any] = {"learn_sigma": config.var_type in ("learned", "learned_range")}
    if config.dropout is not None:
        overrides["dropout"] = config.dropout
    if len(data_shape) == 3:
        if data_shape[1] != data_shape[2]:
            raise ValueError(f"images must be square for the U-Net, got {data_shape[1]}×"
                             f"{data_shape[2]}")
        overrides.update(in_channels=data_shape[0], image_size=data_shape[-1])
        base = ddpm_nn.config(config.model)
        if getattr(base, "image_size", data_shape[-1]) != data_shape[-1]:  # same levels attend
            levels = [i for i, size in enumerate(base.resolutions) if size in base.attn_resolutions]
            overrides["attn_resolutions"] = tuple(data_shape[-1] // 2**i for i in levels)
    elif len(data_shape) == 1:
        overrides.update(data_dim=data_shape[0])
        overrides.pop("dropout", None)
    return ddpm_nn.build(config.model, **overrides)


def _fresh_state(config: TrainConfig, diffusion: GaussianDiffusion, dataset: Dataset,
                 device: torch.device, world: World, network: nn.Module | None) -> TrainState:
    torch.manual_seed(config.seed)  # the same initial weights on every rank
    model = (network or build_network(config, tuple(dataset.train.shape[1:]))).to(device)
    torch.manual_seed(config.seed + 1 + world.rank)  # this rank's dropout stream
    data_generator = torch.Generator().manual_seed(config.seed)
    batches = BatchIterator(dataset.train, config.batch_size, generator=data_generator,
                            hflip=config.hflip and dataset.kind == "image", rank=world.rank,
                            world_size=world.size)
    return TrainState(model=model, ema=copy_for_ema(model),
                      optimizer=make_optimizer(model.parameters(), config.lr), batches=batches,
                      generator=torch.Generator(device).manual_seed(config.seed),
                      sampler=diffusion.timestep_sampler,
                      extra={"data_generator": data_generator})


def _generators(state: TrainState) -> dict[str, torch.Generator]:
    return {"noise": state.generator, "data": state.extra["data_generator"]}


def save(state: TrainState, config: TrainConfig, out_dir: Path, data_shape) -> Path:
    """Write a checkpoint of ``state`` (atomically; the last ``keep_last`` are kept)."""
    rng_tensors, rng_json = ckpt.capture_rng_state(_generators(state))
    extra = dict(rng_tensors)
    extra.update(_sampler_tensors(state.sampler))
    batches = state.batches.state_dict()
    extra.update({f"batches.{k}": v for k, v in batches.items() if isinstance(v, torch.Tensor)})
    meta = {"rng": rng_json, "data_shape": list(data_shape),
            "batches": {k: v for k, v in batches.items() if not isinstance(v, torch.Tensor)}}
    return ckpt.save_checkpoint(out_dir, step=state.step, config=config.to_dict(),
                                model=state.model.state_dict(), ema=state.ema.state_dict(),
                                optimizer=state.optimizer.state_dict(), extra=extra, meta=meta,
                                keep_last=config.keep_last)


def _sampler_tensors(sampler: UniformSampler) -> dict[str, torch.Tensor]:
    if not isinstance(sampler, LossSecondMomentResampler):
        return {}
    return {f"sampler.{k}": v for k, v in sampler.state_dict().items()}


def _restore(state: TrainState, saved: ckpt.Checkpoint, world: World) -> None:
    state.model.load_state_dict(saved.model)
    state.ema.load_state_dict(saved.ema)
    state.optimizer.load_state_dict(saved.optimizer)
    state.step = saved.step
    batches = dict(saved.meta["batches"])
    batches.update({k.removeprefix("batches."): v for k, v in saved.extra.items()
                    if k.startswith("batches.")})
    state.batches.load_state_dict(batches)
    ckpt.restore_rng_state(saved.extra, saved.meta["rng"], _generators(state))
    if world.rank > 0:  # the checkpoint holds rank 0's dropout stream; others derive theirs
        torch.manual_seed(hash((state.step, world.rank)) % 2**63)
    if isinstance(state.sampler, LossSecondMomentResampler):
        state.sampler.load_state_dict({k.removeprefix("sampler."): v
                                       for k, v in saved.extra.items()
                                       if k.startswith("sampler.")})


def _trim_log(path: Path, step: int) -> None:
    """Drop the log lines of steps after ``step`` (written after the checkpoint we resume)."""
    if not path.exists():
        return
    kept = [line for line in path.read_text().splitlines()
            if line.strip() and json.loads(line).get("step", 0) <= step]
    path.write_text("".join(line + "\n" for line in kept))


def run_training(config: TrainConfig, out_dir: str | Path, *, resume: bool = False,
                 progress: bool = True, dataset: Dataset | None = None,
                 network: nn.Module | None = None) -> RunResult:
    """Train ``config`` into ``out_dir``; with ``resume`` continue from its newest checkpoint.

    ``dataset``/``network`` replace those the config names (tests, custom models). Under
    torchrun every process calls this; rank 0 alone logs and writes.
    """
    out_dir = Path(out_dir)
    device_type = "cuda" if config.device == "cuda" or (
        config.device == "auto" and torch.cuda.is_available()) else "cpu"
    world = setup(device_type)
    try:
        return _run(config, out_dir, resume, progress, dataset, network, world)
    finally:
        teardown(world)


def _run(config, out_dir, resume, progress, dataset, network, world) -> RunResult:
    device = resolve_device(config, world)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    saved = ckpt.load_checkpoint(out_dir) if resume else None
    dataset = dataset or load_dataset(config.data, seed=config.seed)
    data_shape = tuple(dataset.train.shape[1:])
    diffusion = build_diffusion(config)
    state = _fresh_state(config, diffusion, dataset, device, world, network)
    if saved is not None:
        _restore(state, saved, world)
    if world.distributed:
        from torch.nn.parallel import DistributedDataParallel

        state.network = DistributedDataParallel(
            state.model, device_ids=[device.index] if device.type == "cuda" else None)
    log_path = out_dir / "log.jsonl"
    if world.is_main:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "config.json").write_text(json.dumps(config.to_dict(), indent=2) + "\n")
        _trim_log(log_path, state.step)
    last = saved.path if saved is not None else None
    bar = tqdm(total=config.steps, initial=state.step, desc="train", unit="step",
               disable=not (progress and world.is_main), file=sys.stderr, dynamic_ncols=True)
    interrupted = False
    try:
        with open(log_path if world.is_main else os.devnull, "a") as log, \
                _finish_step_on_interrupt() as stop:
            while state.step < config.steps and not stop:
                line = train_step(state, diffusion, config, world)
                bar.update(1)
                bar.set_postfix(loss=f"{line['loss']:.4f}", refresh=False)
                if state.step % config.log_every == 0:
                    log.write(json.dumps(line) + "\n")
                if state.step % config.checkpoint_every == 0 and world.is_main:
                    log.flush()
                    last = save(state, config, out_dir, data_shape)
        interrupted = bool(stop)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        bar.close()
    if world.is_main and (last is None or _step_of(last) != state.step):
        last = save(state, config, out_dir, data_shape)
    return RunResult(state, config, out_dir, last, interrupted)


class _Flag:
    def __init__(self) -> None:
        self.raised = False

    def __bool__(self) -> bool:
        return self.raised


@contextlib.contextmanager
def _finish_step_on_interrupt():
    """The first Ctrl-C (SIGINT) lets the current step finish, so that the checkpoint written
    after it is a consistent state; a second one interrupts at once. Main thread only."""
    flag = _Flag()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return

    def handler(signum, frame):
        if flag.raised:
            raise KeyboardInterrupt
        flag.raised = True
        print("\ninterrupt: finishing this step and writing a checkpoint (Ctrl-C again to "
              "stop at once)", file=sys.stderr)

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)


def _step_of(path: Path) -> int:
    return int(path.name.rsplit("_", 1)[-1])


def load_trained(path: str | Path, device: str | torch.device = "cpu"):
    """(config, diffusion, EMA network in eval mode, data shape, step) of a checkpoint.

    ``path``: a run directory or step folder (str or os.PathLike); ``device``: a device torch
    has. A missing, truncated, corrupted or inconsistent checkpoint (a config this version
    rejects, no data shape, EMA weights that do not fit the configured network) raises
    :class:`CheckpointError` (a ValueError) naming the file; a bad argument a
    ``TypeError``/``ValueError`` naming it.
    """
    device = check_device(device) or torch.device("cpu")
    saved = ckpt.load_checkpoint(path)
    where = saved.path / ckpt.STATE_FILE
    try:
        config = TrainConfig.from_dict(saved.config)
    except (TypeError, ValueError) as error:
        raise ckpt.CheckpointError(f"{where}: invalid training config ({error})") from None
    data_shape = saved.meta.get("data_shape")
    if not isinstance(data_shape, list) or not data_shape or not all(
            isinstance(size, int) and not isinstance(size, bool) and size >= 1
            for size in data_shape):
        raise ckpt.CheckpointError(f"{where}: meta.data_shape must be a list of sizes >= 1, "
                                   f"got {data_shape!r}")
    data_shape = tuple(data_shape)
    try:
        network = build_network(config, data_shape)
        network.load_state_dict(saved.ema)
    except (RuntimeError, TypeError, ValueError) as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise ckpt.CheckpointError(f"{where}: the EMA weights do not fit the configured network "
                                   f"{config.model!r} for data {list(data_shape)} "
                                   f"({first_line})") from None
    network.to(device).eval()
    return config, build_diffusion(config), network, data_shape, saved.step
