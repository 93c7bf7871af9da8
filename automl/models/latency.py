"""How fast a trained model predicts: the ``latency_ms`` objective, measured the same way for every trial and for
the final model (pure timing, no model library named: a family hands over its predict function)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

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
