"""Seeded Monte-Carlo and two-sample tests of the engine's randomness, computed by the report.

Each test states its false-failure probability P_FALSE = 1e-6 and splits it over the p-values it
compares (Bonferroni): it holds when every p-value is at least P_FALSE/k. Given the inputs, every
draw is exactly Gaussian, so the moment tests are exact (sample mean normal, sample variance
χ²; :func:`ddpm_math.testing.oracles.gaussian_moment_pvalues`); the KS tests are exact in the
limit of their asymptotic distribution. Each test also runs against a plausible wrong formula
and must reject it (the ``power`` column), so a pass is not a test without power.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from scipy import stats

from ddpm_math.report.model import StatTest
from ddpm_math.schedules import NoiseSchedule
from ddpm_math.testing.oracles import gaussian_moment_pvalues

__all__ = ["P_FALSE", "statistical_tests"]

P_FALSE = 1e-6
X0 = np.array([-1.5, 0.0, 0.7, 2.0])
BASE_X_T = torch.tensor([[-1.2, 0.4], [0.3, -2.0], [1.7, 0.9]], dtype=torch.float64)


def _alpha_bar(schedule: NoiseSchedule) -> np.ndarray:
    """ᾱ_t by a plain cumulative product of 1 - β (DDPM eq. 4), independent of the schedule's."""
    return np.cumprod(1.0 - np.asarray(schedule.beta, dtype=np.float64))


def _moments(draws, mean, var) -> tuple[np.ndarray, float]:
    """All 2D exact p-values of [n, D] draws, and the largest |z| of the sample means."""
    p_mean, p_var = gaussian_moment_pvalues(draws, mean, var)
    z = (draws.mean(axis=0) - mean) / np.sqrt(var / draws.shape[0])
    return np.concatenate([p_mean, p_var]), float(np.max(np.abs(z)))


def q_sample_moments(n: int) -> StatTest:
    """q_sample's draws at t = 1, 251, 1000 against N(√ᾱ_t x_0, 1-ᾱ_t) (eq. 4), linear T=1000."""
    from ddpm_math.diffusion.forward import q_sample

    schedule = NoiseSchedule.linear(1000)
    alpha_bar = _alpha_bar(schedule)
    coefs, generator = schedule.to_torch(), torch.Generator().manual_seed(1)
    draws, means, variances, wrong_means = [], [], [], []
    for index in (0, 250, 999):
        x0 = torch.from_numpy(X0).expand(n, -1)
        t = torch.full((n,), index, dtype=torch.int64)
        noise = torch.randn(x0.shape, generator=generator, dtype=torch.float64)
        draws.append(q_sample(coefs, x0, t, noise).numpy())
        means.append(np.sqrt(alpha_bar[index]) * X0)
        wrong_means.append(alpha_bar[index] * X0)  # the square root dropped
        variances.append(np.full(X0.shape, 1 - alpha_bar[index]))
    draws = np.concatenate(draws, axis=1)
    pvalues, z = _moments(draws, np.concatenate(means), np.concatenate(variances))
    wrong, _ = _moments(draws, np.concatenate(wrong_means), np.concatenate(variances))
    return StatTest("q_sample moments", "x_t ~ N(√ᾱ_t x_0, 1-ᾱ_t), DDPM eq. (4)", "max |z|", z,
                    float(pvalues.min()), P_FALSE / pvalues.size, P_FALSE, n,
                    float(wrong.min()), "mean ᾱ_t x_0 (√ dropped)")


def iterated_forward_ks(n: int) -> StatTest:
    """26 one-step kernels q(x_t|x_{t-1}) (eq. 2) iterated from x_0 = 2: KS against eq. (4)."""
    from ddpm_math.diffusion.forward import q_step_sample

    schedule = NoiseSchedule.linear(100, rescale_to_1000=True)
    coefs, generator = schedule.to_torch(), torch.Generator().manual_seed(2)
    x0, level = 2.0, 25  # x_26
    x = torch.full((n,), x0, dtype=torch.float64)
    for index in range(level + 1):  # t = 0, ..., 25 (the forward direction)
        t = torch.full((n,), index, dtype=torch.int64)
        noise = torch.randn(x.shape, generator=generator, dtype=torch.float64)
        x = q_step_sample(coefs, x, t, noise)
    alpha_bar = _alpha_bar(schedule)[level]
    scale = np.sqrt(1 - alpha_bar)
    result = stats.kstest(x.numpy(), "norm", args=(np.sqrt(alpha_bar) * x0, scale))
    wrong = stats.kstest(x.numpy(), "norm", args=(alpha_bar * x0, scale))
    return StatTest("iterated forward steps (KS)", "∏ q(x_s|x_{s-1}) has the marginal of eq. (4)",
                    "KS D", float(result.statistic), float(result.pvalue), P_FALSE, P_FALSE, n,
                    float(wrong.pvalue), "mean ᾱ_t x_0 (√ dropped)")


