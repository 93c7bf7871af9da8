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
    BACKENDS,
    CONDITION_OPERATORS,
    DIRECTIONS,
    MODEL_PARAM,
    PARAM_TYPES,
    PRUNERS,
    SAMPLERS,
    Condition,
    Param,
    SearchSettings,
    SearchSpace,
)

_TOP_KEYS = {"name", "description", "model", "search", "params"}
_SEARCH_KEYS = {
    "metric",
    "direction",
    "sampler",
    "pruner",
    "trials",
    "timeout",
    "time_budget",
    "max_trial_seconds",
    "patience",
    "warm_start",
    "backend",
    "min_epochs",
    "reduction_factor",
    "keep_models",
}
_KEYS_BY_TYPE = {
    "float": {"type", "low", "high", "log", "step", "when"},
    "int": {"type", "low", "high", "log", "step", "when"},
    "categorical": {"type", "choices", "when"},
    "fixed": {"type", "value", "when"},
}
_METRIC_RE = re.compile(r"^val_[a-z][a-z0-9_]*$")
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
        if candidate.is_dir():
            raise SpaceError(f"{name_or_path}: is a directory, not a search-space file; give a YAML file")
        if not candidate.is_file():
            raise SpaceError(f"{name_or_path}: no such search-space file; give an existing YAML path")
        return candidate
    named = spaces_dir() / f"{name_or_path}.yaml"
    if named.is_file():
        return named
    known = ", ".join(p.stem for p in list_spaces()) or "none"
    raise SpaceError(
        f"space {name_or_path!r}: not found in {spaces_dir()}; use one of: {known}, or a path to a YAML file"
    )


