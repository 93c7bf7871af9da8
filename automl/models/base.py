"""The seam between model families and search engines."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


class Reporter(Protocol):
    """Receives each epoch's metrics. An engine's reporter may raise to stop the trial (pruning)."""

    def report(self, epoch: int, metrics: dict[str, float]) -> None: ...


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
