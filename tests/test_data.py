"""The data layer: loaders (digits, CIFAR-10 pickles, image folders, toy sets), the batch
iterator, and the per-pixel Gaussian baseline.

Oracles: pixel values are checked against k/127.5 - 1 computed with exact rationals
(``fractions``); CIFAR-10 files are written byte by byte in the layout Python 2's cPickle gave
the real ones; the baseline is checked against entropies computed from ``scipy.stats.norm``.
Statistical checks are seeded and use z = 5 bounds (false-failure probability below 1e-6).
"""

from __future__ import annotations

import math
import os
import pickle
import shlex
import struct
from collections import Counter
from fractions import Fraction

import numpy as np
import pytest
import torch
from PIL import Image
from scipy import stats

from ddpm_math.train.baseline import STD_FLOOR, per_pixel_gaussian_bpd
from ddpm_math.train.data import (
    PIXEL_VALUES,
    BatchIterator,
    DataError,
    Dataset,
    from_uint8,
    gmm_log_density,
    gmm_means,
    load_dataset,
    on_8bit_grid,
)
from ddpm_math.train.datasets_images import GRAYSCALE_MODES

# The float32 nearest to k/127.5 - 1, from exact rationals (ties cannot occur: 2k/255 - 1 has
# a non-terminating binary expansion unless it is 0 or ±1).
_EXACT = [Fraction(2 * k, 255) - 1 for k in range(256)]


def _nearest_float32(value: Fraction) -> float:
    guess = np.float32(float(value))
    candidates = [np.nextafter(guess, np.float32(-2)), guess, np.nextafter(guess, np.float32(2))]
    return float(min(candidates, key=lambda c: abs(Fraction(float(c)) - value)))


GRID = torch.tensor([_nearest_float32(v) for v in _EXACT], dtype=torch.float32)


def as_k(x: torch.Tensor) -> torch.Tensor:
    """The 8-bit value k of each on-grid x, checked exactly against GRID."""
    k = torch.round((x.double() + 1) * 127.5).long()
    assert torch.equal(GRID[k], x), "values are not exactly the float32 of k/127.5 - 1"
    return k


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


# --- the 8-bit grid ---------------------------------------------------------------------------

def test_pixel_values_are_the_nearest_float32_of_k_over_127_5_minus_1():
    assert torch.equal(PIXEL_VALUES, GRID)
    assert torch.equal(from_uint8(np.arange(256, dtype=np.uint8)), GRID)
    # float32 arithmetic (the README's arange(256)/127.5 - 1) is one ulp off in places, which
    # the grid check tolerates; half-way values between grid points are rejected.
    float32_route = torch.arange(256, dtype=torch.float32) / 127.5 - 1
    assert not torch.equal(float32_route, GRID) and on_8bit_grid(float32_route)
    assert not on_8bit_grid(GRID[:-1] + 1 / 255)
    assert not on_8bit_grid(torch.tensor([1.0 + 2 / 255])) and not on_8bit_grid(
        torch.tensor([float("nan")]))


def test_dataset_refuses_off_grid_images_and_wrong_shapes():
    good = GRID[:64].reshape(1, 1, 8, 8)
    Dataset(good, good, "x", "image", True)
    with pytest.raises(ValueError, match="8-bit grid"):
        Dataset(good + 1e-3, good, "x", "image", True)
    with pytest.raises(ValueError, match="discrete must be True"):
        Dataset(good, good, "x", "image", False)
    with pytest.raises(TypeError, match="float32"):
        Dataset(good.double(), good, "x", "image", True)
    with pytest.raises(ValueError, match="dimensions"):
        Dataset(good.reshape(1, 64), good.reshape(1, 64), "x", "image", True)


# --- digits -----------------------------------------------------------------------------------

