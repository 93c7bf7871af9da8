"""How a Tune trial ended, as the driver tells it: stopped at an epoch end by the search's deadline or its own time
cap (:class:`DeadlineStopper`), or errored, and why, in one line (:func:`error_reason`)."""

from __future__ import annotations

import os
from typing import Any

from ray.tune import Stopper

import automl.backends.ray.trainable as keys
from automl.backends.base import Deadline
from automl.backends.optuna.objective import failure_text
from automl.study.record import StopReason


class DeadlineStopper(Stopper):
    """Stops a trial at the epoch end where the search's deadline (or the trial's own time cap) has passed. It is
    consulted on the driver with every result, so a deadline the job clock moves earlier applies at once."""

    def __init__(self, deadline: Deadline) -> None:
        self.deadline = deadline
        self.reasons: dict[str, StopReason] = {}

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        if keys.OUTCOME in result or keys.FAILED in result or not result.get(keys.EPOCH):
            return False  # the trial is ending by itself: let its outcome arrive
        reason = None
        if self.deadline.passed():
            reason = StopReason.TIME_BUDGET
        elif (cap := self.deadline.max_trial_seconds) is not None and float(result.get("time_total_s") or 0) >= cap:
            reason = StopReason.TRIAL_TIME_CAP
        if reason is None:
            return False
        self.reasons[trial_id] = reason
        return True

    def stop_all(self) -> bool:
        return False  # running trials stop at their next epoch end, each recorded with what it reached


def _trial_error(tune_trial: Any) -> Any:
    """The exception a Tune trial last errored with. Tune writes it next to the driver (``local_path``) at once
    and copies it to the experiment's storage later, so the local file is read first."""
    import cloudpickle

    metadata = getattr(tune_trial, "run_metadata", None)
    local = getattr(tune_trial, "local_path", None)
    pickled = getattr(metadata, "pickled_error_filename", None)
    if local and pickled and os.path.exists(os.path.join(local, pickled)):
        with open(os.path.join(local, pickled), "rb") as f:
            return cloudpickle.load(f)
    text_file = getattr(tune_trial, "error_file", None)
    if text_file and os.path.exists(text_file):
        with open(text_file) as f:
            blocks = f.read().split("Failure # ")
        return blocks[-1].split("\n", 1)[-1].strip() or None
    return tune_trial.get_pickled_error() or tune_trial.get_error()


def error_reason(tune_trial: Any) -> str:
    """Why a Tune trial errored, in one line: a dead worker process, or the exception the trainable raised."""
    from ray.exceptions import RayActorError, RayTaskError

    try:
        exc = _trial_error(tune_trial)
    except Exception:  # an error file that cannot be read back: say what is known
        exc = None
    if isinstance(exc, RayActorError) or (isinstance(exc, str) and "actor died" in exc.lower()):
        text = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
        return f"worker process died (killed, out of memory or its node was lost): {text}"
    if isinstance(exc, RayTaskError) and getattr(exc, "cause", None) is not None:
        return failure_text(exc.cause)
    if isinstance(exc, str):
        return exc.splitlines()[0][:300]
    return failure_text(exc) if exc is not None else "the Ray trial errored (no error recorded)"
