"""The ``synthetic`` family: learning curves from a seeded formula of the configuration, no TensorFlow.

It makes the trial loop, workers, budgets, heartbeats, retries, reports, notes and the dashboard testable in
seconds (as Syne Tune tests its schedulers on a simulated backend), and measures per-trial overhead in
``benchmarks/``. It reads the same parameter names as ``keras_mlp``, so the MLP spaces run on it unchanged
(``model: synthetic``), plus:

- ``sleep``: seconds to wait per epoch, to stand in for training time;
- ``diverge_at``: the epoch whose loss becomes NaN (0: never), to test failed trials;
- ``noise``: the spread of the per-epoch noise.

The curve's ceiling peaks at a learning rate of 0.01 and grows with the layers' width; dropout closes the
train-validation gap. Scores are accuracies in (0, 1), so the reports read them like a classifier's.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from automl.errors import TrialFailed
from automl.models.base import (
    BaselineLabel,
    Evaluation,
    HyperParam,
    ModelFamily,
    NullReporter,
    Reporter,
    TrainingStopped,
    TrialOutcome,
)
from automl.models.tracker import EpochTracker
from automl.param_kinds import ParamKind

if TYPE_CHECKING:
    from automl.data.dataset import Dataset

MAX_LAYERS = 16


def _ceiling(config: Mapping[str, Any]) -> float:
    """The validation accuracy a configuration approaches with enough epochs."""
    lr = float(config.get("learning_rate", 0.01))
    fit_lr = math.exp(-((math.log10(max(lr, 1e-12)) + 2.0) ** 2) / 2.0)
    width = sum(int(config.get(f"units_{i}", 0)) for i in range(1, int(config.get("n_layers", 1)) + 1))
    fit_width = min(1.0, math.log2(max(width, 2)) / 10.0)
    penalty = {"adam": 0.0, "rmsprop": 0.01, "sgd": 0.02, "adagrad": 0.03}.get(str(config.get("optimizer")), 0.0)
    return 0.5 + 0.45 * fit_lr * (0.6 + 0.4 * fit_width) - penalty


def _rng(config: Mapping[str, Any], seed: int) -> np.random.Generator:
    body = json.dumps({k: config[k] for k in sorted(config)}, default=str, sort_keys=True)
    digest = hashlib.sha256(f"{body}|{seed}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def curves(config: Mapping[str, Any], epochs: int, seed: int) -> dict[str, list[float]]:
    """Per-epoch train and validation accuracy and loss; pure and seeded."""
    rng = _rng(config, seed)
    ceiling = _ceiling(config)
    dropout = float(config.get("dropout", 0.0))
    noise = float(config.get("noise", 0.005))
    out: dict[str, list[float]] = {"loss": [], "accuracy": [], "val_loss": [], "val_accuracy": []}
    for epoch in range(1, epochs + 1):
        progress = 1.0 - math.exp(-epoch / 4.0)
        train = min(0.999, ceiling * progress + (1.0 - dropout) * 0.004 * epoch)
        overfit = max(0.0, epoch - 8) * 0.002 * (1.0 - dropout)
        val = float(np.clip(ceiling * progress - overfit + rng.normal(0.0, noise), 0.01, 0.999))
        out["accuracy"].append(round(train, 6))
        out["val_accuracy"].append(round(val, 6))
        out["loss"].append(round(-math.log(train), 6))
        out["val_loss"].append(round(-math.log(val), 6))
    return out


class Synthetic(ModelFamily):
    """Formula curves for fast tests and overhead benchmarks; see the module docstring."""

    name = "synthetic"
    hyperparameters = (
        HyperParam("n_layers", ParamKind.INT, 1, MAX_LAYERS, default=1),
        HyperParam("units_<i>", ParamKind.INT, 1, 65536, max_index=MAX_LAYERS),
        HyperParam(
            "activation", ParamKind.CATEGORICAL, choices=("relu", "tanh", "sigmoid", "elu", "gelu"), default="relu"
        ),
        HyperParam("optimizer", ParamKind.CATEGORICAL, choices=("adam", "sgd", "rmsprop", "adagrad"), default="adam"),
        HyperParam("learning_rate", ParamKind.FLOAT, 1e-7, 10.0, required=True),
        HyperParam("momentum", ParamKind.FLOAT, 0.0, 1.0, default=0.0),
        HyperParam("l2", ParamKind.FLOAT, 0.0, 1.0, default=0.0),
        HyperParam("dropout", ParamKind.FLOAT, 0.0, 0.95, default=0.0),
        HyperParam("batch_norm", ParamKind.BOOL, default=False),
        HyperParam("batch_size", ParamKind.INT, 1, 65536, default=64),
        HyperParam("epochs", ParamKind.INT, 1, 10000, default=10),
        HyperParam("shift", ParamKind.FLOAT, 0.0, 0.5, default=0.0),
        HyperParam("rotation", ParamKind.FLOAT, 0.0, 0.5, default=0.0),
        HyperParam("zoom", ParamKind.FLOAT, 0.0, 0.9, default=0.0),
        HyperParam("sleep", ParamKind.FLOAT, 0.0, 3600.0, default=0.0, help="seconds per epoch"),
        HyperParam("diverge_at", ParamKind.INT, 0, 10000, default=0, help="epoch whose loss turns NaN; 0: never"),
        HyperParam("noise", ParamKind.FLOAT, 0.0, 1.0, default=0.005),
    )
    baseline = {"n_layers": 1, "units_1": 64, "optimizer": "adam", "learning_rate": 0.001, "epochs": 10}
    baseline_label = BaselineLabel.SYNTHETIC

    def train(
        self,
        config: dict[str, Any],
        data: Dataset | None,  # read by no formula: None will do
        reporter: Reporter | None = None,
        *,
        metric: str,
        direction: str,
        patience: int,
        seed: int,
    ) -> TrialOutcome:
        reporter = reporter or NullReporter()
        epochs = int(config.get("epochs", 10))
        planned = curves(config, epochs, seed)
        sleep = float(config.get("sleep", 0.0))
        diverge_at = int(config.get("diverge_at", 0))
        tracker = EpochTracker(metric, direction, patience)
        for epoch in range(1, epochs + 1):
            if sleep:
                time.sleep(sleep)
            metrics = {key: values[epoch - 1] for key, values in planned.items()}
            if diverge_at and epoch >= diverge_at:
                metrics["loss"] = metrics["val_loss"] = math.nan
            if not math.isfinite(metrics["loss"]):
                raise TrialFailed(f"loss became nan at epoch {epoch}; training diverged")
            if tracker.report(reporter, epoch, metrics, model=lambda: self._model(config, tracker, seed)):
                break
        width = sum(int(config.get(f"units_{i}", 0)) for i in range(1, int(config.get("n_layers", 1)) + 1))
        return tracker.outcome(n_params=width, model=self._model(config, tracker, seed))

    def _model(self, config: dict[str, Any], tracker: EpochTracker, seed: int) -> dict[str, Any]:
        """The "model" of a run: its configuration and its best epoch's score (what saving and loading keep)."""
        return {
            "family": self.name,
            "config": dict(config),
            "epochs": tracker.best_epoch,
            "seed": seed,
            "accuracy": float(tracker.history["val_accuracy"][tracker.best_epoch - 1])
            if "val_accuracy" in tracker.history
            else 0.0,
        }

    def fit_final(
        self, config: dict[str, Any], data: Dataset | None, epochs: int, seed: int, reporter: Reporter | None = None
    ) -> dict[str, Any]:
        planned = curves(config, max(1, epochs), seed)
        sleep = float(config.get("sleep", 0.0))
        trained = 0
        for index in range(max(1, epochs)):
            if sleep:
                time.sleep(sleep)
            trained = index + 1
            try:
                (reporter or NullReporter()).report(
                    trained, {"loss": planned["loss"][index], "accuracy": planned["accuracy"][index]}
                )
            except TrainingStopped:  # the job's time is running out: end here
                break
        accuracy = planned["val_accuracy"][trained - 1]
        return {"family": self.name, "config": dict(config), "epochs": trained, "seed": seed, "accuracy": accuracy}

    def ensemble(self, models: Any) -> dict[str, Any]:
        return {**models[0], "accuracy": float(np.mean([m["accuracy"] for m in models])), "members": len(models)}

    cost_metrics = ("params", "latency_ms", "train_seconds")

    def predictor(self, model: Any) -> Any:
        # Nothing to compute: a constant class per row, so its latency is the bookkeeping's alone.
        return lambda x: np.zeros(len(x), dtype=np.int64)

    def evaluate(self, model: Any, x: np.ndarray, y: np.ndarray) -> Evaluation:
        rng = np.random.default_rng(int(model.get("seed", 0)))
        correct = (rng.random(len(y)) < float(model["accuracy"])).astype(np.float64)
        losses = np.where(correct > 0, -math.log(max(model["accuracy"], 1e-6)), -math.log(0.1))
        return Evaluation(
            metrics={"accuracy": float(correct.mean()), "loss": float(losses.mean())},
            per_example={"accuracy": correct, "loss": losses},
        )

    def save(self, model: Any, directory: Path) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / "model.json"
        path.write_text(json.dumps(model, indent=2, default=str))
        return path

    def load(self, path: Path) -> Any:
        return json.loads(Path(path).read_text())

    def load_hint(self, path: Path) -> str:
        return f'json.load(open("{path}"))'
