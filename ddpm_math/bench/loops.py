"""The loops a sampling benchmark compares, and the models it runs them with.

- :func:`bare_calls`: the model calls of a loop alone (the same number of ``model(x, t)`` calls,
  nothing in between): the denominator of every loop/bare ratio;
- :func:`floor_loop`: the model calls plus the fewest eager ops an ancestral step needs (refill
  t, draw σz into a buffer, two scaled adds, constant coefficients);
- :func:`handwritten_ancestral`: DDPM Algorithm 2 with eq. (11) written out, Python floats;
- :func:`graph_bare_calls`: on CUDA, the model call alone captured in a CUDA graph and replayed
  (the floor of a graphed loop).

Models: :func:`tiny_eps_model` (the issue's Conv2d(3,8,3) → SiLU → Conv2d(8,3,3), padding 1, on
a 16×3×8×8 batch: a loop whose per-step ops cost as much as the network) and :func:`unet_model`
(a :mod:`ddpm_math.nn` config, e.g. the 35.7M-parameter CIFAR-10 U-Net).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from ddpm_math.schedules import NoiseSchedule

__all__ = ["BenchModel", "bare_calls", "floor_loop", "graph_bare_calls",
           "handwritten_ancestral", "tiny_eps_model", "unet_model"]

Model = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class BenchModel:
    """A model to time, the shape of one batch it runs on, and how to describe it."""

    name: str
    model: Model
    shape: tuple[int, ...]
    parameters: int


def tiny_eps_model(batch: int = 16, device="cpu", dtype=torch.float32) -> BenchModel:
    """Conv2d(3,8,3) → SiLU → Conv2d(8,3,3), padding 1 (seeded weights); 3×8×8 images."""
    generator = torch.Generator().manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.SiLU(),
                              torch.nn.Conv2d(8, 3, 3, padding=1))
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(0.2 * torch.randn(p.shape, generator=generator))
    net = net.to(device=device, dtype=dtype).eval()
    return BenchModel("tiny", lambda x_t, t: net(x_t), (batch, 3, 8, 8),
                      sum(p.numel() for p in net.parameters()))


def unet_model(config: str = "cifar10", batch: int = 1, device="cpu",
               dtype=torch.float32) -> BenchModel:
    """The :mod:`ddpm_math.nn` network ``config`` (random weights, eval mode: no dropout)."""
    from ddpm_math.nn import build

    torch.manual_seed(0)
    net = build(config).to(device=device, dtype=dtype).eval()
    if not hasattr(net.config, "image_size"):
        raise ValueError(f"config must name a U-Net config (images), got {config!r}")
    size, channels = net.config.image_size, net.config.in_channels
    return BenchModel(config, net, (batch, channels, size, size),
                      sum(p.numel() for p in net.parameters()))


def bare_calls(model: Model, x: torch.Tensor, num_steps: int) -> torch.Tensor:
    """``num_steps`` calls ``model(x, t)`` (t refilled each call, as the loops do), nothing else."""
    t = torch.zeros(x.shape[0], dtype=torch.int64, device=x.device)
    out = x
    with torch.no_grad():
        for index in range(num_steps - 1, -1, -1):
            out = model(x, t.fill_(index))
    return out


def floor_loop(model: Model, x_T: torch.Tensor, num_steps: int,
               generator: torch.Generator | None = None) -> torch.Tensor:
    """The model calls plus the fewest ops of an ancestral step, constant coefficients: what no
    eager loop can undercut."""
    t = torch.zeros(x_T.shape[0], dtype=torch.int64, device=x_T.device)
    buffers, x = [torch.empty_like(x_T), torch.empty_like(x_T)], x_T
    with torch.no_grad():
        for index in range(num_steps - 1, -1, -1):
            out = model(x, t.fill_(index))
            buf = buffers[index % 2].normal_(0.0, 0.1, generator=generator)
            x = buf.add_(out, alpha=-0.01).add_(x, alpha=0.999)
    return x


def handwritten_ancestral(model: Model, schedule: NoiseSchedule, x_T: torch.Tensor,
                          generator: torch.Generator | None = None) -> torch.Tensor:
    """DDPM Algorithm 2, eq. (11) written out with σ_t² = β̃_t and no clipping, Python floats
    per step, noise drawn as ``torch.randn`` (the fast loop's stream)."""
    x = x_T
    with torch.no_grad():
        for index in range(schedule.num_steps - 1, -1, -1):  # t = T-1, ..., 0
            t = torch.full((x.shape[0],), index, dtype=torch.int64, device=x.device)
            eps = model(x, t)
            beta = float(schedule.beta[index])
            eps_coef = beta / math.sqrt(float(schedule.one_minus_alpha_bar[index]))
            x = (x - eps_coef * eps) / math.sqrt(1.0 - beta)
            if index > 0:
                z = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
                x = x + math.sqrt(float(schedule.beta_tilde[index])) * z
    return x


def graph_bare_calls(model: Model, x: torch.Tensor,
                     autocast_dtype: torch.dtype | None = None) -> Callable[[int], torch.Tensor]:
    """On CUDA: ``run(n)`` replays a CUDA graph of one ``model(x, t)`` call n times (the model
    alone, graphed: the floor of :class:`GraphSampler`'s loop)."""
    t = torch.zeros(x.shape[0], dtype=torch.int64, device=x.device)

    def call():
        with torch.autocast("cuda", dtype=autocast_dtype or torch.bfloat16,
                            enabled=autocast_dtype is not None):
            return model(x, t)

    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream), torch.no_grad():
        for _ in range(3):
            call()
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph), torch.no_grad():
        out = call()

    def run(num_steps: int) -> torch.Tensor:
        for _ in range(num_steps):
            graph.replay()
        return out

    return run
