"""Conformance checks for model families, as scikit-learn's ``check_estimator`` is for estimators.

Run :func:`check_family` on your own family in its tests::

    from automl.testing import check_family
    from my_families import Ridge

    def test_ridge_keeps_the_family_contract():
        check_family(Ridge)

It trains the family on tiny generated data (a few dozen rows or 8x8 images, for each kind of data and task it
declares; the final model once per task) and checks what :class:`~automl.models.ModelFamily`'s docstring
promises. The first broken promise raises :class:`FamilyContractError` naming the check. Each check is meant to take
seconds: pass ``config`` to make a slow family small (``check_family(MyNet, config={"epochs": 2})``).
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from automl.data.dataset import Dataset
from automl.errors import TrialFailed
from automl.models.base import Evaluation, HyperParam, ModelFamily, ParamKind, TrialOutcome
from automl.models.registry import FAMILIES, get_family

DATA_KINDS = ("table", "images")
TASKS = ("classification", "regression")
_SIDE = 8  # generated images are 8x8: square, as the convolutional families need, and small
_ROWS = {"train": 48, "val": 24, "test": 24}
_CLASSES = 2  # binary: the ROC AUC that scikit-learn families score (and bootstrap) is one curve, not three
_LOWER_IS_BETTER = ("loss", "rmse", "mae", "mse", "error")


class FamilyContractError(AssertionError):
    """A model family breaks the :class:`~automl.models.ModelFamily` contract; the message names the check."""


def check_family(
    family: type[ModelFamily] | ModelFamily, *, config: Mapping[str, Any] | None = None, seed: int = 0
) -> None:
    """Check ``family`` (a class or an instance) against the model-family contract; raise on the first failure.

    ``config`` holds values laid over the family's default configuration (its declared defaults, and a value
    inside the range of each required parameter without one), e.g. few epochs to keep the check fast.
    """
    instance = family() if isinstance(family, type) else family
    if not getattr(instance, "name", None):  # a user family gets its name from the space; name it for messages
        # ``name`` is a ClassVar in the contract; naming this one instance is what the messages need
        instance.name = type(instance).__name__  # type: ignore[misc]
    checker = _Checker(instance, seed)
    checker.declaration()
    trial_config = checker.default_config(config or {})
    first = True
    for task in TASKS:
        kinds = [kind for kind in DATA_KINDS if kind in instance.data_kinds and task in instance.tasks]
        for kind in kinds:
            data = make_dataset(kind, task, seed)
            outcome = checker.train(trial_config, data)
            if first:  # these two need one kind of data only
                checker.reporter_exception_propagates(trial_config, data)
                checker.patience_and_direction(trial_config, data)
                first = False
            if kind == kinds[0]:  # the final model once per task: evaluating it is the slow part
                checker.final_model(trial_config, data, outcome)


def make_dataset(kind: str, task: str, seed: int = 0) -> Dataset:
    """A tiny learnable dataset: 8x8 greyscale images (flattened to 64 floats in [0, 1]) or a numeric table, with
    2 classes or a real-valued target; 48 training, 24 validation and 24 test examples."""
    rng = np.random.default_rng(seed)
    n = sum(_ROWS.values())
    labels = np.arange(n) % _CLASSES
    rng.shuffle(labels)
    x: Any  # an image array, or a table as pandas (what the table families receive)
    if kind == "images":
        x = rng.random((n, _SIDE, _SIDE)).astype(np.float32) * 0.3
        for c in range(_CLASSES):  # each class lights its own band of rows
            x[labels == c, 2 * c : 2 * c + 2, :] += 0.7
        x = np.clip(x, 0.0, 1.0).reshape(n, _SIDE * _SIDE)
        signal = x[:, : _SIDE * _SIDE // 2].mean(axis=1)
    else:
        import pandas as pd

        columns = rng.normal(size=(n, 3))
        columns[:, 0] += labels * 1.5  # the first column separates the classes
        x = pd.DataFrame(columns, columns=["a", "b", "c"])
        signal = 3.0 * columns[:, 1] - 2.0 * columns[:, 2]
    if task == "classification":
        y: np.ndarray = labels.astype(np.int64)
        n_classes, class_names = _CLASSES, tuple(str(c) for c in range(_CLASSES))
    else:
        y = (10.0 * signal + rng.normal(scale=0.1, size=n)).astype(np.float64)
        n_classes, class_names = 0, ()
    cut = np.cumsum([_ROWS["train"], _ROWS["val"]])
    parts = [(_rows(x, slice(a, b)), y[a:b]) for a, b in ((0, cut[0]), (cut[0], cut[1]), (cut[1], n))]
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = parts
    return Dataset(
        name=f"check_family_{kind}_{task}",
        source="generated by automl.testing",
        x_train=x_train,
        y_train=y_train,
        x_val=x_val,
        y_val=y_val,
        x_test=x_test,
        y_test=y_test,
        n_classes=n_classes,
        kind=kind,
        task=task,
        class_names=class_names,
    )


def _rows(x: Any, rows: slice) -> Any:
    return x.iloc[rows].reset_index(drop=True) if hasattr(x, "iloc") else x[rows]


def natural_direction(metric: str) -> str:
    """``minimize`` for losses and errors, ``maximize`` for the rest (accuracy, R², AUC)."""
    name = metric.removeprefix("val_")
    return "minimize" if name.endswith(_LOWER_IS_BETTER) else "maximize"


def best_of(values: list[float], direction: str) -> tuple[int, float]:
    """The 1-based epoch and value of the best of ``values`` (the first of equals)."""
    best = 0
    for i, value in enumerate(values):
        if (value > values[best]) if direction == "maximize" else (value < values[best]):
            best = i
    return best + 1, values[best]


class _Pruned(Exception):
    """What the checking reporter raises, as an engine's pruner would."""


