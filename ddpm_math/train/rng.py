"""Every random number generator a training step draws from, captured and restored exactly.

A resumed run must draw what the uninterrupted run would have drawn: torch's global CPU RNG
(dropout), each CUDA device's RNG, the run's named ``torch.Generator``s (data order, timesteps
and noise), Python's ``random`` and numpy's legacy global RNG. The tensors go into a checkpoint's
``extra.safetensors``, the rest into its JSON (see :mod:`ddpm_math.train.checkpoint`).
"""

from __future__ import annotations

import random
from collections.abc import Mapping

import numpy as np
import torch

__all__ = ["capture_rng_state", "restore_rng_state"]

def capture_rng_state(generators: Mapping[str, torch.Generator] | None = None,
                      ) -> tuple[dict[str, torch.Tensor], dict]:
    """Every RNG a training step may draw from, as (uint8 tensors, JSON-able dict).

    Tensors: ``rng.torch`` (torch's global CPU RNG), ``rng.cuda.<i>`` (each CUDA device, when
    CUDA is available), ``rng.gen.<name>`` (each named generator). JSON: ``python`` (the
    ``random`` module) and ``numpy`` (numpy's legacy global RNG).
    """
    tensors = {"rng.torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        for index, cuda_state in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng.cuda.{index}"] = cuda_state
    for name, generator in _generators(generators).items():
        tensors[f"rng.gen.{name}"] = generator.get_state()
    version, internal, gauss_next = random.getstate()
    bit_generator, keys, pos, has_gauss, cached_gaussian = np.random.get_state(legacy=True)
    json_state = {
        "python": [version, list(internal), gauss_next],
        "numpy": [str(bit_generator), keys.tolist(), int(pos), int(has_gauss),
                  float(cached_gaussian)],
    }
    return tensors, json_state


def restore_rng_state(tensors: Mapping[str, torch.Tensor], json_state: dict,
                      generators: Mapping[str, torch.Generator] | None = None) -> None:
    """Put back what :func:`capture_rng_state` captured (CUDA states only where CUDA exists)."""
    generators = _generators(generators)

    def state_tensor(key: str) -> torch.Tensor:
        if key not in tensors:
            raise ValueError(f"restore_rng_state: tensors has no {key!r}")
        return tensors[key].to("cpu", torch.uint8)

    torch_state = state_tensor("rng.torch")
    generator_states = {name: state_tensor(f"rng.gen.{name}") for name in generators}
    try:
        version, internal, gauss_next = json_state["python"]
        python_state = (version, tuple(internal), gauss_next)
        bit_generator, keys, pos, has_gauss, cached_gaussian = json_state["numpy"]
        numpy_state = (bit_generator, np.asarray(keys, dtype=np.uint32), pos, has_gauss,
                       cached_gaussian)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"restore_rng_state: json_state is malformed ({exc!r})") from None
    torch.set_rng_state(torch_state)
    if torch.cuda.is_available():
        for index in range(torch.cuda.device_count()):
            if f"rng.cuda.{index}" in tensors:
                torch.cuda.set_rng_state(state_tensor(f"rng.cuda.{index}"), device=index)
    for name, generator in generators.items():
        generator.set_state(generator_states[name])
    random.setstate(python_state)
    np.random.set_state(numpy_state)


def _generators(generators: Mapping[str, torch.Generator] | None) -> dict[str, torch.Generator]:
    generators = {} if generators is None else dict(generators)
    for name, generator in generators.items():
        if not isinstance(name, str) or not isinstance(generator, torch.Generator):
            raise TypeError(f"generators[{name!r}] must be a torch.Generator under a str name")
    return generators
