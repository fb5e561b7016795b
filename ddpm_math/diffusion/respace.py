"""Timestep respacing: sampling with a subset of the T steps (Improved DDPM §4, DDIM §4.2).

Keeping steps k_1 < ... < k_S (0-based indices into the original schedule) defines a new
S-step schedule with ᾱ'_i = ᾱ_{k_i}, hence β'_i = 1 - ᾱ_{k_i}/ᾱ_{k_{i-1}} (ᾱ_{k_0} = 1). A
model trained on the original steps is called with the original index k_i at the new step i.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Iterable

import numpy as np
import torch

from ddpm_math.schedules import NoiseSchedule

__all__ = ["TimestepMap", "respaced_betas", "space_timesteps"]


def _check_counts(counts: list[int]) -> list[int]:
    """``counts`` after checking every section count is a positive integer."""
    if not counts or any(isinstance(c, bool) or not isinstance(c, numbers.Integral) or c < 1
                         for c in counts):
        raise ValueError(f"section_counts must be positive integers, got {counts!r}")
    return [int(c) for c in counts]


def _ddim_stride(num_steps: int, count: int) -> list[int]:
    """The evenly strided steps 0, s, 2s, ... with exactly ``count`` of them ("ddimN")."""
    for stride in range(1, num_steps + 1):
        kept = list(range(0, num_steps, stride))
        if len(kept) == count:
            return kept
    raise ValueError(f"cannot keep exactly {count} of T = {num_steps} steps with a fixed "
                     f"stride (section_counts='ddim{count}'); try an even section count")


def _parse_counts(section_counts: str | Iterable[int]) -> list[int] | None:
    """The list of per-section counts; None for a "ddimN" request (handled separately)."""
    if isinstance(section_counts, str):
        if section_counts.startswith("ddim"):
            return None
        try:
            return [int(part) for part in section_counts.split(",")]
        except ValueError:
            raise ValueError("section_counts must be 'ddimN', 'N1,N2,...' or a list of ints; "
                             f"got {section_counts!r}") from None
    if isinstance(section_counts, numbers.Integral) and not isinstance(section_counts, bool):
        return [int(section_counts)]
    if not isinstance(section_counts, Iterable):
        raise TypeError("section_counts must be 'ddimN', 'N1,N2,...', an int or a list of ints; "
                        f"got {type(section_counts).__name__} {section_counts!r}")
    return list(section_counts)


def _check_num_steps(num_steps) -> int:
    if isinstance(num_steps, bool) or not isinstance(num_steps, numbers.Integral) or num_steps < 1:
        raise TypeError(f"num_steps (T) must be an integer >= 1, got {num_steps!r}")
    return int(num_steps)


def _check_indices(values, name: str, num_steps: int | None = None) -> list[int]:
    """``values`` as sorted distinct step indices, after checking each is an integer index in
    [0, T-1] (a bool, a float such as 1.7 or a string is an error, not rounded)."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise TypeError(f"{name} must be an iterable of integer step indices, got "
                        f"{type(values).__name__} {values!r}")
    if isinstance(values, torch.Tensor):
        if values.dtype.is_floating_point or values.is_complex() or values.dtype == torch.bool:
            raise TypeError(f"{name} must hold integer step indices, got a {values.dtype} tensor")
        values = values.reshape(-1).tolist()
    values = list(values)
    bad = [v for v in values if isinstance(v, bool) or not isinstance(v, numbers.Integral)]
    if bad:
        raise TypeError(f"{name} must hold integer step indices, got {bad[0]!r}")
    kept = sorted({int(v) for v in values})
    upper = "T-1" if num_steps is None else str(num_steps - 1)
    if not kept or kept[0] < 0 or (num_steps is not None and kept[-1] >= num_steps):
        raise ValueError(f"{name} must be non-empty indices in [0, {upper}], got "
                         f"{kept[:3]}...{kept[-3:]}")
    return kept


def space_timesteps(num_steps: int, section_counts: str | Iterable[int]) -> list[int]:
    """The sorted 0-based indices to keep of T = ``num_steps`` steps.

    ``"ddimN"`` keeps N steps with a constant stride starting at 0. Otherwise the T steps are
    cut into len(section_counts) equal sections (the first T mod n get one more step) and each
    keeps its count, evenly spaced from its first to its last step.
    """
    num_steps = _check_num_steps(num_steps)
    counts = _parse_counts(section_counts)
    if counts is None:
        digits = str(section_counts)[len("ddim"):]
        if not digits.isdigit() or int(digits) < 1:
            raise ValueError(f"section_counts 'ddimN' needs N >= 1, got {section_counts!r}")
        return _ddim_stride(num_steps, int(digits))
    counts = _check_counts(counts)
    base, extra = divmod(num_steps, len(counts))
    kept: list[int] = []
    start = 0
    for section, count in enumerate(counts):
        size = base + (1 if section < extra else 0)
        if count > size:
            raise ValueError(f"section_counts[{section}] = {count} exceeds the {size} steps "
                             f"of that section (T = {num_steps}, {len(counts)} sections)")
        positions = np.round(np.linspace(0, size - 1, count)).astype(int) if count > 1 else [0]
        kept.extend(start + int(p) for p in positions)
        start += size
    return sorted(set(kept))


def respaced_betas(schedule: NoiseSchedule, use_timesteps: Iterable[int]) -> np.ndarray:
    """β'_i = 1 - ᾱ_{k_i}/ᾱ_{k_{i-1}} of the kept steps k_1 < ... < k_S, with ᾱ_{k_0} = 1."""
    if not isinstance(schedule, NoiseSchedule):
        raise TypeError(f"schedule must be a NoiseSchedule (NoiseSchedule(betas) wraps an array "
                        f"of betas), got {type(schedule).__name__}")
    kept = _check_indices(use_timesteps, "use_timesteps", schedule.num_steps)
    alpha_bar = schedule.alpha_bar[kept]
    alpha_bar_prev = np.concatenate(([1.0], alpha_bar[:-1]))
    return 1.0 - alpha_bar / alpha_bar_prev


class TimestepMap:
    """Calls a model trained on the original steps with the original index k_i at new step i.

    The index table is uploaded once per device and cached, so the sampling loop gathers from
    it on the device without a host-device transfer.
    """

    def __init__(self, use_timesteps: Iterable[int]) -> None:
        self.timesteps = tuple(_check_indices(use_timesteps, "use_timesteps"))
        self._tables: dict[str, torch.Tensor] = {}

    def table(self, device: torch.device) -> torch.Tensor:
        """The int64 table new index → original index, on ``device``."""
        key = str(device)
        if key not in self._tables:
            self._tables[key] = torch.tensor(self.timesteps, dtype=torch.int64, device=device)
        return self._tables[key]

    def wrap(self, model: Callable) -> Callable:
        """``model`` called as ``model(x_t, k[t])`` instead of ``model(x_t, t)``."""

        def respaced_model(x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            return model(x_t, self.table(t.device)[t])

        return respaced_model

    def __len__(self) -> int:
        return len(self.timesteps)

    def __repr__(self) -> str:
        return f"TimestepMap({len(self)} steps: {self.timesteps[:4]}...)"
