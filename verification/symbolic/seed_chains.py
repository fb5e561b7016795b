"""The derivations of the project's source notes, transcribed line by line, and their audit.

Sources (in ``shared/seeds/``, not shipped with the package, so the lines are copied here):
``002`` is a review of DDPM with worked derivations; its chains of equalities are transcribed
here, every other formula and claim of the four notes in :mod:`verification.audit`. Each
chain is audited with :func:`ddpm_math.symbolic.equality_audit.audit_chain` against the
previous line and against the true result, which is stated independently here from
the model's definitions (the one-step kernel, Bayes' rule, the Gaussian KL derived by
:mod:`ddpm_math.symbolic.kl`). Concrete indices stand in for the notes' general t: t = 4 for
the forward chain (so that x_{t-1}, x_{t-2}, x_{t-3} and x_0 are distinct), T = 3 for the bound.

``python -m verification.symbolic.seed_chains > verification/errata.md`` regenerates the
errata table; a test checks that the committed file is what the audit produces.
"""

from __future__ import annotations

import sympy as sp

from ddpm_math.symbolic import kl as symbolic_kl
from ddpm_math.symbolic.claim_audit import evaluate, render_errata, rows_from_chain
from ddpm_math.symbolic.equality_audit import ChainReport, Step, audit_chain

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
    Step("002 (1)", "sqrt(1 - beta_4)*x_3 + sqrt(beta_4)*e_4", line="41",
         written="q(x_t|x_{t-1}) = N(x_t, √(1-β_t) x_{t-1}, β_t I)   (1)",
         remark="the density, compared as the law of √(1-β_t) x_{t-1} + √β_t ε."),
    Step("002 (2)", "sqrt(1 - beta_4)*x_3 + sqrt(beta_4)*eps", line="43",
         written="= √(1-β_t) x_{t-1} + √β_t ε   (2)",
         slip="a density (line 41) is set equal to a sample; read as x_t = √(1-β_t) x_{t-1} + "
         "√β_t ε with ε ~ N(0, I), it has the distribution of line 41.",
         correction="x_t = √(1-β_t) x_{t-1} + √β_t ε, ε ~ N(0, I), i.e. x_t ~ q(x_t|x_{t-1})"),
    Step("002 (3)", "sqrt(alpha_4)*x_3 + sqrt(1 - alpha_4)*eps", line="45",
         written="= √α_t x_{t-1} + √(1-α_t) ε   (3)"),
    Step("002 (4)", "sqrt(alpha_4*alpha_3)*x_2 + sqrt(1 - alpha_4*alpha_3)*eps", line="47",
         written="= √(α_t α_{t-1}) x_{t-2} + √(1-α_t α_{t-1}) ε   (4)",
         remark="equal in distribution (x_{t-1} unrolled with an independent noise)."),
    Step("002 (5)", "sqrt(alpha_4*alpha_3*alpha_2)*x_1 + sqrt(1 - alpha_4*alpha_3*alpha_2)*eps",
         line="49", written="= √(α_t α_{t-1} α_{t-2}) x_{t-3} + √(1-α_t α_{t-1} α_{t-2}) ε   (5)"),
    Step("002 (6)", "sqrt(alpha_4*alpha_3*alpha_2*alpha_1*alpha_0)*x_0"
         " + sqrt(1 - alpha_4*alpha_3*alpha_2*alpha_1*alpha_0)*eps", line="51",
         written="= √(α_t α_{t-1} … α_1 α_0) x_0 + √(1 - α_t α_{t-1} … α_1 α_0) ε   (6)",
         remark="there is no α_0: the product runs over s = 1..t.",
         correction="√(α_t ⋯ α_1) x_0 + √(1 - α_t ⋯ α_1) ε"),
    Step("002 (7)", "sqrt(alpha_bar_4)*x_0 + sqrt(1 - alpha_bar_4)*eps", line="53",
         written="= √ᾱ_t x_0 + √(1-ᾱ_t) ε   (7)"),
    Step("002 (8)", gaussian=("sqrt(alpha_bar_4)*x_0", "1 - alpha_bar_4"), line="55",
         written="q(x_t|x_0) = N(x_t; √ᾱ_t x_0, (1-ᾱ_t) I)   (8)"),
]

