"""Report data from studies with known curves: the numbers, task-neutral final estimates, pruned trials apart,
studies from before the record had a version, and studies from a newer automl (refused in one line)."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
from curve_fixtures import GOOD
from optuna.trial import TrialState
from study_builders import FINAL, FINAL_V1, current_study, known_study, known_trial, regression_study

from automl.analysis import diagnostics as dg
from automl.analysis.intervals import wilson_interval
from automl.cli import main
from automl.errors import AutomlError
from automl.reports import data as report_data_module
from automl.reports import load_study, report_data
from automl.study.record import RECORD_VERSION, RecordError, StudyKey, TrialKey


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'studies.db'}"


def test_known_study_numbers() -> None:
    data = report_data(current_study(), top_k=2)
    labels = {r.number: r.diagnosis.label for r in data.rows}
    assert labels == {0: dg.OVERFITTING, 1: dg.UNDERFITTING, 2: dg.GOOD_FIT, 3: dg.UNSTABLE, 4: dg.PRUNED}
    assert data.rows[4].diagnosis.title == "pruned at epoch 2"
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
    # The pruned trial is counted apart, not as the second underfitting trial its curves would suggest.
    assert data.summary.counts == {dg.OVERFITTING: 1, dg.UNDERFITTING: 1, dg.GOOD_FIT: 1, dg.UNSTABLE: 1}
    assert data.summary.n_pruned == 1
    assert data.summary.n_diagnosed == 4
    assert data.importances
    assert max(data.importances, key=data.importances.get) == "learning_rate"  # it alone varied
    assert sum(data.importances.values()) == pytest.approx(1.0)
    assert data.max_epochs == 6
    assert (data.metric, data.test_metric, data.direction) == ("val_accuracy", "accuracy", "maximize")


def test_the_final_estimate_uses_the_recorded_interval() -> None:
    f = report_data(current_study()).final
    assert f is not None
    assert f.trial == 2
    assert f.test_metric == "accuracy"
    assert f.test_value == 0.9
    assert f.ci == (FINAL["ci_low"], FINAL["ci_high"])
    assert f.ci_method == "as recorded by the final evaluation"
    assert f.selection_bias == pytest.approx(0.93 - 0.9)
    assert f.baseline_test_value == 0.88
    assert f.member_test_values == (0.89, 0.9, 0.88)


def test_a_study_from_before_the_record_had_a_version_still_reports() -> None:
    study = known_study(final=FINAL_V1)  # no record_version; test_accuracy, baseline_test_accuracy, ...
    study.set_user_attr(StudyKey.SEED_EVALUATIONS, {"2": {"seeds": [0, 1], "test_accuracy": [0.9, 0.92]}})
    data = report_data(study)
    assert data.record.version == 1
    f = data.final
    assert f is not None
    assert f.test_metric == "accuracy"
    assert f.test_value == 0.9
    assert f.n_test == 100
    # No interval was recorded then: accuracy is a proportion, so Wilson's is computed.
    assert f.ci == pytest.approx(wilson_interval(0.9, 100))
    assert f.ci_method == "Wilson"
    assert f.baseline_test_value == 0.88
    assert f.member_test_values == (0.89, 0.9, 0.88)
    spread = data.seed_spreads[2]
    assert spread.values == (0.9, 0.92)
    assert spread.mean == pytest.approx(0.91)
    assert spread.low == 0.9


def test_a_study_from_a_newer_automl_is_refused_in_one_line(
    sqlite_url: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    study = known_study(sqlite_url, version=RECORD_VERSION + 1)
    with pytest.raises(RecordError, match=r"recorded by a newer automl \(record version 3"):
        report_data(study)
    with pytest.raises(RecordError):
        load_study("known", sqlite_url)
    assert main(["report", "known", "--storage", sqlite_url, "--reports", str(tmp_path / "r"), "--no-evaluate"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("automl: error: study 'known': was recorded by a newer automl")
    assert err.count("\n") == 1
    assert not (tmp_path / "r").exists()  # refused before anything was written


def test_a_regression_study_reports_its_own_metric_and_direction() -> None:
    data = report_data(regression_study())
    assert (data.metric, data.test_metric, data.maximize) == ("val_rmse", "rmse", False)
    assert [r.number for r in data.top] == [1, 0]  # 0.95 then 1.0: lower is better
    assert data.rows[0].diagnosis.label == dg.OVERFITTING
    assert data.rows[0].diagnosis.gap_at_end == pytest.approx(0.5)
    assert data.rows[1].diagnosis.label == dg.GOOD_FIT
    f = data.final
    assert f is not None
    assert f.test_metric == "rmse"
    assert f.test_value == 1.05
    assert f.ci is None  # none recorded, and RMSE is not a proportion: no interval is invented
    # Minimised: test RMSE above validation RMSE means validation was optimistic.
    assert f.selection_bias == pytest.approx(1.05 - 0.95)


def test_a_prune_reason_is_kept() -> None:
    study = optuna.create_study(direction="maximize")
    study.set_user_attr(StudyKey.SETTINGS, {"metric": "val_accuracy"})
    study.add_trial(known_trial(GOOD, epochs_trained=4))
    cut = {k: v[:3] for k, v in GOOD.items()}
    study.add_trial(known_trial(cut, state=TrialState.PRUNED, pruned_at_epoch=3, prune_reason="time budget"))
    row = report_data(study).rows[1]
    assert row.diagnosis.title == "pruned at epoch 3 (time budget)"
    assert row.record.prune_reason == "time budget"


def test_large_studies_get_importances_from_a_seeded_sample(monkeypatch: pytest.MonkeyPatch) -> None:
    study = current_study()
    monkeypatch.setattr(report_data_module, "IMPORTANCE_MAX_TRIALS", 2)  # the known study has 3 completed trials
    first, note = report_data_module.compute_importances(study)
    assert note.endswith("over a random sample of 2 of the 3 completed trials (seed 0)")
    assert first == report_data_module.compute_importances(study)[0]  # seeded: the same sample, the same numbers


def test_top_must_be_a_positive_integer() -> None:
    with pytest.raises(AutomlError, match="--top: must be an integer >= 1, got 0"):
        report_data(current_study(), top_k=0)


def test_trials_are_read_through_the_record_keys() -> None:
    # The builders write TrialKey's names; a renamed key would leave these empty.
    row = report_data(current_study()).rows[0]
    assert row.record.n_params == 5000
    assert row.record.train_seconds == 4.0
    assert row.curves
    assert TrialKey.CURVES == "curves"  # the documented key outside tools write


def test_wilson_interval() -> None:
    # The interval old accuracy studies get; it stays inside [0, 1] where good classifiers live.
    assert wilson_interval(0.9, 100) == pytest.approx((0.825634, 0.944771), abs=1e-6)
    assert wilson_interval(1.0, 120) == pytest.approx((120 / (120 + 1.959964**2), 1.0), abs=1e-6)
    assert wilson_interval(0.0, 50)[0] == 0.0
    with pytest.raises(ValueError, match="n=0"):
        wilson_interval(0.5, 0)
