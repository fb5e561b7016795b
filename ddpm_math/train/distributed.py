"""Multi-process training through torchrun: DistributedDataParallel over NCCL (GPU) or gloo (CPU).

``torchrun --nproc_per_node N -m ddpm_math train ...`` starts N processes with RANK, WORLD_SIZE
and LOCAL_RANK set; :func:`setup` joins them into one process group. Every rank holds the same
parameters (DDP averages the gradients), draws the same global batch of timesteps and noise from
identically seeded generators and takes its own slice, so N processes at batch B compute what
one process computes at batch N·B. Only rank 0 logs and writes checkpoints.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

__all__ = ["World", "all_gather_cat", "setup", "teardown"]


@dataclass(frozen=True)
class World:
    """This process's place among the training processes."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """Whether this process logs and writes checkpoints (rank 0)."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1


def setup(device_type: str) -> World:
    """Join the process group torchrun describes in the environment; one process without it."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size <= 1:
        return World()
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        backend = "nccl" if device_type == "cuda" else "gloo"
        dist.init_process_group(backend=backend, rank=rank, world_size=size)
    return World(rank=rank, size=size, local_rank=local_rank)


def teardown(world: World) -> None:
    """Leave the process group (a no-op for one process)."""
    if world.distributed and dist.is_initialized():
        dist.destroy_process_group()


def all_gather_cat(tensor: torch.Tensor, world: World) -> torch.Tensor:
    """The ranks' equally shaped tensors concatenated along dim 0, in rank order, on every rank."""
    if not world.distributed:
        return tensor
    parts = [torch.empty_like(tensor) for _ in range(world.size)]
    dist.all_gather(parts, tensor.contiguous())
    return torch.cat(parts, dim=0)
