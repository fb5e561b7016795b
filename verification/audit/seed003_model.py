"""Seed 003 (``003_57009665b844266a.txt``), lines 1-87: notation, the model, the schedules.

Not transcribed (not claims): headings (1-3, 28, 56, 71), the column headers of tables
(5-6, 20-21, 32-33, 51-52). Lines 88-215 are in :mod:`verification.audit.seed003_bound`.
"""

from __future__ import annotations

import mpmath as mp
import numpy as np
import sympy as sp

from ddpm_math.symbolic.claim_audit import Claim, Evidence, Kind, Ledger, Verdict
from verification.audit import oracles
from verification.audit.seed000 import check_markov_factorisation
from verification.audit.seed001 import check_essentially_noise

F, C = Kind.FORMULA, Kind.CLAIM
H, HI, E, CARRIED, SLIP = (Verdict.HOLDS, Verdict.HOLDS_IF, Verdict.ERROR, Verdict.CARRIED,
                           Verdict.SLIP)
SOURCE = "003_57009665b844266a.txt"


def check_bayes_table() -> Evidence:
    """p(x0,x1) = p(x1) p(x0|x1) = p(x0) p(x1|x0) on a random 3×4 table; the product of the
    marginals (a plausible wrong version) differs."""
    joint = oracles.random_joint((3, 4), 5)
    p0, p1 = joint.sum(axis=1), joint.sum(axis=0)
    ok = (np.allclose(p1[None, :] * (joint / p1[None, :]), joint)
          and np.allclose(p0[:, None] * (joint / p0[:, None]), joint)
          and not np.allclose(np.outer(p0, p1), joint))
    return Evidence(bool(ok), detail="a random 3×4 joint table")


def check_conditional_needs_positive_marginal() -> Evidence:
    """p(x0|x1) = p(x0,x1)/p(x1) is 0/0 where p(x1) = 0."""
    joint = np.array([[0.5, 0.0], [0.5, 0.0]])
    marginal = joint.sum(axis=0)
    return Evidence(bool(np.all(marginal > 0)), under_condition=check_bayes_table().as_written,
                    counterexample="p(x_0, x_1) = (½, 0; ½, 0): p(x_1 = 1) = 0 and the ratio "
                    "is 0/0")


def check_gaussian_density() -> Evidence:
    """The density integrates to 1 with mean μ and variance σ² (sympy); with σ in place of σ²
    in the normaliser it does not integrate to 1."""
    x, mu = sp.symbols("x mu", real=True)
    sigma = sp.Symbol("sigma", positive=True)
    density = sp.exp(-(x - mu) ** 2 / (2 * sigma**2)) / sp.sqrt(2 * sp.pi * sigma**2)
    moments = [sp.simplify(sp.integrate(x**k * density, (x, -sp.oo, sp.oo))) for k in (0, 1, 2)]
    wrong = sp.integrate(sp.exp(-(x - mu) ** 2 / (2 * sigma**2)) / sp.sqrt(2 * sp.pi * sigma),
                         (x, -sp.oo, sp.oo))
    ok = (moments[0] == 1 and moments[1] == mu and sp.simplify(moments[2] - mu**2 - sigma**2) == 0
          and sp.simplify(wrong - 1) != 0)
    return Evidence(ok, detail="∫ p = 1, ∫ x p = μ, ∫ x² p - μ² = σ² (sympy)")


def check_marginal_integral() -> Evidence:
    """∫ N(x_1; 0, 1) N(x_0; c x_1, s) dx_1 = N(x_0; 0, c² + s), by mpmath quadrature."""
    c, s, x0 = mp.mpf("0.7"), mp.mpf("0.3"), mp.mpf("0.4")
    value = mp.quad(lambda x1: mp.exp(oracles.log_normal(x1, 0, 1)
                                      + oracles.log_normal(x0, c * x1, s)), [-mp.inf, mp.inf])
    closed = mp.exp(oracles.log_normal(x0, 0, c**2 + s))
    return Evidence(abs(value - closed) < mp.mpf("1e-30"),
                    detail="a Gaussian pair: quadrature = N(x_0; 0, c² + s)")


