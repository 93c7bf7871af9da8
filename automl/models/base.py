"""The model-family seam: what a family declares and does, and what a search engine hands it.

A search never names Keras or scikit-learn: it resolves the space's ``model:`` to a :class:`ModelFamily` through
:mod:`automl.models.registry` and calls the methods below. A family never imports Optuna or Ray: it reports each
epoch to a :class:`Reporter`, which may raise to stop the trial.
"""

from __future__ import annotations

import abc
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import numpy as np

from automl.param_kinds import FAMILY_KINDS
from automl.param_kinds import ParamKind as ParamKind  # re-exported: families declare their kinds with it

if TYPE_CHECKING:  # only for annotations: training code never needs the data package loaded to be declared
    from automl.data.dataset import Dataset

HYPERPARAM_KINDS = FAMILY_KINDS  # what a family may declare (the kinds are :class:`ParamKind`)


class BaselineLabel(StrEnum):
    """How the final stage names the reference models scored next to the winner, in summaries and reports."""

    TUTORIAL = "tutorial baseline (Dense 64 relu, Adam, 10 epochs, batch 64)"
    SYNTHETIC = "synthetic baseline (1 layer of 64, Adam, learning rate 0.001)"
    LINEAR = "default-parameter linear model (logistic regression / ridge)"
    MAJORITY_CLASS = "majority-class predictor"
    MEAN = "mean predictor"

    @staticmethod
    def default_parameters(family: str) -> str:
        """The label of ``family`` trained at its default parameters."""
        return f"default-parameter {family}"


class Reporter(Protocol):
    """Receives each epoch's metrics. An engine's reporter may raise to stop the trial (pruning, a deadline)."""

    def report(self, epoch: int, metrics: dict[str, float]) -> None: ...


class TrainingStopped(Exception):  # noqa: N818 - a control-flow signal, like optuna.TrialPruned
    """What a reporter raises to stop a run whose model is still worth keeping: the time ran out (a deadline, a
    per-trial cap), not a verdict on the configuration as pruning is. A family that can give its model at that
    point sets ``outcome`` (with the model) before letting the signal through; see
    :meth:`automl.models.tracker.EpochTracker.report`. Engines subclass it (``automl.backends.base.TrialStopped``)."""

    outcome: TrialOutcome | None = None


class NullReporter:
    """For training outside a search (final retraining, baselines)."""

    def report(self, epoch: int, metrics: dict[str, float]) -> None:
        return None


@dataclass
class TrialOutcome:
    """What one training run produced. ``best_epoch`` is 1-based; ``history`` maps metric to per-epoch values."""

    value: float
    best_epoch: int
    epochs_trained: int
    history: dict[str, list[float]] = field(default_factory=dict)
    n_params: int = 0
    train_seconds: float = 0.0
    # The trained model itself, for keeping the best trials' models (automl.study.artifacts); never recorded.
    # None where a family has no single model to keep (cross-validated folds).
    model: Any = field(default=None, repr=False, compare=False)
    # A fitted model of the run to time (the latency objective) where ``model`` is None: one fold's; never kept.
    timing_model: Any = field(default=None, repr=False, compare=False)
    # Filled by the search, not the family: the trial's values of the space's other objectives and bounded metrics
    # (automl.models.measures).
    measures: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Evaluation:
    """A model scored on labelled data: each metric's mean, and its per-example values where the metric is a
    mean over examples (accuracy, squared error, log loss), from which confidence intervals are computed."""

    metrics: dict[str, float]
    per_example: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    # 95% intervals the family computed itself, for metrics that are not a mean over examples (RMSE, R², ROC AUC);
    # they take precedence over an interval computed from ``per_example``
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)


