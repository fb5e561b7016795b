"""The discretised Gaussian decoder p_θ(x_0 | x_1) of DDPM eq. (13), and the normal CDFs it uses."""

from __future__ import annotations

import math
import numbers
from typing import Any

import torch

from ddpm_math.diffusion.tensors import as_tensor_like
from ddpm_math.diffusion.validation import check_data_values, check_finite, check_flag
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
LOG_2PI = math.log(2.0 * math.pi)


def _check_cdf_argument(x) -> None:
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise TypeError(f"x must be a floating torch.Tensor, got "
                        f"{getattr(x, 'dtype', type(x).__name__)}")


def standard_normal_cdf(x: torch.Tensor) -> torch.Tensor:
    """Φ(x) = ½(1 + erf(x/√2)), evaluated as ½ erfc(-x/√2) to keep the lower tail.

    ``torch.special.ndtr`` (torch 2.13, CPU float64) is 0 below x ≈ -8.3 and off by 2% at
    x = -8, where Φ is 6.2e-16; erfc keeps relative accuracy of about x²·eps there.
    ``x``: a floating tensor (NaN gives NaN).
    """
    _check_cdf_argument(x)
    return 0.5 * torch.special.erfc(-x * (1.0 / math.sqrt(2.0)))


def approx_standard_normal_cdf(x: torch.Tensor) -> torch.Tensor:
    """Φ(x) ≈ ½(1 + tanh(√(2/π)(x + 0.044715 x³))), the approximation of the reference DDPM code.

    Its worst absolute error against Φ is about 1.8e-4 (near |x| ≈ 2; measured in
    ``verification/diffusion/test_decoder.py``). In the tails it is not a tail approximation:
    1 - Φ̃(x) decays like e^{-2√(2/π)·0.044715 x³} instead of e^{-x²/2}/(x√(2π)), so for large
    |x| its tail probabilities differ from Φ's by many orders of magnitude in *relative* terms.
    ``x``: a floating tensor (NaN gives NaN).
    """
    _check_cdf_argument(x)
    return 0.5 * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))


