"""How far the winner's score can be trusted: a 95% confidence interval for its held-out score, the selection bias
(its validation score was the best of many, so it is optimistic), and the spread across retraining seeds.

The numbers are pure functions and task-neutral: an interval for any metric that is a mean over examples
(Wilson's for proportions such as accuracy, Student's t otherwise), and :func:`in_range`, which keeps any reported
interval inside its metric's range (a t-interval knows nothing of bounds: balanced accuracy's once reached 1.09).
Retraining the winner to measure them is :mod:`automl.job.retrain`'s job.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

import numpy as np


def wilson_interval(accuracy: float, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a proportion: unlike the normal approximation it stays inside [0, 1] and
    keeps its coverage near 0 and 1, where good classifiers live. At 0 or ``n`` successes the bound is exactly 0
    or 1."""
    from scipy import stats  # loaded where used, as in mean_interval: reading a report needs no scipy start-up

    if n <= 0:
        raise ValueError(f"`n` must be > 0, but got n={n}.")
    if not 0.0 <= accuracy <= 1.0:
        raise ValueError(f"`0 <= accuracy <= 1` must hold, but got accuracy={accuracy}.")
    successes = round(accuracy * n)  # accuracies come as floats; the interval is about whole examples
    ci = stats.binomtest(successes, n).proportion_ci(confidence_level=confidence, method="wilson")
    return float(ci.low), float(ci.high)


def mean_interval(values: Sequence[float] | np.ndarray, confidence: float = 0.95) -> tuple[float, float]:
    """A confidence interval for the mean of per-example values: Wilson's when every value is 0 or 1 (a
    proportion, e.g. accuracy), else Student's t (squared errors, log losses)."""
    from scipy import stats

    array = np.asarray(values, dtype=np.float64)
    n = len(array)
    if n == 0:
        raise ValueError("`values` must not be empty.")
    if np.isin(array, (0.0, 1.0)).all():
        return wilson_interval(float(array.mean()), n, confidence)
    mean = float(array.mean())
    if n == 1:
        return mean, mean
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1)) * float(array.std(ddof=1)) / math.sqrt(n)
    return mean - half, mean + half


# Where each held-out metric can lie; a metric not named here is unbounded. Losses are log losses or squared
# errors, both >= 0.
METRIC_RANGES: dict[str, tuple[float, float]] = {
    "accuracy": (0.0, 1.0),
    "balanced_accuracy": (0.0, 1.0),
    "roc_auc": (0.0, 1.0),
    "r2": (-math.inf, 1.0),
    "rmse": (0.0, math.inf),
    "mae": (0.0, math.inf),
    "loss": (0.0, math.inf),
}


def in_range(metric: str, interval: tuple[float, float]) -> tuple[float, float]:
    """``interval`` clipped to ``metric``'s range (see METRIC_RANGES): the last guard, after each metric's own
    method (Wilson, a bootstrap, a transformed t-interval) that should already respect it."""
    low, high = METRIC_RANGES.get(held_metric(metric), (-math.inf, math.inf))
    return float(min(max(interval[0], low), high)), float(min(max(interval[1], low), high))


def held_metric(metric: str) -> str:
    """``val_accuracy`` and ``accuracy`` name the same range (kept here: analysis imports nothing from study)."""
    return metric[len("val_") :] if metric.startswith("val_") else metric


def reported_interval(
    metric: str, intervals: dict[str, tuple[float, float]], per_example: dict[str, np.ndarray]
) -> tuple[float, float] | None:
    """The interval reported for ``metric``: the one its scorer computed, else one from its per-example values,
    kept inside the metric's range; None when neither exists."""
    if metric in intervals:
        return in_range(metric, intervals[metric])
    if metric in per_example:
        return in_range(metric, mean_interval(per_example[metric]))
    return None


def selection_bias(val_value: float, test_value: float, maximize: bool) -> float:
    """Validation minus test, signed so that a positive number means validation was optimistic."""
    return val_value - test_value if maximize else test_value - val_value


def spread(values: list[float]) -> dict[str, float]:
    """Mean, sample standard deviation, min and max of per-seed scores."""
    return {
        "mean": statistics.fmean(values),
        "std": statistics.stdev(values) if len(values) > 1 else 0.0,
        "min": min(values),
        "max": max(values),
    }
