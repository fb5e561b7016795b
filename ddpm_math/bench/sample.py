"""``ddpm-math bench sample``: the sampling loop against bare model calls, side by side with peers.

:func:`measure` times, in one run and interleaved round by round (so that a noisy, shared
machine slows all of them alike), the loops that make the same number of model calls:

- ``bare``: the model calls alone (:func:`loops.bare_calls`), the denominator of loop/bare;
- ``ours``: ``GaussianDiffusion.p_sample_loop`` / ``ddim_sample_loop`` (the fused fast loop);
- ``ours (CUDA graph)`` and ``bare (CUDA graph)`` on a GPU: :class:`GraphSampler` and the model
  call alone replayed from a graph;
- ``floor`` and ``hand-written`` (ancestral): the fewest eager ops of a step, and Algorithm 2
  written out with Python floats;
- ``diffusers`` (``--peers``): its DDPMScheduler / DDIMScheduler loop with the same model,
  schedule and steps (:mod:`ddpm_math.bench.peers`).

Each row: the best and median seconds per loop, µs per step, loop/bare, and the overhead per step
(loop - bare)/steps in µs. :func:`profile` runs our loop under :mod:`torch.profiler` and
summarises where a step's time goes (the top ops, the model's share).
"""

from __future__ import annotations

import contextlib
import datetime
import math
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from ddpm_math.bench import loops
from ddpm_math.diffusion.gaussian_diffusion import GaussianDiffusion
from ddpm_math.schedules import NoiseSchedule

__all__ = ["Row", "Result", "measure", "profile", "format_table", "DEFAULT_STEPS"]

MODELS = ("tiny", "cifar10")
SAMPLERS = ("ancestral", "ddim")
#: The schedule's T; ``steps`` below T respaces it (evenly for ancestral, "ddimN" for DDIM).
T = 1000
#: Default steps per sampler, and for the CIFAR-10 U-Net on a CPU (a step takes seconds there).
DEFAULT_STEPS = {"ancestral": 1000, "ddim": 50, "cifar10-cpu": 10}


@dataclass
class Row:
    """One loop's timing over ``rounds`` runs, and its ratio to the bare calls."""

    loop: str
    seconds: list[float]
    steps: int
    baseline: str = "bare"
    ratio: float = float("nan")
    overhead_us: float = float("nan")

    @property
    def best(self) -> float:
        return min(self.seconds)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def us_per_step(self) -> float:
        return 1e6 * self.best / self.steps


@dataclass
class Result:
    """A benchmark run: what was measured, where, and the rows."""

    model: str
    parameters: int
    shape: tuple[int, ...]
    sampler: str
    steps: int
    device: str
    device_name: str
    dtype: str
    autocast: str | None
    threads: int
    torch: str
    date: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for row, raw in zip(self.rows, out["rows"], strict=True):
            raw.update(best=row.best, median=row.median, us_per_step=row.us_per_step)
            if math.isnan(row.overhead_us):  # strict JSON has no NaN
                raw["overhead_us"] = None
        return out


def _diffusion(sampler: str, steps: int) -> GaussianDiffusion:
    diffusion = GaussianDiffusion(NoiseSchedule.linear(T))
    if steps == T:
        return diffusion
    return diffusion.respaced(f"ddim{steps}" if sampler == "ddim" else [steps])


def _bench_model(name: str, batch: int | None, device: torch.device) -> loops.BenchModel:
    if name == "tiny":
        return loops.tiny_eps_model(16 if batch is None else batch, device)
    default_batch = 256 if device.type == "cuda" else 1
    return loops.unet_model(name, default_batch if batch is None else batch, device)


def _autocast(model, dtype: torch.dtype | None, device: torch.device):
    """``model`` under autocast to ``dtype`` (output cast back to float32), or ``model``."""
    if dtype is None:
        return model

    def autocast_model(x, t):
        with torch.autocast(device.type, dtype=dtype):
            return model(x, t).float()

    return autocast_model


def _synchronised(fn: Callable[[], Any], device: torch.device) -> Callable[[], float]:
    def timed() -> float:
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return time.perf_counter() - start

    return timed


def _check(name: str, value: str, allowed) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(allowed)}; got {value!r}")


