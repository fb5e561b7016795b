"""The facade's training path and respacing, with a t-dependent model (issue 11, findings 1-3).

- ``training_losses`` at given t against the float64 reference loss fed ``model(x_t, t)`` and
  against the torch kernel fed the same output, for every valid (mean, variance, loss) triple;
  the model must be called with exactly the t of x_t.
- E_t[w_t L_t] under the sampler computed exactly as the finite sum Σ_t p_t w_t L_t, with the
  weights w_t that ``training_losses`` returns (uniform and importance-sampled), equals the
  uniform average (1/T) Σ_t L_t; the draws follow p (chi-square at level 1e-6).
- respacing checked deterministically: ᾱ of the kept steps from β, and the original index the
  network sees in every respaced method.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats

from ddpm_math import (
    GaussianDiffusion,
    LossSecondMomentResampler,
    TimestepMap,
    UniformSampler,
    respaced_betas,
    space_timesteps,
)
from ddpm_math.diffusion import losses as kernel_losses
from ddpm_math.diffusion.options import DecoderType, LossType, MeanType, VarType
from ddpm_math.reference import forward as ref_forward
from ddpm_math.reference import losses as ref_losses
from ddpm_math.reference import reverse as ref_reverse
from ddpm_math.reference.schedule import step_tables
from ddpm_math.testing.tolerances import TOLERANCES, Tolerance, assert_close
from verification.diffusion.facade_case import (
    BETAS,
    SCHEDULE,
    T,
    TModel,
    grid_data,
    normal,
    shifted,
)

F64 = TOLERANCES["float64"]
TOL = F64.scaled(1e4)  # the bound's terms carry ‖Δ‖²/σ² ≈ 1/β̃ ≈ 1e3 (see test_facade.py)


def magnitude_tolerance(expected) -> Tolerance:
    """TOL with atol scaled by the expected values' largest magnitude (an element near 0 of a
    sum carries the rounding of its largest terms); rtol stays TOL's, so a wrong weight of a
    few percent still fails however large the values are."""
    return Tolerance(rtol=TOL.rtol, atol=TOL.atol * (1.0 + float(np.max(np.abs(expected)))))
T_ALL = np.arange(T)
X0, NOISE = grid_data(), normal(seed=1)

TRIPLES = [(m, v, loss) for m in ("eps", "x0", "v", "xprev")
           for v in ("fixed_small", "fixed_large", "learned", "learned_range")
           for loss in ("simple", "weighted", "vlb", "hybrid")
           if not (v.startswith("learned") and loss in ("simple", "weighted"))]


def tensor(a) -> torch.Tensor:
    return torch.from_numpy(np.array(a, dtype=np.float64))


def reference_losses(model: TModel, t, mean_type, var_type, loss_type, decoder="discretized",
                     x0=X0, noise=NOISE):
    x_t = ref_forward.q_sample(BETAS, x0, t, noise)
    return ref_losses.training_losses(BETAS, model.numpy(x_t, t), x0, x_t, t, noise, mean_type,
                                      var_type, loss_type, decoder)


@pytest.mark.parametrize(("mean_type", "var_type", "loss_type"), TRIPLES)
def test_training_losses_match_reference_and_kernel(mean_type, var_type, loss_type):
    model = TModel(learned=var_type.startswith("learned"))
    d = GaussianDiffusion(SCHEDULE, mean_type, var_type, loss_type)
    got = d.training_losses(model, tensor(X0), torch.from_numpy(T_ALL), tensor(NOISE))
    want = reference_losses(model, T_ALL, mean_type, var_type, loss_type)
    for key, value in want.items():
        assert_close(got[key], value, magnitude_tolerance(value),
                     err_msg=key)
    np.testing.assert_array_equal(model.calls[0].numpy(), T_ALL)  # the network saw t itself
    np.testing.assert_array_equal(got["weights"].numpy(), np.ones(T))
    # the kernel fed model(x_t, t) at the facade's x_t
    x_t = d.q_sample(tensor(X0), torch.from_numpy(T_ALL), tensor(NOISE))
    kernel = kernel_losses.training_losses(
        SCHEDULE.to_torch(), model(x_t, torch.from_numpy(T_ALL)), tensor(X0), x_t,
        torch.from_numpy(T_ALL), tensor(NOISE), MeanType(mean_type), VarType(var_type),
        LossType(loss_type), DecoderType.DISCRETIZED)
    for key, value in kernel.items():
        torch.testing.assert_close(got[key], value, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize(("mean_type", "var_type", "loss_type"),
                         [("eps", "fixed_small", "simple"), ("x0", "fixed_large", "weighted"),
                          ("eps", "learned_range", "hybrid"), ("v", "learned", "vlb")])
def test_training_losses_at_t_plus_1_fail(mean_type, var_type, loss_type):
    """A facade that called the network at t+1 in training_losses only fails the check above."""
    model = TModel(learned=var_type.startswith("learned"))
    d = GaussianDiffusion(SCHEDULE, mean_type, var_type, loss_type)
    got = d.training_losses(shifted(model), tensor(X0), torch.from_numpy(T_ALL), tensor(NOISE))
    want = reference_losses(model, T_ALL, mean_type, var_type, loss_type)
    assert not np.allclose(got["loss"].numpy(), want["loss"], rtol=1e-6)


# -- the expectation over t, exactly (finding 2) -----------------------------------------------

BATCH = 400  # every t drawn at least once (fixed seed; p_t ≥ 0.03 below)


def per_t_losses(d: GaussianDiffusion, model) -> np.ndarray:
    """L(t) for t = 0..T-1 on one example, through the facade at explicit t."""
    x0 = np.repeat(X0[:1], T, axis=0)
    noise = np.repeat(NOISE[:1], T, axis=0)
    return d.training_losses(model, tensor(x0), torch.from_numpy(T_ALL), tensor(noise),
                             )["loss"].detach().numpy()


def drawn_weights(d: GaussianDiffusion, model, seed: int):
    """(p before the draw, t drawn, the returned weights, the returned weighted losses)."""
    probs = d.timestep_sampler.probabilities()
    x0, noise = np.repeat(X0[:1], BATCH, axis=0), np.repeat(NOISE[:1], BATCH, axis=0)
    terms = d.training_losses(model, tensor(x0), None, tensor(noise),
                              generator=torch.Generator().manual_seed(seed))
    return probs, terms["t"].numpy(), terms["weights"].numpy(), terms["loss"].detach().numpy()


def expectation_over_t(probs, t, weights, loss, per_t):
    """Σ_t p_t w_t L_t with w_t read from the returned weights (each drawn t has one weight)."""
    w = np.full(T, np.nan)
    for step in range(T):
        seen = np.unique(weights[t == step])
        assert seen.size == 1, f"t={step} drawn {seen.size} times with distinct weights"
        w[step] = seen[0]
    np.testing.assert_allclose(loss, w[t] * per_t[t], rtol=1e-12)  # loss = w_t L(t)
    return float(np.sum(probs * w * per_t))


def importance_diffusion() -> GaussianDiffusion:
    sampler = LossSecondMomentResampler(T, history_per_term=2)
    history = np.linspace(0.5, 3.0, T)  # p_t ∝ these: 0.03..0.17
    for _ in range(2):
        sampler.update_with_losses(torch.from_numpy(T_ALL), torch.from_numpy(history))
    assert sampler.warmed_up
    return GaussianDiffusion(SCHEDULE, "eps", "fixed_small", "weighted",
                             timestep_sampler=sampler)


@pytest.mark.parametrize("sampler", ["uniform", "importance"])
def test_expected_training_loss_is_the_uniform_average(sampler):
    """E_{t~p}[w_t L_t] = (1/T) Σ_t L_t exactly, with the code's own p and returned w."""
    model = TModel()
    d = (GaussianDiffusion(SCHEDULE, "eps", "fixed_small", "weighted",
                           timestep_sampler=UniformSampler(T))
         if sampler == "uniform" else importance_diffusion())
    per_t = per_t_losses(d, model)
    probs, t, weights, loss = drawn_weights(d, model, seed=7)
    if sampler == "importance":
        assert np.ptp(probs) > 0.1  # not uniform: the weights matter
    assert expectation_over_t(probs, t, weights, loss, per_t) == pytest.approx(
        float(per_t.mean()), rel=1e-12)
    # the draws follow p: chi-square goodness of fit, false-failure probability 1e-6
    counts = np.bincount(t, minlength=T)
    assert stats.chisquare(counts, BATCH * probs).pvalue > 1e-6


