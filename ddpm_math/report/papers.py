"""Numbers the papers state, reproduced by computation through the public API, each beside its
source; and the finite-T bias of ancestral sampling with the optimal model on Gaussian data."""

from __future__ import annotations

import math

import numpy as np
import torch

from ddpm_math.report.model import BiasRow, PaperNumber
from ddpm_math.schedules import (
    NoiseSchedule,
    cosine_alpha_bar,
    cosine_betas,
    linear_betas,
    rescale_zero_terminal_snr,
    sqrt_linear_betas,
)

__all__ = ["BIAS_DATA", "BIAS_STATED", "paper_numbers", "sampler_bias_table"]

#: Lin et al. 2023 ("Common diffusion noise schedules and sample steps are flawed"), Table 1:
#: SNR(T) of the schedules at T = 1000.
LIN_SNR_T = {"linear (DDPM)": 4.035993e-05, "cosine (Nichol & Dhariwal)": 2.428735e-09,
             "scaled linear (Stable Diffusion)": 0.004682, "linear, zero terminal SNR": 0.0}


def _prior_bpd() -> PaperNumber:
    """L_T = KL(q(x_T|x_0) ‖ N(0, I)) in bits/dim for the linear schedule (DDPM §4)."""
    from ddpm_math.diffusion.gaussian_diffusion import GaussianDiffusion

    diffusion = GaussianDiffusion(NoiseSchedule.linear(1000))
    grid = torch.arange(256, dtype=torch.float64) / 127.5 - 1  # the 8-bit values x_k
    per_value = diffusion.prior_bpd(grid[:, None])
    mean, worst = float(per_value.mean()), float(per_value.max())
    ok = 10**-5.5 <= mean <= 10**-4.5
    return PaperNumber("L_T, linear schedule, T = 1000", f"{mean:.2e} bits/dim (uniform over the "
                       f"256 pixel values); {worst:.2e} at |x_0| = 1", "≈ 10⁻⁵ bits/dim",
                       "DDPM §4", ok, "GaussianDiffusion.prior_bpd")


def _cifar10_parameters() -> PaperNumber:
    from ddpm_math.nn import build, parameter_count

    with torch.device("meta"):
        count = parameter_count(build("cifar10"))
    return PaperNumber("CIFAR10 U-Net parameters", f"{count:,} ({count / 1e6:.1f}M)",
                       "35.7 million", "DDPM appendix B", round(count / 1e5) == 357,
                       "ddpm_math.nn.build('cifar10'), counted")


def schedules_at(T: int = 1000) -> dict[str, NoiseSchedule]:
    """The schedules of the terminal-SNR table (Stable Diffusion's: √β linear, 0.00085-0.012)."""
    return {"linear (DDPM)": NoiseSchedule(linear_betas(T)),
            "cosine (Nichol & Dhariwal)": NoiseSchedule(cosine_betas(T)),
            "scaled linear (Stable Diffusion)": NoiseSchedule(sqrt_linear_betas(T, 0.00085,
                                                                                0.012)),
            "linear, zero terminal SNR": NoiseSchedule(rescale_zero_terminal_snr(
                linear_betas(T)))}


def _terminal_snr() -> list[PaperNumber]:
    rows = []
    for name, schedule in schedules_at().items():
        snr, stated = schedule.terminal_snr, LIN_SNR_T[name]
        ok = snr == stated if stated == 0 else math.isclose(snr, stated, rel_tol=1e-3)
        rows.append(PaperNumber(f"ᾱ_T, SNR(T): {name}", f"ᾱ_T = {schedule.alpha_bar_T:.6g}, "
                                f"SNR(T) = {snr:.6g}", f"SNR(T) = {stated:.6g}",
                                "Lin et al. 2023, Table 1", ok, "NoiseSchedule.terminal_snr"))
    return rows


def _cosine_clip() -> PaperNumber:
    beta = cosine_betas(1000)
    unclipped = 1 - cosine_alpha_bar(1.0) / cosine_alpha_bar(999 / 1000)
    clipped = int(np.sum(beta >= 0.999))
    ok = float(beta.max()) == 0.999 and clipped == 1 and unclipped > 0.999
    return PaperNumber("cosine schedule, clipped β_T", f"β_T = {beta[-1]:.4g} (unclipped "
                       f"{unclipped:.4g}); {clipped} of 1000 steps clipped; β_{{T-1}} = "
                       f"{beta[-2]:.4f}", "β_t ≤ 0.999 (β_T → 1 unclipped)",
                       "Nichol & Dhariwal 2021 §3.2", ok, "cosine_betas(1000)")


def paper_numbers() -> list[PaperNumber]:
    """Every reproduced number, in the order of the report."""
    return [_prior_bpd(), _cifar10_parameters(), *_terminal_snr(), _cosine_clip()]


#: Gaussian data N(m, s²) per dimension for the bias table (s = 0.5, 0.2, 1).
BIAS_DATA = (np.array([0.3, -0.5, 0.8]), np.array([0.25, 0.04, 1.0]))
#: Relative bias of s² for s = 0.5 measured in verification/diffusion/test_oracle_gaussian.py.
BIAS_STATED = {50: -0.2138, 100: -0.1231, 200: -0.0680, 1000: -0.0155}


def sampler_bias_table() -> list[BiasRow]:
    """(S_0 - s²)/s² and |M_0 - m| of ancestral sampling with σ² = β̃ and the optimal model, on
    the linear schedule rescaled to T steps (:func:`ddpm_math.testing.oracles.sampler_bias`)."""
    from ddpm_math.testing.oracles import sampler_bias

    mean, var = BIAS_DATA
    rows = []
    for T, stated in BIAS_STATED.items():
        schedule = NoiseSchedule.linear(T, rescale_to_1000=True)
        mean_shift, var_shift = sampler_bias(schedule, mean, var, "fixed_small")
        rel = tuple(float(v) for v in var_shift / var)
        worst_mean = float(np.abs(mean_shift).max())
        ok = abs(rel[0] - stated) <= 5e-4 and worst_mean < 4e-5
        rows.append(BiasRow(T, rel, worst_mean, stated, ok))
    return rows
