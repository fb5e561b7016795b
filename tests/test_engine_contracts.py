"""The diffusion engine's input contracts (issue 8, part A): every everyday mistake that used to
give a plausible number, a misleading message or a torch-internal error now raises a
ValueError/TypeError that names the parameter and the allowed range; every check that reads
values stays out of the per-step sampling path; the exact decoder is finite at extreme but
finite inputs.

Each test fails on the engine before this change (what it did then is said in the test).
"""

from __future__ import annotations

import inspect
import math
import re
import warnings

import mpmath
import numpy as np
import pytest
import torch

from ddpm_math import GaussianDiffusion, NoiseSchedule, discretized_gaussian_log_likelihood
from ddpm_math.diffusion.resample import LossSecondMomentResampler, UniformSampler
from ddpm_math.train.config import TrainConfig
from tests.test_sampling_sync import count_reads

SCHEDULE = NoiseSchedule.linear(8, 1e-3, 0.2)
GEN = torch.Generator  # a fresh generator per call keeps the tests independent
#: 8-bit values k/127.5 - 1 spread over [-1, 1] (every 11th k), shape [4, 3, 2, 2].
K = torch.arange(48, dtype=torch.float64).mul(11).remainder(256).reshape(4, 3, 2, 2)
X0 = K / 127.5 - 1
DISCRETE = ["discretized", "discretized_approx"]
T_OK = torch.tensor([0, 3, 5, 7])

RANGE = r"x0 must lie in \[-1, 1\], images scaled to \[-1, 1\] \(x = k/127\.5 - 1\)"
GRID = r"x0 must lie on the 8-bit grid k/127\.5 - 1"
UNIT_HINT = r"looks like data in \[0, 1\]; rescale with x\*2-1"


def eps_model(x_t, t):
    """Depends on t, so a model called at the wrong step would change the numbers."""
    return 0.1 * (t + 1).to(x_t.dtype).view(-1, *([1] * (x_t.ndim - 1))) * x_t


class CountingModel:
    def __init__(self, fn=eps_model):
        self.fn, self.calls = fn, 0

    def __call__(self, x_t, t):
        self.calls += 1
        return self.fn(x_t, t)


def bound_and_loss_calls(diffusion, x0, **kwargs):
    """The four entry points that take data x0: (name, thunk)."""
    model = CountingModel()
    x_t = torch.zeros_like(x0)
    return model, [
        ("prior_bpd", lambda: diffusion.prior_bpd(x0, **kwargs)),
        ("vb_terms_bpd", lambda: diffusion.vb_terms_bpd(model, x0, x_t, T_OK, **kwargs)),
        ("calc_bpd_loop", lambda: diffusion.calc_bpd_loop(model, x0, generator=GEN(), **kwargs)),
        ("training_losses", lambda: diffusion.training_losses(model, x0, generator=GEN(),
                                                              **kwargs)),
    ]


# -- 1. data outside [-1, 1] or off the 8-bit grid ---------------------------------------------

@pytest.mark.parametrize("decoder", DISCRETE)
def test_pixels_in_0_255_are_rejected(decoder):
    """Before: calc_bpd_loop on 0..255 pixels returned ~14,000 bits/dim."""
    diffusion = GaussianDiffusion(SCHEDULE, decoder=decoder)
    model, calls = bound_and_loss_calls(diffusion, K.clone())
    for name, call in calls:
        with pytest.raises(ValueError, match=RANGE + r".*0\.\.255") as info:
            call()
        assert "x/127.5 - 1" in str(info.value), name
    assert model.calls == 0  # rejected before the model ran


@pytest.mark.parametrize("decoder", DISCRETE)
def test_data_in_0_1_is_rejected_with_a_hint(decoder):
    """Before: data in [0, 1] gave a plausible 22.9 bits/dim."""
    diffusion = GaussianDiffusion(SCHEDULE, decoder=decoder)
    model, calls = bound_and_loss_calls(diffusion, K / 255)
    for _, call in calls:
        with pytest.raises(ValueError, match=GRID + ".*" + UNIT_HINT):
            call()
    assert model.calls == 0


