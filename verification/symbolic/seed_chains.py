"""The derivations of the project's source notes, transcribed line by line, and their audit.

Sources (in ``shared/seeds/``, not shipped with the package, so the lines are copied here):
``002`` is a review of DDPM with worked derivations, ``003`` a set of paper notes, ``000`` a
paper summary. Each chain is audited with :func:`ddpm_math.symbolic.equality_audit.audit_chain`
against the previous line and against the true result, which is stated independently here from
the model's definitions (the one-step kernel, Bayes' rule, the Gaussian KL derived by
:mod:`ddpm_math.symbolic.kl`). Concrete indices stand in for the notes' general t: t = 4 for
the forward chain (so that x_{t-1}, x_{t-2}, x_{t-3} and x_0 are distinct), T = 3 for the bound.

``python -m verification.symbolic.seed_chains > verification/errata.md`` regenerates the
errata table; a test checks that the committed file is what the audit produces.
"""

from __future__ import annotations

import sympy as sp

from ddpm_math.symbolic import kl as symbolic_kl
from ddpm_math.symbolic.equality_audit import ChainReport, Step, audit_chain, render_markdown

UNIT = (0, 1)  # open interval for α's, ᾱ's and probabilities


def _symbols(names: str, **assumptions) -> dict[str, sp.Symbol]:
    return {s.name: s for s in sp.symbols(names, **assumptions)}


# ---------------------------------------------------------------------------------------------
# seed 002: q(x_t | x_0) by composing the one-step kernels, eqs. (1)-(8), t = 4

FWD = (_symbols("alpha_0:5 alpha_bar_4 beta_4", positive=True)
       | _symbols("x_0:4", real=True) | _symbols("eps e_1:5 eps_2 eps_3 eps_bar", real=True))
A = [FWD[f"alpha_{k}"] for k in range(5)]
E = {k: FWD[f"e_{k}"] for k in range(1, 5)}
FWD_NOISES = [FWD[n] for n in ("eps", "eps_2", "eps_3", "eps_bar")] + list(E.values())
#: The chain's context: β_t = 1 - α_t, ᾱ_4 = α_1 α_2 α_3 α_4, and the true kernels for
#: x_3, x_2, x_1 (DDPM eq. 2), so that every line becomes a Gaussian in x_0.
FWD_CONTEXT = [
    (FWD["beta_4"], 1 - A[4]),
    (FWD["alpha_bar_4"], A[1] * A[2] * A[3] * A[4]),
    *[(FWD[f"x_{k}"], sp.sqrt(A[k]) * FWD[f"x_{k - 1}"] + sp.sqrt(1 - A[k]) * E[k])
      for k in (3, 2, 1)],
]
FWD_DOMAINS = {a: UNIT for a in A}
FWD_TARGET = Step("truth: q(x_4 | x_3) composed with the true kernels",
                  "sqrt(alpha_4)*x_3 + sqrt(1 - alpha_4)*e_4")

FORWARD = [
    Step("002 (1)-(2)", "sqrt(1 - beta_4)*x_3 + sqrt(beta_4)*eps",
         written="q(x_t|x_{t-1}) = N(x_t, √(1-β_t) x_{t-1}, β_t I) = √(1-β_t) x_{t-1} + √β_t ε",
         reason="a density is set equal to a sample; as distributions the two agree",
         correction="x_t = √(1-β_t) x_{t-1} + √β_t ε, ε ~ N(0, I), i.e. x_t ~ q(x_t|x_{t-1})"),
    Step("002 (3)", "sqrt(alpha_4)*x_3 + sqrt(1 - alpha_4)*eps",
         written="√α_t x_{t-1} + √(1-α_t) ε"),
    Step("002 (4)", "sqrt(alpha_4*alpha_3)*x_2 + sqrt(1 - alpha_4*alpha_3)*eps",
         written="√(α_t α_{t-1}) x_{t-2} + √(1-α_t α_{t-1}) ε"),
    Step("002 (5)", "sqrt(alpha_4*alpha_3*alpha_2)*x_1 + sqrt(1 - alpha_4*alpha_3*alpha_2)*eps",
         written="√(α_t α_{t-1} α_{t-2}) x_{t-3} + √(1-α_t α_{t-1} α_{t-2}) ε"),
    Step("002 (6)", "sqrt(alpha_4*alpha_3*alpha_2*alpha_1*alpha_0)*x_0"
         " + sqrt(1 - alpha_4*alpha_3*alpha_2*alpha_1*alpha_0)*eps",
         written="√(α_t ⋯ α_1 α_0) x_0 + √(1 - α_t ⋯ α_1 α_0) ε",
         reason="there is no α_0: the product runs over s = 1..t",
         correction="√(α_t ⋯ α_1) x_0 + √(1 - α_t ⋯ α_1) ε"),
    Step("002 (7)", "sqrt(alpha_bar_4)*x_0 + sqrt(1 - alpha_bar_4)*eps",
         written="√ᾱ_t x_0 + √(1-ᾱ_t) ε"),
    Step("002 (8)", gaussian=("sqrt(alpha_bar_4)*x_0", "1 - alpha_bar_4"),
         written="q(x_t|x_0) = N(x_t; √ᾱ_t x_0, (1-ᾱ_t) I)"),
]

