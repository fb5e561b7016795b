"""Schedule builders and NoiseSchedule: bad input gets a clear error naming the parameter and
the allowed range; the object is immutable; nothing silently produces NaN."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest

import ddpm_math
from ddpm_math import (
    NoiseSchedule,
    betas_from_alpha_bar,
    cosine_betas,
    linear_betas,
    quadratic_betas,
    rescale_zero_terminal_snr,
    sqrt_linear_betas,
)

BUILDERS = [linear_betas, quadratic_betas, sqrt_linear_betas, cosine_betas]


@pytest.mark.parametrize("builder", BUILDERS)
@pytest.mark.parametrize("T", [0, -3])
def test_T_below_one_is_a_value_error(builder, T):
    with pytest.raises(ValueError, match=r"T must be an integer >= 1"):
        builder(T)


@pytest.mark.parametrize("builder", BUILDERS)
@pytest.mark.parametrize("T", [2.5, 10.0, "10", True, None])
def test_T_not_an_integer_is_a_type_error(builder, T):
    with pytest.raises(TypeError, match=r"T must be an integer >= 1"):
        builder(T)


def test_numpy_integer_T_is_accepted():
    assert linear_betas(np.int64(5)).shape == (5,)


@pytest.mark.parametrize("builder", [linear_betas, quadratic_betas, sqrt_linear_betas])
@pytest.mark.parametrize(
    "kwargs, name",
    [({"beta_start": 0.0}, "beta_start"), ({"beta_start": -1e-4}, "beta_start"),
     ({"beta_end": 1.5}, "beta_end"), ({"beta_end": math.nan}, "beta_end")],
)
def test_beta_ends_outside_unit_interval(builder, kwargs, name):
    with pytest.raises(ValueError, match=rf"{name} must lie in \(0, 1\]"):
        builder(10, **kwargs)


def test_rescale_to_1000_that_reaches_one_is_refused():
    """T = 10: the ends become 1e-2 and 2.0; β ≥ 1 would destroy the schedule."""
    with pytest.raises(ValueError, match=r"rescale_to_1000=True .* below 1"):
        linear_betas(10, rescale_to_1000=True)
    assert linear_betas(100, rescale_to_1000=True)[-1] == pytest.approx(0.2)


@pytest.mark.parametrize("max_beta", [0.0, -0.5, 1.01, math.inf])
def test_max_beta_outside_unit_interval(max_beta):
    with pytest.raises(ValueError, match=r"max_beta must lie in \(0, 1\]"):
        cosine_betas(10, max_beta=max_beta)
    with pytest.raises(ValueError, match=r"max_beta must lie in \(0, 1\]"):
        betas_from_alpha_bar(lambda u: 1 - u, 10, max_beta=max_beta)


@pytest.mark.parametrize("s", [-0.001, math.nan, math.inf])
def test_cosine_offset_must_be_nonnegative(s):
    with pytest.raises(ValueError, match=r"s \(the cosine schedule offset\) must be .* >= 0"):
        cosine_betas(10, s=s)


def test_alpha_bar_fn_that_does_not_decrease_is_refused():
    # ᾱ on the grid u = t/10: 1, 0.9, 0.8, 0.75, 0.75: flat from step 3 to step 4.
    with pytest.raises(ValueError, match=r"strictly decreasing .* gives beta_4 = 0.0 <= 0"):
        betas_from_alpha_bar(lambda u: max(1.0 - u, 0.75), 10)
    with pytest.raises(ValueError, match=r"alpha_bar_fn must return finite values"):
        betas_from_alpha_bar(lambda u: math.nan, 10)
    with pytest.raises(TypeError, match=r"alpha_bar_fn must be callable"):
        betas_from_alpha_bar(0.5, 10)


@pytest.mark.parametrize(
    "betas, message",
    [
        ([0.1, 0.0, 0.2], r"betas must lie in \(0, 1\].*betas\[1\] = 0.0"),
        ([0.1, 1.5], r"betas\[1\] = 1.5"),
        ([0.1, -0.2], r"betas\[1\] = -0.2"),
        ([0.1, math.nan], r"betas\[1\] = nan"),
        ([0.1, math.inf], r"betas\[1\] = inf"),
        ([[0.1, 0.2]], r"betas must be 1-D .* shape \(1, 2\)"),
        (0.1, r"betas must be 1-D"),
        ([], r"at least one step"),
    ],
)
def test_bad_betas_are_refused(betas, message):
    with pytest.raises(ValueError, match=message):
        NoiseSchedule(betas)


def test_non_numeric_betas_are_a_type_error():
    with pytest.raises(TypeError, match=r"betas must be a 1-D array of real numbers"):
        NoiseSchedule(["a", "b"])


def test_zero_terminal_snr_needs_two_steps():
    with pytest.raises(ValueError, match=r"at least 2 steps"):
        rescale_zero_terminal_snr([0.1])


def test_schedule_is_immutable():
    schedule = NoiseSchedule.linear(10)
    with pytest.raises(ValueError, match="read-only"):
        schedule.alpha_bar[0] = 0.5
    with pytest.raises(AttributeError, match="immutable"):
        schedule.beta = np.ones(10)
    source = np.full(4, 0.1)
    copy = NoiseSchedule(source)
    source[0] = 0.9  # the schedule copied its input
    assert copy.beta[0] == 0.1


def test_schedule_value_semantics():
    a, b = NoiseSchedule.linear(10), NoiseSchedule(linear_betas(10))
    assert a == b and hash(a) == hash(b) and a != NoiseSchedule.cosine(10)
    restored = pickle.loads(pickle.dumps(a))
    assert restored == a and np.array_equal(restored.beta_tilde, a.beta_tilde)
    assert len(a) == a.num_steps == 10
    assert "T=10" in repr(a)
    with pytest.raises(AttributeError, match="no attribute 'alphas_cumprod'"):
        _ = a.alphas_cumprod


def test_single_step_schedule_is_finite():
    schedule = NoiseSchedule([0.3])
    for name in ("alpha_bar", "beta_tilde", "log_beta_tilde_clipped", "mu_tilde_coef_x0", "snr"):
        assert np.all(np.isfinite(getattr(schedule, name))), name
    assert schedule.log_beta_tilde_clipped[0] == np.log(0.3)


def test_terminal_beta_of_one_is_allowed_and_finite():
    schedule = NoiseSchedule([0.1, 0.5, 1.0])
    assert schedule.alpha_bar[-1] == 0.0 and schedule.snr[-1] == 0.0
    assert all(np.all(np.isfinite(getattr(schedule, n))) for n in dir(schedule)
               if isinstance(getattr(schedule, n, None), np.ndarray))


def test_to_torch_rejects_integer_dtype():
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError, match="dtype must be a floating torch.dtype"):
        NoiseSchedule.linear(10).to_torch(dtype=torch.int64)


def test_public_surface():
    for name in ddpm_math.__all__:
        assert hasattr(ddpm_math, name), name
