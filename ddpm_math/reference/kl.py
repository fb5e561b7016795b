"""KL divergence between diagonal Gaussians, numpy float64 transcription."""

from __future__ import annotations

import numpy as np

__all__ = ["normal_kl"]


def normal_kl(mean1, logvar1, mean2, logvar2) -> np.ndarray:
    """KL(N(mean1, e^logvar1) ‖ N(mean2, e^logvar2)) elementwise, in nats (textbook form)."""
    mean1, logvar1, mean2, logvar2 = (
        np.asarray(a, dtype=np.float64) for a in (mean1, logvar1, mean2, logvar2)
    )
    return 0.5 * (
        -1.0
        + logvar2
        - logvar1
        + np.exp(logvar1 - logvar2)
        + (mean1 - mean2) ** 2 * np.exp(-logvar2)
    )