STEPS_3_AND_4 = [
    Step("002 3-4 a", "sqrt(1 - beta_4)*x_3 + sqrt(beta_4)*eps_3",
         written="x_t = √(1-β_t) x_{t-1} + √β_t ε_{t-1}"),
    Step("002 3-4 b", "sqrt(alpha_4)*x_3 + sqrt(1 - alpha_4)*eps_3",
         written="= √α_t x_{t-1} + √(1-α_t) ε_{t-1}"),
    Step("002 3-4 c", "sqrt(alpha_4)*(sqrt(alpha_3)*x_2 + sqrt(1 - alpha_3)*eps_2)"
         " + sqrt(1 - alpha_4)*eps_3",
         written="= √α_t (√α_{t-1} x_{t-2} + √(1-α_{t-1}) ε_{t-2}) + √(1-α_t) ε_{t-1}"),
    Step("002 3-4 d", "sqrt(alpha_4*alpha_3)*x_2 + sqrt(alpha_4*(1 - alpha_3))*eps_2"
         " + sqrt(1 - alpha_4)*eps_3",
         written="= √(α_t α_{t-1}) x_{t-2} + √(α_t(1-α_{t-1})) ε_{t-2} + √(1-α_t) ε_{t-1}"),
    Step("002 3-4 e", "sqrt(alpha_4*alpha_3)*x_2 + sqrt(1 - alpha_4*alpha_3)*eps_bar",
         written="= √(α_t α_{t-1}) x_{t-2} + √(1-α_t α_{t-1}) ε̄_{t-2}",
         reason="two independent noises merged into one: equal in distribution"),
    Step("002 3-4 f", "sqrt(alpha_bar_4)*x_0 + sqrt(1 - alpha_bar_4)*eps",
         written="= √(α_t ⋯ α_1) x_0 + √(1 - α_t ⋯ α_1) ε = √ᾱ_t x_0 + √(1-ᾱ_t) ε"),
]

VARIANCE_SUM = [
    Step("002 var a", "alpha_4*(1 - alpha_3) + (1 - alpha_4)",
         written="σ_X² + σ_Y² = α_t(1-α_{t-1}) + (1-α_t)"),
    Step("002 var b", "alpha_4 - alpha_4*alpha_3 + 1 - alpha_4",
         written="= α_t - α_t α_{t-1} + 1 - α_t"),
    Step("002 var c", "1 - alpha_4*alpha_3", written="= 1 - α_t α_{t-1}"),
]


def forward_reports() -> list[ChainReport]:
    """The three forward-process chains of seed 002, audited in distribution or exactly."""
    common = dict(symbols=FWD, substitutions=FWD_CONTEXT, domains=FWD_DOMAINS)
    return [
        audit_chain("seed 002: q(x_t|x_0), eqs. (1)-(8)", FORWARD, target=FWD_TARGET,
                    noises=FWD_NOISES, **common),
        audit_chain("seed 002: the breakdown of steps 3 and 4", STEPS_3_AND_4,
                    target=FWD_TARGET, noises=FWD_NOISES, **common),
        audit_chain("seed 002: the variance of the merged noise", VARIANCE_SUM,
                    target=Step("truth", "1 - alpha_4*alpha_3"), **common),
    ]


# ---------------------------------------------------------------------------------------------
# seed 002: μ̃_t(x_t, x_0) rewritten in terms of ε (eqs. 7 → 11)

MU = (_symbols("a abp alpha_bar beta sigma2", positive=True)
      | _symbols("x_t x_0 eps eps_theta", real=True))