@pytest.mark.parametrize("decoder", DISCRETE)
def test_continuous_data_in_range_is_rejected_by_the_discrete_decoders(decoder):
    diffusion = GaussianDiffusion(SCHEDULE, decoder=decoder)
    x0 = torch.rand(4, 3, 2, 2, generator=GEN().manual_seed(0), dtype=torch.float64) * 2 - 1
    for _, call in bound_and_loss_calls(diffusion, x0)[1]:
        with pytest.raises(ValueError, match=GRID + r".*decoder='gaussian'.*check_values=False"):
            call()


def _result(value):
    """The per-example tensor of an entry point's result."""
    if isinstance(value, torch.Tensor):
        return value
    return value["total_bpd"] if "total_bpd" in value else value["loss"]


def test_check_values_false_opts_out_and_the_gaussian_decoder_takes_any_finite_data():
    x0 = torch.rand(4, 3, 2, 2, generator=GEN().manual_seed(0), dtype=torch.float64) * 2 - 1
    diffusion = GaussianDiffusion(SCHEDULE)
    for _, call in bound_and_loss_calls(diffusion, x0, check_values=False)[1]:
        assert torch.isfinite(_result(call())).all()
    gaussian = GaussianDiffusion(SCHEDULE, decoder="gaussian")
    for data in (x0, K / 255, 3.0 * X0):  # continuous data, any range
        for _, call in bound_and_loss_calls(gaussian, data)[1]:
            assert torch.isfinite(_result(call())).all()


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.float16, torch.bfloat16])
def test_grid_values_computed_in_each_dtype_are_accepted(dtype):
    """k/127.5 - 1 computed in the dtype itself (bfloat16: up to 2⁻⁸ off) and computed in
    float32 then cast both pass; in float16/bfloat16 the loss is computed all the same."""
    k = torch.arange(256)
    for x in ((k.to(dtype) / 127.5 - 1), (k / 127.5 - 1).to(dtype)):
        assert torch.isfinite(discretized_gaussian_log_likelihood(x, torch.zeros_like(x), -2.0,
                                                                  exact=True)).all()
        x0 = x.reshape(4, 4, 4, 4)
        losses = GaussianDiffusion(SCHEDULE, loss_type="hybrid").training_losses(
            eps_model, x0, generator=GEN().manual_seed(0))
        assert torch.isfinite(losses["loss"].float()).all()


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.float16])
def test_half_a_bin_off_the_grid_is_rejected_in_each_dtype(dtype):
    x = (torch.arange(255) / 127.5 - 1 + 1 / 255).to(dtype)  # the midpoints between values
    with pytest.raises(ValueError, match=r"x must lie on the 8-bit grid.*check_values=False"):
        discretized_gaussian_log_likelihood(x, torch.zeros_like(x), 0.0)
    off = discretized_gaussian_log_likelihood(x, torch.zeros_like(x), 0.0, check_values=False)
    assert torch.isfinite(off).all()


def test_decoder_function_rejects_out_of_range_and_unit_interval_data():
    means = torch.zeros(256, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"x must lie in \[-1, 1\].*0\.\.255"):
        discretized_gaussian_log_likelihood(torch.arange(256.0, dtype=torch.float64), means, 0.0)
    with pytest.raises(ValueError, match=UNIT_HINT):
        discretized_gaussian_log_likelihood(torch.arange(256, dtype=torch.float64) / 255,
                                            means, 0.0)


@pytest.mark.parametrize("bad, name", [("nan", "means"), ("inf", "log_scales")])
def test_decoder_function_rejects_non_finite_parameters(bad, name):
    x = torch.arange(256, dtype=torch.float64) / 127.5 - 1
    args = {"means": torch.zeros_like(x), "log_scales": torch.zeros_like(x)}
    args[name] = torch.full_like(x, float(bad))
    with pytest.raises(ValueError, match=f"{name} holds NaN or inf"):
        discretized_gaussian_log_likelihood(x, **args)


