"""Seed 003 (``003_57009665b844266a.txt``), lines 88-215: variational calculus, the KL, Jensen's
inequality and the bound. Lines 1-87 are in :mod:`verification.audit.seed003_model`.

Not transcribed (not claims): headings, the empty bullets of 117-122, the TODO of 214-215.
"""

from __future__ import annotations

import mpmath as mp
import numpy as np
import sympy as sp
from sympy.calculus.euler import euler_equations

from ddpm_math.symbolic.claim_audit import Claim, Evidence, Kind, Ledger, LeftOut, Verdict
from verification.audit import oracles
from verification.audit.seed000 import check_discrete_kl, check_kl_measures_difference
from verification.audit.seed001 import check_sign_of_the_bound
from verification.audit.seed003_model import CLAIMS as MODEL_CLAIMS
from verification.audit.seed003_model import SOURCE, check_bayes_table

F, C = Kind.FORMULA, Kind.CLAIM
H, HI, E, SLIP = Verdict.HOLDS, Verdict.HOLDS_IF, Verdict.ERROR, Verdict.SLIP

#: The one-step Gaussian model of :mod:`.oracles` with data x_0 ~ N(0, 2), α_1 = ½, s = ½.
TOY = {"s": mp.mpf("0.5"), "alpha": mp.mpf("0.5"), "v": mp.mpf(2)}


def toy_argmins() -> tuple:
    """θ minimising E[-log p_θ(x_0)] (θ² + s = v) and θ minimising E[L] (θ = E[x_0 x_1] /
    E[x_1²] = √α v/(α v + 1 - α)), each from its own closed form."""
    s, alpha, v = TOY["s"], TOY["alpha"], TOY["v"]
    return mp.sqrt(v - s), mp.sqrt(alpha) * v / (alpha * v + 1 - alpha)


def check_euler_lagrange_is_necessary_only() -> Evidence:
    """F = y'² - y² on [0, 4], y(0) = y(4) = 0: y = 0 solves the Euler-Lagrange equation but
    J[sin(πx/4)] < 0 = J[0]; for the convex F = y'² the solution y = 0 is the minimiser."""
    x = sp.Symbol("x", real=True)
    y = sp.Function("y")
    equation = euler_equations(y(x).diff(x) ** 2 - y(x) ** 2, y(x), x)[0]
    zero_solves = sp.simplify(equation.lhs.subs(y(x), 0).doit()) == 0
    bump = sp.sin(sp.pi * x / 4)
    value = sp.integrate(bump.diff(x) ** 2 - bump**2, (x, 0, 4))
    convex = sp.integrate(bump.diff(x) ** 2, (x, 0, 4))
    return Evidence(not (zero_solves and value < 0), under_condition=bool(convex > 0),
                    counterexample=f"F = y'² - y² on [0, 4] with y(0) = y(4) = 0: y = 0 solves "
                    f"the equation, J[0] = 0 but J[sin(πx/4)] = {sp.nsimplify(value)} = "
                    f"{float(value):.4f} < 0")


def check_straight_line() -> Evidence:
    """Euler-Lagrange for F = √(1 + y'²) reduces to y'' = 0 (sympy)."""
    x = sp.Symbol("x", real=True)
    y = sp.Function("y")
    equation = euler_equations(sp.sqrt(1 + y(x).diff(x) ** 2), y(x), x)[0]
    line = sp.Symbol("a") * x + sp.Symbol("b")
    on_line = sp.simplify(equation.lhs.subs(y(x), line).doit()) == 0
    on_parabola = sp.simplify(equation.lhs.subs(y(x), x**2).doit()) == 0
    return Evidence(on_line and not on_parabola, detail="a x + b solves it, x² does not")


def check_gibbs_strict() -> Evidence:
    """D_KL(P‖Q) > 0 fails at P = Q, where it is 0; ≥ 0 holds at random pairs."""
    p = oracles.random_distribution(5, 3)
    at_equal = oracles.kl_discrete(p, p)
    return Evidence(at_equal > 0, counterexample=f"P = Q (a random 5-point P): D_KL = "
                    f"{at_equal:g}, not > 0")


