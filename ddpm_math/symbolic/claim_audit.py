"""An auditor's ledger for claims that are not (only) equalities, and the errata renderer.

A source note states formulas and prose claims. Each one is transcribed as a :class:`Claim`
(seed, line, the note's own wording) with a :class:`Verdict` and, where one can be computed, a
``check``: a function that computes from the definitions whether the claim survives as written
(and, for "holds only if ...", whether it survives under the condition the auditor had to add).
:func:`evaluate` runs the check and refuses a verdict that the computation contradicts, so a
verdict in the ledger is never just asserted when a computation exists.

Steps of the equality chains audited by :mod:`ddpm_math.symbolic.equality_audit` become rows
too (:func:`rows_from_chain`): a step equal to the truth but not to the line before is "correct,
does not follow from the line before"; a step equal to the line before but not to the truth
carries an earlier error; only a step that differs from both introduces an error.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum

import sympy as sp

from ddpm_math.symbolic.equality_audit import ChainReport, Comparison, StepVerdict

__all__ = [
    "Claim",
    "Evidence",
    "Kind",
    "LeftOut",
    "Row",
    "Verdict",
    "coverage",
    "evaluate",
    "render_errata",
    "rows_from_chain",
]


class Kind(str, Enum):
    """What a transcribed item is: a displayed or inline formula, or a claim in prose."""

    FORMULA = "formula"
    CLAIM = "claim"


class Verdict(str, Enum):
    """The audit's verdict on one item; ``ERROR`` is the one marker for "the error starts here"."""

    HOLDS = "holds"
    HOLDS_IF = "holds only if"
    ERROR = "✗ error introduced here"
    CARRIED = "wrong, error carried from an earlier line"
    NOT_FOLLOWING = "correct, does not follow from the line before"
    SLIP = "notation slip"

    @property
    def holds(self) -> bool:
        """True for the verdicts that count as "holds" in the coverage figure."""
        return self in (Verdict.HOLDS, Verdict.NOT_FOLLOWING)


@dataclass(frozen=True)
class Evidence:
    """What a check computed: whether the claim survives as written, whether it survives under
    the auditor's added condition (None if there is none), and the computed numbers."""

    as_written: bool
    under_condition: bool | None = None
    counterexample: str = ""
    detail: str = ""


@dataclass(frozen=True)
class Claim:
    """One formula or prose claim of a note, its verdict and the computation behind it.

    ``written`` is the note's text (its notation kept, slips included), ``quote`` a verbatim
    excerpt of the source line (checked against the file), ``note_words`` the note's own
    justification, ``remark`` the auditor's, ``condition`` the missing hypothesis of a
    "holds only if" verdict, ``basis`` where the truth comes from (the paper's equation, a
    computation, a written argument).
    """

    seed: str
    line: str
    kind: Kind
    written: str
    verdict: Verdict
    remark: str
    quote: str = ""
    note_words: str = ""
    condition: str = ""
    correction: str = ""
    basis: str = ""
    check: Callable[[], Evidence] | None = None


@dataclass(frozen=True)
class LeftOut:
    """An item found in a note but not audited, and why."""

    seed: str
    line: str
    written: str
    why: str


@dataclass(frozen=True)
class Row:
    """One rendered line of the errata table."""

    seed: str
    line: str
    kind: Kind
    written: str
    note_words: str
    verdict: Verdict
    remark: str
    counterexample: str = ""
    correction: str = ""
    computed: bool = False
    section: str = ""


class InconsistentVerdict(AssertionError):
    """A ledger verdict that the claim's own computation contradicts."""


def _consistent(verdict: Verdict, evidence: Evidence) -> bool:
    if verdict in (Verdict.HOLDS, Verdict.NOT_FOLLOWING):
        return evidence.as_written
    if verdict is Verdict.HOLDS_IF:
        return not evidence.as_written and evidence.under_condition is True
    return not evidence.as_written


def evaluate(claim: Claim) -> Row:
    """Run the claim's check (if any) and return its row; raise if the check contradicts it."""
    evidence = None if claim.check is None else claim.check()
    if evidence is not None and not _consistent(claim.verdict, evidence):
        raise InconsistentVerdict(f"seed {claim.seed} line {claim.line}: verdict "
                                  f"{claim.verdict.value!r} but the check gives {evidence}")
    verdict_text = claim.verdict
    remark = claim.remark
    if claim.verdict is Verdict.HOLDS_IF and claim.condition:
        remark = f"**holds only if {claim.condition}.** {remark}"
    if evidence is not None and evidence.detail:
        remark = f"{remark} Computed: {evidence.detail}"
    if claim.basis:
        remark = f"{remark} [{claim.basis}]"
    return Row(claim.seed, claim.line, claim.kind, claim.written, claim.note_words,
               verdict_text, remark.strip(),
               "" if evidence is None else evidence.counterexample, claim.correction,
               computed=evidence is not None)


# -- rows from the equality chains ------------------------------------------------------------

def _chain_verdict(v: StepVerdict) -> Verdict:
    if v.step.slip:
        return Verdict.SLIP
    prev, truth = v.vs_previous, v.vs_target
    if truth is None:
        return Verdict.HOLDS if prev is None or prev.holds else Verdict.ERROR
    if prev is None or prev.holds:
        return Verdict.HOLDS if truth.holds else (Verdict.ERROR if prev is None
                                                  else Verdict.CARRIED)
    return Verdict.NOT_FOLLOWING if truth.holds else Verdict.ERROR


