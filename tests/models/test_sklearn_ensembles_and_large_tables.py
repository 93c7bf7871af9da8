"""What the scikit-learn families give the final stage's ensembles (validation predictions that line up across
configurations, a weighted soft vote saved by skops as one estimator) and what changes on larger tables (boosting
stops itself inside a step; training scores on a sample of the rows)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from automl.data import load_dataset
from automl.data.dataset import Dataset
from automl.models import get_family
from automl.models._sklearn import LARGE_TABLE_ROWS


@pytest.fixture(scope="module")
def wine() -> Any:
    return load_dataset("wine")


def _predictions(family: str, config: dict[str, Any], data: Any, epochs: int) -> tuple[np.ndarray, np.ndarray]:
    out = get_family(family).validation_predictions(config, data, epochs, seed=0)
    assert out is not None
    return out


def test_cross_validated_predictions_cover_every_row_once_and_line_up_across_families(wine: Any) -> None:
    hgb, y = _predictions("sklearn_hgb", {"max_iter": 5}, wine, 5)
    linear, y_again = _predictions("sklearn_linear", {}, wine, 1)
    everything = np.concatenate([wine.y_train, wine.y_val])
    assert sorted(y) == sorted(everything)  # out-of-fold: each train+validation row once
    np.testing.assert_array_equal(y, y_again)  # same seed, same rows in the same order
    assert hgb.shape == linear.shape == (len(everything), 3)
    np.testing.assert_allclose(hgb.sum(axis=1), 1.0)


def test_without_folds_the_validation_split_is_predicted(wine: Any) -> None:
    plain = dataclasses.replace(wine, cv_folds=0)
    pred, y = _predictions("sklearn_forest", {"n_estimators": 5}, plain, 5)
    np.testing.assert_array_equal(y, wine.y_val)
    assert pred.shape == (len(wine.y_val), 3)


@pytest.mark.parametrize("name", ["wine", "diabetes"])
def test_a_weighted_ensemble_is_one_skops_estimator_averaging_its_members(name: str, tmp_path: Path) -> None:
    data = load_dataset(name)
    hgb, linear = get_family("sklearn_hgb"), get_family("sklearn_linear")
    members = [hgb.fit_final({"max_iter": 10}, data, 10, 0), linear.fit_final({}, data, 1, 0)]
    model = hgb.weighted_ensemble(members, [3, 1], ["trial_4", "trial_1"], data)
    path = hgb.save(model, tmp_path)
    again = hgb.load(path)
    if data.task == "classification":
        expected = (3 * members[0].predict_proba(data.x_test) + members[1].predict_proba(data.x_test)) / 4
        np.testing.assert_allclose(again.predict_proba(data.x_test), expected)
        np.testing.assert_array_equal(again.predict(data.x_test), expected.argmax(axis=1))
    else:
        expected = (3 * members[0].predict(data.x_test) + members[1].predict(data.x_test)) / 4
        np.testing.assert_allclose(again.predict(data.x_test), expected)
    assert (
        hgb.evaluate(again, data.x_test, data.y_test).metrics == hgb.evaluate(model, data.x_test, data.y_test).metrics
    )


def _large(rows: int = LARGE_TABLE_ROWS + 500) -> Dataset:
    from sklearn.datasets import make_classification

    x, y = make_classification(rows + 400, n_features=8, n_informative=4, random_state=0)
    return Dataset(
        "large", "generated", x[:rows], y[:rows], x[rows : rows + 200], y[rows : rows + 200], x[rows + 200 :],
        y[rows + 200 :], 2, kind="table",
    )  # fmt: skip


def test_boosting_stops_itself_inside_a_step_on_larger_tables() -> None:
    family = get_family("sklearn_hgb")
    small = family.estimator({}, "classification", 0)
    family.sized(small, LARGE_TABLE_ROWS)
    assert small.get_params()["early_stopping"] is False  # the search's patience does that job on small tables
    # A high learning rate stops improving within a few dozen iterations: the trial ends at that step, long
    # before its 20 steps of 50 iterations.
    outcome = family.train(
        {"max_iter": 1000, "learning_rate": 0.5}, _large(), None, metric="val_accuracy", direction="maximize",
        patience=100, seed=0,
    )  # fmt: skip
    assert outcome.epochs_trained < 20
    final = family.fit_final({"max_iter": 1000, "learning_rate": 0.5}, _large(), outcome.epochs_trained, 0)
    assert final[-1].get_params()["early_stopping"] is True


def test_a_kernel_svm_fits_a_seeded_sample_of_at_most_its_max_rows(wine: Any) -> None:
    from automl.models.sklearn_svm import MAX_ROWS, SupportVectorMachine

    assert get_family("sklearn_svm").max_rows == MAX_ROWS
    family = SupportVectorMachine()
    family.max_rows = 60  # type: ignore[misc]  # wine's train+validation holds 142 rows
    model = family.fit_final({}, wine, 1, seed=0)
    scaler = model[0].named_transformers_["numeric"][-1] if hasattr(model[0], "named_transformers_") else model[0][-1]
    assert scaler.n_samples_seen_ == 60
    assert family.evaluate(model, wine.x_test, wine.y_test).metrics["accuracy"] > 0.5
