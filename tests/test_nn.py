"""ddpm_math.nn: the DDPM U-Net (appendix B) and the toy MLP: parameter counts, shapes, the
zero-initialised output, the timestep embedding's formula, dependence on t, equivariance under
circular shifts, bf16 autocast, and errors that name the parameter."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

import ddpm_math.nn as ddnn
from ddpm_math.nn import (
    CONFIGS,
    AttnBlock,
    MLPEpsModel,
    ResnetBlock,
    UNet,
    UNetConfig,
    build,
    config,
    parameter_count,
    timestep_embedding,
    unet,
)
from ddpm_math.testing.tolerances import TOLERANCES, Tolerance, assert_close

UNET_NAMES = sorted(name for name, cfg in CONFIGS.items() if isinstance(cfg, UNetConfig))
SMALL_UNETS = ["digits8", "small16"]  # cheap enough for real forward passes on one CPU thread


def _randomise_zero_layers(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Give every all-zero parameter random values, so that no branch is silenced.

    At initialisation conv2 of each ResnetBlock, proj_out of each AttnBlock and conv_out are
    zero: the output is 0 and the network is blind to t, so a test of anything else would pass
    vacuously. Weights get N(0, 1/fan_in), biases N(0, 0.1²).
    """
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in model.parameters():
            if param.any():
                continue
            std = 1 / math.sqrt(param[0].numel()) if param.ndim > 1 else 0.1
            noise = torch.randn(param.shape, generator=generator, dtype=torch.float64)
            param.copy_(noise * std)
    return model


def _inputs(cfg, batch: int = 2, seed: int = 0, size: int | None = None):
    """Random x_t shaped for ``cfg`` and distinct 0-based timesteps t."""
    generator = torch.Generator().manual_seed(seed)
    if isinstance(cfg, UNetConfig):
        size = cfg.image_size if size is None else size
        shape = (batch, cfg.in_channels, size, size)
    else:
        shape = (batch, cfg.data_dim)
    x = torch.randn(shape, generator=generator)
    t = torch.randint(0, 1000, (batch,), generator=generator)
    return x, t


# ---------------------------------------------------------------- parameter counts


def _expected_parameter_count(cfg: UNetConfig) -> int:
    """The U-Net's parameter count by hand from DDPM appendix B, without building a module.

    A second route to the count: the channel bookkeeping written out once more as arithmetic,
    so that a miscounted skip or a missing shortcut in UNet shows up as a disagreement.
    """
    conv3, conv1 = (lambda i, o: 9 * i * o + o), (lambda i, o: i * o + o)
    dense, norm = (lambda i, o: i * o + o), (lambda c: 2 * c)
    ch, temb = cfg.base_channels, 4 * cfg.base_channels

    def resnet(i, o):
        shortcut = conv1(i, o) if i != o else 0
        return norm(i) + conv3(i, o) + dense(temb, o) + norm(o) + conv3(o, o) + shortcut

    attn = lambda c: norm(c) + 4 * conv1(c, c)  # noqa: E731  (q, k, v, proj_out)
    total = dense(ch, temb) + dense(temb, temb) + conv3(cfg.in_channels, ch)
    skips, width = [ch], ch
    for level, mult in enumerate(cfg.channel_mult):
        for _ in range(cfg.num_res_blocks):
            total += resnet(width, ch * mult)
            width = ch * mult
            total += attn(width) if cfg.resolutions[level] in cfg.attn_resolutions else 0
            skips.append(width)
        if level < len(cfg.channel_mult) - 1:
            total += conv3(width, width)
            skips.append(width)
    total += 2 * resnet(width, width) + attn(width)
    for level in reversed(range(len(cfg.channel_mult))):
        for _ in range(cfg.num_res_blocks + 1):
            total += resnet(width + skips.pop(), ch * cfg.channel_mult[level])
            width = ch * cfg.channel_mult[level]
            total += attn(width) if cfg.resolutions[level] in cfg.attn_resolutions else 0
        total += conv3(width, width) if level > 0 else 0
    assert not skips
    return total + norm(width) + conv3(width, cfg.out_channels)


def _meta_count(name: str, **overrides) -> int:
    with torch.device("meta"):
        return parameter_count(build(name, **overrides))


def test_cifar10_has_the_papers_35_7M_parameters():
    """DDPM appendix B: 35.7M parameters; 35,746,307 exactly is the count the public PyTorch
    reimplementations of the TF code report (and the count by hand below agrees)."""
    assert _meta_count("cifar10") == 35_746_307


