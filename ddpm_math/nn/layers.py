"""The DDPM U-Net's building blocks in plain torch.nn (DDPM appendix B).

Facts taken from the paper and its TF code (``diffusion_tf/models/unet.py``): Wide-ResNet
blocks with GroupNorm (32 groups, ε = 1e-6) and SiLU ("swish"), the timestep embedding added
after the first convolution of each block, single-head self-attention with 1×1 projections, and
the last layer of every residual branch initialised to zero so that each block starts as the
identity. Weights are initialised as in the TF code, variance scaling over the average fan with
a uniform distribution (= Glorot/Xavier uniform), and biases to zero; "zero-initialised" layers
are exactly zero here (the TF code uses the scale 1e-10).

Timesteps are 0-based indices: index t is the paper's step t+1 (see :mod:`ddpm_math.notation`).
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ddpm_math.nn.configs import PADDING_MODES

__all__ = [
    "AttnBlock",
    "Downsample",
    "ResnetBlock",
    "TimeEmbedding",
    "Upsample",
    "check_timesteps",
    "parameter_count",
    "timestep_embedding",
]


def glorot_init(module: nn.Linear | nn.Conv2d) -> None:
    """TF ``variance_scaling(1, 'fan_avg', 'uniform')`` weights and zero biases, in place."""
    nn.init.xavier_uniform_(module.weight)
    nn.init.zeros_(module.bias)


def zero_init(module: nn.Linear | nn.Conv2d) -> None:
    """Zero weights and biases, in place: the layer outputs exactly 0 until trained."""
    nn.init.zeros_(module.weight)
    nn.init.zeros_(module.bias)


def conv3x3(in_channels: int, out_channels: int, padding_mode: str = "zeros", *,
            zero: bool = False) -> nn.Conv2d:
    """A 3×3 convolution, stride 1, output the size of the input (TF padding ``'SAME'``)."""
    conv = nn.Conv2d(in_channels, out_channels, 3, padding=1, padding_mode=padding_mode)
    (zero_init if zero else glorot_init)(conv)
    return conv


def conv1x1(in_channels: int, out_channels: int, *, zero: bool = False) -> nn.Conv2d:
    """A 1×1 convolution: the TF code's ``nin`` (a dense layer applied at every pixel)."""
    conv = nn.Conv2d(in_channels, out_channels, 1)
    (zero_init if zero else glorot_init)(conv)
    return conv


