"""The reference layer and the mpmath oracles read nothing from a schedule but its β.

Finding (4) of issue 11: reference/posterior.py used to read ``NoiseSchedule.alpha_bar_prev``, so
a wrong derived array reached both sides of a torch-versus-reference comparison. Here every
reference kernel and every oracle is called with an object that holds the betas and nothing
else (any other attribute is an AttributeError), checked against mpmath from those betas only,
and a schedule whose derived arrays are wrong is shown to fail the torch-versus-reference
check that it used to pass.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ddpm_math.diffusion import posterior as kernels
from ddpm_math.reference import forward, mp, parameterization, posterior, vlb
from ddpm_math.reference.schedule import step_tables
from ddpm_math.schedules import NoiseSchedule
from ddpm_math.testing.tolerances import TOLERANCES, assert_close

TOL = TOLERANCES["mpmath_vs_float64"]


class BetasOnly:
    """Holds ``beta`` and nothing else: reading any derived array raises AttributeError."""

    __slots__ = ("beta",)

    def __init__(self, beta) -> None:
        self.beta = np.array(beta, dtype=np.float64)


BETAS = np.linspace(1e-3, 0.2, 12)  # linear, T = 12: ᾱ_T ≈ 0.26
T_INDEX = np.array([0, 1, 5, 11])
RNG = np.random.default_rng(11)
X0, X_T, EPS = (RNG.normal(size=(4, 3)) for _ in range(3))

#: name → (reference call, oracle call); each takes the schedule object.
PAIRS = {
    "q_sample": (lambda s: forward.q_sample(s, X0, T_INDEX, EPS),
                 lambda s: mp.q_sample(s, X0, T_INDEX, EPS)),
    "q_mean_variance": (lambda s: forward.q_mean_variance(s, X0, T_INDEX),
                        lambda s: mp.q_mean_variance(s, X0, T_INDEX)),
    "mu_tilde": (lambda s: posterior.mu_tilde(s, X0, X_T, T_INDEX),
                 lambda s: mp.mu_tilde(s, X0, X_T, T_INDEX)),
    "q_posterior": (lambda s: posterior.q_posterior(s, X0, X_T, T_INDEX),
                    lambda s: mp.q_posterior(s, X0, X_T, T_INDEX)),
    "mu_tilde_from_eps": (lambda s: posterior.mu_tilde_from_eps(s, X_T, T_INDEX, EPS),
                          lambda s: mp.mu_tilde_from_eps(s, X_T, T_INDEX, EPS)),
    "x0_from_eps": (lambda s: parameterization.x0_from_eps(s, X_T, T_INDEX, EPS),
                    lambda s: mp.x0_from_eps(s, X_T, T_INDEX, EPS)),
    "eps_from_x0": (lambda s: parameterization.eps_from_x0(s, X_T, T_INDEX, X0),
                    lambda s: mp.eps_from_x0(s, X_T, T_INDEX, X0)),
    "v_from_x0_eps": (lambda s: parameterization.v_from_x0_eps(s, X0, T_INDEX, EPS),
                      lambda s: mp.v_from_x0_eps(s, X0, T_INDEX, EPS)),
    "x0_from_v": (lambda s: parameterization.x0_from_v(s, X_T, T_INDEX, EPS),
                  lambda s: mp.x0_from_v(s, X_T, T_INDEX, EPS)),
    "eps_from_v": (lambda s: parameterization.eps_from_v(s, X_T, T_INDEX, EPS),
                   lambda s: mp.eps_from_v(s, X_T, T_INDEX, EPS)),
    "score_from_eps": (lambda s: parameterization.score_from_eps(s, T_INDEX, EPS),
                       lambda s: mp.score_from_eps(s, T_INDEX, EPS)),
    "x0_from_xprev": (lambda s: parameterization.x0_from_xprev(s, X_T[1:], T_INDEX[1:], X0[1:]),
                      lambda s: mp.x0_from_xprev(s, X_T[1:], T_INDEX[1:], X0[1:])),
    "eps_weight": (lambda s: vlb.eps_weight(s, T_INDEX, "beta"),
                   lambda s: mp.eps_weight(s, T_INDEX, "beta")),
}


def _flat(value) -> list[np.ndarray]:
    return [np.asarray(v) for v in value] if isinstance(value, tuple) else [np.asarray(value)]


def _condition(value) -> float:
    """1 + the largest magnitude: x̂_0 at large t is amplified by 1/√ᾱ_t."""
    return 1.0 + max(float(np.max(np.abs(v))) for v in _flat(value))


@pytest.mark.parametrize("name", sorted(PAIRS))
def test_reference_from_betas_alone_agrees_with_mpmath_from_betas_alone(name):
    """β → mpmath (50 digits) and β → float64 reference meet, neither touching a derived array."""
    reference_fn, oracle_fn = PAIRS[name]
    betas_only = BetasOnly(BETAS)
    got, want = reference_fn(betas_only), oracle_fn(betas_only)
    for g, w in zip(_flat(got), _flat(want), strict=True):
        assert_close(np.broadcast_to(g, w.shape), w, TOL.scaled(10 * _condition(want)))
    # the same numbers as with the full NoiseSchedule: the reference reads only its β
    for g, s in zip(_flat(got), _flat(reference_fn(NoiseSchedule(BETAS))), strict=True):
        np.testing.assert_array_equal(g, s)


def test_betas_only_has_no_derived_arrays():
    """The guard itself: reading a derived array from BetasOnly raises."""
    with pytest.raises(AttributeError):
        BetasOnly(BETAS).alpha_bar_prev  # noqa: B018


def test_step_tables_from_betas_match_mpmath():
    """ᾱ_t, ᾱ_{t-1}, 1-ᾱ_t of the reference's own tables against the 50-digit products."""
    tables = step_tables(BetasOnly(BETAS))
    rows = mp.step_values(BetasOnly(BETAS))
    assert_close(tables.alpha_bar, np.array([float(r[3] ** 2) for r in rows]), TOL)
    assert_close(tables.alpha_bar_prev, np.array([float(r[2] ** 2) for r in rows]), TOL)
    assert_close(tables.one_minus_alpha_bar, np.array([float(r[4]) for r in rows]), TOL)
    assert tables.alpha_bar_prev[0] == 1.0 and tables.beta_tilde[0] == 0.0


