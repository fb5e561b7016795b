"""Seed 000 (``000_deced74609840997.txt``): a DDPM summary and the definition of the KL.

Every formula (lines 6-8, 11-12, 19, 22, 24) and every claim in prose, with its line.
Not transcribed (not mathematical claims): the title and links (1-4), the references (14-15,
26-27).
"""

from __future__ import annotations

import mpmath as mp
import numpy as np
import sympy as sp

from ddpm_math.symbolic.claim_audit import Claim, Evidence, Kind, Ledger, Verdict
from verification.audit import oracles

F, C = Kind.FORMULA, Kind.CLAIM
H, SLIP = Verdict.HOLDS, Verdict.SLIP


def check_signal_destroyed() -> Evidence:
    """ᾱ_t decreases and ᾱ_T is small for DDPM's linear schedule (50 digits)."""
    alpha_bar = oracles.alpha_bars(oracles.linear_betas())
    decreasing = all(b < a for a, b in zip(alpha_bar, alpha_bar[1:], strict=False))
    return Evidence(decreasing and alpha_bar[-1] < mp.mpf("1e-4"),
                    detail=f"ᾱ_T = {mp.nstr(alpha_bar[-1], 4)} at T = 1000, so √ᾱ_T = "
                    f"{mp.nstr(mp.sqrt(alpha_bar[-1]), 3)} of x_0 is left in x_T")


def check_markov_factorisation() -> Evidence:
    """A joint built as start × kernels (T = 2, 3 states) sums to 1 and has the kernels as its
    conditionals; leaving out the start factor does not give a distribution."""
    rng = np.random.default_rng(0)
    start = oracles.random_distribution(3, 1)
    kernels = [rng.uniform(0.1, 1, (3, 3)) for _ in range(2)]
    kernels = [k / k.sum(axis=1, keepdims=True) for k in kernels]
    joint = oracles.markov_chain(kernels, start)
    pair = joint.sum(axis=2)
    conditional = pair / pair.sum(axis=1, keepdims=True)
    without_start = oracles.markov_chain(kernels, np.ones(3))
    ok = (np.isclose(joint.sum(), 1) and np.allclose(conditional, kernels[0])
          and not np.isclose(without_start.sum(), 1))
    return Evidence(bool(ok), detail="a 3-state chain with T = 2: the product sums to 1 and "
                    "its conditionals are the kernels")


def check_density_variable() -> Evidence:
    """N(x; √(1-β_t) x_{t-1}, β_t I) as written does not depend on x_t."""
    x, x_t, x_prev, beta = sp.symbols("x x_t x_prev beta", positive=True)
    written = sp.exp(-(x - sp.sqrt(1 - beta) * x_prev) ** 2 / (2 * beta))
    return Evidence(written.has(x_t), under_condition=written.subs(x, x_t).has(x_t),
                    counterexample="as written the right side is a function of x, "
                    "not of x_t")


def check_kl_order() -> Evidence:
    """D_KL(P‖Q) ≠ D_KL(Q‖P) at a random pair: the order in the notation matters."""
    p, q = oracles.random_distribution(4, 2), oracles.random_distribution(4, 3)
    forward, backward = oracles.kl_discrete(p, q), oracles.kl_discrete(q, p)
    return Evidence(not np.isclose(forward, backward),
                    detail=f"D_KL(P‖Q) = {forward:.4f}, D_KL(Q‖P) = {backward:.4f} for two "
                    "random 4-point distributions")


def check_kl_measures_difference() -> Evidence:
    """D_KL ≥ 0 at 50 random pairs, and 0 at P = Q."""
    values = [oracles.kl_discrete(oracles.random_distribution(5, 2 * k),
                                  oracles.random_distribution(5, 2 * k + 1)) for k in range(50)]
    p = oracles.random_distribution(5, 7)
    return Evidence(min(values) > 0 and abs(oracles.kl_discrete(p, p)) < 1e-15,
                    detail=f"min over 50 random pairs {min(values):.3g} > 0; 0 at P = Q")


