"""The report's figures (matplotlib, Agg backend), written as PNG files beside the report."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from ddpm_math.report.model import Figure, KernelError
from ddpm_math.schedules import NoiseSchedule

__all__ = ["approx_cdf_figure", "kernel_figure", "pyplot", "schedule_figure", "weight_figure"]

DPI = 100


def pyplot():
    """matplotlib.pyplot on the non-interactive Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, out: Path, name: str) -> str:
    plt = pyplot()
    fig.tight_layout()
    fig.savefig(out / name, dpi=DPI)
    plt.close(fig)
    return name


def schedule_figure(out: Path) -> Figure:
    """ᾱ_t, β_t, β̃_t/β_t and log SNR(t) against t/T for each schedule (T = 1000)."""
    from ddpm_math.report.papers import schedules_at

    plt = pyplot()
    fig, axes = plt.subplots(1, 4, figsize=(16, 3.6))
    for name, schedule in schedules_at().items():
        u = np.arange(1, schedule.num_steps + 1) / schedule.num_steps  # the paper's t/T
        axes[0].plot(u, schedule.alpha_bar, label=name)
        axes[1].semilogy(u, schedule.beta, label=name)
        axes[2].plot(u[1:], schedule.beta_tilde[1:] / schedule.beta[1:], label=name)
        with np.errstate(divide="ignore"):
            axes[3].plot(u, np.log(schedule.snr), label=name)
    titles = ("ᾱ_t", "β_t", "β̃_t / β_t", "log SNR(t) = log ᾱ_t/(1-ᾱ_t)")
    for ax, title in zip(axes, titles, strict=True):
        ax.set(title=title, xlabel="t / T")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    name = _save(fig, out, "schedules.png")
    return Figure(name, "Schedules", "ᾱ_t, β_t, β̃_t/β_t and log SNR per schedule, T = 1000. "
                  "β̃_t/β_t → 1 after the first steps, which is why σ² = β and σ² = β̃ give "
                  "similar samples (DDPM §3.2).")


def weight_figure(out: Path) -> Figure:
    """The weight λ_t of DDPM eq. (12) for σ² = β_t and σ² = β̃_t, and the SNR form."""
    from ddpm_math.reference.vlb import eps_weight

    schedule = NoiseSchedule.linear(1000)
    t = np.arange(1, schedule.num_steps)  # 0-based; index 0 has β̃_1 = 0
    alpha_bar = np.cumprod(1 - schedule.beta)
    snr = alpha_bar / (1 - alpha_bar)
    snr_form = 0.5 * (snr[t - 1] / snr[t] - 1)
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 3.8))
    ax.semilogy(t + 1, eps_weight(schedule, t, "beta"), label="σ_t² = β_t")
    ax.semilogy(t + 1, eps_weight(schedule, t, "beta_tilde"), label="σ_t² = β̃_t")
    ax.semilogy(t + 1, snr_form, "k:", label="½(SNR(t-1)/SNR(t) - 1)")
    ax.set(xlabel="t (paper step)", ylabel="λ_t",
           title="λ_t = β_t²/(2σ_t² α_t (1-ᾱ_t)), linear schedule")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    name = _save(fig, out, "eq12_weight.png")
    return Figure(name, "The weight of eq. (12)", "λ_t against t for both σ² choices; the SNR "
                  "form (dotted) lies on the σ² = β̃_t curve. L_simple drops λ_t, which "
                  "down-weights the small-t terms relative to the bound.")


def approx_cdf_figure(out: Path) -> Figure:
    """Φ̃(x) - Φ(x) of the reference code's tanh approximation, float64."""
    from ddpm_math.diffusion.decoder import approx_standard_normal_cdf, standard_normal_cdf

    x = torch.linspace(-6, 6, 2401, dtype=torch.float64)
    error = (approx_standard_normal_cdf(x) - standard_normal_cdf(x)).numpy()
    worst = int(np.argmax(np.abs(error)))
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 3.4))
    ax.plot(x.numpy(), error)
    ax.plot([x[worst]], [error[worst]], "ro")
    ax.annotate(f"max |error| = {abs(error[worst]):.2e} at x = {float(x[worst]):.2f}",
                (float(x[worst]), error[worst]), textcoords="offset points", xytext=(10, -4))
    ax.set(xlabel="x", ylabel="Φ̃(x) - Φ(x)", title="approx_standard_normal_cdf against Φ")
    ax.grid(alpha=0.3)
    name = _save(fig, out, "approx_cdf_error.png")
    return Figure(name, "The approximate CDF", "Error of ½(1 + tanh(√(2/π)(x + 0.044715 x³))) "
                  "against Φ(x) = ½ erfc(-x/√2): the approximation the reference DDPM code "
                  "uses in the decoder (eq. 13).")


def kernel_figure(rows: Sequence[KernelError], out: Path) -> Figure:
    """Worst error / allowed error per kernel and dtype (log scale; 1 is the tolerance)."""
    kernels = list(dict.fromkeys(r.kernel for r in rows))
    dtypes = list(dict.fromkeys(r.dtype for r in rows if r.dtype != "all"))
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(9, 3.9))
    width = 0.8 / max(1, len(dtypes))
    for k, dtype in enumerate(dtypes):
        ratios = [next((max(r.ratio, 1e-6) for r in rows if r.kernel == name
                        and r.dtype == dtype and np.isfinite(r.ratio)), 1e3) for name in kernels]
        ax.bar(np.arange(len(kernels)) + k * width, ratios, width, label=dtype)
    ax.axhline(1.0, color="red", lw=1, label="tolerance")
    ax.set_yscale("log")
    ax.set_xticks(np.arange(len(kernels)) + width * (len(dtypes) - 1) / 2)
    ax.set_xticklabels([k.split(" (")[0] for k in kernels], rotation=35, ha="right", fontsize=8)
    ax.set(ylabel="worst error / allowed", title="torch kernels against 50-digit mpmath oracles")
    ax.legend(fontsize=8, ncol=4)
    ax.grid(alpha=0.3, axis="y")
    name = _save(fig, out, "kernel_errors.png")
    return Figure(name, "Kernel errors", "Worst error over the allowed error atol + rtol·Σ|terms| "
                  "per kernel and dtype; a bar under the red line holds.")
