"""Training: the loop, data, checkpoints, multi-process training (imports diffusion and nn).

Public surface only. ``run_training(TrainConfig(...), out_dir)`` is what ``ddpm-math train``
runs; ``load_trained(run_dir)`` gives back the config, the engine and the EMA network.
"""

from ddpm_math.train.baseline import per_pixel_gaussian_bpd
from ddpm_math.train.batches import BatchIterator
from ddpm_math.train.checkpoint import (
    Checkpoint,
    CheckpointError,
    latest_checkpoint,
    list_checkpoints,
    load_checkpoint,
    save_checkpoint,
)
from ddpm_math.train.config import PRESETS, TrainConfig, preset_for
from ddpm_math.train.data import DataError, Dataset, load_dataset
from ddpm_math.train.evaluate import heldout_bound, sample, save_grid, save_points
from ddpm_math.train.loop import TrainState, train_step
from ddpm_math.train.optim import copy_for_ema, ema_decay_at, ema_update, lr_at, make_optimizer
from ddpm_math.train.rng import capture_rng_state, restore_rng_state
from ddpm_math.train.run import (
    RunResult,
    build_diffusion,
    build_network,
    load_trained,
    run_training,
)

__all__ = [
    "PRESETS",
    "BatchIterator",
    "Checkpoint",
    "CheckpointError",
    "DataError",
    "Dataset",
    "RunResult",
    "TrainConfig",
    "TrainState",
    "build_diffusion",
    "build_network",
    "capture_rng_state",
    "copy_for_ema",
    "ema_decay_at",
    "ema_update",
    "heldout_bound",
    "latest_checkpoint",
    "list_checkpoints",
    "load_checkpoint",
    "load_dataset",
    "load_trained",
    "lr_at",
    "make_optimizer",
    "per_pixel_gaussian_bpd",
    "preset_for",
    "restore_rng_state",
    "run_training",
    "sample",
    "save_checkpoint",
    "save_grid",
    "save_points",
    "train_step",
]
