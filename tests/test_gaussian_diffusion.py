"""GaussianDiffusion as users call it: options, shapes, dtypes, randomness, respacing, the
timestep resampler, progress bars and trajectories."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ddpm_math.diffusion.gaussian_diffusion import GaussianDiffusion
from ddpm_math.diffusion.options import DecoderType, LossType, MeanType, VarType
from ddpm_math.diffusion.resample import LossSecondMomentResampler, UniformSampler
from ddpm_math.diffusion.respace import TimestepMap, respaced_betas, space_timesteps
from ddpm_math.schedules import NoiseSchedule

SCHEDULE = NoiseSchedule.linear(20, 1e-3, 0.2)


def zero_model(x_t, t):
    return torch.zeros_like(x_t)


def learned_model(x_t, t):
    return torch.cat([0.1 * x_t, torch.zeros_like(x_t)], dim=1)


def data(dtype=torch.float64, shape=(3, 2, 4)):
    """8-bit values k/127.5 - 1 spread over [-1, 1] (the default decoder's data)."""
    k = torch.linspace(0, 255, int(np.prod(shape)), dtype=torch.float64).round()
    return (k / 127.5 - 1).to(dtype).reshape(shape)


def test_options_accept_strings_and_enums_and_betas():
    a = GaussianDiffusion(SCHEDULE, "x0", "fixed_large", "weighted", "gaussian")
    b = GaussianDiffusion(np.array(SCHEDULE.beta), MeanType.X0, VarType.FIXED_LARGE,
                          LossType.WEIGHTED, DecoderType.GAUSSIAN)
    assert (a.mean_type, a.var_type, a.loss_type, a.decoder) == (
        b.mean_type, b.var_type, b.loss_type, b.decoder)
    assert a.schedule == b.schedule and a.num_steps == 20
    assert "mean_type='x0'" in repr(a)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_outputs_keep_shape_and_dtype(dtype):
    diffusion = GaussianDiffusion(SCHEDULE)
    x0, t = data(dtype), torch.tensor([0, 7, 19])
    noise = torch.ones_like(x0)
    for value in (*diffusion.q_mean_variance(x0, t), diffusion.q_sample(x0, t, noise),
                  *diffusion.q_posterior(x0, x0, t), diffusion.x0_from_eps(x0, t, noise),
                  diffusion.eps_from_x0(x0, t, noise), diffusion.v_from_x0_eps(x0, t, noise),
                  diffusion.x0_from_v(x0, t, noise), diffusion.eps_from_v(x0, t, noise),
                  *diffusion.p_mean_variance(zero_model, x0, t).values()):
        assert value.shape == x0.shape and value.dtype == dtype
    for value in (diffusion.prior_bpd(x0), diffusion.vb_terms_bpd(zero_model, x0, x0, t)):
        assert value.shape == (3,) and value.dtype == dtype
    result = diffusion.calc_bpd_loop(zero_model, x0, generator=torch.Generator().manual_seed(0))
    assert {k: tuple(v.shape) for k, v in result.items()} == {
        "total_bpd": (3,), "prior_bpd": (3,), "vb": (3, 20), "x0_mse": (3, 20), "mse": (3, 20)}
    assert all(v.dtype == dtype for v in result.values())


def test_float64_stays_float64_through_the_samplers():
    diffusion = GaussianDiffusion(SCHEDULE, var_type="learned_range")
    for loop in (diffusion.p_sample_loop, diffusion.ddim_sample_loop):
        sample = loop(learned_model, (2, 3, 4), dtype=torch.float64,
                      generator=torch.Generator().manual_seed(0))
        assert sample.dtype == torch.float64 and sample.shape == (2, 3, 4)


@pytest.mark.parametrize("loss_type, var_type, keys", [
    ("simple", "fixed_small", {"loss", "mse"}),
    ("weighted", "fixed_large", {"loss", "mse"}),
    ("vlb", "learned", {"loss", "vb"}),
    ("hybrid", "learned_range", {"loss", "mse", "vb"}),
])
def test_training_losses_keys_and_gradients(loss_type, var_type, keys):
    diffusion = GaussianDiffusion(SCHEDULE, var_type=var_type, loss_type=loss_type)
    weight = torch.tensor(0.5, requires_grad=True)
    learned = VarType(var_type).learned

    def model(x_t, t):
        out = weight * x_t
        return torch.cat([out, out], dim=1) if learned else out

    terms = diffusion.training_losses(model, data(), generator=torch.Generator().manual_seed(0))
    assert keys | {"t", "weights"} == set(terms)
    assert terms["loss"].shape == (3,) and terms["t"].dtype == torch.int64
    terms["loss"].mean().backward()
    assert weight.grad is not None and torch.isfinite(weight.grad)


def test_sampling_is_reproducible_and_leaves_the_global_rng_alone():
    diffusion = GaussianDiffusion(SCHEDULE)
    state = torch.get_rng_state()
    first = diffusion.p_sample_loop(zero_model, (2, 1, 3),
                                    generator=torch.Generator().manual_seed(5))
    second = diffusion.p_sample_loop(zero_model, (2, 1, 3),
                                     generator=torch.Generator().manual_seed(5))
    assert torch.equal(first, second)
    assert torch.equal(state, torch.get_rng_state())


def test_trajectory_runs_from_x_T_to_the_sample_with_no_noise_at_the_last_step():
    diffusion = GaussianDiffusion(SCHEDULE)
    x_T = torch.randn(2, 1, 3, generator=torch.Generator().manual_seed(0))
    sample, trajectory = diffusion.p_sample_loop(zero_model, x_T.shape, noise=x_T,
                                                 generator=torch.Generator().manual_seed(1),
                                                 clip_denoised=False, return_trajectory=True)
    assert trajectory.shape == (21, 2, 1, 3)
    assert torch.equal(trajectory[0], x_T) and torch.equal(trajectory[-1], sample)
    last_mean = diffusion.p_mean_variance(zero_model, trajectory[-2], torch.zeros(2, dtype=int))
    assert torch.equal(sample, last_mean["mean"])  # Algorithm 2: x_0 = μ_θ(x_1, 1)
    ddim, ddim_trajectory = diffusion.ddim_sample_loop(zero_model, x_T.shape, noise=x_T,
                                                       return_trajectory=True)
    assert ddim_trajectory.shape == (21, 2, 1, 3) and torch.equal(ddim_trajectory[-1], ddim)


def test_progress_bar_is_shown_only_when_asked(capsys):
    diffusion = GaussianDiffusion(SCHEDULE)
    generator = torch.Generator().manual_seed(0)
    diffusion.p_sample_loop(zero_model, (1, 1, 2), generator=generator)
    assert capsys.readouterr().err == ""
    diffusion.p_sample_loop(zero_model, (1, 1, 2), generator=generator, progress=True)
    assert "20/20" in capsys.readouterr().err


def test_clip_denoised_keeps_x0_hat_in_range():
    diffusion = GaussianDiffusion(SCHEDULE, mean_type="x0")
    out = diffusion.p_mean_variance(lambda x, t: 5 * x, data(), torch.full((3,), 10), True)
    assert float(out["x0_hat"].abs().max()) == 1.0


# -- respacing -------------------------------------------------------------------------------

def test_space_timesteps():
    assert space_timesteps(20, "ddim5") == [0, 4, 8, 12, 16]
    assert space_timesteps(20, "ddim20") == list(range(20))
    assert space_timesteps(10, [2, 3]) == [0, 4, 5, 7, 9]
    assert space_timesteps(10, "2,3") == [0, 4, 5, 7, 9]
    assert space_timesteps(300, "10") == sorted(set(np.round(np.linspace(0, 299, 10)).astype(int)))


def test_respaced_schedule_keeps_alpha_bar_of_the_kept_steps():
    kept = [0, 3, 4, 11, 19]
    respaced = NoiseSchedule(respaced_betas(SCHEDULE, kept))
    np.testing.assert_allclose(respaced.alpha_bar, SCHEDULE.alpha_bar[kept], rtol=1e-13)
    full = NoiseSchedule(respaced_betas(SCHEDULE, range(20)))
    np.testing.assert_allclose(full.beta, SCHEDULE.beta, rtol=1e-11)


def test_respaced_diffusion_calls_the_model_with_original_timesteps():
    seen = []

    def model(x_t, t):
        seen.append(t.clone())
        return torch.zeros_like(x_t)

    diffusion = GaussianDiffusion(SCHEDULE, var_type="fixed_large").respaced("ddim5")
    assert diffusion.num_steps == 5 and diffusion.var_type is VarType.FIXED_LARGE
    diffusion.ddim_sample_loop(model, (2, 1, 3), generator=torch.Generator().manual_seed(0))
    assert [int(t[0]) for t in seen] == [16, 12, 8, 4, 0]
    twice = GaussianDiffusion(SCHEDULE).respaced("ddim10").respaced("ddim5")
    assert twice.timestep_map.timesteps == (0, 4, 8, 12, 16)


def test_respacing_with_every_step_is_the_original_sampler():
    diffusion = GaussianDiffusion(SCHEDULE)
    respaced = diffusion.respaced("ddim20")
    runs = [d.p_sample_loop(lambda x, t: 0.1 * x, (2, 1, 3), dtype=torch.float64,
                            generator=torch.Generator().manual_seed(2))
            for d in (diffusion, respaced)]
    torch.testing.assert_close(runs[0], runs[1], rtol=1e-10, atol=1e-12)
    assert isinstance(respaced.timestep_map, TimestepMap) and len(respaced.timestep_map) == 20


# -- timestep samplers -----------------------------------------------------------------------

def test_uniform_sampler_draws_every_step_with_unit_weight():
    t, weights = UniformSampler(5).sample(2000, generator=torch.Generator().manual_seed(0))
    assert t.dtype == torch.int64 and set(t.tolist()) == set(range(5))
    assert torch.equal(weights, torch.ones(2000, dtype=torch.float64))


def test_resampler_is_uniform_until_warmed_up_then_prefers_large_losses():
    sampler = LossSecondMomentResampler(4, history_per_term=2)
    sampler.update_with_losses(torch.tensor([0, 1, 2, 3]), torch.tensor([1.0, 1.0, 1.0, 8.0]))
    assert not sampler.warmed_up and np.allclose(sampler.probabilities(), 0.25)
    sampler.update_with_losses(torch.tensor([0, 1, 2, 3]), torch.tensor([1.0, 1.0, 1.0, 8.0]))
    assert sampler.warmed_up
    probs = sampler.probabilities()
    assert probs[3] > 0.7 and probs.sum() == pytest.approx(1.0)
    t, weights = sampler.sample(64, generator=torch.Generator().manual_seed(0))
    np.testing.assert_allclose(weights.numpy(), 1.0 / (4 * probs[t.numpy()]))
    for _ in range(2):  # the history is a window: new losses replace the old ones
        sampler.update_with_losses(torch.tensor([3]), torch.tensor([1.0]))
    assert np.allclose(sampler.probabilities(), 0.25)


def test_training_losses_feed_the_attached_resampler():
    sampler = LossSecondMomentResampler(20, history_per_term=1)
    diffusion = GaussianDiffusion(SCHEDULE, timestep_sampler=sampler)
    generator = torch.Generator().manual_seed(0)
    for _ in range(60):  # 180 draws cover all 20 steps (seeded)
        diffusion.training_losses(lambda x, t: 0 * x, data(), generator=generator)
    assert sampler.warmed_up
    probs = sampler.probabilities()
    terms = diffusion.training_losses(lambda x, t: 0 * x, data(), generator=generator)
    np.testing.assert_allclose(terms["weights"].numpy(), 1 / (20 * probs[terms["t"].numpy()]))
    explicit = diffusion.training_losses(lambda x, t: 0 * x, data(), t=torch.tensor([1, 2, 3]),
                                         noise=torch.ones(3, 2, 4, dtype=torch.float64))
    assert torch.equal(explicit["weights"], torch.ones(3, dtype=torch.float64))
    assert torch.allclose(explicit["loss"], torch.ones(3, dtype=torch.float64))


@pytest.mark.parametrize("timesteps", ["sampled", "given"])
def test_training_losses_draw_only_from_their_generator(timesteps):
    """With ``generator=``, the timesteps (when not given) and the noise come from it alone: the
    same seed gives the same t and losses whatever torch's global seed, which stays untouched."""
    diffusion = GaussianDiffusion(NoiseSchedule.linear(50, rescale_to_1000=True))
    x0 = torch.full((4, 3, 2, 2), -1.0)  # on the 8-bit grid (k = 0)

    def model(x_t, t):
        return x_t * (1 + t.reshape(-1, 1, 1, 1))

    results = []
    for global_seed in (1, 2):
        torch.manual_seed(global_seed)
        before = torch.get_rng_state()
        t = None if timesteps == "sampled" else torch.tensor([0, 10, 20, 49])
        terms = diffusion.training_losses(model, x0, t,
                                          generator=torch.Generator().manual_seed(7))
        assert torch.equal(torch.get_rng_state(), before), "the global generator was used"
        results.append(terms)
    assert torch.equal(results[0]["t"], results[1]["t"])
    assert torch.equal(results[0]["loss"], results[1]["loss"])


@pytest.mark.parametrize("loop", ["p_sample_loop", "ddim_sample_loop"])
def test_sampling_loops_show_a_bar_only_when_asked(loop, capsys):
    """progress=False (the default) writes nothing; progress=True draws a tqdm bar named
    "sampling" over the T steps on stderr, and the samples are the same."""
    diffusion = GaussianDiffusion(NoiseSchedule.linear(7, rescale_to_1000=False))

    def run(**kwargs):
        return getattr(diffusion, loop)(lambda x, t: 0.1 * x, (1, 1, 2, 2),
                                        generator=torch.Generator().manual_seed(0), **kwargs)

    quiet = run()
    assert capsys.readouterr().err == ""
    shown = run(progress=True)
    err = capsys.readouterr().err
    assert "sampling: " in err and "7/7" in err
    assert torch.equal(quiet, shown)
