"""Our sampling loops beside diffusers' (issue 9): bare model calls, ours, diffusers', same run.

The tiny ε-model of ``bench_sampling.py`` (Conv2d(3,8,3) → SiLU → Conv2d(8,3,3), padding 1,
float32) on a 16×3×8×8 batch, one intra-op thread, the linear schedule of Ho et al. (T = 1000):

- group ``peers_ancestral``: T = 1000 ancestral steps; ``p_sample_loop`` against
  ``peers.ddpm_loop`` (DDPMScheduler), and ``bare``: the same 1000 model calls in a plain loop;
- group ``peers_ddim``: 50 DDIM steps (η = 0, ``respaced('ddim50')``) against
  ``peers.ddim_loop`` (DDIMScheduler, 'leading'), and 50 bare calls.

Each timed call builds its sampler as a user's call does (our facade and respacing, diffusers'
scheduler and set_timesteps: about 0.2 ms either way, measured). Both loops clip x̂_0 to
[-1, 1] and use σ_t² = β̃_t; settings and the differences by design are
in :mod:`ddpm_math.bench.peers`. Each body checks its result: ours and diffusers' agree (same
x_T, same generator seed, 8 float32 ulps per step; tests/test_peers.py), finite, the shape of x_T.

Figures (needs ``pip install "ddpm_math[peers]"``)::

    pytest benchmarks/bench_peers.py --benchmark-enable --benchmark-group-by=group,param:device \\
        --benchmark-columns=min,median,mean,rounds -k cpu

Ratios, within one group and one device of that run: loop/bare = (the ``ours`` or ``diffusers``
row's time) / (the ``bare`` row's time), 1 meaning the loop costs nothing beyond its model calls;
(loop - bare)/steps is the loop's overhead per step; diffusers/ours compares the two loops.

The smoke run (``--benchmark-disable``, each body once) uses 50 ancestral steps (T = 50, rescaled
to 1000's ᾱ_T) and 10 DDIM steps of T = 1000, to stay cheap. On CUDA the comparison runs with
TF32 convolutions off: TF32 rounds the convolution's inputs to 10 bits, so two loops whose x
differ by an ulp could get model outputs 2⁻¹¹ apart.
"""

from __future__ import annotations

import pytest
import torch

from benchmarks.conftest import DEVICE_PARAMS, synchronised
from ddpm_math import GaussianDiffusion, NoiseSchedule
from ddpm_math.bench import peers
from ddpm_math.testing.tolerances import Tolerance, assert_close

pytest.importorskip("diffusers")

T_FULL, DDIM_FULL = 1000, 50  # timed: the schedule and DDIM steps
T_SMOKE, DDIM_SMOKE = 50, 10  # --benchmark-disable: each body once, cheap
TINY_SHAPE = (16, 3, 8, 8)
IMPLS = ["bare", "ours", "diffusers"]


@pytest.fixture
def full_float32_convolutions(device):
    """TF32 off for cuDNN convolutions on CUDA while the loops are compared (module docstring)."""
    previous = torch.backends.cudnn.allow_tf32
    if device != "cpu":
        torch.backends.cudnn.allow_tf32 = False
    yield
    torch.backends.cudnn.allow_tf32 = previous


def tiny_eps_model(device):
    """Conv2d(3,8,3) → SiLU → Conv2d(8,3,3), padding 1, float32: the issue's tiny ε-model."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.SiLU(), torch.nn.Conv2d(8, 3, 3, padding=1)
    ).to(device)
    return lambda x_t, t: net(x_t)


def bare_calls(model, x_T, num_steps: int):
    """The model calls of a loop alone: ``num_steps`` calls model(x, t), nothing in between."""
    t = torch.zeros(x_T.shape[0], dtype=torch.int64, device=x_T.device)
    with torch.no_grad():
        for _ in range(num_steps):
            out = model(x_T, t)
    return out


def run_loop(impl, sampler, model, schedule, x_T, num_steps, device):
    """A sample from x_T (generator seed 2 on ``device``) by ``impl``'s loop, or bare calls."""
    generator = torch.Generator(device=device).manual_seed(2)
    if impl == "bare":
        return bare_calls(model, x_T, num_steps)
    if sampler == "ancestral":
        if impl == "ours":
            return GaussianDiffusion(schedule).p_sample_loop(model, x_T.shape, noise=x_T,
                                                             generator=generator)
        return peers.ddpm_loop(model, schedule, x_T, generator)
    if impl == "ours":
        respaced = GaussianDiffusion(schedule).respaced(f"ddim{num_steps}")
        return respaced.ddim_sample_loop(model, x_T.shape, noise=x_T, generator=generator)
    return peers.ddim_loop(model, schedule, x_T, num_steps, 0.0, generator)


def setup(sampler, smoke: bool):
    """(schedule, model calls per sample) of the timed or the smoke run."""
    if sampler == "ancestral":
        if smoke:
            return NoiseSchedule.linear(T_SMOKE, rescale_to_1000=True), T_SMOKE
        return NoiseSchedule.linear(T_FULL), T_FULL
    return NoiseSchedule.linear(T_FULL), DDIM_SMOKE if smoke else DDIM_FULL


@pytest.mark.parametrize("device", DEVICE_PARAMS)
@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("sampler", [
    pytest.param("ancestral", marks=pytest.mark.benchmark(group="peers_ancestral")),
    pytest.param("ddim", marks=pytest.mark.benchmark(group="peers_ddim")),
])
def test_peer_loops(benchmark, record, one_thread, full_float32_convolutions, sampler, impl,
                    device):
    """loop/bare per implementation; ours and diffusers' samples agree on the timed run."""
    schedule, num_steps = setup(sampler, smoke=benchmark.disabled)
    model = tiny_eps_model(device)
    x_T = torch.randn(TINY_SHAPE, generator=torch.Generator().manual_seed(1)).to(device)
    record(device, impl=impl, sampler=sampler, model="tiny_eps", T=schedule.num_steps,
           model_calls=num_steps, shape=TINY_SHAPE, dtype=torch.float32,
           diffusers=peers.version())

    result = benchmark(synchronised(run_loop, device), impl, sampler, model, schedule, x_T,
                       num_steps, device)
    assert result.shape == x_T.shape and result.dtype == x_T.dtype
    assert torch.isfinite(result).all()
    if impl == "bare":
        with torch.no_grad():
            expected = model(x_T, torch.zeros(x_T.shape[0], dtype=torch.int64, device=device))
        torch.testing.assert_close(result, expected, rtol=0.0, atol=0.0)
        return
    other = run_loop("diffusers" if impl == "ours" else "ours", sampler, model, schedule, x_T,
                     num_steps, device)
    bound = 8 * num_steps * 2.0**-23  # 8 ulps of |x| ≤ 1 per step (tests/test_peers.py)
    assert_close(result, other, Tolerance(rtol=bound, atol=bound))
