"""The verification report: one command (``ddpm-math verify``) that shows what holds.

It runs the symbolic derivations, measures every torch kernel against its mpmath oracle per
dtype, runs seeded Monte-Carlo tests, reproduces numbers the papers state, renders the audit of
the source notes, (in full mode) runs ``pytest verification/``, and writes report.md and
report.html with PNG figures beside them. Needs matplotlib for the figures.
"""

from ddpm_math.report.model import Report
from ddpm_math.report.render import terminal_table
from ddpm_math.report.runner import build_report

__all__ = ["Report", "build_report", "terminal_table"]
