"""A search space checked against the model families it names, before any data is loaded or any trial runs.

:func:`check_space` raises a one-line :class:`SpaceError` (file, key path, rule) for:
- a parameter the family does not read;
- a required parameter that some reachable configuration lacks (conditions taken into account);
- a categorical value, fixed value or range the family cannot use;
- an objective metric the family does not report, or an objective or bound (``search.objectives``,
  ``search.constraints``) that it neither reports nor can be measured by;
- a ``warm_start`` configuration the family would reject.

Reachable configurations are enumerated over the parameters that shape a configuration: the ``model`` choice,
every parameter a condition names, and integers with few values (such as ``n_layers``); the others take one
representative value, since their own values are checked one by one.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from automl.errors import SpaceError
from automl.models.base import ModelFamily
from automl.models.registry import get_family
from automl.spaces.model import MODEL_PARAM, Param, SearchSpace
from automl.spaces.objectives import COST_METRICS

_SMALL_INT_RANGE = 64  # integers with at most this many values are enumerated, as they may shape the network
_MAX_CONFIGURATIONS = 20_000


def families_of(space: SearchSpace) -> dict[str, ModelFamily]:
    """The space's families by name; a one-line error for one that cannot be found."""
    out: dict[str, ModelFamily] = {}
    for name in space.families:
        try:
            out[name] = get_family(name)
        except SpaceError as exc:
            raise SpaceError(f"{space.source}: model: {exc}") from None
    return out


def check_space(space: SearchSpace) -> dict[str, ModelFamily]:
    """Check ``space`` against its families; returns them by name. See the module docstring."""
    families = families_of(space)
    fail = _failer(space.source)
    _check_metric(space, families, fail)
    configurations = list(reachable_configurations(space))
    reached = _families_reaching(space, configurations)
    for p in space.params:
        if p.name == MODEL_PARAM and isinstance(space.model, tuple):
            continue
        for family_name in sorted(reached.get(p.name, ())):
            _check_param(p, families[family_name], fail)
    for config in configurations:
        family_name, own = space.family_of(config)
        family = families[family_name]
        missing = [name for name in family.required(own) if name not in own]
        if missing:
            where = ", ".join(f"{k}={v!r}" for k, v in _shape(space, config).items()) or "every configuration"
            raise fail(
                "params",
                f"{family.name} needs {missing[0]!r}, but the space can sample a configuration without it "
                f"({where}); declare {missing[0]} (with a 'when' condition if it depends on another parameter)",
            )
    for i, config in enumerate(space.settings.warm_start):
        _check_warm_start(space, families, dict(config), f"search.warm_start[{i}]", fail)
    return families


def check_data(
    space: SearchSpace, families: dict[str, ModelFamily], data_kind: str, task: str, data: Any = None
) -> None:
    """Check that every family of ``space`` trains on this kind of data and reports the objective for the task;
    with the dataset, that a family taking numbers only gets no table with text or missing values."""
    for family in families.values():
        if data is not None and getattr(family, "numeric_tables_only", False):
            _check_numeric_table(space, family, data)
        reason = family.accepts(data_kind, task)
        if reason is not None:
            raise SpaceError(f"{space.source}: model: {reason}; choose a model family for {data_kind} {task}")
        reported = family.reported_metrics(task)
        if space.settings.metric not in reported:
            offered = ", ".join(m for m in reported if m.startswith("val_"))
            raise SpaceError(
                f"{space.source}: search.metric: {family.name} reports {offered} for {task}, "
                f"not {space.settings.metric!r}; pick one of those"
            )
        _check_measured(space, family, [m for m in reported if m.startswith("val_")], _failer(space.source))


def _check_numeric_table(space: SearchSpace, family: ModelFamily, data: Any) -> None:
    if not hasattr(data.x_train, "columns"):
        return
    import pandas as pd

    features = pd.concat([data.x_train, data.x_val, data.x_test], ignore_index=True)

    text = [str(c) for c in features.columns if not pd.api.types.is_numeric_dtype(features[c])]
    missing = [str(c) for c in features.columns if c not in text and features[c].isna().any()]
    if text or missing:
        found = "; ".join(
            part
            for part in (
                f"text column(s) {', '.join(text)}" if text else "",
                f"missing values in {', '.join(missing)}" if missing else "",
            )
            if part
        )
        raise SpaceError(
            f"{space.source}: model: {family.name} takes numeric tables without missing values, and this table has "
            f"{found}; use a scikit-learn family (they encode and impute inside the model), or clean the table"
        )


def _failer(source: str) -> Any:
    def fail(key: str, rule: str) -> SpaceError:
        return SpaceError(f"{source}: {key}: {rule}")

    return fail


def _check_metric(space: SearchSpace, families: dict[str, ModelFamily], fail: Any) -> None:
    metric = space.settings.metric
    for family in families.values():
        reported = {m for task in family.tasks for m in family.reported_metrics(task) if m.startswith("val_")}
        if metric not in reported:
            raise fail("search.metric", f"{family.name} reports {sorted(reported)}, not {metric!r}; pick one of those")
        _check_measured(space, family, sorted(reported), fail)


