"""mpmath oracles at 50 digits, lambdified from the sympy derivations of :mod:`ddpm_math.symbolic`.

This is the one module that turns symbolic results into numbers. Each oracle mirrors the
signature of the float64 kernel of the same name in :mod:`ddpm_math.reference` and returns
float64 arrays (the 50-digit value rounded once). Per-step quantities come from the schedule's
float64 β alone (no other attribute of ``schedule`` is read), converted to mpf exactly:
√α_t = √(1-β_t), and √ᾱ_t by iterating the derived induction step of eq. (4)
(:func:`ddpm_math.symbolic.forward.q_mean_variance_step`).

Timesteps ``t`` are 0-based int64 arrays of shape [B]: index t is the paper's step t+1.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import mpmath
import numpy as np
import sympy as sp

from ddpm_math.schedules import NoiseSchedule
from ddpm_math.symbolic import forward, kl, parameterization, posterior

__all__ = [
    "DPS",
    "cosine_betas",
    "eps_weight",
    "rescale_zero_terminal_snr",
    "eps_from_v",
    "eps_from_x0",
    "lambdify",
    "mu_tilde",
    "mu_tilde_from_eps",
    "normal_kl",
    "q_mean_variance",
    "q_posterior",
    "q_sample",
    "score_from_eps",
    "step_values",
    "v_from_x0_eps",
    "x0_from_eps",
    "x0_from_v",
    "x0_from_xprev",
]

#: Working precision of every oracle, in decimal digits.
DPS = 50

SA, SAP = forward.sqrt_alpha, forward.sqrt_alpha_bar_prev
X0, X_PREV, X_T = forward.x_symbols(2)
P = parameterization


def lambdify(args: tuple[sp.Symbol, ...], expr: sp.Expr) -> Callable[..., mpmath.mpf]:
    """``sympy.lambdify`` onto mpmath (evaluate inside ``mpmath.workdps(DPS)``)."""
    return sp.lambdify(args, expr, modules="mpmath")


@cache
def _step_fns() -> tuple[Callable, Callable]:
    """(√ᾱ_t, 1-ᾱ_t) as functions of (√α_t, √ᾱ_{t-1}), from the derived induction step."""
    step = forward.q_mean_variance_step()
    return lambdify((SA, SAP), step.mean / X0), lambdify((SA, SAP), step.variance)


@cache
def _step_table(betas: bytes) -> tuple[tuple[mpmath.mpf, ...], ...]:
    """Per index t: (β_t, √α_t, √ᾱ_{t-1}, √ᾱ_t, 1-ᾱ_t) at DPS digits, from float64 β bytes."""
    sqrt_alpha_bar_fn, variance_fn = _step_fns()
    rows, sqrt_alpha_bar_prev = [], mpmath.mpf(1)
    with mpmath.workdps(DPS):
        for beta in np.frombuffer(betas, dtype=np.float64):
            beta = mpmath.mpf(float(beta))
            sqrt_alpha = mpmath.sqrt(1 - beta)
            sqrt_alpha_bar = sqrt_alpha_bar_fn(sqrt_alpha, sqrt_alpha_bar_prev)
            variance = variance_fn(sqrt_alpha, sqrt_alpha_bar_prev)
            rows.append((beta, sqrt_alpha, sqrt_alpha_bar_prev, sqrt_alpha_bar, variance))
            sqrt_alpha_bar_prev = sqrt_alpha_bar
    return tuple(rows)


def step_values(schedule: NoiseSchedule) -> tuple[tuple[mpmath.mpf, ...], ...]:
    """(β_t, √α_t, √ᾱ_{t-1}, √ᾱ_t, 1-ᾱ_t) per 0-based index t, as 50-digit mpf."""
    return _step_table(np.ascontiguousarray(schedule.beta, dtype=np.float64).tobytes())


def _elementwise(
    fn: Callable[..., mpmath.mpf], schedule: NoiseSchedule, t, *arrays, step: Callable
) -> np.ndarray:
    """fn(*step(row of t), *elements) over the broadcast arrays [B, ...], rounded to float64."""
    table = step_values(schedule)
    t = np.asarray(t, dtype=np.int64)
    arrays = np.broadcast_arrays(*(np.asarray(a, dtype=np.float64) for a in arrays))
    out = np.empty(arrays[0].shape, dtype=np.float64)
    with mpmath.workdps(DPS):
        for index in np.ndindex(out.shape):
            row = step(table[int(t[index[0]])])
            values = (mpmath.mpf(float(a[index])) for a in arrays)
            out[index] = float(fn(*row, *values))
    return out


def _posterior_step(row):
    """(√α_t, √ᾱ_{t-1}) from a table row."""
    return row[1], row[2]


def _alpha_bar_step(row):
    """(ᾱ_t,) from a table row."""
    return (row[3] ** 2,)


# ---------------------------------------------------------------------------------------------
# forward, eq. (4)


def q_mean_variance(schedule: NoiseSchedule, x0, t) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Oracle for q(x_t | x_0) = N(√ᾱ_t x_0, 1-ᾱ_t), DDPM eq. (4): mean, variance, log variance."""
    step = forward.q_mean_variance_step()
    mean_fn = lambdify((SA, SAP, X0), step.mean)
    variance_fn = lambdify((SA, SAP, X0), step.variance)
    log_variance_fn = lambdify((SA, SAP, X0), sp.log(step.variance))
    args = (schedule, t, x0)
    return tuple(  # type: ignore[return-value]
        _elementwise(fn, *args, step=_posterior_step)
        for fn in (mean_fn, variance_fn, log_variance_fn)
    )


