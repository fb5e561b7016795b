"""Tolerances for comparing kernels, one table per dtype, rtol and atol always together.

A test that needs a looser tolerance takes one of these and scales it locally, stating why
(for an ill-conditioned quantity, by its condition number: e.g. x̂_0 from x_t is amplified by
1/√ᾱ_t, about 157 at t = T for the DDPM linear schedule).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Tolerance", "TOLERANCES", "for_dtype", "assert_close"]


@dataclass(frozen=True)
class Tolerance:
    """|actual - expected| <= atol + rtol·|expected|, elementwise."""

    rtol: float
    atol: float

    def scaled(self, factor: float) -> Tolerance:
        """Both tolerances multiplied by ``factor`` (a condition number, stated at the call)."""
        return Tolerance(self.rtol * factor, self.atol * factor)


#: Kernel-against-reference tolerances. float64: a few dozen ulps of accumulated rounding;
#: float32 / bfloat16 / float16: likewise in their own epsilon (2**-23, 2**-7, 2**-10).
TOLERANCES: dict[str, Tolerance] = {
    "mpmath_vs_float64": Tolerance(rtol=1e-12, atol=1e-14),
    "float64": Tolerance(rtol=1e-12, atol=1e-14),
    "float32": Tolerance(rtol=2e-5, atol=1e-6),
    "float16": Tolerance(rtol=5e-3, atol=1e-3),
    "bfloat16": Tolerance(rtol=3e-2, atol=1e-2),
}


def for_dtype(dtype) -> Tolerance:
    """The tolerance for a torch or numpy dtype (or its name)."""
    name = str(dtype).replace("torch.", "")
    if name not in TOLERANCES:
        raise KeyError(f"no tolerance for dtype {dtype!r}; known: {sorted(TOLERANCES)}")
    return TOLERANCES[name]


def assert_close(actual, expected, tol: Tolerance, *, err_msg: str = "") -> None:
    """``numpy.testing.assert_allclose`` with a :class:`Tolerance`; tensors go to float64."""
    to_np = lambda a: (  # noqa: E731
        a.detach().to("cpu").double().numpy() if hasattr(a, "detach") else np.asarray(a)
    )
    np.testing.assert_allclose(
        to_np(actual), to_np(expected), rtol=tol.rtol, atol=tol.atol, err_msg=err_msg
    )