def check_linear_schedule() -> Evidence:
    """β_min + (β_max - β_min)(t-1)/(T-1) is DDPM's np.linspace(1e-4, 0.02, T), evenly spaced;
    the plausible (t/T) version misses β_1 = β_min."""
    T, t = 1000, np.arange(1, 1001)
    written = 1e-4 + (0.02 - 1e-4) * (t - 1) / (T - 1)
    wrong = 1e-4 + (0.02 - 1e-4) * t / T
    ok = (np.allclose(written, np.linspace(1e-4, 0.02, T), rtol=0, atol=1e-15)
          and np.allclose(np.diff(written), np.diff(written)[0])
          and not np.isclose(wrong[0], 1e-4))
    return Evidence(bool(ok), detail="equals np.linspace(1e-4, 0.02, 1000), constant steps")


def check_quadratic_schedule() -> Evidence:
    """The quadratic β_t starts at β_min, ends at β_max, and its steps grow."""
    t = np.arange(1, 1001)
    beta = 1e-4 + (0.02 - 1e-4) * ((t - 1) / 999) ** 2
    steps = np.diff(beta)
    ok = np.isclose(beta[0], 1e-4) and np.isclose(beta[-1], 0.02) and np.all(np.diff(steps) > 0)
    return Evidence(bool(ok), detail=f"β_2 - β_1 = {steps[0]:.2e}, β_T - β_(T-1) = "
                    f"{steps[-1]:.2e}")


def check_cosine_alpha_bar() -> Evidence:
    """The note's ᾱ_t against Nichol & Dhariwal's f(t)/f(0) at t/T = 1/2 (50 digits)."""
    note, true = oracles.cosine_alpha_bar_note(500, 1000), oracles.cosine_alpha_bar_true(500, 1000)
    return Evidence(abs(note - true) < mp.mpf("1e-20"),
                    counterexample=f"at t/T = 1/2: ᾱ_t = {mp.nstr(note, 6)} as written, "
                    f"{mp.nstr(true, 6)} with the offset divided by 1 + s")


def note_cosine_betas(T: int = 1000) -> list:
    """β_t = 1 - ᾱ_t/ᾱ_{t-1} from the note's ᾱ_t, t = 1..T; None where ᾱ_{t-1} = 0."""
    alpha_bar = [oracles.cosine_alpha_bar_note(t, T) for t in range(T + 1)]
    return [None if alpha_bar[t - 1] == 0 else 1 - alpha_bar[t] / alpha_bar[t - 1]
            for t in range(1, T + 1)]


def check_cosine_beta() -> Evidence:
    """With the note's own ᾱ_t (T = 1000): ᾱ_992 = 0, β_993 undefined, β_t < 0 after; with the
    true ᾱ_t and no clip, β_T = 1 (α_T = 0)."""
    betas = note_cosine_betas()
    undefined = [t for t, b in enumerate(betas, 1) if b is None]
    negative = [t for t, b in enumerate(betas, 1) if b is not None and b < 0]
    true_last = 1 - (oracles.cosine_alpha_bar_true(1000, 1000)
                     / oracles.cosine_alpha_bar_true(999, 1000))
    ok = not undefined and not negative and true_last < 1
    gone = ", ".join(map(str, undefined))
    return Evidence(ok, counterexample=f"T = 1000, the note's ᾱ_t: ᾱ_992 = 0, so β_t is "
                    f"undefined at t = {gone}; β_t < 0 at t = {negative[0]}..{negative[-1]} "
                    f"(β_T = {mp.nstr(betas[-1], 4)}); with the true ᾱ_t, unclipped β_T = "
                    f"{mp.nstr(true_last, 4)}")


def check_two_alpha_bars_conflict() -> Evidence:
    """ᾱ_t = ∏ α_s with α_s = 1 - β_s ∈ (0, 1) must decrease; the note's direct ᾱ_t rises."""
    alpha_bar = [oracles.cosine_alpha_bar_note(t, 1000) for t in range(990, 1001)]
    rises = [990 + k + 1 for k in range(10) if alpha_bar[k + 1] > alpha_bar[k]]
    return Evidence(not rises, counterexample=f"the note's ᾱ_t increases at t = {rises[0]}.."
                    f"{rises[-1]} (T = 1000), which no product of α_s ∈ (0, 1) can do")


def check_cosine_keeps_alpha_bar_high() -> Evidence:
    """Cosine ᾱ_t (true and as written) above the linear schedule's at t/T = 0.1, 0.25, 0.5."""
    linear = oracles.alpha_bars(oracles.linear_betas())
    points = (100, 250, 500)
    ok = all(oracles.cosine_alpha_bar_true(t, 1000) > linear[t - 1]
             and oracles.cosine_alpha_bar_note(t, 1000) > linear[t - 1] for t in points)
    text = ", ".join(f"t = {t}: {mp.nstr(oracles.cosine_alpha_bar_true(t, 1000), 3)} vs "
                     f"{mp.nstr(linear[t - 1], 3)}" for t in points)
    return Evidence(ok, detail=f"cosine vs linear ᾱ_t, {text}")


