"""Equivalent routes agree: ε, x_0, x_{t-1}-mean and v models representing one function give
one p_θ; DDIM with η = 1 is ancestral sampling (variance β̃, DDIM eq. 16); the bound's total is
L_T plus its terms, column t holding index t.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from ddpm_math.diffusion.gaussian_diffusion import GaussianDiffusion
from ddpm_math.diffusion.parameterization import v_from_x0_eps, x0_from_eps
from ddpm_math.diffusion.posterior import mu_tilde_from_eps
from ddpm_math.diffusion.sampling import ddim_sigma
from ddpm_math.diffusion.tensors import gather
from ddpm_math.schedules import NoiseSchedule
from ddpm_math.testing.strategies import diffusion_batches, schedules
from ddpm_math.testing.tolerances import assert_close
from verification.diffusion.closed_forms import coefficients, tolerance


def eps_function(x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """A fixed smooth ε-predictor that depends on t, standing in for a network."""
    phase = t.to(x_t.dtype).reshape(-1, *([1] * (x_t.ndim - 1)))
    return torch.tanh(0.7 * x_t + 0.1 * phase) - 0.3 * x_t.flip(0)


def models_for(schedule: NoiseSchedule, xprev_from_eps=mu_tilde_from_eps):
    """The same function written in each parameterisation, built from ``eps_function``."""
    coefs = lambda x: schedule.to_torch(x.device, x.dtype)  # noqa: E731

    def x0_model(x_t, t):
        return x0_from_eps(coefs(x_t), x_t, t, eps_function(x_t, t))

    def xprev_model(x_t, t):
        return xprev_from_eps(coefs(x_t), x_t, t, eps_function(x_t, t))

    def v_model(x_t, t):
        return v_from_x0_eps(coefs(x_t), x0_model(x_t, t), t, eps_function(x_t, t))

    return {"eps": eps_function, "x0": x0_model, "xprev": xprev_model, "v": v_model}


def condition(schedule, t, ndim):
    """x̂_0 amplifies rounding by 1/√ᾱ_t, the x_{t-1} route by the inverse of μ̃'s x_0 coefficient."""
    c = coefficients(schedule, t, ndim)
    coef_x0 = np.sqrt(c.alpha_bar_prev) * c.beta / (c.one_minus_alpha_bar)
    return 10.0 * float(np.max(1.0 / np.sqrt(c.alpha_bar)) + np.max(1.0 / coef_x0))


@pytest.mark.parametrize("var_type", ["fixed_small", "fixed_large"])
@given(case=diffusion_batches(n_arrays=1, min_dims=2, max_steps=32), clip=st.booleans())
def test_parameterisations_of_one_function_give_one_p_theta(var_type, case, clip):
    schedule, t, (x_t,) = case
    x_t, t_torch = torch.from_numpy(x_t), torch.from_numpy(t)
    results = {
        name: GaussianDiffusion(schedule, mean_type=name, var_type=var_type).p_mean_variance(
            model, x_t, t_torch, clip_denoised=clip)
        for name, model in models_for(schedule).items()
    }
    tol = tolerance(torch.float64, condition(schedule, t, x_t.ndim))
    for name, out in results.items():
        for key in ("mean", "variance", "log_variance", "x0_hat", "eps_hat"):
            if clip and key in ("x0_hat", "mean", "eps_hat"):
                # clipping is discontinuous at ±1: rounding may put x̂_0 on either side
                continue
            assert_close(out[key], results["eps"][key], tol, err_msg=f"{name}: {key}")


def test_a_wrong_xprev_conversion_gives_another_p_theta():
    schedule = NoiseSchedule.linear(10, 1e-3, 0.2)
    x_t, t = torch.linspace(-1, 1, 6, dtype=torch.float64).reshape(3, 2), torch.tensor([1, 4, 9])

    def wrong_mu(s, x, t, eps):  # eq. (11) with β_t/(1-ᾱ_t) for β_t/√(1-ᾱ_t)
        coef = gather(s.beta / s.one_minus_alpha_bar, t, x)
        return (x - coef * eps) / gather(s.alpha, t, x).sqrt()

    right = models_for(schedule)["xprev"]
    wrong = models_for(schedule, xprev_from_eps=wrong_mu)["xprev"]
    reference = GaussianDiffusion(schedule).p_mean_variance(eps_function, x_t, t)["mean"]
    diffusion = GaussianDiffusion(schedule, mean_type="xprev")
    assert torch.allclose(diffusion.p_mean_variance(right, x_t, t)["mean"], reference)
    assert not torch.allclose(diffusion.p_mean_variance(wrong, x_t, t)["mean"], reference)


@given(schedule=schedules(max_steps=32), data=st.data())
def test_ddim_eta_one_has_the_ancestral_variance_beta_tilde(schedule, data):
    t = torch.from_numpy(data.draw(st.lists(st.integers(0, schedule.num_steps - 1), min_size=1,
                                            max_size=4).map(np.array)))
    like = torch.zeros(len(t), 1, dtype=torch.float64)
    sigma2 = ddim_sigma(schedule.to_torch(), t, 1.0, like) ** 2
    beta_tilde = coefficients(schedule, t.numpy(), 2).beta_tilde
    assert_close(sigma2, beta_tilde, tolerance(torch.float64, 10.0))
    half = ddim_sigma(schedule.to_torch(), t, 0.5, like) ** 2
    assert_close(half, 0.25 * beta_tilde, tolerance(torch.float64, 10.0))


