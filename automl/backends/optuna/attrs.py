"""A running trial's user attributes, held back and written in one transaction when the trial ends.

The objective records a trial's configuration, outcome and stop reasons as it learns them; written one by one
through Optuna's API, each was a transaction of its own. Held here instead, the loop writes them together just
before it tells the trial's final state (:func:`automl.study.trial_writes.write_trial_attrs`). The per-epoch
intermediate values are not held back: the pruner reads them, from any worker, while the trial runs.

What a worker killed mid-trial leaves is therefore the trial's parameters and intermediate values (its curve of
the objective metric), not its configuration's fixed values nor its other curves; its retry records its own.
"""

from __future__ import annotations

from typing import Any

import optuna

from automl.study import optuna_compat as compat
from automl.study.trial_writes import write_trial_attrs


class TrialAttrs:
    """User attributes of one worker's running trials. ``deferred=False`` writes each at once through Optuna's
    API (an objective run by ``study.optimize``, which nobody flushes)."""

    def __init__(self, *, deferred: bool = True) -> None:
        self.deferred = deferred
        self._pending: dict[int, dict[str, Any]] = {}

    def set(self, trial: optuna.Trial, key: str, value: Any) -> None:
        if not self.deferred:
            trial.set_user_attr(key, value)
            return
        self._pending.setdefault(compat.trial_id(trial), {})[key] = value

    def has(self, trial: optuna.Trial, key: str) -> bool:
        """Whether the trial has ``key``, written or pending."""
        return key in self._pending.get(compat.trial_id(trial), {}) or key in trial.user_attrs

    def flush(self, study: optuna.Study, trial: optuna.Trial, **extra: Any) -> None:
        """Write the trial's pending attributes and ``extra`` ones in one transaction (the trial must be running:
        Optuna's ``UpdateFinishedTrialError`` otherwise, and nothing is written)."""
        pending = {**self._pending.pop(compat.trial_id(trial), {}), **extra}
        if pending:
            write_trial_attrs(compat.storage_of(study), compat.trial_id(trial), pending)

    def discard(self, trial: optuna.Trial) -> None:
        self._pending.pop(compat.trial_id(trial), None)