def linear(in_features: int, out_features: int, *, zero: bool = False) -> nn.Linear:
    """A dense layer with the TF code's initialisation."""
    layer = nn.Linear(in_features, out_features)
    (zero_init if zero else glorot_init)(layer)
    return layer


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0, *,
                       dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Sinusoidal embedding of 0-based timesteps, [B] → [B, dim] (DDPM appendix B).

    With half = dim // 2 and frequencies freq_i = exp(-ln(max_period) · i / (half - 1)) for
    i = 0, ..., half-1 (so freq_0 = 1 and freq_{half-1} = 1/max_period), the embedding is
    ``[sin(t·freq_0), ..., sin(t·freq_{half-1}), cos(t·freq_0), ..., cos(t·freq_{half-1})]``,
    with one zero column appended when ``dim`` is odd. The denominator half - 1 is the TF DDPM
    code's (``get_timestep_embedding``: ``log(10000) / (half_dim - 1)``); "Attention Is All
    You Need" and improved-diffusion divide by half instead. The TF code embeds the 0-based
    index as given, and so does this function: ``t`` holds index t, the paper's step t+1.
    Computed in float32, as the TF code does (float64 if ``dtype`` is float64), whatever
    autocast is active, and returned as ``dtype``: a half-precision argument t·freq_i would
    lose the phase of the fast frequencies.
    """
    if not isinstance(t, torch.Tensor) or t.dtype.is_floating_point or t.dtype.is_complex \
            or t.dtype == torch.bool:
        raise TypeError(f"t must be an integer tensor of 0-based timesteps, got {_describe(t)}")
    if t.ndim != 1:
        raise ValueError(f"t must have shape [B], got {list(t.shape)}")
    if isinstance(dim, bool) or not isinstance(dim, int) or dim < 4:
        raise ValueError(f"dim must be an int >= 4 (half - 1 divides), got {dim!r}")
    if isinstance(max_period, bool) or not isinstance(max_period, (int, float)) \
            or not max_period > 1:
        raise ValueError(f"max_period must be a number > 1, got {max_period!r}")
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"dtype must be a floating torch.dtype, got {dtype!r}")
    work = torch.float64 if dtype == torch.float64 else torch.float32
    half = dim // 2
    step = -math.log(max_period) / (half - 1)
    freqs = torch.exp(torch.arange(half, dtype=work, device=t.device) * step)
    args = t.to(work)[:, None] * freqs[None, :]
    emb = torch.cat([torch.sin(args), torch.cos(args)], dim=1)
    return (F.pad(emb, (0, 1)) if dim % 2 else emb).to(dtype)


def _describe(value: Any) -> str:
    """A short description of ``value`` for an error message: type, dtype and shape."""
    if isinstance(value, torch.Tensor):
        return f"a tensor of dtype {value.dtype} and shape {list(value.shape)}"
    return f"{type(value).__name__} {value!r}"


def _autocast_enabled(device_type: str) -> bool:
    """Whether autocast is on for ``device_type`` (False for types it does not know: meta)."""
    try:
        return torch.is_autocast_enabled(device_type)
    except RuntimeError:
        return False


def check_network_input(x: Any, weight: torch.Tensor) -> torch.Tensor:
    """``x`` after checking it is a floating tensor with at least one example, on the device
    of the network's ``weight`` and in its dtype (any floating dtype under autocast, which
    casts it). Only metadata is read: the check runs inside CUDA-graph capture."""
    if not isinstance(x, torch.Tensor) or not x.dtype.is_floating_point:
        raise TypeError(f"x must be a floating-point tensor, got {_describe(x)}")
    if x.device != weight.device:
        raise ValueError(f"x must be on the network's device ({weight.device}), got {x.device}")
    if x.dtype != weight.dtype and not _autocast_enabled(x.device.type):
        raise TypeError(f"x must have the network's dtype {weight.dtype} (or run under "
                        f"torch.autocast), got {x.dtype}; convert x or the network with .to()")
    if x.ndim >= 1 and x.shape[0] == 0:
        raise ValueError(f"x must hold at least one example, got shape {list(x.shape)}")
    return x


def check_timesteps(t: Any, batch: int, device: torch.device) -> torch.Tensor:
    """``t`` as an integer tensor of shape [batch] on ``device``; raise if it cannot be one.

    Accepts a [batch] or 0-d integer tensor on ``device``, or a Python int (broadcast to the
    batch with ``torch.full``, no host-device copy). Values are not read (that would make the
    host wait for the device); ``t`` holds 0-based indices, index t being the paper's step t+1.
    """
    if isinstance(t, int) and not isinstance(t, bool):
        return torch.full((batch,), t, dtype=torch.int64, device=device)
    if not isinstance(t, torch.Tensor) or t.dtype.is_floating_point or t.dtype.is_complex \
            or t.dtype == torch.bool:
        raise TypeError("t must be an int or an integer tensor of 0-based timesteps (int64), "
                        f"got {_describe(t)}")
    if t.device != device:
        raise ValueError(f"t must be on the device of x ({device}), got {t.device}")
    if t.ndim == 0:
        return t.expand(batch)
    if t.shape != (batch,):
        raise ValueError(f"t must have shape [B] = [{batch}] (one timestep per example) or be "
                         f"a scalar, got shape {list(t.shape)}")
    return t


def parameter_count(model: nn.Module) -> int:
    """The number of scalar parameters of ``model`` (works on the meta device)."""
    return sum(param.numel() for param in model.parameters())


class TimeEmbedding(nn.Module):
    """Time MLP: Linear(ch, 4ch) → SiLU → Linear(4ch, 4ch) (DDPM appendix B, TF ``temb``)."""

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        self.dense0 = linear(in_features, out_features)
        self.dense1 = linear(out_features, out_features)

    def forward(self, emb: torch.Tensor) -> torch.Tensor:
        return self.dense1(F.silu(self.dense0(emb)))


class ResnetBlock(nn.Module):
    """Wide-ResNet block with the time embedding added after conv1 (DDPM appendix B).

    h = conv1(SiLU(GN(x))) + Linear(SiLU(temb)); h = conv2(Dropout(SiLU(GN(h)))) with conv2
    zero-initialised; output skip(x) + h, skip a 1×1 convolution (TF ``nin_shortcut``) when the
    channel count changes and the identity otherwise.
    """

    def __init__(self, in_channels: int, out_channels: int, temb_channels: int, *,
                 dropout: float = 0.0, norm_groups: int = 32, norm_eps: float = 1e-6,
                 padding_mode: str = "zeros") -> None:
        super().__init__()
        if padding_mode not in PADDING_MODES:
            raise ValueError(f"padding_mode must be one of {PADDING_MODES}, got {padding_mode!r}")
        self.norm1 = nn.GroupNorm(norm_groups, in_channels, eps=norm_eps)
        self.conv1 = conv3x3(in_channels, out_channels, padding_mode)
        self.temb_proj = linear(temb_channels, out_channels)
        self.norm2 = nn.GroupNorm(norm_groups, out_channels, eps=norm_eps)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = conv3x3(out_channels, out_channels, padding_mode, zero=True)
        self.nin_shortcut = (conv1x1(in_channels, out_channels)
                             if in_channels != out_channels else None)

    def forward(self, x: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.temb_proj(F.silu(temb))[:, :, None, None]
        h = self.conv2(self.dropout(F.silu(self.norm2(h))))
        skip = x if self.nin_shortcut is None else self.nin_shortcut(x)
        return skip + h


class AttnBlock(nn.Module):
    """Single-head self-attention over pixels, residual (DDPM appendix B, TF ``attn_block``).

    q, k, v are 1×1 projections of GN(x); weights softmax(q·kᵀ / √C) over all H·W positions;
    the 1×1 output projection is zero-initialised, so the block starts as the identity.
    """

    def __init__(self, channels: int, *, norm_groups: int = 32, norm_eps: float = 1e-6) -> None:
        super().__init__()
        self.norm = nn.GroupNorm(norm_groups, channels, eps=norm_eps)
        self.q = conv1x1(channels, channels)
        self.k = conv1x1(channels, channels)
        self.v = conv1x1(channels, channels)
        self.proj_out = conv1x1(channels, channels, zero=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, channels, height, width = x.shape
        h = self.norm(x)
        q, k, v = (proj(h).flatten(2).transpose(1, 2) for proj in (self.q, self.k, self.v))
        h = F.scaled_dot_product_attention(q, k, v)  # [B, HW, C], scale 1/√C
        h = h.transpose(1, 2).reshape(batch, channels, height, width)
        return x + self.proj_out(h)


class Downsample(nn.Module):
    """Halve the resolution with a 3×3 convolution of stride 2 (DDPM appendix B).

    Padding is the TF code's ``'SAME'`` for an even side: none before, one row and column after
    (zeros, or wrapped around with ``padding_mode="circular"``), so output pixel i sees input
    pixels 2i, 2i+1, 2i+2. Symmetric padding would shift the sampling grid by one pixel and
    make converted TF weights compute something else.
    """

    def __init__(self, channels: int, padding_mode: str = "zeros") -> None:
        super().__init__()
        if padding_mode not in PADDING_MODES:
            raise ValueError(f"padding_mode must be one of {PADDING_MODES}, got {padding_mode!r}")
        self.pad_mode = "constant" if padding_mode == "zeros" else "circular"
        self.conv = nn.Conv2d(channels, channels, 3, stride=2)
        glorot_init(self.conv)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.pad(x, (0, 1, 0, 1), mode=self.pad_mode))


class Upsample(nn.Module):
    """Double the resolution: nearest-neighbour ×2, then a 3×3 convolution (DDPM appendix B).

    For a factor 2 the TF code's nearest resize with ``align_corners=True`` picks the same
    source pixel, floor(i / 2), as this one.
    """

    def __init__(self, channels: int, padding_mode: str = "zeros") -> None:
        super().__init__()
        self.conv = conv3x3(channels, channels, padding_mode)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))
