"""Run ``pytest verification/`` in a subprocess and read its outcomes per module (JUnit XML).

A subprocess keeps pytest's configuration (the repository's pyproject, conftest, hypothesis
profile) exactly as a developer runs it, and keeps its imports and warnings filters out of the
report's process. ``--quick`` runs no tests here.
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

from ddpm_math.report.model import TestModule

__all__ = ["parse_junit", "run_verification_tests"]


def parse_junit(path: Path) -> list[TestModule]:
    """Per-module counts, time and failure messages from a JUnit XML file."""
    root = ET.parse(path).getroot()
    counts: dict[str, dict] = defaultdict(lambda: {"passed": 0, "failed": 0, "skipped": 0,
                                                   "seconds": 0.0, "failures": []})
    for case in root.iter("testcase"):
        classname = case.get("classname", "")
        parts = classname.split(".")
        module = ".".join(p for p in parts if not p[:1].isupper()) or classname
        entry = counts[module]
        entry["seconds"] += float(case.get("time", 0) or 0)
        problem = case.find("failure")
        if problem is None:
            problem = case.find("error")
        if problem is not None:
            entry["failed"] += 1
            message = (problem.get("message") or problem.text or "").strip().splitlines()
            entry["failures"].append((case.get("name", ""), message[0][:300] if message else ""))
        elif case.find("skipped") is not None:
            entry["skipped"] += 1
        else:
            entry["passed"] += 1
    return [TestModule(module.replace(".", "/") + ".py", e["passed"], e["failed"], e["skipped"],
                       e["seconds"], tuple(e["failures"])) for module, e in sorted(counts.items())]


def run_verification_tests(root: Path, out: Path, timeout: float = 540) -> list[TestModule]:
    """``python -m pytest verification/`` in ``root``; raises RuntimeError if it could not run."""
    junit = out / "junit.xml"
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"))
    command = [sys.executable, "-m", "pytest", "verification", "-q", "-p", "no:cacheprovider",
               f"--junitxml={junit}", "-o", "junit_family=xunit1"]
    try:
        done = subprocess.run(command, cwd=root, capture_output=True, text=True,
                              timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"pytest verification/ ran past {timeout:.0f} s") from None
    (out / "pytest.log").write_text(done.stdout + done.stderr, encoding="utf-8")
    if not junit.exists() or done.returncode not in (0, 1):
        tail = (done.stdout + done.stderr).strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"pytest verification/ exited {done.returncode}: {tail[0]}")
    return parse_junit(junit)
