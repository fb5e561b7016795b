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


def pytest_collection_modifyitems(config, items):
    import torch

    if torch.cuda.is_available():
        return
    skip_gpu = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip_gpu)
