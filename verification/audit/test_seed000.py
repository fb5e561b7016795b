"""Seed 000: the verdicts pinned, and the numbers behind them re-computed with scipy."""

from __future__ import annotations

import numpy as np
from scipy import integrate, stats

from ddpm_math.symbolic.claim_audit import Verdict
from verification.audit import oracles, seed000

H, SLIP = Verdict.HOLDS, Verdict.SLIP
EXPECTED = [("5", H), ("5", H), ("6", H), ("6", H), ("7", H), ("8", H), ("9", H), ("10", H),
            ("11", H), ("12", SLIP), ("13", H), ("18", H), ("19", H), ("20", H), ("22", H),
            ("24", H), ("25", H)]


def test_verdicts_are_pinned():
    assert [(c.line, c.verdict) for c in seed000.LEDGER.claims] == EXPECTED


def test_kl_notation_is_ordered_scipy():
    """scipy.stats.entropy(p, q) = Σ p log(p/q), independent of the ledger's numpy sum."""
    p, q = oracles.random_distribution(4, 2), oracles.random_distribution(4, 3)
    assert abs(stats.entropy(p, q) - stats.entropy(q, p)) > 1e-3


def test_discrete_kl_as_written_and_a_wrong_sign():
    p, q = oracles.random_distribution(6, 11), oracles.random_distribution(6, 12)
    written = -np.sum(p * np.log(q / p))
    assert np.isclose(written, stats.entropy(p, q))
    assert not np.isclose(-written, stats.entropy(p, q))  # the minus sign dropped


def test_continuous_kl_scipy_quadrature():
    """-∫ p log(q/p) for N(0.3, 0.5) ‖ N(-0.4, 1.7) by scipy against the closed form."""
    p, q = stats.norm(0.3, np.sqrt(0.5)), stats.norm(-0.4, np.sqrt(1.7))
    value, _ = integrate.quad(lambda x: -p.pdf(x) * (q.logpdf(x) - p.logpdf(x)), -30, 30)
    closed = 0.5 * (np.log(1.7 / 0.5) + (0.5 + 0.7**2) / 1.7 - 1)
    assert np.isclose(value, closed, rtol=1e-10, atol=1e-12)
    flipped, _ = integrate.quad(lambda x: p.pdf(x) * (q.logpdf(x) - p.logpdf(x)), -30, 30)
    assert flipped < 0  # without the minus sign it is not a divergence
