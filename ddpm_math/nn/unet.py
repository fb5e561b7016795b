"""The DDPM U-Net ε_θ(x_t, t) (DDPM appendix B) and the factories that build networks by name.

The network follows the paper's TF code (``diffusion_tf/models/unet.py``) block for block, so
``unet("cifar10")`` has the paper's 35.7M parameters (35,746,307) and the parameter names map
one to one onto the TF variable scopes (``down.0.block.1.conv1`` ↔ ``down_0/block_1/conv1``,
``mid.attn_1.q`` ↔ ``mid/attn_1/q``, ``up.2.upsample.conv`` ↔ ``up_2/upsample/conv``; the
weights themselves are laid out as torch lays them out, not as TF does).
Nothing here knows about noise schedules: the network maps (x_t, t) to an array shaped like
x_t (or twice as many channels with ``learn_sigma``), and the diffusion code interprets it.

Note: :func:`unet`, the factory, has the name of this module; ``ddpm_math.nn.unet`` is the
function. Import classes from :mod:`ddpm_math.nn`.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ddpm_math.nn.configs import CONFIGS, MLPConfig, UNetConfig, config
from ddpm_math.nn.layers import (
    AttnBlock,
    Downsample,
    ResnetBlock,
    TimeEmbedding,
    Upsample,
    check_network_input,
    check_timesteps,
    conv3x3,
    timestep_embedding,
)
from ddpm_math.nn.mlp import MLPEpsModel

__all__ = ["UNet", "build", "unet"]


class _Level(nn.Module):
    """One resolution of the U-Net: residual blocks, their attention, and the resampling."""

    def __init__(self, blocks: list[ResnetBlock], attns: list[nn.Module], *,
                 downsample: Downsample | None = None, upsample: Upsample | None = None) -> None:
        super().__init__()
        self.block = nn.ModuleList(blocks)
        self.attn = nn.ModuleList(attns)  # nn.Identity where the level has no attention
        self.downsample = downsample
        self.upsample = upsample


class _Middle(nn.Module):
    """The middle of the U-Net: ResnetBlock, AttnBlock, ResnetBlock (TF scope ``mid``)."""

    def __init__(self, block_1: ResnetBlock, attn_1: AttnBlock, block_2: ResnetBlock) -> None:
        super().__init__()
        self.block_1 = block_1
        self.attn_1 = attn_1
        self.block_2 = block_2

    def forward(self, x: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:
        return self.block_2(self.attn_1(self.block_1(x, temb)), temb)


class UNet(nn.Module):
    """The DDPM U-Net ε_θ(x_t, t): PixelCNN++-style backbone, Wide-ResNet blocks (appendix B).

    conv_in → per level, ``num_res_blocks`` ResnetBlocks (each followed by an AttnBlock at the
    ``attn_resolutions``) and a Downsample except at the coarsest level → middle ResnetBlock,
    AttnBlock, ResnetBlock → per level from the coarsest, ``num_res_blocks + 1`` ResnetBlocks
    on the concatenation with a skip from the down path (and attention), an Upsample except at
    the finest level → GroupNorm, SiLU, conv_out (zero-initialised, so ε̂ = 0 at initialisation).

    Called as ``model(x_t, t)`` with ``x_t`` of shape [B, C, H, W] and ``t`` the 0-based
    timestep indices, int [B] or a Python int (index t is the paper's step t+1; it is embedded
    as given, as in the TF code). ``x_t`` has B ≥ 1 examples and the network's dtype and device
    (any floating dtype under ``torch.autocast``); else a ``TypeError``/``ValueError`` naming
    ``x`` or ``t``, from metadata only (no tensor values are read, so the checks run inside
    CUDA-graph capture). Which levels have attention is fixed at construction from
    ``config.image_size``; any square input whose side is divisible by 2**(levels-1) runs.
    """

    def __init__(self, config: UNetConfig) -> None:
        super().__init__()
        if not isinstance(config, UNetConfig):
            raise TypeError(f"config must be a UNetConfig, got {type(config).__name__}")
        self.config = config
        ch = config.base_channels
        self.temb = TimeEmbedding(ch, config.time_embed_dim)
        self.conv_in = conv3x3(config.in_channels, ch, config.padding_mode)
        skip_channels = self._build_down()
        self._build_middle()
        self._build_up(skip_channels)
        width = ch * config.channel_mult[0]
        self.norm_out = nn.GroupNorm(config.norm_groups, width, eps=config.norm_eps)
        self.conv_out = conv3x3(width, config.out_channels, config.padding_mode, zero=True)

    def _resnet(self, in_channels: int, out_channels: int) -> ResnetBlock:
        cfg = self.config
        return ResnetBlock(in_channels, out_channels, cfg.time_embed_dim, dropout=cfg.dropout,
                           norm_groups=cfg.norm_groups, norm_eps=cfg.norm_eps,
                           padding_mode=cfg.padding_mode)

    def _attn(self, level: int, channels: int) -> nn.Module:
        cfg = self.config
        if cfg.resolutions[level] not in cfg.attn_resolutions:
            return nn.Identity()
        return AttnBlock(channels, norm_groups=cfg.norm_groups, norm_eps=cfg.norm_eps)

    def _build_down(self) -> list[int]:
        """Create the down path; return the channel count of every skip it pushes."""
        cfg = self.config
        channels = cfg.base_channels
        skip_channels = [channels]  # conv_in's output
        self.down = nn.ModuleList()
        for level, mult in enumerate(cfg.channel_mult):
            blocks, attns = [], []
            for _ in range(cfg.num_res_blocks):
                blocks.append(self._resnet(channels, cfg.base_channels * mult))
                channels = cfg.base_channels * mult
                attns.append(self._attn(level, channels))
                skip_channels.append(channels)
            downsample = None
            if level != len(cfg.channel_mult) - 1:
                downsample = Downsample(channels, cfg.padding_mode)
                skip_channels.append(channels)
            self.down.append(_Level(blocks, attns, downsample=downsample))
        return skip_channels

    def _build_middle(self) -> None:
        cfg = self.config
        channels = cfg.base_channels * cfg.channel_mult[-1]
        attn = AttnBlock(channels, norm_groups=cfg.norm_groups, norm_eps=cfg.norm_eps)
        self.mid = _Middle(self._resnet(channels, channels), attn,
                           self._resnet(channels, channels))

    def _build_up(self, skip_channels: list[int]) -> None:
        """Create the up path; ``up[i]`` is level i (finest 0), as the TF scope ``up_i``."""
        cfg = self.config
        channels = cfg.base_channels * cfg.channel_mult[-1]
        skip_channels = list(skip_channels)
        levels = []
        for level in reversed(range(len(cfg.channel_mult))):  # the order they run in
            blocks, attns = [], []
            for _ in range(cfg.num_res_blocks + 1):
                out_channels = cfg.base_channels * cfg.channel_mult[level]
                blocks.append(self._resnet(channels + skip_channels.pop(), out_channels))
                channels = out_channels
                attns.append(self._attn(level, channels))
            upsample = Upsample(channels, cfg.padding_mode) if level != 0 else None
            levels.append(_Level(blocks, attns, upsample=upsample))
        self.up = nn.ModuleList(reversed(levels))

    def check_input(self, x: Any, t: Any) -> torch.Tensor:
        """Raise unless ``x`` is [B, in_channels, S, S] with 2**(levels-1) | S; return t as [B]."""
        cfg = self.config
        check_network_input(x, self.conv_in.weight)
        if x.ndim != 4 or x.shape[1] != cfg.in_channels:
            raise ValueError(f"x must have shape [B, C, H, W] with C = in_channels = "
                             f"{cfg.in_channels}, got {list(x.shape)}")
        factor = 2 ** (len(cfg.channel_mult) - 1)
        height, width = x.shape[2:]
        if height != width or height % factor or height == 0:
            raise ValueError(f"x must be square with a side divisible by 2**(levels-1) = "
                             f"{factor} (config image_size {cfg.image_size}), got H×W = "
                             f"{height}×{width}")
        return check_timesteps(t, x.shape[0], x.device)

    def forward(self, x: torch.Tensor, t: torch.Tensor | int) -> torch.Tensor:
        """ε_θ(x_t, t): [B, C, S, S] and 0-based t → [B, out_channels, S, S]."""
        t = self.check_input(x, t)
        emb = timestep_embedding(t, self.config.base_channels, dtype=self.conv_in.weight.dtype)
        temb = self.temb(emb)
        skips = [self.conv_in(x)]
        for level in self.down:
            for block, attn in zip(level.block, level.attn, strict=True):
                skips.append(attn(block(skips[-1], temb)))
            if level.downsample is not None:
                skips.append(level.downsample(skips[-1]))
        h = self.mid(skips[-1], temb)
        for level in reversed(self.up):  # coarsest first
            for block, attn in zip(level.block, level.attn, strict=True):
                h = attn(block(torch.cat([h, skips.pop()], dim=1), temb))
            if level.upsample is not None:
                h = level.upsample(h)
        return self.conv_out(F.silu(self.norm_out(h)))


def build(name: str, **overrides: Any) -> UNet | MLPEpsModel:
    """The network of configuration ``name`` (a :class:`UNet` or, for ``mlp2d``, an MLP).

    ``overrides`` replace fields of the configuration (see :func:`config`); an unknown name or
    field raises ``ValueError`` listing the allowed ones. Parameters are created on torch's
    current default device (``with torch.device("meta"): build("celebahq256")`` allocates none).
    """
    cfg = config(name, **overrides)
    return MLPEpsModel(cfg) if isinstance(cfg, MLPConfig) else UNet(cfg)


def unet(name: str, **overrides: Any) -> UNet:
    """The U-Net of configuration ``name`` (DDPM appendix B); :func:`build` also takes MLPs."""
    names = sorted(key for key, value in CONFIGS.items() if isinstance(value, UNetConfig))
    if name not in names:
        raise ValueError(f"name must be one of the U-Net configs {names}, got {name!r} "
                         "(use ddpm_math.nn.build for the MLP configs)")
    return UNet(config(name, **overrides))
