"""Our sampling loops against diffusers' (ddpm_math.bench.peers), from the same x_T and draws.

The model depends on t (a timestep mistake changes its output) and is called through the facade
(``p_sample_loop``, ``respaced('ddimN').ddim_sample_loop``) and through the peers' wrappers.

Tolerances (rtol = atol): 8 ulps per step, summed over the steps: a step rounds a few times on
values of size about 1 (x̂_0 is clipped to [-1, 1], x_t stays O(1)) and the chain does not
amplify the difference. float64: 8·1000·2⁻⁵² = 1.8e-12 for T = 1000 (measured 3.5e-13 over six
seeds), 8·50·2⁻⁵² = 8.9e-14 for 50 DDIM steps (measured 5e-15); float32: 8·1000·2⁻²³ = 9.5e-4
(measured 3.7e-5), 8·50·2⁻²³ = 4.8e-5 (measured 3.5e-6); diffusers 0.42.1, torch 2.13, CPU.
The float64 runs rebuild diffusers' float32 tables in float64 (``tables_dtype``); one test pins
what its own float32 tables cost.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch

from ddpm_math import GaussianDiffusion, NoiseSchedule
from ddpm_math.bench import peers
from ddpm_math.diffusion.respace import space_timesteps
from ddpm_math.testing.tolerances import Tolerance, assert_close

diffusers = pytest.importorskip("diffusers")

T = 1000
SHAPE = (4, 3, 8, 8)
DDIM_STEPS = 50
EPS = {torch.float64: 2.0**-52, torch.float32: 2.0**-23}


def steps_tolerance(dtype: torch.dtype, num_steps: int) -> Tolerance:
    """8 ulps of an O(1) value per step, over ``num_steps`` steps (module docstring)."""
    bound = 8 * num_steps * EPS[dtype]
    return Tolerance(rtol=bound, atol=bound)


def eps_model(x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """ε̂(x_t, t), nonlinear in x_t and visibly t-dependent (index t off by one moves ε̂ by
    about 1e-2), in x_t's dtype."""
    t_scaled = t.to(x_t.dtype).view(-1, *([1] * (x_t.ndim - 1)))
    return torch.tanh(x_t * (1.0 + t_scaled / T)) + 0.1 * torch.sin(0.1 * t_scaled)


