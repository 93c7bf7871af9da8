"""`automl worker`: joins a study by name alone and stops at the study's budget; its mistakes are one line and
exit 2; its failure cap and settings are honoured; a storage password never shows."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState
from support import POSTGRES_URL
from worker_support import FINISHED, load, make_study, unique, write_space

from automl.cli import main
from automl.errors import StorageError
from automl.study.storage import default_storage_url, open_storage


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_a_worker_joins_by_name_and_stops_at_the_study_budget(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_study("join", default_storage_url(), write_space(tmp_path / "s.yaml", trials=3, epochs=1), limit=300)

    code, out, err = run_cli(capsys, "worker", "--study", "join", "--seed", "3", "--label", "w7")
    assert code == 0, err
    assert "study join has 3/3 finished trials" in out
    assert sum(line.startswith("[w7] trial ") for line in err.splitlines()) == 3
    study = load("join", default_storage_url())
    assert len(study.get_trials(states=FINISHED)) == 3
    assert len(study.trials) == 3

    code, out, err = run_cli(capsys, "worker", "--study", "join")  # the budget is the study's: nothing left
    assert code == 0
    assert "0 completed" in out
    assert "3/3" in out
    assert len(load("join", default_storage_url()).trials) == 3


def test_a_worker_refuses_a_study_the_ray_backend_recorded(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Recorded by the store exactly as the Ray backend's search records it (the Ray tests make one on a real
    # cluster, tests/backends/ray/test_worker_refusal.py); here, without a cluster, so it runs everywhere.
    make_study("on-ray", default_storage_url(), write_space(tmp_path / "s.yaml", trials=3, epochs=1), limit=300,
               backend="ray")  # fmt: skip
    capsys.readouterr()  # what loading the data logged
    code, out, err = run_cli(capsys, "worker", "--study", "on-ray")
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1, err
    assert err.startswith("automl: error: study 'on-ray': made by the Ray backend"), err
    assert "`automl search ... --backend ray --study on-ray`" in err
    assert load("on-ray", default_storage_url()).trials == []  # refused before any trial
    from automl.job.worker import run_worker

    with pytest.raises(StorageError, match="made by the Ray backend"):  # from Python too, not only the CLI
        run_worker("on-ray", default_storage_url())


def test_a_worker_stops_after_the_configured_run_of_failures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    space = tmp_path / "diverges.yaml"
    space.write_text(
        """
model: synthetic
search: {sampler: random, pruner: none, trials: 10, patience: 2}
params:
  learning_rate: {type: float, low: 1.0e-3, high: 1.0e-2}
  diverge_at:    {type: fixed, value: 1}
  epochs:        {type: fixed, value: 1}
"""
    )
    from automl.spaces import load_space

    make_study("diverging", default_storage_url(), load_space(str(space)), limit=300)
    code, out, err = run_cli(capsys, "worker", "--study", "diverging", "--max-failures", "2")
    assert code == 2
    lines = [line for line in err.splitlines() if line.startswith("automl: error:")]
    assert len(lines) == 1
    assert "2 trials in a row failed (last: " in lines[0]
    assert "diverged" in lines[0]
    trials = load("diverging", default_storage_url()).trials
    assert [t.state for t in trials] == [TrialState.FAIL, TrialState.FAIL]
    assert all("diverged" in t.user_attrs["fail_reason"] for t in trials)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--study", "nope"], "study 'nope': not found"),
        (["--study", "x", "--heartbeat-interval", "5", "--grace-period", "5"], "--grace-period: must be"),
        (["--study", "x", "--timeout", "0"], "--timeout: must be"),
        (["--study", "plain"], "records no space or dataset"),
    ],
)
def test_worker_mistakes_are_one_line_and_exit_2(
    args: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    optuna.create_study(study_name="plain", storage=open_storage(heartbeat=False))  # not made by automl
    code, _, err = run_cli(capsys, "worker", *args)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("automl: error: "), err
    assert expected in lines[0], err


def test_a_storage_password_is_never_printed(capsys: pytest.CaptureFixture[str]) -> None:
    url = POSTGRES_URL.replace("postgres@", "postgres:s3cret@", 1)
    code, out, err = run_cli(capsys, "worker", "--study", unique("absent"), "--storage", url)
    assert code == 2
    assert "not found in postgresql://postgres:***@" in err
    assert "s3cret" not in out + err