def test_256_model_has_the_papers_114M_parameters():
    """DDPM appendix B, and the TF code's run_lsun.py ("114M" next to the 256 model): 114M."""
    count = _meta_count("celebahq256")
    assert round(count / 1e6) == 114
    assert _meta_count("lsun256") == count


@pytest.mark.parametrize("learn_sigma", [False, True])
@pytest.mark.parametrize("name", UNET_NAMES)
def test_parameter_count_matches_the_count_by_hand(name, learn_sigma):
    assert _meta_count(name, learn_sigma=learn_sigma) == _expected_parameter_count(
        config(name, learn_sigma=learn_sigma))


def test_count_by_hand_sees_a_changed_architecture():
    """The second route is not vacuous: one residual block fewer changes both counts."""
    assert _expected_parameter_count(config("cifar10", num_res_blocks=1)) != 35_746_307


def test_parameter_names_follow_the_tf_variable_scopes():
    """down_i/block_j, mid/{block_1,attn_1,block_2}, up_i (i = level, finest 0), temb/dense0."""
    with torch.device("meta"):
        names = set(unet("cifar10").state_dict())
    for name in ["temb.dense0.weight", "temb.dense1.bias", "conv_in.weight",
                 "down.0.block.1.conv2.weight", "down.1.block.0.nin_shortcut.weight",
                 "down.1.attn.1.proj_out.weight", "down.2.downsample.conv.weight",
                 "mid.block_1.temb_proj.weight", "mid.attn_1.q.weight", "mid.block_2.conv1.bias",
                 "up.3.block.2.nin_shortcut.weight", "up.3.upsample.conv.weight",
                 "up.1.attn.2.k.weight", "up.0.block.0.norm1.weight", "norm_out.weight",
                 "conv_out.bias"]:
        assert name in names, name
    assert not any(name.startswith("down.3.downsample") or name.startswith("up.0.upsample")
                   for name in names)


# ---------------------------------------------------------------- shapes


@pytest.mark.parametrize("learn_sigma", [False, True])
@pytest.mark.parametrize("name", UNET_NAMES)
def test_unet_output_shape_at_its_resolution(name, learn_sigma):
    """Shapes only, on the meta device (no memory, no arithmetic): also the 256×256 model."""
    cfg = config(name, learn_sigma=learn_sigma)
    with torch.device("meta"):
        model = unet(name, learn_sigma=learn_sigma)
        x = torch.empty(2, cfg.in_channels, cfg.image_size, cfg.image_size)
        out = model(x, torch.zeros(2, dtype=torch.int64))
    channels = 2 * cfg.in_channels if learn_sigma else cfg.in_channels
    assert out.shape == (2, channels, cfg.image_size, cfg.image_size)


@pytest.mark.parametrize(
    "name, overrides",
    [("digits8", {}), ("small16", {"learn_sigma": True}), ("cifar10", {}),
     # the 256 model's six levels and attention at 16, shrunk to run on a CPU in a test
     ("celebahq256", {"image_size": 32, "base_channels": 16, "norm_groups": 8})],
)
def test_unet_forward_computes_finite_output_of_the_right_shape(name, overrides):
    torch.manual_seed(0)
    model = unet(name, **overrides).eval()
    cfg = model.config
    x, t = _inputs(cfg, batch=1 if name == "cifar10" else 2)
    with torch.no_grad():
        out = model(x, t)
    assert out.shape == (x.shape[0], cfg.out_channels, *x.shape[2:])
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("learn_sigma, width", [(False, 2), (True, 4)])
def test_mlp2d_output_shape(learn_sigma, width):
    model = build("mlp2d", learn_sigma=learn_sigma)
    assert isinstance(model, MLPEpsModel)
    x, t = _inputs(model.config, batch=5)
    assert model(x, t).shape == (5, width)


def test_model_keeps_its_config_with_the_overrides():
    model = unet("small16", dropout=0.0, padding_mode="circular")
    assert model.config == dataclasses.replace(CONFIGS["small16"], dropout=0.0,
                                               padding_mode="circular")
    assert isinstance(model, UNet)
    assert CONFIGS["small16"].padding_mode == "zeros"  # the registry is untouched


def test_unet_runs_at_other_sizes_divisible_by_the_total_downsampling():
    """A 16×16 input to small16 (3 levels, factor 4) at 8×8 and 32×32: any side 4k works."""
    model = unet("small16").eval()
    for size in (8, 32):
        x, t = _inputs(model.config, size=size)
        assert model(x, t).shape == (2, 3, size, size)


# ---------------------------------------------------------------- initialisation


