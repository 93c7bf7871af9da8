"""The user family of README.md's "Model families" section as it read before the EpochTracker (below the marker,
as it read but for ruff's formatting): it builds its own TrialOutcome and ignores metric, direction and patience.
A family written against that README must keep running: tests/test_testing.py searches with it end to end. Do not
modernise it; it stands for the families users already wrote."""

# ---- from README.md (before the EpochTracker) ----
# my_families.py
import json
from pathlib import Path

import numpy as np

from automl.models import Evaluation, HyperParam, ModelFamily, TrialOutcome


class Ridge(ModelFamily):
    hyperparameters = (HyperParam("alpha", "float", 1e-6, 1e6, required=True),)

    def _fit(self, x, y, n_classes, alpha):
        return np.linalg.solve(x.T @ x + alpha * np.eye(x.shape[1]), x.T @ np.eye(n_classes)[y])

    def train(self, config, data, reporter=None, *, metric, direction, patience, seed):
        w = self._fit(data.x_train, data.y_train, data.n_classes, config["alpha"])
        val = float((np.argmax(data.x_val @ w, axis=1) == data.y_val).mean())
        if reporter is not None:
            reporter.report(1, {"val_accuracy": val})  # may raise: that is how pruning stops a trial
        return TrialOutcome(value=val, best_epoch=1, epochs_trained=1, history={"val_accuracy": [val]})

    def fit_final(self, config, data, epochs, seed, reporter=None):
        x, y = np.concatenate([data.x_train, data.x_val]), np.concatenate([data.y_train, data.y_val])
        return self._fit(x, y, data.n_classes, config["alpha"])

    def evaluate(self, model, x, y):
        correct = (np.argmax(x @ model, axis=1) == y).astype(float)
        return Evaluation({"accuracy": float(correct.mean())}, {"accuracy": correct})

    def save(self, model, directory):
        path = Path(directory) / "ridge.json"
        path.write_text(json.dumps(model.tolist()))
        return path

    def load(self, path):
        return np.array(json.loads(Path(path).read_text()))
