"""Several workers on one study: local worker processes on the embedded default storage, a worker killed with
SIGKILL mid-trial (on SQLite and on PostgreSQL), and SIGTERM reaching the workers of ``automl search --workers``.

Real processes and real databases; trials of the ``synthetic`` family (formula curves, a sleep per epoch standing
in for training), since what is tested is the coordination. The helpers they share with the other worker tests are in
worker_support.py.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from optuna.storages import RetryHeartbeatStaleTrialCallback
from optuna.trial import TrialState
from support import POSTGRES_URL
from worker_support import FINISHED, delete_pg_studies, load, make_study, unique, write_space

import automl
from automl.data import load_dataset
from automl.data.handoff import DATA_HANDOFF_ENV, save_dataset_for_workers
from automl.errors import AutomlError
from automl.job.worker import run_worker
from automl.job.workers import check_workers, threads_per_worker, worker_argv
from automl.study.storage import FailurePolicy, default_storage_url

FAST = FailurePolicy(heartbeat_interval=1, grace_period=3, max_retry=1)


# --------------------------------------------------------------------------------------------------------------
# Helpers


def wait_for(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def worker_env(url: str) -> dict[str, str]:
    return {**os.environ, "AUTOML_STORAGE": url, "TF_CPP_MIN_LOG_LEVEL": "2"}


@pytest.fixture
def pg_names() -> Iterator[list[str]]:
    """Study names to delete from PostgreSQL after the test, whatever happened."""
    names: list[str] = []
    yield names
    delete_pg_studies(names)


# --------------------------------------------------------------------------------------------------------------
# Pure parts


def test_threads_split_the_cores_between_workers() -> None:
    assert threads_per_worker(1, cores=2) == 2
    assert threads_per_worker(2, cores=2) == 1
    assert threads_per_worker(3, cores=2) == 1  # never zero
    assert threads_per_worker(2, cores=16) == 8


def test_worker_command_lines_differ_in_seed_and_never_carry_the_storage() -> None:
    lines = [
        worker_argv("s", index=i, seed=7, threads=1, timeout=None, data_dir=None, policy=FailurePolicy())
        for i in range(3)
    ]
    seeds = [line[line.index("--seed") + 1] for line in lines]
    assert seeds == ["7", "8", "9"]
    assert all("--storage" not in line for line in lines)  # the URL (maybe with a password) goes by environment


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2", True])
def test_workers_must_be_a_positive_integer(bad: Any) -> None:
    with pytest.raises(AutomlError, match="workers: must be an integer >= 1"):
        check_workers(bad)


# --------------------------------------------------------------------------------------------------------------
# Local workers on the embedded default storage


def test_two_local_workers_share_the_default_storage_without_lock_errors(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    space = write_space(tmp_path / "one_epoch.yaml", trials=40, epochs=1, sleep=0.2)
    result = automl.search(
        "mnist", space, study="pair", trials=40, limit=300, workers=2, finish=False, reports_dir=tmp_path
    )
    out, err = capfd.readouterr()  # the workers' output too: they write to this process's descriptors
    study = load("pair", default_storage_url())
    trials = study.get_trials()
    assert len(study.get_trials(states=FINISHED)) == 40
    assert [t for t in trials if t.state != TrialState.COMPLETE and t.state != TrialState.PRUNED] == []
    assert "locked" not in out + err, err[-3000:]
    assert "Traceback" not in err, err[-3000:]
    workers = {t.user_attrs["worker"] for t in trials}
    assert len(workers) == 2
    assert all(sum(t.user_attrs["worker"] == w for t in trials) >= 8 for w in workers)
    assert result.counts["complete"] + result.counts["pruned"] == 40


# --------------------------------------------------------------------------------------------------------------
# A worker killed mid-trial


@pytest.mark.parametrize("where", ["default", "postgresql"])
def test_a_killed_workers_trial_is_failed_in_time_and_rerun_with_the_same_params(
    where: str, tmp_path: Path, automl_exe: str, pg_names: list[str]
) -> None:
    url = default_storage_url() if where == "default" else POSTGRES_URL
    name = unique("killed")
    pg_names.append(name)
    # No pruning and no early stop: a trial runs all its 25 epochs (10 s), long enough to be killed in the middle.
    space = write_space(tmp_path / "long.yaml", trials=2, epochs=25, pruner="none", patience=50, sleep=0.4)
    make_study(name, url, space, limit=300)
    # Handed the prepared data, as local workers are, the victim starts its first trial a few seconds sooner.
    assert save_dataset_for_workers(load_dataset("mnist", limit=300), tmp_path / "data.npz")
    flags = ["--heartbeat-interval", "1", "--grace-period", "3", "--max-retry", "1", "--threads", "1"]
    victim = subprocess.Popen(
        [automl_exe, "worker", "--study", name, "--seed", "1", "--quiet", *flags],
        env={**worker_env(url), DATA_HANDOFF_ENV: str(tmp_path / "data.npz")},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        study = load(name, url)
        mid = wait_for(
            lambda: [t for t in study.get_trials(states=(TrialState.RUNNING,)) if t.intermediate_values],
            timeout=120,
            what="the worker's trial to report an epoch",
        )[0]
        victim.kill()
        killed_at = datetime.now()
    finally:
        victim.kill()
        victim.communicate()
    assert study.get_trials(states=FINISHED) == []  # it died in the middle of its first trial

    # Another worker joins. Its claim finds the dead trial still within its grace period and starts a new trial;
    # while that runs, its heartbeat notices the dead one, fails it and queues the retry, which it runs next.
    report = run_worker(name, url, seed=2, policy=FAST, quiet=True)

    trials = {t.number: t for t in load(name, url).get_trials()}
    dead = trials[mid.number]
    assert dead.state == TrialState.FAIL
    assert "no heartbeat" in dead.user_attrs["fail_reason"]
    # Failed no later than one grace period plus one heartbeat after it went silent (+1 s: SQLite's clock has
    # whole seconds; +2 s: the suite's other process trains beside this one, and in CI the survivor's heartbeat
    # thread once ran its check 6.05 s after the kill, 1.05 s late).
    late = 3
    assert (dead.datetime_complete - killed_at).total_seconds() <= FAST.grace_period + FAST.heartbeat_interval + late
    retries = [t for t in trials.values() if RetryHeartbeatStaleTrialCallback.retried_trial_number(t) == dead.number]
    assert len(retries) == 1
    retry = retries[0]
    assert retry.state == TrialState.COMPLETE
    assert retry.params == dead.params
    assert len(retry.user_attrs["curves"]["val_accuracy"]) == 25  # its own full curves, not the dead run's
    assert "fail_reason" not in retry.user_attrs
    assert sorted(t.state.name for t in trials.values()) == ["COMPLETE", "COMPLETE", "FAIL"]
    assert report.study_finished == 2


# --------------------------------------------------------------------------------------------------------------
# SIGTERM


def test_sigterm_stops_search_workers_and_leaves_no_trial_running(tmp_path: Path, automl_exe: str) -> None:
    space_file = tmp_path / "long.yaml"
    write_space(space_file, trials=50, epochs=25, pruner="none", patience=50, sleep=0.5)
    search = subprocess.Popen(
        [
            automl_exe,
            "search",
            "mnist",
            "--space",
            str(space_file),
            "--limit",
            "300",
            "--study",
            "term",
            "--workers",
            "2",
            "--no-live",
            "--reports",
            str(tmp_path / "reports"),
        ],
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(
            lambda: (
                os.path.exists(default_storage_url().removeprefix("sqlite:///")) and _running_with_epochs("term") >= 2
            ),
            timeout=150,
            what="both workers to be in the middle of a trial",
        )
        search.send_signal(signal.SIGTERM)
        out, err = search.communicate(timeout=90)
    finally:
        if search.poll() is None:
            search.kill()
    assert search.returncode == 130, err[-3000:]
    assert "interrupted" in err
    assert "Traceback" not in err
    trials = load("term", default_storage_url()).get_trials()
    assert [t.number for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)] == []
    stopped = [t for t in trials if t.state == TrialState.FAIL]
    assert len(stopped) == 2
    assert all(t.user_attrs["fail_reason"].startswith("interrupted") for t in stopped)
    assert len({t.user_attrs["worker"] for t in stopped}) == 2  # one in each worker process


def _running_with_epochs(name: str) -> int:
    try:
        study = load(name, default_storage_url())
    except KeyError:
        return 0
    return sum(bool(t.intermediate_values) for t in study.get_trials(states=(TrialState.RUNNING,)))