def check_forward_marginal() -> Evidence:
    """Integrating x_{t-1} out of q(x_t|x_{t-1}) q(x_{t-1}|x_0) gives N(√ᾱ_t x_0, 1-ᾱ_t) with
    ᾱ_t = α_t ᾱ_{t-1} (mpmath quadrature at one point)."""
    a, abp, x0, xt = mp.mpf("0.9"), mp.mpf("0.6"), mp.mpf("0.5"), mp.mpf("-0.3")
    value = mp.quad(lambda x: mp.exp(oracles.log_normal(xt, mp.sqrt(a) * x, 1 - a)
                                     + oracles.log_normal(x, mp.sqrt(abp) * x0, 1 - abp)),
                    [-mp.inf, mp.inf])
    closed = mp.exp(oracles.log_normal(xt, mp.sqrt(a * abp) * x0, 1 - a * abp))
    return Evidence(abs(value - closed) < mp.mpf("1e-30"),
                    detail="one induction step of eq. (4) by quadrature")


def check_chain_rule_needs_markov() -> Evidence:
    """q(x_0) q(x_1|x_0) q(x_2|x_1) against a random (non-Markov) joint of x_0, x_1, x_2; with
    a Markov joint it agrees."""
    joint = oracles.random_joint((2, 2, 2), 9)
    p01 = joint.sum(axis=2)
    p12 = joint.sum(axis=0)
    product = p01[:, :, None] * (p12 / p12.sum(axis=1, keepdims=True))[None, :, :]
    index = np.unravel_index(np.argmax(np.abs(product - joint)), joint.shape)
    markov = check_markov_factorisation().as_written
    return Evidence(bool(np.allclose(product, joint)), under_condition=markov,
                    counterexample=f"a random joint on {{0,1}}³ (T = 2): at (x_0, x_1, x_2) = "
                    f"{tuple(int(i) for i in index)}, q(x_{{0:2}}) = {joint[index]:.4f} but "
                    f"q(x_0) q(x_1|x_0) q(x_2|x_1) = {product[index]:.4f}")


def check_sample_form() -> Evidence:
    """x_t = √(1-β_t) x_{t-1} + √β_t ε has mean √(1-β_t) x_{t-1} and variance β_t."""
    x, beta, eps = sp.Symbol("x", real=True), sp.Symbol("beta", positive=True), sp.Symbol("e")
    sample = sp.sqrt(1 - beta) * x + sp.sqrt(beta) * eps
    mean, var = sample.subs(eps, 0), sample.coeff(eps) ** 2
    return Evidence(sp.simplify(mean - sp.sqrt(1 - beta) * x) == 0 and var == beta,
                    detail="mean √(1-β_t) x_{t-1}, variance β_t")


def _c(line, kind, written, verdict, remark, quote, **kw) -> Claim:
    return Claim("003", line, kind, written, verdict, remark, quote=quote, **kw)


COSINE_CORRECTION = ("ᾱ_t = f(t)/f(0), f(t) = cos²((t/T + s)/(1 + s) · π/2), s = 0.008; "
                     "β_t = min(1 - ᾱ_t/ᾱ_{t-1}, 0.999)")
