"""``ddpm-math verify``: the report's files, its verdicts, a failing kernel turning the exit
status non-zero, a trained checkpoint's section, and the HTML page in a real browser."""

from __future__ import annotations

import contextlib
import io
import re
import shutil
import subprocess

import pytest

pytest.importorskip("matplotlib")

from ddpm_math.cli import main  # noqa: E402
from ddpm_math.report import kernels  # noqa: E402
from ddpm_math.report.pytest_run import parse_junit  # noqa: E402

FIGURES = {"schedules.png", "eq12_weight.png", "approx_cdf_error.png", "kernel_errors.png"}


def run_cli(*args: str) -> tuple[int, str]:
    """``main(args)`` with its stdout captured (usable in module-scoped fixtures)."""
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        status = main(list(args))
    return status, stdout.getvalue()


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("verify") / "report"
    status, stdout = run_cli("verify", "--quick", "--out", str(out), "--no-progress")
    return status, stdout, out


def test_quick_report_holds_and_says_where_it_went(quick):
    status, stdout, out = quick
    assert status == 0, stdout
    assert "everything holds" in stdout and str(out / "report.html") in stdout
    assert "Kernels against their oracles" in stdout and "✓ holds" in stdout


def test_quick_report_writes_markdown_html_and_figures(quick):
    _, _, out = quick
    assert FIGURES <= {p.name for p in out.glob("*.png")}
    markdown = (out / "report.md").read_text(encoding="utf-8")
    page = (out / "report.html").read_text(encoding="utf-8")
    for needle in ("posterior mean μ̃_t", "bfloat16", "SNR(T)", "35.7", "Lin et al. 2023",
                   "≈ 10⁻⁵ bits/dim", "learned-range", "two-sample", "Findings"):
        assert needle in markdown and needle in page, needle
    for name in re.findall(r'<img src="([^"]+)"', page):
        assert (out / name).is_file(), name
    assert "http://" not in page and "https://" not in page  # no network, no CDN


def test_every_kernel_is_measured_in_three_dtypes(quick):
    _, _, out = quick
    markdown = (out / "report.md").read_text(encoding="utf-8")
    for name in ("q_sample", "mu_tilde", "x0_from_eps", "normal_kl", "standard_normal_cdf"):
        rows = [line for line in markdown.splitlines() if line.startswith(f"| {name} |")]
        assert {row.split(" | ")[2] for row in rows} == {"float64", "float32", "bfloat16"}


def test_a_wrong_kernel_fails_its_row():
    """μ̃_t with its two coefficients swapped: the float64 row's error is far above tolerance."""
    from ddpm_math.diffusion import posterior

    right = posterior.mu_tilde

    def swapped(schedule, x0, x_t, t):
        return right(schedule, x_t, x0, t)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(posterior, "mu_tilde", swapped)
        rows = [r for r in kernels.kernel_errors() if r.kernel == "mu_tilde"]
    assert len(rows) == 3 and not any(r.ok for r in rows)
    assert all(r.ok for r in kernels.kernel_errors() if r.kernel == "mu_tilde")


def test_a_failing_check_makes_the_exit_status_non_zero(tmp_path, monkeypatch):
    """A broken kernel (a square root dropped in q_sample) ends `verify` with status 1 and a
    FAILED line; the slow symbolic sections are stubbed to keep this quick."""
    from ddpm_math.diffusion import forward
    from ddpm_math.report import derivations, errata

    right = forward.q_sample
    monkeypatch.setattr(forward, "q_sample", lambda s, x0, t, noise: right(s, x0, t, noise**2))
    monkeypatch.setattr(derivations, "run_derivations", lambda progress=None: [])
    monkeypatch.setattr(errata, "load_errata", lambda: ([], [], "stubbed"))
    status, stdout = run_cli("verify", "--quick", "--out", str(tmp_path / "r"), "--no-progress")
    assert status == 1
    assert "FAILED  kernels: q_sample" in stdout and "FAILED  statistics" in stdout
    page = (tmp_path / "r" / "report.html").read_text(encoding="utf-8")
    assert "Something fails" in page and "✗ FAILS" in page


def test_out_that_is_a_file_is_a_one_line_error(tmp_path, capsys):
    target = tmp_path / "file.txt"
    target.write_text("x")
    assert main(["verify", "--quick", "--out", str(target)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--out" in err


def test_junit_outcomes_are_grouped_by_module(tmp_path):
    xml = tmp_path / "j.xml"
    xml.write_text(
        '<testsuites><testsuite name="pytest">'
        '<testcase classname="verification.symbolic.test_kl" name="a" time="0.5"/>'
        '<testcase classname="verification.symbolic.test_kl" name="b" time="0.25">'
        '<failure message="assert 1 == 2">trace</failure></testcase>'
        '<testcase classname="verification.test_schedules.TestX" name="c" time="0.1">'
        '<skipped message="no"/></testcase></testsuite></testsuites>')
    kl, schedules = parse_junit(xml)
    assert (kl.module, kl.passed, kl.failed, kl.seconds) == (
        "verification/symbolic/test_kl.py", 1, 1, 0.75)
    assert kl.failures == (("b", "assert 1 == 2"),) and not kl.ok
    assert (schedules.module, schedules.skipped) == ("verification/test_schedules.py", 1)


@pytest.mark.slow
def test_checkpoint_adds_the_bound_terms_and_samples(tmp_path):
    """A tiny run (T = 100, 2 steps) gives the per-t terms figure and a sample grid."""
    from ddpm_math.report.checkpoint import checkpoint_section

    run = tmp_path / "run"
    assert main(["train", "--steps", "2", "--num-steps", "100", "--out", str(run),
                 "--no-progress"]) == 0
    summary, figures = checkpoint_section(run, tmp_path, quick=True)
    assert {f.file for f in figures} == {"bound_terms.png", "samples.png"}
    assert summary["T"] == 100 and summary["step"] == 2 and summary["n"] == 8
    assert summary["total"] == pytest.approx(summary["prior"] + summary["decoder"]
                                             + summary["kl"], rel=1e-5)
    assert all((tmp_path / f.file).stat().st_size > 1000 for f in figures)


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        if shutil.which(name):
            return shutil.which(name)
    return None


@pytest.mark.skipif(_chromium() is None, reason="no chromium binary (apt-get install chromium)")
def test_html_renders_in_headless_chromium(quick, tmp_path):
    """Every figure loads (the page's own check writes data-figures="n/n") and the console
    shows no error; a screenshot is written."""
    _, _, out = quick
    page = (out / "report.html").resolve().as_uri()
    flags = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0",
             "--virtual-time-budget=10000"]
    done = subprocess.run([*flags, "--dump-dom", page], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    count = len(re.findall(r"<img ", (out / "report.html").read_text(encoding="utf-8")))
    assert count >= len(FIGURES)
    assert f'data-figures="{count}/{count}"' in done.stdout
    console = [line for line in done.stderr.splitlines() if "CONSOLE" in line]
    assert not console, console
    shot = tmp_path / "shot.png"
    done = subprocess.run([*flags, "--hide-scrollbars", "--window-size=1400,2000",
                           f"--screenshot={shot}", page], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
