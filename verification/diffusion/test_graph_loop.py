"""The CUDA-graph sampling loop equals the fast loop, which equals the kernels (graph_sampling.py).

:class:`GraphSampler` runs one step with tensor coefficients (a device copy of the fast loop's
step table, indexed by a device counter), captured in a CUDA graph. The claim, for every
mean_type × var_type, clipped or not, respaced or not, ancestral and DDIM (η = 0 and 1), in
float64 and float32: for the same x_T and generator seed it returns the samples of
``GaussianDiffusion.p_sample_loop`` / ``ddim_sample_loop`` (the fast loop, itself tied to the
kernel loop by test_fast_loop.py), up to rounding.

- Everywhere (CI has no GPU): ``graph=False`` runs the very step function the graph captures,
  eagerly on the CPU, against the facade's loops.
- On CUDA (``gpu`` marker, skipped without CUDA): the captured graph against the eager fast
  loop on the same device with the same seed; the loop under
  ``torch.cuda.set_sync_debug_mode("error")`` (no host-device synchronisation; the eager fast
  loop, which reads the first step's output, raises there: the check can fail); bfloat16
  autocast; ``torch.compile``.

Negative controls: a table shifted by one step and a sampler that calls the model with the
respaced index fail the same comparison.
"""

from __future__ import annotations

import pytest
import torch

from ddpm_math import GaussianDiffusion, MeanType, VarType
from ddpm_math.testing.cuda import sync_debug_mode
from verification.diffusion.test_fast_loop import (
    OPTIONS,
    RESPACING,
    SAMPLERS,
    SCHEDULE,
    SHAPE,
    ZERO_SNR_CASES,
    assert_same_samples,
    make_model,
    zero_snr_case,
)

CUDA = torch.cuda.is_available()
gpu = pytest.mark.skipif(not CUDA, reason="needs CUDA")


def setup(mean_type, var_type, respaced, dtype, device="cpu"):
    diffusion = GaussianDiffusion(SCHEDULE, mean_type, var_type)
    if respaced:
        diffusion = diffusion.respaced(RESPACING)
    model = make_model(diffusion.var_type.learned, dtype, device)
    x_T = torch.randn(SHAPE, generator=torch.Generator().manual_seed(1), dtype=dtype).to(device)
    return diffusion, model, x_T


def facade_loop(diffusion, model, x_T, eta, clip_denoised, seed):
    generator = torch.Generator(x_T.device).manual_seed(seed)
    if eta is None:
        return diffusion.p_sample_loop(model, x_T.shape, noise=x_T, generator=generator,
                                       clip_denoised=clip_denoised)
    return diffusion.ddim_sample_loop(model, x_T.shape, noise=x_T, generator=generator,
                                      clip_denoised=clip_denoised, eta=eta)


def graph_loop(diffusion, model, x_T, eta, clip_denoised, seed, *, graph, **options):
    sampler = diffusion.graph_sampler(
        model, x_T.shape, sampler="ancestral" if eta is None else "ddim",
        eta=0.0 if eta is None else eta, clip_denoised=clip_denoised, dtype=x_T.dtype,
        device=x_T.device, generator=torch.Generator(x_T.device).manual_seed(seed),
        graph=graph, **options)
    return sampler.sample(x_T)


CASES = [pytest.param(m, v, clip, respaced, sampler, dtype,
                      id=f"{m.value}-{v.value}-{'clip' if clip else 'noclip'}-"
                         f"{'respaced' if respaced else 'full'}-{sampler}-{str(dtype)[6:]}")
         for m, v in OPTIONS for clip in (True, False) for respaced in (False, True)
         for sampler in SAMPLERS for dtype in (torch.float64, torch.float32)]


@pytest.mark.parametrize("mean_type,var_type,clip_denoised,respaced,sampler,dtype", CASES)
def test_graph_step_equals_the_fast_loop(mean_type, var_type, clip_denoised, respaced,
                                         sampler, dtype):
    diffusion, model, x_T = setup(mean_type, var_type, respaced, dtype)
    eta = SAMPLERS[sampler]
    reference = facade_loop(diffusion, model, x_T, eta, clip_denoised, seed=5)
    stepped = graph_loop(diffusion, model, x_T, eta, clip_denoised, seed=5, graph=False)
    assert stepped.dtype == dtype and stepped.shape == x_T.shape
    assert_same_samples(stepped, reference, dtype)
    if eta != 0.0:  # the comparison sees the noise
        other = graph_loop(diffusion, model, x_T, eta, clip_denoised, seed=6, graph=False)
        assert not torch.allclose(other, reference)