def check_discrete_kl() -> Evidence:
    """-Σ P log(Q/P) equals Σ P log(P/Q) at random pairs; without the minus it is negative."""
    pairs = [(oracles.random_distribution(6, k), oracles.random_distribution(6, k + 50))
             for k in range(20)]
    written = [-np.sum(p * np.log(q / p)) for p, q in pairs]
    truth = [oracles.kl_discrete(p, q) for p, q in pairs]
    no_minus = [np.sum(p * np.log(q / p)) for p, q in pairs]
    return Evidence(bool(np.allclose(written, truth) and max(no_minus) < 0),
                    detail="equal to Σ P log(P/Q) at 20 random pairs")


def continuous_kl_by_quadrature(m1, v1, m2, v2):
    """-∫ p log(q/p) dx for p = N(m1, v1), q = N(m2, v2), by mpmath quadrature."""
    def integrand(x):
        log_p, log_q = oracles.log_normal(x, m1, v1), oracles.log_normal(x, m2, v2)
        return -mp.exp(log_p) * (log_q - log_p)
    return mp.quad(integrand, [-mp.inf, m1, mp.inf])


def check_continuous_kl() -> Evidence:
    """The note's integral for two Gaussians against ½(log(v2/v1) + (v1 + (m1-m2)²)/v2 - 1)."""
    m1, v1, m2, v2 = mp.mpf("0.3"), mp.mpf("0.5"), mp.mpf("-0.4"), mp.mpf("1.7")
    closed = (mp.log(v2 / v1) + (v1 + (m1 - m2) ** 2) / v2 - 1) / 2
    value = continuous_kl_by_quadrature(m1, v1, m2, v2)
    return Evidence(abs(value - closed) < mp.mpf("1e-30"),
                    detail=f"for N(0.3, 0.5) ‖ N(-0.4, 1.7): quadrature {mp.nstr(value, 10)} "
                    "= closed form")


