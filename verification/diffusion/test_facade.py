"""Every public method of GaussianDiffusion against the float64 reference, with a t-dependent model.

Finding (1) of issue 11: the facade's own composition (which t it hands the network, which
kernels it chains) was never observed. Here each method is called through the facade with
:class:`TModel` (its output depends on t and on the channel) and compared with the reference of
:mod:`ddpm_math.reference` fed ``model(x_t, t)`` at the same t, its tables formed from β alone.
Each group has a companion in which the model is called at t+1 (the facade's off-by-one) and the
same check fails. Batch row b is looked at with t = b, so every index 0..T-1 is covered.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ddpm_math import GaussianDiffusion
from ddpm_math.reference import forward as ref_forward
from ddpm_math.reference import parameterization as ref_param
from ddpm_math.reference import posterior as ref_posterior
from ddpm_math.reference import reverse as ref_reverse
from ddpm_math.reference import vlb as ref_vlb
from ddpm_math.reference.schedule import step_tables
from ddpm_math.testing.tolerances import TOLERANCES, assert_close
from verification.diffusion.facade_case import (
    BETAS,
    SCHEDULE,
    SHAPE,
    T,
    TModel,
    grid_data,
    normal,
    shifted,
)

F64 = TOLERANCES["float64"]
#: x̂_0 = (x_t - √(1-ᾱ) ε)/√ᾱ amplifies rounding by up to 1/√ᾱ_T ≈ 1.7 here, and the
#: xprev route by (1 + c_xt)/c_x0 ≈ 1e3 at index 1: one scale for every output.
TOL = F64.scaled(1e4)
T_ALL = np.arange(T)
MEAN_TYPES = ["eps", "x0", "v", "xprev"]
VAR_TYPES = ["fixed_small", "fixed_large", "learned", "learned_range"]


def tensor(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(a, dtype=np.float64))


def diffusion(mean_type="eps", var_type="fixed_small", loss_type="simple", decoder="discretized",
              **kwargs) -> GaussianDiffusion:
    return GaussianDiffusion(SCHEDULE, mean_type, var_type, loss_type, decoder, **kwargs)


X0, NOISE, X_T = grid_data(), normal(seed=1), normal(seed=2)
T_TORCH = torch.from_numpy(T_ALL)


# -- the forward process, its posterior and the conversions (no model) -------------------------

def test_forward_methods_match_reference():
    d = diffusion()
    assert_close(d.q_sample(tensor(X0), T_TORCH, tensor(NOISE)),
                 ref_forward.q_sample(SCHEDULE, X0, T_ALL, NOISE), F64)
    for got, want in zip(d.q_mean_variance(tensor(X0), T_TORCH),
                         ref_forward.q_mean_variance(SCHEDULE, X0, T_ALL), strict=True):
        assert_close(got, np.broadcast_to(want, SHAPE), F64)
    for got, want in zip(d.q_posterior(tensor(X0), tensor(X_T), T_TORCH),
                         ref_posterior.q_posterior(SCHEDULE, X0, X_T, T_ALL), strict=True):
        assert_close(got, np.broadcast_to(want, SHAPE), F64)


@pytest.mark.parametrize("name", ["x0_from_eps", "eps_from_x0", "v_from_x0_eps", "x0_from_v",
                                  "eps_from_v"])
def test_conversions_match_reference(name):
    got = getattr(diffusion(), name)(tensor(X_T), T_TORCH, tensor(NOISE))
    assert_close(got, getattr(ref_param, name)(SCHEDULE, X_T, T_ALL, NOISE), TOL)


# -- the reverse step --------------------------------------------------------------------------

def reference_pmv(model: TModel, x_t, t, mean_type, var_type, clip=False, betas=BETAS):
    return ref_reverse.p_mean_variance(betas, model.numpy(x_t, t), x_t, t, mean_type, var_type,
                                       clip)


@pytest.mark.parametrize("clip", [False, True])
@pytest.mark.parametrize("var_type", VAR_TYPES)
@pytest.mark.parametrize("mean_type", MEAN_TYPES)
def test_p_mean_variance_matches_reference(mean_type, var_type, clip):
    model = TModel(learned=var_type.startswith("learned"))
    x_t = 1.5 * X_T  # some x̂_0 outside [-1, 1], so clipping acts
    got = diffusion(mean_type, var_type).p_mean_variance(model, tensor(x_t), T_TORCH, clip)
    want = reference_pmv(model, x_t, T_ALL, mean_type, var_type, clip)
    for key in ("mean", "variance", "log_variance", "x0_hat", "eps_hat"):
        assert_close(got[key], np.broadcast_to(want[key], SHAPE), TOL, err_msg=key)
    torch.testing.assert_close(model.calls[0], T_TORCH, rtol=0, atol=0)


@pytest.mark.parametrize("mean_type", MEAN_TYPES)
def test_p_mean_variance_at_t_plus_1_fails(mean_type):
    model = TModel()
    got = diffusion(mean_type).p_mean_variance(shifted(model), tensor(X_T), T_TORCH)
    want = reference_pmv(model, X_T, T_ALL, mean_type, "fixed_small")
    assert not np.allclose(got["mean"].numpy(), want["mean"], rtol=1e-6)


def test_p_sample_and_ddim_sample_match_reference():
    """x_{t-1} = μ_θ + σ_t z (no noise at index 0); DDIM eq. (12) with σ_t(η) of eq. (16)."""
    for var_type in VAR_TYPES:
        model = TModel(learned=var_type.startswith("learned"))
        d = diffusion("eps", var_type)
        got = d.p_sample(model, tensor(X_T), T_TORCH, tensor(NOISE), clip_denoised=False)
        out = reference_pmv(model, X_T, T_ALL, "eps", var_type)
        nonzero = (T_ALL > 0).reshape(-1, 1, 1)
        want = out["mean"] + nonzero * np.exp(0.5 * out["log_variance"]) * NOISE
        assert_close(got, want, TOL, err_msg=var_type)
    tables = step_tables(BETAS)
    for eta in (0.0, 0.5, 1.0):
        model = TModel()
        got = diffusion().ddim_sample(model, tensor(X_T), T_TORCH, tensor(NOISE),
                                      clip_denoised=False, eta=eta)
        out = reference_pmv(model, X_T, T_ALL, "eps", "fixed_small")
        prev = tables.alpha_bar_prev[T_ALL].reshape(-1, 1, 1)
        now = tables.alpha_bar[T_ALL].reshape(-1, 1, 1)
        sigma = eta * np.sqrt((1 - prev) / (1 - now) * (1 - now / prev))
        want = (np.sqrt(prev) * out["x0_hat"] + np.sqrt(1 - prev - sigma**2) * out["eps_hat"]
                + sigma * NOISE)
        assert_close(got, want, TOL, err_msg=f"eta={eta}")


# -- the learned variances at interior points (finding 3) --------------------------------------

LEVELS = np.array([-0.9, -0.5, -0.1, 0.0, 0.3, 0.7, 0.95])


class ConstantVariance:
    """Mean block 0, variance block v(t) = LEVELS[t mod 7]: interior points of (-1, 1)."""

    def __call__(self, x_t, t):
        v = torch.from_numpy(LEVELS)[t % LEVELS.size].reshape(-1, 1, 1).to(x_t.dtype)
        return torch.cat([torch.zeros_like(x_t), v.expand_as(x_t)], dim=1)


def learned_range_formula(t, v, swap=False, raw=False):
    """log σ² = u log β_t + (1-u) log β̃_t (clipped), u = (v+1)/2, Improved DDPM eq. (15);
    ``swap``/``raw`` are the plausible wrong versions (ends swapped; u = v)."""
    tables = step_tables(BETAS)
    u = v if raw else (v + 1.0) / 2.0
    low, high = tables.log_beta_tilde_clipped[t], np.log(tables.beta[t])
    if swap:
        low, high = high, low
    return u * high + (1.0 - u) * low


def test_learned_range_interpolates_at_interior_points():
    out = diffusion("eps", "learned_range").p_mean_variance(
        ConstantVariance(), tensor(X_T), T_TORCH)
    v = LEVELS[T_ALL % LEVELS.size]
    want = learned_range_formula(T_ALL, v).reshape(-1, 1, 1)
    assert_close(out["log_variance"], np.broadcast_to(want, SHAPE), F64)
    assert_close(out["variance"], np.broadcast_to(np.exp(want), SHAPE), F64)
    got = out["log_variance"][:, 0, 0].numpy()
    for wrong in ({"swap": True}, {"raw": True}):
        assert not np.allclose(got, learned_range_formula(T_ALL, v, **wrong), rtol=1e-6)


def test_learned_variance_is_the_output_itself():
    out = diffusion("eps", "learned").p_mean_variance(ConstantVariance(), tensor(X_T), T_TORCH)
    v = LEVELS[T_ALL % LEVELS.size].reshape(-1, 1, 1)
    assert_close(out["log_variance"], np.broadcast_to(v, SHAPE), F64)
    assert_close(out["variance"], np.broadcast_to(np.exp(v), SHAPE), F64)
    assert not np.allclose(out["variance"].numpy(), np.broadcast_to(np.exp(2 * v), SHAPE))


# -- the bound ---------------------------------------------------------------------------------

@pytest.mark.parametrize("decoder", ["discretized", "discretized_approx", "gaussian"])
@pytest.mark.parametrize("var_type", VAR_TYPES)
def test_bound_methods_match_reference(var_type, decoder):
    model = TModel(learned=var_type.startswith("learned"))
    d = diffusion("eps", var_type, decoder=decoder)
    assert_close(d.prior_bpd(tensor(X0)), ref_vlb.prior_bpd(BETAS, X0), F64)
    x_t = ref_forward.q_sample(BETAS, X0, T_ALL, NOISE)
    got = d.vb_terms_bpd(model, tensor(X0), tensor(x_t), T_TORCH)
    out = reference_pmv(model, x_t, T_ALL, "eps", var_type)
    want = ref_vlb.vb_terms_bpd(BETAS, X0, x_t, T_ALL, out["mean"], out["log_variance"], decoder)
    assert_close(got, want, TOL)
    wrong = d.vb_terms_bpd(shifted(model), tensor(X0), tensor(x_t), T_TORCH)
    assert not np.allclose(wrong.numpy(), want, rtol=1e-6)


def reference_bpd_loop(model: TModel, x0, noises, var_type="fixed_small", decoder="discretized"):
    """calc_bpd_loop's columns from the reference, x_t = q_sample(x_0, t, noises[t])."""
    columns = {"vb": [], "x0_mse": [], "mse": []}
    batch = x0.shape[0]
    for index in range(T):
        t = np.full(batch, index)
        x_t = ref_forward.q_sample(BETAS, x0, t, noises[index])
        out = reference_pmv(model, x_t, t, "eps", var_type)
        columns["vb"].append(ref_vlb.vb_terms_bpd(BETAS, x0, x_t, t, out["mean"],
                                                  out["log_variance"], decoder))
        columns["x0_mse"].append(((out["x0_hat"] - x0) ** 2).reshape(batch, -1).mean(1))
        columns["mse"].append(((out["eps_hat"] - noises[index]) ** 2).reshape(batch, -1).mean(1))
    result = {k: np.stack(v, axis=1) for k, v in columns.items()}
    result["prior_bpd"] = ref_vlb.prior_bpd(BETAS, x0)
    result["total_bpd"] = result["vb"].sum(axis=1) + result["prior_bpd"]
    return result


