"""Network-level throughput in images per second (issue 9): one optimiser step of
:func:`ddpm_math.train.train_step` (DDPM Algorithm 1 with Adam, clipping and the EMA) and the
whole bound :meth:`GaussianDiffusion.calc_bpd_loop` (DDPM eq. 5), each checked afterwards
against the numpy float64 reference kernels of :mod:`ddpm_math.reference` and analytic values.

Cases per device. CPU: the tiny ``digits8`` U-Net (0.25M parameters, 1×8×8 images), the train
step at batch 32, the bound at batch 16. CUDA: the DDPM CIFAR-10 U-Net (``cifar10``, 35.7M
parameters, 3×32×32) at batch 128 under bf16 autocast (train_step's own autocast; the bound
through the same autocast wrapper). Both train with the cifar10 preset's objective (L_simple,
σ_t² = β_t, T = 1000); the bound runs on a 20-step cosine schedule (σ_t² = β̃_t, exact
discretised decoder), so one call is 20 network passes over the batch.

Figures (timing on; the plain ``pytest`` run only smoke-tests each case once):

    pytest benchmarks/bench_train.py --benchmark-enable --benchmark-group-by=group \
        --benchmark-columns=min,median,ops --benchmark-json=train.json

``OMP_NUM_THREADS=1`` in front gives stable CPU figures on a shared machine (see
bench_kernels.py). Read ``extra_info.images_per_second`` (batch × ops, ops = calls per
second from the mean time; ``images_per_second_best`` from the minimum). For calc_bpd_loop,
``image_steps_per_second`` = images/s × T is the figure to compare across schedule lengths
(a T = 1000 bound costs 50 times a T = 20 one). Ratios: a device against the cpu row of the
same run; the two cases differ in network and batch, so cuda/cpu is a system figure, not a
kernel speed-up.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest
import torch

from benchmarks.bench_kernels import (
    BF16_AUTOCAST,
    Recorder,
    images,
    record_throughput,
    timed,
    to_numpy,
)
from benchmarks.conftest import DEVICE_PARAMS
from ddpm_math import GaussianDiffusion, NoiseSchedule
from ddpm_math import nn as ddpm_nn
from ddpm_math.reference import forward as ref_forward
from ddpm_math.reference import parameterization as ref_param
from ddpm_math.reference import posterior as ref_posterior
from ddpm_math.reference.decoder import (
    discretized_gaussian_log_likelihood as reference_decoder,
)
from ddpm_math.reference.kl import normal_kl as reference_normal_kl
from ddpm_math.testing.tolerances import assert_close, for_dtype
from ddpm_math.train import (
    BatchIterator,
    TrainConfig,
    TrainState,
    build_diffusion,
    build_network,
    copy_for_ema,
    make_optimizer,
    preset_for,
    train_step,
)

LN2 = math.log(2.0)


@dataclass(frozen=True)
class Case:
    model: str
    data_shape: tuple[int, ...]
    train_batch: int
    bpd_batch: int
    precision: str


CASES = {
    "cpu": Case("digits8", (1, 8, 8), train_batch=32, bpd_batch=16, precision="float32"),
    "cuda": Case("cifar10", (3, 32, 32), train_batch=128, bpd_batch=128,
                 precision=BF16_AUTOCAST),
}


def live_output_layer(network: torch.nn.Module) -> None:
    """Give the zero-initialised output convolution torch's default initialisation, so that
    the network's output (and the gradients upstream of it) are not zero at step 0."""
    torch.manual_seed(1)
    network.conv_out.reset_parameters()


def mean_flat(x: np.ndarray) -> np.ndarray:
    return x.reshape(x.shape[0], -1).mean(axis=1)


# -- one optimiser step, DDPM Algorithm 1 ----------------------------------------------------------


class RecordingBatches:
    """The batch iterator, keeping the last batch it gave (x_0 of the step, after flips)."""

    def __init__(self, batches):
        self.batches, self.last = batches, None

    def __iter__(self):
        return self

    def __next__(self):
        self.last = next(self.batches)
        return self.last


