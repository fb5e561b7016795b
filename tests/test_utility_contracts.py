"""Input contracts of the Gaussian utilities, the schedules and the viz command (issue 8, part B).

Each test here fails on the code before the fix it guards: raw torch errors instead of errors
naming the parameter, float16 overflow, NaN at infinite log-variances, read-only numpy arrays
refused under ``-W error``, decreasing schedules accepted, torch betas warning, and a viz
command that wrote ``--help.png``. Expected numbers come from mpmath at 50 digits.
"""

from __future__ import annotations

import inspect
import math
import re
import subprocess
import sys

import mpmath
import numpy as np
import pytest
import torch
from hypothesis import assume, given
from hypothesis import strategies as st

from ddpm_math import (
    NoiseSchedule,
    betas_from_alpha_bar,
    cosine_alpha_bar,
    cosine_betas,
    linear_betas,
    normal_kl,
    quadratic_betas,
    rescale_zero_terminal_snr,
    sqrt_linear_betas,
)
from ddpm_math.testing.strategies import reals

NAMES = ("mean1", "logvar1", "mean2", "logvar2")
FLOAT_DTYPES = [torch.float64, torch.float32, torch.bfloat16, torch.float16]
INF, NAN = math.inf, math.nan


def kl_mpmath(mean1: float, logvar1: float, mean2: float, logvar2: float) -> mpmath.mpf:
    """½(e^Δ - 1 - Δ + (mean1 - mean2)² e^{-logvar2}) at 50 digits (finite inputs)."""
    with mpmath.workdps(50):
        m1, v1, m2, v2 = (mpmath.mpf(x) for x in (mean1, logvar1, mean2, logvar2))
        delta = v1 - v2
        return (mpmath.expm1(delta) - delta + (m1 - m2) ** 2 * mpmath.exp(-v2)) / 2


def args_with(position: int, value, fill=None):
    """Four normal_kl arguments: ``value`` at ``position``, float32 tensors elsewhere."""
    fill = torch.tensor([0.5, -1.0, 2.0]) if fill is None else fill
    return [value if i == position else fill.clone() + i for i in range(4)]


# ---------------------------------------------------------------------------------------------
# normal_kl: shapes


@pytest.mark.parametrize("first, second", [(0, 1), (0, 2), (1, 3), (2, 3)])
def test_normal_kl_names_the_arguments_whose_shapes_do_not_broadcast(first, second):
    args = [torch.zeros(()) for _ in range(4)]
    args[first], args[second] = torch.zeros(3), torch.zeros(4)
    message = (rf"normal_kl: {NAMES[first]} of shape \(3,\) and {NAMES[second]} of shape "
               r"\(4,\) do not broadcast")
    with pytest.raises(ValueError, match=message):
        normal_kl(*args)


def test_normal_kl_names_a_numpy_argument_whose_shape_does_not_broadcast():
    with pytest.raises(ValueError, match=r"mean1 of shape \(2, 3\) and logvar2 of shape \(4,\)"):
        normal_kl(torch.zeros(2, 3), 0.0, 0.0, np.zeros(4))


# ---------------------------------------------------------------------------------------------
# normal_kl: half precision and overflow


