"""Seed 002 (``002_798373e4dd351a69.txt``): every formula and claim outside the equality chains.

The chains (lines 41-86, 108-114, 126, 139-143) are in
:mod:`verification.symbolic.seed_chains`. Not transcribed (not claims): title, contents and
citation (1-15), headings, the repository link (157-159), the question on line 186.
"""

from __future__ import annotations

import mpmath as mp
import numpy as np
import sympy as sp
from scipy import stats

from ddpm_math.symbolic.claim_audit import Claim, Evidence, Kind, Ledger, LeftOut, Verdict
from verification.audit import oracles
from verification.audit.seed000 import (
    check_continuous_kl,
    check_discrete_kl,
    check_kl_measures_difference,
    check_markov_factorisation,
)
from verification.audit.seed001 import (
    check_pure_noise,
    check_sign_of_the_bound,
)
from verification.audit.seed003_model import check_bayes_table, check_forward_marginal

F, C = Kind.FORMULA, Kind.CLAIM
H, HI, E, SLIP = Verdict.HOLDS, Verdict.HOLDS_IF, Verdict.ERROR, Verdict.SLIP
#: A point of the one-step Gaussian model (x_0, θ, s, α_1) and an x_1 in the tail of q.
POINT = {"x0": mp.mpf(1), "theta": mp.mpf("0.5"), "s": mp.mpf("0.5"), "alpha": mp.mpf("0.5")}
TAIL_X1 = mp.mpf(-3)


def check_scaled_noise() -> Evidence:
    """c ε with ε ~ N(0, 1) has variance c² (here c² = α_t(1-α_{t-1}))."""
    a, b, eps = sp.Symbol("a", positive=True), sp.Symbol("b", positive=True), sp.Symbol("e")
    c = sp.sqrt(a * (1 - b))
    variance = sp.expand((c * eps) ** 2).coeff(eps, 2)  # E[ε²] = 1
    return Evidence(sp.simplify(variance - a * (1 - b)) == 0, detail="Var(c ε) = c²")


def check_sum_of_gaussians() -> Evidence:
    """Y = X (dependent): Var(X + Y) = 4σ² ≠ 2σ²; for independent X, Y the variances add
    (Var(X+Y) = Var X + Var Y + 2 Cov, Cov = 0)."""
    sigma2 = mp.mpf("0.3")
    dependent = 4 * sigma2
    return Evidence(dependent == 2 * sigma2, under_condition=True,
                    counterexample=f"Y = X ~ N(0, σ_X²), σ_X² = σ_Y² = 0.3: Z = 2X has variance "
                    f"{mp.nstr(dependent, 3)}, not σ_X² + σ_Y² = 0.6; Y = -X gives Z = 0")


def _toy(x1=None):
    x0, theta, s, alpha = POINT["x0"], POINT["theta"], POINT["s"], POINT["alpha"]
    nll = oracles.toy_nll(x0, theta, s)
    if x1 is None:
        return nll, oracles.toy_bound(x0, theta, s, alpha)
    return nll, oracles.toy_log_ratio(x0, x1, theta, s, alpha)


def check_kl_bound() -> Evidence:
    """-log p_θ(x_0) + KL(q(x_1|x_0) ‖ p_θ(x_1|x_0)) = L(x_0) ≥ -log p_θ(x_0) at 50 random
    (x_0, θ, s, α)."""
    rng = np.random.default_rng(3)
    gaps = []
    for _ in range(50):
        x0, theta = (mp.mpf(float(u)) for u in rng.uniform(-2, 2, 2))
        s, alpha = (mp.mpf(float(u)) for u in rng.uniform(0.05, 0.95, 2))
        gaps.append(oracles.toy_bound(x0, theta, s, alpha) - oracles.toy_nll(x0, theta, s))
    return Evidence(min(gaps) >= 0, detail=f"one-step Gaussian model, min gap over 50 random "
                    f"draws {mp.nstr(min(gaps), 3)} ≥ 0")


def check_line_102() -> Evidence:
    """log(q/p_θ(x_0)) as written vs log(q/p_θ(x_{0:T})) + log p_θ(x_0) at a point."""
    x0, theta, s, alpha, x1 = (POINT["x0"], POINT["theta"], POINT["s"], POINT["alpha"],
                               mp.mpf("0.2"))
    log_q = oracles.log_normal(x1, mp.sqrt(alpha) * x0, 1 - alpha)
    log_p0 = -oracles.toy_nll(x0, theta, s)
    log_joint = oracles.log_normal(x1, 0, 1) + oracles.log_normal(x0, theta * x1, s)
    left, right = log_q - log_p0, log_q - log_joint + log_p0
    return Evidence(abs(left - right) < mp.mpf("1e-20"),
                    counterexample=f"T = 1, x_0 = 1, x_1 = 0.2, θ = s = α_1 = ½: left "
                    f"{mp.nstr(left, 6)} ≠ right {mp.nstr(right, 6)}")


