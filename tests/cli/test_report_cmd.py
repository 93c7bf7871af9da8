"""`automl report` and `automl export` on a real tiny search, and their one-line errors; the report and the
dashboard notes of table studies (classification and regression) over every scikit-learn family."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import keras
import optuna
import pandas as pd
import pytest
import yaml
from support import TINY_LIMIT, TINY_SPACE, TINY_TABULAR, TINY_TABULAR_REGRESSION

import automl
from automl.cli import main
from automl.data import load_dataset


class Searched:
    def __init__(self, root: Path, result: automl.SearchResult, url: str) -> None:
        self.root, self.result, self.url = root, result, url
        self.study = result.study_name


@pytest.fixture(scope="module")
def searched(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Searched]:
    """One real tiny search (3 trials), shared by the tests below: it is the slow part."""
    root = tmp_path_factory.mktemp("searched")
    url = f"sqlite:///{root / 'studies.db'}"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AUTOML_HOME", str(root / "home"))
        mp.setenv("AUTOML_OFFLINE", "1")
        result = automl.search(
            "mnist",
            str(TINY_SPACE),
            study="tiny",
            storage=url,
            trials=3,
            limit=TINY_LIMIT,
            reports_dir=root / "reports",
            quiet=True,
        )
        yield Searched(root, result, url)


def test_search_writes_the_full_report(searched: Searched) -> None:
    out = searched.root / "reports" / "tiny"
    pngs = sorted(out.glob("*.png"))
    assert len(pngs) == 5
    html = (out / "report.html").read_text()
    assert html.count('src="data:image/png;base64,') == len(pngs)
    assert "Honest final estimate" in html
    assert f"{searched.result.test_accuracy:.4f}" in html
    trials = optuna.load_study(study_name="tiny", storage=searched.url).get_trials()
    table = pd.read_csv(out / "trials.csv")
    assert len(table) == len(trials) == 3
    assert list(table["number"]) == [t.number for t in trials]
    assert table["diagnosis"].notna().all()
    assert (table["diagnosis"] != "no curves recorded").all()
    assert (out / "summary.md").is_file()


def test_report_command_with_seed_spread(
    searched: Searched, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reports = tmp_path / "reports"
    args = ["report", "tiny", "--storage", searched.url, "--top", "1", "--seeds", "2", "--reports", str(reports)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert f"Report: {reports / 'tiny' / 'report.html'}" in out
    assert "95% CI [" in out
    assert "Selection bias (how much better validation looked than test)" in out
    markdown = (reports / "tiny" / "report.md").read_text()
    assert "| trial | seeds | mean test accuracy | std | min | max |" in markdown
    assert len(re.findall(r"^\| \d+ \| 2 \| 0\.\d{4} \|", markdown, flags=re.M)) == 1  # the top 1, two seeds
    study = optuna.load_study(study_name="tiny", storage=searched.url)
    spread = study.user_attrs["seed_evaluations"][str(study.user_attrs["final"]["best_trial"])]
    # Seed 0 is the seed of the final model's first member: the same training, the same score.
    assert spread["test_values"][0] == pytest.approx(study.user_attrs["final"]["member_test_values"][0])


def test_export_loads_with_plain_keras_and_retrains_when_the_model_is_gone(
    searched: Searched, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    images = load_dataset("mnist", limit=TINY_LIMIT).x_test[:5]
    first = tmp_path / "first"
    assert main(["export", "tiny", "--storage", searched.url, "--out", str(first)]) == 0
    assert "copied from the search" in capsys.readouterr().out
    model = keras.saving.load_model(first / "model.keras")
    assert model.predict(images, verbose=0).shape == (5, 10)
    config = yaml.safe_load((first / "config.yaml").read_text())
    assert config["family"] == "keras_mlp"
    assert config["model"] == "model.keras"
    assert config["load"] == f'keras.saving.load_model("{first / "model.keras"}")'
    assert "input" in config["data"]
    assert config["config"] == searched.result.best_params
    assert (first / "report" / "report.html").is_file()

    searched.result.model_path.unlink()  # the saved model is lost: export must retrain the winner
    second = tmp_path / "second"
    assert main(["export", "tiny", "--storage", searched.url, "--out", str(second)]) == 0
    assert "retrained now" in capsys.readouterr().out
    probabilities = keras.saving.load_model(second / "model.keras").predict(images, verbose=0)
    assert probabilities.shape == (5, 10)
    assert probabilities.sum(axis=1) == pytest.approx([1.0] * 5, abs=1e-4)


def test_plain_study_reports_but_cannot_be_retrained(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'plain.db'}"
    optuna.create_study(study_name="plain", storage=url).optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=3)
    assert main(["report", "plain", "--storage", url, "--reports", str(tmp_path)]) == 0
    assert "Advice: No per-epoch curves were recorded" in capsys.readouterr().out
    assert main(["report", "plain", "--storage", url, "--seeds", "2"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("automl: error: study 'plain': records no dataset")
    assert "\n" not in err


def test_unknown_study_is_a_one_line_error(tmp_path: Path, automl_exe: str) -> None:
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    optuna.create_study(study_name="exists", storage=url)
    proc = subprocess.run([automl_exe, "report", "nope", "--storage", url], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"automl: error: study 'nope': not found in {url}; known studies: exists"
    assert proc.stdout == ""


# ---- table studies of the scikit-learn families: a classification and a regression -------------------------

# Each family's full run in the tiny table spaces, in its own "epochs" (steps): boosting and the forest grow in 10
# reported steps (max_iter / n_estimators 10), the MLP trains its 5 epochs, SVM and linear models fit in one go.
TABLE_STEPS = {"sklearn_hgb": 10, "sklearn_forest": 10, "sklearn_svm": 1, "sklearn_linear": 1, "sklearn_mlp": 5}
TABLE_CASES = {  # task: table, space, held-out metric
    "classification": ("wine", TINY_TABULAR, "accuracy"),
    "regression": ("diabetes", TINY_TABULAR_REGRESSION, "rmse"),
}


@pytest.fixture(scope="module")
def table_studies(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """One tiny search per task over every scikit-learn family (a trial each), in one storage."""
    root = tmp_path_factory.mktemp("tables")
    url = f"sqlite:///{root / 'studies.db'}"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AUTOML_HOME", str(root / "home"))
        for task, (dataset, space, _) in TABLE_CASES.items():
            automl.search(
                dataset, str(space), study=f"table-{task}", storage=url, limit=100, reports_dir=root / "reports",
                quiet=True,
            )  # fmt: skip
        yield root, url


@pytest.mark.parametrize("task", sorted(TABLE_CASES))
def test_report_of_a_table_study_of_every_sklearn_family(
    table_studies: tuple[Path, str], task: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from automl.reports import load_study, report_data

    _, url = table_studies
    study_name = f"table-{task}"
    _, _, test_metric = TABLE_CASES[task]
    assert main(["report", study_name, "--storage", url, "--reports", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"Test {test_metric} of the winner retrained on train+validation" in out
    assert "5 PNGs" in out  # every plot was drawn
    folder = tmp_path / study_name
    assert sorted(p.name for p in folder.glob("*.png")) == [
        "gap_vs_value.png", "importances.png", "learning_curves.png", "optimization_history.png",
        "pruning_savings.png",
    ]  # fmt: skip
    markdown = (folder / "report.md").read_text()
    assert "not drawn" not in markdown
    if task == "regression":
        assert "accuracy" not in markdown.lower()
    table = pd.read_csv(folder / "trials.csv")
    assert len(table) == 5
    assert (table["diagnosis"] != "no curves recorded").all()

    data = report_data(load_study(study_name, url), top_k=5)
    by_family = {row.record.config["model"]: row for row in data.rows}
    assert set(by_family) == set(TABLE_STEPS)
    # Each trial's budget is its own family's full run, so pruning and early stopping are credited honestly.
    assert {family: row.epochs_budget for family, row in by_family.items()} == TABLE_STEPS
    assert data.pruning["budget_epochs"] == sum(TABLE_STEPS.values())
    for advice in data.summary.recommendations:  # the network advice (L2, dropout) fits none of these families
        assert "dropout" not in advice and "L2" not in advice, advice


def test_table_study_trials_carry_their_dashboard_notes(table_studies: tuple[Path, str]) -> None:
    from optuna_dashboard._note import get_note_from_system_attrs  # how the dashboard itself reads a note

    _, url = table_studies
    storage = optuna.storages.RDBStorage(url)
    for task, (_, _, test_metric) in TABLE_CASES.items():
        study = optuna.load_study(study_name=f"table-{task}", storage=storage)
        attrs = storage.get_study_system_attrs(study._study_id)
        for trial in study.trials:
            body = get_note_from_system_attrs(attrs, trial._trial_id)["body"]
            assert f"### automl · trial {trial.number} · complete" in body, (task, trial.number, body)
            assert "**Diagnosis: " in body
            assert f"Train − validation {test_metric} gap" in body
            assert f"| model | {trial.params['model']} |" in body
