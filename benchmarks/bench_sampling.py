"""The sampling loop: GaussianDiffusion's ancestral and DDIM loops against a hand-written
baseline loop (Python-float coefficients, DDPM eq. 11 directly), with a zero model (the loop's
own overhead) and a small convolutional model (a loop dominated by the network).

Ratios: engine / baseline within one group and one parameter set, measured in the same run.
Group ``loop_vs_bare`` (one thread, the tiny ε-model, T = 1000): the fast loop, the kernel
loop it replaced and a floor loop against the same number of bare model calls:
``pytest benchmarks/bench_sampling.py --benchmark-enable --benchmark-group-by=group,param:sampler
-k loop_vs_bare``; loop/bare is the ratio of the mean (or min) times of two rows.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from benchmarks.conftest import DEVICE_PARAMS, synchronised
from ddpm_math import GaussianDiffusion, NoiseSchedule
from ddpm_math.bench import loops
from ddpm_math.diffusion import sampling
from ddpm_math.diffusion.reverse import p_mean_variance

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
        return loops.handwritten_ancestral(model, schedule, x_T, generator)

    sample = benchmark(synchronised(run, device))
    # Same noise stream, same algorithm: the two implementations agree.
    other = loops.handwritten_ancestral(model, schedule, x_T,
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


# -- the loop against bare model calls (issue 9): tiny ε-model, one thread, T = 1000 ----------

T_TINY = 1000
TINY_SHAPE = (16, 3, 8, 8)
T_CHECK = 20  # the equivalence check of each loop against the kernel loop, on a short schedule


def engine_loop(diffusion, model, x_T, sampler, impl, generator):
    """The facade's fast loop, or the kernel composition it replaced (sampling.py)."""
    if impl == "fast":
        if sampler == "ancestral":
            return diffusion.p_sample_loop(model, x_T.shape, noise=x_T, generator=generator)
        return diffusion.ddim_sample_loop(model, x_T.shape, noise=x_T, generator=generator)
    def denoise(x_t, t):
        return p_mean_variance(diffusion.coefficients(x_t), model(x_t, t), x_t, t,
                               diffusion.mean_type, diffusion.var_type, clip_denoised=True)

    if sampler == "ancestral":
        return sampling.ancestral_loop(denoise, x_T, diffusion.num_steps, generator)
    return sampling.ddim_loop(denoise, diffusion.coefficients(x_T), x_T, 0.0, generator)


@pytest.mark.benchmark(group="loop_vs_bare")
@pytest.mark.parametrize("sampler", ["ancestral", "ddim"])
@pytest.mark.parametrize("impl", ["bare", "floor", "fast", "kernel"])
def test_loop_vs_bare(benchmark, record, one_thread, sampler, impl):
    """loop/bare = this row's time / the bare row's, same run; overhead per step in µs =
    (loop - bare)/T. The default p_sample_loop / ddim_sample_loop (clip_denoised, η = 0)."""
    model = loops.tiny_eps_model(TINY_SHAPE[0]).model
    x_T = torch.randn(TINY_SHAPE, generator=torch.Generator().manual_seed(1))
    diffusion = GaussianDiffusion(NoiseSchedule.linear(T_TINY))
    record("cpu", impl=impl, sampler=sampler, model="tiny_eps", T=T_TINY, shape=TINY_SHAPE,
           dtype=torch.float32)

    def run():
        generator = torch.Generator().manual_seed(2)
        if impl == "bare":
            return loops.bare_calls(model, x_T, T_TINY)
        if impl == "floor":
            return loops.floor_loop(model, x_T, T_TINY, generator)
        return engine_loop(diffusion, model, x_T, sampler, impl, generator)

    result = benchmark(run)
    assert result.shape == x_T.shape and torch.isfinite(result).all()
    if impl in ("fast", "kernel"):  # both loops give the same samples (short schedule)
        short = GaussianDiffusion(NoiseSchedule.linear(T_CHECK, rescale_to_1000=False))
        fast, kernel = (engine_loop(short, model, x_T, sampler, name, torch.Generator()
                                    .manual_seed(2)) for name in ("fast", "kernel"))
        scale = float(kernel.abs().max())  # float32: 2e-5 of the samples' size (test_fast_loop)
        torch.testing.assert_close(fast, kernel, rtol=2e-5, atol=2e-5 * scale)


# -- the CIFAR-10 U-Net (35.7M parameters): batch 1 and 64 on CPU, 256 under bf16 on a GPU -----

