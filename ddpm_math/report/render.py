"""The report as Markdown, as a self-contained HTML page (inline CSS, figures as sibling PNGs,
Unicode math, no network), and as a compact table for the terminal."""

from __future__ import annotations

import html
import math

from ddpm_math.report.errata import HOLDING_VERDICTS
from ddpm_math.report.model import Report

__all__ = ["render_html", "render_markdown", "terminal_table", "tables"]

TITLES = {"derivations": "Derivations of the symbolic layer",
          "kernels": "Kernels against their oracles",
          "statistics": "Monte-Carlo and two-sample tests",
          "papers": "Numbers reproduced from the papers",
          "bias": "Finite-T bias of the sampler",
          "errata": "Audit of the source notes",
          "pytest": "pytest verification/",
          "checkpoint": "Trained checkpoint",
          "figures": "Figures"}


def _g(x: float) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    return f"{x:.3g}" if abs(x) >= 1e-3 or x == 0 else f"{x:.2e}"


def _mark(ok: bool, yes: str = "holds", no: str = "FAILS") -> str:
    return f"✓ {yes}" if ok else f"✗ {no}"


def tables(report: Report) -> list[tuple[str, str, list[str], list[list[str]]]]:
    """(key, title, header, rows) for every table of the report, in order."""
    s = report.sections
    out = []
    if "derivations" in s:
        out.append(("derivations", TITLES["derivations"],
                    ["derivation", "source", "statement", "sympy derived", "verdict",
                     "wrong form rejected", "time"],
                    [[d.name, d.source, d.statement, d.derived or d.error,
                      _mark(d.ok, "derived", "failed"),
                      {True: "yes", False: "NO", None: "—"}[d.wrong_rejected],
                      f"{d.seconds:.2f} s"] for d in s["derivations"].rows]))
    if "kernels" in s:
        out.append(("kernels", TITLES["kernels"],
                    ["kernel", "equation", "dtype", "worst |error|", "worst rel. error",
                     "tolerance (rtol, atol)", "error / allowed", "verdict"],
                    [[k.kernel, k.equation, k.dtype, _g(k.worst_abs), _g(k.worst_rel),
                      f"{k.rtol:g}, {k.atol:g}", _g(k.ratio), _mark(k.ok)]
                     for k in s["kernels"].rows]))
    if "statistics" in s:
        out.append(("statistics", TITLES["statistics"],
                    ["test", "claim", "draws", "statistic", "min p-value", "threshold",
                     "false-failure prob.", "wrong form: min p", "verdict"],
                    [[t.name, t.claim, f"{t.samples:,}", f"{t.statistic_name} = "
                      f"{_g(t.statistic)}", _g(t.p_value), _g(t.threshold), _g(t.p_false),
                      f"{_g(t.power_p)} ({t.wrong})", _mark(t.ok)]
                     for t in s["statistics"].rows]))
    if "papers" in s:
        out.append(("papers", TITLES["papers"], ["quantity", "computed", "stated", "source",
                                                 "computed by", "verdict"],
                    [[p.quantity, p.computed, p.stated, p.source, p.how, _mark(p.ok)]
                     for p in s["papers"].rows]))
    if "bias" in s:
        out.append(("bias", TITLES["bias"],
                    ["T", "(S_0 - s²)/s², s = 0.5", "s = 0.2", "s = 1", "max |M_0 - m|",
                     "stated (s = 0.5)", "verdict"],
                    [[str(b.T), *(f"{v:+.2%}" for v in b.rel_var_bias), _g(b.max_mean_bias),
                      f"{b.stated:+.2%}", _mark(b.ok)] for b in s["bias"].rows]))
    if "pytest" in s and s["pytest"].rows:
        out.append(("pytest", TITLES["pytest"], ["module", "passed", "failed", "skipped",
                                                 "time", "first failure"],
                    [[m.module, str(m.passed), str(m.failed), str(m.skipped),
                      f"{m.seconds:.1f} s", ": ".join(m.failures[0]) if m.failures else ""]
                     for m in s["pytest"].rows]))
    return out


def _summary_rows(report: Report) -> list[list[str]]:
    rows = []
    for key, section in report.sections.items():
        good, total = section.counts
        state = "—" if section.note and not total else _mark(section.ok, "holds", "FAILS")
        counts = f"{good}/{total}" if total else ""
        if key == "pytest" and total:
            tests = sum(m.passed + m.failed for m in section.rows)
            skipped = sum(m.skipped for m in section.rows)
            counts = f"{good}/{total} modules ({tests} tests, {skipped} skipped)"
        if key == "errata" and report.errata:
            lines = [row for errata in report.errata for row in errata.rows]
            found = sum(row[2] not in HOLDING_VERDICTS for row in lines)
            counts = f"{len(lines)} lines, {found} findings in the notes"
        rows.append([TITLES.get(key, key), counts, state, f"{section.seconds:.1f} s",
                     section.error or section.note])
    return rows


