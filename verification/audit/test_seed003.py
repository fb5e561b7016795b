"""Seed 003: verdicts pinned; the counterexamples re-computed in float64 numpy / scipy."""

from __future__ import annotations

from collections import Counter

import numpy as np
from scipy import integrate, stats

from ddpm_math.symbolic.claim_audit import Verdict
from verification.audit import seed003_bound

H, HI, E, SLIP, CARRIED = (Verdict.HOLDS, Verdict.HOLDS_IF, Verdict.ERROR, Verdict.SLIP,
                           Verdict.CARRIED)
EXPECTED_FINDINGS = [
    ("24", HI), ("30", HI), ("43", E), ("43", E), ("43", E), ("67", SLIP), ("68", SLIP),
    ("80", E), ("81", CARRIED), ("108", HI), ("135", E), ("149", HI), ("151", SLIP),
    ("155", HI), ("157", E), ("163", E), ("168", E), ("190", HI), ("197", E), ("211", HI),
]


def test_verdicts_are_pinned():
    claims = seed003_bound.LEDGER.claims
    assert [(c.line, c.verdict) for c in claims if c.verdict is not H] == EXPECTED_FINDINGS
    assert Counter(c.verdict for c in claims)[H] == 62


def test_note_cosine_beta_is_negative_near_T_float64():
    """Seed 003 line 43 at T = 1000 in float64: ᾱ_992 ≈ 0 and β_t < 0 for t ≥ 994."""
    t = np.arange(0, 1001)
    alpha_bar = np.cos(np.pi / 2 * (t / 1000 + 0.008)) ** 2 / np.cos(0.008 * np.pi / 2) ** 2
    assert alpha_bar[992] < 1e-30
    beta = 1 - alpha_bar[994:] / alpha_bar[993:-1]
    assert np.all(beta < 0)
    s = 0.008
    true = np.cos((t / 1000 + s) / (1 + s) * np.pi / 2) ** 2
    true_beta = 1 - true[1:] / true[:-1]
    assert np.all(true_beta[:-1] > 0) and np.isclose(true_beta[-1], 1)  # needs the clip


def test_jensen_with_a_concave_function():
    x = np.array([-1.0, 1.0])
    f = lambda v: -v**2  # noqa: E731
    assert f(x.mean()) > f(x).mean()
    g = lambda v: -np.log(v)  # noqa: E731
    y = np.array([0.5, 2.0])
    assert g(y.mean()) <= g(y).mean()


def test_minimising_the_bound_raises_the_nll_monte_carlo():
    """Line 157/163: E[L] and E[-log p_θ(x_0)] at θ = √1.5 and θ = 2√2/3 by Monte-Carlo with
    common random numbers (x_0 ~ N(0, 2), α_1 = s = ½); z ≥ 5 on the differences."""
    rng = np.random.default_rng(0)
    x0 = rng.normal(0, np.sqrt(2), 400_000)
    x1 = np.sqrt(0.5) * x0 + np.sqrt(0.5) * rng.standard_normal(x0.size)

    def bound(theta):
        return (stats.norm.logpdf(x1, np.sqrt(0.5) * x0, np.sqrt(0.5)) - stats.norm.logpdf(x1)
                - stats.norm.logpdf(x0, theta * x1, np.sqrt(0.5)))

    def nll(theta):
        return -stats.norm.logpdf(x0, 0, np.sqrt(theta**2 + 0.5))
    a, b = np.sqrt(1.5), 2 * np.sqrt(2) / 3
    d_bound, d_nll = bound(b) - bound(a), nll(b) - nll(a)
    assert d_bound.mean() < -5 * d_bound.std() / np.sqrt(x0.size)
    assert d_nll.mean() > 5 * d_nll.std() / np.sqrt(x0.size)


def test_euler_lagrange_counterexample_scipy():
    """J[sin(πx/4)] = ∫_0^4 (y'² - y²) dx < 0 = J[0], although y = 0 solves y'' + y = 0."""
    value, _ = integrate.quad(lambda x: (np.pi / 4 * np.cos(np.pi * x / 4)) ** 2
                              - np.sin(np.pi * x / 4) ** 2, 0, 4)
    assert np.isclose(value, np.pi**2 / 8 - 2) and value < 0


def test_chain_rule_counterexample_is_not_markov():
    """The random joint of line 80's check is not a Markov chain: q(x_2|x_1, x_0) depends on x_0."""
    from verification.audit import oracles
    joint = oracles.random_joint((2, 2, 2), 9)
    conditional = joint / joint.sum(axis=2, keepdims=True)
    assert not np.allclose(conditional[0], conditional[1])