def check_joint_convexity() -> Evidence:
    """The convexity inequality at 200 seeded random (P1, Q1, P2, Q2, λ); the reversed
    inequality (concavity) fails at some of them."""
    rng = np.random.default_rng(4)
    slack = []
    for k in range(200):
        p1, q1, p2, q2 = (oracles.random_distribution(4, 1000 + 4 * k + i) for i in range(4))
        lam = rng.uniform(0, 1)
        left = oracles.kl_discrete(lam * p1 + (1 - lam) * p2, lam * q1 + (1 - lam) * q2)
        slack.append(lam * oracles.kl_discrete(p1, q1) + (1 - lam) * oracles.kl_discrete(p2, q2)
                     - left)
    return Evidence(min(slack) >= -1e-12 and max(slack) > 0,
                    detail=f"min slack over 200 random draws {min(slack):.2e} ≥ 0")


def check_jensen_needs_convexity() -> Evidence:
    """f(E[X]) ≤ E[f(X)] fails for the concave f(x) = -x² with X = ±1 (equally likely), and
    holds for the convex f = -log at 100 random positive discrete X."""
    concave_left, concave_right = -(0.0**2), -(1.0 + 1.0) / 2
    ok_convex = True
    for k in range(100):
        values = np.random.default_rng(k).uniform(0.05, 3, 5)
        weights = oracles.random_distribution(5, 500 + k)
        ok_convex &= -np.log(weights @ values) <= weights @ -np.log(values) + 1e-12
    return Evidence(concave_left <= concave_right, under_condition=bool(ok_convex),
                    counterexample="f(x) = -x², X = ±1 with probability ½: f(E[X]) = 0 > "
                    "E[f(X)] = -1")


def check_minimising_bound_can_raise_nll() -> Evidence:
    """Moving θ from the NLL's minimiser to the bound's lowers E[L] and raises E[-log p_θ]."""
    theta_nll, theta_bound = toy_argmins()
    s, alpha, v = TOY["s"], TOY["alpha"], TOY["v"]
    bound = [oracles.toy_expected_bound(t, s, alpha, v) for t in (theta_nll, theta_bound)]
    nll = [oracles.toy_expected_nll(t, s, v) for t in (theta_nll, theta_bound)]
    return Evidence(not (bound[1] < bound[0] and nll[1] > nll[0]),
                    counterexample=f"T = 1, x_0 ~ N(0, 2), α_1 = s = ½, p_θ(x_0|x_1) = "
                    f"N(θ x_1, s): θ {mp.nstr(theta_nll, 5)} → {mp.nstr(theta_bound, 5)} lowers "
                    f"E[L] {mp.nstr(bound[0], 5)} → {mp.nstr(bound[1], 5)} but raises "
                    f"E[-log p_θ(x_0)] {mp.nstr(nll[0], 5)} → {mp.nstr(nll[1], 5)}")


def check_argmins_differ() -> Evidence:
    """argmin_θ E[L] ≠ argmin_θ E[-log p_θ(x_0)] in the same model."""
    theta_nll, theta_bound = toy_argmins()
    return Evidence(abs(theta_nll - theta_bound) < mp.mpf("1e-3"),
                    counterexample=f"same model: argmin E[-log p_θ(x_0)] = "
                    f"{mp.nstr(theta_nll, 6)}, argmin E[L] = {mp.nstr(theta_bound, 6)}")


def check_not_tight_at_the_minimiser() -> Evidence:
    """At argmin E[L] the gap E[L] - E[-log p_θ] (= E KL(q ‖ p_θ(x_1|x_0))) is > 0: q is fixed
    and is not the model's posterior."""
    _, theta = toy_argmins()
    s, alpha, v = TOY["s"], TOY["alpha"], TOY["v"]
    gap = oracles.toy_expected_bound(theta, s, alpha, v) - oracles.toy_expected_nll(theta, s, v)
    return Evidence(gap < mp.mpf("1e-20"), counterexample=f"gap at argmin E[L]: "
                    f"{mp.nstr(gap, 5)} > 0")


def check_bound_in_expectation() -> Evidence:
    """E_{data} E_q[L] ≥ E[-log p_θ(x_0)] at 50 random (θ, s, α, v)."""
    rng = np.random.default_rng(7)
    gaps = []
    for _ in range(50):
        theta, s, alpha, v = (mp.mpf(float(u)) for u in (rng.uniform(-2, 2),
                              *rng.uniform(0.05, 0.95, 2), rng.uniform(0.2, 3)))
        gaps.append(oracles.toy_expected_bound(theta, s, alpha, v)
                    - oracles.toy_expected_nll(theta, s, v))
    return Evidence(min(gaps) >= 0, detail=f"min gap over 50 random models "
                    f"{mp.nstr(min(gaps), 3)} ≥ 0")


