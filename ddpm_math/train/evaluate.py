"""Evaluate a trained model: the variational bound on held-out data, and samples as a PNG grid.

The bound is DDPM eq. (5) in bits/dim, estimated per example by
:meth:`GaussianDiffusion.calc_bpd_loop` (one x_t ~ q(x_t | x_0) per t) and averaged over the
held-out examples: the total L_T + Σ_{t>1} L_{t-1} + L_0, with the prior term L_T, the decoder
term L_0 and the sum of the KL terms reported apart.
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from ddpm_math.diffusion.gaussian_diffusion import GaussianDiffusion
from ddpm_math.diffusion.validation import check_data, check_device, check_finite, check_flag

__all__ = ["heldout_bound", "sample", "save_grid", "save_points"]


def heldout_bound(diffusion: GaussianDiffusion, model: Callable, x0: torch.Tensor, *,
                  batch_size: int = 256, generator: torch.Generator | None = None,
                  progress: bool = False) -> dict[str, float | list[float]]:
    """Mean over ``x0`` of the bound's terms in bits/dim: ``total``, ``prior`` (L_T),
    ``decoder`` (L_0), ``kl`` (Σ_{t>1} L_{t-1}), with their standard errors and the mean of each
    term ``per_t`` (index t is the paper's step t+1).

    Input contract: ``diffusion`` a GaussianDiffusion; ``x0`` a floating tensor [N >= 1, ...]
    (its values as :meth:`GaussianDiffusion.calc_bpd_loop` requires); ``batch_size`` an
    integer >= 1; ``model``, ``generator``, ``progress`` as there. Otherwise a
    ``TypeError``/``ValueError`` naming the parameter.
    """
    _check_diffusion(diffusion)
    x0 = check_data(x0, "x0")
    batch_size = _check_int(batch_size, "batch_size", 1)
    rows: dict[str, list[torch.Tensor]] = {"total": [], "prior": [], "decoder": [], "kl": [],
                                           "vb": []}
    chunks = torch.split(x0, batch_size)
    for chunk in tqdm(chunks, desc="bound", unit="batch", disable=not progress, leave=False):
        out = diffusion.calc_bpd_loop(model, chunk, generator=generator, progress=progress)
        rows["total"].append(out["total_bpd"])
        rows["prior"].append(out["prior_bpd"])
        rows["decoder"].append(out["vb"][:, 0])
        rows["kl"].append(out["vb"][:, 1:].sum(dim=1))
        rows["vb"].append(out["vb"])
    result: dict[str, float | list[float]] = {"n": int(x0.shape[0])}
    for name in ("total", "prior", "decoder", "kl"):
        values = torch.cat(rows[name]).double()
        result[name] = float(values.mean())
        spread = float(values.std()) if values.numel() > 1 else 0.0
        result[f"{name}_stderr"] = spread / math.sqrt(values.numel())
    result["per_t"] = torch.cat(rows["vb"]).double().mean(dim=0).tolist()
    return result


def _check_diffusion(diffusion) -> GaussianDiffusion:
    if not isinstance(diffusion, GaussianDiffusion):
        raise TypeError(f"diffusion must be a GaussianDiffusion, got {type(diffusion).__name__}")
    return diffusion


def _check_int(value, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_path(path, name: str = "path") -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{name} must be a file path (str or os.PathLike), got "
                        f"{type(path).__name__} {path!r}")
    return Path(path)


@torch.no_grad()
def sample(diffusion: GaussianDiffusion, model: Callable, shape: tuple[int, ...], *,
           sampler: str = "ancestral", steps: int | None = None, seed: int = 0,
           device: torch.device | str = "cpu", progress: bool = False,
           clip_denoised: bool = True) -> torch.Tensor:
    """Draw ``shape[0]`` samples by ancestral sampling (Algorithm 2) or DDIM, on ``steps``
    evenly spaced steps of the model's T (all of them by default). ``clip_denoised`` clips
    each x̂_0 to [-1, 1], right for images and wrong for data that extend beyond it.

    Input contract: ``diffusion`` a GaussianDiffusion; ``sampler`` 'ancestral' or 'ddim';
    ``steps`` None or an integer in [1, T]; ``seed`` an integer >= 0; ``device`` a device torch
    has; ``progress`` and ``clip_denoised`` bools; ``model`` and ``shape`` as
    :meth:`GaussianDiffusion.p_sample_loop` takes them. Otherwise a ``TypeError``/
    ``ValueError`` naming the parameter.
    """
    _check_diffusion(diffusion)
    if sampler not in ("ancestral", "ddim"):
        raise ValueError(f"sampler must be 'ancestral' or 'ddim', got {sampler!r}")
    num_steps = diffusion.num_steps
    if steps is not None:
        steps = _check_int(steps, "steps", 1)
    seed = _check_int(seed, "seed", 0)
    device = check_device(device) or torch.device("cpu")
    check_flag(progress, "progress")
    if steps is not None and not 1 <= steps <= num_steps:
        raise ValueError(f"steps must lie in [1, {num_steps}] (the model's T), got {steps}")
    if steps is not None and steps != num_steps:
        spacing = f"ddim{steps}" if sampler == "ddim" and num_steps % steps == 0 else str(steps)
        diffusion = diffusion.respaced(spacing)
    generator = torch.Generator(device).manual_seed(seed)
    loop = diffusion.ddim_sample_loop if sampler == "ddim" else diffusion.p_sample_loop
    return loop(model, shape, generator=generator, progress=progress, device=device,
                dtype=torch.float32, clip_denoised=clip_denoised)


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """[-1, 1] images [N, C, H, W] as uint8 [N, H, W, C] on the 8-bit grid (k = (x+1)·127.5)."""
    values = ((images.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round()
    return values.to(torch.uint8).permute(0, 2, 3, 1).numpy()


def save_grid(images: torch.Tensor, path: str | Path, *, nrow: int | None = None,
              scale: int | None = None, padding: int = 1) -> Path:
    """Write [-1, 1] images [N, C, H, W] as one PNG grid (``nrow`` per row, √N by default),
    enlarged ``scale`` times by pixel repetition (so that 8×8 digits are visible).

    Input contract: ``images`` a finite floating tensor [N >= 1, 1 or 3, H, W] (values outside
    [-1, 1] are clipped); ``nrow`` and ``scale`` None or integers >= 1; ``padding`` an integer
    >= 0; ``path`` a str or os.PathLike whose extension is an image format PIL writes.
    Otherwise a ``TypeError``/``ValueError`` naming the parameter.
    """
    from PIL import Image

    images = check_data(images, "images")
    if images.ndim != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"images must have shape [N, 1 or 3, H, W], got {tuple(images.shape)}")
    check_finite(images, "images")
    nrow = None if nrow is None else _check_int(nrow, "nrow", 1)
    scale = None if scale is None else _check_int(scale, "scale", 1)
    padding = _check_int(padding, "padding", 0)
    path = _check_path(path)
    Image.init()
    if path.suffix.lower() not in Image.registered_extensions():
        raise ValueError(f"path must end in an image extension such as .png, got {str(path)!r}")
    pixels = to_uint8(images)
    count, height, width, channels = pixels.shape
    nrow = nrow or max(1, math.ceil(math.sqrt(count)))
    rows = math.ceil(count / nrow)
    scale = scale or max(1, 64 // max(height, width))
    canvas = np.full((rows * (height + padding) + padding, nrow * (width + padding) + padding,
                      channels), 255, dtype=np.uint8)
    for index in range(count):
        top = padding + (index // nrow) * (height + padding)
        left = padding + (index % nrow) * (width + padding)
        canvas[top:top + height, left:left + width] = pixels[index]
    canvas = canvas.repeat(scale, axis=0).repeat(scale, axis=1)
    Image.fromarray(canvas[..., 0] if channels == 1 else canvas).save(path)
    return path


def save_points(points: torch.Tensor, path: str | Path, reference: torch.Tensor | None = None
                ) -> Path:
    """Scatter plot of 2-D samples [N, 2] (beside held-out ``reference`` points) as a PNG.

    Input contract: ``points`` (and ``reference`` unless None) a finite floating tensor
    [N >= 1, 2]; ``path`` a str or os.PathLike. Otherwise a ``TypeError``/``ValueError``
    naming the parameter.
    """
    for name, value in (("points", points), ("reference", reference)):
        if value is None and name == "reference":
            continue
        check_data(value, name)
        if value.ndim != 2 or value.shape[1] != 2:
            raise ValueError(f"{name} must have shape [N, 2], got {tuple(value.shape)}")
        check_finite(value, name)
    path = _check_path(path)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 5))
    if reference is not None:
        ax.scatter(*reference.cpu().T.numpy(), s=3, alpha=0.3, label="held-out data")
    ax.scatter(*points.detach().cpu().T.numpy(), s=3, alpha=0.6, label="samples")
    ax.set_aspect("equal")
    ax.legend(loc="upper right")
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path
