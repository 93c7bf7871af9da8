"""How far the winner's score can be trusted: a 95% confidence interval for its held-out score, the selection bias
(its validation score was the best of many, so it is optimistic), and the spread across retraining seeds.

The numbers are pure functions and task-neutral: an interval for any metric that is a mean over examples
(Wilson's for proportions such as accuracy, Student's t otherwise). The retraining goes through the model family.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import Any

import numpy as np

from automl.errors import AutomlError

Z_95 = 1.959963984540054  # two-sided 95% normal quantile


def wilson_interval(accuracy: float, n: int, z: float = Z_95) -> tuple[float, float]:
    """Wilson score interval for a proportion: unlike the normal approximation it stays inside [0, 1] and
    keeps its coverage near 0 and 1, where good classifiers live."""
    if n <= 0:
        raise ValueError(f"`n` must be > 0, but got n={n}.")
    if not 0.0 <= accuracy <= 1.0:
        raise ValueError(f"`0 <= accuracy <= 1` must hold, but got accuracy={accuracy}.")
    successes = round(accuracy * n)  # accuracies come as floats; the interval is about whole examples
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # At 0 or n successes the bound is exactly 0 or 1; the arithmetic leaves a rounding crumb.
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return low, high


def mean_interval(values: Sequence[float] | np.ndarray, confidence: float = 0.95) -> tuple[float, float]:
    """A confidence interval for the mean of per-example values: Wilson's when every value is 0 or 1 (a
    proportion, e.g. accuracy), else Student's t (squared errors, log losses)."""
    from scipy import stats

    array = np.asarray(values, dtype=np.float64)
    n = len(array)
    if n == 0:
        raise ValueError("`values` must not be empty.")
    if np.isin(array, (0.0, 1.0)).all():
        z = float(stats.norm.ppf(0.5 + confidence / 2))
        return wilson_interval(float(array.mean()), n, z)
    mean = float(array.mean())
    if n == 1:
        return mean, mean
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1)) * float(array.std(ddof=1)) / math.sqrt(n)
    return mean - half, mean + half


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


# --------------------------------------------------------------------------------------------------------------
# Retraining (needs the study's data)


def study_dataset(study: Any, data_dir: str | None = None) -> Any:
    """Reload the exact splits a study searched on, from what it recorded; checks the fingerprint."""
    from automl.pipeline import load_study_data

    return load_study_data(study.study_name, study.user_attrs, data_dir=data_dir)


def ensure_final(study: Any, data: Any, out_dir: Any, seed: int = 0) -> dict[str, Any]:
    """The study's final evaluation, running :func:`automl.finish.finalize` first when it has none."""
    from automl.record import StudyKey

    final = study.user_attrs.get(StudyKey.FINAL)
    if final:
        return dict(final)
    from automl.finish import finalize

    return finalize(study, data, out_dir, seed=seed).to_dict()


def seed_spread(study: Any, data: Any, trials: list[Any], seeds: int) -> dict[int, dict[str, Any]]:
    """Retrain each trial's configuration on train+validation with ``seeds`` seeds; score each once on test.

    The result is also stored in the study (user attribute ``seed_evaluations``) so later reports show it.
    """
    from automl.finish import study_space
    from automl.models.registry import get_family
    from automl.record import StudyKey, held_out_metric, read_study, read_trial

    if seeds < 1:
        raise AutomlError(f"--seeds: must be an integer >= 1, got {seeds}; pass e.g. --seeds 3")
    space = study_space(study)
    test_metric = held_out_metric(read_study(study).metric)
    results: dict[int, dict[str, Any]] = {}
    for trial in trials:
        record = read_trial(trial)
        family_name, config = space.family_of(record.config)
        family = get_family(family_name)
        epochs = family.epochs_for_final(config, record.best_epoch)
        scores = []
        for seed in range(seeds):
            model = family.fit_final(config, data, epochs, seed)
            scores.append(family.evaluate(model, data.x_test, data.y_test).metrics[test_metric])
        results[record.number] = {
            "seeds": list(range(seeds)),
            "metric": test_metric,
            "test_values": scores,
            **spread(scores),
        }
    stored = dict(study.user_attrs.get(StudyKey.SEED_EVALUATIONS) or {})
    stored.update({str(k): v for k, v in results.items()})
    study.set_user_attr(StudyKey.SEED_EVALUATIONS, stored)
    return results
