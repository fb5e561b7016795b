"""The discretised Gaussian decoder of DDPM eq. (13), numpy float64 transcription."""

from __future__ import annotations

import numpy as np
from scipy import special

__all__ = [
    "approx_standard_normal_cdf",
    "discretized_gaussian_log_likelihood",
    "standard_normal_cdf",
]


def standard_normal_cdf(x) -> np.ndarray:
    """Φ(x) = ½(1 + erf(x/√2))."""
    return 0.5 * (1.0 + special.erf(np.asarray(x, dtype=np.float64) / np.sqrt(2.0)))


def approx_standard_normal_cdf(x) -> np.ndarray:
    """The tanh approximation of Φ used by the reference DDPM code."""
    x = np.asarray(x, dtype=np.float64)
    return 0.5 * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (x + 0.044715 * x**3)))


def discretized_gaussian_log_likelihood(x, means, log_scales, *, exact=False) -> np.ndarray:
    """log P(bin of x) under N(means, exp(log_scales)²), 8-bit bins of half-width 1/255, eq. (13).

    ``exact=False``: the reference code (tanh CDF, probabilities floored at 1e-12).
    ``exact=True``: bin masses from ``scipy.special.ndtr`` differences, taken on the side of the
    mean where they do not cancel (right-tail bins use the survival function). Naive in that
    masses below ~1e-308 underflow to 0 and give -inf.
    """
    x, means, log_scales = np.broadcast_arrays(
        *(np.asarray(a, dtype=np.float64) for a in (x, means, log_scales))
    )
    inv_scale = np.exp(-log_scales)
    upper = (x - means + 1.0 / 255.0) * inv_scale
    lower = (x - means - 1.0 / 255.0) * inv_scale
    if exact:
        p_first = special.ndtr(upper)
        p_last = special.ndtr(-lower)
        p_interior = np.where(
            lower > 0, special.ndtr(-lower) - special.ndtr(-upper),
            special.ndtr(upper) - special.ndtr(lower),
        )
        floor = 0.0
    else:
        p_first = approx_standard_normal_cdf(upper)
        p_last = 1.0 - approx_standard_normal_cdf(lower)
        p_interior = approx_standard_normal_cdf(upper) - approx_standard_normal_cdf(lower)
        floor = 1e-12
    prob = np.where(x < -0.999, p_first, np.where(x > 0.999, p_last, p_interior))
    with np.errstate(divide="ignore"):
        return np.log(np.maximum(prob, floor))