@pytest.mark.parametrize(
    "dtype, args",
    [
        # float16: e^11.5 = 98715 overflows (max 65504); the KL ½(e^11.5 - 12.5) = 49351 does not
        (torch.float16, (0.0, 0.0, 0.0, -11.5)),
        # float16: (Δμ)² = 90000 overflows; the KL ½·300² = 45000 does not
        (torch.float16, (0.0, 0.0, 300.0, 0.0)),
        # bfloat16 and float32: e^88.8 = 3.7e38 overflows (max 3.4e38); ½e^88.8 = 1.8e38 not
        (torch.bfloat16, (0.0, 0.0, 0.0, -88.8)),
        (torch.float32, (0.0, 0.0, 0.0, -88.8)),
        (torch.float32, (0.0, 88.8, 0.0, 0.0)),
        # float32: (Δμ)² = 1e40 overflows; the KL ½·1e40·e^{-10} = 2.3e35 does not
        (torch.float32, (1e20, 0.0, 0.0, 10.0)),
        # float64: Δμ = 3e308 overflows; ½(Δμ)² e^{-1400} is 4.3e-4
        (torch.float64, (1.5e308, 0.0, -1.5e308, 1400.0)),
    ],
)
def test_normal_kl_does_not_overflow_before_the_result_does(dtype, args):
    tensor_args = [torch.tensor(v, dtype=dtype) for v in args]
    kl = normal_kl(*tensor_args)
    expected = kl_mpmath(*(float(v) for v in tensor_args))  # the inputs as rounded to dtype
    assert kl.dtype == dtype
    assert math.isfinite(float(kl)), f"inf where the true KL is {mpmath.nstr(expected, 6)}"
    assert float(kl) == pytest.approx(float(expected), rel=8 * torch.finfo(dtype).eps)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_normal_kl_is_the_float32_result_rounded_once(dtype):
    generator = torch.Generator().manual_seed(0)
    args = [torch.randn(64, generator=generator).to(dtype) * 4 for _ in range(4)]
    half = normal_kl(*args)
    single = normal_kl(*(a.float() for a in args))
    assert half.dtype == dtype and torch.equal(half, single.to(dtype))


def test_normal_kl_overflows_where_the_true_value_does():
    """float16: ½(e^12 - 13) = 81371 > 65504, so inf is the right rounding."""
    assert kl_mpmath(0.0, 0.0, 0.0, -12.0) > torch.finfo(torch.float16).max
    assert normal_kl(torch.zeros(1, dtype=torch.float16), 0.0, 0.0, -12.0).isinf().all()


def _dtype_floats(dtype: torch.dtype) -> st.SearchStrategy[float]:
    """Finite floats over the whole range of ``dtype``, mixed with moderate ones."""
    width = {torch.float64: 64, torch.float16: 16}.get(dtype, 32)
    extreme = st.floats(width=width, allow_nan=False, allow_infinity=False)
    return st.one_of(extreme, reals(-30.0, 30.0), st.sampled_from([0.0, 1.0, -1.0]))


@st.composite
def _kl_inputs(draw):
    dtype = draw(st.sampled_from(FLOAT_DTYPES))
    values = [draw(_dtype_floats(dtype)) for _ in range(4)]
    tensors = [torch.tensor(v, dtype=torch.float32 if dtype == torch.bfloat16 else dtype)
               .to(dtype) for v in values]
    return dtype, tensors


@given(_kl_inputs())
def test_finite_inputs_give_a_finite_nonnegative_kl_unless_the_true_value_overflows(inputs):
    """Over each dtype's whole finite range: never NaN, never < 0, inf exactly where the true KL
    exceeds the dtype's largest value (a 1% band around it is skipped), and otherwise within
    the rounding error of the computation: eps of the computing dtype times the condition of
    each term (e^Δ amplifies an error in Δ by |Δ|, e^{-logvar2} one in logvar2 by |logvar2|)."""
    dtype, tensors = inputs
    assume(all(torch.isfinite(t) for t in tensors))  # bfloat16 rounding can reach inf
    kl = float(normal_kl(*tensors))
    m1, v1, m2, v2 = (float(t) for t in tensors)
    expected = kl_mpmath(m1, v1, m2, v2)
    largest = torch.finfo(dtype).max
    assert not math.isnan(kl) and kl >= 0.0
    if expected > 1.01 * largest:
        assert kl == INF
        return
    assume(expected < 0.99 * largest)
    assert math.isfinite(kl)
    eps = torch.finfo(torch.float32 if dtype.itemsize == 2 else dtype).eps
    with mpmath.workdps(50):
        delta = mpmath.mpf(v1) - mpmath.mpf(v2)
        mean_term = (mpmath.mpf(m1) - mpmath.mpf(m2)) ** 2 * mpmath.exp(-mpmath.mpf(v2)) / 2
        bound = (8 * eps * ((1 + abs(delta)) * abs(mpmath.expm1(delta)) + abs(delta))
                 + 8 * eps * (1 + abs(v2)) * mean_term
                 + torch.finfo(dtype).eps * expected + torch.finfo(dtype).tiny)
        assert abs(kl - expected) <= bound


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_equal_gaussians_give_exactly_zero_in_every_dtype(dtype):
    mean = torch.tensor([-3.0, 0.0, 0.7, 1000.0], dtype=dtype)
    logvar = torch.tensor([-20.0, 0.0, 3.0, 11.0], dtype=dtype)
    assert torch.equal(normal_kl(mean, logvar, mean, logvar), torch.zeros(4, dtype=dtype))


