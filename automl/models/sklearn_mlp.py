"""scikit-learn's multilayer perceptron (``MLPClassifier``/``MLPRegressor``), one ``partial_fit`` epoch per step.

Each epoch reports, as the Keras families do, so early stopping and pruners act on the learning curve. The final
model is one ``fit`` with ``max_iter`` set to the best epoch.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from automl.models._sklearn import SklearnFamily
from automl.models.base import HyperParam, ParamKind

MAX_LAYERS = 8
DEFAULT_UNITS = 100  # scikit-learn's default hidden layer


class MultilayerPerceptron(SklearnFamily):
    name = "sklearn_mlp"
    overfit_remedy = "raise alpha, use fewer units, or lower the epoch budget"
    hyperparameters = (
        HyperParam("n_layers", ParamKind.INT, 1, MAX_LAYERS, default=1, help="hidden layers"),
        HyperParam("units_<i>", ParamKind.INT, 1, 4096, default=DEFAULT_UNITS, max_index=MAX_LAYERS),
        HyperParam(
            "activation", ParamKind.CATEGORICAL, choices=("relu", "tanh", "logistic", "identity"), default="relu"
        ),
        HyperParam("solver", ParamKind.CATEGORICAL, choices=("adam", "sgd"), default="adam"),
        HyperParam("alpha", ParamKind.FLOAT, 0.0, 100.0, default=1e-4, help="L2 penalty"),
        HyperParam("learning_rate_init", ParamKind.FLOAT, 1e-6, 1.0, default=1e-3),
        HyperParam("momentum", ParamKind.FLOAT, 0.0, 1.0, default=0.9, help="sgd only"),
        HyperParam("batch_size", ParamKind.INT, 1, 65536, default=200),
        HyperParam("epochs", ParamKind.INT, 1, 10000, default=200, help="passes over the data (max_iter)"),
    )

    def estimator(self, config: Mapping[str, Any], task: str, seed: int) -> Any:
        from sklearn.neural_network import MLPClassifier, MLPRegressor

        layers = tuple(
            int(config.get(f"units_{i}", DEFAULT_UNITS)) for i in range(1, int(config.get("n_layers", 1)) + 1)
        )
        cls = MLPClassifier if task == "classification" else MLPRegressor
        return cls(
            hidden_layer_sizes=layers,
            activation=str(config.get("activation", "relu")),
            solver=str(config.get("solver", "adam")),
            alpha=float(config.get("alpha", 1e-4)),
            learning_rate_init=float(config.get("learning_rate_init", 1e-3)),
            momentum=float(config.get("momentum", 0.9)),
            batch_size=int(config.get("batch_size", 200)),
            max_iter=int(config.get("epochs", 200)),
            random_state=seed,
        )

    def steps(self, config: Mapping[str, Any]) -> int:
        return int(config.get("epochs", 200))

    def fit_step(
        self, estimator: Any, x: Any, y: np.ndarray, config: Mapping[str, Any], step: int, classes: Any
    ) -> None:
        if classes is not None:
            estimator.partial_fit(x, y, classes=classes)
        else:
            estimator.partial_fit(x, y)

    def final_iterations(self, estimator: Any, config: Mapping[str, Any], steps: int) -> None:
        # One fit of `steps` epochs, without scikit-learn's own convergence stop (the search chose the epochs).
        estimator.set_params(max_iter=steps, n_iter_no_change=steps + 1, tol=0.0)
