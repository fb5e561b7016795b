"""Timestep samplers for training: uniform, and importance sampling by the loss's second moment
(Improved DDPM §3.3, eq. 18).

A sampler draws a [B] int64 tensor of 0-based timesteps (index t is the paper's step t+1) and
the weights 1/(T p_t) that keep the weighted loss an unbiased estimate of the uniform average.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping

import numpy as np
import torch

from ddpm_math.diffusion.validation import check_device, check_generator

__all__ = ["LossSecondMomentResampler", "UniformSampler"]


def _check_positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return int(value)


def _to_numpy(value):
    """A tensor as a CPU numpy array (detached); anything else unchanged."""
    return value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else value


class UniformSampler:
    """t ~ Uniform{0, ..., T-1} with weight 1: DDPM Algorithm 1 line 3."""

    def __init__(self, num_steps: int) -> None:
        self.num_steps = _check_positive_int(num_steps, "num_steps")

    def probabilities(self) -> np.ndarray:
        """p_t for t = 0..T-1 (float64)."""
        return np.full(self.num_steps, 1.0 / self.num_steps)

    def sample(
        self, batch_size: int, device=None, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``batch_size`` int64 timesteps t ~ p and their float64 weights 1/(T p_t), on ``device``.

        ``generator`` is a torch.Generator or None; the draw happens on its device (CPU without
        one), then moves to ``device``: None (stay there), a ``torch.device`` or a device string
        or index torch has ('cuda' needs CUDA), else ``TypeError``/``ValueError`` naming it.
        """
        batch_size = _check_positive_int(batch_size, "batch_size")
        device = check_device(device)
        check_generator(generator)
        draw_device = generator.device if generator is not None else torch.device("cpu")
        probs = torch.as_tensor(self.probabilities(), dtype=torch.float64, device=draw_device)
        t = torch.multinomial(probs, batch_size, replacement=True, generator=generator)
        weights = 1.0 / (self.num_steps * probs[t])
        return t.to(device), weights.to(device)

    def update_with_losses(self, t: torch.Tensor, losses: torch.Tensor) -> None:
        """Record the per-example losses at timesteps ``t`` (a uniform sampler ignores them).

        Input contract (types and shapes only here; no values are read): ``t`` an integer
        tensor [B] of 0-based timesteps, ``losses`` a real (floating or integer) tensor [B].
        """
        _check_losses_batch(t, losses)


def _check_losses_batch(t, losses) -> None:
    """Raise unless ``t`` is an integer tensor and ``losses`` a real tensor of its length (both
    1-D or any shapes of equal size; only metadata is read)."""
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"t must be an integer torch.Tensor of timesteps, got {type(t).__name__}")
    if t.dtype == torch.bool or t.is_floating_point() or t.is_complex():
        raise TypeError(f"t must hold integer timestep indices, got dtype {t.dtype}")
    if not isinstance(losses, torch.Tensor):
        raise TypeError(f"losses must be a real torch.Tensor, one loss per entry of t, got "
                        f"{type(losses).__name__}")
    if losses.dtype == torch.bool or losses.is_complex():
        raise TypeError(f"losses must hold real numbers, got dtype {losses.dtype}")
    if t.numel() != losses.numel():
        raise ValueError(f"t and losses must have the same length, got {t.numel()} and "
                         f"{losses.numel()}")


