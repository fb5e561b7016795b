"""discretized_gaussian_log_likelihood: the reference-code mode, the exact log-space mode, and
the numpy reference, on a batch of 8-bit images."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from benchmarks.conftest import DEVICE_PARAMS, synchronised
from ddpm_math import discretized_gaussian_log_likelihood
from ddpm_math.reference.decoder import (
    discretized_gaussian_log_likelihood as reference_decoder,
)

SHAPES = [(8, 3, 32, 32), (64, 3, 32, 32)]


def images(shape, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, size=shape) / 127.5 - 1.0
    means = np.clip(x + rng.normal(scale=0.05, size=shape), -1.2, 1.2)
    return x, means


@pytest.mark.benchmark(group="decoder")
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_reference_numpy(benchmark, record, shape):
    x, means = images(shape)
    record("cpu", impl="reference-numpy", dtype="float64", shape=shape)
    result = benchmark(reference_decoder, x, means, math.log(0.05))
    assert result.shape == shape and np.all(np.isfinite(result))


@pytest.mark.benchmark(group="decoder")
@pytest.mark.parametrize("device", DEVICE_PARAMS)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("exact", [False, True], ids=["reference-mode", "exact-mode"])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_torch(benchmark, record, device, dtype, exact, shape):
    x_np, means_np = images(shape)
    x, means = (torch.as_tensor(a, dtype=dtype, device=device) for a in (x_np, means_np))
    record(device, impl="torch", dtype=dtype, exact=exact, shape=shape)
    fn = synchronised(discretized_gaussian_log_likelihood, device)
    result = benchmark(fn, x, means, math.log(0.05), exact=exact)
    expected = reference_decoder(x.double().cpu().numpy(), means.double().cpu().numpy(),
                                 math.log(0.05), exact=exact)
    # compared as probabilities: Φ̃ = ½(1 + tanh) has an absolute error of a few eps
    np.testing.assert_allclose(result.double().cpu().exp().numpy(), np.exp(expected),
                               rtol=1e-4 if dtype == torch.float32 else 1e-10,
                               atol=1e-6 if dtype == torch.float32 else 1e-14)
