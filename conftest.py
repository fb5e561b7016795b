"""Root pytest configuration: hypothesis profiles and the gpu marker's skip."""

import os

import pytest
from hypothesis import HealthCheck, settings

# dev: quick local runs. ci: more examples, no deadline (torch's first call is slow, and the CI
# machine is shared), derandomised so that a CI failure reproduces.
settings.register_profile("dev", max_examples=30, deadline=None)
settings.register_profile(
    "ci",
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
# stress: a long hunt for counterexamples before a release (HYPOTHESIS_PROFILE=stress).
settings.register_profile("stress", max_examples=2000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@pytest.fixture(autouse=True, scope="session")
def torch_threads():
    """One intra-op torch thread for the suite's small tensors (DDPM_MATH_TORCH_THREADS overrides).

    On a shared 2-core machine, torch's thread barriers made 100-step samplers on batches of a
    few thousand scalars 50 times slower with two threads than with one. Benchmarks restore
    torch's own default (benchmarks/conftest.py).
    """
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(int(os.environ.get("DDPM_MATH_TORCH_THREADS", "1")))
    yield
    torch.set_num_threads(previous)


def pytest_collection_modifyitems(config, items):
    import torch

    if torch.cuda.is_available():
        return
    skip_gpu = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip_gpu)
