"""The studies in a storage, as data: trials by state, best value, budget, last activity.

``automl studies`` renders these rows; the numbers come from pure functions over trial-like objects (anything with
``state``, ``value``, ``datetime_start`` and ``datetime_complete``), so they are tested without a database.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from automl.errors import StorageError
from automl.study.record import RecordError, primary_value
from automl.study.study_record import read_study_attrs

if TYPE_CHECKING:
    import optuna

STATES = ("complete", "pruned", "fail", "running", "waiting")


@dataclass(frozen=True)
class StudyRow:
    name: str
    direction: str  # "maximize" / "minimize"; multi-objective studies (not automl's) show "multi"
    counts: dict[str, int] = field(default_factory=dict)  # trials by lower-case state name, every STATES key
    best_value: float | None = None
    last_activity: datetime | None = None
    budget: int | None = None  # the study's recorded trial budget, for automl studies
    metric: str | None = None
    note: str = ""  # why some facts are missing, e.g. a study recorded by a newer automl

    @property
    def finished(self) -> int:
        return self.counts.get("complete", 0) + self.counts.get("pruned", 0)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def summarize(
    name: str, direction: str, trials: Iterable[Any], user_attrs: Mapping[str, Any] | None = None
) -> StudyRow:
    """One study's row from its trials."""
    counts = dict.fromkeys(STATES, 0)
    values: list[float] = []
    moments: list[datetime] = []
    for trial in trials:
        state = trial.state.name.lower()
        counts[state] = counts.get(state, 0) + 1
        if state == "complete" and (value := primary_value(trial)) is not None:
            values.append(value)
        moments += [m for m in (trial.datetime_start, trial.datetime_complete) if m is not None]
    budget: int | None = None
    metric: str | None = None
    note = ""
    try:
        record = read_study_attrs(name, direction, user_attrs or {})
        direction = record.direction  # an automl multi-objective study's primary direction
        budget, metric = record.budget, record.metric if "metric" in record.settings else None
    except RecordError:  # a newer automl's study is still listed; only its settings are not read
        note = "recorded by a newer automl"
    best = (max if direction == "maximize" else min)(values) if values and direction != "multi" else None
    return StudyRow(
        name=name,
        direction=direction,
        counts=counts,
        best_value=best,
        last_activity=max(moments) if moments else None,
        budget=budget,
        metric=metric,
        note=note,
    )


def list_studies(storage: optuna.storages.BaseStorage) -> list[StudyRow]:
    """Every study in ``storage``, most recently active first (studies without trials last, by name)."""
    rows = []
    for study in storage.get_all_studies():
        directions = study.directions
        direction = directions[0].name.lower() if len(directions) == 1 else "multi"
        study_id = storage.get_study_id_from_name(study.study_name)
        trials = storage.get_all_trials(study_id, deepcopy=False)
        rows.append(summarize(study.study_name, direction, trials, study.user_attrs))
    active = sorted(
        ((r.last_activity, r) for r in rows if r.last_activity is not None), key=lambda ar: ar[0], reverse=True
    )
    return [r for _, r in active] + sorted((r for r in rows if r.last_activity is None), key=lambda r: r.name)


def find_study(storage: optuna.storages.BaseStorage, name: str) -> StudyRow:
    rows = {row.name: row for row in list_studies(storage)}
    if name not in rows:
        known = ", ".join(sorted(rows)) or "none"
        raise StorageError(f"study {name!r}: not found; known studies: {known}; see `automl studies`")
    return rows[name]


def delete_study(storage: optuna.storages.BaseStorage, name: str) -> None:
    storage.delete_study(storage.get_study_id_from_name(name))


def describe_age(then: datetime | None, now: datetime) -> str:
    """``then`` relative to ``now`` in the largest whole unit: "just now", "5 min ago", "3 h ago", "2 days ago"."""
    if then is None:
        return "never"
    seconds = (now - then).total_seconds()
    if seconds < 60:
        return "just now"
    for unit, size in (("days", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            count = int(seconds // size)
            return f"{count} {'day' if unit == 'days' and count == 1 else unit} ago"
    return "just now"  # unreachable: seconds >= 60 matched "min"
