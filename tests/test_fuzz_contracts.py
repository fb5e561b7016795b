"""Fuzzing the input contract of every public entry point (issue 8): inside the domain, outside it.

Each entry point is driven with hypothesis over the domain its docstring states ("Input
contract", and the checks of ``ddpm_math/diffusion/validation.py``), in float64, float32,
bfloat16 and float16, and just outside it:

- inside: finite results in the promised dtype and shape that satisfy the invariants
  (probabilities ≤ 1 and the decoder's 256 bins summing to 1, KL ≥ 0 and exactly 0 for equal
  arguments, losses and bits/dim ≥ 0, sampled t in range, clipped samples in [-1, 1], ...);
- outside: a ValueError/TypeError raised by a ``raise`` statement of ddpm_math (not by torch,
  numpy or Python inside it: a RuntimeError, AttributeError or IndexError is a failure) whose
  message names the parameter; never a silent NaN/inf, never a number.

Contract violations this module found are pinned at the end with the exact failing input: as
plain tests once fixed (``fixed(...)``), as ``xfail(strict=True)`` while open, so that a fix
turns them into failures that ask for the marker to go.
"""

# Coverage: 46 entry points (ENTRY_POINTS; test_every_public_entry_point_is_listed keeps the
# list complete against ddpm_math.__all__ and the classes' public methods).
#   functions (13): normal_kl, discretized_gaussian_log_likelihood (exact True and False),
#     standard_normal_cdf, approx_standard_normal_cdf, linear_betas, quadratic_betas,
#     sqrt_linear_betas, cosine_betas, cosine_alpha_bar, betas_from_alpha_bar,
#     rescale_zero_terminal_snr, space_timesteps, respaced_betas;
#   NoiseSchedule (4): the constructor, .linear, .cosine, .to_torch;
#   samplers (7): UniformSampler and LossSecondMomentResampler (constructors, .sample,
#     .update_with_losses), LossSecondMomentResampler.state_dict/.load_state_dict;
#   TimestepMap (1);
#   GaussianDiffusion (21): the constructor, .coefficients, q_mean_variance, q_sample,
#     q_posterior, x0_from_eps, eps_from_x0, v_from_x0_eps, x0_from_v, eps_from_v,
#     p_mean_variance, p_sample, ddim_sample, p_sample_loop, ddim_sample_loop, prior_bpd,
#     vb_terms_bpd, calc_bpd_loop, training_losses, respaced.
# Not fuzzed (NOT_FUZZED says why): the enums (parsed by the GaussianDiffusion constructor,
# fuzzed there), TorchSchedule (the record .to_torch returns, checked there), TimestepMap.table
# and .wrap (reached through respaced diffusions), the samplers' .probabilities (no
# arguments: asserted as invariants).
#
# What half precision promises, entry point by entry point (asserted below):
#   normal_kl, discretized_gaussian_log_likelihood: computed in float32 and rounded once to the
#     input dtype: equal bit for bit to the float32 call rounded.
#   standard_normal_cdf, approx_standard_normal_cdf: computed in the input dtype; values in
#     [0, 1] in that dtype (accuracy asserted in float64/float32 only).
#   NoiseSchedule.to_torch: each array is the float64 array rounded once to the dtype (bit for
#     bit; finiteness is not promised: snr = ᾱ/(1-ᾱ) may overflow float16).
#   GaussianDiffusion methods: computed in the data's dtype (the float64 schedule rounded once
#     to it; the KL and decoder inside in float32); every result in that dtype and finite for the
#     data magnitudes drawn here (|x| ≤ 10; a result too large for the dtype raises, naming
#     x_t). The bound and the losses in float16 run on the linear schedule (in_float16_range
#     says why); on the cosine one vb_terms_bpd is finite wherever its float32 value fits float16.
#   The 8-bit grid: data k/127.5 - 1 computed in the dtype pass the grid check in every dtype
#     (bfloat16 is up to 3.9e-3 off, validation.grid_tolerance); off-grid mistakes (data in
#     [0, 1], continuous data) are only asserted in float64/float32/float16, as bfloat16's
#     tolerance is half a bin.
# The decoder's 256 probabilities sum to 1 within 1e-9 in float64, and in float32 within
#   256 eps + 2 eps (0.4/σ + 128), eps = 2⁻²³ (3e-5 at σ = 1, 1e-3 at σ = 1e-4: float32 data
#   k/127.5 - 1 misplaces each bin edge by up to 2 ulps, moving φ/σ times that of mass).
#
# Examples: the run ends with the line "fuzz contracts: N of 46 entry points, M examples" (a
# counter incremented in every test body). HYPOTHESIS_PROFILE=ci (60 examples a test,
# derandomised), measured on the project's shared 2-core machine: 46 of 46 entry points,
# 4820 examples (6738 entry-point calls), 149 tests (144 passed, 5 xfailed) in about 20-27 s.
# The first run found 61 violations; 56 are fixed (the ``fixed(...)`` cases and the plain
# in-domain cases below). The 5 left (x0_from_eps overflowing at huge finite x_t) need the
# facade, ddpm_math/diffusion/gaussian_diffusion.py, to state and check a magnitude domain.
# GaussianDiffusion.graph_sampler (added since) is in NOT_FUZZED, not in the 46.

from __future__ import annotations

import dataclasses
import functools
import linecache
import math
import os
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

import numpy as np
import pytest
import torch
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import ddpm_math
from ddpm_math import (
    DecoderType,
    GaussianDiffusion,
    LossSecondMomentResampler,
    LossType,
    MeanType,
    NoiseSchedule,
    TimestepMap,
    UniformSampler,
    VarType,
    approx_standard_normal_cdf,
    betas_from_alpha_bar,
    cosine_alpha_bar,
    cosine_betas,
    discretized_gaussian_log_likelihood,
    linear_betas,
    normal_kl,
    quadratic_betas,
    rescale_zero_terminal_snr,
    respaced_betas,
    space_timesteps,
    sqrt_linear_betas,
    standard_normal_cdf,
)
from ddpm_math.diffusion.tensors import append_dims
from ddpm_math.diffusion.validation import grid_tolerance
from ddpm_math.testing.strategies import beta_arrays, reals, schedules
from ddpm_math.testing.tolerances import for_dtype

FLOAT_DTYPES = (torch.float64, torch.float32, torch.bfloat16, torch.float16)
HALF_DTYPES = (torch.bfloat16, torch.float16)
MEAN_TYPES = tuple(member.value for member in MeanType)
VAR_TYPES = tuple(member.value for member in VarType)
LOSS_TYPES = tuple(member.value for member in LossType)
DECODERS = tuple(member.value for member in DecoderType)
KL_NAMES = ("mean1", "logvar1", "mean2", "logvar2")
#: log of the reference code's probability floor (decoder, exact=False).
LOG_FLOOR = math.log(1e-12)
NO_CUDA = not torch.cuda.is_available()

ENTRY_POINTS = (
    "normal_kl", "discretized_gaussian_log_likelihood", "standard_normal_cdf",
    "approx_standard_normal_cdf", "linear_betas", "quadratic_betas", "sqrt_linear_betas",
    "cosine_betas", "cosine_alpha_bar", "betas_from_alpha_bar", "rescale_zero_terminal_snr",
    "space_timesteps", "respaced_betas",
    "NoiseSchedule", "NoiseSchedule.linear", "NoiseSchedule.cosine", "NoiseSchedule.to_torch",
    "UniformSampler", "UniformSampler.sample", "UniformSampler.update_with_losses",
    "LossSecondMomentResampler", "LossSecondMomentResampler.sample",
    "LossSecondMomentResampler.update_with_losses", "LossSecondMomentResampler.state_dict",
    "LossSecondMomentResampler.load_state_dict",
    "TimestepMap",
    "GaussianDiffusion", "GaussianDiffusion.coefficients",
    "GaussianDiffusion.q_mean_variance", "GaussianDiffusion.q_sample",
    "GaussianDiffusion.q_posterior", "GaussianDiffusion.x0_from_eps",
    "GaussianDiffusion.eps_from_x0", "GaussianDiffusion.v_from_x0_eps",
    "GaussianDiffusion.x0_from_v", "GaussianDiffusion.eps_from_v",
    "GaussianDiffusion.p_mean_variance", "GaussianDiffusion.p_sample",
    "GaussianDiffusion.ddim_sample", "GaussianDiffusion.p_sample_loop",
    "GaussianDiffusion.ddim_sample_loop", "GaussianDiffusion.prior_bpd",
    "GaussianDiffusion.vb_terms_bpd", "GaussianDiffusion.calc_bpd_loop",
    "GaussianDiffusion.training_losses", "GaussianDiffusion.respaced",
)
NOT_FUZZED = {
    "DecoderType": "enum: its strings are parsed (and fuzzed) by the GaussianDiffusion constructor",
    "LossType": "enum: as DecoderType",
    "MeanType": "enum: as DecoderType",
    "VarType": "enum: as DecoderType",
    "TorchSchedule": "the record NoiseSchedule.to_torch returns; its fields are checked there",
    "TimestepMap.table": "plumbing of respaced diffusions, reached through respaced()",
    "TimestepMap.wrap": "plumbing of respaced diffusions, reached through respaced()",
    "UniformSampler.probabilities": "no arguments; asserted as an invariant (sums to 1)",
    "LossSecondMomentResampler.probabilities": "no arguments; asserted as an invariant",
    "GaussianDiffusion.graph_sampler": ("the CUDA-graph sampler: its default device is CUDA; "
                                        "its contract is tested in verification/diffusion/"
                                        "test_graph_loop.py (not counted in the 46)"),
}

# -- bookkeeping: examples per entry point, reported at the end of the run ----------------------

class Coverage:
    """Examples per entry point, counted by :meth:`ran` in every test body and reported in one
    line at the end of the run (a pytest plugin, registered once per label)."""

    def __init__(self, label: str, entry_points) -> None:
        self.label, self.entry_points = label, entry_points
        self.examples: Counter[str] = Counter()
        self.runs = 0

    def ran(self, *entry_points: str) -> None:
        """Count one example of the running test and the entry points it drives."""
        self.runs += 1
        self.examples.update(entry_points)

    def pytest_terminal_summary(self, terminalreporter):
        if not self.runs:
            return
        missing = [name for name in self.entry_points if not self.examples[name]]
        profile = os.environ.get("HYPOTHESIS_PROFILE", "dev")
        total = len(self.entry_points)
        terminalreporter.write_line(
            f"{self.label}: {total - len(missing)} of {total} entry points, {self.runs} "
            f"examples ({sum(self.examples.values())} entry-point calls), hypothesis profile "
            f"{profile!r}" + (f"; no examples for {missing}" if missing else ""))

    def register(self, config) -> None:
        if not config.pluginmanager.has_plugin(self.label):
            config.pluginmanager.register(self, self.label)


COVERAGE = Coverage("fuzz contracts", ENTRY_POINTS)
ran = COVERAGE.ran


@pytest.fixture(scope="module", autouse=True)
def _coverage_report(request):
    COVERAGE.register(request.config)


# -- the out-of-domain assertion ----------------------------------------------------------------

PACKAGE_DIR = os.path.dirname(os.path.abspath(ddpm_math.__file__))


def _origin(error: BaseException) -> tuple[str, int, str]:
    """File, line and source line of the frame that raised ``error``."""
    tb = error.__traceback__
    while tb.tb_next is not None:
        tb = tb.tb_next
    path = os.path.abspath(tb.tb_frame.f_code.co_filename)
    return path, tb.tb_lineno, linecache.getline(path, tb.tb_lineno).strip()


def _mentions(message: str, name: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(name)}(?!\w)", message) is not None


def _describe(result) -> str:
    if isinstance(result, torch.Tensor):
        return f"tensor {result.dtype} {tuple(result.shape)} {result.flatten()[:4].tolist()}"
    if isinstance(result, dict):
        return "dict " + ", ".join(f"{key}: {_describe(value)}" for key, value in result.items())
    return repr(result)[:200]


def assert_contract_error(call: Callable[[], object], *names: str) -> Exception:
    """``call()`` raises a ValueError/TypeError from a ``raise`` in ddpm_math naming one of
    ``names``: not a bare error from torch, numpy or Python inside ddpm_math, not a result."""
    try:
        result = call()
    except (ValueError, TypeError) as error:
        path, line, source = _origin(error)
        if not (path.startswith(PACKAGE_DIR) and source.startswith("raise")):
            raise AssertionError(f"{type(error).__name__} not raised by a ddpm_math check but at "
                                 f"{path}:{line} ({source}): {error}") from error
        if not any(_mentions(str(error), name) for name in names):
            raise AssertionError(f"the message does not name {names}: {error}") from error
        return error
    except Exception as error:
        path, line, source = _origin(error)
        raise AssertionError(f"bare {type(error).__name__} at {path}:{line} ({source}) instead "
                             f"of a ValueError/TypeError naming {names}: {error}") from error
    raise AssertionError(f"out-of-domain input answered with {_describe(result)} instead of a "
                         f"ValueError/TypeError naming {names}")


@pytest.mark.parametrize(("call", "names", "complaint"), [
    pytest.param(lambda: torch.zeros(2) + torch.zeros(3), ("x",), "bare RuntimeError",
                 id="torch error"),
    # an internal helper (not an entry point, so it checks nothing): '2' - 1 inside ddpm_math
    pytest.param(lambda: append_dims(torch.zeros(1), "2"), ("ndim",),
                 "not raised by a ddpm_math check", id="Python operator error inside ddpm_math"),
    pytest.param(lambda: int("a"), ("x",), "not raised by a ddpm_math check",
                 id="error outside ddpm_math"),
    pytest.param(lambda: GaussianDiffusion(1000), ("mean_type",), "does not name",
                 id="another parameter named"),
    pytest.param(lambda: GaussianDiffusion(schedule_of("linear", 2), decoder="gaussian")
                 .prior_bpd(torch.zeros(1, 1) + 0.5), ("x0",), "answered with", id="a result"),
])
def test_the_out_of_domain_assertion_can_fail(call, names, complaint):
    """assert_contract_error rejects a torch error, a TypeError from Python's operators inside
    ddpm_math or from outside it, a message naming another parameter, and a result."""
    with pytest.raises(AssertionError, match=complaint):
        assert_contract_error(call, *names)
    assert isinstance(assert_contract_error(lambda: GaussianDiffusion(1000), "schedule"),
                      TypeError)


