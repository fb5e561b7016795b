"""The torch kernels of one DDPM step, timed over implementation, precision, batch and device
(issue 9), each result checked afterwards against the numpy float64 reference of
:mod:`ddpm_math.reference` or an analytic value: ``q_sample`` (eq. 4), ``q_posterior``
(eqs. 6-7), ``normal_kl``, the discretised decoder (eq. 13), one training-loss step with
backward (Algorithm 1, L_simple) and one ancestral update ``GaussianDiffusion.p_sample``
(Algorithm 2). Data are CIFAR-10 shaped 8-bit images [B, 3, 32, 32]; T = 1000, linear schedule.

Figures (timing on; the plain ``pytest`` run only smoke-tests each case once):

    pytest benchmarks/bench_kernels.py --benchmark-enable \
        --benchmark-group-by=group,param:batch --benchmark-columns=min,median,ops \
        --benchmark-json=kernels.json

``-k cuda`` (or ``-m gpu``) keeps the CUDA rows. On a shared machine prefix
``OMP_NUM_THREADS=1`` (torch's default thread count is read from it; ``extra_info.threads``
records it): two threads' barriers under load from other processes turn milliseconds into
seconds. This module replaces the former bench_kl.py and bench_decoder.py.

Ratios: within one group and one batch, rows of the same run. For q_sample, q_posterior,
normal_kl and the decoder the baseline is the ``reference-numpy`` row (float64 numpy on the
CPU): a row's speed-up is reference time / row time. For the model-calling kernels (loss step,
p_sample) compare a precision with the float32 row, and a device with the cpu row.
``extra_info.images_per_second`` is batch × ops (ops = calls per second from the mean time),
``images_per_second_best`` the same from the minimum.
"""

from __future__ import annotations

import contextlib
import math

import numpy as np
import pytest
import torch

from benchmarks.conftest import DEVICE_PARAMS, synchronised
from ddpm_math import (
    GaussianDiffusion,
    NoiseSchedule,
    discretized_gaussian_log_likelihood,
    normal_kl,
)
from ddpm_math.diffusion import forward, posterior
from ddpm_math.reference import forward as ref_forward
from ddpm_math.reference import parameterization as ref_param
from ddpm_math.reference import posterior as ref_posterior
from ddpm_math.reference.decoder import (
    discretized_gaussian_log_likelihood as reference_decoder,
)
from ddpm_math.reference.kl import normal_kl as reference_normal_kl
from ddpm_math.testing.tolerances import Tolerance, assert_close, for_dtype

T = 1000
SCHEDULE = NoiseSchedule.linear(T)
IMAGE = (3, 32, 32)
#: Batches per device: small CPU grids keep the smoke run short; CUDA adds a large batch.
BATCHES = {"cpu": (8, 128), "cuda": (8, 128, 1024)}
DTYPES = {"float64": torch.float64, "float32": torch.float32}
#: A network under bf16 autocast (its output cast back to float32, as train_step does).
BF16_AUTOCAST = "bf16-autocast"


# -- shared helpers (bench_train imports these) ------------------------------------------------


def grid(precisions, batches=BATCHES):
    """pytest params (device, precision, batch) over DEVICE_PARAMS; bf16 autocast on CUDA only."""
    params = []
    for device_param in DEVICE_PARAMS:
        device = device_param.values[0]
        for precision in precisions:
            if precision == BF16_AUTOCAST and device == "cpu":
                continue
            for batch in batches[device]:
                params.append(pytest.param(device, precision, batch, marks=device_param.marks,
                                           id=f"{device}-{precision}-{batch}"))
    return params


def reference_batches() -> list[int]:
    """Every batch some device runs, so each torch row has a reference row to compare with."""
    devices = [p.values[0] for p in DEVICE_PARAMS]
    return sorted({batch for device in devices for batch in BATCHES[device]})


def images(shape, seed: int = 0) -> np.ndarray:
    """Uniform 8-bit images k/127.5 - 1 (k = 0..255) as float64, the decoder's data grid."""
    return np.random.default_rng(seed).integers(0, 256, size=shape) / 127.5 - 1.0