def test_normal_kl_gradients_on_both_sides_of_the_expm1_switch():
    """Δ = logvar1 - logvar2 ∈ {-3, 0.3, 2, 5}: both formulas of ½(e^Δ - 1 - Δ) are
    differentiated, and Δμ = 0 in one entry (the mean term's exact-zero branch)."""
    args = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in
            ([0.1, 0.2, -0.3, 0.5], [-2.0, 0.3, 1.0, 4.0], [0.1, 1.0, 0.4, -2.0],
             [1.0, 0.0, -1.0, -1.0])]
    assert torch.autograd.gradcheck(normal_kl, args)


# ---------------------------------------------------------------------------------------------
# normal_kl: one rule for the argument types, in every position

ACCEPTED = {
    "python float": 0.25,
    "python int": 2,
    "numpy float32 scalar": np.float32(0.25),
    "numpy float64 scalar": np.float64(-0.5),
    "numpy 0-dim array": np.array(1.5),
    "numpy float64 array": np.array([0.1, -0.2, 0.3]),
    "numpy float16 array": np.array([0.5, 1.0, 2.0], dtype=np.float16),
    "numpy int array": np.array([1, 2, 3]),
    "read-only schedule array": NoiseSchedule.linear(1000).log_beta_tilde_clipped[:3],
}


@pytest.mark.parametrize("position", range(4), ids=NAMES)
@pytest.mark.parametrize("kind", list(ACCEPTED))
def test_numbers_and_numpy_values_are_accepted_in_every_position(position, kind):
    """They become float32 like the tensor arguments (numpy does not promote to float64)."""
    value = ACCEPTED[kind]
    kl = normal_kl(*args_with(position, value))
    as_tensor = torch.tensor(np.asarray(value, dtype=np.float64), dtype=torch.float32)
    assert kl.dtype == torch.float32 and kl.shape == (3,)
    assert torch.equal(kl, normal_kl(*args_with(position, as_tensor)))


REJECTED = {
    "string": "0",
    "None": None,
    "list": [0.0],
    "bool": True,
    "complex": 1j,
    "numpy bool array": np.array([True, False, True]),
    "numpy string array": np.array(["a", "b", "c"]),
    "numpy complex scalar": np.complex128(1.0),
}


@pytest.mark.parametrize("position", range(4), ids=NAMES)
@pytest.mark.parametrize("kind", list(REJECTED))
def test_other_argument_types_are_a_type_error_naming_the_parameter(position, kind):
    with pytest.raises(TypeError, match=rf"normal_kl: {NAMES[position]} must be a floating "
                                        r"torch.Tensor, a real Python number, or a real numpy"):
        normal_kl(*args_with(position, REJECTED[kind]))


@pytest.mark.parametrize("position", range(4), ids=NAMES)
def test_integer_tensors_are_refused_in_every_position(position):
    with pytest.raises(TypeError, match=rf"normal_kl: {NAMES[position]} must have a floating"):
        normal_kl(*args_with(position, torch.ones(3, dtype=torch.int64)))


def test_tensor_dtypes_promote_and_devices_must_agree():
    kl = normal_kl(torch.zeros(3), torch.zeros(3, dtype=torch.float64), 1.0, 0.0)
    assert kl.dtype == torch.float64
    on_meta = normal_kl(torch.zeros(3, device="meta"), torch.tensor(0.0), 0.0, 0.0)
    assert on_meta.device.type == "meta"  # a 0-dim CPU tensor moves, like a number
    with pytest.raises(ValueError, match=r"logvar2 is on meta but mean1 is on cpu"):
        normal_kl(torch.zeros(3), 0.0, 0.0, torch.zeros(3, device="meta"))


# ---------------------------------------------------------------------------------------------
# normal_kl: infinite and NaN arguments

