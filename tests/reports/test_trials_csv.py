"""trials.csv: one row per trial, the diagnosis with its numbers, pruned trials with where and why they stopped."""

from __future__ import annotations

import io

import optuna
import pandas as pd
import pytest
from curve_fixtures import GOOD
from optuna.trial import TrialState
from study_builders import current_study, known_trial

from automl.reports import report_data
from automl.reports.trials_csv import COLUMNS, trials_csv
from automl.study.record import StudyKey


def test_known_study_rows() -> None:
    table = pd.read_csv(io.StringIO(trials_csv(report_data(current_study()))))
    assert list(table.columns[: len(COLUMNS)]) == list(COLUMNS)
    assert list(table["number"]) == [0, 1, 2, 3, 4]
    assert list(table["state"]) == ["COMPLETE", "COMPLETE", "COMPLETE", "FAIL", "PRUNED"]
    assert table.loc[0, "diagnosis"] == "overfitting"
    assert table.loc[0, "gap_at_end"] == pytest.approx(0.15)
    assert table.loc[0, "gap_limit"] == pytest.approx(0.05)
    assert table.loc[0, "val_loss_min_epoch"] == 3
    assert table.loc[1, "train_value_at_end"] == pytest.approx(0.4)
    assert table.loc[3, "fail_reason"].startswith("loss became nan")
    assert table.loc[3, "diagnosis"] == "unstable/diverged"
    assert table.loc[4, "diagnosis"] == "pruned at epoch 2"
    assert table.loc[4, "pruned_at_epoch"] == 2
    assert table.loc[4, "epochs_trained"] == 2
    assert table.loc[4, "epochs_budget"] == 6
    assert table.loc[4, "value"] == pytest.approx(0.3)  # a pruned trial's last reported value
    assert set(table.columns) >= {"param_units_1", "param_learning_rate", "param_optimizer"}


def test_prune_reason_column() -> None:
    study = optuna.create_study(direction="maximize")
    study.set_user_attr(StudyKey.SETTINGS, {"metric": "val_accuracy"})
    cut = {k: v[:1] for k, v in GOOD.items()}
    study.add_trial(known_trial(cut, state=TrialState.PRUNED, pruned_at_epoch=1, prune_reason="trial time cap"))
    table = pd.read_csv(io.StringIO(trials_csv(report_data(study))))
    assert table.loc[0, "prune_reason"] == "trial time cap"
    assert table.loc[0, "diagnosis"] == "pruned at epoch 1 (trial time cap)"
