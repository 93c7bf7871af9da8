"""``automl.testing.check_family`` passes on every built-in family, on a user's family and on the README's example
(read from README.md, so the README cannot rot), and fails, naming the check, on families that break the contract.
A family written against the README before the EpochTracker still searches end to end."""

from __future__ import annotations

import contextlib
import importlib
import os
import re
import sys
import types
from pathlib import Path
from typing import Any

import optuna
import pytest
from support import TINY_LIMIT

import automl
from automl.models import FAMILIES, ModelFamily, get_family
from automl.study.storage import default_storage_url
from automl.testing import FamilyContractError, check_family

USER_MODULES = Path(__file__).parent / "user_families"
README = Path(__file__).parent.parent / "README.md"
# A few epochs, trees and boosting rounds: the checks are about the contract, not about learning
SMALL: dict[str, dict[str, Any]] = {
    "keras_mlp": {"epochs": 2, "units_1": 8},
    "keras_cnn": {"epochs": 2, "filters_1": 4},
    "sklearn_hgb": {"max_iter": 10},
    "sklearn_forest": {"n_estimators": 10},
    "sklearn_mlp": {"epochs": 10},
}


@pytest.fixture(scope="module")
def user_modules() -> Any:
    sys.path.insert(0, str(USER_MODULES))
    yield importlib.import_module
    sys.path.remove(str(USER_MODULES))


def readme_family() -> type[ModelFamily]:
    """The ``Ridge`` of README.md's ``# my_families.py`` code block, executed as a module of its own."""
    block = re.search(r"```python\n(# my_families\.py\n.*?)```", README.read_text(), re.S)
    assert block is not None, "README.md lost its '# my_families.py' example"
    module = types.ModuleType("my_families")
    exec(compile(block.group(1), "README.md:my_families.py", "exec"), module.__dict__)
    return module.Ridge  # type: ignore[no-any-return]


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_every_built_in_family_keeps_the_contract(name: str) -> None:
    check_family(type(get_family(name)), config=SMALL.get(name))


def test_a_users_family_keeps_the_contract(user_modules: Any) -> None:
    check_family(user_modules("ridge_family").Ridge)


def test_the_readme_family_keeps_the_contract() -> None:
    check_family(readme_family())


# ---- families that break it ----------------------------------------------------------------------------------


def broken(base: type[ModelFamily], how: str) -> type[ModelFamily]:
    """``base`` with one promise broken."""

    class Broken(base):  # type: ignore[valid-type, misc]
        def train(self, config: dict[str, Any], data: Any, reporter: Any = None, **kwargs: Any) -> Any:
            inner = reporter

            class Relay:
                def report(self, epoch: int, metrics: dict[str, float]) -> None:
                    if how == "swallows the reporter's exception":
                        with contextlib.suppress(Exception):  # the bug: a pruned trial trains on
                            inner.report(epoch, metrics)
                    elif how == "counts epochs from 0":
                        inner.report(epoch - 1, metrics)
                    elif how == "drops a declared metric":
                        inner.report(epoch, {k: v for k, v in metrics.items() if k != "accuracy"})

            return super().train(config, data, Relay(), **kwargs)

    return Broken


@pytest.mark.parametrize(
    ("how", "message"),
    [
        ("swallows the reporter's exception", r"fails the check 'a reporter's exception propagates \(pruning\)'"),
        ("counts epochs from 0", r"reports must number epochs 1, 2, 3\.\.\. in order, got \[0, 1, 2\]"),
        ("drops a declared metric", r"epoch 1 reports no \['accuracy'\] \(declared in metrics\['classification'\]\)"),
    ],
)
def test_a_family_that_breaks_the_contract_fails_with_the_check_named(
    user_modules: Any, how: str, message: str
) -> None:
    family = broken(user_modules("ridge_family").Ridge, how)
    with pytest.raises(FamilyContractError, match=message):
        check_family(family)


def test_a_family_that_ignores_direction_and_patience_fails(user_modules: Any) -> None:
    ridge = user_modules("ridge_family").Ridge

    class AlwaysMaximises(ridge):  # type: ignore[valid-type, misc]
        def train(self, config: dict[str, Any], data: Any, reporter: Any = None, **kwargs: Any) -> Any:
            return super().train(config, data, reporter, **{**kwargs, "direction": "maximize", "patience": 100})

    with pytest.raises(FamilyContractError, match=r"honours direction and patience"):
        check_family(AlwaysMaximises, config={"epochs": 6, "alpha": 1e3})


def test_the_old_readme_family_is_not_conformant_but_says_why(user_modules: Any) -> None:
    # It declares the default metrics (loss, accuracy...) but reports val_accuracy alone.
    with pytest.raises(FamilyContractError, match=r"Ridge fails the check 'train on table/classification': epoch 1 "):
        check_family(user_modules("old_readme_family").Ridge)


# ---- a family written against the old README still runs -------------------------------------------------------


def test_a_family_written_against_the_old_readme_still_searches(
    user_modules: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    user_modules("old_readme_family")
    # workers import the family by its module name, in this process or another
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(USER_MODULES), os.environ.get("PYTHONPATH", "")]))
    space = automl.parse_space(
        {
            "name": "old_ridge",
            "model": "old_readme_family:Ridge",
            "search": {"sampler": "random", "pruner": "none", "trials": 2},
            "params": {"alpha": {"type": "float", "low": 1.0, "high": 100.0, "log": True}},
        }
    )
    result = automl.search(
        "mnist", space, study="old", trials=2, limit=TINY_LIMIT, reports_dir=tmp_path / "reports", quiet=True
    )
    study = optuna.load_study(study_name="old", storage=default_storage_url())
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.COMPLETE] * 2
    assert result.test_metric == "accuracy"
    assert 0.5 < result.test_value <= 1.0  # ridge on pixels learns digits
    assert result.model_path is not None and result.model_path.name == "ridge.json"
