"""Every interval a scorer reports stays inside its metric's range, on the small and lopsided data where the
old Student-t intervals left it (balanced accuracy reached 1.0947 on a 258-row three-class table)."""

from __future__ import annotations

import numpy as np
import pytest

from automl.analysis.intervals import in_range, mean_interval, reported_interval
from automl.analysis.scores import (
    classification_intervals,
    classification_scores,
    regression_intervals,
    regression_scores,
)


def perfect_proba(y: np.ndarray, n_classes: int) -> np.ndarray:
    return np.eye(n_classes)[y]


def rare_class_rows() -> tuple[np.ndarray, np.ndarray]:
    """30 rows over three classes, one class with 2 rows, the rare class half wrong: the per-example weights
    of balanced accuracy are then large and uneven, which is what pushed a t-interval past 1."""
    y = np.array([0] * 14 + [1] * 14 + [2] * 2)
    predicted = y.copy()
    predicted[-1] = 0
    proba = np.full((len(y), 3), 0.05)
    proba[np.arange(len(y)), predicted] = 0.9
    return proba, y


def intervals_of(proba: np.ndarray, y: np.ndarray) -> tuple[dict[str, float], dict[str, tuple[float, float]]]:
    metrics, per_example = classification_scores(proba, y)
    return metrics, classification_intervals(proba, y, per_example)


def test_accuracy_of_a_perfect_classifier_on_20_rows_is_wilsons_and_ends_at_1() -> None:
    y = np.arange(20) % 2
    _, intervals = intervals_of(perfect_proba(y, 2), y)
    low, high = intervals["accuracy"]
    assert 0.0 < low < 1.0
    assert high == 1.0


def test_balanced_accuracy_with_a_rare_class_stays_in_0_1() -> None:
    proba, y = rare_class_rows()
    metrics, intervals = intervals_of(proba, y)
    low, high = intervals["balanced_accuracy"]
    assert 0.0 <= low <= metrics["balanced_accuracy"] <= high <= 1.0
    # The t-interval over per-example weights, which the report used before, does leave the range here.
    _, per_example = classification_scores(proba, y)
    assert mean_interval(per_example["balanced_accuracy"])[1] > 1.0


def test_balanced_accuracy_of_a_perfect_classifier_is_1_with_a_seeded_bootstrap() -> None:
    y = np.array([0] * 9 + [1] * 9 + [2] * 2)
    proba = perfect_proba(y, 3)
    assert intervals_of(proba, y)[1]["balanced_accuracy"] == (1.0, 1.0)
    proba, y = rare_class_rows()
    assert intervals_of(proba, y)[1] == intervals_of(proba, y)[1]  # seeded: the report does not flicker


@pytest.mark.parametrize("n_classes", [2, 3])
def test_roc_auc_of_a_perfect_and_of_a_rare_class_classifier_stays_in_0_1(n_classes: int) -> None:
    y = np.arange(20) % n_classes
    _, intervals = intervals_of(perfect_proba(y, n_classes), y)
    assert intervals["roc_auc"] == (1.0, 1.0)
    proba, y = rare_class_rows()
    metrics, intervals = intervals_of(proba, y)
    low, high = intervals["roc_auc"]
    assert 0.0 <= low <= high <= 1.0


def test_log_loss_interval_is_never_below_0() -> None:
    # One confident mistake among near-zero losses: the t-interval's half-width exceeds the mean.
    y = np.zeros(20, dtype=np.int64)
    proba = np.tile([1.0 - 1e-12, 1e-12], (20, 1))
    proba[0] = [1e-6, 1.0 - 1e-6]
    metrics, intervals = intervals_of(proba, y)
    _, per_example = classification_scores(proba, y)
    assert mean_interval(per_example["loss"])[0] < 0.0  # the raw interval does go below 0
    low, high = intervals["loss"]
    assert 0.0 == low <= metrics["loss"] <= high


def near_perfect_regression() -> tuple[np.ndarray, np.ndarray, dict[str, float], dict[str, tuple[float, float]]]:
    """Twenty rows predicted exactly but one: the squared errors' t-interval reaches below 0."""
    y = np.linspace(0.0, 1.0, 20)
    pred = y.copy()
    pred[0] += 0.5
    metrics, per_example = regression_scores(pred, y)
    return pred, y, metrics, regression_intervals(per_example, y)


def test_rmse_interval_is_never_below_0() -> None:
    _, _, metrics, intervals = near_perfect_regression()
    low, high = intervals["rmse"]
    assert 0.0 == low <= metrics["rmse"] <= high
    assert intervals["loss"][0] == 0.0 and intervals["mae"][0] == 0.0


def test_r2_interval_is_never_above_1() -> None:
    _, _, metrics, intervals = near_perfect_regression()
    low, high = intervals["r2"]
    assert low <= metrics["r2"] <= high == 1.0


def test_reported_interval_clips_a_per_example_interval_and_a_recorded_one() -> None:
    # A family without its own intervals (per-example values only) still reports inside the range.
    values = np.array([0.0] * 19 + [30.0])
    assert reported_interval("loss", {}, {"loss": values})[0] == 0.0
    assert reported_interval("val_r2", {"val_r2": (0.9, 1.2)}, {}) == (0.9, 1.0)
    assert in_range("balanced_accuracy", (0.8763, 1.0947)) == (0.8763, 1.0)
    assert reported_interval("roc_auc", {}, {}) is None


def test_binary_auc_is_the_chance_a_positive_outscores_a_negative_with_ties_counting_half() -> None:
    from automl.analysis.scores import binary_auc

    # positives score 0.9 and 0.5; negatives 0.5 and 0.1: pairs won 1 + 1 + 0.5 (tie) + 1 of 4
    assert binary_auc(np.array([1, 1, 0, 0]), np.array([0.9, 0.5, 0.5, 0.1])) == 0.875
