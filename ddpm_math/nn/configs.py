"""Network configurations: frozen dataclasses looked up by name (DDPM appendix B).

``config(name, **overrides)`` returns the named configuration with some fields replaced
(through :func:`dataclasses.replace`, so the replacement is validated like the original).
The paper's models are ``cifar10`` (35.7M parameters) and ``celebahq256`` (the 256×256 model
of CelebA-HQ and LSUN, 114M; ``lsun256`` names the same configuration). ``digits8``,
``small16`` and ``mlp2d`` are small models for tests and CPU training; they are not in the paper.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal

__all__ = [
    "CONFIGS",
    "MLPConfig",
    "NetworkConfig",
    "PaddingMode",
    "UNetConfig",
    "config",
]

#: How a 3×3 convolution pads its input: ``"zeros"`` (the paper's network) or ``"circular"``
#: (the image is a torus; with it the U-Net commutes exactly with circular shifts by multiples
#: of 2**(levels-1), which the tests use).
PaddingMode = Literal["zeros", "circular"]
PADDING_MODES: tuple[str, ...] = ("zeros", "circular")


def _require_int(name: str, value: Any, minimum: int) -> None:
    """Raise unless ``value`` is an int (not a bool) that is at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value}")


def _require_bool(name: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {value!r}")


def _require_dropout(value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise ValueError(f"dropout must be a probability in [0, 1), got {value!r}")


def _as_int_tuple(name: str, value: Any, minimum: int) -> tuple[int, ...]:
    """``value`` (a tuple or list of ints >= ``minimum``) as a tuple; raise otherwise."""
    if not isinstance(value, (tuple, list)):
        raise TypeError(f"{name} must be a tuple of ints >= {minimum}, got {value!r}")
    for item in value:
        _require_int(f"each entry of {name}", item, minimum)
    return tuple(value)


@dataclass(frozen=True)
class UNetConfig:
    """The DDPM U-Net's hyperparameters (DDPM appendix B; names as in the reference TF code).

    ``base_channels`` is the paper's ch: level i has ``base_channels * channel_mult[i]``
    channels at resolution ``image_size // 2**i``; the timestep embedding has ch entries and the
    time MLP widens it to 4·ch. ``attn_resolutions`` lists the resolutions (in pixels) whose
    levels get a self-attention block after each residual block; the middle block always has
    one. ``norm_eps`` is the GroupNorm epsilon of the TF code (1e-6, not torch's 1e-5).
    """

    image_size: int
    in_channels: int = 3
    base_channels: int = 128
    channel_mult: tuple[int, ...] = (1, 2, 2, 2)
    num_res_blocks: int = 2
    attn_resolutions: tuple[int, ...] = (16,)
    dropout: float = 0.1
    norm_groups: int = 32
    norm_eps: float = 1e-6
    learn_sigma: bool = False
    padding_mode: PaddingMode = "zeros"

    def __post_init__(self) -> None:
        _require_int("image_size", self.image_size, 1)
        _require_int("in_channels", self.in_channels, 1)
        _require_int("base_channels", self.base_channels, 4)
        _require_int("num_res_blocks", self.num_res_blocks, 1)
        _require_int("norm_groups", self.norm_groups, 1)
        _require_dropout(self.dropout)
        _require_bool("learn_sigma", self.learn_sigma)
        if not isinstance(self.norm_eps, (int, float)) or not self.norm_eps > 0:
            raise ValueError(f"norm_eps must be a positive float, got {self.norm_eps!r}")
        if self.padding_mode not in PADDING_MODES:
            raise ValueError(f"padding_mode must be one of {PADDING_MODES}, got "
                             f"{self.padding_mode!r}")
        mult = _as_int_tuple("channel_mult", self.channel_mult, 1)
        if not mult:
            raise ValueError("channel_mult must have at least one level, got ()")
        object.__setattr__(self, "channel_mult", mult)
        object.__setattr__(self, "attn_resolutions",
                           _as_int_tuple("attn_resolutions", self.attn_resolutions, 1))
        self._check_divisibility()

    def _check_divisibility(self) -> None:
        """Raise unless every level's resolution is whole and every width splits into groups."""
        factor = 2 ** (len(self.channel_mult) - 1)
        if self.image_size % factor:
            raise ValueError(f"image_size must be divisible by 2**(levels-1) = {factor} for "
                             f"channel_mult={self.channel_mult}, got {self.image_size}")
        unknown = sorted(set(self.attn_resolutions) - set(self.resolutions))
        if unknown:
            raise ValueError(f"attn_resolutions {unknown} are not resolutions of this network; "
                             f"allowed: {self.resolutions}")
        widths = {self.base_channels, *(self.base_channels * m for m in self.channel_mult)}
        bad = sorted(w for w in widths if w % self.norm_groups)
        if bad:
            raise ValueError(f"norm_groups={self.norm_groups} must divide every channel count "
                             f"{sorted(widths)}; it does not divide {bad}")

    @property
    def resolutions(self) -> tuple[int, ...]:
        """The side length of each level, finest first: image_size // 2**i."""
        return tuple(self.image_size // 2**i for i in range(len(self.channel_mult)))

    @property
    def out_channels(self) -> int:
        """Channels of the output: ε̂ only, or ε̂ and the variance interpolation (learn_sigma)."""
        return 2 * self.in_channels if self.learn_sigma else self.in_channels

    @property
    def time_embed_dim(self) -> int:
        """Width of the time MLP's output, 4·ch (DDPM appendix B, TF code ``temb``)."""
        return 4 * self.base_channels


@dataclass(frozen=True)
class MLPConfig:
    """An ε-model for low-dimensional toy data: an MLP with a sinusoidal time embedding.

    Not in the paper. ``time_embed_dim`` entries of :func:`timestep_embedding` go through a
    time MLP to ``width`` and are added to each of the ``num_hidden_layers`` hidden layers.
    """

    data_dim: int = 2
    width: int = 256
    num_hidden_layers: int = 3
    time_embed_dim: int = 128
    learn_sigma: bool = False

    def __post_init__(self) -> None:
        _require_int("data_dim", self.data_dim, 1)
        _require_int("width", self.width, 1)
        _require_int("num_hidden_layers", self.num_hidden_layers, 1)
        _require_int("time_embed_dim", self.time_embed_dim, 4)
        _require_bool("learn_sigma", self.learn_sigma)

    @property
    def out_channels(self) -> int:
        """Entries of the output: ε̂, or ε̂ and the variance interpolation (learn_sigma)."""
        return 2 * self.data_dim if self.learn_sigma else self.data_dim


NetworkConfig = UNetConfig | MLPConfig

_CELEBAHQ256 = UNetConfig(image_size=256, base_channels=128, channel_mult=(1, 1, 2, 2, 4, 4),
                          num_res_blocks=2, attn_resolutions=(16,), dropout=0.0)

#: The named configurations. cifar10 and celebahq256 are DDPM appendix B (and the TF code's
#: run_cifar.py / run_celebahq.py); lsun256 is the same network (run_lsun.py, dropout 0).
CONFIGS: Mapping[str, NetworkConfig] = MappingProxyType({
    "cifar10": UNetConfig(image_size=32, base_channels=128, channel_mult=(1, 2, 2, 2),
                          num_res_blocks=2, attn_resolutions=(16,), dropout=0.1),
    "celebahq256": _CELEBAHQ256,
    "lsun256": _CELEBAHQ256,
    # digits8: forward + backward of a batch of 128 in about 90-100 ms on one CPU thread
    # (ch 32 would take about 250 ms; ch 64 about 750 ms).
    "digits8": UNetConfig(image_size=8, in_channels=1, base_channels=16, channel_mult=(1, 2),
                          num_res_blocks=2, attn_resolutions=(4,), dropout=0.1, norm_groups=4),
    "small16": UNetConfig(image_size=16, base_channels=32, channel_mult=(1, 2, 2),
                          num_res_blocks=2, attn_resolutions=(8,), dropout=0.1, norm_groups=8),
    "mlp2d": MLPConfig(),
})


def config(name: str, **overrides: Any) -> NetworkConfig:
    """The configuration called ``name`` with the fields in ``overrides`` replaced.

    Raises ``ValueError`` for an unknown name or field (the message lists the allowed ones),
    and whatever the dataclass's validation raises for a bad value.
    """
    if not isinstance(name, str) or name not in CONFIGS:
        raise ValueError(f"config name must be one of {sorted(CONFIGS)}, got {name!r}")
    base = CONFIGS[name]
    fields = [field.name for field in dataclasses.fields(base)]
    unknown = sorted(set(overrides) - set(fields))
    if unknown:
        raise ValueError(f"unknown override(s) {unknown} for config {name!r}; allowed fields: "
                         f"{fields}")
    return dataclasses.replace(base, **overrides)
