"""`automl export` copies the model file its family saved, writes config.yaml and the report, retrains only
when the saved model is missing or stale, and never loads Keras itself."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import optuna
import pytest
import yaml
from study_builders import FINAL, current_study

from automl.cli import main
from automl.errors import AutomlError
from automl.models import get_family
from automl.reports import export_study
from automl.reports.export import family_name
from automl.study.record import StudyKey
from automl.study.study_record import read_study


def with_saved_model(study: optuna.Study, folder: Path, best_trial: int = 2) -> Path:
    """Save the synthetic family's final model as the search would and record it in ``final``."""
    family = get_family("synthetic")
    path = family.save(family.fit_final(FINAL["config"], None, epochs=3, seed=0), folder)
    study.set_user_attr(StudyKey.FINAL, {**FINAL, "best_trial": best_trial, "model_path": str(path)})
    return path


def test_export_copies_the_saved_model_and_says_how_to_load_it(tmp_path: Path) -> None:
    study = current_study()
    saved = with_saved_model(study, tmp_path / "search")
    result = export_study(study, tmp_path / "out", retrain=lambda s, out: pytest.fail("nothing to retrain"))
    assert not result.retrained
    assert result.trial == 2
    assert result.family == "synthetic"
    assert result.model == tmp_path / "out" / "model.json"
    assert json.loads(result.model.read_text()) == json.loads(saved.read_text())
    assert result.load_hint == f'json.load(open("{result.model}"))'
    text = result.config.read_text()
    assert text.startswith("# Exported by automl from study 'known'")
    assert result.load_hint in text
    document = yaml.safe_load(text)
    assert document["family"] == "synthetic"
    assert document["model"] == "model.json"
    assert (document["test_metric"], document["test_value"], document["test_ci95"]) == ("accuracy", 0.9, [0.84, 0.95])
    assert document["config"] == FINAL["config"]
    assert document["members"] == 3
    assert result.report.is_file()
    assert result.report == tmp_path / "out" / "report" / "report.html"


def test_a_missing_or_stale_model_is_retrained_first(tmp_path: Path) -> None:
    study = current_study()
    calls: list[Path] = []

    def retrain(s: Any, out: Path) -> None:
        calls.append(out)
        with_saved_model(s, out)

    with_saved_model(study, tmp_path / "search", best_trial=0)  # an earlier winner's model
    result = export_study(study, tmp_path / "out", retrain=retrain)
    assert result.retrained
    assert calls == [tmp_path / "out"]
    assert result.model.is_file()
    assert read_study(study).final is not None
    assert read_study(study).final.best_trial == 2

    (tmp_path / "out" / "model.json").unlink()  # the saved model is lost
    with pytest.raises(AutomlError, match="retraining trial 2 saved no model"):
        export_study(study, tmp_path / "again", retrain=lambda s, out: None)


def test_a_space_choosing_among_families_exports_the_winners() -> None:
    record = read_study(current_study())
    assert family_name(record, {}) == "synthetic"
    choosing = type(record)(**{**record.__dict__, "space": {"model": ["keras_mlp", "synthetic"]}})
    assert family_name(choosing, {"model": "synthetic"}) == "synthetic"
    with pytest.raises(AutomlError, match="names no family"):
        family_name(choosing, {"units_1": 3})


def test_the_export_command_never_loads_keras(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    with_saved_model(current_study(url), tmp_path / "search")
    script = (
        "import sys\n"
        "from automl.cli import main\n"
        f"code = main(['export', 'known', '--storage', {url!r}, '--out', {str(tmp_path / 'out')!r}])\n"
        "loaded = sorted(m for m in ('keras', 'tensorflow', 'torch') if m in sys.modules)\n"
        "print('LOADED', loaded)\n"
        "sys.exit(code)\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "LOADED []" in proc.stdout
    assert "Model:  " in proc.stdout
    assert "copied from the search" in proc.stdout
    assert f'Load it with: json.load(open("{tmp_path / "out" / "model.json"}"))' in proc.stdout


def test_exporting_a_study_without_a_winner_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    optuna.create_study(study_name="empty", storage=url)
    assert main(["export", "empty", "--storage", url, "--out", str(tmp_path / "out")]) == 2
    assert (
        capsys.readouterr().err.strip()
        == "automl: error: study 'empty': no trial completed, so there is no winner to export"
    )
