"""ddpm_math: verified math and a trainable implementation of DDPM (Ho, Jain, Abbeel 2020).

Public surface only; see :mod:`ddpm_math.notation` for symbols and the timestep convention.
"""

from ddpm_math.diffusion.decoder import (
    approx_standard_normal_cdf,
    discretized_gaussian_log_likelihood,
    standard_normal_cdf,
)
from ddpm_math.diffusion.gaussian_diffusion import GaussianDiffusion
from ddpm_math.diffusion.kl import normal_kl
from ddpm_math.diffusion.options import DecoderType, LossType, MeanType, VarType
from ddpm_math.diffusion.resample import LossSecondMomentResampler, UniformSampler
from ddpm_math.diffusion.respace import TimestepMap, respaced_betas, space_timesteps
from ddpm_math.schedules import (
    NoiseSchedule,
    TorchSchedule,
    betas_from_alpha_bar,
    cosine_alpha_bar,
    cosine_betas,
    linear_betas,
    quadratic_betas,
    rescale_zero_terminal_snr,
    sqrt_linear_betas,
)

__version__ = "0.1.0"

__all__ = [
    "DecoderType",
    "GaussianDiffusion",
    "LossSecondMomentResampler",
    "LossType",
    "MeanType",
    "NoiseSchedule",
    "TimestepMap",
    "UniformSampler",
    "VarType",
    "TorchSchedule",
    "approx_standard_normal_cdf",
    "betas_from_alpha_bar",
    "cosine_alpha_bar",
    "cosine_betas",
    "discretized_gaussian_log_likelihood",
    "linear_betas",
    "normal_kl",
    "quadratic_betas",
    "rescale_zero_terminal_snr",
    "respaced_betas",
    "space_timesteps",
    "sqrt_linear_betas",
    "standard_normal_cdf",
]
