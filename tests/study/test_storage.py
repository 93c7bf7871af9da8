"""Storages shared by workers: password redaction, failure settings, the study lock across processes, and three
and eight workers finishing a PostgreSQL study at exactly its budget."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import POSTGRES_URL
from worker_support import FINISHED, delete_pg_studies, load, make_study, unique, write_space

from automl.errors import StorageError
from automl.job.workers import run_local_workers
from automl.study.storage import FailurePolicy, StudyLock, default_storage_url, open_storage, redact
from automl.validation import ArgumentError

PASSWORD = "s3cret-pw"
# The test server trusts local connections, so a URL with a password works and shows whether it leaks.
PG_WITH_PASSWORD = POSTGRES_URL.replace("postgres@", f"postgres:{PASSWORD}@", 1)


@pytest.fixture
def pg_names() -> Iterator[list[str]]:
    names: list[str] = []
    yield names
    delete_pg_studies(names)


def test_redact_hides_the_password_and_keeps_the_rest() -> None:
    shown = redact("postgresql://alice:pa%40ss@db.example.org:5433/sweeps")
    assert "pa%40ss" not in shown
    assert "pa@ss" not in shown
    assert shown == "postgresql://alice:***@db.example.org:5433/sweeps"
    assert redact("sqlite:////tmp/studies.db") == "sqlite:////tmp/studies.db"


def test_an_unreachable_server_is_reported_without_the_password() -> None:
    with pytest.raises(StorageError) as caught:
        open_storage(f"postgresql://postgres:{PASSWORD}@127.0.0.1:1/test")
    message = str(caught.value)
    assert PASSWORD not in message
    assert "***" in message
    assert "cannot connect" in message


@pytest.mark.parametrize(
    ("kwargs", "name", "flag"),
    [
        ({"heartbeat_interval": 0}, "heartbeat_interval", "--heartbeat-interval"),
        ({"heartbeat_interval": 5, "grace_period": 5}, "grace_period", "--grace-period"),
        ({"max_retry": -1}, "max_retry", "--max-retry"),
        ({"max_consecutive_failures": 0}, "max_consecutive_failures", "--max-failures"),
    ],
)
def test_failure_settings_are_checked_and_named_for_their_caller(kwargs: dict[str, int], name: str, flag: str) -> None:
    with pytest.raises(ArgumentError) as caught:
        FailurePolicy(**kwargs)
    assert str(caught.value).startswith(f"{name}: ")  # the Python API's argument
    assert caught.value.for_cli().startswith(f"{flag}: ")  # the command line's flag


@pytest.mark.parametrize("where", ["default", "postgresql"])
def test_the_study_lock_excludes_another_process(where: str, tmp_path: Path) -> None:
    url = default_storage_url() if where == "default" else POSTGRES_URL
    name = unique("lock")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import time
                from automl.study.storage import StudyLock, open_storage
                lock = StudyLock(open_storage({url!r}, heartbeat=False), {name!r})
                with lock.hold():
                    print("held", flush=True)
                    time.sleep(2)
                """
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        lock = StudyLock(open_storage(url, heartbeat=False), name)
        started = time.monotonic()
        with lock.hold():
            waited = time.monotonic() - started
    finally:
        holder.wait(timeout=30)
    assert waited >= 1.0, f"took the lock after {waited:.2f} s while another process held it"
    other = StudyLock(open_storage(url, heartbeat=False), name + "-other")
    started = time.monotonic()
    with other.hold():  # nobody holds it now
        assert time.monotonic() - started < 1.0


_OPEN_AT_ONCE = """
import sys, time
from automl.study.storage import open_storage
start = float(sys.argv[2])
time.sleep(max(0.0, start - time.time()))  # all processes reach Optuna's table creation together
open_storage(sys.argv[1], heartbeat=False)
"""


@pytest.fixture
def fresh_pg_database() -> Iterator[str]:
    """A PostgreSQL database with no tables yet, dropped afterwards."""
    from sqlalchemy import create_engine, text

    name = unique("automl_schema").replace("-", "_")
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    try:
        yield POSTGRES_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