MU_CONTEXT = [
    (MU["x_0"], (MU["x_t"] - sp.sqrt(1 - MU["alpha_bar"]) * MU["eps"]) / sp.sqrt(MU["alpha_bar"])),
    (MU["alpha_bar"], MU["a"] * MU["abp"]),
    (MU["beta"], 1 - MU["a"]),
]
MU_DOMAINS = {MU["a"]: UNIT, MU["abp"]: UNIT}
MU_TARGET = Step("truth: DDPM eq. (11)", "(x_t - beta/sqrt(1 - alpha_bar)*eps)/sqrt(a)")
_C1 = "sqrt(a)*(1 - abp)/(1 - alpha_bar)*x_t"  # the x_t coefficient of μ̃_t, eq. (7)

MU_TILDE = [
    Step("002 μ̃ 0", f"{_C1} + sqrt(abp)*beta/(1 - alpha_bar)*x_0",
         written="μ̃_t = √α_t(1-ᾱ_{t-1})/(1-ᾱ_t) x_t + √ᾱ_{t-1}β_t/(1-ᾱ_t) x_0"),
    Step("002 μ̃ 1", f"{_C1} + sqrt(abp)*beta/(1 - alpha_bar)/sqrt(alpha_bar)"
         "*(x_t - sqrt(1 - alpha_bar)*eps)", reason="Substitute x_0",
         written="... + √ᾱ_{t-1}β_t/(1-ᾱ_t) · 1/√ᾱ_t (x_t - √(1-ᾱ_t) ε_t)"),
    Step("002 μ̃ 2", f"{_C1} + sqrt(abp)*beta/(1 - alpha_bar)/sqrt(abp*a)"
         "*(x_t - sqrt(1 - alpha_bar)*eps)", reason="Break up α_t",
         written="... + √ᾱ_{t-1}β_t/(1-ᾱ_t) · 1/√(ᾱ_{t-1}α_t) (x_t - √(1-ᾱ_t) ε_t)"),
    Step("002 μ̃ 3", f"{_C1} + beta/(sqrt(a)*(1 - alpha_bar))*(x_t - sqrt(1 - alpha_bar)*eps)",
         reason="Cancel terms", written="... + β_t/(√α_t(1-ᾱ_t)) (x_t - √(1-ᾱ_t) ε_t)"),
    Step("002 μ̃ 4", f"{_C1} + beta/(sqrt(a)*(1 - alpha_bar))*x_t"
         " - beta/(sqrt(a)*(1 - alpha_bar))*sqrt(1 - alpha_bar)*eps", reason="Break up terms",
         written="... + β_t/(√α_t(1-ᾱ_t)) x_t - β_t/(√α_t(1-ᾱ_t)) √(1-ᾱ_t) ε_t"),
    Step("002 μ̃ 5", f"{_C1} + (1 - a)/(sqrt(a)*(1 - alpha_bar))*x_t"
         " - (1 - a)/(sqrt(a)*(1 - alpha_bar))*sqrt(1 - alpha_bar)*eps", reason="Substitute β_t",
         written="... + (1-α_t)/(√α_t(1-ᾱ_t)) x_t - (1-α_t)/(√α_t(1-ᾱ_t)) √(1-ᾱ_t) ε_t"),
    Step("002 μ̃ 6", "a/sqrt(a)*(1 - abp)/(1 - alpha_bar)*x_t"
         " + (1 - a)/(sqrt(a)*(1 - alpha_bar))*x_t"
         " - (1 - a)/sqrt(a)*sqrt(1 - alpha_bar)/(1 - alpha_bar)*eps",
         reason="Reformulate √α_t",
         written="α_t/√α_t · (1-ᾱ_{t-1})/(1-ᾱ_t) x_t + ... - (1-α_t)/√α_t · √(1-ᾱ_t)/(1-ᾱ_t) ε_t"),
    Step("002 μ̃ 7", "(a - abp*a)/(sqrt(a)*(1 - alpha_bar))*x_t"
         " + (1 - a)/(sqrt(a)*(1 - alpha_bar))*x_t"
         " - (1 - a)/sqrt(a)*(1 - alpha_bar)/sqrt(1 - alpha_bar)*eps",
         reason="Reformulate √(1-ᾱ_t)/(1-ᾱ_t)",
         written="(α_t - ᾱ_{t-1}α_t)/(√α_t(1-ᾱ_t)) x_t + ... - (1-α_t)/√α_t · (1-ᾱ_t)/√(1-ᾱ_t) ε_t",
         correction="√(1-ᾱ_t)/(1-ᾱ_t) = 1/√(1-ᾱ_t), not (1-ᾱ_t)/√(1-ᾱ_t) = √(1-ᾱ_t)"),
    Step("002 μ̃ 8", "(a - abp*a)/(sqrt(a)*(1 - alpha_bar))*x_t"
         " - (1 - a)/(sqrt(a)*(1 - alpha_bar))*eps", reason="Combine terms",
         written="(α_t - ᾱ_{t-1}α_t)/(√α_t(1-ᾱ_t)) x_t - (1-α_t)/(√α_t(1-ᾱ_t)) ε_t",
         correction="(1-ᾱ_t)/(√α_t(1-ᾱ_t)) x_t - (1-α_t)/(√α_t √(1-ᾱ_t)) ε: the second x_t "
         "term must be added to the first, not dropped"),
    Step("002 μ̃ 9", "(1 - alpha_bar)/(sqrt(a)*(1 - alpha_bar))*x_t - (1 - a)/sqrt(a)*eps",
         reason="Cancel terms (the note writes √α without its subscript)",
         written="(1-ᾱ_t)/(√α_t(1-ᾱ_t)) x_t - (1-α_t)/√α ε_t",
         correction="1/√α_t x_t - (1-α_t)/(√α_t √(1-ᾱ_t)) ε"),
    Step("002 μ̃ 10", "1/sqrt(a)*x_t - 1/sqrt(a)*(1 - a)/sqrt(1 - alpha_bar)*eps",
         reason="Cancel terms", written="1/√α_t x_t - 1/√α_t · (1-α_t)/√(1-ᾱ_t) ε_t"),
    Step("002 μ̃ 11", "1/sqrt(a)*(x_t - (1 - a)/sqrt(1 - alpha_bar)*eps)",
         reason="Cancel terms", written="1/√α_t (x_t - (1-α_t)/√(1-ᾱ_t) ε_t)"),
]


