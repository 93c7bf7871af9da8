"""The scikit-learn families train for real on tiny tables, for both tasks: per-step reports (pruning propagates),
early stopping in steps, retraining, scores with intervals, and a skops file that loads and predicts the same."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from automl.analysis.scores import classification_scores, regression_intervals, regression_scores
from automl.data import load_dataset
from automl.models import get_family
from automl.spaces import load_space

FAMILIES = ["sklearn_hgb", "sklearn_forest", "sklearn_svm", "sklearn_linear", "sklearn_mlp", "sklearn_dummy"]
SMALL = {"sklearn_hgb": {"max_iter": 10}, "sklearn_forest": {"n_estimators": 10}, "sklearn_mlp": {"epochs": 5}}
STEPS = {"sklearn_hgb": 10, "sklearn_forest": 10, "sklearn_mlp": 5}


class Recorder:
    def __init__(self, stop_at: int | None = None) -> None:
        self.reports: list[tuple[int, dict[str, float]]] = []
        self.stop_at = stop_at

    def report(self, epoch: int, metrics: dict[str, float]) -> None:
        self.reports.append((epoch, metrics))
        if self.stop_at is not None and epoch >= self.stop_at:
            raise KeyboardInterrupt("pruned")  # any exception: the family must let it through


@pytest.fixture(scope="module")
def iris() -> Any:
    return load_dataset("iris")


@pytest.fixture(scope="module")
def diabetes() -> Any:
    return load_dataset("diabetes", limit=200)


@pytest.mark.parametrize("name", FAMILIES)
@pytest.mark.parametrize(
    ("dataset", "metric", "direction"), [("iris", "val_accuracy", "maximize"), ("diabetes", "val_rmse", "minimize")]
)
def test_family_trains_reports_retrains_and_round_trips(
    name: str, dataset: str, metric: str, direction: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    data = request.getfixturevalue(dataset)
    family = get_family(name)
    config = dict(SMALL.get(name, {}))
    recorder = Recorder()
    outcome = family.train(config, data, recorder, metric=metric, direction=direction, patience=100, seed=0)
    assert [step for step, _ in recorder.reports] == list(range(1, STEPS.get(name, 1) + 1))
    assert set(family.reported_metrics(data.task)) <= set(recorder.reports[-1][1])
    assert outcome.history[metric][outcome.best_epoch - 1] == outcome.value
    model = family.fit_final(config, data, outcome.best_epoch, seed=0)
    evaluation = family.evaluate(model, data.x_test, data.y_test)
    held_out = metric.removeprefix("val_")
    assert held_out in evaluation.metrics
    path = family.save(model, tmp_path)
    assert path.suffix == ".skops"
    assert "skops.io.load" in family.load_hint(path)
    again = family.load(path)
    np.testing.assert_allclose(again.predict(data.x_test), model.predict(data.x_test))


def test_a_reporter_that_raises_stops_the_trial(iris: Any) -> None:
    recorder = Recorder(stop_at=2)
    with pytest.raises(KeyboardInterrupt, match="pruned"):
        get_family("sklearn_hgb").train(
            {"max_iter": 10}, iris, recorder, metric="val_accuracy", direction="maximize", patience=5, seed=0
        )
    assert len(recorder.reports) == 2


def test_patience_counts_steps(diabetes: Any) -> None:
    # A huge learning rate overfits within a few boosting chunks: early stopping ends it before 20 steps.
    outcome = get_family("sklearn_hgb").train(
        {"max_iter": 200, "learning_rate": 1.0, "min_samples_leaf": 2},
        diabetes,
        None,
        metric="val_rmse",
        direction="minimize",
        patience=2,
        seed=0,
    )
    assert outcome.epochs_trained == outcome.best_epoch + 2 < 20


def test_small_tables_are_scored_by_cross_validation(iris: Any) -> None:
    import dataclasses

    from automl.models._sklearn import folds

    assert iris.cv_folds == 5
    cv = folds(iris, seed=0)
    # five folds over train+validation (120 rows); the 30 test rows are in none of them
    assert len(cv) == 5
    assert sum(len(y_val) for *_, y_val in cv) == 120
    plain = folds(dataclasses.replace(iris, cv_folds=0), seed=0)
    assert len(plain) == 1
    assert plain[0][2] is iris.x_val


def test_final_model_takes_the_raw_table_with_missing_values(tmp_path: Path) -> None:
    from support import write_mixed_table

    data = load_dataset(str(write_mixed_table(tmp_path / "mixed.csv")), target="label")
    family = get_family("sklearn_hgb")
    model = family.fit_final({"max_iter": 20}, data, 20, seed=0)
    assert data.x_test.isna().any().any()
    assert family.evaluate(model, data.x_test, data.y_test).metrics["accuracy"] > 0.6
    # the imputer learned its medians from train+validation only: the test rows never shaped it
    numeric = model.named_steps["preprocess"].named_transformers_["numeric"].named_steps["impute"]
    train_val = np.concatenate([data.x_train["size"], data.x_val["size"]])
    assert numeric.statistics_[0] == pytest.approx(np.nanmedian(train_val))


def test_balanced_accuracy_is_a_mean_over_examples() -> None:
    from sklearn.metrics import balanced_accuracy_score

    y = np.array([0, 0, 0, 0, 1, 1, 2])
    proba = np.eye(3)[[0, 0, 1, 0, 1, 0, 2]]
    metrics, per_example = classification_scores(proba, y)
    assert metrics["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y, proba.argmax(1)))
    assert per_example["balanced_accuracy"].mean() == pytest.approx(metrics["balanced_accuracy"])


def test_regression_intervals_bracket_rmse_and_r2() -> None:
    rng = np.random.default_rng(0)
    y = rng.normal(size=200)
    metrics, per_example = regression_scores(y + rng.normal(scale=0.5, size=200), y)
    intervals = regression_intervals(per_example, y)
    assert intervals["rmse"][0] < metrics["rmse"] < intervals["rmse"][1]
    assert intervals["r2"][0] < metrics["r2"] < intervals["r2"][1]


def test_tabular_default_spaces_pass_the_family_checks() -> None:
    from automl.spaces.checks import check_data, check_space

    for name, task in (("tabular_classification", "classification"), ("tabular_regression", "regression")):
        space = load_space(name)
        check_data(space, check_space(space), "table", task)
