"""Noise schedules β_1, ..., β_T and every quantity DDPM derives from them.

All builders return float64 numpy arrays of length T indexed 0..T-1: index t holds the paper's
step t+1 (see :mod:`ddpm_math.notation`). :class:`NoiseSchedule` holds one validated, read-only
schedule and the paper-named arrays computed from it once, plus a cached torch view.
"""

from __future__ import annotations

import math
import numbers
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import torch

#: The smallest normal float64, 2.2e-308: the least β (and end of a schedule) accepted. Below
#: it, in the subnormal range, β̃_1 = β_1 β_2/(β_1 + β_2) underflows to 0 (log β̃ = -inf) and
#: snr = ᾱ/(1 - ᾱ) ≈ 1/β_1 overflows; from it up, every derived array is finite.
BETA_MIN = float(np.finfo(np.float64).tiny)
#: The largest cosine-schedule offset s accepted (see :func:`cosine_betas`).
COSINE_S_MAX = 1e100

__all__ = [
    "NoiseSchedule",
    "TorchSchedule",
    "betas_from_alpha_bar",
    "cosine_alpha_bar",
    "cosine_betas",
    "linear_betas",
    "quadratic_betas",
    "rescale_zero_terminal_snr",
    "sqrt_linear_betas",
]


# ---------------------------------------------------------------------------------------------
# validation helpers


def _check_num_steps(T: Any, name: str = "T") -> int:
    """Return ``T`` as an int after checking it is an integer ≥ 1."""
    if isinstance(T, bool) or not isinstance(T, numbers.Integral):
        raise TypeError(f"{name} must be an integer >= 1, got {T!r} of type {type(T).__name__}")
    if T < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {T}")
    return int(T)