@dataclass(frozen=True)
class Reference:
    """A model scored next to the winner on the held-out split: ``config`` trained by ``family``."""

    label: str
    family: str
    config: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class HyperParam:
    """One hyperparameter a family reads.

    ``name`` may be a pattern with ``<i>``, such as ``units_<i>``: it then stands for ``units_1`` ..
    ``units_<max_index>``. ``low``/``high`` bound numeric values (inclusive; None: unbounded), ``choices`` lists
    the values a categorical accepts. ``required`` parameters must be in every configuration; a family whose
    requirements depend on other values (``units_<i>`` for each of ``n_layers`` layers) says so in
    :meth:`ModelFamily.required`. ``default`` is what the family uses when the parameter is absent.
    """

    name: str
    kind: ParamKind | str  # one of :data:`HYPERPARAM_KINDS`, plain ("float") or not; held as a ParamKind
    low: float | None = None
    high: float | None = None
    choices: tuple[Any, ...] = ()
    default: Any = None
    required: bool = False
    max_index: int | None = None
    help: str = ""

    def __post_init__(self) -> None:
        if self.kind not in HYPERPARAM_KINDS:
            raise ValueError(f"HyperParam {self.name!r}: kind must be one of {HYPERPARAM_KINDS}, got {self.kind!r}")
        object.__setattr__(self, "kind", ParamKind(self.kind))  # frozen: set once, here

    @property
    def is_pattern(self) -> bool:
        return "<i>" in self.name

    def matches(self, name: str) -> bool:
        if not self.is_pattern:
            return name == self.name
        head, tail = self.name.split("<i>", 1)
        match = re.fullmatch(re.escape(head) + r"([1-9][0-9]*)" + re.escape(tail), name)
        return match is not None and (self.max_index is None or int(match.group(1)) <= self.max_index)

    def describe(self) -> str:
        if self.kind == ParamKind.CATEGORICAL:
            return "one of " + ", ".join(repr(c) for c in self.choices)
        if self.kind == ParamKind.BOOL:
            return "true or false"
        low = "-inf" if self.low is None else f"{self.low:g}"
        high = "inf" if self.high is None else f"{self.high:g}"
        return f"{'an integer' if self.kind == ParamKind.INT else 'a number'} in [{low}, {high}]"

    def rejects(self, value: Any) -> str | None:
        """Why ``value`` is unusable for this parameter, or None when it is fine."""
        if self.kind == ParamKind.BOOL:
            return None if isinstance(value, bool | np.bool_) else f"must be true or false, got {value!r}"
        if self.kind == ParamKind.CATEGORICAL:
            return None if value in self.choices else f"must be {self.describe()}, got {value!r}"
        if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
            return f"must be {self.describe()}, got {value!r}"
        if self.kind == ParamKind.INT and isinstance(value, float | np.floating) and not float(value).is_integer():
            return f"must be an integer, got {value!r}"
        if (self.low is not None and value < self.low) or (self.high is not None and value > self.high):
            return f"must be {self.describe()}, got {value!r}"
        return None


