"""An auditor for chains of equalities: which step of a written derivation does not hold.

A chain is a list of :class:`Step` s, each an expression (a sympy expression or a string that
sympy parses) or a Gaussian given by its mean and variance. :func:`audit_chain` compares every
step with the one before it and with the chain's true end point (``target``), first
symbolically (``simplify(a - b) == 0``) and then numerically at random rational points inside
the stated domains, evaluated at 30 digits. A step that is not equal comes with a
counterexample: the point, and the two values there.

Two kinds of equality are audited:

- expressions are equal when their difference is identically 0;
- Gaussians (``Step.gaussian`` or an expression read as one with :func:`gaussian_of`, a linear
  combination of independent standard normal noises) are equal in distribution when their
  means and variances are equal. This is how "write the sum of two noises as one noise" is
  checked: it changes the expression but not the distribution.

``substitutions`` are the chain's context (a definition such as ᾱ_t = α_t ᾱ_{t-1}, or Bayes'
rule for a log-density), applied to every step before comparing.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import sympy as sp
from sympy.parsing.sympy_parser import parse_expr

__all__ = [
    "ChainReport",
    "Comparison",
    "Step",
    "audit_chain",
    "compare",
    "gaussian_of",
    "render_markdown",
]

#: Numeric agreement threshold at 30 digits: far below any real discrepancy, far above rounding.
_NUMERIC_TOL = sp.Float("1e-20", 30)


@dataclass(frozen=True)
class Step:
    """One line of a derivation: an expression, or a Gaussian (``mean``, ``variance``).

    ``label`` says where it stands (e.g. "seed 002, eq. (4)"), ``line`` the source line,
    ``written`` how the source wrote it, ``reason`` the source's own justification (its words
    only), ``remark`` the auditor's, ``correction`` what it should say when it fails, ``slip``
    a notation slip (the line holds in its intended meaning, not as its symbols read).
    """

    label: str
    expr: sp.Expr | str | None = None
    gaussian: tuple[sp.Expr | str, sp.Expr | str] | None = None
    written: str = ""
    reason: str = ""
    correction: str = ""
    line: str = ""
    remark: str = ""
    slip: str = ""


@dataclass(frozen=True)
class Comparison:
    """Whether two steps are equal; ``proved`` when sympy showed it symbolically."""

    holds: bool
    proved: bool
    counterexample: dict | None = None


@dataclass(frozen=True)
class StepVerdict:
    """The audit of one step: against the previous step and against the target."""

    step: Step
    vs_previous: Comparison | None
    vs_target: Comparison | None


@dataclass
class ChainReport:
    """The verdicts of a chain, in order."""

    name: str
    verdicts: list[StepVerdict] = field(default_factory=list)

    def failures(self) -> list[str]:
        """Labels of the steps that are not equal to the previous step or to the target."""
        return [v.step.label for v in self.verdicts
                if (v.vs_previous and not v.vs_previous.holds)
                or (v.vs_target and not v.vs_target.holds)]

    def verdict(self, label: str) -> StepVerdict:
        """The verdict of the step with this label."""
        for v in self.verdicts:
            if v.step.label == label:
                return v
        raise KeyError(f"no step labelled {label!r} in chain {self.name!r}")


def gaussian_of(expr: sp.Expr, noises: Iterable[sp.Symbol]) -> tuple[sp.Expr, sp.Expr]:
    """(mean, variance) of ``expr``, linear in independent N(0, 1) ``noises``: the mean sets
    every noise to 0 and the variance sums the squared coefficients."""
    noises = list(noises)
    expanded = sp.expand(expr)
    coefficients = [expanded.coeff(noise, 1) for noise in noises]
    for noise, coef in zip(noises, coefficients, strict=True):
        if sp.expand(expanded.coeff(noise, 2)) != 0 or coef.has(*noises):
            raise ValueError(f"{expr} is not linear in the noises (at {noise})")
    mean = expanded.subs({noise: 0 for noise in noises})
    return mean, sp.Add(*(coef**2 for coef in coefficients))


def _parse(value: sp.Expr | str, symbols: Mapping[str, sp.Symbol]) -> sp.Expr:
    if isinstance(value, str):
        return parse_expr(value, local_dict=dict(symbols))
    return sp.sympify(value)


def _parts(step: Step, symbols, noises, substitutions) -> tuple[sp.Expr, ...]:
    """The expressions that must agree: (expr,) or (mean, variance), context substituted first
    (in order, so that one substitution may introduce the symbols of the next)."""
    if step.gaussian is not None:
        return tuple(_parse(p, symbols).subs(substitutions) for p in step.gaussian)
    expr = _parse(step.expr, symbols).subs(substitutions)
    return gaussian_of(expr, noises) if noises else (expr,)


def _random_point(free: Iterable[sp.Symbol], domains, rng: random.Random) -> dict:
    """A rational point inside each symbol's domain (default (-2, 2), (0, 2) if positive)."""
    point = {}
    for symbol in sorted(free, key=str):
        low, high = domains.get(symbol, (0, 2) if symbol.is_positive else (-2, 2))
        fraction = sp.Rational(rng.randint(1, 999), 1000)
        point[symbol] = sp.nsimplify(low) + (sp.nsimplify(high) - sp.nsimplify(low)) * fraction
    return point


