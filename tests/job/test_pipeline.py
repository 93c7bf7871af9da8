"""The pipeline a search and its workers share: its checks of the environment and of the engine asked for, the
study store it opens, and the callbacks it runs trials with."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from support import TINY_LIMIT, TINY_SYNTHETIC

from automl.backends.base import Deadline, TrialStopped
from automl.backends.callbacks import CallbackList, SearchCallback
from automl.backends.store import StudyStore
from automl.data import load_dataset
from automl.errors import AutomlError, StorageError
from automl.job.pipeline import LastEpochCompletes, data_info, get_backend, run_trials, threads_from_env
from automl.spaces import load_space
from automl.study import optuna_compat as compat
from automl.study.artifacts import kept_models
from automl.study.record import BackendName, StopReason, StudyKey, read_trial
from automl.study.storage import FailurePolicy, open_storage
from automl.study.study_record import read_study


@pytest.mark.parametrize(("value", "threads"), [(None, None), ("", None), ("3", 3), (" 2 ", 2)])
def test_automl_threads_is_read(monkeypatch: pytest.MonkeyPatch, value: str | None, threads: int | None) -> None:
    if value is None:
        monkeypatch.delenv("AUTOML_THREADS", raising=False)
    else:
        monkeypatch.setenv("AUTOML_THREADS", value)
    assert threads_from_env() == threads


@pytest.mark.parametrize("value", ["two", "0", "-1", "1.5"])
def test_a_malformed_automl_threads_is_an_error_not_ignored(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("AUTOML_THREADS", value)
    with pytest.raises(AutomlError, match=f"AUTOML_THREADS: must be a whole number of threads >= 1, got '{value}'"):
        threads_from_env()


def test_an_unknown_backend_is_named() -> None:
    with pytest.raises(AutomlError, match="backend 'spark': unknown; use one of"):
        get_backend("spark")
    assert get_backend("optuna").name == "optuna"


class Recorder(SearchCallback):
    """Every event it hears, in order, into a log it may share with another recorder."""

    def __init__(self, name: str, log: list[tuple[Any, ...]]) -> None:
        self.name, self.log = name, log

    def on_trial_start(self, number: int, config: dict[str, Any]) -> None:
        self.log.append((self.name, "start", number))

    def on_epoch(self, number: int, epoch: int, metrics: dict[str, float]) -> None:
        self.log.append((self.name, "epoch", number, epoch, "val_accuracy" in metrics))

    def on_trial_end(self, study: Any, trial: Any) -> None:
        self.log.append((self.name, "end", trial.number, trial.state.name))

    def on_job_end(self, study: Any) -> None:
        self.log.append((self.name, "job end", study.study_name))


def test_the_callbacks_hear_each_trial_in_order_then_notes_are_written_and_the_job_ends(tmp_path: Path) -> None:
    space = load_space(str(TINY_SYNTHETIC))
    space = replace(space, settings=replace(space.settings, trials=2))
    dataset = load_dataset("mnist", seed=0, limit=TINY_LIMIT)
    store = StudyStore(open_storage(f"sqlite:///{tmp_path / 's.db'}", heartbeat=False))
    context = store.open("s", space, space.settings, seed=0, data_info=data_info(dataset, seed=0, limit=TINY_LIMIT))
    log: list[tuple[Any, ...]] = []
    stats = run_trials(
        get_backend(BackendName.OPTUNA),
        context,
        dataset,
        seed=0,
        threads=None,
        deadline=Deadline(),
        policy=FailurePolicy(),
        callbacks=[Recorder("a", log), Recorder("b", log)],
    )

    study = context.study
    assert stats.ran == 2 and store.count_finished(study) == 2
    expected: list[tuple[Any, ...]] = []
    for trial in study.trials:
        epochs = len(read_trial(trial).curves["val_accuracy"])
        assert epochs >= 1
        events = [("start", trial.number)]
        events += [("epoch", trial.number, epoch, True) for epoch in range(1, epochs + 1)]
        events += [("end", trial.number, "COMPLETE")]
        expected += [(name, *event) for event in events for name in ("a", "b")]  # each event to a, then to b
    assert log == [*expected, ("a", "job end", "s"), ("b", "job end", "s")]
    system_attrs = study._storage.get_study_system_attrs(study._study_id)
    assert all(compat.note_version_key(t._trial_id) in system_attrs for t in study.trials)  # TrialNotes came last


class EpochClock(SearchCallback):
    """A clock that moves one second per epoch reported: deadlines then pass at a chosen epoch."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def __call__(self) -> float:
        return self.seconds

    def on_epoch(self, number: int, epoch: int, metrics: dict[str, float]) -> None:
        self.seconds += 1.0


