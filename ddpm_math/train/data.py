"""The data sets of the training package: 8-bit images in [-1, 1] and two 2-D toy sets.

Images hold the 8-bit values k = 0..255 as x = k/127.5 - 1 (see :mod:`ddpm_math.notation`),
float32, [N, C, H, W]: the float32 nearest to each k/127.5 - 1, exactly (:data:`PIXEL_VALUES`),
so the discretised decoder of DDPM eq. (13) applies. A :class:`Dataset` checks that its image
data lie on that grid. Toy sets are float32 [N, 2] with continuous values.

Held-out splits never depend on the ``seed`` argument: digits, moons and gmm hold out a fixed
set, CIFAR-10 its ``test_batch``, an image folder a fixed set chosen by file-name hash.

The minibatches a training loop draws from the training split come from
:class:`ddpm_math.train.batches.BatchIterator`, re-exported here.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from ddpm_math.train.batches import BatchIterator
from ddpm_math.train.datasets_images import DataError, read_cifar10, read_image_folder

__all__ = [
    "BatchIterator",
    "DataError",
    "Dataset",
    "DatasetKind",
    "PIXEL_VALUES",
    "from_uint8",
    "gmm_log_density",
    "gmm_means",
    "load_dataset",
    "on_8bit_grid",
]

DatasetKind = Literal["image", "points"]

#: The 256 values of an 8-bit channel in [-1, 1]: float32(k/127.5 - 1), k = 0..255, computed in
#: float64 and rounded once (float32 arithmetic, ``arange(256, float32)/127.5 - 1``, is one ulp
#: off for 128 of them). Image data sets hold exactly these values.
PIXEL_VALUES = (torch.arange(256, dtype=torch.float64) / 127.5 - 1.0).to(torch.float32)
#: Largest distance from k/127.5 - 1 that :func:`on_8bit_grid` accepts: a few float32 ulps of 1,
#: so data rounded by float32 arithmetic pass, while the nearest off-grid 8-bit value is 2/255 away.
GRID_ATOL = 1e-6
_CHUNK = 1 << 22  # elements per step of the chunked conversions (bounds their temporaries)

#: digits: the held-out examples are the first ⌈fraction·1797⌉ of a permutation drawn from this
#: fixed numpy seed (360 for the default fraction 0.2), whatever ``seed`` is.
DIGITS_SPLIT_SEED = 20200619
#: moons and gmm draw this many points in all; the held-out part is drawn from a fixed seed.
TOY_POINTS = 10_000
#: Noise of ``sklearn.datasets.make_moons`` for the moons set.
MOONS_NOISE = 0.05
#: Mean and standard deviation per coordinate of make_moons' distribution (angles uniform on
#: [0, π]): mean (1/2, 1/4); variance (3/4 + noise², 9/16 - 1/π + noise²). Subtracted and
#: divided out, so moons are standardised by constants, not by the sample.
MOONS_MEAN = (0.5, 0.25)
MOONS_STD = (math.sqrt(0.75 + MOONS_NOISE**2), math.sqrt(9 / 16 - 1 / math.pi + MOONS_NOISE**2))
#: gmm: an equal-weight mixture of GMM_COMPONENTS isotropic Gaussians of standard deviation
#: GMM_STD, centred on a circle of radius GMM_RADIUS at angles 2πj/GMM_COMPONENTS.
GMM_COMPONENTS = 8
GMM_RADIUS = 2.0
GMM_STD = 0.15
_TOY_TAGS = {"moons": 1, "gmm": 2}  # SeedSequence entropy that tells the toy sets apart
_DEFAULT_HELDOUT = {"digits": 0.2, "images": 0.1, "moons": 0.2, "gmm": 0.2}
SPEC_FORMS = ("digits", "cifar10:DIR", "images:DIR", "images:DIR@SIZE", "moons", "gmm")


def from_uint8(values: np.ndarray | torch.Tensor) -> torch.Tensor:
    """8-bit values k (uint8, any shape) as float32 x = k/127.5 - 1: :data:`PIXEL_VALUES`[k]."""
    k = torch.as_tensor(values)
    if k.dtype != torch.uint8:
        raise TypeError(f"values must be uint8, got {k.dtype}")
    flat = k.reshape(-1)
    out = torch.empty(flat.shape, dtype=torch.float32)
    for start in range(0, flat.numel(), _CHUNK):
        out[start:start + _CHUNK] = PIXEL_VALUES[flat[start:start + _CHUNK].long()]
    return out.reshape(k.shape)


def on_8bit_grid(x: torch.Tensor) -> bool:
    """True when every value of ``x`` lies within :data:`GRID_ATOL` of k/127.5 - 1, k ∈ {0..255}.

    Worked in float32 (float64 for float64 input), whose rounding (~1e-7) is well inside the
    tolerance; the nearest off-grid 8-bit value, a bin away, is 2/255 ≈ 0.0078 off.
    """
    work = torch.float64 if x.dtype == torch.float64 else torch.float32
    for chunk in x.detach().reshape(-1).split(_CHUNK):
        values = chunk.to("cpu", work)
        k = values.add(1.0).mul_(127.5).round_()
        if not bool(((k >= 0) & (k <= 255)).all()):  # also False for NaN
            return False
        if bool(k.div_(127.5).sub_(1.0).sub_(values).abs_().gt(GRID_ATOL).any()):
            return False
    return True


@dataclass(frozen=True, eq=False, repr=False)
class Dataset:
    """A training split and a held-out split of one data set, float32.

    ``kind="image"``: [N, C, H, W] on the 8-bit grid (checked), ``discrete=True``.
    ``kind="points"``: [N, D] (the toy sets: D = 2), ``discrete`` when on the 8-bit grid (checked).
    ``discrete`` says whether the discretised decoder (DDPM eq. 13) applies.
    """

    train: torch.Tensor
    heldout: torch.Tensor
    name: str
    kind: DatasetKind
    discrete: bool

    def __post_init__(self) -> None:
        if self.kind not in ("image", "points"):
            raise ValueError(f"kind must be 'image' or 'points', got {self.kind!r}")
        ndim = 4 if self.kind == "image" else 2
        for split in ("train", "heldout"):
            value = getattr(self, split)
            if not isinstance(value, torch.Tensor) or value.dtype != torch.float32:
                raise TypeError(f"{split} must be a float32 tensor, got "
                                f"{getattr(value, 'dtype', type(value).__name__)}")
            if value.ndim != ndim or value.shape[0] < 1:
                raise ValueError(f"{split} of {self.kind} data must be [N >= 1, ...] with "
                                 f"{ndim} dimensions, got {list(value.shape)}")
            if not bool(torch.isfinite(value).all()):
                raise ValueError(f"{split} holds NaN or infinite values")
        if self.train.shape[1:] != self.heldout.shape[1:]:
            raise ValueError(f"train {list(self.train.shape)} and heldout "
                             f"{list(self.heldout.shape)} differ in example shape")
        if self.kind == "image" and not self.discrete:
            raise ValueError("image data sets are 8-bit: discrete must be True")
        if self.discrete and not (on_8bit_grid(self.train) and on_8bit_grid(self.heldout)):
            raise ValueError("discrete data must lie on the 8-bit grid k/127.5 - 1 (k = 0..255)")

    @property
    def example_shape(self) -> tuple[int, ...]:
        """The shape of one example: (C, H, W) or (D,)."""
        return tuple(self.train.shape[1:])

    @property
    def num_dims(self) -> int:
        """Dimensions per example (the D of bits/dim)."""
        return math.prod(self.example_shape)

    def __repr__(self) -> str:
        return (f"Dataset(name={self.name!r}, kind={self.kind!r}, discrete={self.discrete}, "
                f"train={list(self.train.shape)}, heldout={list(self.heldout.shape)})")


def _heldout_count(total: int, fraction: float) -> int:
    return min(max(math.ceil(fraction * total), 1), total - 1)


def _digits(heldout_fraction: float) -> Dataset:
    """scikit-learn's 1797 8×8 digits, levels v = 0..16 as k = round(255 v / 16), [N, 1, 8, 8]."""
    from sklearn.datasets import load_digits

    levels = load_digits().images
    if not (np.array_equal(levels, np.round(levels)) and levels.min() >= 0 and levels.max() <= 16):
        raise DataError("sklearn load_digits: expected integer levels 0..16")
    # 255 v / 16 is a half-integer only at v = 8 (127.5): half-up and half-even both give 128.
    k = np.floor(levels * 255.0 / 16.0 + 0.5).astype(np.uint8)[:, None]
    order = np.random.default_rng(DIGITS_SPLIT_SEED).permutation(len(k))
    n_heldout = _heldout_count(len(k), heldout_fraction)
    heldout, train = np.sort(order[:n_heldout]), np.sort(order[n_heldout:])
    return Dataset(from_uint8(k[train]), from_uint8(k[heldout]), "digits", "image", True)


