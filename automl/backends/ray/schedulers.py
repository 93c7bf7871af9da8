"""The space's pruner as a Ray Tune scheduler. Every scheduler counts epochs (the ``epoch`` key the trainable
reports), as the Optuna pruners count steps, so one space means the same budget on both backends."""

from __future__ import annotations

from typing import Any

from automl.spaces import SearchSettings

TIME_ATTR = "epoch"

# pruner -> (scheduler, what it is), for the README's table and the log line
MAPPING = {
    "median": "MedianStoppingRule",
    "successive_halving": "ASHAScheduler (reduction factor 4)",
    "hyperband": "ASHAScheduler (reduction factor 3)",
    "none": "FIFOScheduler",
}


def mode_of(settings: SearchSettings) -> str:
    return "max" if settings.direction == "maximize" else "min"


def make_scheduler(settings: SearchSettings, max_epochs: int) -> Any:
    from ray.tune.schedulers import ASHAScheduler, FIFOScheduler, MedianStoppingRule

    metric, mode = settings.metric, mode_of(settings)
    if settings.pruner == "median":
        # As gentle as the Optuna backend's MedianPruner (4 warm-up epochs, 8 trials before judging).
        return MedianStoppingRule(time_attr=TIME_ATTR, metric=metric, mode=mode, grace_period=4, min_samples_required=8)
    if settings.pruner in ("successive_halving", "hyperband"):
        # max_t one past the last epoch: ASHA stops any trial that reaches max_t, and a trial that trained all its
        # epochs must end by itself, with its outcome, not as "stopped".
        return ASHAScheduler(
            time_attr=TIME_ATTR,
            metric=metric,
            mode=mode,
            max_t=max_epochs + 1,
            grace_period=2,
            reduction_factor=4 if settings.pruner == "successive_halving" else 3,
        )
    return FIFOScheduler()