def record_throughput(benchmark, batch: int) -> None:
    """``images_per_second`` = batch × ops (and from the best time), when timing ran."""
    if benchmark.stats is None:  # --benchmark-disable: the body ran once, untimed
        return
    stats = benchmark.stats.stats
    benchmark.extra_info["images_per_second"] = batch * stats.ops
    benchmark.extra_info["images_per_second_best"] = batch / stats.min if stats.min else 0.0


def timed(benchmark, fn, device: str, *args, **kwargs):
    """``benchmark(fn)`` synchronised on CUDA, after one untimed warm-up call there (context,
    allocator and kernel selection stay out of the calibration)."""
    if device != "cpu":
        fn(*args, **kwargs)
    return benchmark(synchronised(fn, device), *args, **kwargs)


def to_numpy(x: torch.Tensor) -> np.ndarray:
    return x.detach().to("cpu", torch.float64).numpy()


def autocast(device: str, precision: str):
    """bf16 autocast on CUDA for BF16_AUTOCAST, else no context at all (an autocast context
    with enabled=False would switch off an autocast around it, as train_step's)."""
    if precision != BF16_AUTOCAST:
        return contextlib.nullcontext()
    return torch.autocast(device_type=torch.device(device).type, dtype=torch.bfloat16)


def data_dtype(precision: str) -> torch.dtype:
    """The dtype of the data and of the kernels: the network's autocast leaves them float32."""
    return torch.float32 if precision == BF16_AUTOCAST else DTYPES[precision]