def test_digits_shape_range_and_grid(digits):
    assert digits.kind == "image" and digits.discrete and digits.name == "digits"
    # 1797 images (scikit-learn's documentation); 360 = ⌈0.2 · 1797⌉ held out.
    assert digits.train.shape == (1437, 1, 8, 8) and digits.heldout.shape == (360, 1, 8, 8)
    assert digits.train.dtype == torch.float32
    k = torch.cat([as_k(digits.train), as_k(digits.heldout)])
    # levels v = 0..16 become round(255 v / 16): 0, 16, 32, 48, 64, 80, 96, 112, 128, ..., 255
    levels = {int(np.floor(Fraction(255 * v, 16) + Fraction(1, 2))) for v in range(17)}
    assert set(k.unique().tolist()) <= levels and {0, 255} <= set(k.unique().tolist())


def _sklearn_digits_k() -> Counter:
    """The multiset of scikit-learn's digits as 8-bit rows, k = round(255 v / 16) in exact
    rationals (v = 8 gives 127.5, which both usual rounding rules send to 128)."""
    from sklearn.datasets import load_digits

    levels = load_digits().images.reshape(-1, 64).astype(int)
    return Counter(tuple(int(np.floor(Fraction(255 * v, 16) + Fraction(1, 2))) for v in row)
                   for row in levels)


def test_digits_split_is_fixed_and_partitions_the_data(digits):
    other = load_dataset("digits", seed=7)
    assert torch.equal(other.train, digits.train) and torch.equal(other.heldout, digits.heldout)
    train = Counter(tuple(as_k(row).tolist()) for row in digits.train.reshape(-1, 64))
    heldout = Counter(tuple(as_k(row).tolist()) for row in digits.heldout.reshape(-1, 64))
    # train and held-out together hold every image of the data set exactly once (as multisets):
    # no image is in both splits unless the data set itself holds it twice
    assert train + heldout == _sklearn_digits_k()
    assert sum((train & heldout).values()) <= sum(c - 1 for c in _sklearn_digits_k().values())


# --- CIFAR-10 ---------------------------------------------------------------------------------

def _short_string(value: bytes) -> bytes:
    return b"U" + bytes([len(value)]) + value  # SHORT_BINSTRING: a Python 2 str


def _py2_cifar_pickle(data: np.ndarray, labels: list[int]) -> bytes:
    """A protocol-2 pickle laid out as Python 2's cPickle wrote CIFAR-10's batch files: a dict
    of str keys, ``data`` a numpy.core.multiarray._reconstruct'ed uint8 array whose bytes are a
    Python 2 str, ``labels`` a list of ints."""
    n, width = data.shape
    array = (b"cnumpy.core.multiarray\n_reconstruct\n" b"cnumpy\nndarray\n"
             b"K\x00\x85" + _short_string(b"b") + b"\x87R"
             b"(K\x01" + b"J" + struct.pack("<i", n) + b"J" + struct.pack("<i", width) + b"\x86"
             b"cnumpy\ndtype\n" + _short_string(b"u1") + b"\x89\x88\x87R"
             b"(K\x03" + _short_string(b"|") + b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb"
             b"\x89T" + struct.pack("<I", data.nbytes) + data.tobytes() + b"tb")
    label_list = b"](" + b"".join(b"K" + bytes([label]) for label in labels) + b"e"
    return (b"\x80\x02}(" + _short_string(b"batch_label") + _short_string(b"fake")
            + _short_string(b"labels") + label_list + _short_string(b"data") + array + b"u.")


def _cifar_row(planes: np.ndarray) -> np.ndarray:
    """A 3072-byte row from planes [3, 32, 32]: byte c·1024 + r·32 + col is planes[c, r, col]."""
    row = np.zeros(3072, dtype=np.uint8)
    for c in range(3):
        for r in range(32):
            for col in range(32):
                row[c * 1024 + r * 32 + col] = planes[c, r, col]
    return row


CONSTANT_PLANES = np.stack([np.full((32, 32), v, dtype=np.uint8) for v in (10, 20, 30)])
# value c·80 + 2r + col, at most 2·80 + 62 + 31 = 253: distinguishes channel, row and column
GRADIENT_PLANES = (80 * np.arange(3)[:, None, None] + 2 * np.arange(32)[None, :, None]
                   + np.arange(32)[None, None, :]).astype(np.uint8)


