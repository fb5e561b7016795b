"""The ``ddpm-math`` command line as a user meets it: the train → sample → bpd path, --help,
and one-line errors with exit status 2 for user mistakes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch
from PIL import Image

from ddpm_math.bench import loops
from ddpm_math.cli import main


def cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """``python -m ddpm_math ARGS`` in a fresh process, as a user runs it."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "ddpm_math", *args], capture_output=True,
                          text=True, timeout=timeout, env=env)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "run"
    done = cli("train", "--steps", "30", "--out", str(out), timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "checkpoint" in done.stdout
    return out


def test_train_writes_a_checkpoint_log_and_config(run_dir):
    assert (run_dir / "checkpoints" / "step_00000030").is_dir()
    lines = (run_dir / "log.jsonl").read_text().splitlines()
    assert len(lines) == 30 and json.loads(lines[-1])["step"] == 30
    assert json.loads((run_dir / "config.json").read_text())["data"] == "digits"


def test_sample_writes_a_png_grid(run_dir, tmp_path):
    grid, raw = tmp_path / "grid.png", tmp_path / "raw.npz"
    done = cli("sample", "--checkpoint", str(run_dir), "--n", "16", "--steps", "20",
               "--out", str(grid), "--npz", str(raw))
    assert done.returncode == 0, done.stderr[-2000:]
    with Image.open(grid) as image:
        assert image.format == "PNG" and min(image.size) >= 64
    import numpy as np

    samples = np.load(raw)["samples"]
    assert samples.shape == (16, 1, 8, 8) and np.isfinite(samples).all()


def test_sample_ddim(run_dir, tmp_path):
    assert main(["sample", "--checkpoint", str(run_dir), "--n", "4", "--sampler", "ddim",
                 "--steps", "10", "--out", str(tmp_path / "g.png"), "--no-progress"]) == 0


def test_bpd_reports_the_bound_and_the_baseline(run_dir):
    done = cli("bpd", "--checkpoint", str(run_dir), "--n", "8", "--json")
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert report["n"] == 8 and report["T"] == 1000 and report["step"] == 30
    parts = report["prior"] + report["decoder"] + report["kl"]
    assert report["total"] == pytest.approx(parts, rel=1e-6)  # float32 sums
    assert 0 < report["prior"] < 1e-3  # L_T ≈ 1e-5 bits/dim for the linear schedule (DDPM §4)
    assert report["baseline_per_pixel_gaussian"] > 0
    assert len(report["per_t"]) == 1000


def test_bpd_table(run_dir, capsys):
    assert main(["bpd", "--checkpoint", str(run_dir), "--n", "4", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "bits/dim" in out and "baseline" in out and "decoder" in out


def test_train_refuses_to_overwrite_a_run(run_dir, capsys):
    assert main(["train", "--steps", "1", "--out", str(run_dir)]) == 2
    err = capsys.readouterr().err
    assert "--resume" in err and err.count("\n") == 1


def test_resume_rejects_a_changed_option(run_dir, capsys):
    assert main(["train", "--resume", "--out", str(run_dir), "--lr", "0.1"]) == 2
    assert "lr" in capsys.readouterr().err


@pytest.mark.parametrize("command", [[], ["train"], ["sample"], ["bpd"], ["bench"],
                                     ["bench", "sample"], ["verify"]])
def test_help(command, capsys):
    with pytest.raises(SystemExit) as stop:
        main([*command, "--help"])
    assert stop.value.code == 0
    assert "usage: ddpm-math" in capsys.readouterr().out


@pytest.mark.parametrize("args, needle", [
    (["sample", "--checkpoint", "/nonexistent/run", "--out", "x.png"], "/nonexistent/run"),
    (["bpd", "--checkpoint", "/nonexistent/run"], "/nonexistent/run"),
    (["train", "--data", "images:/nonexistent/pictures", "--steps", "1"], "/nonexistent"),
    (["train", "--data", "cifar10:/nonexistent/cifar", "--steps", "1"], "/nonexistent"),
    (["train", "--data", "mnist", "--steps", "1"], "mnist"),
    (["train", "--config", "resnet9000", "--steps", "1"], "resnet9000"),
    (["bench", "sample", "--json", "/nonexistent/dir/b.json"], "/nonexistent/dir"),
    *([(["bench", "sample", "--device", "cuda"], "CUDA")]
      if not torch.cuda.is_available() else []),
])
def test_user_mistakes_give_one_line_and_exit_2(args, needle, tmp_path):
    done = cli(*args, "--out", str(tmp_path / "o")) if args[0] == "train" else cli(*args)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and needle in lines[0], done.stderr


def test_argparse_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["train", "--steps", "-3"])
    assert stop.value.code == 2


def test_console_script_points_at_main():
    """`pip install` creates the `ddpm-math` command from this entry point."""
    from importlib.metadata import entry_points

    scripts = {ep.name: ep.value for ep in entry_points(group="console_scripts")}
    assert scripts.get("ddpm-math") == "ddpm_math.cli:main"


def test_two_dimensional_data_path(tmp_path):
    """moons: train, a scatter plot beside the held-out points, and x̂_0 not clipped to [-1, 1]
    (the standardised moons extend to about ±2)."""
    import numpy as np

    out = tmp_path / "moons"
    assert main(["train", "--data", "moons", "--steps", "5", "--out", str(out),
                 "--no-progress"]) == 0
    raw = tmp_path / "s.npz"
    assert main(["sample", "--checkpoint", str(out), "--n", "200", "--steps", "10",
                 "--out", str(tmp_path / "s.png"), "--npz", str(raw), "--no-progress"]) == 0
    samples = np.load(raw)["samples"]
    assert samples.shape == (200, 2) and np.abs(samples).max() > 1.0
    with Image.open(tmp_path / "s.png") as image:
        assert image.format == "PNG"


def test_ctrl_c_finishes_the_step_and_writes_a_checkpoint(tmp_path):
    """A real SIGINT: the run ends with status 130 after a consistent checkpoint of the last
    finished step (every logged step is in it), and --resume continues from there."""
    import signal
    import time

    out = tmp_path / "run"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.Popen([sys.executable, "-m", "ddpm_math", "train", "--steps", "100000",
                             "--out", str(out), "--no-progress"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    log = out / "log.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (
            not log.exists() or log.read_text().count("\n") < 3):
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr[-2000:]
    assert "Traceback" not in stderr and "--resume" in stderr
    from ddpm_math.train.checkpoint import load_checkpoint

    steps = [json.loads(line)["step"] for line in log.read_text().splitlines()]
    saved = load_checkpoint(out)
    assert saved.step == steps[-1] >= 3
    assert main(["train", "--out", str(out), "--resume", "--steps", str(saved.step + 2),
                 "--no-progress"]) == 0
    assert load_checkpoint(out).step == saved.step + 2


# -- bench sample -------------------------------------------------------------------------------


def test_bench_sample_prints_the_loop_against_bare_calls(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert main(["bench", "sample", "--steps", "30", "--rounds", "2", "--no-progress",
                 "--json", str(out)]) == 0
    table = capsys.readouterr().out
    assert "loop/bare" in table and "tiny (443 parameters)" in table
    report = json.loads(out.read_text())
    rows = {row["loop"]: row for row in report["rows"]}
    assert set(rows) == {"bare", "ours", "floor"}  # hand-written runs at T = 1000 only
    assert report["steps"] == 30 and report["threads"] == 1
    assert rows["bare"]["ratio"] == 1.0 and len(rows["ours"]["seconds"]) == 2
    assert rows["bare"]["overhead_us"] is None and "NaN" not in out.read_text()
    # loop/bare is the ratio of the best times, and the overhead per step their difference
    best = {name: min(row["seconds"]) for name, row in rows.items()}
    assert rows["ours"]["ratio"] == pytest.approx(best["ours"] / best["bare"])
    assert rows["ours"]["overhead_us"] == pytest.approx(1e6 * (best["ours"] - best["bare"]) / 30)


def test_bench_sample_ddim_and_the_profile(capsys):
    assert main(["bench", "sample", "--sampler", "ddim", "--steps", "10", "--rounds", "1",
                 "--no-progress", "--profile"]) == 0
    out = capsys.readouterr().out
    assert "ddim, 10 steps" in out and "torch.profiler" in out
    assert "model (record_function 'model'" in out and "aten::" in out


def test_bench_loops_make_the_same_number_of_model_calls():
    """bare, floor and the hand-written loop call the model T times, as our loop does."""
    calls = []
    bench = loops.tiny_eps_model(2)

    def counting(x, t):
        calls.append(int(t[0]))
        return bench.model(x, t)

    from ddpm_math import GaussianDiffusion, NoiseSchedule

    schedule = NoiseSchedule.linear(12)
    x_T = torch.randn(bench.shape)
    for run in (lambda: loops.bare_calls(counting, x_T, 12),
                lambda: loops.floor_loop(counting, x_T, 12),
                lambda: loops.handwritten_ancestral(counting, schedule, x_T),
                lambda: GaussianDiffusion(schedule).p_sample_loop(counting, x_T.shape,
                                                                  noise=x_T)):
        calls.clear()
        run()
        assert calls == list(range(11, -1, -1))


def test_bench_sample_peers(capsys):
    """--peers adds diffusers' loop where it is installed, and says how to get it where not."""
    from ddpm_math.bench import peers

    if not peers.available():
        done = cli("bench", "sample", "--peers", "--steps", "10")
        assert done.returncode == 2 and "Traceback" not in done.stderr
        assert "pip install 'ddpm_math[peers]'" in done.stderr.strip().splitlines()[-1]
        return
    assert main(["bench", "sample", "--peers", "--rounds", "1", "--no-progress"]) == 0
    assert "\ndiffusers " in capsys.readouterr().out
