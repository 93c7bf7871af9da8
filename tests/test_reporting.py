"""Reports of studies built with known curves (no training): numbers, files, images, plain Optuna studies,
password redaction on a real PostgreSQL, and the Wilson interval."""

from __future__ import annotations

import base64
import math
import re
import uuid
from pathlib import Path

import optuna
import pandas as pd
import pytest
from conftest import POSTGRES_URL
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState, create_trial
from test_diagnostics import GOOD, NAN, OVERFIT, UNDERFIT

from automl import diagnostics as dg
from automl.errors import AutomlError, StorageError
from automl.evaluation import honest_estimate, selection_bias, wilson_interval
from automl.reporting import PLOT_FILES, load_study, report_data, write_report

optuna.logging.set_verbosity(optuna.logging.ERROR)

DISTRIBUTIONS = {
    "units_1": IntDistribution(8, 512, log=True),
    "learning_rate": FloatDistribution(1e-4, 1e-1, log=True),
    "optimizer": CategoricalDistribution(["adam", "sgd"]),
}
FINAL = {
    "best_trial": 2,
    "config": {"units_1": 64, "learning_rate": 0.003, "optimizer": "adam", "epochs": 6},
    "val_value": 0.93,
    "epochs": 3,
    "test_accuracy": 0.9,
    "test_loss": 0.3,
    "n_test": 100,
    "baseline_test_accuracy": 0.88,
    "model_path": "reports/known/model.keras",
    "config_path": "reports/known/config.yaml",
}


def known_trial(curves: dict, *, state: TrialState = TrialState.COMPLETE, lr: float = 0.003, **attrs: object):
    params = {"units_1": 64, "learning_rate": lr, "optimizer": "adam"}
    value = max(curves["val_accuracy"]) if state == TrialState.COMPLETE and "val_accuracy" in curves else None
    steps = curves.get("val_accuracy", [])
    return create_trial(
        state=state,
        value=value,
        params=params,
        distributions=DISTRIBUTIONS,
        user_attrs={"curves": curves, "config": {**params, "epochs": 6}, "n_params": 5000, **attrs},
        intermediate_values={i + 1: v for i, v in enumerate(steps) if math.isfinite(v)},
    )


def known_study(url: str, name: str = "known") -> optuna.Study:
    """Trial 0 overfits, 1 underfits, 2 fits well (the winner), 3 diverged (failed), 4 was pruned at epoch 2."""
    study = optuna.create_study(study_name=name, storage=url, direction="maximize")
    study.set_user_attr("settings", {"metric": "val_accuracy", "direction": "maximize"})
    study.set_user_attr("final", FINAL)
    study.add_trials(
        [
            known_trial(OVERFIT, epochs_trained=6, best_epoch=3, train_seconds=4.0),
            known_trial(UNDERFIT, epochs_trained=4, lr=0.0001),
            known_trial(GOOD, epochs_trained=4, best_epoch=3, train_seconds=2.5),
            known_trial(
                {k: v[:2] for k, v in NAN.items()},
                state=TrialState.FAIL,
                lr=0.09,
                fail_reason="loss became nan at epoch 3; training diverged",
            ),
            known_trial({k: v[:2] for k, v in GOOD.items()}, state=TrialState.PRUNED, pruned_at_epoch=2, lr=0.0002),
        ]
    )
    return study


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'studies.db'}"


def test_known_study_report_numbers(sqlite_url: str) -> None:
    data = report_data(known_study(sqlite_url), top_k=2, storage=sqlite_url)
    labels = {r.number: r.diagnosis.label for r in data.rows}
    assert labels == {0: dg.OVERFITTING, 1: dg.UNDERFITTING, 2: dg.GOOD_FIT, 3: dg.UNSTABLE, 4: dg.GOOD_FIT}
    assert [r.number for r in data.top] == [2, 0]  # 0.93 then 0.86
    assert data.top[0].diagnosis.best_epoch == 3
    assert data.pruning == {
        "trials_counted": 5,
        "budget_epochs": 30,
        "trained_epochs": 6 + 4 + 4 + 2 + 2,
        "saved_by_pruning": 4,
        "saved_by_early_stopping": 0 + 2 + 2,
        "saved_fraction": pytest.approx(12 / 30),
    }
    h = data.honest
    assert h is not None and h.trial == 2 and h.selection_bias == pytest.approx(0.03)
    assert (h.ci_low, h.ci_high) == pytest.approx(wilson_interval(0.9, 100))
    assert data.summary.counts == {dg.OVERFITTING: 1, dg.UNDERFITTING: 1, dg.GOOD_FIT: 2, dg.UNSTABLE: 1}
    assert data.importances and max(data.importances, key=data.importances.get) == "learning_rate"  # it alone varied
    assert sum(data.importances.values()) == pytest.approx(1.0)
    assert data.max_epochs == 6


