"""A t-dependent model and small 8-bit data for the facade tests (test_facade*.py).

The model is an affine-in-tanh map whose every channel depends on t and on its channel index, so
a timestep error (t+1, the respaced index for the original) or swapped channels change its
output; the same formula is written twice, in torch (what the facade calls) and in numpy (what
the float64 reference is fed), and every call's t is recorded.
"""

from __future__ import annotations

import numpy as np
import torch

from ddpm_math.schedules import NoiseSchedule

#: T = 10, linear β from 1e-3 to 0.2: ᾱ_T ≈ 0.34, every index distinct.
BETAS = np.linspace(1e-3, 0.2, 10)
SCHEDULE = NoiseSchedule(BETAS)
T = BETAS.size
SHAPE = (T, 2, 3)  # batch T: row b is looked at with t = b


def grid_data(shape=SHAPE, seed: int = 0) -> np.ndarray:
    """8-bit values k/127.5 - 1, k uniform in 0..255 (the discretised decoders' data)."""
    k = np.random.default_rng(seed).integers(0, 256, size=shape)
    return k / 127.5 - 1.0


def normal(shape=SHAPE, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=shape)


class TModel:
    """out = 0.4 tanh(x_t)(1 + 0.15 t) + 0.03 (t + 1) c - 0.1 (c the 1-based channel), and with
    ``learned`` a variance block tanh(0.3 x_t + 0.2 t - 1) ∈ (-1, 1), interior for
    learned_range (the log-variance itself for 'learned')."""

    def __init__(self, learned: bool = False) -> None:
        self.learned = learned
        self.calls: list[torch.Tensor] = []

    @staticmethod
    def _formula(x_t, tt, channel, tanh, cat, learned):
        mean = 0.4 * tanh(x_t) * (1.0 + 0.15 * tt) + 0.03 * (tt + 1.0) * channel - 0.1
        if not learned:
            return mean
        return cat(mean, tanh(0.3 * x_t + 0.2 * tt - 1.0))

    def __call__(self, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        self.calls.append(t.detach().clone())
        shape = (-1,) + (1,) * (x_t.ndim - 1)
        tt = t.to(x_t.dtype).reshape(shape)
        channel = torch.arange(1, x_t.shape[1] + 1, dtype=x_t.dtype).reshape(
            (1, -1) + (1,) * (x_t.ndim - 2))
        return self._formula(x_t, tt, channel, torch.tanh,
                             lambda a, b: torch.cat([a, b], dim=1), self.learned)

    def numpy(self, x_t: np.ndarray, t: np.ndarray) -> np.ndarray:
        shape = (-1,) + (1,) * (x_t.ndim - 1)
        tt = np.asarray(t, dtype=np.float64).reshape(shape)
        channel = np.arange(1, x_t.shape[1] + 1, dtype=np.float64).reshape(
            (1, -1) + (1,) * (x_t.ndim - 2))
        return self._formula(x_t, tt, channel, np.tanh,
                             lambda a, b: np.concatenate([a, b], axis=1), self.learned)


def shifted(model: TModel, num_steps: int = T):
    """The model called at t+1 (clamped to T-1): what a facade with an off-by-one would do."""
    return lambda x_t, t: model(x_t, (t + 1).clamp(max=num_steps - 1))