@pytest.mark.parametrize("log_scales, error, match", [
    (None, TypeError, "log_scales must be a floating tensor or a real number"),
    ("0", TypeError, "log_scales must be a floating tensor or a real number"),
    (torch.zeros(5), ValueError, r"must broadcast together, got shapes \(256,\), \(256,\), \(5,\)"),
    (float("nan"), ValueError, "log_scales must be finite"),
])
def test_decoder_function_names_a_bad_log_scales(log_scales, error, match):
    x = torch.arange(256) / 127.5 - 1
    with pytest.raises(error, match=match):
        discretized_gaussian_log_likelihood(x, torch.zeros_like(x), log_scales)


# -- 2. a learned variance with L_simple -------------------------------------------------------

@pytest.mark.parametrize("var_type", ["learned", "learned_range"])
def test_learned_variance_with_simple_loss_is_rejected_by_training_losses(var_type):
    """Before: accepted, and the variance channels got exactly zero gradient."""
    diffusion = GaussianDiffusion(SCHEDULE, var_type=var_type)
    model = CountingModel(lambda x, t: torch.cat([eps_model(x, t), torch.zeros_like(x)], 1))
    with pytest.raises(ValueError, match=r"loss_type='simple' cannot train a learned variance"
                                         r".*'hybrid' or 'vlb'"):
        diffusion.training_losses(model, X0)
    assert model.calls == 0
    # sampling with such an engine (the loss type unused) still works
    sample = diffusion.p_sample_loop(model, (2, 3), generator=GEN().manual_seed(0),
                                     dtype=torch.float64)
    assert torch.isfinite(sample).all()


def test_the_default_training_configuration_is_a_fixed_variance_with_simple_loss():
    config = TrainConfig()
    assert (config.var_type, config.loss_type) == ("fixed_large", "simple")


# -- 3. NaN and inf in the caller's data -------------------------------------------------------

def nan_at(x, value=float("nan")):
    x = x.clone()
    x.view(-1)[5] = value
    return x


@pytest.mark.parametrize("loss_type", ["simple", "vlb", "hybrid"])
@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_x0_is_named(loss_type, value):
    """Before: NaN x0 was reported as "model output holds NaN", NaN with 'vlb' or in
    calc_bpd_loop gave NaN for that example silently, and x0 = inf a finite loss."""
    for decoder in ("discretized", "gaussian"):
        diffusion = GaussianDiffusion(SCHEDULE, var_type="learned_range" if loss_type != "simple"
                                      else "fixed_small", loss_type=loss_type, decoder=decoder)
        model, calls = bound_and_loss_calls(diffusion, nan_at(X0, value))
        for _, call in calls:
            with pytest.raises(ValueError, match="x0 holds NaN or inf values"):
                call()
        assert model.calls == 0


def test_non_finite_noise_and_x_t_are_named():
    diffusion = GaussianDiffusion(SCHEDULE)
    bad = nan_at(torch.zeros_like(X0))
    for call in (lambda: diffusion.training_losses(eps_model, X0, noise=bad),
                 lambda: diffusion.q_sample(X0, T_OK, bad),
                 lambda: diffusion.p_sample(eps_model, X0, T_OK, noise=bad),
                 lambda: diffusion.ddim_sample(eps_model, X0, T_OK, noise=bad, eta=0.5)):
        with pytest.raises(ValueError, match="noise holds NaN or inf"):
            call()
    with pytest.raises(ValueError, match=r"noise \(x_T\) holds NaN or inf"):
        diffusion.p_sample_loop(eps_model, X0.shape, noise=bad)
    with pytest.raises(ValueError, match=r"noise \(x_T\) holds NaN or inf"):
        diffusion.ddim_sample_loop(eps_model, X0.shape, noise=bad)
    for call in (lambda: diffusion.p_mean_variance(eps_model, bad, T_OK),
                 lambda: diffusion.vb_terms_bpd(eps_model, X0, bad, T_OK),
                 lambda: diffusion.x0_from_eps(bad, T_OK, X0),
                 lambda: diffusion.q_posterior(X0, bad, T_OK)):
        with pytest.raises(ValueError, match="x_t holds NaN or inf"):
            call()
    with pytest.raises(ValueError, match="x0 holds NaN or inf"):
        diffusion.q_sample(bad, T_OK)
    # opted out: no read, the NaN flows through as the caller asked
    assert torch.isnan(diffusion.q_sample(bad, T_OK, check_values=False)).any()