#: (mean1, logvar1, mean2, logvar2) -> the limit of KL, and why.
LIMITS = [
    ((0.0, INF, 0.0, 0.0), INF, "σ1² → ∞: the σ1²/σ2² term"),
    ((0.0, -INF, 0.0, 0.0), INF, "σ1² → 0 with σ2² fixed: the -log σ1² term"),
    ((0.0, 0.0, 0.0, INF), INF, "σ2² → ∞: the log σ2² term"),
    ((0.0, 0.0, 0.0, -INF), INF, "σ2² → 0, Δμ = 0: the σ1²/σ2² term"),
    ((1.0, 0.0, 0.0, -INF), INF, "σ2² → 0, Δμ ≠ 0: both terms"),
    ((0.0, INF, 0.0, -INF), INF, "σ1² → ∞ and σ2² → 0"),
    ((0.0, -INF, 0.0, INF), INF, "σ1² → 0 and σ2² → ∞: -log σ1² + log σ2²"),
    ((INF, 0.0, 0.0, 0.0), INF, "Δμ → ∞"),
    ((0.0, 0.0, -INF, 0.0), INF, "Δμ → ∞"),
    ((INF, 0.0, 0.0, INF), INF, "Δμ²/σ2² undetermined, but log σ2² → ∞ and both terms ≥ 0"),
    ((INF, 0.0, INF, INF), INF, "Δμ undetermined, but log σ2² → ∞ and both terms ≥ 0"),
    ((1.0, -INF, 0.0, -INF), INF, "σ1²/σ2² undetermined, but Δμ²/σ2² → ∞, both terms ≥ 0"),
    ((0.0, INF, 0.0, INF), NAN, "σ1²/σ2² undetermined, mean term 0: no limit"),
    ((0.0, -INF, 0.0, -INF), NAN, "σ1²/σ2² undetermined, mean term 0: no limit"),
    ((INF, 0.0, INF, 0.0), NAN, "Δμ undetermined, variances equal: no limit"),
]


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("args, limit, reason", LIMITS,
                         ids=["m1={},v1={},m2={},v2={}".format(*a) for a, _, _ in LIMITS])
def test_infinite_arguments_give_the_mathematical_limit(dtype, args, limit, reason):
    for position in range(4):  # the same answer whichever argument is the tensor
        mixed = [torch.tensor([v], dtype=dtype) if i == position else v
                 for i, v in enumerate(args)]
        kl = float(normal_kl(*mixed))
        assert kl == limit or (math.isnan(limit) and math.isnan(kl)), reason


@pytest.mark.parametrize("position", range(4), ids=NAMES)
@pytest.mark.parametrize("other", [0.0, INF, -INF])
def test_a_nan_argument_gives_nan(position, other):
    """NaN propagates (documented), even next to an argument that would give +inf."""
    args = [torch.tensor([other if i == (position + 1) % 4 else 0.0]) for i in range(4)]
    args[position] = torch.tensor([NAN])
    assert normal_kl(*args).isnan().all()


# ---------------------------------------------------------------------------------------------
# schedules


@pytest.mark.parametrize("builder", [linear_betas, quadratic_betas, sqrt_linear_betas])
def test_decreasing_schedule_ends_are_refused(builder):
    with pytest.raises(ValueError, match=r"beta_start must be <= beta_end .* "
                                         r"beta_start=0.5 > beta_end=0.1"):
        builder(10, beta_start=0.5, beta_end=0.1)
    constant = builder(4, beta_start=0.1, beta_end=0.1)  # equal ends: a constant schedule
    np.testing.assert_allclose(constant, np.full(4, 0.1), rtol=1e-15)


def test_decreasing_ends_are_refused_before_rescaling():
    with pytest.raises(ValueError, match=r"beta_start must be <= beta_end"):
        NoiseSchedule.linear(100, beta_start=0.02, beta_end=1e-4, rescale_to_1000=True)


def _alpha_bar_T_mpmath(T: int, beta_start: float, beta_end: float) -> float:
    """∏_t (1 - β_t) for β_t = β_start + (β_end - β_start)(t-1)/(T-1), at 50 digits."""
    with mpmath.workdps(50):
        start, end = mpmath.mpf(beta_start), mpmath.mpf(beta_end)
        return float(mpmath.fprod(1 - (start + (end - start) * mpmath.mpf(t) / (T - 1))
                                  for t in range(T)))