def check_log_of_products() -> Evidence:
    """-log(p(x_T) ∏ p_t / ∏ q_t) = -log p(x_T) - Σ log(p_t/q_t) for positive symbols (T = 3)."""
    prior = sp.Symbol("pT", positive=True)
    p = sp.symbols("p1:4", positive=True)
    q = sp.symbols("q1:4", positive=True)
    left = -sp.log(prior * sp.Mul(*p) / sp.Mul(*q))
    right = -sp.log(prior) - sum(sp.log(pi / qi) for pi, qi in zip(p, q, strict=True))
    wrong = -sum(sp.log(pi / qi) for pi, qi in zip(p, q, strict=True))
    ok = (sp.simplify(sp.expand_log(left - right, force=True)) == 0
          and sp.simplify(sp.expand_log(left - wrong, force=True)) != 0)
    return Evidence(ok, detail="log algebra (sympy, T = 3)")


def check_chain_rule_model() -> Evidence:
    """p(x_0) = p(x_{0:2})/p(x_{1:2}|x_0) on a random joint table (no Markov property needed)."""
    joint = oracles.random_joint((2, 3, 3), 21)
    p0 = joint.sum(axis=(1, 2))
    posterior = joint / p0[:, None, None]
    return Evidence(bool(np.allclose(joint / posterior, p0[:, None, None]))
                    and check_bayes_table().as_written, detail="a random 2×3×3 table")


def check_ideal_equality_needs_posterior() -> Evidence:
    """p_θ(x_0) = q(x_0) with θ = 0, s = v = 1 (so p_θ(x_0) = N(0, 1)) leaves a gap; with
    θ = √α, s = 1 - α the model's posterior is q(x_1|x_0) and the gap is 0."""
    alpha, v = mp.mpf("0.5"), mp.mpf(1)
    gap = lambda theta, s: (oracles.toy_expected_bound(theta, s, alpha, v)  # noqa: E731
                            - oracles.toy_expected_nll(theta, s, v))
    marginal_only = gap(mp.mpf(0), mp.mpf(1))
    posterior_match = gap(mp.sqrt(alpha), 1 - alpha)
    return Evidence(abs(marginal_only) < mp.mpf("1e-20"),
                    under_condition=abs(posterior_match) < mp.mpf("1e-40"),
                    counterexample=f"x_0 ~ N(0, 1), α_1 = ½, p_θ(x_0|x_1) = N(0, 1): "
                    f"p_θ(x_0) = q(x_0) yet E[L] - E[-log p_θ(x_0)] = {mp.nstr(marginal_only, 5)}")


def check_bound_is_not_a_density() -> Evidence:
    """The expression is a number per x_0 and can be negative: θ = 0.1, s = 0.01, α_1 = ½,
    x_0 = 0 gives L < 0 (a density cannot be)."""
    value = oracles.toy_bound(mp.mpf(0), mp.mpf("0.1"), mp.mpf("0.01"), mp.mpf("0.5"))
    return Evidence(value >= 0, counterexample=f"T = 1, x_0 = 0, θ = 0.1, s = 0.01, α_1 = ½: "
                    f"the expression equals {mp.nstr(value, 5)} < 0")


def check_expected_nll_continuous() -> Evidence:
    """∫ N(x; 0, v)(-log N(x; 0, w)) dx = ½ log(2πw) + v/(2w) (mpmath quadrature)."""
    v, w = mp.mpf("0.7"), mp.mpf("1.3")
    value = mp.quad(lambda x: -mp.exp(oracles.log_normal(x, 0, v)) * oracles.log_normal(x, 0, w),
                    [-mp.inf, mp.inf])
    return Evidence(abs(value - (mp.log(2 * mp.pi * w) / 2 + v / (2 * w))) < mp.mpf("1e-30"),
                    detail="the cross-entropy of two Gaussians by quadrature")


def _c(line, kind, written, verdict, remark, quote, **kw) -> Claim:
    return Claim("003", line, kind, written, verdict, remark, quote=quote, **kw)


