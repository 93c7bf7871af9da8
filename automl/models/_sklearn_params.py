"""Parameter helpers the scikit-learn families share: a number whose default is a word, and iterations per step."""

from __future__ import annotations

import math
from typing import Any

from automl.models.base import HyperParam


class DefaultableParam(HyperParam):
    """A number whose scikit-learn default has no number (forest's ``max_features='sqrt'``, SVM's
    ``gamma='scale'``: both depend on the data): null in a configuration means that default, so a space can
    search the default next to numbers, and start from it (the tabular spaces' warm starts)."""

    def rejects(self, value: Any) -> str | None:
        return None if value is None else super().rejects(value)


def step_iterations(total: int, steps: int, step: int) -> int:
    """Iterations trained by the end of ``step`` of ``steps`` when ``total`` are spread evenly."""
    return max(1, math.ceil(total * step / steps))