class ModelFamily(abc.ABC):
    """A kind of model that trains from a configuration (a mapping of hyperparameter values).

    The contract, in the spirit of Optuna's ``BaseSampler`` and KerasTuner's ``HyperModel``:

    Declaration (class attributes, read before any trial):
        ``name``: the registry name, the space's ``model:`` value.
        ``hyperparameters``: every parameter the family reads (:class:`HyperParam`, its kind a
        :class:`~automl.param_kinds.ParamKind`). A space may declare only
        these; its ranges and choices must lie inside what they allow; every reachable configuration must hold
        what :meth:`required` asks for. Anything else is a one-line error before the first trial.
        ``data_kinds``: the data it accepts, a subset of ``{"images", "table"}``.
        ``tasks``: a subset of ``{"classification", "regression"}``.
        ``metrics``: the metrics :meth:`train` reports per epoch for each task (validation ones start ``val_``).
        ``baseline``: a reference configuration scored next to the winner (None: no baseline), described by
        ``baseline_label`` (the built-in labels are :class:`BaselineLabel`) and trained by ``baseline_family``
        (None: this family).
        :meth:`references` names further reference models for a task (a majority-class predictor, this family
        at its default parameters), scored on the same held-out split when time allows.
        ``max_members``: how many retrained members are worth combining (None: as many as the search asks; 1 for
        a family whose retraining gives the same model whatever the seed, or that cannot combine members).
        ``overfit_remedy``: what to change in the space when its best configurations overfit, in the family's own
        parameters (the report's advice).
        ``cost_metrics``: which of :data:`automl.spaces.objectives.COST_METRICS` the search can measure for its
        trials, as objectives or bounds: ``params`` needs :attr:`TrialOutcome.n_params`, ``latency_ms`` needs
        :meth:`predictor` and a trained model in the outcome (``model``, else ``timing_model``).

    Training:
        :meth:`train` trains one configuration on ``data.x_train`` (``data`` is a
        :class:`~automl.data.dataset.Dataset`), validates on ``data.x_val`` and calls
        ``reporter.report(epoch, metrics)`` after each epoch (or boosting iteration), 1-based, with every metric
        of :meth:`reported_metrics` for ``data.task``. Whatever the reporter raises must propagate unchanged: that
        is how engines prune and stop trials at a deadline. A configuration that cannot train (divergence, a value
        the library rejects) raises :class:`automl.errors.TrialFailed`. The bookkeeping is not the family's to
        write: an :class:`~automl.models.tracker.EpochTracker` made from ``metric``, ``direction`` and
        ``patience`` records each reported epoch, says when patience ran out (stop then), and builds the returned
        :class:`TrialOutcome` (its ``value`` the best ``metric`` seen, at ``best_epoch``)::

            tracker = EpochTracker(metric, direction, patience)
            for epoch in range(1, epochs + 1):
                metrics = ...                                       # train one epoch and score it
                if tracker.report(reporter, epoch, metrics, model=lambda: ...):  # may raise: let it through
                    break
            return tracker.outcome()

        ``tracker.report`` records the epoch, then reports it; when the reporter stops the run because the time ran
        out (:class:`TrainingStopped`), it hands the outcome so far, with ``model()`` (the model at its best epoch,
        where the family can restore it), to the signal, so that a best trial the deadline cut short keeps its model.

        :meth:`configure_threads` is called once per process before training, with the cores this worker may use.

    The end of a search:
        :meth:`fit_final` retrains a configuration from scratch on train+validation for a fixed number of epochs;
        :meth:`ensemble` combines several such models into one (the default keeps the first);
        :meth:`evaluate` scores a model on held-out data; :meth:`save` writes it to a directory in a format that
        loads without automl and returns the file; :meth:`load` reads it back.

    Families are stateless: one instance may train many configurations, in any order.

    :func:`automl.testing.check_family` checks a family against this contract on tiny generated data; run it on
    your own family in its tests.
    """

    name: ClassVar[str]
    hyperparameters: ClassVar[tuple[HyperParam, ...]] = ()
    data_kinds: ClassVar[frozenset[str]] = frozenset({"images", "table"})
    tasks: ClassVar[frozenset[str]] = frozenset({"classification"})
    metrics: ClassVar[Mapping[str, tuple[str, ...]]] = {
        "classification": ("loss", "accuracy", "val_loss", "val_accuracy"),
    }
    baseline: ClassVar[dict[str, Any] | None] = None
    baseline_label: ClassVar[str] = ""
    baseline_family: ClassVar[str | None] = None  # the family that trains the baseline (None: this one)
    max_members: ClassVar[int | None] = None
    # Families whose final models one weighted ensemble can hold (the same non-None group: the scikit-learn
    # families are "sklearn"); None: the final stage never builds an ensemble of different trials with this one.
    ensemble_group: ClassVar[str | None] = None
    overfit_remedy: ClassVar[str] = "raise L2 or dropout, or lower the epoch budget"
    cost_metrics: ClassVar[tuple[str, ...]] = ("train_seconds",)

    # ---- declaration -----------------------------------------------------------------------------------------

    def spec(self, name: str) -> HyperParam | None:
        """The declaration that covers parameter ``name`` (patterns included), or None."""
        return next((p for p in self.hyperparameters if p.matches(name)), None)

    def required(self, config: Mapping[str, Any]) -> list[str]:
        """The parameters ``config`` must contain. Override when requirements depend on other values."""
        return [p.name for p in self.hyperparameters if p.required and not p.is_pattern]

    def check_config(self, config: Mapping[str, Any]) -> list[str]:
        """Every problem of one configuration: missing, unknown or unusable values (empty: fine)."""
        problems = [f"{name}: required, missing" for name in self.required(config) if name not in config]
        for key, value in config.items():
            spec = self.spec(key)
            if spec is None:
                problems.append(f"{key}: not a parameter of {self.name}")
            elif (reason := spec.rejects(value)) is not None:
                problems.append(f"{key}: {reason}")
        return problems

    def accepts(self, data_kind: str, task: str) -> str | None:
        """Why this family cannot train on such data, or None."""
        if data_kind not in self.data_kinds:
            return f"{self.name} trains on {' or '.join(sorted(self.data_kinds))} data, not {data_kind}"
        if task not in self.tasks:
            return f"{self.name} does {' or '.join(sorted(self.tasks))}, not {task}"
        return None

    def reported_metrics(self, task: str) -> tuple[str, ...]:
        return tuple(self.metrics.get(task, ()))

    def references(self, task: str) -> tuple[Reference, ...]:
        """Reference models scored next to the winner for ``task``, besides :attr:`baseline` (default: none)."""
        return ()

    # ---- training --------------------------------------------------------------------------------------------

    def configure_threads(self, threads: int | None) -> None:  # noqa: B027 - optional hook, no-op by default
        """Size the library's thread pools for this process (``None``: the library's default)."""

    @abc.abstractmethod
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
        """Train one configuration, reporting each epoch; see the class docstring."""

    def epochs_for_final(self, config: Mapping[str, Any], best_epoch: int | None) -> int:
        """How long :meth:`fit_final` trains: the trial's best epoch, else the configuration's epochs."""
        return int(best_epoch or config.get("epochs") or 1)

    # ---- the end of a search ---------------------------------------------------------------------------------

    @abc.abstractmethod
    def fit_final(
        self, config: dict[str, Any], data: Dataset, epochs: int, seed: int, reporter: Reporter | None = None
    ) -> Any:
        """Retrain from scratch on ``data.x_train`` + ``data.x_val`` for ``epochs`` epochs, reporting each epoch's
        training metrics to ``reporter``. The reporter raises only :class:`TrainingStopped`, when the job's time
        is running out: stop after that epoch and return the model as it is (a family that cannot stop early lets
        it through, and the final stage drops the member when it has other models)."""

    def ensemble(self, models: Sequence[Any]) -> Any:
        """One model from several retrained members; the default keeps the first."""
        return models[0]

    def validation_predictions(
        self, config: dict[str, Any], data: Dataset, epochs: int, seed: int
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """What ``config``, trained ``epochs`` epochs, predicts for rows it never trained on, with their targets:
        ``(predictions, y)``, predictions being class probabilities (n, classes) or regression values (n,). The
        rows and their order depend only on ``data`` and ``seed``, so that several configurations' predictions
        line up (ensemble selection compares them). None (the default): the family cannot, and is left out of
        ensembles. Only families with an :attr:`ensemble_group` are asked."""
        return None

    def weighted_ensemble(
        self, models: Sequence[Any], weights: Sequence[int], names: Sequence[str], data: Dataset
    ) -> Any:
        """One model averaging the predictions of ``models`` (final models of families in this family's
        :attr:`ensemble_group`, fitted on train+validation) with integer ``weights``; it evaluates, saves and loads
        through this family like one of its own. Only families with an :attr:`ensemble_group` are asked."""
        raise NotImplementedError(f"{self.name} cannot combine models of different trials")

    @abc.abstractmethod
    def evaluate(self, model: Any, x: np.ndarray, y: np.ndarray) -> Evaluation:
        """Score ``model`` on ``x``/``y`` with the metrics of :attr:`metrics` (without the ``val_`` prefix)."""

    @abc.abstractmethod
    def save(self, model: Any, directory: Path) -> Path:
        """Write ``model`` into ``directory`` (loadable without automl) and return the file written."""

    @abc.abstractmethod
    def load(self, path: Path) -> Any:
        """Read a model written by :meth:`save`."""

    def predictor(self, model: Any) -> Callable[[Any], Any] | None:
        """A function from input rows (what :meth:`evaluate` takes) to predictions, as serving ``model`` would call
        it; the ``latency_ms`` objective times it. The default: the model's own ``predict`` where it has one (a
        scikit-learn pipeline's), else None (this family's predictions are not timed)."""
        predict = getattr(model, "predict", None)
        return predict if callable(predict) else None

    def load_hint(self, path: Path) -> str:
        """One line telling a user how to load ``path`` without automl."""
        return f"load {path} with {self.name}'s library"
