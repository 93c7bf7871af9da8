"""The per-trial dashboard notes: what they say, that the dashboard's start adds them once to studies that lack
them (leaving plain Optuna studies and people's edits alone), and that a note that cannot be written never
stops a search."""

from __future__ import annotations

import logging
from pathlib import Path

import optuna
import pytest
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState
from optuna_dashboard import get_note, save_note

from automl.backends.callbacks import CallbackList, SearchCallback
from automl.study.notes import TrialNotes, write_missing_notes
from automl.study.record import RECORD_VERSION, StudyKey, TrialKey
from automl.study.storage import open_storage

OVERFIT = {
    "accuracy": [0.60, 0.80, 0.95, 0.99],
    "val_accuracy": [0.55, 0.75, 0.80, 0.78],
    "loss": [1.0, 0.6, 0.3, 0.1],
    "val_loss": [1.1, 0.7, 0.6, 0.8],
}
CONFIG = {"n_layers": 1, "units_1": 32, "learning_rate": 0.01, "epochs": 4}


def add_trial(study: optuna.Study, state: TrialState, **user_attrs: object) -> optuna.trial.FrozenTrial:
    study.add_trial(
        optuna.trial.create_trial(
            state=state,
            value=0.80 if state == TrialState.COMPLETE else None,
            params={"learning_rate": 0.01},
            distributions={"learning_rate": FloatDistribution(1e-3, 1e-1, log=True)},
            user_attrs={TrialKey.CONFIG: CONFIG, **{getattr(TrialKey, k.upper()): v for k, v in user_attrs.items()}},
        )
    )
    return study.trials[-1]


def note_of(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> str:
    view = optuna.study.Study(study.study_name, study._storage, sampler=optuna.samplers.RandomSampler())
    return get_note(optuna.trial.Trial(view, trial._trial_id))


@pytest.fixture
def storage(tmp_path: Path) -> optuna.storages.RDBStorage:
    return open_storage(f"sqlite:///{tmp_path / 'notes.db'}", heartbeat=False)


@pytest.fixture
def automl_study(storage: optuna.storages.RDBStorage) -> optuna.Study:
    study = optuna.create_study(study_name="ours", storage=storage, direction="maximize")
    study.set_user_attr(StudyKey.SPACE, {"name": "tiny"})
    study.set_user_attr(StudyKey.SETTINGS, {"metric": "val_accuracy"})
    return study


def test_backfill_writes_each_finished_trial_its_note_once(
    storage: optuna.storages.RDBStorage, automl_study: optuna.Study
) -> None:
    complete = add_trial(automl_study, TrialState.COMPLETE, curves=OVERFIT, best_epoch=3, n_params=25450)
    first_two = {k: v[:2] for k, v in OVERFIT.items()}
    pruned = add_trial(automl_study, TrialState.PRUNED, curves=first_two, pruned_at_epoch=2)
    failed = add_trial(automl_study, TrialState.FAIL, fail_reason="loss became nan at epoch 2; training diverged")
    plain = optuna.create_study(study_name="plain", storage=storage)
    plain.add_trial(optuna.trial.create_trial(value=1.0))

    assert write_missing_notes(storage) == 3

    note = note_of(automl_study, complete)
    assert note.startswith("### automl · trial 0 · complete · val_accuracy 0.8000")
    # The diagnosis and its reason are automl.analysis.diagnostics' (tested there); the numbers come from the curves:
    # best validation accuracy at epoch 3, train-validation gaps 0.95-0.80 and 0.99-0.78.
    assert "**Diagnosis: overfitting**: " in note
    assert "- Best epoch: 3 of 4 trained" in note
    assert "- Train − validation accuracy gap: +0.150 at the best epoch, +0.210 at the last" in note
    assert "25,450 parameters" in note
    assert "| units_1 | 32 |" in note
    assert "| learning_rate | 0.01 |" in note
    pruned_note = note_of(automl_study, pruned)
    assert "**Diagnosis: pruned at epoch 2**: stopped at epoch 2 by the pruner" in pruned_note
    assert "(pruned at epoch 2)" in pruned_note
    assert "Diagnosis: underfitting" not in pruned_note
    failed_note = note_of(automl_study, failed)
    assert "Diagnosis: unstable/diverged" in failed_note
    assert "- Failed: loss became nan at epoch 2; training diverged" in failed_note
    assert note_of(plain, plain.trials[0]) == ""  # not ours: no facts to show, left alone

    # A person's edit in the dashboard survives the next start; nothing is written twice.
    view = optuna.study.Study("ours", storage, sampler=optuna.samplers.RandomSampler())
    save_note(optuna.trial.Trial(view, complete._trial_id), "my own words")
    assert write_missing_notes(storage) == 0
    assert note_of(automl_study, complete) == "my own words"


def test_search_hook_calls_the_callback_and_writes_the_note(automl_study: optuna.Study) -> None:
    trial = add_trial(automl_study, TrialState.COMPLETE, curves=OVERFIT)
    seen: list[int] = []

    class Seen(SearchCallback):
        def on_trial_end(self, study: optuna.Study, t: optuna.trial.FrozenTrial) -> None:
            seen.append(t.number)

    CallbackList([Seen(), TrialNotes()]).on_trial_end(automl_study, trial)
    assert seen == [0]
    assert "Diagnosis: overfitting" in note_of(automl_study, trial)


def test_a_note_that_cannot_be_written_costs_a_warning_not_the_search(
    automl_study: optuna.Study, caplog: pytest.LogCaptureFixture
) -> None:
    trial = add_trial(automl_study, TrialState.COMPLETE, curves=OVERFIT)
    gone = optuna.trial.FrozenTrial(
        number=7, trial_id=10_000, state=TrialState.COMPLETE, value=0.5, values=None, datetime_start=None,
        datetime_complete=None, params={}, distributions={}, user_attrs={}, system_attrs={}, intermediate_values={},
    )  # fmt: skip
    with caplog.at_level(logging.WARNING, logger="automl.study.notes"):
        TrialNotes().on_trial_end(automl_study, gone)
    assert "trial 7: could not write its dashboard note" in caplog.text
    assert note_of(automl_study, trial) == ""


def test_a_study_from_a_newer_automl_gets_no_notes_and_stops_nothing(
    storage: optuna.storages.RDBStorage, automl_study: optuna.Study, caplog: pytest.LogCaptureFixture
) -> None:
    add_trial(automl_study, TrialState.COMPLETE, curves=OVERFIT)
    newer = optuna.create_study(study_name="newer", storage=storage, direction="maximize")
    newer.set_user_attr(StudyKey.SPACE, {"name": "tiny"})
    newer.set_user_attr(StudyKey.RECORD_VERSION, RECORD_VERSION + 1)
    add_trial(newer, TrialState.COMPLETE, curves=OVERFIT)
    with caplog.at_level(logging.WARNING, logger="automl.study.notes"):
        assert write_missing_notes(storage) == 1  # ours only
    assert "study 'newer': was recorded by a newer automl" in caplog.text
    assert note_of(newer, newer.trials[0]) == ""
