"""The torch kernels' worst errors against the 50-digit mpmath oracles, per dtype.

Each kernel runs in float64, float32 and bfloat16 on inputs already rounded to that dtype (the
input the kernel sees), and the oracle (:mod:`ddpm_math.reference.mp`, lambdified from the sympy
derivations) is evaluated at those same inputs, so only the kernel's own rounding is measured.
The allowed error is the dtype's tolerance (:mod:`ddpm_math.testing.tolerances`) applied to the
size of the terms the kernel adds, atol + rtol·Σ|terms|: a rounded sum of terms is accurate
relative to Σ|terms|, not to the result when the terms cancel (x̂_0 from x_t near t = T divides
by √ᾱ_t ≈ 0.006, and Σ|terms| grows by the same factor).

Schedules: DDPM's linear and the cosine schedule, T = 1000; 0-based indices t from 0 to T-1.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import mpmath
import numpy as np
import torch

from ddpm_math.report.model import KernelError
from ddpm_math.schedules import NoiseSchedule
from ddpm_math.testing.tolerances import for_dtype

__all__ = ["DTYPES", "kernel_errors"]

DTYPES = (torch.float64, torch.float32, torch.bfloat16)
INDICES = np.array([0, 1, 2, 10, 100, 500, 900, 998, 999])
WIDTH = 4


@dataclass(frozen=True)
class Coefficients:
    """β_t, α_t, ᾱ_t, 1-ᾱ_t, β̃_t and the μ̃_t coefficients at INDICES, shape [B, 1], from β."""

    beta: np.ndarray
    alpha: np.ndarray
    alpha_bar: np.ndarray
    one_minus: np.ndarray
    beta_tilde: np.ndarray
    coef_x0: np.ndarray
    coef_xt: np.ndarray


def _coefficients(schedule: NoiseSchedule, t: np.ndarray) -> Coefficients:
    beta = np.asarray(schedule.beta, dtype=np.float64)
    log_alpha_bar = np.cumsum(np.log1p(-beta))
    alpha_bar, one_minus = np.exp(log_alpha_bar), -np.expm1(log_alpha_bar)
    prev = np.concatenate(([1.0], alpha_bar[:-1]))
    one_minus_prev = np.concatenate(([0.0], one_minus[:-1]))
    beta_tilde = one_minus_prev / one_minus * beta
    coef_x0 = np.sqrt(prev) * beta / one_minus
    coef_xt = np.sqrt(1 - beta) * one_minus_prev / one_minus
    arrays = (beta, 1 - beta, alpha_bar, one_minus, beta_tilde, coef_x0, coef_xt)
    return Coefficients(*(a[t][:, None] for a in arrays))


@dataclass(frozen=True)
class Kernel:
    """A torch kernel, its oracle, its inputs and Σ|terms|, all over the same inputs."""

    name: str
    equation: str
    inputs: tuple[str, ...]
    torch_fn: Callable
    oracle: Callable
    terms: Callable


def _kernels() -> list[Kernel]:
    from ddpm_math.diffusion import forward, parameterization, posterior
    from ddpm_math.reference import mp

    P, D = parameterization, "DDPM"
    sq = np.sqrt
    return [
        Kernel("q_sample", f"{D} eq. (4)", ("x0", "eps"),
               lambda s, t, x0, eps: forward.q_sample(s, x0, t, eps),
               lambda s, t, x0, eps: mp.q_sample(s, x0, t, eps),
               lambda c, x0, eps: sq(c.alpha_bar) * abs(x0) + sq(c.one_minus) * abs(eps)),
        Kernel("q_mean_variance (mean, variance)", f"{D} eq. (4)", ("x0",),
               lambda s, t, x0: torch.cat(forward.q_mean_variance(s, x0, t)[:2]),
               lambda s, t, x0: np.concatenate(mp.q_mean_variance(s, x0, t)[:2]),
               lambda c, x0: np.concatenate([sq(c.alpha_bar) * abs(x0),
                                             np.broadcast_to(c.one_minus, x0.shape)])),
        Kernel("mu_tilde", f"{D} eq. (7)", ("x0", "x_t"),
               lambda s, t, x0, x_t: posterior.mu_tilde(s, x0, x_t, t),
               lambda s, t, x0, x_t: mp.mu_tilde(s, x0, x_t, t),
               lambda c, x0, x_t: c.coef_x0 * abs(x0) + c.coef_xt * abs(x_t)),
        Kernel("q_posterior (β̃_t, clipped log β̃_t)", f"{D} eq. (7)", ("x0", "x_t"),
               lambda s, t, x0, x_t: torch.cat(posterior.q_posterior(s, x0, x_t, t)[1:]),
               lambda s, t, x0, x_t: np.concatenate(mp.q_posterior(s, x0, x_t, t)[1:]),
               lambda c, x0, x_t: np.concatenate([np.broadcast_to(c.beta_tilde, x0.shape),
                                                  np.broadcast_to(_clipped_log(c), x0.shape)])),
        Kernel("mu_tilde_from_eps", f"{D} eqs. (10)-(11)", ("x_t", "eps"),
               lambda s, t, x_t, eps: posterior.mu_tilde_from_eps(s, x_t, t, eps),
               lambda s, t, x_t, eps: mp.mu_tilde_from_eps(s, x_t, t, eps),
               lambda c, x_t, eps: (abs(x_t) + c.beta / sq(c.one_minus) * abs(eps))
               / sq(c.alpha)),
        Kernel("x0_from_eps", f"{D} eq. (15)", ("x_t", "eps"),
               lambda s, t, x_t, eps: P.x0_from_eps(s, x_t, t, eps),
               lambda s, t, x_t, eps: mp.x0_from_eps(s, x_t, t, eps),
               lambda c, x_t, eps: (abs(x_t) + sq(c.one_minus) * abs(eps)) / sq(c.alpha_bar)),
        Kernel("eps_from_x0", f"{D} eq. (4)", ("x_t", "x0"),
               lambda s, t, x_t, x0: P.eps_from_x0(s, x_t, t, x0),
               lambda s, t, x_t, x0: mp.eps_from_x0(s, x_t, t, x0),
               lambda c, x_t, x0: (abs(x_t) + sq(c.alpha_bar) * abs(x0)) / sq(c.one_minus)),
        Kernel("v_from_x0_eps", "Salimans & Ho §4", ("x0", "eps"),
               lambda s, t, x0, eps: P.v_from_x0_eps(s, x0, t, eps),
               lambda s, t, x0, eps: mp.v_from_x0_eps(s, x0, t, eps),
               lambda c, x0, eps: sq(c.alpha_bar) * abs(eps) + sq(c.one_minus) * abs(x0)),
        Kernel("x0_from_v", "Salimans & Ho §4", ("x_t", "v"),
               lambda s, t, x_t, v: P.x0_from_v(s, x_t, t, v),
               lambda s, t, x_t, v: mp.x0_from_v(s, x_t, t, v),
               lambda c, x_t, v: sq(c.alpha_bar) * abs(x_t) + sq(c.one_minus) * abs(v)),
        Kernel("eps_from_v", "Salimans & Ho §4", ("x_t", "v"),
               lambda s, t, x_t, v: P.eps_from_v(s, x_t, t, v),
               lambda s, t, x_t, v: mp.eps_from_v(s, x_t, t, v),
               lambda c, x_t, v: sq(c.one_minus) * abs(x_t) + sq(c.alpha_bar) * abs(v)),
        Kernel("score_from_eps", f"{D} §3.2", ("eps",),
               lambda s, t, eps: P.score_from_eps(s, t, eps),
               lambda s, t, eps: mp.score_from_eps(s, t, eps),
               lambda c, eps: abs(eps) / sq(c.one_minus)),
        Kernel("x0_from_xprev", f"{D} eq. (7) solved", ("x_t", "xprev"),
               lambda s, t, x_t, xprev: P.x0_from_xprev(s, x_t, t, xprev),
               lambda s, t, x_t, xprev: mp.x0_from_xprev(s, x_t, t, xprev),
               lambda c, x_t, xprev: (abs(xprev) + c.coef_xt * abs(x_t)) / c.coef_x0),
    ]


def _clipped_log(c: Coefficients) -> np.ndarray:
    """|log β̃_t| with the t = 1 entry replaced by t = 2's (the reference code's clip)."""
    beta_tilde = c.beta_tilde.copy()
    beta_tilde[INDICES == 0] = c.beta_tilde[INDICES == 1]
    return np.abs(np.log(beta_tilde))


def _rounded(values: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
    return torch.from_numpy(values).to(dtype)


def _summary(name, equation, dtype, got, want, terms) -> KernelError:
    tol = for_dtype(dtype)
    error = np.abs(got - want)
    allowed = tol.atol + tol.rtol * np.abs(terms)
    nonzero = np.abs(want) > 0
    rel = float(np.max(error[nonzero] / np.abs(want[nonzero]))) if nonzero.any() else 0.0
    ratio = float(np.max(error / allowed)) if np.all(np.isfinite(got)) else float("inf")
    return KernelError(name, equation, str(dtype).replace("torch.", ""), int(got.size),
                       float(np.max(error)), rel, ratio, tol.rtol, tol.atol)


def _schedule_kernel_errors(kernel: Kernel, schedules, rng) -> list[KernelError]:
    rows = []
    draws = {name: np.clip(1.5 * rng.standard_normal((len(INDICES), WIDTH)), -3, 3)
             for name in kernel.inputs}
    t = torch.from_numpy(INDICES)
    for dtype in DTYPES:
        got, want, terms = [], [], []
        for schedule in schedules:
            coefs = _coefficients(schedule, INDICES)
            tensors = [_rounded(draws[name], dtype) for name in kernel.inputs]
            seen = [tensor.double().numpy() for tensor in tensors]
            got.append(kernel.torch_fn(schedule.to_torch(dtype=dtype), t, *tensors)
                       .double().numpy())
            want.append(kernel.oracle(schedule, INDICES, *seen))
            terms.append(kernel.terms(coefs, *seen))
        rows.append(_summary(kernel.name, kernel.equation, dtype, np.concatenate(got),
                             np.concatenate(want), np.concatenate(terms)))
    return rows


def _normal_kl_errors(rng) -> list[KernelError]:
    from ddpm_math.diffusion.kl import normal_kl
    from ddpm_math.reference import mp

    shape = (len(INDICES) * WIDTH * 2,)
    draws = [rng.uniform(-3, 3, shape), rng.uniform(-5, 2, shape), rng.uniform(-3, 3, shape),
             rng.uniform(-5, 2, shape)]
    rows = []
    for dtype in DTYPES:
        tensors = [_rounded(d, dtype) for d in draws]
        m1, lv1, m2, lv2 = (x.double().numpy() for x in tensors)
        got = normal_kl(*tensors).double().numpy()
        want = mp.normal_kl(m1, lv1, m2, lv2)
        delta = lv1 - lv2
        terms = 0.5 * (np.abs(delta) + np.exp(delta) + 1 + (m1 - m2) ** 2 * np.exp(-lv2))
        rows.append(_summary("normal_kl", "DDPM eq. (8)", dtype, got, want, terms))
    return rows


def _cdf_errors(rng) -> list[KernelError]:
    from ddpm_math.diffusion.decoder import standard_normal_cdf

    x = rng.uniform(-6, 6, (len(INDICES) * WIDTH * 2,))
    rows = []
    for dtype in DTYPES:
        tensor = _rounded(x, dtype)
        seen = tensor.double().numpy()
        got = standard_normal_cdf(tensor).double().numpy()
        with mpmath.workdps(50):
            want = np.array([float(mpmath.ncdf(mpmath.mpf(float(v)))) for v in seen])
        rows.append(_summary("standard_normal_cdf", "DDPM eq. (13)", dtype, got, want, want))
    return rows


def kernel_errors(progress: Callable[[str], None] | None = None, *,
                  seed: int = 0) -> list[KernelError]:
    """Worst error of every kernel in float64, float32 and bfloat16 (seeded inputs)."""
    rng = np.random.default_rng(seed)
    schedules = (NoiseSchedule.linear(1000), NoiseSchedule.cosine(1000))
    rows: list[KernelError] = []
    for kernel in _kernels():
        if progress:
            progress(kernel.name)
        try:
            rows += _schedule_kernel_errors(kernel, schedules, rng)
        except Exception as error:  # a kernel that raises fails its row; say how
            rows.append(KernelError(kernel.name, kernel.equation, "all", 0, np.nan, np.nan,
                                    np.inf, 0.0, 0.0, f"{type(error).__name__}: {error}"))
    for name, errors in (("normal_kl", _normal_kl_errors), ("standard_normal_cdf", _cdf_errors)):
        if progress:
            progress(name)
        rows += errors(rng)
    return rows
