"""The space file's rules are data (pydantic models), so bad values are generated from them: every bound, every
allowed-values list and every type of every key gets a value that breaks it, and each must be refused with one line
naming the file and the key."""

from __future__ import annotations

import typing
from typing import Any

import annotated_types
import pytest
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from automl.errors import SpaceError
from automl.spaces import parse_settings, parse_space
from automl.spaces.schema import CategoricalParam, FloatParam, IntParam, SettingsFile, SpaceFile

VALID_PARAMS: dict[str, dict[str, Any]] = {
    "float": {"type": "float", "low": 0.1, "high": 1.0},
    "int": {"type": "int", "low": 1, "high": 8},
    "categorical": {"type": "categorical", "choices": ["a", "b"]},
}


def broken_values(info: FieldInfo) -> list[Any]:
    """Values the field's own constraints refuse: just past each bound, outside its allowed values, wrong type."""
    bad: list[Any] = ["not a number"] if _numeric(info.annotation) else []
    for rule in info.metadata:
        if isinstance(rule, annotated_types.Ge):
            bad.append(rule.ge - 1)
        elif isinstance(rule, annotated_types.Gt):
            bad += [rule.gt, rule.gt - 1]
        elif isinstance(rule, annotated_types.MinLen):
            bad.append([])
    literal = [a for a in _members(info.annotation) if typing.get_origin(a) is typing.Literal]
    if literal:
        bad.append("no such " + "-".join(typing.get_args(literal[0])))
    return bad


def _members(annotation: Any) -> list[Any]:
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    args = typing.get_args(annotation) if typing.get_origin(annotation) in (typing.Union, type(int | None)) else ()
    return [m for a in args for m in _members(a)] if args else [annotation]


def _numeric(annotation: Any) -> bool:
    return any(m in (int, float) for m in _members(annotation))


def cases(model: type[BaseModel]) -> list[tuple[str, Any]]:
    return [(name, bad) for name, info in model.model_fields.items() for bad in broken_values(info)]


SETTINGS_CASES = cases(SettingsFile)
PARAM_CASES = [(kind, name, bad) for kind, m in [("float", FloatParam), ("int", IntParam)] for name, bad in cases(m)]
PARAM_CASES += [("categorical", name, bad) for name, bad in cases(CategoricalParam)]


def test_the_generated_cases_cover_the_rules() -> None:
    # Guards the generator itself: a refactor that hides the constraints from it must not pass silently.
    assert {name for name, _ in SETTINGS_CASES} >= {"trials", "timeout", "time_budget", "max_trial_seconds", "patience"}
    assert {"direction", "sampler", "pruner", "backend"} <= {name for name, _ in SETTINGS_CASES}
    assert {(kind, name) for kind, name, _ in PARAM_CASES} >= {("int", "step"), ("float", "step"), ("int", "low")}
    assert ("categorical", "choices") in {(kind, name) for kind, name, _ in PARAM_CASES}
    assert "params" in {name for name, _ in cases(SpaceFile)}


def assert_one_line(message: str, prefix: str, bad: Any) -> None:
    assert message.startswith(prefix), message
    assert "\n" not in message
    assert repr(bad) in message, message  # the value is echoed


@pytest.mark.parametrize(("key", "bad"), SETTINGS_CASES, ids=[f"{k}={v!r}" for k, v in SETTINGS_CASES])
def test_each_broken_search_setting_is_one_line_naming_its_key(key: str, bad: Any) -> None:
    doc = {"model": "synthetic", "params": {"x": VALID_PARAMS["float"]}, "search": {key: bad}}
    with pytest.raises(SpaceError) as info:
        parse_space(doc, source="x.yaml")
    assert_one_line(str(info.value), f"x.yaml: search.{key}: ", bad)
    with pytest.raises(SpaceError) as recorded:  # the settings a study recorded go through the same rules
        parse_settings({key: bad}, source="study s")
    assert_one_line(str(recorded.value), f"study s: search.{key}: ", bad)


@pytest.mark.parametrize(("kind", "key", "bad"), PARAM_CASES, ids=[f"{k}.{n}={v!r}" for k, n, v in PARAM_CASES])
def test_each_broken_parameter_key_is_one_line_naming_it(kind: str, key: str, bad: Any) -> None:
    doc = {"model": "synthetic", "params": {"p": {**VALID_PARAMS[kind], key: bad}}}
    with pytest.raises(SpaceError) as info:
        parse_space(doc, source="x.yaml")
    assert_one_line(str(info.value), f"x.yaml: params.p.{key}: ", bad)


def test_a_missing_key_names_the_parameter_and_the_key() -> None:
    with pytest.raises(SpaceError, match=r"^x\.yaml: params\.p: a float parameter needs 'high'$"):
        parse_space({"model": "synthetic", "params": {"p": {"type": "float", "low": 0.1}}}, source="x.yaml")
    with pytest.raises(SpaceError, match=r"^x\.yaml: params: is missing; it must be a non-empty mapping"):
        parse_space({"model": "synthetic"}, source="x.yaml")
