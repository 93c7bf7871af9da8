"""End to end through the installed console script: a tiny sweep run twice with `automl sweep run`, then
`automl sweep history` lists both runs with their best values and log files, the second started from the first's
trials (the data did not change); and `automl scheduler start --once` runs nothing before a sweep is due."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from sweep_helpers import REPO_ROOT, write_spec


@pytest.fixture
def env(isolated_home: Path) -> dict[str, str]:
    # The console script imports whichever automl is on sys.path first: make it this checkout.
    return {**os.environ, "PYTHONPATH": str(REPO_ROOT), "AUTOML_HOME": str(isolated_home), "AUTOML_OFFLINE": "1"}


def automl(
    exe: str, env: dict[str, str], cwd: Path, *args: str, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run([exe, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def test_sweep_run_twice_then_history(tmp_path: Path, automl_exe: str, env: dict[str, str]) -> None:
    spec = write_spec(
        tmp_path / "sweeps",
        "tiny",
        trials=4,
        limit=600,
        warm_start={"top_k": 2},
        storage=f"sqlite:///{tmp_path / 'studies.db'}",
    )
    first = automl(automl_exe, env, tmp_path, "sweep", "run", str(spec))
    assert first.returncode == 0, first.stderr[-3000:]
    second = automl(automl_exe, env, tmp_path, "sweep", "run", str(spec))
    assert second.returncode == 0, second.stderr[-3000:]
    assert "started from the 4 finished trials of tiny-" in second.stdout
    log_line = next(line for line in second.stdout.splitlines() if line.startswith("  log: "))
    run_log = Path(log_line.removeprefix("  log: ")).read_text()
    assert run_log.startswith("[automl] sweep tiny: run 2 started")  # what the command printed, from its start
    assert "[automl] trial 7 complete" in run_log

    history = automl(automl_exe, env, tmp_path, "sweep", "history", "tiny")
    assert history.returncode == 0, history.stderr
    lines = history.stdout.splitlines()
    rows = [line.split() for line in lines[1:3]]
    assert lines[0].split()[:6] == ["RUN", "DUE", "/", "STARTED", "(UTC)", "STUDY"]
    assert [r[4] for r in rows] == ["succeeded", "succeeded"]
    assert all(0.0 < float(r[6]) < 1.0 for r in rows)  # best val_accuracy of each run
    assert [r[5] for r in rows] == ["4", "4"]  # TRIALS: each run's own
    assert rows[0][-2] == "0"  # WARM: a cold start, then the first's 4 trials copied
    assert rows[1][-3:-1] == ["4", "copied"]
    assert [r[-1] for r in rows] == [f"reports/tiny/{r[3]}/run.log" for r in rows]  # LOG, under the study's name
    assert any(line.startswith("trend: ") for line in lines)
    assert (tmp_path / "reports" / "tiny" / "history.png").stat().st_size > 1000

    listing = automl(automl_exe, env, tmp_path, "sweep", "list")
    assert listing.returncode == 0, listing.stderr
    assert "tiny" in listing.stdout
    assert "succeeded" in listing.stdout


def test_scheduler_once_with_nothing_due_exits_at_once(tmp_path: Path, automl_exe: str, env: dict[str, str]) -> None:
    write_spec(tmp_path / "sweeps", "later", schedule="0 3 1 1 *")
    done = automl(automl_exe, env, tmp_path, "scheduler", "start", "--once", timeout=120)
    assert done.returncode == 0, done.stderr
    assert "0 run(s) started" in done.stderr
    listing = automl(automl_exe, env, tmp_path, "sweep", "list")
    assert "0 3 1 1 * (UTC)" in listing.stdout
    assert "never" in listing.stdout


def test_bad_spec_through_the_console_script(tmp_path: Path, automl_exe: str, env: dict[str, str]) -> None:
    spec = write_spec(tmp_path, "bad", schedule="every night")
    done = automl(automl_exe, env, tmp_path, "sweep", "run", str(spec), timeout=120)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert "schedule: must be a 5-field cron expression" in done.stderr
