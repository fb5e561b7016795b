"""The fast sampling loops equal the step-by-step kernel composition (fast_sampling.py).

GaussianDiffusion.p_sample_loop / ddim_sample_loop run the fused loop of
:mod:`ddpm_math.diffusion.fast_sampling` (per-step Python floats from one table). The claim: for
the same x_T and generator seed they return the samples of :func:`sampling.ancestral_loop` /
:func:`sampling.ddim_loop` driving the verified kernels (``p_mean_variance``, ``p_sample``,
``ddim_step``) one step at a time, for every mean_type × var_type, clipped or not, respaced or
not, ancestral and DDIM at η = 0 and η = 1, in float64 and float32. Negative controls: a table
with ᾱ_{t-1} in place of ᾱ_t at one step, a table shifted by one step, and a respaced loop that
passes the model the respaced index instead of the original one all fail the same comparison.
"""

from __future__ import annotations

import itertools
import types

import numpy as np
import pytest
import torch

from ddpm_math import GaussianDiffusion, MeanType, NoiseSchedule, VarType, rescale_zero_terminal_snr
from ddpm_math.diffusion import fast_sampling, sampling
from ddpm_math.diffusion.reverse import p_mean_variance
from ddpm_math.testing.tolerances import Tolerance, for_dtype

# T = 16 with β from 1e-3 to 0.3: ᾱ_T ≈ 0.07, so the steps near T amplify x̂_0 by 1/√ᾱ_T ≈ 4
# (a schedule that ends in noise, in few steps).
SCHEDULE = NoiseSchedule.linear(16, beta_start=1e-3, beta_end=0.3)
RESPACING = [3, 4]  # 7 of the 16 steps, unevenly spaced: the model sees indices 0, 3, 7, ...
SHAPE = (2, 3, 4, 4)
SAMPLERS = {"ancestral": None, "ddim_eta0": 0.0, "ddim_eta1": 1.0}


def make_model(learned: bool, dtype: torch.dtype, device="cpu"):
    """A small conv whose output depends on t (scaled by 1 + t/8, plus sin(0.7 t)), with a
    2C-channel output for learned variances, the variance block tanh-bounded to [-1, 1];
    the weights drawn on the CPU (the same on every device), then moved to ``device``."""
    generator = torch.Generator().manual_seed(3)
    channels = SHAPE[1]
    out_channels = 2 * channels if learned else channels
    weight = 0.3 * torch.randn(out_channels, channels, 3, 3, generator=generator, dtype=dtype)
    bias = 0.1 * torch.randn(out_channels, generator=generator, dtype=dtype)
    weight, bias = weight.to(device), bias.to(device)

    def model(x_t, t):
        time = t.to(x_t.dtype).reshape(-1, 1, 1, 1)
        output = torch.nn.functional.conv2d(x_t, weight, bias, padding=1) * (1 + time / 8)
        output = output + torch.sin(0.7 * time)
        if not learned:
            return output
        mean_block, var_block = output.chunk(2, dim=1)
        return torch.cat([mean_block, torch.tanh(var_block)], dim=1)

    return model


def kernel_loop(diffusion: GaussianDiffusion, model, x_T, eta, clip_denoised, seed):
    """The reference: the kernel loops of sampling.py around p_mean_variance, one step at a
    time, the model called with the original steps (TimestepMap) when respaced."""
    if diffusion.timestep_map is not None:
        model = diffusion.timestep_map.wrap(model)

    def denoise(x_t, t):
        coefs = diffusion.schedule.to_torch(x_t.device, x_t.dtype)
        return p_mean_variance(coefs, model(x_t, t), x_t, t, diffusion.mean_type,
                               diffusion.var_type, clip_denoised)

    generator = torch.Generator().manual_seed(seed)
    if eta is None:
        return sampling.ancestral_loop(denoise, x_T, diffusion.num_steps, generator)
    coefs = diffusion.schedule.to_torch(x_T.device, x_T.dtype)
    return sampling.ddim_loop(denoise, coefs, x_T, eta, generator)


