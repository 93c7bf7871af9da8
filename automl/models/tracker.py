"""The bookkeeping of one training run that every family would otherwise repeat: the per-epoch history, the best
epoch of the searched metric, and early stopping when it has not improved for ``patience`` epochs.

A family's :meth:`~automl.models.ModelFamily.train` makes one :class:`EpochTracker` from the ``metric``,
``direction`` and ``patience`` it is given, records and reports each epoch with :meth:`EpochTracker.report`, stops
when it says so, and returns :meth:`EpochTracker.outcome`::

    tracker = EpochTracker(metric, direction, patience)
    for epoch in range(1, epochs + 1):
        metrics = ...  # train one epoch, score it
        if tracker.report(reporter, epoch, metrics, model=lambda: ...):  # may raise: let it propagate
            break
    return tracker.outcome(n_params=...)

The rule is Keras's ``EarlyStopping`` with ``min_delta=0`` (as Ray's schedulers and KerasTuner's callbacks keep it
for their trainables): the first epoch is the best so far; a later one becomes the best only when strictly better;
training stops once ``patience`` epochs in a row were not.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from automl.errors import TrialFailed
from automl.models.base import Reporter, TrainingStopped, TrialOutcome

DIRECTIONS = ("maximize", "minimize")


class EpochTracker:
    """History, best epoch and patience of one training run on ``metric``; see the module docstring."""

    def __init__(self, metric: str, direction: str, patience: int) -> None:
        if direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {list(DIRECTIONS)}, got {direction!r}")
        self.metric = metric
        self.maximize = direction == "maximize"
        self.patience = int(patience)
        self.history: dict[str, list[float]] = {}
        self.best_epoch = 0  # 1-based; 0 until the first epoch is recorded
        self.best_value = float("nan")
        self.since_best = 0  # epochs in a row without improvement
        self._started = time.perf_counter()

    @property
    def epochs(self) -> int:
        """How many epochs were recorded."""
        return len(self.history.get(self.metric, ()))

    def improves(self, value: float) -> bool:
        """Whether an epoch scoring ``value`` would become the best so far (the first epoch always does)."""
        if not self.epochs:
            return True
        return value > self.best_value if self.maximize else value < self.best_value

    def record(self, epoch: int, metrics: Mapping[str, float]) -> bool:
        """Add epoch ``epoch``'s metrics (1-based, in order); True when patience ran out and training should stop.

        Raises :class:`TrialFailed` when ``metrics`` lacks the searched metric (it could not be computed), and
        ``ValueError`` when epochs skip or repeat (a bug of the family).
        """
        if epoch != self.epochs + 1:
            raise ValueError(f"epochs are 1-based and consecutive: expected epoch {self.epochs + 1}, got {epoch}")
        if self.metric not in metrics:
            raise TrialFailed(f"{self.metric} was not reported at epoch {epoch} (reported: {sorted(metrics)})")
        for key, value in metrics.items():
            self.history.setdefault(key, []).append(float(value))
        value = self.history[self.metric][-1]
        if epoch == 1 or (value > self.best_value if self.maximize else value < self.best_value):
            self.best_epoch, self.best_value, self.since_best = epoch, value, 0
            return False
        self.since_best += 1
        return self.since_best >= self.patience

    def report(
        self,
        reporter: Reporter,
        epoch: int,
        metrics: Mapping[str, float],
        *,
        model: Callable[[], Any] | None = None,
        n_params: int = 0,
    ) -> bool:
        """Record epoch ``epoch``, then report it; True when patience ran out (as :meth:`record`).

        Whatever the reporter raises propagates. When it stops the run because the time ran out
        (:class:`~automl.models.base.TrainingStopped`), the outcome so far rides on the signal first, with
        ``model()`` as its model: the best trial of a search the deadline cut short is kept, not thrown away."""
        stop = self.record(epoch, dict(metrics))
        try:
            reporter.report(epoch, dict(metrics))
        except TrainingStopped as signal:
            signal.outcome = self.outcome(n_params=n_params, model=None if model is None else model())
            raise
        return stop

    def outcome(self, *, n_params: int = 0, train_seconds: float | None = None, model: Any = None) -> TrialOutcome:
        """The :class:`TrialOutcome` of the epochs recorded so far; ``train_seconds`` defaults to the time since
        the tracker was made; ``model`` is the trained model, at its best epoch where the family can restore it
        (kept for reuse, never recorded)."""
        if not self.epochs:
            raise TrialFailed(f"training reported no epoch with {self.metric}; there is nothing to score")
        return TrialOutcome(
            value=self.best_value,
            best_epoch=self.best_epoch,
            epochs_trained=self.epochs,
            history=self.history,
            n_params=n_params,
            train_seconds=time.perf_counter() - self._started if train_seconds is None else train_seconds,
            model=model,
        )