@pytest.mark.parametrize(("search_seconds", "state", "epochs"), [(3.0, "COMPLETE", 3), (2.0, "PRUNED", 2)])
def test_a_trial_whose_last_epoch_ends_past_the_deadline_completes(
    tmp_path: Path, search_seconds: float, state: str, epochs: int
) -> None:
    """Its model is trained either way: it completes at its last epoch (the warm start, stopped at its last epoch by
    a 300 s budget, was recorded as cut short); stopped before it, its model is kept all the same."""
    space = load_space(str(TINY_SYNTHETIC))  # 3 epochs per trial
    dataset = load_dataset("mnist", seed=0, limit=TINY_LIMIT)
    store = StudyStore(open_storage(f"sqlite:///{tmp_path / 's.db'}", heartbeat=False))
    context = store.open("s", space, space.settings, seed=0, data_info=data_info(dataset, seed=0, limit=TINY_LIMIT))
    clock = EpochClock()
    run_trials(
        get_backend(BackendName.OPTUNA),
        context,
        dataset,
        seed=0,
        threads=None,
        deadline=Deadline(timeout_ends=search_seconds, clock=clock),
        policy=FailurePolicy(),
        callbacks=[clock],
    )
    first = read_trial(context.study.trials[0])
    assert (first.state, len(first.curves["val_accuracy"])) == (state, epochs)
    assert len(context.study.trials) == 1  # the deadline had passed: no trial after it
    if state == "PRUNED":
        assert first.prune_reason == "time budget"
    # Completed or stopped by the time, the model is kept (at its best epoch): the final stage may reuse it.
    (kept,) = kept_models(context.study)
    assert (kept.trial, kept.value) == (0, max(first.curves["val_accuracy"]))


class StopsEveryEpoch:
    def report(self, epoch: int, metrics: dict[str, float]) -> None:
        raise TrialStopped(StopReason.TIME_BUDGET, epoch)


def test_only_the_named_last_epoch_completes_past_the_deadline() -> None:
    LastEpochCompletes(StopsEveryEpoch(), last_epoch=3).report(3, {})  # completes
    for last_epoch, epoch in [(3, 2), (0, 1), (0, 5)]:  # before the last epoch, or no last epoch named: stopped
        with pytest.raises(TrialStopped):
            LastEpochCompletes(StopsEveryEpoch(), last_epoch).report(epoch, {})


def test_a_callback_list_takes_only_search_callbacks() -> None:
    with pytest.raises(TypeError, match="callbacks must be SearchCallback instances"):
        CallbackList([lambda study, trial: None])  # type: ignore[list-item]
    inner = CallbackList([Recorder("a", [])])
    assert len(CallbackList(inner)) == 1  # a list given where callbacks go is flattened, not nested


def test_the_study_records_the_backend_that_created_it_and_a_resumed_searchs_settings(tmp_path: Path) -> None:
    space = load_space(str(TINY_SYNTHETIC))
    store = StudyStore(open_storage(f"sqlite:///{tmp_path / 's.db'}", heartbeat=False))
    created = store.open("on-ray", space, space.settings, seed=0, backend=BackendName.RAY)
    assert created.created and store.exists("on-ray") and not store.exists("other")
    assert created.study.user_attrs[StudyKey.BACKEND] == "ray"
    store.record_settings(created.study, replace(space.settings, trials=9))
    reopened = store.open("on-ray", create=False)
    assert (
        not reopened.created and reopened.settings.trials == 9 and reopened.space.fingerprint() == space.fingerprint()
    )
    assert read_study(store.open("default", space, space.settings).study).backend == "optuna"
    with pytest.raises(StorageError, match="study 'missing': not found in .*known studies: default, on-ray"):
        store.open("missing", create=False)


NOISY = """
name: noisy
model: synthetic
search:
  sampler: random
  pruner: none
  trials: 4
  patience: 1
  warm_start:
    - {learning_rate: 0.01, units_1: 32}
params:
  learning_rate: {type: float, low: 0.001, high: 0.1, log: true}
  units_1:       {type: int, low: 8, high: 64}
  epochs:        {type: fixed, value: 20}
  noise:         {type: fixed, value: 0.2}
"""


def test_the_warm_start_trains_all_its_epochs_while_the_others_stop_early(tmp_path: Path) -> None:
    """Patience 1 on curves this noisy stops a trial within a few epochs; the warm start, the reference the others
    are pruned against, is never stopped early."""
    import optuna

    import automl
    from automl.study.storage import default_storage_url

    space = tmp_path / "noisy.yaml"
    space.write_text(NOISY)
    automl.search("mnist", str(space), study="noisy", limit=TINY_LIMIT, quiet=True, finish=False, reports_dir=tmp_path)
    trials = [read_trial(t) for t in optuna.load_study(study_name="noisy", storage=default_storage_url()).trials]
    assert trials[0].warm_start and trials[0].epochs_trained == 20
    assert all(t.epochs_trained is not None and t.epochs_trained < 20 for t in trials[1:])
