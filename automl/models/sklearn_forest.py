"""Random forests (scikit-learn's ``RandomForestClassifier``/``Regressor``).

It grows with ``warm_start``: up to 10 steps, each adding an even share of ``n_estimators`` trees and reporting.
More trees never hurt a forest much, but the curve shows when they stop helping, and pruning stops hopeless
configurations after their first trees.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from automl.models._sklearn import SklearnFamily
from automl.models._sklearn_params import DefaultableParam, step_iterations
from automl.models.base import HyperParam, ParamKind

MAX_STEPS = 10


class RandomForest(SklearnFamily):
    name = "sklearn_forest"
    overfit_remedy = "lower max_depth or max_features, or raise min_samples_leaf"
    hyperparameters = (
        HyperParam("n_estimators", ParamKind.INT, 1, 5000, default=100, help="trees"),
        HyperParam("max_depth", ParamKind.INT, 1, 1000, default=None, help="absent: unlimited"),
        HyperParam("min_samples_split", ParamKind.INT, 2, 100000, default=2),
        HyperParam("min_samples_leaf", ParamKind.INT, 1, 100000, default=1),
        DefaultableParam(
            "max_features",
            ParamKind.FLOAT,
            0.01,
            1.0,
            default=None,
            help="share of features per split; absent or null: sqrt / all",
        ),
        HyperParam("bootstrap", ParamKind.BOOL, default=True),
        HyperParam(
            "class_weight", ParamKind.CATEGORICAL, choices=(None, "balanced", "balanced_subsample"), default=None
        ),
    )

    def estimator(self, config: Mapping[str, Any], task: str, seed: int) -> Any:
        from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

        kwargs: dict[str, Any] = {
            "n_estimators": int(config.get("n_estimators", 100)),
            "max_depth": None if config.get("max_depth") is None else int(config["max_depth"]),
            "min_samples_split": int(config.get("min_samples_split", 2)),
            "min_samples_leaf": int(config.get("min_samples_leaf", 1)),
            "bootstrap": bool(config.get("bootstrap", True)),
            "warm_start": True,
            "random_state": seed,
            "n_jobs": 1,  # the search runs one trial per core; nested parallelism only fights it
        }
        if config.get("max_features") is not None:
            kwargs["max_features"] = float(config["max_features"])
        if task == "classification":
            return RandomForestClassifier(class_weight=config.get("class_weight"), **kwargs)
        return RandomForestRegressor(**kwargs)

    def steps(self, config: Mapping[str, Any]) -> int:
        return min(MAX_STEPS, int(config.get("n_estimators", 100)))

    def set_iterations(self, estimator: Any, config: Mapping[str, Any], step: int) -> None:
        total = int(config.get("n_estimators", 100))
        estimator.set_params(n_estimators=step_iterations(total, self.steps(config), step))
