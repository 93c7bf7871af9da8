"""Tables: CSV and Parquet files with mixed columns and missing values, task inference, ID columns, the bundled
scikit-learn datasets, and every bad file as a one-line DataError."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from support import write_mixed_table

from automl.data import load_dataset
from automl.data.tables import infer_task
from automl.errors import DataError


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_a_mixed_table_loads_with_its_kinds_and_a_one_line_account(
    tmp_path: Path, suffix: str, caplog: pytest.LogCaptureFixture
) -> None:
    path = write_mixed_table(tmp_path / f"mixed{suffix}")
    with caplog.at_level(logging.INFO, logger="automl.data.tables"):
        data = load_dataset(str(path), target=" label ")
    assert data.kind == "table"
    assert data.task == "classification"
    assert data.class_names == ("no", "yes")
    assert list(data.x_train.columns) == ["size", "colour", "member"]  # headers stripped, the ID column dropped
    assert data.x_train["member"].dtype == np.float64
    assert data.x_train["colour"].dtype == object
    assert sum(data.sizes().values()) == 120
    assert data.cv_folds == 5
    assert data.options == {"target": "label", "task": None}
    line = next(r.getMessage() for r in caplog.records if "features:" in r.getMessage())
    assert "classification of 2 classes" in line
    assert "1 numeric, 1 categorical, 1 boolean" in line
    assert "dropped ID-like column(s) customer_id" in line
    assert "5-fold cross-validation" in line
    assert data.fingerprint() == load_dataset(str(path), target="label").fingerprint()


def test_task_inference_and_override(tmp_path: Path) -> None:
    assert infer_task(pd.Series(["a", "b"])) == "classification"
    assert infer_task(pd.Series([True, False])) == "classification"
    assert infer_task(pd.Series(range(40)) % 20) == "classification"
    assert infer_task(pd.Series(range(40))) == "regression"
    assert infer_task(pd.Series(np.linspace(0, 1, 40))) == "regression"
    rng = np.random.default_rng(0)
    path = tmp_path / "grades.csv"
    pd.DataFrame({"x": rng.normal(size=60), "grade": rng.integers(0, 5, 60)}).to_csv(path, index=False)
    assert load_dataset(str(path), target="grade").task == "classification"
    regression = load_dataset(str(path), target="grade", task="regression")
    assert regression.task == "regression"
    assert regression.n_classes == 0
    assert regression.y_train.dtype == np.float64


def _write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize(
    ("content", "kwargs", "message"),
    [
        ("a,b\n" + "1,2\n" * 30, {"target": "c"}, r"no column 'c'; its columns are a, b; pass one with --target"),
        ("", {"target": "a"}, "the file is empty"),
        ("a,b\n" + "1,x\n" * 30, {"target": "b"}, r"has a single class \('x'\)"),
        ("a,b\n" + "1,\n2,3\n" * 15, {"target": "b"}, "target 'b' has 15 missing value"),
        ("a,b\n" + "1,2\n" * 30, {}, "pass --target COLUMN"),
        ("a,b\n1,2\n", {"target": "b"}, "a search needs at least 20"),
        ("a,b\n" + "1,x\n2,y\n" * 15, {"target": "b", "task": "regression"}, "is not numeric"),
    ],
)
def test_bad_tables_are_one_line_errors(tmp_path: Path, content: str, kwargs: dict, message: str) -> None:
    with pytest.raises(DataError, match=message) as caught:
        load_dataset(_write(tmp_path / "t.csv", content), **kwargs)
    assert "\n" not in str(caught.value)


def test_a_file_that_is_not_a_table(tmp_path: Path) -> None:
    path = tmp_path / "photo.csv"
    path.write_bytes(bytes(range(256)) * 20)
    with pytest.raises(DataError, match="not a table"):
        load_dataset(str(path), target="x")
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"PAR1 not really")
    with pytest.raises(DataError, match="not a table"):
        load_dataset(str(broken), target="x")


@pytest.mark.parametrize(
    ("name", "task", "n_classes"),
    [
        ("iris", "classification", 3),
        ("wine", "classification", 3),
        ("breast_cancer", "classification", 2),
        ("digits", "classification", 10),
        ("diabetes", "regression", 0),
    ],
)
def test_bundled_datasets_by_name(name: str, task: str, n_classes: int) -> None:
    data = load_dataset(name)
    assert (data.kind, data.task, data.n_classes) == ("table", task, n_classes)
    assert data.source.startswith("sklearn:")


def test_bundled_datasets_refuse_a_target() -> None:
    with pytest.raises(DataError, match="--target is for a CSV or Parquet file"):
        load_dataset("iris", target="species")


def test_fashion_mnist_without_files_says_how_to_get_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))  # no cache; AUTOML_OFFLINE (conftest) stops the download
    with pytest.raises(DataError, match="fashion_mnist: no copy .* pass --data-dir DIR"):
        load_dataset("fashion_mnist")