class _LogNdtr(torch.autograd.Function):
    """log Φ(x) (``torch.special.log_ndtr``) with an accurate gradient φ(x)/Φ(x).

    torch's own backward loses the Mills ratio in the lower tail (torch 2.13: in float32 it is
    4% off at x = -1000 and 0 below -1e5; in float64 inf at -1e10). Here it is
    √(2/π)/erfcx(-x/√2) for x < 0 (= φ/Φ, as Φ(x) = ½ erfcx(-x/√2) e^{-x²/2}), which keeps full
    relative accuracy down to -1e150 in float64, and exp(log φ(x) - log Φ(x)) above.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x)
        return torch.special.log_ndtr(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        lower = x < 0
        x_lower = torch.where(lower, x, torch.zeros_like(x))
        x_upper = torch.where(lower, torch.zeros_like(x), x)
        mills_lower = math.sqrt(2.0 / math.pi) / torch.special.erfcx(-x_lower * math.sqrt(0.5))
        mills_upper = torch.exp(-0.5 * x_upper**2 - 0.5 * LOG_2PI
                                - torch.special.log_ndtr(x_upper))
        return grad * torch.where(lower, mills_lower, mills_upper)


def log_ndtr(x: torch.Tensor) -> torch.Tensor:
    """log Φ(x), the log standard normal CDF, with an accurate gradient in the lower tail."""
    return _LogNdtr.apply(x)


def _log_normal_mass(lower: torch.Tensor, upper: torch.Tensor) -> torch.Tensor:
    """log(Φ(upper) - Φ(lower)) for lower < upper, computed in log space without cancellation.

    An interval in the right tail is reflected to the left tail (Φ(b) - Φ(a) = Φ(-a) - Φ(-b)),
    where ``log_ndtr`` keeps full relative accuracy; then
    log(Φ(u) - Φ(l)) = log Φ(u) + log(-expm1(log Φ(l) - log Φ(u))).
    """
    reflect = lower > 0
    lo = torch.where(reflect, -upper, lower)
    hi = torch.where(reflect, -lower, upper)
    log_hi = log_ndtr(hi)
    log_lo = log_ndtr(lo)
    return log_hi + torch.log(-torch.expm1(log_lo - log_hi))


def _log_sinhc(y: torch.Tensor) -> torch.Tensor:
    """log(sinh(y)/y) for y ≥ 0: y + log(1 - e^{-2y}) - log(2y), its series y²/6 - y⁴/180 below
    0.01 (where the series' error, y⁶/2835, is below 4e-16)."""
    small = y < 1e-2
    y_safe = torch.where(small, torch.ones_like(y), y)  # no log 0, no NaN gradient at y = 0
    y_small = torch.where(small, y, torch.zeros_like(y))  # no overflow of y⁴ (and its gradient)
    series = y_small * y_small / 6.0 - y_small**4 / 180.0
    return torch.where(small, series, y_safe + torch.log(-torch.expm1(-2.0 * y_safe))
                       - torch.log(2.0 * y_safe))


def _log_narrow_mass(mid: torch.Tensor, log_width: torch.Tensor) -> torch.Tensor:
    """log(Φ(m + w/2) - Φ(m - w/2)) for a narrow bin, without subtracting CDFs.

    The mass is φ(m) ∫_{-w/2}^{w/2} e^{-m u} e^{-u²/2} du; dropping e^{-u²/2} ∈ [e^{-w²/8}, 1]
    leaves φ(m) · w · sinh(y)/y with y = |m| w/2, so the result is exact within w²/8 (absolute,
    in log space) for every m: in the far tail and for enormous scales, where the CDFs round
    to the same value. ``log_width`` = log w is given in log space so w may underflow.
    """
    width = torch.exp(log_width)
    log_density = -(mid * math.sqrt(0.5)) ** 2 - 0.5 * LOG_2PI  # written so it overflows last
    return log_density + log_width + _log_sinhc(mid.abs() * (0.5 * width))


def _log_interior_mass(centered: torch.Tensor, log_scales: torch.Tensor) -> torch.Tensor:
    """log P(interior bin) = log(Φ(b) - Φ(a)), a, b = (x - μ ∓ 1/255)/σ, in the exact mode.

    CDF differences (:func:`_log_normal_mass`) lose a narrow bin's mass to the rounding of its
    edges: their error in log P is about eps·max(|m|, 1)/w (m, w: the standardised centre and
    width), and a and b may round to one value (-inf). :func:`_log_narrow_mass`, exact within
    w²/8, is used where that is smaller, w³ ≤ 8 eps max(|m|, 1), and where both are below the
    rounding of log φ(m) itself, w² ≤ 4 eps m² (the far tail, e.g. |x - mean| = 1e6 σ).
    """
    eps = torch.finfo(centered.dtype).eps
    log_width = math.log(2.0 * BIN_HALF_WIDTH) - log_scales
    width = torch.exp(log_width)
    inv_scale = torch.exp(-log_scales)
    mid = inv_scale * centered  # standardised bin centre m
    magnitude = mid.abs().clamp(min=1.0)
    narrow = (width**3 <= 8.0 * eps * magnitude) | (width**2 <= 4.0 * eps * mid * mid)
    upper = torch.where(narrow, 1.0, inv_scale * (centered + BIN_HALF_WIDTH))  # safe where
    lower = torch.where(narrow, -1.0, inv_scale * (centered - BIN_HALF_WIDTH))  # unused
    return torch.where(narrow, _log_narrow_mass(mid, log_width), _log_normal_mass(lower, upper))


def _check_decoder_inputs(x: Any, means: Any, log_scales: Any) -> None:
    """Types, dtypes, devices and broadcastable shapes of the decoder's three inputs."""
    if not isinstance(x, torch.Tensor) or not isinstance(means, torch.Tensor):
        raise TypeError("discretized_gaussian_log_likelihood: x and means must be tensors, got "
                        f"{type(x).__name__} and {type(means).__name__}")
    if not x.is_floating_point() or not means.is_floating_point():
        raise TypeError(
            f"x and means must have a floating dtype, got {x.dtype} and {means.dtype}"
        )
    if isinstance(log_scales, torch.Tensor):
        if not log_scales.is_floating_point():
            raise TypeError(f"log_scales must have a floating dtype, got {log_scales.dtype}")
        shapes = (x.shape, means.shape, log_scales.shape)
        devices = {x.device, means.device, log_scales.device}
    elif isinstance(log_scales, numbers.Real) and not isinstance(log_scales, bool):
        shapes, devices = (x.shape, means.shape), {x.device, means.device}
    else:
        raise TypeError("log_scales must be a floating tensor or a real number, got "
                        f"{type(log_scales).__name__} {log_scales!r}")
    if len(devices) > 1:
        raise ValueError("x, means and log_scales must be on one device, got "
                         f"{sorted(map(str, devices))}")
    try:
        torch.broadcast_shapes(*shapes)
    except RuntimeError:
        raise ValueError("x, means and log_scales must broadcast together, got shapes "
                         f"{', '.join(str(tuple(shape)) for shape in shapes)}") from None


def discretized_gaussian_log_likelihood(
    x: torch.Tensor,
    means: torch.Tensor,
    log_scales: torch.Tensor | float,
    *,
    exact: bool = False,
    check_values: bool = True,
) -> torch.Tensor:
    """log p(x) in nats of 8-bit data, a Gaussian integrated over each value's bin, DDPM eq. (13).

    ``x`` holds values k/127.5 - 1 (k = 0..255); each owns the bin [x - 1/255, x + 1/255] except
    that the first bin opens to -∞ and the last to +∞, so the 256 probabilities sum to 1.
    ``log_scales`` is the log standard deviation (a tensor or a Python float). Inputs broadcast.

    Input contract: ``x`` and ``means`` floating tensors, ``log_scales`` a floating tensor or a
    real number, broadcastable shapes, one device. With ``check_values`` (default) ``x`` must be
    8-bit images scaled to [-1, 1], every value within 2.45e-4 of k/127.5 - 1 (1/16 of a bin
    half-width; float16 4.9e-4, bfloat16 3.9e-3), and ``means`` and ``log_scales`` finite;
    ValueError otherwise. ``check_values=False`` skips these reads of the values (a device
    synchronisation) for callers that checked x already; off-grid x then gets the mass of the
    bin around it.

    ``exact=False`` reproduces the reference code's numbers: the tanh CDF approximation and
    probabilities floored at 1e-12 before the log. ``exact=True`` uses Φ itself, in log space
    (log Φ differences, no floor; a bin far narrower than the Gaussian, or far in its tail, by
    the density times the width, exact within w²/8 for a standardised width w): in float64 the
    probabilities of the 256 values sum to 1 within 1e-10 for scales 1e-4..10 and means in
    [-3, 3]. It returns a finite value for all finite inputs whose log-probability, about
    -((x - mean)/σ)²/2, is representable in the result dtype (below), i.e. |x - mean|/σ below
    about 2.6e19 (float32, bfloat16) or 1.9e154 (float64), and σ = e^log_scales above the
    smallest normal number (log_scales > -87 in float32, > -708 in float64); beyond that the
    result is -inf (the log of an underflowing probability) or NaN.

    Result dtype: that of ``x`` and ``means`` (promoted). Half-precision inputs are evaluated in
    float32 and the result is rounded once to their dtype: float16 cannot hold the 1e-12 floor,
    and bfloat16 cannot tell neighbouring bins apart. float16's range ends at -65504, so a
    float16 log p below that (|x - mean|/σ above about 360: x = -1, mean = 2, log_scales = -5
    gives -99,000 in float32) is -inf, the correctly rounded value, as :func:`normal_kl`'s KL
    above 65504 is inf; pass float32 tensors where such values must stay finite.
    """
    _check_decoder_inputs(x, means, log_scales)
    exact = check_flag(exact, "exact")
    check_values = check_flag(check_values, "check_values")
    if check_values:
        check_data_values(x, "x", on_grid=True,
                          opt_out="To skip the value checks pass check_values=False.")
        check_finite(means, "means")
        if isinstance(log_scales, torch.Tensor):
            check_finite(log_scales, "log_scales")
        elif not math.isfinite(log_scales):
            raise ValueError(f"log_scales must be finite, got {log_scales!r}")
    out_dtype = torch.promote_types(x.dtype, means.dtype)
    work_dtype = torch.promote_types(out_dtype, torch.float32)
    x, means = x.to(work_dtype), means.to(work_dtype)
    log_scales = as_tensor_like(log_scales, means).to(work_dtype)
    centered = x - means
    first_bin = x < -EDGE
    last_bin = x > EDGE
    inv_scale = torch.exp(-log_scales)
    upper = inv_scale * (centered + BIN_HALF_WIDTH)  # standardised upper bin edge
    lower = inv_scale * (centered - BIN_HALF_WIDTH)  # standardised lower bin edge
    if exact:
        log_first = log_ndtr(upper)  # log Φ(upper): bin (-∞, upper]
        log_last = log_ndtr(-lower)  # log(1 - Φ(lower)): bin [lower, ∞)
        log_interior = _log_interior_mass(centered, log_scales)
    else:
        cdf_upper = approx_standard_normal_cdf(upper)
        cdf_lower = approx_standard_normal_cdf(lower)
        log_first = torch.log(cdf_upper.clamp(min=REFERENCE_PROB_FLOOR))
        log_last = torch.log((1.0 - cdf_lower).clamp(min=REFERENCE_PROB_FLOOR))
        log_interior = torch.log((cdf_upper - cdf_lower).clamp(min=REFERENCE_PROB_FLOOR))
    log_probs = torch.where(first_bin, log_first, torch.where(last_bin, log_last, log_interior))
    return log_probs.to(out_dtype)