def compare(a: Sequence[sp.Expr], b: Sequence[sp.Expr], domains: Mapping | None = None, *,
            points: int = 6, seed: int = 0) -> Comparison:
    """Whether the parts of ``a`` equal those of ``b`` (symbolically, else at random points)."""
    domains = dict(domains or {})
    differences = [sp.sympify(x) - sp.sympify(y) for x, y in zip(a, b, strict=True)]
    if all(sp.simplify(d) == 0 for d in differences):
        return Comparison(holds=True, proved=True)
    free = set().union(*(sp.sympify(e).free_symbols for e in (*a, *b)))
    rng = random.Random(seed)
    for _ in range(points):
        point = _random_point(free, domains, rng)
        for x, y in zip(a, b, strict=True):
            left = sp.sympify(x).subs(point).evalf(30)
            right = sp.sympify(y).subs(point).evalf(30)
            if abs(left - right) > _NUMERIC_TOL * (1 + abs(left)):
                return Comparison(False, False, {"point": point, "left": left, "right": right})
    return Comparison(holds=True, proved=False)


def audit_chain(name: str, steps: Sequence[Step], symbols: Mapping[str, sp.Symbol], *,
                target: Step | None = None, noises: Sequence[sp.Symbol] = (),
                substitutions: Sequence[tuple] = (), domains: Mapping | None = None,
                seed: int = 0) -> ChainReport:
    """Audit each step against the previous one and against ``target`` (the true result).

    ``symbols`` maps the names used in string steps to sympy symbols (with assumptions);
    ``noises`` are independent N(0, 1) symbols (steps are then compared in distribution);
    ``substitutions`` is a sequence of (old, new) pairs applied in order to every step;
    ``domains`` maps symbols to open intervals for the numeric check.
    """
    substitutions = list(substitutions)
    target_parts = None if target is None else _parts(target, symbols, noises, substitutions)
    report, previous = ChainReport(name), None
    for index, step in enumerate(steps):
        parts = _parts(step, symbols, noises, substitutions)
        vs_previous = None if previous is None else compare(previous, parts, domains,
                                                            seed=seed + index)
        vs_target = None if target_parts is None else compare(parts, target_parts, domains,
                                                              seed=seed + index)
        report.verdicts.append(StepVerdict(step, vs_previous, vs_target))
        previous = parts
    return report


def _verdict_text(comparison: Comparison | None) -> str:
    if comparison is None:
        return "–"
    if comparison.holds:
        return "holds" if comparison.proved else "holds (numerically)"
    return "**fails**"


def _counterexample_text(verdict: StepVerdict) -> str:
    failed = next((c for c in (verdict.vs_previous, verdict.vs_target)
                   if c is not None and not c.holds), None)
    if failed is None:
        return ""
    example = failed.counterexample
    point = ", ".join(f"{symbol}={value}" for symbol, value in example["point"].items())
    return f"at {point}: {sp.N(example['left'], 6)} ≠ {sp.N(example['right'], 6)}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(reports: Sequence[ChainReport], *, title: str, notes: str = "") -> str:
    """The audit as Markdown: one table per chain, a row per step with both verdicts, the
    counterexample of a failure and the correction."""
    lines = [f"# {title}", "",
             "Generated by `python -m verification.symbolic.seed_chains`; do not edit by hand. "
             "Each step is compared with the previous step and with the true result "
             "(symbolically, else at random rational points at 30 digits). A counterexample "
             "gives the point and the two values that differ (step vs. previous step, or step "
             "vs. truth).", ""]
    for report in reports:
        lines += [f"## {report.name}", "",
                  "| step | as written | reason given | vs previous | vs truth | "
                  "counterexample | correction |",
                  "|---|---|---|---|---|---|---|"]
        for v in report.verdicts:
            step = v.step
            written = step.written or f"`{step.expr}`"
            cells = [step.label, written, step.reason, _verdict_text(v.vs_previous),
                     _verdict_text(v.vs_target), _counterexample_text(v), step.correction]
            lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
        lines.append("")
    if notes:
        lines += [notes.rstrip(), ""]
    return "\n".join(lines)