CLAIMS = [
    _c("9", F, "p(z): prior distribution on latent variable, typically standard Gaussian "
       "N(0,I); N(μ,Σ) denotes a (possibly multivariate) normal distribution", H, "Notation.",
       "typically standard Gaussian", basis="definition"),
    _c("10", F, "I: identity matrix, used as covariance in standard normal N(0,I)", H,
       "Notation.", "identity matrix", basis="definition"),
    _c("11", F, "N(x; μ, Σ): Gaussian probability density function evaluated at x", H,
       "Notation (DDPM's N(x_t; mean, variance)).", "probability density function evaluated",
       basis="definition"),
    _c("12", F, "N(μ,Σ): Gaussian distribution (as a distribution object)", H, "Notation.",
       "as a distribution object", basis="definition"),
    _c("13", F, "N(0,I): standard normal", H, "Notation.", "standard normal",
       basis="definition"),
    _c("14", F, "p_θ(x|z): likelihood of x given z, parameterized by neural network weights θ",
       H, "Notation.", "likelihood of $x$ given $z$", basis="definition"),
    _c("15", F, "p_θ(x, z): joint distribution, factorizes as p_θ(x|z) p(z)", H,
       "The chain rule.", "factorizes as", basis="numpy, a random table",
       check=check_bayes_table),
    _c("16", F, "p_θ(x): marginal likelihood, obtained by integrating out z", H, "Definition.",
       "obtained by integrating out", basis="definition"),
    _c("17", F, "x ~ p(x): sampled from distribution; the tilde means 'is distributed as'", H,
       "Notation.", "is distributed as", basis="definition"),
    _c("18", F, "E_p[f(X)]: discrete Σ_x f(x) p(x); continuous ∫ f(x) p(x) dx", H,
       "Definition.", r"discrete: $\sum_x f(x)\,p(x)$", basis="definition"),
    _c("22", F, "p(x) = 1/√(2πσ²) exp(-(x-μ)²/(2σ²))", H, "The normal density.",
       r"p(x) = \frac{1}{\sqrt{2\pi\sigma^2}}", basis="sympy integration",
       check=check_gaussian_density),
    _c("23", F, "p(x_0, x_1) = p(x_1, x_0) = p(x_1) p(x_0|x_1) = p(x_0) p(x_1|x_0)", H,
       "The chain rule in both orders.", r"p(x_1)\,p(x_0 \mid x_1)",
       basis="numpy, a random table", check=check_bayes_table),
    _c("24", F, "p(x_0|x_1) = p(x_0, x_1)/p(x_1)", HI, "The definition of a conditional.",
       r"p(x_0 \mid x_1) = \frac{p(x_0, x_1)}{p(x_1)}", condition="p(x_1) > 0",
       basis="numpy", check=check_conditional_needs_positive_marginal),
    _c("25", F, "p(x_0) = Σ_{x_1} p(x_0, x_1)", H, "Marginalisation (discrete).",
       r"p(x_0)=\sum_{x_1}p(x_0,x_1)", basis="definition"),
    _c("26", F, "p(x_0) = ∫ p(x_0, x_1) dx_1", H, "Marginalisation (continuous).",
       r"p(x_0)=\int p(x_0,x_1) dx_1", basis="mpmath quadrature",
       check=check_marginal_integral),
    _c("30", C, "The model only predicts the parameters of the Gaussian reverse transition (Mean "
       "μ_θ(x_t,t) and Variance Σ_θ(x_t,t)), not the entire distribution explicitly.", HI,
       "In DDPM the network predicts ε_θ (hence the mean); Σ_θ(x_t,t) = σ_t² I is fixed to β_t "
       "or β̃_t (§3.2). The variance is learned only in later work (Nichol & Dhariwal 2021).",
       "The model only predicts the parameters",
       condition="Σ_θ is learned; in DDPM only the mean is predicted", basis="DDPM §3.2"),
    _c("34", F, "x_0: observed data vector", H, "Notation.", "observed data vector",
       basis="definition"),
    _c("35", F, "x_{1:T}: latent variables, same dimensionality as x_0", H, "DDPM §2.",
       "same dimensionality as", basis="DDPM §2"),
    _c("36", F, "ε_t ~ N(0, I): random noise", H, "Notation.", "random noise",
       basis="definition"),
    _c("37", F, "p(x_0) = ∫ p(x_0, x_1) dx_1", H, "True for any T (the pair's joint is itself "
       "a marginal); DDPM writes p_θ(x_0) = ∫ p_θ(x_{0:T}) dx_{1:T}.",
       r"p(x_0) = \int p(x_0, x_1) \, dx_1", basis="mpmath quadrature",
       check=check_marginal_integral),
    _c("38", F, "p_θ(x_{0:T}) = p(x_T) ∏_{t=1}^T p_θ(x_{t-1}|x_t)", H, "DDPM eq. (1).",
       r"p_\theta(x_{0:T}) = p(x_T) \prod", basis="DDPM eq. (1); a 3-state chain",
       check=check_markov_factorisation),
    _c("39", F, "p_θ(x_{t-1}|x_t) = N(x_{t-1}; μ_θ(x_t,t), Σ_θ(x_t,t))", H, "DDPM eq. (1).",
       r"\mathcal{N}(x_{t-1}; \mu_\theta(x_t,t)", basis="DDPM eq. (1)"),
    _c("40", F, "q(x_{1:T}|x_0) = ∏_{t=1}^T q(x_t|x_{t-1})", H, "DDPM eq. (2).",
       r"q(x_{1:T}\mid x_0) = \prod", basis="DDPM eq. (2); a 3-state chain",
       check=check_markov_factorisation),
    _c("41", F, "β_t = β_min + (β_max - β_min)(t-1)/(T-1): evenly increases noise per step", H,
       "DDPM's linear schedule (§4: 10⁻⁴ to 0.02).", r"\frac{t-1}{T-1}$",
       basis="numpy", check=check_linear_schedule),
    _c("42", F, "β_t = β_min + (β_max - β_min)((t-1)/(T-1))²: adds very little noise early, "
       "more near the end", H, "True of this formula; it is not the 'quad' schedule of the DDPM "
       "code, which squares a linspace of √β.", r"\left(\frac{t-1}{T-1}\right)^2",
       basis="numpy", check=check_quadratic_schedule),
    _c("43", F, "ᾱ_t = cos²(π/2 (t/T + 0.008)) / cos²(0.008π/2)", E,
       "The offset is not divided by 1 + s.", r"\frac{\pi}{2}(t/T+0.008)",
       correction=COSINE_CORRECTION, basis="Nichol & Dhariwal 2021 eq. (17); mpmath",
       check=check_cosine_alpha_bar),
    _c("43", F, "β_t = 1 - ᾱ_t/ᾱ_{t-1}", E,
       "The relation is right for a decreasing ᾱ_t, but with the note's own ᾱ_t it gives "
       "β_t ∉ (0, 1) near t = T, and without Nichol & Dhariwal's clip at 0.999 even the "
       "correct ᾱ_t gives β_T = 1.", r"$\beta_t = 1-\bar{\alpha}_t/\bar{\alpha}_{t-1}$",
       correction=COSINE_CORRECTION, basis="mpmath, exact t/T + 0.008",
       check=check_cosine_beta),
    _c("43", C, "here ᾱ_t is defined directly as a cosine-squared function of t (not as a "
       "cumulative product), and β_t is derived via β_t = 1-ᾱ_t/ᾱ_{t-1}", E,
       "Two definitions of ᾱ_t in one note: line 46 defines ᾱ_t := ∏ α_s. They agree only if "
       "the direct ᾱ_t decreases, which the note's does not.", "defined directly",
       correction="define ᾱ_t = f(t)/f(0) with f decreasing on [0, T] (offset divided by 1 + s) "
       "and clip β_t; then ∏ (1 - β_s) = ᾱ_t up to the clip", basis="mpmath",
       check=check_two_alpha_bars_conflict),
    _c("43", C, "empirically better because it keeps ᾱ_t high in early steps, making denoising "
       "easier", H, "Nichol & Dhariwal's argument (linear ᾱ_t falls fast); the computation "
       "confirms the ordering.", "keeps $\\bar{\\alpha}_t$ high in early steps",
       basis="Nichol & Dhariwal 2021 §3.2; mpmath", check=check_cosine_keeps_alpha_bar_high),
    _c("44", F, "q(x_t|x_{t-1}) = N(x_t; √(1-β_t) x_{t-1}, β_t I)", H, "DDPM eq. (2).",
       r"q(x_t \mid x_{t-1}) = \mathcal{N}(x_t;", basis="DDPM eq. (2)"),
    _c("45", F, "α_t := 1-β_t", H, "DDPM §3.", r"\alpha_t := 1-\beta_t", basis="definition"),
    _c("46", F, "ᾱ_t := ∏_{s=1}^t α_s, used for closed-form q(x_t|x_0)", H, "DDPM eq. (4); "
       "conflicts with line 43 (see there).", r"\prod_{s=1}^t \alpha_s", basis="definition"),
    _c("47", F, "q(x_t|x_0) = N(x_t; √ᾱ_t x_0, (1-ᾱ_t) I)", H, "DDPM eq. (4).",
       r"(1-\bar{\alpha}_t)I)", basis="mpmath quadrature", check=check_forward_marginal),
    _c("49", C, "Both q(x_{0:T}) and p_θ(x_{0:T}) are distributions over the same path "
       "x_0,…,x_T, but factorized in opposite directions", H, "Eqs. (1) and (2).",
       "factorized in opposite directions", basis="DDPM eqs. (1)-(2)"),
    _c("53", F, "q(x_{0:T}) = q(x_0) ∏_{t=1}^T q(x_t|x_{t-1})", H,
       "The forward process is Markov by definition (eq. 2).",
       r"$q(x_0)\prod_{t=1}^{T} q(x_t \mid x_{t-1})$", basis="DDPM eq. (2)"),
    _c("54", F, "p_θ(x_{0:T}) = p(x_T) ∏_{t=1}^T p_θ(x_{t-1}|x_t)", H, "DDPM eq. (1).",
       r"$p(x_T)\prod_{t=1}^{T} p_\theta", basis="DDPM eq. (1)"),
    _c("60", F, "x_t = √(1-β_t) x_{t-1} + √β_t ε_t, ε_t ~ N(0,I)", H,
       "The sample form of eq. (2).", r"x_t = \sqrt{1-\beta_t}\,x_{t-1}", basis="sympy",
       check=check_sample_form),
    _c("67", C, "Decrease signal x_t by √(1-β_t).", SLIP, "The signal scaled is x_{t-1}, and it "
       "is multiplied by √(1-β_t), not decreased by it.", "Decrease signal $x_t$",
       correction="multiply the signal x_{t-1} by √(1-β_t)", basis="DDPM eq. (2)"),
    _c("68", C, "Increase noise ε_t by √β_t.", SLIP, "ε_t is scaled by √β_t < 1 and added.",
       "Increase noise", correction="add √β_t ε_t", basis="DDPM eq. (2)"),
    _c("69", C, "After T steps, x_T is nearly pure Gaussian noise N(0,I) based on β_t "
       "scheduling.", H, "'Nearly' is right.", "nearly pure Gaussian noise",
       basis="mpmath", check=check_essentially_noise),
    _c("72", C, "You start from noise x_T ~ N(0,I).", H, "DDPM Algorithm 2.",
       "You start from noise", basis="DDPM Algorithm 2"),
    _c("74", F, "x_{t-1} ~ N(μ_θ(x_t,t), Σ_θ(x_t,t)) at each step t = T,…,1", H,
       "DDPM Algorithm 2.", r"$x_{t-1} \sim \mathcal{N}(\mu_\theta(x_t,t)",
       basis="DDPM Algorithm 2"),
    _c("75", C, "After T steps, you have x_0, which should look like real data.", H,
       "The aim of training.", "which should look like real data", basis="DDPM §2"),
    _c("77", C, "For any joint distribution q(x_{0:T}), we could use the Chain Rule to get the "
       "next step by computing all the historical steps", H,
       "True: the chain rule conditions each step on its whole history, "
       "q(x_{0:T}) = q(x_0) ∏ q(x_t|x_{0:t-1}). Line 80 then writes something else.",
       "we could use the Chain Rule", basis="probability"),
    _c("80", F, "q(x_{0:T}) = q(x_0) q(x_1|x_0) q(x_2|x_1) … q(x_T|x_{T-1})", E,
       "Stated 'for any joint distribution' (line 77) but it conditions on the previous step "
       "only: it silently assumes the Markov property, which the note introduces at line 85.",
       r"q(x_{0:T}) &= q(x_0)\, q(x_1 \mid x_0)",
       correction="q(x_{0:T}) = q(x_0) ∏_t q(x_t|x_{0:t-1}); = q(x_0) ∏_t q(x_t|x_{t-1}) "
       "only for a Markov chain", basis="numpy, a random joint", note_words="For any joint "
       "distribution q(x_{0:T}), we could use the Chain Rule",
       check=check_chain_rule_needs_markov),
    _c("81", F, "= q(x_0) ∏_{t=1}^T q(x_t|x_{t-1})", CARRIED,
       "Rewrites line 80 correctly; true only for a Markov chain.",
       r"&= q(x_0) \prod_{t=1}^{T}", basis="numpy, a random joint",
       check=check_chain_rule_needs_markov),
    _c("85", F, "q(x_t|x_{0:t-1}) = q(x_t|x_{t-1}) (the Markov assumption)", H,
       "The assumption that makes lines 80-81 true.", r"$q(x_t \mid x_{0:t-1}) = q(x_t",
       basis="definition"),
    _c("87", F, "q(x_t|x_{t-1}) := N(x_t; √(1-β_t) x_{t-1}, β_t I)", H, "DDPM eq. (2).",
       r"q(x_t \mid x_{t-1}) := \mathcal{N}\bigl(x_t;", basis="DDPM eq. (2)"),
]

LEDGER_PART = Ledger("003", SOURCE, CLAIMS)
