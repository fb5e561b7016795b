"""Shared benchmark helpers: devices to run on, CUDA-synchronised calls, and run metadata.

Benchmarks are collected by plain ``pytest`` with timing disabled (a smoke run that checks each
result); time them with ``pytest benchmarks/ --benchmark-enable``. Ratios against a baseline
measured in the same run: ``--benchmark-group-by=group --benchmark-columns=min,median,ops``
and compare rows within a group.
"""

from __future__ import annotations

import platform

import numpy as np
import pytest
import torch

#: torch's default intra-op thread count, read before the test suite's fixture lowers it.
DEFAULT_THREADS = torch.get_num_threads()

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def device_param(device: str):
    """A pytest param for ``device`` carrying the gpu marker where it needs one."""
    return pytest.param(device, marks=[pytest.mark.gpu] if device != "cpu" else [], id=device)


DEVICE_PARAMS = [device_param(d) for d in DEVICES]


def synchronised(fn, device: str):
    """``fn`` followed by a CUDA synchronisation, so the timer sees the kernel, not the launch."""
    if device == "cpu":
        return fn

    def call(*args, **kwargs):
        out = fn(*args, **kwargs)
        torch.cuda.synchronize()
        return out

    return call


@pytest.fixture(autouse=True)
def default_torch_threads(torch_threads, request):
    """Timed benchmarks run with torch's default thread count; the smoke run (timing disabled,
    each body once) keeps the test suite's single thread: on the shared 2-core machine, under
    load from other processes, two threads' barriers made small-tensor work up to 70 times
    slower (calc_bpd_loop on the digits8 net: 0.2 s quiet, 15.7 s in one smoke run)."""
    option = request.config.getoption
    if option("benchmark_disable") and not option("benchmark_enable"):  # pytest-benchmark's rule
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(DEFAULT_THREADS)
    yield
    torch.set_num_threads(previous)


@pytest.fixture
def one_thread():
    """One intra-op thread, as issue 9 measures the sampling loop (timed runs too)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield 1
    torch.set_num_threads(previous)


@pytest.fixture
def record(benchmark):
    """Fill ``benchmark.extra_info`` with the device, versions and any shapes the test adds."""

    def _record(device: str, **info):
        benchmark.extra_info.update(
            device=torch.cuda.get_device_name() if device == "cuda" else platform.processor()
            or platform.machine(),
            torch=torch.__version__,
            numpy=np.__version__,
            threads=torch.get_num_threads(),
            **{k: str(v) for k, v in info.items()},
        )

    return _record
