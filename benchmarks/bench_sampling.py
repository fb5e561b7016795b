"""The sampling loop: GaussianDiffusion's ancestral and DDIM loops against a hand-written
baseline loop (Python-float coefficients, DDPM eq. 11 directly), with a zero model (the loop's
own overhead) and a small convolutional model (a loop dominated by the network).

Ratios: engine / baseline within one group and one parameter set, measured in the same run.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from benchmarks.conftest import DEVICE_PARAMS, synchronised
from ddpm_math import GaussianDiffusion, NoiseSchedule

T = 50
SHAPE = (3, 16, 16)


def zero_model(x_t, t):
    return torch.zeros_like(x_t)


def conv_model(device, dtype):
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 32, 3, padding=1), torch.nn.SiLU(), torch.nn.Conv2d(32, 3, 3, padding=1)
    ).to(device=device, dtype=dtype)
    return lambda x_t, t: 0.1 * net(x_t)


MODELS = {"zero": lambda device, dtype: zero_model, "conv": conv_model}


def baseline_ancestral(model, schedule: NoiseSchedule, x_T, generator):
    """DDPM Algorithm 2 with eq. (11) written out and σ_t² = β̃_t, Python floats per step."""
    x = x_T
    with torch.no_grad():
        for index in range(schedule.num_steps - 1, -1, -1):  # t = T-1, ..., 0
            t = torch.full((x.shape[0],), index, dtype=torch.int64, device=x.device)
            eps = model(x, t)
            beta = float(schedule.beta[index])
            eps_coef = beta / math.sqrt(float(schedule.one_minus_alpha_bar[index]))
            x = (x - eps_coef * eps) / math.sqrt(1.0 - beta)
            if index > 0:
                z = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
                x = x + math.sqrt(float(schedule.beta_tilde[index])) * z
    return x


def setup(device, dtype, batch, model_name):
    schedule = NoiseSchedule.linear(T, rescale_to_1000=True)
    model = MODELS[model_name](device, dtype)
    x_T = torch.randn((batch, *SHAPE), generator=torch.Generator().manual_seed(1),
                      dtype=dtype).to(device)
    return schedule, model, x_T


PARAMS = [
    pytest.mark.parametrize("device", DEVICE_PARAMS),
    pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"]),
    pytest.mark.parametrize("batch", [1, 16]),
    pytest.mark.parametrize("model_name", list(MODELS)),
]


def apply(marks):
    def decorate(fn):
        for mark in reversed(marks):
            fn = mark(fn)
        return fn

    return decorate


@pytest.mark.benchmark(group="ancestral_loop")
@apply(PARAMS)
@pytest.mark.parametrize("impl", ["engine", "baseline"])
def test_ancestral_loop(benchmark, record, device, dtype, batch, model_name, impl):
    schedule, model, x_T = setup(device, dtype, batch, model_name)
    diffusion = GaussianDiffusion(schedule)
    record(device, impl=impl, dtype=dtype, batch=batch, model=model_name, T=T, shape=SHAPE)

    def run(seed=2):
        generator = torch.Generator(device=device).manual_seed(seed)
        if impl == "engine":
            return diffusion.p_sample_loop(model, x_T.shape, noise=x_T, generator=generator,
                                           clip_denoised=False)
        return baseline_ancestral(model, schedule, x_T, generator)

    sample = benchmark(synchronised(run, device))
    # Same noise stream, same algorithm: the two implementations agree.
    other = baseline_ancestral(model, schedule, x_T,
                               torch.Generator(device=device).manual_seed(2))
    tol = 1e-4 if dtype == torch.float32 else 1e-10
    np.testing.assert_allclose(sample.double().cpu().numpy(), other.double().cpu().numpy(),
                               rtol=tol, atol=tol)


@pytest.mark.benchmark(group="ddim_loop")
@apply(PARAMS)
def test_ddim_loop(benchmark, record, device, dtype, batch, model_name):
    schedule, model, x_T = setup(device, dtype, batch, model_name)
    diffusion = GaussianDiffusion(schedule)
    record(device, impl="engine", dtype=dtype, batch=batch, model=model_name, T=T, shape=SHAPE)
    sample = benchmark(synchronised(diffusion.ddim_sample_loop, device), model, x_T.shape,
                       noise=x_T, clip_denoised=False)
    assert sample.shape == x_T.shape and torch.isfinite(sample).all()
    if model_name == "zero":  # ε̂ = 0: each DDIM step (η = 0) scales by √ᾱ_{t-1}/√ᾱ_t, so
        expected = x_T / math.sqrt(schedule.alpha_bar[-1])  # the product telescopes to 1/√ᾱ_T
        tol = 1e-5 if dtype == torch.float32 else 1e-12
        torch.testing.assert_close(sample, expected, rtol=tol, atol=tol)
