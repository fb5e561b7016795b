"""The verification report's data: one dataclass per kind of row, and the report that holds them.

Every row knows whether it holds (``ok``); the report holds when every row does. The renderers in
:mod:`ddpm_math.report.render` only read these objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "BiasRow",
    "Derivation",
    "ErrataSection",
    "Figure",
    "KernelError",
    "PaperNumber",
    "Report",
    "Section",
    "StatTest",
    "TestModule",
]


@dataclass(frozen=True)
class Derivation:
    """One sympy derivation: the paper's statement, what sympy produced, and whether they agree
    (exactly, and at random rational points); ``wrong_rejected`` says whether a plausible wrong
    form fails the same comparison (None where none is stated)."""

    name: str
    source: str
    statement: str
    derived: str
    ok: bool
    seconds: float
    wrong_rejected: bool | None = None
    error: str = ""


@dataclass(frozen=True)
class KernelError:
    """Worst error of a torch kernel in one dtype against its 50-digit mpmath oracle.

    ``ratio`` is max over the inputs of |kernel - oracle| / (atol + rtol·Σ|terms|): the error over
    what the dtype's tolerance allows for a sum of terms of that size; ≤ 1 holds.
    """

    kernel: str
    equation: str
    dtype: str
    n: int
    worst_abs: float
    worst_rel: float
    ratio: float
    rtol: float
    atol: float
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error and self.ratio <= 1.0


@dataclass(frozen=True)
class StatTest:
    """A seeded statistical test: its statistic, p-value, and the false-failure probability it
    states; it holds when p ≥ threshold. ``power_p`` is the p-value of the same test applied to a
    plausible wrong formula (it should fall below the threshold)."""

    name: str
    claim: str
    statistic_name: str
    statistic: float
    p_value: float
    threshold: float
    p_false: float
    samples: int
    power_p: float | None = None
    wrong: str = ""

    @property
    def ok(self) -> bool:
        power = self.power_p is None or self.power_p < self.threshold
        return self.p_value >= self.threshold and power


@dataclass(frozen=True)
class PaperNumber:
    """A number reproduced by computation beside the value its source states."""

    quantity: str
    computed: str
    stated: str
    source: str
    ok: bool
    how: str = ""


@dataclass(frozen=True)
class BiasRow:
    """Finite-T bias of ancestral sampling with the optimal model on Gaussian data."""

    T: int
    rel_var_bias: tuple[float, ...]
    max_mean_bias: float
    stated: float | None
    ok: bool


@dataclass(frozen=True)
class ErrataSection:
    """One table of the audit of the source notes: rows of (line, written, verdict, remark,
    counterexample, correction)."""

    title: str
    rows: tuple[tuple[str, str, str, str, str, str], ...]


@dataclass(frozen=True)
class TestModule:
    """Outcomes of one pytest module of ``verification/``."""

    module: str
    passed: int
    failed: int
    skipped: int
    seconds: float
    failures: tuple[tuple[str, str], ...] = ()

    @property
    def ok(self) -> bool:
        return self.failed == 0


@dataclass(frozen=True)
class Figure:
    """A PNG written beside the report."""

    file: str
    title: str
    caption: str


@dataclass
class Section:
    """A section's rows, its time, and a note (why it was skipped, what failed to run)."""

    title: str
    rows: list = field(default_factory=list)
    seconds: float = 0.0
    note: str = ""
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error and all(getattr(row, "ok", True) for row in self.rows)

    @property
    def counts(self) -> tuple[int, int]:
        """(rows that hold, rows)."""
        checked = [row for row in self.rows if hasattr(row, "ok")]
        return sum(bool(row.ok) for row in checked), len(checked)


@dataclass
class Report:
    """Everything the verification report shows."""

    mode: str
    sections: dict[str, Section] = field(default_factory=dict)
    figures: list[Figure] = field(default_factory=list)
    errata_coverage: list[tuple[str, ...]] = field(default_factory=list)
    errata: list[ErrataSection] = field(default_factory=list)
    checkpoint: dict | None = None
    seconds: float = 0.0
    versions: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(section.ok for section in self.sections.values())

    @property
    def failures(self) -> list[str]:
        """One line per failed row or section."""
        lines = []
        for key, section in self.sections.items():
            if section.error:
                lines.append(f"{key}: {section.error}")
            for row in section.rows:
                if not getattr(row, "ok", True):
                    lines.append(f"{key}: {_row_name(row)}")
        return lines


def _row_name(row) -> str:
    for attribute in ("name", "kernel", "quantity", "module"):
        if hasattr(row, attribute):
            extra = f" ({row.dtype})" if hasattr(row, "dtype") else ""
            return f"{getattr(row, attribute)}{extra}"
    return repr(row)