def check_pointwise_bound() -> Evidence:
    """-log p_θ(x_0) ≤ log q(x_1|x_0)/p_θ(x_0,x_1) fails at x_1 = -3, holds under E_q."""
    nll, ratio = _toy(TAIL_X1)
    _, bound = _toy()
    return Evidence(nll <= ratio, under_condition=bound >= nll,
                    counterexample=f"T = 1, x_0 = 1, θ = s = α_1 = ½, x_1 = -3: -log p_θ(x_0) = "
                    f"{mp.nstr(nll, 5)} > log(q(x_1|x_0)/p_θ(x_0,x_1)) = {mp.nstr(ratio, 5)}; "
                    f"under E_q the right side is {mp.nstr(bound, 5)} ≥ {mp.nstr(nll, 5)}")


def check_L_T_needs_fixed_prior() -> Evidence:
    """L_T = KL(N(√ᾱ_T x_0, 1-ᾱ_T) ‖ N(m, 1)) depends on a prior mean m: q having no parameters
    is not enough; with p(x_T) = N(0, I) fixed it contains no θ."""
    abar, x0, m = sp.Symbol("abar", positive=True), sp.Symbol("x0", real=True), sp.Symbol("m")
    kl = (1 - abar + (sp.sqrt(abar) * x0 - m) ** 2 - 1 - sp.log(1 - abar)) / 2
    return Evidence(sp.diff(kl, m) == 0, under_condition=not kl.subs(m, 0).has(m),
                    counterexample="with a learnable prior mean m, ∂L_T/∂m = m - √ᾱ_T x_0 ≠ 0 "
                    "although q has no parameters")


def check_posterior() -> Evidence:
    """q(x_t|x_{t-1}) q(x_{t-1}|x_0)/q(x_t|x_0) = N(x_{t-1}; μ̃_t, β̃_t) at one point (mpmath),
    with μ̃_t and β̃_t as the note writes them; swapping the coefficients fails."""
    a, abp, x0, xt, xp = (mp.mpf(v) for v in ("0.9", "0.6", "0.5", "-0.3", "0.1"))
    abar, beta = a * abp, 1 - a
    bayes = (oracles.log_normal(xt, mp.sqrt(a) * xp, beta)
             + oracles.log_normal(xp, mp.sqrt(abp) * x0, 1 - abp)
             - oracles.log_normal(xt, mp.sqrt(abar) * x0, 1 - abar))
    c0, ct = mp.sqrt(abp) * beta / (1 - abar), mp.sqrt(a) * (1 - abp) / (1 - abar)
    beta_tilde = (1 - abp) / (1 - abar) * beta
    written = oracles.log_normal(xp, c0 * x0 + ct * xt, beta_tilde)
    swapped = oracles.log_normal(xp, ct * x0 + c0 * xt, beta_tilde)
    return Evidence(abs(bayes - written) < mp.mpf("1e-40") and abs(bayes - swapped) > 1e-3,
                    detail="Bayes' rule at one point, 50 digits")


def check_x0_of_eps() -> Evidence:
    """Solving x_t = √ᾱ_t x_0 + √(1-ᾱ_t) ε for x_0 (sympy)."""
    x0, xt, eps = sp.symbols("x0 xt eps", real=True)
    abar = sp.Symbol("abar", positive=True)
    solved = sp.solve(sp.Eq(xt, sp.sqrt(abar) * x0 + sp.sqrt(1 - abar) * eps), x0)[0]
    written = (xt - sp.sqrt(1 - abar) * eps) / sp.sqrt(abar)
    return Evidence(sp.simplify(solved - written) == 0, detail="sympy solve")


def check_mu_tilde_eps_form() -> Evidence:
    """μ̃_t(x_t, x_0(x_t, ε)) = (x_t - β_t/√(1-ᾱ_t) ε)/√α_t (sympy); without √ it fails."""
    a, abp = sp.symbols("a abp", positive=True)
    xt, eps = sp.symbols("xt eps", real=True)
    abar, beta = a * abp, 1 - a
    x0 = (xt - sp.sqrt(1 - abar) * eps) / sp.sqrt(abar)
    mu = sp.sqrt(abp) * beta / (1 - abar) * x0 + sp.sqrt(a) * (1 - abp) / (1 - abar) * xt
    written = (xt - beta / sp.sqrt(1 - abar) * eps) / sp.sqrt(a)
    wrong = (xt - beta / (1 - abar) * eps) / sp.sqrt(a)
    return Evidence(sp.simplify(mu - written) == 0 and sp.simplify(mu - wrong) != 0,
                    detail="eq. (7) with eq. (4) solved for x_0 (sympy)")