LEDGER = Ledger("000", "000_deced74609840997.txt", [
    Claim("000", "5", C, "Transitions of this chain are learned to reverse a diffusion process, "
          "which is a Markov chain that gradually adds noise to the data in the opposite "
          "direction of sampling until signal is destroyed.", H,
          "The abstract of DDPM; the signal is destroyed only approximately.",
          quote="until signal is destroyed", basis="DDPM abstract; mpmath, 50 digits",
          check=check_signal_destroyed),
    Claim("000", "5", C, "When the diffusion consists of small amounts of Gaussian noise, it is "
          "sufficient to set the sampling chain transitions to conditional Gaussians too", H,
          "The hypothesis (small β_t) is stated; the reverse of a small Gaussian step is close "
          "to Gaussian.", quote="small amounts of Gaussian noise",
          basis="DDPM §2, citing Feller 1949 and Sohl-Dickstein et al. 2015; argument"),
    Claim("000", "6", F, "p(x_T) = N(x_T; 0, I)", H, "DDPM eq. (1)'s prior.",
          quote=r"p(x_{T}) = \mathcal{N}(x_{T};0,I)", basis="DDPM eq. (1)"),
    Claim("000", "6", C, "(Comment: The variable x_T follows normal distribution with mean 0 "
          "and variance I.)", H, "'variance I' is the covariance matrix I.",
          quote="follows normal distribution with mean $0$", basis="definition"),
    Claim("000", "7", F, "p_θ(x_{0:T}) := p(x_T) ∏_{t=1}^T p_θ(x_{t-1}|x_t)", H,
          "The reverse Markov chain, DDPM eq. (1).", quote=r"p_{\theta}(x_{0:T}) := p(x_{T})",
          basis="DDPM eq. (1); a 3-state chain", check=check_markov_factorisation),
    Claim("000", "8", F, "p_θ(x_{t-1}|x_t) := N(x_{t-1}; μ_θ(x_t, t), Σ_θ(x_t, t))", H,
          "DDPM eq. (1).", quote=r"\mu_{\theta}(x_{t}, t), \Sigma_{\theta}(x_{t}, t)",
          basis="DDPM eq. (1)"),
    Claim("000", "9", C, "Comment: On reverse process, x_{t-1} follows normal distribution with "
          "mean μ_θ and variance Σ_θ given x_t.", H, "Restates line 8.",
          quote="On reverse process", basis="DDPM eq. (1)"),
    Claim("000", "10", C, "the approximate posterior q(x_{1:T}|x_0), called the forward process "
          "or diffusion process, is fixed to a Markov chain that gradually adds Gaussian noise to "
          "the data according to a variance schedule β_1, …, β_T", H, "DDPM §2.",
          quote="is fixed to a Markov chain", basis="DDPM §2"),
    Claim("000", "11", F, "q(x_{1:T}|x_0) := ∏_{t=1}^T q(x_t|x_{t-1})", H, "DDPM eq. (2).",
          quote=r"q(x_{1:T} | x_{0}) := \prod", basis="DDPM eq. (2); a 3-state chain",
          check=check_markov_factorisation),
    Claim("000", "12", F, "q(x_t|x_{t-1}) := N(x; √(1-β_t) x_{t-1}, β_t I)", SLIP,
          "The density's variable is written x; it must be x_t (DDPM eq. 2), otherwise the "
          "right side is not a density of x_t.", quote=r"\mathcal{N}(x; \sqrt{1 - \beta_{t}}",
          correction="q(x_t|x_{t-1}) := N(x_t; √(1-β_t) x_{t-1}, β_t I)",
          basis="DDPM eq. (2)", check=check_density_variable),
    Claim("000", "13", C, "Comment: On diffusion process, x_t follows normal distribution with "
          "mean √(1-β_t) x_{t-1} and variance β_t I given x_{t-1}.", H,
          "This comment has the right variable, x_t.", quote="On diffusion process",
          basis="DDPM eq. (2)"),
    Claim("000", "18", C, "Also called 'relative entropy' and 'I-divergence'.", H,
          "Standard names (Kullback 1959; Csiszár 1975).", quote="I-divergence",
          basis="literature"),
    Claim("000", "19", F, "D_KL(P || Q)", H, "Notation only; the order of P and Q matters.",
          quote="D_{KL}(P || Q)", basis="numpy, random distributions", check=check_kl_order),
    Claim("000", "20", C, "A measure of how one probability distribution P is different from a "
          "second, reference probability distribution Q.", H,
          "A measure of difference, not a metric: it is ≥ 0, 0 at P = Q, and not symmetric.",
          quote="reference probability distribution", basis="numpy, 50 random pairs",
          check=check_kl_measures_difference),
    Claim("000", "22", F, "D_KL(P || Q) = - Σ_{x∈X} P(x) log(Q(x)/P(x))", H,
          "The usual Σ P log(P/Q) with the ratio inverted and a minus sign.",
          quote=r"- \sum_{x \in \mathcal{X}}P(x)\log", note_words="For discrete probability "
          "distributions P and Q defined on the same sample space, X, the relative entropy "
          "from Q to P is defined to be", basis="numpy, 20 random pairs",
          check=check_discrete_kl),
    Claim("000", "24", F, "D_KL(P || Q) = - ∫_{-∞}^{∞} p(x) log(q(x)/p(x)) dx", H,
          "The continuous analogue.", quote=r"- \int_{-\infty}^{\infty} p(x)",
          note_words="For distributions P and Q of a continuous random variable",
          basis="mpmath quadrature vs the Gaussian closed form", check=check_continuous_kl),
    Claim("000", "25", C, "where p and q denote the probability densities of P and Q.", H,
          "Definition.", quote="denote the probability densities", basis="definition"),
])
