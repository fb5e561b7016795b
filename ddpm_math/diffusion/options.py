"""The closed option sets of the diffusion engine, named after the paper's concepts.

Every enum is ``str``-valued, so ``MeanType("eps")`` and ``MeanType.EPS`` are the same member and
the facade accepts either spelling.
"""

from __future__ import annotations

from enum import Enum
from typing import Any, TypeVar

__all__ = ["DecoderType", "LossType", "MeanType", "VarType", "parse_option"]

E = TypeVar("E", bound=Enum)


class MeanType(str, Enum):
    """What the network predicts, from which the reverse mean μ_θ(x_t, t) is formed (DDPM §3.2)."""

    EPS = "eps"  #: the noise ε, DDPM eq. (11)
    X0 = "x0"  #: the data x_0, then μ_θ = μ̃_t(x̂_0, x_t)
    XPREV = "xprev"  #: the mean of x_{t-1} itself, μ_θ = network output
    V = "v"  #: the velocity v = √ᾱ ε - √(1-ᾱ) x_0 (Salimans & Ho 2022)


class VarType(str, Enum):
    """How the reverse-step variance σ_t² is chosen (DDPM §3.2, Improved DDPM §3.1)."""

    FIXED_SMALL = "fixed_small"  #: σ² = β̃_t; log σ² with the t=1 entry clipped to β̃_2
    FIXED_LARGE = "fixed_large"  #: σ² = β_t, the t=1 entry replaced by β̃_2 (reference code)
    LEARNED = "learned"  #: the network outputs log σ² directly
    LEARNED_RANGE = "learned_range"  #: log σ² = u log β + (1-u) log β̃, u = (v+1)/2

    @property
    def learned(self) -> bool:
        """Whether the network outputs a variance channel block (2C output channels)."""
        return self in (VarType.LEARNED, VarType.LEARNED_RANGE)


class LossType(str, Enum):
    """The training objective (DDPM eqs. 12 and 14; Improved DDPM §3.1)."""

    SIMPLE = "simple"  #: L_simple, the unweighted MSE of the prediction, eq. (14)
    WEIGHTED = "weighted"  #: the MSE weighted as in eq. (12): the bound up to constants
    VLB = "vlb"  #: the variational bound term L_{t-1}, scaled by T
    HYBRID = "hybrid"  #: L_simple + λ L_vlb, the mean detached in L_vlb (Improved DDPM)


class DecoderType(str, Enum):
    """The t = 1 term L_0 = -log p_θ(x_0 | x_1) of the bound."""

    DISCRETIZED = "discretized"  #: DDPM eq. (13) for 8-bit data, with the exact normal CDF
    #: eq. (13) as the reference code computes it: tanh CDF, probabilities floored at 1e-12
    DISCRETIZED_APPROX = "discretized_approx"
    GAUSSIAN = "gaussian"  #: continuous density: -log N(x_0; μ_θ, σ_1²)


def parse_option(enum_cls: type[E], value: Any, name: str) -> E:
    """``value`` (a member or its string) as a member of ``enum_cls``; else ValueError."""
    if isinstance(value, enum_cls):
        return value
    try:
        return enum_cls(value)
    except ValueError:
        allowed = ", ".join(repr(member.value) for member in enum_cls)
        raise ValueError(f"{name} must be one of {allowed}, got {value!r}") from None