CLAIMS = [
    _c("95", F, "f(x) = x² ⇒ f(3) = 9", H, "Arithmetic.", r"f(x)=x^2 \Rightarrow f(3)=9",
       basis="arithmetic", check=lambda: Evidence(3**2 == 9)),
    _c("96", F, "J[y] = ∫_0^1 y(x)² dx takes the entire function y(x) and outputs a number", H,
       "A functional.", r"J[y]=\int_0^1 y(x)^2\,dx", basis="definition"),
    _c("98", C, "Variational Calculus finds the function y(x) that minimizes or maximizes a "
       "functional", H, "Its aim; it finds stationary functions (see line 108).",
       "minimizes or maximizes a functional", basis="definition"),
    _c("101", F, "J[y] = ∫_{x_0}^{x_1} F(x, y, y') dx, y' = dy/dx", H, "Definition.",
       r"J[y] = \int_{x_0}^{x_1} F(x, y, y')\, dx", basis="definition"),
    _c("108", F, "The solution is given by the Euler–Lagrange equation: ∂F/∂y - d/dx(∂F/∂y') = 0",
       HI, "The equation is necessary for an extremum, not sufficient; its solutions are "
       "stationary functions.", r"\frac{\partial F}{\partial y} - \frac{d}{dx}",
       condition="'solution' means a stationary function (a necessary condition for a smooth "
       "extremum with fixed end points); a minimiser needs more, e.g. F convex in (y, y')",
       basis="sympy euler_equations and integration",
       check=check_euler_lagrange_is_necessary_only),
    _c("112", C, "Straight line on flat plane: F = √(1+y'²) (arc length), Euler–Lagrange gives "
       "y'' = 0 ⇒ y = ax+b, the curve of shortest length.", H, "Shortest by convexity of F in y'.",
       "Straight line on flat plane", basis="sympy euler_equations", check=check_straight_line),
    _c("113", C, "Great circle on a sphere: Euler–Lagrange with the constraint yields geodesics "
       "(great circles). Multiple geodesics can connect two points, especially antipodal ones.",
       H, "Two arcs of one great circle join any two points; antipodal points are joined by "
       "infinitely many great circles.", "Multiple geodesics can connect two points",
       basis="argument"),
    _c("120", C, "Unobserved variables U = {U_1 … U_n} given some data X is approximated by a "
       "variational distribution Q(U)", H, "The setting of variational Bayes.",
       "is approximated by a variational distribution", basis="definition"),
    _c("126", C, "D_KL(P‖Q) measures of how much a model probability distribution Q is "
       "different from a true probability distribution P.", H, "Convention.",
       "measures of how much a model probability distribution", basis="definition",
       check=check_kl_measures_difference),
    _c("129", F, "D_KL(P‖Q) = Σ_x P(x) log(P(x)/Q(x)) = - Σ_x P(x) log(Q(x)/P(x))", H,
       "Both forms are the definition.", r"\log \frac{P(x)}{Q(x)} = -",
       basis="numpy, 20 random pairs", check=check_discrete_kl),
    _c("132", C, "It is the expectation of the logarithmic difference between the probabilities "
       "P and Q, where the expectation is taken using the probabilities P.", H,
       "E_P[log P - log Q].", "logarithmic difference", basis="definition",
       check=check_discrete_kl),
    _c("135", F, "D_KL(P‖Q) > 0", E, "Gibbs' inequality is not strict.",
       r"{\displaystyle D_{\text{KL}}(P\parallel Q)} > 0",
       correction="D_KL(P‖Q) ≥ 0, with equality if and only if P = Q", basis="numpy",
       check=check_gibbs_strict),
    _c("136", F, "D_KL(P‖Q) = 0 when P = Q", H, "(and only then).", "= 0$ when $P = Q$",
       basis="numpy", check=check_kl_measures_difference),
    _c("140", F, "D_KL(λP_1 + (1-λ)P_2 ‖ λQ_1 + (1-λ)Q_2) ≤ λ D_KL(P_1‖Q_1) + (1-λ) "
       "D_KL(P_2‖Q_2)", H, "Joint convexity (the log-sum inequality).",
       r"D_{\mathrm{KL}}\!\bigl(\lambda P_1", basis="numpy, 200 seeded random draws",
       note_words="Relative entropy (KL divergence) is convex in the pair of probability "
       "measures (P, Q)", check=check_joint_convexity),
    _c("146", C, "Evidence lower bound (ELBO) a.k.a variational lower bound or negative "
       "variational free energy.", H, "Names of the same quantity.",
       "negative variational free energy", basis="definition"),
    _c("149", F, "f(E[X]) ≤ E[f(X)]  (f(E[X]): true but intractable objective)", HI,
       "Jensen's inequality; the note never says f is convex.", r"\underbrace{f(\mathbb{E}[X])}",
       condition="f is convex (for the bound, f = -log and X = p_θ(x_{0:T})/q(x_{1:T}|x_0) "
       "under q)", basis="numpy", check=check_jensen_needs_convexity),
    _c("151", F, "E[f(X)]: tractable upper bound (under the heading ELBO, line 146)", SLIP,
       "With f = -log, E[f(X)] is L, an upper bound on -log p_θ(x_0): the negative of the "
       "ELBO named on line 146, which is a lower bound on log p_θ(x_0).",
       "tractable upper bound", correction="ELBO = -L ≤ log p_θ(x_0); L = E[f(X)] ≥ "
       "-log p_θ(x_0)", basis="one-step Gaussian model, mpmath",
       check=check_sign_of_the_bound),
    _c("153", C, "We cannot evaluate f(E[X]) directly (because the expectation inside is an "
       "intractable integral over latent variables).", H, "p_θ(x_0) = ∫ p_θ(x_{0:T}) dx_{1:T}.",
       "intractable integral over latent variables", basis="DDPM §2"),
    _c("155", C, "E[f(X)] ≥ f(E[X]) for all X.", HI, "'For all X' needs f convex; for a concave "
       "f the inequality reverses.", r"for all $X$", condition="f is convex",
       basis="numpy", check=check_jensen_needs_convexity),
    _c("156", C, "If we minimize E[f(X)], we push it downwards toward its smallest achievable "
       "value.", H, "Tautological.", "we push it downwards", basis="definition"),
    _c("157", C, "Because it is always above f(E[X]), minimizing the upper bound also reduces "
       "f(E[X]).", E, "A bound can fall while the bounded quantity rises: the gap "
       "(a KL) can shrink faster.", "minimizing the upper bound also reduces",
       correction="minimising the bound guarantees only -log p_θ(x_0) ≤ L at the minimiser, "
       "not that -log p_θ(x_0) decreases", basis="one-step Gaussian model, mpmath",
       check=check_minimising_bound_can_raise_nll),
    _c("163", F, "argmin_θ E[f(X)] ≈ argmin_θ f(E[X])", E, "The two minimisers differ "
       "whenever q is not the model's posterior at the optimum, as in DDPM where q is fixed.",
       r"\arg\min_{\theta}\,\mathbb{E}[f(X)]", note_words="Formally, if f(E[X]) ≤ E[f(X)], then",
       correction="no such relation in general; the bound's minimiser is the NLL's only if the "
       "gap E KL(q(x_{1:T}|x_0) ‖ p_θ(x_{1:T}|x_0)) does not depend on θ",
       basis="one-step Gaussian model, closed forms", check=check_argmins_differ),
    _c("168", C, "because both are minimized at the same parameter values when q = p_θ (the "
       "bound is tight there).", E, "Tight means q(x_{1:T}|x_0) = p_θ(x_{1:T}|x_0), the "
       "model's posterior, not 'q = p_θ'; and with q fixed the bound is not tight at its "
       "minimiser.", "when $q = p_\\theta$",
       correction="the bound is tight iff q(x_{1:T}|x_0) = p_θ(x_{1:T}|x_0); tightness at one "
       "θ does not make the minimisers coincide", basis="one-step Gaussian model, mpmath",
       check=check_not_tight_at_the_minimiser),
    _c("175", F, "E[-log p_θ(x_0)] ≤ E_q[-log p_θ(x_{0:T})/q(x_{1:T}|x_0)]", H,
       "DDPM eq. (3), in expectation.",
       r"\mathbb{E}_{q}\!\!\Biggl[-\log \frac{p_{\theta}(\mathbf{x}_{0:T})}",
       basis="one-step Gaussian model, 50 random draws", check=check_bound_in_expectation),
    _c("178", F, "= E_q[-log p(x_T) - Σ_{t≥1} log(p_θ(x_{t-1}|x_t)/q(x_t|x_{t-1}))] =: L", H,
       "DDPM eq. (3), second form.", r"-\sum_{t \ge 1} \log", basis="sympy, T = 3",
       check=check_log_of_products),
    _c("182", C, "The Loss L is not providing much guarantees as it's stating the expected "
       "loss from the forward diffusion process, E_q, is going to be worse or equal to the "
       "real data, E[-log p_θ(x_0)].", H, "The direction is right: L ≥ E[-log p_θ(x_0)], the "
       "model's NLL on real data.", "is going to be worse or equal",
       basis="one-step Gaussian model", check=check_bound_in_expectation),
    _c("184", F, "p_θ(x_0) = p_θ(x_{0:T})/p_θ(x_{1:T}|x_0) (from the chain rule)", H,
       "No Markov property needed.", r"p_{\theta}(\mathbf{x}_0) = \frac{p_{\theta}",
       basis="numpy, a random table", check=check_chain_rule_model),
    _c("185", F, "p_θ(x_0) =(ideal) q(x_0)", H, "The goal of maximum likelihood.",
       r"\stackrel{\text{ideal}}{=} q(\mathbf{x_0})", basis="definition"),
    _c("190", F, "E[-log p_θ(x_0)] =(ideal) E_q[-log p_θ(x_{0:T})/q(x_{1:T}|x_0)]", HI,
       "Equality needs the model's posterior to equal q, which line 185's p_θ(x_0) = q(x_0) "
       "does not give.", r"\stackrel{\text{ideal}}{=}",
       note_words="Therefore, it'll probably be better to say",
       condition="q(x_{1:T}|x_0) = p_θ(x_{1:T}|x_0)", basis="one-step Gaussian model, mpmath",
       check=check_ideal_equality_needs_posterior),
    _c("197", F, "the probability density function for the real data x_0 and rest of the path "
       "… p_θ(x_{0:T}) would be E_q[-log p_θ(x_{0:T})/q(x_{1:T}|x_0)]", E,
       "An expected log-ratio is a number (the bound L), not a density of x_{0:T}.",
       r"$\mathbb{E}_{q}\!\!\Biggl[-\log", note_words="With that said, the probability density "
       "function for the real data", correction="the density of the path is p_θ(x_{0:T}); "
       "E_q[-log p_θ(x_{0:T})/q(x_{1:T}|x_0)] is the bound L", basis="one-step Gaussian model",
       check=check_bound_is_not_a_density),
    _c("201", F, "q(x_{0:T}) = q(x_0) q(x_{1:T}|x_0)", H, "The chain rule.",
       r"$q(x_{0:T}) = q(x_0)\, q(x_{1:T}\mid x_0)$", basis="numpy, a random table",
       check=check_bayes_table),
    _c("210", F, "E_q[-log p_θ(x_0)] = Σ_{x_0} q(x_0)[-log p_θ(x_0)] (discrete: tokens, class "
       "labels)", H, "Definition of E.", r"\sum_{x_0} q(x_0)[-\log p_{\theta}(x_0)]",
       basis="definition"),
    _c("211", F, "E_q[-log p_θ(x_0)] = ∫ q(x_0)[-log p_θ(x_0)] dx_0 (continuous)", H,
       "Definition of E.", r"\int q(x_0)[-\log p_{\theta}(x_0)] dx_0",
       basis="mpmath quadrature", check=check_expected_nll_continuous),
    _c("211", C, "Continuous examples: pixel intensities (images normalized to [0,1] or [-1,1]), "
       "audio waveforms, time series, any continuous latent variable", HI,
       "DDPM's images are 8-bit integers scaled to [-1, 1]; its decoder (eq. 13) is discrete, "
       "and its NLL is reported in bits/dim of the discrete data. x_0 is data, not a latent.",
       "Pixel intensities", condition="pixels are dequantised (treated as continuous); in DDPM "
       "they are discrete", basis="DDPM §3.3"),
]

LEDGER = Ledger("003", SOURCE, MODEL_CLAIMS + CLAIMS, left_out=[
    LeftOut("003", "204", "The Expected $\\mathbb{E}\\!\\bigl[-\\log p_{\\theta}"
            "(\\mathbf{x}_0)\\bigr]$", "an unfinished heading with no statement; the "
            "definition follows on lines 210-211"),
])