def check_weight_is_not_constant() -> Evidence:
    """The dropped weight β_t/(2α_t(1-ᾱ_t)) (σ_t² = β_t) varies over t (linear schedule)."""
    betas = oracles.linear_betas()
    abars = oracles.alpha_bars(betas)
    w = [b / (2 * (1 - b) * (1 - ab)) for b, ab in zip(betas, abars, strict=True)]
    return Evidence(w[0] / w[-1] > 10, detail=f"weight at t = 1: {mp.nstr(w[0], 4)}, at t = T: "
                    f"{mp.nstr(w[-1], 4)}")


def check_L0_is_kept() -> Evidence:
    """-log N(x_0; μ_θ(x_1, 1), σ_1²) with x_1 = √α_1 x_0 + √(1-α_1) ε equals
    β_1/(2σ_1² α_1)(ε - ε_θ)² + const: L_0 is the t = 1 term of eq. (12), kept (reweighted)
    in L_simple, not thrown away."""
    a, sigma2 = sp.symbols("a sigma2", positive=True)
    x0, eps, eps_theta = sp.symbols("x0 eps eps_theta", real=True)
    x1 = sp.sqrt(a) * x0 + sp.sqrt(1 - a) * eps
    mu = (x1 - (1 - a) / sp.sqrt(1 - a) * eps_theta) / sp.sqrt(a)
    quadratic = (x0 - mu) ** 2 / (2 * sigma2)
    weight = (1 - a) / (2 * sigma2 * a)
    matches = sp.simplify(quadratic - weight * (eps - eps_theta) ** 2) == 0
    return Evidence(not matches, counterexample="L_0 = (1-α_1)/(2σ_1² α_1) ‖ε - ε_θ(x_1, 1)‖² "
                    "+ const (sympy): the t = 1 term of L_simple up to its weight")


def decoder_mass(mu: float, sigma: float, top_edge: float = np.inf) -> float:
    """Σ over the 256 values x = k/127.5 - 1 of ∫_{δ-(x)}^{δ+(x)} N(u; μ, σ²) du (eq. 13)."""
    values = np.arange(256) / 127.5 - 1
    upper = np.where(values >= 1, top_edge, values + 1 / 255)
    lower = np.where(values <= -1, -np.inf, values - 1 / 255)
    upper[-1] = top_edge
    return float(np.sum(stats.norm.cdf(upper, mu, sigma) - stats.norm.cdf(lower, mu, sigma)))


def check_decoder() -> Evidence:
    """The bins of eq. (13) tile the line: total mass 1; with a finite top edge it is < 1."""
    total = decoder_mass(0.95, 0.1)
    leaky = decoder_mass(0.95, 0.1, top_edge=1 + 1 / 255)
    return Evidence(abs(total - 1) < 1e-12 and leaky < 1 - 1e-3,
                    detail=f"mass 1 at μ = 0.95, σ = 0.1 ({leaky:.4f} if δ+(1) = 1 + 1/255)")


def check_elbo_two_parts() -> Evidence:
    """ELBO = E_Q[log p(x|z)] - KL(Q ‖ p(z)) ≤ log p(x) on random tables."""
    prior, likelihood = oracles.random_distribution(4, 1), oracles.random_joint((4, 3), 2)
    likelihood = likelihood / likelihood.sum(axis=1, keepdims=True)
    q = oracles.random_distribution(4, 3)
    x = 1
    elbo = float(np.sum(q * (np.log(likelihood[:, x] * prior) - np.log(q))))
    parts = float(q @ np.log(likelihood[:, x])) - oracles.kl_discrete(q, prior)
    evidence = float(np.log(prior @ likelihood[:, x]))
    return Evidence(np.isclose(elbo, parts) and elbo <= evidence,
                    detail=f"ELBO {elbo:.4f} = both parts, ≤ log p(x) = {evidence:.4f}")


def check_log_preserves_argmax() -> Evidence:
    """argmax of a Bernoulli likelihood over a θ-grid equals the argmax of its log, not of a
    non-monotone transform."""
    theta = np.linspace(0.01, 0.99, 99)
    likelihood = theta**7 * (1 - theta) ** 3
    same = np.argmax(likelihood) == np.argmax(np.log(likelihood))
    other = np.argmax(-(likelihood - likelihood.max() / 2) ** 2) != np.argmax(likelihood)
    return Evidence(bool(same and other), detail=f"argmax θ = {theta[np.argmax(likelihood)]:.2f}")


def check_conditional_expectation() -> Evidence:
    """Σ_y y P(Y=y|X=x) on a random table equals E[Y 1{X=x}]/P(X=x)."""
    joint = oracles.random_joint((3, 4), 13)
    y = np.arange(4.0)
    written = (joint / joint.sum(axis=1, keepdims=True)) @ y
    return Evidence(bool(np.allclose(written, (joint @ y) / joint.sum(axis=1))),
                    detail="a random 3×4 table")