# -- strategies ---------------------------------------------------------------------------------

dtypes = st.sampled_from(FLOAT_DTYPES)
image_shapes = hnp.array_shapes(min_dims=2, max_dims=4, min_side=1, max_side=3)
any_shapes = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=3)
#: The smallest normal float64: betas below it are subnormal (a pinned violation below).
TINY = float(np.finfo(np.float64).tiny)
unit_interval = st.floats(TINY, 1.0)


def values(shape, low: float = -10.0, high: float = 10.0):
    return hnp.arrays(np.float64, shape, elements=reals(low, high))


def levels(shape):
    """8-bit levels k ∈ {0, ..., 255}."""
    return hnp.arrays(np.int64, shape, elements=st.integers(0, 255))


def as_dtype(array: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
    """float64 values rounded once to ``dtype``."""
    return torch.from_numpy(np.array(array, dtype=np.float64)).to(dtype)


def on_grid(k: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
    """8-bit levels mapped to k/127.5 - 1, computed in ``dtype`` as a user would."""
    return torch.from_numpy(np.array(k, dtype=np.int64)).to(dtype) / 127.5 - 1


def broadcast_shape_of(draw, shape: tuple[int, ...]) -> tuple[int, ...]:
    """A shape that broadcasts to ``shape``: a suffix of it with some sizes set to 1."""
    suffix = shape[draw(st.integers(0, len(shape))):]
    return tuple(1 if draw(st.booleans()) else size for size in suffix)


@functools.cache
def schedule_of(kind: str, T: int) -> NoiseSchedule:
    """Short schedules that end in noise without rescale_to_1000 (which needs T > 20)."""
    return NoiseSchedule.linear(T, 1e-3, 0.2) if kind == "linear" else NoiseSchedule.cosine(T)


def make_model(var_type: str, seen: list | None = None):
    """ε̂ = 0.1·(t+1)·x_t (depends on t); with a learned variance a second block, bounded:
    tanh(x_t) (learned_range: v ∈ [-1, 1]) or tanh(x_t) - 5 (learned: log σ² ∈ [-6, -4])."""

    def model(x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        if seen is not None:
            seen.extend(t.tolist())
        scale = 0.1 * (t + 1).to(x_t.dtype).reshape(-1, *[1] * (x_t.ndim - 1))
        mean_block = scale * x_t
        if var_type == "learned":
            return torch.cat([mean_block, torch.tanh(x_t) - 5.0], dim=1)
        if var_type == "learned_range":
            return torch.cat([mean_block, torch.tanh(x_t)], dim=1)
        return mean_block

    return model


@dataclass(frozen=True)
class Case:
    """A diffusion, data of its decoder and the tensors its methods take, in one dtype."""

    diffusion: GaussianDiffusion
    dtype: torch.dtype
    x0: torch.Tensor  # the decoder's data: 8-bit grid (discretised) or continuous in [-1.5, 1.5]
    x_any: torch.Tensor  # finite data of any range, [-10, 10]
    x_t: torch.Tensor  # a noisy tensor, [-4, 4]
    other: torch.Tensor  # noise, ε or v, [-4, 4]
    t: torch.Tensor  # [B] int64 indices in [0, T-1]
    model: Callable

    @property
    def T(self) -> int:
        return self.diffusion.num_steps

    @property
    def discrete(self) -> bool:
        return self.diffusion.decoder is not DecoderType.GAUSSIAN


@st.composite
def cases(draw, dtypes=FLOAT_DTYPES, max_steps: int = 10) -> Case:
    """A diffusion whose training_losses accept its options (no learned variance with L_simple,
    no 'weighted' with it), T ≤ 10 steps, tiny [B, C, ...] tensors; T first, t from it."""
    T = draw(st.integers(1, max_steps), label="T")
    schedule = schedule_of(draw(st.sampled_from(("linear", "cosine")), label="schedule"), T)
    var_type = draw(st.sampled_from(VAR_TYPES), label="var_type")
    learned = var_type.startswith("learned")
    loss_types = [loss for loss in LOSS_TYPES if not (learned and loss in ("simple", "weighted"))]
    diffusion = GaussianDiffusion(
        schedule, draw(st.sampled_from(MEAN_TYPES), label="mean_type"), var_type,
        draw(st.sampled_from(loss_types), label="loss_type"),
        draw(st.sampled_from(DECODERS), label="decoder"),
    )
    dtype = draw(st.sampled_from(dtypes), label="dtype")
    shape = draw(image_shapes, label="shape")
    if diffusion.decoder is DecoderType.GAUSSIAN:
        x0 = as_dtype(draw(values(shape, -1.5, 1.5), label="x0"), dtype)
    else:
        x0 = on_grid(draw(levels(shape), label="k"), dtype)
    t = draw(st.lists(st.integers(0, T - 1), min_size=shape[0], max_size=shape[0]), label="t")
    return Case(diffusion, dtype, x0, as_dtype(draw(values(shape), label="x_any"), dtype),
                as_dtype(draw(values(shape, -4, 4), label="x_t"), dtype),
                as_dtype(draw(values(shape, -4, 4), label="other"), dtype),
                torch.tensor(t, dtype=torch.int64), make_model(var_type))


def in_float16_range(case: Case) -> Case:
    """``case`` on the linear schedule when it is float16 (for the bound and the losses).

    With the cosine schedule's β_T = 0.999, √α_T = 0.03 turns an untrained model's ε̂ - ε into
    a mean error of 30 (ε̂ - ε), and the per-element KL at t = T-1 reaches 1e5 nats, beyond
    float16's 65504: inf is then the rounding of the true value, as normal_kl documents.
    test_float16_bound_terms_are_finite_where_float32_fits checks the cosine case exactly.
    """
    if case.dtype != torch.float16 or case.diffusion.schedule == schedule_of("linear", case.T):
        return case
    diffusion = case.diffusion
    linear = GaussianDiffusion(schedule_of("linear", case.T), diffusion.mean_type,
                               diffusion.var_type, diffusion.loss_type, diffusion.decoder)
    return dataclasses.replace(case, diffusion=linear)


def assert_finite(tensor: torch.Tensor, what: str) -> None:
    assert bool(torch.isfinite(tensor).all()), f"{what} is not finite: {_describe(tensor)}"


def assert_result(tensor, like: torch.Tensor, what: str) -> None:
    """A finite tensor of ``like``'s shape and dtype."""
    assert isinstance(tensor, torch.Tensor), f"{what}: {_describe(tensor)}"
    assert tensor.dtype == like.dtype, f"{what}: dtype {tensor.dtype}, want {like.dtype}"
    assert tensor.shape == like.shape, f"{what}: shape {tuple(tensor.shape)}"
    assert_finite(tensor, what)


def generator(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def eps_of(dtype: torch.dtype) -> float:
    return torch.finfo(dtype).eps


# =============================================================================================
# normal_kl
# =============================================================================================


@st.composite
def kl_arguments(draw):
    """(dtype, four arguments): tensors in one dtype of broadcastable shapes, Python floats and
    numpy values; at least one tensor. float16 bounds keep the true KL below its 65504:
    ½(e^8 - 9) + ½·20²·e^4 < 1.3e4."""
    dtype = draw(dtypes, label="dtype")
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, max_side=3), label="shape")
    mean_bound, logvar_bound = (10.0, 4.0) if dtype == torch.float16 else (100.0, 20.0)
    kinds = [draw(st.sampled_from(("tensor", "broadcast", "float", "numpy"))) for _ in KL_NAMES]
    if "tensor" not in kinds and "broadcast" not in kinds:
        kinds[draw(st.integers(0, 3))] = "tensor"
    arguments = []
    for name, kind in zip(KL_NAMES, kinds, strict=True):
        bound = mean_bound if name.startswith("mean") else logvar_bound
        part = shape if kind == "tensor" else broadcast_shape_of(draw, shape)
        array = draw(values(part, -bound, bound), label=name)
        if kind == "float":
            arguments.append(float(draw(reals(-bound, bound), label=name)))
        elif kind == "numpy":
            arguments.append(array if draw(st.booleans()) else np.float64(array.flat[0]))
        else:
            arguments.append(as_dtype(array, dtype))
    return dtype, arguments


def _kl_float64(m1, v1, m2, v2, dtype: torch.dtype = torch.float64) -> np.ndarray:
    """DDPM eq. (5)'s KL in float64 numpy, from the arguments as the kernel sees them: numbers
    and numpy values rounded to the computation dtype ``dtype`` first."""
    m1, v1, m2, v2 = (torch.as_tensor(np.asarray(a, dtype=np.float64)) if not torch.is_tensor(a)
                      else a for a in (m1, v1, m2, v2))
    m1, v1, m2, v2 = (a.to(dtype).double().numpy() for a in (m1, v1, m2, v2))
    return 0.5 * (v2 - v1 + np.exp(v1 - v2) - 1.0 + (m1 - m2) ** 2 * np.exp(-v2))


@given(kl_arguments())
def test_normal_kl_inside_its_domain(arguments):
    """Broadcast shape, the tensors' dtype, finite and ≥ 0; 0 exactly for equal arguments; half
    precision is the float32 result rounded once; float64/float32 agree with eq. (5) evaluated in
    float64 within the rounding of its terms (8 eps per term, the e^Δ and e^{-logvar2} terms
    amplified by their exponent's magnitude)."""
    dtype, args = arguments
    ran("normal_kl")
    kl = normal_kl(*args)
    shapes = [tuple(np.shape(a)) if not isinstance(a, torch.Tensor) else tuple(a.shape)
              for a in args]
    assert kl.dtype == dtype and tuple(kl.shape) == torch.broadcast_shapes(*shapes)
    assert_finite(kl, "KL")
    assert bool((kl >= 0).all()), _describe(kl)
    m1, v1, m2, v2 = args
    mean, logvar = (m1, v1) if torch.is_tensor(m1) or torch.is_tensor(v1) else (m2, v2)
    same = normal_kl(mean, logvar, mean, logvar)
    assert torch.equal(same, torch.zeros_like(same))
    if dtype in HALF_DTYPES:
        as32 = [a.float() if isinstance(a, torch.Tensor) else a for a in args]
        assert torch.equal(kl, normal_kl(*as32).to(dtype))
        return
    expected = _kl_float64(*args, dtype=dtype)
    v1_, v2_ = (torch.as_tensor(a).to(dtype).double().numpy() for a in (v1, v2))
    mean_term = expected - _kl_float64(0.0, v1, 0.0, v2, dtype=dtype)
    scale = 1 + np.abs(v1_) + np.abs(v2_) + np.exp(v1_ - v2_) * (1 + np.abs(v1_ - v2_))
    bound = 16 * eps_of(dtype) * (scale + np.abs(mean_term) * (1 + np.abs(v2_)))
    assert np.all(np.abs(kl.double().numpy() - expected) <= bound)


BAD_KL_TYPES = (None, "0", [0.0], 1j, True, "tensor_int", "tensor_bool", "tensor_complex",
                "numpy_str", "numpy_complex", "numpy_bool", object())


@given(position=st.sampled_from(KL_NAMES), kind=st.sampled_from(range(len(BAD_KL_TYPES))),
       dtype=dtypes, size=st.integers(2, 4))
def test_normal_kl_outside_its_domain_names_the_argument(position, kind, dtype, size):
    """A wrong type in any position is a TypeError naming it; shapes that do not broadcast a
    ValueError naming both arguments; four non-tensors a TypeError naming them."""
    ran("normal_kl")
    good = torch.linspace(-1.0, 1.0, size, dtype=torch.float32).to(dtype)
    bad = BAD_KL_TYPES[kind]
    bad = {"tensor_int": torch.arange(size), "tensor_bool": good > 0,
           "tensor_complex": good.float().to(torch.complex64), "numpy_str": np.array(["0"]),
           "numpy_complex": np.array([1j]), "numpy_bool": np.array([True])}.get(
        bad if isinstance(bad, str) else "", bad)
    args = dict.fromkeys(KL_NAMES, good)
    args[position] = bad
    assert_contract_error(lambda: normal_kl(*args.values()), position)
    args[position] = torch.zeros(size + 1, dtype=dtype)  # (size + 1,) against (size,)
    assert_contract_error(lambda: normal_kl(*args.values()), position)
    assert_contract_error(lambda: normal_kl(0.0, 0.0, float(size), 0.0), *KL_NAMES)


@given(position=st.sampled_from(KL_NAMES), value=st.sampled_from((math.inf, -math.inf, math.nan)),
       dtype=dtypes, data=st.data())
def test_normal_kl_non_finite_arguments_give_the_documented_limit(position, value, dtype, data):
    """Documented: one infinite argument gives +inf (the limit exists: one variance → 0 or ∞,
    or an infinite mean difference); a NaN argument gives NaN. Never a finite number."""
    ran("normal_kl")
    finite = data.draw(values((3,), -5.0, 5.0), label="others")
    args = {name: as_dtype(finite, dtype) for name in KL_NAMES}
    args[position] = torch.full((3,), value, dtype=dtype)
    kl = normal_kl(*args.values())
    if math.isnan(value):
        assert bool(kl.isnan().all()), _describe(kl)
    else:
        assert bool((kl == math.inf).all()), _describe(kl)


# =============================================================================================
# discretized_gaussian_log_likelihood and the normal CDFs
# =============================================================================================


@st.composite
def decoder_arguments(draw, dtypes=FLOAT_DTYPES, mean_bound: float = 3.0,
                      log_scale_range: tuple[float, float] = (-8.0, 3.0)):
    dtype = draw(st.sampled_from(dtypes), label="dtype")
    shape = draw(any_shapes, label="shape")
    x = on_grid(draw(levels(shape), label="k"), dtype)
    means = as_dtype(draw(values(broadcast_shape_of(draw, shape), -mean_bound, mean_bound),
                          label="means"), dtype)
    low, high = log_scale_range
    if draw(st.booleans(), label="log_scales is a float"):
        log_scales = draw(reals(low, high), label="log_scales")
    else:
        log_scales = as_dtype(draw(values(broadcast_shape_of(draw, shape), low, high),
                                   label="log_scales"), dtype)
    return dtype, x, means, log_scales, draw(st.booleans(), label="exact")


@given(decoder_arguments())
def test_decoder_inside_its_domain(arguments):
    """On-grid x, finite means and log-scales: log-probabilities ≤ 0 (p ≤ 1), at least the
    reference floor log 1e-12 with exact=False, in the inputs' dtype and broadcast shape, the
    same with check_values=False. Half precision is the float32 result (finite) rounded once:
    finite wherever that fits the dtype (float16: log p ≥ -65504; below, -inf is the rounding,
    a pinned violation of the docstring's wording)."""
    dtype, x, means, log_scales, exact = arguments
    ran("discretized_gaussian_log_likelihood")
    log_p = discretized_gaussian_log_likelihood(x, means, log_scales, exact=exact)
    ls_shape = log_scales.shape if isinstance(log_scales, torch.Tensor) else ()
    assert log_p.dtype == dtype
    assert log_p.shape == torch.broadcast_shapes(x.shape, means.shape, ls_shape)
    assert bool((log_p <= 0).all()), _describe(log_p)
    if not exact:
        assert bool((log_p.double() >= LOG_FLOOR * (1 + 4 * eps_of(dtype))).all())
    unchecked = discretized_gaussian_log_likelihood(x, means, log_scales, exact=exact,
                                                    check_values=False)
    assert torch.equal(log_p, unchecked)
    working = log_p
    if dtype in HALF_DTYPES:
        ls32 = log_scales.float() if isinstance(log_scales, torch.Tensor) else log_scales
        working = discretized_gaussian_log_likelihood(x.float(), means.float(), ls32,
                                                      exact=exact, check_values=False)
        assert torch.equal(log_p, working.to(dtype))
    assert_finite(working, "log p in the working dtype")
    assert_finite(log_p[working >= -torch.finfo(dtype).max], "log p where it fits the dtype")


@given(dtype=st.sampled_from((torch.float64, torch.float32)), exact=st.booleans(),
       mean=reals(-3.0, 3.0), log_scale=reals(math.log(1e-4), math.log(10.0)))
def test_decoder_probabilities_of_the_256_values_sum_to_one(dtype, exact, mean, log_scale):
    """DDPM eq. (13): the first and last bins open, so the 256 probabilities sum to 1 (the
    documented range: σ in 1e-4..10, mean in [-3, 3]). float64 within 1e-9 (exact=False adds up
    to 256 floors of 1e-12). float32 within 256 eps + 2 eps (0.4/σ + 128), eps = 2⁻²³: each
    probability rounds on its own (256 eps), and each bin edge x ± 1/255 is misplaced by up to
    2 ulps of 1 (x = k/127.5 - 1 rounds, then the edge), which moves a mass of at most the
    density φ/σ ≤ 0.4/σ times that, summed over the 255 edges 2/255 apart (at most 0.4/σ + 128
    times 2 eps in all): 1e-3 at σ = 1e-4, 3e-5 at σ = 1."""
    ran("discretized_gaussian_log_likelihood")
    x = on_grid(np.arange(256), dtype)
    log_p = discretized_gaussian_log_likelihood(x, torch.full((256,), mean, dtype=dtype),
                                                log_scale, exact=exact)
    eps = eps_of(torch.float32)
    tolerance = (1e-9 if dtype == torch.float64
                 else 256 * eps + 2 * eps * (0.4 / math.exp(log_scale) + 128))
    assert abs(float(log_p.double().exp().sum()) - 1.0) <= tolerance


@given(dtype=st.sampled_from((torch.float64, torch.float32)), exact=st.booleans(),
       data=st.data())
def test_decoder_is_finite_over_the_documented_extreme_domain(dtype, exact, data):
    """exact=True is documented finite for |x - mean|/σ below 2.6e19 (float32) / 1.9e154
    (float64) and log_scales above -87 / -708; drawn up to those bounds with means up to 1e6."""
    ran("discretized_gaussian_log_likelihood")
    low, high, ratio = (-86.0, 80.0, 2.6e19) if dtype == torch.float32 else (-700.0, 700.0, 1.9e154)
    log_scale = data.draw(reals(low, high), label="log_scale")
    mean = data.draw(st.sampled_from((-1.0, 1.0))) * 10 ** data.draw(reals(-3.0, 6.0))
    x = on_grid(data.draw(levels((4,)), label="k"), dtype)
    means = torch.full((4,), mean, dtype=dtype)
    assume(float(((x - means).abs().double() * math.exp(-log_scale)).max()) < ratio)
    log_p = discretized_gaussian_log_likelihood(x, means, log_scale, exact=exact)
    assert_finite(log_p, "log p")
    assert bool((log_p <= 0).all()), _describe(log_p)


DECODER_MISTAKES = {
    "x": ("pixels", "beyond", "unit", "off_grid", "nan", "inf", "none", "numpy", "list",
          "int_tensor", "string", "mismatch"),
    "means": ("nan", "inf", "none", "numpy", "list", "int_tensor", "string", "mismatch"),
    "log_scales": ("nan", "inf", "nan_float", "inf_float", "none", "numpy", "list",
                   "int_tensor", "string", "bool", "mismatch"),
}


def grid_mistake(kind: str, k: np.ndarray, dtype: torch.dtype, data) -> torch.Tensor:
    """8-bit data passed the wrong way: 0..255 pixels, values beyond [-1, 1], data in [0, 1]
    with at least one even level (odd k/255 lie on the grid), or one value off the grid by
    3..(2/255 - 3)·tolerance."""
    k = k.copy()
    index = data.draw(st.integers(0, k.size - 1), label="index")
    if kind == "pixels":
        k.flat[index] = data.draw(st.integers(2, 255), label="pixel")  # 0 and 1 lie in [-1, 1]
        return torch.from_numpy(k).to(dtype)
    if kind == "unit":
        # k/255 lies on the grid (2j - 255)/255 for odd k only
        k.flat[index] = 2 * data.draw(st.integers(0, 127), label="even level")
        return (torch.from_numpy(k).double() / 255).to(dtype)
    values_ = k.astype(np.float64) / 127.5 - 1
    if kind == "beyond":
        values_.flat[index] = data.draw(st.sampled_from((-1.0, 1.0))) * data.draw(
            st.floats(1.01, 300.0), label="beyond")
    else:
        tol = grid_tolerance(dtype)
        offset = data.draw(st.floats(3 * tol, 2 / 255 - 3 * tol), label="offset")
        values_.flat[index] = min(k.flat[index], 254) / 127.5 - 1 + offset
    return torch.from_numpy(values_).to(dtype)


def value_mistake(kind: str, valid: torch.Tensor, data):
    """``valid`` replaced by a wrong type, a NaN/inf at a drawn position, or another shape."""
    if kind in ("nan", "inf"):
        flat = valid.clone().reshape(-1)
        flat[data.draw(st.integers(0, flat.numel() - 1), label="index")] = (
            math.nan if kind == "nan" else data.draw(st.sampled_from((math.inf, -math.inf))))
        return flat.reshape(valid.shape)
    return {
        "none": None, "string": "0", "list": valid.reshape(-1).tolist(),
        "numpy": valid.detach().double().numpy(), "int_tensor": valid.round().to(torch.int64),
        "bool_tensor": valid > 0, "complex_tensor": valid.float().to(torch.complex64),
        "nan_float": math.nan, "inf_float": math.inf, "bool": True,
    }[kind]


@given(argument=st.sampled_from(tuple(DECODER_MISTAKES)), data=st.data())
def test_decoder_outside_its_domain_names_the_argument(argument, data):
    """Pixels in 0..255, values beyond [-1, 1], data in [0, 1] or off the 8-bit grid, NaN/inf,
    wrong types and shapes that do not broadcast: a ValueError/TypeError naming the argument
    (shapes: naming x, means and log_scales). Off-grid kinds skip bfloat16 (its tolerance is
    half a bin)."""
    dtype, x, means, log_scales, exact = data.draw(decoder_arguments(), label="valid")
    kinds = DECODER_MISTAKES[argument]
    if dtype == torch.bfloat16:
        kinds = tuple(kind for kind in kinds if kind not in ("unit", "off_grid"))
    kind = data.draw(st.sampled_from(kinds), label="mistake")
    ran("discretized_gaussian_log_likelihood")
    if argument == "log_scales" and not isinstance(log_scales, torch.Tensor):
        log_scales = torch.full(means.shape, log_scales, dtype=dtype)
    args = {"x": x, "means": means, "log_scales": log_scales}
    if argument == "x" and kind in ("pixels", "beyond", "unit", "off_grid"):
        k = np.round((x.double().numpy() + 1) * 127.5).astype(np.int64).reshape(x.shape)
        args["x"] = grid_mistake(kind, k, dtype, data)
    elif kind == "mismatch":  # (3,) against (2,): the tensors' first values, repeated
        args = {name: value.reshape(-1)[0].repeat(2) if isinstance(value, torch.Tensor) else value
                for name, value in args.items()}
        args[argument] = args[argument][:1].repeat(3)
    else:
        args[argument] = value_mistake(kind, args[argument], data)
    names = ("x", "means", "log_scales") if kind == "mismatch" else (argument,)
    assert_contract_error(
        lambda: discretized_gaussian_log_likelihood(**args, exact=exact), *names)


@given(dtype=dtypes, data=st.data())
def test_normal_cdfs_inside_their_domain(dtype, data):
    """Φ and its tanh approximation on finite tensors: the input's dtype and shape, values in
    [0, 1], Φ(0) = ½; in float64/float32 Φ(x) + Φ(-x) = 1 within 4 eps and the approximation
    within its documented 1.8e-4 (plus 4 eps) of Φ."""
    ran("standard_normal_cdf", "approx_standard_normal_cdf")
    bound = data.draw(st.sampled_from((5.0, 40.0, 1e4)), label="bound")
    x = as_dtype(data.draw(values(data.draw(any_shapes), -bound, bound), label="x"), dtype)
    for cdf in (standard_normal_cdf, approx_standard_normal_cdf):
        p = cdf(x)
        assert p.dtype == dtype and p.shape == x.shape
        assert_finite(p, cdf.__name__)
        assert bool(((p >= 0) & (p <= 1)).all()), _describe(p)
        assert float(cdf(torch.zeros(1, dtype=dtype))) == 0.5
    if dtype not in HALF_DTYPES:
        exact, approx = standard_normal_cdf(x), approx_standard_normal_cdf(x)
        assert float((exact + standard_normal_cdf(-x) - 1).abs().max()) <= 4 * eps_of(dtype)
        assert float((approx - exact).abs().max()) <= 1.8e-4 + 4 * eps_of(dtype)


# =============================================================================================
# schedules
# =============================================================================================

BUILDERS = {"linear_betas": linear_betas, "quadratic_betas": quadratic_betas,
            "sqrt_linear_betas": sqrt_linear_betas,
            "NoiseSchedule.linear": lambda *a, **k: NoiseSchedule.linear(*a, **k).beta}
RESCALABLE = ("linear_betas", "NoiseSchedule.linear")


def assert_schedule_invariants(schedule: NoiseSchedule, betas) -> None:
    """The arrays a NoiseSchedule derives from valid betas: finite, read-only, ᾱ in [0, 1] and
    non-increasing, 0 ≤ β̃ ≤ β (β̃_t = β_t (1-ᾱ_{t-1})/(1-ᾱ_t), the ratio ≤ 1)."""
    assert np.array_equal(schedule.beta, np.asarray(betas, dtype=np.float64))
    for name in ("beta", "alpha", "alpha_bar", "alpha_bar_prev", "one_minus_alpha_bar",
                 "sqrt_alpha_bar", "sqrt_one_minus_alpha_bar", "beta_tilde",
                 "log_beta_tilde_clipped", "mu_tilde_coef_x0", "mu_tilde_coef_xt", "snr"):
        array = getattr(schedule, name)
        assert array.shape == (len(schedule),) and not array.flags.writeable, name
        assert np.all(np.isfinite(array)), (name, array)
    alpha_bar = schedule.alpha_bar
    assert np.all((alpha_bar >= 0) & (alpha_bar <= 1)) and np.all(np.diff(alpha_bar) <= 0)
    assert np.all(schedule.beta_tilde >= 0)
    assert np.all(schedule.beta_tilde <= schedule.beta * (1 + 4 * eps_of(torch.float64)))
    assert schedule.alpha_bar_T == alpha_bar[-1]


@given(builder=st.sampled_from(tuple(BUILDERS)), T=st.integers(1, 300), numpy_T=st.booleans(),
       ends=st.tuples(unit_interval, unit_interval), rescale=st.booleans())
def test_monotone_schedules_inside_their_domain(builder, T, numpy_T, ends, rescale):
    """T ≥ 1 (Python or numpy int), 0 < beta_start ≤ beta_end ≤ 1 (down to the smallest normal
    float), rescale_to_1000 where 1000/T·beta_end < 1: float64 (T,), in (0, 1], non-decreasing,
    from beta_start to beta_end (times 1000/T when rescaled), a valid NoiseSchedule."""
    start, end = sorted(ends)
    rescale = rescale and builder in RESCALABLE and 1000 / T * end < 1.0
    ran(builder, "NoiseSchedule")
    kwargs = {"rescale_to_1000": True} if rescale else {}
    betas = BUILDERS[builder](np.int64(T) if numpy_T else T, start, end, **kwargs)
    assert betas.dtype == np.float64 and betas.shape == (T,)
    assert np.all(np.isfinite(betas) & (betas > 0) & (betas <= 1)) and np.all(np.diff(betas) >= 0)
    scale = 1000 / T if rescale else 1.0
    assert np.isclose(betas[0], scale * start, rtol=1e-14, atol=0)
    assert np.isclose(betas[-1], scale * (end if T > 1 else start), rtol=1e-14, atol=0)
    assert_schedule_invariants(NoiseSchedule(betas), betas)


BUILDER_MISTAKES = {
    "T": (0, -3, 2.5, "10", None, True, np.float64(3.0)),
    "beta_start": (0.0, -0.1, 1.5, math.nan, math.inf, "0.1", None, True),
    "beta_end": (0.0, -0.1, 1.5, math.nan, math.inf, "0.1", None, True),
}


@given(builder=st.sampled_from(tuple(BUILDERS)), data=st.data())
def test_monotone_schedules_outside_their_domain_name_the_parameter(builder, data):
    """A bad T, end or order of ends, or a rescale that takes β to 1: the parameter is named."""
    ran(builder)
    call = BUILDERS[builder]
    kinds = [*BUILDER_MISTAKES, "decreasing"] + (["rescale"] if builder in RESCALABLE else [])
    kind = data.draw(st.sampled_from(kinds), label="parameter")
    args = {"T": 10, "beta_start": 1e-4, "beta_end": 0.02}
    if kind == "decreasing":
        low, high = sorted(data.draw(st.tuples(unit_interval, unit_interval)))
        assume(low < high)
        assert_contract_error(lambda: call(10, high, low), "beta_start", "beta_end")
    elif kind == "rescale":
        T = data.draw(st.integers(1, 50), label="T")
        end = data.draw(st.floats(T / 1000 * (1 + 1e-9), 1.0), label="beta_end")  # 1000/T·end > 1
        assert_contract_error(lambda: call(T, end / 2, end, rescale_to_1000=True),
                              "rescale_to_1000")
    else:
        args[kind] = data.draw(st.sampled_from(BUILDER_MISTAKES[kind]), label="value")
        assert_contract_error(lambda: call(*args.values()), kind)


@given(builder=st.sampled_from(("cosine_betas", "NoiseSchedule.cosine")), T=st.integers(1, 300),
       s=st.one_of(reals(0.0, 0.1), reals(0.0, 1e6), reals(0.0, 1e100)), max_beta=unit_interval,
       u=reals(-1e6, 1e6))
def test_cosine_schedule_inside_its_domain(builder, T, s, max_beta, u):
    """T ≥ 1, s in [0, 1e100] (the documented domain, COSINE_S_MAX), max_beta in
    (0, 1]: float64 (T,) in (0, max_beta], a valid NoiseSchedule; ᾱ(u) in [0, 1] for any
    finite u."""
    ran(builder, "cosine_alpha_bar", "NoiseSchedule")
    if builder == "cosine_betas":
        betas = cosine_betas(T, s=s, max_beta=max_beta)
    else:
        betas = NoiseSchedule.cosine(T, s=s, max_beta=max_beta).beta
    assert betas.dtype == np.float64 and betas.shape == (T,)
    assert np.all(np.isfinite(betas) & (betas > 0) & (betas <= max_beta))
    assert_schedule_invariants(NoiseSchedule(betas), betas)
    value = cosine_alpha_bar(u, s)
    assert isinstance(value, float) and 0.0 <= value <= 1.0


COSINE_MISTAKES = {
    "T": (0, -1, 2.5, "10", None, True),
    "s": (-0.1, math.nan, math.inf, "0.008", None, True, 1e101, 1e300),
    "max_beta": (0.0, -0.5, 1.5, math.nan, "0.999", None, True),
    "u": (math.nan, math.inf, -math.inf, "0.5", None, True, torch.tensor(0.5)),
}


@given(data=st.data())
def test_cosine_schedule_outside_its_domain_names_the_parameter(data):
    parameter = data.draw(st.sampled_from(tuple(COSINE_MISTAKES)), label="parameter")
    value = data.draw(st.sampled_from(COSINE_MISTAKES[parameter]), label="value")
    if parameter == "u":
        ran("cosine_alpha_bar")
        assert_contract_error(lambda: cosine_alpha_bar(value), "u")
        return
    builder = data.draw(st.sampled_from(("cosine_betas", "NoiseSchedule.cosine")))
    ran(builder)
    args = {"T": 10, "s": 0.008, "max_beta": 0.999, parameter: value}
    call = cosine_betas if builder == "cosine_betas" else NoiseSchedule.cosine
    assert_contract_error(lambda: call(**args), parameter)
    if parameter == "s" and value not in (1e101, 1e300):  # ᾱ(u) itself takes any finite s ≥ 0
        ran("cosine_alpha_bar")
        assert_contract_error(lambda: cosine_alpha_bar(0.5, value), "s")


@st.composite
def decreasing_alpha_bars(draw):
    """A continuous ᾱ(u) strictly decreasing while positive: c e^{-λu}, c(1-u)^p (0 at u = 1) or
    max(0, c(1 - a u)) (0 from u = 1/a)."""
    c = draw(st.floats(1e-3, 1.0), label="c")
    kind = draw(st.sampled_from(("exp", "power", "hinge")), label="kind")
    if kind == "exp":
        rate = draw(st.floats(0.5, 50.0), label="rate")
        return kind, lambda u: c * math.exp(-rate * u)
    if kind == "power":
        power = draw(st.floats(0.5, 4.0), label="power")
        return kind, lambda u: c * (1.0 - u) ** power
    slope = draw(st.floats(1.0, 3.0), label="slope")
    return kind, lambda u: max(0.0, c * (1.0 - slope * u))


@given(fn=decreasing_alpha_bars(), T=st.integers(1, 200), max_beta=st.floats(1e-3, 1.0))
def test_betas_from_alpha_bar_inside_its_domain(fn, T, max_beta):
    """Documented: entries in (0, max_beta], max_beta once ᾱ has reached 0."""
    kind, alpha_bar = fn
    ran("betas_from_alpha_bar")
    betas = betas_from_alpha_bar(alpha_bar, T, max_beta)
    assert betas.dtype == np.float64 and betas.shape == (T,)
    assert np.all(np.isfinite(betas) & (betas > 0) & (betas <= max_beta))
    gone = np.array([alpha_bar(step / T) for step in range(T)]) == 0.0  # ᾱ((t-1)/T) = 0
    assert np.all(betas[gone] == max_beta)


ALPHA_BAR_MISTAKES = {
    "alpha_bar_fn": (None, 3, "cos", lambda u: math.nan, lambda u: math.inf, lambda u: -1.0,
                     lambda u: 0.0, lambda u: 0.5, lambda u: 0.1 + u, lambda u: 1 - u * u / 2
                     if u < 0.5 else 0.875),
    "T": (0, -1, 2.5, "10", None, True),
    "max_beta": (0.0, -0.5, 1.5, math.nan, "0.999", None),
}


@given(data=st.data())
def test_betas_from_alpha_bar_outside_its_domain_names_the_parameter(data):
    """Not callable; NaN, inf, negative, 0 at u = 0, flat or increasing ᾱ; bad T or max_beta."""
    ran("betas_from_alpha_bar")
    parameter = data.draw(st.sampled_from(tuple(ALPHA_BAR_MISTAKES)), label="parameter")
    args = {"alpha_bar_fn": lambda u: math.exp(-3 * u), "T": 8, "max_beta": 0.999}
    args[parameter] = data.draw(st.sampled_from(ALPHA_BAR_MISTAKES[parameter]), label="value")
    assert_contract_error(lambda: betas_from_alpha_bar(**args), parameter)


def as_container(betas: np.ndarray, kind: str):
    """``betas`` as a list, numpy array or tensor; float32 ones clipped to float32's normal
    range (a smaller beta rounds to 0, outside the domain)."""
    if kind in ("float32 numpy", "tensor32"):
        betas = np.clip(betas, np.finfo(np.float32).tiny, 1.0)
    return {"list": betas.tolist(), "numpy": betas, "float32 numpy": betas.astype(np.float32),
            "tensor64": torch.from_numpy(betas.copy()),
            "tensor32": torch.from_numpy(betas.copy()).float()}[kind]


CONTAINERS = ("list", "numpy", "float32 numpy", "tensor64", "tensor32")


@given(betas=beta_arrays(min_steps=2, max_steps=64, max_beta=0.999),
       container=st.sampled_from(CONTAINERS), last_is_one=st.booleans())
def test_rescale_zero_terminal_snr_inside_its_domain(betas, container, last_is_one):
    """T ≥ 2 betas in (0, 1]: same length, entries in (0, 1], the last exactly 1 (ᾱ_T = 0), the
    first unchanged (√ᾱ_1 is kept; β_1 = 1 - ᾱ_1 within a few float64 ulps of 1), a valid
    NoiseSchedule with ᾱ_T = 0."""
    if last_is_one:
        betas = np.concatenate([betas[:-1], [1.0]])
    ran("rescale_zero_terminal_snr", "NoiseSchedule")
    given_betas = as_container(betas, container)
    rescaled = rescale_zero_terminal_snr(given_betas)
    first = float(np.asarray(given_betas, dtype=np.float64)[0])
    assert rescaled.dtype == np.float64 and rescaled.shape == betas.shape
    assert np.all(np.isfinite(rescaled) & (rescaled > 0) & (rescaled <= 1)) and rescaled[-1] == 1
    assert abs(rescaled[0] - first) <= 8 * eps_of(torch.float64)  # 1 - ᾱ_1: absolute error
    schedule = NoiseSchedule(rescaled)
    assert schedule.alpha_bar_T == 0.0 and schedule.terminal_snr == 0.0


BETAS_MISTAKES = ([0.1, 0.0], [0.1, -0.2], [0.1, 1.5], [0.1, math.nan], [0.1, math.inf],
                  [[0.1, 0.2]], [], None, "0.1", ["a", "b"], 0.02, np.array(0.1),
                  torch.tensor([0.1, 0.2j]), torch.tensor([True, True]), np.array(["0.1"]))


@given(value=st.sampled_from(BETAS_MISTAKES), target=st.sampled_from(
    ("NoiseSchedule", "rescale_zero_terminal_snr", "GaussianDiffusion")))
def test_betas_outside_their_domain_are_named(value, target):
    """β outside (0, 1], NaN/inf, not 1-D, empty, not numbers: 'betas' is named (the
    GaussianDiffusion constructor may name its parameter, 'schedule')."""
    ran(target)
    call = {"NoiseSchedule": NoiseSchedule, "rescale_zero_terminal_snr": rescale_zero_terminal_snr,
            "GaussianDiffusion": GaussianDiffusion}[target]
    assert_contract_error(lambda: call(value), "betas", "schedule")


@given(value=st.sampled_from(([0.5], [1.0, 0.5], [1.0, 1.0])))
def test_rescale_zero_terminal_snr_needs_a_decreasing_alpha_bar(value):
    """One step, or ᾱ already 0 at step 1: nothing to rescale (names betas or their length T)."""
    ran("rescale_zero_terminal_snr")
    assert_contract_error(lambda: rescale_zero_terminal_snr(value), "betas", "T")


@given(betas=st.lists(unit_interval, min_size=1, max_size=40), container=st.sampled_from(
    (*CONTAINERS, "tensor16", "tensorbf16")), data=st.data())
def test_noise_schedule_and_to_torch_inside_their_domain(betas, container, data):
    """Betas in (0, 1] down to the smallest normal float, as a list, numpy array or tensor of any
    floating dtype: the input copied to float64 exactly and every derived array valid;
    to_torch(device, dtype) gives each array rounded once to dtype (bit for bit), cached."""
    betas = np.array(betas)
    if container in ("tensor16", "tensorbf16"):
        dtype = torch.float16 if container == "tensor16" else torch.bfloat16
        given_betas = torch.from_numpy(np.clip(betas, 1e-3, 1.0)).to(dtype)  # float16: ≥ 6e-8
    else:
        given_betas = as_container(betas, container)
    ran("NoiseSchedule", "NoiseSchedule.to_torch")
    schedule = NoiseSchedule(given_betas)
    expected = (given_betas.double().numpy() if isinstance(given_betas, torch.Tensor)
                else np.asarray(given_betas, dtype=np.float64))
    assert_schedule_invariants(schedule, expected)
    device = data.draw(st.sampled_from((None, "cpu", torch.device("cpu"))), label="device")
    dtype = data.draw(st.sampled_from((None, *FLOAT_DTYPES)), label="dtype")
    tensors = schedule.to_torch(device, dtype)
    assert schedule.to_torch(device, dtype) is tensors
    want = torch.float64 if dtype is None else dtype
    for name in ("beta", "alpha_bar", "beta_tilde", "log_beta_tilde_clipped", "snr"):
        tensor = getattr(tensors, name)
        assert tensor.device.type == "cpu" and tensor.dtype == want
        assert torch.equal(tensor, torch.from_numpy(np.array(getattr(schedule, name))).to(want))


@given(dtype=st.sampled_from((torch.int64, torch.bool, torch.complex64, "float32", np.float32,
                              float)))
def test_to_torch_outside_its_domain_names_dtype(dtype):
    ran("NoiseSchedule.to_torch")
    assert_contract_error(lambda: schedule_of("linear", 4).to_torch(None, dtype), "dtype")


# =============================================================================================
# respacing and the timestep samplers
# =============================================================================================


@st.composite
def section_counts(draw, T: int):
    """(section_counts, expected length or None): a list of per-section counts each within its
    section, the same as a string or a single int, or 'ddimN' for an N a fixed stride reaches."""
    mode = draw(st.sampled_from(("list", "string", "int", "ddim")), label="mode")
    if mode == "ddim":
        stride = draw(st.integers(1, T), label="stride")
        count = len(range(0, T, stride))
        return f"ddim{count}", count
    if mode == "int":
        count = draw(st.integers(1, T), label="count")
        return count, count
    sections = draw(st.integers(1, min(T, 5)), label="sections")
    base, extra = divmod(T, sections)
    counts = [draw(st.integers(1, base + (1 if i < extra else 0))) for i in range(sections)]
    return (counts if mode == "list" else ",".join(map(str, counts))), sum(counts)


@given(schedule=schedules(min_steps=1, max_steps=60), data=st.data())
def test_respacing_inside_its_domain(schedule, data):
    """space_timesteps: sorted distinct indices in [0, T-1] starting at 0, as many as asked, a
    constant stride for 'ddimN'; respaced_betas (list, tuple, numpy or tensor indices): β' in
    (0, 1] whose ᾱ' is ᾱ at the kept steps (rtol 1e-10)."""
    T = schedule.num_steps
    counts, length = data.draw(section_counts(T), label="section_counts")
    ran("space_timesteps", "respaced_betas")
    kept = space_timesteps(np.int64(T) if data.draw(st.booleans()) else T, counts)
    assert all(isinstance(k, (int, np.integer)) for k in kept) and kept == sorted(set(kept))
    assert kept[0] == 0 and kept[-1] <= T - 1 and len(kept) == length
    if isinstance(counts, str) and counts.startswith("ddim"):
        assert len(set(np.diff(kept))) <= 1
    container = data.draw(st.sampled_from((list, tuple, np.array, torch.tensor)), label="as")
    betas = respaced_betas(schedule, container(kept))
    assert betas.shape == (len(kept),)
    assert np.all(np.isfinite(betas) & (betas > 0) & (betas <= 1))
    np.testing.assert_allclose(np.cumprod(1 - betas), schedule.alpha_bar[kept], rtol=1e-10,
                               atol=1e-300)


def bad_section_counts(T: int) -> tuple:
    return ("ddim0", "ddim", "ddimx", f"ddim{T + 1}", [0], [-1], [T + 1], "a,b", "3,", [],
            [1.5], [True], 0, -2, T + 1)


@given(T=st.integers(1, 40), data=st.data())
def test_respacing_outside_its_domain_names_the_parameter(T, data):
    """Counts that are not positive integers, exceed their section, or no stride reaches:
    'section_counts' named (by space_timesteps and GaussianDiffusion.respaced); kept indices
    outside [0, T-1] or none: 'use_timesteps' named."""
    counts = data.draw(st.sampled_from(bad_section_counts(T)), label="section_counts")
    diffusion = GaussianDiffusion(schedule_of("cosine", T))
    ran("space_timesteps", "GaussianDiffusion.respaced", "respaced_betas")
    assert_contract_error(lambda: space_timesteps(T, counts), "section_counts")
    assert_contract_error(lambda: diffusion.respaced(counts), "section_counts")
    kept = data.draw(st.sampled_from(([-1], [0, T], [T + 5], [])), label="use_timesteps")
    assert_contract_error(lambda: respaced_betas(diffusion.schedule, kept), "use_timesteps")


@given(case=cases(), data=st.data())
def test_respaced_diffusion_inside_its_domain(case, data):
    """respaced(counts): a diffusion on the kept steps whose model is called with the original
    indices, each kept step once per sampling loop; respacing it again maps to original indices
    too; the samples are finite. TimestepMap keeps sorted distinct indices."""
    counts, _ = data.draw(section_counts(case.T), label="section_counts")
    ran("GaussianDiffusion.respaced", "TimestepMap", "GaussianDiffusion.ddim_sample_loop")
    respaced = case.diffusion.respaced(counts)
    kept = space_timesteps(case.T, counts)
    assert respaced.num_steps == len(kept) and respaced.timestep_map.timesteps == tuple(kept)
    seen: list[int] = []
    model = make_model(case.diffusion.var_type.value, seen)
    sample = respaced.ddim_sample_loop(model, tuple(case.x_t.shape), noise=case.x_t)
    assert_result(sample, case.x_t, "respaced DDIM sample")
    assert sorted(set(seen)) == kept and len(seen) == len(kept) * case.x_t.shape[0]
    again, _ = data.draw(section_counts(len(kept)), label="again")
    twice = respaced.respaced(again)
    positions = space_timesteps(len(kept), again)
    assert twice.timestep_map.timesteps == tuple(kept[p] for p in positions)
    assert TimestepMap(reversed(kept + kept[:1])).timesteps == tuple(kept)


@given(T=st.integers(1, 50), batch=st.integers(1, 20), history=st.integers(1, 4),
       uniform_prob=st.floats(1e-6, 1.0), dtype=dtypes, data=st.data())
def test_timestep_samplers_inside_their_domain(T, batch, history, uniform_prob, dtype, data):
    """sample(batch, device, generator): int64 [B] in [0, T-1] and float64 weights 1/(T p_t),
    finite and > 0 (1 for the uniform sampler), reproducible from a seed; the loss-second-moment
    sampler after warm-up: p_t sums to 1 and is ≥ uniform_prob/T; its state round-trips."""
    device = data.draw(st.sampled_from((None, "cpu", torch.device("cpu"))), label="device")
    uniform = UniformSampler(np.int64(T) if data.draw(st.booleans()) else T)
    resampler = LossSecondMomentResampler(T, history, uniform_prob)
    for _ in range(data.draw(st.integers(1, 3), label="rounds") * history):
        t = torch.from_numpy(data.draw(hnp.arrays(np.int64, T, elements=st.integers(0, T - 1))))
        losses = as_dtype(data.draw(values(T, 0.0, 1e3), label="losses"), dtype)
        resampler.update_with_losses(torch.arange(T), losses)  # every t: warms up
        resampler.update_with_losses(t, losses)
        assert uniform.update_with_losses(t, losses) is None
    ran("UniformSampler", "UniformSampler.sample", "UniformSampler.update_with_losses",
        "LossSecondMomentResampler", "LossSecondMomentResampler.sample",
        "LossSecondMomentResampler.update_with_losses", "LossSecondMomentResampler.state_dict",
        "LossSecondMomentResampler.load_state_dict")
    assert resampler.warmed_up
    probabilities = resampler.probabilities()
    assert abs(probabilities.sum() - 1) <= 1e-12
    assert np.all(probabilities >= uniform_prob / T * (1 - 1e-12))
    for sampler in (uniform, resampler):
        t, weights = sampler.sample(batch, device, generator(1))
        assert t.dtype == torch.int64 and t.shape == (batch,) and t.device.type == "cpu"
        assert bool(((t >= 0) & (t < T)).all()), t
        assert weights.dtype == torch.float64 and weights.shape == (batch,)
        assert_finite(weights, "weights")
        assert bool((weights > 0).all())
        assert torch.equal(sampler.sample(batch, device, generator(1))[0], t)
    # "weight 1": 1/(T·(1/T)), within 2 ulps of 1
    assert bool(((uniform.sample(batch)[1] - 1).abs() <= 2 * eps_of(torch.float64)).all())
    restored = LossSecondMomentResampler(T, history, uniform_prob)
    restored.load_state_dict(resampler.state_dict())
    np.testing.assert_array_equal(restored.probabilities(), probabilities)


SAMPLER_MISTAKES = {
    "num_steps": (0, -1, 2.5, "10", None, True, np.float64(3.0)),
    "history_per_term": (0, -1, 2.5, "10", None, True),
    "uniform_prob": (0.0, -0.1, 1.5, math.nan, math.inf, "0.1", None, True),
    "batch_size": (0, -1, 2.5, "3", None, True),
    "generator": (0, np.int64(3), "0", True, 0.5, torch.tensor(0)),
    "device": ("nope", 3.5, True, *(("cuda", torch.device("cuda")) if NO_CUDA else ())),
    "t": ("below", "above", "float", "list"),
    "losses": ("short", "none", "nan", "inf", "complex"),
    "state": ("shape", "empty", "none", "nan history", "counts above K"),
}


@given(data=st.data())
def test_timestep_samplers_outside_their_domain_name_the_parameter(data):
    parameter = data.draw(st.sampled_from(tuple(SAMPLER_MISTAKES)), label="parameter")
    value = data.draw(st.sampled_from(SAMPLER_MISTAKES[parameter]), label="value")
    cls = data.draw(st.sampled_from((UniformSampler, LossSecondMomentResampler)), label="class")
    name = cls.__name__
    if parameter in ("num_steps", "history_per_term", "uniform_prob"):
        cls = LossSecondMomentResampler if parameter != "num_steps" else cls
        ran(cls.__name__)
        args = {"num_steps": 5, parameter: value}
        assert_contract_error(lambda: cls(**args), parameter)
    elif parameter in ("batch_size", "generator", "device"):
        ran(f"{name}.sample")
        args = {"batch_size": 3, "generator": None, parameter: value}
        assert_contract_error(lambda: cls(5).sample(**args), parameter)
    elif parameter == "state":
        ran("LossSecondMomentResampler.load_state_dict")
        state = {"shape": LossSecondMomentResampler(6).state_dict(), "empty": {}, "none": None,
                 "nan history": {"history": torch.full((5, 10), math.nan),
                                 "counts": torch.zeros(5, dtype=torch.int64)},
                 "counts above K": {"history": torch.zeros(5, 10),
                                    "counts": torch.full((5,), 11)}}[value]
        resampler = LossSecondMomentResampler(5)
        before = resampler.probabilities()
        assert_contract_error(lambda: resampler.load_state_dict(state), "state")
        np.testing.assert_array_equal(resampler.probabilities(), before)  # nothing changed
    else:
        ran("LossSecondMomentResampler.update_with_losses")
        t = {"below": torch.tensor([0, -1]), "above": torch.tensor([0, 5]),
             "float": torch.tensor([0.0, 1.0]), "list": [0, 1]}.get(value, torch.tensor([0, 1]))
        losses = {"short": torch.ones(1), "none": None, "nan": torch.tensor([1.0, math.nan]),
                  "inf": torch.tensor([math.inf, 1.0]),
                  "complex": torch.ones(2, dtype=torch.complex64)}.get(value, torch.ones(2))
        resampler = LossSecondMomentResampler(5, 1)
        assert_contract_error(lambda: resampler.update_with_losses(t, losses), parameter)
        assert not resampler._counts.any()  # nothing recorded
        if cls is UniformSampler and value in ("float", "list", "short", "none", "complex"):
            ran("UniformSampler.update_with_losses")  # type and length checked, values not
            assert_contract_error(lambda: UniformSampler(5).update_with_losses(t, losses),
                                  parameter)


# =============================================================================================
# GaussianDiffusion: inside the domain
# =============================================================================================


@given(case=cases(), data=st.data())
def test_forward_process_inside_its_domain(case, data):
    """q_mean_variance, q_sample, q_posterior on finite data of any range: the data's dtype and
    shape, finite; Var q(x_t | x_0) = 1 - ᾱ_t in [0, 1] with log-variance ≤ 0; q_sample equals
    √ᾱ_t x_0 + √(1-ᾱ_t) ε computed in float64 from the schedule (the dtype's tolerance, scaled
    by the magnitude) and is reproducible from a seed; 0 ≤ β̃_t ≤ β_t. coefficients(x) is the
    schedule in x's dtype."""
    diffusion, x0, noise, t = case.diffusion, case.x_any, case.other, case.t
    ran("GaussianDiffusion.q_mean_variance", "GaussianDiffusion.q_sample",
        "GaussianDiffusion.q_posterior", "GaussianDiffusion.coefficients")
    t_arg = int(t[0]) if data.draw(st.booleans(), label="t as int") else t
    t_rows = t if isinstance(t_arg, torch.Tensor) else torch.full_like(t, t_arg)
    mean, variance, log_variance = diffusion.q_mean_variance(x0, t_arg)
    assert_result(mean, x0, "mean")
    assert_finite(variance, "variance")
    assert_finite(log_variance, "log variance")
    assert bool(((variance >= 0) & (variance <= 1) & (log_variance <= 0)).all())
    x_t = diffusion.q_sample(x0, t_arg, noise)
    assert_result(x_t, x0, "q_sample")
    index = t_rows.numpy()
    shape = (-1,) + (1,) * (x0.ndim - 1)
    sqrt_ab = diffusion.schedule.sqrt_alpha_bar[index].reshape(shape)
    sqrt_1m = diffusion.schedule.sqrt_one_minus_alpha_bar[index].reshape(shape)
    x0_64, noise_64 = x0.double().numpy(), noise.double().numpy()
    expected = sqrt_ab * x0_64 + sqrt_1m * noise_64
    tol = for_dtype(case.dtype)
    magnitude = np.abs(sqrt_ab * x0_64) + np.abs(sqrt_1m * noise_64)
    assert np.all(np.abs(x_t.double().numpy() - expected) <= tol.atol + 2 * tol.rtol * magnitude)
    drawn = diffusion.q_sample(x0, t_arg, generator=generator(3))
    assert_result(drawn, x0, "q_sample drawn")
    assert torch.equal(drawn, diffusion.q_sample(x0, t_arg, generator=generator(3)))
    post_mean, post_variance, post_log_variance = diffusion.q_posterior(x0, noise, t_arg)
    assert_result(post_mean, x0, "posterior mean")
    assert_finite(post_log_variance, "posterior log variance")
    beta = torch.from_numpy(diffusion.schedule.beta[index]).reshape(shape)
    assert bool(((post_variance >= 0) & (post_variance.double() <= beta * (1 + 4 * eps_of(
        case.dtype)))).all())
    coefs = diffusion.coefficients(x0)
    assert coefs.beta.dtype == case.dtype and coefs is diffusion.coefficients(x0)


@given(case=cases())
def test_parameterisations_inside_their_domain(case):
    """The five conversions: finite, the data's dtype and shape; in float64/float32 the round
    trips x_0 → ε → x_0 and v → (x_0, ε) return their input within the dtype's tolerance scaled
    by the conversion's condition number 1/(√ᾱ_t √(1-ᾱ_t)) times the magnitude."""
    diffusion, x_t, other, x0, t = case.diffusion, case.x_t, case.other, case.x_any, case.t
    ran("GaussianDiffusion.x0_from_eps", "GaussianDiffusion.eps_from_x0",
        "GaussianDiffusion.v_from_x0_eps", "GaussianDiffusion.x0_from_v",
        "GaussianDiffusion.eps_from_v")
    results = {
        "x0_from_eps": diffusion.x0_from_eps(x_t, t, other),
        "eps_from_x0": diffusion.eps_from_x0(x_t, t, x0),
        "v_from_x0_eps": diffusion.v_from_x0_eps(x0, t, other),
        "x0_from_v": diffusion.x0_from_v(x_t, t, other),
        "eps_from_v": diffusion.eps_from_v(x_t, t, other),
    }
    for name, result in results.items():
        assert_result(result, x_t, name)
    if case.dtype in HALF_DTYPES:
        return
    index = t.numpy()
    shape = (-1,) + (1,) * (x_t.ndim - 1)
    condition = 1 / (diffusion.schedule.sqrt_alpha_bar[index]
                     * diffusion.schedule.sqrt_one_minus_alpha_bar[index]).reshape(shape)
    tol = for_dtype(case.dtype)
    magnitude = 1 + np.abs(x_t.double().numpy()) + np.abs(other.double().numpy())
    bound = 4 * (tol.atol + tol.rtol * magnitude) * condition
    back = diffusion.eps_from_x0(x_t, t, results["x0_from_eps"])
    assert np.all(np.abs((back - other).double().numpy()) <= bound)
    noisy = diffusion.q_sample(x0, t, other)
    v = diffusion.v_from_x0_eps(x0, t, other)
    scale = 1 + np.abs(x0.double().numpy()) + np.abs(other.double().numpy())
    rotation = 8 * (tol.atol + tol.rtol * scale)  # v is a rotation of (x_0, ε): condition 1
    assert np.all(np.abs((diffusion.x0_from_v(noisy, t, v) - x0).double().numpy()) <= rotation)
    assert np.all(np.abs((diffusion.eps_from_v(noisy, t, v) - other).double().numpy())
                  <= rotation)


@given(case=cases(), clip=st.booleans(), eta=st.floats(0.0, 1.0))
def test_reverse_steps_inside_their_domain(case, clip, eta):
    """p_mean_variance: every output finite in the data's dtype, σ² ≥ 0 and = e^{log σ²} for
    t > 0 (at t = 0 'fixed_small' has β̃_1 = 0 beside the clipped log), x̂_0 in [-1, 1] when
    clipped; p_sample finite and exactly the mean at t = 0; ddim_sample finite and independent
    of the noise for η = 0."""
    diffusion, x_t, t, model = case.diffusion, case.x_t, case.t, case.model
    ran("GaussianDiffusion.p_mean_variance", "GaussianDiffusion.p_sample",
        "GaussianDiffusion.ddim_sample")
    out = diffusion.p_mean_variance(model, x_t, t, clip)
    assert set(out) == {"mean", "variance", "log_variance", "x0_hat", "eps_hat"}
    for name, value in out.items():
        assert_result(value, x_t, name)
    assert bool((out["variance"] >= 0).all())
    later = t > 0
    log_variance = out["log_variance"][later].double()
    relative = (out["variance"][later].double() - log_variance.exp()).abs() / log_variance.exp()
    assert bool((relative <= 4 * eps_of(case.dtype) * (2 + log_variance.abs())).all())
    if clip:
        assert bool((out["x0_hat"].abs() <= 1).all())
    sample = diffusion.p_sample(model, x_t, t, case.other, clip_denoised=clip)
    assert_result(sample, x_t, "p_sample")
    assert torch.equal(sample[t == 0], out["mean"][t == 0])
    assert_result(diffusion.p_sample(model, x_t, t, generator=generator(), clip_denoised=clip),
                  x_t, "p_sample drawn")
    step = diffusion.ddim_sample(model, x_t, t, case.other, clip_denoised=clip, eta=eta)
    assert_result(step, x_t, "ddim_sample")
    if eta == 0.0:
        again = diffusion.ddim_sample(model, x_t, t, -case.other, clip_denoised=clip, eta=0.0)
        assert torch.equal(step, again)


@given(case=cases(), clip=st.booleans(), trajectory=st.booleans(), eta=st.floats(0.0, 1.0),
       data=st.data())
def test_sampling_loops_inside_their_domain(case, clip, trajectory, eta, data):
    """p_sample_loop and ddim_sample_loop from given x_T or drawn (device, dtype): finite
    samples of the shape, in x_T's dtype (or ``dtype``, default float32); with clipping in
    [-1, 1] (the last step returns the clipped x̂_0: √ᾱ_0 = 1, √(1-ᾱ_0) = 0); the trajectory
    [T+1, ...] runs from x_T to the sample; DDIM with η = 0 is deterministic."""
    diffusion, model, shape = case.diffusion, case.model, tuple(case.x_t.shape)
    ran("GaussianDiffusion.p_sample_loop", "GaussianDiffusion.ddim_sample_loop")
    given_noise = data.draw(st.booleans(), label="given x_T")
    dtype = data.draw(st.sampled_from((None, *FLOAT_DTYPES)), label="dtype")
    device = data.draw(st.sampled_from((None, "cpu")), label="device")
    want = case.dtype if given_noise else (dtype or torch.get_default_dtype())
    for method, kwargs in (("p_sample_loop", {}), ("ddim_sample_loop", {"eta": eta})):
        call = getattr(diffusion, method)
        arguments = dict(noise=case.x_t if given_noise else None, generator=generator(2),
                         clip_denoised=clip, return_trajectory=trajectory, **kwargs)
        if not given_noise:
            arguments.update(device=device, dtype=dtype)
        result = call(model, shape, **arguments)
        sample, path = result if trajectory else (result, None)
        assert sample.shape == shape and sample.dtype == want, method
        assert_finite(sample, method)
        if clip:
            assert bool((sample.double().abs() <= 1 + 4 * eps_of(want)).all()), _describe(sample)
        if path is not None:
            assert path.shape == (case.T + 1, *shape) and torch.equal(path[-1], sample)
            if given_noise:
                assert torch.equal(path[0], case.x_t)
        if method == "ddim_sample_loop" and eta == 0.0:
            arguments["generator"] = generator(2)  # the same x_T when it is drawn
            again = call(model, shape, **arguments)
            assert torch.equal(again[0] if trajectory else again, sample)


@given(case=cases())
def test_the_bound_inside_its_domain(case):
    """prior_bpd ≥ 0 [B]; vb_terms_bpd [B] finite, ≥ 0 for t > 0 (a KL) and, with a discretised
    decoder, at t = 0 (-log p, p ≤ 1; the Gaussian decoder's L_0 is a density and may be < 0);
    calc_bpd_loop: vb, x0_mse, mse [B, T] finite, the same signs, total_bpd finite (≥ 0 with a
    discretised decoder); all in the data's dtype. float16 on the linear schedule only
    (in_float16_range says why)."""
    case = in_float16_range(case)
    diffusion, x0, x_t, t, model = case.diffusion, case.x0, case.x_t, case.t, case.model
    ran("GaussianDiffusion.prior_bpd", "GaussianDiffusion.vb_terms_bpd",
        "GaussianDiffusion.calc_bpd_loop")
    batch = x0.shape[0]
    prior = diffusion.prior_bpd(x0)
    assert prior.shape == (batch,) and prior.dtype == case.dtype
    assert_finite(prior, "prior_bpd")
    assert bool((prior >= 0).all())
    term = diffusion.vb_terms_bpd(model, x0, x_t, t)
    assert term.shape == (batch,) and term.dtype == case.dtype
    assert_finite(term, "vb_terms_bpd")
    signed = (t > 0) | torch.tensor(case.discrete)
    assert bool((term[signed] >= 0).all()), (_describe(term), t)
    bound = diffusion.calc_bpd_loop(model, x0, generator=generator(4))
    for name in ("vb", "x0_mse", "mse"):
        assert bound[name].shape == (batch, case.T), name
        assert_finite(bound[name], name)
    assert bool((bound["vb"][:, 1:] >= 0).all()) and bool((bound["mse"] >= 0).all())
    assert bool((bound["x0_mse"] >= 0).all())
    assert torch.equal(bound["prior_bpd"], prior)
    assert_finite(bound["total_bpd"], "total_bpd")
    if case.discrete:
        assert bool((bound["vb"][:, 0] >= 0).all()) and bool((bound["total_bpd"] >= 0).all())


@given(case=cases(dtypes=(torch.float16,)))
def test_float16_bound_terms_are_finite_where_float32_fits(case):
    """vb_terms_bpd in float16 (any schedule, the cosine one included) against the same call on
    the same values in float32: finite wherever the float32 term is below 30000 bits (half of
    float16's largest value, a margin for float16's own rounding of x̂_0 and the mean), inf
    only where it exceeds 65504."""
    ran("GaussianDiffusion.vb_terms_bpd")
    diffusion, model = case.diffusion, case.model
    half = diffusion.vb_terms_bpd(model, case.x0, case.x_t, case.t)
    single = diffusion.vb_terms_bpd(model, case.x0.float(), case.x_t.float(), case.t,
                                    check_values=False)  # float16 data, checked in float16
    fits = single.abs() < 30000
    assert_finite(half[fits], "float16 terms that fit")
    assert bool((single[half.isinf()].abs() > 65504 * (1 - 2 * eps_of(torch.float16))).all())


@given(case=cases(), data=st.data())
def test_training_losses_inside_their_domain(case, data):
    """Given or sampled t (uniform or loss-second-moment), given or drawn ε: per-example loss,
    mse, vb finite in the data's dtype; mse ≥ 0, vb ≥ 0 (but the Gaussian decoder's L_0), so
    loss ≥ 0 but for 'vlb'/'hybrid' with the Gaussian decoder; the returned t in [0, T-1] and
    weights finite > 0. float16 on the linear schedule only (in_float16_range says why)."""
    case = in_float16_range(case)
    diffusion = case.diffusion
    if data.draw(st.booleans(), label="importance sampling"):
        diffusion = GaussianDiffusion(diffusion.schedule, diffusion.mean_type,
                                      diffusion.var_type, diffusion.loss_type, diffusion.decoder,
                                      timestep_sampler=LossSecondMomentResampler(case.T, 1))
    ran("GaussianDiffusion.training_losses", "GaussianDiffusion")
    given_t = data.draw(st.booleans(), label="given t")
    given_noise = data.draw(st.booleans(), label="given noise")
    for _ in range(1 if given_t else 2):  # twice: the resampler learns from the first call
        terms = diffusion.training_losses(case.model, case.x0, case.t if given_t else None,
                                          case.other if given_noise else None, generator(5))
    batch = case.x0.shape[0]
    t, weights = terms["t"], terms["weights"]
    assert t.dtype == torch.int64 and t.shape == (batch,) and bool(((t >= 0) & (t < case.T)).all())
    assert_finite(weights, "weights")
    assert bool((weights > 0).all())
    for name in ("loss", "mse", "vb"):
        if name in terms:
            assert terms[name].shape == (batch,) and terms[name].dtype == case.dtype, name
            assert_finite(terms[name], name)
    if "mse" in terms:
        assert bool((terms["mse"] >= 0).all())
    signed = (t > 0) | torch.tensor(case.discrete)
    if "vb" in terms:
        assert bool((terms["vb"][signed] >= 0).all())
    if case.discrete or diffusion.loss_type.value in ("simple", "weighted"):
        assert bool((terms["loss"] >= 0).all()), _describe(terms["loss"])


# =============================================================================================
# GaussianDiffusion: outside the domain
# =============================================================================================

#: The data arguments of each method, the first checked first ("leads"); a later one must have
#: the leader's shape.
DATA_ARGS = {
    "q_mean_variance": ("x0",), "q_sample": ("x0", "noise"), "q_posterior": ("x_t", "x0"),
    "x0_from_eps": ("x_t", "eps"), "eps_from_x0": ("x_t", "x0"), "v_from_x0_eps": ("x0", "eps"),
    "x0_from_v": ("x_t", "v"), "eps_from_v": ("x_t", "v"), "p_mean_variance": ("x_t",),
    "p_sample": ("x_t", "noise"), "ddim_sample": ("x_t", "noise"), "p_sample_loop": ("noise",),
    "ddim_sample_loop": ("noise",), "prior_bpd": ("x0",), "vb_terms_bpd": ("x_t", "x0"),
    "calc_bpd_loop": ("x0",), "training_losses": ("x0", "noise"),
}
METHODS = tuple(DATA_ARGS)
#: Methods whose data must be [B, C, ...] (a model is called on it).
MODEL_METHODS = ("p_mean_variance", "p_sample", "ddim_sample", "p_sample_loop",
                 "ddim_sample_loop", "vb_terms_bpd", "calc_bpd_loop", "training_losses")
T_METHODS = ("q_mean_variance", "q_sample", "q_posterior", "x0_from_eps", "eps_from_x0",
             "v_from_x0_eps", "x0_from_v", "eps_from_v", "p_mean_variance", "p_sample",
             "ddim_sample", "vb_terms_bpd", "training_losses")
GENERATOR_METHODS = ("q_sample", "p_sample", "ddim_sample", "p_sample_loop", "ddim_sample_loop",
                     "calc_bpd_loop", "training_losses")
GRID_METHODS = ("prior_bpd", "vb_terms_bpd", "calc_bpd_loop", "training_losses")
OPTIONAL_ARGS = ("noise",)


def engine_arguments(case: Case, method: str) -> dict:
    """Valid keyword arguments of ``method`` for ``case`` (noise given, a seeded generator)."""
    x0, x_t, other, t, model = case.x0, case.x_t, case.other, case.t, case.model
    gen, shape = generator(), tuple(x_t.shape)
    return {
        "q_mean_variance": dict(x0=x0, t=t), "q_sample": dict(x0=x0, t=t, noise=other,
                                                              generator=gen),
        "q_posterior": dict(x0=x0, x_t=x_t, t=t), "x0_from_eps": dict(x_t=x_t, t=t, eps=other),
        "eps_from_x0": dict(x_t=x_t, t=t, x0=x0), "v_from_x0_eps": dict(x0=x0, t=t, eps=other),
        "x0_from_v": dict(x_t=x_t, t=t, v=other), "eps_from_v": dict(x_t=x_t, t=t, v=other),
        "p_mean_variance": dict(model=model, x_t=x_t, t=t),
        "p_sample": dict(model=model, x_t=x_t, t=t, noise=other, generator=gen),
        "ddim_sample": dict(model=model, x_t=x_t, t=t, noise=other, generator=gen, eta=0.5),
        "p_sample_loop": dict(model=model, shape=shape, noise=x_t, generator=gen),
        "ddim_sample_loop": dict(model=model, shape=shape, noise=x_t, generator=gen, eta=0.5),
        "prior_bpd": dict(x0=x0), "vb_terms_bpd": dict(model=model, x0=x0, x_t=x_t, t=t),
        "calc_bpd_loop": dict(model=model, x0=x0, generator=gen),
        "training_losses": dict(model=model, x0=x0, t=t, noise=other, generator=gen),
    }[method]


def call_engine(case: Case, method: str, **overrides):
    arguments = {**engine_arguments(case, method), **overrides}
    return lambda: getattr(case.diffusion, method)(**arguments)


def data_mistakes(case: Case, method: str, argument: str) -> tuple[str, ...]:
    leads = argument == DATA_ARGS[method][0] and method not in ("p_sample_loop",
                                                                "ddim_sample_loop")
    kinds = ["string", "numpy", "list", "int_tensor", "bool_tensor", "complex_tensor", "nan",
             "inf", "scalar", "empty_batch"]
    if argument not in OPTIONAL_ARGS:
        kinds.append("none")
    if not leads:
        kinds.append("mismatch")
    elif method in MODEL_METHODS:
        kinds.append("1d")
    if method in GRID_METHODS and argument == "x0" and case.discrete:
        kinds += ["pixels", "beyond"] + (["unit", "off_grid"] if case.dtype != torch.bfloat16
                                         else [])
    return tuple(kinds)


@pytest.mark.parametrize("method", METHODS)
@given(case=cases(), data=st.data())
def test_engine_data_outside_the_domain_is_named(method, case, data):
    """Each data argument: a wrong type, NaN/inf, a 0-d or empty tensor, another shape than the
    leading argument, [B] where [B, C, ...] is needed, and for the bound and the losses with a
    discretised decoder pixels in 0..255, values beyond [-1, 1], data in [0, 1], off-grid
    values: a ValueError/TypeError naming that argument."""
    argument = data.draw(st.sampled_from(DATA_ARGS[method]), label="argument")
    kind = data.draw(st.sampled_from(data_mistakes(case, method, argument)), label="mistake")
    ran(f"GaussianDiffusion.{method}")
    valid = engine_arguments(case, method)[argument]
    if kind in ("pixels", "beyond", "unit", "off_grid"):
        k = np.round((valid.double().numpy() + 1) * 127.5).astype(np.int64)
        bad = grid_mistake(kind, k, case.dtype, data)
    elif kind == "scalar":
        bad = valid.reshape(-1)[0].clone()
    elif kind == "empty_batch":
        bad = valid[:0]
    elif kind == "1d":
        bad = valid.reshape(valid.shape[0], -1)[:, 0].clone()
    elif kind == "mismatch":
        bad = torch.cat([valid, valid[:1]])
    else:
        bad = value_mistake(kind, valid, data)
    assert_contract_error(call_engine(case, method, **{argument: bad}), argument)


TIMESTEP_MISTAKES = ("below", "above", "int_below", "int_above", "float_tensor", "bool_tensor",
                     "numpy", "list", "none", "string", "float", "bool", "short", "long", "2d",
                     "0d")


@pytest.mark.parametrize("method", T_METHODS)
@given(case=cases(), kind=st.sampled_from(TIMESTEP_MISTAKES), data=st.data())
def test_engine_timesteps_outside_the_domain_are_named(method, case, kind, data):
    """t = -1 or T and beyond (tensor or int), a float, bool, numpy or list t, None (but for
    training_losses, where it means 'sample'), a string, a t of another shape: 't' named."""
    assume(not (kind == "none" and method == "training_losses"))
    ran(f"GaussianDiffusion.{method}")
    t, T = case.t.clone(), case.T
    beyond = data.draw(st.integers(0, 1000), label="beyond")
    position = data.draw(st.integers(0, t.numel() - 1), label="position")
    if kind in ("below", "above"):
        t[position] = -1 - beyond if kind == "below" else T + beyond
    bad = {"below": t, "above": t, "int_below": -1 - beyond, "int_above": T + beyond,
           "float_tensor": case.t.float(), "bool_tensor": case.t > 0, "numpy": case.t.numpy(),
           "list": case.t.tolist(), "none": None, "string": "0", "float": 0.0, "bool": True,
           "short": case.t[:-1], "long": torch.cat([case.t, case.t[:1]]), "2d": case.t[None],
           "0d": case.t[0]}[kind]
    assert_contract_error(call_engine(case, method, t=bad), "t")


GENERATOR_MISTAKES = (0, 1234, np.int64(7), "0", True, 0.5, torch.tensor(0),
                      np.random.default_rng(0), np.random.RandomState(0))


@pytest.mark.parametrize("method", GENERATOR_METHODS)
@given(case=cases(), bad=st.sampled_from(GENERATOR_MISTAKES), draws=st.booleans())
def test_engine_generators_outside_the_domain_are_named(method, case, bad, draws):
    """A seed, string, numpy generator or tensor where a torch.Generator belongs: 'generator'
    named, whether or not the call draws (noise given or not)."""
    ran(f"GaussianDiffusion.{method}")
    overrides = {"generator": bad}
    if draws and "noise" in engine_arguments(case, method):
        overrides["noise"] = None
    assert_contract_error(call_engine(case, method, **overrides), "generator")


MODEL_MISTAKES = ("none", "int", "string", "numpy", "list", "none_output", "wrong_channels",
                  "wrong_batch", "wrong_spatial", "int_output", "nan_output", "inf_output")


def bad_model(kind: str, model: Callable, data):
    if kind in ("none", "int", "string"):
        return {"none": None, "int": 3, "string": "model"}[kind]
    value = data.draw(st.sampled_from((math.nan, math.inf, -math.inf)), label="value")

    def wrong(x_t, t):
        out = model(x_t, t)
        if kind == "numpy":
            return out.detach().double().numpy()
        if kind == "list":
            return out.tolist()
        if kind == "none_output":
            return None
        if kind == "wrong_channels":  # 2C + 1 is neither C nor 2C
            return torch.cat([out, out, out[:, :1]], dim=1)
        if kind == "wrong_batch":
            return torch.cat([out, out[:1]])
        if kind == "wrong_spatial":
            return out[..., None]
        if kind == "int_output":
            return out.round().to(torch.int64)
        out = out.clone()
        out.reshape(-1)[0] = value if kind == "inf_output" else math.nan
        return out

    return wrong


@pytest.mark.parametrize("method", MODEL_METHODS)
@given(case=cases(), kind=st.sampled_from(MODEL_MISTAKES), data=st.data())
def test_engine_models_outside_the_domain_are_named(method, case, kind, data):
    """A model that is not callable, or returns a non-tensor, an integer tensor, the wrong
    number of channels (C, or 2C with a learned variance), batch or spatial shape, or NaN/inf
    on its first call: 'model' named (the output messages say 'model output')."""
    ran(f"GaussianDiffusion.{method}")
    model = bad_model(kind, case.model, data)
    assert_contract_error(call_engine(case, method, model=model), "model")


SAMPLING_MISTAKES = {
    "shape": ("2,3", None, (0, 1), (2,), (2, -1), (2.0, 1), np.array([2, 1]), (2, True), 6),
    "dtype": (torch.int64, torch.bool, torch.complex64, "float32", np.float32, float),
    "device": ("nope", "cpu:x", 3.5, [], -1, *(("cuda", "cuda:0") if NO_CUDA else ())),
    "eta": (-0.1, 1.5, math.nan, math.inf, "0.5", None, True, torch.tensor(0.5), [0.5]),
}


@pytest.mark.parametrize("method", ("p_sample_loop", "ddim_sample_loop", "ddim_sample"))
@given(case=cases(), data=st.data())
def test_sampling_arguments_outside_the_domain_are_named(method, case, data):
    """The loops' shape, dtype and device (x_T drawn), and DDIM's η outside [0, 1] or not a real
    number: the parameter named."""
    parameters = ("eta",) if method == "ddim_sample" else tuple(
        p for p in SAMPLING_MISTAKES if p != "eta" or method == "ddim_sample_loop")
    parameter = data.draw(st.sampled_from(parameters), label="parameter")
    value = data.draw(st.sampled_from(SAMPLING_MISTAKES[parameter]), label="value")
    ran(f"GaussianDiffusion.{method}")
    overrides = {parameter: value}
    if parameter in ("shape", "dtype", "device"):
        overrides["noise"] = None
    assert_contract_error(call_engine(case, method, **overrides), parameter)


CONSTRUCTOR_MISTAKES = {
    "schedule": (1000, "linear", None, 0.02, b"0.1", torch.tensor(0.1, dtype=torch.complex64)),
    "mean_type": ("epsilon", None, 3, "EPS", VarType.LEARNED),
    "var_type": ("fixed", None, 0, "learned_small"),
    "loss_type": ("mse", None, 1.0),
    "decoder": ("exact", None, True),
    "timestep_sampler": ("wrong T", 3, "uniform"),
    "timestep_map": ("wrong length",),
}


@given(T=st.integers(1, 10), data=st.data())
def test_engine_options_inside_their_domain(T, data):
    """The constructor takes a NoiseSchedule or betas (list, numpy, tensor), every option as an
    enum member or its string, and a sampler of T steps; it keeps them."""
    schedule = schedule_of(data.draw(st.sampled_from(("linear", "cosine"))), T)
    given_schedule = data.draw(st.sampled_from(
        (schedule, schedule.beta.tolist(), np.array(schedule.beta),
         torch.from_numpy(np.array(schedule.beta)))), label="schedule")
    options = {name: data.draw(st.sampled_from(tuple(enum) + tuple(m.value for m in enum)))
               for name, enum in (("mean_type", MeanType), ("var_type", VarType),
                                  ("decoder", DecoderType))}
    learned = VarType(options["var_type"]).learned
    options["loss_type"] = data.draw(st.sampled_from(
        [loss for loss in LOSS_TYPES if not (learned and loss == "weighted")]))
    ran("GaussianDiffusion")
    diffusion = GaussianDiffusion(given_schedule, **options,
                                  timestep_sampler=data.draw(st.sampled_from(
                                      (None, UniformSampler(T), LossSecondMomentResampler(T)))))
    assert diffusion.num_steps == T and diffusion.schedule == schedule
    for name, value in options.items():
        assert getattr(diffusion, name).value == getattr(value, "value", value)


@given(T=st.integers(1, 10), data=st.data())
def test_engine_options_outside_their_domain_are_named(T, data):
    """A number or name where a schedule belongs, unknown options, 'weighted' (or, in
    training_losses, 'simple') with a learned variance, a sampler or timestep map for another
    T: the parameter named."""
    parameter = data.draw(st.sampled_from((*CONSTRUCTOR_MISTAKES, "learned+weighted",
                                           "learned+simple")), label="parameter")
    schedule = schedule_of("linear", T)
    ran("GaussianDiffusion")
    if parameter == "learned+weighted":
        assert_contract_error(lambda: GaussianDiffusion(schedule, var_type="learned_range",
                                                        loss_type="weighted"), "loss_type")
        return
    if parameter == "learned+simple":
        ran("GaussianDiffusion.training_losses")
        diffusion = GaussianDiffusion(schedule, var_type="learned", loss_type="simple")
        x0 = on_grid(np.zeros((2, 1)), torch.float32)
        assert_contract_error(lambda: diffusion.training_losses(make_model("learned"), x0),
                              "loss_type")
        return
    value = data.draw(st.sampled_from(CONSTRUCTOR_MISTAKES[parameter]), label="value")
    if isinstance(value, str) and value == "wrong T":
        value = UniformSampler(T + 1)
    elif isinstance(value, str) and value == "wrong length":
        value = TimestepMap(range(T + 1))
    arguments = {"schedule": schedule, parameter: value}
    assert_contract_error(lambda: GaussianDiffusion(**arguments), parameter)


# =============================================================================================
# Known contract violations: the exact failing inputs, for the lead to fix (xfail, strict)
# =============================================================================================

SCHEDULE = NoiseSchedule.linear(4, 1e-3, 0.2)


def violation(reason: str, label: str, call: Callable, *args, names: tuple[str, ...], **kwargs):
    """A call that should raise a ValueError/TypeError naming one of ``names``, and does not."""
    return pytest.param(call, args, kwargs, names, id=label,
                        marks=pytest.mark.xfail(strict=True, reason=reason))


def fixed(reason: str, label: str, call: Callable, *args, names: tuple[str, ...], **kwargs):
    """A violation the fuzzing found and the library has since fixed: now a plain test."""
    return pytest.param(call, args, kwargs, names, id=label)


CDF_NO_CONTRACT = ("standard_normal_cdf/approx_standard_normal_cdf check nothing: a non-tensor "
                   "x fails inside the formula with Python's or torch's message ('bad operand "
                   "type for unary -', 'special_erfc(): argument 'input' must be Tensor, not "
                   "float'), which does not name x")
SPACE_TYPES = ("space_timesteps and GaussianDiffusion.respaced: section_counts that is neither a "
               "string, an int nor an iterable fails in list() with Python's \"'NoneType' "
               "object is not iterable\"")
SPACE_STEPS = ("space_timesteps does not check num_steps: '10' and None fail in divmod(), "
               "(10.5, [2]) returns [0, 10] (10 is beyond T), (True, [1]) returns [0]")
RESPACED_BETAS = ("respaced_betas checks neither schedule (an array of betas fails with "
                  "AttributeError 'num_steps') nor the type of use_timesteps (None, 3: \"not "
                  "iterable\"; ['a']: int()'s 'invalid literal'; 1.7 is truncated to 1, True "
                  "read as 1)")
DEVICE = ("device is passed to torch unchecked: 'nope' gives torch's RuntimeError, 'cuda' "
          "without CUDA torch's AssertionError, 3.5 torch's TypeError (to_torch); in "
          "sample() device=3.5 silently returns float64 timesteps (Tensor.to(3.5))")
UPDATE = ("LossSecondMomentResampler.update_with_losses checks neither type nor values: float t "
          "fails with numpy's IndexError, a list or None with AttributeError 'detach'; NaN and "
          "inf losses are recorded silently, after which probabilities() falls back to uniform "
          "(the sum of the root mean squares is not > 0)")
STATE = ("LossSecondMomentResampler.load_state_dict({}) fails with KeyError 'history', None "
         "with \"'NoneType' object is not subscriptable\"")
TIMESTEP_MAP = ("TimestepMap checks nothing (['a']: int()'s ValueError, None: 'not iterable'; "
                "[-1] and [1.5] are accepted: a respaced diffusion then calls the model at "
                "t = -1, or at 1 for 1.5) and GaussianDiffusion(timestep_map=3) fails with "
                "len()'s TypeError, while a list is accepted and fails later with "
                "AttributeError 'wrap'")
ALPHA_BAR_VALUES = ("betas_from_alpha_bar: an alpha_bar_fn returning None, a string, a complex "
                    "number or a 1-element array fails in float() with a message that does not "
                    "name alpha_bar_fn")
FLAGS = ("boolean flags are not checked: clip_denoised='False' (a string from a config file) "
         "clips, exact='False' takes the exact path")
COEFFICIENTS = "GaussianDiffusion.coefficients(None) fails with AttributeError 'device'"

KNOWN_VIOLATIONS = [
    *(fixed(CDF_NO_CONTRACT, f"{cdf.__name__}({bad!r})", cdf, bad, names=("x",))
      for cdf in (standard_normal_cdf, approx_standard_normal_cdf)
      for bad in (None, "0", 0.5, [0.1], np.array([0.5]))),
    *(fixed(SPACE_TYPES, f"space_timesteps(10, {bad!r})", space_timesteps, 10, bad,
                names=("section_counts",)) for bad in (None, 2.5)),
    *(fixed(SPACE_TYPES, f"respaced({bad!r})", GaussianDiffusion(SCHEDULE).respaced, bad,
                names=("section_counts",)) for bad in (None, 2.5)),
    *(fixed(SPACE_STEPS, f"space_timesteps({bad!r}, {counts})", space_timesteps, bad,
                counts, names=("num_steps", "T"))
      for bad, counts in (("10", [2]), (10.5, [2]), (True, [1]), (None, [2]))),
    fixed(RESPACED_BETAS, "respaced_betas(numpy betas, [0, 1])", respaced_betas,
              np.array(SCHEDULE.beta), [0, 1], names=("schedule",)),
    *(fixed(RESPACED_BETAS, f"respaced_betas(schedule, {bad!r})", respaced_betas, SCHEDULE,
                bad, names=("use_timesteps",)) for bad in (None, 3, ["a"], [0, 1.7], [True])),
    *(fixed(DEVICE, f"to_torch({bad!r})", SCHEDULE.to_torch, bad, names=("device",))
      for bad in ("nope", 3.5, *(("cuda",) if NO_CUDA else ()))),
    *(fixed(DEVICE, f"{cls.__name__}.sample(2, {bad!r})", cls(4).sample, 2, bad,
                names=("device",))
      for cls in (UniformSampler, LossSecondMomentResampler) for bad in ("nope", 3.5)),
    fixed(UPDATE, "update_with_losses(float t)", LossSecondMomentResampler(4)
              .update_with_losses, torch.tensor([0.5]), torch.ones(1), names=("t",)),
    fixed(UPDATE, "update_with_losses(list t)", LossSecondMomentResampler(4)
              .update_with_losses, [0], torch.ones(1), names=("t",)),
    fixed(UPDATE, "update_with_losses(losses=None)", LossSecondMomentResampler(4)
              .update_with_losses, torch.tensor([0]), None, names=("losses",)),
    *(fixed(UPDATE, f"update_with_losses(losses=[{bad}])", LossSecondMomentResampler(2, 1)
                .update_with_losses, torch.tensor([0, 1]), torch.tensor([bad, 1.0]),
                names=("losses",)) for bad in (math.nan, math.inf)),
    *(fixed(STATE, f"load_state_dict({bad!r})", LossSecondMomentResampler(4).load_state_dict,
                bad, names=("state",)) for bad in ({}, None)),
    *(fixed(TIMESTEP_MAP, f"TimestepMap({bad!r})", TimestepMap, bad,
                names=("use_timesteps", "timesteps")) for bad in (["a"], None, [-1], [1.5])),
    *(fixed(TIMESTEP_MAP, f"GaussianDiffusion(timestep_map={bad!r})", GaussianDiffusion,
                SCHEDULE, timestep_map=bad, names=("timestep_map",)) for bad in (3, [0, 1, 2, 3])),
    *(fixed(ALPHA_BAR_VALUES, f"betas_from_alpha_bar(u -> {label})", betas_from_alpha_bar,
                fn, 4, names=("alpha_bar_fn",))
      for fn, label in ((lambda u: None, "None"), (lambda u: "a", "'a'"), (lambda u: 1j, "1j"),
                        (lambda u: np.array([1 - u / 2]), "array([1 - u/2])"))),
    fixed(FLAGS, "p_mean_variance(clip_denoised='False')",
              GaussianDiffusion(SCHEDULE).p_mean_variance, make_model("fixed_small"),
              torch.zeros(1, 1), 0, "False", names=("clip_denoised",)),
    fixed(FLAGS, "decoder(exact='False')", discretized_gaussian_log_likelihood,
              torch.zeros(1), torch.zeros(1), 0.0, exact="False", names=("exact",)),
    fixed(COEFFICIENTS, "coefficients(None)", GaussianDiffusion(SCHEDULE).coefficients, None,
              names=("like", "x")),
]


@pytest.mark.parametrize(("call", "args", "kwargs", "names"), KNOWN_VIOLATIONS)
def test_known_contract_violation(call, args, kwargs, names):
    """Out-of-domain input that does not get the documented error (each reason says what
    happens instead)."""
    assert_contract_error(lambda: call(*args, **kwargs), *names)


def _finite_or_named(call: Callable[[], torch.Tensor], *names: str) -> None:
    """``call()`` is finite, or (a narrower documented domain) the contract error naming one of
    ``names``; never inf/NaN."""
    try:
        result = call()
    except (ValueError, TypeError):
        assert_contract_error(call, *names)
        return
    assert_finite(result, "result")


def _engine_overflow(dtype: torch.dtype) -> None:
    diffusion = GaussianDiffusion(schedule_of("cosine", 10))
    x_t = torch.full((1, 1), torch.finfo(dtype).max / 2, dtype=dtype)
    _finite_or_named(lambda: diffusion.x0_from_eps(x_t, 9, torch.zeros_like(x_t)), "x_t")


def _engine_overflow_float16_1000() -> None:
    diffusion = GaussianDiffusion(schedule_of("cosine", 10))
    x_t = torch.full((1, 1), 1000.0, dtype=torch.float16)
    _finite_or_named(lambda: diffusion.x0_from_eps(x_t, 9, torch.zeros_like(x_t)), "x_t")


def _subnormal_betas(betas: list[float]) -> None:
    """Subnormal betas are outside the documented domain now (β ≥ the smallest normal float64):
    the error names betas; from there up every array is finite, without a numpy warning."""
    assert_contract_error(lambda: NoiseSchedule(betas), "betas")
    with np.errstate(over="raise", divide="raise", invalid="raise"):  # underflow is fine
        for low in ([TINY, TINY], [TINY, 1.0], [1.0, TINY], [TINY, 0.5, TINY], [TINY] * 5):
            assert_schedule_invariants(NoiseSchedule(low), low)


def _subnormal_ends() -> None:
    """A subnormal end or max_beta is named by the builders (it would make subnormal betas)."""
    assert_contract_error(lambda: linear_betas(10, 5e-324, 0.02), "beta_start")
    assert_contract_error(lambda: cosine_betas(10, max_beta=1e-310), "max_beta")
    assert linear_betas(2, TINY, TINY)[0] == TINY


def _huge_finite_loss() -> None:
    for big in (1e200, float(np.finfo(np.float64).max)):
        sampler = LossSecondMomentResampler(2, 1)
        with np.errstate(over="raise", divide="raise", invalid="raise"):
            sampler.update_with_losses(torch.tensor([0, 1]), torch.tensor([big, 1.0],
                                                                         dtype=torch.float64))
            probabilities = sampler.probabilities()
        # p ∝ (L, 1) mixed with u = 0.001 of uniform: 1 - u/2 and u/2 (within float64 rounding)
        np.testing.assert_allclose(probabilities, [1 - 0.0005, 0.0005], rtol=1e-12)
        t, weights = sampler.sample(2, generator=generator())
        assert_finite(weights, "weights")


def _decoder_float16_beyond_its_range() -> None:
    """float16 log p below -65504 is -inf, the float32 value correctly rounded, as documented
    (the result dtype is the input's); where the float32 value fits, the float16 one is finite."""
    doc = " ".join(discretized_gaussian_log_likelihood.__doc__.split())
    assert "representable in the result dtype" in doc and "-65504" in doc
    x = torch.tensor([-1.0, -1.0, 1.0], dtype=torch.float16)
    means = torch.tensor([2.0, -1.0 + 300 * math.exp(-5.0), 0.5], dtype=torch.float16)
    log_p = discretized_gaussian_log_likelihood(x, means, -5.0, exact=True)
    reference = discretized_gaussian_log_likelihood(x.float(), means.float(), -5.0, exact=True)
    assert reference[0] < -65504 and bool(torch.isfinite(reference).all())  # ≈ -99,000
    assert torch.equal(log_p, reference.to(torch.float16))
    assert log_p[0] == -math.inf and bool(torch.isfinite(log_p[1:]).all())


def _cosine_with_a_large_offset() -> None:
    """s up to 1e100: valid betas (tending to 1 - ((T-t)/(T-t+1))² as s grows); beyond, the
    error names s."""
    for offset in (1e15, 1e100):
        betas = cosine_betas(10, s=offset)
        assert np.all((betas > 0) & (betas <= 0.999))
        limit = 1 - ((10 - np.arange(1, 10)) / (11 - np.arange(1, 10))) ** 2
        np.testing.assert_allclose(betas[:-1], limit, rtol=1e-12)
        assert_schedule_invariants(NoiseSchedule(betas), betas)
    assert_contract_error(lambda: cosine_betas(10, s=1e101), "s")


# x0_from_eps overflow, fixed: x̂_0 = (x_t - √(1-ᾱ_t) ε)/√ᾱ_t overflowed to inf without an
# error for |x_t| above √ᾱ_t times the dtype's largest value (float16: x_t = 1000 at t = T-1 of
# NoiseSchedule.cosine(10), 1/√ᾱ_T = 204). The true value does not fit the dtype, so the facade's
# conversions now check the result (with check_values) and raise naming x_t.
SUBNORMAL = ("fixed: betas are now documented and checked as ≥ the smallest normal float64; "
             "subnormal betas gave log β̃ = -inf ([5e-324, 5e-324]) or snr = inf ([1e-310, "
             "1e-310]) with a numpy RuntimeWarning")
HUGE_LOSS = ("fixed: LossSecondMomentResampler squared finite losses above 1.3e154 in "
             "probabilities(): overflow, NaN probabilities, torch.multinomial's RuntimeError")
DECODER_FLOAT16 = ("fixed (documentation): the decoder promised a finite value wherever log p "
                   "is 'representable in the working dtype' (float32 for half inputs) but "
                   "returns it in float16, where log p < -65504 is -inf; it now promises "
                   "'representable in the result dtype' and says where float16 ends")
COSINE_OFFSET = ("fixed: cosine_betas(s=1e15) raised 'alpha_bar_fn must be strictly "
                 "decreasing' (cos near π/2 flat in float64); ᾱ is now sin²((1-u)/(1+s)·π/2) "
                 "and s is documented and checked in [0, 1e100]")

IN_DOMAIN_VIOLATIONS = [
    *(pytest.param(functools.partial(_engine_overflow, dtype), id=f"x0_from_eps(max/2, {dtype})")
      for dtype in FLOAT_DTYPES),
    pytest.param(_engine_overflow_float16_1000, id="x0_from_eps(1000, float16)"),
    *(pytest.param(functools.partial(_subnormal_betas, betas), id=f"NoiseSchedule({betas})")
      for betas in ([5e-324, 5e-324], [1e-310, 1e-310])),
    pytest.param(_subnormal_ends, id="linear_betas/cosine_betas(subnormal end)"),
    pytest.param(_huge_finite_loss, id="LossSecondMomentResampler(loss=1e200)"),
    pytest.param(_decoder_float16_beyond_its_range, id="decoder(-1, 2, -5, float16)"),
    pytest.param(_cosine_with_a_large_offset, id="cosine_betas(10, s=1e15)"),
]


@pytest.mark.parametrize("check", IN_DOMAIN_VIOLATIONS)
def test_known_in_domain_violation(check):
    """Input inside the documented domain that gave inf/NaN or a misleading error (the fixed
    ones now plain tests; a fix that narrowed the domain asserts the error naming the
    parameter)."""
    check()


def test_every_public_entry_point_is_listed():
    """ENTRY_POINTS and NOT_FUZZED together name every public function, class and method."""
    public = set()
    for name in ddpm_math.__all__:
        obj = getattr(ddpm_math, name)
        public.add(name)
        if isinstance(obj, type) and not issubclass(obj, Enum) and name not in NOT_FUZZED:
            public.update(f"{name}.{attr}" for attr in dir(obj)
                          if not attr.startswith("_") and callable(getattr(obj, attr)))
    assert public - set(ENTRY_POINTS) - set(NOT_FUZZED) == set()
    assert set(ENTRY_POINTS) - public == set()