def measure(model: str = "tiny", sampler: str = "ancestral", steps: int | None = None,
            device: str = "cpu", *, batch: int | None = None, bf16: bool = False,
            peers: bool = False, rounds: int = 3, threads: int | None = None,
            progress: Callable[[str], None] | None = None) -> Result:
    """Time the loops of this module's docstring; ``rounds`` timed rounds after one warm-up
    round, each loop once per round. ``threads``: torch's intra-op threads (default 1 on a CPU,
    as the issue measures). ``progress(label)`` is called before each run."""
    _check("model", model, MODELS)
    _check("sampler", sampler, SAMPLERS)
    dev = _device(device)
    if steps is None:
        cpu_unet = model != "tiny" and dev.type == "cpu" and sampler == "ancestral"
        steps = DEFAULT_STEPS["cifar10-cpu" if cpu_unet else sampler]
    if not 1 <= steps <= T:
        raise ValueError(f"steps must lie in 1..{T}, got {steps}")
    if rounds < 1:
        raise ValueError(f"rounds must be >= 1, got {rounds}")
    if peers:
        from ddpm_math.bench import peers as peer_module

        if not peer_module.available():
            raise ValueError("--peers needs diffusers: pip install 'ddpm_math[peers]'")
    with _cpu_threads(dev, threads):
        return _measure(model, sampler, steps, dev, batch, bf16, peers, rounds, progress)


def _device(device: str) -> torch.device:
    dev = torch.device(device)
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"device must be cpu or cuda, got {device!r}")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was asked for, but torch sees no CUDA device")
    return dev


