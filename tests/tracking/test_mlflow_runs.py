"""MLflow tracking: a small search logs a run per finished trial and registers its final model in a local MLflow
store with no server, read back through MLflow's own client; a missing package or a store MLflow cannot use is one
line and exit 2 before any trial."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import optuna
import pytest
from mlflow import MlflowClient
from support import TINY_LIMIT, TINY_SYNTHETIC

import automl
from automl.analysis.diagnostics import diagnose_trial
from automl.cli import main
from automl.study.record import read_trial
from automl.study.storage import default_storage_url
from automl.tracking.mlflow_runs import redact_uri

# Successive halving over random configurations: some trials are pruned, so both run kinds are logged.
LADDER = """
name: ladder
model: synthetic
search:
  sampler: random
  pruner: asha
  min_epochs: 1
  reduction_factor: 3
  trials: {trials}
  patience: 100
  {mlflow}
params:
  learning_rate: {{type: float, low: 0.001, high: 0.1, log: true}}
  units_1:       {{type: int, low: 8, high: 64}}
  epochs:        {{type: fixed, value: 9}}
"""


@pytest.fixture(autouse=True)
def in_tmp_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A sqlite store keeps its artifacts in ./mlruns (MLflow's default): here, not in the checkout."""
    monkeypatch.chdir(tmp_path)


def write_space(path: Path, trials: int, mlflow: str = "") -> Path:
    path.write_text(LADDER.format(trials=trials, mlflow=f"mlflow: {mlflow}" if mlflow else ""))
    return path


def trial_runs(client: MlflowClient, study: str) -> dict[int, Any]:
    """The study's trial runs by trial number; a trial logged twice fails here."""
    experiment = client.get_experiment_by_name(study)
    assert experiment is not None, f"no experiment {study!r}"
    runs = client.search_runs([experiment.experiment_id], filter_string="tags.`automl.kind` = 'trial'")
    numbers = [int(run.data.tags["automl.trial"]) for run in runs]
    assert len(numbers) == len(set(numbers)), f"a trial has more than one run: {sorted(numbers)}"
    return {int(run.data.tags["automl.trial"]): run for run in runs}


def finished_trials(study: str) -> list[optuna.trial.FrozenTrial]:
    loaded = optuna.load_study(study_name=study, storage=default_storage_url())
    return [t for t in loaded.trials if t.state.is_finished()]


