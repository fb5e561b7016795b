"""The variational bound: the ε reweighting of DDPM eq. (12), the decomposition of eq. (5), and
the bound itself (Jensen) on an all-Gaussian case, derived in sympy.

- :func:`eps_weight`: put the ε form of μ̃_t (eq. 11, true ε) and of μ_θ (ε_θ) into the mean term
  of eq. (8); the quotient by (ε - ε_θ)² is the weight β_t²/(2σ_t² α_t (1-ᾱ_t)) of eq. (12).
- :func:`elbo_log_ratio` and :func:`elbo_terms`: log q(x_{1:T}|x_0)/p_θ(x_{0:T}) for a concrete T
  with symbolic densities, and the sum L_T + Σ_{t>1} L_{t-1} + L_0 of eq. (5) built from the
  derived q(x_T|x_0) and posteriors; they agree pointwise (Bayes rewrite + telescoping).
- :func:`jensen_gap`: for T = 1 with a linear-Gaussian reverse model, the bound minus the exact
  -log p_θ(x_0), both integrated in closed form.
"""

from __future__ import annotations

from functools import cache
from typing import Literal

import sympy as sp

from ddpm_math.symbolic import forward, kl, posterior
from ddpm_math.symbolic.gaussian import Density, complete_square, expectation, integrate_out, normal

__all__ = [
    "ReverseVariance",
    "elbo_log_ratio",
    "elbo_residual",
    "elbo_terms",
    "eps_hat",
    "eps_weight",
    "eps_weight_closed_form",
    "jensen_gap",
    "jensen_kl",
    "snr",
    "snr_weight_closed_form",
]

ReverseVariance = Literal["beta", "beta_tilde"]
eps_hat = sp.Symbol("eps_hat", real=True)


def _sigma2(variance: ReverseVariance) -> sp.Expr:
    """σ_t² = β_t or β̃_t (DDPM §3.2's two choices) in the posterior module's step symbols."""
    if variance == "beta":
        return posterior.step_quantities()["beta"]
    if variance == "beta_tilde":
        return posterior.beta_tilde()
    raise ValueError(f"variance must be 'beta' or 'beta_tilde', got {variance!r}")


@cache
def eps_weight(variance: ReverseVariance) -> sp.Expr:
    """Weight λ_t with L_{t-1} - C = λ_t (ε - ε_θ)², DDPM eq. (12), derived from eq. (8)."""
    mu = posterior.mu_tilde_from_eps()
    mu_theta = mu.subs(posterior.eps, eps_hat)
    mean_term = (mu - mu_theta) ** 2 / (2 * _sigma2(variance))
    return sp.factor(sp.cancel(mean_term / (posterior.eps - eps_hat) ** 2))


def eps_weight_closed_form(variance: ReverseVariance) -> sp.Expr:
    """β_t²/(2σ_t² α_t (1-ᾱ_t)) as the paper states (eq. 12)."""
    q = posterior.step_quantities()
    return q["beta"] ** 2 / (2 * _sigma2(variance) * q["alpha"] * (1 - q["alpha_bar"]))


def snr(alpha_bar: sp.Expr) -> sp.Expr:
    """Signal-to-noise ratio SNR = ᾱ/(1-ᾱ) of q(x_t | x_0)."""
    return alpha_bar / (1 - alpha_bar)


def snr_weight_closed_form() -> sp.Expr:
    """½(SNR(t-1)/SNR(t) - 1), the stated SNR form of λ_t for σ_t² = β̃_t."""
    q = posterior.step_quantities()
    return (snr(q["alpha_bar_prev"]) / snr(q["alpha_bar"]) - 1) / 2


def _reverse(T: int) -> list[Density]:
    """p(x_T) = N(0, 1) and p_θ(x_{t-1}|x_t) = N(m_t(x_t), s_t) with undefined m_t, symbols s_t."""
    xs = forward.x_symbols(T)
    factors = [normal(xs[T], 0, 1)]
    for t in range(1, T + 1):
        mean = sp.Function(f"m_{t}")(xs[t])
        factors.append(normal(xs[t - 1], mean, sp.Symbol(f"s_{t}", positive=True)))
    return factors


def elbo_log_ratio(T: int) -> Density:
    """q(x_{1:T}|x_0)/p_θ(x_{0:T}) with q = ∏ q(x_t|x_{t-1}) (eq. 2) and p as in eq. (1).

    Returned as a Density (scale · exp(exponent)); its ``log`` is the integrand of the bound.
    """
    xs, betas = forward.x_symbols(T), forward.beta_symbols(T)
    ratio = forward.q_step(xs[1], xs[0], betas[0])
    for t in range(2, T + 1):
        ratio = ratio * forward.q_step(xs[t], xs[t - 1], betas[t - 1])
    for factor in _reverse(T):
        ratio = ratio / factor
    return ratio