@pytest.mark.parametrize("mean_type,var_type,sampler,schedule", ZERO_SNR_CASES)
def test_zero_terminal_snr_graph_step_equals_the_fast_loop(mean_type, var_type, sampler,
                                                          schedule):
    """ᾱ_T = 0: the sampler runs the first step by the kernels, eagerly, then its own step for
    the rest (test_fast_loop.py: the fused step alone gives NaN there); with T = 2 that leaves
    only the last step, and no replay."""
    diffusion, model, x_T = zero_snr_case(mean_type, var_type, schedule=schedule)
    eta = SAMPLERS[sampler]
    reference = facade_loop(diffusion, model, x_T, eta, True, seed=5)
    stepped = graph_loop(diffusion, model, x_T, eta, True, seed=5, graph=False)
    assert_same_samples(stepped, reference, torch.float64)


def test_a_table_shifted_by_one_step_is_caught():
    diffusion, model, x_T = setup(MeanType.EPS, VarType.FIXED_SMALL, False, torch.float64)
    reference = facade_loop(diffusion, model, x_T, None, True, seed=5)
    sampler = diffusion.graph_sampler(model, SHAPE, dtype=torch.float64, device="cpu",
                                      generator=torch.Generator().manual_seed(5), graph=False)
    sampler._table = torch.roll(sampler._table, 1, dims=0)
    with pytest.raises(AssertionError):
        assert_same_samples(sampler.sample(x_T), reference, torch.float64)


def test_the_respaced_index_in_place_of_the_original_step_is_caught():
    diffusion, model, x_T = setup(MeanType.EPS, VarType.FIXED_LARGE, True, torch.float64)
    reference = facade_loop(diffusion, model, x_T, None, True, seed=5)
    sampler = diffusion.graph_sampler(model, SHAPE, dtype=torch.float64, device="cpu",
                                      generator=torch.Generator().manual_seed(5), graph=False)
    sampler._steps = torch.arange(diffusion.num_steps)  # the respaced index, not the step
    sampler._step_t[0].fill_(0)
    with pytest.raises(AssertionError):
        assert_same_samples(sampler.sample(x_T), reference, torch.float64)


def test_repeated_samples_draw_on_from_the_generator():
    """Two .sample() calls = two facade loops on one generator (x_T drawn by each)."""
    diffusion, model, _ = setup(MeanType.EPS, VarType.FIXED_SMALL, False, torch.float64)
    sampler = diffusion.graph_sampler(model, SHAPE, dtype=torch.float64, device="cpu",
                                      generator=torch.Generator().manual_seed(9), graph=False)
    first, second = sampler.sample(), sampler.sample()
    generator = torch.Generator().manual_seed(9)
    expected = [diffusion.p_sample_loop(model, SHAPE, generator=generator, dtype=torch.float64)
                for _ in range(2)]
    assert_same_samples(first, expected[0], torch.float64)
    assert_same_samples(second, expected[1], torch.float64)


def test_autocast_runs_the_model_in_bfloat16_and_the_update_in_float32():
    """autocast_dtype (the eager step on the CPU): the model sees bf16 inside autocast, the
    samples stay float32 and differ from the float32 loop's by bf16 rounding only."""
    diffusion, model, x_T = setup(MeanType.EPS, VarType.FIXED_SMALL, False, torch.float32)
    net = torch.nn.Conv2d(3, 3, 3, padding=1)
    seen = []

    def bf16_model(x, t):
        features = net(x)
        seen.append(features.dtype)  # the convolution's output dtype (bf16 under autocast)
        return features * 0.1 + model(x, t)

    samples = [diffusion.graph_sampler(bf16_model, SHAPE, device="cpu", graph=False,
                                       generator=torch.Generator().manual_seed(2),
                                       autocast_dtype=dtype).sample(x_T)
               for dtype in (None, torch.bfloat16)]
    assert torch.bfloat16 in seen and torch.float32 in seen
    assert all(sample.dtype == torch.float32 for sample in samples)
    difference = float((samples[0] - samples[1]).abs().max())
    assert 0.0 < difference < 0.05 * float(samples[0].abs().max())