STEPS_3_AND_4 = [
    Step("002 3-4 a", "sqrt(1 - beta_4)*x_3 + sqrt(beta_4)*eps_3", line="60 r1",
         written="x_t = √(1-β_t) x_{t-1} + √β_t ε_{t-1}"),
    Step("002 3-4 b", "sqrt(alpha_4)*x_3 + sqrt(1 - alpha_4)*eps_3", line="60 r2",
         written="= √α_t x_{t-1} + √(1-α_t) ε_{t-1}"),
    Step("002 3-4 c", "sqrt(alpha_4)*(sqrt(alpha_3)*x_2 + sqrt(1 - alpha_3)*eps_2)"
         " + sqrt(1 - alpha_4)*eps_3", line="60 r3",
         written="= √α_t (√α_{t-1} x_{t-2} + √(1-α_{t-1}) ε_{t-2}) + √(1-α_t) ε_{t-1}"),
    Step("002 3-4 d", "sqrt(alpha_4*alpha_3)*x_2 + sqrt(alpha_4*(1 - alpha_3))*eps_2"
         " + sqrt(1 - alpha_4)*eps_3", line="60 r4",
         written="= √(α_t α_{t-1}) x_{t-2} + √(α_t(1-α_{t-1})) ε_{t-2} + √(1-α_t) ε_{t-1}"),
    Step("002 3-4 e", "sqrt(alpha_4*alpha_3)*x_2 + sqrt(1 - alpha_4*alpha_3)*eps_bar", line="82",
         written="= √(α_t α_{t-1}) x_{t-2} + √(1-α_t α_{t-1}) ε̄_{t-2}",
         remark="two noises merged into one: equal in distribution because ε_{t-2} and "
         "ε_{t-1} are independent (fresh noise at each step of the Markov chain)."),
    Step("002 3-4 f", "sqrt(alpha_4*alpha_3*alpha_2*alpha_1)*x_0"
         " + sqrt(1 - alpha_4*alpha_3*alpha_2*alpha_1)*eps", line="84",
         written="= √(α_t α_{t-1} ⋯ α_1) x_0 + √(1 - α_t α_{t-1} … α_1) ε",
         remark="here the product correctly stops at α_1 (compare line 51)."),
    Step("002 3-4 g", "sqrt(alpha_bar_4)*x_0 + sqrt(1 - alpha_bar_4)*eps", line="86",
         reason="same result in line 7 above", written="= √ᾱ_t x_0 + √(1-ᾱ_t) ε"),
]

