"""Build the verification report: run every section, write report.md, report.html and the
figures into one folder."""

from __future__ import annotations

import platform
import time
from collections.abc import Callable
from pathlib import Path

from ddpm_math.report.model import Report, Section

__all__ = ["build_report", "write_report"]

Progress = Callable[[str], None]


def _timed(report: Report, key: str, title: str, compute: Callable[[], list],
           progress: Progress | None) -> Section:
    """Run one section; an exception fails the section (its message is the section's error)."""
    if progress:
        progress(title)
    section = Section(title)
    start = time.perf_counter()
    try:
        section.rows = compute()
    except Exception as error:  # the report must still be written, saying what broke
        section.error = f"{type(error).__name__}: {error}"
    section.seconds = time.perf_counter() - start
    report.sections[key] = section
    return section


def _errata(report: Report) -> list:
    from ddpm_math.report.errata import load_errata

    coverage, sections, note = load_errata()
    report.errata_coverage, report.errata = coverage, sections
    if note:
        report.sections["errata"].note = note
    return []


def _versions() -> dict[str, str]:
    import numpy
    import sympy
    import torch

    import ddpm_math

    return {"ddpm_math": ddpm_math.__version__, "torch": torch.__version__,
            "numpy": numpy.__version__, "sympy": sympy.__version__,
            "python": platform.python_version()}


def build_report(out: str | Path, *, quick: bool = False, checkpoint: str | Path | None = None,
                 progress: Progress | None = None, run_pytest: bool | None = None) -> Report:
    """Run the verification and write ``out``/report.md, report.html and the PNG figures.

    ``quick`` runs fewer Monte-Carlo draws and no pytest; ``run_pytest`` overrides that choice
    (pytest needs the source checkout's ``verification/``). ``checkpoint`` adds its bound
    terms and samples. Returns the :class:`Report` (``report.ok`` is the verdict).
    """
    import torch

    from ddpm_math.report import derivations, figures, kernels, papers, statistics
    from ddpm_math.report.errata import repository_root
    from ddpm_math.report.render import render_html, render_markdown

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small tensors: one thread is fastest on a shared machine
    report = Report("quick" if quick else "full", versions=_versions())
    try:
        _timed(report, "derivations", "derivations", derivations.run_derivations, progress)
        _timed(report, "kernels", "kernels", kernels.kernel_errors, progress)
        _timed(report, "statistics", "statistical tests",
               lambda: statistics.statistical_tests(quick), progress)
        _timed(report, "papers", "paper numbers", papers.paper_numbers, progress)
        _timed(report, "bias", "sampler bias", papers.sampler_bias_table, progress)
        _timed(report, "errata", "errata", lambda: _errata(report), progress)
        run_pytest = (not quick) if run_pytest is None else run_pytest
        root = repository_root()
        if run_pytest and root is not None:
            from ddpm_math.report.pytest_run import run_verification_tests

            _timed(report, "pytest", "pytest verification/",
                   lambda: run_verification_tests(root, out), progress)
        elif run_pytest:
            report.sections["pytest"] = Section("pytest", note="verification/ not found")
        else:
            report.sections["pytest"] = Section("pytest", note="skipped (--quick)")
        if checkpoint is not None:
            _checkpoint(report, checkpoint, out, quick, progress)
        _timed(report, "figures", "figures", lambda: _figures(report, out, figures), progress)
    finally:
        torch.set_num_threads(threads)
    report.seconds = time.perf_counter() - start
    write_report(report, out, render_markdown, render_html)
    return report


def _checkpoint(report: Report, path, out: Path, quick: bool, progress) -> None:
    from ddpm_math.report.checkpoint import checkpoint_section

    def compute() -> list:
        summary, made = checkpoint_section(path, out, quick=quick)
        report.checkpoint = summary
        report.figures += made
        return []

    _timed(report, "checkpoint", "checkpoint", compute, progress)


def _figures(report: Report, out: Path, figures) -> list:
    made = [figures.schedule_figure(out), figures.weight_figure(out),
            figures.approx_cdf_figure(out)]
    if report.sections["kernels"].rows:
        made.append(figures.kernel_figure(report.sections["kernels"].rows, out))
    report.figures = made + report.figures
    return []


def write_report(report: Report, out: Path, render_markdown, render_html) -> None:
    """Write report.md and report.html into ``out``."""
    (out / "report.md").write_text(render_markdown(report), encoding="utf-8")
    (out / "report.html").write_text(render_html(report), encoding="utf-8")