def _point_text(comparison: Comparison, display: Mapping[str, str]) -> str:
    example = comparison.counterexample
    point = ", ".join(f"{display.get(str(s), str(s))} = {value}"
                      for s, value in example["point"].items())
    return f"at {point}: {sp.N(example['left'], 6)} ≠ {sp.N(example['right'], 6)}"


def _chain_counterexample(v: StepVerdict, verdict: Verdict, display) -> str:
    if verdict is Verdict.ERROR and v.vs_previous is not None and not v.vs_previous.holds:
        return "vs the line before " + _point_text(v.vs_previous, display)
    if v.vs_target is not None and not v.vs_target.holds:
        return "vs the truth " + _point_text(v.vs_target, display)
    if verdict is Verdict.NOT_FOLLOWING:
        return "vs the line before " + _point_text(v.vs_previous, display)
    return ""


def rows_from_chain(report: ChainReport, seed: str, display: Mapping[str, str]) -> list[Row]:
    """The chain's steps as errata rows; ``display`` maps internal symbol names to the note's
    symbols for the counterexamples."""
    rows, last_error = [], ""
    for v in report.verdicts:
        verdict = _chain_verdict(v)
        remark = v.step.remark
        if verdict is Verdict.CARRIED and last_error:
            remark = f"follows from the line before; the error of line {last_error} is carried. " \
                     + remark
        if verdict is Verdict.ERROR:
            last_error = v.step.line
        if verdict is Verdict.SLIP and v.step.slip:
            remark = f"{v.step.slip} {remark}"
        remark = remark.strip()
        rows.append(Row(seed, v.step.line, Kind.FORMULA, v.step.written or str(v.step.expr),
                        v.step.reason, verdict, remark,
                        _chain_counterexample(v, verdict, display), v.step.correction,
                        computed=True, section=report.name))
    return rows


# -- coverage and rendering -------------------------------------------------------------------

@dataclass
class Coverage:
    """Per seed: items found (formulas + claims), audited, holding, computed."""

    found: int = 0
    audited: int = 0
    hold: int = 0
    computed: int = 0
    findings: int = 0

    @property
    def fraction(self) -> float:
        return self.audited / self.found if self.found else 1.0


def coverage(rows: Iterable[Row], left_out: Iterable[LeftOut]) -> dict[str, Coverage]:
    """Coverage per seed: found = audited + left out; hold counts "holds" and "correct, does
    not follow"; findings are every other verdict."""
    table: dict[str, Coverage] = {}
    for row in rows:
        entry = table.setdefault(row.seed, Coverage())
        entry.found += 1
        entry.audited += 1
        entry.hold += row.verdict.holds
        entry.findings += not row.verdict.holds
        entry.computed += row.computed
    for item in left_out:
        table.setdefault(item.seed, Coverage()).found += 1
    return dict(sorted(table.items()))


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _table(rows: Sequence[Row]) -> list[str]:
    lines = ["| line | as the note writes it | the note's words | verdict | auditor's remark | "
             "counterexample | correction |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        verdict = f"**{r.verdict.value}**" if r.verdict is Verdict.ERROR else r.verdict.value
        cells = [r.line, r.written, r.note_words, verdict, r.remark, r.counterexample,
                 r.correction]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return lines


LEGEND = """\
Verdicts: **✗ error introduced here** marks the line where a mistake enters; "wrong, error
carried from an earlier line" follows correctly from a wrong line; "correct, does not follow
from the line before" is true but not obtainable from the (wrong) line above it; "holds only
if …" names a hypothesis the note does not state, without which a counterexample exists;
"notation slip" is a line whose intended meaning holds but whose symbols say something else.
The "hold" count includes "holds" and "correct, does not follow"."""


def render_errata(sections: Sequence[tuple[str, Sequence[Row]]], left_out: Sequence[LeftOut],
                  *, title: str, generator: str, sources: Mapping[str, str],
                  notes: str = "") -> str:
    """The errata as Markdown: coverage table first, then a table per section, then the items
    left out."""
    rows = [r for _, section in sections for r in section]
    cov = coverage(rows, left_out)
    lines = [f"# {title}", "", f"Generated by `{generator}`; do not edit by hand.", "",
             "## Coverage", "",
             "| seed | file | formulas + claims found | audited | audited by computation | "
             "hold | findings | left out |", "|---|---|---|---|---|---|---|---|"]
    for seed, c in cov.items():
        lines.append(f"| {seed} | {sources.get(seed, '')} | {c.found} | {c.audited} "
                     f"({c.fraction:.0%}) | {c.computed} | {c.hold} | {c.findings} | "
                     f"{c.found - c.audited} |")
    lines += ["", LEGEND, ""]
    for name, section in sections:
        lines += [f"## {name}", "", *_table(section), ""]
    lines += ["## Left out, and why", "", "| seed | line | item | why |", "|---|---|---|---|"]
    lines += [f"| {i.seed} | {i.line} | {_cell(i.written)} | {_cell(i.why)} |" for i in left_out]
    lines.append("")
    if notes:
        lines += [notes.rstrip(), ""]
    return "\n".join(lines)


@dataclass
class Ledger:
    """A seed's transcription: its claims (in line order) and what was left out."""

    seed: str
    source: str
    claims: list[Claim] = field(default_factory=list)
    left_out: list[LeftOut] = field(default_factory=list)