@pytest.mark.parametrize("where", ["default", "postgresql"])
def test_processes_opening_a_fresh_storage_at_once_all_succeed(where: str, request: pytest.FixtureRequest) -> None:
    # A search, its workers and the dashboard may all open a storage before its tables exist; Optuna's
    # check-then-create raced and the loser died with "table studies already exists" (seen in CI).
    url = default_storage_url() if where == "default" else request.getfixturevalue("fresh_pg_database")
    start = time.time() + 4  # after every interpreter has imported automl and optuna
    openers = [
        subprocess.Popen([sys.executable, "-c", _OPEN_AT_ONCE, url, str(start)], stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    errors = [p.communicate(timeout=120)[1] for p in openers]
    assert [p.returncode for p in openers] == [0] * 4, "\n".join(e[-1500:] for e in errors if e)
    assert open_storage(url, heartbeat=False).get_all_studies() == []


def test_three_workers_finish_a_30_trial_postgresql_study_exactly(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], pg_names: list[str]
) -> None:
    name = unique("three")
    pg_names.append(name)
    # Half a second per trial: worker 1 runs in this process and starts at once, so with instant trials it could
    # finish all 30 while workers 2 and 3 are still starting on a loaded machine (seen once in CI).
    space = write_space(tmp_path / "one_epoch.yaml", trials=30, epochs=1, sleep=0.5)
    make_study(name, PG_WITH_PASSWORD, space, limit=300)

    codes = run_local_workers(name, PG_WITH_PASSWORD, 3, seed=0, cores=2)

    out, err = capfd.readouterr()
    assert codes == [0, 0, 0], err[-3000:]
    trials = load(name, POSTGRES_URL).get_trials()
    finished = [t for t in trials if t.state in FINISHED]
    assert len(finished) == 30  # the study's budget, not 3 x 30 nor 31-32
    assert [t for t in trials if t.state not in FINISHED] == []
    numbers = [t.number for t in trials]
    assert len(numbers) == len(set(numbers)) == 30
    for trial in finished:
        curves = trial.user_attrs["curves"]
        assert set(curves) >= {"loss", "accuracy", "val_loss", "val_accuracy"}
        assert len(curves["val_accuracy"]) == len(trial.intermediate_values) >= 1
    by_worker = Counter(t.user_attrs["worker"] for t in trials)
    assert len(by_worker) == 3, by_worker  # all three took part
    assert PASSWORD not in out + err
    assert "Traceback" not in err


def test_eight_workers_finish_a_postgresql_study_at_exactly_its_budget(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], pg_names: list[str]
) -> None:
    # Each claim counts the budget with one COUNT inside the lock's transaction and records the trial's first
    # heartbeat and worker in it; the trial's other attributes come in one transaction at its end. Eight processes
    # on two cores contend for every claim: none may start a trial past the budget, lose one or finish one twice.
    name = unique("eight")
    pg_names.append(name)
    space = write_space(tmp_path / "short.yaml", trials=40, epochs=2, sleep=0.1)
    make_study(name, POSTGRES_URL, space, limit=300)

    codes = run_local_workers(name, POSTGRES_URL, 8, seed=0, cores=2, quiet=True)

    _, err = capfd.readouterr()
    assert codes == [0] * 8, err[-3000:]
    trials = load(name, POSTGRES_URL).get_trials()
    assert sorted(t.number for t in trials) == list(range(40))  # no trial past the budget, none numbered twice
    assert [t.number for t in trials if t.state not in FINISHED] == []  # none lost (failed, left running)
    for trial in trials:  # each trial's record whole: written by the one worker that ran it
        assert trial.user_attrs["worker"]
        assert trial.user_attrs["config"]["epochs"] == 2
        assert len(trial.user_attrs["curves"]["val_accuracy"]) == len(trial.intermediate_values) >= 1
        assert "fail_reason" not in trial.user_attrs
    assert len({t.user_attrs["worker"] for t in trials}) > 1, "the workers did not share the study"
    assert "Traceback" not in err


def test_a_bug_while_opening_a_storage_is_not_blamed_on_the_url(monkeypatch: pytest.MonkeyPatch) -> None:
    import optuna.storages

    def broken(*args: object, **kwargs: object) -> None:
        raise TypeError("a programming error")

    monkeypatch.setattr(optuna.storages, "RDBStorage", broken)
    with pytest.raises(TypeError, match="a programming error"):  # not "check the URL", not exit 2
        open_storage(default_storage_url())