# -- 4. a seed where a generator belongs -------------------------------------------------------

def test_an_int_generator_is_a_type_error_at_every_entry_point():
    """Before: AttributeError: 'int' object has no attribute 'device' deep in resample.py."""
    diffusion = GaussianDiffusion(SCHEDULE)
    calls = [
        lambda g: diffusion.q_sample(X0, T_OK, generator=g),
        lambda g: diffusion.p_sample(eps_model, X0, T_OK, generator=g),
        lambda g: diffusion.ddim_sample(eps_model, X0, T_OK, generator=g),
        lambda g: diffusion.p_sample_loop(eps_model, (2, 3), generator=g),
        lambda g: diffusion.ddim_sample_loop(eps_model, (2, 3), generator=g),
        lambda g: diffusion.calc_bpd_loop(eps_model, X0, generator=g),
        lambda g: diffusion.training_losses(eps_model, X0, generator=g),
        lambda g: UniformSampler(8).sample(4, generator=g),
        lambda g: LossSecondMomentResampler(8).sample(4, generator=g),
    ]
    for call in calls:
        with pytest.raises(TypeError, match=r"generator must be a torch\.Generator or None, got "
                                            r"int 0; .*torch\.Generator\(\)\.manual_seed\(0\)"):
            call(0)
        with pytest.raises(TypeError, match="generator must be a torch.Generator"):
            call(np.random.default_rng(0))


# -- 5. what the constructor accepts as a schedule ---------------------------------------------

