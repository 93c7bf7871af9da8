"""The search-space format: parsing, every validation rule, sampling within kinds, bounds and conditions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna
import pytest

from automl.errors import SpaceError
from automl.spaces import describe, list_spaces, load_space, parse_space

BASE: dict[str, Any] = {
    "model": "keras_mlp",
    "params": {
        "n_layers": {"type": "int", "low": 1, "high": 3},
        "units_3": {"type": "int", "low": 8, "high": 64, "log": True, "when": "n_layers >= 3"},
        "optimizer": {"type": "categorical", "choices": ["sgd", "adam"]},
        "momentum": {"type": "float", "low": 0.0, "high": 0.9, "when": "optimizer == sgd"},
        "lr": {"type": "float", "low": 1e-4, "high": 1e-1, "log": True},
        "dropout": {"type": "float", "low": 0.0, "high": 0.5, "step": 0.1},
        "epochs": {"type": "fixed", "value": 5},
    },
}


def with_param(name: str, spec: Any) -> dict[str, Any]:
    return {**BASE, "params": {**BASE["params"], name: spec}}


def test_default_space_loads_and_covers_the_required_parameters() -> None:
    space = load_space("mnist_mlp")
    names = {p.name for p in space.params}
    assert {
        "n_layers",
        "activation",
        "optimizer",
        "learning_rate",
        "momentum",
        "l2",
        "dropout",
        "batch_norm",
        "batch_size",
        "epochs",
    } <= names
    assert set(space.param("activation").choices) == {"relu", "tanh", "sigmoid", "elu", "gelu"}
    assert set(space.param("optimizer").choices) == {"sgd", "adam", "rmsprop", "adagrad"}
    assert space.param("learning_rate").log
    assert space.settings.sampler == "tpe"
    assert "mnist_mlp" in [p.stem for p in list_spaces()]


def test_describe_lists_every_parameter_and_condition() -> None:
    text = describe(load_space("mnist_mlp"))
    assert "units_3" in text
    assert "n_layers >= 3" in text
    assert "optimizer == 'sgd'" in text


@pytest.mark.parametrize(
    ("doc", "key", "rule"),
    [
        ({**BASE, "colour": 1}, "colour", "unknown key"),
        (
            with_param("x", {"type": "float", "low": 0, "high": 1, "bogus": 2}),
            "params.x.bogus",
            "unknown key",
        ),
        ({**BASE, "search": {"trials": 0}}, "search.trials", "integer >= 1"),
        ({**BASE, "search": {"sampler": "annealing"}}, "search.sampler", "must be one of"),
        ({**BASE, "search": {"pruner": "sometimes"}}, "search.pruner", "must be one of"),
        (with_param("x", {"type": "float", "low": "a", "high": 1}), "params.x.low", "must be a number"),
        (with_param("x", {"type": "int", "low": 1.5, "high": 3}), "params.x.low", "must be an integer"),
        (
            with_param("lr2", {"type": "float", "low": 0.1, "high": 0.01}),
            "params.lr2",
            "low must be < high, got low=0.1 high=0.01",
        ),
        (with_param("n", {"type": "int", "low": 5, "high": 2}), "params.n", "low must be <= high"),
        (
            with_param("x", {"type": "float", "low": 0.0, "high": 1.0, "log": True}),
            "params.x",
            "log scale needs low > 0",
        ),
        (
            with_param("x", {"type": "float", "low": 0.1, "high": 1.0, "log": True, "step": 0.1}),
            "params.x",
            "cannot be combined",
        ),
        (with_param("c", {"type": "categorical", "choices": []}), "params.c.choices", "non-empty list"),
        (
            with_param("c", {"type": "categorical", "choices": [[1, 2]]}),
            "params.c.choices",
            "strings, numbers",
        ),
        (
            with_param("z", {"type": "float", "low": 0, "high": 1, "when": "depth >= 2"}),
            "params.z.when",
            "does not exist",
        ),
        (
            with_param("z", {"type": "float", "low": 0, "high": 1, "when": "n_layers ~ 2"}),
            "params.z.when",
            "PARAM OP VALUE",
        ),
        (with_param("z", {"type": "weird"}), "params.z.type", "must be one of"),
        (with_param("z", {"type": "fixed"}), "params.z", "needs 'value'"),
        ({"model": "keras_mlp", "params": {}}, "params", "non-empty mapping"),
        ({**BASE, "model": "resnet"}, "model", "must be a model family"),
        ({**BASE, "search": {"warm_start": [{"depth": 2}]}}, "search.warm_start[0].depth", "not a searched parameter"),
        ({**BASE, "search": {"warm_start": [{"lr": 5.0}]}}, "search.warm_start[0].lr", "outside the parameter's range"),
        ({**BASE, "search": {"warm_start": [{"optimizer": "lbfgs"}]}}, "search.warm_start[0].optimizer", "outside"),
        ({**BASE, "search": {"warm_start": {"lr": 0.01}}}, "search.warm_start", "must be a list of mappings"),
    ],
)
def test_validation_errors_name_file_key_and_rule(doc: dict[str, Any], key: str, rule: str) -> None:
    with pytest.raises(SpaceError) as info:
        parse_space(doc, source="spaces/x.yaml")
    message = str(info.value)
    assert message.startswith(f"spaces/x.yaml: {key}: ")
    assert rule in message
    assert "\n" not in message


def test_condition_must_name_an_earlier_parameter() -> None:
    doc = {
        "params": {
            "a": {"type": "int", "low": 0, "high": 1, "when": "b == 1"},
            "b": {"type": "int", "low": 0, "high": 1},
        }
    }
    with pytest.raises(SpaceError, match="must be declared before"):
        parse_space(doc, source="s.yaml")


def test_malformed_yaml_and_missing_files_are_one_line_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("params:\n  x: {type: int, low: 1\n")
    with pytest.raises(SpaceError, match=r"bad\.yaml: line \d+: malformed YAML"):
        load_space(str(bad))
    with pytest.raises(SpaceError, match="not found"):
        load_space("no_such_space")
    with pytest.raises(SpaceError, match="no such search-space file"):
        load_space(str(tmp_path / "missing.yaml"))


def test_sampling_respects_kinds_bounds_steps_and_conditions() -> None:
    space = parse_space(BASE)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    seen_layers, seen_optimizers = set(), set()
    for _ in range(150):
        trial = study.ask()
        config = space.sample(trial)
        study.tell(trial, 0.0)
        assert isinstance(config["n_layers"], int)
        assert 1 <= config["n_layers"] <= 3
        assert ("units_3" in config) == (config["n_layers"] >= 3)
        if "units_3" in config:
            assert 8 <= config["units_3"] <= 64
        assert ("momentum" in config) == (config["optimizer"] == "sgd")
        assert 1e-4 <= config["lr"] <= 1e-1
        assert round(config["dropout"] * 10, 6) == round(config["dropout"] * 10)
        assert config["epochs"] == 5
        seen_layers.add(config["n_layers"])
        seen_optimizers.add(config["optimizer"])
    assert seen_layers == {1, 2, 3}  # inclusive integer bounds
    assert seen_optimizers == {"sgd", "adam"}


def test_to_dict_round_trips_and_fingerprint_tracks_params_not_budget() -> None:
    space = parse_space(BASE)
    again = parse_space(space.to_dict())
    assert again.fingerprint() == space.fingerprint()
    assert again.sample(
        optuna.trial.FixedTrial(
            {"n_layers": 3, "units_3": 16, "optimizer": "sgd", "momentum": 0.5, "lr": 0.01, "dropout": 0.2}
        )
    ) == {
        "n_layers": 3,
        "units_3": 16,
        "optimizer": "sgd",
        "momentum": 0.5,
        "lr": 0.01,
        "dropout": 0.2,
        "epochs": 5,
    }
    longer = parse_space({**BASE, "search": {"trials": 999}})
    assert longer.fingerprint() == space.fingerprint()
    wider = parse_space(with_param("lr", {"type": "float", "low": 1e-5, "high": 1e-1, "log": True}))
    assert wider.fingerprint() != space.fingerprint()


def test_grid_needs_discrete_parameters() -> None:
    discrete = parse_space(
        {
            "params": {
                "a": {"type": "int", "low": 1, "high": 3},
                "b": {"type": "categorical", "choices": ["x", "y"]},
                "c": {"type": "float", "low": 0.0, "high": 0.2, "step": 0.1},
            }
        }
    )
    assert discrete.grid() == {"a": [1, 2, 3], "b": ["x", "y"], "c": [0.0, 0.1, 0.2]}
    with pytest.raises(SpaceError, match="grid sampler needs discrete"):
        parse_space(BASE).grid()


def test_warm_start_configurations_are_tried_first() -> None:
    from automl.backends.optuna import make_sampler

    warm = {"n_layers": 3, "units_3": 32, "optimizer": "sgd", "momentum": 0.5, "lr": 0.01, "dropout": 0.2}
    space = parse_space({**BASE, "search": {"warm_start": [warm]}})
    assert parse_space(space.to_dict()).settings.warm_start == (warm,)
    study = optuna.create_study(sampler=make_sampler(space.settings, space, seed=0))
    study.enqueue_trial(dict(space.settings.warm_start[0]))
    trial = study.ask()
    assert space.sample(trial) == {**warm, "epochs": 5}