class Recorder:
    """``model(x_t, t)`` around a network: bf16 autocast when asked, the output cast to x_t's
    dtype, and every call's (x_t, t, output) kept (references only) for the oracle."""

    def __init__(self, network, device: str, precision: str, retain_grad: bool = False):
        self.network, self.device, self.precision = network, device, precision
        self.retain_grad = retain_grad
        self.calls: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []

    def __call__(self, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        with autocast(self.device, self.precision):
            out = self.network(x_t, t)
        out = out.to(x_t.dtype)
        if self.retain_grad and out.requires_grad:
            out.retain_grad()
        self.calls.append((x_t.detach(), t, out))
        return out


class TinyEps(torch.nn.Module):
    """Conv(3,16,3) → SiLU → Conv(16,3,3) scaled by 1 + t/T: a cheap ε-model that depends on t,
    so the kernels, not the network, dominate the time."""

    def __init__(self):
        super().__init__()
        self.body = torch.nn.Sequential(torch.nn.Conv2d(3, 16, 3, padding=1), torch.nn.SiLU(),
                                        torch.nn.Conv2d(16, 3, 3, padding=1))

    def forward(self, x_t, t):
        scale = 1.0 + t.to(x_t.dtype) / T
        return self.body(x_t) * scale.view(-1, 1, 1, 1)


def tiny_eps(device: str, dtype: torch.dtype) -> TinyEps:
    torch.manual_seed(0)
    return TinyEps().to(device=device, dtype=dtype)


def timesteps(batch: int) -> np.ndarray:
    """Indices spread over [0, T-1], with index 0 and T-1 (the ends of Algorithm 2) included."""
    t = np.linspace(0, T - 1, batch).round().astype(np.int64)
    return np.random.default_rng(3).permutation(t)


def forward_inputs(batch: int):
    """(x0, t, noise) in float64: 8-bit images, spread timesteps, standard normal noise."""
    x0 = images((batch, *IMAGE))
    noise = np.random.default_rng(1).standard_normal((batch, *IMAGE))
    return x0, timesteps(batch), noise


def as_torch(arrays, device, dtype):
    return [torch.as_tensor(a, device=device, dtype=dtype if a.dtype != np.int64 else None)
            for a in arrays]


# -- q_sample, DDPM eq. (4) ---------------------------------------------------------------------


@pytest.mark.benchmark(group="q_sample")
@pytest.mark.parametrize("batch", reference_batches())
def test_q_sample_reference(benchmark, record, batch):
    x0, t, noise = forward_inputs(batch)
    record("cpu", impl="reference-numpy", dtype="float64", batch=batch, shape=IMAGE)
    result = benchmark(ref_forward.q_sample, SCHEDULE, x0, t, noise)
    record_throughput(benchmark, batch)
    # eq. (4) solved for ε (an independent transcription) gives back the noise
    recovered = ref_param.eps_from_x0(SCHEDULE, result, t, x0)
    np.testing.assert_allclose(recovered, noise, rtol=1e-9, atol=1e-9)


@pytest.mark.benchmark(group="q_sample")
@pytest.mark.parametrize("impl", ["kernel", "facade"])
@pytest.mark.parametrize(("device", "precision", "batch"), grid(DTYPES))
def test_q_sample(benchmark, record, impl, device, precision, batch):
    dtype = DTYPES[precision]
    x0, t, noise = as_torch(forward_inputs(batch), device, dtype)
    record(device, impl=impl, dtype=dtype, batch=batch, shape=IMAGE, T=T)
    if impl == "kernel":
        coefs = SCHEDULE.to_torch(device, dtype)
        result = timed(benchmark, forward.q_sample, device, coefs, x0, t, noise)
    else:
        diffusion = GaussianDiffusion(SCHEDULE)
        result = timed(benchmark, diffusion.q_sample, device, x0, t, noise)
    record_throughput(benchmark, batch)
    expected = ref_forward.q_sample(SCHEDULE, *(to_numpy(a) for a in (x0, t, noise)))
    # a few roundings of terms ≲ 5 in size: within the table's atol where x_t cancels to ~0
    assert_close(result, expected, for_dtype(dtype))


# -- q_posterior, DDPM eqs. (6)-(7) ------------------------------------------------------------


def posterior_inputs(batch: int):
    """(x0, x_t, t) in float64, x_t drawn from q(x_t | x0) by the reference."""
    x0, t, noise = forward_inputs(batch)
    return x0, ref_forward.q_sample(SCHEDULE, x0, t, noise), t


@pytest.mark.benchmark(group="q_posterior")
@pytest.mark.parametrize("batch", reference_batches())
def test_q_posterior_reference(benchmark, record, batch):
    x0, x_t, t = posterior_inputs(batch)
    record("cpu", impl="reference-numpy", dtype="float64", batch=batch, shape=IMAGE)
    mean, variance, _ = benchmark(ref_posterior.q_posterior, SCHEDULE, x0, x_t, t)
    record_throughput(benchmark, batch)
    # the two routes to μ̃ (eq. 7 and eqs. 10-11 through ε) agree
    eps = ref_param.eps_from_x0(SCHEDULE, x_t, t, x0)
    np.testing.assert_allclose(mean, ref_posterior.mu_tilde_from_eps(SCHEDULE, x_t, t, eps),
                               rtol=1e-9, atol=1e-9)
    assert np.all(variance[t == 0] == 0.0)  # β̃_1 = 0: ᾱ_0 = 1


@pytest.mark.benchmark(group="q_posterior")
@pytest.mark.parametrize("impl", ["kernel", "facade"])
@pytest.mark.parametrize(("device", "precision", "batch"), grid(DTYPES))
def test_q_posterior(benchmark, record, impl, device, precision, batch):
    dtype = DTYPES[precision]
    x0, x_t, t = as_torch(posterior_inputs(batch), device, dtype)
    record(device, impl=impl, dtype=dtype, batch=batch, shape=IMAGE, T=T)
    if impl == "kernel":
        coefs = SCHEDULE.to_torch(device, dtype)
        result = timed(benchmark, posterior.q_posterior, device, coefs, x0, x_t, t)
    else:
        diffusion = GaussianDiffusion(SCHEDULE)
        result = timed(benchmark, diffusion.q_posterior, device, x0, x_t, t)
    record_throughput(benchmark, batch)
    expected = ref_posterior.q_posterior(SCHEDULE, *(to_numpy(a) for a in (x0, x_t, t)))
    tol = for_dtype(dtype)
    for name, actual, wanted in zip(("mean", "variance", "log_variance"), result, expected,
                                    strict=True):
        assert_close(actual, wanted, tol, err_msg=name)


# -- normal_kl -----------------------------------------------------------------------------------


def kl_inputs(batch: int, seed: int = 0) -> list[np.ndarray]:
    """(mean1, logvar1, mean2, logvar2) of image shape, log-variances in [-5, 2]."""
    rng = np.random.default_rng(seed)
    shape = (batch, *IMAGE)
    return [rng.normal(size=shape), rng.uniform(-5, 2, shape), rng.normal(size=shape),
            rng.uniform(-5, 2, shape)]


@pytest.mark.benchmark(group="normal_kl")
@pytest.mark.parametrize("batch", reference_batches())
def test_normal_kl_reference(benchmark, record, batch):
    args = kl_inputs(batch)
    record("cpu", impl="reference-numpy", dtype="float64", batch=batch, shape=IMAGE)
    result = benchmark(reference_normal_kl, *args)
    record_throughput(benchmark, batch)
    assert result.shape == (batch, *IMAGE) and np.all(result >= -1e-12)  # KL ≥ 0 (Gibbs)
    same = reference_normal_kl(args[0], args[1], args[0], args[1])
    np.testing.assert_allclose(same, 0.0, atol=1e-14)  # KL(p ‖ p) = 0


@pytest.mark.benchmark(group="normal_kl")
@pytest.mark.parametrize(("device", "precision", "batch"), grid(DTYPES))
def test_normal_kl(benchmark, record, device, precision, batch):
    dtype = DTYPES[precision]
    args = as_torch(kl_inputs(batch), device, dtype)
    record(device, impl="torch", dtype=dtype, batch=batch, shape=IMAGE)
    result = timed(benchmark, normal_kl, device, *args)
    record_throughput(benchmark, batch)
    expected = reference_normal_kl(*(to_numpy(a) for a in args))
    # float32: exp(Δlogvar) - 1 - Δlogvar cancels where the variances are close
    tol = Tolerance(rtol=1e-4, atol=1e-5) if dtype == torch.float32 else for_dtype(dtype)
    assert_close(result, expected, tol)


# -- the discretised decoder, DDPM eq. (13) --------------------------------------------------------

LOG_SCALE = math.log(0.05)


def decoder_inputs(batch: int, seed: int = 0):
    """8-bit images and decoder means near them (clipped to [-1.2, 1.2])."""
    x = images((batch, *IMAGE), seed)
    rng = np.random.default_rng(seed + 1)
    return x, np.clip(x + rng.normal(scale=0.05, size=x.shape), -1.2, 1.2)


@pytest.mark.benchmark(group="decoder")
@pytest.mark.parametrize("batch", reference_batches())
def test_decoder_reference(benchmark, record, batch):
    x, means = decoder_inputs(batch)
    record("cpu", impl="reference-numpy", dtype="float64", batch=batch, shape=IMAGE)
    result = benchmark(reference_decoder, x, means, LOG_SCALE)
    record_throughput(benchmark, batch)
    assert result.shape == x.shape and np.all(np.isfinite(result)) and np.all(result <= 0)


@pytest.mark.benchmark(group="decoder")
@pytest.mark.parametrize("exact", [False, True], ids=["reference-mode", "exact-mode"])
@pytest.mark.parametrize(("device", "precision", "batch"), grid(DTYPES))
def test_decoder(benchmark, record, exact, device, precision, batch):
    dtype = DTYPES[precision]
    x, means = as_torch(decoder_inputs(batch), device, dtype)
    record(device, impl="torch", dtype=dtype, exact=exact, batch=batch, shape=IMAGE)
    result = timed(benchmark, discretized_gaussian_log_likelihood, device, x, means, LOG_SCALE,
                   exact=exact)
    record_throughput(benchmark, batch)
    expected = reference_decoder(to_numpy(x), to_numpy(means), LOG_SCALE, exact=exact)
    # compared as probabilities: Φ̃ = ½(1 + tanh) has an absolute error of a few eps
    tol = (Tolerance(rtol=1e-4, atol=1e-6) if dtype == torch.float32
           else Tolerance(rtol=1e-10, atol=1e-14))
    assert_close(result.double().exp(), np.exp(expected), tol)


# -- one training-loss step with backward, DDPM Algorithm 1 (L_simple, eq. 14) ---------------


@pytest.mark.benchmark(group="loss_step")
@pytest.mark.parametrize(("device", "precision", "batch"),
                         grid([*DTYPES, BF16_AUTOCAST]))
def test_loss_step(benchmark, record, device, precision, batch):
    """training_losses at fixed (t, ε) and backward through TinyEps, as a training loop after
    its first step (check_values=False); the network is cheap, so the kernels show."""
    dtype = data_dtype(precision)
    network = tiny_eps(device, dtype)
    model = Recorder(network, device, precision, retain_grad=True)
    x0, t, noise = as_torch(forward_inputs(batch), device, dtype)
    diffusion = GaussianDiffusion(SCHEDULE)
    record(device, impl="training_losses+backward", dtype=precision, batch=batch, shape=IMAGE,
           T=T, network="TinyEps")

    def step():
        model.calls.clear()
        network.zero_grad(set_to_none=True)
        terms = diffusion.training_losses(model, x0, t=t, noise=noise, check_values=False)
        loss = terms["loss"].mean()
        loss.backward()
        return loss

    loss = timed(benchmark, step, device)
    record_throughput(benchmark, batch)
    (x_t, t_seen, eps_hat), = model.calls
    x0_np, t_np, noise_np, eps_np = (to_numpy(a) for a in (x0, t, noise, eps_hat))
    assert np.array_equal(to_numpy(t_seen), t_np)
    tol = for_dtype(dtype)
    assert_close(x_t, ref_forward.q_sample(SCHEDULE, x0_np, t_np, noise_np), tol)
    # L_simple = mean over the batch and the dimensions of ‖ε - ε̂‖², DDPM eq. (14)
    expected_loss = np.mean((noise_np - eps_np) ** 2)
    assert_close(loss, expected_loss, tol)
    # analytic gradient at the network output: ∂L/∂ε̂ = 2(ε̂ - ε)/(B·D)
    assert_close(eps_hat.grad, 2.0 * (eps_np - noise_np) / noise_np.size, tol)
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in network.parameters())


