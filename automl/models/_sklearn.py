"""What the scikit-learn families share: preprocessing, metrics, the stepwise training loop with cross-validation,
retraining, scoring, and the skops file. Only modules under :mod:`automl.models` import this (and scikit-learn).

One family per estimator, for both tasks: the estimator class follows ``data.task`` (a classifier or a regressor).

- **Preprocessing** lives inside the model: numeric columns are median-imputed (with missing-value indicators) and
  standardised, the other columns imputed with a constant and one-hot encoded. It is fitted on the rows a model
  trains on (each fold's training rows in a search, train+validation for the final model), so validation and test
  rows never shape it, and the saved model takes the raw table.
- **Steps**: an iterative estimator trains in steps (``warm_start`` with growing ``max_iter``/``n_estimators``,
  or one ``partial_fit`` epoch) and reports after each, so pruners act; the others report once. A step is the
  family's "epoch": early stopping, the best step and the final retraining count in steps.
- **Cross-validation**: when ``data.cv_folds`` > 1 (small tables), a configuration trains on every fold of
  train+validation in lockstep and each step reports the folds' mean scores.
- **Regression targets** are standardised while training (scale-sensitive estimators such as SVR and the MLP
  otherwise underfit targets in the hundreds); the final model is a ``TransformedTargetRegressor`` doing the same.
"""

from __future__ import annotations

import abc
import contextlib
import math
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from automl.analysis.scores import (
    classification_intervals,
    classification_scores,
    full_proba,
    mean_of,
    regression_intervals,
    regression_scores,
)
from automl.errors import TrialFailed
from automl.models.base import (
    BaselineLabel,
    Evaluation,
    ModelFamily,
    NullReporter,
    Reference,
    Reporter,
    TrainingStopped,
    TrialOutcome,
)
from automl.models.tracker import EpochTracker

if TYPE_CHECKING:
    from automl.data.dataset import Dataset

_TRAIN_METRICS = {
    "classification": ("loss", "accuracy", "balanced_accuracy", "roc_auc"),
    "regression": ("loss", "rmse", "mae", "r2"),
}
METRICS = {task: (*names, *(f"val_{n}" for n in names)) for task, names in _TRAIN_METRICS.items()}

_thread_limits: Any = None
# Above this many training rows boosting stops itself inside a step, and each step's training scores (for the fit
# diagnosis only) are computed on a seeded sample of this many rows.
LARGE_TABLE_ROWS = 10_000


@contextlib.contextmanager
def quiet_fit() -> Iterator[None]:
    """Convergence warnings are expected: a step's iteration cap is reached on purpose."""
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", UserWarning)  # e.g. "X does not have valid feature names" after encoding
        warnings.simplefilter("ignore", RuntimeWarning)  # overflow inside a diverging model; its loss shows it
        yield


def preprocessor(x: Any) -> Any:
    """Imputation, scaling and one-hot encoding, chosen by column type when ``x`` is a DataFrame."""
    from sklearn.compose import ColumnTransformer, make_column_selector
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numeric = Pipeline([("impute", SimpleImputer(strategy="median", add_indicator=True)), ("scale", StandardScaler())])
    if not hasattr(x, "columns"):
        return numeric
    categorical = Pipeline(
        [
            ("impute", SimpleImputer(strategy="constant", fill_value="missing")),
            # Categories unseen in training (or rare ones) fall into one bucket instead of failing at test time.
            (
                "encode",
                OneHotEncoder(handle_unknown="infrequent_if_exist", max_categories=20, sparse_output=False),
            ),
        ]
    )
    return ColumnTransformer(
        [
            ("numeric", numeric, make_column_selector(dtype_include="number")),
            ("categorical", categorical, make_column_selector(dtype_exclude="number")),
        ],
        sparse_threshold=0.0,
    )


# --------------------------------------------------------------------------------------------------------------
# Training


def rows(x: Any, index: np.ndarray) -> Any:
    return x.iloc[index] if hasattr(x, "iloc") else x[index]


def concat(a: Any, b: Any) -> Any:
    if hasattr(a, "iloc"):
        import pandas as pd

        return pd.concat([a, b], ignore_index=True)
    return np.concatenate([a, b])


