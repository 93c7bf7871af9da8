"""Support-vector machines (scikit-learn's ``SVC``/``SVR``), trained in one go: one report per configuration.

``SVC`` is wrapped in ``CalibratedClassifierCV`` (Platt scaling over an internal 5-fold fit; scikit-learn 1.9's
replacement for ``probability=True``) so log loss and ROC AUC are real; that costs about five fits, which is fine
on the small tables an SVM suits. On a larger table a kernel SVM's fit grows faster than its rows (a default
SVM on 32,000 rows of a 50,000-row table took most of a 90 s budget, and one fit cannot be stopped at a
deadline), so it fits a seeded sample of at most ``MAX_ROWS`` rows, in the search and in the final model.
``epsilon`` is read for regression only, in units of the standardised target.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from automl.models._sklearn import SklearnFamily
from automl.models._sklearn_params import DefaultableParam
from automl.models.base import HyperParam, ParamKind

MAX_ROWS = 5_000


class SupportVectorMachine(SklearnFamily):
    name = "sklearn_svm"
    max_rows = MAX_ROWS
    overfit_remedy = "lower C (and gamma for the rbf kernel)"
    hyperparameters = (
        HyperParam("C", ParamKind.FLOAT, 1e-6, 1e6, default=1.0),
        HyperParam("kernel", ParamKind.CATEGORICAL, choices=("rbf", "linear", "poly", "sigmoid"), default="rbf"),
        DefaultableParam("gamma", ParamKind.FLOAT, 1e-8, 1e4, default=None, help="absent or null: 'scale'"),
        HyperParam("degree", ParamKind.INT, 1, 10, default=3, help="poly kernel only"),
        HyperParam("epsilon", ParamKind.FLOAT, 0.0, 100.0, default=0.1, help="regression only"),
        HyperParam("class_weight", ParamKind.CATEGORICAL, choices=(None, "balanced"), default=None),
    )

    def estimator(self, config: Mapping[str, Any], task: str, seed: int) -> Any:
        from sklearn.calibration import CalibratedClassifierCV
        from sklearn.svm import SVC, SVR

        kwargs: dict[str, Any] = {
            "C": float(config.get("C", 1.0)),
            "kernel": str(config.get("kernel", "rbf")),
            "gamma": "scale" if config.get("gamma") is None else float(config["gamma"]),
            "degree": int(config.get("degree", 3)),
        }
        if task == "classification":
            svc = SVC(random_state=seed, class_weight=config.get("class_weight"), **kwargs)
            return CalibratedClassifierCV(svc, method="sigmoid", ensemble=False)
        return SVR(epsilon=float(config.get("epsilon", 0.1)), **kwargs)
