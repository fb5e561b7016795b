"""Fuzzing the input contract of the network and training entry points (issue 8), as
tests/test_fuzz_contracts.py does for the engine: inside the domain, invariants; just outside,
a ValueError/TypeError raised by a ``raise`` of ddpm_math naming the parameter (never a bare
torch/numpy/Python error, never a number or a written file). A damaged checkpoint is named
by its file in a :class:`CheckpointError` (a ValueError).

The networks' checks run inside CUDA-graph capture in the sampling loop: they are asserted
here to read metadata only (shapes, dtypes, devices), see
test_network_checks_read_no_values.
"""

# Coverage: 24 entry points (ENTRY_POINTS).
#   ddpm_math.nn (8): build, unet, config, timestep_embedding, UNet and MLPEpsModel (the
#     constructors and forward);
#   ddpm_math.train (16): TrainConfig (constructor, from_dict, replace), preset_for,
#     load_dataset, per_pixel_gaussian_bpd, heldout_bound, sample, save_grid, save_points,
#     load_trained, load_checkpoint, latest_checkpoint, list_checkpoints, BatchIterator and
#     its load_state_dict.
# Examples: the run ends with "fuzz contracts (train): N of 24 entry points, M examples".
# HYPOTHESIS_PROFILE=ci on the project's shared 2-core machine: 24 of 24 entry points,
# 688 examples, 23 tests (23 passed) in about 9-12 s
# (HYPOTHESIS_PROFILE=ci pytest -q tests/test_fuzz_contracts_train.py).
# The first probe of these entry points found 72 inputs answered with a bare torch/numpy/
# Python error, a number, NaN or a written file; all are fixed, and the *_outside_* tables
# below hold each of them (with cases that were already handled, as regression guards).

from __future__ import annotations

import dataclasses
import functools
import json
import math
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from ddpm_math import GaussianDiffusion, NoiseSchedule
from ddpm_math import nn as dnn
from ddpm_math.train import (
    PRESETS,
    BatchIterator,
    CheckpointError,
    TrainConfig,
    heldout_bound,
    latest_checkpoint,
    list_checkpoints,
    load_checkpoint,
    load_dataset,
    load_trained,
    per_pixel_gaussian_bpd,
    preset_for,
    sample,
    save_checkpoint,
    save_grid,
    save_points,
)
from ddpm_math.train.run import build_network
from tests.test_fuzz_contracts import PACKAGE_DIR, Coverage, _origin, assert_contract_error

NO_CUDA = not torch.cuda.is_available()
ENTRY_POINTS = (
    "build", "unet", "config", "timestep_embedding", "UNet", "UNet.forward", "MLPEpsModel",
    "MLPEpsModel.forward",
    "TrainConfig", "TrainConfig.from_dict", "TrainConfig.replace", "preset_for", "load_dataset",
    "per_pixel_gaussian_bpd", "heldout_bound", "sample", "save_grid", "save_points",
    "load_trained", "load_checkpoint", "latest_checkpoint", "list_checkpoints", "BatchIterator",
    "BatchIterator.load_state_dict",
)
COVERAGE = Coverage("fuzz contracts (train)", ENTRY_POINTS)
ran = COVERAGE.ran


@pytest.fixture(scope="module", autouse=True)
def _coverage_report(request):
    COVERAGE.register(request.config)


def assert_checkpoint_error(call, *parts: str) -> CheckpointError:
    """``call()`` raises a CheckpointError from a ddpm_math ``raise`` whose message holds every
    one of ``parts`` (the file it names)."""
    with pytest.raises(CheckpointError) as info:
        call()
    path, line, source = _origin(info.value)
    assert path.startswith(PACKAGE_DIR) and source.startswith("raise"), (path, line, source)
    for part in parts:
        assert part in str(info.value), (part, str(info.value))
    assert "\n" not in str(info.value)
    return info.value


# =============================================================================================
# networks
# =============================================================================================

#: Small networks (built once; the checks under test do not depend on the width).
NETWORK_OVERRIDES = {
    "digits8": dict(base_channels=8, norm_groups=4, dropout=0.0),
    "small16": dict(base_channels=8, norm_groups=4, dropout=0.0, num_res_blocks=1),
    "mlp2d": dict(),
}


@functools.cache
def network(name: str, learn_sigma: bool, dtype: torch.dtype = torch.float32):
    torch.manual_seed(0)
    model = dnn.build(name, learn_sigma=learn_sigma, **NETWORK_OVERRIDES[name]).to(dtype).eval()
    for parameter in model.parameters():  # conv_out is zero-initialised: make ε̂ see x and t
        parameter.requires_grad_(False)
        parameter.add_(0.01 * torch.randn_like(parameter))
    return model


def input_of(model, batch: int, side: int | None = None, dtype=torch.float32) -> torch.Tensor:
    cfg = model.config
    if isinstance(model, dnn.MLPEpsModel):
        return torch.randn(batch, cfg.data_dim, dtype=dtype)
    side = side or cfg.image_size
    return torch.randn(batch, cfg.in_channels, side, side, dtype=dtype)


@given(name=st.sampled_from(tuple(NETWORK_OVERRIDES)), learn_sigma=st.booleans(),
       batch=st.integers(1, 3), dtype=st.sampled_from((torch.float32, torch.float64)),
       autocast=st.booleans(), data=st.data())
