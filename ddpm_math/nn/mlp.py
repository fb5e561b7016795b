"""An MLP ε-model for low-dimensional toy data (2-D mixtures, spirals); not in the paper.

It uses the U-Net's time conditioning (DDPM appendix B): the sinusoidal embedding of the 0-based
timestep through a two-layer time MLP, added to every hidden layer, and a zero-initialised
output layer so that ε̂ = 0 at initialisation.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ddpm_math.nn.configs import MLPConfig
from ddpm_math.nn.layers import (
    TimeEmbedding,
    check_network_input,
    check_timesteps,
    linear,
    timestep_embedding,
)

__all__ = ["MLPEpsModel"]


class MLPEpsModel(nn.Module):
    """ε_θ(x_t, t) for x_t of shape [B, data_dim]: a time-conditioned SiLU MLP.

    h = Linear(x_t); then ``num_hidden_layers`` times h = Linear(SiLU(h)) + Linear(SiLU(temb));
    output Linear(SiLU(h)), zero-initialised, of width data_dim (2·data_dim with learn_sigma).
    temb is the time MLP (Linear → SiLU → Linear) of :func:`timestep_embedding` of ``t``, the
    0-based timestep indices, int [B] or a Python int (index t is the paper's step t+1).
    ``x_t`` has B ≥ 1 examples and the network's dtype and device (any floating dtype under
    ``torch.autocast``); else a ``TypeError``/``ValueError`` naming ``x`` or ``t``, from
    metadata only (no tensor values are read: the checks run inside CUDA-graph capture).
    """

    def __init__(self, config: MLPConfig) -> None:
        super().__init__()
        if not isinstance(config, MLPConfig):
            raise TypeError(f"config must be an MLPConfig, got {type(config).__name__}")
        self.config = config
        width = config.width
        self.temb = TimeEmbedding(config.time_embed_dim, width)
        self.in_proj = linear(config.data_dim, width)
        self.hidden = nn.ModuleList(linear(width, width)
                                    for _ in range(config.num_hidden_layers))
        self.temb_proj = nn.ModuleList(linear(width, width)
                                       for _ in range(config.num_hidden_layers))
        self.out_proj = linear(width, config.out_channels, zero=True)

    def check_input(self, x: Any, t: Any) -> torch.Tensor:
        """Raise unless ``x`` is [B, data_dim] floating point; return t as an int tensor [B]."""
        check_network_input(x, self.in_proj.weight)
        if x.ndim != 2 or x.shape[1] != self.config.data_dim:
            raise ValueError(f"x must have shape [B, data_dim] = [B, {self.config.data_dim}], "
                             f"got {list(x.shape)}")
        return check_timesteps(t, x.shape[0], x.device)

    def forward(self, x: torch.Tensor, t: torch.Tensor | int) -> torch.Tensor:
        """ε_θ(x_t, t): [B, data_dim] and 0-based t → [B, out_channels]."""
        t = self.check_input(x, t)
        emb = timestep_embedding(t, self.config.time_embed_dim, dtype=self.in_proj.weight.dtype)
        temb = F.silu(self.temb(emb))
        h = self.in_proj(x)
        for layer, proj in zip(self.hidden, self.temb_proj, strict=True):
            h = layer(F.silu(h)) + proj(temb)
        return self.out_proj(F.silu(h))