@pytest.mark.parametrize("var_type", ["fixed_small", "learned_range"])
def test_calc_bpd_loop_matches_reference(var_type):
    """The loop draws ε for t = T-1, ..., 0 from the generator; the reference replays them."""
    model = TModel(learned=var_type.startswith("learned"))
    x0 = X0[:4]
    got = diffusion("eps", var_type).calc_bpd_loop(model, tensor(x0),
                                                   generator=torch.Generator().manual_seed(5))
    replay = torch.Generator().manual_seed(5)
    noises = {i: torch.randn(x0.shape, generator=replay, dtype=torch.float64).numpy()
              for i in range(T - 1, -1, -1)}
    want = reference_bpd_loop(model, x0, noises, var_type)
    for key, value in want.items():
        assert_close(got[key], value, TOL, err_msg=key)
    assert [int(c[0]) for c in model.calls] == list(range(T - 1, -1, -1))


# -- the sampling loops ------------------------------------------------------------------------

def reference_ancestral(model: TModel, x_T, noises, var_type="fixed_small", clip=True,
                        betas=BETAS, model_steps=None):
    x, steps = x_T, np.arange(len(betas)) if model_steps is None else np.asarray(model_steps)
    for index in range(len(betas) - 1, -1, -1):
        t = np.full(x.shape[0], index)
        out = ref_reverse.p_mean_variance(betas, model.numpy(x, steps[t]), x, t, "eps",
                                          var_type, clip)
        noise = noises[index] if index > 0 else 0.0
        x = out["mean"] + np.exp(0.5 * out["log_variance"]) * noise
    return x


