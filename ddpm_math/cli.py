"""The ``ddpm-math`` command line: train a DDPM, sample from it, measure its bound.

    ddpm-math train [--data digits] [--config NAME] [--steps N] [--out DIR] [--resume]
    ddpm-math sample --checkpoint DIR [--n 16] [--sampler ancestral|ddim] [--steps K] --out grid.png
    ddpm-math bpd --checkpoint DIR [--n N]
    ddpm-math verify [--out DIR] [--quick] [--checkpoint DIR]
    ddpm-math bench sample [--model tiny|cifar10] [--sampler ancestral|ddim] [--steps N]
                           [--device cpu|cuda] [--peers] [--profile]

User mistakes end in one line on stderr and exit status 2; progress bars go to stderr, results
to stdout (``--json`` for machine-readable output). Multi-process training:
``torchrun --nproc_per_node N -m ddpm_math train ...``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

__all__ = ["main"]

PROG = "ddpm-math"
#: Options of a run that may change when it is resumed; the others must match the checkpoint.
RESUMABLE = {"steps", "checkpoint_every", "log_every", "keep_last", "device", "bf16"}


class UsageError(Exception):
    """A user mistake: reported as one line, exit status 2."""


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {value}")
    return value


def _count(text: str) -> int:
    value = _positive_int(text) if text != "0" else 0
    return value


def _presets_epilog() -> str:
    from ddpm_math.train.config import PRESETS, TrainConfig

    base = TrainConfig()
    lines = ["Defaults are DDPM appendix B (Adam lr 2e-4, warm-up 5000, clip 1, EMA 0.9999,",
             "T = 1000, linear schedule, L_simple, σ² = β), adjusted per data set:"]
    for name, values in PRESETS.items():
        changed = ", ".join(f"{k}={v}" for k, v in values.items() if getattr(base, k) != v
                            or k in ("model", "steps"))
        lines.append(f"  {name}: {changed}")
    lines.append("Options given on the command line override both.")
    return "\n".join(lines)


def _train_parser(sub) -> None:
    p = sub.add_parser("train", help="train a DDPM (default: 8×8 digits, on CPU in minutes)",
                       description="Train a DDPM with Adam, warm-up, gradient clipping and EMA "
                                   "(DDPM appendix B). With no options: the embedded 8×8 digits.",
                       epilog=_presets_epilog(),
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", help="digits (default), moons, gmm, cifar10:DIR (the python-pickle "
                                  "batches) or images:DIR (a folder of PNG/JPEG files)")
    p.add_argument("--config", dest="model", help="network config (ddpm_math.nn): digits8, "
                                                  "small16, cifar10, celebahq256, mlp2d")
    p.add_argument("--steps", type=_count, help="optimiser steps in total")
    p.add_argument("--batch-size", type=_positive_int, help="examples per step and process")
    p.add_argument("--grad-accum", type=_positive_int, help="micro-batches per step")
    p.add_argument("--lr", type=float, help="Adam learning rate")
    p.add_argument("--warmup", type=_count, help="learning-rate warm-up steps")
    p.add_argument("--ema-decay", type=float, help="EMA decay")
    p.add_argument("--num-steps", type=_positive_int, help="diffusion steps T")
    p.add_argument("--schedule", choices=["linear", "cosine"])
    p.add_argument("--mean-type", choices=["eps", "x0", "xprev", "v"])
    p.add_argument("--var-type", choices=["fixed_small", "fixed_large", "learned",
                                          "learned_range"])
    p.add_argument("--loss-type", choices=["simple", "weighted", "vlb", "hybrid"])
    p.add_argument("--timestep-sampler", choices=["uniform", "loss-second-moment"])
    p.add_argument("--hflip", action=argparse.BooleanOptionalAction,
                   help="random horizontal flips of images")
    p.add_argument("--dropout", type=float)
    p.add_argument("--seed", type=int)
    p.add_argument("--device", choices=["auto", "cpu", "cuda"])
    p.add_argument("--checkpoint-every", type=_positive_int, help="steps between checkpoints")
    p.add_argument("--keep-last", type=_positive_int, help="checkpoints kept (3)")
    p.add_argument("--out", default=None, help="run directory (default: runs/<data>)")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in --out from its newest checkpoint")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(handler=_cmd_train)


def _sample_parser(sub) -> None:
    p = sub.add_parser("sample", help="draw samples from a checkpoint into a PNG grid",
                       description="Sample with the EMA weights of a checkpoint.")
    p.add_argument("--checkpoint", required=True, help="a run directory or one checkpoint")
    p.add_argument("--n", type=_positive_int, default=64, help="number of samples (64)")
    p.add_argument("--sampler", choices=["ancestral", "ddim"], default="ancestral")
    p.add_argument("--steps", type=_positive_int, help="sampling steps (default: the model's T)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--out", required=True, help="PNG file to write")
    p.add_argument("--npz", help="also write the raw samples to this .npz file")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(handler=_cmd_sample)


def _bpd_parser(sub) -> None:
    p = sub.add_parser("bpd", help="the variational bound on held-out data, in bits/dim",
                       description="DDPM eq. (5) on the held-out split with the EMA weights, "
                                   "beside a per-pixel Gaussian baseline fitted to the training "
                                   "split.")
    p.add_argument("--checkpoint", required=True, help="a run directory or one checkpoint")
    p.add_argument("--n", type=_positive_int, help="held-out examples (default: all)")
    p.add_argument("--batch-size", type=_positive_int, default=256)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(handler=_cmd_bpd)


def _bench_parser(sub) -> None:
    p = sub.add_parser("bench", help="profile the sampling loop against bare model calls",
                       description="Benchmarks of ddpm_math's own loops; the pytest-benchmark "
                                   "suites in benchmarks/ time the same loops.")
    bench_sub = p.add_subparsers(dest="bench_command", metavar="BENCH", required=True)
    s = bench_sub.add_parser(
        "sample", help="the sampling loop against the same number of bare model calls",
        description="Times our sampling loop, the same number of bare model calls, a floor "
                    "loop, a hand-written Algorithm 2 and (--peers) diffusers' scheduler loop, "
                    "interleaved round by round in one run; prints loop/bare and the overhead "
                    "per step. --profile adds a torch.profiler summary of our loop.")
    s.add_argument("--model", choices=["tiny", "cifar10"], default="tiny",
                   help="tiny: Conv-SiLU-Conv ε-model on 16×3×8×8; cifar10: the 35.7M DDPM "
                        "U-Net (random weights)")
    s.add_argument("--sampler", choices=["ancestral", "ddim"], default="ancestral")
    s.add_argument("--steps", type=_positive_int,
                   help="model calls per loop (default 1000 ancestral, 50 DDIM; 10 for "
                        "cifar10 on a CPU)")
    s.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    s.add_argument("--batch", type=_positive_int,
                   help="batch size (default 16 tiny; cifar10: 1 on cpu, 256 on cuda)")
    s.add_argument("--bf16", action="store_true", help="run the model under bf16 autocast")
    s.add_argument("--threads", type=_positive_int, help="CPU threads (default 1)")
    s.add_argument("--rounds", type=_positive_int, default=3,
                   help="timed rounds after one warm-up round (3)")
    s.add_argument("--peers", action="store_true",
                   help="add diffusers' loop (pip install 'ddpm_math[peers]')")
    s.add_argument("--profile", action="store_true",
                   help="also print a torch.profiler summary of our loop")
    s.add_argument("--json", metavar="PATH", help="also write the figures to this JSON file")
    s.add_argument("--no-progress", action="store_true")
    s.set_defaults(handler=_cmd_bench_sample)


def _verify_parser(sub) -> None:
    p = sub.add_parser("verify", help="run the verification and write a report (Markdown, "
                                      "HTML, figures)",
                       description="Derive the closed forms in sympy, measure every kernel "
                                   "against its mpmath oracle in float64/float32/bfloat16, run "
                                   "the Monte-Carlo tests, reproduce the papers' numbers, audit "
                                   "the source notes and (without --quick) run pytest "
                                   "verification/; write DIR/report.md and DIR/report.html with "
                                   "the PNG figures beside them. Exit status 1 when anything "
                                   "fails.")
    p.add_argument("--out", default="verification-report",
                   help="folder for the report (default: verification-report)")
    p.add_argument("--quick", action="store_true",
                   help="fewer Monte-Carlo draws and no pytest run (under a minute)")
    p.add_argument("--checkpoint", help="a run directory or checkpoint: add the per-t terms "
                                        "of its bound and a grid of its samples")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(handler=_cmd_verify)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="Train, sample and evaluate DDPMs "
                                     "with ddpm_math's verified engine.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _train_parser(sub)
    _sample_parser(sub)
    _bpd_parser(sub)
    _bench_parser(sub)
    _verify_parser(sub)
    return parser


# -- train ------------------------------------------------------------------------------------

OPTION_NAMES = ("data", "model", "steps", "batch_size", "grad_accum", "lr", "warmup",
                "ema_decay", "num_steps", "schedule", "mean_type", "var_type", "loss_type",
                "timestep_sampler", "hflip", "dropout", "seed", "device", "checkpoint_every",
                "keep_last")


def _train_config(args, given: dict[str, Any], out: Path):
    from ddpm_math.train import checkpoint as ckpt
    from ddpm_math.train.config import TrainConfig, preset_for

    if args.resume:
        if ckpt.latest_checkpoint(out) is None:
            raise UsageError(f"--resume: no checkpoint in {out}")
        saved = TrainConfig.from_dict(ckpt.load_checkpoint(out).config)
        changed = sorted(k for k, v in given.items()
                         if k not in RESUMABLE and getattr(saved, k) != v)
        if changed:
            raise UsageError(f"--resume: {', '.join(changed)} differ from the run in {out}; "
                             f"only {', '.join(sorted(RESUMABLE))} may change")
        return saved.replace(**{k: v for k, v in given.items() if k in RESUMABLE})
    if ckpt.latest_checkpoint(out) is not None:
        raise UsageError(f"{out} already holds a run; pass --resume to continue it or choose "
                         f"another --out")
    values = preset_for(given.get("data", "digits"))
    values.update(given)
    return TrainConfig(**values)


def _cmd_train(args) -> int:
    from ddpm_math.train.run import run_training

    given = {k: getattr(args, k) for k in OPTION_NAMES if getattr(args, k) is not None}
    data = given.get("data", "digits")
    out = Path(args.out or Path("runs") / data.split(":", 1)[0])
    config = _train_config(args, given, out)
    result = run_training(config, out, resume=args.resume, progress=not args.no_progress)
    state = result.state
    last = result.checkpoint
    if result.interrupted:
        print(f"interrupted at step {state.step}; checkpoint {last}; continue with "
              f"`{PROG} train --out {out} --resume`", file=sys.stderr)
        return 130
    print(f"trained {config.model} on {config.data} to step {state.step}; checkpoint: {last}")
    return 0


# -- sample -----------------------------------------------------------------------------------

def _cmd_sample(args) -> int:
    import numpy as np

    from ddpm_math.train.evaluate import sample, save_grid, save_points
    from ddpm_math.train.run import load_trained

    out = Path(args.out)
    if out.suffix.lower() != ".png":
        raise UsageError(f"--out must name a .png file, got {args.out!r}")
    if not out.parent.exists():
        raise UsageError(f"--out: folder {out.parent} does not exist")
    config, diffusion, network, data_shape, step = load_trained(args.checkpoint, args.device)
    images = len(data_shape) == 3
    x = sample(diffusion, network, (args.n, *data_shape), sampler=args.sampler, steps=args.steps,
               seed=args.seed, device=args.device, progress=not args.no_progress,
               clip_denoised=images)  # x̂_0 ∈ [-1, 1] holds for images, not for 2-D points
    if images:
        save_grid(x, out)
    else:
        from ddpm_math.train.data import load_dataset

        save_points(x, out, reference=load_dataset(config.data, seed=config.seed).heldout)
    if args.npz:
        np.savez(args.npz, samples=x.cpu().numpy())
    print(f"{args.n} samples ({args.sampler}, {args.steps or diffusion.num_steps} steps, "
          f"EMA weights at step {step}) -> {out}")
    return 0


# -- bpd --------------------------------------------------------------------------------------

def _cmd_bpd(args) -> int:
    import torch

    from ddpm_math.train.baseline import per_pixel_gaussian_bpd
    from ddpm_math.train.data import load_dataset
    from ddpm_math.train.evaluate import heldout_bound
    from ddpm_math.train.run import load_trained

    config, diffusion, network, data_shape, step = load_trained(args.checkpoint, args.device)
    dataset = load_dataset(config.data, seed=config.seed)  # the training split the run saw
    heldout = dataset.heldout[: args.n] if args.n else dataset.heldout
    generator = torch.Generator(args.device).manual_seed(args.seed)
    bound = heldout_bound(diffusion, network, heldout.to(args.device),
                          batch_size=args.batch_size, generator=generator,
                          progress=not args.no_progress)
    baseline = per_pixel_gaussian_bpd(dataset.train, heldout)
    report = {"data": config.data, "step": step, "T": diffusion.num_steps, **bound,
              "baseline_per_pixel_gaussian": baseline}
    if args.json:
        print(json.dumps(report))
        return 0
    print(f"held-out bound of {config.data} ({bound['n']} examples), EMA weights at step {step},"
          f" T = {diffusion.num_steps}, bits/dim:")
    rows = [("total", "total"), ("prior L_T", "prior"), ("decoder L_0", "decoder"),
            ("KL terms Σ L_t-1", "kl")]
    for label, key in rows:
        print(f"  {label:<18}{bound[key]:9.4f} ± {bound[key + '_stderr']:.4f}")
    label = "per-pixel" if len(data_shape) == 3 else "per-dimension"
    print(f"  {label + ' Gaussian baseline':<18} {baseline:9.4f}")
    if not dataset.discrete:
        print("  (continuous data: bits/dim of a density, which can be negative)")
    return 0


# -- bench ------------------------------------------------------------------------------------

def _cmd_bench_sample(args) -> int:
    from tqdm.auto import tqdm

    from ddpm_math.bench.sample import format_table, measure, profile

    if args.json and not Path(args.json).resolve().parent.exists():
        raise UsageError(f"--json: folder {Path(args.json).parent} does not exist")
    bars: list[tqdm] = []  # made on the first loop, once the arguments have been checked

    def progress(label: str) -> None:
        if args.no_progress:
            return
        if not bars:
            bars.append(tqdm(desc="bench", unit="loop", leave=False))
        bars[0].set_postfix_str(label)
        bars[0].update()

    try:
        result = measure(args.model, args.sampler, args.steps, args.device, batch=args.batch,
                         bf16=args.bf16, peers=args.peers, rounds=args.rounds,
                         threads=args.threads, progress=progress)
    finally:
        for bar in bars:
            bar.close()
    print(format_table(result))
    if args.profile:
        print()
        print(profile(args.model, args.sampler, args.steps, args.device, batch=args.batch,
                      bf16=args.bf16, threads=args.threads, timed=result))
    if args.json:
        Path(args.json).write_text(json.dumps(result.to_dict(), indent=1))
    return 0


# -- verify -----------------------------------------------------------------------------------

def _cmd_verify(args) -> int:
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out: {out} exists and is not a folder")
    if not out.parent.resolve().exists():
        raise UsageError(f"--out: folder {out.parent} does not exist")
    if args.checkpoint is not None and not Path(args.checkpoint).exists():
        raise UsageError(f"--checkpoint: {args.checkpoint} does not exist")
    import matplotlib  # noqa: F401 - the figures need it; a missing one is a one-line error

    from ddpm_math.report import build_report, terminal_table

    def progress(label: str) -> None:
        if not args.no_progress:
            print(f"{PROG} verify: {label} ...", file=sys.stderr)

    report = build_report(out, quick=args.quick, checkpoint=args.checkpoint, progress=progress)
    print(terminal_table(report))
    for line in report.failures:
        print(f"FAILED  {line}")
    verdict = "everything holds" if report.ok else f"{len(report.failures)} failure(s)"
    print(f"{verdict} ({report.seconds:.0f} s); report: {out / 'report.html'} "
          f"(and report.md)")
    return 0 if report.ok else 1


# -- entry point ------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    from ddpm_math.train.checkpoint import CheckpointError
    from ddpm_math.train.data import DataError

    try:
        return args.handler(args)
    except KeyboardInterrupt:
        print(f"{PROG} {args.command}: interrupted", file=sys.stderr)
        return 130
    except ModuleNotFoundError as error:  # an optional dependency (matplotlib for 2-D plots)
        print(f"{PROG} {args.command}: error: this needs the package {error.name!r}; "
              f"pip install 'ddpm_math[plots]'", file=sys.stderr)
        return 2
    except (UsageError, CheckpointError, DataError, ValueError, TypeError,
            FileNotFoundError) as error:
        print(f"{PROG} {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