# -- the contract ---------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs,error,words", [
    ({"sampler": "euler"}, ValueError, "sampler must be 'ancestral' or 'ddim'"),
    ({"eta": 2.0, "sampler": "ddim"}, ValueError, "eta"),
    ({"dtype": torch.int64}, TypeError, "dtype"),
    ({"autocast_dtype": "bf16"}, TypeError, "autocast_dtype"),
    ({"compile": "yes"}, TypeError, "compile"),
    ({"graph": 1}, TypeError, "graph"),
    ({"generator": 0}, TypeError, "generator"),
    ({"device": "cpu", "graph": True}, ValueError, "device must be a CUDA device"),
])
def test_bad_arguments_are_named(kwargs, error, words):
    diffusion, model, _ = setup(MeanType.EPS, VarType.FIXED_SMALL, False, torch.float32)
    options = {"device": "cuda" if CUDA else "cpu", "graph": CUDA, **kwargs}
    with pytest.raises(error, match=words):
        diffusion.graph_sampler(model, SHAPE, **options)


@pytest.mark.skipif(CUDA, reason="the no-CUDA message")
def test_a_graph_without_cuda_says_so():
    diffusion, model, _ = setup(MeanType.EPS, VarType.FIXED_SMALL, False, torch.float32)
    with pytest.raises(ValueError, match="CUDA"):
        diffusion.graph_sampler(model, SHAPE)


def test_noise_of_another_shape_or_dtype_is_refused():
    diffusion, model, x_T = setup(MeanType.EPS, VarType.FIXED_SMALL, False, torch.float32)
    sampler = diffusion.graph_sampler(model, SHAPE, dtype=torch.float32, device="cpu",
                                      graph=False)
    for bad in (x_T[:1], x_T.double(), "noise"):
        with pytest.raises(ValueError, match=r"noise \(x_T\) must be a tensor of shape"):
            sampler.sample(bad)


def test_a_model_with_the_wrong_output_is_refused_at_construction():
    diffusion, _, _ = setup(MeanType.EPS, VarType.LEARNED_RANGE, False, torch.float32)
    with pytest.raises(ValueError, match="2C"):
        diffusion.graph_sampler(lambda x, t: x, SHAPE, device="cpu", graph=False)
    with pytest.raises(ValueError, match="NaN or inf"):
        diffusion.graph_sampler(lambda x, t: torch.cat([x, x], 1) / 0.0, SHAPE, device="cpu",
                                graph=False)


# -- on the GPU ------------------------------------------------------------------------------

GPU_CASES = [pytest.param(m, v, clip, sampler, dtype, marks=pytest.mark.gpu,
                          id=f"{m.value}-{v.value}-{'clip' if clip else 'noclip'}-{sampler}-"
                             f"{str(dtype)[6:]}")
             for m, v in OPTIONS for clip in (True, False) for sampler in SAMPLERS
             for dtype in (torch.float64, torch.float32)]


@gpu
@pytest.mark.parametrize("mean_type,var_type,clip_denoised,sampler,dtype", GPU_CASES)
def test_cuda_graph_equals_the_fast_loop(mean_type, var_type, clip_denoised, sampler, dtype):
    """Same seed on the GPU: the graph's replays draw the noise the eager loop draws."""
    diffusion, model, x_T = setup(mean_type, var_type, True, dtype, device="cuda")
    eta = SAMPLERS[sampler]
    reference = facade_loop(diffusion, model, x_T, eta, clip_denoised, seed=5)
    graphed = graph_loop(diffusion, model, x_T, eta, clip_denoised, seed=5, graph=True)
    assert graphed.device == x_T.device and graphed.dtype == dtype
    assert_same_samples(graphed.cpu(), reference.cpu(), dtype)
    if eta != 0.0:
        other = graph_loop(diffusion, model, x_T, eta, clip_denoised, seed=6, graph=True)
        assert not torch.allclose(other, reference)