def test_known_study_files(sqlite_url: str, tmp_path: Path) -> None:
    files = write_report(known_study(sqlite_url), tmp_path / "out", top_k=3, storage=sqlite_url)
    assert sorted(p.name for p in files.images.values()) == sorted(PLOT_FILES.values())
    html = files.html.read_text()
    embedded = re.findall(r"src='data:image/png;base64,([A-Za-z0-9+/=]+)'", html)
    assert len(embedded) == len(PLOT_FILES)
    assert all(base64.b64decode(e).startswith(b"\x89PNG") for e in embedded)
    assert "<link" not in html and "<script" not in html  # nothing loaded from elsewhere
    assert "[0.8256, 0.9448]" in html and "+0.0300" in html  # CI and selection bias
    markdown = files.markdown.read_text()
    for name, (value, _) in dg.THRESHOLDS.items():
        assert f"| {name} | {value:g} |" in markdown
    assert "![Learning curves of the top configurations](learning_curves.png)" in markdown
    table = pd.read_csv(files.csv)
    assert list(table["number"]) == [0, 1, 2, 3, 4]
    assert list(table["state"]) == ["COMPLETE", "COMPLETE", "COMPLETE", "FAIL", "PRUNED"]
    assert table.loc[0, "diagnosis"] == "overfitting"
    assert table.loc[0, "gap_at_end"] == pytest.approx(0.15)
    assert table.loc[0, "val_loss_min_epoch"] == 3
    assert table.loc[3, "fail_reason"].startswith("loss became nan")
    assert table.loc[4, "epochs_trained"] == 2 and table.loc[4, "epochs_budget"] == 6
    assert set(table.columns) >= {"param_units_1", "param_learning_rate", "param_optimizer", "duration_s"}


def test_plain_optuna_study_without_curves_or_config(sqlite_url: str, tmp_path: Path) -> None:
    study = optuna.create_study(study_name="plain", storage=sqlite_url, sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(lambda t: (t.suggest_float("x", -3, 3) - 1) ** 2 + t.suggest_int("n", 0, 4), n_trials=8)
    files = write_report(load_study("plain", sqlite_url), tmp_path / "plain", storage=sqlite_url)
    data = files.data
    assert {r.diagnosis.label for r in data.rows} == {dg.NO_CURVES}
    assert data.summary.recommendations[0].startswith("No per-epoch curves were recorded")
    assert data.top[0].value == pytest.approx(study.best_value) and data.direction == "minimize"
    assert set(files.images) == {"optimization_history", "importances"}
    html = files.html.read_text()
    assert "Not drawn: no per-epoch curves recorded for the top trials" in html
    assert "records no dataset" in html
    assert len(pd.read_csv(files.csv)) == 8


def test_fewer_than_two_completed_trials_has_no_importances(sqlite_url: str, tmp_path: Path) -> None:
    study = optuna.create_study(study_name="one", storage=sqlite_url, direction="maximize")
    study.add_trial(known_trial(GOOD))
    study.add_trial(known_trial(OVERFIT, state=TrialState.PRUNED))
    files = write_report(study, tmp_path / "one")
    assert "importances" not in files.images and not (tmp_path / "one" / "importances.png").exists()
    assert "at least 2 completed trials" in files.markdown.read_text()


def test_large_studies_get_importances_from_a_seeded_sample(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from automl import reporting

    study = known_study(sqlite_url)
    monkeypatch.setattr(reporting, "IMPORTANCE_MAX_TRIALS", 2)  # the known study has 3 completed trials
    first, note = reporting.compute_importances(study)
    assert note.endswith("over a random sample of 2 of the 3 completed trials (seed 0)")
    assert first == reporting.compute_importances(study)[0]  # seeded: the same sample, the same numbers


def test_report_never_shows_the_storage_password(tmp_path: Path) -> None:
    # Trust authentication accepts any password, so a real server sees a URL that carries one.
    url = POSTGRES_URL.replace("postgres@", "postgres:s3cret-pw@", 1)
    assert "s3cret-pw" in url
    name = f"redact-{uuid.uuid4().hex[:8]}"
    known_study(url, name)
    try:
        files = write_report(load_study(name, url), tmp_path / "pg", storage=url)
        assert "postgres:***@" in files.html.read_text()
        for path in files.directory.iterdir():
            assert b"s3cret-pw" not in path.read_bytes(), path.name
    finally:
        optuna.delete_study(study_name=name, storage=url)


def test_loading_errors_are_one_line(sqlite_url: str, tmp_path: Path) -> None:
    known_study(sqlite_url)
    with pytest.raises(StorageError, match=r"study 'nope': not found in sqlite:///.*; known studies: known$"):
        load_study("nope", sqlite_url)
    missing = tmp_path / "missing.db"
    with pytest.raises(StorageError, match="no such SQLite file"):
        load_study("known", f"sqlite:///{missing}")
    assert not missing.exists()
    with pytest.raises(AutomlError, match="--top: must be an integer >= 1, got 0"):
        report_data(load_study("known", sqlite_url), top_k=0)


def test_wilson_interval_and_selection_bias() -> None:
    assert wilson_interval(0.9, 100) == pytest.approx((0.825634, 0.944771), abs=1e-6)
    assert wilson_interval(1.0, 120) == pytest.approx((120 / (120 + 1.959964**2), 1.0), abs=1e-6)
    assert wilson_interval(0.0, 50)[0] == 0.0
    with pytest.raises(ValueError, match="n=0"):
        wilson_interval(0.5, 0)
    assert selection_bias("val_accuracy", 0.95, 0.93, 0.2) == pytest.approx(0.02)
    assert selection_bias("val_loss", 0.15, 0.93, 0.2) == pytest.approx(0.05)
    assert honest_estimate(None, "val_accuracy") is None
