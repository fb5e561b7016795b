"""Seed 001 (``001_25de3e5e0ece3b81.txt``): a prose paper note with no displayed formula.

Every mathematical claim in prose, with its line. Not transcribed (not claims): front matter
(1-6), headings and lists of model families (8-21), the blank lines 88-106.
"""

from __future__ import annotations

import mpmath as mp
import sympy as sp

from ddpm_math.symbolic.claim_audit import Claim, Evidence, Kind, Ledger, LeftOut, Verdict
from verification.audit import oracles
from verification.audit.seed000 import check_markov_factorisation

C = Kind.CLAIM
H, HI, E = Verdict.HOLDS, Verdict.HOLDS_IF, Verdict.ERROR


def _alpha_bar_T():
    return oracles.alpha_bars(oracles.linear_betas())[-1]


def check_pure_noise() -> Evidence:
    """x_T is exactly N(0, I) only if ᾱ_T = 0; for DDPM's schedule ᾱ_T > 0 but small."""
    alpha_bar = _alpha_bar_T()
    return Evidence(alpha_bar == 0, under_condition=alpha_bar < mp.mpf("1e-4"),
                    counterexample=f"ᾱ_T = {mp.nstr(alpha_bar, 4)} ≠ 0 (linear schedule, "
                    "T = 1000): x_T keeps √ᾱ_T x_0 of the data",
                    detail="approximately pure noise")


def check_essentially_noise() -> Evidence:
    """KL(q(x_T|x_0) ‖ N(0, 1)) per dimension for |x_0| ≤ 1 is below 10⁻⁴ nats."""
    a = _alpha_bar_T()
    worst = (a * 1 + (1 - a) - 1 - mp.log(1 - a)) / 2  # x_0² = 1, the largest in [-1, 1]
    return Evidence(worst < mp.mpf("1e-4"),
                    detail=f"KL(q(x_T|x_0) ‖ N(0, 1)) ≤ {mp.nstr(worst, 3)} nats per dimension "
                    "for |x_0| ≤ 1")


def check_compared_with_posterior() -> Evidence:
    """The reverse step is compared with q(x_{t-1}|x_t,x_0) (variance β̃_t), not with the forward
    step q(x_t|x_{t-1}) (variance β_t): at t = 2 of the linear schedule the two differ."""
    betas = oracles.linear_betas()
    alpha_bar = oracles.alpha_bars(betas)
    beta_tilde = (1 - alpha_bar[0]) / (1 - alpha_bar[1]) * betas[1]
    return Evidence(abs(beta_tilde - betas[1]) < mp.mpf("1e-12"), under_condition=True,
                    counterexample=f"at t = 2: β̃_t = {mp.nstr(beta_tilde, 4)} but β_t = "
                    f"{mp.nstr(betas[1], 4)}")


def check_eps_is_a_score() -> Evidence:
    """∇_{x_t} log q(x_t|x_0) = -ε/√(1-ᾱ_t) at x_t = √ᾱ_t x_0 + √(1-ᾱ_t) ε: the ε-loss is a
    weighted denoising score matching loss (DDPM §3.2); without the square root it is not."""
    x_t, x0, eps = sp.symbols("x_t x_0 epsilon", real=True)
    abar = sp.Symbol("abar", positive=True)
    log_q = -(x_t - sp.sqrt(abar) * x0) ** 2 / (2 * (1 - abar))
    score = sp.diff(log_q, x_t).subs(x_t, sp.sqrt(abar) * x0 + sp.sqrt(1 - abar) * eps)
    ok = sp.simplify(score + eps / sp.sqrt(1 - abar)) == 0
    wrong = sp.simplify(score + eps / (1 - abar)) == 0
    return Evidence(ok and not wrong, detail="∇_{x_t} log q(x_t|x_0) = -ε/√(1-ᾱ_t) (sympy)")


def check_sign_of_the_bound() -> Evidence:
    """In a one-step Gaussian model, L of Eq. 3 is above -log p_θ(x_0): it is an upper bound on
    the NLL (the negative ELBO), not the ELBO, which is -L ≤ log p_θ(x_0)."""
    x0, theta, s, alpha = mp.mpf(1), mp.mpf("0.5"), mp.mpf("0.5"), mp.mpf("0.5")
    bound, nll = oracles.toy_bound(x0, theta, s, alpha), oracles.toy_nll(x0, theta, s)
    return Evidence(bound <= nll,
                    counterexample=f"T = 1, x_0 = 1, θ = s = α_1 = 0.5: L = {mp.nstr(bound, 6)} "
                    f"> -log p_θ(x_0) = {mp.nstr(nll, 6)}; the ELBO is -L = "
                    f"{mp.nstr(-bound, 6)} ≤ log p_θ(x_0) = {mp.nstr(-nll, 6)}")


