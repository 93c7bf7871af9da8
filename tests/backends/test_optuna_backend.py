"""The Optuna backend's choices: samplers and pruners from a space, and the consecutive-failure cap."""

from __future__ import annotations

import optuna
import pytest
from conftest import FIXTURES

from automl.backends import optuna as backend
from automl.errors import SearchAborted
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


def test_a_run_of_failures_stops_the_search_with_a_clear_message() -> None:
    space = load_space(str(FIXTURES / "tiny_mlp.yaml"))
    study = optuna.create_study(direction="maximize")

    def broken_model(*args: object, **kwargs: object) -> None:
        raise MemoryError("out of memory")

    objective = backend.make_objective(space, space.settings, data=None, train=broken_model)  # type: ignore[arg-type]
    with pytest.raises(SearchAborted, match="3 trials in a row failed \\(last: MemoryError: out of memory\\)"):
        backend.run(study, objective, budget=20, timeout=None, max_consecutive_failures=3)
    assert len(study.trials) == 3
    assert all(t.state == optuna.trial.TrialState.FAIL for t in study.trials)
