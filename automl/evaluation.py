"""How far the winner's score can be trusted: a confidence interval for its test accuracy, the selection bias
(its validation score was the best of many, so it is optimistic), and the spread across retraining seeds.

The numbers are pure functions; the retraining reuses :mod:`automl.finish` and :mod:`automl.models.keras_mlp`.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import asdict, dataclass
from typing import Any

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


@dataclass(frozen=True)
class HonestEstimate:
    """The retrained winner's one look at the test split, and what it says about the search's own estimate."""

    trial: int
    metric: str
    val_value: float
    test_accuracy: float
    test_loss: float
    n_test: int
    ci_low: float
    ci_high: float
    selection_bias: float | None  # how much better validation looked than test; positive = optimistic
    baseline_test_accuracy: float | None
    epochs: int
    model_path: str | None
    member_test_accuracies: tuple[float, ...] = ()  # when the final model averages several retrained members

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def selection_bias(metric: str, val_value: float, test_accuracy: float, test_loss: float) -> float | None:
    """Validation minus test, signed so that a positive number means validation was optimistic."""
    if "accuracy" in metric:
        return val_value - test_accuracy
    if "loss" in metric:
        return test_loss - val_value
    return None  # another metric: no test counterpart to compare with


def honest_estimate(final: dict[str, Any] | None, metric: str) -> HonestEstimate | None:
    """From the study's recorded ``final`` evaluation (see :class:`automl.finish.FinalEvaluation`)."""
    if not final or final.get("test_accuracy") is None or not final.get("n_test"):
        return None
    acc, n = float(final["test_accuracy"]), int(final["n_test"])
    low, high = wilson_interval(acc, n)
    val = float(final["val_value"])
    loss = float(final.get("test_loss", math.nan))
    baseline = final.get("baseline_test_accuracy")
    return HonestEstimate(
        trial=int(final["best_trial"]),
        metric=metric,
        val_value=val,
        test_accuracy=acc,
        test_loss=loss,
        n_test=n,
        ci_low=low,
        ci_high=high,
        selection_bias=selection_bias(metric, val, acc, loss),
        baseline_test_accuracy=float(baseline) if baseline is not None else None,
        epochs=int(final.get("epochs", 0)),
        model_path=final.get("model_path"),
        member_test_accuracies=tuple(float(a) for a in final.get("member_test_accuracies") or ()),
    )


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
    from automl.data import load_dataset

    attrs = study.user_attrs
    name = attrs.get("dataset")
    if not name:
        raise AutomlError(
            f"study {study.study_name!r}: records no dataset (not created by automl search), so its winner "
            "cannot be retrained or tested; run the search with automl"
        )
    source = str(attrs.get("data_source") or "")
    if data_dir is None and source.startswith("idx:"):
        data_dir = source[len("idx:") :]
    data = load_dataset(name, data_dir=data_dir, seed=int(attrs.get("data_seed") or 0), limit=attrs.get("data_limit"))
    recorded = attrs.get("data_fingerprint")
    if recorded and data.fingerprint() != recorded:
        raise AutomlError(
            f"study {study.study_name!r}: its data (fingerprint {recorded}, source {source}) differs from what "
            f"loads now ({data.fingerprint()}, {data.source}); pass --data-dir with the original files"
        )
    return data


def ensure_final(study: Any, data: Any, out_dir: Any, seed: int = 0) -> dict[str, Any]:
    """The study's final evaluation, running :func:`automl.finish.finalize` first when it has none."""
    final = study.user_attrs.get("final")
    if final:
        return dict(final)
    from automl.finish import finalize

    return finalize(study, data, out_dir, seed=seed).to_dict()


def seed_spread(study: Any, data: Any, trials: list[Any], seeds: int) -> dict[int, dict[str, Any]]:
    """Retrain each trial's configuration on train+validation with ``seeds`` seeds; score each once on test.

    The result is also stored in the study (user attribute ``seed_evaluations``) so later reports show it.
    """
    import keras
    import numpy as np

    from automl.finish import trial_config
    from automl.models import keras_mlp

    if seeds < 1:
        raise AutomlError(f"--seeds: must be an integer >= 1, got {seeds}; pass e.g. --seeds 3")
    x_all = np.concatenate([data.x_train, data.x_val])
    y_all = np.concatenate([data.y_train, data.y_val])
    results: dict[int, dict[str, Any]] = {}
    for trial in trials:
        config = trial_config(trial)
        epochs = int(trial.user_attrs.get("best_epoch") or config.get("epochs", 10))
        scores = []
        for seed in range(seeds):
            keras.backend.clear_session()  # each model is scored at once; nothing needs to outlive its turn
            model = keras_mlp.fit_final(config, x_all, y_all, epochs, data.n_classes, seed=seed)
            scores.append(keras_mlp.evaluate(model, data.x_test, data.y_test)["accuracy"])
        results[trial.number] = {"seeds": list(range(seeds)), "test_accuracy": scores, **spread(scores)}
    stored = dict(study.user_attrs.get("seed_evaluations") or {})
    stored.update({str(k): v for k, v in results.items()})
    study.set_user_attr("seed_evaluations", stored)
    return results
