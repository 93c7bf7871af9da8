"""Histogram gradient boosting (scikit-learn's ``HistGradientBoostingClassifier``/``Regressor``).

It grows with ``warm_start``: up to 20 steps, each adding an even share of ``max_iter`` boosting iterations and
reporting, so pruners and early stopping act on the boosting curve. On tables up to ``LARGE_TABLE_ROWS`` training
rows scikit-learn's own early stopping is off: the search's patience does that job on the metric it optimises.
On larger ones it is on, as scikit-learn's own default turns it on above 10,000 rows (10% of the training rows
held out, 10 iterations without improvement): the boosting stops inside a step, rather than spend whole steps of
iterations that the search's patience would only judge afterwards, and the trial ends at that step.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from automl.models._sklearn import LARGE_TABLE_ROWS, SklearnFamily
from automl.models._sklearn_params import step_iterations
from automl.models.base import HyperParam, ParamKind

MAX_STEPS = 20
VALIDATION_FRACTION = 0.1  # scikit-learn's default, for early stopping inside boosting on larger tables
ITERATIONS_WITHOUT_IMPROVEMENT = 10  # scikit-learn's default n_iter_no_change


class HistGradientBoosting(SklearnFamily):
    name = "sklearn_hgb"
    overfit_remedy = "raise l2_regularization or min_samples_leaf, or lower max_leaf_nodes, max_depth or max_iter"
    hyperparameters = (
        HyperParam("learning_rate", ParamKind.FLOAT, 1e-4, 1.0, default=0.1),
        HyperParam("max_iter", ParamKind.INT, 1, 10000, default=100, help="boosting iterations"),
        HyperParam("max_leaf_nodes", ParamKind.INT, 2, 65536, default=31),
        HyperParam("max_depth", ParamKind.INT, 1, 1000, default=None, help="absent: unlimited"),
        HyperParam("min_samples_leaf", ParamKind.INT, 1, 100000, default=20),
        HyperParam("l2_regularization", ParamKind.FLOAT, 0.0, 1e6, default=0.0),
        HyperParam("max_features", ParamKind.FLOAT, 0.01, 1.0, default=1.0, help="share of features per split"),
        HyperParam("max_bins", ParamKind.INT, 2, 255, default=255),
    )

    def estimator(self, config: Mapping[str, Any], task: str, seed: int) -> Any:
        from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

        cls = HistGradientBoostingClassifier if task == "classification" else HistGradientBoostingRegressor
        return cls(
            learning_rate=float(config.get("learning_rate", 0.1)),
            max_iter=int(config.get("max_iter", 100)),
            max_leaf_nodes=int(config.get("max_leaf_nodes", 31)),
            max_depth=None if config.get("max_depth") is None else int(config["max_depth"]),
            min_samples_leaf=int(config.get("min_samples_leaf", 20)),
            l2_regularization=float(config.get("l2_regularization", 0.0)),
            max_features=float(config.get("max_features", 1.0)),
            max_bins=int(config.get("max_bins", 255)),
            early_stopping=False,
            warm_start=True,
            random_state=seed,
        )

    def steps(self, config: Mapping[str, Any]) -> int:
        return min(MAX_STEPS, int(config.get("max_iter", 100)))

    def set_iterations(self, estimator: Any, config: Mapping[str, Any], step: int) -> None:
        total = int(config.get("max_iter", 100))
        estimator.set_params(max_iter=step_iterations(total, self.steps(config), step))

    def sized(self, estimator: Any, rows: int) -> None:
        if rows > LARGE_TABLE_ROWS:
            estimator.set_params(
                early_stopping=True,
                validation_fraction=VALIDATION_FRACTION,
                n_iter_no_change=ITERATIONS_WITHOUT_IMPROVEMENT,
            )

    def stopped(self, estimator: Any) -> bool:
        """Early stopping inside boosting ended the last step short of its iterations."""
        return bool(estimator.get_params()["early_stopping"] is True and estimator.n_iter_ < estimator.max_iter)