class _Recorder:
    def __init__(self, raise_at: int | None = None) -> None:
        self.reports: list[tuple[int, dict[str, float]]] = []
        self.raise_at = raise_at
        self.raised: _Pruned | None = None

    def report(self, epoch: int, metrics: dict[str, float]) -> None:
        self.reports.append((epoch, dict(metrics)))
        if self.raise_at is not None and len(self.reports) >= self.raise_at:
            self.raised = _Pruned(f"pruned at epoch {epoch} by check_family")
            raise self.raised


class _Checker:
    """The checks, in order; each failure names itself through :meth:`fail`."""

    def __init__(self, family: ModelFamily, seed: int) -> None:
        self.family, self.seed = family, seed

    def fail(self, check: str, detail: str) -> FamilyContractError:
        return FamilyContractError(f"{self.family.name} fails the check '{check}': {detail}")

    def call(self, check: str, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """``fn(*args, **kwargs)``; an exception from it fails ``check``, naming ``what`` was called."""
        try:
            return fn(*args, **kwargs)
        except FamilyContractError:
            raise
        except Exception as exc:
            raise self.fail(check, f"{what} raised {type(exc).__name__}: {exc}") from exc

    # ---- declaration ---------------------------------------------------------------------------------------

    def declaration(self) -> None:
        f, check = self.family, "declaration"
        if not f.data_kinds or not set(f.data_kinds) <= set(DATA_KINDS):
            raise self.fail(check, f"data_kinds must be a non-empty subset of {set(DATA_KINDS)}, got {f.data_kinds}")
        if not f.tasks or not set(f.tasks) <= set(TASKS):
            raise self.fail(check, f"tasks must be a non-empty subset of {set(TASKS)}, got {f.tasks}")
        for task in f.tasks:
            if not any(m.startswith("val_") for m in f.reported_metrics(task)):
                raise self.fail(check, f"metrics[{task!r}] must name the validation metrics train reports (val_...)")
        names = [p.name for p in f.hyperparameters]
        if len(set(names)) != len(names):
            raise self.fail(
                check, f"hyperparameters declare a name twice: {sorted(n for n in names if names.count(n) > 1)}"
            )
        for p in f.hyperparameters:
            if not isinstance(p, HyperParam):
                raise self.fail(check, f"hyperparameters must be HyperParam declarations, got {p!r}")
            self._declared(p)
        f.configure_threads(None)
        if f.baseline is not None:
            reference = f.baseline_family or f.name
            if f.baseline_family is not None and f.baseline_family not in FAMILIES:
                raise self.fail("baseline", f"baseline_family {f.baseline_family!r} is not one of {sorted(FAMILIES)}")
            trainer = get_family(f.baseline_family) if f.baseline_family else f
            problems = trainer.check_config(f.baseline)
            if problems:
                raise self.fail("baseline", f"{reference} rejects the baseline configuration: {problems[0]}")
            if not f.baseline_label:
                raise self.fail("baseline", "a family with a baseline names it in baseline_label")

    def _declared(self, p: HyperParam) -> None:
        check = f"declaration of {p.name!r}"
        if p.is_pattern and p.name.count("<i>") != 1:
            raise self.fail(check, "a pattern holds <i> once")
        numeric = p.kind in (ParamKind.INT, ParamKind.FLOAT)
        if numeric and p.low is not None and p.high is not None and p.low > p.high:
            raise self.fail(check, f"low must be <= high, got low={p.low} high={p.high}")
        if p.kind == ParamKind.CATEGORICAL and not p.choices:
            raise self.fail(check, "a categorical parameter lists its choices")
        if p.default is not None and (reason := p.rejects(p.default)) is not None:
            raise self.fail(check, f"its default {reason}")

    def default_config(self, overrides: Mapping[str, Any]) -> dict[str, Any]:
        """Declared defaults, a value for each required parameter without one, then ``overrides``."""
        config = {p.name: p.default for p in self.family.hyperparameters if not p.is_pattern and p.default is not None}
        config.update(overrides)
        for _ in range(32):  # requirements may depend on values (units_<i> for each of n_layers)
            missing = [n for n in self.family.required(config) if n not in config]
            if not missing:
                break
            for name in missing:
                spec = self.family.spec(name)
                if spec is None:
                    raise self.fail("default configuration", f"required() names {name!r}, which no HyperParam declares")
                config[name] = spec.default if spec.default is not None else _inside(spec)
        problems = self.family.check_config(config)
        if problems:
            raise self.fail("default configuration", f"check_config rejects {config}: {problems[0]}")
        return config

    # ---- training ------------------------------------------------------------------------------------------

    def train(self, config: dict[str, Any], data: Dataset) -> TrialOutcome:
        check = f"train on {data.kind}/{data.task}"
        expected = self.family.reported_metrics(data.task)
        metric = next(m for m in expected if m.startswith("val_"))
        direction = natural_direction(metric)
        recorder = _Recorder()
        outcome = self._train(check, config, data, recorder, metric, direction, patience=100)
        epochs = [epoch for epoch, _ in recorder.reports]
        if epochs != list(range(1, len(epochs) + 1)) or not epochs:
            raise self.fail(check, f"reports must number epochs 1, 2, 3... in order, got {epochs}")
        for epoch, metrics in recorder.reports:
            missing = [m for m in expected if m not in metrics]
            if missing:
                raise self.fail(check, f"epoch {epoch} reports no {missing} (declared in metrics[{data.task!r}])")
            if not all(isinstance(v, int | float) and math.isfinite(v) for v in metrics.values()):
                raise self.fail(check, f"epoch {epoch} reports a value that is not a finite number: {metrics}")
        self._outcome_matches(check, outcome, recorder, metric, direction)
        return outcome

    def _train(
        self,
        check: str,
        config: dict[str, Any],
        data: Dataset,
        reporter: Any,
        metric: str,
        direction: str,
        patience: int,
    ) -> TrialOutcome:
        try:
            outcome = self.family.train(
                dict(config), data, reporter, metric=metric, direction=direction, patience=patience, seed=self.seed
            )
        except TrialFailed as exc:
            raise self.fail(check, f"the default configuration failed to train ({exc.reason}); pass config=") from exc
        except _Pruned:
            raise
        except Exception as exc:
            raise self.fail(check, f"train raised {type(exc).__name__}: {exc}") from exc
        if not isinstance(outcome, TrialOutcome):
            raise self.fail(check, f"train must return a TrialOutcome, got {type(outcome).__name__}")
        return outcome

    def _outcome_matches(
        self, check: str, outcome: TrialOutcome, recorder: _Recorder, metric: str, direction: str
    ) -> None:
        values = [float(m[metric]) for _, m in recorder.reports]
        best_epoch, best_value = best_of(values, direction)
        if not math.isclose(outcome.value, best_value, rel_tol=1e-9, abs_tol=1e-12):
            raise self.fail(
                check, f"value must be the best {metric} reported ({direction}: {best_value}), got {outcome.value}"
            )
        if outcome.best_epoch != best_epoch:
            raise self.fail(
                check, f"best_epoch must be {best_epoch}, where {metric} was best; got {outcome.best_epoch}"
            )
        if outcome.epochs_trained != len(values):
            raise self.fail(
                check, f"epochs_trained must be the {len(values)} epochs reported, got {outcome.epochs_trained}"
            )
        if metric in outcome.history and [float(v) for v in outcome.history[metric]] != values:
            raise self.fail(check, f"history[{metric!r}] must hold the values reported, {values}")

    def reporter_exception_propagates(self, config: dict[str, Any], data: Dataset) -> None:
        check = "a reporter's exception propagates (pruning)"
        metric = next(m for m in self.family.reported_metrics(data.task) if m.startswith("val_"))
        recorder = _Recorder(raise_at=1)
        try:
            self._train(check, config, data, recorder, metric, natural_direction(metric), patience=100)
        except _Pruned as exc:
            if exc is not recorder.raised:
                raise self.fail(check, "train raised a different _Pruned than the reporter's") from exc
        else:
            raise self.fail(check, "train returned after the reporter raised: it must let the exception through")
        if len(recorder.reports) != 1:
            raise self.fail(check, f"train reported {len(recorder.reports)} times; it must stop at the raise")

    def patience_and_direction(self, config: dict[str, Any], data: Dataset) -> None:
        """Train for the opposite direction with no patience: the outcome follows ``direction``, and training stops
        at the first epoch that does not improve."""
        check = f"train honours direction and patience on {data.kind}/{data.task}"
        metric = next(m for m in self.family.reported_metrics(data.task) if m.startswith("val_"))
        direction = "maximize" if natural_direction(metric) == "minimize" else "minimize"
        recorder = _Recorder()
        outcome = self._train(check, config, data, recorder, metric, direction, patience=0)
        self._outcome_matches(check, outcome, recorder, metric, direction)
        values = [float(m[metric]) for _, m in recorder.reports]
        for i in range(1, len(values) - 1):
            better = values[i] > max(values[:i]) if direction == "maximize" else values[i] < min(values[:i])
            if not better:
                raise self.fail(
                    check,
                    f"with patience 0, training must stop at epoch {i + 1} ({metric} did not improve), "
                    f"but went on to epoch {len(values)}",
                )

    # ---- the end of a search -------------------------------------------------------------------------------

    def final_model(self, config: dict[str, Any], data: Dataset, outcome: TrialOutcome) -> None:
        check = f"fit_final, evaluate, save and load on {data.kind}/{data.task}"
        f = self.family
        for best in (outcome.best_epoch, None):
            epochs = self.call(check, "epochs_for_final", f.epochs_for_final, dict(config), best)
            if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
                raise self.fail(check, f"epochs_for_final(config, {best}) must be a positive int, got {epochs!r}")
        epochs = f.epochs_for_final(dict(config), outcome.best_epoch)
        model = self.call(check, "fit_final", f.fit_final, dict(config), data, epochs, self.seed, _Recorder())
        first = self._evaluate(check, model, data)
        expected = [m.removeprefix("val_") for m in f.reported_metrics(data.task) if m.startswith("val_")]
        missing = [m for m in expected if m not in first.metrics]
        if missing:
            raise self.fail(check, f"evaluate must score {missing} (the held-out names of the val_ metrics)")
        with tempfile.TemporaryDirectory(prefix="check_family_") as folder:
            path = self.call(check, "save", f.save, model, Path(folder))
            if not isinstance(path, Path) or not path.exists() or Path(folder).resolve() not in path.resolve().parents:
                raise self.fail(check, f"save must return the file it wrote inside the directory, got {path!r}")
            again = self.call(check, "load", f.load, path)
            second = self._evaluate(check, again, data)
        for name in expected:
            if not math.isclose(first.metrics[name], second.metrics.get(name, math.nan), rel_tol=1e-6, abs_tol=1e-9):
                raise self.fail(
                    check,
                    f"the loaded model scores {name} {second.metrics.get(name)}, the saved one {first.metrics[name]}",
                )
        for name, values in first.per_example.items():
            if not np.allclose(values, second.per_example.get(name, np.full(len(values), np.nan)), rtol=1e-6):
                raise self.fail(check, f"the loaded model's per-example {name} differ from the saved one's")

    def _evaluate(self, check: str, model: Any, data: Dataset) -> Evaluation:
        evaluation = self.call(check, "evaluate", self.family.evaluate, model, data.x_test, data.y_test)
        if not isinstance(evaluation, Evaluation):
            raise self.fail(check, f"evaluate must return an Evaluation, got {type(evaluation).__name__}")
        for name, values in evaluation.per_example.items():
            if len(values) != len(data.y_test):
                raise self.fail(check, f"per_example[{name!r}] must hold one value per example ({len(data.y_test)})")
        return evaluation


def _inside(spec: HyperParam) -> Any:
    """A value ``spec`` accepts, for a required parameter without a default."""
    if spec.kind == ParamKind.CATEGORICAL:
        return spec.choices[0]
    if spec.kind == ParamKind.BOOL:
        return False
    low, high = spec.low, spec.high
    if spec.kind == ParamKind.INT:
        return int(low if low is not None else (high if high is not None and high < 1 else 1))
    if low is not None and high is not None:
        return math.sqrt(low * high) if low > 0 else (low + high) / 2  # the middle of a log range: 1e-7..10 gives 1e-3
    return low if low is not None else (high if high is not None else 1.0)