SUMMARY_HEADER = ["section", "holding", "verdict", "time", "note"]


# -- Markdown ---------------------------------------------------------------------------------

def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
    return lines + [""]


def render_markdown(report: Report) -> str:
    verdict = "everything holds" if report.ok else "SOMETHING FAILS"
    lines = [f"# ddpm_math verification report: {verdict}", "",
             f"Mode: {report.mode}; {report.seconds:.0f} s; " + ", ".join(
                 f"{k} {v}" for k, v in report.versions.items()), "",
             *_md_table(SUMMARY_HEADER, _summary_rows(report))]
    if report.failures:
        lines += ["## Failures", "", *[f"- {line}" for line in report.failures], ""]
    for key, title, header, rows in tables(report):
        lines += [f"## {title}", "", *_md_table(header, rows)]
        if key == "kernels":
            lines += [_KERNEL_NOTE, ""]
    if report.checkpoint:
        c = report.checkpoint
        lines += [f"## {TITLES['checkpoint']}", "", f"{c['path']}: {c['model']} on {c['data']}, "
                  f"step {c['step']}, T = {c['T']}; bound on {c['n']} held-out examples: "
                  f"{c['total']:.4f} ± {c['total_stderr']:.4f} bits/dim (prior {c['prior']:.2e},"
                  f" decoder {c['decoder']:.4f}, KL terms {c['kl']:.4f}).", ""]
    lines += _md_errata(report)
    lines += ["## Figures", ""]
    for figure in report.figures:
        lines += [f"### {figure.title}", "", f"![{figure.title}]({figure.file})", "",
                  figure.caption, ""]
    return "\n".join(lines)


_KERNEL_NOTE = ("Allowed error: atol + rtol·Σ|terms| with the dtype's (rtol, atol) from "
                "ddpm_math.testing.tolerances; the oracle is the 50-digit mpmath lambdification "
                "of the sympy derivation, evaluated at the inputs rounded to the dtype; DDPM "
                "linear and cosine schedules, T = 1000, t from 1 to T.")


def _findings(report: Report) -> list[list[str]]:
    return [[section.title.split(",")[0], *row[:5]] for section in report.errata
            for row in section.rows if row[2] not in HOLDING_VERDICTS]


ERRATA_COVERAGE = ["seed", "file", "found", "audited", "by computation", "hold", "findings",
                   "left out"]
FINDINGS_HEADER = ["seed", "line", "as the note writes it", "verdict", "counterexample",
                   "correction"]


def _md_errata(report: Report) -> list[str]:
    if not report.errata:
        return []
    lines = [f"## {TITLES['errata']}", "", *_md_table(ERRATA_COVERAGE, report.errata_coverage),
             "### Findings (lines that do not hold as written)", "",
             *_md_table(FINDINGS_HEADER, _findings(report))]
    for section in report.errata:
        lines += [f"### {section.title}", "", *_md_table(
            ["line", "as the note writes it", "verdict", "counterexample", "correction"],
            [list(row[:5]) for row in section.rows])]
    return lines