def _kl_to_reverse_step() -> sp.Expr:
    """L_{t-1} = KL(N(μ̃_t, β̃_t) ‖ N(μ_θ, σ²)) from the KL derived by integration, with μ̃_t and
    μ_θ in the ε form of eq. (11) and β̃_t of eq. (7)."""
    a, abp, alpha_bar, sigma2 = MU["a"], MU["abp"], MU["alpha_bar"], MU["sigma2"]
    mean = lambda noise: (MU["x_t"] - (1 - a) / sp.sqrt(1 - alpha_bar) * noise) / sp.sqrt(a)  # noqa
    beta_tilde = (1 - abp) / (1 - alpha_bar) * (1 - a)
    return symbolic_kl.normal_kl().subs({
        symbolic_kl.mean1: mean(MU["eps"]), symbolic_kl.var1: beta_tilde,
        symbolic_kl.mean2: mean(MU["eps_theta"]), symbolic_kl.var2: sigma2,
    }, simultaneous=True)


_MU_EPS = "1/sqrt(a)*(x_t - (1 - a)/sqrt(1 - alpha_bar)*{noise})"
L_T = [
    Step("002 L_t 0", f"1/(2*sigma2)*({_MU_EPS.format(noise='eps')}"
         f" - {_MU_EPS.format(noise='eps_theta')})**2",
         written="L_t = E[1/(2σ_t²) ‖μ̃_t(x_t) - μ_θ(x_t, t)‖²]",
         reason="the KL of eq. (8) without its constant C (and named L_t for L_{t-1})",
         correction="L_{t-1} = E[‖μ̃_t - μ_θ‖²/(2σ_t²)] + C, "
         "C = ½(log(σ_t²/β̃_t) + β̃_t/σ_t² - 1) per dimension"),
    Step("002 L_t 1", "(1 - a)**2/(2*a*(1 - alpha_bar)*sigma2)*(eps - eps_theta)**2",
         written="E[(1-α_t)²/(2α_t(1-ᾱ_t)σ_t²) ‖ε_t - ε_θ(x_t, t)‖²]",
         reason="eq. (12)'s weight β_t²/(2σ_t² α_t (1-ᾱ_t)), with β_t = 1-α_t",
         correction="the same, + C"),
]