def test_a_search_logs_each_finished_trial_and_registers_the_final_model(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    space = write_space(tmp_path / "ladder.yaml", trials=12)
    result = automl.search("mnist", str(space), study="tracked", limit=TINY_LIMIT, quiet=True, mlflow=uri)

    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    runs = trial_runs(client, "tracked")
    trials = finished_trials("tracked")
    assert sorted(runs) == [t.number for t in trials] and len(trials) == 12
    states = set()
    for trial in trials:
        record, run = read_trial(trial), runs[trial.number]
        states.add(record.state)
        assert run.info.status == ("FAILED" if record.state == "FAIL" else "FINISHED")
        assert run.data.params == {key: str(value) for key, value in record.config.items()}
        assert run.data.tags["automl.state"] == record.state
        assert run.data.tags["automl.diagnosis"] == diagnose_trial(record, "val_accuracy", True).title
        for name, values in record.curves.items():  # each epoch's value, at its epoch
            history = client.get_metric_history(run.info.run_id, name)
            assert [(m.step, m.value) for m in history] == list(enumerate(values, start=1))
        if record.value is not None:
            assert run.data.metrics["objective"] == record.value
    assert states == {"COMPLETE", "PRUNED"}  # both kinds were logged
    pruned = next(runs[t.number] for t in trials if t.state.name == "PRUNED")
    assert pruned.data.tags["automl.diagnosis"].startswith("pruned at epoch")

    assert result.test_value is not None and result.mlflow_model == "models:/tracked/1"
    version = client.get_model_version("tracked", "1")
    assert version.tags["automl.test_metric"] == "accuracy"
    assert float(version.tags["automl.test_value"]) == result.test_value
    final = client.get_run(version.run_id)
    assert final.data.tags["automl.kind"] == "final" and final.info.run_name == "final"
    assert final.data.metrics["test_accuracy"] == result.test_value
    assert final.data.metrics["baseline_test_accuracy"] == result.baseline_test_value
    assert final.data.params["units_1"] == str(result.best_params["units_1"])
    assert result.model_path is not None
    saved = Path(client.download_artifacts(version.run_id, f"model/{result.model_path.name}", str(tmp_path / "dl")))
    assert saved.read_text() == result.model_path.read_text()  # the registered files are the exported model
    assert {a.path for a in client.list_artifacts(version.run_id, "model")} == {"model/model.json", "model/config.yaml"}


def test_the_flag_overrides_the_space_and_a_resumed_study_logs_each_trial_once(tmp_path: Path) -> None:
    file_uri = f"file:{tmp_path}/from_space"
    space = write_space(tmp_path / "tracked.yaml", trials=3, mlflow=file_uri)
    automl.search("mnist", str(space), study="resumed", limit=TINY_LIMIT, quiet=True, finish=False)
    from_space = MlflowClient(tracking_uri=file_uri, registry_uri=file_uri)
    assert sorted(trial_runs(from_space, "resumed")) == [0, 1, 2]  # the space's file: store, no server

    sqlite_uri = f"sqlite:///{tmp_path}/flag.db"
    automl.search(
        "mnist", str(space), study="resumed", trials=5, limit=TINY_LIMIT, quiet=True, finish=False, mlflow=sqlite_uri
    )
    assert sorted(trial_runs(from_space, "resumed")) == [0, 1, 2]  # the flag won: nothing more went there
    # the new trials as they finished, the earlier ones when the search concluded: each once
    assert sorted(trial_runs(MlflowClient(tracking_uri=sqlite_uri), "resumed")) == [0, 1, 2, 3, 4]


SLOW = """
name: slow
model: synthetic
search: {sampler: random, pruner: none, trials: 8}
params:
  learning_rate: {type: float, low: 0.001, high: 0.1, log: true}
  epochs:        {type: fixed, value: 2}
  sleep:         {type: fixed, value: 0.5}
"""


def test_trials_run_by_other_workers_are_logged_when_the_search_concludes(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    space = tmp_path / "slow.yaml"
    space.write_text(SLOW)  # a second per trial: the child worker starts while trials remain
    automl.search("mnist", str(space), study="pair", limit=300, workers=2, quiet=True, finish=False, mlflow=uri)
    trials = finished_trials("pair")
    assert len({t.user_attrs["worker"] for t in trials}) == 2  # the child process ran some of them
    assert sorted(trial_runs(MlflowClient(tracking_uri=uri), "pair")) == [t.number for t in trials]


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(list(args))
    return code, capsys.readouterr().err


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("nope://x", "--mlflow: MLflow cannot use 'nope://x' (Model registry functionality is unavailable"),
        ("postgresql://bob:s3cret@127.0.0.1:1/x", "MLflow cannot use 'postgresql://bob:***@127.0.0.1:1/x'"),
    ],
)
def test_a_store_mlflow_cannot_use_is_one_line_and_exit_2_before_any_trial(
    capsys: pytest.CaptureFixture[str], isolated_home: Path, uri: str, expected: str
) -> None:
    code, err = run_cli(capsys, "search", "mnist", "--space", str(TINY_SYNTHETIC), "--mlflow", uri)
    assert code == 2
    assert err.strip().splitlines() == [err.strip()] and err.startswith("automl: error: "), err
    assert expected in err and "give a tracking URI such as sqlite:///mlflow.db" in err
    assert "s3cret" not in err
    assert not (isolated_home / "studies.db").exists()  # checked before the storage was even opened


def test_without_mlflow_installed_the_flag_and_the_setting_say_what_to_install(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path, isolated_home: Path
) -> None:
    monkeypatch.setitem(sys.modules, "mlflow", None)  # what an environment without the package sees: ImportError
    code, err = run_cli(capsys, "search", "mnist", "--space", str(TINY_SYNTHETIC), "--mlflow", "sqlite:///m.db")
    assert code == 2
    assert err == (
        "automl: error: --mlflow: needs the mlflow package, which is not installed here; "
        "install it with pip install 'automl[mlflow]'\n"
    )
    space = write_space(tmp_path / "tracked.yaml", trials=2, mlflow="sqlite:///m.db")
    code, err = run_cli(capsys, "search", "mnist", "--space", str(space))
    assert code == 2
    assert err.startswith(f"automl: error: {space}: search.mlflow: needs the mlflow package"), err
    assert not (isolated_home / "studies.db").exists()


def test_the_space_setting_must_be_a_uri(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    space = write_space(tmp_path / "bad.yaml", trials=2, mlflow="3")
    code, err = run_cli(capsys, "search", "mnist", "--space", str(space))
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "search.mlflow: must be an MLflow tracking URI such as sqlite:///mlflow.db" in err


def test_import_automl_does_not_import_mlflow() -> None:
    code = "import sys, automl, automl.api, automl.cli; print(sorted(m for m in sys.modules if m == 'mlflow'))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_a_password_in_a_tracking_uri_is_never_printed() -> None:
    assert redact_uri("postgresql://bob:s3cret@db:5432/ml") == "postgresql://bob:***@db:5432/ml"
    assert redact_uri("http://tracking:5000") == "http://tracking:5000"
    assert redact_uri("file:./mlruns") == "file:./mlruns"
