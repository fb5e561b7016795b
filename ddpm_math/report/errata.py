"""The audit of the project's source notes, rendered from its data structures.

The audit (``verification/symbolic/seed_chains.py`` with the ledgers of ``verification/audit``)
lives in the source checkout, not in the installed package: it transcribes notes that are not
shipped. In a checkout it is imported and run (every chain audited, every ledger claim's check
evaluated, so a verdict its own computation contradicts fails the report); elsewhere the section
says it was not found. A finding in a note (an error the note makes) is not a failure of the
report: the audit holding is what is checked.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ddpm_math.report.model import ErrataSection

__all__ = ["HOLDING_VERDICTS", "load_errata", "repository_root"]

HOLDING_VERDICTS = ("holds", "correct, does not follow from the line before")


def repository_root() -> Path | None:
    """The source checkout holding this package and ``verification/``, or None."""
    root = Path(__file__).resolve().parents[2]
    return root if (root / "verification" / "__init__.py").exists() else None


def load_errata() -> tuple[list[tuple[str, ...]], list[ErrataSection], str]:
    """(coverage rows, sections, note). Raises what the audit raises (an inconsistent verdict)."""
    root = repository_root()
    if root is None or not (root / "verification" / "symbolic" / "seed_chains.py").exists():
        return [], [], "the audit (verification/symbolic/seed_chains.py) is not in this install"
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    from ddpm_math.symbolic.claim_audit import coverage
    from verification.symbolic import seed_chains

    sections_data = seed_chains.all_sections()
    left_out = seed_chains.all_left_out()
    rows = [row for _, section in sections_data for row in section]
    table = []
    for seed, c in coverage(rows, left_out).items():
        table.append((seed, seed_chains.SOURCES.get(seed, ""), str(c.found),
                      f"{c.audited} ({c.fraction:.0%})", str(c.computed), str(c.hold),
                      str(c.findings), str(c.found - c.audited)))
    sections = []
    for title, section in sections_data:
        sections.append(ErrataSection(title, tuple(
            (r.line, r.written, r.verdict.value, r.counterexample, r.correction, r.remark)
            for r in section)))
    return table, sections, ""