UNET_CASES = [
    pytest.param("cpu", 1, None, id="cpu-b1"),
    pytest.param("cpu", 64, None, id="cpu-b64"),
    pytest.param("cuda", 256, torch.bfloat16, id="cuda-b256-bf16", marks=pytest.mark.gpu),
]
#: Model calls per timed loop: a CPU step of the U-Net takes seconds; loop/bare is per step.
UNET_STEPS = {"cpu": 10, "cuda": 100}


@pytest.fixture(scope="module")
def unet_cache():
    return {}


@pytest.mark.benchmark(group="unet_loop_vs_bare")
@pytest.mark.parametrize("impl", ["bare", "ours", "bare_graph", "ours_graph"])
@pytest.mark.parametrize("device,batch,autocast_dtype", UNET_CASES)
def test_unet_loop_vs_bare(benchmark, record, unet_cache, device, batch, autocast_dtype, impl):
    """loop/bare of the CIFAR-10 U-Net: ``ours`` (p_sample_loop) against ``bare`` and, on a
    GPU, ``ours_graph`` (GraphSampler) against ``bare_graph`` (the model alone, graphed).
    Images/s of 1000-step sampling = batch / (1000 × the loop's seconds per step)."""
    if device == "cpu" and impl.endswith("graph"):
        pytest.skip("CUDA graphs need a GPU")
    if device == "cuda" and not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    # smoke run (timing disabled): the fewest steps that still run the loop's update (2), and 1
    # for batch 64 on a CPU, where one U-Net call takes about 15 s on 2 cores
    steps = UNET_STEPS[device] if not benchmark.disabled else (1 if batch > 8 else 2)
    key = (device, batch)
    if key not in unet_cache:
        unet_cache.clear()  # one U-Net in memory at a time
        unet_cache[key] = loops.unet_model("cifar10", batch, device)
    bench = unet_cache[key]
    diffusion = GaussianDiffusion(NoiseSchedule.linear(1000)).respaced([steps])
    x_T = torch.randn(bench.shape, generator=torch.Generator().manual_seed(1)).to(device)

    def model(x, t):
        with torch.autocast(torch.device(device).type, dtype=autocast_dtype or torch.bfloat16,
                            enabled=autocast_dtype is not None):
            return bench.model(x, t).float()

    record(device, impl=impl, model="cifar10", batch=batch, steps=steps,
           autocast=autocast_dtype, parameters=bench.parameters)
    if impl == "bare":
        run = lambda: loops.bare_calls(model, x_T, steps)  # noqa: E731
    elif impl == "bare_graph":
        replay = loops.graph_bare_calls(bench.model, x_T, autocast_dtype)
        run = lambda: replay(steps)  # noqa: E731
    elif impl == "ours":
        run = lambda: diffusion.p_sample_loop(  # noqa: E731
            model, bench.shape, noise=x_T, generator=torch.Generator(device).manual_seed(2))
    else:
        sampler = diffusion.graph_sampler(bench.model, bench.shape, device=device,
                                          autocast_dtype=autocast_dtype,
                                          generator=torch.Generator(device).manual_seed(2))
        run = lambda: sampler.sample(x_T)  # noqa: E731
    result = benchmark(synchronised(run, device))
    assert result.shape == bench.shape and bool(torch.isfinite(result).all())
    if not benchmark.disabled:
        benchmark.extra_info["images_per_s_1000_steps"] = batch / (
            1000 * benchmark.stats.stats.min / steps)
    if impl.startswith("ours"):  # the loop equals the kernel composition (sampling.py)
        generator = torch.Generator(device).manual_seed(2)
        wrapped = diffusion.timestep_map.wrap(model)

        def denoise(x_t, t):
            return p_mean_variance(diffusion.coefficients(x_t), wrapped(x_t, t), x_t, t,
                                   diffusion.mean_type, diffusion.var_type, True)

        if impl == "ours_graph":  # the graph's sampler drew on: rebuild it from seed 2
            sampler = diffusion.graph_sampler(bench.model, bench.shape, device=device,
                                              autocast_dtype=autocast_dtype,
                                              generator=torch.Generator(device).manual_seed(2))
            result = sampler.sample(x_T)
        else:
            result = run()
        kernel = sampling.ancestral_loop(denoise, x_T, diffusion.num_steps, generator)
        scale = float(kernel.abs().max())
        tol = 2e-5 if autocast_dtype is None else 2e-2  # float32; bf16 model rounding
        torch.testing.assert_close(result, kernel, rtol=tol, atol=tol * scale)