@pytest.mark.parametrize(
    "T, rescale, documented",
    [(10, False, "0.90"), (50, False, "0.60"), (100, False, "0.36"), (1000, False, "4.0e-5"),
     (100, True, "2.0e-5")],
)
def test_alpha_bar_T_says_how_far_the_forward_process_gets(T, rescale, documented):
    """The numbers the docstring of linear_betas quotes, against mpmath."""
    schedule = NoiseSchedule.linear(T, rescale_to_1000=rescale)
    scale = 1000 / T if rescale else 1.0
    expected = _alpha_bar_T_mpmath(T, 1e-4 * scale, 0.02 * scale)
    assert schedule.alpha_bar_T == pytest.approx(expected, rel=1e-12)
    assert schedule.terminal_snr == pytest.approx(expected / (1 - expected), rel=1e-12)
    assert f"{expected:.2g}" == f"{float(documented):.2g}"  # the docstring's two digits
    assert f"ᾱ_T = {documented}" in linear_betas.__doc__ or documented in linear_betas.__doc__


def test_first_T_where_the_ddpm_ends_reach_noise_is_as_documented():
    """linear_betas says ᾱ_T ≤ 0.01 only from T = 456 with the DDPM ends and no rescale."""
    assert _alpha_bar_T_mpmath(455, 1e-4, 0.02) > 0.01 >= _alpha_bar_T_mpmath(456, 1e-4, 0.02)
    assert "T = 456" in linear_betas.__doc__
    assert "rescale_to_1000" in NoiseSchedule.linear.__doc__
    assert "alpha_bar_T" in NoiseSchedule.linear.__doc__
    assert NoiseSchedule(rescale_zero_terminal_snr(linear_betas(10))).terminal_snr == 0.0


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.bfloat16])
@pytest.mark.parametrize("requires_grad", [False, True])
def test_torch_betas_are_accepted_without_a_warning(dtype, requires_grad):
    """numpy 2 warns (an error here, filterwarnings = error) when np.array(tensor, copy=True)
    reaches Tensor.__array__; the schedule converts tensors itself."""
    betas = torch.linspace(1e-3, 0.2, 10, dtype=dtype).requires_grad_(requires_grad)
    expected = betas.detach().double().numpy()
    schedule = NoiseSchedule(betas)
    assert np.array_equal(schedule.beta, expected)
    assert np.array_equal(rescale_zero_terminal_snr(betas), rescale_zero_terminal_snr(expected))
    assert NoiseSchedule([torch.tensor(0.1), torch.tensor(0.2)]).num_steps == 2


@pytest.mark.parametrize("betas", [torch.full((3,), 0.1, dtype=torch.complex64),
                                   torch.ones(3, dtype=torch.bool), np.ones(3, dtype=bool)])
def test_complex_and_bool_betas_are_a_type_error(betas):
    with pytest.raises(TypeError, match=r"betas must .*real numbers in \(0, 1\]"):
        NoiseSchedule(betas)


def test_cosine_alpha_bar_checks_its_arguments():
    with pytest.raises(TypeError, match=r"u must be a real number"):
        cosine_alpha_bar("0.5")
    with pytest.raises(ValueError, match=r"u must be finite"):
        cosine_alpha_bar(math.nan)
    with pytest.raises(ValueError, match=r"s \(the cosine schedule offset\)"):
        cosine_alpha_bar(0.5, s=-0.1)


@pytest.mark.parametrize(
    "function",
    [normal_kl, linear_betas, quadratic_betas, sqrt_linear_betas, betas_from_alpha_bar,
     cosine_alpha_bar, cosine_betas, rescale_zero_terminal_snr, NoiseSchedule,
     NoiseSchedule.linear, NoiseSchedule.cosine, NoiseSchedule.to_torch],
    ids=lambda f: f.__qualname__,
)
def test_public_utilities_state_their_input_contract(function):
    assert "contract" in inspect.getdoc(function)


# ---------------------------------------------------------------------------------------------
# the viz command


@pytest.fixture
def viz(monkeypatch, tmp_path):
    pytest.importorskip("matplotlib")
    from ddpm_math import viz as module

    monkeypatch.chdir(tmp_path)
    return module


