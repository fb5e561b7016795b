"""Readers of 8-bit image data on disk: CIFAR-10's python pickles and folders of PNG/JPEG files.

Both return uint8 arrays [N, C, H, W] (the 8-bit values k themselves);
:mod:`ddpm_math.train.data` maps them to [-1, 1] by x = k/127.5 - 1. Every failure, from a
missing folder to an unreadable file, is a :class:`DataError` whose one-line message starts with
the path at fault.
"""

from __future__ import annotations

import hashlib
import math
import pickle
from pathlib import Path

import numpy as np

__all__ = [
    "CIFAR10_FOLDER",
    "DataError",
    "IMAGE_SUFFIXES",
    "heldout_mask",
    "image_files",
    "read_cifar10",
    "read_image_folder",
]


class DataError(ValueError):
    """A data set cannot be loaded: an unknown spec, a missing path, a malformed or unsafe file."""


#: The folder the CIFAR-10 python archive unpacks to; ``cifar10:DIR`` accepts it or its parent.
CIFAR10_FOLDER = "cifar-10-batches-py"
CIFAR10_TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR10_TEST_FILE = "test_batch"
#: One CIFAR-10 row: 3072 bytes, the R plane, then G, then B, each 32 rows of 32 (row-major).
CIFAR10_SHAPE = (3, 32, 32)

#: File name endings read by ``images:DIR`` (case-insensitive).
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
#: Pillow modes kept as one grey channel; a folder of only these loads as [N, 1, H, W].
GRAYSCALE_MODES = ("1", "L", "LA")
#: Pillow modes of 16-bit or float images, which have no 8-bit reading: refused.
WIDE_MODES = ("I", "F", "I;16", "I;16B", "I;16L", "I;16N")


def _numpy_array_globals() -> dict[tuple[str, str], object]:
    """The only globals an ndarray pickle names: ``_reconstruct``, ``ndarray`` and ``dtype``.

    Python 2 numpy (the CIFAR-10 files) wrote ``numpy.core.multiarray``; numpy 2 writes
    ``numpy._core.multiarray``. Both names map to the function itself, so that loading neither
    imports the deprecated ``numpy.core`` alias nor trusts the module path in the file.
    """
    try:
        from numpy._core.multiarray import _reconstruct
    except ImportError:  # numpy < 1.26 has no numpy._core
        from numpy.core.multiarray import _reconstruct
    return {
        ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
        ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
    }


_ALLOWED_GLOBALS = _numpy_array_globals()


class _ArrayUnpickler(pickle.Unpickler):
    """An unpickler that resolves no global except the three an ndarray needs.

    Unpickling calls whatever callable a file names (``os.system`` as easily as a constructor);
    refusing every other name in :meth:`find_class` means a hostile file fails before any of its
    code runs. Plain containers, bytes, strings and numbers need no global at all.
    """

    def find_class(self, module: str, name: str):
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"refused global {module}.{name} (only numpy arrays are allowed)"
            ) from None


def _field(batch: dict, name: str):
    """``batch[b"name"]`` (Python 2 files read with encoding="bytes") or ``batch["name"]``."""
    if name.encode() in batch:
        return batch[name.encode()]
    return batch.get(name)


def _read_cifar10_batch(path: Path) -> np.ndarray:
    """One CIFAR-10 batch file as uint8 [n, 3, 32, 32]."""
    try:
        with open(path, "rb") as file:
            batch = _ArrayUnpickler(file, encoding="bytes").load()
    except Exception as error:  # a malformed pickle can fail in many ways; all are DataErrors
        raise DataError(f"{path}: not a readable CIFAR-10 python batch: {error}") from None
    if not isinstance(batch, dict):
        raise DataError(f"{path}: a CIFAR-10 batch is a dict, got {type(batch).__name__}")
    data = _field(batch, "data")
    width = math.prod(CIFAR10_SHAPE)
    if not (isinstance(data, np.ndarray) and data.dtype == np.uint8 and data.ndim == 2
            and data.shape[1] == width):
        found = (f"{data.dtype} array {list(data.shape)}" if isinstance(data, np.ndarray)
                 else type(data).__name__)
        raise DataError(f"{path}: b'data' must be a uint8 array [N, {width}], got {found}")
    labels = _field(batch, "labels")
    if labels is not None and len(labels) != data.shape[0]:
        raise DataError(f"{path}: {len(labels)} labels for {data.shape[0]} images")
    return np.ascontiguousarray(data).reshape(-1, *CIFAR10_SHAPE)


