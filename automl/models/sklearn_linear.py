"""Linear models: logistic regression for classification, ridge for regression, trained in one go.

``alpha`` is the regularisation strength for both (logistic regression's ``C`` is ``1 / alpha``), so one space
serves both tasks. At its defaults this family is every scikit-learn family's baseline: the default-parameter
model a search must beat to be worth its time.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from automl.models._sklearn import SklearnFamily
from automl.models.base import HyperParam, ParamKind


class Linear(SklearnFamily):
    name = "sklearn_linear"
    overfit_remedy = "raise alpha"
    hyperparameters = (
        HyperParam(
            "alpha", ParamKind.FLOAT, 1e-8, 1e8, default=1.0, help="regularisation strength (logistic: C = 1/alpha)"
        ),
        HyperParam("max_iter", ParamKind.INT, 1, 100000, default=100, help="solver iterations (logistic regression)"),
        HyperParam("class_weight", ParamKind.CATEGORICAL, choices=(None, "balanced"), default=None),
    )

    def estimator(self, config: Mapping[str, Any], task: str, seed: int) -> Any:
        from sklearn.linear_model import LogisticRegression, Ridge

        alpha = float(config.get("alpha", 1.0))
        if task == "classification":
            return LogisticRegression(
                C=1.0 / alpha,
                max_iter=int(config.get("max_iter", 100)),
                class_weight=config.get("class_weight"),
                random_state=seed,
            )
        return Ridge(alpha=alpha)