def _write_cifar(root, *, per_batch=2, writer=_py2_cifar_pickle, skip=()):
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rows = np.stack([_cifar_row(CONSTANT_PLANES), _cifar_row(GRADIENT_PLANES)])
    for i, name in enumerate([*(f"data_batch_{b}" for b in range(1, 6)), "test_batch"]):
        if name in skip:
            continue
        data = np.resize(rows, (per_batch, 3072)).copy()
        data[:, 0] = data[:, 0] if i == 0 else i  # mark the batch in the R plane's first byte
        (folder / name).write_bytes(writer(data, [i % 10] * per_batch))
    return folder


def test_py2_layout_helper_is_a_valid_pickle():
    """The hand-written layout loads with the unrestricted unpickler into the array written."""
    data = np.arange(2 * 3072, dtype=np.int64).astype(np.uint8).reshape(2, 3072)
    batch = pickle.loads(_py2_cifar_pickle(data, [3, 4]), encoding="bytes")
    assert batch[b"labels"] == [3, 4] and np.array_equal(batch[b"data"], data)


@pytest.mark.parametrize("use_parent", [True, False])
def test_cifar10_pixel_layout(tmp_path, use_parent):
    folder = _write_cifar(tmp_path)
    data = load_dataset(f"cifar10:{tmp_path if use_parent else folder}")
    assert data.kind == "image" and data.discrete and data.name == "cifar10"
    assert data.train.shape == (10, 3, 32, 32) and data.heldout.shape == (2, 3, 32, 32)
    constant, gradient = as_k(data.train[0]), as_k(data.train[1])
    for c, value in enumerate((10, 20, 30)):
        assert (constant[c] == value).all()
    c, r, col = torch.meshgrid(torch.arange(3), torch.arange(32), torch.arange(32), indexing="ij")
    assert torch.equal(gradient, 80 * c + 2 * r + col)
    assert as_k(data.train[2])[0, 0, 0] == 1 and as_k(data.heldout[0])[0, 0, 0] == 5  # batch order


def test_cifar10_accepts_python3_pickles_with_bytes_or_str_keys(tmp_path):
    def py3(data, labels, key=bytes):
        return pickle.dumps({key(b"data"): data, key(b"labels"): labels}, protocol=4)

    _write_cifar(tmp_path / "a", writer=py3)
    _write_cifar(tmp_path / "b", writer=lambda d, l: py3(d, l, key=bytes.decode))
    for sub in ("a", "b"):
        assert as_k(load_dataset(f"cifar10:{tmp_path / sub}").train[0])[2].eq(30).all()


def test_cifar10_refuses_a_malicious_pickle_without_running_it(tmp_path):
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return os.system, (f"touch {shlex.quote(str(marker))}",)

    folder = _write_cifar(tmp_path / "c", skip=("data_batch_3",))
    (folder / "data_batch_3").write_bytes(pickle.dumps({b"data": Exploit()}, protocol=2))
    with pytest.raises(DataError, match="data_batch_3.*refused global") as caught:
        load_dataset(f"cifar10:{folder}")
    assert "\n" not in str(caught.value)
    assert not marker.exists()
    # the same file does run its payload under the unrestricted unpickler: the check could fail
    pickle.loads((folder / "data_batch_3").read_bytes())
    assert marker.exists()


@pytest.mark.parametrize("case", ["missing_folder", "missing_file", "wrong_width", "wrong_dtype",
                                  "not_a_dict", "garbage"])