@pytest.mark.parametrize("name", [*SMALL_UNETS, "mlp2d"])
def test_output_is_exactly_zero_at_initialisation(name):
    """conv_out (out_proj for the MLP) is zero-initialised, weights and bias (DDPM appendix B,
    TF ``init_scale=0``), so ε̂ = 0 for any input and timestep."""
    torch.manual_seed(1)
    model = build(name).train()  # dropout on: still exactly zero
    x, t = _inputs(model.config, batch=3, seed=1)
    assert torch.equal(model(3.0 * x, t), torch.zeros_like(model(x, t)))


def test_residual_blocks_start_as_the_identity():
    """conv2 and proj_out are zero-initialised: each block returns its input at first."""
    x = torch.randn(2, 32, 4, 4, generator=torch.Generator().manual_seed(2))
    temb = torch.randn(2, 64, generator=torch.Generator().manual_seed(3))
    assert torch.equal(ResnetBlock(32, 32, 64, norm_groups=8)(x, temb), x)
    assert torch.equal(AttnBlock(32, norm_groups=8)(x), x)


# ---------------------------------------------------------------- timestep embedding


def _numpy_embedding(t: np.ndarray, dim: int, denominator_offset: int = 1) -> np.ndarray:
    """[sin(t·f_i), cos(t·f_i)], f_i = 10000^(-i/(half-1)), in float64 (TF DDPM nn.py)."""
    half = dim // 2
    freqs = np.array([math.exp(-math.log(10000.0) * i / (half - denominator_offset))
                      for i in range(half)])
    args = t.astype(np.float64)[:, None] * freqs[None, :]
    emb = np.concatenate([np.sin(args), np.cos(args)], axis=1)
    return np.pad(emb, ((0, 0), (0, dim % 2)))


# The embedding is computed in float32 (as in the TF code). For t ≤ 999 the argument t·f_i
# carries one rounding of the product (half an ulp of 999: 3e-5) plus t times the relative
# error of f_i (a few ulps from exp and from rounding the exponent: ≈ 999 · 3 · 2**-24 ≈ 2e-4);
# sin and cos pass an argument error through unamplified. Measured: 4.5e-5.
EMBEDDING_TOL = Tolerance(rtol=0.0, atol=5e-4)


@pytest.mark.parametrize("dim", [4, 7, 64, 128])
def test_timestep_embedding_matches_the_formula(dim):
    t = np.array([0, 1, 2, 17, 500, 998, 999])
    emb = timestep_embedding(torch.from_numpy(t), dim)
    assert emb.dtype == torch.float32 and emb.shape == (len(t), dim)
    assert_close(emb, _numpy_embedding(t, dim), EMBEDDING_TOL)
    assert_close(emb[0], _numpy_embedding(np.array([0]), dim)[0], TOLERANCES["float32"])


def test_timestep_embedding_check_rejects_the_other_convention():
    """Dividing by half (Attention Is All You Need, improved-diffusion) instead of half - 1
    gives different numbers: the check above can tell the two conventions apart."""
    t = np.arange(1000)
    emb = timestep_embedding(torch.from_numpy(t), 128)
    with pytest.raises(AssertionError):
        assert_close(emb, _numpy_embedding(t, 128, denominator_offset=0), EMBEDDING_TOL)


def test_timestep_embeddings_of_distinct_t_differ():
    """All 1000 embeddings are pairwise distinct, and the smallest distance is not tiny."""
    emb = timestep_embedding(torch.arange(1000), 128).double()
    dist = torch.cdist(emb, emb) + torch.eye(1000, dtype=torch.float64) * 1e9
    assert dist.min() > 0.1


# ---------------------------------------------------------------- dependence on t and on x


@pytest.mark.parametrize("name", ["digits8", "mlp2d"])
def test_output_depends_on_t(name):
    """With the zero layers randomised, changing t changes ε̂ by a sizeable fraction."""
    torch.manual_seed(3)
    model = _randomise_zero_layers(build(name).eval())
    x, _ = _inputs(model.config, batch=4, seed=3)
    with torch.no_grad():
        early, late = model(x, 0), model(x, 500)
    assert (early - late).abs().max() > 1e-2 * early.abs().max()


def test_t_dependence_check_fails_for_a_model_that_ignores_t():
    """Zeroing the time MLP's last layer makes temb constant: outputs agree exactly."""
    torch.manual_seed(3)
    model = _randomise_zero_layers(unet("digits8").eval())
    with torch.no_grad():
        model.temb.dense1.weight.zero_()
        model.temb.dense1.bias.zero_()
        x, _ = _inputs(model.config, batch=4, seed=3)
        assert torch.equal(model(x, 0), model(x, 500))


