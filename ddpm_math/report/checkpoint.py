"""A trained checkpoint in the report: the per-t terms of its bound on held-out data (the shape
of Improved DDPM's figure 2) and a grid of its samples."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ddpm_math.report.figures import pyplot
from ddpm_math.report.model import Figure

__all__ = ["checkpoint_section"]


def checkpoint_section(path: str | Path, out: Path, *, quick: bool,
                       progress: bool = False) -> tuple[dict, list[Figure]]:
    """(summary, figures) for the checkpoint at ``path`` (a run directory or one step)."""
    from ddpm_math.train.data import load_dataset
    from ddpm_math.train.evaluate import heldout_bound, sample, save_grid, save_points
    from ddpm_math.train.run import load_trained

    config, diffusion, network, data_shape, step = load_trained(path, "cpu")
    dataset = load_dataset(config.data, seed=config.seed)
    n = 8 if quick else 64
    heldout = dataset.heldout[:n]
    bound = heldout_bound(diffusion, network, heldout, batch_size=n,
                          generator=torch.Generator().manual_seed(0), progress=progress)
    figures = [_terms_figure(np.asarray(bound["per_t"]), bound, config.data, step, out)]
    steps = min(diffusion.num_steps, 50 if quick else 250)
    images = len(data_shape) == 3
    x = sample(diffusion, network, (16 if quick else 64, *data_shape), steps=steps, seed=0,
               progress=progress, clip_denoised=images)
    if images:
        save_grid(x, out / "samples.png")
    else:
        save_points(x, out / "samples.png", reference=dataset.heldout)
    figures.append(Figure("samples.png", "Samples", f"{x.shape[0]} ancestral samples of the "
                          f"checkpoint (EMA weights, step {step}) on {steps} evenly spaced of "
                          f"its T = {diffusion.num_steps} steps."))
    summary = {"path": str(path), "data": config.data, "model": config.model, "step": step,
               "T": diffusion.num_steps, "n": bound["n"],
               **{k: bound[k] for k in ("total", "prior", "decoder", "kl", "total_stderr")}}
    return summary, figures


def _terms_figure(per_t: np.ndarray, bound: dict, data: str, step: int, out: Path) -> Figure:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 3.6))
    t = np.arange(1, per_t.size + 1)
    ax.semilogy(t, np.maximum(per_t, 1e-12), label="L_{t-1} (t > 1), L_0 at t = 1")
    ax.axhline(bound["prior"], color="grey", ls="--", lw=0.8, label="L_T (prior)")
    ax.set(xlabel="t (paper step)", ylabel="bits/dim", title=f"terms of the bound, {data}, "
           f"step {step}: total {bound['total']:.3f} bits/dim")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "bound_terms.png", dpi=100)
    plt.close(fig)
    return Figure("bound_terms.png", "Terms of the bound per t", "Mean over held-out examples "
                  "of each term of DDPM eq. (5) in bits/dim against t (the shape of Improved "
                  "DDPM's figure 2: the first few terms carry most of the bound).")
