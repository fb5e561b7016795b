"""normal_kl: torch (per dtype and device) against the numpy float64 reference."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from benchmarks.conftest import DEVICE_PARAMS, synchronised
from ddpm_math import normal_kl
from ddpm_math.reference.kl import normal_kl as reference_normal_kl

SIZES = [1_000, 1_000_000]


def inputs(size: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.normal(size=size), rng.uniform(-5, 2, size), rng.normal(size=size),
            rng.uniform(-5, 2, size)]


@pytest.mark.benchmark(group="normal_kl")
@pytest.mark.parametrize("size", SIZES)
def test_reference_numpy(benchmark, record, size):
    args = inputs(size)
    record("cpu", impl="reference-numpy", dtype="float64", size=size)
    result = benchmark(reference_normal_kl, *args)
    assert result.shape == (size,) and np.all(result >= -1e-12)


@pytest.mark.benchmark(group="normal_kl")
@pytest.mark.parametrize("device", DEVICE_PARAMS)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("size", SIZES)
def test_torch(benchmark, record, device, dtype, size):
    args_np = inputs(size)
    args = [torch.as_tensor(a, dtype=dtype, device=device) for a in args_np]
    record(device, impl="torch", dtype=dtype, size=size)
    result = benchmark(synchronised(normal_kl, device), *args)
    expected = reference_normal_kl(*(a.double().cpu().numpy() for a in args))
    np.testing.assert_allclose(result.double().cpu().numpy(), expected,
                               rtol=1e-4 if dtype == torch.float32 else 1e-10, atol=1e-5)
