"""Small exact models the audit computes on, each built from its definitions.

- finite joint distributions (numpy, seeded): for Bayes' rule, the chain rule and Markov
  factorisations, where a wrong identity fails at a random table;
- the DDPM schedules at 50 digits (mpmath): the linear β_t of DDPM §4 and the cosine ᾱ_t of
  Nichol & Dhariwal 2021 eq. (17), next to the cosine ᾱ_t as seed 003 writes it;
- a one-step (T = 1) all-Gaussian diffusion, where -log p_θ(x_0), the bound L and its terms
  have closed forms: data x_0 ~ N(0, v), q(x_1|x_0) = N(√α x_0, 1-α), p(x_1) = N(0, 1),
  p_θ(x_0|x_1) = N(θ x_1, s). Expectations are written out moment by moment (E[x_1²] =
  α x_0² + 1 - α under q), not taken from the code under audit.
"""

from __future__ import annotations

import mpmath as mp
import numpy as np
import sympy as sp

mp.mp.dps = 50


# -- finite distributions -------------------------------------------------------------------

def random_joint(shape: tuple[int, ...], seed: int) -> np.ndarray:
    """A strictly positive joint probability table of the given shape."""
    table = np.random.default_rng(seed).uniform(0.1, 1.0, size=shape)
    return table / table.sum()


def random_distribution(n: int, seed: int) -> np.ndarray:
    """A strictly positive probability vector of length n."""
    return random_joint((n,), seed)


def kl_discrete(p: np.ndarray, q: np.ndarray) -> float:
    """Σ_x P(x) log(P(x)/Q(x)), the definition (Kullback & Leibler 1951)."""
    return float(np.sum(p * np.log(p / q)))


def markov_chain(kernels: list[np.ndarray], start: np.ndarray) -> np.ndarray:
    """Joint table of x_0, ..., x_n from start(x_0) and kernels k[x_{i-1}, x_i]."""
    joint = start
    for kernel in kernels:
        joint = joint[..., :, None] * kernel.reshape((1,) * (joint.ndim - 1) + kernel.shape)
    return joint


# -- schedules at 50 digits -----------------------------------------------------------------

def linear_betas(T: int = 1000, beta_1: str = "1e-4", beta_T: str = "0.02") -> list:
    """β_t = β_1 + (β_T - β_1)(t-1)/(T-1), t = 1..T: DDPM §4 (10⁻⁴ to 0.02, T = 1000)."""
    beta_1, beta_T = mp.mpf(beta_1), mp.mpf(beta_T)
    return [beta_1 + (beta_T - beta_1) * mp.mpf(t - 1) / (T - 1) for t in range(1, T + 1)]


def alpha_bars(betas: list) -> list:
    """ᾱ_t = ∏_{s≤t} (1 - β_s), t = 1..T."""
    out, running = [], mp.mpf(1)
    for beta in betas:
        running *= 1 - beta
        out.append(running)
    return out


def cosine_alpha_bar_true(t: int, T: int, s: str = "0.008"):
    """ᾱ_t = f(t)/f(0), f(t) = cos²((t/T + s)/(1 + s) · π/2), Nichol & Dhariwal eq. (17)."""
    s = mp.mpf(s)
    f = lambda u: mp.cos((u + s) / (1 + s) * mp.pi / 2) ** 2  # noqa: E731
    return f(mp.mpf(t) / T) / f(0)


def cosine_alpha_bar_note(t: int, T: int):
    """ᾱ_t = cos²(π/2 (t/T + 0.008)) / cos²(0.008 π/2), as seed 003 line 43 writes it; t/T +
    0.008 is formed exactly (sympy rationals), so ᾱ_t is exactly 0 where it reaches 1."""
    u = sp.Rational(t, T) + sp.Rational(8, 1000)
    value = sp.cos(sp.pi / 2 * u) ** 2 / sp.cos(sp.Rational(8, 1000) * sp.pi / 2) ** 2
    return mp.mpf(0) if value == 0 else mp.mpf(sp.N(value, 60))


# -- the one-step Gaussian diffusion --------------------------------------------------------

def log_normal(x, mean, var):
    """log N(x; mean, var)."""
    return -mp.log(2 * mp.pi * var) / 2 - (x - mean) ** 2 / (2 * var)


def toy_nll(x0, theta, s):
    """-log p_θ(x_0) with p_θ(x_0) = ∫ N(x_1; 0, 1) N(x_0; θ x_1, s) dx_1 = N(x_0; 0, θ² + s)."""
    return -log_normal(x0, 0, theta**2 + s)


def toy_log_ratio(x0, x1, theta, s, alpha):
    """log q(x_1|x_0) - log p_θ(x_0, x_1): the integrand of the bound, at one x_1."""
    return (log_normal(x1, mp.sqrt(alpha) * x0, 1 - alpha)
            - log_normal(x1, 0, 1) - log_normal(x0, theta * x1, s))


def toy_bound(x0, theta, s, alpha):
    """L(x_0) = E_{q(x_1|x_0)}[log q(x_1|x_0) - log p_θ(x_0, x_1)], moment by moment."""
    m, var = mp.sqrt(alpha) * x0, 1 - alpha
    second = m**2 + var  # E[x_1²]
    e_log_q = -mp.log(2 * mp.pi * var) / 2 - mp.mpf(1) / 2
    e_log_prior = -mp.log(2 * mp.pi) / 2 - second / 2
    e_log_decoder = -mp.log(2 * mp.pi * s) / 2 - (x0**2 - 2 * theta * x0 * m
                                                  + theta**2 * second) / (2 * s)
    return e_log_q - e_log_prior - e_log_decoder


def toy_expected_nll(theta, s, v):
    """E_{x_0 ~ N(0, v)}[-log p_θ(x_0)] = ½ log(2π(θ² + s)) + v/(2(θ² + s))."""
    var = theta**2 + s
    return mp.log(2 * mp.pi * var) / 2 + v / (2 * var)


def toy_expected_bound(theta, s, alpha, v):
    """E_{x_0 ~ N(0, v)}[L(x_0)]: L(x_0) is quadratic in x_0, so replace x_0² by v."""
    at0 = toy_bound(mp.mpf(0), theta, s, alpha)
    curvature = toy_bound(mp.mpf(1), theta, s, alpha) - at0  # coefficient of x_0²
    return at0 + curvature * v
