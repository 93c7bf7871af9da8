"""The final stage's ensemble of the best trials (automl.job.ensemble) with real scikit-learn models on real
tables: chosen only when it beats the single best on validation, said so in the summary, saved as one skops file
that loads without automl and predicts through ``automl export`` and ``automl predict`` like a single model."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pandas as pd
import pytest
import yaml

import automl
from automl.job.ensemble import candidates, choose_ensemble
from automl.job.final import study_space
from automl.job.pipeline import load_study_data
from automl.study.storage import default_storage_url
from automl.study.study_record import read_study

REPO = Path(__file__).resolve().parents[2]

# Three families at small sizes, scored by validation log loss: an average of different models' probabilities is
# almost always better calibrated than any one of them, so selection keeps an ensemble.
SPACE = """
name: tiny_ensemble
model: [sklearn_hgb, sklearn_linear, sklearn_forest]
search:
  metric: val_loss
  direction: minimize
  sampler: random
  pruner: none
  trials: 4
  patience: 3
  warm_start:
    - {model: sklearn_hgb, sklearn_hgb.learning_rate: 0.3}
    - {model: sklearn_linear, sklearn_linear.alpha: 1.0}
    - {model: sklearn_forest, sklearn_forest.max_features: 0.5}
params:
  sklearn_hgb.learning_rate:   {type: float, low: 0.05, high: 0.5, log: true}
  sklearn_hgb.max_iter:        {type: fixed, value: 10}
  sklearn_linear.alpha:        {type: float, low: 0.01, high: 10.0, log: true}
  sklearn_forest.n_estimators: {type: fixed, value: 10}
  sklearn_forest.max_features: {type: float, low: 0.2, high: 1.0}
"""


def _skops_load(path: Path) -> Any:
    import skops.io

    return skops.io.load(path, trusted=skops.io.get_untrusted_types(file=path))


def _study(name: str) -> Any:
    return optuna.load_study(study_name=name, storage=default_storage_url())


@pytest.fixture(scope="module")
def searched(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    """One search of breast_cancer for the module (its own AUTOML_HOME: the autouse one is per test)."""
    root = tmp_path_factory.mktemp("ensemble")
    space = root / "tiny_ensemble.yaml"
    space.write_text(SPACE)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AUTOML_HOME", str(root / "home"))
        patch.setenv("AUTOML_OFFLINE", "1")
        patch.delenv("AUTOML_STORAGE", raising=False)
        result = automl.search("breast_cancer", str(space), reports_dir=root / "reports", quiet=True)
        study = _study(result.study_name)
        data = load_study_data(result.study_name, study.user_attrs, data_dir=None)
    return result, (study, data)


def test_an_ensemble_that_beats_the_single_best_on_validation_is_the_final_model(searched: tuple[Any, Any]) -> None:
    result, (study, data) = searched
    final = read_study(study).final
    assert final is not None
    ensemble = final.final_stage["ensemble"]
    assert ensemble["chosen"] == "ensemble", ensemble
    assert ensemble["val_value"] < ensemble["single_val_value"]  # log loss: lower is better
    assert len(ensemble["members"]) >= 2
    assert all(isinstance(m["weight"], int) and m["weight"] >= 1 for m in ensemble["members"])
    # one skops file, a plain scikit-learn estimator, scoring on the test split what the record says
    model = _skops_load(Path(final.model_path))
    assert type(model).__name__ == "VotingClassifier"
    proba = model.predict_proba(data.x_test)
    loss = float(-np.log(np.clip(proba[np.arange(len(data.y_test)), data.y_test], 1e-15, 1)).mean())
    assert loss == pytest.approx(result.test_value)
    config = yaml.safe_load(Path(final.config_path).read_text())
    assert [m["trial"] for m in config["ensemble"]] == [m["trial"] for m in ensemble["members"]]
    summary = (result.report_dir / "summary.md").read_text()
    assert "The final model is a weighted ensemble" in summary
    assert "greedy ensemble selection" in summary


def test_candidates_are_each_familys_best_first_the_winner_leading(searched: tuple[Any, Any]) -> None:
    _, (study, data) = searched
    winner = read_study(study).final.best_trial  # type: ignore[union-attr]
    pool = candidates(study, study_space(study), winner, "sklearn")
    assert pool[0].trial == winner
    families = [c.family for c in pool]
    assert set(families[:3]) == {"sklearn_hgb", "sklearn_linear", "sklearn_forest"}
    assert len({(c.family, str(c.config)) for c in pool}) == len(pool)  # distinct configurations
    # no time at all: the single best stays, and the record says why
    said: list[str] = []
    choice = choose_ensemble(study, study_space(study), data, winner, "single", 0, 0.0, said.append)
    assert choice.model == "single"
    assert choice.record["chosen"] == "single"
    assert "time left" in choice.record["why"]
    assert said and said[-1].startswith("the final model is the single best trial")


def test_a_family_that_joins_no_ensemble_records_none(tmp_path: Path) -> None:
    from support import TINY_SYNTHETIC

    result = automl.search("mnist", str(TINY_SYNTHETIC), trials=2, reports_dir=tmp_path / "reports", quiet=True)
    final = read_study(_study(result.study_name)).final
    assert final is not None
    assert final.final_stage["ensemble"] == {}


def _table(path: Path, rows: int = 2400) -> Path:
    """Over 2,000 rows (a validation split, no cross-validation), a string column, missing values, string labels."""
    from sklearn.datasets import make_classification

    x, y = make_classification(rows, n_features=6, n_informative=4, n_classes=3, random_state=0)
    frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(6)])
    frame.loc[::7, "f0"] = np.nan
    frame["town"] = np.where(x[:, 1] > 0, "north", "south")
    frame["label"] = np.array(["low", "mid", "high"])[y]
    frame.to_csv(path, index=False)
    return path


def _cli(home: Path, *args: str) -> str:
    env = {**os.environ, "AUTOML_HOME": str(home), "AUTOML_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    env.pop("AUTOML_STORAGE", None)
    done = subprocess.run([sys.executable, "-m", "automl", *args], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_an_ensemble_exports_and_predicts_like_a_single_model(tmp_path: Path) -> None:
    table = _table(tmp_path / "shops.csv")
    space = tmp_path / "tiny_ensemble.yaml"
    space.write_text(SPACE)
    home = tmp_path / "home"
    _cli(home, "search", str(table), "--target", "label", "--space", str(space), "--study", "shops", "--no-live",
         "--reports", str(tmp_path / "reports"))  # fmt: skip
    storage = f"sqlite:///{home / 'studies.db'}"
    study = optuna.load_study(study_name="shops", storage=storage)
    ensemble = read_study(study).final.final_stage["ensemble"]  # type: ignore[union-attr]
    assert ensemble["chosen"] == "ensemble", ensemble
    _cli(home, "export", "shops", "--out", str(tmp_path / "export"))
    config = yaml.safe_load((tmp_path / "export" / "config.yaml").read_text())
    model = _skops_load(tmp_path / "export" / config["model"])
    assert type(model).__name__ == "VotingClassifier"
    rows = pd.read_csv(table).head(50)
    names = config["labels"]["class_names"]
    expected = [names[i] for i in model.predict(rows.drop(columns=["label"]))]
    for source in ("shops", str(tmp_path / "export")):
        out = pd.read_csv(io.StringIO(_cli(home, "predict", source, str(table), "--proba")))
        assert list(out.iloc[:50, 0]) == expected
        assert np.allclose(out[names].to_numpy()[:50], model.predict_proba(rows.drop(columns=["label"])))