def _check_unit_interval(value: Any, name: str) -> float:
    """Return ``value`` as a float after checking it lies in (0, 1] (from :data:`BETA_MIN`, the
    smallest normal float64)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number in (0, 1], got {value!r}")
    value = float(value)
    if not (math.isfinite(value) and BETA_MIN <= value <= 1.0):
        raise ValueError(f"{name} must lie in (0, 1] (at least {BETA_MIN:.17g}), got {value!r}")
    return value


def _check_increasing_ends(beta_start: float, beta_end: float) -> None:
    """Raise a ValueError naming both ends unless beta_start <= beta_end (β_t must not fall)."""
    if beta_start > beta_end:
        raise ValueError(
            f"beta_start must be <= beta_end (the DDPM schedule increases from β_1 to β_T), "
            f"got beta_start={beta_start!r} > beta_end={beta_end!r}"
        )


def _torch_to_numpy(betas: Any, name: str) -> Any:
    """A torch tensor as a detached float64 CPU numpy array; anything else unchanged.

    numpy's ``np.array(tensor, copy=True)`` goes through ``Tensor.__array__``, which does not
    take numpy 2's ``copy`` keyword and raises a DeprecationWarning; converting here avoids it.
    """
    torch = sys.modules.get("torch")  # a tensor can only exist if torch is imported
    if torch is None or not isinstance(betas, torch.Tensor):
        return betas
    if betas.is_complex() or betas.dtype == torch.bool:
        raise TypeError(f"{name} must hold real numbers in (0, 1], got a tensor of {betas.dtype}")
    return betas.detach().to(device="cpu", dtype=torch.float64).numpy()


def _check_betas(betas: Any, name: str = "betas") -> np.ndarray:
    """Return a float64 copy of ``betas`` after checking it is 1-D, non-empty, finite, in (0, 1]
    and not subnormal (every entry ≥ :data:`BETA_MIN`).

    Accepts a sequence of real numbers, a numpy array or a torch tensor (any device, detached).
    """
    betas = _torch_to_numpy(betas, name)
    if isinstance(betas, (np.ndarray, np.generic)) and betas.dtype.kind not in "fiu":
        raise TypeError(f"{name} must be a 1-D array of real numbers in (0, 1], "
                        f"got a numpy array of dtype {betas.dtype}")
    try:
        arr = np.array(betas, dtype=np.float64, copy=True)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be a 1-D array of real numbers in (0, 1]: {err}") from None
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one β per step), got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} must hold at least one step (T >= 1), got an empty array")
    bad = ~np.isfinite(arr) | (arr < BETA_MIN) | (arr > 1.0)
    if bad.any():
        index = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{name} must lie in (0, 1] and be finite, at least the smallest normal float64 "
            f"{BETA_MIN:.17g}; {name}[{index}] = {float(arr[index])!r} "
            f"({int(bad.sum())} bad entries)"
        )
    return arr


# ---------------------------------------------------------------------------------------------
# builders


def linear_betas(
    T: int, beta_start: float = 1e-4, beta_end: float = 0.02, *, rescale_to_1000: bool = False
) -> np.ndarray:
    """Linear schedule β_t from ``beta_start`` to ``beta_end``, DDPM §4 (1e-4 to 0.02, T=1000).

    With ``rescale_to_1000=True`` both ends are multiplied by 1000/T, as Improved DDPM
    (Nichol & Dhariwal 2021) does so that any T gives about the same ᾱ_T as T=1000.

    Input contract: ``T`` an integer (Python or numpy, not bool) ≥ 1; ``beta_start`` and
    ``beta_end`` finite real numbers in (0, 1] with ``beta_start <= beta_end`` (β_t increases;
    equal ends give a constant schedule); with ``rescale_to_1000=True`` the scaled ends must
    stay below 1 (T > 1000·beta_end). Violations raise ``TypeError``/``ValueError`` naming the
    parameter. Returns a float64 array of shape (T,); index t is the paper's step t+1.

    The DDPM ends are tuned for T = 1000. With fewer steps and no rescale the forward process
    does not reach noise: ᾱ_T ≈ 0.90 for T = 10, 0.60 for T = 50, 0.36 for T = 100, and
    ᾱ_T ≤ 0.01 only from T = 456 (ᾱ_T = 4.0e-5 at T = 1000). Short schedules used on purpose
    in tests are fine; to sample or train with few steps pass ``rescale_to_1000=True``
    (ᾱ_T = 2.0e-5 at T = 100) or check :attr:`NoiseSchedule.alpha_bar_T`.
    """
    T = _check_num_steps(T)
    beta_start = _check_unit_interval(beta_start, "beta_start")
    beta_end = _check_unit_interval(beta_end, "beta_end")
    _check_increasing_ends(beta_start, beta_end)
    if rescale_to_1000:
        scale = 1000.0 / T
        beta_start, beta_end = scale * beta_start, scale * beta_end
        if max(beta_start, beta_end) >= 1.0:
            raise ValueError(
                f"rescale_to_1000=True scales the betas by 1000/T = {scale:g}, which takes them "
                f"to [{beta_start:g}, {beta_end:g}]; every beta must stay below 1. "
                f"Use a larger T (T > {1000 * max(beta_start, beta_end) / scale:g}) or no rescale."
            )
    return np.linspace(beta_start, beta_end, T, dtype=np.float64)


def quadratic_betas(T: int, beta_start: float = 1e-4, beta_end: float = 0.02) -> np.ndarray:
    """Quadratic schedule β_t = β_min + (β_max - β_min)·((t-1)/(T-1))², t = 1..T.

    This is the quadratic-in-t schedule of the project's source notes. It is *not* the "quad"
    schedule of the original DDPM TF code, which is linear in √β: see :func:`sqrt_linear_betas`.
    For T = 1 the single step is ``beta_start``.

    Input contract as :func:`linear_betas` (``T`` an integer ≥ 1; ends finite in (0, 1] with
    ``beta_start <= beta_end``). Returns a float64 array of shape (T,). The same caveat on
    ᾱ_T for small T applies: check :attr:`NoiseSchedule.alpha_bar_T`.
    """
    T = _check_num_steps(T)
    beta_start = _check_unit_interval(beta_start, "beta_start")
    beta_end = _check_unit_interval(beta_end, "beta_end")
    _check_increasing_ends(beta_start, beta_end)
    if T == 1:
        return np.array([beta_start], dtype=np.float64)
    fraction = np.arange(T, dtype=np.float64) / (T - 1)  # (t-1)/(T-1) for t = 1..T
    return beta_start + (beta_end - beta_start) * fraction**2


def sqrt_linear_betas(T: int, beta_start: float = 1e-4, beta_end: float = 0.02) -> np.ndarray:
    """Schedule linear in √β: β_t = (√β_min + (√β_max - √β_min)(t-1)/(T-1))².

    The "quad" schedule of the original DDPM TF code (``np.linspace(√β_start, √β_end, T)**2``),
    called "scaled_linear" by Stable Diffusion.

    Input contract as :func:`linear_betas` (``T`` an integer ≥ 1; ends finite in (0, 1] with
    ``beta_start <= beta_end``). Returns a float64 array of shape (T,). The same caveat on
    ᾱ_T for small T applies: check :attr:`NoiseSchedule.alpha_bar_T`.
    """
    T = _check_num_steps(T)
    beta_start = _check_unit_interval(beta_start, "beta_start")
    beta_end = _check_unit_interval(beta_end, "beta_end")
    _check_increasing_ends(beta_start, beta_end)
    return np.linspace(math.sqrt(beta_start), math.sqrt(beta_end), T, dtype=np.float64) ** 2


def _alpha_bar_value(alpha_bar_fn: Callable[[float], float], u: float) -> float:
    """``alpha_bar_fn(u)`` as a float after checking it is a real number (a Python or numpy
    real, or a 0-d real numpy array), not None, a string, a complex number or an array."""
    value = alpha_bar_fn(u)
    if isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "fiu":
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"alpha_bar_fn must return a real number ᾱ(u), got "
                        f"{type(value).__name__} {value!r:.80} at u = {u!r}")
    return float(value)


def betas_from_alpha_bar(
    alpha_bar_fn: Callable[[float], float], T: int, max_beta: float = 0.999
) -> np.ndarray:
    """β_t = min(1 - ᾱ(t/T)/ᾱ((t-1)/T), max_beta) for t = 1..T, from a continuous ᾱ(u), u ∈ [0, 1].

    Input contract: ``alpha_bar_fn`` a callable taking a Python float u ∈ [0, 1] and returning
    a real number (a Python or numpy real or a 0-d real array; None, a string, a complex number
    or an array of one or more entries is a ``TypeError`` naming ``alpha_bar_fn``); its values
    on the grid u = t/T must be finite and ≥ 0, positive at u = 0 and strictly decreasing
    while positive (a flat stretch gives β = 0, which no schedule may hold; once ᾱ reaches 0
    the remaining β are ``max_beta``). ``T`` an integer ≥ 1;
    ``max_beta`` a finite real in (0, 1]. Violations raise ``TypeError``/``ValueError``
    naming the parameter. Returns a float64 array of shape (T,) with entries in (0, max_beta].
    """
    T = _check_num_steps(T)
    max_beta = _check_unit_interval(max_beta, "max_beta")
    if not callable(alpha_bar_fn):
        raise TypeError(f"alpha_bar_fn must be callable u -> ᾱ(u), got {alpha_bar_fn!r}")
    grid = np.array([_alpha_bar_value(alpha_bar_fn, step / T) for step in range(T + 1)],
                    dtype=np.float64)
    if not np.all(np.isfinite(grid)) or grid[0] <= 0.0 or np.any(grid < 0.0):
        raise ValueError(
            "alpha_bar_fn must return finite values >= 0 on [0, 1] and a positive value at 0; "
            f"got ᾱ(0) = {float(grid[0])!r}, values {grid[:4]} ..."
        )
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = grid[1:] / grid[:-1]
    # Once ᾱ reaches 0 every later ratio is 0/0; β = 1 there (all signal is gone).
    ratio = np.where(grid[:-1] > 0.0, ratio, 0.0)
    betas = np.minimum(1.0 - ratio, max_beta)
    if np.any(betas <= 0.0):
        step = int(np.flatnonzero(betas <= 0.0)[0]) + 1
        raise ValueError(
            f"alpha_bar_fn must be strictly decreasing on the grid u = t/T: "
            f"ᾱ({step}/{T}) >= ᾱ({step - 1}/{T}) gives "
            f"beta_{step} = {float(betas[step - 1])!r} <= 0"
        )
    return betas


def cosine_alpha_bar(u: float, s: float = 0.008) -> float:
    """Continuous cosine ᾱ(u) = cos²((u + s)/(1 + s) · π/2), Nichol & Dhariwal 2021 eq. (17).

    Unnormalised: ᾱ(0) = cos²(s/(1+s)·π/2) < 1. Only ratios ᾱ(t/T)/ᾱ((t-1)/T) enter the betas,
    so the normalisation by ᾱ(0) in the paper's f(t)/f(0) cancels.

    Evaluated as sin²((1 - u)/(1 + s) · π/2), the same function (cos(π/2 - a) = sin a) without
    the cancellation of cos near π/2: ᾱ keeps full relative accuracy as u → 1 and for large s,
    where (u + s)/(1 + s) rounds to 1 (s = 1e15: cos gives a flat, wrong ᾱ).

    Input contract: ``u`` a finite real number (the schedule uses u ∈ [0, 1]; outside it the
    formula is simply evaluated); ``s`` a finite real ≥ 0. Returns a Python float in [0, 1].
    """
    if isinstance(u, bool) or not isinstance(u, numbers.Real):
        raise TypeError(f"u must be a real number (u = t/T in [0, 1]), got {u!r}")
    if not math.isfinite(u):
        raise ValueError(f"u must be finite (u = t/T in [0, 1]), got {u!r}")
    if isinstance(s, bool) or not isinstance(s, numbers.Real) or not math.isfinite(s) or s < 0:
        raise ValueError(f"s (the cosine schedule offset) must be a finite number >= 0, got {s!r}")
    return math.sin((1.0 - u) / (1.0 + s) * (math.pi / 2.0)) ** 2


def cosine_betas(T: int, s: float = 0.008, max_beta: float = 0.999) -> np.ndarray:
    """Cosine schedule β_t = min(1 - ᾱ(t/T)/ᾱ((t-1)/T), max_beta), Nichol & Dhariwal eq. (17).

    Input contract: ``T`` an integer ≥ 1; ``s`` a real number in [0, 1e100]
    (:data:`COSINE_S_MAX`; as s grows the betas tend to 1 - ((T-t)/(T-t+1))², and beyond 1e100
    ᾱ would approach float64's underflow); ``max_beta`` a finite real in (0, 1] (0.999 as in
    the paper). Violations raise ``TypeError``/``ValueError`` naming the parameter. Returns a
    float64 array of shape (T,) with entries in (0, max_beta].
    """
    T = _check_num_steps(T)
    if isinstance(s, bool) or not isinstance(s, numbers.Real) or not math.isfinite(s) or s < 0:
        raise ValueError(f"s (the cosine schedule offset) must be a finite number >= 0, got {s!r}")
    if s > COSINE_S_MAX:
        raise ValueError(f"s (the cosine schedule offset) must lie in [0, {COSINE_S_MAX:g}], "
                         f"got {s!r}")
    max_beta = _check_unit_interval(max_beta, "max_beta")
    return betas_from_alpha_bar(lambda u: cosine_alpha_bar(u, float(s)), T, max_beta=max_beta)


def rescale_zero_terminal_snr(betas: Any) -> np.ndarray:
    """Rescale a schedule so that ᾱ_T = 0 exactly, Lin et al. 2023 ("Common diffusion noise
    schedules and sample steps are flawed"), Algorithm 1.

    √ᾱ_t is shifted so its last entry is 0 and scaled so its first entry is unchanged; the last
    β becomes exactly 1. Needs T >= 2 (with one step the first and last entries coincide).

    Input contract: ``betas`` as for :class:`NoiseSchedule` (a 1-D sequence, numpy array or
    torch tensor of finite reals in (0, 1]) with at least 2 entries. Returns a new float64
    array of the same length whose last entry is 1.0.
    """
    betas = _check_betas(betas)
    if betas.size < 2:
        raise ValueError("rescale_zero_terminal_snr needs at least 2 steps (T >= 2), got T = 1")
    sqrt_alpha_bar = np.sqrt(np.cumprod(1.0 - betas))
    first, last = sqrt_alpha_bar[0], sqrt_alpha_bar[-1]
    if not first > last:
        raise ValueError("betas must make ᾱ decrease from step 1 to step T to be rescaled")
    sqrt_alpha_bar = (sqrt_alpha_bar - last) * (first / (first - last))
    alpha_bar = sqrt_alpha_bar**2
    alpha = np.empty_like(alpha_bar)
    alpha[0] = alpha_bar[0]
    alpha[1:] = alpha_bar[1:] / alpha_bar[:-1]
    rescaled = 1.0 - alpha
    rescaled[-1] = 1.0  # exactly: ᾱ_T = 0 so α_T = 0
    return rescaled


# ---------------------------------------------------------------------------------------------
# the schedule object

_ARRAY_NAMES = (
    "beta",
    "alpha",
    "alpha_bar",
    "alpha_bar_prev",
    "one_minus_alpha_bar",
    "sqrt_alpha_bar",
    "sqrt_one_minus_alpha_bar",
    "beta_tilde",
    "log_beta_tilde_clipped",
    "mu_tilde_coef_x0",
    "mu_tilde_coef_xt",
    "snr",
)


@dataclass(frozen=True)
class TorchSchedule:
    """The arrays of a :class:`NoiseSchedule` as torch tensors on one device, in one dtype."""

    beta: torch.Tensor
    alpha: torch.Tensor
    alpha_bar: torch.Tensor
    alpha_bar_prev: torch.Tensor
    one_minus_alpha_bar: torch.Tensor
    sqrt_alpha_bar: torch.Tensor
    sqrt_one_minus_alpha_bar: torch.Tensor
    beta_tilde: torch.Tensor
    log_beta_tilde_clipped: torch.Tensor
    mu_tilde_coef_x0: torch.Tensor
    mu_tilde_coef_xt: torch.Tensor
    snr: torch.Tensor

    @property
    def num_steps(self) -> int:
        """T, the number of diffusion steps."""
        return int(self.beta.shape[0])


class NoiseSchedule:
    """An immutable, validated float64 schedule β_1..β_T and the arrays DDPM derives from it.

    Every array has length T and index t holds the paper's step t+1:

    - ``beta`` β_t, ``alpha`` α_t = 1 - β_t, ``alpha_bar`` ᾱ_t = ∏_{s≤t} α_s (DDPM eq. 4),
      ``alpha_bar_prev`` ᾱ_{t-1} with ᾱ_0 = 1;
    - ``one_minus_alpha_bar`` 1 - ᾱ_t computed as -expm1(Σ log1p(-β)) (accurate for small β),
      ``sqrt_alpha_bar``, ``sqrt_one_minus_alpha_bar``;
    - ``beta_tilde`` β̃_t = (1 - ᾱ_{t-1})/(1 - ᾱ_t) β_t (eq. 7), exactly 0 at t = 1;
      ``log_beta_tilde_clipped``: log β̃_t with the t = 1 entry replaced by the t = 2 value so it
      is finite, as the reference code does (for T = 1 it is log β_1);
    - ``mu_tilde_coef_x0`` √ᾱ_{t-1} β_t/(1 - ᾱ_t) and ``mu_tilde_coef_xt``
      √α_t (1 - ᾱ_{t-1})/(1 - ᾱ_t), the two coefficients of μ̃_t (eq. 7);
    - ``snr`` ᾱ_t/(1 - ᾱ_t).

    The arrays are read-only. :meth:`to_torch` returns a cached tensor view per (device, dtype).
    :attr:`alpha_bar_T` and :attr:`terminal_snr` say how close step T comes to pure noise.

    Input contract: ``betas`` a 1-D sequence of real numbers, numpy array (float or integer
    dtype) or torch tensor (any floating dtype and device; it is detached and copied to float64
    on the CPU), of length T ≥ 1, every entry finite and in (0, 1] (β = 1 makes ᾱ = 0 from that
    step on). Any order is accepted. The input is copied. A wrong type is a ``TypeError``, a
    wrong shape or value a ``ValueError`` naming the first bad index.
    """

    __slots__ = ("_arrays", "_torch_cache")

    def __init__(self, betas: Any) -> None:
        beta = _check_betas(betas)
        alpha = 1.0 - beta
        with np.errstate(divide="ignore"):  # log 0 = -inf once some β = 1 (ᾱ = 0 from there)
            log_alpha_bar = np.cumsum(np.log1p(-beta))
        alpha_bar = np.cumprod(alpha)
        one_minus_alpha_bar = -np.expm1(log_alpha_bar)
        alpha_bar_prev = np.concatenate(([1.0], alpha_bar[:-1]))
        one_minus_alpha_bar_prev = np.concatenate(([0.0], one_minus_alpha_bar[:-1]))
        beta_tilde = one_minus_alpha_bar_prev / one_minus_alpha_bar * beta
        log_beta_tilde_clipped = np.log(np.concatenate((beta_tilde[1:2], beta_tilde[1:])))
        if beta.size == 1:
            log_beta_tilde_clipped = np.log(beta)
        arrays = {
            "beta": beta,
            "alpha": alpha,
            "alpha_bar": alpha_bar,
            "alpha_bar_prev": alpha_bar_prev,
            "one_minus_alpha_bar": one_minus_alpha_bar,
            "sqrt_alpha_bar": np.sqrt(alpha_bar),
            "sqrt_one_minus_alpha_bar": np.sqrt(one_minus_alpha_bar),
            "beta_tilde": beta_tilde,
            "log_beta_tilde_clipped": log_beta_tilde_clipped,
            "mu_tilde_coef_x0": np.sqrt(alpha_bar_prev) * beta / one_minus_alpha_bar,
            "mu_tilde_coef_xt": np.sqrt(alpha) * one_minus_alpha_bar_prev / one_minus_alpha_bar,
            "snr": alpha_bar / one_minus_alpha_bar,
        }
        for array in arrays.values():
            array.setflags(write=False)
        object.__setattr__(self, "_arrays", arrays)
        object.__setattr__(self, "_torch_cache", {})

    # -- construction ------------------------------------------------------------------------

    @classmethod
    def linear(cls, T: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02,
               *, rescale_to_1000: bool = False) -> NoiseSchedule:
        """The DDPM linear schedule, see :func:`linear_betas` (its input contract applies).

        The default ends are tuned for T = 1000: ``NoiseSchedule.linear(10).alpha_bar_T`` is
        0.90, i.e. step T is mostly signal. Pass ``rescale_to_1000=True`` for short schedules
        that should end in noise, and read :attr:`alpha_bar_T` to check.
        """
        return cls(linear_betas(T, beta_start, beta_end, rescale_to_1000=rescale_to_1000))

    @classmethod
    def cosine(cls, T: int = 1000, s: float = 0.008, max_beta: float = 0.999) -> NoiseSchedule:
        """The Improved DDPM cosine schedule, see :func:`cosine_betas` (its contract applies)."""
        return cls(cosine_betas(T, s=s, max_beta=max_beta))

    # -- access ------------------------------------------------------------------------------

    def __getattr__(self, name: str) -> np.ndarray:
        arrays = object.__getattribute__(self, "_arrays")
        if name in arrays:
            return arrays[name]
        raise AttributeError(f"NoiseSchedule has no attribute {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("NoiseSchedule is immutable; build a new one from new betas")

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(_ARRAY_NAMES))

    @property
    def num_steps(self) -> int:
        """T, the number of diffusion steps."""
        return int(self._arrays["beta"].shape[0])

    @property
    def alpha_bar_T(self) -> float:
        """ᾱ_T, the signal variance left at the last step (0 for pure noise).

        The forward process reaches noise only if this is small: 4.0e-5 for the DDPM schedule
        (T = 1000), but 0.90 for ``NoiseSchedule.linear(10)`` without ``rescale_to_1000``.
        """
        return float(self._arrays["alpha_bar"][-1])

    @property
    def terminal_snr(self) -> float:
        """SNR(T) = ᾱ_T/(1 - ᾱ_T), 0 for a zero-terminal-SNR schedule (Lin et al. 2023)."""
        return float(self._arrays["snr"][-1])

    def __len__(self) -> int:
        return self.num_steps

    def __repr__(self) -> str:
        beta = self._arrays["beta"]
        return (
            f"NoiseSchedule(T={beta.size}, beta=[{beta[0]:.4g} .. {beta[-1]:.4g}], "
            f"alpha_bar_T={self._arrays['alpha_bar'][-1]:.4g})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, NoiseSchedule):
            return NotImplemented
        return np.array_equal(self._arrays["beta"], other._arrays["beta"])

    def __hash__(self) -> int:
        return hash(self._arrays["beta"].tobytes())

    def __reduce__(self):
        return (NoiseSchedule, (np.array(self._arrays["beta"]),))

    def to_torch(self, device: Any = None, dtype: Any = None) -> TorchSchedule:
        """Every array as a torch tensor on ``device`` in ``dtype`` (default float64), cached.

        The conversion happens once per (device, dtype); kernels gather from these tensors and
        never upload coefficients per call. Input contract: ``device`` None (the CPU), a
        ``torch.device``, a device string or index naming a device torch has ('cuda' needs
        CUDA), else ``TypeError``/``ValueError`` naming ``device``; ``dtype`` a floating
        ``torch.dtype`` (default float64), else ``TypeError``. Values are rounded once from
        float64 to ``dtype``. The checks look at no tensor values (the sampling loop calls this
        every step, also under CUDA-graph capture).
        """
        import torch

        # validation imports this module: import its checker here, not at the top
        from ddpm_math.diffusion.validation import check_device

        dtype = torch.float64 if dtype is None else dtype
        if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
            raise TypeError(f"dtype must be a floating torch.dtype, got {dtype!r}")
        if device is None:
            device = torch.device("cpu")
        elif not isinstance(device, torch.device):
            device = check_device(device)
        key = (str(device), dtype)
        cached = self._torch_cache.get(key)
        if cached is None:
            check_device(device)  # a torch.device of a kind this torch cannot use (no CUDA)
            tensors = {
                name: torch.as_tensor(np.array(self._arrays[name]), dtype=torch.float64)
                .to(device=device, dtype=dtype)
                for name in _ARRAY_NAMES
            }
            cached = TorchSchedule(**tensors)
            self._torch_cache[key] = cached
        return cached