def folds(data: Dataset, seed: int) -> list[tuple[Any, np.ndarray, Any, np.ndarray]]:
    """(x_train, y_train, x_val, y_val) per fold: k folds of train+validation for small tables, else the split."""
    if int(getattr(data, "cv_folds", 0) or 0) < 2:
        return [(data.x_train, data.y_train, data.x_val, data.y_val)]
    from sklearn.model_selection import KFold, StratifiedKFold

    x, y = concat(data.x_train, data.x_val), np.concatenate([data.y_train, data.y_val])
    k = int(data.cv_folds)
    splitter: Any = KFold(k, shuffle=True, random_state=seed)
    if data.task == "classification":
        smallest = int(np.bincount(y)[np.bincount(y) > 0].min())
        if smallest >= 2:
            splitter = StratifiedKFold(min(k, smallest), shuffle=True, random_state=seed)
    return [(rows(x, a), y[a], rows(x, b), y[b]) for a, b in splitter.split(np.zeros(len(y)), y)]


@dataclass
class _Fold:
    """One fold's model in a search: preprocessing fitted once on its training rows, the estimator growing."""

    estimator: Any
    x: np.ndarray
    y: np.ndarray  # what the estimator fits: labels, or standardised targets
    x_val: np.ndarray
    y_val: np.ndarray
    y_train: np.ndarray  # labels or targets in their own units, to score
    y_mean: float = 0.0
    y_scale: float = 1.0
    scored: np.ndarray | None = None  # the training rows scored each step (None: all of them)
    prep: Any = None  # the preprocessing fitted on the fold's training rows


