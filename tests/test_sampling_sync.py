"""The sampling loops read no tensor value per step (no host-device synchronisation on a GPU).

On the CPU a synchronisation cannot be observed, but its causes can: every path from a device
tensor to a Python value goes through ``Tensor.__bool__``, ``item``, ``tolist``, ``__int__``,
``__float__``, ``numpy`` or ``cpu``. These are counted during loops of different lengths; the
count must not grow with the number of steps. On CUDA the same loop runs under
``torch.cuda.set_sync_debug_mode``.
"""

from __future__ import annotations

import pytest
import torch

from ddpm_math import GaussianDiffusion, NoiseSchedule
from ddpm_math.testing.cuda import sync_debug_mode

READS = ["__bool__", "item", "tolist", "__int__", "__float__", "numpy", "cpu", "__index__"]


def eps_model(x_t, t):
    return 0.1 * x_t


def count_reads(monkeypatch, run) -> int:
    """How many tensor-to-Python reads (host-device synchronisations) ``run()`` makes."""
    calls = {"n": 0}
    for name in READS:
        original = getattr(torch.Tensor, name)

        def counting(self, *args, _original=original, **kwargs):
            calls["n"] += 1
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, counting)
    try:
        run()
    finally:
        monkeypatch.undo()
    return calls["n"]


@pytest.mark.parametrize("loop", ["eager", "graph_sampler"])
@pytest.mark.parametrize("sampler", ["ancestral", "ddim", "ddim_eta1"])
@pytest.mark.parametrize("var_type", ["fixed_small", "fixed_large"])
def test_value_reads_do_not_grow_with_the_number_of_steps(monkeypatch, loop, sampler, var_type):
    """``graph_sampler(..., graph=False)`` runs the step the CUDA graph captures, eagerly."""
    counts = []
    eta = 1.0 if sampler == "ddim_eta1" else 0.0
    for T in (4, 16):
        diffusion = GaussianDiffusion(NoiseSchedule.linear(T, rescale_to_1000=False),
                                      var_type=var_type)
        generator = torch.Generator().manual_seed(0)

        def run(diffusion=diffusion, generator=generator):
            if loop == "graph_sampler":
                diffusion.graph_sampler(eps_model, (2, 3, 4, 4), device="cpu", graph=False,
                                        sampler=sampler.removesuffix("_eta1"), eta=eta,
                                        generator=generator).sample()
            elif sampler == "ancestral":
                diffusion.p_sample_loop(eps_model, (2, 3, 4, 4), generator=generator)
            else:
                diffusion.ddim_sample_loop(eps_model, (2, 3, 4, 4), generator=generator,
                                           eta=eta)

        counts.append(count_reads(monkeypatch, run))
    assert counts[0] == counts[1], f"value reads grew with T: {counts} for T = 4, 16"


def test_the_counter_sees_a_per_step_read(monkeypatch):
    """A model that reads a value each step (a plausible slip) is caught by the same count."""

    def reading_model(x_t, t):
        _ = int(t[0])  # a Python branch on the timestep
        return 0.1 * x_t

    counts = [count_reads(monkeypatch, lambda T=T: GaussianDiffusion(NoiseSchedule.linear(T))
                          .p_sample_loop(reading_model, (2, 3), generator=torch.Generator()))
              for T in (4, 16)]
    assert counts[1] > counts[0]


@pytest.mark.gpu
def test_cuda_loop_has_no_synchronising_calls_after_the_first_step():
    diffusion = GaussianDiffusion(NoiseSchedule.linear(20))
    x_T = torch.randn(4, 3, 8, 8, device="cuda")
    diffusion.p_sample_loop(eps_model, x_T.shape, noise=x_T)  # warm-up: caches, first checks
    with sync_debug_mode("warn"), pytest.warns(UserWarning) as record:
        diffusion.p_sample_loop(eps_model, x_T.shape, noise=x_T)
    # the first step's finiteness check and the final one: two, whatever T is
    assert len(record) <= 2