def mu_tilde_reports() -> list[ChainReport]:
    """The μ̃_t → ε-form chain and the L_t chain of seed 002."""
    common = dict(symbols=MU, substitutions=MU_CONTEXT, domains=MU_DOMAINS)
    return [
        audit_chain("seed 002: μ̃_t in terms of ε (eq. 7 → eq. 11)", MU_TILDE,
                    target=MU_TARGET, **common),
        audit_chain("seed 002: L_t in terms of ε (eqs. 8, 12)", L_T,
                    target=Step("truth: KL(q(x_{t-1}|x_t,x_0) ‖ p_θ(x_{t-1}|x_t))",
                                _kl_to_reverse_step()), **common),
    ]


# ---------------------------------------------------------------------------------------------
# seed 002: the bound, L = E_q[log q(x_{1:T}|x_0)/p_θ(x_{0:T})] split into L_T + Σ L_{t-1} + L_0
#
# Each log-density is a symbol (T = 3): lq_k = log q(x_k|x_{k-1}), lp_k = log p_θ(x_{k-1}|x_k),
# lpT = log p(x_T), lpost_k = log q(x_{k-1}|x_k,x_0), lm_k = log q(x_k|x_0). The only relation
# between them is Bayes' rule for the Markov chain (the context): for k ≥ 2,
# q(x_k|x_{k-1}) = q(x_k|x_{k-1},x_0) = q(x_{k-1}|x_k,x_0) q(x_k|x_0) / q(x_{k-1}|x_0),
# and q(x_1|x_0) is lm_1. Everything else is free, so a step that holds holds for all densities.

ELBO = _symbols("lq_1:4 lp_1:4 lpT lpT_given_x0 lpost_2:4 lm_1:4 lpjoint", real=True)
_S = ELBO
ELBO_CONTEXT = [
    *[(_S[f"lq_{k}"], _S[f"lpost_{k}"] + _S[f"lm_{k}"] - _S[f"lm_{k - 1}"]) for k in (2, 3)],
    (_S["lq_1"], _S["lm_1"]),
    (_S["lpT_given_x0"], _S["lpT"]),  # p(x_T) = N(0, I) does not depend on x_0
    (_S["lpjoint"], _S["lpT"] + _S["lp_1"] + _S["lp_2"] + _S["lp_3"]),
]
ELBO_TARGET = Step("truth: log q(x_{1:T}|x_0) - log p_θ(x_{0:T})",
                   "lq_1 + lq_2 + lq_3 - lpT - lp_1 - lp_2 - lp_3")


def _sum(template: str, ks=(2, 3)) -> str:
    return "(" + " + ".join(template.format(k=k, j=k - 1) for k in ks) + ")"


