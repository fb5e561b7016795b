"""The schedule picture: written as a PNG, one curve per schedule in each panel."""

from __future__ import annotations

import pytest

pytest.importorskip("matplotlib")

from ddpm_math import viz  # noqa: E402


def test_plot_schedules_writes_a_png(tmp_path):
    path = tmp_path / "schedules.png"
    schedules = viz.builtin_schedules(50)
    fig = viz.plot_schedules(schedules, path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000
    assert [len(ax.get_lines()) for ax in fig.axes] == [len(schedules)] * 3


def test_plot_schedules_needs_a_schedule():
    with pytest.raises(ValueError, match="at least one NoiseSchedule"):
        viz.plot_schedules({})


def test_cli(tmp_path, capsys):
    assert viz.main([]) == 2
    assert viz.main([str(tmp_path / "s.png"), "20"]) == 0
    assert "wrote" in capsys.readouterr().out
