"""The trial record: every attribute automl writes into a study and its trials, and one typed reader.

The Optuna study in its storage is the single record of a search, whichever backend ran it (Optuna's loop or
Ray Tune). Backends write the keys named here; reports, notes, ``automl studies``, progress and the summary read
them only through :func:`read_study` and :func:`read_trial`. Outside tools may read and write the same keys; the
README's "The trial record" section lists them.

Nothing here assumes a task: the objective is ``settings["metric"]`` (a validation metric such as
``val_accuracy`` or ``val_rmse``) with ``settings["direction"]``, and its held-out counterpart drops the ``val_``
prefix (:func:`held_out_metric`).

Versions: studies written before the record was versioned carry no ``record_version`` and read as version 1 (the
same keys; the final evaluation named its numbers ``test_accuracy``, which :func:`read_final` maps). A study
written by a newer automl is refused with a one-line message instead of being misread.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from automl.errors import AutomlError

RECORD_VERSION = 2


class BackendName(StrEnum):
    """The engines that run a study's trials (``--backend``, ``search.backend``, the study's ``backend``). A ``str``
    enum, so the stored values stay the plain strings studies already hold."""

    OPTUNA = "optuna"
    RAY = "ray"


class StopReason(StrEnum):
    """Why a trial was stopped before its last epoch: the value of a PRUNED trial's ``prune_reason``."""

    PRUNER = "pruner"  # the Optuna backend's pruner judged the curve
    SCHEDULER = "scheduler"  # a Ray Tune scheduler stopped it
    TIME_BUDGET = "time budget"  # the search's time (--timeout, or the job budget less its final stage) ran out
    TRIAL_TIME_CAP = "trial time cap"  # the trial reached the space's max_trial_seconds


class StudyKey:
    """Study user attributes."""

    RECORD_VERSION = "record_version"
    SPACE = "space"  # the search space as a mapping (SearchSpace.to_dict)
    SPACE_FINGERPRINT = "space_fingerprint"
    SETTINGS = "settings"  # SearchSettings.to_dict: metric, direction, sampler, pruner, budgets, ...
    SEED = "seed"
    BACKEND = "backend"  # a BackendName: which engine created the study
    DATASET = "dataset"
    DATA_SOURCE = "data_source"
    DATA_FINGERPRINT = "data_fingerprint"
    SPLIT_SIZES = "split_sizes"
    DATA_SEED = "data_seed"
    DATA_LIMIT = "data_limit"
    DATA_KIND = "data_kind"  # "images" or "table"
    TASK = "task"  # "classification" or "regression"
    DATA_OPTIONS = "data_options"  # what else reloading the data needs: a table file's target and task
    LABELS = "labels"  # Dataset.labels(): class names, target name, feature columns (absent in older studies)
    FINAL = "final"  # the winner's final evaluation (see FinalRecord)
    SEED_EVALUATIONS = "seed_evaluations"  # retraining spread per trial number, from `automl report --seeds`
    ARTIFACT_STORE = "artifact_store"  # where the best trials' models are kept (automl.study.artifacts)
    RUNGS = "rungs"  # the fidelity ladder in epochs, lowest first, the last one full fidelity (asha pruner)
    STARTED_FROM = "started_from"  # {study, copied, reason}: the earlier study whose finished trials it started from
    # {label, test_metric, test_value, references, seconds, data_fingerprint}: the baseline and reference models,
    # trained before the search (automl.job.baseline), so the final stage neither trains nor budgets for them
    BASELINE = "baseline"


class TrialKey:
    """Trial user attributes (and the one system attribute Optuna's retry callback writes)."""

    CONFIG = "config"  # the full configuration, fixed values included
    CURVES = "curves"  # metric name -> per-epoch values (train and validation)
    FAIL_REASON = "fail_reason"
    BEST_EPOCH = "best_epoch"  # 1-based
    EPOCHS_TRAINED = "epochs_trained"
    PRUNED_AT_EPOCH = "pruned_at_epoch"
    PRUNE_REASON = "prune_reason"  # a StopReason
    N_PARAMS = "n_params"
    TRAIN_SECONDS = "train_seconds"  # seconds inside the family's training
    WORKER = "worker"  # host:pid that ran the trial
    TUNE_TRIAL_ID = "tune_trial_id"  # Ray backend: Tune's trial id
    NODE = "node"  # Ray backend: the node that ran the trial
    RUNG = "rung"  # 0-based index of the last rung of the fidelity ladder the trial reached (StudyKey.RUNGS)
    WARM_START = "warm_start"  # true for an enqueued warm-start configuration: it enters at the top rung
    COPIED_FROM = "copied_from"  # {study, trial}: where a copied trial was measured (automl.backends.prior_trials)
    # {metric: value}: every objective's and bound's metric for the trial, validation ones at its best epoch and
    # costs measured once it ended (automl.spaces.objectives); only in studies with objectives or constraints
    MEASURES = "measures"
    RETRY_OF = "failed_trial"  # system attribute: the trial number this one re-runs (Optuna's retry callback)