@contextlib.contextmanager
def _cpu_threads(dev: torch.device, threads: int | None):
    """torch's intra-op threads set to ``threads`` (default 1) on a CPU, restored after."""
    previous = torch.get_num_threads()
    if dev.type == "cpu":
        torch.set_num_threads(1 if threads is None else threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _loops(bench: loops.BenchModel, sampler: str, steps: int, dev: torch.device, bf16: bool,
           peers: bool) -> dict[str, Callable[[], Any]]:
    """The loops to time, as argument-free callables, each drawing from its own seeded
    generator (so every run of a loop does the same work)."""
    autocast_dtype = torch.bfloat16 if bf16 else None
    model = _autocast(bench.model, autocast_dtype, dev)
    diffusion = _diffusion(sampler, steps)
    x_T = torch.randn(bench.shape, generator=torch.Generator().manual_seed(1)).to(dev)

    def generator():
        return torch.Generator(dev).manual_seed(2)

    ours_fn = diffusion.p_sample_loop if sampler == "ancestral" else diffusion.ddim_sample_loop
    runs: dict[str, Callable[[], Any]] = {
        "bare": lambda: loops.bare_calls(model, x_T, steps),
        "ours": lambda: ours_fn(model, bench.shape, noise=x_T, generator=generator()),
    }
    if dev.type == "cuda":
        graphed = diffusion.graph_sampler(bench.model, bench.shape, sampler=sampler,
                                          device=dev, generator=generator(),
                                          autocast_dtype=autocast_dtype)
        bare_graph = loops.graph_bare_calls(bench.model, x_T, autocast_dtype)
        runs["ours (CUDA graph)"] = lambda: graphed.sample(x_T)
        runs["bare (CUDA graph)"] = lambda: bare_graph(steps)
    if sampler == "ancestral":
        runs["floor"] = lambda: loops.floor_loop(model, x_T, steps, generator())
        if steps == T:
            schedule = diffusion.schedule
            runs["hand-written"] = lambda: loops.handwritten_ancestral(model, schedule, x_T,
                                                                       generator())
    if peers:
        from ddpm_math.bench import peers as peer_module

        if sampler == "ancestral" and steps == T:
            runs["diffusers"] = lambda: peer_module.ddpm_loop(model, diffusion.schedule, x_T,
                                                              generator())
        elif sampler == "ddim":
            full = NoiseSchedule.linear(T)
            runs["diffusers"] = lambda: peer_module.ddim_loop(model, full, x_T, steps,
                                                              generator=generator())
    return runs


def _measure(model_name, sampler, steps, dev, batch, bf16, peers, rounds, progress) -> Result:
    bench = _bench_model(model_name, batch, dev)
    runs = _loops(bench, sampler, steps, dev, bf16, peers)
    seconds: dict[str, list[float]] = {name: [] for name in runs}
    timed = {name: _synchronised(fn, dev) for name, fn in runs.items()}
    for round_index in range(rounds + 1):  # round 0 warms up
        for name, fn in timed.items():
            if progress is not None:
                progress(f"{'warm-up' if round_index == 0 else f'round {round_index}'}: {name}")
            elapsed = fn()
            if round_index > 0:
                seconds[name].append(elapsed)
    result = Result(
        model=bench.name, parameters=bench.parameters, shape=bench.shape, sampler=sampler,
        steps=steps, device=str(dev), device_name=_device_name(dev), dtype="float32",
        autocast="bfloat16" if bf16 else None, threads=torch.get_num_threads(),
        torch=torch.__version__, date=datetime.date.today().isoformat())
    for name, values in seconds.items():
        baseline = "bare (CUDA graph)" if name == "ours (CUDA graph)" else "bare"
        row = Row(name, values, steps, baseline)
        base = min(seconds[baseline])
        row.ratio = row.best / base
        if not name.startswith("bare"):  # a baseline has no per-step overhead of its own
            row.overhead_us = 1e6 * (row.best - base) / steps
        result.rows.append(row)
    if peers and "diffusers" not in runs:
        result.notes.append("diffusers: compared at the full T = 1000 ancestral steps only "
                            "(its DDPMScheduler respaces differently)")
    return result


def _device_name(dev: torch.device) -> str:
    if dev.type == "cuda":
        return torch.cuda.get_device_name(dev)
    return platform.processor() or platform.machine()


def _or_dash(value: float) -> str:
    return "–" if math.isnan(value) else f"{value:.1f}"


def format_table(result: Result) -> str:
    """The rows as a plain-text table, with the run's description above it."""
    shape = "×".join(map(str, result.shape))
    precision = result.dtype + (f", model under {result.autocast} autocast"
                                if result.autocast else "")
    threads = f", {result.threads} thread{'s' * (result.threads != 1)}" \
        if result.device == "cpu" else ""
    lines = [
        f"{result.model} ({result.parameters:,} parameters), batch {shape}, {result.sampler}, "
        f"{result.steps} steps, {result.device} ({result.device_name}{threads}), {precision}",
        f"torch {result.torch}, {result.date}; best of {len(result.rows[0].seconds)} rounds "
        f"(median in brackets)",
        "",
        f"{'loop':<20}{'s/loop':>18}{'µs/step':>11}{'loop/bare':>11}{'overhead µs/step':>18}",
    ]
    for row in result.rows:
        ratio = f"{row.ratio:.3f}" + ("*" if row.baseline != "bare" else " ")
        lines.append(f"{row.loop:<20}{row.best:>9.4f} ({row.median:.4f}){row.us_per_step:>11.1f}"
                     f"{ratio:>11}{_or_dash(row.overhead_us):>18}")
    if any(row.baseline != "bare" for row in result.rows):
        lines.append("* against the bare model calls replayed from a CUDA graph")
    lines.extend(result.notes)
    return "\n".join(lines)


def profile(model: str = "tiny", sampler: str = "ancestral", steps: int | None = None,
            device: str = "cpu", *, batch: int | None = None, bf16: bool = False,
            threads: int | None = None, row_limit: int = 12,
            timed: Result | None = None) -> str:
    """Our loop under torch.profiler: the top ops by self time, and the model's share of the
    loop (the model wrapped in ``record_function("model")``; everything else is the update,
    the noise and the loop's own Python). With ``timed`` (a :func:`measure` result of the same
    loop) the share is also given as bare/ours from those timings, the figure that holds on a
    GPU, where host time is launch time."""
    from torch.profiler import ProfilerActivity, record_function
    from torch.profiler import profile as torch_profile

    dev = _device(device)
    steps = steps or (DEFAULT_STEPS["cifar10-cpu"] if model != "tiny" and dev.type == "cpu"
                      else min(DEFAULT_STEPS[sampler], 200))
    with _cpu_threads(dev, threads):
        bench = _bench_model(model, batch, dev)
        inner = _autocast(bench.model, torch.bfloat16 if bf16 else None, dev)

        def labelled(x, t):
            with record_function("model"):
                return inner(x, t)

        diffusion = _diffusion(sampler, steps)
        run = diffusion.p_sample_loop if sampler == "ancestral" else diffusion.ddim_sample_loop
        x_T = torch.randn(bench.shape, generator=torch.Generator().manual_seed(1)).to(dev)
        run(labelled, bench.shape, noise=x_T)  # warm-up
        activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if dev.type == "cuda"
                                               else [])
        with torch_profile(activities=activities) as prof:
            wall = _synchronised(lambda: run(labelled, bench.shape, noise=x_T), dev)()
    averages = prof.key_averages()
    sort_by = "self_cuda_time_total" if dev.type == "cuda" else "self_cpu_time_total"
    model_us = sum(e.cpu_time_total for e in averages if e.key == "model")
    share = model_us / (wall * 1e6)
    header = (f"torch.profiler: our {sampler} loop, {steps} steps, {bench.name}, "
              f"{dev.type}; wall {wall:.4f} s ({1e6 * wall / steps:.1f} µs/step)\n"
              f"model (record_function 'model', host time): {100 * share:.1f}% of the loop; "
              f"the update, noise and loop: {100 * (1 - share):.1f}%\n")
    ours = [row for row in (timed.rows if timed else []) if row.loop == "ours"]
    if ours:
        header += (f"from the timings above (bare/ours): the model {100 / ours[0].ratio:.1f}% "
                   f"of a step, the update, noise and loop {100 * (1 - 1 / ours[0].ratio):.1f}%"
                   f"\n")
    with contextlib.suppress(Exception):  # the table's columns vary across torch versions
        return header + averages.table(sort_by=sort_by, row_limit=row_limit)
    return header
