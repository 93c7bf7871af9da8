"""A new study that starts from an earlier one's finished trials: copied only on the same data, space and
objective; copies keep what was measured and say where; the budget and the warm start account for them.
Real studies in a real SQLite storage, trials sampled from a real space."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState
from support import FIXTURES

from automl.backends.prior_trials import already_tried, copy_finished, refusal
from automl.backends.store import StudyStore
from automl.spaces import SearchSpace, load_space
from automl.study import optuna_compat as compat
from automl.study.record import StudyKey, TrialKey, read_trial
from automl.study.storage import open_storage
from automl.study.study_record import StartedFrom, read_study

DATA = {StudyKey.DATA_FINGERPRINT: "488bd168d67bffb2"}


@pytest.fixture
def space() -> SearchSpace:
    return load_space(str(FIXTURES / "tiny_synthetic.yaml"))


@pytest.fixture
def store(tmp_path: Path) -> StudyStore:
    return StudyStore(open_storage(f"sqlite:///{tmp_path / 'studies.db'}", heartbeat=False))


def run_trials(
    study: optuna.Study, space: SearchSpace, outcomes: list[TrialState], retries: dict[int, int] | None = None
) -> None:
    """Sample each trial from ``space`` as the search does and end it as ``outcomes`` says; ``retries`` maps a
    trial's index to the number of the trial it re-runs."""
    for i, outcome in enumerate(outcomes):
        trial = study.ask()
        if i in (retries or {}):
            compat.storage_of(study).set_trial_system_attr(compat.trial_id(trial), TrialKey.RETRY_OF, retries[i])
        config = space.sample(trial)
        trial.set_user_attr(TrialKey.CONFIG, config)
        for epoch in (1, 2):
            trial.report(0.1 * i + 0.01 * epoch, epoch)
        study.tell(trial, 0.1 * i + 0.02 if outcome == TrialState.COMPLETE else None, state=outcome)


def test_refused_unless_data_space_and_objective_are_the_same(space: SearchSpace) -> None:
    attrs = {
        **DATA,
        StudyKey.SPACE_FINGERPRINT: space.fingerprint(),
        StudyKey.SETTINGS: space.settings.to_dict(),
    }
    assert refusal("a", attrs, space, space.settings, DATA) == ""
    assert refusal("a", attrs, space, space.settings, {StudyKey.DATA_FINGERPRINT: "ff02a2959d6ba60d"}) == (
        "the data changed since a (fingerprint 488bd168d67bffb2 -> ff02a2959d6ba60d)"
    )
    edited = replace(space, params=space.params[:-2])
    assert refusal("a", attrs, edited, space.settings, DATA).startswith("the search space changed since a")
    minimize = replace(space.settings, metric="val_loss", direction="minimize")
    assert refusal("a", attrs, space, minimize, DATA) == (
        "the objective changed since a (maximize val_accuracy -> minimize val_loss)"
    )
    # A budget or a warm-start list is not the problem: those change from run to run
    more = replace(space.settings, trials=50, warm_start=({"n_layers": 1},))
    assert refusal("a", attrs, space, more, DATA) == ""


def test_copies_keep_what_was_measured_and_where(store: StudyStore, space: SearchSpace) -> None:
    source = store.open("a", space, space.settings, data_info=DATA).study
    # the last one re-ran the failed trial 1: a link that names a number of this study only
    run_trials(source, space, [TrialState.COMPLETE, TrialState.FAIL, TrialState.PRUNED, TrialState.COMPLETE], {3: 1})
    target = store.open("b", space, space.settings, data_info=DATA).study
    copies = copy_finished(source, target)

    finished = [t for t in source.trials if t.state != TrialState.FAIL]
    got = target.trials
    assert len(copies) == len(got) == 3
    for new, old in zip(got, finished, strict=True):
        assert (new.state, new.values, new.params, new.distributions) == (
            old.state,
            old.values,
            old.params,
            old.distributions,
        )
        assert new.intermediate_values == old.intermediate_values
        assert len(new.intermediate_values) == 2
        assert (new.datetime_start, new.datetime_complete) == (old.datetime_start, old.datetime_complete)
        assert new.user_attrs[TrialKey.CONFIG] == old.user_attrs[TrialKey.CONFIG]
        assert new.user_attrs[TrialKey.COPIED_FROM] == {"study": "a", "trial": old.number}
        assert read_trial(new).copied_from == "a"
        assert read_trial(new).retry_of is None
    # A copy of a copy still names where it was measured
    again = store.open("c", space, space.settings, data_info=DATA).study
    copy_finished(target, again)
    assert [t.user_attrs[TrialKey.COPIED_FROM] for t in again.trials] == [
        {"study": "a", "trial": t.number} for t in finished
    ]


