"""The reference tables at a terminal β_T = 1 (zero terminal SNR, Lin et al. 2023).

β_T = 1 makes log(1 - β_T) = log 0 = -inf, so ᾱ_T = 0 and 1 - ᾱ_T = 1 exactly; the reference's
``step_tables`` computes 1 - ᾱ as -expm1(Σ log1p(-β)) and must do so without a divide-by-zero
warning (pytest turns warnings into errors). Oracle: the products written out with ``math``.
"""

from __future__ import annotations

import math

import numpy as np

from ddpm_math.reference.schedule import step_tables


def test_tables_with_a_terminal_beta_of_one():
    beta = np.array([0.1, 0.2, 0.5, 1.0])
    tables = step_tables(beta)
    alpha_bar = [math.prod(1.0 - b for b in beta[: i + 1]) for i in range(4)]
    np.testing.assert_allclose(tables.alpha_bar, alpha_bar, rtol=1e-15, atol=0.0)
    assert tables.alpha_bar[-1] == 0.0 and tables.one_minus_alpha_bar[-1] == 1.0
    np.testing.assert_allclose(tables.one_minus_alpha_bar, [1.0 - a for a in alpha_bar],
                               rtol=1e-15, atol=0.0)