@pytest.mark.parametrize("wrong", ["missing_1_over_T", "unweighted", "p_not_1_over_p"])
def test_wrong_importance_weights_fail_the_expectation(wrong):
    model = TModel()
    d = importance_diffusion()
    per_t = per_t_losses(d, model)
    probs, t, weights, loss = drawn_weights(d, model, seed=7)
    bad = {"missing_1_over_T": weights * T, "unweighted": np.ones_like(weights),
           "p_not_1_over_p": T * probs[t]}[wrong]
    w = np.array([bad[t == step][0] for step in range(T)])
    assert float(np.sum(probs * w * per_t)) != pytest.approx(float(per_t.mean()), rel=1e-3)


# -- respacing, deterministically (finding 3) --------------------------------------------------

RESPACINGS = {"ddim5": [0, 2, 4, 6, 8], "3,2": [0, 2, 4, 5, 9], "ddim1": [0]}


@pytest.mark.parametrize("spec", sorted(RESPACINGS))
def test_respaced_alpha_bar_and_timestep_map(spec):
    """ᾱ' of the new steps = ᾱ of the kept steps (from β); β' = 1 - ᾱ'_i/ᾱ'_{i-1}; every
    method calls the network with the original index."""
    kept = RESPACINGS[spec]
    tables = step_tables(BETAS)
    respaced = GaussianDiffusion(SCHEDULE, "eps", "learned_range", "hybrid").respaced(spec)
    assert respaced.num_steps == len(kept)
    new_tables = step_tables(respaced.schedule.beta)
    assert_close(new_tables.alpha_bar, tables.alpha_bar[kept], F64.scaled(T))
    alpha_bar_prev = np.concatenate(([1.0], tables.alpha_bar[kept][:-1]))
    assert_close(respaced.schedule.beta, 1.0 - tables.alpha_bar[kept] / alpha_bar_prev,
                 F64.scaled(1e3))
    steps = np.arange(len(kept))
    new_betas = 1.0 - tables.alpha_bar[kept] / alpha_bar_prev
    x0, noise = X0[: len(kept)], NOISE[: len(kept)]
    model = TModel(learned=True)
    got = respaced.training_losses(model, tensor(x0), torch.from_numpy(steps), tensor(noise))
    np.testing.assert_array_equal(model.calls[-1].numpy(), kept)
    x_t = ref_forward.q_sample(new_betas, x0, steps, noise)
    want = ref_losses.training_losses(new_betas, model.numpy(x_t, np.array(kept)), x0, x_t,
                                      steps, noise, "eps", "learned_range", "hybrid")
    assert_close(got["loss"], want["loss"], magnitude_tolerance(want["loss"]))
    out = respaced.p_mean_variance(model, tensor(x_t), torch.from_numpy(steps))
    np.testing.assert_array_equal(model.calls[-1].numpy(), kept)
    ref_out = ref_reverse.p_mean_variance(new_betas, model.numpy(x_t, np.array(kept)), x_t,
                                          steps, "eps", "learned_range")
    assert_close(out["mean"], ref_out["mean"], TOL)
    model.calls.clear()
    respaced.p_sample_loop(model, (2, 2, 3), generator=torch.Generator().manual_seed(0))
    assert [int(c[0]) for c in model.calls] == kept[::-1]
    model.calls.clear()
    respaced.ddim_sample_loop(model, (2, 2, 3), generator=torch.Generator().manual_seed(0))
    assert [int(c[0]) for c in model.calls] == kept[::-1]