def _check_measured(space: SearchSpace, family: ModelFamily, reported: list[str], fail: Any) -> None:
    """Every objective and bound names a validation metric ``family`` reports or a cost it can be measured by."""
    settings = space.settings
    named = [(f"search.objectives[{i}]", o.metric) for i, o in enumerate(settings.objectives)]
    named += [(f"search.constraints[{i}]", c.metric) for i, c in enumerate(settings.constraints)]
    offered = [*reported, *family.cost_metrics]
    for where, metric in named:
        if metric not in offered:
            cost = " (it cannot measure that cost for its trials)" if metric in COST_METRICS else ""
            raise fail(where, f"{family.name} reports {offered}, not {metric!r}{cost}; pick one of those")


def _check_param(p: Param, family: ModelFamily, fail: Any) -> None:
    where = f"params.{p.name}"
    spec = family.spec(p.family_name)
    if spec is None:
        known = ", ".join(h.name for h in family.hyperparameters)
        raise fail(where, f"{family.name} has no parameter {p.family_name!r} (a typo?); its parameters are: {known}")
    values: list[tuple[str, Any]] = []
    if p.type == "fixed":
        values = [("value", p.value)]
    elif p.type == "categorical":
        values = [("choices", c) for c in p.choices]
    else:
        if spec.kind in ("categorical", "bool"):
            raise fail(
                f"{where}.type", f"{family.name} reads {p.family_name} as {spec.describe()}, not a {p.type} range"
            )
        if spec.kind == "int" and p.type == "float":
            raise fail(f"{where}.type", f"{family.name} reads {p.family_name} as an integer; use type: int")
        values = [("low", p.low), ("high", p.high)]
    for key, value in values:
        reason = spec.rejects(value)
        if reason is not None:
            raise fail(f"{where}.{key}", f"{family.name} cannot use {value!r}: {p.family_name} {reason}")


def _check_warm_start(
    space: SearchSpace, families: dict[str, ModelFamily], config: dict[str, Any], where: str, fail: Any
) -> None:
    for p in space.params:  # fixed values are part of every configuration the family sees
        if p.type == "fixed" and p.active(config) and p.name not in config:
            config[p.name] = p.value
    if isinstance(space.model, tuple) and MODEL_PARAM not in config:
        raise fail(where, f"names no {MODEL_PARAM!r}; add {MODEL_PARAM}: one of {list(space.model)}")
    family_name, own = space.family_of(config)
    problems = families[family_name].check_config(own)
    if problems:
        raise fail(where, f"{family_name} would reject it: {problems[0]}; fix the configuration")


def _branch_values(p: Param, named_by_conditions: dict[str, list[Any]]) -> list[Any]:
    """The values of ``p`` to enumerate: all of them where they may shape a configuration, else one."""
    if p.type == "fixed":
        return [p.value]
    shaping = p.name in named_by_conditions or p.name == MODEL_PARAM
    if p.type == "categorical":
        return list(p.choices) if shaping or len(p.choices) <= 1 else [p.choices[0]]
    if p.type == "int":
        low, high, step = int(p.bounds[0]), int(p.bounds[1]), int(p.step or 1)
        if (high - low) // step + 1 <= _SMALL_INT_RANGE:
            return list(range(low, high + 1, step))
    if shaping:  # a continuous parameter a condition compares: its ends and every threshold inside
        low_f, high_f = p.bounds
        inside = [v for v in named_by_conditions[p.name] if isinstance(v, int | float) and low_f <= v <= high_f]
        return sorted({low_f, high_f, *inside})
    return [p.low]


def reachable_configurations(space: SearchSpace) -> Iterator[dict[str, Any]]:
    """Configurations covering every structure the space can produce (see the module docstring)."""
    named: dict[str, list[Any]] = {}
    for p in space.params:
        if p.when is not None:
            values = p.when.value if isinstance(p.when.value, list) else [p.when.value]
            named.setdefault(p.when.param, []).extend(values)
    produced = 0

    def walk(index: int, config: dict[str, Any]) -> Iterator[dict[str, Any]]:
        nonlocal produced
        if produced >= _MAX_CONFIGURATIONS:
            return
        if index == len(space.params):
            produced += 1
            yield dict(config)
            return
        p = space.params[index]
        if not p.active(config):
            yield from walk(index + 1, config)
            return
        for value in _branch_values(p, named):
            config[p.name] = value
            yield from walk(index + 1, config)
        del config[p.name]

    yield from walk(0, {})


def _families_reaching(space: SearchSpace, configurations: list[dict[str, Any]]) -> dict[str, set[str]]:
    reached: dict[str, set[str]] = {}
    for config in configurations:
        family_name, _ = space.family_of(config)
        for key in config:
            reached.setdefault(key, set()).add(family_name)
    return reached


def _shape(space: SearchSpace, config: dict[str, Any]) -> dict[str, Any]:
    """The values of ``config`` that the enumeration branched on, to say which configuration lacks something."""
    named: dict[str, list[Any]] = {p.when.param: [] for p in space.params if p.when is not None}
    varied = {p.name for p in space.params if len(_branch_values(p, named)) > 1}
    return {k: v for k, v in config.items() if k in varied}
