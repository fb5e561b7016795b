"""Properties every ledger must have: line references that match the source files, verdicts
that their computations confirm, coverage of at least 95 % per seed, and findings that say how
to correct them."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from ddpm_math.symbolic.claim_audit import (
    Claim,
    Evidence,
    InconsistentVerdict,
    Kind,
    Verdict,
    coverage,
    evaluate,
)
from verification.symbolic import seed_chains

#: The notes: ``shared/seeds`` in the checkout, or next to it (read-only, not shipped).
SEEDS = next((p / "shared" / "seeds" for p in Path(__file__).resolve().parents[2:4]
              if (p / "shared" / "seeds").is_dir()), Path("shared/seeds"))
LEDGERS = {ledger.seed: ledger for ledger in seed_chains.ledgers()}


def _source_lines(name: str) -> list[str]:
    path = SEEDS / name
    if not path.exists():
        pytest.skip(f"source note {name} not present")
    return path.read_text(encoding="utf-8").splitlines()


def test_all_four_seeds_are_transcribed():
    assert set(LEDGERS) == {"000", "001", "002", "003"}


@pytest.mark.parametrize("seed", sorted(LEDGERS))
def test_every_quote_is_on_its_line(seed):
    """The line reference is right: the verbatim excerpt occurs on that line of the note."""
    lines = _source_lines(LEDGERS[seed].source)
    for item in [*LEDGERS[seed].claims, *LEDGERS[seed].left_out]:
        number = int(item.line.split()[0])
        quote = getattr(item, "quote", "") or getattr(item, "written", "")
        assert quote and quote in lines[number - 1], (seed, item.line, quote)


@pytest.mark.parametrize("seed", sorted(LEDGERS))
def test_every_check_confirms_its_verdict(seed):
    for claim in LEDGERS[seed].claims:
        evaluate(claim)  # raises InconsistentVerdict otherwise


@pytest.mark.parametrize("seed", sorted(LEDGERS))
def test_every_finding_says_what_is_wrong(seed):
    for claim in LEDGERS[seed].claims:
        if claim.verdict is Verdict.HOLDS_IF:
            assert claim.condition, claim.line
        if claim.verdict in (Verdict.ERROR, Verdict.SLIP):
            assert claim.correction, claim.line


def test_coverage_is_at_least_95_percent_per_seed_and_printed():
    rows = [row for _, section in seed_chains.all_sections() for row in section]
    table = coverage(rows, seed_chains.all_left_out())
    assert set(table) == {"000", "001", "002", "003"}
    text = seed_chains.render()
    for seed, entry in table.items():
        assert entry.fraction >= 0.95, seed
        assert entry.found == entry.audited + sum(
            i.seed == seed for i in seed_chains.all_left_out())
        assert (f"| {seed} | {seed_chains.SOURCES[seed]} | {entry.found} | {entry.audited} "
                f"({entry.fraction:.0%}) | {entry.computed} | {entry.hold} |") in text


def test_a_check_that_contradicts_the_verdict_is_refused():
    """The ledger cannot assert "holds" over a computation that finds a counterexample."""
    claim = Claim("x", "1", Kind.FORMULA, "1 = 2", Verdict.HOLDS, "",
                  check=lambda: Evidence(False, counterexample="1 ≠ 2"))
    with pytest.raises(InconsistentVerdict):
        evaluate(claim)
    with pytest.raises(InconsistentVerdict):  # "holds only if" needs the condition to rescue it
        evaluate(dataclasses.replace(claim, verdict=Verdict.HOLDS_IF, condition="c"))
    assert evaluate(dataclasses.replace(claim, verdict=Verdict.ERROR)).counterexample
