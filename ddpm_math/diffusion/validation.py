"""Input checks for the diffusion engine: clear ValueError/TypeError naming the parameter.

Every check runs before any work. The checks that read tensor values (the range of ``t``, NaN
in a data tensor or a model output, the [-1, 1] range and the 8-bit grid of data) synchronise
with the device, so the sampling loops call them once, on the first step, and only the shape
checks (metadata, no synchronisation) on every step.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from ddpm_math.notation import BIN_HALF_WIDTH
from ddpm_math.schedules import NoiseSchedule

__all__ = [
    "GRID_ATOL",
    "check_data",
    "check_data_values",
    "check_device",
    "check_dtype",
    "check_eta",
    "check_finite",
    "check_flag",
    "check_generator",
    "check_like",
    "check_model_output",
    "check_schedule",
    "check_shape",
    "check_timesteps",
    "grid_tolerance",
]

#: Absolute tolerance of the 8-bit grid check in the [-1, 1] scale: a sixteenth of the bin
#: half-width 1/255, 2.45e-4. It accepts float32 arithmetic (``torch.arange(256)/127.5 - 1`` is
#: up to one float32 ulp, 1.2e-7, off k/127.5 - 1) and 8-bit values rounded through float16 and
#: back (≤ 2⁻¹² = 2.44e-4 off); it rejects data in [0, 1] (k/255 is 0 or 1/255 off the grid) and
#: a continuous value with probability 15/16, so a batch of continuous data almost surely.
GRID_ATOL = BIN_HALF_WIDTH / 16

_SCALE_HINT = "images scaled to [-1, 1] (x = k/127.5 - 1)"
_OPT_OUT = ("For continuous data use decoder='gaussian'; to skip the value checks pass "
            "check_values=False.")


def check_data(x: Any, name: str = "x0", *, min_ndim: int = 1) -> torch.Tensor:
    """``x`` after checking it is a floating tensor with a batch dimension (and a channel one)."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must have a floating dtype, got {x.dtype}")
    if x.ndim < min_ndim:
        layout = "[B, C, ...] (batch, channels, ...)" if min_ndim >= 2 else "[B, ...]"
        raise ValueError(f"{name} must have shape {layout}, got shape {tuple(x.shape)}")
    if x.shape[0] == 0:
        raise ValueError(f"{name} must hold at least one example, got batch size 0")
    if x.numel() == 0:
        raise ValueError(f"{name} must have positive sizes, got shape {tuple(x.shape)}")
    return x


def grid_tolerance(dtype: torch.dtype) -> float:
    """Grid tolerance for data of ``dtype``: :data:`GRID_ATOL`, or half the dtype's ulp at 1
    for float16/bfloat16, where k/127.5 - 1 computed in that dtype is up to that far off
    (float16: 2⁻¹¹ ≈ 4.9e-4; bfloat16: 2⁻⁸ ≈ 3.9e-3, half a bin: bfloat16 hardly holds 8-bit
    data)."""
    return max(GRID_ATOL, torch.finfo(dtype).eps / 2)