def q_sample(schedule: NoiseSchedule, x0, t, noise) -> np.ndarray:
    """Oracle for x_t = mean + √variance · ε with the derived moments of eq. (4)."""
    step = forward.q_mean_variance_step()
    noise_symbol = sp.Symbol("noise", real=True)
    expr = step.mean + sp.sqrt(step.variance) * noise_symbol
    fn = lambdify((SA, SAP, X0, noise_symbol), expr)
    return _elementwise(fn, schedule, t, x0, noise, step=_posterior_step)


# ---------------------------------------------------------------------------------------------
# posterior, eqs. (6)-(7) and (10)-(11)


def mu_tilde(schedule: NoiseSchedule, x0, x_t, t) -> np.ndarray:
    """Oracle for the posterior mean μ̃_t(x_t, x_0), DDPM eq. (7), as derived by Bayes' rule."""
    fn = lambdify((SA, SAP, X0, X_T), posterior.mu_tilde())
    return _elementwise(fn, schedule, t, x0, x_t, step=_posterior_step)


def q_posterior(schedule: NoiseSchedule, x0, x_t, t) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Oracle for (μ̃_t, β̃_t, clipped log β̃_t), DDPM eqs. (6)-(7).

    The clipped log-variance is the reference code's convention: index 0 takes the value at
    index 1 (β̃_1 = 0); for T = 1 it is log β_1.
    """
    t = np.asarray(t, dtype=np.int64)
    variance_fn = lambdify((SA, SAP, X0), posterior.beta_tilde())
    log_fn = lambdify((SA, SAP, X0), sp.log(posterior.beta_tilde()))
    x_t = np.asarray(x_t, dtype=np.float64)
    variance = _elementwise(variance_fn, schedule, t, x_t, step=_posterior_step)
    if np.asarray(schedule.beta).size == 1:
        log_variance = np.broadcast_to(np.log(schedule.beta[0]), x_t.shape).copy()
    else:
        log_variance = _elementwise(log_fn, schedule, np.maximum(t, 1), x_t, step=_posterior_step)
    return mu_tilde(schedule, x0, x_t, t), variance, log_variance


def mu_tilde_from_eps(schedule: NoiseSchedule, x_t, t, eps) -> np.ndarray:
    """Oracle for μ̃_t written through ε, DDPM eqs. (10)-(11), as derived by substitution."""
    fn = lambdify((SA, SAP, X_T, posterior.eps), posterior.mu_tilde_from_eps())
    return _elementwise(fn, schedule, t, x_t, eps, step=_posterior_step)


# ---------------------------------------------------------------------------------------------
# parameterisations


def _conversion(expr: sp.Expr, inputs: tuple[sp.Symbol, ...]) -> Callable:
    """A derived conversion lambdified in (ᾱ_t, *inputs)."""
    return lambdify((P.alpha_bar, *inputs), expr)


def x0_from_eps(schedule: NoiseSchedule, x_t, t, eps) -> np.ndarray:
    """Oracle for x_0 = (x_t - √(1-ᾱ_t) ε)/√ᾱ_t (eq. 4 solved)."""
    fn = _conversion(P.x0_from_eps(), (P.x_t, P.eps))
    return _elementwise(fn, schedule, t, x_t, eps, step=_alpha_bar_step)


def eps_from_x0(schedule: NoiseSchedule, x_t, t, x0) -> np.ndarray:
    """Oracle for ε = (x_t - √ᾱ_t x_0)/√(1-ᾱ_t) (eq. 4 solved)."""
    fn = _conversion(P.eps_from_x0(), (P.x_t, P.x0))
    return _elementwise(fn, schedule, t, x_t, x0, step=_alpha_bar_step)


def v_from_x0_eps(schedule: NoiseSchedule, x0, t, eps) -> np.ndarray:
    """Oracle for v = √ᾱ_t ε - √(1-ᾱ_t) x_0 (Salimans & Ho 2022)."""
    fn = _conversion(P.v_from_x0_eps(), (P.x0, P.eps))
    return _elementwise(fn, schedule, t, x0, eps, step=_alpha_bar_step)


def x0_from_v(schedule: NoiseSchedule, x_t, t, v) -> np.ndarray:
    """Oracle for x_0 from (x_t, v), solved from eq. (4) and the definition of v."""
    fn = _conversion(P.x0_from_v(), (P.x_t, P.v))
    return _elementwise(fn, schedule, t, x_t, v, step=_alpha_bar_step)


def eps_from_v(schedule: NoiseSchedule, x_t, t, v) -> np.ndarray:
    """Oracle for ε from (x_t, v), solved from eq. (4) and the definition of v."""
    fn = _conversion(P.eps_from_v(), (P.x_t, P.v))
    return _elementwise(fn, schedule, t, x_t, v, step=_alpha_bar_step)


def score_from_eps(schedule: NoiseSchedule, t, eps) -> np.ndarray:
    """Oracle for the score -ε/√(1-ᾱ_t), differentiated from eq. (4)."""
    fn = _conversion(P.score_from_eps(), (P.eps,))
    return _elementwise(fn, schedule, t, eps, step=_alpha_bar_step)


def x0_from_xprev(schedule: NoiseSchedule, x_t, t, xprev) -> np.ndarray:
    """Oracle for x_0 from a posterior mean: the derived μ̃_t = xprev solved for x_0."""
    fn = lambdify((SA, SAP, X_T, P.xprev), P.x0_from_xprev())
    return _elementwise(fn, schedule, t, x_t, xprev, step=_posterior_step)


# ---------------------------------------------------------------------------------------------
# KL


def normal_kl(mean1, logvar1, mean2, logvar2) -> np.ndarray:
    """Oracle for KL(N(mean1, e^logvar1) ‖ N(mean2, e^logvar2)), integrated in sympy."""
    log1, log2 = sp.symbols("logvar1 logvar2", real=True)
    expr = kl.normal_kl().subs({kl.var1: sp.exp(log1), kl.var2: sp.exp(log2)})
    fn = lambdify((kl.mean1, log1, kl.mean2, log2), expr)
    arrays = np.broadcast_arrays(
        *(np.asarray(a, dtype=np.float64) for a in (mean1, logvar1, mean2, logvar2))
    )
    out = np.empty(arrays[0].shape, dtype=np.float64)
    with mpmath.workdps(DPS):
        for index in np.ndindex(out.shape):
            out[index] = float(fn(*(mpmath.mpf(float(a[index])) for a in arrays)))
    return out


# ---------------------------------------------------------------------------------------------
# the bound and the schedules


def eps_weight(schedule: NoiseSchedule, t, variance: str) -> np.ndarray:
    """Oracle for λ_t of DDPM eq. (12) (``variance`` 'beta' or 'beta_tilde'), shape [B]."""
    from ddpm_math.symbolic import vlb

    fn = lambdify((SA, SAP, X0), vlb.eps_weight(variance))
    t = np.asarray(t, dtype=np.int64)
    return _elementwise(fn, schedule, t, np.zeros(t.shape), step=_posterior_step)


def cosine_betas(T: int, s: float = 0.008) -> np.ndarray:
    """Oracle for the unclipped cosine β_t = 1 - ᾱ_t/ᾱ_{t-1}, Nichol & Dhariwal eq. (17)."""
    from ddpm_math.symbolic import schedule as sym

    with mpmath.workdps(DPS):
        return np.array([
            float(lambdify((sym.offset,), sym.cosine_beta(t, T))(mpmath.mpf(s)))
            for t in range(1, T + 1)
        ])


def rescale_zero_terminal_snr(betas) -> np.ndarray:
    """Oracle for the zero-terminal-SNR rescale (Lin et al. 2023), from the derived affine map."""
    from ddpm_math.symbolic import schedule as sym

    betas = np.asarray(betas, dtype=np.float64)
    T = betas.size
    fn = lambdify(sym.sqrt_alpha_bar_symbols(T), sp.Matrix(sym.rescaled_beta(T)))
    with mpmath.workdps(DPS):
        sqrt_alpha_bar, product = [], mpmath.mpf(1)
        for beta in betas:
            product *= 1 - mpmath.mpf(float(beta))
            sqrt_alpha_bar.append(mpmath.sqrt(product))
        return np.array([float(value) for value in fn(*sqrt_alpha_bar)])
