"""Monte-Carlo checks of the engine's randomness against its own closed forms.

- Iterating the one-step forward kernel q(x_t | x_{t-1}) (DDPM eq. 2) from a fixed x_0 gives the
  marginal q(x_t | x_0) = N(√ᾱ_t x_0, 1 - ᾱ_t) (eq. 4) of ``q_mean_variance``.
- One reverse step (``p_sample``, Algorithm 2 line 4) has the mean and variance that
  ``p_mean_variance`` reports for p_θ(x_{t-1} | x_t), for every variance type; DDIM with η = 1
  (Song et al. 2021, eq. 16) has the same one-step moments.

Given x_0 (or x_t) every draw is exactly Gaussian, so the sample mean is exactly normal and the
sample variance exactly χ²: ``gaussian_moment_pvalues`` gives exact p-values, and a test that
compares k of them at the threshold 1e-6/k (Bonferroni) has false-failure probability ≤ 1e-6.
Each check has a companion showing a plausible wrong closed form fails it. Seeded generators.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ddpm_math.diffusion import forward
from ddpm_math.diffusion.gaussian_diffusion import GaussianDiffusion
from ddpm_math.schedules import NoiseSchedule
from ddpm_math.testing.oracles import gaussian_moment_pvalues

P_FALSE = 1e-6
#: β from 0.001 to 0.2 (the DDPM linear schedule rescaled to T = 100, Improved DDPM).
SCHEDULE = NoiseSchedule.linear(100, rescale_to_1000=True)
X0 = torch.tensor([-1.5, 0.0, 0.7, 2.0], dtype=torch.float64)  # arbitrary, incl. 0 and |x| > 1
LEVELS = (0, 1, 25, 50, 99)  # 0-based indices: x_1, x_2, x_26, x_51, x_100


# ---------------------------------------------------------------------------------------------
# forward process


def iterate_forward(n: int = 20_000, seed: int = 0, step_mean=None) -> dict[int, np.ndarray]:
    """x_t for t in LEVELS by iterating q_step_sample from x_0 = X0 (n rows); ``step_mean``
    replaces the step's mean coefficient √α_t (for the wrong-kernel test)."""
    coefs = SCHEDULE.to_torch()
    generator = torch.Generator().manual_seed(seed)
    x = X0.expand(n, -1).clone()
    levels = {}
    for index in range(SCHEDULE.num_steps):  # t = 0, ..., T-1 (the forward direction)
        t = torch.full((n,), index, dtype=torch.int64)
        noise = torch.randn(x.shape, generator=generator, dtype=torch.float64)
        if step_mean is None:
            x = forward.q_step_sample(coefs, x, t, noise)
        else:
            x = step_mean[index] * x + np.sqrt(SCHEDULE.beta[index]) * noise
        if index in LEVELS:
            levels[index] = x.numpy()
    return levels


def forward_pvalues(levels, marginal) -> np.ndarray:
    """Exact p-values of the iterated x_t against ``marginal(t) -> (mean [D], variance [D])``."""
    pvalues = [gaussian_moment_pvalues(x, *marginal(index)) for index, x in levels.items()]
    return np.concatenate([np.concatenate(p) for p in pvalues])


def engine_marginal(index: int):
    """Mean and variance of q(x_t | x_0) from the engine's ``q_mean_variance``."""
    diffusion = GaussianDiffusion(SCHEDULE)
    mean, variance, _ = diffusion.q_mean_variance(X0[None], torch.tensor([index]))
    return mean[0].numpy(), variance[0].numpy()


def test_iterated_forward_steps_match_the_marginal():
    """5 levels × 4 values × (mean, variance) = 40 exact p-values, each ≥ 1e-6/40."""
    pvalues = forward_pvalues(iterate_forward(), engine_marginal)
    assert pvalues.min() >= P_FALSE / pvalues.size


def _alpha_bar(index):
    return np.prod(1 - SCHEDULE.beta[: index + 1])


#: Plausible wrong closed forms of q(x_t | x_0): ᾱ_t x_0 (square root missing), the variance
#: 1 - ᾱ_{t-1} (off by one step), the variance Σ β_s (adding the steps' variances, forgetting
#: that each step shrinks the earlier noise).
WRONG_MARGINALS = {
    "mean_missing_sqrt": lambda i: (_alpha_bar(i) * X0.numpy(), np.full(4, 1 - _alpha_bar(i))),
    # at index 0 the off-by-one variance 1 - ᾱ_0 is 0; 1e-300 stands in for it
    "variance_off_by_one": lambda i: (np.sqrt(_alpha_bar(i)) * X0.numpy(),
                                      np.full(4, 1 - _alpha_bar(i - 1) if i > 0 else 1e-300)),
    "variance_sum_of_betas": lambda i: (np.sqrt(_alpha_bar(i)) * X0.numpy(),
                                        np.full(4, SCHEDULE.beta[: i + 1].sum())),
}


@pytest.mark.parametrize("wrong", sorted(WRONG_MARGINALS))
def test_wrong_marginals_fail_the_iteration_check(wrong):
    pvalues = forward_pvalues(iterate_forward(), WRONG_MARGINALS[wrong])
    assert pvalues.min() < P_FALSE / pvalues.size