class LossSecondMomentResampler(UniformSampler):
    """p_t ∝ √E[L_t²] over the last ``history_per_term`` losses at each t, Improved DDPM eq. (18).

    Uniform until every t holds a full history; then mixed with the uniform distribution by
    ``uniform_prob`` so no timestep's probability (and weight) degenerates.
    """

    def __init__(self, num_steps: int, history_per_term: int = 10,
                 uniform_prob: float = 0.001) -> None:
        super().__init__(num_steps)
        self.history_per_term = _check_positive_int(history_per_term, "history_per_term")
        if isinstance(uniform_prob, bool) or not isinstance(uniform_prob, numbers.Real) or not (
            0.0 < uniform_prob <= 1.0
        ):
            raise ValueError(f"uniform_prob must lie in (0, 1], got {uniform_prob!r}")
        self.uniform_prob = float(uniform_prob)
        self._history = np.zeros((self.num_steps, self.history_per_term), dtype=np.float64)
        self._counts = np.zeros(self.num_steps, dtype=np.int64)

    @property
    def warmed_up(self) -> bool:
        """Whether every timestep holds a full history of losses."""
        return bool((self._counts == self.history_per_term).all())

    def probabilities(self) -> np.ndarray:
        """p_t = (1 - u) √E[L_t²]/Σ√E[L²] + u/T once warmed up; uniform before."""
        if not self.warmed_up:
            return super().probabilities()
        # Scaled by the largest |loss| first (p_t does not change): squares of finite losses
        # above 1.3e154 would overflow float64.
        scale = float(np.max(np.abs(self._history)))
        if not scale > 0.0:  # every recorded loss is 0: nothing to prefer
            return super().probabilities()
        root_mean_square = np.sqrt(np.mean((self._history / scale) ** 2, axis=1))
        probs = root_mean_square / root_mean_square.sum()
        return (1.0 - self.uniform_prob) * probs + self.uniform_prob / self.num_steps

    def update_with_losses(self, t: torch.Tensor, losses: torch.Tensor) -> None:
        """Append each loss to its timestep's history (the oldest dropped once it is full).

        Input contract: ``t`` an integer tensor of 0-based timesteps in [0, T-1], ``losses`` a
        real tensor of finite values, one per entry of ``t`` (any device: both are copied to the
        CPU, a synchronisation). A NaN or inf loss is a ``ValueError`` naming ``losses`` and
        records nothing (it would make every p_t NaN, or silently uniform).
        """
        _check_losses_batch(t, losses)
        steps = t.detach().to("cpu", torch.int64).numpy().reshape(-1)
        values = losses.detach().to("cpu", torch.float64).numpy().reshape(-1)
        if steps.size and (steps.min() < 0 or steps.max() >= self.num_steps):
            raise ValueError(f"t must lie in [0, {self.num_steps - 1}] (0-based, [0, T-1]), got "
                             f"values from {steps.min()} to {steps.max()}")
        if not np.all(np.isfinite(values)):
            raise ValueError("losses must be finite, got NaN or inf values (nothing recorded)")
        for step, value in zip(steps, values, strict=True):
            count = self._counts[step]
            if count == self.history_per_term:
                self._history[step, :-1] = self._history[step, 1:]
                self._history[step, -1] = value
            else:
                self._history[step, count] = value
                self._counts[step] = count + 1

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The loss history as tensors (``history`` float64 [T, K], ``counts`` int64 [T])."""
        return {"history": torch.from_numpy(self._history.copy()),
                "counts": torch.from_numpy(self._counts.copy())}

    def load_state_dict(self, state: Mapping[str, torch.Tensor]) -> None:
        """Restore the loss history saved by :meth:`state_dict`.

        Input contract: ``state`` a mapping with ``history`` (real, finite, [T, K]) and
        ``counts`` (integers in [0, K], [T]) for this sampler's T and K = history_per_term;
        otherwise a ``TypeError``/``ValueError`` naming ``state``, and nothing changes.
        """
        if not isinstance(state, Mapping):
            raise TypeError(f"state must be a dict with 'history' and 'counts' (from "
                            f"state_dict()), got {type(state).__name__}")
        missing = sorted({"history", "counts"} - set(state))
        if missing:
            raise ValueError(f"state must hold 'history' and 'counts' (from state_dict()), "
                             f"missing {missing}")
        try:
            history = np.array(_to_numpy(state["history"]), dtype=np.float64)
            counts = np.array(_to_numpy(state["counts"]))
        except (TypeError, ValueError) as error:
            raise TypeError(f"state must hold arrays 'history' and 'counts': {error}") from None
        if history.shape != self._history.shape or counts.shape != self._counts.shape:
            raise ValueError(f"state must hold history {self._history.shape} and counts "
                             f"{self._counts.shape}, got {history.shape} and {counts.shape}")
        if counts.dtype.kind not in "iu" or np.any(counts < 0) or np.any(
                counts > self.history_per_term):
            raise ValueError(f"state['counts'] must be integers in [0, {self.history_per_term}], "
                             f"got {counts.tolist()}")
        if not np.all(np.isfinite(history)):
            raise ValueError("state['history'] must hold finite losses, got NaN or inf")
        self._history, self._counts = history, counts.astype(np.int64)