# -- HTML -------------------------------------------------------------------------------------

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;
margin:0 auto;max-width:1400px;padding:18px 28px;color:#1d2329;background:#fff}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:26px 0 8px;border-bottom:1px solid
#dde3ea;padding-bottom:3px}h3{font-size:15px;margin:16px 0 6px}
.banner{padding:10px 14px;border-radius:6px;font-weight:600;font-size:16px;margin:10px 0}
.pass{background:#e6f4ea;color:#1e6b34}.fail{background:#fde8e8;color:#a11}
table{border-collapse:collapse;width:100%;margin:4px 0 10px;font-size:13px}
th,td{border:1px solid #dde3ea;padding:3px 6px;vertical-align:top;text-align:left}
th{background:#f3f6f9;font-weight:600}tr:nth-child(even) td{background:#fafbfc}
td.ok{color:#1e6b34;white-space:nowrap}td.bad{color:#a11;font-weight:700;white-space:nowrap}
.math{font-family:"DejaVu Serif","Cambria Math","STIX Two Math",Georgia,serif}
.meta{color:#5b6570}figure{margin:10px 0 18px}figure img{max-width:100%;border:1px solid
#e3e7ec}figcaption{color:#5b6570;font-size:13px}details{margin:4px 0}summary{cursor:pointer}
.note{color:#5b6570;font-size:13px}
"""

SCRIPT = """
window.addEventListener('load', function () {
  var images = Array.prototype.slice.call(document.images);
  var broken = images.filter(function (img) { return !img.complete || img.naturalWidth === 0; });
  document.body.setAttribute('data-figures', (images.length - broken.length) + '/' +
                             images.length);
  broken.forEach(function (img) { console.error('figure did not load: ' + img.src); });
});
"""

MATH_COLUMNS = {"statement", "sympy derived", "as the note writes it", "correction"}


def _td(cell: str, column: str) -> str:
    text = html.escape(str(cell))
    if text.startswith("✓"):
        return f'<td class="ok">{text}</td>'
    if text.startswith("✗") or text == "NO":
        return f'<td class="bad">{text}</td>'
    if column == "time":
        return f'<td style="white-space:nowrap">{text}</td>'
    if column in MATH_COLUMNS:
        return f'<td class="math">{text}</td>'
    return f"<td>{text}</td>"


def _html_table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(_td(c, h) for c, h in zip(row, header, strict=True))
                   + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_html(report: Report) -> str:
    """The report as one HTML page; figures are ``<img>`` of the sibling PNG files."""
    state = "pass" if report.ok else "fail"
    verdict = "Everything holds." if report.ok else "Something fails: " + "; ".join(
        report.failures[:6])
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             "<title>ddpm_math verification report</title>", f"<style>{CSS}</style>",
             f"<script>{SCRIPT}</script></head><body>",
             "<h1>ddpm_math verification report</h1>",
             f'<p class="meta">Mode: {html.escape(report.mode)} · {report.seconds:.0f} s · '
             + html.escape(", ".join(f"{k} {v}" for k, v in report.versions.items())) + "</p>",
             f'<div class="banner {state}">{html.escape(verdict)}</div>',
             _html_table(SUMMARY_HEADER, _summary_rows(report))]
    figures = {f.file: f for f in report.figures}
    placed = {"derivations": ["schedules.png", "eq12_weight.png"],
              "kernels": ["kernel_errors.png", "approx_cdf_error.png"]}
    for key, title, header, rows in tables(report):
        parts += [f"<h2>{html.escape(title)}</h2>", _html_table(header, rows)]
        if key == "kernels":
            parts.append(f'<p class="note">{html.escape(_KERNEL_NOTE)}</p>')
        parts += [_figure(figures.pop(name)) for name in placed.get(key, []) if name in figures]
    if report.checkpoint:
        c = report.checkpoint
        parts += [f"<h2>{TITLES['checkpoint']}</h2>", "<p>" + html.escape(
            f"{c['path']}: {c['model']} on {c['data']}, step {c['step']}, T = {c['T']}; bound "
            f"on {c['n']} held-out examples: {c['total']:.4f} ± {c['total_stderr']:.4f} "
            f"bits/dim (prior {c['prior']:.2e}, decoder {c['decoder']:.4f}, KL terms "
            f"{c['kl']:.4f}).") + "</p>"]
        parts += [_figure(figures.pop(name)) for name in ("bound_terms.png", "samples.png")
                  if name in figures]
    parts += _html_errata(report)
    if figures:
        parts += ["<h2>Figures</h2>", *(_figure(f) for f in figures.values())]
    parts.append("</body></html>")
    return "\n".join(parts)


def _figure(figure) -> str:
    return (f'<figure><img src="{html.escape(figure.file)}" alt="{html.escape(figure.title)}">'
            f"<figcaption><b>{html.escape(figure.title)}.</b> {html.escape(figure.caption)}"
            "</figcaption></figure>")


def _html_errata(report: Report) -> list[str]:
    if not report.errata:
        return []
    parts = [f"<h2>{TITLES['errata']}</h2>", _html_table(ERRATA_COVERAGE, report.errata_coverage),
             "<h3>Findings: the lines that do not hold as written</h3>",
             _html_table(FINDINGS_HEADER, _findings(report)),
             "<h3>Every audited line</h3>"]
    for section in report.errata:
        held = sum(row[2] in HOLDING_VERDICTS for row in section.rows)
        parts.append(f"<details><summary>{html.escape(section.title)}: {held} of "
                     f"{len(section.rows)} hold</summary>" + _html_table(
                         ["line", "as the note writes it", "verdict", "counterexample",
                          "correction"], [list(row[:5]) for row in section.rows]) + "</details>")
    return parts


# -- terminal ---------------------------------------------------------------------------------

def terminal_table(report: Report) -> str:
    """A compact box table of the sections, for stdout."""
    rows = [[r[0], r[1], r[2], r[3]] for r in _summary_rows(report)]
    header = SUMMARY_HEADER[:4]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]
    line = lambda cells: "│ " + " │ ".join(  # noqa: E731
        str(c).ljust(w) for c, w in zip(cells, widths, strict=True)) + " │"
    rule = lambda a, b, c: a + b.join("─" * (w + 2) for w in widths) + c  # noqa: E731
    out = [rule("┌", "┬", "┐"), line(header), rule("├", "┼", "┤"), *map(line, rows),
           rule("└", "┴", "┘")]
    return "\n".join(out)
