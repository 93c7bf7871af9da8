"""Greedy ensemble selection with replacement (pure): it never scores worse than the best single candidate on
validation, keeps an average only when it is strictly better, and handles class probabilities and regression."""

from __future__ import annotations

import numpy as np
import pytest

from automl.analysis.ensemble_selection import Selection, greedy_selection, maximizes, scorer


def _onehot(labels: np.ndarray, k: int, sure: float) -> np.ndarray:
    """Probabilities putting ``sure`` on ``labels`` and the rest evenly on the other classes."""
    out = np.full((len(labels), k), (1 - sure) / (k - 1))
    out[np.arange(len(labels)), labels] = sure
    return out


def test_two_models_right_on_different_rows_make_an_ensemble_that_beats_both() -> None:
    y = np.array([0, 1] * 50)
    wrong = 1 - y
    # A is right on the first 60 rows (confidently), B on the last 60 (confidently), and each is only mildly wrong
    # elsewhere: their average is right wherever either is confident.
    a = np.where(np.arange(100)[:, None] < 60, _onehot(y, 2, 0.9), _onehot(wrong, 2, 0.55))
    b = np.where(np.arange(100)[:, None] >= 40, _onehot(y, 2, 0.9), _onehot(wrong, 2, 0.55))
    weak = _onehot(wrong, 2, 0.6)
    selection = greedy_selection([a, b, weak], y, scorer("accuracy", "classification"), maximize=True)
    assert selection.best_single_value == pytest.approx(0.6)
    assert selection.value == pytest.approx(1.0)
    assert selection.is_ensemble
    assert selection.members == (0, 1)
    assert selection.weights[2] == 0
    assert all(isinstance(w, int) for w in selection.weights)


def test_regression_averages_independent_errors() -> None:
    rng = np.random.default_rng(0)
    y = rng.normal(size=500)
    one, two = y + rng.normal(scale=1.0, size=500), y + rng.normal(scale=1.0, size=500)
    noisy = y + rng.normal(scale=5.0, size=500)
    selection = greedy_selection([one, two, noisy], y, scorer("val_rmse", "regression"), maximize=False)
    assert selection.is_ensemble
    assert set(selection.members) == {0, 1}
    assert selection.value < selection.best_single_value * 0.8  # independent noise: about 1/sqrt(2) of it


@pytest.mark.parametrize(
    ("metric", "task"),
    [
        ("accuracy", "classification"),
        ("balanced_accuracy", "classification"),
        ("loss", "classification"),
        ("roc_auc", "classification"),
        ("rmse", "regression"),
        ("mae", "regression"),
        ("r2", "regression"),
        ("loss", "regression"),
    ],
)
def test_never_worse_than_the_best_single_candidate(metric: str, task: str) -> None:
    score = scorer(metric, task)
    maximize = maximizes(metric)
    for seed in range(10):
        rng = np.random.default_rng(seed)
        if task == "classification":
            y = rng.integers(0, 3, size=60)
            preds = [rng.dirichlet(np.ones(3), size=60) for _ in range(4)]
        else:
            y = rng.normal(size=60)
            preds = [y + rng.normal(scale=s, size=60) + rng.normal() for s in (0.5, 1.0, 2.0, 0.7)]
        selection = greedy_selection(preds, y, score, maximize, rounds=10)
        singles = [score(p, y) for p in preds]
        best = max(singles) if maximize else min(singles)
        assert selection.best_single_value == pytest.approx(best)
        assert (selection.value >= best) if maximize else (selection.value <= best)
        if selection.is_ensemble:  # an average is kept only when strictly better
            assert (selection.value > best) if maximize else (selection.value < best)
        # the weights reproduce the value
        mixed = sum(w * p for w, p in zip(selection.weights, preds, strict=True)) / sum(selection.weights)
        assert score(mixed, y) == pytest.approx(selection.value)


def test_identical_candidates_stay_one_member_the_first() -> None:
    y = np.array([0, 1, 1, 0])
    same = _onehot(y, 2, 0.8)
    selection = greedy_selection([same, same.copy(), same.copy()], y, scorer("loss", "classification"), False)
    assert selection == Selection((1, 0, 0), selection.value, 0, selection.value)
    assert not selection.is_ensemble


def test_a_candidate_scoring_nan_is_never_picked() -> None:
    y = np.array([0.0, 1.0, 2.0])
    broken = np.array([np.nan, 1.0, 2.0])
    fine = y + 0.1
    selection = greedy_selection([broken, fine], y, scorer("rmse", "regression"), maximize=False)
    assert selection.weights[0] == 0
    assert selection.best_single == 1


def test_bad_input_is_a_value_error() -> None:
    score = scorer("accuracy", "classification")
    with pytest.raises(ValueError, match="at least one"):
        greedy_selection([], np.array([0, 1]), score, True)
    with pytest.raises(ValueError, match="alike"):
        greedy_selection([np.ones((2, 2)), np.ones((3, 2))], np.array([0, 1]), score, True)
    with pytest.raises(ValueError, match="rounds"):
        greedy_selection([np.ones((2, 2))], np.array([0, 1]), score, True, rounds=0)
    with pytest.raises(ValueError, match="cannot score 'val_f1'"):
        scorer("val_f1", "classification")
