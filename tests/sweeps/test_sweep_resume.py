"""A run on unchanged data starts from the previous run's finished trials (the sampler sees them); a run on
changed data starts afresh with the top-K re-run. Each run writes its own run.log, which `sweep history` names.
Real searches (synthetic family) into real SQLite and PostgreSQL studies."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest
from support import POSTGRES_URL
from sweep_helpers import make_spec

from automl.cli import main
from automl.study.record import TrialKey, read_trial
from automl.sweeps.run import run_sweep
from automl.sweeps.spec import SweepSpec
from automl.sweeps.state import StateStore
from automl.sweeps.tables import RunRow, runs_table, sweeps_table

FIRST_TRIALS = 10  # the TPE sampler's random start-up (automl.backends.factories): after it, its model decides


@pytest.fixture
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where both the run studies and the sweep's run rows go: SQLite, or what the test is parametrized with."""
    kind = getattr(request, "param", "sqlite")
    return f"sqlite:///{tmp_path / 'studies.db'}" if kind == "sqlite" else POSTGRES_URL


both_storages = pytest.mark.parametrize("storage", ["sqlite", "postgresql"], indirect=True)


@pytest.fixture
def state(storage: str) -> Iterator[StateStore]:
    store = StateStore(storage)
    yield store
    store.close()


@pytest.fixture
def name(state: StateStore, storage: str) -> Iterator[str]:
    """A sweep name of its own (the PostgreSQL storage is shared), its rows and studies removed after."""
    sweep = f"resume-{uuid.uuid4().hex[:8]}"
    yield sweep
    with state.engine.begin() as conn:
        conn.execute(runs_table.delete().where(runs_table.c.sweep == sweep))
        conn.execute(sweeps_table.delete().where(sweeps_table.c.name == sweep))
    for study in optuna.get_all_study_names(storage):
        if study.startswith(f"{sweep}-"):
            optuna.delete_study(study_name=study, storage=storage)


def spec_for(name: str, storage: str, **keys: object) -> SweepSpec:
    values: dict[str, object] = {"trials": 4, "limit": 600, "warm_start": {"top_k": 2}, **keys}
    return make_spec(name, schedule=None, storage=storage, **values)


def trials(study: str | None, storage: str) -> list[optuna.trial.FrozenTrial]:
    assert study is not None
    loaded = optuna.load_study(study_name=study, storage=storage)
    return sorted(loaded.get_trials(deepcopy=False), key=lambda t: t.number)


def first_run(name: str, storage: str, state: StateStore) -> tuple[RunRow, list[optuna.trial.FrozenTrial]]:
    first = run_sweep(spec_for(name, storage, trials=FIRST_TRIALS), state)
    return first, trials(first.study, storage)


@both_storages
def test_a_run_on_unchanged_data_starts_from_the_previous_runs_trials(
    storage: str, state: StateStore, name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    first, before = first_run(name, storage, state)
    second = run_sweep(spec_for(name, storage), state)
    after = trials(second.study, storage)

    copies, own = after[: len(before)], after[len(before) :]
    assert len(before) == FIRST_TRIALS
    assert [(t.state, t.params, t.value, t.intermediate_values) for t in copies] == [
        (t.state, t.params, t.value, t.intermediate_values) for t in before
    ]
    assert [t.distributions for t in copies] == [t.distributions for t in before]
    assert [t.user_attrs[TrialKey.COPIED_FROM] for t in copies] == [
        {"study": first.study, "trial": t.number} for t in before
    ]
    assert [read_trial(t).copied_from for t in own] == ["", "", "", ""]  # the run's own: 4 more, as its budget says
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in own)
    # The top 2 the warm start would re-run are among the copies: nothing is enqueued again.
    assert not any(read_trial(t).warm_start for t in own)
    # The sampler saw the copies: a sampler without history draws, with the sweep's seed, what the first run drew
    # first (see the changed-data test below); after ten finished trials TPE's model proposes something else.
    assert own[0].params != before[0].params
    assert second.resumed == FIRST_TRIALS
    assert (second.trials, second.warm_started) == (4, 0)
    assert f"resume: starts from the {FIRST_TRIALS} finished trials of {first.study}" in second.notes
    assert "2 warm-start configuration(s) they already ran are not run again" in second.notes
    assert f"data: unchanged since {first.study}" in second.notes
    study_attrs = optuna.load_study(study_name=second.study, storage=storage).user_attrs  # type: ignore[arg-type]
    assert study_attrs["started_from"] == {"study": first.study, "copied": 10, "reason": "", "warm_skipped": 2}
    assert study_attrs["settings"]["trials"] == FIRST_TRIALS + 4