# -- one ancestral update, DDPM Algorithm 2 line 4 ---------------------------------------------


@pytest.mark.benchmark(group="p_sample")
@pytest.mark.parametrize(("device", "precision", "batch"),
                         grid([*DTYPES, BF16_AUTOCAST]))
def test_p_sample(benchmark, record, device, precision, batch):
    """One draw x_{t-1} ~ p_θ(x_{t-1} | x_t), σ_t² = β̃_t, x̂_0 clipped (the facade's defaults),
    at timesteps spread over [0, T-1]; z = 0 at index 0."""
    dtype = data_dtype(precision)
    model = Recorder(tiny_eps(device, dtype), device, precision)
    x0, x_t_np, t_np = posterior_inputs(batch)
    z_np = np.random.default_rng(2).standard_normal(x0.shape)
    x_t, t, z = as_torch((x_t_np, t_np, z_np), device, dtype)
    diffusion = GaussianDiffusion(SCHEDULE)
    record(device, impl="GaussianDiffusion.p_sample", dtype=precision, batch=batch,
           shape=IMAGE, T=T, network="TinyEps", var_type="fixed_small", clip_denoised=True)

    def step():
        model.calls.clear()
        with torch.no_grad():
            return diffusion.p_sample(model, x_t, t, noise=z)

    x_prev = timed(benchmark, step, device)
    record_throughput(benchmark, batch)
    (_, _, eps_hat), = model.calls
    x_t_in, eps_np, z_in = (to_numpy(a) for a in (x_t, eps_hat, z))
    x0_hat = np.clip(ref_param.x0_from_eps(SCHEDULE, x_t_in, t_np, eps_np), -1.0, 1.0)
    mean, variance, _ = ref_posterior.q_posterior(SCHEDULE, x0_hat, x_t_in, t_np)
    expected = mean + np.sqrt(variance) * z_in  # β̃_1 = 0: no noise at index 0
    # no condition-number scaling: x̂_0's rounding, amplified by 1/√ᾱ_t (up to 157), comes
    # back multiplied by μ̃'s x_0 coefficient √ᾱ_{t-1}β_t/(1-ᾱ_t); where x̂_0 leaves [-1, 1]
    # the clip removes it
    assert_close(x_prev, expected, for_dtype(dtype))