def test_viz_help_prints_usage_and_writes_nothing(viz, tmp_path, capsys):
    assert viz.main(["--help"]) == 0
    assert "usage: python -m ddpm_math.viz" in capsys.readouterr().out
    assert list(tmp_path.iterdir()) == []


def test_viz_reports_the_path_it_writes(viz, tmp_path, capsys):
    assert viz.main(["out", "--steps", "20"]) == 0
    assert capsys.readouterr().out.strip() == "wrote out.png"
    assert (tmp_path / "out.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert viz.main([str(tmp_path / "pic.svg"), "20"]) == 0  # positional T, as before
    assert capsys.readouterr().out.strip() == f"wrote {tmp_path / 'pic.svg'}"
    assert (tmp_path / "pic.svg").read_bytes().lstrip().startswith(b"<?xml")


@pytest.mark.parametrize(
    "argv, message",
    [
        ([], r"the following arguments are required: OUT"),
        (["out.png", "abc"], r"T must be an integer >= 2, got 'abc'"),
        (["out.png", "1"], r"T must be an integer >= 2, got 1"),
        (["out.png", "--steps", "-5"], r"T must be an integer >= 2, got -5"),
        (["out.png", "20", "--steps", "30"], r"T given twice with different values"),
        (["no/such/folder/out.png"], r"the folder 'no/such/folder' of OUT does not exist"),
        (["out.xyz", "20"], r"cannot write '.xyz' files; use one of .*\.png"),
        ([".", "20"], r"OUT must be a file name, but '.' is a folder"),
    ],
)
def test_viz_user_mistakes_are_one_line_and_status_2(viz, tmp_path, capsys, argv, message):
    assert viz.main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1
    assert captured.err.startswith("python -m ddpm_math.viz: error: ")
    assert re.search(message, captured.err), captured.err
    assert list(tmp_path.iterdir()) == []


def test_viz_without_matplotlib_says_what_to_install(viz, monkeypatch, capsys):
    for name in ("matplotlib", "matplotlib.backend_bases", "matplotlib.pyplot"):
        monkeypatch.setitem(sys.modules, name, None)  # import raises ImportError
    assert viz.main(["out.png", "20"]) == 2
    assert "pip install 'ddpm_math[plots]'" in capsys.readouterr().err
    with pytest.raises(ImportError, match=r"pip install 'ddpm_math\[plots\]'"):
        viz.plot_schedules(viz.builtin_schedules(20))


def test_viz_library_functions_check_their_arguments(viz):
    with pytest.raises(ValueError, match=r"T must be an integer >= 2"):
        viz.builtin_schedules(1)
    with pytest.raises(TypeError, match=r"T must be an integer >= 2"):
        viz.builtin_schedules(20.0)
    with pytest.raises(TypeError, match=r"schedules\['a'\] must be a NoiseSchedule"):
        viz.plot_schedules({"a": np.full(5, 0.1)})
    with pytest.raises(TypeError, match=r"path must be None, a str or a pathlib.Path"):
        viz.plot_schedules(viz.builtin_schedules(20), 3)
    for function in (viz.builtin_schedules, viz.plot_schedules, viz.main):
        assert "contract" in inspect.getdoc(function) or "exit status" in inspect.getdoc(function)


def test_python_m_viz_help_exits_0_without_writing_a_file(tmp_path):
    pytest.importorskip("matplotlib")
    result = subprocess.run([sys.executable, "-m", "ddpm_math.viz", "--help"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "--steps" in result.stdout and list(tmp_path.iterdir()) == []


# -- gaps the mutation run found in tests/ (verification/mutation/REPORT.md) -----------------


@pytest.mark.parametrize("uniform_prob", [0.0, -0.1, 1.5, float("nan")])
def test_resampler_uniform_prob_outside_its_range_is_named(uniform_prob):
    from ddpm_math import LossSecondMomentResampler

    with pytest.raises(ValueError, match=r"uniform_prob must lie in \(0, 1\]"):
        LossSecondMomentResampler(4, uniform_prob=uniform_prob)


def test_rescale_zero_terminal_snr_refuses_betas_whose_alpha_bar_does_not_decrease():
    """β = 1e-300 twice: ᾱ_1 = ᾱ_2 = 1 in float64, nothing to rescale."""
    import numpy as np

    from ddpm_math import rescale_zero_terminal_snr

    with pytest.raises(ValueError, match="betas must make ᾱ decrease"):
        rescale_zero_terminal_snr(np.array([1e-300, 1e-300]))


def test_calc_bpd_loop_with_a_progress_bar(capsys):
    """progress=True runs the same bound as progress=False, and draws a bar on stderr."""
    import torch

    from ddpm_math import GaussianDiffusion, NoiseSchedule

    diffusion = GaussianDiffusion(NoiseSchedule.linear(6, beta_start=0.01, beta_end=0.5))
    x0 = torch.randint(0, 256, (2, 3, 2, 2), generator=torch.Generator().manual_seed(0)) / 127.5 - 1

    def model(x, t):
        return 0.1 * x * (1 + t.reshape(-1, 1, 1, 1))

    quiet, shown = (diffusion.calc_bpd_loop(model, x0, generator=torch.Generator().manual_seed(1),
                                            progress=progress) for progress in (False, True))
    torch.testing.assert_close(shown["total_bpd"], quiet["total_bpd"], rtol=0, atol=0)
    assert "6/6" in capsys.readouterr().err


def test_normal_kl_with_an_integer_beyond_float_range():
    """mean1 = ±10**400 (a Python int float() cannot hold) is ±inf: KL = +inf, not an
    OverflowError (found by the mutation run: the branch had never run, and raised)."""
    import torch

    from ddpm_math import normal_kl

    for huge in (10**400, -(10**400)):
        assert bool(torch.isposinf(normal_kl(huge, 0.0, torch.zeros(2), 0.0)).all())


def test_resampler_accepts_uniform_prob_one():
    from ddpm_math import LossSecondMomentResampler

    assert LossSecondMomentResampler(4, uniform_prob=1.0).uniform_prob == 1.0


def test_decoder_names_check_values_and_its_opt_out():
    import torch

    from ddpm_math import discretized_gaussian_log_likelihood

    zeros = torch.zeros(2)
    with pytest.raises(TypeError, match="check_values must be True or False"):
        discretized_gaussian_log_likelihood(zeros, zeros, zeros, check_values="yes")
    with pytest.raises(ValueError, match=r"To skip the value checks pass check_values=False\.$"
                       ) as error:  # the function's own hint: it has no decoder= to suggest
        discretized_gaussian_log_likelihood(torch.full((2,), 3.0), zeros, zeros)
    assert "decoder=" not in str(error.value)


def test_calc_bpd_loop_is_quiet_by_default(capsys):
    import torch

    from ddpm_math import GaussianDiffusion, NoiseSchedule

    diffusion = GaussianDiffusion(NoiseSchedule.linear(4, beta_start=0.01, beta_end=0.5))
    x0 = torch.full((1, 1, 2, 2), -1.0)  # on the 8-bit grid (k = 0)
    diffusion.calc_bpd_loop(lambda x, t: 0.1 * x, x0, generator=torch.Generator().manual_seed(0))
    assert capsys.readouterr().err == ""
    diffusion.calc_bpd_loop(lambda x, t: 0.1 * x, x0, generator=torch.Generator().manual_seed(0),
                            progress=True)
    assert "bound: " in capsys.readouterr().err


def test_resampler_messages_name_the_wrong_type_and_the_nan():
    """update_with_losses names what it got (a list is not a tensor), and a NaN loss is refused
    with a message saying so and nothing recorded."""
    import torch

    from ddpm_math import LossSecondMomentResampler

    sampler = LossSecondMomentResampler(4, history_per_term=1)
    with pytest.raises(TypeError, match=r"t must be an integer torch\.Tensor .*got list"):
        sampler.update_with_losses([0], torch.tensor([1.0]))
    with pytest.raises(TypeError, match=r"losses must be a real torch\.Tensor.*got list"):
        sampler.update_with_losses(torch.tensor([0]), [1.0])
    with pytest.raises(ValueError, match=r"losses must be finite, got NaN or inf values "
                                         r"\(nothing recorded\)"):
        sampler.update_with_losses(torch.tensor([0, 1]), torch.tensor([1.0, float("nan")]))
    assert sampler.state_dict()["counts"].tolist() == [0, 0, 0, 0]


def test_respacing_index_messages_name_the_range_and_the_tensor():
    import torch

    from ddpm_math import NoiseSchedule, TimestepMap, respaced_betas

    with pytest.raises(ValueError, match=r"use_timesteps must be non-empty indices in \[0, T-1\]"):
        TimestepMap([-1])
    for dtype in (torch.float32, torch.complex64):
        with pytest.raises(TypeError, match=f"got a {dtype} tensor"):
            respaced_betas(NoiseSchedule.linear(10), torch.tensor([1, 2], dtype=dtype))


def test_bpd_loop_checks_its_generator_itself():
    """diffusion.vlb.bpd_loop is called by the facade after its own checks; called directly it
    still refuses an int seed, with the hint."""
    import torch

    from ddpm_math import NoiseSchedule
    from ddpm_math.diffusion.vlb import bpd_loop

    schedule = NoiseSchedule.linear(4, beta_start=0.01, beta_end=0.5).to_torch()
    with pytest.raises(TypeError, match=r"generator=torch\.Generator\(\)\.manual_seed\(0\)"):
        bpd_loop(lambda x, t: {}, schedule, torch.zeros(1, 1, 2, 2), generator=0)


def test_sync_debug_mode_restores_the_mode_and_silences_only_the_prototype_warning(monkeypatch):
    """On CPU, with torch.cuda's two functions replaced by a fake that warns as torch does (the
    C++ side warns "Synchronization debug mode is a prototype ..." when the mode is set): under
    this suite's filterwarnings=error the block runs, the previous mode comes back after an
    exception, and any other warning still reaches the caller. (On the H200 the unsilenced
    prototype warning became an error and left the mode at "error" for later tests.)"""
    import warnings

    import torch

    from ddpm_math.testing.cuda import sync_debug_mode

    state = {"mode": 0, "calls": []}

    def fake_set(mode):
        warnings.warn("Synchronization debug mode is a prototype feature and does not yet "
                      "detect all synchronizing operations", UserWarning, stacklevel=2)
        state["calls"].append(mode)
        state["mode"] = {"default": 0, "warn": 1, "error": 2}.get(mode, mode)

    monkeypatch.setattr(torch.cuda, "set_sync_debug_mode", fake_set)
    monkeypatch.setattr(torch.cuda, "get_sync_debug_mode", lambda: state["mode"])
    with pytest.raises(RuntimeError, match="inside"), sync_debug_mode("error"):
        assert state["mode"] == 2
        raise RuntimeError("inside")
    assert state["mode"] == 0 and state["calls"] == ["error", 0]
    with pytest.warns(UserWarning, match="another warning"), sync_debug_mode("warn"):
        warnings.warn("another warning", UserWarning, stacklevel=1)
    assert state["mode"] == 0


def test_linear_rescale_refuses_an_end_of_exactly_one():
    """T = 20 scales by 1000/20 = 50: β_end = 0.02·50 = 1 exactly, which a rescaled schedule may
    not reach (the check is >= 1, not > 1)."""
    from ddpm_math import linear_betas

    with pytest.raises(ValueError, match="every beta must stay below 1"):
        linear_betas(20, 1e-4, 0.02, rescale_to_1000=True)


def test_betas_from_alpha_bar_takes_a_zero_d_array_and_refuses_bad_grids():
    """alpha_bar_fn may return a 0-d real numpy array (as np.cos of an array scalar does); a
    negative ᾱ is named as such; an ᾱ that rises again after reaching 0 is "not strictly
    decreasing" (a ValueError, not a divide-by-zero warning)."""
    import numpy as np

    from ddpm_math import betas_from_alpha_bar

    def as_float(u):
        return 1.0 - 0.5 * u

    def as_array(u):
        return np.array(1.0 - 0.5 * u)

    np.testing.assert_array_equal(betas_from_alpha_bar(as_array, 4),
                                  betas_from_alpha_bar(as_float, 4))
    with pytest.raises(ValueError, match="finite values >= 0"):
        betas_from_alpha_bar(lambda u: 1.0 - 2.0 * u, 4)
    with pytest.raises(ValueError, match="strictly decreasing"):
        betas_from_alpha_bar(lambda u: abs(1.0 - 2.0 * u), 4)