def _step_model(x_t, t):
    """A fixed network stand-in with a learned variance: 2 mean channels and 2 in (-1, 1)."""
    scale = 1.0 + t.to(x_t.dtype)[:, None] / 100
    return torch.cat([torch.tanh(x_t) * scale - 0.1 * x_t, torch.tanh(0.7 * x_t + 0.2)], dim=1)


def _one_step(n: int, var_type: str, index: int, eta: float | None = None, seed: int = 3):
    from ddpm_math.diffusion.gaussian_diffusion import GaussianDiffusion

    schedule = NoiseSchedule.linear(100, rescale_to_1000=True)
    diffusion = GaussianDiffusion(schedule, mean_type="eps", var_type=var_type)
    model = _step_model if var_type == "learned_range" else (
        lambda x_t, t: _step_model(x_t, t)[:, :2])
    x_t = BASE_X_T.repeat(n, 1)
    t = torch.full((x_t.shape[0],), index, dtype=torch.int64)
    generator = torch.Generator().manual_seed(seed)
    if eta is None:
        draws = diffusion.p_sample(model, x_t, t, generator=generator, clip_denoised=False)
    else:
        draws = diffusion.ddim_sample(model, x_t, t, generator=generator, clip_denoised=False,
                                      eta=eta)
    out = diffusion.p_mean_variance(model, BASE_X_T, t[:3])
    return (draws.reshape(n, 6).numpy(), out["mean"].numpy().ravel(),
            out["log_variance"].exp().numpy().ravel(), schedule)


def learned_range_noise(n: int) -> StatTest:
    """One reverse step with σ² = exp(v log β_t + (1-v) log β̃_t) (Improved DDPM eq. 15)."""
    draws, mean, variance, schedule = _one_step(n, "learned_range", 1)
    pvalues, z = _moments(draws, mean, variance)
    wrong, _ = _moments(draws, mean, np.full_like(variance, schedule.beta_tilde[1]))
    return StatTest("learned-range sampler noise", "p_sample draws N(μ_θ, σ_θ²), Improved DDPM "
                    "eq. (15), t = 2", "max |z|", z, float(pvalues.min()),
                    P_FALSE / pvalues.size, P_FALSE, n, float(wrong.min()),
                    "σ² = β̃_t (the interpolation ignored)")


def ddim_eta_one_two_sample(n: int) -> StatTest:
    """DDIM with η = 1 (Song et al. eq. 16) against ancestral draws: KS per coordinate."""
    ancestral, _, _, _ = _one_step(n, "fixed_small", 1, seed=4)
    ddim, _, _, _ = _one_step(n, "fixed_small", 1, eta=1.0, seed=5)
    deterministic, _, _, _ = _one_step(n, "fixed_small", 1, eta=0.0, seed=5)
    tests = [stats.ks_2samp(ddim[:, k], ancestral[:, k]) for k in range(6)]
    wrong = [stats.ks_2samp(deterministic[:, k], ancestral[:, k]).pvalue for k in range(6)]
    return StatTest("DDIM η = 1 vs ancestral (two-sample KS)", "DDIM at η = 1 is Algorithm 2 "
                    "in distribution, t = 2", "max KS D", max(float(r.statistic) for r in tests),
                    min(float(r.pvalue) for r in tests), P_FALSE / 6, P_FALSE, n,
                    float(min(wrong)), "η = 0 (no noise)")


def statistical_tests(quick: bool = False,
                      progress: Callable[[str], None] | None = None) -> list[StatTest]:
    """Every test, with 20 000 draws per point (5 000 with ``quick``)."""
    n = 5_000 if quick else 20_000
    rows = []
    for test in (q_sample_moments, iterated_forward_ks, learned_range_noise,
                 ddim_eta_one_two_sample):
        if progress:
            progress(test.__name__)
        rows.append(test(n))
    return rows