def check_flag(value: Any, name: str) -> bool:
    """``value`` after checking it is a bool (a string such as 'False' from a config is truthy
    in Python, and would silently mean True)."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__} {value!r}")
    return value


def check_finite(x: torch.Tensor, name: str) -> torch.Tensor:
    """``x`` after checking it holds no NaN or inf (reads the values: one synchronisation)."""
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} holds NaN or inf values; it must be finite")
    return x


def _out_of_range_message(name: str, low: float, high: float, opt_out: str) -> str:
    hint = (" It looks like pixels in 0..255; rescale with x/127.5 - 1."
            if low >= 0.0 and high <= 255.0 else "")
    return (f"{name} must lie in [-1, 1], {_SCALE_HINT}; got values from {low:.6g} to "
            f"{high:.6g}.{hint} {opt_out}")


def _off_grid_message(name: str, low: float, high: float, off: float, tol: float,
                      opt_out: str) -> str:
    hint = (" It looks like data in [0, 1]; rescale with x*2-1."
            if low >= 0.0 and high <= 1.0 else "")
    return (f"{name} must lie on the 8-bit grid k/127.5 - 1 (k = 0..255) of the discretised "
            f"decoder, {_SCALE_HINT}; a value lies {off:.3g} from the nearest grid point "
            f"(tolerance {tol:.2g}).{hint} {opt_out}")


def check_data_values(x: torch.Tensor, name: str = "x0", *, on_grid: bool,
                      opt_out: str = _OPT_OUT) -> torch.Tensor:
    """``x`` after checking it is finite and, when ``on_grid``, 8-bit data in [-1, 1].

    ``on_grid`` (the discretised decoders, DDPM eq. 13): every value in [-1, 1] and within
    :func:`grid_tolerance` of k/127.5 - 1, k ∈ {0, ..., 255}. The statistics are computed on
    the device in float32 (float64 for float64 input) and read in one synchronisation.
    ``opt_out`` ends the message: how to skip the check.
    """
    if not on_grid:
        return check_finite(x, name)
    if x.numel() == 0:  # nothing to check (the decoder maps an empty x to an empty result)
        return x
    work = torch.float64 if x.dtype == torch.float64 else torch.float32
    values = x.detach().to(work)
    off_grid = values.add(1.0).mul(127.5).round().div(127.5).sub(1.0).sub(values).abs()
    finite, low, high, worst = torch.stack([
        torch.isfinite(values).all().to(work), values.amin(), values.amax(), off_grid.amax()
    ]).tolist()
    if not finite:
        raise ValueError(f"{name} holds NaN or inf values; it must be finite, {_SCALE_HINT}")
    if low < -1.0 - GRID_ATOL or high > 1.0 + GRID_ATOL:
        raise ValueError(_out_of_range_message(name, low, high, opt_out))
    tol = grid_tolerance(x.dtype)
    if worst > tol:
        raise ValueError(_off_grid_message(name, low, high, worst, tol, opt_out))
    return x


def check_generator(generator: Any, device: torch.device | str | None = None):
    """``generator`` after checking it is None or a :class:`torch.Generator`, and, when
    ``device`` is given (torch draws on the generator's device), on that device's type."""
    if generator is None:
        return None
    if not isinstance(generator, torch.Generator):
        seed = generator if isinstance(generator, numbers.Integral) else 0
        raise TypeError(f"generator must be a torch.Generator or None, got "
                        f"{type(generator).__name__} {generator!r}; for a seed use "
                        f"generator=torch.Generator().manual_seed({seed})")
    if device is not None and generator.device.type != torch.device(device).type:
        raise ValueError(f"generator must be on the device of the data ({device}), got a "
                         f"generator on {generator.device}; use "
                         f"torch.Generator({torch.device(device).type!r})")
    return generator


def check_dtype(dtype: Any, name: str = "dtype") -> torch.dtype | None:
    """``dtype`` after checking it is None or a floating torch.dtype."""
    if dtype is None:
        return None
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"{name} must be a floating torch.dtype (torch.float16, torch.bfloat16, "
                        f"torch.float32 or torch.float64) or None, got {dtype!r}")
    return dtype


def check_device(device: Any, name: str = "device") -> torch.device | None:
    """``device`` as a :class:`torch.device` (None stays None) after checking torch knows it."""
    if device is None:
        return None
    if not isinstance(device, (torch.device, str, int)) or isinstance(device, bool):
        raise TypeError(f"{name} must be a torch.device, a device string such as 'cpu' or "
                        f"'cuda', or None; got {type(device).__name__}")
    try:
        device = torch.device(device)
    except (RuntimeError, ValueError):
        raise ValueError(f"{name} must name a torch device such as 'cpu', 'cuda' or 'cuda:0', "
                         f"got {device!r}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"{name} {str(device)!r} was asked for, but torch sees no CUDA device")
    return device


_SCHEDULE_HINT = ("schedule must be a NoiseSchedule or an array of betas; for DDPM's schedule "
                  "use NoiseSchedule.linear(1000)")


def check_schedule(schedule: Any) -> NoiseSchedule:
    """``schedule`` as a :class:`NoiseSchedule`: one already, or a 1-D array of betas (a list,
    numpy array or torch tensor, converted to float64 on the CPU)."""
    if isinstance(schedule, NoiseSchedule):
        return schedule
    if schedule is None or isinstance(schedule, (str, bytes, numbers.Number)):
        raise TypeError(f"{_SCHEDULE_HINT}; got {type(schedule).__name__} {schedule!r}")
    if isinstance(schedule, torch.Tensor):
        if schedule.is_complex() or schedule.dtype == torch.bool:
            raise TypeError(f"{_SCHEDULE_HINT}; got a tensor of dtype {schedule.dtype}")
        schedule = schedule.detach().cpu().double().numpy()
    elif isinstance(schedule, np.ndarray) and schedule.ndim == 0:
        raise TypeError(f"{_SCHEDULE_HINT}; got a 0-d array {schedule!r}")
    try:
        return NoiseSchedule(schedule)
    except (TypeError, ValueError) as error:
        raise type(error)(f"{error} ({_SCHEDULE_HINT})") from None


def check_like(value: Any, name: str, like: torch.Tensor, like_name: str) -> torch.Tensor:
    """``value`` after checking it is a floating tensor of the shape of ``like``."""
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    if not value.is_floating_point():
        raise TypeError(f"{name} must have a floating dtype, got {value.dtype}")
    if value.shape != like.shape:
        raise ValueError(
            f"{name} must have the shape of {like_name}, {tuple(like.shape)}; "
            f"got {tuple(value.shape)}"
        )
    return value


def check_timesteps(t: Any, num_steps: int, like: torch.Tensor) -> torch.Tensor:
    """``t`` as an int64 [B] tensor on ``like``'s device, after checking 0 ≤ t ≤ T-1.

    Index t is the paper's step t+1. A Python integer is broadcast to the batch.
    """
    batch = like.shape[0]
    if isinstance(t, numbers.Integral) and not isinstance(t, bool):
        t = torch.full((batch,), int(t), dtype=torch.int64, device=like.device)
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"t must be an int64 tensor of timestep indices, got {type(t).__name__}")
    if t.dtype == torch.bool or t.is_floating_point() or t.is_complex():
        raise TypeError(
            f"t must hold integer timestep indices in [0, {num_steps - 1}], got dtype {t.dtype}"
        )
    if t.shape != (batch,):
        raise ValueError(f"t must have shape [B] = ({batch},), one index per example; "
                         f"got {tuple(t.shape)}")
    low, high = int(t.min()), int(t.max())
    if low < 0 or high > num_steps - 1:
        raise ValueError(
            f"t must lie in [0, T-1] = [0, {num_steps - 1}] (0-based: index t is the paper's "
            f"step t+1); got values from {low} to {high}"
        )
    return t.to(device=like.device, dtype=torch.int64)


def check_model_output(
    output: Any, x_t: torch.Tensor, learned_variance: bool, *, check_finite: bool = True,
    x_t_name: str | None = None,
) -> torch.Tensor:
    """The model's output after checking it has C channels (2C with a learned variance).

    ``check_finite`` reads the values (a device synchronisation): the loops pass it on the first
    call only. With ``x_t_name`` the model's input ``x_t`` is checked for NaN/inf in the same
    synchronisation, and named first: a non-finite input makes a non-finite output.
    """
    if not isinstance(output, torch.Tensor):
        raise TypeError(f"model must return a torch.Tensor, got {type(output).__name__}")
    channels = x_t.shape[1]
    want = 2 * channels if learned_variance else channels
    expected = (x_t.shape[0], want, *x_t.shape[2:])
    if tuple(output.shape) != expected:
        what = "2C (mean and variance)" if learned_variance else "C"
        raise ValueError(
            f"model output must have {what} = {want} channels, shape {expected} for x_t of "
            f"shape {tuple(x_t.shape)}; got {tuple(output.shape)}"
        )
    if not output.is_floating_point():
        raise TypeError(f"model output must have a floating dtype, got {output.dtype}")
    if check_finite:
        flags = [torch.isfinite(output).all()]
        if x_t_name is not None:
            flags.append(torch.isfinite(x_t).all())
        output_finite, *input_finite = torch.stack(flags).tolist()  # one synchronisation
        if input_finite and not input_finite[0]:
            raise ValueError(f"{x_t_name} holds NaN or inf values; it must be finite")
        if not output_finite:
            raise ValueError("model output holds NaN or inf values")
    return output


def check_shape(shape: Any) -> tuple[int, ...]:
    """``shape`` of the samples after checking it is [B, C, ...] with positive sizes."""
    if isinstance(shape, torch.Size):
        shape = tuple(shape)
    if not isinstance(shape, Sequence) or not all(
        isinstance(size, numbers.Integral) and not isinstance(size, bool) for size in shape
    ):
        raise TypeError(f"shape must be a sequence of integers [B, C, ...], got {shape!r}")
    if len(shape) < 2 or any(size < 1 for size in shape):
        raise ValueError(
            f"shape must be [B, C, ...] with at least two positive sizes, got {tuple(shape)}"
        )
    return tuple(int(size) for size in shape)


def check_eta(eta: Any) -> float:
    """η of DDIM after checking it lies in [0, 1] (0: deterministic, 1: ancestral variance β̃)."""
    if isinstance(eta, bool) or not isinstance(eta, numbers.Real):
        raise TypeError(f"eta must be a real number in [0, 1], got {eta!r}")
    if not 0.0 <= eta <= 1.0:
        raise ValueError(f"eta must lie in [0, 1] (DDIM eq. 16), got {eta!r}")
    return float(eta)