ELBO_CHAIN = [
    Step("002 bound a", "-(lpjoint - lpjoint)",
         written="E[-log p_θ(x_0)] ≤ E_q[-log p_θ(x_{0:T})/p_θ(x_{0:T})] =: L",
         reason="the denominator should be q(x_{1:T}|x_0); as written L = 0",
         correction="E_q[-log p_θ(x_{0:T})/q(x_{1:T}|x_0)]"),
    Step("002 ELBO 0", "lq_1 + lq_2 + lq_3 - lpT - lp_1 - lp_2 - lp_3",
         written="L = E_q[log q(x_{1:T}|x_0)/p_θ(x_{0:T})]"),
    Step("002 ELBO 1", _sum("(lq_{k} - lp_{k})", (1, 2, 3)),
         written="E_q[log ∏_t q(x_t|x_{t-1})/p_θ(x_{t-1}|x_t)]", reason="Product form",
         correction="E_q[log ∏_t q(x_t|x_{t-1}) / (p(x_T) ∏_t p_θ(x_{t-1}|x_t))]: p(x_T) was lost"),
    Step("002 ELBO 2", "-lpT + " + _sum("(lq_{k} - lp_{k})", (1, 2, 3)),
         written="E_q[-log p(x_T) + Σ_{t≥1} log q(x_t|x_{t-1})/p_θ(x_{t-1}|x_t)]",
         reason="Turn products into sums"),
    Step("002 ELBO 3", "-lpT + " + _sum("(lq_{k} - lp_{k})") + " + (lq_1 - lp_1)",
         reason="Split up summation",
         written="E_q[-log p(x_T) + Σ_{t≥2} log q(x_t|x_{t-1})/p_θ(x_{t-1}|x_t) "
         "+ log q(x_1|x_0)/p_θ(x_0|x_1)]"),
    Step("002 ELBO 4", "-lpT + " + _sum("(lpost_{k} + lm_{k} - lp_{k})") + " + (lq_1 - lp_1)",
         written="Σ_{t≥2} log q(x_{t-1}|x_t,x_0) q(x_t|x_0) / p_θ(x_{t-1}|x_t)",
         reason="Bayes' rule and condition on x_0",
         correction="Σ_{t≥2} log q(x_{t-1}|x_t,x_0) q(x_t|x_0) / (p_θ(x_{t-1}|x_t) "
         "q(x_{t-1}|x_0)): Bayes' rule divides by q(x_{t-1}|x_0)"),
    Step("002 ELBO 5", "-lpT + " + _sum("(lpost_{k} + lm_{k} - lp_{k})")
         + " + " + _sum("(lm_{k} - lm_{j})") + " + (lq_1 - lp_1)",
         reason="Split up summation",
         written="... Σ_{t≥2} log q(x_{t-1}|x_t,x_0) q(x_t|x_0)/p_θ(x_{t-1}|x_t) "
         "+ Σ_{t≥2} log q(x_t|x_0)/q(x_{t-1}|x_0) ...",
         correction="the first sum must lose its q(x_t|x_0) when the ratio sum is split off"),
    Step("002 ELBO 6", "-lpT + " + _sum("(lpost_{k} - lp_{k})") + " + (lm_1 - lm_1)"
         " + (lq_1 - lp_1)",
         written="... + log q(x_1|x_0)/q(x_1|x_0) + ...", reason="Simplify summation",
         correction="Σ_{t≥2} log q(x_t|x_0)/q(x_{t-1}|x_0) telescopes to "
         "log q(x_T|x_0)/q(x_1|x_0)"),
    Step("002 ELBO 7", "(lm_3 - lpT) + " + _sum("(lpost_{k} - lp_{k})") + " + lm_3 - lp_1",
         written="log q(x_T|x_0)/p(x_T) + Σ ... + log q(x_T|x_0) - log p_θ(x_0|x_1)",
         reason="Combine terms", correction="drop the extra + log q(x_T|x_0)"),
    Step("002 ELBO 8", "(lm_3 - lpT) + " + _sum("(lpost_{k} - lp_{k})") + " - lp_1",
         written="log q(x_T|x_0)/p(x_T) + Σ_{t≥2} log q(x_{t-1}|x_t,x_0)/p_θ(x_{t-1}|x_t) "
         "- log p_θ(x_0|x_1)", reason="KL divergence notation"),
    Step("002 ELBO 9", "(lm_3 - lpT_given_x0) + " + _sum("(lpost_{k} - lp_{k})") + " - lp_1",
         written="log q(x_T|x_0)/p(x_T|x_0) + ...",
         reason="holds only because p(x_T|x_0) is p(x_T): a notational slip",
         correction="log q(x_T|x_0)/p(x_T)"),
    Step("002 ELBO 10", "(lm_3 - lpT) + " + _sum("(lm_3 - lp_{k})") + " - (lm_3 - lp_1)",
         written="log q(x_T|x_0)/p(x_T|x_0) + Σ log q(x_T|x_0)/p_θ(x_{t-1}|x_t) "
         "- log q(x_T|x_0)/p_θ(x_0|x_1)", reason="KL divergence notation (last line)",
         correction="D_KL(q(x_T|x_0) ‖ p(x_T)) + Σ_{t>1} D_KL(q(x_{t-1}|x_t,x_0) ‖ "
         "p_θ(x_{t-1}|x_t)) - log p_θ(x_0|x_1), DDPM eq. (5)"),
]


def elbo_reports() -> list[ChainReport]:
    """The bound's decomposition in seed 002, DDPM eq. (5), for T = 3."""
    return [audit_chain("seed 002: the bound L and its decomposition (eq. 5), T = 3",
                        ELBO_CHAIN, ELBO, target=ELBO_TARGET, substitutions=ELBO_CONTEXT)]


# ---------------------------------------------------------------------------------------------
# seeds 003 and 000: formulas stated without derivation

STATED = _symbols("u s a abp alpha_bar p q", positive=True)
COSINE_TRUTH = Step("truth: Nichol & Dhariwal 2021 eq. (17), ᾱ_t = f(t)/f(0)",
                    "cos((u + s)/(1 + s)*pi/2)**2 / cos(s/(1 + s)*pi/2)**2")