def check_why_sqrt_one_minus_beta() -> Evidence:
    """Independence across dimensions holds with or without √(1-β_t), so it cannot explain it;
    √(1-β_t) keeps Var(x_t) = 1 (from Var(x_0) = 1), without it Var(x_T) = 1 + Σ β_t."""
    betas = oracles.linear_betas()
    var_with, var_without = mp.mpf(1), mp.mpf(1)
    for beta in betas:
        var_with = (1 - beta) * var_with + beta
        var_without = var_without + beta
    return Evidence(False, counterexample=f"Var(x_T) = {mp.nstr(var_with, 6)} with √(1-β_t), "
                    f"{mp.nstr(var_without, 5)} without it; the noise is independent across "
                    "dimensions either way")


def check_diagonal_covariance_independent() -> Evidence:
    """N(0, βI) in two dimensions is the product of two N(0, β) densities."""
    x1, x2 = sp.symbols("x1 x2", real=True)
    beta = sp.Symbol("beta", positive=True)
    joint = sp.exp(-(x1**2 + x2**2) / (2 * beta)) / (2 * sp.pi * beta)
    one = lambda x: sp.exp(-x**2 / (2 * beta)) / sp.sqrt(2 * sp.pi * beta)  # noqa: E731
    return Evidence(sp.simplify(joint - one(x1) * one(x2)) == 0,
                    detail="the density of N(0, βI) factorises over coordinates (sympy)")


def _c(line, written, verdict, remark, quote, **kw) -> Claim:
    return Claim("001", line, C, written, verdict, remark, quote=quote, **kw)