def test_networks_inside_their_domain(name, learn_sigma, batch, dtype, autocast, data):
    """x [B, C, S, S] (S: any multiple of 2**(levels-1)) or [B, data_dim] in the network's
    dtype (any floating dtype under autocast), t an int, a 0-d or a [B] integer tensor (any
    values): a finite [B, out_channels, ...] result in the network's dtype (bfloat16 under
    autocast) that depends on t."""
    model = network(name, learn_sigma, dtype)
    entry = "MLPEpsModel.forward" if name == "mlp2d" else "UNet.forward"
    ran(entry)
    levels = len(getattr(model.config, "channel_mult", (1,)))
    side = data.draw(st.sampled_from((2 ** (levels - 1), 2 ** levels, model.config.image_size)
                                     if name != "mlp2d" else (None,)), label="side")
    x = input_of(model, batch, side, dtype)
    kind = data.draw(st.sampled_from(("int", "0-d", "[B]", "int32")), label="t kind")
    steps = data.draw(st.lists(st.integers(0, 4000), min_size=batch, max_size=batch), label="t")
    t = {"int": steps[0], "0-d": torch.tensor(steps[0]), "[B]": torch.tensor(steps),
         "int32": torch.tensor(steps, dtype=torch.int32)}[kind]
    if autocast and dtype == torch.float32:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = model(x.to(torch.bfloat16) if data.draw(st.booleans()) else x, t)
        want_dtype = torch.bfloat16
    else:
        out = model(x, t)
        want_dtype = dtype
    channels = model.config.out_channels
    assert out.dtype == want_dtype
    assert out.shape == ((batch, channels) if name == "mlp2d"
                         else (batch, channels, *x.shape[2:]))
    assert bool(torch.isfinite(out).all())
    if not autocast:
        other = torch.as_tensor(t) + 1
        assert not torch.equal(model(x, other), out)  # the output depends on t


NETWORK_MISTAKES = {
    "x": ("list", "int64", "float64", "float16", "3-D", "channels", "batch 0", "non-square",
          "not divisible", "complex", *(("cuda",) if False else ())),
    "t": ("float", "bool", "2-D", "length", "str", "None", "list", "py float", "py bool"),
}


def _bad_network_input(model, kind: str) -> torch.Tensor | object:
    x = input_of(model, 2)
    mlp = isinstance(model, dnn.MLPEpsModel)
    return {
        "list": x.tolist(), "int64": x.long(), "float64": x.double(), "float16": x.half(),
        "3-D": x[0], "channels": (torch.zeros(2, 3) if mlp else torch.zeros(2, 2, 8, 8)),
        "batch 0": x[:0], "non-square": torch.zeros(2, 4) if mlp else x[..., :4],
        "not divisible": torch.zeros(2, 2, 2) if mlp else torch.zeros(2, 1, 7, 7),
        "complex": x.to(torch.complex64),
    }[kind]


def _bad_timesteps(kind: str):
    return {"float": torch.tensor([0.0, 1.0]), "bool": torch.tensor([True, False]),
            "2-D": torch.zeros(2, 1, dtype=torch.long), "length": torch.tensor([0, 1, 2]),
            "str": "0", "None": None, "list": [0, 1], "py float": 0.5, "py bool": True}[kind]


@given(name=st.sampled_from(("digits8", "mlp2d")), learn_sigma=st.booleans(), data=st.data())
def test_networks_outside_their_domain_name_the_parameter(name, learn_sigma, data):
    """x of the wrong type, dtype (outside autocast), rank, channels, batch 0, a side not
    divisible by 2**(levels-1) or non-square; t of a float/bool dtype, the wrong shape or
    length, not a tensor or int: the parameter named, never a bare torch error."""
    model = network(name, learn_sigma)
    ran("MLPEpsModel.forward" if name == "mlp2d" else "UNet.forward")
    parameter = data.draw(st.sampled_from(tuple(NETWORK_MISTAKES)), label="parameter")
    kind = data.draw(st.sampled_from(NETWORK_MISTAKES[parameter]), label="kind")
    if parameter == "x":
        x, t = _bad_network_input(model, kind), torch.tensor([0, 1])
        if kind == "batch 0":
            t = torch.zeros(0, dtype=torch.long)
    else:
        x, t = input_of(model, 2), _bad_timesteps(kind)
    assert_contract_error(lambda: model(x, t), parameter)


def test_network_checks_read_no_values():
    """The forward checks work on the meta device (no values exist there) and under
    torch.cuda.graphs' rule of no host reads: a meta tensor with a bad shape is still named,
    a good one runs (x and t on meta: nothing is read)."""
    ran("UNet", "UNet.forward", "MLPEpsModel", "MLPEpsModel.forward")
    with torch.device("meta"):
        for name in ("digits8", "mlp2d"):
            model = dnn.build(name)
            x = input_of(model, 2)
            t = torch.zeros(2, dtype=torch.long)
            assert model(x, t).device.type == "meta"
            assert model(x, 3).device.type == "meta"
            assert_contract_error(lambda: model(x.double(), t), "x")  # noqa: B023
            assert_contract_error(lambda: model(x, t[:1]), "t")  # noqa: B023


