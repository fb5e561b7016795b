"""Every bad input to the diffusion engine raises ValueError/TypeError naming what is wrong,
before any work is done where it can be checked up front."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ddpm_math.diffusion.gaussian_diffusion import GaussianDiffusion
from ddpm_math.diffusion.resample import LossSecondMomentResampler, UniformSampler
from ddpm_math.diffusion.respace import respaced_betas, space_timesteps
from ddpm_math.schedules import NoiseSchedule

SCHEDULE = NoiseSchedule.linear(10, 1e-3, 0.2)
#: Data on the 8-bit grid k/127.5 - 1 (k = 128), as the default discretised decoder requires;
#: 0 itself lies half a bin off the grid.
X = torch.full((2, 3, 4), 1 / 255, dtype=torch.float64)
T_OK = torch.tensor([0, 9])


def zero_model(x_t, t):
    return torch.zeros_like(x_t)


class CountingModel:
    """Counts its calls; returns ``output(x_t)``."""

    def __init__(self, output):
        self.output, self.calls = output, 0

    def __call__(self, x_t, t):
        self.calls += 1
        return self.output(x_t)


@pytest.mark.parametrize("kwargs, match", [
    ({"mean_type": "epsilon"}, r"mean_type must be one of 'eps', 'x0', 'xprev', 'v'"),
    ({"var_type": "small"}, "var_type must be one of"),
    ({"loss_type": "mse"}, "loss_type must be one of"),
    ({"decoder": "logistic"}, "decoder must be one of"),
    ({"loss_type": "weighted", "var_type": "learned"}, "weighted.*needs a fixed variance"),
    ({"timestep_sampler": UniformSampler(7)}, "timestep_sampler must sample from T = 10"),
])
def test_bad_options(kwargs, match):
    with pytest.raises(ValueError, match=match):
        GaussianDiffusion(SCHEDULE, **kwargs)


def test_bad_schedule():
    with pytest.raises(ValueError, match="betas must lie in"):
        GaussianDiffusion([0.1, 1.5])


@pytest.mark.parametrize("t, error, match", [
    (torch.tensor([0, 10]), ValueError, r"t must lie in \[0, T-1\] = \[0, 9\].*from 0 to 10"),
    (torch.tensor([-1, 3]), ValueError, r"t must lie in \[0, T-1\]"),
    (torch.tensor([0.0, 1.0]), TypeError, "t must hold integer timestep indices"),
    (torch.tensor([True, False]), TypeError, "t must hold integer"),
    (torch.tensor([0, 1, 2]), ValueError, r"t must have shape \[B\] = \(2,\)"),
    (torch.tensor([[0, 1]]), ValueError, r"t must have shape \[B\]"),
    ([0, 1], TypeError, "t must be an int64 tensor"),
])
def test_bad_timesteps(t, error, match):
    diffusion = GaussianDiffusion(SCHEDULE)
    for call in (lambda: diffusion.q_sample(X, t, X), lambda: diffusion.q_mean_variance(X, t),
                 lambda: diffusion.q_posterior(X, X, t), lambda: diffusion.x0_from_eps(X, t, X)):
        with pytest.raises(error, match=match):
            call()
    model = CountingModel(torch.zeros_like)
    with pytest.raises(error, match=match):
        diffusion.p_mean_variance(model, X, t)
    with pytest.raises(error, match=match):
        diffusion.training_losses(model, X, t=t)
    assert model.calls == 0  # rejected before the model ran


def test_bad_data():
    diffusion = GaussianDiffusion(SCHEDULE)
    with pytest.raises(TypeError, match="x0 must be a torch.Tensor"):
        diffusion.q_sample(np.zeros((2, 3)), T_OK, X)
    with pytest.raises(TypeError, match="x0 must have a floating dtype"):
        diffusion.q_sample(torch.zeros(2, 3, dtype=torch.int64), T_OK)
    with pytest.raises(ValueError, match=r"noise must have the shape of x0, \(2, 3, 4\)"):
        diffusion.q_sample(X, T_OK, torch.zeros(2, 3))
    with pytest.raises(ValueError, match=r"x0 must have the shape of x_t"):
        diffusion.q_posterior(torch.zeros(2, 3), X, T_OK)
    with pytest.raises(ValueError, match=r"x_t must have shape \[B, C, \.\.\.\]"):
        diffusion.p_mean_variance(zero_model, torch.zeros(2), T_OK)
    with pytest.raises(ValueError, match="at least one example"):
        diffusion.prior_bpd(torch.zeros(0, 3))
    with pytest.raises(ValueError, match=r"x0 must have the shape of x_t"):
        diffusion.vb_terms_bpd(zero_model, torch.zeros(2, 3), X, T_OK)
    with pytest.raises(TypeError, match="model must be callable"):
        diffusion.p_mean_variance("unet", X, T_OK)


@pytest.mark.parametrize("var_type, channels, want", [
    ("fixed_small", 6, r"model output must have C = 3 channels"),
    ("learned", 3, r"model output must have 2C \(mean and variance\) = 6 channels"),
    ("learned_range", 4, r"shape \(2, 6, 4\) for x_t of shape \(2, 3, 4\); got \(2, 4, 4\)"),
])
def test_wrong_number_of_model_channels(var_type, channels, want):
    # a learned variance is trained by 'hybrid' ('simple' is rejected by training_losses)
    loss_type = "simple" if var_type == "fixed_small" else "hybrid"
    diffusion = GaussianDiffusion(SCHEDULE, var_type=var_type, loss_type=loss_type)
    model = CountingModel(lambda x: torch.zeros(x.shape[0], channels, *x.shape[2:]))
    with pytest.raises(ValueError, match=want):
        diffusion.p_mean_variance(model, X, T_OK)
    with pytest.raises(ValueError, match=want):
        diffusion.p_sample_loop(model, (2, 3, 4))
    with pytest.raises(ValueError, match=want):
        diffusion.calc_bpd_loop(model, X)
    with pytest.raises(ValueError, match=want):
        diffusion.training_losses(model, X)
    assert model.calls == 4  # each stopped at its first model call


def test_model_returning_a_non_tensor_or_integers():
    diffusion = GaussianDiffusion(SCHEDULE)
    with pytest.raises(TypeError, match="model must return a torch.Tensor, got list"):
        diffusion.p_mean_variance(lambda x, t: [0.0], X, T_OK)
    with pytest.raises(TypeError, match="model output must have a floating dtype"):
        diffusion.p_mean_variance(lambda x, t: torch.zeros(x.shape, dtype=torch.int64), X, T_OK)


def test_nan_from_the_model():
    diffusion = GaussianDiffusion(SCHEDULE)
    nan_model = CountingModel(lambda x: torch.full_like(x, float("nan")))
    with pytest.raises(ValueError, match="model output holds NaN or inf"):
        diffusion.p_mean_variance(nan_model, X, T_OK)
    with pytest.raises(ValueError, match="model output holds NaN or inf"):
        diffusion.p_sample_loop(nan_model, (2, 3, 4))
    with pytest.raises(ValueError, match="model output holds NaN or inf"):
        diffusion.training_losses(nan_model, X)
    with pytest.raises(ValueError, match="model output holds NaN or inf"):
        diffusion.calc_bpd_loop(nan_model, X)
    assert nan_model.calls == 4  # caught at the first call of each

    def late_nan(x_t, t):  # finite at the first step, NaN later: caught once, at the end
        return torch.where(t.reshape(-1, 1, 1) < 5, float("nan"), 0.0).expand_as(x_t)

    with pytest.raises(ValueError, match="sampling produced NaN or inf"):
        diffusion.ddim_sample_loop(late_nan, (2, 3, 4))


@pytest.mark.parametrize("shape, error, match", [
    ((3,), ValueError, r"shape must be \[B, C, \.\.\.\]"),
    ((2, 0, 3), ValueError, "at least two positive sizes"),
    ("2,3", TypeError, "shape must be a sequence of integers"),
    ((2.0, 3), TypeError, "shape must be a sequence of integers"),
])
def test_bad_sample_shapes(shape, error, match):
    with pytest.raises(error, match=match):
        GaussianDiffusion(SCHEDULE).p_sample_loop(zero_model, shape)


def test_bad_initial_noise_and_eta():
    diffusion = GaussianDiffusion(SCHEDULE)
    with pytest.raises(ValueError, match=r"noise \(x_T\) must have shape \(2, 3, 4\)"):
        diffusion.p_sample_loop(zero_model, (2, 3, 4), noise=torch.zeros(2, 3, 5))
    with pytest.raises(ValueError, match=r"eta must lie in \[0, 1\]"):
        diffusion.ddim_sample_loop(zero_model, (2, 3, 4), eta=1.5)
    with pytest.raises(TypeError, match="eta must be a real number"):
        diffusion.ddim_sample_loop(zero_model, (2, 3, 4), eta="0")


def test_bad_respacing():
    with pytest.raises(ValueError, match="cannot keep exactly 7 of T = 10 steps"):
        space_timesteps(10, "ddim7")
    with pytest.raises(ValueError, match="'ddimN' needs N >= 1"):
        space_timesteps(10, "ddimx")
    with pytest.raises(ValueError, match=r"section_counts\[1\] = 6 exceeds the 5 steps"):
        space_timesteps(10, [2, 6])
    with pytest.raises(ValueError, match="section_counts must be positive integers"):
        space_timesteps(10, [0, 2])
    with pytest.raises(ValueError, match="section_counts must be 'ddimN'"):
        space_timesteps(10, "ten")
    with pytest.raises(ValueError, match=r"use_timesteps must be non-empty indices in \[0, 9\]"):
        respaced_betas(SCHEDULE, [3, 10])


def test_bad_sampler_arguments():
    with pytest.raises(ValueError, match="num_steps must be an integer >= 1"):
        UniformSampler(0)
    with pytest.raises(ValueError, match="uniform_prob must lie in"):
        LossSecondMomentResampler(5, uniform_prob=0.0)
    with pytest.raises(ValueError, match="history_per_term must be an integer"):
        LossSecondMomentResampler(5, history_per_term=0)
    sampler = LossSecondMomentResampler(5)
    with pytest.raises(ValueError, match=r"t must lie in \[0, 4\]"):
        sampler.update_with_losses(torch.tensor([5]), torch.tensor([1.0]))
    with pytest.raises(ValueError, match="t and losses must have the same length"):
        sampler.update_with_losses(torch.tensor([1, 2]), torch.tensor([1.0]))
    with pytest.raises(ValueError, match="batch_size must be an integer"):
        sampler.sample(0)