def test_cifar10_errors_name_the_path(tmp_path, case):
    if case == "missing_folder":
        spec, where = f"cifar10:{tmp_path / 'nowhere'}", "nowhere"
    elif case == "missing_file":
        _write_cifar(tmp_path, skip=("test_batch",))
        spec, where = f"cifar10:{tmp_path}", "test_batch"
    else:
        folder = _write_cifar(tmp_path)
        payload = {
            "wrong_width": pickle.dumps({b"data": np.zeros((2, 3071), np.uint8)}, protocol=4),
            "wrong_dtype": pickle.dumps({b"data": np.zeros((2, 3072), np.int64)}, protocol=4),
            "not_a_dict": pickle.dumps([1, 2], protocol=4),
            "garbage": b"\x80\x02not a pickle",
        }[case]
        (folder / "data_batch_2").write_bytes(payload)
        spec, where = f"cifar10:{folder}", "data_batch_2"
    with pytest.raises(DataError, match=where) as caught:
        load_dataset(spec)
    assert "\n" not in str(caught.value)


# --- image folders ----------------------------------------------------------------------------

def _pattern(seed: int, size=(8, 8), channels=3) -> np.ndarray:
    shape = (size[1], size[0], channels) if channels > 1 else (size[1], size[0])
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def test_image_folder_loads_square_images_exactly(tmp_path):
    written = []
    for i in range(10):
        pixels = _pattern(i)
        sub = tmp_path / ("a" if i % 2 else "b")
        sub.mkdir(exist_ok=True)
        Image.fromarray(pixels, "RGB").save(sub / f"img{i}.png")
        written.append(tuple(as_k(from_uint8(pixels.transpose(2, 0, 1))).flatten().tolist()))
    data = load_dataset(f"images:{tmp_path}")
    assert data.kind == "image" and data.discrete
    assert data.train.shape == (9, 3, 8, 8) and data.heldout.shape == (1, 3, 8, 8)
    loaded = [tuple(as_k(x).flatten().tolist()) for x in torch.cat([data.train, data.heldout])]
    assert sorted(loaded) == sorted(written)
    again = load_dataset(f"images:{tmp_path}", seed=3)
    assert torch.equal(again.heldout, data.heldout)


def test_image_folder_crops_the_centre_and_resizes(tmp_path):
    wide = np.zeros((8, 12, 3), dtype=np.uint8)  # 12 wide, 8 high: the centre 8×8 is columns 2..9
    wide[:, :2], wide[:, 2:10], wide[:, 10:] = 250, (40, 80, 120), 5
    Image.fromarray(wide, "RGB").save(tmp_path / "wide.png")
    Image.fromarray(_pattern(1, (16, 16)), "RGB").save(tmp_path / "square.jpg", quality=90)
    Image.fromarray(_pattern(2, (8, 8), 1), "L").save(tmp_path / "grey.png")
    Image.fromarray(_pattern(3, (8, 8), 4), "RGBA").save(tmp_path / "alpha.png")
    data = load_dataset(f"images:{tmp_path}", image_size=8)
    assert data.train.shape[1:] == (3, 8, 8) and len(data.train) + len(data.heldout) == 4
    assert data.train.min() >= -1 and data.train.max() <= 1
    as_k(data.train)
    as_k(data.heldout)
    images = torch.cat([data.train, data.heldout])
    centre = torch.tensor([40, 80, 120]).view(3, 1, 1).expand(3, 8, 8)
    assert any(torch.equal(as_k(x), centre) for x in images)
    small = load_dataset(f"images:{tmp_path}@4")
    assert small.train.shape[1:] == (3, 4, 4)


def test_image_folder_of_grey_images_has_one_channel(tmp_path):
    assert "L" in GRAYSCALE_MODES
    for i in range(3):
        Image.fromarray(_pattern(i, (6, 6), 1), "L").save(tmp_path / f"{i}.png")
    (tmp_path / "._0.png").write_bytes(b"\x00\x05\x16\x07")  # macOS metadata: hidden, skipped
    (tmp_path / "notes.txt").write_text("not an image suffix: skipped")
    data = load_dataset(f"images:{tmp_path}")
    assert data.train.shape[1:] == (1, 6, 6) and len(data.train) + len(data.heldout) == 3