def test_ddim_eta_one_is_not_the_large_variance():
    """The check above can fail: σ² = β_t (the "fixed_large" choice) does not pass it."""
    schedule = NoiseSchedule.linear(10, 1e-3, 0.2)
    t = torch.arange(1, 10)
    sigma2 = ddim_sigma(schedule.to_torch(), t, 1.0, torch.zeros(9, 1, dtype=torch.float64)) ** 2
    beta = coefficients(schedule, t.numpy(), 2).beta
    assert not np.allclose(sigma2.numpy(), beta, rtol=1e-3)


def test_ddim_eta_one_reproduces_the_ancestral_sampler():
    """DDIM eq. (12) with η = 1 is DDPM Algorithm 2 (fixed_small): same noise, same samples."""
    schedule = NoiseSchedule.linear(25, 1e-3, 0.3)
    diffusion = GaussianDiffusion(schedule)
    x_T = torch.randn(4, 2, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    runs = {}
    for name, loop, kwargs in [("ddpm", diffusion.p_sample_loop, {}),
                               ("ddim", diffusion.ddim_sample_loop, {"eta": 1.0}),
                               ("ddim_half", diffusion.ddim_sample_loop, {"eta": 0.5})]:
        runs[name] = loop(eps_function, x_T.shape, noise=x_T, clip_denoised=False,
                          generator=torch.Generator().manual_seed(1), **kwargs)
    assert_close(runs["ddim"], runs["ddpm"], tolerance(torch.float64, 100.0))
    assert not torch.allclose(runs["ddim_half"], runs["ddpm"], rtol=1e-3)
    large = GaussianDiffusion(schedule, var_type="fixed_large").p_sample_loop(
        eps_function, x_T.shape, noise=x_T, clip_denoised=False,
        generator=torch.Generator().manual_seed(1))
    assert not torch.allclose(large, runs["ddpm"], rtol=1e-3)  # σ² = β is another sampler


@pytest.mark.parametrize("decoder", ["discretized", "gaussian"])
def test_calc_bpd_loop_total_is_prior_plus_terms_in_index_order(decoder):
    schedule = NoiseSchedule.linear(12, 1e-3, 0.3)
    diffusion = GaussianDiffusion(schedule, decoder=decoder)
    values = torch.arange(3 * 2 * 4, dtype=torch.float64).reshape(3, 2, 4) * 10 % 256
    x0 = values / 127.5 - 1.0
    result = diffusion.calc_bpd_loop(eps_function, x0, generator=torch.Generator().manual_seed(3))
    assert result["vb"].shape == result["x0_mse"].shape == result["mse"].shape == (3, 12)
    assert_close(result["total_bpd"], result["prior_bpd"] + result["vb"].sum(dim=1),
                 tolerance(torch.float64))
    assert_close(result["prior_bpd"], diffusion.prior_bpd(x0), tolerance(torch.float64))
    # Replay the loop's noise (drawn for t = T-1, ..., 0) and recompute each column.
    generator = torch.Generator().manual_seed(3)
    for index in range(11, -1, -1):  # t = T-1, ..., 0
        noise = torch.randn(x0.shape, generator=generator, dtype=x0.dtype)
        t = torch.full((3,), index)
        x_t = diffusion.q_sample(x0, t, noise)
        term = diffusion.vb_terms_bpd(eps_function, x0, x_t, t)
        assert_close(result["vb"][:, index], term, tolerance(torch.float64), err_msg=str(index))
        mse = ((eps_function(x_t, t) - noise) ** 2).mean(dim=(1, 2))
        assert_close(result["mse"][:, index], mse, tolerance(torch.float64, 10.0))
    assert not torch.allclose(result["vb"].flip(1), result["vb"])  # the order is observable


@given(case=diffusion_batches(n_arrays=1, min_dims=2, max_steps=32))
def test_learned_variances_reach_the_fixed_ones(case):
    """Improved DDPM eq. (15): v = -1 gives log β̃ (fixed_small), v = +1 gives log β; a learned
    log-variance equal to log β̃ gives fixed_small; v = 0 gives the geometric mean."""
    schedule, t, (x_t,) = case
    x_t, t = torch.from_numpy(x_t), torch.from_numpy(t)

    def run(var_type, var_output):
        model = lambda x, t_: torch.cat([eps_function(x, t_), var_output], dim=1)  # noqa: E731
        return GaussianDiffusion(schedule, var_type=var_type).p_mean_variance(model, x_t, t)

    small = GaussianDiffusion(schedule).p_mean_variance(eps_function, x_t, t)
    ones = torch.ones_like(x_t)
    log_beta = torch.log(gather(schedule.to_torch().beta, t, x_t)).expand_as(x_t)
    tol = tolerance(torch.float64, 10.0)
    assert_close(run("learned_range", -ones)["log_variance"], small["log_variance"], tol)
    assert_close(run("learned_range", ones)["log_variance"], log_beta, tol)
    assert_close(run("learned_range", 0 * ones)["log_variance"],
                 0.5 * (log_beta + small["log_variance"]), tol)
    learned = run("learned", small["log_variance"])
    assert_close(learned["log_variance"], small["log_variance"], tol)
    assert_close(learned["mean"], small["mean"], tol)
