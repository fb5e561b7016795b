"""The DDPM U-Net (Ho, Jain, Abbeel 2020, appendix B) and small ε-models, in plain torch.nn.

Public surface only. ``build(name, **overrides)`` returns the network of any named
configuration; ``unet(name, **overrides)`` the U-Nets only. Networks are called as
``model(x_t, t)`` with 0-based timesteps (index t is the paper's step t+1) and know nothing
about noise schedules.
"""

from ddpm_math.nn.configs import CONFIGS, MLPConfig, NetworkConfig, PaddingMode, UNetConfig, config
from ddpm_math.nn.layers import (
    AttnBlock,
    Downsample,
    ResnetBlock,
    TimeEmbedding,
    Upsample,
    parameter_count,
    timestep_embedding,
)
from ddpm_math.nn.mlp import MLPEpsModel
from ddpm_math.nn.unet import UNet, build, unet

__all__ = [
    "CONFIGS",
    "AttnBlock",
    "Downsample",
    "MLPConfig",
    "MLPEpsModel",
    "NetworkConfig",
    "PaddingMode",
    "ResnetBlock",
    "TimeEmbedding",
    "UNet",
    "UNetConfig",
    "Upsample",
    "build",
    "config",
    "parameter_count",
    "timestep_embedding",
    "unet",
]