def test_respacing_twice_composes_the_maps():
    twice = GaussianDiffusion(SCHEDULE).respaced("ddim5").respaced("ddim3")
    model = TModel()
    twice.p_mean_variance(model, tensor(NOISE[:3]), torch.arange(3))
    np.testing.assert_array_equal(model.calls[-1].numpy(), [0, 4, 8])
    assert_close(step_tables(twice.schedule.beta).alpha_bar,
                 step_tables(BETAS).alpha_bar[[0, 4, 8]], F64.scaled(T))


def test_a_respaced_model_called_with_the_new_index_fails():
    """The plausible bug: the network sees the new index i instead of k_i."""
    respaced = GaussianDiffusion(SCHEDULE).respaced("ddim5")
    model = TModel()
    steps = torch.arange(5)
    right = respaced.p_mean_variance(model, tensor(NOISE[:5]), steps)["mean"]
    unmapped = GaussianDiffusion(respaced.schedule).p_mean_variance(model, tensor(NOISE[:5]),
                                                                    steps)["mean"]
    assert not torch.allclose(right, unmapped, rtol=1e-6)


@pytest.mark.parametrize("spec", sorted(RESPACINGS))
def test_public_respacing_functions(spec):
    """space_timesteps by hand (sections of 5 and 5: linspace(0, 4, 3) and (0, 4, 2)),
    respaced_betas from ᾱ of β, and TimestepMap.wrap handing the model k_i."""
    kept = RESPACINGS[spec]
    assert space_timesteps(T, spec) == kept
    alpha_bar = step_tables(BETAS).alpha_bar[kept]
    assert_close(respaced_betas(SCHEDULE, kept),
                 1.0 - alpha_bar / np.concatenate(([1.0], alpha_bar[:-1])), F64.scaled(1e3))
    model = TModel()
    TimestepMap(kept).wrap(model)(tensor(NOISE[: len(kept)]), torch.arange(len(kept)))
    np.testing.assert_array_equal(model.calls[-1].numpy(), kept)
