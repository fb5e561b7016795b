"""The equality auditor, and the verdict on every transcribed line of the source notes."""

from __future__ import annotations

from pathlib import Path

import pytest
import sympy as sp

from ddpm_math.symbolic.claim_audit import Verdict
from ddpm_math.symbolic.equality_audit import Step, audit_chain, compare, gaussian_of
from verification.symbolic import seed_chains

ERRATA = Path(__file__).resolve().parents[1] / "errata.md"


@pytest.fixture(scope="module")
def reports():
    return {report.name: report for report in seed_chains.all_reports()}


def verdicts(report):
    """{label: (vs previous holds, vs truth holds)}."""
    return {v.step.label: (None if v.vs_previous is None else v.vs_previous.holds,
                           None if v.vs_target is None else v.vs_target.holds)
            for v in report.verdicts}


# -- the verdicts on the notes, pinned ------------------------------------------------------

EXPECTED = {
    "seed 002: q(x_t|x_0), eqs. (1)-(8)": {
        "002 (1)": (None, True), "002 (2)": (True, True), "002 (3)": (True, True),
        "002 (4)": (True, True), "002 (5)": (True, True), "002 (6)": (False, False),
        "002 (7)": (False, True), "002 (8)": (True, True)},
    "seed 002: the breakdown of steps 3 and 4": {
        "002 3-4 a": (None, True), "002 3-4 b": (True, True), "002 3-4 c": (True, True),
        "002 3-4 d": (True, True), "002 3-4 e": (True, True), "002 3-4 f": (True, True),
        "002 3-4 g": (True, True)},
    "seed 002: the variance of the merged noise": {
        "002 var a": (None, True), "002 var b": (True, True), "002 var c": (True, True)},
    "seed 002: μ̃_t in terms of ε (eq. 7 → eq. 11)": {
        **{f"002 μ̃ {k}": (k > 0 or None, True) for k in range(7)},
        "002 μ̃ 7": (False, False), "002 μ̃ 8": (False, False), "002 μ̃ 9": (False, False),
        "002 μ̃ 10": (False, True), "002 μ̃ 11": (True, True)},
    "seed 002: L_t in terms of ε (eqs. 8, 12)": {
        "002 L_t 0": (None, False), "002 L_t 1": (True, False), "002 L_t 2": (True, False)},
    "seed 002: the bound L and its decomposition (eq. 5), T = 3": {
        "002 bound a": (None, False), "002 bound b": (False, True), "002 ELBO 0": (True, True),
        "002 ELBO 1": (False, False), "002 ELBO 2": (False, True), "002 ELBO 3": (True, True),
        "002 ELBO 4": (False, False), "002 ELBO 5": (False, False),
        "002 ELBO 6": (False, False), "002 ELBO 7": (False, False),
        "002 ELBO 8": (False, True), "002 ELBO 9": (False, False),
        "002 ELBO 10": (True, False), "002 ELBO 11": (False, False)},
}

#: The readable verdict of every chain row (line → verdict), derived from the two comparisons.
V = Verdict
EXPECTED_ROWS = {
    "41": V.HOLDS, "43": V.SLIP, "45": V.HOLDS, "47": V.HOLDS, "49": V.HOLDS, "51": V.ERROR,
    "53": V.NOT_FOLLOWING, "55": V.HOLDS,
    **{f"60 r{k}": V.HOLDS for k in range(1, 5)}, "82": V.HOLDS, "84": V.HOLDS, "86": V.HOLDS,
    "78": V.HOLDS, "79": V.HOLDS, "80": V.HOLDS,
    "108": V.ERROR, "110": V.NOT_FOLLOWING, "114 r0": V.HOLDS, "114 r1": V.ERROR,
    "114 r2": V.NOT_FOLLOWING, "114 r3": V.HOLDS, "114 r4": V.ERROR, "114 r5": V.ERROR,
    "114 r6": V.ERROR, "114 r7": V.ERROR, "114 r8": V.NOT_FOLLOWING, "114 r9": V.ERROR,
    "114 r10": V.SLIP, "114 r11": V.ERROR,
    **{f"126 r{k}": V.HOLDS for k in range(7)}, "126 r7": V.ERROR, "126 r8": V.ERROR,
    "126 r9": V.ERROR, "126 r10": V.NOT_FOLLOWING, "126 r11": V.HOLDS,
    "139": V.ERROR, "141": V.CARRIED, "143": V.CARRIED,
}


def test_every_chain_is_pinned(reports):
    assert set(reports) == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_verdicts_of_the_notes(reports, name):
    assert verdicts(reports[name]) == EXPECTED[name]


def test_readable_verdicts_of_the_chain_rows():
    rows = [row for _, section in seed_chains.chain_sections() for row in section]
    assert {row.line: row.verdict for row in rows} == EXPECTED_ROWS
    assert len(rows) == len(EXPECTED_ROWS)  # no line transcribed twice


def test_no_chain_relates_p_xT_given_x0_to_p_xT():
    """p_θ(x_T|x_0) ≠ p(x_T) under the model, so the context must not identify them (the
    verdict on 114 r9 used to rest on that substitution)."""
    olds = {str(old) for old, _ in seed_chains.ELBO_CONTEXT}
    assert "lpT_given_x0" not in olds


def test_counterexamples_use_the_notes_symbols():
    rows = [row for _, section in seed_chains.chain_sections() for row in section]
    text = " ".join(row.counterexample for row in rows)
    for internal in ("alpha_", "abp", "lpost", "lm_", "eps_theta", "sigma2"):
        assert internal not in text


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_counterexample_really_violates_the_equality(reports, name):
    """Re-evaluate each reported counterexample independently of the auditor's comparison."""
    for v in reports[name].verdicts:
        for comparison in (v.vs_previous, v.vs_target):
            if comparison is None or comparison.holds:
                continue
            example = comparison.counterexample
            assert abs(sp.N(example["left"] - example["right"], 30)) > 1e-6
            assert all(value.is_Rational for value in example["point"].values())