def train_setup(device: str, case: Case):
    """(config, diffusion, state) of a fresh run on random 8-bit images."""
    # the cifar10 preset's objective; warm-up off so that the first step moves each weight by
    # the full learning rate (2e-4/5000 would be below float32 resolution of the weights)
    config = TrainConfig(**{**preset_for("cifar10"), "model": case.model,
                            "batch_size": case.train_batch, "warmup": 0, "device": device})
    diffusion = build_diffusion(config)
    data = torch.as_tensor(images((4 * case.train_batch, *case.data_shape)),
                           dtype=torch.float32, device=device)
    torch.manual_seed(0)
    network = build_network(config, case.data_shape)
    live_output_layer(network)
    network.to(device)
    batches = BatchIterator(data, case.train_batch, generator=torch.Generator().manual_seed(0),
                            hflip=config.hflip)
    state = TrainState(model=network, ema=copy_for_ema(network),
                       optimizer=make_optimizer(network.parameters(), config.lr),
                       batches=RecordingBatches(batches),
                       generator=torch.Generator(device).manual_seed(0),
                       sampler=diffusion.timestep_sampler)
    return config, diffusion, state


def checked_first_step(state: TrainState, diffusion, config, device: str, case: Case):
    """Run the run's first step with a recording network; assert the loss against the
    reference kernels and the Adam and EMA updates against their closed forms."""
    params = [p.detach().clone() for p in state.model.parameters()]
    generator_state = state.generator.get_state()
    recorder = Recorder(state.model, device, "float32")  # no autocast of its own: train_step's
    state.network = recorder
    line = train_step(state, diffusion, config)
    state.network = None
    assert all(math.isfinite(line[key]) for key in ("loss", "mse", "grad_norm"))

    # the step's t and ε, drawn again from a copy of the run's generator (loop.py's order:
    # the timesteps of the global batch, then its noise)
    (x_t, t_seen, eps_hat), = recorder.calls
    replay = torch.Generator(state.generator.device)
    replay.set_state(generator_state)
    t, _ = state.sampler.sample(case.train_batch, replay.device, replay)
    noise = torch.randn(x_t.shape, generator=replay, dtype=x_t.dtype, device=replay.device)
    assert torch.equal(t.to(t_seen.device), t_seen), "train_step no longer draws t, then ε"
    x0, t_np, noise_np, eps_np = (to_numpy(a) for a in (state.batches.last, t, noise, eps_hat))
    tol = for_dtype(torch.float32)
    assert_close(x_t, ref_forward.q_sample(diffusion.schedule, x0, t_np, noise_np), tol)
    # uniform t: weight 1/(T p_t) = 1; L_simple, DDPM eq. (14)
    expected_loss = np.mean((noise_np - eps_np) ** 2)
    assert_close(line["loss"], expected_loss, tol)
    assert_close(line["mse"], expected_loss, tol)

    # Adam's first step (bias-corrected m̂ = g, v̂ = g²): Δθ = -lr g/(|g| + 1e-8), g the
    # clipped gradient left in .grad; the EMA's first update (decay (1+0)/(10+0) = 0.1)
    moved = 0
    for before, param, average in zip(params, state.model.parameters(),
                                      state.ema.parameters(), strict=True):
        grad, old, new = (to_numpy(a) for a in (param.grad, before, param))
        step = -config.lr * grad / (np.abs(grad) + 1e-8)
        ulp = 2.0**-23 * max(np.abs(old).max(), np.abs(new).max())  # float32 weights
        np.testing.assert_allclose(new - old, step, rtol=1e-5, atol=2 * ulp)
        np.testing.assert_allclose(to_numpy(average), 0.1 * old + 0.9 * new, rtol=0,
                                   atol=2 * ulp)
        moved += int(np.any(new != old))
    assert moved > 0, "no parameter changed in the first step"
    return line


@pytest.mark.benchmark(group="train_step")
@pytest.mark.parametrize("device", DEVICE_PARAMS)
def test_train_step(benchmark, record, device):
    case = CASES[device]
    config, diffusion, state = train_setup(device, case)
    record(device, impl="train_step", model=case.model, batch=case.train_batch,
           shape=case.data_shape, dtype=case.precision, T=config.num_steps,
           loss_type=config.loss_type, var_type=config.var_type,
           parameters=sum(p.numel() for p in state.model.parameters()))
    checked_first_step(state, diffusion, config, device, case)
    line = timed(benchmark, train_step, device, state, diffusion, config)
    record_throughput(benchmark, case.train_batch)
    assert math.isfinite(line["loss"]) and line["step"] == state.step >= 2