def off_by_one(x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """The bug a 1-based/0-based mix-up makes: the model sees index t - 1."""
    return eps_model(x_t, (t - 1).clamp(min=0))


@pytest.fixture(scope="module")
def schedule() -> NoiseSchedule:
    return NoiseSchedule.linear(T)  # Ho et al.: β from 1e-4 to 0.02, T = 1000


def x_T_of(dtype: torch.dtype, seed: int = 1) -> torch.Tensor:
    return torch.randn(SHAPE, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def generator() -> torch.Generator:
    return torch.Generator().manual_seed(2)


def ours_ddpm(schedule, x_T, model=eps_model):
    return GaussianDiffusion(schedule).p_sample_loop(model, x_T.shape, noise=x_T,
                                                     generator=generator())


def ours_ddim(schedule, x_T, eta=0.0, num_steps=DDIM_STEPS, model=eps_model):
    respaced = GaussianDiffusion(schedule).respaced(f"ddim{num_steps}")
    return respaced.ddim_sample_loop(model, x_T.shape, noise=x_T, eta=eta, generator=generator())


def tables_for(dtype):
    """float64 runs use float64 tables (the comparison is of the loops); float32 diffusers' own."""
    return torch.float64 if dtype == torch.float64 else None


# -- the noise stream ----------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
def test_diffusers_draws_the_stream_our_loop_draws(dtype):
    """Ours: ``buf.normal_(0, σ, generator)``; diffusers: ``randn_tensor(shape, generator) * σ``
    (torch.randn): the same normals in the same order, scaled by σ (1-ulp rounding apart)."""
    from diffusers.utils.torch_utils import randn_tensor

    sigma, theirs_gen, ours_gen = 0.37, generator(), generator()
    for _ in range(3):  # consecutive draws stay aligned
        theirs = sigma * randn_tensor(SHAPE, generator=theirs_gen, dtype=dtype)
        ours = torch.empty(SHAPE, dtype=dtype).normal_(0.0, sigma, generator=ours_gen)
        assert_close(ours, theirs, Tolerance(rtol=4 * EPS[dtype], atol=0.0))


# -- DDPM ancestral sampling ---------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=str)
def test_ddpm_loop_matches_p_sample_loop(schedule, dtype):
    x_T = x_T_of(dtype)
    ours = ours_ddpm(schedule, x_T)
    theirs = peers.ddpm_loop(eps_model, schedule, x_T, generator(),
                             tables_dtype=tables_for(dtype))
    assert theirs.dtype == dtype and theirs.shape == x_T.shape
    assert_close(theirs, ours, steps_tolerance(dtype, T))


def test_ddpm_comparison_fails_for_an_off_by_one_timestep(schedule):
    """Negative control: the same comparison catches a model called with index t - 1."""
    x_T = x_T_of(torch.float64)
    wrong = peers.ddpm_loop(off_by_one, schedule, x_T, generator(), tables_dtype=torch.float64)
    with pytest.raises(AssertionError):
        assert_close(wrong, ours_ddpm(schedule, x_T), steps_tolerance(torch.float64, T))


def test_ddpm_comparison_fails_for_another_noise_stream(schedule):
    """Negative control: a different seed (misaligned draws) fails too."""
    x_T = x_T_of(torch.float64)
    other = peers.ddpm_loop(eps_model, schedule, x_T, torch.Generator().manual_seed(3),
                            tables_dtype=torch.float64)
    with pytest.raises(AssertionError):
        assert_close(other, ours_ddpm(schedule, x_T), Tolerance(rtol=1e-3, atol=1e-3))


def test_float32_tables_limit_float64_agreement(schedule):
    """By construction: diffusers rounds β to float32 (``torch.tensor(trained_betas,
    dtype=torch.float32)``) and multiplies ᾱ in float32, so a float64 run with its own tables
    differs from ours far beyond float64 rounding, within what float32 tables explain."""
    x_T = x_T_of(torch.float64)
    ours = ours_ddpm(schedule, x_T)
    theirs = peers.ddpm_loop(eps_model, schedule, x_T, generator())
    scheduler = peers.ddpm_scheduler(schedule)
    assert scheduler.alphas_cumprod.dtype == torch.float32
    with pytest.raises(AssertionError):
        assert_close(theirs, ours, steps_tolerance(torch.float64, T))
    assert_close(theirs, ours, steps_tolerance(torch.float32, T))


# -- DDIM on a respaced schedule -----------------------------------------------------------------


@pytest.mark.parametrize("num_steps", [10, 50, 100, 250, 1000])
def test_leading_spacing_keeps_our_ddim_steps_when_n_divides_t(schedule, num_steps):
    """'leading', steps_offset 0: 0, s, 2s, ... with s = T // N, our "ddimN" when N | T."""
    kept = peers.ddim_scheduler(schedule, num_steps).timesteps.tolist()[::-1]
    assert kept == space_timesteps(T, f"ddim{num_steps}")


def test_leading_spacing_differs_from_ours_when_n_does_not_divide_t(schedule):
    """N = 30: diffusers strides by 1000 // 30 = 33 (0..957); ours by the smallest stride with
    exactly 30 steps, 34 (0..986). ddim_loop refuses such N rather than compare other steps."""
    kept = peers.ddim_scheduler(schedule, 30).timesteps.tolist()[::-1]
    assert kept == list(range(0, 990, 33))
    assert space_timesteps(T, "ddim30") == list(range(0, 1000, 34))
    with pytest.raises(ValueError, match="num_steps must be an integer in"):
        peers.ddim_loop(eps_model, schedule, x_T_of(torch.float32), 30)


@pytest.mark.parametrize("eta", [0.0, 1.0])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=str)
def test_ddim_loop_matches_respaced_ddim_sample_loop(schedule, dtype, eta):
    x_T = x_T_of(dtype)
    ours = ours_ddim(schedule, x_T, eta)
    theirs = peers.ddim_loop(eps_model, schedule, x_T, DDIM_STEPS, eta, generator(),
                             tables_dtype=tables_for(dtype))
    assert theirs.dtype == dtype and theirs.shape == x_T.shape
    assert_close(theirs, ours, steps_tolerance(dtype, DDIM_STEPS))


def test_ddim_comparison_fails_for_an_off_by_one_timestep(schedule):
    """Negative control: the model called with index t - 1 in diffusers' DDIM loop."""
    x_T = x_T_of(torch.float64)
    wrong = peers.ddim_loop(off_by_one, schedule, x_T, DDIM_STEPS, tables_dtype=torch.float64)
    with pytest.raises(AssertionError):
        assert_close(wrong, ours_ddim(schedule, x_T), steps_tolerance(torch.float64, DDIM_STEPS))


def test_ddim_pipeline_default_uses_the_unclipped_eps(schedule):
    """By design: with clipping ours forms ε̂ from the clipped x̂_0; diffusers' DDIMPipeline
    (use_clipped_model_output=None, i.e. False) keeps the raw model output as ε̂. x̂_0 is
    clipped at the first steps (it is x_t amplified by 1/√ᾱ_t, about 157 near t = T), so the
    two samplers differ at order 1, far beyond any rounding."""
    x_T = x_T_of(torch.float64)
    ours = ours_ddim(schedule, x_T)
    raw_eps = peers.ddim_loop(eps_model, schedule, x_T, DDIM_STEPS, tables_dtype=torch.float64,
                              use_clipped_model_output=False)
    assert float((raw_eps - ours).abs().max()) > 0.1


def test_linspace_spacing_keeps_our_steps_but_not_our_chain(schedule):
    """'linspace' keeps our single-section steps round(linspace(0, T-1, N)), but DDIMScheduler
    steps t → t - T // N rather than to the previous kept step: a different sampler."""
    scheduler = peers.ddim_scheduler(schedule, DDIM_STEPS, torch.float64, "linspace")
    assert scheduler.timesteps.tolist()[::-1] == space_timesteps(T, str(DDIM_STEPS))
    x = x_T = x_T_of(torch.float64)
    with torch.no_grad():
        for t in scheduler.timesteps:
            x = scheduler.step(eps_model(x, t.expand(x.shape[0])), t, x,
                               use_clipped_model_output=True).prev_sample
    respaced = GaussianDiffusion(schedule).respaced(str(DDIM_STEPS))
    ours = respaced.ddim_sample_loop(eps_model, x_T.shape, noise=x_T)
    with pytest.raises(AssertionError):
        assert_close(x, ours, steps_tolerance(torch.float32, DDIM_STEPS))


# -- the wrappers' own contract ------------------------------------------------------------------


def test_available_and_version():
    assert peers.available()
    assert peers.version() == diffusers.__version__


def test_missing_diffusers_names_the_extra(monkeypatch, schedule):
    monkeypatch.setitem(sys.modules, "diffusers", None)  # import diffusers raises ImportError
    peers.available.cache_clear()
    try:
        assert not peers.available()
        with pytest.raises(ImportError, match=r'pip install "ddpm_math\[peers\]"'):
            peers.ddpm_loop(eps_model, schedule, x_T_of(torch.float32))
    finally:
        peers.available.cache_clear()


@pytest.mark.parametrize("num_steps", [0, 1001, 2.0, True])
def test_ddim_loop_rejects_bad_num_steps(schedule, num_steps):
    with pytest.raises(ValueError, match="num_steps"):
        peers.ddim_loop(eps_model, schedule, x_T_of(torch.float32), num_steps)


def test_wrappers_reject_a_bare_beta_array():
    with pytest.raises(TypeError, match="schedule must be a NoiseSchedule"):
        peers.ddpm_loop(eps_model, np.linspace(1e-4, 0.02, 10), x_T_of(torch.float32))
