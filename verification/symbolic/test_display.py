"""The paper-symbol display of the derivations says what the derivations say: each displayed
form equals the paper's equation once ᾱ_t = α_t ᾱ_{t-1} and β_t = 1 - α_t are put back, and a
plausible wrong equation does not."""

from __future__ import annotations

import pytest
import sympy as sp

from ddpm_math.symbolic import posterior, vlb
from ddpm_math.symbolic.display import (
    ALPHA,
    ALPHA_BAR,
    ALPHA_BAR_PREV,
    BETA,
    EPS,
    X0,
    XT,
    paper_form,
    simplified_mass,
)


def same(displayed: sp.Expr, paper: sp.Expr) -> bool:
    """Equal as functions of α_t, ᾱ_{t-1}, x_0, x_t, ε (ᾱ_t and β_t eliminated)."""
    back = {ALPHA_BAR: ALPHA * ALPHA_BAR_PREV, BETA: 1 - ALPHA}
    return sp.simplify(sp.sympify(displayed).subs(back) - paper.subs(back)) == 0


MU_TILDE = (sp.sqrt(ALPHA_BAR_PREV) * BETA / (1 - ALPHA_BAR) * X0
            + sp.sqrt(ALPHA) * (1 - ALPHA_BAR_PREV) / (1 - ALPHA_BAR) * XT)  # DDPM eq. (7)
BETA_TILDE = (1 - ALPHA_BAR_PREV) / (1 - ALPHA_BAR) * BETA  # DDPM eq. (7)
MU_FROM_EPS = (XT - BETA / sp.sqrt(1 - ALPHA_BAR) * EPS) / sp.sqrt(ALPHA)  # DDPM eq. (11)


def test_posterior_mean_and_variance_read_as_eq_7():
    q = posterior.q_posterior()
    assert same(paper_form(q.mean, collect=(X0, XT)), MU_TILDE)
    assert same(paper_form(q.variance), BETA_TILDE)
    assert not same(paper_form(q.mean, collect=(X0, XT)),
                    MU_TILDE.subs(sp.sqrt(ALPHA), ALPHA))  # √α_t → α_t: rejected


def test_eps_form_reads_as_eq_11():
    shown = paper_form(posterior.mu_tilde_from_eps(), collect=(XT, EPS))
    assert same(shown, MU_FROM_EPS)
    assert not same(shown, MU_FROM_EPS.subs(sp.sqrt(1 - ALPHA_BAR), 1 - ALPHA_BAR))


@pytest.mark.parametrize("sigma2", ["beta_tilde", "beta"])
def test_eq_12_weight(sigma2):
    variance = BETA_TILDE if sigma2 == "beta_tilde" else BETA
    weight = BETA**2 / (2 * variance * ALPHA * (1 - ALPHA_BAR))  # DDPM eq. (12)
    shown = paper_form(vlb.eps_weight(sigma2))
    assert same(shown, weight)
    assert not same(shown, weight / 2)  # a dropped ½ is seen


def test_display_uses_paper_symbols_only():
    q = posterior.q_posterior()
    text = str(paper_form(q.mean, collect=(X0, XT))) + str(paper_form(q.variance))
    for internal in ("sqrt_alpha", "x_1", "x_2"):
        assert internal not in text
    assert simplified_mass(q.mass) == 1