def _posterior_at(t: int, mean: sp.Expr, variance: sp.Expr) -> Density:
    """q(x_{t-1}|x_t, x_0) at concrete t ≥ 2 from a step-symbol formula for its mean/variance."""
    xs, roots = forward.x_symbols(t), forward.sqrt_alpha_symbols(t)
    x0, x_prev, x_t = forward.x_symbols(2)
    values = {forward.sqrt_alpha: roots[t - 1],
              forward.sqrt_alpha_bar_prev: sp.Mul(*roots[: t - 1]),
              x0: xs[0], x_t: xs[t], x_prev: xs[t - 1]}
    return normal(xs[t - 1], mean.subs(values, simultaneous=True),
                  variance.subs(values, simultaneous=True))


def elbo_terms(
    T: int, mean: sp.Expr | None = None, variance: sp.Expr | None = None
) -> dict[str, Density]:
    """The terms of eq. (5) as density ratios (their logs are the integrands): L_T =
    q(x_T|x_0)/p(x_T), L_{t-1} = q(x_{t-1}|x_t,x_0)/p_θ(x_{t-1}|x_t) for t = 2..T, and
    L_0 = 1/p_θ(x_0|x_1). Uses the derived q(x_T|x_0) and posterior, or the given posterior
    ``mean``/``variance`` formulas in the step symbols (to test wrong ones)."""
    mean = posterior.mu_tilde() if mean is None else mean
    variance = posterior.beta_tilde() if variance is None else variance
    xs, reverse = forward.x_symbols(T), _reverse(T)
    marginal = forward.q_mean_variance(T)
    terms = {"L_T": normal(xs[T], marginal.mean, marginal.variance) / reverse[0]}
    for t in range(2, T + 1):
        terms[f"L_{t - 1}"] = _posterior_at(t, mean, variance) / reverse[t]
    terms["L_0"] = Density(sp.S.One, sp.S.Zero) / reverse[1]
    return terms


def elbo_residual(T: int, **formulas: sp.Expr) -> tuple[sp.Expr, sp.Expr]:
    """(exponent difference, squared scale quotient) between ∏ of :func:`elbo_terms` and
    :func:`elbo_log_ratio`: (0, 1) exactly when eq. (5)'s decomposition holds pointwise."""
    product = Density(sp.S.One, sp.S.Zero)
    for term in elbo_terms(T, **formulas).values():
        product = product * term
    target = elbo_log_ratio(T)
    exponent = sp.cancel(sp.together(product.exponent - target.exponent))
    return exponent, sp.cancel((product.scale / target.scale) ** 2)


@cache
def jensen_gap() -> tuple[sp.Expr, sp.Expr, sp.Expr]:
    """(bound, exact -log p_θ(x_0), gap) for T = 1, DDPM eq. (3) on an all-Gaussian model.

    q(x_1|x_0) = N(r x_0, 1-r²), p(x_1) = N(0, 1), p_θ(x_0|x_1) = N(c x_1, s). The bound
    E_q[log q(x_1|x_0) - log p_θ(x_0, x_1)] is integrated moment by moment; -log p_θ(x_0)
    integrates x_1 out. The gap equals :func:`jensen_kl`, hence is ≥ 0 (Jensen).
    """
    x0, x1 = forward.x_symbols(1)
    r = forward.sqrt_alpha_symbols(1)[0]
    c, s = sp.Symbol("c", real=True), sp.Symbol("s", positive=True)
    q = forward.q_step(x1, x0, 1 - r**2)
    joint = normal(x1, 0, 1) * normal(x0, c * x1, s)
    log_ratio = sp.expand_log(sp.log(q.scale / joint.scale), force=True) + q.exponent
    bound = expectation(log_ratio - joint.exponent, x1, r * x0, 1 - r**2)
    evidence = integrate_out(joint, x1)
    nll = -sp.expand_log(sp.log(evidence.scale), force=True) - evidence.exponent
    return bound, sp.expand(nll), sp.expand(bound - nll)


def jensen_kl() -> sp.Expr:
    """KL(q(x_1|x_0) ‖ p_θ(x_1|x_0)) for the case of :func:`jensen_gap`, p_θ(x_1|x_0) by Bayes."""
    x0, x1 = forward.x_symbols(1)
    r = forward.sqrt_alpha_symbols(1)[0]
    c, s = sp.Symbol("c", real=True), sp.Symbol("s", positive=True)
    model_posterior = complete_square(normal(x1, 0, 1) * normal(x0, c * x1, s), x1)
    return kl.normal_kl().subs({kl.mean1: r * x0, kl.var1: 1 - r**2,
                                kl.mean2: model_posterior.mean,
                                kl.var2: model_posterior.variance}, simultaneous=True)