def test_already_tried_reads_the_full_configuration() -> None:
    trial = optuna.trial.create_trial(
        params={"units_1": 16, "learning_rate": 0.01},
        distributions={
            "units_1": optuna.distributions.IntDistribution(8, 32, log=True),
            "learning_rate": optuna.distributions.FloatDistribution(1e-3, 0.1, log=True),
        },
        value=0.9,
        user_attrs={TrialKey.CONFIG: {"units_1": 16, "learning_rate": 0.01, "epochs": 3}},
    )
    assert already_tried({"units_1": 16, "learning_rate": 0.01, "epochs": 3}, [trial])  # fixed values too
    assert already_tried({"learning_rate": 0.01}, [trial])  # a partial configuration: the rest was sampled
    assert not already_tried({"learning_rate": 0.01, "epochs": 5}, [trial])
    assert not already_tried({"units_1": 16, "dropout": 0.1}, [trial])
    assert not already_tried({"units_1": 16}, [])


def test_a_new_study_starts_from_another_and_the_budget_and_warm_start_account_for_it(
    store: StudyStore, space: SearchSpace
) -> None:
    source = store.open("a", space, space.settings, data_info=DATA).study
    run_trials(source, space, [TrialState.COMPLETE, TrialState.COMPLETE, TrialState.PRUNED])
    ran = source.trials[1].user_attrs[TrialKey.CONFIG]
    fresh = {"n_layers": 1, "units_1": 9, "activation": "tanh", "optimizer": "adam", "learning_rate": 0.05}
    settings = replace(space.settings, trials=5, warm_start=(ran, fresh))

    context = store.open("b", space, settings, data_info=DATA, start_from="a")
    assert context.settings.trials == 5 + 3  # 5 new trials beside the 3 copies
    assert read_study(context.study).budget == 8
    assert read_study(context.study).started_from == StartedFrom("a", 3, "", warm_skipped=1)
    waiting = context.study.get_trials(states=(TrialState.WAITING,))
    assert [t.system_attrs["fixed_params"] for t in waiting] == [fresh]  # the one no copy ran

    other = store.open("c", space, settings, data_info={StudyKey.DATA_FINGERPRINT: "0"}, start_from="a")
    assert other.settings.trials == 5
    assert other.study.get_trials(states=(TrialState.COMPLETE, TrialState.PRUNED)) == []
    assert read_study(other.study).started_from == StartedFrom(
        "a", 0, "the data changed since a (fingerprint 488bd168d67bffb2 -> 0)"
    )
    assert len(other.study.get_trials(states=(TrialState.WAITING,))) == 2

    missing = store.open("d", space, settings, data_info=DATA, start_from="nope")
    assert missing.settings.trials == 5
    started = read_study(missing.study).started_from
    assert started is not None and started.reason.startswith("study nope is not in sqlite:///")


def test_an_existing_study_ignores_start_from(store: StudyStore, space: SearchSpace) -> None:
    store.open("a", space, space.settings, data_info=DATA)
    run_trials(store.open("a", space).study, space, [TrialState.COMPLETE])
    store.open("b", space, space.settings, data_info=DATA)
    again = store.open("b", space, None, data_info=DATA, start_from="a")
    assert again.study.trials == []
    assert read_study(again.study).started_from is None