# -- the whole bound, DDPM eq. (5) -----------------------------------------------------------------

BPD_SCHEDULE = NoiseSchedule.cosine(20)


def reference_bound(schedule: NoiseSchedule, x0: np.ndarray, calls) -> dict[str, np.ndarray]:
    """Every term of the bound in bits/dim from the recorded model calls (x_t, t, ε̂), through
    the float64 reference: σ_t² = β̃_t (clipped log), the exact decoder at index 0."""
    num_steps = schedule.num_steps
    terms = {name: np.zeros((x0.shape[0], num_steps)) for name in ("vb", "x0_mse", "mse")}
    for x_t, t, eps_hat in calls:
        x_t, t, eps_hat = (to_numpy(a) for a in (x_t, t, eps_hat))
        index = int(t[0])
        t = t.astype(np.int64)
        x0_hat = ref_param.x0_from_eps(schedule, x_t, t, eps_hat)  # clip_denoised=False
        mean, _, log_variance = ref_posterior.q_posterior(schedule, x0_hat, x_t, t)
        if index > 0:
            true_mean, _, true_log_variance = ref_posterior.q_posterior(schedule, x0, x_t, t)
            nats = reference_normal_kl(true_mean, true_log_variance, mean, log_variance)
        else:
            nats = -reference_decoder(x0, mean, 0.5 * log_variance, exact=True)
        terms["vb"][:, index] = mean_flat(nats) / LN2
        terms["x0_mse"][:, index] = mean_flat((x0_hat - x0) ** 2)
        noise = ref_param.eps_from_x0(schedule, x_t, t, x0)  # the ε that made this x_t
        terms["mse"][:, index] = mean_flat((eps_hat - noise) ** 2)
    last = np.full(x0.shape[0], num_steps - 1)
    prior_mean, _, prior_log_variance = ref_forward.q_mean_variance(schedule, x0, last)
    terms["prior_bpd"] = mean_flat(reference_normal_kl(prior_mean, prior_log_variance, 0.0,
                                                       0.0)) / LN2
    terms["total_bpd"] = terms["vb"].sum(axis=1) + terms["prior_bpd"]
    return terms


@pytest.mark.benchmark(group="calc_bpd_loop")
@pytest.mark.parametrize("device", DEVICE_PARAMS)
def test_calc_bpd_loop(benchmark, record, device):
    case = CASES[device]
    torch.manual_seed(0)
    network = ddpm_nn.build(case.model)
    live_output_layer(network)
    network.to(device).eval()
    model = Recorder(network, device, case.precision)
    x0 = torch.as_tensor(images((case.bpd_batch, *case.data_shape)), dtype=torch.float32,
                         device=device)
    diffusion = GaussianDiffusion(BPD_SCHEDULE)
    num_steps = BPD_SCHEDULE.num_steps
    record(device, impl="calc_bpd_loop", model=case.model, batch=case.bpd_batch,
           shape=case.data_shape, dtype=case.precision, T=num_steps, schedule="cosine",
           var_type=diffusion.var_type.value, decoder=diffusion.decoder.value)

    def run():
        model.calls.clear()
        generator = torch.Generator(device).manual_seed(1)
        return diffusion.calc_bpd_loop(model, x0, generator=generator)

    result = timed(benchmark, run, device)
    record_throughput(benchmark, case.bpd_batch)
    if "images_per_second" in benchmark.extra_info:
        benchmark.extra_info["image_steps_per_second"] = (
            benchmark.extra_info["images_per_second"] * num_steps)
    assert len(model.calls) == num_steps
    assert sorted(int(t[0]) for _, t, _ in model.calls) == list(range(num_steps))
    expected = reference_bound(BPD_SCHEDULE, to_numpy(x0), model.calls)
    # float32 kernels against float64 (observed ≤ 6e-7 relative): x̂_0's rounding, amplified by
    # 1/√ᾱ_t, comes back multiplied by μ̃'s x_0 coefficient √ᾱ_{t-1}β_t/(1-ᾱ_t), so the terms
    # need no condition-number scaling (a 1e-3 error in the KL or the decoder fails)
    for name in ("vb", "prior_bpd", "total_bpd", "x0_mse", "mse"):
        assert_close(result[name], expected[name], for_dtype(torch.float32), err_msg=name)
