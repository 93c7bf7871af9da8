"""Which search space a dataset gets when none is named: the image default for images, a tabular space for a
table, chosen by its task; for an imbalanced classification table, an objective that does not reward ignoring
the rare class.

The image defaults are named by dataset (:data:`DEFAULT_SPACES`), the table defaults by task
(:data:`DEFAULT_TABLE_SPACES`).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from automl.spaces.model import SearchSpace
from automl.spaces.parsing import load_space

log = logging.getLogger(__name__)

# The space a dataset searches when none is named. MNIST's is the CNN: 98-99% held-out against 96-97% for the
# tutorial's MLP space in the same time (benchmarks/README.md); mnist_mlp stays, as the tutorial's own ground.
DEFAULT_SPACES = {"mnist": "mnist_cnn", "fashion_mnist": "mnist_cnn"}
# Tables (a CSV/Parquet file, iris, diabetes...) get a tabular space by task.
DEFAULT_TABLE_SPACES = {"classification": "tabular_classification", "regression": "tabular_regression"}
RARE_CLASS_SHARE = 0.2  # below this share of the rows for the rarest class, accuracy flatters a majority vote
IMBALANCED_METRIC = "val_balanced_accuracy"


def rarest_class_share(data: Any) -> float:
    import numpy as np  # here, not at the top: the CLI imports this module for its help text

    labels = np.concatenate([data.y_train, data.y_val, data.y_test])
    counts = np.bincount(labels.astype(np.int64), minlength=max(int(data.n_classes), 1))
    return float(counts[counts > 0].min() / counts.sum())


def table_default_space(data: Any) -> SearchSpace:
    """The default space for a table's task; balanced accuracy as the objective when a class is rare."""
    space = load_space(DEFAULT_TABLE_SPACES[data.task])
    if data.task == "classification" and (share := rarest_class_share(data)) < RARE_CLASS_SHARE:
        log.info(
            "objective: %s instead of %s: the rarest class holds %.0f%% of the rows (under %.0f%%), so plain "
            "accuracy would reward predicting the majority",
            IMBALANCED_METRIC,
            space.settings.metric,
            100 * share,
            100 * RARE_CLASS_SHARE,
        )
        space = replace(space, settings=replace(space.settings, metric=IMBALANCED_METRIC, direction="maximize"))
    return space