def test_network_device_mismatch_is_named():
    """x or t on another device than the weights: named (meta stands in for a second device)."""
    ran("UNet.forward")
    model = network("digits8", False)
    x = input_of(model, 2)
    assert_contract_error(lambda: model(x.to("meta"), torch.tensor([0, 1])), "x")
    assert_contract_error(lambda: model(x, torch.tensor([0, 1], device="meta")), "t")


FACTORY_MISTAKES = (
    ("build", lambda: dnn.build("nope"), "name"), ("build", lambda: dnn.build(None), "name"),
    ("build", lambda: dnn.build(3), "name"),
    ("build", lambda: dnn.build("digits8", bogus=1), "bogus"),
    ("build", lambda: dnn.build("digits8", base_channels=0), "base_channels"),
    ("build", lambda: dnn.build("digits8", dropout=1.0), "dropout"),
    ("build", lambda: dnn.build("digits8", channel_mult=None), "channel_mult"),
    ("build", lambda: dnn.build("digits8", norm_eps="a"), "norm_eps"),
    ("build", lambda: dnn.build("digits8", padding_mode="reflect"), "padding_mode"),
    ("build", lambda: dnn.build("digits8", learn_sigma="yes"), "learn_sigma"),
    ("build", lambda: dnn.build("digits8", image_size=6, channel_mult=(1, 2, 2),
                                attn_resolutions=()), "image_size"),
    ("unet", lambda: dnn.unet("mlp2d"), "name"), ("unet", lambda: dnn.unet(None), "name"),
    ("config", lambda: dnn.config(None), "name"),
    ("config", lambda: dnn.config("mlp2d", data_dim=0), "data_dim"),
    ("UNet", lambda: dnn.UNet(None), "config"),
    ("UNet", lambda: dnn.UNet(dnn.config("mlp2d")), "config"),
    ("MLPEpsModel", lambda: dnn.MLPEpsModel(dnn.config("digits8")), "config"),
    ("timestep_embedding", lambda: dnn.timestep_embedding(torch.tensor([0.5]), 8), "t"),
    ("timestep_embedding", lambda: dnn.timestep_embedding(torch.zeros(2, 1).long(), 8), "t"),
    ("timestep_embedding", lambda: dnn.timestep_embedding(torch.tensor([1]), 3), "dim"),
    ("timestep_embedding", lambda: dnn.timestep_embedding(torch.tensor([1]), 8, 1.0),
     "max_period"),
    ("timestep_embedding", lambda: dnn.timestep_embedding(torch.tensor([1]), 8,
                                                          dtype=torch.long), "dtype"),
    ("timestep_embedding", lambda: dnn.timestep_embedding(torch.tensor([1]), 8, dtype="f"),
     "dtype"),
)


@given(case=st.sampled_from(FACTORY_MISTAKES))
def test_network_factories_outside_their_domain_name_the_parameter(case):
    entry, call, name = case
    ran(entry)
    assert_contract_error(call, name)


@given(t=st.lists(st.integers(0, 10**6), min_size=1, max_size=4), dim=st.integers(4, 33),
       dtype=st.sampled_from((torch.float16, torch.bfloat16, torch.float32, torch.float64)))
def test_timestep_embedding_inside_its_domain(t, dim, dtype):
    """Integer [B], dim ≥ 4, a floating dtype: [B, dim] in dtype, values in [-1, 1]."""
    ran("timestep_embedding", "build", "unet", "config")
    emb = dnn.timestep_embedding(torch.tensor(t), dim, dtype=dtype)
    assert emb.shape == (len(t), dim) and emb.dtype == dtype
    assert bool((emb.abs() <= 1).all())
    assert isinstance(dnn.unet("digits8"), dnn.UNet) and dnn.config("mlp2d").data_dim == 2


# =============================================================================================
# TrainConfig and presets
# =============================================================================================

DATA_SPECS = ("digits", "moons", "gmm", "cifar10:/data/cifar", "images:/data/img",
              "images:/data/img@16")


@given(data=st.data())
def test_train_config_inside_its_domain(data):
    """Any preset under any data spec, with numpy ints: a config whose to_dict survives JSON
    and from_dict back to an equal config; replace validates again."""
    spec = data.draw(st.sampled_from(DATA_SPECS), label="data")
    ran("TrainConfig", "TrainConfig.from_dict", "TrainConfig.replace", "preset_for")
    values = preset_for(spec)
    values.update(data=spec, steps=np.int64(data.draw(st.integers(0, 10), label="steps")),
                  dropout=data.draw(st.sampled_from((None, 0.0, 0.5)), label="dropout"))
    config = TrainConfig(**values)
    assert isinstance(config.steps, int) and not isinstance(config.steps, np.integer)
    assert TrainConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    assert config.replace(seed=3).seed == 3
    assert preset_for(spec) == PRESETS.get(spec.split(":")[0], {})


# "model" and "data" are labels when run_training is given its own network or dataset
# (verification/train/test_gaussian_training.py): TrainConfig checks their type; the names are
# checked where they are built (build_network, load_dataset; see test_build_network_names_*).
CONFIG_MISTAKES = {
    "steps": ("10", -1, 2.5, True), "batch_size": (0, None), "lr": (math.nan, 0.0, "1e-3"),
    "dropout": ("0.1", math.nan, 1.0, True), "hflip": ("yes", 1, None),
    "ema_warmup": ("no", 0), "bf16": (1, "True"), "data": (3, None, "", b"digits"),
    "model": (3, None, ""), "device": ("cuda:1", None), "seed": (-1, 1.5),
    "ema_decay": (math.nan, 1.5), "schedule": (None, "quadratic"), "mean_type": (None, "x"),
    "var_type": ("large",), "keep_last": (0,), "timestep_sampler": (3, "x"),
}


