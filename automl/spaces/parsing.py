"""Reading search-space files: find a space by name or path, parse its YAML and validate every part, naming the
file, the key path and the rule in each error. The data model it builds is :mod:`automl.spaces`'s."""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import Any

import yaml

from automl.errors import SpaceError
from automl.spaces.model import (
    CONDITION_OPERATORS,
    MODEL_PARAM,
    Condition,
    Param,
    SearchSettings,
    SearchSpace,
)
from automl.spaces.objectives import Objective, parse_constraint, parse_objective, parse_pick
from automl.spaces.schema import CategoricalParam, FixedParam, ParamFile, SettingsFile, SettingsOnly, SpaceFile
from automl.yaml_file import existing_file, load_mapping, require_mapping, validate

_WHAT = "search-space file"
_TOP = f"a mapping with keys {sorted(SpaceFile.model_fields)}"
_CONDITION_RE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_.]*)\s*(==|!=|>=|<=|>|<|\bin\b)\s*(.+?)\s*$")


def spaces_dir() -> Path:
    """Where named spaces live: $AUTOML_SPACES_DIR, else ./search_spaces, else the repository's copy."""
    env = os.environ.get("AUTOML_SPACES_DIR")
    if env:
        return Path(env)
    local = Path.cwd() / "search_spaces"
    if local.is_dir():
        return local
    return Path(__file__).resolve().parents[2] / "search_spaces"


def list_spaces() -> list[Path]:
    directory = spaces_dir()
    return sorted(directory.glob("*.yaml")) if directory.is_dir() else []


def resolve_space_path(name_or_path: str) -> Path:
    """A space name from ``search_spaces/`` or a path to a YAML file anywhere."""
    candidate = Path(name_or_path).expanduser()
    if candidate.suffix in (".yaml", ".yml") or os.sep in name_or_path:
        return existing_file(candidate, name_or_path, _WHAT, SpaceError)
    named = spaces_dir() / f"{name_or_path}.yaml"
    if named.is_file():
        return named
    known = ", ".join(p.stem for p in list_spaces()) or "none"
    raise SpaceError(
        f"space {name_or_path!r}: not found in {spaces_dir()}; use one of: {known}, or a path to a YAML file"
    )


def load_space(name_or_path: str) -> SearchSpace:
    path = resolve_space_path(name_or_path)
    raw = load_mapping(path, _WHAT, SpaceError, _TOP)
    return parse_space(raw, source=str(path), default_name=path.stem)


def parse_space(raw: Any, source: str = "<dict>", default_name: str = "space") -> SearchSpace:
    """Validate a parsed YAML document into a :class:`SearchSpace`; raises :class:`SpaceError`.

    The structure is :class:`~automl.spaces.schema.SpaceFile`'s; what follows checks what needs more than one
    key: the family names, ``when:`` conditions against earlier parameters, warm-start configurations."""

    def fail(key: str, rule: str) -> SpaceError:
        return SpaceError(f"{source}: {key}: {rule}")

    doc = validate(
        SpaceFile, {"name": default_name, **require_mapping(raw, source, SpaceError, _TOP)}, source, SpaceError
    )
    model = _parse_model(doc.model, fail)
    settings = _settings(doc.search, fail)
    specs = dict(doc.params)
    params: list[Param] = []
    names = {str(n) for n in specs}
    if isinstance(model, tuple):
        recorded = specs.get(MODEL_PARAM)
        if isinstance(recorded, CategoricalParam) and recorded.choices == list(model):
            # A space read back from a study: to_dict() writes the generated parameter; it is the same one.
            del specs[MODEL_PARAM]
        if MODEL_PARAM in specs:
            raise fail(f"params.{MODEL_PARAM}", "is made from the top-level 'model' list; remove it from params")
        params.append(Param(MODEL_PARAM, "categorical", choices=model))
        names.add(MODEL_PARAM)
    for name, spec in specs.items():
        param = _param(str(name), spec, {p.name for p in params}, names, fail)
        params.append(_with_family(param, model, fail))
    for i, config in enumerate(settings.warm_start):
        _check_warm_start(config, params, f"search.warm_start[{i}]", fail)
    return SearchSpace(
        name=doc.name,
        model=model,
        params=tuple(params),
        settings=settings,
        description=str(doc.description),
        source=source,
    )


def _parse_model(raw: Any, fail: Any) -> str | tuple[str, ...]:
    """``model:`` names one family, or lists the families a space chooses among (then a categorical
    ``model`` parameter is searched, and ``FAMILY.name`` parameters exist only for their family)."""
    from automl.models.registry import FAMILIES, is_family_reference

    names = raw if isinstance(raw, list) else [raw]
    if not names or not all(isinstance(n, str) and is_family_reference(n) for n in names):
        raise fail(
            "model",
            f"must be a model family ({', '.join(sorted(FAMILIES))} or 'package.module:ClassName') or a list of "
            f"them, got {raw!r}",
        )
    if len(set(names)) != len(names):
        raise fail("model", f"lists a family twice: {raw!r}")
    return tuple(names) if isinstance(raw, list) else str(raw)


def _with_family(param: Param, model: str | tuple[str, ...], fail: Any) -> Param:
    if "." not in param.name:
        return param
    family = param.name.split(".", 1)[0]
    if not isinstance(model, tuple) or family not in model:
        raise fail(
            f"params.{param.name}",
            f"a 'FAMILY.name' parameter needs FAMILY among the space's model list, got {family!r}; "
            "rename it or list the family under 'model'",
        )
    return Param(**{**param.__dict__, "family": family})