def replayed_noise(seed: int, shape, num_steps=T):
    replay = torch.Generator().manual_seed(seed)
    return {i: torch.randn(shape, generator=replay, dtype=torch.float64).numpy()
            for i in range(num_steps - 1, 0, -1)}


@pytest.mark.parametrize("var_type", ["fixed_small", "fixed_large", "learned_range"])
def test_p_sample_loop_matches_reference(var_type):
    model = TModel(learned=var_type.startswith("learned"))
    x_T = X_T[:3]
    got = diffusion("eps", var_type).p_sample_loop(model, x_T.shape, noise=tensor(x_T),
                                                   generator=torch.Generator().manual_seed(3))
    want = reference_ancestral(model, x_T, replayed_noise(3, x_T.shape), var_type)
    assert_close(got, want, TOL)
    assert [int(c[0]) for c in model.calls] == list(range(T - 1, -1, -1))


def reference_ddim(model: TModel, x_T, betas=BETAS, model_steps=None, clip=True):
    """DDIM with η = 0 from the reference's x̂_0 and ε̂: deterministic."""
    tables = step_tables(betas)
    x, steps = x_T, np.arange(len(betas)) if model_steps is None else np.asarray(model_steps)
    for index in range(len(betas) - 1, -1, -1):
        t = np.full(x.shape[0], index)
        out = ref_reverse.p_mean_variance(betas, model.numpy(x, steps[t]), x, t, "eps",
                                          "fixed_small", clip)
        prev = tables.alpha_bar_prev[index]
        x = np.sqrt(prev) * out["x0_hat"] + np.sqrt(1 - prev) * out["eps_hat"]
    return x


