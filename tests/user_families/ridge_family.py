"""A model family defined outside automl, as a user would write it in their own module: closed-form ridge
regression on flattened images (one-hot targets), trained "per epoch" over a growing share of the data so that the
reporter sees a curve; automl's EpochTracker keeps the per-epoch bookkeeping. Plugged in with
``model: "ridge_family:Ridge"`` and this folder on PYTHONPATH."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from automl.data.dataset import Dataset
from automl.models import EpochTracker, Evaluation, HyperParam, ModelFamily, ParamKind, Reporter, TrialOutcome


class Ridge(ModelFamily):
    hyperparameters = (
        HyperParam("alpha", ParamKind.FLOAT, 1e-6, 1e6, required=True),
        HyperParam("epochs", ParamKind.INT, 1, 20, default=3),
    )
    data_kinds = frozenset({"images"})  # arrays: the closed form multiplies them
    metrics = {"classification": ("accuracy", "val_accuracy")}

    def _fit(self, x: np.ndarray, y: np.ndarray, n_classes: int, alpha: float) -> np.ndarray:
        targets = np.eye(n_classes)[y]
        gram = x.T @ x + alpha * np.eye(x.shape[1])
        return np.linalg.solve(gram, x.T @ targets)

    def _score(self, weights: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return (np.argmax(x @ weights, axis=1) == y).astype(float)

    def train(
        self,
        config: dict[str, Any],
        data: Dataset,
        reporter: Reporter | None = None,
        *,
        metric: str,
        direction: str,
        patience: int,
        seed: int,
    ) -> TrialOutcome:
        tracker = EpochTracker(metric, direction, patience)
        epochs = int(config.get("epochs", 3))
        for epoch in range(1, epochs + 1):
            n = max(10, len(data.y_train) * epoch // epochs)
            w = self._fit(data.x_train[:n], data.y_train[:n], data.n_classes, float(config["alpha"]))
            metrics = {
                "accuracy": float(self._score(w, data.x_train[:n], data.y_train[:n]).mean()),
                "val_accuracy": float(self._score(w, data.x_val, data.y_val).mean()),
            }
            if reporter is not None:
                reporter.report(epoch, metrics)
            if tracker.record(epoch, metrics):
                break
        return tracker.outcome()

    def fit_final(
        self, config: dict[str, Any], data: Dataset, epochs: int, seed: int, reporter: Reporter | None = None
    ) -> Any:
        x = np.concatenate([data.x_train, data.x_val])
        y = np.concatenate([data.y_train, data.y_val])
        return self._fit(x, y, data.n_classes, float(config["alpha"]))

    def evaluate(self, model: Any, x: np.ndarray, y: np.ndarray) -> Evaluation:
        correct = self._score(model, x, y)
        return Evaluation({"accuracy": float(correct.mean())}, {"accuracy": correct})

    def save(self, model: Any, directory: Path) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / "ridge.json"
        path.write_text(json.dumps(np.asarray(model).tolist()))
        return path

    def load(self, path: Path) -> Any:
        return np.array(json.loads(Path(path).read_text()))
