"""CUDA helpers for tests: torch's synchronisation debug mode as a context manager."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import torch

__all__ = ["sync_debug_mode"]


@contextmanager
def sync_debug_mode(mode: str) -> Iterator[None]:
    """``torch.cuda.set_sync_debug_mode(mode)`` ("warn" or "error") inside the block, the
    previous mode restored after, even when the block raises. Setting the mode emits a
    "prototype feature" UserWarning, which a suite that turns warnings into errors would raise
    before the block starts: that one warning is silenced, nothing else."""
    previous = torch.cuda.get_sync_debug_mode()

    def set_mode(value) -> None:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Synchronization debug mode is a prototype")
            torch.cuda.set_sync_debug_mode(value)

    set_mode(mode)
    try:
        yield
    finally:
        set_mode(previous)
