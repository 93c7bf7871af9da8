"""Tables end to end: a CASH search over every scikit-learn family through the API and the console script, the
regression path (search, report, export, reload and predict), default spaces by data kind, and bad tables on the
command line."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import optuna
import pytest
import yaml
from support import TINY_TABULAR, TINY_TABULAR_REGRESSION, write_mixed_table

from automl import search
from automl.cli import main
from automl.data import load_dataset
from automl.spaces.defaults import IMBALANCED_METRIC, table_default_space
from automl.study.record import read_trial
from automl.study.storage import default_storage_url
from automl.study.study_record import read_study

SKLEARN = {"sklearn_hgb", "sklearn_forest", "sklearn_svm", "sklearn_linear", "sklearn_mlp"}
REPO = Path(__file__).resolve().parents[1]


def test_every_family_trains_in_one_search_of_a_mixed_csv(tmp_path: Path) -> None:
    path = write_mixed_table(tmp_path / "mixed.csv")
    result = search(str(path), str(TINY_TABULAR), target="label", reports_dir=tmp_path / "reports", quiet=True)
    assert result.counts["complete"] == 5
    assert result.study_name.startswith("mixed-")
    study = optuna.load_study(study_name=result.study_name, storage=default_storage_url())
    assert {read_trial(t).config["model"] for t in study.trials} == SKLEARN
    assert result.model_path is not None
    assert result.model_path.suffix == ".skops"
    labels = [r["label"] for r in result.references]
    assert labels[0] == "majority-class predictor"
    assert result.baseline_test_value is not None
    summary = (result.report_dir / "summary.md").read_text()
    assert "majority-class predictor" in summary
    assert (result.report_dir / "report.html").is_file()
    record = read_study(study)
    assert record.data_kind == "table"
    assert record.task == "classification"
    # a worker (or `automl export`) reloads the same splits from what the study recorded
    from automl.job.pipeline import load_study_data

    again = load_study_data(result.study_name, study.user_attrs, data_dir=None)
    assert again.fingerprint() == record.data_fingerprint


def test_regression_end_to_end_search_report_export_reload_predict(tmp_path: Path) -> None:
    import skops.io

    result = search("diabetes", str(TINY_TABULAR_REGRESSION), limit=200, reports_dir=tmp_path / "reports", quiet=True)
    assert result.test_metric == "rmse"
    assert result.metric == "val_rmse"
    assert [r["label"] for r in result.references][0] == "mean predictor"
    assert main(["report", result.study_name, "--top", "3"]) == 0
    assert main(["export", result.study_name, "--out", str(tmp_path / "export")]) == 0
    config = yaml.safe_load((tmp_path / "export" / "config.yaml").read_text())
    assert config["data"]["task"] == "regression"
    assert "skops.io.load" in config["load"]
    model_file = tmp_path / "export" / config["model"]
    model = skops.io.load(model_file, trusted=skops.io.get_untrusted_types(file=model_file))
    data = load_dataset("diabetes", limit=200)
    predictions = model.predict(data.x_test)
    rmse = float(np.sqrt(np.mean((predictions - data.y_test) ** 2)))
    assert rmse == pytest.approx(result.test_value, rel=1e-6)


def test_console_script_searches_a_parquet_table(tmp_path: Path, automl_exe: str) -> None:
    path = write_mixed_table(tmp_path / "mixed.parquet")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [automl_exe, "search", str(path), "--target", "label", "--space", str(TINY_TABULAR), "--no-live"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "5 completed" in done.stdout
    assert "reference, majority-class predictor" in done.stdout
    assert "classification of 2 classes" in done.stderr
    assert "dropped ID-like column(s) customer_id" in done.stderr


def test_tables_get_the_tabular_default_space_for_their_task(tmp_path: Path) -> None:
    assert table_default_space(load_dataset("diabetes")).settings.metric == "val_rmse"
    assert table_default_space(load_dataset("iris")).settings.metric == "val_accuracy"
    rng = np.random.default_rng(0)
    path = tmp_path / "rare.csv"
    rare = np.where(rng.random(200) < 0.1, "fraud", "ok")
    import pandas as pd

    pd.DataFrame({"amount": rng.normal(size=200), "kind": rare}).to_csv(path, index=False)
    space = table_default_space(load_dataset(str(path), target="kind"))
    assert space.name == "tabular_classification"
    assert space.settings.metric == IMBALANCED_METRIC


def test_spaces_list_says_which_default_applies(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["spaces", "list"]) == 0
    out = capsys.readouterr().out
    assert "[default for mnist, fashion_mnist]" in out
    assert "[default for classification tables" in out
    assert "[default for regression tables" in out


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        ("a,b\n" + "1,2\n" * 30, ["--target", "c"], "no column 'c'; its columns are a, b"),
        ("", ["--target", "a"], "the file is empty"),
        ("a,b\n" + "1,x\n" * 30, ["--target", "b"], "has a single class"),
        ("a,b\n" + "1,\n2,3\n" * 15, ["--target", "b"], "has 15 missing value(s)"),
        ("a,b\n" + "1,2\n" * 30, [], "pass --target COLUMN"),
    ],
)
def test_bad_tables_on_the_command_line_are_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, args: list[str], message: str
) -> None:
    path = tmp_path / "t.csv"
    path.write_text(content)
    code = main(["search", str(path), *args, "--trials", "1"])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1


def test_final_stage_reports_balanced_accuracy_intervals_inside_0_1_on_a_small_three_class_table(
    tmp_path: Path,
) -> None:
    # Wine limited to 80 rows leaves a test split of under 20 rows over three uneven classes: per-example
    # balanced-accuracy weights are uneven there, and a t-interval over them went past 1.0 (1.135 here before).
    space = yaml.safe_load(TINY_TABULAR.read_text())
    space["model"] = ["sklearn_hgb", "sklearn_linear"]
    space["search"]["metric"] = "val_balanced_accuracy"
    space["search"]["trials"] = 2
    space["search"]["warm_start"] = [w for w in space["search"]["warm_start"] if w["model"] in space["model"]]
    space["params"] = {k: v for k, v in space["params"].items() if k.split(".")[0] in space["model"]}
    path = tmp_path / "space.yaml"
    path.write_text(yaml.safe_dump(space))
    result = search("wine", str(path), limit=80, reports_dir=tmp_path / "reports", quiet=True)
    assert result.test_metric == "balanced_accuracy"
    study = optuna.load_study(study_name=result.study_name, storage=default_storage_url())
    final = read_study(study).final
    assert final is not None and final.ci_low is not None and final.ci_high is not None
    assert 0.0 <= final.ci_low <= final.test_value <= final.ci_high <= 1.0
    for reference in result.references:
        if reference.get("ci_low") is not None:
            assert 0.0 <= reference["ci_low"] <= reference["ci_high"] <= 1.0


@pytest.mark.parametrize(("dataset", "task"), [("iris", "classification"), ("diabetes", "regression")])
def test_a_default_table_search_starts_from_every_familys_defaults_and_never_ends_below_them(
    tmp_path: Path, dataset: str, task: str
) -> None:
    data = load_dataset(dataset, limit=150)
    space = table_default_space(data)
    defaults = [dict(c) for c in space.settings.warm_start]
    assert {c["model"] for c in defaults} == SKLEARN  # every family, not only boosting and linear
    result = search(dataset, None, limit=150, trials=len(defaults) + 1, reports_dir=tmp_path / "reports", quiet=True)
    study = optuna.load_study(study_name=result.study_name, storage=default_storage_url())
    records = sorted((read_trial(t) for t in study.trials), key=lambda r: r.number)
    first = records[: len(defaults)]
    assert all(r.warm_start for r in first)
    for record, default in zip(first, defaults, strict=True):
        assert {k: record.config[k] for k in default} == default  # each default exactly, in the space's order
    assert all(r.value is not None for r in first)  # recorded like any other trial: trained and scored
    maximize = space.settings.direction == "maximize"
    for record in first:
        assert (result.best_value >= record.value) if maximize else (result.best_value <= record.value)
