"""Seed 002 (outside the chains): verdicts pinned; counterexamples re-computed with scipy/numpy
from the note's formulas, not by the ledger's mpmath code."""

from __future__ import annotations

from collections import Counter

import numpy as np
from scipy import integrate, stats

from ddpm_math.symbolic.claim_audit import Verdict
from verification.audit import seed002

H, HI, E, SLIP = Verdict.HOLDS, Verdict.HOLDS_IF, Verdict.ERROR, Verdict.SLIP
EXPECTED_FINDINGS = [
    ("20", HI), ("34", SLIP), ("76", HI), ("90", SLIP), ("90", SLIP), ("102", E), ("104", HI),
    ("106", HI), ("114", SLIP), ("116", HI), ("118", SLIP), ("118", HI), ("126", SLIP),
    ("129", SLIP), ("148", HI), ("150", E), ("150", E), ("213", HI),
]


def test_verdicts_are_pinned():
    claims = seed002.LEDGER.claims
    assert [(c.line, c.verdict) for c in claims if c.verdict is not H] == EXPECTED_FINDINGS
    assert Counter(c.verdict for c in claims) == {H: 47, HI: 8, E: 3, SLIP: 7}


def test_pointwise_bound_fails_in_the_tail_and_holds_in_expectation():
    """Lines 104/106 at x_0 = 1, θ = s = α_1 = ½: x_1 = -3 breaks the pointwise bound; the
    expectation over x_1 ~ q (quadrature) restores it."""
    x0, theta, s, alpha = 1.0, 0.5, 0.5, 0.5
    nll = -stats.norm.logpdf(x0, 0, np.sqrt(theta**2 + s))

    def ratio(x1):
        return (stats.norm.logpdf(x1, np.sqrt(alpha) * x0, np.sqrt(1 - alpha))
                - stats.norm.logpdf(x1) - stats.norm.logpdf(x0, theta * x1, np.sqrt(s)))
    assert ratio(-3.0) < nll
    expected, _ = integrate.quad(lambda x1: stats.norm.pdf(x1, np.sqrt(alpha) * x0,
                                                           np.sqrt(1 - alpha)) * ratio(x1),
                                 -12, 12)
    assert expected >= nll


def test_p_xT_given_x0_is_not_p_xT():
    """114 r9 (chain): under a one-step model p_θ(x_1|x_0) ∝ N(x_1; 0, 1) N(x_0; θ x_1, s) is
    N(θ x_0/(θ² + s), s/(θ² + s)), not p(x_1) = N(0, 1), unless θ = 0."""
    theta, s, x0 = 0.5, 0.5, 1.0
    grid = np.linspace(-8, 8, 4001)
    unnormalised = stats.norm.pdf(grid) * stats.norm.pdf(x0, theta * grid, np.sqrt(s))
    posterior = unnormalised / integrate.trapezoid(unnormalised, grid)
    assert np.max(np.abs(posterior - stats.norm.pdf(grid))) > 0.1
    closed = stats.norm.pdf(grid, theta * x0 / (theta**2 + s), np.sqrt(s / (theta**2 + s)))
    assert np.allclose(posterior, closed, atol=1e-6)


def test_sum_of_dependent_gaussians():
    """Line 76 without independence: Y = X gives Var(X + Y) = 4σ², Monte-Carlo (z ≥ 5)."""
    x = np.random.default_rng(0).normal(0, np.sqrt(0.3), 200_000)
    z = x + x
    stderr = 0.3 * 4 * np.sqrt(2 / z.size)  # sd of a sample variance of a normal
    assert abs(z.var() - 1.2) < 5 * stderr and abs(z.var() - 0.6) > 5 * stderr


def test_L0_weight_is_the_t1_term_numerically():
    """Line 150: -log N(x_0; μ_θ(x_1, 1), σ_1²) - const = (1-α_1)/(2σ_1²α_1)(ε - ε_θ)²."""
    rng = np.random.default_rng(1)
    a, sigma2 = 0.9999, 1e-4
    x0, eps, eps_theta = rng.normal(size=3)
    x1 = np.sqrt(a) * x0 + np.sqrt(1 - a) * eps
    mu = (x1 - (1 - a) / np.sqrt(1 - a) * eps_theta) / np.sqrt(a)
    assert np.isclose((x0 - mu) ** 2 / (2 * sigma2),
                      (1 - a) / (2 * sigma2 * a) * (eps - eps_theta) ** 2)


def test_decoder_bins_tile_the_line():
    assert np.isclose(seed002.decoder_mass(-0.2, 0.3), 1)
    assert seed002.decoder_mass(0.95, 0.1, top_edge=1 + 1 / 255) < 0.999
