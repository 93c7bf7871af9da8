"""Several objectives, bounds and the pick rule: reading them from a space, refusing bad ones in one line before
any trial, and the pure decisions (feasibility, the Pareto front, the pick)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from automl.cli import main
from automl.errors import SpaceError
from automl.spaces import parse_space
from automl.spaces.checks import check_space
from automl.spaces.objectives import (
    Constraint,
    Objective,
    PickRule,
    is_feasible,
    pareto_front,
    parse_constraint,
    parse_objective,
    parse_pick,
    pick,
)

PARAMS = {
    "n_layers": {"type": "fixed", "value": 1},
    "units_1": {"type": "int", "low": 8, "high": 64},
    "optimizer": {"type": "fixed", "value": "adam"},
    "learning_rate": {"type": "fixed", "value": 0.01},
}
SYNTHETIC_PARAMS = (
    "params: {n_layers: {type: fixed, value: 1}, units_1: {type: int, low: 8, high: 64}, "
    "optimizer: {type: fixed, value: adam}, learning_rate: {type: fixed, value: 0.01}}\n"
)


def space(search: dict, model: str = "synthetic") -> object:
    return parse_space({"name": "s", "model": model, "search": search, "params": PARAMS}, source="s.yaml")


def test_objectives_set_the_primary_metric_and_turn_pruning_off() -> None:
    s = space({"objectives": ["val_accuracy maximize", "params minimize"], "constraints": ["latency_ms <= 0.5"],
               "pick": "smallest within 0.5 points"})  # fmt: skip
    settings = s.settings
    assert (settings.metric, settings.direction, settings.pruner) == ("val_accuracy", "maximize", "none")
    assert settings.multi_objective and settings.trades_off
    assert settings.measured == ("params", "latency_ms")
    assert settings.constraints == (Constraint("latency_ms", "<=", 0.5),)
    assert settings.pick_rule == PickRule("smallest", "val_accuracy", 0.5)
    check_space(s)
    # recorded and read back unchanged, as a study keeps them
    again = parse_space(s.to_dict(), source="study s")
    assert again.settings == settings


def test_a_single_objective_space_records_what_it_always_did() -> None:
    settings = space({"metric": "val_accuracy"}).settings
    assert not settings.trades_off
    assert not {"objectives", "constraints", "pick"} & set(settings.to_dict())


@pytest.mark.parametrize(
    ("search", "where", "rule"),
    [
        ({"objectives": ["val_accuracy up", "params minimize"]}, "search.objectives[0]", "DIRECTION one of"),
        ({"objectives": ["val_accuracy maximize"]}, "search.objectives", "give two or more"),
        ({"objectives": ["params minimize", "val_accuracy maximize"]}, "search.objectives[0]", "validation metric"),
        ({"objectives": ["val_accuracy maximize", "val_accuracy minimize"]}, "search.objectives", "twice"),
        ({"objectives": ["val_accuracy maximize", "params minimize"], "pruner": "asha"}, "search.pruner", "none"),
        ({"objectives": ["val_accuracy maximize", "params minimize"], "sampler": "cmaes"}, "search.sampler", "nsga2"),
        ({"metric": "val_loss", "objectives": ["val_accuracy maximize", "params minimize"]}, "search.metric", "drop"),
        ({"constraints": ["params < 10"]}, "search.constraints[0]", "METRIC <= NUMBER"),
        ({"constraints": ["params <= lots"]}, "search.constraints[0]", "METRIC <= NUMBER"),
        ({"pick": "cheapest"}, "search.pick", "smallest within N points"),
        ({"pick": "best params"}, "search.pick", "not an objective"),
    ],
)
def test_a_malformed_objective_bound_or_rule_is_one_line(search: dict, where: str, rule: str) -> None:
    with pytest.raises(SpaceError) as caught:
        space(search)
    message = str(caught.value)
    assert message.startswith(f"s.yaml: {where}: ") and rule in message and "\n" not in message


@pytest.mark.parametrize(
    ("model", "search", "where", "named"),
    [
        ("synthetic", {"objectives": ["val_accuracy maximize", "val_rmse minimize"]}, "objectives[1]", "val_rmse"),
        ("synthetic", {"constraints": ["memory_mb <= 10"]}, "constraints[0]", "memory_mb"),
        # the scikit-learn families measure latency but not a parameter count
        ("sklearn_forest", {"metric": "val_accuracy", "objectives": ["val_accuracy maximize", "params minimize"]},
         "objectives[1]", "cannot measure that cost"),
    ],
)  # fmt: skip
def test_an_objective_the_family_cannot_report_is_refused_before_any_trial(
    model: str, search: dict, where: str, named: str
) -> None:
    params = {"n_estimators": {"type": "int", "low": 10, "high": 20}} if model.startswith("sklearn") else PARAMS
    s = parse_space({"name": "s", "model": model, "search": search, "params": params}, source="s.yaml")
    with pytest.raises(SpaceError) as caught:
        check_space(s)
    assert f"s.yaml: search.{where}: " in str(caught.value) and named in str(caught.value)


@pytest.mark.parametrize(
    ("objectives", "flags", "says"),
    [
        ("[val_accuracy maximize, size minimize]", [], "search.objectives[1]: synthetic reports"),
        # the Ray backend's trials train in other processes, where their costs are not measured
        ("[val_accuracy maximize, params minimize]", ["--backend", "ray"], "ray backend searches one objective"),
    ],
)
def test_the_cli_refuses_an_objective_in_one_line_with_exit_2(
    objectives: str, flags: list[str], says: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "space.yaml"
    path.write_text(f"model: synthetic\nsearch: {{objectives: {objectives}}}\n" + SYNTHETIC_PARAMS)
    code = main(["search", "mnist", "--space", str(path), "--limit", "600", *flags])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and says in err, err


def test_parsers_read_the_documented_forms() -> None:
    assert parse_objective(" params  minimize ") == Objective("params", "minimize")
    assert parse_constraint("val_accuracy >= 0.9") == Constraint("val_accuracy", ">=", 0.9)
    assert parse_pick("fastest within 2 points", "val_rmse") == PickRule("fastest", "val_rmse", 2.0)
    assert parse_pick("best val_accuracy", "val_accuracy") == PickRule("best", "val_accuracy")
    with pytest.raises(ValueError):
        parse_constraint("latency_ms <= inf")


def test_feasibility_counts_an_unmeasured_value_as_a_violation() -> None:
    bounds = [Constraint("params", "<=", 100), Constraint("val_accuracy", ">=", 0.9)]
    assert is_feasible({"params": 100, "val_accuracy": 0.95}, bounds)
    assert not is_feasible({"params": 101, "val_accuracy": 0.95}, bounds)
    assert not is_feasible({"val_accuracy": 0.95}, bounds)
    assert bounds[0].violation(None) == math.inf


def test_the_front_holds_exactly_the_undominated_points() -> None:
    objectives = [Objective("val_accuracy", "maximize"), Objective("params", "minimize")]
    points = {
        0: {"val_accuracy": 0.90, "params": 100},
        1: {"val_accuracy": 0.95, "params": 1000},
        2: {"val_accuracy": 0.89, "params": 200},  # worse on both than 0
        3: {"val_accuracy": 0.97, "params": 5000},
        4: {"val_accuracy": 0.95, "params": 1000},  # ties 1: neither dominates
        5: {"params": 1},  # no accuracy: left out
    }
    assert pareto_front(points, objectives) == [0, 1, 3, 4]


def test_the_pick_rules() -> None:
    objectives = [Objective("val_accuracy", "maximize"), Objective("params", "minimize")]
    points = {
        0: {"val_accuracy": 0.960, "params": 100, "latency_ms": 0.3},
        1: {"val_accuracy": 0.968, "params": 900, "latency_ms": 0.1},
        2: {"val_accuracy": 0.970, "params": 5000, "latency_ms": 0.2},
    }
    assert pick(points, objectives, PickRule("best", "val_accuracy"))[0] == 2
    assert pick(points, objectives, PickRule("best", "params"))[0] == 0
    # 0.5 points of accuracy is 0.005: trials 1 and 2 are near the best, 1 is the smaller
    assert pick(points, objectives, PickRule("smallest", "val_accuracy", 0.5))[0] == 1
    assert pick(points, objectives, PickRule("smallest", "val_accuracy", 1.0))[0] == 0
    assert pick(points, objectives, PickRule("fastest", "val_accuracy", 1.0))[0] == 1
    assert pick({}, objectives, PickRule("best", "val_accuracy")) is None
