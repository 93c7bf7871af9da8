"""Reading the project's YAML files (search spaces, sweep specs): load a mapping and validate it against a pydantic
model, turning every failure into one line that names the file, the key path, the rule and the value.

The rules live in the models as data: a field's ``description`` is its rule ("must be an integer >= 1"), and a
container of mappings (``params:``) may say what each item must be with ``json_schema_extra={"item": ...}``.
Cross-field rules raise :class:`pydantic_core.PydanticCustomError` with type :data:`RULE` and the whole rule as
the message. :func:`validate` reports the first error, unknown keys first (a typo explains what follows it).
"""

from __future__ import annotations

import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from automl.errors import AutomlError

RULE = "automl_rule"  # the error type of a rule a model checks itself; its message is the whole rule
_ITEM_TYPES = {"model_type", "model_attributes_type", "dict_type"}  # "this item is not a mapping"

M = TypeVar("M", bound=BaseModel)


def existing_file(path: Path, shown: str, what: str, error: type[AutomlError]) -> Path:
    """``path`` when it is a file; else a one-line ``error`` (``shown`` is the path as the user wrote it)."""
    if path.is_dir():
        raise error(f"{shown}: is a directory, not a {what}; give a YAML file")
    if not path.is_file():
        raise error(f"{shown}: no such {what}; give the path of an existing YAML file")
    return path


def load_mapping(path: Path, what: str, error: type[AutomlError], top: str) -> dict[str, Any]:
    """The YAML mapping in the file ``path`` (a ``what``, e.g. "search-space file"). Every way a file can fail to be
    one (missing, a directory, unreadable, not UTF-8, binary, malformed YAML, not a mapping) is a one-line
    ``error``; ``top`` says what the top level must be ("a mapping with keys [...]")."""
    existing_file(path, str(path), what, error)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise error(
            f"{path}: not UTF-8 text (byte {exc.start} is {exc.object[exc.start : exc.start + 1]!r}); "
            f"save the {what} as UTF-8 YAML"
        ) from None
    except OSError as exc:
        raise error(f"{path}: cannot be read ({exc.strerror or exc}); give a readable YAML file") from None
    if "\x00" in text:
        raise error(f"{path}: holds binary data (NUL bytes), not YAML text; give a YAML {what}")
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "could not be parsed"
        raise error(f"{path}:{where}: malformed YAML ({problem}); fix the syntax") from None
    return require_mapping(raw, str(path), error, top)


def require_mapping(raw: Any, source: str, error: type[AutomlError], top: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        kind = "an empty file" if raw is None else type(raw).__name__
        raise error(f"{source}: <top>: must be {top}, got {kind}")
    return raw


def validate(model: type[M], raw: dict[str, Any], source: str, error: type[AutomlError]) -> M:
    """``raw`` as a ``model``, or a one-line ``error``: "SOURCE: KEY.PATH: RULE, got VALUE"."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        errors = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
        raise error(f"{source}: {describe(model, raw, errors[0])}") from None


def describe(model: type[BaseModel], raw: Any, err: Any) -> str:
    """One pydantic error as "KEY.PATH: RULE", with the rule taken from the model's fields."""
    path, holder, info, at_item = _locate(model, tuple(err["loc"]))
    kind = err["type"]
    key = _key(path)
    if kind == "extra_forbidden":
        return f"{key}: unknown key; allowed keys are {sorted(holder.model_fields)}"
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        name = str(err["ctx"]["discriminator"]).strip("'")
        value = _value_at(raw, path)
        got = value.get(name) if isinstance(value, dict) else None
        expected = err["ctx"].get("expected_tags") or ", ".join(repr(t) for t in _tags(info))
        return f"{key}.{name}: must be one of [{expected}], got {got!r}"
    if kind == "missing":
        name = path[-1]
        if len(path) > 1:
            return f"{_key(path[:-1])}: a {holder.model_config.get('title') or 'mapping'} needs '{name}'"
        return f"{name}: is missing; it {_rule(info)}"
    if kind == RULE:
        return f"{key or '<top>'}: {err['msg']}"
    if at_item and kind in _ITEM_TYPES and info is not None:
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        return f"{key}: {extra.get('item', 'must be a mapping')}, got {_value_at(raw, path)!r}"
    return f"{key}: {_rule(info)}, got {_value_at(raw, path, err.get('input'))!r}"


def _rule(info: FieldInfo | None) -> str:
    return (info.description if info is not None else None) or "is not valid here"


def _locate(model: type[BaseModel], loc: tuple[Any, ...]) -> tuple[list[Any], type[BaseModel], FieldInfo | None, bool]:
    """Follow an error location through the models: the key path to show (union tags left out), the model that
    holds the last key, the deepest named field, and whether the path ends at an item of that field's container.
    Inside a plain field (a union of scalars, a list of values) the error is the field's."""
    path: list[Any] = []
    candidates: list[type[BaseModel]] = [model]
    holder, info, at_item, container = model, None, False, False
    for part in loc:
        if container:  # a key or an index into a container of models
            path.append(part)
            container, at_item = False, True
            continue
        owner = next((m for m in candidates if isinstance(part, str) and part in m.model_fields), None)
        if owner is None:
            tagged = [m for m in candidates if part in _own_tags(m)] if len(candidates) > 1 else []
            if tagged:
                candidates = tagged
                continue
            if candidates:  # a key the model does not have
                holder = candidates[0]
                path.append(part)
            break
        holder, info, at_item = owner, owner.model_fields[part], False
        path.append(part)
        shape, candidates = _models_in(info.annotation)
        container = shape == "container"
        if not candidates:
            break
    return path, holder, info, at_item


def _models_in(annotation: Any) -> tuple[str, list[type[BaseModel]]]:
    """("model", [M...]) for a field holding a model (or a union of them), ("container", [M...]) for a dict or list
    of them, ("plain", []) otherwise."""
    annotation = _strip(annotation)
    origin = typing.get_origin(annotation)
    if origin in (dict, list):
        args = typing.get_args(annotation)
        shape, models = _models_in(args[-1]) if args else ("plain", [])
        return ("container", models) if shape == "model" else ("plain", [])
    members = typing.get_args(annotation) if origin in (typing.Union, types.UnionType) else (annotation,)
    models = [m for m in (_strip(a) for a in members) if isinstance(m, type) and issubclass(m, BaseModel)]
    rest = [m for m in members if m is not type(None) and _strip(m) not in models]
    return ("model", models) if models and not rest else ("plain", [])


def _strip(annotation: Any) -> Any:
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


def _own_tags(model: type[BaseModel]) -> list[Any]:
    """The literal values a model's fields accept: a tagged union names its member by one of them."""
    literals = [_strip(f.annotation) for f in model.model_fields.values()]
    return [t for a in literals if typing.get_origin(a) is typing.Literal for t in typing.get_args(a)]


def _tags(info: FieldInfo | None) -> list[Any]:
    if info is None:
        return []
    return list(dict.fromkeys(t for m in _models_in(info.annotation)[1] for t in _own_tags(m)))


def _key(path: list[Any]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _value_at(raw: Any, path: list[Any], default: Any = None) -> Any:
    value = raw
    for part in path:
        try:
            value = value[part]
        except (KeyError, IndexError, TypeError):
            return default
    return value