class SklearnFamily(ModelFamily):
    """A scikit-learn estimator for classification and regression, trained in steps; see the module docstring.

    A subclass declares its hyperparameters and implements :meth:`estimator`; an iterative one also overrides
    :meth:`steps` and :meth:`set_iterations` (or :meth:`fit_step` for ``partial_fit``).
    """

    data_kinds = frozenset({"images", "table"})
    tasks = frozenset({"classification", "regression"})
    metrics = METRICS
    baseline: ClassVar[dict[str, Any] | None] = {}  # the linear family at its defaults
    baseline_family = "sklearn_linear"
    baseline_label = BaselineLabel.LINEAR
    max_members = 1  # a retrained scikit-learn model is one file; seeds barely move most of them
    cost_metrics = ("latency_ms", "train_seconds")  # timed through the model's own predict (ModelFamily's)
    max_rows: ClassVar[int | None] = None  # fit on a seeded sample of at most this many rows (None: all)

    # ---- what a subclass says ------------------------------------------------------------------------------

    @abc.abstractmethod
    def estimator(self, config: Mapping[str, Any], task: str, seed: int) -> Any:
        """An unfitted estimator for ``task``, with ``warm_start`` on where it trains in steps."""

    def steps(self, config: Mapping[str, Any]) -> int:
        """How many reports a full training makes (1: the estimator trains in one go)."""
        return 1

    def set_iterations(self, estimator: Any, config: Mapping[str, Any], step: int) -> None:  # noqa: B027
        """Set the iteration count that step ``step`` (1-based) trains up to; a no-op for one-step families."""

    def fit_step(
        self, estimator: Any, x: Any, y: np.ndarray, config: Mapping[str, Any], step: int, classes: Any
    ) -> None:
        self.set_iterations(estimator, config, step)
        estimator.fit(x, y)

    def sized(self, estimator: Any, rows: int) -> None:  # noqa: B027
        """Adjust a fresh estimator to the ``rows`` it will fit (boosting's early stopping on larger tables)."""

    def _capped(self, x: Any, y: np.ndarray, seed: int) -> tuple[Any, np.ndarray]:
        """A seeded sample of at most :attr:`max_rows` rows (a kernel SVM's fit grows faster than its rows)."""
        if self.max_rows is None or len(y) <= self.max_rows:
            return x, y
        index = np.sort(np.random.default_rng(seed).choice(len(y), self.max_rows, replace=False))
        return rows(x, index), y[index]

    def stopped(self, estimator: Any) -> bool:
        """Whether the estimator's own early stopping ended its last step short: training ends at that step."""
        return False

    def references(self, task: str) -> tuple[Reference, ...]:
        dummy = BaselineLabel.MAJORITY_CLASS if task == "classification" else BaselineLabel.MEAN
        out = [Reference(dummy, "sklearn_dummy", {})]
        if self.name != self.baseline_family:
            out.append(Reference(BaselineLabel.default_parameters(self.name), self.name, {}))
        return tuple(out)

    # ---- training ------------------------------------------------------------------------------------------

    def configure_threads(self, threads: int | None) -> None:
        global _thread_limits
        if threads and _thread_limits is None:
            from threadpoolctl import threadpool_limits

            _thread_limits = threadpool_limits(limits=threads)  # OpenMP/BLAS pools, kept for the process

    def _start(self, config: Mapping[str, Any], data: Dataset, seed: int, fold: tuple[Any, ...]) -> _Fold:
        x_train, y_train, x_val, y_val = fold
        x_train, y_train = self._capped(x_train, np.asarray(y_train), seed)
        prep = preprocessor(x_train)
        with quiet_fit():
            x = np.asarray(prep.fit_transform(x_train), dtype=np.float64)
            xv = np.asarray(prep.transform(x_val), dtype=np.float64)
        target = np.asarray(y_train)
        mean, scale = 0.0, 1.0
        if data.task == "regression":
            mean, scale = float(target.mean()), float(target.std()) or 1.0
            target = (target - mean) / scale
        estimator = self.estimator(config, data.task, seed)
        self.sized(estimator, len(target))
        scored = None
        if len(target) > LARGE_TABLE_ROWS:
            scored = np.sort(np.random.default_rng(seed).choice(len(target), LARGE_TABLE_ROWS, replace=False))
        return _Fold(estimator, x, target, xv, np.asarray(y_val), np.asarray(y_train), mean, scale, scored, prep)

    def _scores(self, fold: _Fold, data: Dataset) -> dict[str, float]:
        out: dict[str, float] = {}
        x_train, y_train = fold.x, fold.y_train
        if fold.scored is not None:
            x_train, y_train = fold.x[fold.scored], fold.y_train[fold.scored]
        for prefix, x, y in (("", x_train, y_train), ("val_", fold.x_val, fold.y_val)):
            if data.task == "classification":
                metrics, _ = classification_scores(full_proba(fold.estimator, x, data.n_classes), y)
            else:
                pred = fold.estimator.predict(x) * fold.y_scale + fold.y_mean
                metrics, _ = regression_scores(pred, y)
            out.update({prefix + k: v for k, v in metrics.items()})
        return out

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
        reporter = reporter or NullReporter()
        tracker = EpochTracker(metric, direction, patience)
        classes = np.arange(data.n_classes) if data.task == "classification" else None
        states = [self._start(config, data, seed, fold) for fold in folds(data, seed)]
        for step in range(1, self.steps(config) + 1):
            per_fold = []
            for state in states:
                try:
                    with quiet_fit():
                        self.fit_step(state.estimator, state.x, state.y, config, step, classes)
                        per_fold.append(self._scores(state, data))
                except (ValueError, FloatingPointError, np.linalg.LinAlgError) as exc:
                    # scikit-learn rejects some combinations only when fitting (e.g. a kernel's parameters)
                    raise TrialFailed(f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}") from None
            metrics = mean_of(per_fold)
            if not all(math.isfinite(v) for v in metrics.values()):
                raise TrialFailed(f"a non-finite score at step {step}; the configuration diverged")
            if metric not in metrics:
                raise TrialFailed(f"{metric} could not be computed on the validation rows at step {step}")
            # may raise to prune or stop: let it propagate (the folds leave no single model to keep)
            if tracker.report(reporter, step, metrics) or all(self.stopped(state.estimator) for state in states):
                break
        from sklearn.pipeline import make_pipeline

        outcome = tracker.outcome()  # a fold's preprocessing and estimator: a model of raw rows, to time (latency_ms)
        outcome.timing_model = make_pipeline(states[0].prep, states[0].estimator)
        return outcome

    # ---- the end of a search -------------------------------------------------------------------------------

    def epochs_for_final(self, config: Mapping[str, Any], best_epoch: int | None) -> int:
        return int(best_epoch or self.steps(config))

    def fit_final(
        self, config: dict[str, Any], data: Dataset, epochs: int, seed: int, reporter: Reporter | None = None
    ) -> Any:
        """One pipeline (preprocessing, then the estimator grown to ``epochs`` steps) fitted on train+validation."""
        x, y = concat(data.x_train, data.x_val), np.concatenate([data.y_train, data.y_val])
        model = self._fit_pipeline(config, x, y, data.task, epochs, seed)
        with contextlib.suppress(TrainingStopped):  # fitted in one go: nothing is left to stop
            (reporter or NullReporter()).report(max(1, min(int(epochs), self.steps(config))), {})
        return model

    def _fit_pipeline(self, config: Mapping[str, Any], x: Any, y: np.ndarray, task: str, epochs: int, seed: int) -> Any:
        from sklearn.compose import TransformedTargetRegressor
        from sklearn.pipeline import Pipeline
        from sklearn.preprocessing import StandardScaler

        x, y = self._capped(x, y, seed)
        estimator = self.estimator(config, task, seed)
        self.sized(estimator, len(y))
        steps = max(1, min(int(epochs), self.steps(config)))
        self.set_iterations(estimator, config, steps)
        self.final_iterations(estimator, config, steps)
        model: Any = Pipeline([("preprocess", preprocessor(x)), ("model", estimator)])
        if task == "regression":
            model = TransformedTargetRegressor(regressor=model, transformer=StandardScaler())
        with quiet_fit():
            model.fit(x, y)
        return model

    # ---- ensembles of several trials (automl.job.ensemble) ---------------------------------------------------

    ensemble_group = "sklearn"

    def validation_predictions(
        self, config: dict[str, Any], data: Dataset, epochs: int, seed: int
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """Out-of-fold predictions of train+validation (cross-validated tables), else of the validation split."""
        predictions, targets = [], []
        for x_train, y_train, x_val, y_val in folds(data, seed):
            model = self._fit_pipeline(config, x_train, np.asarray(y_train), data.task, epochs, seed)
            with quiet_fit():
                if data.task == "classification":
                    predictions.append(full_proba(model, x_val, data.n_classes))
                else:
                    predictions.append(np.asarray(model.predict(x_val), dtype=np.float64).reshape(-1))
            targets.append(np.asarray(y_val))
        return np.concatenate(predictions), np.concatenate(targets)

    def weighted_ensemble(
        self, models: Sequence[Any], weights: Sequence[int], names: Sequence[str], data: Dataset
    ) -> Any:
        """A soft ``VotingClassifier`` or a ``VotingRegressor`` over the members, each a ``FrozenEstimator`` (the
        voting's ``fit`` refits nothing): one scikit-learn estimator, saved and loaded by skops as any other."""
        from sklearn.ensemble import VotingClassifier, VotingRegressor
        from sklearn.frozen import FrozenEstimator

        members = [(name, FrozenEstimator(model)) for name, model in zip(names, models, strict=True)]
        voting: Any = (
            VotingClassifier(members, voting="soft", weights=list(weights))
            if data.task == "classification"
            else VotingRegressor(members, weights=list(weights))
        )
        x, y = concat(data.x_train, data.x_val), np.concatenate([data.y_train, data.y_val])
        with quiet_fit():
            return voting.fit(x, y)

    def final_iterations(self, estimator: Any, config: Mapping[str, Any], steps: int) -> None:  # noqa: B027
        """Adjust a fresh estimator so one ``fit`` trains what ``steps`` steps trained (e.g. ``partial_fit``
        epochs as ``max_iter``); the default: what :meth:`set_iterations` set."""

    def evaluate(self, model: Any, x: Any, y: np.ndarray) -> Evaluation:
        from sklearn.base import is_classifier

        with quiet_fit():
            if is_classifier(model):
                proba = full_proba(model, x, int(np.max(y)) + 1)
                metrics, per_example = classification_scores(proba, y)
                return Evaluation(metrics, per_example, classification_intervals(proba, np.asarray(y), per_example))
            pred = model.predict(x)
        metrics, per_example = regression_scores(pred, y)
        return Evaluation(metrics, per_example, regression_intervals(per_example, np.asarray(y)))

    def save(self, model: Any, directory: Path) -> Path:
        import skops.io

        directory.mkdir(parents=True, exist_ok=True)
        path = directory / "model.skops"
        skops.io.dump(model, path)
        return path

    def load(self, path: Path) -> Any:
        import skops.io

        # automl wrote this file itself; a user loading someone else's file should review the types first
        return skops.io.load(path, trusted=skops.io.get_untrusted_types(file=path))

    def load_hint(self, path: Path) -> str:
        return (
            f'import skops.io; skops.io.load("{path}", trusted=skops.io.get_untrusted_types(file="{path}")) '
            "(skops loads no arbitrary code, unlike a pickle; review the listed types before trusting a file you "
            "did not make); it is a scikit-learn pipeline that takes the raw table without the target column"
        )