@given(data=st.data())
def test_train_config_outside_its_domain_names_the_parameter(data):
    parameter = data.draw(st.sampled_from((*CONFIG_MISTAKES, "from_dict", "replace",
                                           "preset_for")), label="parameter")
    if parameter == "from_dict":
        ran("TrainConfig.from_dict")
        value = data.draw(st.sampled_from((None, [1], "steps", {1: 2})), label="values")
        assert_contract_error(lambda: TrainConfig.from_dict(value), "values")
        assert_contract_error(lambda: TrainConfig.from_dict({"bogus": 1}), "bogus")
    elif parameter == "replace":
        ran("TrainConfig.replace")
        assert_contract_error(lambda: TrainConfig().replace(bogus=1), "bogus")
        assert_contract_error(lambda: TrainConfig().replace(steps=-1), "steps")
    elif parameter == "preset_for":
        ran("preset_for")
        value = data.draw(st.sampled_from((None, 3, b"digits")), label="data")
        assert_contract_error(lambda: preset_for(value), "data")
    else:
        ran("TrainConfig")
        value = data.draw(st.sampled_from(CONFIG_MISTAKES[parameter]), label="value")
        assert_contract_error(lambda: TrainConfig(**{parameter: value}), parameter)


DATASET_MISTAKES = (
    (dict(spec=None), "spec"), (dict(spec="nope"), "spec"), (dict(spec="cifar10"), "spec"),
    (dict(spec="moons", seed=-1), "seed"), (dict(spec="moons", seed="1"), "seed"),
    (dict(spec="moons", heldout_fraction="0.2"), "heldout_fraction"),
    (dict(spec="moons", heldout_fraction=math.nan), "heldout_fraction"),
    (dict(spec="moons", heldout_fraction=1.0), "heldout_fraction"),
    (dict(spec="moons", heldout_fraction=True), "heldout_fraction"),
    (dict(spec="moons", image_size="8"), "image_size"),
    (dict(spec="images:/nonexistent", image_size="8"), "image_size"),
    (dict(spec="images:/nonexistent", image_size=0), "image_size"),
    (dict(spec="moons", image_size=8), "image_size"),
)


@given(case=st.sampled_from(DATASET_MISTAKES))
def test_load_dataset_outside_its_domain_names_the_parameter(case):
    """Reads no files: every mistake is caught before (``spec`` forms: DataError, a
    ValueError)."""
    kwargs, name = case
    ran("load_dataset")
    assert_contract_error(lambda: load_dataset(**kwargs), name)


def test_load_dataset_names_a_missing_folder():
    ran("load_dataset")
    for spec in ("images:/nonexistent/pictures", "cifar10:/nonexistent/cifar"):
        with pytest.raises(ValueError, match="/nonexistent"):
            load_dataset(spec)


# =============================================================================================
# the baseline, the bound, sampling, pictures
# =============================================================================================


@given(n=st.integers(1, 6), m=st.integers(1, 4), dims=st.integers(1, 3), grid=st.booleans(),
       data=st.data())
def test_per_pixel_gaussian_bpd_inside_its_domain(n, m, dims, grid, data):
    """Finite floating splits of one example shape: a finite number; on the 8-bit grid, a
    code length ≥ 0 (a probability per value, DDPM eq. 13)."""
    ran("per_pixel_gaussian_bpd")
    dtype = data.draw(st.sampled_from((torch.float32, torch.float64)), label="dtype")
    if grid:
        levels = data.draw(st.lists(st.integers(0, 255), min_size=(n + m) * dims,
                                    max_size=(n + m) * dims), label="k")
        values = torch.tensor(levels, dtype=torch.float64).reshape(n + m, dims) / 127.5 - 1
    else:
        values = torch.from_numpy(np.array(data.draw(
            st.lists(st.floats(-5, 5), min_size=(n + m) * dims, max_size=(n + m) * dims),
            label="x"), dtype=np.float64)).reshape(n + m, dims)
    values = values.to(dtype)
    bpd = per_pixel_gaussian_bpd(values[:n], values[n:])
    assert isinstance(bpd, float) and math.isfinite(bpd)
    if grid:
        assert bpd >= -1e-9


BPD_MISTAKES = (
    (lambda: ([[0.0]], torch.zeros(2, 3)), {}, "train"),
    (lambda: (torch.full((4, 3), math.nan), torch.zeros(2, 3)), {}, "train"),
    (lambda: (torch.zeros(4, 3, dtype=torch.long), torch.zeros(2, 3)), {}, "train"),
    (lambda: (torch.zeros(4, 3, dtype=torch.complex64), torch.zeros(2, 3)), {}, "train"),
    (lambda: (torch.rand(5), torch.rand(5)), {}, "train"),
    (lambda: (torch.rand(4, 3), torch.full((2, 3), math.inf)), {}, "heldout"),
    (lambda: (torch.rand(4, 3), torch.full((2, 3), math.nan)), {}, "heldout"),
    (lambda: (torch.rand(4, 3), torch.zeros(2, 3, dtype=torch.long)), {}, "heldout"),
    (lambda: (torch.rand(4, 3), [[0.0] * 3]), {}, "heldout"),
    (lambda: (torch.rand(4, 3), torch.rand(2, 2)), {}, "heldout"),
    (lambda: (torch.rand(4, 3), torch.rand(0, 3)), {}, "heldout"),
    (lambda: (torch.rand(4, 3), torch.rand(2, 3)), {"discrete": "yes"}, "discrete"),
    (lambda: (torch.zeros(4, 3), torch.rand(2, 3) + 0.001), {"discrete": True}, "heldout"),
)