@pytest.mark.parametrize("name", ["small16", "mlp2d"])
def test_each_example_sees_only_its_own_x_and_t(name):
    """Batch rows are independent (GroupNorm and attention act per example) and row i uses t[i];
    a Python int t is broadcast to every row."""
    torch.manual_seed(4)
    model = _randomise_zero_layers(build(name).eval())
    x, t = _inputs(model.config, batch=3, seed=4)
    with torch.no_grad():
        batched = model(x, t)
        for i in range(3):
            single = model(x[i:i + 1], int(t[i]))
            assert_close(single[0], batched[i], TOLERANCES["float32"].scaled(10))
        assert torch.equal(model(x, 7), model(x, torch.full((3,), 7)))


# ---------------------------------------------------------------- translation equivariance


def _shift(x: torch.Tensor, step: int) -> torch.Tensor:
    return torch.roll(x, shifts=(step, 2 * step), dims=(2, 3))


def _equivariance_error(name: str, padding_mode: str, step: int) -> float:
    """max |f(shift x) - shift f(x)| / max |f(x)| in float64, zero layers randomised."""
    torch.manual_seed(5)
    model = unet(name, padding_mode=padding_mode, dropout=0.0).double().eval()
    _randomise_zero_layers(model, seed=5)
    x, t = _inputs(model.config, seed=5)
    with torch.no_grad():
        out = model(x.double(), t)
        out_shifted = model(_shift(x.double(), step), t)
    return float((out_shifted - _shift(out, step)).abs().max() / out.abs().max())


@pytest.mark.parametrize("name", SMALL_UNETS)
def test_circular_unet_commutes_with_shifts_by_the_total_downsampling(name):
    """With circular padding the image is a torus. Every layer commutes with a circular shift
    by s·2**(levels-1) pixels: convolutions with circular padding, the stride-2 downsampling
    (a shift by 2k at its input is a shift by k at its output), nearest upsampling, attention
    (no positional encoding: it permutes with the pixels), and GroupNorm (its statistics are
    over the whole image, so they are unchanged by a permutation of pixels). So f(shift x) =
    shift f(x) exactly in exact arithmetic; float64 rounding leaves ~1e-15 relative."""
    factor = 2 ** (len(CONFIGS[name].channel_mult) - 1)
    assert _equivariance_error(name, "circular", factor) < 1e-12


@pytest.mark.parametrize("name", SMALL_UNETS)
def test_equivariance_fails_for_shifts_that_are_not_multiples(name):
    """A one-pixel shift moves the stride-2 sampling grid: not equivariant (the check can fail)."""
    assert _equivariance_error(name, "circular", 1) > 1e-3


def test_zero_padding_breaks_exact_equivariance():
    """The paper's network (zero padding) is not shift-equivariant even for shifts by 2**(L-1):
    content that wraps around meets zero padding at the border, and because GroupNorm's
    statistics cover the whole image the change reaches every pixel, not only the border. Hence
    the exact claim is made for padding_mode="circular" only."""
    assert _equivariance_error("small16", "zeros", 4) > 1e-3


# ---------------------------------------------------------------- bf16 autocast


def test_bf16_autocast_agrees_with_float32():
    """CPU autocast to bfloat16 against float32, zero layers randomised so ε̂ ≠ 0.

    bf16 keeps 8 significant bits (relative rounding 2**-9 ≈ 2e-3 per operation); the errors of
    ~40 matmul/convolution layers accumulate roughly as a random walk, so we allow 5e-2 of the
    output's scale (max |ε̂|), a local override of the elementwise bfloat16 table entry, which
    is meant for single kernels.
    """
    torch.manual_seed(6)
    model = _randomise_zero_layers(unet("small16").eval(), seed=6)
    x, t = _inputs(model.config, batch=4, seed=6)
    with torch.no_grad():
        reference = model(x, t)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = model(x, t)
    assert low.dtype == torch.bfloat16  # autocast did reach the convolutions
    scale = reference.abs().max()
    error = (low.float() - reference).abs().max()
    assert 0 < error <= 5e-2 * scale


# ---------------------------------------------------------------- bad input


@pytest.fixture(scope="module")
def digits_model():
    return unet("digits8").eval()


