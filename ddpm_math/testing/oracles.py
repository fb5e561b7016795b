"""Exact oracles that need no training: Gaussian data and a Gaussian mixture (DDPM eqs. 1-7).

(a) Data x_0 ~ N(m, s²), independent per dimension. Under q(x_t | x_0) = N(√ᾱ_t x_0, 1 - ᾱ_t)
(eq. 4) the pair (x_0, x_t) is jointly Gaussian, so the MMSE predictors E[x_0 | x_t] and
E[ε | x_t] are affine in x_t. With such an affine model and fixed variances the reverse chain
p(x_T) ∏ p_θ(x_{t-1} | x_t) (eq. 1) is linear-Gaussian: its marginal of x_0, hence the exact
negative log-likelihood, and the expectation of every term of the bound (eq. 5) are closed forms.
(b) Data from a Gaussian mixture: E[x_0 | x_t] is a responsibility-weighted sum of per-component
Gaussian posterior means.

Conventions: numpy float64; arrays over timesteps have length T and index t holds the paper's step
t+1 (see :mod:`ddpm_math.notation`). Per-dimension data parameters have shape [D] and broadcast
against per-step arrays as [T, D]. The coefficients are recomputed here from β by a plain
cumulative product, never read from the engine. All quantities are in nats unless named ``_bpd``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from scipy import stats

from ddpm_math.schedules import NoiseSchedule

__all__ = [
    "GaussianMixture",
    "ReverseChain",
    "gaussian_bound_terms",
    "gaussian_eps_model",
    "gaussian_exact_nll",
    "gaussian_moment_pvalues",
    "gaussian_optimal_eps",
    "gaussian_optimal_x0",
    "gaussian_x0_posterior_variance",
    "gaussian_xt_moments",
    "mixture_eps_model",
    "nats_to_bpd",
    "reverse_chain",
    "reverse_sigma2",
    "sampler_bias",
]

LOG_2PI = math.log(2.0 * math.pi)


# ---------------------------------------------------------------------------------------------
# schedule quantities, from β alone


def _alpha_bars(schedule: NoiseSchedule) -> tuple[np.ndarray, np.ndarray]:
    """ᾱ_t = ∏_{s≤t}(1 - β_s) and ᾱ_{t-1} (ᾱ_0 = 1), DDPM eq. (4); shape [T, 1]."""
    alpha_bar = np.cumprod(1.0 - np.asarray(schedule.beta, dtype=np.float64))
    alpha_bar_prev = np.concatenate(([1.0], alpha_bar[:-1]))
    return alpha_bar[:, None], alpha_bar_prev[:, None]


def _mu_tilde_coefficients(schedule: NoiseSchedule) -> tuple[np.ndarray, np.ndarray]:
    """μ̃_t = c_x0 x_0 + c_xt x_t with c_x0 = √ᾱ_{t-1} β_t/(1-ᾱ_t), c_xt = √α_t (1-ᾱ_{t-1})/(1-ᾱ_t),
    DDPM eq. (7); shape [T, 1]."""
    beta = np.asarray(schedule.beta, dtype=np.float64)[:, None]
    alpha_bar, alpha_bar_prev = _alpha_bars(schedule)
    coef_x0 = np.sqrt(alpha_bar_prev) * beta / (1.0 - alpha_bar)
    coef_xt = np.sqrt(1.0 - beta) * (1.0 - alpha_bar_prev) / (1.0 - alpha_bar)
    return coef_x0, coef_xt


def reverse_sigma2(
    schedule: NoiseSchedule, var_type: str = "fixed_small", *, last: str = "decoder"
) -> np.ndarray:
    """σ_t² of p_θ(x_{t-1} | x_t) as DDPM §3.2 fixes it: β̃_t ("fixed_small") or β_t ("fixed_large").

    Index 0 (the paper's t = 1) holds the decoder's variance when ``last="decoder"``: β̃_2 for both
    types, the reference code's clip of the log-variance (β_1 when T = 1); with ``last="none"`` it
    holds 0, the noiseless last step of Algorithm 2. Shape [T, 1].
    """
    beta = np.asarray(schedule.beta, dtype=np.float64)[:, None]
    alpha_bar, alpha_bar_prev = _alpha_bars(schedule)
    beta_tilde = (1.0 - alpha_bar_prev) / (1.0 - alpha_bar) * beta
    if var_type not in ("fixed_small", "fixed_large"):
        raise ValueError(f"var_type must be 'fixed_small' or 'fixed_large', got {var_type!r}")
    if last not in ("decoder", "none"):
        raise ValueError(f"last must be 'decoder' or 'none', got {last!r}")
    sigma2 = (beta_tilde if var_type == "fixed_small" else beta).copy()
    sigma2[0] = (beta_tilde[1] if beta.shape[0] > 1 else beta[0]) if last == "decoder" else 0.0
    return sigma2


def nats_to_bpd(nats_per_example: np.ndarray | float, num_dims: int) -> np.ndarray | float:
    """Bits per dimension: nats / (D ln 2) (:mod:`ddpm_math.notation`, Units)."""
    return nats_per_example / (num_dims * math.log(2.0))


# ---------------------------------------------------------------------------------------------
# (a) Gaussian data: the optimal predictors


def gaussian_xt_moments(alpha_bar, mean, var) -> tuple[np.ndarray, np.ndarray]:
    """Mean √ᾱ m and variance v = ᾱ s² + 1 - ᾱ of x_t when x_0 ~ N(m, s²), from DDPM eq. (4)."""
    alpha_bar = np.asarray(alpha_bar, dtype=np.float64)
    return np.sqrt(alpha_bar) * mean, alpha_bar * var + (1.0 - alpha_bar)


def gaussian_optimal_x0(alpha_bar, mean, var) -> tuple[np.ndarray, np.ndarray]:
    """E[x_0 | x_t] = slope·x_t + intercept for x_0 ~ N(m, s²) under DDPM eq. (4).

    Gaussian conditioning: E[x_0 | x_t] = m + Cov(x_0, x_t)/Var(x_t)·(x_t - √ᾱ m) with
    Cov = √ᾱ s², Var = v, so slope = √ᾱ s²/v and intercept = m - ᾱ s² m/v = m (1 - ᾱ)/v.
    """
    alpha_bar = np.asarray(alpha_bar, dtype=np.float64)
    _, v = gaussian_xt_moments(alpha_bar, mean, var)
    return np.sqrt(alpha_bar) * var / v, mean * (1.0 - alpha_bar) / v


def gaussian_optimal_eps(alpha_bar, mean, var) -> tuple[np.ndarray, np.ndarray]:
    """E[ε | x_t] = slope·x_t + intercept for x_0 ~ N(m, s²) under DDPM eq. (4).

    Cov(ε, x_t) = √(1-ᾱ), so slope = √(1-ᾱ)/v and intercept = -√(1-ᾱ) √ᾱ m/v; consistent with
    x_t = √ᾱ E[x_0|x_t] + √(1-ᾱ) E[ε|x_t].
    """
    alpha_bar = np.asarray(alpha_bar, dtype=np.float64)
    xt_mean, v = gaussian_xt_moments(alpha_bar, mean, var)
    slope = np.sqrt(1.0 - alpha_bar) / v
    return slope, -slope * xt_mean


def gaussian_x0_posterior_variance(alpha_bar, var) -> np.ndarray:
    """Var(x_0 | x_t) = s² - ᾱ s⁴/v = s² (1 - ᾱ)/v, the MMSE of the optimal x_0-predictor."""
    alpha_bar = np.asarray(alpha_bar, dtype=np.float64)
    return var * (1.0 - alpha_bar) / (alpha_bar * var + 1.0 - alpha_bar)


def _channel_view(values: np.ndarray, like: torch.Tensor) -> torch.Tensor:
    """[T, D] float64 values as a tensor to index by t and broadcast over [B, D, ...]."""
    return torch.as_tensor(values, dtype=like.dtype, device=like.device)


def gaussian_eps_model(alpha_bar, mean, var, *, predict: str = "eps") -> Callable:
    """The optimal affine predictor as a model(x_t, t) for GaussianDiffusion.

    ``alpha_bar`` is the length-T array the predictor uses (the schedule's ᾱ; a wrong array gives
    a wrong model for negative tests); ``predict`` "eps" returns E[ε | x_t], "x0" E[x_0 | x_t].
    ``x_t`` is [B, D, ...] with D = len(mean); ``t`` holds 0-based indices (index t is step t+1).
    """
    alpha_bar = np.asarray(alpha_bar, dtype=np.float64)[:, None]
    mean = np.broadcast_to(np.asarray(mean, dtype=np.float64), np.shape(var))
    predictor = {"eps": gaussian_optimal_eps, "x0": gaussian_optimal_x0}[predict]
    slope, intercept = predictor(alpha_bar, mean, var)
    table: dict[tuple, tuple[torch.Tensor, torch.Tensor]] = {}

    def model(x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        key = (x_t.device, x_t.dtype)
        if key not in table:
            table[key] = (_channel_view(slope, x_t), _channel_view(intercept, x_t))
        slope_t, intercept_t = (c[t].reshape(c[t].shape + (1,) * (x_t.ndim - 2))
                                for c in table[key])
        return slope_t * x_t + intercept_t

    return model


# ---------------------------------------------------------------------------------------------
# (a) Gaussian data: the linear-Gaussian reverse chain


@dataclass(frozen=True)
class ReverseChain:
    """p_θ(x_{t-1} | x_t) = N(K_t x_t + L_t, σ_t²) per dimension, and its marginals.

    ``slope`` K and ``offset`` L are [T, D]; ``sigma2`` [T, 1] or [T, D]. ``mean`` and ``var``
    [T+1, D] hold the marginal of the chain at the levels x_T, x_{T-1}, ..., x_0 (row 0 is
    x_T ~ N(0, 1), row T is x_0).
    """

    slope: np.ndarray
    offset: np.ndarray
    sigma2: np.ndarray
    mean: np.ndarray
    var: np.ndarray


def reverse_chain(schedule: NoiseSchedule, mean, var, sigma2: np.ndarray,
                  model_alpha_bar=None) -> ReverseChain:
    """Reverse chain of the optimal model, μ_θ = μ̃_t(E[x_0|x_t], x_t) (eqs. 7, 11), x_T ~ N(0, 1).

    μ_θ = c_x0 (a x_t + b) + c_xt x_t with E[x_0|x_t] = a x_t + b, so K = c_x0 a + c_xt and
    L = c_x0 b. The marginal moments follow M ← K M + L, S ← K² S + σ² for t = T, ..., 1.
    ``model_alpha_bar`` replaces ᾱ inside the predictor only (a wrong model, for negative tests).
    """
    alpha_bar, _ = _alpha_bars(schedule)
    if model_alpha_bar is not None:
        alpha_bar = np.asarray(model_alpha_bar, dtype=np.float64)[:, None]
    coef_x0, coef_xt = _mu_tilde_coefficients(schedule)
    x0_slope, x0_intercept = gaussian_optimal_x0(alpha_bar, mean, var)
    slope = coef_x0 * x0_slope + coef_xt
    offset = coef_x0 * x0_intercept * np.ones_like(slope)
    num_steps, dims = slope.shape
    means, variances = np.zeros((num_steps + 1, dims)), np.ones((num_steps + 1, dims))
    sigma2 = np.asarray(sigma2, dtype=np.float64)
    for row, index in enumerate(range(num_steps - 1, -1, -1)):  # t = T-1, ..., 0
        means[row + 1] = slope[index] * means[row] + offset[index]
        variances[row + 1] = slope[index] ** 2 * variances[row] + sigma2[index]
    return ReverseChain(slope, offset, sigma2, means, variances)


def sampler_bias(schedule: NoiseSchedule, mean, var, var_type: str = "fixed_small"):
    """(M_0 - m, S_0 - s²): finite-T bias of ancestral sampling (Algorithm 2), optimal model.

    Its sources: x_T ~ N(0, 1) instead of N(√ᾱ_T m, v_T); σ_t² fixed instead of the true reverse
    variance β̃_t + c_x0² Var(x_0|x_t); no noise at the last step.
    """
    chain = reverse_chain(schedule, mean, var, reverse_sigma2(schedule, var_type, last="none"))
    return chain.mean[-1] - mean, chain.var[-1] - var


def gaussian_exact_nll(mean, var, model_mean, model_var) -> np.ndarray:
    """E_{x_0~N(m,s²)}[-log N(x_0; M_0, S_0)] = ½ log(2πS_0) + (s² + (m - M_0)²)/(2S_0), per dim."""
    return 0.5 * (LOG_2PI + np.log(model_var)) + (var + (mean - model_mean) ** 2) / (2 * model_var)


def _expected_square(mean, var, alpha_bar, coef_x0, coef_xt, constant) -> np.ndarray:
    """E[(c_x0 x_0 + c_xt x_t + constant)²] under x_0 ~ N(m, s²), x_t ~ q(x_t | x_0) (eq. 4).

    Var = c_x0² s² + 2 c_x0 c_xt √ᾱ s² + c_xt² v (Cov(x_0, x_t) = √ᾱ s²) plus the squared mean.
    """
    xt_mean, xt_var = gaussian_xt_moments(alpha_bar, mean, var)
    variance = coef_x0**2 * var + 2 * coef_x0 * coef_xt * np.sqrt(alpha_bar) * var
    variance = variance + coef_xt**2 * xt_var
    return variance + (coef_x0 * mean + coef_xt * xt_mean + constant) ** 2


def gaussian_bound_terms(schedule: NoiseSchedule, mean, var, chain: ReverseChain):
    """E over the data of each bound term of DDPM eq. (5) in nats per dimension: (prior [D], terms
    [T, D]); row t > 0 is E KL(q(x_{t-1}|x_t,x_0) ‖ p_θ(x_{t-1}|x_t)), row 0 the Gaussian decoder's
    E[-log N(x_0; K_0 x_1 + L_0, σ_1²)], and prior is E KL(q(x_T|x_0) ‖ N(0, 1)).

    KL(N(μ̃, β̃) ‖ N(μ, σ²)) = ½(β̃/σ² - 1 - log(β̃/σ²) + (μ̃ - μ)²/σ²) and μ̃ - μ is affine in
    (x_0, x_t), so each expectation is a Gaussian second moment.
    """
    alpha_bar, alpha_bar_prev = _alpha_bars(schedule)
    coef_x0, coef_xt = _mu_tilde_coefficients(schedule)
    beta_tilde = (1.0 - alpha_bar_prev) / (1.0 - alpha_bar) * schedule.beta[:, None]
    sigma2 = chain.sigma2
    mean_gap2 = _expected_square(mean, var, alpha_bar, coef_x0, coef_xt - chain.slope,
                                 -chain.offset)
    ratio = beta_tilde[1:] / sigma2[1:]  # row 0 (β̃_1 = 0) is the decoder's, below
    terms = np.empty(np.broadcast_shapes(mean_gap2.shape, np.shape(sigma2)))
    terms[1:] = 0.5 * (ratio - 1.0 - np.log(ratio) + mean_gap2[1:] / sigma2[1:])
    decoder_gap2 = _expected_square(mean, var, alpha_bar[0], 1.0, -chain.slope[0],
                                    -chain.offset[0])
    terms[0] = 0.5 * (LOG_2PI + np.log(sigma2[0]) + decoder_gap2 / sigma2[0])
    a_T = alpha_bar[-1]
    prior = 0.5 * ((1.0 - a_T) + a_T * (var + mean**2) - 1.0 - np.log(1.0 - a_T))
    return prior, terms


# ---------------------------------------------------------------------------------------------
# (b) a Gaussian mixture


@dataclass(frozen=True)
class GaussianMixture:
    """x_0 ~ Σ_k w_k N(μ_k, Σ_k): ``weights`` [K], ``means`` [K, d], ``covariances`` [K, d, d]."""

    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray

    def __post_init__(self) -> None:
        weights = np.asarray(self.weights, dtype=np.float64)
        if weights.ndim != 1 or np.any(weights <= 0) or abs(weights.sum() - 1.0) > 1e-12:
            raise ValueError(f"weights must be positive and sum to 1, got {weights}")
        for name in ("weights", "means", "covariances"):
            object.__setattr__(self, name, np.array(getattr(self, name), dtype=np.float64))

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """n float64 draws [n, d]: a component by its weight, then μ_k + chol(Σ_k) z."""
        weights = torch.as_tensor(self.weights)
        component = torch.multinomial(weights, n, replacement=True, generator=generator)
        chol = torch.linalg.cholesky(torch.as_tensor(self.covariances))[component]
        z = torch.randn(n, self.means.shape[1], generator=generator, dtype=torch.float64)
        return torch.as_tensor(self.means)[component] + (chol @ z[:, :, None])[:, :, 0]

    def projected_cdf(self, direction) -> Callable[[np.ndarray], np.ndarray]:
        """The CDF of u·x_0: Σ_k w_k Φ((z - u·μ_k)/√(uᵀ Σ_k u)), for one-sample tests."""
        u = np.asarray(direction, dtype=np.float64)
        locs = self.means @ u
        scales = np.sqrt(np.einsum("i,kij,j->k", u, self.covariances, u))
        return lambda z: stats.norm.cdf((np.asarray(z)[..., None] - locs) / scales) @ self.weights

    def x0_posterior_mean(self, x_t: torch.Tensor, alpha_bar: torch.Tensor) -> torch.Tensor:
        """E[x_0 | x_t] under q(x_t | x_0) = N(√ᾱ x_0, (1-ᾱ) I) (eq. 4); x_t [B, d], ᾱ [B].

        Per component C_k = ᾱ Σ_k + (1-ᾱ) I, responsibilities r_k ∝ w_k N(x_t; √ᾱ μ_k, C_k) and
        E[x_0 | x_t, k] = μ_k + √ᾱ Σ_k C_k⁻¹ (x_t - √ᾱ μ_k); the result is Σ_k r_k E[x_0|x_t,k].
        """
        like = dict(dtype=x_t.dtype, device=x_t.device)
        means, covs = torch.as_tensor(self.means, **like), torch.as_tensor(self.covariances, **like)
        a = alpha_bar.to(**like)[:, None, None, None]  # [B, 1, 1, 1]
        eye = torch.eye(means.shape[1], **like)
        cov_t = a * covs + (1.0 - a) * eye  # [B, K, d, d]
        diff = x_t[:, None, :] - a[..., 0].sqrt() * means  # [B, K, d]
        solved = torch.linalg.solve(cov_t, diff[..., None])[..., 0]
        log_density = -0.5 * ((diff * solved).sum(-1) + torch.logdet(cov_t))
        log_weights = torch.log(torch.as_tensor(self.weights, **like))
        resp = torch.softmax(log_weights + log_density, dim=1)  # [B, K]
        component_means = means + a[..., 0].sqrt() * (covs @ solved[..., None])[..., 0]
        return (resp[..., None] * component_means).sum(dim=1)


def mixture_eps_model(mixture: GaussianMixture, alpha_bar, *, predict: str = "eps") -> Callable:
    """The exact denoiser as a model(x_t, t): ε̂ = (x_t - √ᾱ_t E[x_0|x_t])/√(1-ᾱ_t) (eq. 4),
    or E[x_0|x_t] itself with ``predict="x0"``. ``alpha_bar`` is the length-T array of the
    schedule the model is called with (0-based t: index t is step t+1); x_t is [B, d]."""
    table = torch.tensor(np.array(alpha_bar, dtype=np.float64))  # a copy: ᾱ may be read-only
    if predict not in ("eps", "x0"):
        raise ValueError(f"predict must be 'eps' or 'x0', got {predict!r}")

    def model(x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        a = table.to(device=x_t.device, dtype=x_t.dtype)[t]
        x0_hat = mixture.x0_posterior_mean(x_t, a)
        if predict == "x0":
            return x0_hat
        a = a[:, None]
        return (x_t - a.sqrt() * x0_hat) / (1.0 - a).sqrt()

    return model


# ---------------------------------------------------------------------------------------------
# exact tests of Gaussian samples


def gaussian_moment_pvalues(samples, mean, var) -> tuple[np.ndarray, np.ndarray]:
    """Two-sided p-values of n i.i.d. N(mean, var) draws per column: the sample mean is exactly
    N(mean, var/n) and (n-1)·(sample variance)/var exactly χ²_{n-1}. ``samples`` [n, D]; [D] each.

    Exact for Gaussian samples (no central-limit approximation), so a threshold p ≥ α/(2D) on all
    2D p-values has false-failure probability at most α (Bonferroni).
    """
    samples = np.asarray(samples, dtype=np.float64)
    n = samples.shape[0]
    z = (samples.mean(axis=0) - mean) / np.sqrt(np.asarray(var) / n)
    p_mean = 2.0 * stats.norm.sf(np.abs(z))
    q = (n - 1) * samples.var(axis=0, ddof=1) / var
    p_var = 2.0 * np.minimum(stats.chi2.cdf(q, n - 1), stats.chi2.sf(q, n - 1))
    return p_mean, np.minimum(p_var, 1.0)