@both_storages
def test_a_run_on_changed_data_starts_afresh_and_re_runs_the_top_k(
    storage: str, state: StateStore, name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    first, before = first_run(name, storage, state)
    second = run_sweep(spec_for(name, storage, limit=700), state)  # more examples: other splits, other data
    after = trials(second.study, storage)

    assert not any(read_trial(t).copied_from for t in after)
    warm = [t for t in after if read_trial(t).warm_start]
    assert [t.number for t in warm] == [0, 1]  # the previous run's top 2, trained again first
    assert {str(t.params) for t in warm} <= {str(t.params) for t in before}
    assert after[2].params == before[0].params  # no history: the sampler starts where the first run started
    assert (second.resumed, second.warm_started, second.trials) == (0, 2, 4)
    assert f"resume: starts afresh, not from the trials of {first.study}: the data changed since" in second.notes
    assert "warm start: 2 of the previous run's top 2 configurations" in second.notes


def test_resume_false_keeps_the_top_k_re_run_on_unchanged_data(
    storage: str, state: StateStore, name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    run_sweep(spec_for(name, storage), state)
    second = run_sweep(spec_for(name, storage, warm_start={"top_k": 2, "resume": False}), state)
    assert (second.resumed, second.warm_started) == (0, 2)
    assert not any(read_trial(t).copied_from for t in trials(second.study, storage))
    assert "resume:" not in second.notes


def test_each_run_writes_its_log_and_history_names_it(
    storage: str,
    state: StateStore,
    name: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    spec = spec_for(name, storage, reports=str(tmp_path / "out"))
    first = run_sweep(spec, state)
    second = run_sweep(spec, state)
    capsys.readouterr()
    logs = {}
    for run in (first, second):
        path = tmp_path / "out" / name / str(run.study) / "run.log"
        assert run.log_path == str(path)
        logs[run.id] = path.read_text()
    one, two = logs[first.id], logs[second.id]
    assert f"sweep {name}: run {first.id} started" in one
    assert f"sweep {name}: run {second.id} started" not in one  # each file holds its own run only
    assert f"sweep {name}: run {second.id} started" in two
    assert f"resume: starts from the 4 finished trials of {first.study}" in two
    assert "[automl] trial 4 complete" in two  # the search's own progress lines, not only log records
    assert f"sweep {name}: run {second.id} succeeded" in two

    assert main(["sweep", "history", name, "--storage", storage, "--reports", str(tmp_path / "out")]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[-3:] == ["WARM", "LOG", "REASON"]
    assert table[1].split()[-2:] == ["0", f"out/{name}/{first.study}/run.log"]  # relative to the current folder
    assert table[2].split()[-3:] == ["4", "copied", f"out/{name}/{second.study}/run.log"]
    assert main(["sweep", "history", name, "--storage", storage, "--log", str(second.id)]) == 0
    assert capsys.readouterr().out == two


def test_a_failed_run_logs_why_and_a_missing_log_is_one_line(
    storage: str,
    state: StateStore,
    name: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)

    def search_that_breaks(spec: SweepSpec, study: str, space: object, start_from: str | None) -> None:
        print("[automl] trial 0 complete")  # what a search prints before it breaks reaches the log too
        raise RuntimeError("the disk is full")

    with pytest.raises(RuntimeError, match="the disk is full"):
        run_sweep(spec_for(name, storage), state, search=search_that_breaks)  # type: ignore[arg-type]
    (failed,) = state.runs(name)
    assert (failed.status, failed.reason) == ("failed", "RuntimeError: the disk is full")
    log = Path(str(failed.log_path)).read_text().rstrip().splitlines()
    assert "[automl] trial 0 complete" in log
    assert log[-1] == "RuntimeError: the disk is full"  # the traceback ends the file
    Path(str(failed.log_path)).unlink()
    capsys.readouterr()
    assert main(["sweep", "history", name, "--storage", storage, "--log", str(failed.id)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "is not on this machine" in err
    assert main(["sweep", "history", name, "--storage", storage, "--log", "999999"]) == 2
    assert f"has no run 999999; its runs: {failed.id}" in capsys.readouterr().err