def read_cifar10(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """CIFAR-10's training images (data_batch_1..5, 50 000) and test images (test_batch, 10 000),
    uint8 [N, 3, 32, 32], from the python version's folder ``cifar-10-batches-py`` or its parent.

    Each file is a pickled dict whose ``b"data"`` is a uint8 array [n, 3072] (R, G, B planes of
    32×32, row-major) and ``b"labels"`` a list of n ints; labels are checked for length only.
    The files are read by a restricted unpickler: anything but a numpy array refuses to load.
    """
    root = Path(path).expanduser()
    if not root.is_dir():
        raise DataError(f"{root}: CIFAR-10 folder not found (cifar10:DIR needs the folder "
                        f"{CIFAR10_FOLDER} of the python version, or its parent)")
    if (root / CIFAR10_FOLDER).is_dir():
        root = root / CIFAR10_FOLDER
    names = (*CIFAR10_TRAIN_FILES, CIFAR10_TEST_FILE)
    missing = [name for name in names if not (root / name).is_file()]
    if missing:
        raise DataError(f"{root}: missing CIFAR-10 batch file(s) {', '.join(missing)} "
                        "(expected data_batch_1..5 and test_batch of the python version)")
    train = np.concatenate([_read_cifar10_batch(root / name) for name in CIFAR10_TRAIN_FILES])
    return train, _read_cifar10_batch(root / CIFAR10_TEST_FILE)


def _is_hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)


def image_files(root: Path) -> list[Path]:
    """The image files under ``root`` (recursive; hidden files and folders skipped), sorted by
    their path relative to ``root``."""
    found = [path for path in root.rglob("*")
             if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file()
             and not _is_hidden(path, root)]
    return sorted(found, key=lambda path: path.relative_to(root).as_posix())


def _open(path: Path):
    from PIL import Image, ImageOps

    try:
        with Image.open(path) as image:
            image = ImageOps.exif_transpose(image)  # a decoded copy, upright
            image.load()
            return image
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
        raise DataError(f"{path}: cannot read the image: {error}") from None


def _header(path: Path) -> tuple[str, tuple[int, int]]:
    """(mode, (width, height)) without decoding the pixels."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            return image.mode, image.size
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
        raise DataError(f"{path}: cannot read the image: {error}") from None


def _default_size(root: Path, sizes: list[tuple[int, int]]) -> int:
    if all(size == sizes[0] for size in sizes) and sizes[0][0] == sizes[0][1]:
        return sizes[0][0]
    raise DataError(f"{root}: the images are not all square of one size; "
                    "give image_size (or the spec images:DIR@SIZE)")


def _square(image, mode: str, size: int) -> np.ndarray:
    """The centre square of ``image`` in ``mode``, resized (bicubic) to size×size, as [C, H, W]."""
    from PIL import Image

    image = image.convert(mode)
    width, height = image.size
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    image = image.crop((left, top, left + side, top + side))
    if side != size:
        image = image.resize((size, size), getattr(Image, "Resampling", Image).BICUBIC)
    pixels = np.asarray(image, dtype=np.uint8)
    return pixels[None] if pixels.ndim == 2 else pixels.transpose(2, 0, 1)


def heldout_mask(names: list[str], heldout_fraction: float) -> np.ndarray:
    """The fixed held-out split of named files: the ⌈fraction·N⌉ names with the smallest SHA-256
    (of the UTF-8 name), at least one and at most N - 1. Independent of any seed and of the
    file order; a file keeps its side when other files are added unless the cut-off moves."""
    count = len(names)
    n_heldout = min(max(math.ceil(heldout_fraction * count), 1), count - 1)
    digests = [hashlib.sha256(name.encode()).hexdigest() for name in names]
    order = sorted(range(count), key=lambda i: (digests[i], names[i]))
    mask = np.zeros(count, dtype=bool)
    mask[order[:n_heldout]] = True
    return mask


def read_image_folder(path: str | Path, *, image_size: int | None = None,
                      heldout_fraction: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """The PNG/JPEG images under ``path`` as uint8 (train, held-out), each [N, C, S, S].

    Every image is turned upright (EXIF), converted to grey ``L`` (C = 1) when every image of
    the folder is grey (modes 1, L, LA) and to RGB (C = 3) otherwise (alpha is dropped, not
    composited), centre-cropped to a square and resized with bicubic filtering to
    S = ``image_size``. Without ``image_size``, S is the common size of the images when all are
    square and of one size, else a DataError. 16-bit and float images are refused. The held-out
    split is :func:`heldout_mask` of the paths relative to ``path``; each split keeps name order.
    """
    root = Path(path).expanduser()
    if not root.exists():
        raise DataError(f"{root}: image folder not found")
    if not root.is_dir():
        raise DataError(f"{root}: not a folder (images:DIR needs a folder of PNG/JPEG files)")
    files = image_files(root)
    if len(files) < 2:
        raise DataError(f"{root}: found {len(files)} image file(s) ({', '.join(IMAGE_SUFFIXES)});"
                        " a train and a held-out split need at least 2")
    headers = [_header(file) for file in files]
    for file, (mode, _) in zip(files, headers, strict=True):
        if mode in WIDE_MODES:
            raise DataError(f"{file}: 16-bit or float image (mode {mode}); convert it to 8-bit")
    size = image_size if image_size is not None else _default_size(root, [s for _, s in headers])
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise DataError(f"image_size must be an integer >= 1, got {size!r}")
    mode = "L" if all(m in GRAYSCALE_MODES for m, _ in headers) else "RGB"
    pixels = np.empty((len(files), 1 if mode == "L" else 3, size, size), dtype=np.uint8)
    for i, file in enumerate(files):
        pixels[i] = _square(_open(file), mode, size)
    heldout = heldout_mask([file.relative_to(root).as_posix() for file in files],
                           heldout_fraction)
    return pixels[~heldout], pixels[heldout]
