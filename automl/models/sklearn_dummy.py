"""The floor every model must clear: the majority (prior) class for classification, the mean for regression.

No hyperparameters; it is a reference scored next to every scikit-learn winner, and may be searched like any
family (a space over it only confirms the floor).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from automl.models._sklearn import SklearnFamily
from automl.models.base import Reference


class Dummy(SklearnFamily):
    name = "sklearn_dummy"
    overfit_remedy = "nothing: it has no parameters"
    hyperparameters = ()

    def estimator(self, config: Mapping[str, Any], task: str, seed: int) -> Any:
        from sklearn.dummy import DummyClassifier, DummyRegressor

        # "prior" predicts the majority class and the class frequencies, so its log loss is meaningful too
        return DummyClassifier(strategy="prior") if task == "classification" else DummyRegressor(strategy="mean")

    def references(self, task: str) -> tuple[Reference, ...]:
        return ()