@given(case=st.sampled_from(BPD_MISTAKES))
def test_per_pixel_gaussian_bpd_outside_its_domain_names_the_parameter(case):
    """Non-finite, integer or complex splits, a wrong shape, a non-bool ``discrete``,
    ``discrete=True`` with off-grid held-out data: named, never NaN/inf or a number."""
    make, kwargs, name = case
    ran("per_pixel_gaussian_bpd")
    train, heldout = make()
    assert_contract_error(lambda: per_pixel_gaussian_bpd(train, heldout, **kwargs), name)


@functools.cache
def tiny_diffusion(decoder: str = "gaussian") -> GaussianDiffusion:
    return GaussianDiffusion(NoiseSchedule.linear(4, 1e-3, 0.2), decoder=decoder)


def toy_model(x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """ε̂ = 0.1 (t+1) x_t: depends on t."""
    return 0.1 * (t + 1).to(x_t.dtype).reshape(-1, *[1] * (x_t.ndim - 1)) * x_t


@given(n=st.integers(1, 5), batch_size=st.integers(1, 6), sampler=st.sampled_from(
    ("ancestral", "ddim")), steps=st.sampled_from((None, 1, 2, 4)), seed=st.integers(0, 2**32),
    data=st.data())
def test_bound_and_sampling_inside_their_domain(n, batch_size, sampler, steps, seed, data):
    """heldout_bound on N ≥ 1 examples in any batch size: finite terms, total = prior +
    decoder + kl; sample: the shape asked for, finite, reproducible from its seed."""
    ran("heldout_bound", "sample")
    x0 = torch.from_numpy(np.array(data.draw(st.lists(st.floats(-1.5, 1.5), min_size=2 * n,
                                                      max_size=2 * n)))).float().reshape(n, 2)
    bound = heldout_bound(tiny_diffusion(), toy_model, x0, batch_size=batch_size,
                          generator=torch.Generator().manual_seed(0))
    assert bound["n"] == n
    for key in ("total", "prior", "decoder", "kl"):
        assert math.isfinite(bound[key]) and math.isfinite(bound[f"{key}_stderr"])
    assert math.isclose(bound["total"], bound["prior"] + bound["decoder"] + bound["kl"],
                        rel_tol=1e-5, abs_tol=1e-5)
    options = dict(sampler=sampler, steps=steps, seed=seed, clip_denoised=data.draw(
        st.booleans(), label="clip_denoised"), device=data.draw(
        st.sampled_from(("cpu", torch.device("cpu"))), label="device"))
    samples = sample(tiny_diffusion(), toy_model, (3, 2), **options)
    assert samples.shape == (3, 2) and bool(torch.isfinite(samples).all())
    assert torch.equal(samples, sample(tiny_diffusion(), toy_model, (3, 2), **options))


EVAL_MISTAKES = (
    ("heldout_bound", lambda: heldout_bound(None, toy_model, torch.zeros(2, 2)), "diffusion"),
    ("heldout_bound", lambda: heldout_bound("linear", toy_model, torch.zeros(2, 2)),
     "diffusion"),
    ("heldout_bound", lambda: heldout_bound(tiny_diffusion(), None, torch.zeros(2, 2)), "model"),
    ("heldout_bound", lambda: heldout_bound(tiny_diffusion(), toy_model, [[0.0]]), "x0"),
    ("heldout_bound", lambda: heldout_bound(tiny_diffusion(), toy_model, torch.zeros(0, 2)),
     "x0"),
    ("heldout_bound", lambda: heldout_bound(tiny_diffusion(), toy_model,
                                            torch.full((2, 2), math.nan)), "x0"),
    ("heldout_bound", lambda: heldout_bound(tiny_diffusion("discretized"), toy_model,
                                            torch.rand(2, 1, 2)), "x0"),
    *(("heldout_bound", lambda bad=bad: heldout_bound(tiny_diffusion(), toy_model,
                                                      torch.zeros(2, 2), batch_size=bad),
       "batch_size") for bad in ("2", 1.5, True, 0)),
    ("heldout_bound", lambda: heldout_bound(tiny_diffusion(), toy_model, torch.zeros(2, 2),
                                            generator=3), "generator"),
    ("sample", lambda: sample(None, toy_model, (2, 2)), "diffusion"),
    ("sample", lambda: sample(tiny_diffusion(), toy_model, (2, 2), sampler="x"), "sampler"),
    *(("sample", lambda bad=bad: sample(tiny_diffusion(), toy_model, (2, 2), steps=bad),
       "steps") for bad in ("2", 2.5, 0, 5, True)),
    *(("sample", lambda bad=bad: sample(tiny_diffusion(), toy_model, (2, 2), seed=bad), "seed")
      for bad in (-1, "1", 1.5, None)),
    *(("sample", lambda bad=bad: sample(tiny_diffusion(), toy_model, (2, 2), device=bad),
       "device") for bad in ("nope", 3.5, *(("cuda",) if NO_CUDA else ()))),
    ("sample", lambda: sample(tiny_diffusion(), toy_model, (2,)), "shape"),
    ("sample", lambda: sample(tiny_diffusion(), toy_model, (2, 2), clip_denoised="no"),
     "clip_denoised"),
    ("sample", lambda: sample(tiny_diffusion(), toy_model, (2, 2), progress="no"), "progress"),
    ("sample", lambda: sample(tiny_diffusion(), None, (2, 2)), "model"),
)


@given(case=st.sampled_from(EVAL_MISTAKES))
def test_bound_and_sampling_outside_their_domain_name_the_parameter(case):
    entry, call, name = case
    ran(entry)
    assert_contract_error(call, name)


@given(n=st.integers(1, 5), channels=st.sampled_from((1, 3)), side=st.integers(1, 9),
       nrow=st.sampled_from((None, 1, 2, 7)), scale=st.sampled_from((None, 1, 3)),
       padding=st.integers(0, 2), spread=st.floats(0.5, 3.0))
def test_pictures_inside_their_domain(n, channels, side, nrow, scale, padding, spread):
    """Finite images [N ≥ 1, 1 or 3, H, W] (any range: clipped) and points [N, 2]: a PNG of
    the grid's size is written at the path returned."""
    from PIL import Image

    ran("save_grid", "save_points")
    images = spread * torch.randn(n, channels, side, side, generator=torch.Generator()
                                  .manual_seed(n))
    with tempfile.TemporaryDirectory() as folder:
        path = save_grid(images, Path(folder) / "grid.png", nrow=nrow, scale=scale,
                         padding=padding)
        per_row = nrow or max(1, math.ceil(math.sqrt(n)))
        rows = math.ceil(n / per_row)
        factor = scale or max(1, 64 // side)
        with Image.open(path) as picture:
            assert picture.size == ((per_row * (side + padding) + padding) * factor,
                                    (rows * (side + padding) + padding) * factor)
        if side == 1:  # the scatter plot: slow, once per few examples
            points = save_points(images.reshape(n, -1)[:, :1].repeat(1, 2),
                                 os.path.join(folder, "points.png"),
                                 reference=torch.zeros(3, 2))
            assert points.stat().st_size > 0


PICTURE_MISTAKES = (
    ("save_grid", lambda d: save_grid([[0.0]], d / "a.png"), "images"),
    ("save_grid", lambda d: save_grid(torch.zeros(1, 8, 8), d / "a.png"), "images"),
    ("save_grid", lambda d: save_grid(torch.zeros(2, 2, 8, 8), d / "a.png"), "images"),
    ("save_grid", lambda d: save_grid(torch.full((2, 1, 8, 8), math.nan), d / "a.png"),
     "images"),
    ("save_grid", lambda d: save_grid(torch.zeros(0, 1, 8, 8), d / "a.png"), "images"),
    ("save_grid", lambda d: save_grid(torch.zeros(2, 1, 8, 8, dtype=torch.uint8),
                                      d / "a.png"), "images"),
    *(("save_grid", lambda d, bad=bad: save_grid(torch.zeros(2, 1, 8, 8), d / "a.png",
                                                 nrow=bad), "nrow") for bad in (0, -1, "2")),
    *(("save_grid", lambda d, bad=bad: save_grid(torch.zeros(2, 1, 8, 8), d / "a.png",
                                                 scale=bad), "scale") for bad in (0, -1, 1.5)),
    *(("save_grid", lambda d, bad=bad: save_grid(torch.zeros(2, 1, 8, 8), d / "a.png",
                                                 padding=bad), "padding") for bad in (-1, 1.5)),
    ("save_grid", lambda d: save_grid(torch.zeros(2, 1, 8, 8), None), "path"),
    ("save_grid", lambda d: save_grid(torch.zeros(2, 1, 8, 8), d / "a.nope"), "path"),
    ("save_points", lambda d: save_points(torch.zeros(4, 3), d / "p.png"), "points"),
    ("save_points", lambda d: save_points([[0.0, 0.0]], d / "p.png"), "points"),
    ("save_points", lambda d: save_points(torch.full((4, 2), math.nan), d / "p.png"), "points"),
    ("save_points", lambda d: save_points(torch.zeros(0, 2), d / "p.png"), "points"),
    ("save_points", lambda d: save_points(torch.zeros(4, 2), d / "p.png",
                                          reference=torch.zeros(4, 3)), "reference"),
    ("save_points", lambda d: save_points(torch.zeros(4, 2), None), "path"),
)


@given(case=st.sampled_from(PICTURE_MISTAKES))
def test_pictures_outside_their_domain_name_the_parameter_and_write_nothing(case):
    entry, call, name = case
    ran(entry)
    with tempfile.TemporaryDirectory() as folder:
        assert_contract_error(lambda: call(Path(folder)), name)
        assert os.listdir(folder) == []


# =============================================================================================
# BatchIterator
# =============================================================================================


@given(n=st.integers(1, 12), batch=st.integers(1, 4), world=st.integers(1, 3),
       hflip=st.booleans(), image=st.booleans(), steps=st.integers(0, 7), seed=st.integers(0, 99))
def test_batch_iterator_inside_its_domain(n, batch, world, hflip, image, steps, seed):
    """batch·world ≤ N: batches [B, ...] of the data's examples; a state saved after some
    batches and loaded into a fresh iterator gives the same next batches."""
    if batch * world > n:
        batch = 1
        world = 1
    ran("BatchIterator", "BatchIterator.load_state_dict")
    data = (torch.arange(n * 4.0).reshape(n, 1, 2, 2) if image
            else torch.arange(n * 2.0).reshape(n, 2))
    it = BatchIterator(data, batch, generator=torch.Generator().manual_seed(seed), hflip=hflip,
                       rank=world - 1, world_size=world)
    for _ in range(steps):
        got = next(it)
        assert got.shape == (batch, *data.shape[1:])
    state = it.state_dict()
    other = BatchIterator(data, batch, generator=torch.Generator().manual_seed(seed + 1),
                          hflip=hflip, rank=world - 1, world_size=world)
    other.load_state_dict(state)
    for _ in range(3):
        assert torch.equal(next(it), next(other))


@functools.cache
def _iterator_state() -> dict:
    return BatchIterator(torch.zeros(10, 2), 2, generator=torch.Generator()).state_dict()


ITERATOR_MISTAKES = (
    ("BatchIterator", lambda g: BatchIterator([1, 2], 1, generator=g), "data"),
    ("BatchIterator", lambda g: BatchIterator(torch.zeros(0, 2), 1, generator=g),
     "batch_size"),
    ("BatchIterator", lambda g: BatchIterator(torch.zeros(4, 2), "2", generator=g),
     "batch_size"),
    ("BatchIterator", lambda g: BatchIterator(torch.zeros(4, 2), 2, generator=None),
     "generator"),
    ("BatchIterator", lambda g: BatchIterator(torch.zeros(4, 2), 2, generator=g, hflip="no"),
     "hflip"),
    ("BatchIterator", lambda g: BatchIterator(torch.zeros(4, 2), 1, generator=g, rank=2,
                                              world_size=2), "rank"),
    *(("BatchIterator.load_state_dict",
       lambda g, state=state: BatchIterator(torch.zeros(10, 2), 2, generator=g)
       .load_state_dict(state), name) for state, name in (
        (None, "state"), ([], "state"), ({}, "state"),
        ({**_iterator_state(), "permutation": "abc"}, "permutation"),
        ({**_iterator_state(), "permutation": torch.zeros(10, dtype=torch.long)},
         "permutation"),
        ({**_iterator_state(), "flips": "abc"}, "flips"),
        ({**_iterator_state(), "flips": torch.zeros(1, 10).bool()}, "flips"),
        ({**_iterator_state(), "position": 11}, "position"),
        ({**_iterator_state(), "epoch": -1}, "epoch"),
        ({**_iterator_state(), "generator_state": torch.zeros(3)}, "generator_state"),
        ({**_iterator_state(), "generator_state": "x"}, "generator_state"))),
)


@given(case=st.sampled_from(ITERATOR_MISTAKES))
def test_batch_iterator_outside_its_domain_names_the_parameter(case):
    entry, call, name = case
    ran(entry)
    assert_contract_error(lambda: call(torch.Generator().manual_seed(0)), name)


# =============================================================================================
# checkpoints
# =============================================================================================


@functools.cache
def _saved_run() -> Path:
    """A run directory with one checkpoint of an mlp2d model for moons (step 1)."""
    run_dir = Path(tempfile.mkdtemp(prefix="fuzz-train-"))
    config = TrainConfig(data="moons", model="mlp2d", decoder="gaussian", steps=1)
    torch.manual_seed(0)
    model = build_network(config, (2,))
    optimizer = torch.optim.Adam(model.parameters())
    save_checkpoint(run_dir, step=1, config=config.to_dict(), model=model.state_dict(),
                    ema=model.state_dict(), optimizer=optimizer.state_dict(),
                    meta={"data_shape": [2]})
    return run_dir


def _copy_run(folder: Path) -> Path:
    import shutil

    target = folder / "run"
    shutil.copytree(_saved_run(), target)
    return target


def _damage(run: Path, how: str) -> str:
    """Damage the only checkpoint of ``run``; return the file the error must name."""
    step = run / "checkpoints" / "step_00000001"
    state = step / "state.json"
    if how in ("truncate", "flip a byte", "delete"):
        file = step / "ema.safetensors"
        raw = file.read_bytes()
        if how == "truncate":
            file.write_bytes(raw[: len(raw) // 2])
        elif how == "flip a byte":
            file.write_bytes(raw[:-1] + bytes([raw[-1] ^ 1]))
        else:
            file.unlink()
        return str(step)
    document = json.loads(state.read_text())
    if how == "garbage state":
        state.write_text("{not json")
        return str(step)
    if how == "other model":
        document["config"]["model"] = "digits8"
    elif how == "bad config":
        document["config"]["steps"] = -5
    elif how == "no data shape":
        del document["meta"]["data_shape"]
    elif how == "wrong data shape":
        document["meta"]["data_shape"] = [3]
    state.write_text(json.dumps(document))
    return str(state)


DAMAGE = ("truncate", "flip a byte", "delete", "garbage state", "other model", "bad config",
          "no data shape", "wrong data shape")


@given(how=st.sampled_from(DAMAGE), target=st.sampled_from(("run", "step")))
def test_load_trained_names_a_damaged_checkpoint(how, target):
    """A truncated, corrupted, missing or edited checkpoint: a one-line CheckpointError
    naming the run or the file, never a bare torch/json error; the intact one loads."""
    ran("load_trained", "load_checkpoint", "latest_checkpoint", "list_checkpoints")
    with tempfile.TemporaryDirectory() as folder:
        run = _copy_run(Path(folder))
        config, diffusion, network_, shape, step = load_trained(run)
        assert shape == (2,) and step == 1 and not network_.training
        assert latest_checkpoint(run) == list_checkpoints(run)[-1]
        named = _damage(run, how)
        path = run if target == "run" else run / "checkpoints" / "step_00000001"
        assert_checkpoint_error(lambda: load_trained(path), str(path) if target == "run"
                                else named if how in DAMAGE[4:] else str(path))
        if how in DAMAGE[:4]:
            assert list_checkpoints(run) == [] and latest_checkpoint(run) is None
            assert_checkpoint_error(lambda: load_checkpoint(run), str(run))


@given(case=st.sampled_from((
    ("load_trained", lambda d: load_trained(None), "path"),
    ("load_trained", lambda d: load_trained(3), "path"),
    ("load_trained", lambda d: load_trained(_saved_run(), device="nope"), "device"),
    ("load_trained", lambda d: load_trained(_saved_run(), device=3.5), "device"),
    ("load_checkpoint", lambda d: load_checkpoint(None), "path"),
    ("latest_checkpoint", lambda d: latest_checkpoint(None), "run_dir"),
    ("list_checkpoints", lambda d: list_checkpoints(1.5), "run_dir"),
)))
def test_checkpoint_arguments_outside_their_domain_name_the_parameter(case):
    entry, call, name = case
    ran(entry)
    assert_contract_error(lambda: call(None), name)


@given(how=st.sampled_from(("missing", "file", "empty run")))
def test_load_trained_names_a_missing_checkpoint(how):
    ran("load_trained", "load_checkpoint")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "run"
        if how == "file":
            path.write_text("not a run")
        elif how == "empty run":
            (path / "checkpoints").mkdir(parents=True)
        assert_checkpoint_error(lambda: load_trained(path), str(path))
        assert_checkpoint_error(lambda: load_checkpoint(str(path)), str(path))


def test_every_entry_point_is_listed():
    """ENTRY_POINTS names the public functions of ddpm_math.nn and ddpm_math.train this
    module fuzzes; the rest of their surface is listed in NOT_FUZZED with the reason."""
    import ddpm_math.train as train

    listed = {name.split(".")[0] for name in ENTRY_POINTS}
    public = set(dnn.__all__) | set(train.__all__)
    assert listed <= public
    assert public - listed == set(NOT_FUZZED), sorted(public - listed - set(NOT_FUZZED))


NOT_FUZZED = {
    "CONFIGS": "a mapping (read-only); its entries are built by build() above",
    "MLPConfig": "a frozen dataclass, validated through config()/build() overrides above",
    "UNetConfig": "as MLPConfig",
    "NetworkConfig": "a type alias",
    "PaddingMode": "a Literal type",
    "AttnBlock": "a block of the U-Net, reached through UNet.forward",
    "ResnetBlock": "as AttnBlock",
    "Downsample": "as AttnBlock",
    "Upsample": "as AttnBlock",
    "TimeEmbedding": "as AttnBlock",
    "parameter_count": "counts parameters of any module; no domain to speak of",
    "PRESETS": "a dict, asserted through preset_for",
    "Checkpoint": "the record load_checkpoint returns",
    "CheckpointError": "the error type",
    "DataError": "the error type",
    "Dataset": "built by load_dataset; its checks are tests/test_data.py's",
    "RunResult": "the record run_training returns",
    "TrainState": "the state record of the loop",
    "build_diffusion": "takes a TrainConfig, validated above",
    "build_network": "takes a TrainConfig and a data shape (tests/test_train.py)",
    "run_training": "the whole loop (tests/test_train.py, tests/test_cli.py): too slow here",
    "train_step": "one step of the loop (tests/test_train.py)",
    "save_checkpoint": "tests/test_checkpoint.py; used here to build the damaged checkpoints",
    "capture_rng_state": "tests/test_checkpoint.py",
    "restore_rng_state": "tests/test_checkpoint.py",
    "copy_for_ema": "tests/test_train.py",
    "ema_decay_at": "tests/test_train.py",
    "ema_update": "tests/test_train.py",
    "lr_at": "tests/test_train.py",
    "make_optimizer": "tests/test_train.py",
}


def test_dataclass_configs_are_frozen():
    """TrainConfig is frozen: a check at construction cannot be bypassed by assignment."""
    ran("TrainConfig")
    with pytest.raises(dataclasses.FrozenInstanceError):
        TrainConfig().steps = -1  # type: ignore[misc]


def test_build_network_names_an_unknown_model():
    config = TrainConfig(model="nope")
    assert_contract_error(lambda: build_network(config, (1, 8, 8)), "model")
