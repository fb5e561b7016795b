"""Evaluation helpers: the held-out bound's aggregation, sampling arguments, the PNG grid."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from ddpm_math import GaussianDiffusion, NoiseSchedule
from ddpm_math.train.evaluate import heldout_bound, sample, save_grid


def t_dependent_model(x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """ε̂ = 0.1·(t+1)·x_t: depends on t, so a wrong timestep changes every term."""
    return 0.1 * (t + 1).to(x_t.dtype).view(-1, *([1] * (x_t.ndim - 1))) * x_t


def test_heldout_bound_is_the_mean_of_calc_bpd_loop_over_batches():
    diffusion = GaussianDiffusion(NoiseSchedule.linear(25, rescale_to_1000=True))
    g = torch.Generator().manual_seed(0)
    x0 = torch.randint(0, 256, (10, 1, 4, 4), generator=g).double() / 127.5 - 1
    result = heldout_bound(diffusion, t_dependent_model, x0, batch_size=4,
                           generator=torch.Generator().manual_seed(1))
    # the same draws in the same order: one call per chunk of 4, 4, 2
    g = torch.Generator().manual_seed(1)
    outs = [diffusion.calc_bpd_loop(t_dependent_model, chunk, generator=g)
            for chunk in torch.split(x0, 4)]
    total = torch.cat([o["total_bpd"] for o in outs])
    vb = torch.cat([o["vb"] for o in outs])
    assert result["n"] == 10
    assert result["total"] == pytest.approx(float(total.mean()), rel=1e-12)
    assert result["decoder"] == pytest.approx(float(vb[:, 0].mean()), rel=1e-12)
    assert result["kl"] == pytest.approx(float(vb[:, 1:].sum(1).mean()), rel=1e-12)
    assert result["total_stderr"] == pytest.approx(float(total.std() / np.sqrt(10)), rel=1e-9)
    assert result["per_t"] == pytest.approx(vb.mean(0).tolist(), rel=1e-12)
    assert result["total"] == pytest.approx(result["prior"] + result["decoder"] + result["kl"],
                                            rel=1e-12)


def test_sample_checks_its_arguments():
    diffusion = GaussianDiffusion(NoiseSchedule.linear(25, rescale_to_1000=True))
    with pytest.raises(ValueError, match="sampler"):
        sample(diffusion, t_dependent_model, (1, 1, 4, 4), sampler="euler")
    with pytest.raises(ValueError, match="steps"):
        sample(diffusion, t_dependent_model, (1, 1, 4, 4), steps=26)
    x = sample(diffusion, t_dependent_model, (3, 1, 4, 4), sampler="ddim", steps=5)
    assert x.shape == (3, 1, 4, 4) and torch.isfinite(x).all()
    again = sample(diffusion, t_dependent_model, (3, 1, 4, 4), sampler="ddim", steps=5)
    assert torch.equal(x, again)  # seeded


def test_grid_places_each_image_and_enlarges_it(tmp_path):
    # image 0 black, image 1 white, image 2 a left-to-right ramp of 8-bit values 0, 85, 170, 255
    ramp = torch.tensor([0.0, 85.0, 170.0, 255.0]) / 127.5 - 1
    images = torch.stack([torch.full((1, 4, 4), -1.0), torch.full((1, 4, 4), 1.0),
                          ramp.expand(1, 4, 4)])
    path = save_grid(images, tmp_path / "grid.png", nrow=2, scale=3, padding=1)
    pixels = np.asarray(Image.open(path))
    assert pixels.shape == (3 * (2 * 5 + 1), 3 * (2 * 5 + 1))  # 2 rows, 2 columns, padding 1
    cell = lambda row, col: pixels[3 * (1 + 5 * row):3 * (1 + 5 * row) + 12,  # noqa: E731
                                   3 * (1 + 5 * col):3 * (1 + 5 * col) + 12]
    assert (cell(0, 0) == 0).all() and (cell(0, 1) == 255).all()
    np.testing.assert_array_equal(cell(1, 0)[0], np.repeat([0, 85, 170, 255], 3))
    assert (pixels[:3] == 255).all()  # the padding is white


def test_grid_rejects_a_wrong_shape(tmp_path):
    with pytest.raises(ValueError, match="images must have shape"):
        save_grid(torch.zeros(2, 2, 4, 4), tmp_path / "x.png")