def _toy_streams(name: str, seed: int) -> tuple[int, int]:
    """numpy seeds (train, held-out) of a toy set: the train stream follows ``seed``, the
    held-out stream does not; distinct SeedSequence entropy keeps the two apart."""
    tag = _TOY_TAGS[name]
    train = np.random.SeedSequence([tag, 1, seed]).generate_state(1)[0]
    heldout = np.random.SeedSequence([tag, 0]).generate_state(1)[0]
    return int(train), int(heldout)


def _moons_points(count: int, random_state: int) -> torch.Tensor:
    from sklearn.datasets import make_moons

    points, _ = make_moons(count, noise=MOONS_NOISE, random_state=random_state)
    return torch.from_numpy((points - np.array(MOONS_MEAN)) / np.array(MOONS_STD)).float()


def gmm_means(dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """The gmm set's component means [GMM_COMPONENTS, 2]: radius GMM_RADIUS, angles 2πj/K."""
    angle = torch.arange(GMM_COMPONENTS, dtype=torch.float64) * (2 * math.pi / GMM_COMPONENTS)
    return (GMM_RADIUS * torch.stack([angle.cos(), angle.sin()], dim=1)).to(dtype)


def gmm_log_density(x: torch.Tensor) -> torch.Tensor:
    """log p(x) in nats of the gmm set, exactly: log (1/K) Σ_j N(x; μ_j, GMM_STD² I), x [..., 2]."""
    if not isinstance(x, torch.Tensor) or not x.is_floating_point() or x.shape[-1:] != (2,):
        raise ValueError(f"x must be a floating tensor [..., 2], got "
                         f"{getattr(x, 'shape', type(x).__name__)}")
    squared = ((x[..., None, :] - gmm_means(x.dtype).to(x.device)) ** 2).sum(-1)
    log_normal = -squared / (2 * GMM_STD**2) - math.log(2 * math.pi * GMM_STD**2)
    return torch.logsumexp(log_normal, dim=-1) - math.log(GMM_COMPONENTS)


def _gmm_points(count: int, random_state: int) -> torch.Tensor:
    rng = np.random.default_rng(random_state)
    component = rng.integers(GMM_COMPONENTS, size=count)
    points = gmm_means().numpy()[component] + GMM_STD * rng.standard_normal((count, 2))
    return torch.from_numpy(points).float()


def _toy(name: str, seed: int, heldout_fraction: float) -> Dataset:
    draw = _moons_points if name == "moons" else _gmm_points
    n_heldout = _heldout_count(TOY_POINTS, heldout_fraction)
    train_seed, heldout_seed = _toy_streams(name, seed)
    return Dataset(draw(TOY_POINTS - n_heldout, train_seed), draw(n_heldout, heldout_seed),
                   name, "points", False)


def _split_size_suffix(spec: str, argument: str) -> tuple[str, int | None]:
    """``DIR@SIZE`` → (DIR, SIZE) when SIZE is all digits; else (argument, None)."""
    folder, at, size = argument.rpartition("@")
    if at and folder and size.isdigit():
        return folder, int(size)
    return argument, None


def load_dataset(spec: str = "digits", *, seed: int = 0, heldout_fraction: float | None = None,
                 image_size: int | None = None) -> Dataset:
    """The data set named by ``spec``, its held-out split fixed (independent of ``seed``).

    - ``digits``: scikit-learn's 8×8 digits, [N, 1, 8, 8]; 1437 train, 360 held out (a fixed
      permutation, :data:`DIGITS_SPLIT_SEED`, fraction 0.2).
    - ``cifar10:DIR``: data_batch_1..5 (train) and test_batch (held out), [N, 3, 32, 32].
    - ``images:DIR`` or ``images:DIR@SIZE``: the PNG/JPEG files under DIR, square crops resized
      to ``image_size`` (or SIZE); 10% held out by file-name hash (see ``read_image_folder``).
    - ``moons``, ``gmm``: 2-D points, 8000 train and 2000 held out; the train points are drawn
      with ``seed``, the held-out points from a fixed seed.

    ``heldout_fraction`` (0 < f < 1) overrides the default fraction of the sets that have one
    (not cifar10). Any problem with the spec or the files raises :class:`DataError`.
    """
    if not isinstance(spec, str):
        raise DataError(f"data spec must be a string, one of {', '.join(SPEC_FORMS)}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    name, colon, argument = spec.partition(":")
    known = name in ("digits", "moons", "gmm", "cifar10", "images")
    if not known or bool(colon) != (name in ("cifar10", "images")) or (colon and not argument):
        raise DataError(f"unknown data spec {spec!r}; expected one of {', '.join(SPEC_FORMS)}")
    if heldout_fraction is not None and name == "cifar10":
        raise DataError("cifar10 holds out its test_batch; heldout_fraction does not apply")
    if heldout_fraction is not None and (isinstance(heldout_fraction, bool) or not isinstance(
            heldout_fraction, numbers.Real)):
        raise TypeError(f"heldout_fraction must be a number in (0, 1) or None, got "
                        f"{heldout_fraction!r}")
    if image_size is not None and (isinstance(image_size, bool) or not isinstance(
            image_size, numbers.Integral) or image_size < 1):
        raise ValueError(f"image_size must be an integer >= 1 or None, got {image_size!r}")
    fraction = _DEFAULT_HELDOUT.get(name) if heldout_fraction is None else heldout_fraction
    if fraction is not None and not 0.0 < fraction < 1.0:
        raise ValueError(f"heldout_fraction must lie in (0, 1), got {heldout_fraction!r}")
    if name == "images":
        folder, size = _split_size_suffix(spec, argument)
        if size is not None and image_size is not None and size != image_size:
            raise DataError(f"{spec!r} asks for size {size} but image_size={image_size}")
        size = size if image_size is None else image_size
        train, heldout = read_image_folder(folder, image_size=size, heldout_fraction=fraction)
        return Dataset(from_uint8(train), from_uint8(heldout), "images", "image", True)
    if image_size is not None:
        raise DataError(f"image_size applies to images:DIR only, not to {spec!r}")
    if name == "cifar10":
        train, heldout = read_cifar10(argument)
        return Dataset(from_uint8(train), from_uint8(heldout), "cifar10", "image", True)
    if name == "digits":
        return _digits(fraction)
    return _toy(name, seed, fraction)