def load_space(name_or_path: str) -> SearchSpace:
    path = resolve_space_path(name_or_path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise SpaceError(
            f"{path}: not UTF-8 text (byte {exc.start} is {exc.object[exc.start : exc.start + 1]!r}); "
            "save the space as UTF-8 YAML"
        ) from None
    except OSError as exc:
        raise SpaceError(f"{path}: cannot be read ({exc.strerror or exc}); give a readable YAML file") from None
    if "\x00" in text:
        raise SpaceError(f"{path}: holds binary data (NUL bytes), not YAML text; give a YAML search-space file")
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "could not be parsed"
        raise SpaceError(f"{path}:{where}: malformed YAML ({problem}); fix the syntax") from None
    return parse_space(raw, source=str(path), default_name=path.stem)


def parse_space(raw: Any, source: str = "<dict>", default_name: str = "space") -> SearchSpace:
    """Validate a parsed YAML document into a :class:`SearchSpace`; raises :class:`SpaceError`."""

    def fail(key: str, rule: str) -> SpaceError:
        return SpaceError(f"{source}: {key}: {rule}")

    if not isinstance(raw, dict):
        raise fail("<top>", f"must be a mapping with keys {sorted(_TOP_KEYS)}, got {type(raw).__name__}")
    _reject_unknown(raw, _TOP_KEYS, "", fail)

    model = _parse_model(raw.get("model", "keras_mlp"), fail)
    settings = _parse_settings(raw.get("search") or {}, fail)

    params_raw = raw.get("params")
    if not isinstance(params_raw, dict) or not params_raw:
        raise fail("params", "must be a non-empty mapping of parameter name to definition")
    params: list[Param] = []
    names = set(params_raw)
    if isinstance(model, tuple):
        recorded = params_raw.get(MODEL_PARAM)
        if isinstance(recorded, dict) and list(recorded.get("choices") or ()) == list(model):
            # A space read back from a study: to_dict() writes the generated parameter; it is the same one.
            params_raw = {k: v for k, v in params_raw.items() if k != MODEL_PARAM}
        if MODEL_PARAM in params_raw:
            raise fail(f"params.{MODEL_PARAM}", "is made from the top-level 'model' list; remove it from params")
        params.append(Param(MODEL_PARAM, "categorical", choices=model))
        names.add(MODEL_PARAM)
    for name, spec in params_raw.items():
        param = _parse_param(str(name), spec, {p.name for p in params}, names, fail)
        params.append(_with_family(param, model, fail))
    for i, config in enumerate(settings.warm_start):
        _check_warm_start(config, params, f"search.warm_start[{i}]", fail)

    name = raw.get("name", default_name)
    if not isinstance(name, str) or not name:
        raise fail("name", f"must be a non-empty string, got {name!r}")
    return SearchSpace(
        name=name,
        model=model,
        params=tuple(params),
        settings=settings,
        description=str(raw.get("description", "")),
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


def _reject_unknown(mapping: dict[str, Any], allowed: set[str], prefix: str, fail: Any) -> None:
    for key in mapping:
        if key not in allowed:
            raise fail(f"{prefix}{key}", f"unknown key; allowed keys are {sorted(allowed)}")


def _parse_settings(raw: Any, fail: Any) -> SearchSettings:
    if not isinstance(raw, dict):
        raise fail("search", f"must be a mapping, got {type(raw).__name__}")
    _reject_unknown(raw, _SEARCH_KEYS, "search.", fail)
    defaults = SearchSettings()
    choices = {"direction": DIRECTIONS, "sampler": SAMPLERS, "pruner": PRUNERS, "backend": BACKENDS}
    values: dict[str, Any] = {}
    metric = raw.get("metric", defaults.metric)
    if not isinstance(metric, str) or not _METRIC_RE.match(metric):
        # Which validation metrics exist depends on the family and task; the family check names them.
        raise fail("search.metric", f"must name a validation metric such as val_accuracy or val_loss, got {metric!r}")
    values["metric"] = metric
    for key, allowed in choices.items():
        value = raw.get(key, getattr(defaults, key))
        if value not in allowed:
            raise fail(f"search.{key}", f"must be one of {list(allowed)}, got {value!r}")
        values[key] = value
    trials = raw.get("trials", defaults.trials)
    if trials is not None and (not _is_int(trials) or trials < 1):
        raise fail("search.trials", f"must be an integer >= 1 (or null for no limit), got {trials!r}")
    timeout = raw.get("timeout", defaults.timeout)
    if timeout is not None and (not _is_number(timeout) or timeout <= 0):
        raise fail("search.timeout", f"must be a number of seconds > 0 (or null), got {timeout!r}")
    for key in ("time_budget", "max_trial_seconds"):
        value = raw.get(key, getattr(defaults, key))
        if value is not None and (not _is_number(value) or value <= 0):
            raise fail(f"search.{key}", f"must be a number of seconds > 0 (or null), got {value!r}")
        values[key] = value
    patience = raw.get("patience", defaults.patience)
    if not _is_int(patience) or patience < 1:
        raise fail("search.patience", f"must be an integer >= 1, got {patience!r}")
    for key, minimum in (("min_epochs", 1), ("reduction_factor", 2), ("keep_models", 0)):
        value = raw.get(key, getattr(defaults, key))
        if not _is_int(value) or value < minimum:
            raise fail(f"search.{key}", f"must be an integer >= {minimum}, got {value!r}")
        values[key] = value
    warm_start = raw.get("warm_start") or []
    if not isinstance(warm_start, list) or not all(isinstance(c, dict) for c in warm_start):
        raise fail("search.warm_start", f"must be a list of mappings from parameter to value, got {warm_start!r}")
    return SearchSettings(trials=trials, timeout=timeout, patience=patience, warm_start=tuple(warm_start), **values)


def parse_settings(raw: Any, source: str) -> SearchSettings:
    """Validate a ``search:`` mapping on its own, e.g. the settings a stored study recorded."""

    def fail(key: str, rule: str) -> SpaceError:
        return SpaceError(f"{source}: {key}: {rule}")

    return _parse_settings(raw, fail)


def _check_warm_start(config: dict[str, Any], params: list[Param], where: str, fail: Any) -> None:
    by_name = {p.name: p for p in params}
    for key, value in config.items():
        p = by_name.get(key)
        if p is None or p.type == "fixed":
            raise fail(f"{where}.{key}", f"is not a searched parameter; use one of {sorted(n for n in by_name)}")
        if p.type == "categorical":
            ok = value in p.choices
        elif p.type == "int":
            ok = _is_int(value) and p.low <= value <= p.high  # type: ignore[operator]
        else:
            ok = _is_number(value) and p.low <= value <= p.high  # type: ignore[operator]
        if not ok:
            raise fail(f"{where}.{key}", f"value {value!r} is outside the parameter's range {p.describe_range()}")


def _parse_param(name: str, spec: Any, earlier: set[str], everything: set[str], fail: Any) -> Param:
    where = f"params.{name}"
    if not isinstance(spec, dict):
        raise fail(where, f"must be a mapping with a 'type' key, got {spec!r}")
    kind = spec.get("type")
    if kind not in PARAM_TYPES:
        raise fail(f"{where}.type", f"must be one of {list(PARAM_TYPES)}, got {kind!r}")
    _reject_unknown(spec, _KEYS_BY_TYPE[kind], f"{where}.", fail)
    when = _parse_condition(spec["when"], where, earlier, everything, fail) if "when" in spec else None

    if kind == "fixed":
        if "value" not in spec:
            raise fail(where, "a fixed parameter needs 'value'")
        return Param(name, kind, value=spec["value"], when=when)
    if kind == "categorical":
        choices = spec.get("choices")
        if not isinstance(choices, list) or not choices:
            raise fail(f"{where}.choices", f"must be a non-empty list, got {choices!r}")
        for c in choices:
            if not (c is None or isinstance(c, str | int | float | bool)):
                raise fail(f"{where}.choices", f"choices must be strings, numbers, booleans or null, got {c!r}")
        return Param(name, kind, choices=tuple(choices), when=when)

    for bound in ("low", "high"):
        if bound not in spec:
            raise fail(where, f"a {kind} parameter needs '{bound}'")
        check = _is_int if kind == "int" else _is_number
        if not check(spec[bound]):
            raise fail(
                f"{where}.{bound}",
                f"must be {'an integer' if kind == 'int' else 'a number'}, got {spec[bound]!r}",
            )
    low, high = spec["low"], spec["high"]
    log = spec.get("log", False)
    if not isinstance(log, bool):
        raise fail(f"{where}.log", f"must be true or false, got {log!r}")
    if (kind == "float" and low >= high) or (kind == "int" and low > high):
        relation = "<" if kind == "float" else "<="
        raise fail(where, f"low must be {relation} high, got low={low} high={high}")
    if log and low <= 0:
        raise fail(where, f"log scale needs low > 0, got low={low}")
    step = spec.get("step")
    if step is not None:
        if not (_is_int(step) if kind == "int" else _is_number(step)) or step <= 0:
            raise fail(
                f"{where}.step",
                f"must be a positive {'integer' if kind == 'int' else 'number'}, got {step!r}",
            )
        if log and (kind == "float" or step != 1):
            raise fail(where, "log and step cannot be combined (Optuna's rule); drop one of them")
    return Param(name, kind, low=low, high=high, log=log, step=step, when=when)


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