# Per-run results a lost trial leaves behind; its retry starts without them (the config is recorded again).
RUN_KEYS = (
    TrialKey.CURVES,
    TrialKey.FAIL_REASON,
    TrialKey.PRUNED_AT_EPOCH,
    TrialKey.PRUNE_REASON,
    TrialKey.BEST_EPOCH,
    TrialKey.EPOCHS_TRAINED,
    TrialKey.TRAIN_SECONDS,
    TrialKey.WORKER,
    TrialKey.TUNE_TRIAL_ID,
    TrialKey.NODE,
    TrialKey.RUNG,
    TrialKey.MEASURES,
)


class RecordError(AutomlError):
    """A study whose record this version of automl cannot read."""


def held_out_metric(metric: str) -> str:
    """The held-out counterpart of a validation metric: ``val_accuracy`` -> ``accuracy``."""
    return metric[len("val_") :] if metric.startswith("val_") else metric


def is_finite_number(value: Any) -> bool:
    """A real, finite number; NumPy scalars count (``np.float32(0.9)``), booleans do not."""
    if isinstance(value, bool):
        return False
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def primary_value(trial: Any) -> float | None:
    """A finished trial's objective: its value, or its first one (the primary metric) in a multi-objective study,
    where Optuna's ``trial.value`` raises; None when it has none or it is not finite."""
    try:
        values = trial.values
    except AttributeError:  # a stand-in with ``value`` only
        return number_or_none(getattr(trial, "value", None))
    return number_or_none(values[0]) if values else None


def number_or_none(value: Any) -> float | None:
    return float(value) if is_finite_number(value) else None


def whole_or_none(value: Any) -> int | None:
    return int(value) if is_finite_number(value) else None


# --------------------------------------------------------------------------------------------------------------
# Trials


@dataclass(frozen=True)
class TrialRecord:
    """One trial as automl reads it. ``state`` is Optuna's state name (``COMPLETE``, ``PRUNED``, ``FAIL``, ...)."""

    number: int
    state: str
    value: float | None
    params: dict[str, Any]
    config: dict[str, Any]
    curves: dict[str, list[float]] = field(repr=False, default_factory=dict)
    intermediate: dict[int, float] = field(repr=False, default_factory=dict)
    best_epoch: int | None = None
    epochs_trained: int | None = None
    pruned_at_epoch: int | None = None
    prune_reason: str = ""
    n_params: int | None = None
    train_seconds: float | None = None
    fail_reason: str = ""
    worker: str = ""
    node: str = ""
    tune_trial_id: str = ""
    retry_of: int | None = None
    rung: int | None = None  # None: below the first rung, or no ladder (studies before it, other pruners)
    warm_start: bool = False
    copied_from: str = ""  # the study this trial was measured in, when it was copied into this one
    measures: dict[str, float] = field(default_factory=dict)  # TrialKey.MEASURES
    duration_s: float | None = None
    datetime_start: datetime | None = None
    datetime_complete: datetime | None = None

    @property
    def last_value(self) -> float | None:
        """The objective for completed trials, else the last reported value (pruned trials)."""
        if self.value is not None:
            return self.value
        if self.intermediate:
            return self.intermediate[max(self.intermediate)]
        return None

    @property
    def epochs_seen(self) -> int | None:
        """Epochs the trial trained, from the most direct fact recorded."""
        for candidate in (self.epochs_trained, self.pruned_at_epoch):
            if candidate is not None:
                return candidate
        if self.curves:
            return max(len(v) for v in self.curves.values())
        if self.intermediate:
            return len(self.intermediate)
        return None


