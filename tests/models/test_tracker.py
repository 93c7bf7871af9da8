"""The EpochTracker every family leaves its bookkeeping to: Keras's EarlyStopping rule (the first epoch is the
best so far, later ones only when strictly better, stop after ``patience`` epochs without improvement)."""

from __future__ import annotations

import pytest

from automl.errors import TrialFailed
from automl.models import EpochTracker


def run(values: list[float], direction: str, patience: int) -> EpochTracker:
    tracker = EpochTracker("val_x", direction, patience)
    for epoch, value in enumerate(values, start=1):
        if tracker.record(epoch, {"x": value * 2, "val_x": value}):
            break
    return tracker


@pytest.mark.parametrize(
    ("values", "direction", "patience", "best_epoch", "epochs"),
    [
        ([0.5, 0.7, 0.6, 0.65, 0.9], "maximize", 2, 2, 4),  # two epochs without beating 0.7: stop at 4
        ([0.5, 0.7, 0.6, 0.8, 0.9], "maximize", 2, 5, 5),  # an improvement resets the count
        ([0.5, 0.5, 0.5], "maximize", 1, 1, 2),  # equal is not better: the first of equals stays best
        ([0.5, 0.4, 0.3], "maximize", 0, 1, 2),  # patience 0 stops at the first epoch that does not improve
        ([0.5, 0.4, 0.3], "minimize", 0, 3, 3),
        ([3.0, 1.0, 2.0, 0.5], "minimize", 100, 4, 4),
    ],
)
def test_best_epoch_and_early_stopping(
    values: list[float], direction: str, patience: int, best_epoch: int, epochs: int
) -> None:
    tracker = run(values, direction, patience)
    outcome = tracker.outcome(n_params=7)
    assert (outcome.best_epoch, outcome.epochs_trained) == (best_epoch, epochs)
    assert outcome.value == values[best_epoch - 1] == tracker.best_value
    assert outcome.history == {"x": [v * 2 for v in values[:epochs]], "val_x": values[:epochs]}
    assert outcome.n_params == 7 and outcome.train_seconds >= 0.0


def test_a_missing_metric_fails_the_trial_and_a_skipped_epoch_is_a_bug() -> None:
    tracker = EpochTracker("val_x", "maximize", 3)
    with pytest.raises(TrialFailed, match=r"val_x was not reported at epoch 1 \(reported: \['x'\]\)"):
        tracker.record(1, {"x": 1.0})
    with pytest.raises(TrialFailed, match="reported no epoch"):
        tracker.outcome()
    with pytest.raises(ValueError, match="expected epoch 1, got 0"):
        tracker.record(0, {"val_x": 1.0})
    with pytest.raises(ValueError, match="direction must be one of"):
        EpochTracker("val_x", "up", 3)


class StopsAt:
    """A reporter that raises ``signal`` at ``epoch``, as an engine does at a deadline or when pruning."""

    def __init__(self, epoch: int, signal: Exception) -> None:
        self.epoch, self.signal = epoch, signal

    def report(self, epoch: int, metrics: dict[str, float]) -> None:
        if epoch == self.epoch:
            raise self.signal


def test_a_run_the_time_stopped_hands_its_outcome_and_model_to_the_signal() -> None:
    from automl.models.base import TrainingStopped

    tracker = EpochTracker("val_x", "maximize", 10)
    stop = TrainingStopped()
    with pytest.raises(TrainingStopped) as raised:
        for epoch, value in enumerate([0.5, 0.8, 0.7], start=1):
            tracker.report(StopsAt(3, stop), epoch, {"val_x": value}, model=lambda: "the model at its best epoch")
    assert raised.value is stop
    outcome = stop.outcome
    assert outcome is not None
    # the epoch the reporter stopped at is recorded: the outcome covers every epoch trained
    assert (outcome.value, outcome.best_epoch, outcome.epochs_trained) == (0.8, 2, 3)
    assert outcome.model == "the model at its best epoch"


def test_pruning_hands_over_nothing() -> None:
    class Pruned(Exception):
        outcome = None

    tracker = EpochTracker("val_x", "maximize", 10)
    built: list[str] = []
    with pytest.raises(Pruned) as raised:
        tracker.report(StopsAt(1, Pruned()), 1, {"val_x": 0.5}, model=lambda: built.append("built") or "model")
    assert raised.value.outcome is None
    assert built == []  # a pruned configuration's model is not even asked for