def fast_loop(diffusion: GaussianDiffusion, model, x_T, eta, clip_denoised, seed):
    """The facade's loops, the entry point users call."""
    generator = torch.Generator().manual_seed(seed)
    if eta is None:
        return diffusion.p_sample_loop(model, x_T.shape, noise=x_T, generator=generator,
                                       clip_denoised=clip_denoised)
    return diffusion.ddim_sample_loop(model, x_T.shape, noise=x_T, generator=generator,
                                      clip_denoised=clip_denoised, eta=eta)


def tolerance(dtype: torch.dtype, expected: torch.Tensor) -> Tolerance:
    """The dtype's kernel tolerance, atol scaled by max|x_0|: each step sums terms of the
    samples' size, so an element near 0 carries the rounding of terms of size max|x|. The
    fused update rounds differently from the kernels (A x_t + B out against μ̃ through x̂_0):
    measured, float64 differs by ≤ 96 ulps of max|x| (≈ 6e-16 relative) and float32 by
    ≤ 96 ulps (≈ 4e-7 relative), 16 steps."""
    base = for_dtype(dtype)
    scale = max(float(expected.abs().max()), 1.0)
    return Tolerance(rtol=base.rtol, atol=base.rtol * scale)


def setup(mean_type, var_type, respaced, dtype):
    diffusion = GaussianDiffusion(SCHEDULE, mean_type, var_type)
    if respaced:
        diffusion = diffusion.respaced(RESPACING)
    model = make_model(diffusion.var_type.learned, dtype)
    x_T = torch.randn(SHAPE, generator=torch.Generator().manual_seed(1), dtype=dtype)
    return diffusion, model, x_T


def assert_same_samples(fast, reference, dtype, err_msg=""):
    tol = tolerance(dtype, reference)
    np.testing.assert_allclose(fast.double().numpy(), reference.double().numpy(),
                               rtol=tol.rtol, atol=tol.atol, err_msg=err_msg)


OPTIONS = list(itertools.product(MeanType, VarType))


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("sampler", list(SAMPLERS))
@pytest.mark.parametrize("respaced", [False, True], ids=["full", "respaced"])
@pytest.mark.parametrize("clip_denoised", [True, False], ids=["clip", "noclip"])
@pytest.mark.parametrize("mean_type,var_type", OPTIONS,
                         ids=[f"{m.value}-{v.value}" for m, v in OPTIONS])
def test_fast_loop_equals_kernel_composition(mean_type, var_type, clip_denoised, respaced,
                                             sampler, dtype):
    diffusion, model, x_T = setup(mean_type, var_type, respaced, dtype)
    eta = SAMPLERS[sampler]
    reference = kernel_loop(diffusion, model, x_T, eta, clip_denoised, seed=5)
    fast = fast_loop(diffusion, model, x_T, eta, clip_denoised, seed=5)
    assert fast.dtype == dtype and fast.shape == x_T.shape
    assert_same_samples(fast, reference, dtype)
    if eta != 0.0:  # the comparison sees the noise: another seed gives other samples
        other = fast_loop(diffusion, model, x_T, eta, clip_denoised, seed=6)
        assert not torch.allclose(other, reference)


@pytest.mark.parametrize("sampler", list(SAMPLERS))
def test_trajectory_equals_the_kernel_trajectory(sampler):
    diffusion, model, x_T = setup(MeanType.EPS, VarType.LEARNED_RANGE, True, torch.float64)
    eta = SAMPLERS[sampler]
    x_T_before = x_T.clone()
    generator = torch.Generator().manual_seed(5)
    if eta is None:
        sample, trajectory = diffusion.p_sample_loop(
            model, SHAPE, noise=x_T, generator=generator, progress=True, return_trajectory=True)
    else:
        sample, trajectory = diffusion.ddim_sample_loop(
            model, SHAPE, noise=x_T, generator=generator, eta=eta, progress=True,
            return_trajectory=True)
    reference, reference_trajectory = _kernel_trajectory(diffusion, model, x_T, eta)
    assert torch.equal(x_T, x_T_before), "the loop wrote into x_T"
    assert trajectory.shape == (diffusion.num_steps + 1, *SHAPE)
    assert torch.equal(trajectory[0], x_T) and torch.equal(trajectory[-1], sample)
    assert_same_samples(trajectory, reference_trajectory, torch.float64)
    assert_same_samples(sample, reference, torch.float64)