def _settings(doc: SettingsFile, fail: Any) -> SearchSettings:
    fields = doc.model_dump()
    objectives = tuple(
        _read(parse_objective, text, f"search.objectives[{i}]", fail) for i, text in enumerate(doc.objectives)
    )
    if objectives:
        fields.update(_primary_of(doc, objectives, fail))
    constraints = tuple(
        _read(parse_constraint, text, f"search.constraints[{i}]", fail) for i, text in enumerate(doc.constraints)
    )
    pick = None
    if doc.pick is not None:
        pick = _read(lambda text: parse_pick(text, fields["metric"]), doc.pick, "search.pick", fail)
        named = [o.metric for o in objectives] or [fields["metric"]]
        if pick.kind == "best" and pick.metric not in named:
            raise fail("search.pick", f"names {pick.metric!r}, which is not an objective; use one of {named}")
    fields.update(warm_start=tuple(doc.warm_start), objectives=objectives, constraints=constraints, pick=pick)
    return SearchSettings(**fields)


def _primary_of(doc: SettingsFile, objectives: tuple[Objective, ...], fail: Any) -> dict[str, Any]:
    """The settings several objectives fix: the primary metric and direction, and no pruner; what contradicts them
    (one objective, a repeated one, a pruner or sampler that compares one objective) is a one-line error."""
    if len(objectives) == 1:
        raise fail("search.objectives", "lists one objective; give two or more, or use metric and direction")
    names = [o.metric for o in objectives]
    if len(set(names)) < len(names):
        raise fail("search.objectives", f"names a metric twice: {names}; list each once")
    primary = objectives[0]
    if not primary.metric.startswith("val_"):
        raise fail(
            "search.objectives[0]",
            f"the primary objective must be a validation metric such as val_accuracy, got {primary.metric!r}; "
            "list it first",
        )
    if "metric" in doc.model_fields_set and doc.metric != primary.metric:
        raise fail("search.metric", f"is {doc.metric!r}, but objectives[0] is {primary.metric!r}; drop metric")
    if "pruner" in doc.model_fields_set and doc.pruner != "none":
        raise fail(
            "search.pruner",
            f"is {doc.pruner!r}, but a search with several objectives runs every trial in full (Optuna's pruners "
            "compare one objective); set pruner: none or drop it",
        )
    if doc.sampler == "cmaes":
        raise fail("search.sampler", "cmaes searches one objective; use tpe, nsga2 or random with objectives")
    return {"metric": primary.metric, "direction": primary.direction, "pruner": "none"}


def _read(parse: Any, text: str, where: str, fail: Any) -> Any:
    try:
        return parse(text)
    except ValueError as exc:
        raise fail(where, str(exc)) from None


def parse_settings(raw: Any, source: str) -> SearchSettings:
    """Validate a ``search:`` mapping on its own, e.g. the settings a stored study recorded."""

    def fail(key: str, rule: str) -> SpaceError:
        return SpaceError(f"{source}: {key}: {rule}")

    return _settings(validate(SettingsOnly, {"search": raw}, source, SpaceError).search, fail)


def _check_warm_start(config: dict[str, Any], params: list[Param], where: str, fail: Any) -> None:
    by_name = {p.name: p for p in params}
    for key, value in config.items():
        p = by_name.get(key)
        if p is None or p.type == "fixed":
            raise fail(f"{where}.{key}", f"is not a searched parameter; use one of {sorted(n for n in by_name)}")
        if p.type == "categorical":
            ok = value in p.choices
        elif p.type == "int":
            ok = _is_int(value) and p.low <= value <= p.high
        else:
            ok = _is_number(value) and p.low <= value <= p.high
        if not ok:
            raise fail(f"{where}.{key}", f"value {value!r} is outside the parameter's range {p.describe_range()}")


def _param(name: str, spec: ParamFile, earlier: set[str], everything: set[str], fail: Any) -> Param:
    where = f"params.{name}"
    # An explicit `when: null` is a mistake the parser names, not a missing condition.
    given = "when" in spec.model_fields_set
    when = _parse_condition(spec.when, where, earlier, everything, fail) if given else None
    if isinstance(spec, FixedParam):
        return Param(name, spec.type, value=spec.value, when=when)
    if isinstance(spec, CategoricalParam):
        return Param(name, spec.type, choices=tuple(spec.choices), when=when)
    return Param(name, spec.type, low=spec.low, high=spec.high, log=spec.log, step=spec.step, when=when)


def _parse_condition(text: Any, where: str, earlier: set[str], everything: set[str], fail: Any) -> Condition:
    match = _CONDITION_RE.match(text) if isinstance(text, str) else None
    if match is None:
        raise fail(
            f"{where}.when",
            f"must read 'PARAM OP VALUE' with OP one of {list(CONDITION_OPERATORS)}, got {text!r}",
        )
    param, op, value_text = match.groups()
    if param not in everything:
        raise fail(
            f"{where}.when",
            f"names parameter {param!r}, which does not exist; use one of {sorted(everything)}",
        )
    if param not in earlier:
        raise fail(f"{where}.when", f"names {param!r}, which must be declared before this parameter; move it up")
    try:
        value = yaml.safe_load(value_text)
    except yaml.YAMLError:
        raise fail(f"{where}.when", f"cannot read the value {value_text!r}") from None
    if op == "in" and not isinstance(value, list):
        raise fail(f"{where}.when", f"'in' needs a list such as [a, b], got {value_text!r}")
    return Condition(param, op, value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
