"""What a trial is measured by beyond its objective, when the space has several objectives or bounds: the other
validation metrics at its best epoch, and the costs of :data:`automl.spaces.objectives.COST_METRICS` (its parameter
count, its prediction latency on a fixed batch of validation rows, its training seconds). Latency is timed the same
way for every trial and for the final model; no model library is named: a family hands over its predict function."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterable
from typing import Any

from automl.errors import TrialFailed
from automl.models.base import ModelFamily, TrialOutcome

LATENCY_ROWS = 256  # one fixed batch of validation rows: the first ones, so every trial predicts the same rows
REPEATS = 5


def first_rows(x: Any, n: int = LATENCY_ROWS) -> Any:
    """The first ``n`` rows of an array or a table."""
    return x.iloc[:n] if hasattr(x, "iloc") else x[:n]


def latency_ms(predict: Callable[[Any], Any], x: Any) -> float:
    """Median milliseconds per row for ``predict`` on the first :data:`LATENCY_ROWS` rows of ``x``, over
    :data:`REPEATS` calls after one untimed call (which builds graphs and warms caches)."""
    batch = first_rows(x)
    rows = max(1, len(batch))
    predict(batch)
    seconds = []
    for _ in range(REPEATS):
        began = time.perf_counter()
        predict(batch)
        seconds.append(time.perf_counter() - began)
    return 1000.0 * statistics.median(seconds) / rows


def trial_measures(names: Iterable[str], outcome: TrialOutcome, family: ModelFamily, data: Any) -> dict[str, float]:
    """``{name: value}`` for one finished trial; TrialFailed when one cannot be measured (the space check refuses
    a cost the family cannot give, so that means a family broke its declaration)."""
    values: dict[str, float] = {}
    for name in names:
        if name == "params":
            values[name] = float(outcome.n_params)
        elif name == "train_seconds":
            values[name] = float(outcome.train_seconds)
        elif name == "latency_ms":
            values[name] = model_latency_ms(
                family, outcome.model if outcome.model is not None else outcome.timing_model, data
            )
        else:
            curve = outcome.history.get(name) or []
            if not 1 <= outcome.best_epoch <= len(curve):
                raise TrialFailed(
                    f"{name} was not reported at the best epoch ({outcome.best_epoch}); cannot measure it"
                )
            values[name] = float(curve[outcome.best_epoch - 1])
    return values


def model_latency_ms(family: ModelFamily, model: Any, data: Any) -> float:
    """Milliseconds per row for ``model`` on the first validation rows (:func:`automl.models.measures.latency_ms`)."""
    predict = family.predictor(model) if model is not None else None
    if predict is None:
        raise TrialFailed(f"{family.name} gave no model whose predictions can be timed; cannot measure latency_ms")
    return latency_ms(predict, data.x_val)
