"""Batched writes and counts against Optuna's tables: what they leave is what Optuna's per-key API leaves, on
SQLite, PostgreSQL and the in-memory storage; a finished trial is refused as Optuna refuses it."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState
from support import POSTGRES_URL
from worker_support import delete_pg_studies, unique

from automl.study import optuna_compat as compat
from automl.study.storage import open_storage
from automl.study.trial_writes import count_trials, write_study_system_attrs, write_trial_attrs

ATTRS = {"config": {"units": 64, "optimizer": "adam"}, "curves": {"val_accuracy": [0.5, 0.75]}, "n_params": 7}


@pytest.fixture(params=["sqlite", "postgresql", "memory"])
def study(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[optuna.Study]:
    name = unique("writes")
    if request.param == "memory":
        yield optuna.create_study(study_name=name)
        return
    url = f"sqlite:///{tmp_path / 'studies.db'}" if request.param == "sqlite" else POSTGRES_URL
    yield optuna.create_study(study_name=name, storage=open_storage(url))
    if request.param == "postgresql":
        delete_pg_studies([name])


def test_a_batch_leaves_what_optunas_api_leaves(study: optuna.Study) -> None:
    storage = compat.storage_of(study)
    ours, theirs = study.ask(), study.ask()
    lr, optimizer = theirs.suggest_float("lr", 1e-4, 1e-1, log=True), theirs.suggest_categorical("opt", ["a", "b"])
    write_trial_attrs(
        storage,
        compat.trial_id(ours),
        ATTRS,
        system_attrs={"driver": "host:1"},
        intermediate={1: 0.5, 2: math.nan, 3: math.inf},
        params={
            name: (dist.to_internal_repr(theirs.params[name]), dist) for name, dist in theirs.distributions.items()
        },
        heartbeat=compat.grace_period(storage) is not None,
    )
    for key, value in ATTRS.items():
        theirs.set_user_attr(key, value)
    storage.set_trial_system_attr(compat.trial_id(theirs), "driver", "host:1")
    for step, value in {1: 0.5, 2: math.nan, 3: math.inf}.items():
        theirs.report(value, step)
    write_trial_attrs(storage, compat.trial_id(ours), {"n_params": 8})  # replaces, as set_user_attr does
    theirs.set_user_attr("n_params", 8)

    mine, reference = storage.get_trial(compat.trial_id(ours)), storage.get_trial(compat.trial_id(theirs))
    assert mine.user_attrs == reference.user_attrs
    assert mine.system_attrs == reference.system_attrs
    assert mine.params == reference.params == {"lr": lr, "opt": optimizer}
    assert mine.distributions == reference.distributions
    assert mine.intermediate_values.keys() == reference.intermediate_values.keys()
    assert mine.intermediate_values[1] == 0.5 and math.isnan(mine.intermediate_values[2])
    assert mine.intermediate_values[3] == math.inf


def test_a_finished_trial_is_refused_and_left_as_it_was(study: optuna.Study) -> None:
    trial = study.ask()
    study.tell(trial, 0.5)
    with pytest.raises(optuna.exceptions.UpdateFinishedTrialError):
        write_trial_attrs(compat.storage_of(study), compat.trial_id(trial), {"worker": "late"})
    assert study.trials[0].user_attrs == {}


def test_counts_by_state_with_absent_states_at_zero(study: optuna.Study) -> None:
    for value in (0.1, 0.2):
        study.tell(study.ask(), value)
    study.tell(study.ask(), state=TrialState.PRUNED)
    study.ask()
    counts = count_trials(
        compat.storage_of(study), compat.study_id(study), (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)
    )
    assert counts == {TrialState.COMPLETE: 2, TrialState.PRUNED: 1, TrialState.RUNNING: 1}
    assert count_trials(compat.storage_of(study), compat.study_id(study), (TrialState.FAIL,)) == {TrialState.FAIL: 0}


def test_study_attributes_about_a_trial_need_that_trial(study: optuna.Study) -> None:
    storage, trial = compat.storage_of(study), study.ask()
    write_study_system_attrs(
        storage, compat.study_id(study), {"note": "hello", "version": 1}, of_trial=compat.trial_id(trial)
    )
    assert {"note": "hello", "version": 1}.items() <= storage.get_study_system_attrs(compat.study_id(study)).items()
    with pytest.raises(KeyError):
        write_study_system_attrs(storage, compat.study_id(study), {"other": 1}, of_trial=10_000)
    assert "other" not in storage.get_study_system_attrs(compat.study_id(study))
