"""Pictures of schedules: β_t, ᾱ_t and log SNR(t) side by side (needs matplotlib).

    python -m ddpm_math.viz schedules.png [T]

draws the built-in schedules for T steps (default 1000) into ``schedules.png``.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from ddpm_math.schedules import (
    NoiseSchedule,
    cosine_betas,
    linear_betas,
    quadratic_betas,
    rescale_zero_terminal_snr,
    sqrt_linear_betas,
)

__all__ = ["builtin_schedules", "plot_schedules"]


def builtin_schedules(T: int = 1000) -> dict[str, NoiseSchedule]:
    """The schedules this package builds, for T steps, by name."""
    return {
        "linear (DDPM)": NoiseSchedule(linear_betas(T)),
        "quadratic in t": NoiseSchedule(quadratic_betas(T)),
        "linear in √β (TF 'quad')": NoiseSchedule(sqrt_linear_betas(T)),
        "cosine (Nichol & Dhariwal)": NoiseSchedule(cosine_betas(T)),
        "linear, zero terminal SNR": NoiseSchedule(rescale_zero_terminal_snr(linear_betas(T))),
    }


def plot_schedules(schedules: Mapping[str, NoiseSchedule], path: str | Path | None = None):
    """Draw β_t, ᾱ_t and log SNR(t) against t/T for each schedule; save to ``path`` if given.

    Returns the matplotlib Figure. Uses the non-interactive Agg backend when saving.
    """
    try:
        import matplotlib

        if path is not None:
            matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("plot_schedules needs matplotlib: pip install matplotlib") from err
    if not schedules:
        raise ValueError("schedules must name at least one NoiseSchedule")
    fig, (ax_beta, ax_alpha_bar, ax_snr) = plt.subplots(1, 3, figsize=(15, 4.2))
    for name, schedule in schedules.items():
        u = np.arange(1, schedule.num_steps + 1) / schedule.num_steps  # paper's t/T
        ax_beta.semilogy(u, schedule.beta, label=name)
        ax_alpha_bar.plot(u, schedule.alpha_bar, label=name)
        with np.errstate(divide="ignore"):
            ax_snr.plot(u, np.log(schedule.snr), label=name)
    ax_beta.set(title="β_t", xlabel="t / T")
    ax_alpha_bar.set(title="ᾱ_t", xlabel="t / T", ylim=(0, 1.02))
    ax_snr.set(title="log SNR(t) = log ᾱ_t/(1-ᾱ_t)", xlabel="t / T")
    for ax in (ax_beta, ax_alpha_bar, ax_snr):
        ax.grid(alpha=0.3)
    ax_alpha_bar.legend(fontsize=8)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=110)
        plt.close(fig)
    return fig


def main(argv: list[str] | None = None) -> int:
    """``python -m ddpm_math.viz OUT.png [T]``."""
    args = sys.argv[1:] if argv is None else argv
    if not args or len(args) > 2:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    T = int(args[1]) if len(args) == 2 else 1000
    plot_schedules(builtin_schedules(T), args[0])
    print(f"wrote {args[0]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
