"""Each derivation of :mod:`ddpm_math.symbolic` run and compared with the paper's statement.

A derivation holds when sympy proves the derived expression minus the stated closed form is
identically 0 *and* the two agree to 30 digits at random rational points (the comparison the
symbolic tests use). Where a plausible wrong form is given, the same comparison must reject it,
so a row shows that the check could have failed.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass

import sympy as sp

from ddpm_math.report.model import Derivation

__all__ = ["run_derivations", "unicode_math"]


@dataclass(frozen=True)
class Spec:
    """A derivation to run: ``pairs`` returns [(derived, stated)], ``wrong`` [(derived, wrong)]."""

    name: str
    source: str
    statement: str
    pairs: Callable[[], list[tuple[sp.Expr, sp.Expr]]]
    wrong: Callable[[], list[tuple[sp.Expr, sp.Expr]]] | None = None
    shown: Callable[[], str] | None = None


_NAMES = {"sqrt_alpha_bar_prev": "√ᾱ_{t-1}", "sqrt_alpha": "√α_t", "alpha_bar": "ᾱ_t",
          "eps_hat": "ε_θ", "eps": "ε", "var1": "σ₁²", "var2": "σ₂²", "mean1": "μ₁",
          "mean2": "μ₂", "xprev": "μ", "mu": "μ", "sigma": "σ", "x_2": "x_t", "x_1": "x_{t-1}"}


def unicode_math(expr) -> str:
    """A one-line Unicode rendering of a sympy expression (√, ², ·, the paper's symbols)."""
    text = sp.sstr(expr)
    for name, symbol in sorted(_NAMES.items(), key=lambda item: -len(item[0])):
        text = re.sub(rf"\b{name}\b", symbol, text)
    text = re.sub(r"sqrt\(([^()]*)\)", lambda m: "√" + (m.group(1) if re.fullmatch(
        r"[\wᾱαβεσμθ_{}\-]+", m.group(1)) else f"({m.group(1)})"), text)
    text = text.replace("sqrt(", "√(").replace("**2", "²").replace("**(-1)", "⁻¹")
    text = text.replace("*", "·").replace("pi", "π").replace("√√", "√")
    return text


def _paper(expr, collect: bool = False) -> str:
    """An expression in the posterior module's step symbols, in the paper's symbols."""
    from ddpm_math.symbolic.display import X0, XT, paper_form

    return unicode_math(paper_form(expr, collect=(X0, XT) if collect else ()))


def _roots(expr) -> str:
    """An expression in the forward module's r_s = √α_s, written with √α_s."""
    names = {s: sp.sqrt(sp.Symbol(f"α_{s.name[2:]}", positive=True)) for s in expr.free_symbols
             if s.name.startswith("r_")}
    return unicode_math(sp.expand(expr.subs(names)))


def _holds(derived, stated) -> bool:
    from ddpm_math.symbolic.gaussian import agree_numerically, is_zero

    difference = sp.expand_log(derived - stated, force=True)
    return bool(is_zero(difference) and agree_numerically(derived, stated))


def _forward_pairs(t: int = 3):
    from ddpm_math.symbolic import forward

    derived = forward.q_mean_variance(t)
    mean, variance = forward.q_mean_variance_closed_form(t)
    return [(derived.mean, mean), (derived.variance, variance), (derived.mass**2, sp.S.One)]


def _forward_wrong(t: int = 3):
    from ddpm_math.symbolic import forward

    derived = forward.q_mean_variance(t)
    x0 = forward.x_symbols(t)[0]
    return [(derived.mean, forward.alpha_bar(t) * x0),  # missing square root
            (derived.variance, sum(forward.beta_symbols(t)))]  # variances simply added


def _step_pairs():
    from ddpm_math.symbolic import forward

    step = forward.q_mean_variance_step()
    alpha_bar = (forward.sqrt_alpha * forward.sqrt_alpha_bar_prev) ** 2
    return [(step.mean, sp.sqrt(alpha_bar) * forward.x_symbols(2)[0]),
            (step.variance, 1 - alpha_bar), (step.mass**2, sp.S.One)]


def _sum_route_pairs(t: int = 4):
    from ddpm_math.symbolic import forward

    coefficient, variance = forward.q_sample_coefficients(t)
    x0 = forward.x_symbols(t)[0]
    mean, closed = forward.q_mean_variance_closed_form(t)
    return [(coefficient * x0, mean), (variance, closed)]


def _posterior(attribute: str):
    from ddpm_math.symbolic import posterior

    return lambda: [(getattr(posterior, attribute)(), getattr(posterior,
                                                              attribute + "_closed_form")())]


def _posterior_wrong(attribute: str):
    from ddpm_math.symbolic import posterior
    from ddpm_math.symbolic.forward import sqrt_alpha, sqrt_alpha_bar_prev

    def wrong():  # ᾱ_t where ᾱ_{t-1} belongs
        closed = getattr(posterior, attribute + "_closed_form")()
        swapped = closed.subs(sqrt_alpha_bar_prev, sqrt_alpha * sqrt_alpha_bar_prev)
        return [(getattr(posterior, attribute)(), swapped)]

    return wrong


def _conversion(name: str, stated: str, wrong: str) -> Spec:
    from ddpm_math.symbolic import parameterization as P

    names = {"A": sp.sqrt(P.alpha_bar), "S": sp.sqrt(1 - P.alpha_bar), "x_t": P.x_t,
             "x0": P.x0, "eps": P.eps, "v": P.v, "ab": P.alpha_bar}
    parse = lambda text: sp.sympify(text, locals=names)  # noqa: E731
    shown = {"x0_from_eps": "x_0 = (x_t - √(1-ᾱ_t) ε)/√ᾱ_t",
             "eps_from_x0": "ε = (x_t - √ᾱ_t x_0)/√(1-ᾱ_t)",
             "x0_from_v": "x_0 = √ᾱ_t x_t - √(1-ᾱ_t) v",
             "eps_from_v": "ε = √(1-ᾱ_t) x_t + √ᾱ_t v",
             "score_from_eps": "∇_{x_t} log q(x_t|x_0) = -ε/√(1-ᾱ_t)"}[name]
    source = "DDPM §3.2" if name.startswith(("score", "x0_from_eps", "eps_from_x0")) else \
        "Salimans & Ho 2022 §4"
    return Spec(f"{name.replace('_', ' ')}", source, shown,
                lambda: [(getattr(P, name)(), parse(stated))],
                lambda: [(getattr(P, name)(), parse(wrong))])


def _x0_from_xprev_pairs():
    from ddpm_math.symbolic import parameterization as P
    from ddpm_math.symbolic import posterior

    x0, _, x_t = posterior.x_symbols(2)
    closed = posterior.mu_tilde_closed_form()
    coef_x0, coef_xt = closed.coeff(x0), closed.coeff(x_t)
    return [(P.x0_from_xprev(), (P.xprev - coef_xt * x_t) / coef_x0),
            (P.x0_from_xprev().subs(P.xprev, posterior.mu_tilde()), x0)]


def _kl_pairs():
    from ddpm_math.symbolic import kl

    return [(kl.normal_kl(), kl.normal_kl_closed_form()),
            (kl.normal_kl_isotropic(3), kl.normal_kl_isotropic_closed_form(3))]


def _kl_wrong():
    from ddpm_math.symbolic import kl

    return [(kl.normal_kl(), kl.normal_kl_closed_form() * 2)]  # the ½ dropped


def _eq8_pairs():
    from ddpm_math.symbolic import kl

    return [(kl.eq8_constant(2), kl.eq8_constant_closed_form(2))]


def _weight(variance: str):
    from ddpm_math.symbolic import vlb

    return lambda: [(vlb.eps_weight(variance), vlb.eps_weight_closed_form(variance))]


def _weight_wrong(variance: str):
    from ddpm_math.symbolic import vlb

    return lambda: [(vlb.eps_weight(variance), 2 * vlb.eps_weight_closed_form(variance))]


def _snr_pairs():
    from ddpm_math.symbolic import vlb

    return [(vlb.eps_weight("beta_tilde"), vlb.snr_weight_closed_form())]


def _elbo_pairs(T: int = 3):
    from ddpm_math.symbolic import vlb

    exponent, scale = vlb.elbo_residual(T)
    return [(exponent, sp.S.Zero), (scale, sp.S.One)]


def _elbo_wrong():
    from ddpm_math.symbolic import posterior, vlb
    from ddpm_math.symbolic.forward import sqrt_alpha, sqrt_alpha_bar_prev

    wrong_mean = posterior.mu_tilde().subs(sqrt_alpha_bar_prev, sqrt_alpha * sqrt_alpha_bar_prev)
    exponent, _ = vlb.elbo_residual(2, mean=wrong_mean)
    return [(exponent, sp.S.Zero)]


def _jensen_pairs():
    from ddpm_math.symbolic import vlb

    return [(vlb.jensen_gap()[2], vlb.jensen_kl())]


def _cdf_pairs():
    from ddpm_math.symbolic import decoder

    u = sp.Symbol("u", real=True)
    stated = (1 + sp.erf((u - decoder.mean) / (decoder.scale * sp.sqrt(2)))) / 2
    return [(decoder.gaussian_cdf()(u), stated),
            (sp.Add(*decoder.bin_probabilities()), sp.S.One)]


def _cosine_pairs(T: int = 4):
    from ddpm_math.symbolic import schedule

    pairs = []
    for t in (1, 2, T):
        product = sp.Mul(*[1 - schedule.cosine_beta(s, T) for s in range(1, t + 1)])
        pairs.append((product, schedule.cosine_alpha_bar(t, T)))
    return pairs


def _rescale_pairs(T: int = 4):
    from ddpm_math.symbolic import schedule

    a = schedule.sqrt_alpha_bar_symbols(T)
    alpha_bar, beta = schedule.rescaled_alpha_bar(T), schedule.rescaled_beta(T)
    return [(alpha_bar[-1], sp.S.Zero), (alpha_bar[0], a[0] ** 2), (beta[-1], sp.S.One),
            (beta[0], 1 - a[0] ** 2)]


def _shown_forward():
    from ddpm_math.symbolic import forward

    q = forward.q_mean_variance(3)
    return f"N({_roots(q.mean)}, {_roots(q.variance)}), mass {sp.cancel(q.mass**2)}"


def _shown_step():
    from ddpm_math.symbolic import forward

    q = forward.q_mean_variance_step()
    return f"N({_paper(q.mean)}, {_paper(q.variance)})"


def _shown_sum():
    from ddpm_math.symbolic import forward

    coefficient, variance = forward.q_sample_coefficients(4)
    return f"{_roots(coefficient)} x_0 + noise of variance {_roots(variance)}"


def _shown_posterior(attribute: str, collect: bool):
    from ddpm_math.symbolic import posterior

    return lambda: _paper(getattr(posterior, attribute)(), collect)


def _shown_weight(variance: str):
    from ddpm_math.symbolic import vlb

    return lambda: "λ_t = " + _paper(vlb.eps_weight(variance))


def _shown_residual():
    from ddpm_math.symbolic import vlb

    exponent, scale = vlb.elbo_residual(3)
    return f"log-ratio minus Σ terms = {exponent}, scale ratio² = {scale}"


def _shown_cdf():
    from ddpm_math.symbolic import decoder

    u = sp.Symbol("u", real=True)
    total = sp.simplify(sp.Add(*decoder.bin_probabilities()))
    return f"Φ(u) = {unicode_math(decoder.gaussian_cdf()(u))}; Σ_k P(bin k) = {total}"


def _shown_rescale():
    from ddpm_math.symbolic import schedule

    k, c = schedule.rescale_map(4)
    beta_T = schedule.rescaled_beta(4)[-1]
    text = f"k = {unicode_math(k)}, c = {unicode_math(c)}; new β_T = {beta_T}"
    return text.replace("a_1", "√ᾱ_1").replace("a_4", "√ᾱ_T")


def _specs() -> list[Spec]:
    return [
        Spec("forward marginal, composed kernels (t = 3)", "DDPM eq. (4)",
             "∫∏ q(x_s|x_{s-1}) dx_{1:t-1} = N(x_t; √ᾱ_t x_0, (1-ᾱ_t) I), mass 1",
             _forward_pairs, _forward_wrong, _shown_forward),
        Spec("forward marginal, induction step", "DDPM eq. (4)",
             "∫ q(x_t|x_{t-1}) N(x_{t-1}; √ᾱ_{t-1} x_0, 1-ᾱ_{t-1}) dx_{t-1} = "
             "N(√(α_t ᾱ_{t-1}) x_0, 1 - α_t ᾱ_{t-1})", _step_pairs, shown=_shown_step),
        Spec("forward marginal, sum of Gaussians (t = 4)", "DDPM eq. (4)",
             "x_t = √α_t x_{t-1} + √β_t ε_t unrolled: √ᾱ_t x_0 + √(1-ᾱ_t) ε", _sum_route_pairs,
             shown=_shown_sum),
        Spec("posterior mean μ̃_t", "DDPM eq. (7)",
             "μ̃_t = √ᾱ_{t-1} β_t/(1-ᾱ_t) x_0 + √α_t (1-ᾱ_{t-1})/(1-ᾱ_t) x_t",
             _posterior("mu_tilde"), _posterior_wrong("mu_tilde"),
             _shown_posterior("mu_tilde", True)),
        Spec("posterior variance β̃_t", "DDPM eq. (7)", "β̃_t = (1-ᾱ_{t-1})/(1-ᾱ_t) β_t",
             _posterior("beta_tilde"), _posterior_wrong("beta_tilde"),
             _shown_posterior("beta_tilde", False)),
        Spec("μ̃_t through ε", "DDPM eqs. (10)-(11)",
             "μ̃_t(x_t, x_0(x_t, ε)) = (x_t - β_t/√(1-ᾱ_t) ε)/√α_t",
             _posterior("mu_tilde_from_eps"), _posterior_wrong("mu_tilde_from_eps"),
             _shown_posterior("mu_tilde_from_eps", False)),
        _conversion("x0_from_eps", "(x_t - S*eps)/A", "(x_t - S*eps)/ab"),
        _conversion("eps_from_x0", "(x_t - A*x0)/S", "(x_t - A*x0)/(1 - ab)"),
        _conversion("x0_from_v", "A*x_t - S*v", "S*x_t - A*v"),
        _conversion("eps_from_v", "S*x_t + A*v", "A*x_t + S*v"),
        _conversion("score_from_eps", "-eps/S", "-eps/(1 - ab)"),
        Spec("x_0 from the predicted mean", "DDPM eq. (7) solved",
             "x_0 = (μ - c_xt x_t)/c_x0, and x_0(μ̃_t) = x_0", _x0_from_xprev_pairs,
             shown=lambda: _paper(_x0_from_xprev_pairs()[0][0])),
        Spec("Gaussian KL by integration (d = 1, 3)", "DDPM eq. (8)",
             "KL = ½(log(σ₂²/σ₁²) + σ₁²/σ₂² + (μ₁-μ₂)²/σ₂² - 1), summed over d coordinates",
             _kl_pairs, _kl_wrong),
        Spec("the constant C of L_{t-1} (d = 2)", "DDPM eq. (8)",
             "L_{t-1} - ‖μ̃_t - μ_θ‖²/(2σ_t²) = d/2 (β̃_t/σ_t² - 1 - log(β̃_t/σ_t²))", _eq8_pairs),
        Spec("ε weight, σ_t² = β_t", "DDPM eq. (12)",
             "L_{t-1} - C = β_t²/(2σ_t² α_t (1-ᾱ_t)) ‖ε - ε_θ‖²",
             _weight("beta"), _weight_wrong("beta"), _shown_weight("beta")),
        Spec("ε weight, σ_t² = β̃_t", "DDPM eq. (12)",
             "L_{t-1} - C = β_t²/(2σ_t² α_t (1-ᾱ_t)) ‖ε - ε_θ‖²",
             _weight("beta_tilde"), _weight_wrong("beta_tilde"),
             _shown_weight("beta_tilde")),
        Spec("ε weight in SNR form, σ_t² = β̃_t", "Kingma et al. 2021",
             "λ_t = ½ (SNR(t-1)/SNR(t) - 1), SNR = ᾱ/(1-ᾱ)", _snr_pairs,
             shown=_shown_weight("beta_tilde")),
        Spec("bound decomposition (T = 3)", "DDPM eq. (5)",
             "log q(x_{1:T}|x_0)/p_θ(x_{0:T}) = L_T + Σ_{t>1} L_{t-1} + L_0 pointwise",
             _elbo_pairs, _elbo_wrong, _shown_residual),
        Spec("Jensen gap is a KL (T = 1)", "DDPM eq. (3)",
             "L - (-log p_θ(x_0)) = KL(q(x_1|x_0) ‖ p_θ(x_1|x_0)) ≥ 0", _jensen_pairs,
             shown=lambda: "sympy: the gap, integrated, minus the KL, integrated, is 0"),
        Spec("decoder CDF and bins", "DDPM eq. (13)",
             "Φ(u) = ½(1 + erf((u-μ)/(σ√2))); Σ_k P(bin k) = 1", _cdf_pairs, shown=_shown_cdf),
        Spec("cosine schedule telescopes (T = 4)", "Nichol & Dhariwal 2021 eq. (17)",
             "∏_{s≤t} (1 - β_s) = f(t/T)/f(0)", _cosine_pairs),
        Spec("zero-terminal-SNR rescale (T = 4)", "Lin et al. 2023 Alg. 1",
             "√ᾱ ↦ k(√ᾱ - c): ᾱ_T = 0, β_T = 1, ᾱ_1 and β_1 kept", _rescale_pairs,
             shown=_shown_rescale),
    ]




def _run_one(spec: Spec) -> Derivation:
    start = time.perf_counter()
    try:
        pairs = spec.pairs()
        ok = all(_holds(derived, stated) for derived, stated in pairs)
        derived = spec.shown() if spec.shown else unicode_math(sp.simplify(pairs[0][0]))
        rejected = None
        if spec.wrong is not None:
            rejected = not any(_holds(derived_, wrong) for derived_, wrong in spec.wrong())
        seconds = time.perf_counter() - start
        return Derivation(spec.name, spec.source, spec.statement, derived, ok and rejected
                          is not False, seconds, rejected)
    except Exception as error:  # a derivation that raises has failed; say how
        return Derivation(spec.name, spec.source, spec.statement, "", False,
                          time.perf_counter() - start, None, f"{type(error).__name__}: {error}")


def run_derivations(progress: Callable[[str], None] | None = None) -> list[Derivation]:
    """Run every derivation, timing each (the symbolic layer caches results within a process)."""
    rows = []
    for spec in _specs():
        if progress:
            progress(spec.name)
        rows.append(_run_one(spec))
    return rows
