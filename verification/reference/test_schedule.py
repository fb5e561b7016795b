"""mpmath oracles (derived cosine relations, solved rescale map) against ddpm_math.schedules."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ddpm_math import cosine_betas, linear_betas, rescale_zero_terminal_snr
from ddpm_math.reference import mp
from ddpm_math.testing.strategies import num_steps
from ddpm_math.testing.tolerances import TOLERANCES, assert_close

TOL = TOLERANCES["mpmath_vs_float64"]


@given(num_steps(2, 40), st.floats(0.0, 0.1))
def test_cosine_betas(T, s):
    """Unclipped steps agree; β is a ratio of cos² values, accurate to a few ulps of float64.

    The condition of 1 - f(t/T)/f((t-1)/T) is about 1/β_t (cancellation), so the tolerance is
    scaled by it.
    """
    expected = mp.cosine_betas(T, s)
    actual = cosine_betas(T, s=s)
    unclipped = expected < 0.999
    assert_close(actual[unclipped], expected[unclipped],
                 TOL.scaled(float(np.max(1.0 / expected[unclipped]))))


def test_cosine_betas_reject_unnormalised_alpha_bar():
    """β_t = 1 - f(t/T) (ᾱ_t read as β's complement) fails the same comparison."""
    T, s = 10, 0.008  # Nichol & Dhariwal's offset
    f = lambda u: np.cos((u + s) / (1 + s) * np.pi / 2) ** 2  # noqa: E731
    wrong = 1 - f(np.arange(1, T + 1) / T)
    with pytest.raises(AssertionError):
        assert_close(wrong[:-1], mp.cosine_betas(T, s)[:-1], TOL)


@given(num_steps(2, 30), st.floats(1e-4, 1e-2), st.floats(0.02, 0.3))
def test_rescale_zero_terminal_snr(T, beta_start, beta_end):
    betas = linear_betas(T, beta_start, beta_end)
    expected = mp.rescale_zero_terminal_snr(betas)
    # the rescale divides by √ᾱ_1 - √ᾱ_T: scale by its inverse (the map's condition number)
    sqrt_alpha_bar = np.sqrt(np.cumprod(1 - betas))
    scale = max(1.0, 1.0 / (sqrt_alpha_bar[0] - sqrt_alpha_bar[-1]))
    assert_close(rescale_zero_terminal_snr(betas), expected, TOL.scaled(scale))
    assert expected[-1] == 1.0
    assert_close(expected[0], betas[0], TOL)


def test_rescale_rejects_shift_without_scale():
    betas = linear_betas(10, 1e-3, 0.2)  # a short DDPM-like linear schedule
    sqrt_alpha_bar = np.sqrt(np.cumprod(1 - betas))
    shifted = (sqrt_alpha_bar - sqrt_alpha_bar[-1]) ** 2
    wrong = 1 - shifted / np.concatenate(([1.0], shifted[:-1]))
    with pytest.raises(AssertionError):
        assert_close(wrong, mp.rescale_zero_terminal_snr(betas), TOL)