@gpu
@pytest.mark.gpu
@pytest.mark.parametrize("sampler", list(SAMPLERS))
@pytest.mark.parametrize("mean_type", [MeanType.EPS, MeanType.V])
def test_zero_terminal_snr_cuda_graph_equals_the_fast_loop(mean_type, sampler):
    diffusion, model, x_T = zero_snr_case(mean_type, VarType.LEARNED_RANGE, device="cuda")
    eta = SAMPLERS[sampler]
    reference = facade_loop(diffusion, model, x_T, eta, True, seed=5)
    graphed = graph_loop(diffusion, model, x_T, eta, True, seed=5, graph=True)
    assert_same_samples(graphed.cpu(), reference.cpu(), torch.float64)


@gpu
@pytest.mark.gpu
def test_cuda_graph_with_the_default_generator():
    diffusion, model, x_T = setup(MeanType.EPS, VarType.FIXED_LARGE, False, torch.float32,
                                  device="cuda")
    sampler = diffusion.graph_sampler(model, SHAPE, dtype=torch.float32)
    torch.cuda.manual_seed(11)
    graphed = sampler.sample(x_T)
    torch.cuda.manual_seed(11)
    reference = diffusion.p_sample_loop(model, SHAPE, noise=x_T)
    assert_same_samples(graphed.cpu(), reference.cpu(), torch.float32)


@gpu
@pytest.mark.gpu
def test_no_synchronisation_in_the_graph_loop():
    diffusion, model, x_T = setup(MeanType.V, VarType.LEARNED_RANGE, True, torch.float32,
                                  device="cuda")
    sampler = diffusion.graph_sampler(model, SHAPE, dtype=torch.float32,
                                      generator=torch.Generator("cuda").manual_seed(3))
    torch.cuda.synchronize()
    with sync_debug_mode("error"):
        x0 = sampler.sample(x_T, check_finite=False)
        with pytest.raises(RuntimeError, match="synchroniz"):  # the check can fail: the eager
            diffusion.p_sample_loop(model, SHAPE, noise=x_T)  # loop reads its first output
    assert bool(torch.isfinite(x0).all())


@gpu
@pytest.mark.gpu
def test_bfloat16_autocast_samples_match_float32_in_distribution():
    """bf16 model, float32 update: per-sample means and spreads close to the float32 loop's."""
    diffusion, model, _ = setup(MeanType.EPS, VarType.FIXED_SMALL, False, torch.float32,
                                device="cuda")
    shape = (256, *SHAPE[1:])
    x_T = torch.randn(shape, generator=torch.Generator("cuda").manual_seed(1), device="cuda")
    full = diffusion.graph_sampler(model, shape, generator=torch.Generator("cuda").manual_seed(2))
    half = diffusion.graph_sampler(model, shape, generator=torch.Generator("cuda").manual_seed(2),
                                   autocast_dtype=torch.bfloat16)
    a, b = full.sample(x_T), half.sample(x_T)
    assert b.dtype == torch.float32
    assert float((a - b).abs().max()) < 0.1  # same noise: bf16 rounding of the model only
    assert float((a - b).abs().max()) > 0.0  # autocast did run the model in bf16


@gpu
@pytest.mark.gpu
@pytest.mark.slow
def test_compiled_model_in_the_graph():
    diffusion, model, x_T = setup(MeanType.EPS, VarType.FIXED_SMALL, False, torch.float32,
                                  device="cuda")
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.SiLU(),
                              torch.nn.Conv2d(8, 3, 3, padding=1)).cuda()

    def eps_model(x, t):
        return net(x) * (1 + t.reshape(-1, 1, 1, 1) / 8)

    compiled = diffusion.graph_sampler(eps_model, SHAPE, compile=True,
                                       generator=torch.Generator("cuda").manual_seed(2))
    eager = diffusion.graph_sampler(eps_model, SHAPE,
                                    generator=torch.Generator("cuda").manual_seed(2))
    with torch.no_grad():
        assert_same_samples(compiled.sample(x_T).cpu(), eager.sample(x_T).cpu(), torch.float32)