@pytest.mark.parametrize("schedule", [1000, "linear", None, 0.02])
def test_a_number_or_name_for_the_schedule_points_at_noise_schedule_linear(schedule):
    with pytest.raises(TypeError, match=r"schedule must be a NoiseSchedule or an array of betas; "
                                        r"for DDPM's schedule use NoiseSchedule\.linear\(1000\)"):
        GaussianDiffusion(schedule)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_a_torch_tensor_of_betas_is_accepted_without_warnings(dtype):
    """Before: a numpy DeprecationWarning (an error under -W error)."""
    betas = torch.tensor(SCHEDULE.beta, dtype=dtype, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        diffusion = GaussianDiffusion(betas)
    np.testing.assert_array_equal(diffusion.schedule.beta,
                                  betas.detach().double().numpy())
    with pytest.raises(ValueError, match="betas must lie in .*NoiseSchedule.linear"):
        GaussianDiffusion(torch.tensor([0.1, 1.5]))


# -- 6. a non-floating sampling dtype ----------------------------------------------------------

@pytest.mark.parametrize("dtype", [torch.int64, torch.bool, torch.complex64, "float32"])
def test_sampling_dtype_must_be_floating(dtype):
    """Before: torch.int64 failed inside torch.randn."""
    diffusion = GaussianDiffusion(SCHEDULE)
    for loop in (diffusion.p_sample_loop, diffusion.ddim_sample_loop):
        with pytest.raises(TypeError, match=r"dtype must be a floating torch\.dtype"):
            loop(eps_model, (2, 3), dtype=dtype)
    with pytest.raises(ValueError, match="device must name a torch device"):
        diffusion.p_sample_loop(eps_model, (2, 3), device="gpu")


# -- value reads stay out of the sampling loop; check_values skips the data reads ---------------

def test_the_sampling_loop_reads_values_twice_with_the_caller_noise_checked(monkeypatch):
    """The x_T check shares the first step's read with the model output check: one read there,
    one after the last step, whatever T (a third read would be a new GPU synchronisation)."""
    x_T = torch.randn(2, 3, generator=GEN().manual_seed(0))
    for loop in ("p_sample_loop", "ddim_sample_loop"):
        method = getattr(GaussianDiffusion(SCHEDULE), loop)
        run = lambda method=method: method(eps_model, x_T.shape, noise=x_T)  # noqa: E731
        assert count_reads(monkeypatch, run) == 2, loop


def test_check_values_false_skips_the_reads_of_the_data(monkeypatch):
    diffusion = GaussianDiffusion(SCHEDULE)
    noise = torch.randn(X0.shape, generator=GEN().manual_seed(0), dtype=X0.dtype)

    def reads(check_values):
        return count_reads(monkeypatch, lambda: diffusion.training_losses(
            eps_model, X0, t=T_OK, noise=noise, check_values=check_values))

    assert reads(True) == reads(False) + 2  # x0 (range and grid, one read) and noise


# -- 7. the exact decoder at extreme but finite inputs -----------------------------------------

PIXELS = torch.arange(256, dtype=torch.float64) / 127.5 - 1
SAMPLE_K = [0, 1, 64, 127, 128, 200, 254, 255]


def mp_log_probability(x: float, mean: float, log_scale: float) -> mpmath.mpf:
    """log P(bin of x) under N(mean, e^{2 log_scale}) at 80 digits (the first and last bins
    open), the inputs taken as the exact binary values the kernel sees."""
    with mpmath.workdps(80):
        x, mean, half = mpmath.mpf(x), mpmath.mpf(mean), mpmath.mpf(1) / 255
        scale = mpmath.exp(mpmath.mpf(log_scale))
        if x < -0.999:
            return mpmath.log(mpmath.ncdf((x + half - mean) / scale))
        if x > 0.999:
            return mpmath.log(mpmath.ncdf(-(x - half - mean) / scale))
        lower, upper = (x - half - mean) / scale, (x + half - mean) / scale
        if lower > 0:  # reflect to the left tail, where ncdf keeps its relative accuracy
            lower, upper = -upper, -lower
        return mpmath.log(mpmath.ncdf(upper) - mpmath.ncdf(lower))


EXTREME = [(0.0, 20.0), (0.0, 50.0), (0.3, 60.0), (0.0, 100.0), (1e6, 0.0), (-1e6, -5.0),
           (1e6, 5.0), (1e9, 0.0), (1e6, -30.0), (0.0, 10.0)]


def relative_errors(dtype, mean, log_scale):
    x = PIXELS[SAMPLE_K].to(dtype)
    means = torch.full_like(x, mean)
    got = discretized_gaussian_log_likelihood(x, means, log_scale, exact=True)
    assert torch.isfinite(got).all(), (dtype, mean, log_scale, got)
    want = [mp_log_probability(float(xi), float(mi), log_scale)
            for xi, mi in zip(x, means, strict=True)]
    return [abs(float(g) - float(w)) / max(1.0, abs(float(w)))
            for g, w in zip(got, want, strict=True)]


@pytest.mark.parametrize("mean, log_scale", EXTREME)
def test_exact_decoder_is_finite_and_accurate_at_extreme_inputs(mean, log_scale):
    """Before: -inf for every interior bin at float32 log_scales ≥ 20, float64 ≥ 50, and at
    mean = 1e6 in float32 (and 1.1% off at float32 log_scales = 10).

    Error bound: relative (absolute below |log P| = 1) 1e-9 in float64 — the narrow-bin formula
    is exact within w²/8 and measured at ≤ 4e-16 here; 1e-5 in float32, measured ≤ 2e-7."""
    assert max(relative_errors(torch.float64, mean, log_scale)) < 1e-9
    assert max(relative_errors(torch.float32, mean, log_scale)) < 1e-5


@pytest.mark.parametrize("log_scale", [20.0, 50.0, 300.0])
def test_exact_decoder_is_normalised_at_enormous_scales(log_scale):
    """σ = e^50: the two open bins hold ½ each, the 254 interior bins w·φ(0) ≈ 6e-24 each."""
    log_p = discretized_gaussian_log_likelihood(PIXELS, torch.zeros(256, dtype=torch.float64),
                                                log_scale, exact=True)
    assert torch.isfinite(log_p).all()
    assert abs(float(torch.logsumexp(log_p, 0))) < 1e-12


def test_cdf_differences_alone_fail_the_extreme_check():
    """The check above can fail: the plain log-CDF difference (the old interior formula) is -inf
    at σ = e^50 in float64."""
    from ddpm_math.diffusion.decoder import _log_normal_mass

    edge = math.exp(-50.0) / 255
    assert float(_log_normal_mass(torch.tensor(-edge, dtype=torch.float64),
                                  torch.tensor(edge, dtype=torch.float64))) == -math.inf


def test_exact_decoder_gradients_are_finite_in_the_narrow_regime():
    x = PIXELS[[0, 64, 128, 255]]
    for mean, log_scale in [(0.2, 20.0), (1e6, 0.0), (0.0, 8.0)]:
        means = torch.full((4,), mean, dtype=torch.float64, requires_grad=True)
        scales = torch.full((4,), log_scale, dtype=torch.float64, requires_grad=True)
        discretized_gaussian_log_likelihood(x, means, scales, exact=True).sum().backward()
        assert torch.isfinite(means.grad).all() and torch.isfinite(scales.grad).all()
    means = torch.full((4,), 0.2, dtype=torch.float64, requires_grad=True)
    scales = torch.full((4,), 8.0, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda m, s: discretized_gaussian_log_likelihood(x, m, s, exact=True), (means, scales))


@pytest.mark.parametrize("dtype, rtol", [(torch.float32, 1e-6), (torch.float64, 1e-13)])
def test_log_ndtr_gradient_is_the_mills_ratio_deep_in_the_tail(dtype, rtol):
    """The first and last bins' log Φ: d log Φ(x)/dx = φ(x)/Φ(x) (mpmath, 50 digits), measured
    within 4e-7 (float32) and 4e-16 (float64) relative; torch.special.log_ndtr's own backward
    fails the same check (float32: 4% off at -1000, 0 at -1e5)."""
    from ddpm_math.diffusion.decoder import log_ndtr

    points = [3.0, 0.0, -1.0, -40.0, -1e3, -1e5, -1e7]
    with mpmath.workdps(50):
        want = [float(mpmath.npdf(p) / mpmath.ncdf(p)) for p in points]

    def gradient(fn):
        x = torch.tensor(points, dtype=dtype, requires_grad=True)
        fn(x).sum().backward()
        return x.grad.double().numpy()

    np.testing.assert_allclose(gradient(log_ndtr), want, rtol=rtol)
    if dtype == torch.float32:
        assert not np.allclose(gradient(torch.special.log_ndtr), want, rtol=1e-2)


# -- 8. every public method states its input contract ------------------------------------------

def test_every_public_method_states_its_input_contract():
    """Each parameter is named in the method's docstring or in the class docstring's input
    contract, and every method reading data values offers check_values."""
    class_doc = GaussianDiffusion.__doc__
    assert "Input contract" in class_doc
    for name, method in inspect.getmembers(GaussianDiffusion, inspect.isfunction):
        if name.startswith("_"):
            continue
        doc = method.__doc__ or ""
        assert doc, name
        for parameter in list(inspect.signature(method).parameters)[1:]:
            named = re.search(rf"``{parameter}``", doc) or re.search(rf"``{parameter}``",
                                                                     class_doc)
            assert named, f"{name}: parameter {parameter} is not described"
        data_args = {"x0", "x_t", "eps", "v"} & set(inspect.signature(method).parameters)
        if data_args and name not in ("p_sample_loop", "ddim_sample_loop"):
            assert "check_values" in inspect.signature(method).parameters, name
