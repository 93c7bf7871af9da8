"""The study's samplers and pruners follow the space's settings."""

from __future__ import annotations

import optuna
import pytest
from support import FIXTURES

from automl.backends import factories as backend
from automl.spaces import SearchSettings, load_space


@pytest.mark.parametrize(
    ("sampler", "cls"),
    [
        ("tpe", optuna.samplers.TPESampler),
        ("random", optuna.samplers.RandomSampler),
        ("cmaes", optuna.samplers.CmaEsSampler),
    ],
)
def test_sampler_follows_the_settings(sampler: str, cls: type) -> None:
    space = load_space(str(FIXTURES / "tiny_mlp.yaml"))
    assert isinstance(backend.make_sampler(SearchSettings(sampler=sampler), space, seed=0), cls)


@pytest.mark.parametrize(
    ("pruner", "cls"),
    [
        ("median", optuna.pruners.MedianPruner),
        ("successive_halving", optuna.pruners.SuccessiveHalvingPruner),
        ("hyperband", optuna.pruners.HyperbandPruner),
        ("none", optuna.pruners.NopPruner),
    ],
)
def test_pruner_follows_the_settings(pruner: str, cls: type) -> None:
    assert isinstance(backend.make_pruner(SearchSettings(pruner=pruner), max_epochs=10), cls)
