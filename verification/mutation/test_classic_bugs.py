"""The classic DDPM bugs that generic mutation operators do not produce, each planted in a copy.

Each entry substitutes one text in a copy of the package (the old text must occur exactly once,
so a refactor that moves it makes this test fail loudly rather than pass vacuously), then runs a
targeted subset of ``pytest verification/`` on the copy in a subprocess and asserts that it
fails. A control run of the same subset on the unmodified copy must pass. Marked ``slow``
(about 1-2 minutes in all on 2 cores); run alone with

    HYPOTHESIS_PROFILE=ci pytest -q verification/mutation/test_classic_bugs.py
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Under mutmut (which sets MUTANT_UNDER_TEST in every process it runs pytest in) the copy would
# be of mutmut's trampolined package, whose subprocesses cannot record coverage: no mutant can
# be killed here, and the 7 subprocess runs would only lengthen mutmut's stats and clean runs.
pytestmark = pytest.mark.skipif("MUTANT_UNDER_TEST" in os.environ,
                                reason="the classic-bug catalogue does not run inside mutmut")


@dataclass(frozen=True)
class ClassicBug:
    path: str  # relative to the repository root
    old: str
    new: str
    targets: tuple[str, ...]  # the pytest subset of verification/ that must catch it


BUGS = {
    # ᾱ_t for ᾱ_{t-1} in the posterior mean's x_0 coefficient (eq. 7)
    "shifted_alpha_bar_index": ClassicBug(
        "ddpm_math/schedules.py",
        '"mu_tilde_coef_x0": np.sqrt(alpha_bar_prev) * beta / one_minus_alpha_bar',
        '"mu_tilde_coef_x0": np.sqrt(alpha_bar) * beta / one_minus_alpha_bar',
        ("verification/diffusion/test_posterior.py", "verification/diffusion/test_facade.py")),
    # KL(p_θ ‖ q) for KL(q ‖ p_θ) in the bound's terms (eq. 5)
    "swapped_kl_direction": ClassicBug(
        "ddpm_math/diffusion/vlb.py",
        "normal_kl(true_mean, true_log_variance, mean, log_variance)",
        "normal_kl(mean, log_variance, true_mean, true_log_variance)",
        ("verification/diffusion/test_vlb.py", "verification/diffusion/test_facade.py")),
    # ‖μ̃ - μ_θ‖²/σ² for ‖μ̃ - μ_θ‖²/(2σ²) in the eq. (12) weight
    "missing_half": ClassicBug(
        "ddpm_math/diffusion/losses.py",
        "return coef2 * torch.exp(-log_sigma2) / 2.0",
        "return coef2 * torch.exp(-log_sigma2)",
        ("verification/diffusion/test_losses.py",
         "verification/diffusion/test_facade_training.py")),
    # the facade's training path calls the network at t+1 (sampling untouched)
    "timestep_off_by_one": ClassicBug(
        "ddpm_math/diffusion/gaussian_diffusion.py",
        "check_model_output(self._wrap(model)(x_t, t), x_t,",
        "check_model_output(self._wrap(model)(x_t, (t + 1).clamp(max=self.num_steps - 1)), x_t,",
        ("verification/diffusion/test_facade_training.py",)),
    # the schedule tables pass through float32 on their way to torch (float64 asked for)
    "float32_round_trip_of_tables": ClassicBug(
        "ddpm_math/schedules.py",
        "torch.as_tensor(np.array(self._arrays[name]), dtype=torch.float64)",
        "torch.as_tensor(np.array(self._arrays[name]), dtype=torch.float32)",
        ("verification/diffusion/test_forward.py",)),
    # the hybrid loss's L_vlb term trains the mean too (Improved DDPM §3.1 detaches it)
    "missing_stop_gradient": ClassicBug(
        "ddpm_math/diffusion/losses.py",
        "mean_output = mean_output.detach()",
        "mean_output = mean_output",
        ("verification/diffusion/test_losses.py",)),
}


def _copy_tree(destination: Path) -> None:
    """The package, the math claims (without this catalogue) and the pytest configuration."""
    ignore = shutil.ignore_patterns("__pycache__", ".hypothesis", "mutation")
    shutil.copytree(ROOT / "ddpm_math", destination / "ddpm_math", ignore=ignore)
    shutil.copytree(ROOT / "verification", destination / "verification", ignore=ignore)
    for name in ("conftest.py", "pyproject.toml"):
        shutil.copy2(ROOT / name, destination / name)


def _run_pytest(copy: Path, targets: tuple[str, ...]) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(copy), HYPOTHESIS_PROFILE="ci",
               PYTHONDONTWRITEBYTECODE="1")
    env.pop("MUTANT_UNDER_TEST", None)
    probe = [sys.executable, "-c", "import ddpm_math; print(ddpm_math.__file__)"]
    where = subprocess.run(probe, cwd=copy, env=env, capture_output=True, text=True, check=True)
    assert where.stdout.strip().startswith(str(copy)), where.stdout  # the copy, not /work/main
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *targets]
    return subprocess.run(command, cwd=copy, env=env, capture_output=True, text=True,
                          timeout=600)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("pristine")


@pytest.mark.slow
def test_the_targets_pass_on_an_unmodified_copy(pristine):
    _copy_tree(pristine)
    targets = tuple(sorted({t for bug in BUGS.values() for t in bug.targets}))
    result = _run_pytest(pristine, targets)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(BUGS))
def test_classic_bug_fails_verification(name, tmp_path):
    bug = BUGS[name]
    _copy_tree(tmp_path)
    path = tmp_path / bug.path
    source = path.read_text(encoding="utf-8")
    assert source.count(bug.old) == 1, f"{name}: the text to replace moved; update the catalogue"
    path.write_text(source.replace(bug.old, bug.new), encoding="utf-8")
    result = _run_pytest(tmp_path, bug.targets)
    assert result.returncode == 1, (  # 1: tests failed (not a collection or usage error)
        f"{name} survived {bug.targets}:\n{result.stdout[-3000:]}{result.stderr[-2000:]}")