@pytest.mark.parametrize("case", ["missing", "file", "empty", "text_png", "mixed_sizes"])
def test_image_folder_errors_name_the_path(tmp_path, case):
    target = tmp_path / "folder"
    target.mkdir()
    where = "folder"
    if case == "missing":
        target = tmp_path / "nowhere"
        where = "nowhere"
    elif case == "file":
        target = tmp_path / "notes.txt"
        target.write_text("hello")
        where = "notes.txt"
    elif case == "text_png":
        Image.fromarray(_pattern(0), "RGB").save(target / "good.png")
        (target / "bad.png").write_text("not an image")
        where = "bad.png"
    elif case == "mixed_sizes":
        Image.fromarray(_pattern(0, (8, 8)), "RGB").save(target / "a.png")
        Image.fromarray(_pattern(1, (9, 9)), "RGB").save(target / "b.png")
        where = "image_size"
    with pytest.raises(DataError, match=where) as caught:
        load_dataset(f"images:{target}")
    assert "\n" not in str(caught.value)


# --- specs ------------------------------------------------------------------------------------

@pytest.mark.parametrize("spec", ["mnist", "digits:x", "cifar10", "cifar10:", "images", "",
                                  "gmm:2"])
def test_unknown_specs_list_the_allowed_forms(spec):
    with pytest.raises(DataError, match="digits, cifar10:DIR, images:DIR"):
        load_dataset(spec)


def test_option_errors():
    with pytest.raises(ValueError, match="heldout_fraction"):
        load_dataset("digits", heldout_fraction=1.0)
    with pytest.raises(DataError, match="image_size applies"):
        load_dataset("digits", image_size=8)
    with pytest.raises(DataError, match="test_batch"):
        load_dataset("cifar10:/nowhere", heldout_fraction=0.1)


# --- toy sets ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["moons", "gmm"])
def test_toy_sets_shapes_and_fixed_heldout(name):
    data = load_dataset(name)
    assert data.kind == "points" and not data.discrete and data.name == name
    assert data.train.shape == (8000, 2) and data.heldout.shape == (2000, 2)
    other = load_dataset(name, seed=1)
    assert torch.equal(other.heldout, data.heldout) and not torch.equal(other.train, data.train)


def test_moons_are_standardised():
    points = load_dataset("moons").train.double()
    # the constants are the distribution's moments; 8000 points: z = 5 bounds ≈ 0.06 and 0.08
    assert points.mean(0).abs().max() < 0.06 and (points.std(0) - 1).abs().max() < 0.08


def test_gmm_density_integrates_to_one_and_matches_scipy():
    step = 0.02
    axis = torch.arange(-4.0, 4.0 + step / 2, step, dtype=torch.float64)
    grid = torch.stack(torch.meshgrid(axis, axis, indexing="ij"), dim=-1)
    mass = float(gmm_log_density(grid).exp().sum()) * step**2
    assert abs(mass - 1) < 1e-6  # Riemann sums of Gaussians converge exponentially fast
    # the same mixture without the 1/K weights integrates to K: the check can fail
    assert abs(mass * 8 - 1) > 1
    points = torch.tensor([[2.0, 0.0], [0.3, -1.2], [-1.5, 1.4]], dtype=torch.float64)
    expected = np.log(np.mean([stats.multivariate_normal(m, 0.15**2).pdf(points.numpy())
                               for m in gmm_means().numpy()], axis=0))
    np.testing.assert_allclose(gmm_log_density(points).numpy(), expected, rtol=1e-12)


def test_gmm_samples_follow_the_mixture():
    points = load_dataset("gmm").train.double()
    # E|x|² = R² + 2σ² = 4.045; the sample std of |x|² is ≈ 0.85, so z = 5 over 8000 is ≈ 0.05
    assert abs(float(points.square().sum(1).mean()) - 4.045) < 0.05
    nearest = torch.cdist(points, gmm_means()).argmin(1)
    counts = torch.bincount(nearest, minlength=8).double()
    assert (counts - 1000).abs().max() < 5 * math.sqrt(8000 * (1 / 8) * (7 / 8))


