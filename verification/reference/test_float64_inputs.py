"""Every float64 reference kernel computes in float64, whatever the dtype of its inputs.

The reference layer is the float64 link of the chain of trust: handed float32 (or float16)
arrays, it must return what it returns for the same numbers in float64, not a result rounded to
the input's epsilon. The inputs are float16-representable, so every dtype holds the same
numbers and the float64 result is the oracle. A kernel that skips its conversion and does
arithmetic with Python floats first (``x + 1/255``, ``x**3``, ``(x0 - mean)**2``) or returns an
input unchanged fails here. Exact rationals (``fractions.Fraction`` in object arrays, as the
sympy layer produces them) are real numbers too: every kernel converts them up front, so none
returns an object array.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from ddpm_math.reference import (
    decoder,
    forward,
    kl,
    losses,
    parameterization,
    posterior,
    reverse,
    vlb,
)
from ddpm_math.schedules import linear_betas
from ddpm_math.testing.tolerances import TOLERANCES, assert_close

T = 10
BETAS = linear_betas(T, 1e-3, 0.2)
STEPS = np.arange(T)
RNG = np.random.default_rng(0)
SHAPE = (T, 2, 3)


def _values(low, high, shape=SHAPE):
    return RNG.uniform(low, high, shape).astype(np.float16).astype(np.float64)


X0, NOISE, X_T, PRED = _values(-1, 1), _values(-2, 2), _values(-2, 2), _values(-2, 2)
LOGVAR, VAR_BLOCK = _values(-6, 0), _values(-1, 1)
OUT_LEARNED = np.concatenate([PRED, VAR_BLOCK], axis=1)

CASES = {
    "standard_normal_cdf": (decoder.standard_normal_cdf, (PRED,)),
    "approx_standard_normal_cdf": (decoder.approx_standard_normal_cdf, (PRED,)),
    "discretized_gaussian_log_likelihood": (
        decoder.discretized_gaussian_log_likelihood, (X0, PRED, 0.5 * LOGVAR)),
    "discretized_gaussian_log_likelihood_exact": (
        lambda *a: decoder.discretized_gaussian_log_likelihood(*a, exact=True),
        (X0, PRED, 0.5 * LOGVAR)),
    "q_mean_variance": (lambda x0: forward.q_mean_variance(BETAS, x0, STEPS), (X0,)),
    "q_sample": (lambda x0, n: forward.q_sample(BETAS, x0, STEPS, n), (X0, NOISE)),
    "normal_kl": (kl.normal_kl, (X0, LOGVAR, PRED, LOGVAR[::-1])),
    **{f"mse_target_{m}": (lambda x0, x_t, n, m=m: losses.mse_target(BETAS, x0, x_t, STEPS, n, m),
                           (X0, X_T, NOISE)) for m in ("eps", "x0", "v", "xprev")},
    "training_losses_weighted_learned_range": (
        lambda out, x0, x_t, n: losses.training_losses(BETAS, out, x0, x_t, STEPS, n, "eps",
                                                       "learned_range", "weighted"),
        (OUT_LEARNED, X0, X_T, NOISE)),
    "training_losses_hybrid": (
        lambda out, x0, x_t, n: losses.training_losses(BETAS, out, x0, x_t, STEPS, n, "v",
                                                       "learned", "hybrid", "gaussian"),
        (OUT_LEARNED, X0, X_T, NOISE)),
    "x0_from_eps": (lambda x, e: parameterization.x0_from_eps(BETAS, x, STEPS, e), (X_T, PRED)),
    "eps_from_x0": (lambda x, x0: parameterization.eps_from_x0(BETAS, x, STEPS, x0), (X_T, X0)),
    "v_from_x0_eps": (lambda x0, e: parameterization.v_from_x0_eps(BETAS, x0, STEPS, e),
                      (X0, NOISE)),
    "x0_from_v": (lambda x, v: parameterization.x0_from_v(BETAS, x, STEPS, v), (X_T, PRED)),
    "eps_from_v": (lambda x, v: parameterization.eps_from_v(BETAS, x, STEPS, v), (X_T, PRED)),
    "score_from_eps": (lambda e: parameterization.score_from_eps(BETAS, STEPS, e), (PRED,)),
    "x0_from_xprev": (lambda x, xp: parameterization.x0_from_xprev(BETAS, x, STEPS, xp),
                      (X_T, PRED)),
    "mu_tilde": (lambda x0, x: posterior.mu_tilde(BETAS, x0, x, STEPS), (X0, X_T)),
    "q_posterior": (lambda x0, x: posterior.q_posterior(BETAS, x0, x, STEPS), (X0, X_T)),
    "mu_tilde_from_eps": (lambda x, e: posterior.mu_tilde_from_eps(BETAS, x, STEPS, e),
                          (X_T, PRED)),
    **{f"model_variance_{v}": (
        lambda x, vb, v=v: reverse.model_variance(BETAS, STEPS, v, x, vb), (X_T, VAR_BLOCK))
       for v in ("fixed_small", "fixed_large", "learned", "learned_range")},
    **{f"p_mean_variance_{m}": (lambda out, x, m=m: reverse.p_mean_variance(
        BETAS, out, x, STEPS, m, "learned_range"), (OUT_LEARNED, X_T))
       for m in ("eps", "x0", "v", "xprev")},
    "prior_bpd": (lambda x0: vlb.prior_bpd(BETAS, x0), (X0,)),
    **{f"decoder_nll_{d}": (lambda x0, m, lv, d=d: vlb.decoder_nll(x0, m, lv, d),
                            (X0, PRED, LOGVAR))
       for d in ("discretized", "discretized_approx", "gaussian")},
    "vb_terms_bpd": (lambda x0, x, m, lv: vlb.vb_terms_bpd(BETAS, x0, x, STEPS, m, lv),
                     (X0, X_T, PRED, LOGVAR)),
}


def _leaves(result):
    if isinstance(result, dict):
        return [result[key] for key in sorted(result)]
    if isinstance(result, tuple):
        return list(result)
    return [result]


_to_fractions = np.vectorize(lambda v: Fraction(float(v)), otypes=[object])


def _convert(a, dtype):
    return _to_fractions(a) if dtype == "fraction" else a.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float16, "fraction"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_reference_kernel_computes_in_float64(name, dtype):
    kernel, args = CASES[name]
    want = _leaves(kernel(*args))
    got = _leaves(kernel(*(_convert(a, dtype) for a in args)))
    for expected, actual in zip(want, got, strict=True):
        actual = np.asarray(actual)
        if actual.dtype.kind in "fO":
            assert actual.dtype == np.float64, f"{name}: {actual.dtype}"
        assert_close(actual, expected, TOLERANCES["float64"], err_msg=name)