def _kernel_trajectory(diffusion, model, x_T, eta):
    wrapped = diffusion.timestep_map.wrap(model)

    def denoise(x_t, t):
        coefs = diffusion.schedule.to_torch(x_t.device, x_t.dtype)
        return p_mean_variance(coefs, wrapped(x_t, t), x_t, t, diffusion.mean_type,
                               diffusion.var_type, True)

    generator = torch.Generator().manual_seed(5)
    if eta is None:
        return sampling.ancestral_loop(denoise, x_T, diffusion.num_steps, generator,
                                       return_trajectory=True)
    coefs = diffusion.schedule.to_torch(x_T.device, x_T.dtype)
    return sampling.ddim_loop(denoise, coefs, x_T, eta, generator, return_trajectory=True)


# -- negative controls: plausible slips in the table fail the same comparison -----------------


def _alpha_bar_prev_at(schedule, index: int):
    """The schedule's arrays with ᾱ_{t-1} in place of ᾱ_t (√ᾱ_t, √(1-ᾱ_t), 1-ᾱ_t) at one step."""
    arrays = {name: np.array(getattr(schedule, name)) for name in (
        "beta", "alpha_bar", "alpha_bar_prev", "one_minus_alpha_bar", "sqrt_alpha_bar",
        "sqrt_one_minus_alpha_bar", "log_beta_tilde_clipped", "mu_tilde_coef_x0",
        "mu_tilde_coef_xt")}
    wrong = arrays["alpha_bar_prev"][index]
    arrays["alpha_bar"][index] = wrong
    arrays["sqrt_alpha_bar"][index] = np.sqrt(wrong)
    arrays["one_minus_alpha_bar"][index] = 1.0 - wrong
    arrays["sqrt_one_minus_alpha_bar"][index] = np.sqrt(1.0 - wrong)
    return types.SimpleNamespace(**arrays)


@pytest.mark.parametrize("sampler", list(SAMPLERS))
@pytest.mark.parametrize("mean_type", [MeanType.EPS, MeanType.V])
def test_a_wrong_alpha_bar_in_one_table_entry_is_caught(monkeypatch, mean_type, sampler):
    diffusion, model, x_T = setup(mean_type, VarType.FIXED_SMALL, False, torch.float64)
    eta = SAMPLERS[sampler]
    reference = kernel_loop(diffusion, model, x_T, eta, False, seed=5)
    real_table = fast_sampling.step_table
    monkeypatch.setattr(fast_sampling, "step_table",
                        lambda schedule, *args, **kwargs: real_table(
                            _alpha_bar_prev_at(schedule, 8), *args, **kwargs))
    fast = fast_loop(diffusion, model, x_T, eta, False, seed=5)
    with pytest.raises(AssertionError):
        assert_same_samples(fast, reference, torch.float64)


@pytest.mark.parametrize("clip_denoised", [True, False], ids=["clip", "noclip"])
@pytest.mark.parametrize("sampler", list(SAMPLERS))
@pytest.mark.parametrize("mean_type,var_type", OPTIONS,
                         ids=[f"{m.value}-{v.value}" for m, v in OPTIONS])
def test_a_table_off_by_one_step_is_caught(monkeypatch, mean_type, var_type, sampler,
                                           clip_denoised):
    """Row t-1 used at step t, at one step."""
    if (mean_type, var_type, sampler, clip_denoised) == (
            MeanType.XPREV, VarType.LEARNED, "ancestral", False):
        pytest.skip("no slip to catch: x_{t-1} = out_mean + exp(v/2) z at every t, one row")
    diffusion, model, x_T = setup(mean_type, var_type, False, torch.float64)
    eta = SAMPLERS[sampler]
    reference = kernel_loop(diffusion, model, x_T, eta, clip_denoised, seed=5)
    real_table = fast_sampling.step_table

    def shifted(*args, **kwargs):
        table = real_table(*args, **kwargs)
        table[8] = table[7]
        return table

    monkeypatch.setattr(fast_sampling, "step_table", shifted)
    fast = fast_loop(diffusion, model, x_T, eta, clip_denoised, seed=5)
    with pytest.raises(AssertionError):
        assert_same_samples(fast, reference, torch.float64)


