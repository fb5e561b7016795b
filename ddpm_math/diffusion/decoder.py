"""The discretised Gaussian decoder p_θ(x_0 | x_1) of DDPM eq. (13), and the normal CDFs it uses."""

from __future__ import annotations

import math

import torch

from ddpm_math.diffusion.tensors import as_tensor_like
from ddpm_math.notation import BIN_HALF_WIDTH

__all__ = [
    "approx_standard_normal_cdf",
    "discretized_gaussian_log_likelihood",
    "standard_normal_cdf",
]

#: Floor the reference code puts under every probability before its log.
REFERENCE_PROB_FLOOR = 1e-12
#: Values below -EDGE (above +EDGE) belong to the first (last) open bin, as in the reference code.
EDGE = 0.999


def standard_normal_cdf(x: torch.Tensor) -> torch.Tensor:
    """Φ(x) = ½(1 + erf(x/√2)), evaluated as ½ erfc(-x/√2) to keep the lower tail.

    ``torch.special.ndtr`` (torch 2.13, CPU float64) is 0 below x ≈ -8.3 and off by 2% at
    x = -8, where Φ is 6.2e-16; erfc keeps relative accuracy of about x²·eps there.
    """
    return 0.5 * torch.special.erfc(-x * (1.0 / math.sqrt(2.0)))


def approx_standard_normal_cdf(x: torch.Tensor) -> torch.Tensor:
    """Φ(x) ≈ ½(1 + tanh(√(2/π)(x + 0.044715 x³))), the approximation of the reference DDPM code.

    Its worst absolute error against Φ is about 1.8e-4 (near |x| ≈ 2; measured in
    ``verification/diffusion/test_decoder.py``). In the tails it is not a tail approximation:
    1 - Φ̃(x) decays like e^{-2√(2/π)·0.044715 x³} instead of e^{-x²/2}/(x√(2π)), so for large
    |x| its tail probabilities differ from Φ's by many orders of magnitude in *relative* terms.
    """
    return 0.5 * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))


def _log_normal_mass(lower: torch.Tensor, upper: torch.Tensor) -> torch.Tensor:
    """log(Φ(upper) - Φ(lower)) for lower < upper, computed in log space without cancellation.

    An interval in the right tail is reflected to the left tail (Φ(b) - Φ(a) = Φ(-a) - Φ(-b)),
    where ``log_ndtr`` keeps full relative accuracy; then
    log(Φ(u) - Φ(l)) = log Φ(u) + log(-expm1(log Φ(l) - log Φ(u))).
    """
    reflect = lower > 0
    lo = torch.where(reflect, -upper, lower)
    hi = torch.where(reflect, -lower, upper)
    log_hi = torch.special.log_ndtr(hi)
    log_lo = torch.special.log_ndtr(lo)
    return log_hi + torch.log(-torch.expm1(log_lo - log_hi))


def discretized_gaussian_log_likelihood(
    x: torch.Tensor,
    means: torch.Tensor,
    log_scales: torch.Tensor | float,
    *,
    exact: bool = False,
) -> torch.Tensor:
    """log p(x) in nats of 8-bit data, a Gaussian integrated over each value's bin, DDPM eq. (13).

    ``x`` holds values k/127.5 - 1 (k = 0..255); each owns the bin [x - 1/255, x + 1/255] except
    that the first bin opens to -∞ and the last to +∞, so the 256 probabilities sum to 1.
    ``log_scales`` is the log standard deviation (a tensor or a Python float). Inputs broadcast.

    ``exact=False`` reproduces the reference code's numbers: the tanh CDF approximation and
    probabilities floored at 1e-12 before the log. ``exact=True`` uses Φ itself, in log space
    (log Φ differences, no floor): finite everywhere, and in float64 the probabilities of the 256
    values sum to 1 within 1e-10 for scales 1e-4..10 and means in [-3, 3].

    Half-precision inputs are evaluated in float32 and the result is returned in their dtype:
    float16 cannot hold the 1e-12 floor, and bfloat16 cannot tell neighbouring bins apart.
    """
    if not isinstance(x, torch.Tensor) or not isinstance(means, torch.Tensor):
        raise TypeError("discretized_gaussian_log_likelihood: x and means must be tensors")
    if not x.is_floating_point() or not means.is_floating_point():
        raise TypeError(
            f"x and means must have a floating dtype, got {x.dtype} and {means.dtype}"
        )
    out_dtype = torch.promote_types(x.dtype, means.dtype)
    work_dtype = torch.promote_types(out_dtype, torch.float32)
    x, means = x.to(work_dtype), means.to(work_dtype)
    log_scales = as_tensor_like(log_scales, means).to(work_dtype)
    centered = x - means
    inv_scale = torch.exp(-log_scales)
    upper = inv_scale * (centered + BIN_HALF_WIDTH)  # standardised upper bin edge
    lower = inv_scale * (centered - BIN_HALF_WIDTH)  # standardised lower bin edge
    first_bin = x < -EDGE
    last_bin = x > EDGE
    if exact:
        log_first = torch.special.log_ndtr(upper)  # log Φ(upper): bin (-∞, upper]
        log_last = torch.special.log_ndtr(-lower)  # log(1 - Φ(lower)): bin [lower, ∞)
        log_interior = _log_normal_mass(lower, upper)
    else:
        cdf_upper = approx_standard_normal_cdf(upper)
        cdf_lower = approx_standard_normal_cdf(lower)
        log_first = torch.log(cdf_upper.clamp(min=REFERENCE_PROB_FLOOR))
        log_last = torch.log((1.0 - cdf_lower).clamp(min=REFERENCE_PROB_FLOOR))
        log_interior = torch.log((cdf_upper - cdf_lower).clamp(min=REFERENCE_PROB_FLOOR))
    log_probs = torch.where(first_bin, log_first, torch.where(last_bin, log_last, log_interior))
    return log_probs.to(out_dtype)
