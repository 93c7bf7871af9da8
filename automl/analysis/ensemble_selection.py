"""Greedy ensemble selection with replacement (pure): Caruana et al. (ICML 2004), as auto-sklearn and AutoGluon
build their final ensembles from the validation predictions of the models a search trained.

Start from the empty ensemble; each round adds the candidate (any candidate, again if it is already in) whose
addition gives the best validation score of the averaged predictions; after ``rounds`` rounds, the ensemble kept
is the one of the earliest round with the best score seen. Round 1 picks the best single candidate, so the result
never scores worse on validation than the best single member, and an ensemble that only ties it stays that single
member. The weights are how many times each candidate was picked: integers, the ensemble averages its members'
predictions (class probabilities, or regression values) with them.

Nothing here trains or loads a model: predictions in, weights out (:func:`greedy_selection`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from automl.analysis.scores import balanced_accuracy, roc_auc

ROUNDS = 25  # AutoGluon's default ensemble size; more rounds only refine weights the validation split can't tell
TOLERANCE = 1e-12  # relative: a score better by less is a tie (floating-point noise, not an improvement)
Scorer = Callable[[np.ndarray, np.ndarray], float]

# Metric names as the held-out split names them (``val_accuracy`` -> ``accuracy``), with their direction.
MAXIMIZED = frozenset({"accuracy", "balanced_accuracy", "roc_auc", "r2"})
MINIMIZED = frozenset({"loss", "rmse", "mae"})


def _accuracy(proba: np.ndarray, y: np.ndarray) -> float:
    return float((proba.argmax(axis=1) == y).mean())


def _balanced(proba: np.ndarray, y: np.ndarray) -> float:
    return balanced_accuracy((proba.argmax(axis=1) == y).astype(np.float64), y, proba.shape[1])


def _log_loss(proba: np.ndarray, y: np.ndarray) -> float:
    return float(-np.log(np.clip(proba[np.arange(len(y)), y], 1e-15, 1.0)).mean())


def _auc(proba: np.ndarray, y: np.ndarray) -> float:
    value = roc_auc(proba, y)
    return float("nan") if value is None else value


def _mse(pred: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean((pred - y) ** 2))


def _r2(pred: np.ndarray, y: np.ndarray) -> float:
    variance = float(np.var(y))
    return 1.0 - _mse(pred, y) / variance if variance > 0 else 0.0


SCORERS: dict[str, dict[str, Scorer]] = {
    "classification": {"accuracy": _accuracy, "balanced_accuracy": _balanced, "loss": _log_loss, "roc_auc": _auc},
    "regression": {
        "loss": _mse,
        "rmse": lambda pred, y: math.sqrt(_mse(pred, y)),
        "mae": lambda pred, y: float(np.mean(np.abs(pred - y))),
        "r2": _r2,
    },
}


def scorer(metric: str, task: str) -> Scorer:
    """The function scoring predictions (probabilities, or values) of ``task`` against targets in ``metric``
    (a held-out name such as ``accuracy``; a ``val_`` prefix is ignored); ValueError for one it cannot score."""
    name = metric.removeprefix("val_")
    found = SCORERS.get(task, {}).get(name)
    if found is None:
        raise ValueError(f"ensemble selection cannot score {metric!r} for {task}; it scores {sorted(SCORERS[task])}")
    return found


def maximizes(metric: str) -> bool:
    """Whether a larger ``metric`` is better (the study's direction says so too; this is for callers without one)."""
    return metric.removeprefix("val_") in MAXIMIZED


@dataclass(frozen=True)
class Selection:
    """The ensemble greedy selection kept: ``weights[i]`` times candidate i (0: left out), scoring ``value`` on
    validation, next to the best single candidate (``best_single``, scoring ``best_single_value``)."""

    weights: tuple[int, ...]
    value: float
    best_single: int
    best_single_value: float

    @property
    def members(self) -> tuple[int, ...]:
        """The candidates in the ensemble, in candidate order."""
        return tuple(i for i, w in enumerate(self.weights) if w > 0)

    @property
    def is_ensemble(self) -> bool:
        """More than one member: the selection found an average that beats every single candidate."""
        return len(self.members) > 1


def greedy_selection(
    predictions: Sequence[np.ndarray],
    y: np.ndarray,
    score: Scorer,
    maximize: bool,
    rounds: int = ROUNDS,
) -> Selection:
    """Caruana's greedy selection with replacement over ``predictions`` (one array per candidate, all for the same
    validation rows ``y``: an (n, k) array of class probabilities, or n regression values), scored by ``score``
    (``maximize``: larger is better). Ties go to the lower-indexed candidate: list candidates best first.

    Contract: the returned ``value`` is never worse than ``best_single_value``, the best any single candidate
    scores; it is strictly better whenever the selection kept more than one member. A candidate whose score is
    not finite (a model that diverged) is never picked unless every candidate's is.
    """
    if not predictions:
        raise ValueError("greedy_selection needs at least one candidate's predictions")
    if rounds < 1:
        raise ValueError(f"rounds must be >= 1, got {rounds}")
    y = np.asarray(y)
    preds = [np.asarray(p, dtype=np.float64) for p in predictions]
    shapes = {p.shape for p in preds}
    if len(shapes) != 1 or preds[0].shape[0] != len(y):
        raise ValueError(f"every candidate must predict the {len(y)} validation rows alike; got shapes {shapes}")

    def better(a: float, b: float) -> bool:
        """``a`` strictly better than ``b`` beyond rounding (averaging equal predictions moves the last bits);
        NaN is worse than anything."""
        if math.isnan(a):
            return False
        if math.isnan(b):
            return True
        margin = TOLERANCE * max(1.0, abs(b))
        return a > b + margin if maximize else a < b - margin

    singles = [score(p, y) for p in preds]
    best_single = 0
    for i, value in enumerate(singles):
        if better(value, singles[best_single]):
            best_single = i
    weights = [0] * len(preds)
    total = np.zeros_like(preds[0])
    kept_weights: tuple[int, ...] = ()
    kept_value = float("nan")
    for size in range(1, rounds + 1):
        pick, pick_value = -1, float("nan")
        for i, p in enumerate(preds):
            value = score((total + p) / size, y)
            if pick < 0 or better(value, pick_value):
                pick, pick_value = i, value
        weights[pick] += 1
        total += preds[pick]
        if not kept_weights or better(pick_value, kept_value):  # the earliest round with the best score is kept
            kept_weights, kept_value = tuple(weights), pick_value
    return Selection(tuple(kept_weights), float(kept_value), best_single, float(singles[best_single]))
