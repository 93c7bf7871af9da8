"""The sweeps' only touch of Optuna: read a run's study, link it to its sweep, delete an old one.

Kept in one small module so the backend seam can take it over: everything else in ``automl.sweeps`` reads
studies as :class:`automl.study.record.StudyRecord` and :class:`automl.study.record.TrialRecord`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from automl.study.record import TrialRecord, read_trial
from automl.study.storage import open_storage
from automl.study.study_record import StudyRecord, read_study

# Study user attributes that tie a run's study to its sweep (see README, "Scheduled sweeps").
SWEEP = "sweep"
SWEEP_PREVIOUS = "sweep_previous_run"
SWEEP_SCHEDULED_FOR = "sweep_scheduled_for"
SWEEP_WARM_START = "sweep_warm_start"  # how many configurations came from the previous run


@dataclass(frozen=True)
class RunStudy:
    record: StudyRecord
    trials: list[TrialRecord]

    @property
    def finished(self) -> int:
        return sum(t.state in ("COMPLETE", "PRUNED") for t in self.trials)

    @property
    def best(self) -> TrialRecord | None:
        done = [(t.value, t) for t in self.trials if t.state == "COMPLETE" and t.value is not None]
        if not done:
            return None
        pick = max if self.record.maximize else min
        return pick(done, key=lambda vt: vt[0])[1]


def _load(url: str | None, name: str) -> Any:
    import optuna

    return optuna.load_study(study_name=name, storage=open_storage(url, heartbeat=False))


def read_run_study(url: str | None, name: str) -> RunStudy:
    study = _load(url, name)
    return RunStudy(read_study(study), [read_trial(t) for t in study.get_trials(deepcopy=False)])


def link_study(url: str | None, name: str, attrs: dict[str, Any]) -> None:
    study = _load(url, name)
    for key, value in attrs.items():
        study.set_user_attr(key, value)


def delete_study(url: str | None, name: str) -> None:
    import optuna

    optuna.delete_study(study_name=name, storage=open_storage(url, heartbeat=False))
