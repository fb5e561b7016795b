"""mpmath oracle (derived eq. 12 weight) against the float64 reference, and what L_simple drops."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ddpm_math import NoiseSchedule
from ddpm_math.reference import mp
from ddpm_math.reference import vlb as ref
from ddpm_math.testing.strategies import schedules, timesteps
from ddpm_math.testing.tolerances import TOLERANCES, assert_close

TOL = TOLERANCES["mpmath_vs_float64"]


@given(schedules(), st.data(), st.sampled_from(["beta", "beta_tilde"]))
def test_eps_weight(schedule, data, variance):
    t = timesteps(data, schedule.num_steps, batch=3)
    if variance == "beta_tilde":
        t = np.maximum(t, 1)  # β̃_1 = 0: the weight is infinite at index 0
    assert_close(ref.eps_weight(schedule, t, variance), mp.eps_weight(schedule, t, variance), TOL)


def test_eps_weight_rejects_dropped_alpha():
    schedule = NoiseSchedule.linear(1000)  # DDPM §4
    t = np.array([0, 10, 999])
    wrong = schedule.beta[t] / (2 * schedule.one_minus_alpha_bar[t])  # α_t dropped
    with pytest.raises(AssertionError):
        assert_close(wrong, mp.eps_weight(schedule, t, "beta"), TOL)


def test_l_simple_downweights_small_t():
    """DDPM §3.4: relative to the bound (σ_t² = β_t, linear schedule, T = 1000), L_simple's unit
    weight down-weights small t: λ_t at the first 10 steps exceeds λ_t at every t ≥ 100."""
    schedule = NoiseSchedule.linear(1000)
    weight = mp.eps_weight(schedule, np.arange(1000), "beta")
    assert weight[:10].min() > weight[100:].max()
    # λ_1 = β_1/(2 α_1 β_1) = 1/(2 α_1) ≈ 0.5 (from eq. 12 with ᾱ_1 = α_1, β_1 = 1e-4)
    assert abs(weight[0] - 0.5 / (1 - 1e-4)) < 1e-15
