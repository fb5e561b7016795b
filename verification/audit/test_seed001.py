"""Seed 001: the verdicts pinned, and the counterexamples re-computed independently (numpy
float64 and Monte-Carlo, not the ledger's mpmath code)."""

from __future__ import annotations

import numpy as np
from scipy import stats

from ddpm_math.symbolic.claim_audit import Verdict
from verification.audit import seed001

H, HI, E = Verdict.HOLDS, Verdict.HOLDS_IF, Verdict.ERROR
EXPECTED = [("12", H), ("23", H), ("31", HI), ("35", H), ("40", H), ("42", HI), ("44", H),
            ("49", H), ("54", H), ("56", H), ("61", H), ("63", HI), ("67", H), ("71", H),
            ("73", H), ("75", HI), ("76", H), ("82", H), ("84", H), ("84", E), ("86", E),
            ("87", H)]
BETAS = np.linspace(1e-4, 0.02, 1000)  # DDPM §4


def test_verdicts_are_pinned():
    assert [(c.line, c.verdict) for c in seed001.LEDGER.claims] == EXPECTED


def test_alpha_bar_T_is_small_but_not_zero():
    alpha_bar_T = np.prod(1 - BETAS)
    assert 0 < alpha_bar_T < 1e-4
    assert np.isclose(alpha_bar_T, 4.0358e-5, rtol=1e-4)  # the ledger's mpmath value


def test_the_bound_is_above_the_nll_monte_carlo():
    """Line 84: L ≥ -log p_θ(x_0), by Monte-Carlo over x_1 ~ q(x_1|x_0) (z ≥ 5)."""
    x0, theta, s, alpha = 1.0, 0.5, 0.5, 0.5
    rng = np.random.default_rng(0)
    x1 = np.sqrt(alpha) * x0 + np.sqrt(1 - alpha) * rng.standard_normal(400_000)
    ratio = (stats.norm.logpdf(x1, np.sqrt(alpha) * x0, np.sqrt(1 - alpha))
             - stats.norm.logpdf(x1) - stats.norm.logpdf(x0, theta * x1, np.sqrt(s)))
    nll = -stats.norm.logpdf(x0, 0, np.sqrt(theta**2 + s))
    gap, stderr = ratio.mean() - nll, ratio.std() / np.sqrt(ratio.size)
    assert gap > 5 * stderr  # L is strictly above the NLL: an upper bound, not the ELBO
    assert abs(gap - 0.0200676) < 5 * stderr  # the ledger's exact gap


def test_variance_with_and_without_the_factor():
    var = 1.0
    for beta in BETAS:
        var = (1 - beta) * var + beta
    assert np.isclose(var, 1.0)
    assert np.isclose(1 + BETAS.sum(), 11.05, rtol=1e-3)  # √(1-β_t) dropped


def test_posterior_variance_differs_from_the_step_variance():
    alpha_bar = np.cumprod(1 - BETAS)
    beta_tilde_2 = (1 - alpha_bar[0]) / (1 - alpha_bar[1]) * BETAS[1]
    assert beta_tilde_2 < 0.5 * BETAS[1]