STATED_CLAIMS = [
    ("seed 003: the cosine schedule's ᾱ_t (u = t/T)", COSINE_TRUTH,
     Step("003 cosine ᾱ", "cos(pi/2*(u + s))**2 / cos(s*pi/2)**2",
          written="ᾱ_t = cos²(π/2 (t/T + 0.008)) / cos²(0.008 π/2)",
          reason="the offset is not divided by 1 + s",
          correction="ᾱ_t = f(t)/f(0), f(t) = cos²((t/T + s)/(1 + s) · π/2), s = 0.008; "
          "β_t = min(1 - ᾱ_t/ᾱ_{t-1}, 0.999)")),
    ("seed 003: β_t from the cosine ᾱ_t", Step("truth: β_t = 1 - α_t", "1 - a"),
     Step("003 cosine β", "1 - alpha_bar/abp", written="β_t = 1 - ᾱ_t/ᾱ_{t-1}",
          reason="true by ᾱ_t = α_t ᾱ_{t-1}; Nichol & Dhariwal also clip β_t at 0.999")),
    ("seed 000/003: the discrete KL written as -Σ P log(Q/P)",
     Step("truth: Σ P log(P/Q)", "p*log(p/q) + (1 - p)*log((1 - p)/(1 - q))"),
     Step("000 KL", "-(p*log(q/p) + (1 - p)*log((1 - q)/(1 - p)))",
          written="D_KL(P‖Q) = -Σ_x P(x) log(Q(x)/P(x))")),
]
STATED_DOMAINS = {STATED["u"]: UNIT, STATED["s"]: (0, sp.Rational(1, 10)),
                  STATED["a"]: UNIT, STATED["abp"]: UNIT, STATED["p"]: UNIT, STATED["q"]: UNIT}


def stated_reports() -> list[ChainReport]:
    """Each stated formula against its truth (a one-step chain)."""
    context = [(STATED["alpha_bar"], STATED["a"] * STATED["abp"])]
    return [audit_chain(name, [claim], STATED, target=truth, substitutions=context,
                        domains=STATED_DOMAINS) for name, truth, claim in STATED_CLAIMS]


def gibbs_strict_counterexample() -> sp.Expr:
    """Seed 003 states D_KL(P‖Q) > 0; at P = Q the KL is exactly 0 (so it is ≥ 0, = 0 iff
    P = Q). Returns the KL of a two-point P with itself, which sympy reduces to 0."""
    p = STATED["p"]
    return sp.simplify(p * sp.log(p / p) + (1 - p) * sp.log((1 - p) / (1 - p)))


def all_reports() -> list[ChainReport]:
    """Every audited chain, in the order of the errata table."""
    return forward_reports() + mu_tilde_reports() + elbo_reports() + stated_reports()


NOTES = """\
Symbols in the counterexamples: alpha_k = α_k and x_k at t = 4 (the forward chains); a = α_t,
abp = ᾱ_{t-1}, sigma2 = σ_t², eps_theta = ε_θ (μ̃_t and L_t); lq_k = log q(x_k|x_{k-1}),
lp_k = log p_θ(x_{k-1}|x_k), lpT = log p(x_T), lpost_k = log q(x_{k-1}|x_k,x_0),
lm_k = log q(x_k|x_0) (the bound, T = 3); u = t/T (the cosine schedule).

Notes that the audit of equalities cannot express:

- seed 003 (Gibbs' inequality) states D_KL(P‖Q) > 0. At P = Q it is exactly 0: the statement
  is D_KL(P‖Q) ≥ 0, with equality if and only if P = Q (checked in
  `verification/symbolic/test_audit.py`).
- seed 000 writes q(x_t|x_{t-1}) := N(x; √(1-β_t) x_{t-1}, β_t I): the density's variable is
  x_t, not x.
- seed 002 calls the ε-form of the bound's t-th term L_t; with the paper's indexing it is
  L_{t-1} = D_KL(q(x_{t-1}|x_t,x_0) ‖ p_θ(x_{t-1}|x_t)).
- seed 002 says L_T "can be ignored" because q has no learnable parameters; it is constant only
  while β_t is fixed (Kingma et al. 2021 learn it), and it is part of the reported NLL.
"""


def main() -> None:
    """Print the errata table (Markdown) to standard output."""
    print(render_markdown(all_reports(), title="Errata of the source notes", notes=NOTES), end="")


if __name__ == "__main__":
    main()