def read_trial(trial: Any) -> TrialRecord:
    """A :class:`TrialRecord` from an Optuna ``FrozenTrial`` (or anything with the same attributes)."""
    attrs: Mapping[str, Any] = getattr(trial, "user_attrs", None) or {}
    system: Mapping[str, Any] = getattr(trial, "system_attrs", None) or {}
    curves_raw = attrs.get(TrialKey.CURVES)
    curves = {str(k): list(v) for k, v in curves_raw.items()} if isinstance(curves_raw, dict) else {}
    params = dict(getattr(trial, "params", None) or {})
    config = attrs.get(TrialKey.CONFIG)
    duration = getattr(trial, "duration", None)
    state = getattr(trial, "state", None)
    return TrialRecord(
        number=int(trial.number),
        state=state.name if state is not None else "UNKNOWN",
        value=primary_value(trial),
        params=params,
        config=dict(config) if isinstance(config, dict) else dict(params),
        curves=curves,
        intermediate={int(k): float(v) for k, v in (getattr(trial, "intermediate_values", None) or {}).items()},
        best_epoch=whole_or_none(attrs.get(TrialKey.BEST_EPOCH)),
        epochs_trained=whole_or_none(attrs.get(TrialKey.EPOCHS_TRAINED)),
        pruned_at_epoch=whole_or_none(attrs.get(TrialKey.PRUNED_AT_EPOCH)),
        prune_reason=str(attrs.get(TrialKey.PRUNE_REASON) or ""),
        n_params=whole_or_none(attrs.get(TrialKey.N_PARAMS)),
        train_seconds=number_or_none(attrs.get(TrialKey.TRAIN_SECONDS)),
        fail_reason=str(attrs.get(TrialKey.FAIL_REASON) or ""),
        worker=str(attrs.get(TrialKey.WORKER) or ""),
        node=str(attrs.get(TrialKey.NODE) or ""),
        tune_trial_id=str(attrs.get(TrialKey.TUNE_TRIAL_ID) or ""),
        retry_of=whole_or_none(system.get(TrialKey.RETRY_OF)),
        rung=whole_or_none(attrs.get(TrialKey.RUNG)),
        warm_start=attrs.get(TrialKey.WARM_START) is True,
        copied_from=_origin_study(attrs.get(TrialKey.COPIED_FROM)),
        measures=_measures(attrs.get(TrialKey.MEASURES)),
        duration_s=duration.total_seconds() if duration is not None else None,
        datetime_start=getattr(trial, "datetime_start", None),
        datetime_complete=getattr(trial, "datetime_complete", None),
    )


def _measures(raw: Any) -> dict[str, float]:
    if not isinstance(raw, Mapping):
        return {}
    return {str(k): float(v) for k, v in raw.items() if is_finite_number(v)}


def _origin_study(origin: Any) -> str:
    return str(origin.get("study") or "") if isinstance(origin, Mapping) else ""


def ladder(min_epochs: int, reduction_factor: int, max_epochs: int) -> tuple[int, ...]:
    """The rungs in epochs: ``min_epochs * reduction_factor ** k`` below ``max_epochs``, then ``max_epochs``."""
    rungs: list[int] = []
    epochs = max(1, min_epochs)
    while epochs < max_epochs:
        rungs.append(epochs)
        epochs *= max(2, reduction_factor)
    return (*rungs, max_epochs)


def rung_reached(rungs: tuple[int, ...], epochs: int | None, complete: bool) -> int | None:
    """The last rung a trial reached: the top one when it completed (its own early stopping may end it sooner),
    else the highest whose epochs it trained; None below the first."""
    if not rungs:
        return None
    if complete:
        return len(rungs) - 1
    reached = [i for i, r in enumerate(rungs) if epochs is not None and r <= epochs]
    return reached[-1] if reached else None


def outcome_attrs(outcome: Any) -> dict[str, Any]:
    """The trial attributes a finished training run records (``outcome`` is a models.TrialOutcome)."""
    return {
        TrialKey.BEST_EPOCH: outcome.best_epoch,
        TrialKey.EPOCHS_TRAINED: outcome.epochs_trained,
        TrialKey.N_PARAMS: outcome.n_params,
        TrialKey.TRAIN_SECONDS: round(float(outcome.train_seconds), 3),
        TrialKey.CURVES: outcome.history,
        **({TrialKey.MEASURES: dict(outcome.measures)} if outcome.measures else {}),
    }
