"""A new study that starts where an earlier one stopped: the earlier study's finished trials, copied in.

A copy is only honest when it was measured on the same problem: the same data (fingerprint), the same space
(fingerprint: model and parameters, so every copied distribution is the one the sampler draws from) and the same
objective (metric and direction). Then the sampler and the pruner read the copies as the study's own history, so
TPE starts from them rather than from random trials. Otherwise nothing is copied, and the reason is recorded.

Each copy keeps its state, values, intermediate values, times and record, and is marked with the study and trial
it was measured in (:attr:`TrialKey.COPIED_FROM`; a copy of a copy keeps its origin), so that reports can tell
copies from the trials the study ran itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from automl.spaces import SearchSettings, SearchSpace
from automl.study.optuna_compat import storage_url
from automl.study.record import StudyKey, TrialKey
from automl.study.storage import redact
from automl.study.study_record import StartedFrom

COPIED_STATES = (TrialState.COMPLETE, TrialState.PRUNED)  # finished, with something to learn from
_MISSING = object()


def refusal(
    name: str, attrs: Mapping[str, Any], space: SearchSpace, settings: SearchSettings, data: Mapping[str, Any]
) -> str:
    """Why study ``name`` (user attributes ``attrs``) cannot lend its trials to a study of ``space``, ``settings``
    and data facts ``data`` (:func:`automl.job.pipeline.data_info`); "" when it can."""
    before, now = attrs.get(StudyKey.DATA_FINGERPRINT), data.get(StudyKey.DATA_FINGERPRINT)
    if before is None or before != now:
        return f"the data changed since {name} (fingerprint {before} -> {now})"
    if attrs.get(StudyKey.SPACE_FINGERPRINT) != space.fingerprint():
        return (
            f"the search space changed since {name} (fingerprint {attrs.get(StudyKey.SPACE_FINGERPRINT)} -> "
            f"{space.fingerprint()})"
        )
    recorded = attrs.get(StudyKey.SETTINGS) or {}
    before_objective = f"{recorded.get('direction')} {recorded.get('metric')}"
    now_objective = f"{settings.direction} {settings.metric}"
    if before_objective != now_objective:
        return f"the objective changed since {name} ({before_objective} -> {now_objective})"
    return ""


def copy_finished(source: optuna.Study, target: optuna.Study) -> list[FrozenTrial]:
    """Copy ``source``'s completed and pruned trials into ``target``, oldest first; the copies as added."""
    trials = sorted(source.get_trials(deepcopy=False, states=COPIED_STATES), key=lambda t: t.number)
    copies = [_copy(t, source.study_name) for t in trials]
    target.add_trials(copies)
    return copies


def _copy(trial: FrozenTrial, source: str) -> FrozenTrial:
    origin = trial.user_attrs.get(TrialKey.COPIED_FROM) or {"study": source, "trial": trial.number}
    return FrozenTrial(
        number=-1,  # the target's storage numbers it
        trial_id=-1,
        state=trial.state,
        value=None,
        values=trial.values,
        datetime_start=trial.datetime_start,  # when it was measured, so durations stay true
        datetime_complete=trial.datetime_complete,
        params=dict(trial.params),
        distributions=dict(trial.distributions),
        user_attrs={**trial.user_attrs, TrialKey.COPIED_FROM: origin},
        # The sampler's own marks (a grid point's id, an enqueued trial's fixed values) stay; a retry's link names
        # a trial number of the source study, which here would be another trial: copied_from says where it ran.
        system_attrs={k: v for k, v in trial.system_attrs.items() if k != TrialKey.RETRY_OF},
        intermediate_values=dict(trial.intermediate_values),
    )


def already_tried(config: Mapping[str, Any], trials: Iterable[FrozenTrial]) -> bool:
    """Whether one of ``trials`` ran ``config``: it had each value the configuration names (fixed ones too,
    read from its recorded full configuration), so enqueuing it again would only repeat that trial."""
    for trial in trials:
        full = trial.user_attrs.get(TrialKey.CONFIG)
        full = full if isinstance(full, dict) else trial.params
        if all(full.get(key, _MISSING) == value for key, value in config.items()):
            return True
    return False


def start_from_study(
    storage: Any,
    name: str,
    target: optuna.Study,
    space: SearchSpace,
    settings: SearchSettings,
    data: Mapping[str, Any],
) -> tuple[StartedFrom, list[FrozenTrial]]:
    """Copy the finished trials of study ``name`` (in ``storage``) into the new study ``target`` when they were
    measured on the same problem (:func:`refusal`); what was done, and the copies."""
    known = {s.study_name for s in storage.get_all_studies()}
    if name not in known:
        return StartedFrom(name, 0, f"study {name} is not in {redact(storage_url(storage) or 'the storage')}"), []
    source = optuna.load_study(study_name=name, storage=storage)
    reason = refusal(name, source.user_attrs, space, settings, data)
    if reason:
        return StartedFrom(name, 0, reason), []
    copies = copy_finished(source, target)
    return StartedFrom(name, len(copies)), copies
