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
from typing import Any

from automl.errors import AutomlError

RECORD_VERSION = 2


class StudyKey:
    """Study user attributes."""

    RECORD_VERSION = "record_version"
    SPACE = "space"  # the search space as a mapping (SearchSpace.to_dict)
    SPACE_FINGERPRINT = "space_fingerprint"
    SETTINGS = "settings"  # SearchSettings.to_dict: metric, direction, sampler, pruner, budgets, ...
    SEED = "seed"
    BACKEND = "backend"  # "optuna" or "ray": which engine created the study
    DATASET = "dataset"
    DATA_SOURCE = "data_source"
    DATA_FINGERPRINT = "data_fingerprint"
    SPLIT_SIZES = "split_sizes"
    DATA_SEED = "data_seed"
    DATA_LIMIT = "data_limit"
    DATA_KIND = "data_kind"  # "images" or "table"
    TASK = "task"  # "classification" or "regression"
    DATA_OPTIONS = "data_options"  # what else reloading the data needs: a table file's target and task
    FINAL = "final"  # the winner's final evaluation (see FinalRecord)
    SEED_EVALUATIONS = "seed_evaluations"  # retraining spread per trial number, from `automl report --seeds`


class TrialKey:
    """Trial user attributes (and the one system attribute Optuna's retry callback writes)."""

    CONFIG = "config"  # the full configuration, fixed values included
    CURVES = "curves"  # metric name -> per-epoch values (train and validation)
    FAIL_REASON = "fail_reason"
    BEST_EPOCH = "best_epoch"  # 1-based
    EPOCHS_TRAINED = "epochs_trained"
    PRUNED_AT_EPOCH = "pruned_at_epoch"
    PRUNE_REASON = "prune_reason"  # "pruner", "time budget", "trial time cap", "scheduler"
    N_PARAMS = "n_params"
    TRAIN_SECONDS = "train_seconds"  # seconds inside the family's training
    WORKER = "worker"  # host:pid that ran the trial
    TUNE_TRIAL_ID = "tune_trial_id"  # Ray backend: Tune's trial id
    NODE = "node"  # Ray backend: the node that ran the trial
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


def _number(value: Any) -> float | None:
    return float(value) if is_finite_number(value) else None


def _whole(value: Any) -> int | None:
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
        value=_number(getattr(trial, "value", None)),
        params=params,
        config=dict(config) if isinstance(config, dict) else dict(params),
        curves=curves,
        intermediate={int(k): float(v) for k, v in (getattr(trial, "intermediate_values", None) or {}).items()},
        best_epoch=_whole(attrs.get(TrialKey.BEST_EPOCH)),
        epochs_trained=_whole(attrs.get(TrialKey.EPOCHS_TRAINED)),
        pruned_at_epoch=_whole(attrs.get(TrialKey.PRUNED_AT_EPOCH)),
        prune_reason=str(attrs.get(TrialKey.PRUNE_REASON) or ""),
        n_params=_whole(attrs.get(TrialKey.N_PARAMS)),
        train_seconds=_number(attrs.get(TrialKey.TRAIN_SECONDS)),
        fail_reason=str(attrs.get(TrialKey.FAIL_REASON) or ""),
        worker=str(attrs.get(TrialKey.WORKER) or ""),
        node=str(attrs.get(TrialKey.NODE) or ""),
        tune_trial_id=str(attrs.get(TrialKey.TUNE_TRIAL_ID) or ""),
        retry_of=_whole(system.get(TrialKey.RETRY_OF)),
        duration_s=duration.total_seconds() if duration is not None else None,
        datetime_start=getattr(trial, "datetime_start", None),
        datetime_complete=getattr(trial, "datetime_complete", None),
    )


def outcome_attrs(outcome: Any) -> dict[str, Any]:
    """The trial attributes a finished training run records (``outcome`` is a models.TrialOutcome)."""
    return {
        TrialKey.BEST_EPOCH: outcome.best_epoch,
        TrialKey.EPOCHS_TRAINED: outcome.epochs_trained,
        TrialKey.N_PARAMS: outcome.n_params,
        TrialKey.TRAIN_SECONDS: round(float(outcome.train_seconds), 3),
        TrialKey.CURVES: outcome.history,
    }