LEDGER = Ledger("001", "001_25de3e5e0ece3b81.txt", [
    _c("12", "Deep generative models can generate high quality images/audio samples.", H,
       "True of the cited families.", "can generate high quality", basis="DDPM §1"),
    _c("23", "A diffusion model is essentially a generative model … a series of steps (a Markov "
       "chain) that gradually transforms random noise into structured data samples.", H,
       "The reverse process p_θ, a Markov chain from x_T ~ N(0, I) to x_0.",
       "gradually transforms random noise", basis="DDPM eq. (1)"),
    _c("31", "Define the forward diffusion process as a sequence of steps that gradually add "
       "Gaussian noise to these samples, transforming them into pure noise. This process is a "
       "Markov chain because each step's outcome depends only on the previous step.", HI,
       "The Markov part holds (eq. 2).", "transforming them into pure noise",
       condition="'pure noise' is read as approximately N(0, I): ᾱ_T is small, never 0",
       basis="DDPM §4 schedule; mpmath", check=check_pure_noise),
    _c("35", "resulting in a sequence of increasingly noisy versions of the original data. This "
       "sequence forms a Markov chain, ending with a sample that is essentially random noise.",
       H, "'Essentially' is right: the data's trace in x_T is tiny.",
       "essentially random noise", basis="DDPM §4 schedule; mpmath",
       check=check_essentially_noise),
    _c("40", "The reverse process aims to learn the reverse of the forward diffusion, which "
       "involves another Markov chain where each step attempts to remove the noise added in the "
       "corresponding forward step.", H, "p_θ(x_{t-1}|x_t) undoes step t.",
       "another Markov chain", basis="DDPM §2"),
    _c("42", "The model parameters for the reverse process are learned by minimizing a "
       "variational bound. This involves comparing the noisy distribution at each reverse step "
       "with the corresponding forward process's distribution, effectively using VI to "
       "approximate the complex distribution of the reverse process.", HI,
       "The L_{t-1} terms of eq. (5) compare p_θ(x_{t-1}|x_t) with the posterior "
       "q(x_{t-1}|x_t,x_0), whose variance β̃_t differs from the forward step's β_t.",
       "comparing the noisy distribution at each reverse step",
       condition="'the forward process's distribution' is the forward-process posterior "
       "q(x_{t-1}|x_t,x_0), not the forward step q(x_t|x_{t-1})", basis="DDPM eqs. (5)-(7)",
       check=check_compared_with_posterior),
    _c("44", "This might include terms for reconstruction loss and terms that enforce the "
       "learned distribution to match the forward process's added noise distribution.", H,
       "L_0 (reconstruction) and L_{t-1} (matching q's posteriors) of eq. (5).",
       "terms for reconstruction loss", basis="DDPM eq. (5)"),
    _c("49", "Begin with a sample of pure noise, resembling the final output of the forward "
       "diffusion process.", H, "x_T ~ N(0, I) ≈ q(x_T|x_0) (see line 35).",
       "resembling the final output", basis="DDPM Algorithm 2"),
    _c("54", "At each step, the model uses the learned parameters to slightly denoise the "
       "sample, moving it closer to resembling original data.", H, "Algorithm 2, one step.",
       "slightly denoise the sample", basis="DDPM Algorithm 2"),
    _c("56", "This reverse application is a Markov chain because each denoising step depends "
       "only on the state from the previous step.", H, "p_θ(x_{0:T}) factorises as in eq. (1).",
       "depends only on the state from the previous step", basis="DDPM eq. (1); a 3-state chain",
       check=check_markov_factorisation),
    _c("61", "Continue applying the reverse process until the noise is fully reversed, "
       "resulting in a new sample that resembles the training data in distribution.", H,
       "The aim p_θ(x_0) ≈ q(x_0); how close is what the bound controls.",
       "resembles the training data in distribution", basis="DDPM §2"),
    _c("63", "The generated sample is a new, previously unseen data point synthesized by "
       "reversing the diffusion process.", HI,
       "Nothing in the objective prevents reproducing training points: the bound is minimised "
       "by the model of the empirical distribution, whose samples are training points.",
       "previously unseen data point",
       condition="the model does not memorise its training set, which the objective does not "
       "guarantee", basis="argument"),
    _c("67", "NO exsiting work shows that the Diffusion Probabilistic Model can generate high "
       "quality samples", H, "The paper's own framing (§1: 'it has not been demonstrated').",
       "NO exsiting work shows", basis="DDPM §1"),
    _c("71", "This paper present high quality image synthesis results using diffusion "
       "probabilistic models.", H, "DDPM abstract and §4.", "high quality image synthesis",
       basis="DDPM abstract"),
    _c("73", "The paper illustrate that certain parameterization of diffusion models has the "
       "same effects as two other techniques.", H,
       "The ε-parameterisation: ε = -√(1-ᾱ_t) ∇ log q(x_t|x_0), so eq. (12) is denoising score "
       "matching and Algorithm 2 resembles Langevin dynamics.", "certain parameterization",
       basis="DDPM §3.2; sympy", check=check_eps_is_a_score),
    _c("75", "Denoising Score Matching: A technique used during training to learn the "
       "underlying data distribution by comparing original data samples with their noisy "
       "versions.", HI, "What is learned is the score of the noise-perturbed data, by "
       "regressing on ∇ log q(x̃|x).", "comparing original data samples with their noisy",
       condition="'learn the data distribution' means learning ∇_x̃ log q_σ(x̃), the score of "
       "the noise-perturbed data (Vincent 2011)", basis="Vincent 2011; argument"),
    _c("76", "Annealed Langevin Dynamics: A sampling technique that introduces noise into the "
       "data sampling process and gradually reduces it to hone in on high-probability areas of "
       "the data distribution.", H, "Song & Ermon 2019: Langevin steps at decreasing σ.",
       "gradually reduces it", basis="Song & Ermon 2019"),
    _c("82", "Diffusion Models: latent variable models.", H,
       "p_θ(x_0) = ∫ p_θ(x_{0:T}) dx_{1:T} with latents x_{1:T}.", "latent variable models",
       basis="DDPM §2"),
    _c("84", "During training, we want to minimize the negative log likelihood ( Eq 3 ).", H,
       "Eq. (3) bounds the NLL; training minimises the bound.",
       "minimize the negative log likelihood", basis="DDPM eq. (3)"),
    _c("84", "This is known as the Evidence Lower Bound (ELBO) in variational inference, and it "
       "is a surrogate for the true negative log-likelihood we want to minimize.", E,
       "Sign convention: what Eq. (3) minimises, L, is an upper bound on -log p_θ(x_0), i.e. "
       "the negative ELBO; the ELBO itself bounds log p_θ(x_0) from below and is maximised.",
       "known as the **Evidence Lower Bound (ELBO)**",
       correction="L = E_q[-log p_θ(x_{0:T})/q(x_{1:T}|x_0)] ≥ -log p_θ(x_0) is the negative "
       "ELBO; ELBO = -L ≤ log p_θ(x_0)", basis="one-step Gaussian model, mpmath",
       check=check_sign_of_the_bound),
    _c("86", "Why 1-beta in equation 2: beta*I : noisy is indenpendent across various "
       "dimensions.", E, "The answer explains βI, not the factor √(1-β_t): that factor keeps "
       "the variance at 1 (variance preserving), so that x_T ≈ N(0, I).",
       "Why 1-beta in equation 2",
       correction="√(1-β_t) makes Var(x_t) = (1-β_t) Var(x_{t-1}) + β_t = 1 when "
       "Var(x_{t-1}) = 1", basis="mpmath, linear schedule",
       check=check_why_sqrt_one_minus_beta),
    _c("87", "beta*I : noisy is indenpendent across various dimensions.", H,
       "A Gaussian with diagonal covariance has independent coordinates.",
       "noisy is indenpendent", basis="sympy", check=check_diagonal_covariance_independent),
], left_out=[
    LeftOut("001", "78", "This provids a theoretical foundation for why diffusion models work "
            "as well as they do.", "a judgement of significance, not a statement that can be "
            "true or false about the method"),
])