@pytest.mark.parametrize(
    "shape, match",
    [((2, 3, 8, 8), r"x must have shape \[B, C, H, W\] with C = in_channels = 1"),
     ((2, 8, 8), r"x must have shape \[B, C, H, W\]"),
     ((2, 1, 8, 4), r"x must be square with a side divisible by 2\*\*\(levels-1\) = 2"),
     ((2, 1, 7, 7), r"x must be square with a side divisible by 2\*\*\(levels-1\) = 2")],
)
def test_bad_x_shape_is_a_value_error(digits_model, shape, match):
    with pytest.raises(ValueError, match=match):
        digits_model(torch.zeros(shape), torch.zeros(shape[0], dtype=torch.int64))


def test_bad_x_type_is_a_type_error(digits_model):
    with pytest.raises(TypeError, match=r"x must be a floating-point tensor"):
        digits_model(torch.zeros(2, 1, 8, 8, dtype=torch.int64), 0)
    with pytest.raises(TypeError, match=r"x must be a floating-point tensor"):
        digits_model(np.zeros((2, 1, 8, 8), dtype=np.float32), 0)


@pytest.mark.parametrize(
    "t, error, match",
    [(torch.zeros(2), TypeError, r"t must be an int or an integer tensor"),
     (torch.zeros(2, dtype=torch.bool), TypeError, r"t must be an int or an integer tensor"),
     (1.5, TypeError, r"t must be an int or an integer tensor"),
     (True, TypeError, r"t must be an int or an integer tensor"),
     ([0, 1], TypeError, r"t must be an int or an integer tensor"),
     (torch.zeros(3, dtype=torch.int64), ValueError, r"t must have shape \[B\] = \[2\]"),
     (torch.zeros(2, 1, dtype=torch.int64), ValueError, r"t must have shape \[B\] = \[2\]")],
)
def test_bad_t_names_t(digits_model, t, error, match):
    with pytest.raises(error, match=match):
        digits_model(torch.zeros(2, 1, 8, 8), t)


def test_bad_mlp_input_names_the_parameter():
    model = build("mlp2d")
    with pytest.raises(ValueError, match=r"x must have shape \[B, data_dim\] = \[B, 2\]"):
        model(torch.zeros(4, 3), 0)
    with pytest.raises(TypeError, match=r"t must be an int or an integer tensor"):
        model(torch.zeros(4, 2), torch.zeros(4))


def test_bad_timestep_embedding_arguments():
    with pytest.raises(TypeError, match=r"t must be an integer tensor"):
        timestep_embedding(torch.zeros(3), 8)
    with pytest.raises(ValueError, match=r"t must have shape \[B\]"):
        timestep_embedding(torch.zeros(3, 1, dtype=torch.int64), 8)
    with pytest.raises(ValueError, match=r"dim must be an int >= 4"):
        timestep_embedding(torch.zeros(3, dtype=torch.int64), 3)


def test_unknown_config_name_lists_the_names():
    for factory in (build, unet, config):
        with pytest.raises(ValueError, match=r"must be one of .*'cifar10'.*"):
            factory("cifar100")
    with pytest.raises(ValueError, match=r"U-Net configs .*use ddpm_math.nn.build"):
        unet("mlp2d")


def test_unknown_override_lists_the_fields():
    with pytest.raises(ValueError, match=r"unknown override\(s\) \['channels'\].*base_channels"):
        unet("cifar10", channels=64)


@pytest.mark.parametrize(
    "overrides, error, match",
    [({"norm_groups": 5}, ValueError, r"norm_groups=5 must divide every channel count"),
     ({"image_size": 20}, ValueError, r"image_size must be divisible by 2\*\*\(levels-1\) = 8"),
     ({"attn_resolutions": (12,)}, ValueError, r"attn_resolutions \[12\] .* allowed: \(32, 16"),
     ({"padding_mode": "reflect"}, ValueError, r"padding_mode must be one of"),
     ({"dropout": 1.0}, ValueError, r"dropout must be a probability in \[0, 1\)"),
     ({"learn_sigma": "yes"}, TypeError, r"learn_sigma must be True or False"),
     ({"channel_mult": ()}, ValueError, r"channel_mult must have at least one level"),
     ({"base_channels": 64.0}, TypeError, r"base_channels must be an int >= 4")],
)
def test_bad_override_value_names_the_field(overrides, error, match):
    with pytest.raises(error, match=match):
        config("cifar10", **overrides)


def test_configs_are_immutable():
    with pytest.raises(dataclasses.FrozenInstanceError):
        CONFIGS["cifar10"].dropout = 0.0
    with pytest.raises(TypeError):
        CONFIGS["cifar10"] = CONFIGS["digits8"]


def test_public_surface_is_declared():
    assert set(ddnn.__all__) <= set(dir(ddnn))
    assert callable(ddnn.unet) and callable(ddnn.build)