@pytest.mark.parametrize("sampler", list(SAMPLERS))
def test_respaced_model_steps_are_the_original_ones(sampler):
    """The fast loop on a respaced schedule called with respaced indices (no timestep map)
    differs from the kernels: the comparison sees which t the model gets."""
    diffusion, model, x_T = setup(MeanType.EPS, VarType.FIXED_LARGE, True, torch.float64)
    eta = SAMPLERS[sampler]
    reference = kernel_loop(diffusion, model, x_T, eta, False, seed=5)
    generator = torch.Generator().manual_seed(5)
    if eta is None:
        wrong = fast_sampling.fast_ancestral_loop(model, diffusion.schedule, x_T,
                                                  diffusion.mean_type, diffusion.var_type,
                                                  False, None, generator)
    else:
        wrong = fast_sampling.fast_ddim_loop(model, diffusion.schedule, x_T, diffusion.mean_type,
                                             diffusion.var_type, eta, False, None, generator)
    with pytest.raises(AssertionError):
        assert_same_samples(wrong, reference, torch.float64)


# -- zero terminal SNR: ᾱ_T = 0 --------------------------------------------------------------

#: Lin et al. 2023's rescale of SCHEDULE: ᾱ_T = 0 exactly, β_T = 1; and of a 2-step schedule,
#: where the step with ᾱ_t = 0 is index 1, the first step after the last.
ZERO_SNR = NoiseSchedule(rescale_zero_terminal_snr(SCHEDULE.beta))
ZERO_SNR_2 = NoiseSchedule(rescale_zero_terminal_snr(np.array([0.1, 0.3])))


def zero_snr_case(mean_type, var_type, device="cpu", schedule=ZERO_SNR):
    diffusion = GaussianDiffusion(schedule, mean_type, var_type)
    model = make_model(diffusion.var_type.learned, torch.float64, device)
    x_T = torch.randn(SHAPE, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    return diffusion, model, x_T.to(device)


#: every mean_type × var_type × sampler on both zero terminal SNR schedules
ZERO_SNR_CASES = [pytest.param(m, v, sampler, schedule,
                               id=f"{m.value}-{v.value}-{sampler}-T{schedule.num_steps}")
                  for m, v in OPTIONS for sampler in SAMPLERS
                  for schedule in (ZERO_SNR, ZERO_SNR_2)]


@pytest.mark.parametrize("mean_type,var_type,sampler,schedule", ZERO_SNR_CASES)
def test_zero_terminal_snr_fast_loop_equals_kernel_composition(mean_type, var_type, sampler,
                                                              schedule):
    """At ᾱ_T = 0, x̂_0 from an ε output is (x_T - ε̂)/√ᾱ_T = ±inf, which clipping makes ±1 in
    the kernels; the fused update would compute P·clip(y, ±1/|P|) = inf·0 = NaN, so that step
    runs the kernels (fast_sampling.kernel_rows). With clipping every option is finite and
    gives the kernels' samples."""
    diffusion, model, x_T = zero_snr_case(mean_type, var_type, schedule=schedule)
    assert schedule.alpha_bar[-1] == 0.0
    eta = SAMPLERS[sampler]
    reference = kernel_loop(diffusion, model, x_T, eta, True, seed=5)
    assert bool(torch.isfinite(reference).all())
    assert_same_samples(fast_loop(diffusion, model, x_T, eta, True, seed=5), reference,
                        torch.float64)


@pytest.mark.parametrize("sampler", list(SAMPLERS))
def test_zero_terminal_snr_without_the_kernel_step_is_caught(monkeypatch, sampler):
    """The fused update alone at ᾱ_T = 0 (no kernel rows) turns the ε-model's first step into
    NaN: the loop refuses the result, where the kernels give finite samples."""
    diffusion, model, x_T = zero_snr_case(MeanType.EPS, VarType.FIXED_SMALL)
    monkeypatch.setattr(fast_sampling, "kernel_rows", lambda table: frozenset())
    with pytest.raises(ValueError, match="NaN or inf"):
        fast_loop(diffusion, model, x_T, SAMPLERS[sampler], True, seed=5)