def test_wrong_step_kernel_fails_the_iteration_check():
    """A step with mean (1 - β_t) x_{t-1} instead of √(1 - β_t) x_{t-1} is caught."""
    pvalues = forward_pvalues(iterate_forward(step_mean=1 - SCHEDULE.beta), engine_marginal)
    assert pvalues.min() < P_FALSE / pvalues.size


# ---------------------------------------------------------------------------------------------
# one reverse step

BASE_X_T = torch.tensor([[-1.2, 0.4], [0.3, -2.0], [1.7, 0.9]], dtype=torch.float64)
REPEATS = 20_000


def model_for(var_type: str):
    """A fixed nonlinear network stand-in: C = 2 output channels, or 2C with a learned variance
    (values in (-1, 1), the learned_range interpolation's domain)."""

    def model(x_t, t):
        scale = 1.0 + t.to(x_t.dtype)[:, None] / SCHEDULE.num_steps
        mean_block = torch.tanh(x_t) * scale - 0.1 * x_t
        if var_type in ("learned", "learned_range"):
            return torch.cat([mean_block, torch.tanh(0.7 * x_t + 0.2)], dim=1)
        return mean_block

    return model


def one_step(var_type: str, mean_type: str, index: int, *, ddim_eta=None, seed: int = 0):
    """(draws [REPEATS, 3, 2], mean [3, 2], variance [3, 2]) of one reverse step from BASE_X_T."""
    diffusion = GaussianDiffusion(SCHEDULE, mean_type=mean_type, var_type=var_type)
    x_t = BASE_X_T.repeat(REPEATS, 1)
    t = torch.full((x_t.shape[0],), index, dtype=torch.int64)
    generator = torch.Generator().manual_seed(seed)
    model = model_for(var_type)
    if ddim_eta is None:
        draws = diffusion.p_sample(model, x_t, t, generator=generator, clip_denoised=False)
    else:
        draws = diffusion.ddim_sample(model, x_t, t, generator=generator, clip_denoised=False,
                                      eta=ddim_eta)
    out = diffusion.p_mean_variance(model, BASE_X_T, t[:3])
    return (draws.reshape(REPEATS, 3, 2).numpy(), out["mean"].numpy(),
            out["log_variance"].exp().numpy())


def step_pvalues(draws, mean, variance) -> np.ndarray:
    """Exact p-values of the draws from each of the 3 base points (6 values: 12 p-values)."""
    return np.concatenate(gaussian_moment_pvalues(draws.reshape(REPEATS, 6), mean.ravel(),
                                                  variance.ravel()))


STEP_CASES = [(var_type, mean_type, index)
              for var_type in ("fixed_small", "fixed_large", "learned_range")
              for mean_type, index in (("eps", 1), ("x0", 40), ("eps", 99))]


@pytest.mark.parametrize(("var_type", "mean_type", "index"), STEP_CASES)
def test_one_reverse_step_has_the_moments_of_p_theta(var_type, mean_type, index):
    """12 exact p-values per case, each ≥ 1e-6/12."""
    pvalues = step_pvalues(*one_step(var_type, mean_type, index))
    assert pvalues.min() >= P_FALSE / pvalues.size


def test_last_reverse_step_is_the_mean():
    """Algorithm 2 adds no noise at t = 1 (index 0): the draw is μ_θ(x_1, 1) exactly."""
    draws, mean, _ = one_step("fixed_small", "eps", 0)
    np.testing.assert_array_equal(draws, np.broadcast_to(mean, draws.shape))


def test_wrong_step_variances_fail_the_moment_check():
    """σ² = β_t predicted for a β̃_t sampler, and the standard deviation taken for the variance
    (a square root missing), are both caught at index 1, where β̃_2/β_2 ≈ 0.25."""
    draws, mean, variance = one_step("fixed_small", "eps", 1)
    beta = SCHEDULE.beta[1]
    for wrong_variance in (np.full_like(variance, beta), np.sqrt(variance)):
        pvalues = step_pvalues(draws, mean, wrong_variance)
        assert pvalues.min() < P_FALSE / pvalues.size


@pytest.mark.parametrize("index", [1, 40, 99])
def test_ddim_with_eta_one_has_the_ancestral_moments(index):
    """DDIM eq. (12) with σ_t(η=1)² = β̃_t (eq. 16): the one-step moments of p_θ with
    σ² = β̃ (fixed_small); 12 exact p-values, each ≥ 1e-6/12."""
    draws, _, _ = one_step("fixed_small", "eps", index, ddim_eta=1.0)
    _, mean, _ = one_step("fixed_small", "eps", index)
    beta_tilde = SCHEDULE.beta_tilde[index]
    pvalues = step_pvalues(draws, mean, np.full_like(mean, beta_tilde))
    assert pvalues.min() >= P_FALSE / pvalues.size
    wrong = step_pvalues(draws, mean, np.full_like(mean, SCHEDULE.beta[index]))  # β for β̃
    if index < 40:  # β̃_t/β_t → 1 late in the chain (0.98 at index 40): no power there
        assert wrong.min() < P_FALSE / wrong.size