def test_ddim_sample_loop_matches_reference():
    model = TModel()
    x_T = X_T[:3]
    got = diffusion().ddim_sample_loop(model, x_T.shape, noise=tensor(x_T))
    assert_close(got, reference_ddim(model, x_T), TOL)
    wrong = diffusion().ddim_sample_loop(shifted(model), x_T.shape, noise=tensor(x_T))
    assert not np.allclose(wrong.numpy(), reference_ddim(model, x_T), rtol=1e-6)


def test_single_step_defaults_are_the_documented_ones():
    """Called with no options, p_sample and ddim_sample clip x̂_0 to [-1, 1] (DDPM's sampler)
    and ddim_sample takes η = 0 (DDIM's deterministic step, Song et al. eq. 12);
    p_mean_variance does not clip. Each default is checked where it changes the result."""
    model, tables = TModel(), step_tables(BETAS)
    prev = tables.alpha_bar_prev[T_ALL].reshape(-1, 1, 1)
    clipped = reference_pmv(model, X_T, T_ALL, "eps", "fixed_small", clip=True)
    unclipped = reference_pmv(model, X_T, T_ALL, "eps", "fixed_small", clip=False)
    assert not np.allclose(clipped["mean"], unclipped["mean"], rtol=1e-6)  # clipping binds

    got = diffusion().p_sample(model, tensor(X_T), T_TORCH, tensor(NOISE))
    nonzero = (T_ALL > 0).reshape(-1, 1, 1)
    assert_close(got, clipped["mean"] + nonzero * np.exp(0.5 * clipped["log_variance"]) * NOISE,
                 TOL)
    got = diffusion().ddim_sample(model, tensor(X_T), T_TORCH, tensor(NOISE))
    assert_close(got, np.sqrt(prev) * clipped["x0_hat"] + np.sqrt(1 - prev) * clipped["eps_hat"],
                 TOL)
    got = diffusion().p_mean_variance(model, tensor(X_T), T_TORCH)
    assert_close(got["mean"], unclipped["mean"], TOL)