# --------------------------------------------------------------------------------------------------------------
# The final evaluation


@dataclass(frozen=True)
class FinalRecord:
    """The winner retrained and scored once on the held-out split, next to the baseline, in the study's metric.

    ``test_value`` is the objective's held-out counterpart (``test_metric``); ``test_metrics`` holds every metric
    the family computed. ``ci_low``/``ci_high`` is a 95% interval for ``test_value``.
    """

    best_trial: int
    config: dict[str, Any]
    val_value: float
    epochs: int
    test_metric: str
    test_value: float
    test_metrics: dict[str, float]
    n_test: int
    ci_low: float | None
    ci_high: float | None
    baseline_label: str
    baseline_test_value: float | None
    model_path: str | None
    config_path: str | None
    member_test_values: tuple[float, ...] = ()
    final_stage: dict[str, Any] = field(default_factory=dict)  # what the final stage did and what it cost
    # further reference models on the same held-out split: {label, family, test_value, ci_low, ci_high}
    references: tuple[dict[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "best_trial": self.best_trial,
            "config": self.config,
            "val_value": self.val_value,
            "epochs": self.epochs,
            "test_metric": self.test_metric,
            "test_value": self.test_value,
            "test_metrics": self.test_metrics,
            "n_test": self.n_test,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "baseline_label": self.baseline_label,
            "baseline_test_value": self.baseline_test_value,
            "model_path": self.model_path,
            "config_path": self.config_path,
            "member_test_values": list(self.member_test_values),
            "final_stage": self.final_stage,
            "references": [dict(r) for r in self.references],
        }


def read_final(raw: Any, metric: str) -> FinalRecord | None:
    """The study's ``final`` attribute, version 1 (``test_accuracy``...) or 2; None when absent or unusable."""
    if not isinstance(raw, dict) or not raw.get("n_test"):
        return None
    test_metric = str(raw.get("test_metric") or held_out_metric(metric))
    if "test_value" in raw:
        test_value = _number(raw.get("test_value"))
        metrics = {str(k): float(v) for k, v in (raw.get("test_metrics") or {}).items() if is_finite_number(v)}
        baseline = _number(raw.get("baseline_test_value"))
        members = raw.get("member_test_values") or ()
    else:  # version 1: an accuracy-only record
        metrics = {k: float(raw[f"test_{k}"]) for k in ("accuracy", "loss") if is_finite_number(raw.get(f"test_{k}"))}
        test_value = metrics.get(test_metric)
        baseline = _number(raw.get("baseline_test_accuracy")) if test_metric == "accuracy" else None
        members = raw.get("member_test_accuracies") or () if test_metric == "accuracy" else ()
    if test_value is None:
        return None
    return FinalRecord(
        best_trial=int(raw.get("best_trial", -1)),
        config=dict(raw.get("config") or {}),
        val_value=float(raw.get("val_value", math.nan)),
        epochs=int(raw.get("epochs") or 0),
        test_metric=test_metric,
        test_value=test_value,
        test_metrics=metrics,
        n_test=int(raw["n_test"]),
        ci_low=_number(raw.get("ci_low")),
        ci_high=_number(raw.get("ci_high")),
        baseline_label=str(raw.get("baseline_label") or "tutorial baseline (Dense 64 relu, Adam, 10 epochs, batch 64)"),
        baseline_test_value=baseline,
        model_path=raw.get("model_path"),
        config_path=raw.get("config_path"),
        member_test_values=tuple(float(v) for v in members if is_finite_number(v)),
        final_stage=dict(raw.get("final_stage") or {}),
        references=tuple(dict(r) for r in raw.get("references") or () if isinstance(r, dict) and r.get("label")),
    )


@dataclass(frozen=True)
class SeedSpread:
    """One configuration retrained with several seeds and scored once each on the held-out split."""

    values: tuple[float, ...]  # one held-out score per seed, in the study's test metric
    mean: float
    std: float
    low: float
    high: float


def read_seed_spreads(raw: Any) -> dict[int, SeedSpread]:
    """The ``seed_evaluations`` attribute by trial number. Version 1 named the scores ``test_accuracy``; later
    records name them ``test_values``. Entries without scores are skipped."""
    spreads: dict[int, SeedSpread] = {}
    for key, entry in (raw or {}).items() if isinstance(raw, dict) else ():
        if not isinstance(entry, dict) or not str(key).lstrip("-").isdigit():
            continue
        values = tuple(
            float(v) for v in entry.get("test_values") or entry.get("test_accuracy") or () if is_finite_number(v)
        )
        if not values:
            continue
        mean = sum(values) / len(values)
        std = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else 0.0
        spreads[int(key)] = SeedSpread(values, mean, std, min(values), max(values))
    return spreads


# --------------------------------------------------------------------------------------------------------------
# Studies


@dataclass(frozen=True)
class StudyRecord:
    """A study as automl reads it. ``is_automl`` is False for plain Optuna studies (no recorded space)."""

    name: str
    version: int
    direction: str  # "maximize" | "minimize" | "multi"
    metric: str
    settings: dict[str, Any]
    space: dict[str, Any] | None
    backend: str
    dataset: str | None
    data_source: str | None
    data_fingerprint: str | None
    split_sizes: dict[str, int] | None
    data_seed: int
    data_limit: int | None
    data_kind: str
    task: str
    final: FinalRecord | None
    seed_evaluations: dict[str, Any]
    budget: int | None

    @property
    def is_automl(self) -> bool:
        return self.space is not None

    @property
    def maximize(self) -> bool:
        return self.direction == "maximize"

    @property
    def test_metric(self) -> str:
        return held_out_metric(self.metric)


def _direction_of(study: Any) -> str:
    directions = getattr(study, "directions", None)
    if directions is not None and len(directions) != 1:
        return "multi"
    direction = directions[0] if directions is not None else study.direction
    return str(direction.name).lower()


def check_version(name: str, attrs: Mapping[str, Any]) -> int:
    """The study's record version; a one-line error for a version newer than this automl reads."""
    version = attrs.get(StudyKey.RECORD_VERSION, 1)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise RecordError(f"study {name!r}: record_version {version!r} is not a positive integer; the study is damaged")
    if version > RECORD_VERSION:
        raise RecordError(
            f"study {name!r}: was recorded by a newer automl (record version {version}, this one reads up to "
            f"{RECORD_VERSION}); upgrade automl to read it"
        )
    return version


def read_study_attrs(name: str, direction: str, attrs: Mapping[str, Any]) -> StudyRecord:
    """A :class:`StudyRecord` from a study's name, direction and user attributes (e.g. a ``FrozenStudy``)."""
    version = check_version(name, attrs)
    settings = dict(attrs.get(StudyKey.SETTINGS) or {})
    metric = str(settings.get("metric") or "value")
    budget = settings.get("trials")
    sizes = attrs.get(StudyKey.SPLIT_SIZES)
    return StudyRecord(
        name=name,
        version=version,
        direction=direction,
        metric=metric,
        settings=settings,
        space=dict(attrs[StudyKey.SPACE]) if isinstance(attrs.get(StudyKey.SPACE), dict) else None,
        backend=str(attrs.get(StudyKey.BACKEND) or "optuna"),
        dataset=attrs.get(StudyKey.DATASET),
        data_source=attrs.get(StudyKey.DATA_SOURCE),
        data_fingerprint=attrs.get(StudyKey.DATA_FINGERPRINT),
        split_sizes=dict(sizes) if isinstance(sizes, dict) else None,
        data_seed=int(attrs.get(StudyKey.DATA_SEED) or 0),
        data_limit=_whole(attrs.get(StudyKey.DATA_LIMIT)),
        data_kind=str(attrs.get(StudyKey.DATA_KIND) or "images"),
        task=str(attrs.get(StudyKey.TASK) or "classification"),
        final=read_final(attrs.get(StudyKey.FINAL), metric),
        seed_evaluations=dict(attrs.get(StudyKey.SEED_EVALUATIONS) or {}),
        budget=int(budget) if isinstance(budget, int) and not isinstance(budget, bool) else None,
    )


def read_study(study: Any) -> StudyRecord:
    """A :class:`StudyRecord` from an Optuna ``Study`` or ``FrozenStudy``."""
    return read_study_attrs(study.study_name, _direction_of(study), study.user_attrs)
