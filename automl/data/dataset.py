"""What every dataset returns: seeded splits for the search, a held-out test split, and a fingerprint."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

SMALL_TABLE_ROWS = 2000  # below this many rows a table's configurations are scored by k-fold cross-validation
CV_FOLDS = 5


@dataclass(frozen=True)
class Dataset:
    """Train/validation for the search, and a test split the search never sees.

    Images are float32 arrays in [0, 1]. Tables keep their columns as a pandas DataFrame (numbers, categories and
    missing values as read): each model family fits its own preprocessing on the rows it trains on, so nothing
    about the validation or test rows leaks into it. Classification labels are integers 0..n_classes-1 (their
    original values in ``class_names``); regression targets are floats and ``n_classes`` is 0.
    ``cv_folds`` > 1 asks families to score a configuration by k-fold cross-validation over train+validation
    (small tables), instead of on the validation split alone. ``options`` are what :func:`automl.data.load_dataset`
    needs besides the name to load the same data again (a table's target and task).
    """

    name: str
    source: str
    x_train: Any
    y_train: np.ndarray
    x_val: Any
    y_val: np.ndarray
    x_test: Any
    y_test: np.ndarray
    n_classes: int
    kind: str = "images"  # "images" or "table": which model families can train on it
    task: str = "classification"  # or "regression"
    cv_folds: int = 0
    class_names: tuple[str, ...] = ()
    options: dict[str, Any] = field(default_factory=dict)
    dropped_columns: tuple[str, ...] = ()  # a table's ID-like columns, left out of the features

    def labels(self) -> dict[str, Any]:
        """What turns the model's outputs back into the user's labels, and what input it expects: the task, the
        target's name, the class names (output i is ``class_names[i]``; none for images, whose labels are the
        indices), a table's feature columns and the columns a prediction file may carry that are ignored."""
        out: dict[str, Any] = {
            "task": self.task,
            "target": self.options.get("target"),
            "class_names": [str(c) for c in self.class_names],
        }
        if hasattr(self.x_train, "columns"):
            out["features"] = [str(c) for c in self.x_train.columns]
            out["ignored_columns"] = [c for c in (self.options.get("target"), *self.dropped_columns) if c]
        else:
            out["input_dim"] = self.input_dim
        return out

    @property
    def input_dim(self) -> int:
        return int(np.prod(self.x_train.shape[1:]))

    def fingerprint(self) -> str:
        """Identity of the exact splits, so a resumed study can tell it sees the same data."""
        digest = hashlib.sha256()
        splits: tuple[Any, ...] = (self.x_train, self.y_train, self.x_val, self.y_val, self.x_test, self.y_test)
        for array in splits:  # Any: features are a DataFrame or an array, told apart below
            digest.update(str(array.shape).encode())
            if hasattr(array, "columns"):  # a DataFrame: hash values and names, not object pointers
                import pandas as pd

                digest.update("\x1f".join(map(str, array.columns)).encode())
                digest.update(pd.util.hash_pandas_object(array, index=False).to_numpy().tobytes())
            else:
                digest.update(np.ascontiguousarray(array).tobytes())
        return digest.hexdigest()[:16]

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.y_train), "val": len(self.y_val), "test": len(self.y_test)}


@dataclass(frozen=True)
class RawData:
    """What an image source returns before splitting; ``x_test`` is None when it has no official test set."""

    source: str
    x: np.ndarray
    y: np.ndarray
    x_test: np.ndarray | None = None
    y_test: np.ndarray | None = None
