"""Shuffled minibatches forever, with random horizontal flips, resumable exactly, per rank.

The examples form one endless stream: epoch after epoch, each a fresh permutation of the data
drawn from the iterator's generator together with one flip bit per position. Global batches of
``batch_size · world_size`` consecutive positions are cut from that stream (a batch may run
across the end of an epoch, so every example is seen exactly once per epoch) and rank r takes
positions [r·batch_size, (r+1)·batch_size) of each, as ``DistributedSampler`` does: N ranks at
batch B see together what one rank sees at batch N·B.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from typing import Any

import torch

__all__ = ["BatchIterator"]

_STATE_KEYS = ("epoch", "position", "permutation", "flips")


def _check_int(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _as_tensor(value: Any, name: str) -> torch.Tensor:
    """``value`` (a tensor or a list of numbers) as a CPU tensor; raise naming ``name``."""
    try:
        return torch.as_tensor(value).cpu()
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(f"{name} must be a tensor or a list of integers, got "
                        f"{type(value).__name__}") from None


class BatchIterator:
    """This rank's slice of each global batch of ``data``, forever; ``next(it)`` → [B, ...].

    ``generator`` draws each epoch's permutation and flip bits when the epoch starts, and
    nothing else; it must be seeded identically on every rank and not be used per rank for
    anything else, or the ranks' permutations differ. Flips (torch.flip of the last dimension,
    each example with probability ½) apply when ``hflip`` is set and ``data`` is an image batch
    [N, C, H, W]; other data are never flipped. The flip bits are drawn in any case, so the
    order of the examples does not depend on ``hflip``.

    The state is (epoch, position in the epoch's permutation, the permutation and flip bits,
    the generator's state): :meth:`state_dict` returns all of it and :meth:`load_state_dict`
    restores it, after which the iterator yields exactly the batches the saved one would have.
    """

    def __init__(self, data: torch.Tensor, batch_size: int, *, generator: torch.Generator,
                 hflip: bool = False, rank: int = 0, world_size: int = 1) -> None:
        if not isinstance(data, torch.Tensor) or data.ndim < 1:
            raise TypeError("data must be a tensor [N, ...]")
        if not isinstance(generator, torch.Generator):
            raise TypeError(f"generator must be a torch.Generator, got {type(generator).__name__}")
        self.batch_size = _check_int(batch_size, "batch_size", 1)
        self.world_size = _check_int(world_size, "world_size", 1)
        self.rank = _check_int(rank, "rank", 0)
        if self.rank >= self.world_size:
            raise ValueError(f"rank must lie in [0, world_size={world_size}), got {rank}")
        if self.batch_size * self.world_size > data.shape[0]:
            raise ValueError(f"the global batch batch_size·world_size = {batch_size}·{world_size}"
                             f" exceeds the {data.shape[0]} examples of data")
        self.data = data
        self.generator = generator
        if not isinstance(hflip, bool):
            raise TypeError(f"hflip must be True or False, got {hflip!r}")
        self.hflip = hflip and data.ndim == 4
        self.epoch = 0
        self.position = 0
        self.permutation, self.flips = self._draw_epoch()

    @property
    def num_examples(self) -> int:
        return int(self.data.shape[0])

    def _draw_epoch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """A permutation of the examples and one flip bit per position, from the generator."""
        device = self.generator.device
        permutation = torch.randperm(self.num_examples, generator=self.generator, device=device)
        flips = torch.randint(0, 2, (self.num_examples,), generator=self.generator, device=device)
        return permutation.cpu(), flips.cpu().bool()

    def __iter__(self) -> BatchIterator:
        return self

    def __next__(self) -> torch.Tensor:
        indices, flips = [], []
        needed = self.batch_size * self.world_size
        while needed:
            if self.position == self.num_examples:
                self.epoch, self.position = self.epoch + 1, 0
                self.permutation, self.flips = self._draw_epoch()
            take = min(needed, self.num_examples - self.position)
            span = slice(self.position, self.position + take)
            indices.append(self.permutation[span])
            flips.append(self.flips[span])
            self.position += take
            needed -= take
        mine = slice(self.rank * self.batch_size, (self.rank + 1) * self.batch_size)
        batch = self.data[torch.cat(indices)[mine].to(self.data.device)]
        if self.hflip:
            flip = torch.cat(flips)[mine].to(self.data.device).view(-1, 1, 1, 1)
            batch = torch.where(flip, batch.flip(-1), batch)
        return batch

    def state_dict(self) -> dict[str, Any]:
        """{"epoch": int, "position": int, "permutation": int64 [N], "flips": bool [N],
        "generator_state": uint8 tensor}, copies (later batches do not change them)."""
        return {"epoch": self.epoch, "position": self.position,
                "permutation": self.permutation.clone(), "flips": self.flips.clone(),
                "generator_state": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`'s output (lists are accepted for the tensors). Without a
        ``generator_state`` the generator is left as it is (the caller restores it)."""
        if not isinstance(state, Mapping):
            raise TypeError(f"state must be a dict from state_dict(), got {type(state).__name__}")
        missing = [key for key in _STATE_KEYS if key not in state]
        if missing:
            raise ValueError(f"state lacks {', '.join(missing)}")
        count = self.num_examples
        epoch = _check_int(state["epoch"], "epoch", 0)
        position = _check_int(state["position"], "position", 0)
        if position > count:
            raise ValueError(f"position must lie in [0, {count}], got {position}")
        permutation = _as_tensor(state["permutation"], "permutation")
        if (permutation.dtype != torch.int64 or permutation.shape != (count,)
                or not torch.equal(permutation.sort().values, torch.arange(count))):
            raise ValueError(f"permutation must be an int64 permutation of 0..{count - 1}")
        flips = _as_tensor(state["flips"], "flips")
        if flips.shape != (count,) or flips.dtype not in (torch.bool, torch.uint8, torch.int64):
            raise ValueError(f"flips must hold {count} booleans, got {flips.dtype} "
                             f"{list(flips.shape)}")
        generator_state = state.get("generator_state")
        if generator_state is not None:
            generator_state = _as_tensor(generator_state, "generator_state")
            expected = self.generator.get_state()
            if generator_state.dtype != torch.uint8 or generator_state.shape != expected.shape:
                raise ValueError(f"generator_state must be a uint8 tensor {list(expected.shape)}"
                                 f" from Generator.get_state(), got {generator_state.dtype} "
                                 f"{list(generator_state.shape)}")
            self.generator.set_state(generator_state)
        self.epoch, self.position = epoch, position
        self.permutation, self.flips = permutation.clone(), flips.bool()
