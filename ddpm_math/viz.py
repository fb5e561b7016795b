"""Pictures of schedules: β_t, ᾱ_t and log SNR(t) side by side (needs matplotlib).

    python -m ddpm_math.viz schedules.png [T]
    python -m ddpm_math.viz schedules.svg --steps 250

draws the built-in schedules for T steps (default 1000) into the named file; a path without a
suffix gets ``.png``. Any format matplotlib writes (png, svg, pdf, ...) is chosen by suffix.
"""

from __future__ import annotations

import argparse
import numbers
import sys
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from ddpm_math.schedules import (
    NoiseSchedule,
    cosine_betas,
    linear_betas,
    quadratic_betas,
    rescale_zero_terminal_snr,
    sqrt_linear_betas,
)

__all__ = ["builtin_schedules", "main", "plot_schedules"]

PROG = "python -m ddpm_math.viz"
DEFAULT_STEPS = 1000
PLOTS_HINT = "pip install 'ddpm_math[plots]'"


def builtin_schedules(T: int = DEFAULT_STEPS) -> dict[str, NoiseSchedule]:
    """The schedules this package builds, for T steps, by name (the DDPM default ends).

    Input contract: ``T`` an integer (not bool) ≥ 2, since the zero-terminal-SNR rescale needs
    two steps; else ``TypeError``/``ValueError`` naming T. With T well below 1000 the DDPM
    ends leave ᾱ_T far from 0 (see :func:`ddpm_math.schedules.linear_betas`); the picture
    shows that as it is.
    """
    if isinstance(T, bool) or not isinstance(T, numbers.Integral):
        raise TypeError(f"T must be an integer >= 2, got {T!r} of type {type(T).__name__}")
    if T < 2:
        raise ValueError(f"T must be an integer >= 2 (the zero-terminal-SNR rescale), got {T}")
    return {
        "linear (DDPM)": NoiseSchedule(linear_betas(T)),
        "quadratic in t": NoiseSchedule(quadratic_betas(T)),
        "linear in √β (TF 'quad')": NoiseSchedule(sqrt_linear_betas(T)),
        "cosine (Nichol & Dhariwal)": NoiseSchedule(cosine_betas(T)),
        "linear, zero terminal SNR": NoiseSchedule(rescale_zero_terminal_snr(linear_betas(T))),
    }


def plot_schedules(schedules: Mapping[str, NoiseSchedule], path: str | Path | None = None):
    """Draw β_t, ᾱ_t and log SNR(t) against t/T for each schedule; save to ``path`` if given.

    Input contract: ``schedules`` a non-empty mapping from label (str) to
    :class:`NoiseSchedule` (else ``ValueError``/``TypeError``); ``path`` ``None`` (do not
    save) or a ``str``/``Path`` whose suffix names a format matplotlib writes, in an existing
    folder (the file is written as given, no suffix is added). Returns the matplotlib Figure;
    uses the non-interactive Agg backend when saving. Needs matplotlib: without it an
    ``ImportError`` says ``pip install 'ddpm_math[plots]'``.
    """
    if not isinstance(schedules, Mapping) or not schedules:
        raise ValueError("schedules must name at least one NoiseSchedule (a non-empty mapping)")
    for name, schedule in schedules.items():
        if not isinstance(schedule, NoiseSchedule):
            raise TypeError(f"schedules[{name!r}] must be a NoiseSchedule, "
                            f"got {type(schedule).__name__}")
    if path is not None and not isinstance(path, (str, Path)):
        raise TypeError(f"path must be None, a str or a pathlib.Path, got {path!r}")
    try:
        import matplotlib

        if path is not None:
            matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as err:
        raise ImportError(f"plot_schedules needs matplotlib: {PLOTS_HINT}") from err
    fig, (ax_beta, ax_alpha_bar, ax_snr) = plt.subplots(1, 3, figsize=(15, 4.2))
    for name, schedule in schedules.items():
        u = np.arange(1, schedule.num_steps + 1) / schedule.num_steps  # paper's t/T
        ax_beta.semilogy(u, schedule.beta, label=name)
        ax_alpha_bar.plot(u, schedule.alpha_bar, label=name)
        with np.errstate(divide="ignore"):
            ax_snr.plot(u, np.log(schedule.snr), label=name)
    ax_beta.set(title="β_t", xlabel="t / T")
    ax_alpha_bar.set(title="ᾱ_t", xlabel="t / T", ylim=(0, 1.02))
    ax_snr.set(title="log SNR(t) = log ᾱ_t/(1-ᾱ_t)", xlabel="t / T")
    for ax in (ax_beta, ax_alpha_bar, ax_snr):
        ax.grid(alpha=0.3)
    ax_alpha_bar.legend(fontsize=8)
    fig.tight_layout()
    if path is not None:
        try:
            fig.savefig(path, dpi=110)
        finally:
            plt.close(fig)
    return fig


