"""The study-level record: what a study says about its search as a whole (settings, space, data, the final
evaluation, the seed spreads), read through :func:`read_study`. The keys and the per-trial record are
:mod:`automl.study.record`'s; see its docstring for versions.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from automl.study.record import (
    RECORD_VERSION,
    BackendName,
    RecordError,
    StudyKey,
    held_out_metric,
    is_finite_number,
    number_or_none,
    whole_or_none,
)

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
        # The stored attribute is JSON, which has no tuples: callers have always been handed lists.
        out = asdict(self)
        out["member_test_values"] = list(self.member_test_values)
        out["references"] = list(out["references"])
        return out


def read_final(raw: Any, metric: str) -> FinalRecord | None:
    """The study's ``final`` attribute, version 1 (``test_accuracy``...) or 2; None when absent or unusable."""
    if not isinstance(raw, dict) or not raw.get("n_test"):
        return None
    test_metric = str(raw.get("test_metric") or held_out_metric(metric))
    if "test_value" in raw:
        test_value = number_or_none(raw.get("test_value"))
        metrics = {str(k): float(v) for k, v in (raw.get("test_metrics") or {}).items() if is_finite_number(v)}
        baseline = number_or_none(raw.get("baseline_test_value"))
        members = raw.get("member_test_values") or ()
    else:  # version 1: an accuracy-only record
        metrics = {k: float(raw[f"test_{k}"]) for k in ("accuracy", "loss") if is_finite_number(raw.get(f"test_{k}"))}
        test_value = metrics.get(test_metric)
        baseline = number_or_none(raw.get("baseline_test_accuracy")) if test_metric == "accuracy" else None
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
        ci_low=number_or_none(raw.get("ci_low")),
        ci_high=number_or_none(raw.get("ci_high")),
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
# Where a study started from


@dataclass(frozen=True)
class StartedFrom:
    """The earlier study a new one started from (``started_from``): how many of its finished trials were copied
    in (:mod:`automl.backends.prior_trials`), or why none were."""

    study: str
    copied: int  # finished trials copied in; 0 when refused
    reason: str = ""  # why none were copied
    warm_skipped: int = 0  # warm-start configurations not enqueued: a copy had already run them

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        if not self.copied:
            return f"starts afresh, not from the trials of {self.study}: {self.reason}"
        skipped = (
            f"; {self.warm_skipped} warm-start configuration(s) they already ran are not run again"
            if self.warm_skipped
            else ""
        )
        return (
            f"starts from the {self.copied} finished trials of {self.study} (same data, space and objective){skipped}"
        )

    @classmethod
    def read(cls, raw: Any) -> StartedFrom | None:
        """From the study attribute; None when absent or not a mapping."""
        if not isinstance(raw, Mapping) or not raw.get("study"):
            return None
        return cls(
            str(raw["study"]),
            whole_or_none(raw.get("copied")) or 0,
            str(raw.get("reason") or ""),
            whole_or_none(raw.get("warm_skipped")) or 0,
        )


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
    started_from: StartedFrom | None = None

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
    if direction == "multi" and settings.get("objectives") and settings.get("direction") in ("maximize", "minimize"):
        direction = str(settings["direction"])  # automl's multi-objective study: its primary objective's direction
    budget = settings.get("trials")
    sizes = attrs.get(StudyKey.SPLIT_SIZES)
    return StudyRecord(
        name=name,
        version=version,
        direction=direction,
        metric=metric,
        settings=settings,
        space=dict(attrs[StudyKey.SPACE]) if isinstance(attrs.get(StudyKey.SPACE), dict) else None,
        backend=str(attrs.get(StudyKey.BACKEND) or BackendName.OPTUNA),
        dataset=attrs.get(StudyKey.DATASET),
        data_source=attrs.get(StudyKey.DATA_SOURCE),
        data_fingerprint=attrs.get(StudyKey.DATA_FINGERPRINT),
        split_sizes=dict(sizes) if isinstance(sizes, dict) else None,
        data_seed=int(attrs.get(StudyKey.DATA_SEED) or 0),
        data_limit=whole_or_none(attrs.get(StudyKey.DATA_LIMIT)),
        data_kind=str(attrs.get(StudyKey.DATA_KIND) or "images"),
        task=str(attrs.get(StudyKey.TASK) or "classification"),
        final=read_final(attrs.get(StudyKey.FINAL), metric),
        seed_evaluations=dict(attrs.get(StudyKey.SEED_EVALUATIONS) or {}),
        budget=int(budget) if isinstance(budget, int) and not isinstance(budget, bool) else None,
        started_from=StartedFrom.read(attrs.get(StudyKey.STARTED_FROM)),
    )


def read_study(study: Any) -> StudyRecord:
    """A :class:`StudyRecord` from an Optuna ``Study`` or ``FrozenStudy``."""
    return read_study_attrs(study.study_name, _direction_of(study), study.user_attrs)
