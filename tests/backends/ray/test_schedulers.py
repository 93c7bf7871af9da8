"""The space's pruner as a Tune scheduler, counting epochs, with the space's metric and mode."""

from __future__ import annotations

import pytest
from ray.tune.schedulers import ASHAScheduler, FIFOScheduler, MedianStoppingRule

from automl.backends.ray.schedulers import make_scheduler
from automl.spaces import SearchSettings


@pytest.mark.parametrize(
    ("pruner", "cls"),
    [
        ("median", MedianStoppingRule),
        ("successive_halving", ASHAScheduler),
        ("hyperband", ASHAScheduler),
        ("none", FIFOScheduler),
    ],
)
def test_each_pruner_maps_to_its_scheduler(pruner: str, cls: type) -> None:
    scheduler = make_scheduler(SearchSettings(pruner=pruner, metric="val_loss", direction="minimize"), max_epochs=6)
    assert type(scheduler) is cls
    if cls is not FIFOScheduler:
        assert scheduler.metric == "val_loss"
        assert scheduler._mode == "min"  # passed explicitly, not left unset
        assert scheduler._time_attr == "epoch"


def test_asha_lets_a_trial_finish_its_last_epoch_itself() -> None:
    scheduler = make_scheduler(SearchSettings(pruner="hyperband"), max_epochs=6)
    assert scheduler._max_t == 7  # ASHA stops trials that reach max_t; the last epoch must end with its outcome