def test_every_failing_step_carries_a_correction(reports):
    for report in reports.values():
        for v in report.verdicts:
            if v.vs_target is not None and not v.vs_target.holds:
                assert v.step.correction, v.step.label


def test_committed_errata_table_is_what_the_audit_produces():
    assert ERRATA.read_text(encoding="utf-8") == seed_chains.render(), (
        "verification/errata.md is stale: python -m verification.symbolic.seed_chains "
        "> verification/errata.md")


# -- the auditor itself -----------------------------------------------------------------------

a, abp = sp.symbols("a abp", positive=True)
x0, xt = sp.symbols("x0 xt", real=True)
SYMBOLS = {"a": a, "abp": abp, "x0": x0, "xt": xt}
DOMAINS = {a: (0, 1), abp: (0, 1)}
MU_TILDE = "sqrt(abp)*(1 - a)/(1 - a*abp)*x0 + sqrt(a)*(1 - abp)/(1 - a*abp)*xt"  # eq. (7)
TRUE_CHAIN = [
    Step("0", MU_TILDE),
    Step("1", "(sqrt(abp)*(1 - a)*x0 + sqrt(a)*(1 - abp)*xt)/(1 - a*abp)"),
    Step("2", "(sqrt(abp)*x0 - sqrt(abp)*a*x0 + sqrt(a)*xt - sqrt(a)*abp*xt)/(1 - a*abp)"),
]


def test_a_true_chain_holds_at_every_step():
    report = audit_chain("true", TRUE_CHAIN, SYMBOLS, target=Step("t", MU_TILDE), domains=DOMAINS)
    assert report.failures() == []
    assert all(v.vs_previous.proved for v in report.verdicts[1:])


@pytest.mark.parametrize(
    "wrong",
    [
        "sqrt(abp)*(1 - a)/(1 - a*abp)*x0 + a*(1 - abp)/(1 - a*abp)*xt",  # missing square root
        # ᾱ_t in place of ᾱ_{t-1}
        "sqrt(a*abp)*(1 - a)/(1 - a*abp)*x0 + sqrt(a)*(1 - a*abp)/(1 - a*abp)*xt",
        "(sqrt(abp)*(1 - a)*x0 + sqrt(a)*(1 - abp)*xt)/(2*(1 - a*abp))",  # a dropped factor 2
        "sqrt(a)*(1 - abp)/(1 - a*abp)*x0 + sqrt(abp)*(1 - a)/(1 - a*abp)*xt",  # swapped coefs
    ],
    ids=["missing_sqrt", "alpha_bar_t_for_prev", "dropped_factor", "swapped_coefficients"],
)
def test_an_injected_error_is_reported_at_its_step(wrong):
    chain = [*TRUE_CHAIN[:2], Step("wrong", wrong), Step("3", MU_TILDE)]
    report = audit_chain("injected", chain, SYMBOLS, target=Step("t", MU_TILDE), domains=DOMAINS)
    assert report.failures() == ["wrong", "3"]  # 3 is fine but differs from the wrong step
    assert report.verdict("3").vs_target.holds
    example = report.verdict("wrong").vs_previous.counterexample
    point = example["point"]
    assert all(0 < point[s] < 1 for s in (a, abp))  # inside the stated domains
    left = sp.sympify(TRUE_CHAIN[1].expr, locals=SYMBOLS).subs(point)
    right = sp.sympify(wrong, locals=SYMBOLS).subs(point)
    assert abs(sp.N(left - right, 30)) > 1e-6


def test_strings_are_parsed_with_the_given_assumptions():
    """√(a²) = a only for positive a: the positive symbol makes the step hold symbolically."""
    report = audit_chain("parse", [Step("0", "sqrt(a**2)"), Step("1", "a")], SYMBOLS)
    assert report.verdict("1").vs_previous.holds and report.verdict("1").vs_previous.proved
    real = {"a": sp.Symbol("a", real=True)}
    report = audit_chain("parse", [Step("0", "sqrt(a**2)"), Step("1", "a")], real)
    assert not report.verdict("1").vs_previous.holds


def test_gaussian_of_merges_independent_noises():
    e1, e2 = sp.symbols("e1 e2", real=True)
    mean, variance = gaussian_of(sp.sqrt(a) * x0 + sp.sqrt(1 - a) * e1 + 2 * e2, [e1, e2])
    assert mean == sp.sqrt(a) * x0 and sp.simplify(variance - (5 - a)) == 0
    with pytest.raises(ValueError, match="not linear in the noises"):
        gaussian_of(e1**2, [e1])
    with pytest.raises(ValueError, match="not linear in the noises"):
        gaussian_of(e1 * e2, [e1, e2])


def test_distribution_equality_differs_from_expression_equality():
    """ε₁ + ε₂ equals √2 ε in distribution, not as an expression."""
    e1, e2, e = sp.symbols("e1 e2 e", real=True)
    noises = {"e1": e1, "e2": e2, "e": e}
    chain = [Step("0", "e1 + e2"), Step("1", "sqrt(2)*e")]
    assert audit_chain("d", chain, noises, noises=[e1, e2, e]).failures() == []
    assert audit_chain("x", chain, noises).failures() == ["1"]


def test_compare_reports_numeric_agreement_it_cannot_prove():
    """A true identity sympy's simplify may not close still holds at every random point."""
    u = sp.Symbol("u", positive=True)
    result = compare([sp.cos(u) ** 2 + sp.sin(u) ** 2], [sp.Integer(1)])
    assert result.holds