def check_posterior_is_not_marginal() -> Evidence:
    """q(x_{t-1}|x_t,x_0) (variance β̃_t) is not q(x_{t-1}|x_0) (variance 1-ᾱ_{t-1})."""
    betas = oracles.linear_betas()
    abars = oracles.alpha_bars(betas)
    t = 500
    beta_tilde = (1 - abars[t - 2]) / (1 - abars[t - 1]) * betas[t - 1]
    return Evidence(abs(beta_tilde - (1 - abars[t - 2])) < 1e-12, under_condition=True,
                    counterexample=f"t = 500 (linear schedule): β̃_t = {mp.nstr(beta_tilde, 4)}, "
                    f"1 - ᾱ_(t-1) = {mp.nstr(1 - abars[t - 2], 4)}")


def _c(line, kind, written, verdict, remark, quote, **kw) -> Claim:
    return Claim("002", line, kind, written, verdict, remark, quote=quote, **kw)


TRUNCATED = "the display breaks off here; the row before it already is the result"
CLAIMS = [
    _c("19", C, "A model trained using variational inference using a parameterized Markov chain "
       "to generate high quality samples after a finite time.", H, "DDPM §1.",
       "after a finite time", basis="DDPM §1"),
    _c("20", C, "This process gradually adds noise to data samples until the data is a normal "
       "distribution of noise.", HI, "Only approximately.", "until the data is a normal",
       condition="'is a normal distribution' means approximately: ᾱ_T > 0",
       basis="mpmath", check=check_pure_noise),
    _c("22", F, "q(x_t|x_0) = N(x_t; √ᾱ_t x_0, (1-ᾱ_t) I)", H, "DDPM eq. (4).",
       r"\sqrt{\bar{\alpha}_{t}}\mathbf{x}_{0}, (1 - \bar{\alpha}_{t})\mathbf{I}",
       basis="mpmath quadrature", check=check_forward_marginal),
    _c("24", C, "Reverse Process: This process gradually removes noise to obtain a new data "
       "sample.", H, "DDPM §2.", "gradually removes noise", basis="DDPM §2"),
    _c("26", F, "p_θ(x_{0:T}) := p(x_T) ∏ p_θ(x_{t-1}|x_t), p_θ(x_{t-1}|x_t) := "
       "N(x_{t-1}; μ_θ(x_t,t), Σ_θ(x_t,t))", H, "DDPM eq. (1).",
       r"p_{\theta}\left(\mathbf{x}_{0:T}\right) := p\left(\mathbf{x}_{T}\right)",
       basis="DDPM eq. (1); a 3-state chain", check=check_markov_factorisation),
    _c("34", C, "The forward process gradually adds noise … over t time steps with a variance "
       "schedule from β_1, …, β_T. Let x_0 be the original image and let x_t be the final "
       "image with isotropic Gaussian noise.", SLIP, "t for T twice: T steps, and x_T is the "
       "final image; x_t is any intermediate one.", "over t time steps",
       correction="over T time steps …; let x_T be the final image", basis="DDPM §2"),
    _c("36", F, "q(x_{1:T}|x_0) := ∏ q(x_t|x_{t-1}), q(x_t|x_{t-1}) := N(x_t; √(1-β_t) x_{t-1}, "
       "β_t I)   (0)", H, "DDPM eq. (2).",
       r"q\left(\mathbf{x}_{1:T} \mid \mathbf{x}_{0}\right) := \prod",
       basis="DDPM eq. (2); a 3-state chain", check=check_markov_factorisation),
    _c("39", F, "Let α_t = 1 - β_t. Let ᾱ_t = ∏_{i=1}^t α_i", H, "DDPM §3 / eq. (4).",
       r"Let $\alpha_t = 1 - \beta_t$", basis="definition"),
    _c("63", F, "X = √(α_t(1-α_{t-1})) ε_{t-2}", H, "A name for the first noise term.",
       r"X = \sqrt{\alpha_t (1 - \alpha_{t-1})} \varepsilon_{t-2}", basis="definition"),
    _c("65", F, "Y = √(1-α_t) ε_{t-1}", H, "A name for the second noise term.",
       r"Let $Y = \sqrt{1 - \alpha_t} \varepsilon_{t-1}$", basis="definition"),
    _c("69", F, "0 + √(α_t(1-α_{t-1})) ε_{t-2} ⋯→ X ~ N(0, α_t(1-α_{t-1}) I)", H,
       "Var(c ε) = c².", r"X \sim \mathcal{N}(0, \alpha_t(1 - \alpha_{t-1})I)",
       note_words="Using reparameterization trick", basis="sympy", check=check_scaled_noise),
    _c("70", F, "0 + √(1-α_t) ε_{t-1} ⋯→ Y ~ N(0, (1-α_t) I)", H, "Var(c ε) = c².",
       r"Y \sim \mathcal{N}(0, (1 - \alpha_t)I)", basis="sympy", check=check_scaled_noise),
    _c("76", F, "If X ~ N(μ_X, σ_X²), Y ~ N(μ_Y, σ_Y²), Z = X + Y, then Z ~ N(μ_X + μ_Y, "
       "σ_X² + σ_Y²)", HI, "The rule needs independence; here ε_{t-2} and ε_{t-1} are "
       "independent, so its use on line 78 is fine.", r"Then $Z \sim \mathcal{N}(\mu_X + \mu_Y",
       condition="X and Y are independent (or jointly Gaussian and uncorrelated)",
       basis="exact variances", check=check_sum_of_gaussians),
    _c("90", C, "The loss function is the -log(p_θ(x_0)). However, this is intractable because "
       "it depends on all other time steps before x_0 starting at x_T. This would mean keeping "
       "track of t-1random variables, which is not possible in practice.", SLIP,
       "p_θ(x_0) = ∫ p_θ(x_{0:T}) dx_{1:T} integrates out T latent variables (not t-1), each "
       "of the data's dimension: the integral, not the bookkeeping, is intractable.",
       "keeping track of t-1random variables",
       correction="intractable because p_θ(x_0) = ∫ p_θ(x_{0:T}) dx_{1:T} is a T·D-dimensional "
       "integral", basis="DDPM §2"),
    _c("90", C, "The solution is to compute the variational lower bound for this objective.",
       SLIP, "For the objective -log p_θ(x_0) the bound is an upper bound (the negative of the "
       "lower bound on log p_θ(x_0)).", "compute the variational lower bound for this objective",
       correction="minimise L ≥ -log p_θ(x_0), i.e. maximise the lower bound -L on "
       "log p_θ(x_0)", basis="one-step Gaussian model", check=check_sign_of_the_bound),
    _c("90", C, "The overall setup of diffusion models is close to the setup of variational "
       "autoencoders.", H, "A VAE with a fixed encoder q and T latent layers.",
       "close to the setup of variational autoencoders", basis="DDPM §2"),
    _c("92", F, "-log(p_θ(x_0)) ≤ -log(p_θ(x_0)) + D_KL(q(x_{1:T}|x_0) ‖ p_θ(x_{1:T}|x_0))", H,
       "Because the KL is ≥ 0.", r"\frac{D_{KL}\left(q\left(x_{1:T} \mid x_{0}\right)",
       basis="one-step Gaussian model", check=check_kl_bound),
    _c("94", F, "log(q(x_{1:T}|x_0)/p_θ(x_{1:T}|x_0))", H, "The KL's integrand; from here on "
       "the note drops the E_q that the KL carries (see lines 104, 106).",
       r"\log\left(\frac{q\left(x_{1:T} \mid x_{0}\right)}{p_{\theta}\left(x_{1:T} \mid "
       r"x_{0}\right)}\right)", basis="definition"),
    _c("96", F, "p_θ(x_{1:T}|x_0) = p_θ(x_0|x_{1:T}) p_θ(x_{1:T}) / p_θ(x_0)", H, "Bayes' rule.",
       r"\quad \text{Bayes' rule}", basis="numpy, a random table", check=check_bayes_table),
    _c("98", F, "= p_θ(x_0, x_{1:T}) / p_θ(x_0)", H, "Joint probability.",
       r"\text{Joint probability}", basis="numpy, a random table", check=check_bayes_table),
    _c("100", F, "= p_θ(x_{0:T}) / p_θ(x_0)", H, "Notation x_{0:T} = (x_0, x_{1:T}).",
       r"\text{Combine probability}", basis="definition"),
    _c("102", F, "log(q(x_{1:T}|x_0)/p_θ(x_0)) → log(q(x_{1:T}|x_0)/p_θ(x_{0:T})) + "
       "log(p_θ(x_0))", E, "The left side's denominator should be p_θ(x_{1:T}|x_0) (lines "
       "94-100); the right side is then correct.",
       r"\log\left(\frac{q\left(x_{1:T} \mid x_{0}\right)}{p_{\theta}\left(x_{0}\right)}\right)",
       correction="log(q(x_{1:T}|x_0)/p_θ(x_{1:T}|x_0)) = log(q(x_{1:T}|x_0)/p_θ(x_{0:T})) + "
       "log p_θ(x_0)", basis="one-step Gaussian model", check=check_line_102),
    _c("104", F, "-log(p_θ(x_0)) ≤ -log(p_θ(x_0)) + log(q(x_{1:T}|x_0)/p_θ(x_{0:T})) + "
       "log(p_θ(x_0))", HI, "The KL was replaced by its integrand: pointwise in x_{1:T} "
       "it is false.", r"\leq -\log\left(p_{\theta}\left(x_{0}\right)\right) + \log",
       condition="the log-ratio is under E_{q(x_{1:T}|x_0)}", basis="one-step Gaussian model",
       check=check_pointwise_bound),
    _c("106", F, "-log(p_θ(x_0)) ≤ log(q(x_{1:T}|x_0)/p_θ(x_{0:T}))", HI,
       "Stated pointwise; it holds only in expectation over q(x_{1:T}|x_0) (line 110 adds it).",
       r"\leq \log\left(\frac{q\left(x_{1:T} \mid x_{0}\right)}{p_{\theta}\left(x_{0:T}",
       condition="the right side is under E_{q(x_{1:T}|x_0)}", basis="one-step Gaussian model",
       check=check_pointwise_bound),
    _c("114", F, "… &=  (the last row of the display is empty)", SLIP, TRUNCATED,
       r"\quad \text{KL divergence notation} \\ &=$$", correction="end at DDPM eq. (5)",
       basis="the source"),
    _c("116", C, "L_T - Constant Term - Since q does not have any learnable parameters, this "
       "term will be constant during training. This term can be ignored.", HI,
       "L_T = D_KL(q(x_T|x_0) ‖ p(x_T)) also involves p(x_T); it is constant because p(x_T) = "
       "N(0, I) is fixed too. 'Ignored' for training only: it stays in the bound (the NLL).",
       "Since q does not have any learnable parameters",
       condition="p(x_T) has no learnable parameters either (and β_t are fixed, as in DDPM)",
       basis="sympy", check=check_L_T_needs_fixed_prior),
    _c("118", C, "The reverse process starts with an isotropic Gaussian image, x_t, and denoises "
       "the image to make a sample that resembles an image in the training data, x_0.", SLIP,
       "x_t for x_T.", "isotropic Gaussian image, x_t",
       correction="starts with x_T ~ N(0, I)", basis="DDPM eq. (1)"),
    _c("118", C, "This term compares the actual noise (q) and predicted noise (p).", HI,
       "L_{t-1} compares two distributions of x_{t-1}; it becomes a weighted noise error "
       "(+ a constant) only with μ_θ in the ε form (eq. 11) — see the chain of lines 139-143.",
       "compares the actual noise (q) and predicted noise (p)",
       condition="μ_θ is ε-parameterised (eq. 11), and up to the constant C of eq. (8)",
       basis="DDPM eqs. (8), (12)"),
    _c("120", F, "D_KL(q(x_{t-1}|x_t,x_0) ‖ p_θ(x_{t-1}|x_t))", H, "L_{t-1} of eq. (5).",
       r"D_{\mathrm{KL}}\left(q\left(\mathbf{x}_{t-1}\mid\mathbf{x}_{t},\mathbf{x}_{0}\right)",
       basis="DDPM eq. (5)"),
    _c("122", F, "q(x_{t-1}|x_t,x_0) = N(x_{t-1}; μ̃_t(x_t,x_0), β̃_t I)", H, "DDPM eq. (6).",
       r"\tilde{\beta}_{t}I\right) \quad \text{Actual Mean}", basis="mpmath, Bayes' rule",
       check=check_posterior),
    _c("124", F, "μ̃_t(x_t,x_0) := √ᾱ_{t-1}β_t/(1-ᾱ_t) x_0 + √α_t(1-ᾱ_{t-1})/(1-ᾱ_t) x_t", H,
       "DDPM eq. (7).", r"\tilde{\mu}_{t}\left(x_{t}, x_{0}\right) :=",
       basis="mpmath, Bayes' rule", check=check_posterior),
    _c("124", F, "β̃_t := (1-ᾱ_{t-1})/(1-ᾱ_t) β_t", H, "DDPM eq. (7).",
       r"\tilde{\beta}_{t} := \frac{1 - \bar{\alpha}_{t-1}}{1 - \bar{\alpha}_{t}}\beta_{t}",
       basis="mpmath, Bayes' rule", check=check_posterior),
    _c("124", F, "x_0 = 1/√ᾱ_t (x_t - √(1-ᾱ_t) ε_t)", H, "Eq. (4) solved for x_0.",
       r"x_{0} = \frac{1}{\sqrt{\bar{\alpha}_{t}}}", basis="sympy", check=check_x0_of_eps),
    _c("126", F, "… &= \\frac{1  (the last row breaks off)", SLIP, TRUNCATED,
       r"\quad \text{Cancel terms} \\ &= \frac{1$$", correction="end at eq. (11)",
       basis="the source"),
    _c("128", F, "p_θ(x_{t-1}|x_t) := N(x_{t-1}; μ_θ(x_t,t), Σ_θ(x_t,t))", H, "DDPM eq. (1).",
       r"\Sigma_{\theta}(x_t, t))$$", basis="DDPM eq. (1)"),
    _c("129", F, "p_θ(x_{t-1}|x_t) := N(x_{t-1}; μ_θ(x_t,t), βI)   Beta is fixed", SLIP,
       "β without its index: DDPM sets Σ_θ = σ_t² I with σ_t² = β_t (or β̃_t), one per step.",
       r"\beta I)$ Beta is fixed", correction="N(x_{t-1}; μ_θ(x_t,t), σ_t² I), σ_t² = β_t "
       "or β̃_t", basis="DDPM §3.2"),
    _c("131", C, "Initially, the neural network approximated the mean.", H,
       "DDPM §3.2 first parameterises μ_θ to predict μ̃_t (its Table 2 baseline).",
       "Initially, the neural network approximated the mean", basis="DDPM §3.2"),
    _c("133", F, "μ̃_t(x_t) = 1/√α_t (x_t - (1-α_t)/√(1-ᾱ_t) ε_t)", H, "DDPM eq. (10).",
       r"\tilde{\boldsymbol{\mu}}_{t}\left(x_{t}\right) = \frac{1}{\sqrt{\alpha_{t}}}",
       basis="sympy", check=check_mu_tilde_eps_form),
    _c("135", F, "μ_θ(x_t,t) = 1/√α_t (x_t - (1-α_t)/√(1-ᾱ_t) ε_θ(x_t,t))", H, "DDPM eq. (11).",
       r"\boldsymbol{\mu}_{\theta}\left(x_{t}, t\right) = \frac{1}{\sqrt{\alpha_{t}}}",
       basis="DDPM eq. (11)"),
    _c("145", F, "L_simple(θ) := E_{t,x_0,ε}[‖ε - ε_θ(√ᾱ_t x_0 + √(1-ᾱ_t) ε, t)‖²]", H,
       "DDPM eq. (14).", r"L_{\text{simple}}\left(\theta\right) :=", basis="DDPM eq. (14)"),
    _c("146", C, "Disregard weighted term", H, "L_simple drops eq. (12)'s weight "
       "β_t²/(2σ_t²α_t(1-ᾱ_t)), which is far from constant in t.", "Disregard weighted term",
       basis="mpmath, linear schedule", check=check_weight_is_not_constant),
    _c("148", C, "Authors use simple MSE without the weighted term because the quality of "
       "samples is better. It is unnecessary to use the weighted equation. Standard L2 loss "
       "with predicted noise and actual noise works better.", HI,
       "DDPM Table 1: L_simple gives FID 3.17 against 13.51 for the true bound, but NLL "
       "≤ 3.75 against ≤ 3.70 bits/dim: for likelihood the weighted bound is better.",
       "It is unnecessary to use the weighted equation",
       condition="'better' means sample quality (FID), not likelihood", basis="DDPM Table 1"),
    _c("150", C, "L_0 - Reconstruction Term - This term is thrown away by the authors.", E,
       "L_0 is kept: the t = 1 term of L_simple is L_0 with the decoder's integral "
       "approximated (DDPM §3.4); the term that is dropped is L_T (constant).",
       "This term is thrown away by the authors",
       correction="L_T is dropped (constant); L_0 is kept, approximated by the t = 1 term of "
       "L_simple", basis="DDPM §3.4; sympy", check=check_L0_is_kept),
    _c("150", C, "This term can be approximated by the same neural network in the previous "
       "term.", H, "The same ε_θ at t = 1.", "approximated by the same neural network",
       basis="DDPM §3.4"),
    _c("150", C, "Ignoring this term makes sampling better.", E,
       "Not in the paper, and L_0 is not ignored; what improved samples was the reweighting "
       "of L_simple (DDPM §3.4, Table 2).", "Ignoring this term makes sampling better",
       correction="dropping the weights of eq. (12) (L_simple) improves sample quality",
       basis="DDPM §3.4, Table 2"),
    _c("152", F, "p_θ(x_0|x_1) = ∏_{i=1}^D ∫_{δ-(x_0^i)}^{δ+(x_0^i)} N(x; μ_θ^i(x_1,1), σ_1²) dx",
       H, "DDPM eq. (13).", r"\prod_{i=1}^{D} \int_{\delta_{-}(x_{0}^{i})}",
       basis="scipy, 256 bins", check=check_decoder),
    _c("154", F, "δ+(x) = ∞ if x = 1, x + 1/255 if x < 1; δ-(x) = -∞ if x = -1, x - 1/255 if "
       "x > -1   (13)", H, "DDPM eq. (13); the open outer bins make the mass 1.",
       r"\delta_{+}(x) = \begin{cases} \infty", basis="scipy, 256 bins", check=check_decoder),
    _c("163", C, "Variational Inference - the method/approach to approximate complex probability "
       "distribution P with a simpler one Q … Usually done by minimizing KL divergence between "
       "Q and P.", H, "Usually KL(Q ‖ P).", "approximate complex probability distribution",
       basis="definition"),
    _c("165", C, "Evidence Lower Bound (ELBO) - objective function … used in variational "
       "inference. It represents a lower bound on the log-likelihood of the observed data.", H,
       "Right sign (compare seed 001 line 84).", "lower bound on the log-likelihood",
       basis="numpy, random tables", check=check_elbo_two_parts),
    _c("169", C, "Two part objective: Maximize expected log-likelihood of data under the "
       "approximate distribution Q; Minimize KL divergence between Q and prior distribution "
       "over the latent variables", H, "ELBO = E_Q[log p(x|z)] - KL(Q ‖ p(z)).",
       "Maximize expected log-likelihood", basis="numpy, random tables",
       check=check_elbo_two_parts),
    _c("172", C, "Kullback-Leibler (KL) divergence - known as relative entropy - measure of how "
       "one probability distribution diverges from another one.", H, "Definition.",
       "known as relative entropy", basis="definition"),
    _c("176", F, "D_KL(P‖Q) = Σ_x P(x) log(P(x)/Q(x))", H, "Definition.",
       r"D_{KL}(P||Q) = \sum_{x} P(x)", basis="numpy", check=check_discrete_kl),
    _c("180", F, "D_KL(P‖Q) = ∫_{-∞}^{∞} p(x) log(p(x)/q(x)) dx", H, "Definition.",
       r"D_{KL}(P||Q) = \int_{-\infty}^{\infty}", basis="mpmath quadrature",
       check=check_continuous_kl),
    _c("182", C, "The divergence is always non-negative. If it is zero, then P and Q are the "
       "same distribution.", H, "Gibbs' inequality (equality iff P = Q, a.e.).",
       "always non-negative", basis="numpy", check=check_kl_measures_difference),
    _c("188", C, "the likelihood of a set of parameters θ given observations X is the "
       "probability of X given θ, P(X|θ) … L(θ|X) is the joint probability/density of the "
       "observed data as a function of θ", H, "Definition.", "denoted $P(X|\\theta)$",
       basis="definition"),
    _c("190", C, "Log-Likelihood … Turns products into sums, making it easier to differentiate "
       "and more stable", H, "log ∏ = Σ log for independent observations.",
       "Turns products into sums", basis="definition"),
    _c("192", C, "Maximizing the likelihood is equivalent to maxmizing the log-likelihood "
       "because log is strictly increasing function.", H, "An increasing map keeps the argmax.",
       "log is strictly increasing function", basis="numpy", check=check_log_preserves_argmax),
    _c("194", C, "Markov Chain - … the probability of each subsequent state depends only on the "
       "current state and not on the sequence of events that preceded it", H, "Definition.",
       "depends only on the current state", basis="definition"),
    _c("198", F, "E[X] = Σ_{i=1}^n x_i P(X = x_i)", H, "Definition (discrete, finite).",
       r"E[X] = \sum_{i=1}^{n} x_i P(X = x_i)", basis="definition"),
    _c("200", C, "Conditional Mean/Expectation - it's the expected value of a random variable "
       "given that a certain condition(s) holds true.", H, "Definition.",
       "Conditional Mean/Expectation", basis="definition"),
    _c("202", F, "E[Y|X=x] = Σ_y y · P(Y=y|X=x)", H, "Definition.",
       r"E[Y|X=x] = \sum_y y \cdot P(Y=y|X=x)", basis="numpy", check=check_conditional_expectation),
    _c("206", C, "P(y|x) is used when we're interested in the chance of an event happening.",
       H, "Usage.", "chance of an event happening", basis="definition"),
    _c("207", C, "E(y|x) is used … to predict or estimate the average outcome of a random "
       "variable given some condition", H, "Usage.", "average outcome", basis="definition"),
    _c("211", C, "Forward Process Equation - tells you how to go from one time step to the next "
       "by adding noise. It takes the form of a Markov Chain in the form of Gaussian "
       "transitions.", H, "Eq. (2).", "Gaussian transitions", basis="DDPM eq. (2)"),
    _c("213", C, "Forward Process Posteriors - Describe the probability distribution over "
       "possible states at each time step that is conditioned on the original data.", HI,
       "That describes q(x_{t-1}|x_0); the posterior q(x_{t-1}|x_t,x_0) of eqs. (6)-(7) is "
       "also conditioned on x_t, and is much narrower.", "conditioned on the original data",
       condition="'conditioned on the original data' includes x_t: q(x_{t-1}|x_t,x_0)",
       basis="mpmath, linear schedule", check=check_posterior_is_not_marginal),
]

LEDGER = Ledger("002", "002_798373e4dd351a69.txt", CLAIMS, left_out=[
    LeftOut("002", "215", "The equation provides a procedural generation path, and the "
            "posteriors provide a statistical description of where you might end up along "
            "that path.", "too vague to be true or false; line 213 states the checkable part"),
])