# ---------------------------------------------------------------------------------------------
# command line


class _UsageError(Exception):
    """A user mistake: reported as one line on stderr, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (``PROG: error: ...``) instead of usage plus error."""

    def error(self, message: str):  # type: ignore[override]
        raise _UsageError(f"{message} (see --help)")


def _steps(text: str) -> int:
    """argparse type for T: an integer >= 2."""
    try:
        T = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"T must be an integer >= 2, got {text!r}") from None
    if T < 2:
        raise argparse.ArgumentTypeError(f"T must be an integer >= 2, got {T}")
    return T


def _parser() -> _Parser:
    parser = _Parser(
        prog=PROG,
        description="Draw β_t, ᾱ_t and log SNR(t) of the built-in schedules side by side.",
        epilog=f"Needs matplotlib ({PLOTS_HINT}).",
    )
    parser.add_argument("out", metavar="OUT",
                        help="output file; '.png' is appended when it has no suffix")
    parser.add_argument("T", nargs="?", type=_steps, default=None,
                        help=f"number of steps T >= 2 (default {DEFAULT_STEPS}); "
                             "same as --steps")
    parser.add_argument("--steps", type=_steps, default=None, metavar="T",
                        help=f"number of steps T >= 2 (default {DEFAULT_STEPS})")
    return parser


def _output_path(out: str) -> Path:
    """The path to write: OUT with '.png' appended if it has no suffix, in an existing folder."""
    path = Path(out)
    if out.endswith(("/", "\\")) or path.is_dir():
        raise _UsageError(f"OUT must be a file name, but {out!r} is a folder")
    if not path.suffix:
        path = path.with_name(path.name + ".png")
    folder = path.parent
    if not folder.is_dir():
        raise _UsageError(f"the folder {str(folder)!r} of OUT does not exist; create it first")
    return path


def _check_format(path: Path) -> None:
    """Raise a usage error unless matplotlib can write the format that ``path``'s suffix names."""
    from matplotlib.backend_bases import FigureCanvasBase

    formats = FigureCanvasBase.get_supported_filetypes()
    fmt = path.suffix[1:].lower()
    if fmt not in formats:
        raise _UsageError(f"cannot write {path.suffix!r} files; use one of "
                          f"{', '.join('.' + name for name in sorted(formats))}")


def _run(argv: list[str]) -> int:
    args = _parser().parse_intermixed_args(argv)
    if args.T is not None and args.steps is not None and args.T != args.steps:
        raise _UsageError(f"T given twice with different values: {args.T} and --steps "
                          f"{args.steps}")
    T = args.steps if args.steps is not None else args.T
    T = DEFAULT_STEPS if T is None else T
    path = _output_path(args.out)
    try:
        _check_format(path)
    except ImportError:
        raise _UsageError(f"this needs matplotlib; {PLOTS_HINT}") from None
    try:
        plot_schedules(builtin_schedules(T), path)
    except OSError as err:
        raise _UsageError(f"cannot write {str(path)!r}: {err.strerror or err}") from None
    print(f"wrote {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m ddpm_math.viz OUT [T] [--steps T]``; returns the exit status.

    0 on success (the path written is printed on stdout), 2 for a user mistake (a one-line
    message on stderr): bad arguments, a missing folder, an unknown format, no matplotlib.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        return _run(argv)
    except _UsageError as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 2
    except SystemExit as exit_:  # --help (status 0)
        return exit_.code if isinstance(exit_.code, int) else 0


if __name__ == "__main__":
    raise SystemExit(main())