def _schedule_with_shifted_alpha_bar_prev() -> NoiseSchedule:
    """A NoiseSchedule whose ᾱ_{t-1} (and the μ̃ coefficient built on it) holds ᾱ_t instead:
    the shifted-index bug, planted in the derived arrays only (β is right)."""
    good = NoiseSchedule(BETAS)
    arrays = {name: np.array(getattr(good, name)) for name in good._arrays}
    arrays["alpha_bar_prev"] = arrays["alpha_bar"].copy()
    arrays["mu_tilde_coef_x0"] = (np.sqrt(arrays["alpha_bar_prev"]) * arrays["beta"]
                                  / arrays["one_minus_alpha_bar"])
    bad = object.__new__(NoiseSchedule)
    object.__setattr__(bad, "_arrays", arrays)
    object.__setattr__(bad, "_torch_cache", {})
    return bad


def test_a_wrong_alpha_bar_prev_no_longer_reaches_both_sides():
    """The torch posterior of a schedule with a wrong ᾱ_{t-1} now disagrees with the reference
    called on the same schedule; a reference that read ``alpha_bar_prev`` agreed with it."""
    bad = _schedule_with_shifted_alpha_bar_prev()
    t = torch.from_numpy(T_INDEX)
    torch_mean = kernels.mu_tilde(bad.to_torch(), torch.from_numpy(X0), torch.from_numpy(X_T), t)
    reference_mean = posterior.mu_tilde(bad, X0, X_T, T_INDEX)
    assert not np.allclose(torch_mean.numpy(), reference_mean, rtol=1e-6)
    # the old, dependent reference: reads the planted array and so agrees with the bug
    coef_x0 = np.sqrt(bad.alpha_bar_prev[T_INDEX])[:, None] * bad.beta[T_INDEX][:, None] / (
        bad.one_minus_alpha_bar[T_INDEX][:, None])
    coef_xt = bad.mu_tilde_coef_xt[T_INDEX][:, None]
    assert_close(torch_mean, coef_x0 * X0 + coef_xt * X_T, TOLERANCES["float64"])