# --- batch iterator ---------------------------------------------------------------------------

def _ids(n: int) -> torch.Tensor:
    return torch.arange(n, dtype=torch.float32)[:, None]


@pytest.mark.parametrize("n,batch", [(12, 4), (10, 4)])
def test_batches_cover_each_example_once_per_epoch(n, batch):
    it = BatchIterator(_ids(n), batch, generator=torch.Generator().manual_seed(0))
    stream = torch.cat([next(it) for _ in range(n * 3 // math.gcd(n, batch))]).flatten().long()
    for epoch in stream.split(n):
        assert sorted(epoch.tolist()) == list(range(n))
    first_two = stream[: 2 * n]
    assert not torch.equal(first_two[:n], first_two[n:])  # reshuffled per epoch


def test_batches_resume_exactly_from_a_state_dict():
    data = torch.randn(10, 2, 3, 4)
    it = BatchIterator(data, 3, generator=torch.Generator().manual_seed(1), hflip=True)
    for _ in range(5):  # 15 examples: into the second epoch
        next(it)
    state = it.state_dict()
    expected = [next(it) for _ in range(7)]  # crosses two more epoch boundaries
    resumed = BatchIterator(data, 3, generator=torch.Generator().manual_seed(99), hflip=True)
    resumed.load_state_dict(state)
    continued = [next(resumed) for _ in range(7)]
    assert all(torch.equal(a, b) for a, b in zip(expected, continued, strict=True))
    as_lists = {**state, "permutation": state["permutation"].tolist(),
                "flips": state["flips"].tolist()}
    again = BatchIterator(data, 3, generator=torch.Generator().manual_seed(5), hflip=True)
    again.load_state_dict(as_lists)
    assert torch.equal(next(again), expected[0])


def test_flips_are_horizontal_and_about_half():
    n, epochs = 50, 40
    data = torch.randn(n, 2, 3, 5)
    data[:, 0] = torch.arange(n, dtype=torch.float32).view(n, 1, 1)  # a flip-invariant id plane
    it = BatchIterator(data, 10, generator=torch.Generator().manual_seed(2), hflip=True)
    flipped = 0
    for _ in range(n * epochs // 10):
        for x in next(it):
            source = data[int(x[0, 0, 0])]
            assert torch.equal(x, source) or torch.equal(x, source.flip(-1))
            flipped += torch.equal(x, source.flip(-1))
    draws = n * epochs  # Binomial(2000, ½): z = 5 bound
    assert abs(flipped - draws / 2) < 5 * math.sqrt(draws / 4)
    points = BatchIterator(torch.randn(8, 2), 4, generator=torch.Generator(), hflip=True)
    assert points.hflip is False


def test_two_ranks_split_the_one_rank_global_batch():
    data = torch.randn(20, 1, 2, 3)
    single = BatchIterator(data, 8, generator=torch.Generator().manual_seed(3), hflip=True)
    ranks = [BatchIterator(data, 4, generator=torch.Generator().manual_seed(3), hflip=True,
                           rank=r, world_size=2) for r in range(2)]
    for _ in range(6):
        assert torch.equal(torch.cat([next(ranks[0]), next(ranks[1])]), next(single))


@pytest.mark.parametrize("kwargs,message", [
    (dict(batch_size=0), "batch_size"), (dict(batch_size=6, world_size=2), "exceeds"),
    (dict(rank=2, world_size=2), "rank"), (dict(world_size=0), "world_size"),
    (dict(generator=None), "torch.Generator")])
def test_batch_iterator_errors(kwargs, message):
    args = dict(batch_size=2, generator=torch.Generator())
    args.update(kwargs)
    error = TypeError if message == "torch.Generator" else ValueError
    with pytest.raises(error, match=message):
        BatchIterator(_ids(10), args.pop("batch_size"), **args)


def test_load_state_dict_refuses_a_non_permutation():
    it = BatchIterator(_ids(4), 2, generator=torch.Generator())
    state = it.state_dict()
    with pytest.raises(ValueError, match="permutation"):
        it.load_state_dict({**state, "permutation": torch.tensor([0, 0, 1, 2])})
    with pytest.raises(ValueError, match="position"):
        it.load_state_dict({**state, "position": 5})


# --- the per-pixel Gaussian baseline ----------------------------------------------------------

MEANS = np.array([-0.3, 0.1, 0.5, 0.05])  # μ ± 5σ inside (-1, 1): the open end bins hold ~0
STDS = np.array([0.1, 0.2, 0.05, 0.01])


def _bin_probabilities(mean: float, std: float) -> np.ndarray:
    """P(k) of a Gaussian discretised to 8 bits, end bins open (DDPM eq. 13), from scipy."""
    x = GRID.double().numpy()
    upper = np.where(x > 0.999, np.inf, x + 1 / 255)
    lower = np.where(x < -0.999, -np.inf, x - 1 / 255)
    return stats.norm.cdf(upper, mean, std) - stats.norm.cdf(lower, mean, std)


def test_baseline_recovers_the_entropy_of_a_discretised_gaussian():
    rng = np.random.default_rng(0)
    n = 40_000
    probs = [_bin_probabilities(m, s) for m, s in zip(MEANS, STDS, strict=True)]

    def draw() -> torch.Tensor:
        k = np.stack([rng.choice(256, size=n, p=p / p.sum()) for p in probs], axis=1)
        return from_uint8(k.astype(np.uint8)).reshape(n, 1, 2, 2)

    train, heldout = draw(), draw()
    entropy_bits = np.mean([-(p[p > 0] * np.log2(p[p > 0])).sum() for p in probs])
    # sampling error of the held-out mean: per dimension std of log2 p(k) over √n, 4 dimensions
    spread = np.sqrt(sum(float((p * np.log2(np.maximum(p, 1e-300)) ** 2).sum())
                         - float((p * np.log2(np.maximum(p, 1e-300))).sum()) ** 2
                         for p in probs)) / (4 * math.sqrt(n))
    tolerance = 5 * spread + 1e-3  # z = 5, plus the fit's own error (~dims/n nats, < 1e-3 bits)

    def check(bpd: float) -> bool:
        return abs(bpd - entropy_bits) < tolerance

    bpd = per_pixel_gaussian_bpd(train, heldout)
    assert check(bpd), (bpd, entropy_bits, tolerance)
    assert per_pixel_gaussian_bpd(train, heldout, discrete=True) == bpd
    # plausible wrong formulas fail the same check: nats for bits, the continuous density
    assert not check(bpd * math.log(2))
    assert not check(per_pixel_gaussian_bpd(train, heldout, discrete=False))


def test_baseline_of_continuous_points_is_the_differential_entropy():
    rng = np.random.default_rng(1)
    n = 50_000
    mean, std = np.array([0.5, -2.0]), np.array([0.3, 1.7])
    train, heldout = (torch.from_numpy(mean + std * rng.standard_normal((n, 2))).float()
                      for _ in range(2))
    expected = float(np.mean(stats.norm(mean, std).entropy())) / math.log(2)
    # the std of -log2 N(x) is 1/(√2 ln 2) per dimension; 2 dimensions, z = 5
    tolerance = 5 * (1 / (math.sqrt(2) * math.log(2))) / math.sqrt(2 * n)
    assert abs(per_pixel_gaussian_bpd(train, heldout) - expected) < tolerance


def test_baseline_floors_the_std_of_constant_pixels(digits):
    constant = torch.full((5, 1, 2, 2), -1.0)
    bpd = per_pixel_gaussian_bpd(constant, constant)
    # std floored at 1e-3 ≪ 1/255: the open first bin holds Φ((1/255)/1e-3) of the mass, ≈ 1
    assert STD_FLOOR == 1e-3 and 0 <= bpd < 1e-4
    digits_bpd = per_pixel_gaussian_bpd(digits.train, digits.heldout)
    assert math.isfinite(digits_bpd) and 0 < digits_bpd < 8
