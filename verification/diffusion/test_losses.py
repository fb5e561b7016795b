"""Training losses: L_simple (DDPM eq. 14), the eq. (12) weighting as "the bound up to a
constant", the vlb and hybrid objectives, and the unbiasedness of importance-sampled timesteps.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from ddpm_math.diffusion.forward import q_sample
from ddpm_math.diffusion.losses import HYBRID_VLB_WEIGHT, mse_target, training_losses
from ddpm_math.diffusion.options import DecoderType, LossType, MeanType, VarType
from ddpm_math.diffusion.resample import LossSecondMomentResampler
from ddpm_math.diffusion.reverse import p_mean_variance
from ddpm_math.diffusion.tensors import gather
from ddpm_math.diffusion.vlb import vb_terms_bpd
from ddpm_math.schedules import NoiseSchedule
from ddpm_math.testing.strategies import diffusion_batches
from ddpm_math.testing.tolerances import assert_close
from verification.diffusion.closed_forms import tolerance

LN2 = math.log(2.0)
FIXED_VARIANCES = [VarType.FIXED_SMALL, VarType.FIXED_LARGE]


def _batch(case):
    schedule, t, (x0, noise, prediction) = case
    coefs, t = schedule.to_torch(), torch.from_numpy(t)
    x0, noise, prediction = (torch.from_numpy(a) for a in (x0, noise, prediction))
    return schedule, coefs, t, x0, noise, q_sample(coefs, x0, t, noise), prediction


@given(case=diffusion_batches(n_arrays=3, max_dims=3))
def test_simple_loss_is_the_mse_of_eq14(case):
    _, coefs, t, x0, noise, x_t, eps_hat = _batch(case)
    terms = training_losses(coefs, eps_hat, x0, x_t, t, noise, MeanType.EPS,
                            VarType.FIXED_SMALL, LossType.SIMPLE)
    expected = ((noise - eps_hat) ** 2).reshape(len(t), -1).mean(dim=1)
    assert_close(terms["loss"], expected, tolerance(torch.float64))
    assert_close(terms["mse"], expected, tolerance(torch.float64))
    assert set(terms) == {"loss", "mse"}


def bound_in_nats(coefs, output, x0, x_t, t, mean_type, var_type):
    out = p_mean_variance(coefs, output, x_t, t, mean_type, var_type)
    vb = vb_terms_bpd(coefs, x0, x_t, t, out["mean"], out["log_variance"], DecoderType.GAUSSIAN)
    return vb * LN2


@pytest.mark.parametrize("var_type", FIXED_VARIANCES)
@pytest.mark.parametrize("mean_type", list(MeanType))
@given(case=diffusion_batches(n_arrays=3, max_dims=3, max_steps=32))
def test_weighted_loss_is_the_bound_up_to_a_constant(mean_type, var_type, case):
    """eq. (12): L_{t-1} = w_t ‖target - prediction‖² + C, C not depending on the model, for
    every parameterisation; at t = 1 with the Gaussian decoder (the density for eq. 13's bin)."""
    schedule, coefs, t, x0, noise, x_t, prediction = _batch(case)
    target = mse_target(coefs, x0, x_t, t, noise, mean_type)
    args = (x0, x_t, t, noise, mean_type, var_type, LossType.WEIGHTED)
    weighted = training_losses(coefs, prediction, *args)["loss"]
    assert float(training_losses(coefs, target, *args)["loss"].abs().max()) == 0.0
    bound = bound_in_nats(coefs, prediction, x0, x_t, t, mean_type, var_type)
    constant = bound_in_nats(coefs, target, x0, x_t, t, mean_type, var_type)
    # The bound's terms are up to ‖Δ‖²/σ² ≈ 36/β̃ in size; compare at that scale.
    scale = float(bound.abs().max()) + 1.0
    assert_close(bound - constant, weighted, tolerance(torch.float64, 1e2 * scale))


@pytest.mark.parametrize("mean_type", list(MeanType))
def test_wrong_weights_fail_the_bound_check(mean_type):
    schedule = NoiseSchedule.linear(10, 1e-3, 0.2)
    rng = np.random.default_rng(1)
    case = (schedule, np.array([0, 3, 9]), [rng.normal(size=(3, 2)) for _ in range(3)])
    _, coefs, t, x0, noise, x_t, prediction = _batch(case)
    bound = bound_in_nats(coefs, prediction, x0, x_t, t, mean_type, VarType.FIXED_SMALL)
    target = mse_target(coefs, x0, x_t, t, noise, mean_type)
    excess = bound - bound_in_nats(coefs, target, x0, x_t, t, mean_type, VarType.FIXED_SMALL)
    squared = ((target - prediction) ** 2).mean(dim=1)
    log_sigma2 = gather(coefs.log_beta_tilde_clipped, t, squared)
    right = training_losses(coefs, prediction, x0, x_t, t, noise, mean_type,
                            VarType.FIXED_SMALL, LossType.WEIGHTED)["loss"]
    assert torch.allclose(excess, right, rtol=1e-9)
    wrong = {
        "dropped_half": right * 2,
        "sigma_for_sigma2": right * torch.exp(0.5 * log_sigma2),
        "unweighted": squared,
    }
    for name, value in wrong.items():
        assert not torch.allclose(excess, value, rtol=1e-3), name


@given(case=diffusion_batches(n_arrays=3, max_dims=3, max_steps=16, min_dims=2),
       var_type=st.sampled_from([VarType.LEARNED, VarType.LEARNED_RANGE]))
def test_vlb_and_hybrid_losses(case, var_type):
    """vlb = T·L_t; hybrid = L_simple + λ T L_t with λ = 1e-3, the mean detached in L_t."""
    schedule, coefs, t, x0, noise, x_t, eps_hat = _batch(case)
    var_output = torch.tanh(eps_hat.flip(0))
    output = torch.cat([eps_hat, var_output], dim=1).requires_grad_(True)
    args = (x0, x_t, t, noise, MeanType.EPS, var_type)
    vlb = training_losses(coefs, output, *args, LossType.VLB)
    hybrid = training_losses(coefs, output, *args, LossType.HYBRID)
    num_steps = schedule.num_steps
    assert_close(vlb["loss"], num_steps * vlb["vb"], tolerance(torch.float64))
    assert_close(hybrid["vb"], vlb["vb"], tolerance(torch.float64))
    assert_close(hybrid["loss"], hybrid["mse"] + HYBRID_VLB_WEIGHT * num_steps * hybrid["vb"],
                 tolerance(torch.float64))
    (grad_hybrid,) = torch.autograd.grad(hybrid["loss"].sum(), output, retain_graph=True)
    (grad_mse,) = torch.autograd.grad(hybrid["mse"].sum(), output)
    channels = eps_hat.shape[1]
    assert torch.equal(grad_hybrid[:, :channels], grad_mse[:, :channels])  # mean detached
    (grad_vlb,) = torch.autograd.grad(vlb["loss"].sum(), output)
    out = p_mean_variance(coefs, output, x_t, t, MeanType.EPS, var_type)  # mean not detached
    bound = num_steps * vb_terms_bpd(coefs, x0, x_t, t, out["mean"], out["log_variance"])
    (grad_bound,) = torch.autograd.grad(bound.sum(), output)
    assert_close(grad_vlb, grad_bound, tolerance(torch.float64))  # vlb trains mean and variance


def test_importance_weights_make_the_estimate_unbiased():
    """Σ_t p_t · L_t/(T p_t) = (1/T) Σ_t L_t for the resampler's p (Improved DDPM eq. 18)."""
    sampler = LossSecondMomentResampler(8, history_per_term=3)
    losses = torch.tensor([0.1, 0.2, 0.5, 1.0, 2.0, 4.0, 3.0, 0.05], dtype=torch.float64)
    for _ in range(3):
        sampler.update_with_losses(torch.arange(8), losses)
    probs = sampler.probabilities()
    assert sampler.warmed_up
    expected_probs = 0.999 * losses.numpy() / losses.numpy().sum() + 0.001 / 8
    np.testing.assert_allclose(probs, expected_probs, rtol=1e-12)
    weights = 1.0 / (8 * probs)
    assert float(np.sum(probs * weights * losses.numpy())) == pytest.approx(
        float(losses.mean()), rel=1e-12)
    wrong_weights = 1.0 / probs  # missing 1/T
    assert float(np.sum(probs * wrong_weights * losses.numpy())) != pytest.approx(
        float(losses.mean()), rel=1e-3)
