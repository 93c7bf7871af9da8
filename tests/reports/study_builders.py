"""Studies with known curves and a known final evaluation, built in-process with Optuna (no training), in the
trial record's own keys (:mod:`automl.study.record`): the current version, version 1 (before the record had a version)
and a regression study that never mentions accuracy."""

from __future__ import annotations

import math
from typing import Any

import optuna
from curve_fixtures import GOOD, NAN, OVERFIT, UNDERFIT
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState, create_trial

from automl.study.record import RECORD_VERSION, StudyKey, TrialKey

optuna.logging.set_verbosity(optuna.logging.ERROR)

DISTRIBUTIONS = {
    "units_1": IntDistribution(8, 512, log=True),
    "learning_rate": FloatDistribution(1e-4, 1e-1, log=True),
    "optimizer": CategoricalDistribution(["adam", "sgd"]),
}
CONFIG = {"units_1": 64, "learning_rate": 0.003, "optimizer": "adam", "epochs": 6}
# The current record: the interval is the final stage's own (deliberately not Wilson's, to show it is used).
FINAL = {
    "best_trial": 2,
    "config": CONFIG,
    "val_value": 0.93,
    "epochs": 3,
    "test_metric": "accuracy",
    "test_value": 0.9,
    "test_metrics": {"accuracy": 0.9, "loss": 0.3},
    "n_test": 100,
    "ci_low": 0.84,
    "ci_high": 0.95,
    "baseline_label": "tutorial baseline (Dense 64 relu, Adam, 10 epochs, batch 64)",
    "baseline_test_value": 0.88,
    "model_path": None,
    "config_path": None,
    "member_test_values": [0.89, 0.9, 0.88],
}
# Version 1, as `automl search` wrote it before the record was versioned.
FINAL_V1 = {
    "best_trial": 2,
    "config": CONFIG,
    "val_value": 0.93,
    "epochs": 3,
    "test_accuracy": 0.9,
    "test_loss": 0.3,
    "n_test": 100,
    "baseline_test_accuracy": 0.88,
    "model_path": "reports/known/model.keras",
    "config_path": "reports/known/config.yaml",
    "member_test_accuracies": [0.89, 0.9, 0.88],
}


def known_trial(
    curves: dict[str, list[float]],
    *,
    state: TrialState = TrialState.COMPLETE,
    lr: float = 0.003,
    metric: str = "val_accuracy",
    maximize: bool = True,
    **attrs: Any,
) -> optuna.trial.FrozenTrial:
    params = {"units_1": 64, "learning_rate": lr, "optimizer": "adam"}
    steps = curves.get(metric, [])
    value = None
    if state == TrialState.COMPLETE and steps:
        value = max(steps) if maximize else min(steps)
    return create_trial(
        state=state,
        value=value,
        params=params,
        distributions=DISTRIBUTIONS,
        user_attrs={TrialKey.CURVES: curves, TrialKey.CONFIG: {**params, "epochs": 6}, TrialKey.N_PARAMS: 5000}
        | {getattr(TrialKey, k.upper()): v for k, v in attrs.items()},
        intermediate_values={i + 1: v for i, v in enumerate(steps) if math.isfinite(v)},
    )


def known_trials() -> list[optuna.trial.FrozenTrial]:
    """Trial 0 overfits, 1 underfits, 2 fits well (the winner), 3 diverged (failed), 4 was pruned at epoch 2."""
    return [
        known_trial(OVERFIT, epochs_trained=6, best_epoch=3, train_seconds=4.0),
        known_trial(UNDERFIT, epochs_trained=4, lr=0.0001),
        known_trial(GOOD, epochs_trained=4, best_epoch=3, train_seconds=2.5),
        known_trial(
            {k: v[:2] for k, v in NAN.items()},
            state=TrialState.FAIL,
            lr=0.09,
            fail_reason="loss became nan at epoch 3; training diverged",
        ),
        # Its first two epochs read as underfitting; stopped early is no evidence of it.
        known_trial({k: v[:2] for k, v in UNDERFIT.items()}, state=TrialState.PRUNED, pruned_at_epoch=2, lr=0.0002),
    ]


def known_study(
    url: str | None = None, name: str = "known", *, final: dict[str, Any] | None = None, version: int | None = None
) -> optuna.Study:
    """The known trials in a study at ``url`` (in memory when None). ``version`` None leaves the record
    unversioned, as studies were before; the final evaluation defaults to the current record's."""
    study = optuna.create_study(study_name=name, storage=url, direction="maximize")
    if version is not None:
        study.set_user_attr(StudyKey.RECORD_VERSION, version)
    study.set_user_attr(StudyKey.SPACE, {"name": "tiny", "model": "synthetic"})
    study.set_user_attr(StudyKey.SETTINGS, {"metric": "val_accuracy", "direction": "maximize", "trials": 5})
    study.set_user_attr(StudyKey.FINAL, FINAL if final is None else final)
    study.add_trials(known_trials())
    return study


def current_study(url: str | None = None, name: str = "known") -> optuna.Study:
    return known_study(url, name, version=RECORD_VERSION)


# Regression: RMSE, minimised. Trial 0 overfits by its gap (training RMSE far below validation), 1 fits well.
RMSE_OVERFIT = {
    "loss": [4.0, 2.0, 1.0, 0.5],
    "rmse": [2.0, 1.4, 0.9, 0.5],
    "val_loss": [4.0, 2.2, 1.4, 1.1],
    "val_rmse": [2.0, 1.5, 1.1, 1.0],
}
RMSE_GOOD = {
    "loss": [4.0, 2.0, 1.2, 0.9],
    "rmse": [2.0, 1.4, 1.0, 0.93],
    "val_loss": [4.0, 2.1, 1.3, 1.0],
    "val_rmse": [2.0, 1.45, 1.05, 0.95],
}


def regression_study(url: str | None = None, name: str = "houses") -> optuna.Study:
    study = optuna.create_study(study_name=name, storage=url, direction="minimize")
    study.set_user_attr(StudyKey.RECORD_VERSION, RECORD_VERSION)
    study.set_user_attr(StudyKey.SPACE, {"name": "houses", "model": "synthetic"})
    study.set_user_attr(StudyKey.SETTINGS, {"metric": "val_rmse", "direction": "minimize"})
    study.set_user_attr(StudyKey.TASK, "regression")
    study.set_user_attr(StudyKey.DATA_KIND, "table")
    study.set_user_attr(
        StudyKey.FINAL,
        {
            "best_trial": 1,
            "config": CONFIG,
            "val_value": 0.95,
            "epochs": 4,
            "test_metric": "rmse",
            "test_value": 1.05,
            "test_metrics": {"rmse": 1.05, "loss": 1.1},
            "n_test": 200,
            "ci_low": None,
            "ci_high": None,
            "baseline_label": "linear baseline",
            "baseline_test_value": 1.4,
            "model_path": None,
            "config_path": None,
        },
    )
    study.add_trials(
        [
            known_trial(RMSE_OVERFIT, metric="val_rmse", maximize=False, epochs_trained=4, best_epoch=4),
            known_trial(RMSE_GOOD, metric="val_rmse", maximize=False, epochs_trained=4, best_epoch=4, lr=0.01),
        ]
    )
    return study