VARIANCE_SUM = [
    Step("002 var a", "alpha_4*(1 - alpha_3) + (1 - alpha_4)", line="78",
         written="Z ~ N(0, σ_X² + σ_Y²) ⋯→ σ_X² + σ_Y² = α_t(1-α_{t-1}) + (1-α_t)"),
    Step("002 var b", "alpha_4 - alpha_4*alpha_3 + 1 - alpha_4", line="79",
         written="= α_t - α_t α_{t-1} + 1 - α_t"),
    Step("002 var c", "1 - alpha_4*alpha_3", line="80",
         written="Z ~ N(0, (1 - α_t α_{t-1}) I) ← ⋯ = 1 - α_t α_{t-1}"),
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
    Step("002 μ̃ 0", f"{_C1} + sqrt(abp)*beta/(1 - alpha_bar)*x_0", line="126 r0",
         written="μ̃_t = √α_t(1-ᾱ_{t-1})/(1-ᾱ_t) x_t + √ᾱ_{t-1}β_t/(1-ᾱ_t) x_0"),
    Step("002 μ̃ 1", f"{_C1} + sqrt(abp)*beta/(1 - alpha_bar)/sqrt(alpha_bar)"
         "*(x_t - sqrt(1 - alpha_bar)*eps)", reason="Substitute x_0", line="126 r1",
         written="... + √ᾱ_{t-1}β_t/(1-ᾱ_t) · 1/√ᾱ_t (x_t - √(1-ᾱ_t) ε_t)"),
    Step("002 μ̃ 2", f"{_C1} + sqrt(abp)*beta/(1 - alpha_bar)/sqrt(abp*a)"
         "*(x_t - sqrt(1 - alpha_bar)*eps)", reason="Break up α_t", line="126 r2",
         written="... + √ᾱ_{t-1}β_t/(1-ᾱ_t) · 1/√(ᾱ_{t-1}α_t) (x_t - √(1-ᾱ_t) ε_t)"),
    Step("002 μ̃ 3", f"{_C1} + beta/(sqrt(a)*(1 - alpha_bar))*(x_t - sqrt(1 - alpha_bar)*eps)",
         reason="Cancel terms", line="126 r3",
         written="... + β_t/(√α_t(1-ᾱ_t)) (x_t - √(1-ᾱ_t) ε_t)"),
    Step("002 μ̃ 4", f"{_C1} + beta/(sqrt(a)*(1 - alpha_bar))*x_t"
         " - beta/(sqrt(a)*(1 - alpha_bar))*sqrt(1 - alpha_bar)*eps", reason="Break up terms",
         line="126 r4",
         written="... + β_t/(√α_t(1-ᾱ_t)) x_t - β_t/(√α_t(1-ᾱ_t)) √(1-ᾱ_t) ε_t"),
    Step("002 μ̃ 5", f"{_C1} + (1 - a)/(sqrt(a)*(1 - alpha_bar))*x_t"
         " - (1 - a)/(sqrt(a)*(1 - alpha_bar))*sqrt(1 - alpha_bar)*eps", reason="Substitute β_t",
         line="126 r5",
         written="... + (1-α_t)/(√α_t(1-ᾱ_t)) x_t - (1-α_t)/(√α_t(1-ᾱ_t)) √(1-ᾱ_t) ε_t"),
    Step("002 μ̃ 6", "a/sqrt(a)*(1 - abp)/(1 - alpha_bar)*x_t"
         " + (1 - a)/(sqrt(a)*(1 - alpha_bar))*x_t"
         " - (1 - a)/sqrt(a)*sqrt(1 - alpha_bar)/(1 - alpha_bar)*eps",
         reason="Reformulate √α_t", line="126 r6",
         written="α_t/√α_t · (1-ᾱ_{t-1})/(1-ᾱ_t) x_t + ... - (1-α_t)/√α_t · √(1-ᾱ_t)/(1-ᾱ_t) ε_t"),
    Step("002 μ̃ 7", "(a - abp*a)/(sqrt(a)*(1 - alpha_bar))*x_t"
         " + (1 - a)/(sqrt(a)*(1 - alpha_bar))*x_t"
         " - (1 - a)/sqrt(a)*(1 - alpha_bar)/sqrt(1 - alpha_bar)*eps",
         reason="Reformulate √(1-ᾱ_t)/(1-ᾱ_t)", line="126 r7",
         written="(α_t - ᾱ_{t-1}α_t)/(√α_t(1-ᾱ_t)) x_t + ... - (1-α_t)/√α_t · (1-ᾱ_t)/√(1-ᾱ_t) ε_t",
         correction="√(1-ᾱ_t)/(1-ᾱ_t) = 1/√(1-ᾱ_t), not (1-ᾱ_t)/√(1-ᾱ_t) = √(1-ᾱ_t)"),
    Step("002 μ̃ 8", "(a - abp*a)/(sqrt(a)*(1 - alpha_bar))*x_t"
         " - (1 - a)/(sqrt(a)*(1 - alpha_bar))*eps", reason="Combine terms", line="126 r8",
         written="(α_t - ᾱ_{t-1}α_t)/(√α_t(1-ᾱ_t)) x_t - (1-α_t)/(√α_t(1-ᾱ_t)) ε_t",
         correction="(1-ᾱ_t)/(√α_t(1-ᾱ_t)) x_t - (1-α_t)/(√α_t √(1-ᾱ_t)) ε: the second x_t "
         "term must be added to the first, not dropped"),
    Step("002 μ̃ 9", "(1 - alpha_bar)/(sqrt(a)*(1 - alpha_bar))*x_t - (1 - a)/sqrt(a)*eps",
         reason="Cancel terms", line="126 r9",
         remark="the note also writes √α without its subscript.",
         written="(1-ᾱ_t)/(√α_t(1-ᾱ_t)) x_t - (1-α_t)/√α ε_t",
         correction="1/√α_t x_t - (1-α_t)/(√α_t √(1-ᾱ_t)) ε"),
    Step("002 μ̃ 10", "1/sqrt(a)*x_t - 1/sqrt(a)*(1 - a)/sqrt(1 - alpha_bar)*eps",
         reason="Cancel terms", line="126 r10",
         written="1/√α_t x_t - 1/√α_t · (1-α_t)/√(1-ᾱ_t) ε_t"),
    Step("002 μ̃ 11", "1/sqrt(a)*(x_t - (1 - a)/sqrt(1 - alpha_bar)*eps)",
         reason="Cancel terms", line="126 r11",
         written="1/√α_t (x_t - (1-α_t)/√(1-ᾱ_t) ε_t)"),
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
_L_MEAN_FORM = (f"1/(2*sigma2)*({_MU_EPS.format(noise='eps')}"
                f" - {_MU_EPS.format(noise='eps_theta')})**2")
_L_CORRECTION = ("L_{t-1} = E[‖μ̃_t - μ_θ‖²/(2σ_t²)] + C, C = ½(log(σ_t²/β̃_t) + β̃_t/σ_t² - 1) "
                 "per dimension (DDPM eq. 8)")
L_T = [
    Step("002 L_t 0", _L_MEAN_FORM, line="139",
         written="L_t = E_{x_0,ε}[1/(2σ_t²) ‖μ̃_t(x_t) - μ_θ(x_t, t)‖²]",
         reason="The authors use a simple Mean Squared Error to compare the actual mean and "
         "predicted mean.",
         remark="the KL of eq. (8) without its constant C (which does not depend on θ, so the "
         "gradient is unaffected), and named L_t for the paper's L_{t-1}.",
         correction=_L_CORRECTION),
    Step("002 L_t 1", _L_MEAN_FORM, line="141",
         written="= E_{x_0,ε}[1/(2σ_t²) ‖1/√α_t (x_t - (1-α_t)/√(1-ᾱ_t) ε_t) - 1/√α_t (x_t - "
         "(1-α_t)/√(1-ᾱ_t) ε_θ(x_t,t))‖²]", correction="the same, + C"),
    Step("002 L_t 2", "(1 - a)**2/(2*a*(1 - alpha_bar)*sigma2)*(eps - eps_theta)**2", line="143",
         written="= E_{x_0,ε}[(1-α_t)²/(2α_t(1-ᾱ_t)σ_t²) ‖ε_t - ε_θ(x_t,t)‖²]",
         remark="eq. (12)'s weight β_t²/(2σ_t² α_t (1-ᾱ_t)) with β_t = 1-α_t.",
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
# lpT_given_x0 = log p_θ(x_T|x_0) is free too: under p_θ it is not log p(x_T) (by Bayes'
# rule it is log p_θ(x_0|x_T) + log p(x_T) - log p_θ(x_0)), so no substitution relates them.

ELBO = _symbols("lq_1:4 lp_1:4 lpT lpT_given_x0 lpost_2:4 lm_1:4 lpjoint", real=True)
_S = ELBO
ELBO_CONTEXT = [
    *[(_S[f"lq_{k}"], _S[f"lpost_{k}"] + _S[f"lm_{k}"] - _S[f"lm_{k - 1}"]) for k in (2, 3)],
    (_S["lq_1"], _S["lm_1"]),
    (_S["lpjoint"], _S["lpT"] + _S["lp_1"] + _S["lp_2"] + _S["lp_3"]),
]
ELBO_TARGET = Step("truth: log q(x_{1:T}|x_0) - log p_θ(x_{0:T})",
                   "lq_1 + lq_2 + lq_3 - lpT - lp_1 - lp_2 - lp_3")


def _sum(template: str, ks=(2, 3)) -> str:
    return "(" + " + ".join(template.format(k=k, j=k - 1) for k in ks) + ")"


_R = "114 r{}".format
_BOUND = "-lpT + " + _sum("(lpost_{k} - lp_{k})")
ELBO_CHAIN = [
    Step("002 bound a", "-(lpjoint - lpjoint)", line="108",
         written="E[-log p_θ(x_0)] ≤ E_q[-log p_θ(x_{0:T})/p_θ(x_{0:T})] =: L",
         remark="the denominator should be q(x_{1:T}|x_0); as written L = 0.",
         correction="E_q[-log p_θ(x_{0:T})/q(x_{1:T}|x_0)]"),
    Step("002 bound b", "-(lpjoint - lq_1 - lq_2 - lq_3)", line="110",
         written="E[-log p_θ(x_0)] ≤ E_q[-log p_θ(x_{0:T})/q(x_{1:T}|x_0)] =: L",
         remark="DDPM eq. (3); it restates line 106 under E_q, and corrects line 108."),
    Step("002 ELBO 0", "lq_1 + lq_2 + lq_3 - lpT - lp_1 - lp_2 - lp_3", line=_R(0),
         written="L = E_q[log(q(x_{1:T}|x_0)/p_θ(x_{0:T}))]"),
    Step("002 ELBO 1", _sum("(lq_{k} - lp_{k})", (1, 2, 3)), line=_R(1), reason="Product form",
         written="= E_q[log(∏_{t=1}^T q(x_t|x_{t-1}) / p_θ(x_{t-1}|x_t))]",
         remark="p(x_T) is lost, and the denominator's t is a free index (the product covers "
         "the numerator only); read as ∏_t (q/p_θ).",
         correction="E_q[log(∏_t q(x_t|x_{t-1}) / (p(x_T) ∏_t p_θ(x_{t-1}|x_t)))]"),
    Step("002 ELBO 2", "-lpT + " + _sum("(lq_{k} - lp_{k})", (1, 2, 3)), line=_R(2),
         written="= E_q[-log p(x_T) + Σ_{t=1}^T log(q(x_t|x_{t-1})/p_θ(x_{t-1}|x_t))]",
         reason="Turn products into sums"),
    Step("002 ELBO 3", "-lpT + " + _sum("(lq_{k} - lp_{k})") + " + (lq_1 - lp_1)", line=_R(3),
         reason="Split up summation",
         written="= E_q[-log p(x_T) + Σ_{t=2}^T log(q(x_t|x_{t-1})/p_θ(x_{t-1}|x_t)) "
         "+ log(q(x_1|x_0)/p_θ(x_0|x_1))]"),
    Step("002 ELBO 4", "-lpT + " + _sum("(lpost_{k} + lm_{k} - lp_{k})") + " + (lq_1 - lp_1)",
         line=_R(4), reason="Bayes' rule and condition on x_0",
         written="= E_q[… + Σ_{t=2}^T log(q(x_{t-1}|x_t,x_0) q(x_t|x_0) / p_θ(x_{t-1}|x_t)) + …]",
         remark="q(x_t|x_{t-1}) = q(x_t|x_{t-1},x_0) uses the Markov property; Bayes' rule "
         "then divides by q(x_{t-1}|x_0), which is missing.",
         correction="Σ_{t≥2} log(q(x_{t-1}|x_t,x_0) q(x_t|x_0) / (p_θ(x_{t-1}|x_t) "
         "q(x_{t-1}|x_0)))"),
    Step("002 ELBO 5", "-lpT + " + _sum("(lpost_{k} + lm_{k} - lp_{k})")
         + " + " + _sum("(lm_{k} - lm_{j})") + " + (lq_1 - lp_1)", line=_R(5),
         reason="Split up summation",
         written="= E_q[… + Σ_{t=2}^T log(q(x_{t-1}|x_t,x_0) q(x_t|x_0)/p_θ(x_{t-1}|x_t)) "
         "+ Σ_{t=2}^T log(q(x_t|x_0)/q(x_{t-1}|x_0)) + …]",
         correction="the first sum must lose its q(x_t|x_0) when the ratio sum is split off"),
    Step("002 ELBO 6", _BOUND + " + (lm_1 - lm_1) + (lq_1 - lp_1)", line=_R(6),
         reason="Simplify summation",
         written="= E_q[… + Σ_{t=2}^T log(q(x_{t-1}|x_t,x_0)/p_θ(x_{t-1}|x_t)) "
         "+ log(q(x_1|x_0)/q(x_1|x_0)) + log(q(x_1|x_0)/p_θ(x_0|x_1))]",
         correction="Σ_{t≥2} log(q(x_t|x_0)/q(x_{t-1}|x_0)) telescopes to "
         "log(q(x_T|x_0)/q(x_1|x_0))"),
    Step("002 ELBO 7", "(lm_3 - lpT) + " + _sum("(lpost_{k} - lp_{k})") + " + lm_3 - lp_1",
         line=_R(7), reason="Combine terms",
         written="= E_q[log(q(x_T|x_0)/p(x_T)) + Σ_{t=2}^T log(q(x_{t-1}|x_t,x_0)/"
         "p_θ(x_{t-1}|x_t)) + log q(x_T|x_0) - log p_θ(x_0|x_1)]",
         correction="drop the extra + log q(x_T|x_0)"),
    Step("002 ELBO 8", "(lm_3 - lpT) + " + _sum("(lpost_{k} - lp_{k})") + " - lp_1",
         line=_R(8), reason="KL divergence notation",
         written="= E_q[log(q(x_T|x_0)/p(x_T)) + Σ_{t=2}^T log(q(x_{t-1}|x_t,x_0)/"
         "p_θ(x_{t-1}|x_t)) - log p_θ(x_0|x_1)]", remark="DDPM eq. (5) before naming the KLs."),
    Step("002 ELBO 9", "(lm_3 - lpT_given_x0) + " + _sum("(lpost_{k} - lp_{k})") + " - lp_1",
         line=_R(9), reason="Combine terms",
         written="= E_q[log(q(x_T|x_0)/p(x_T|x_0)) + Σ_{t=2}^T log(q(x_{t-1}|x_t,x_0)/"
         "p_θ(x_{t-1}|x_t)) - log p_θ(x_0|x_1)]",
         remark="p(x_T) becomes p(x_T|x_0); under the model, p_θ(x_T|x_0) = p_θ(x_0|x_T) p(x_T)"
         "/p_θ(x_0) ≠ p(x_T) (a one-step Gaussian model where they differ is computed in "
         "verification/audit/test_seed002.py), so the checker relates the two by nothing.",
         correction="log(q(x_T|x_0)/p(x_T))"),
    Step("002 ELBO 10", "(lm_3 - lpT_given_x0) + " + _sum("(lpost_{k} - lp_{k})") + " - lp_1",
         line=_R(10), reason="KL divergence notation",
         written="= E_q[log_q(q(x_T|x_0)/p(x_T|x_0)) + Σ_{t=2}^T log_q(q(x_{t-1}|x_t,x_0)/"
         "p_θ(x_{t-1}|x_t)) - log_q(x_0|x_1)]",
         slip="log_q is not a defined symbol, and -log_q(x_0|x_1) reads as -log q(x_0|x_1), "
         "not -log p_θ(x_0|x_1); read as log, and the last term as log p_θ(x_0|x_1), the line "
         "repeats the one before (with its p(x_T|x_0)).",
         correction="D_KL(q(x_T|x_0) ‖ p(x_T)) + Σ_{t>1} D_KL(q(x_{t-1}|x_t,x_0) ‖ "
         "p_θ(x_{t-1}|x_t)) - log p_θ(x_0|x_1), DDPM eq. (5)"),
    Step("002 ELBO 11", "(lm_3 - lpT_given_x0) + " + _sum("(lm_3 - lp_{k})") + " - (lm_3 - lp_1)",
         line=_R(11), reason="KL divergence notation",
         written="= E_q[log_q(q(x_T|x_0)/p(x_T|x_0)) + Σ_{t=2}^T log_q(q(x_T|x_0)/"
         "p_θ(x_{t-1}|x_t)) - log_q(q(x_T|x_0)/p_θ(x_0|x_1))]",
         remark="the numerators of the sum and of the last term become q(x_T|x_0).",
         correction="D_KL(q(x_T|x_0) ‖ p(x_T)) + Σ_{t>1} D_KL(q(x_{t-1}|x_t,x_0) ‖ "
         "p_θ(x_{t-1}|x_t)) - log p_θ(x_0|x_1), DDPM eq. (5)"),
]


def elbo_reports() -> list[ChainReport]:
    """The bound's decomposition in seed 002, DDPM eq. (5), for T = 3."""
    return [audit_chain("seed 002: the bound L and its decomposition (eq. 5), T = 3",
                        ELBO_CHAIN, ELBO, target=ELBO_TARGET, substitutions=ELBO_CONTEXT)]


# ---------------------------------------------------------------------------------------------
# the errata: the chains above and the ledgers of verification.audit, with a coverage table

#: Internal symbol names → the note's symbols, for the counterexamples (forward chains at t = 4,
#: the bound at T = 3).
FWD_DISPLAY = {"alpha_4": "α_t", "alpha_3": "α_{t-1}", "alpha_2": "α_{t-2}", "alpha_1": "α_1",
               "alpha_0": "α_0", "x_0": "x_0", "x_3": "x_{t-1}", "eps": "ε"}
MU_DISPLAY = {"a": "α_t", "abp": "ᾱ_{t-1}", "alpha_bar": "ᾱ_t", "beta": "β_t",
              "sigma2": "σ_t²", "eps": "ε_t", "eps_theta": "ε_θ(x_t,t)", "x_t": "x_t"}
ELBO_DISPLAY = {**{f"lq_{k}": f"log q(x_{k}|x_{k - 1})" for k in (1, 2, 3)},
                **{f"lp_{k}": f"log p_θ(x_{k - 1}|x_{k})" for k in (1, 2, 3)},
                **{f"lpost_{k}": f"log q(x_{k - 1}|x_{k},x_0)" for k in (2, 3)},
                **{f"lm_{k}": f"log q(x_{k}|x_0)" for k in (1, 2, 3)},
                "lpT": "log p(x_3)", "lpT_given_x0": "log p(x_3|x_0)",
                "lpjoint": "log p_θ(x_{0:3})"}

SOURCES = {"000": "000_deced74609840997.txt", "001": "001_25de3e5e0ece3b81.txt",
           "002": "002_798373e4dd351a69.txt", "003": "003_57009665b844266a.txt"}


def all_reports() -> list[ChainReport]:
    """Every audited chain of seed 002, in the order of the note."""
    return forward_reports() + elbo_reports() + mu_tilde_reports()


def chain_sections() -> list[tuple[str, list]]:
    """The chains of seed 002 as errata sections (rows with verdicts and counterexamples)."""
    truths = {
        "seed 002: q(x_t|x_0), eqs. (1)-(8)": ("x_t given x_{t-1} composed with the true "
                                               "kernels, t = 4 (DDPM eq. 2)", FWD_DISPLAY),
        "seed 002: the breakdown of steps 3 and 4": ("the same, t = 4", FWD_DISPLAY),
        "seed 002: the variance of the merged noise": ("1 - α_t α_{t-1}", FWD_DISPLAY),
        "seed 002: the bound L and its decomposition (eq. 5), T = 3": (
            "log q(x_{1:T}|x_0) - log p_θ(x_{0:T}) with Bayes' rule for the Markov chain",
            ELBO_DISPLAY),
        "seed 002: μ̃_t in terms of ε (eq. 7 → eq. 11)": ("DDPM eq. (11)", MU_DISPLAY),
        "seed 002: L_t in terms of ε (eqs. 8, 12)": (
            "KL(q(x_{t-1}|x_t,x_0) ‖ p_θ(x_{t-1}|x_t)) integrated by sympy", MU_DISPLAY),
    }
    sections = []
    for report in all_reports():
        truth, display = truths[report.name]
        title = (f"Seed 002, {SOURCES['002']}: {report.name.removeprefix('seed 002: ')} "
                 f"(truth: {truth})")
        sections.append((title, rows_from_chain(report, "002", display)))
    return sections


def ledgers() -> list:
    """The per-seed ledgers of formulas and claims outside the chains."""
    from verification.audit import seed000, seed001, seed002, seed003_bound
    return [seed000.LEDGER, seed001.LEDGER, seed002.LEDGER, seed003_bound.LEDGER]


def ledger_sections() -> list[tuple[str, list]]:
    """One errata section per ledger, its claims evaluated (checks run)."""
    return [(f"Seed {ledger.seed}, {ledger.source}: formulas and claims"
             + (" outside the chains" if ledger.seed == "002" else ""),
             [evaluate(claim) for claim in ledger.claims]) for ledger in ledgers()]


def all_sections() -> list[tuple[str, list]]:
    """Every errata section, seed by seed."""
    sections = ledger_sections() + chain_sections()
    return sorted(sections, key=lambda section: section[1][0].seed)


def all_left_out() -> list:
    """Items found in the notes and not audited."""
    return [item for ledger in ledgers() for item in ledger.left_out]


NOTES = """\
Lines are the source files' line numbers (1-based); "114 r3" is the fourth row (r0 first) of the
multi-line display on line 114. Chains are audited at a concrete index (t = 4 for the forward
process, T = 3 for the bound): every step against the line before and against the true result.
"""


def render() -> str:
    """The errata (Markdown)."""
    return render_errata(all_sections(), all_left_out(), title="Errata of the source notes",
                         generator="python -m verification.symbolic.seed_chains > "
                         "verification/errata.md", sources=SOURCES, notes=NOTES)


def main() -> None:
    """Print the errata (Markdown) to standard output."""
    print(render(), end="")


if __name__ == "__main__":
    main()
