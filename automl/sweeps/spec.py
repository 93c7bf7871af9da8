"""The sweep spec: a YAML file (in ``sweeps/`` or any path) naming a search and when to repeat it.

Validated like search spaces: every error is one line naming the file, the key path and the rule, and the CLI
exits 2 on it. See README, "Scheduled sweeps", for the keys.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import yaml

from automl.errors import AutomlError
from automl.study.record import BackendName

BACKENDS = tuple(b.value for b in BackendName)
TASKS = ("classification", "regression")
CATCH_UP = ("none", "latest", "all")
OVERLAP = ("skip", "queue", "allow")
DEFAULT_TOP_K = 3
DEFAULT_CATCH_UP_MAX = 10
RAY_DASHBOARD_PORT = 8265  # Ray's default dashboard (and job submission) port

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
_KEYS = {
    "name",
    "description",
    "dataset",
    "space",
    "target",
    "task",
    "backend",
    "workers",
    "storage",
    "ray_address",
    "ray_dashboard",
    "trials",
    "timeout",
    "time_budget",
    "schedule",
    "timezone",
    "warm_start",
    "catch_up",
    "catch_up_max",
    "overlap",
    "jitter_seconds",
    "keep_runs",
    # What `automl search` also takes, so a sweep can say everything a search can.
    "seed",
    "limit",
    "data_dir",
    "reports",
}


class SweepSpecError(AutomlError):
    """A sweep spec that cannot be used: one line with the file, the key path, the rule and the fix."""


@dataclass(frozen=True)
class SweepSpec:
    """A validated sweep spec. ``space`` is the resolved name or path that :func:`automl.spaces.load_space` takes."""

    name: str
    dataset: str
    space: str | None
    source: str  # the spec file, for messages
    description: str = ""
    target: str | None = None
    task: str | None = None
    backend: str = BackendName.OPTUNA.value
    workers: int = 1
    storage: str | None = None  # where the run studies go; None: $AUTOML_STORAGE or the embedded default
    ray_address: str | None = None
    ray_dashboard: str | None = None
    trials: int | None = None
    timeout: float | None = None
    time_budget: float | None = None
    schedule: str | None = None  # None: only run by hand or by an outside scheduler (CronJob, systemd timer)
    timezone: str = "UTC"
    top_k: int = DEFAULT_TOP_K
    catch_up: str = "none"
    catch_up_max: int = DEFAULT_CATCH_UP_MAX
    overlap: str = "skip"
    jitter_seconds: float = 0.0
    keep_runs: int | None = None
    seed: int = 0
    limit: int | None = None
    data_dir: str | None = None
    reports: str = "reports"

    @property
    def report_dir(self) -> Path:
        """The sweep's own report folder (its history plot); each run's report goes to ``reports/<run study>``."""
        return Path(self.reports) / self.name


def load_spec(path: str | Path) -> SweepSpec:
    """Read and validate a sweep spec file; raises :class:`SweepSpecError` with a one-line message."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise SweepSpecError(f"{path}: no such sweep spec file; give the path of a YAML file such as sweeps/NAME.yaml")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SweepSpecError(f"{path}: cannot be read ({exc}); give a readable UTF-8 YAML file") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "could not be parsed"
        raise SweepSpecError(f"{path}:{where}: malformed YAML ({problem}); fix the syntax") from None
    return parse_spec(raw, source=str(path), default_name=path.stem, base_dir=path.parent)


def parse_spec(
    raw: Any, source: str = "<dict>", default_name: str = "sweep", base_dir: Path | None = None, check: bool = True
) -> SweepSpec:
    """Validate a parsed spec. ``check`` also loads the space and checks the dataset name (off for pure tests)."""

    def fail(key: str, rule: str) -> SweepSpecError:
        return SweepSpecError(f"{source}: {key}: {rule}")

    if not isinstance(raw, dict):
        raise fail("<top>", f"must be a mapping of keys such as name, dataset, space, schedule; got {_kind(raw)}")
    for key in raw:
        if key not in _KEYS:
            raise fail(str(key), f"unknown key; allowed keys are {sorted(_KEYS)}")

    name = raw.get("name", default_name)
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise fail("name", f"must be letters, digits, '_', '.' or '-' (it starts each run's study name), got {name!r}")
    dataset = raw.get("dataset")
    if not isinstance(dataset, str) or not dataset:
        raise fail("dataset", f"is required: a dataset name such as mnist, got {dataset!r}")
    space = raw.get("space")
    if space is not None and (not isinstance(space, str) or not space):
        raise fail("space", f"must be a space name from search_spaces/ or a YAML path, got {space!r}")
    if isinstance(space, str) and base_dir is not None:
        space = _relative_to(space, base_dir)

    values: dict[str, Any] = {
        "target": _optional_str(raw, "target", fail),
        "task": _choice(raw, "task", (*TASKS, None), None, fail),
        "backend": _choice(raw, "backend", BACKENDS, BackendName.OPTUNA.value, fail),
        "workers": _whole(raw, "workers", 1, 1, fail),
        "storage": _optional_str(raw, "storage", fail),
        "ray_address": _optional_str(raw, "ray_address", fail),
        "ray_dashboard": _optional_str(raw, "ray_dashboard", fail),
        "trials": _whole(raw, "trials", None, 1, fail),
        "timeout": _seconds(raw, "timeout", fail, positive=True),
        "time_budget": _seconds(raw, "time_budget", fail, positive=True),
        "timezone": _optional_str(raw, "timezone", fail) or "UTC",
        "catch_up": _choice(raw, "catch_up", CATCH_UP, "none", fail),
        "catch_up_max": _whole(raw, "catch_up_max", DEFAULT_CATCH_UP_MAX, 1, fail),
        "overlap": _choice(raw, "overlap", OVERLAP, "skip", fail),
        "jitter_seconds": _seconds(raw, "jitter_seconds", fail, positive=False) or 0.0,
        "keep_runs": _whole(raw, "keep_runs", None, 1, fail),
        "seed": _whole(raw, "seed", 0, 0, fail),
        "limit": _whole(raw, "limit", None, 1, fail),
        "data_dir": _optional_str(raw, "data_dir", fail),
        "reports": _optional_str(raw, "reports", fail) or "reports",
        "description": str(raw.get("description") or ""),
    }
    values["top_k"] = _top_k(raw.get("warm_start", {"top_k": DEFAULT_TOP_K}), fail)
    values["schedule"] = _schedule(raw.get("schedule"), fail)
    _check_timezone(values["timezone"], fail)
    values["ray_dashboard"] = _ray_dashboard(values["ray_address"], values["ray_dashboard"], fail)
    if values["target"] is not None and values["task"] is None:
        raise fail("task", "is required with 'target' (a table): classification or regression")

    spec = SweepSpec(name=name, dataset=dataset, space=space, source=source, **values)
    if check:
        _check_space_and_data(spec, fail)
    return spec


def _relative_to(space: str, base_dir: Path) -> str:
    """A relative space path is read next to the spec when it exists there, so a spec and its space travel
    together (a ConfigMap, a repository folder); a bare name still resolves in search_spaces/."""
    if space.endswith((".yaml", ".yml")) or os.sep in space:
        beside = base_dir / space
        if not Path(space).is_absolute() and beside.is_file():
            return str(beside)
    return space


def _check_space_and_data(spec: SweepSpec, fail: Any) -> None:
    from automl import data
    from automl.api import DEFAULT_SPACES
    from automl.spaces import load_space

    try:
        data.check_dataset_name(spec.dataset)
    except AutomlError as exc:
        raise fail("dataset", f"{exc}") from None
    try:
        load_space(spec.space or DEFAULT_SPACES.get(spec.dataset, spec.dataset))
    except AutomlError as exc:
        raise fail("space", f"{exc}") from None


def _schedule(value: Any, fail: Any) -> str | None:
    from automl.sweeps.cron import CronError, parse_cron

    if value is None:
        return None
    if not isinstance(value, str):
        raise fail("schedule", f"must be a 5-field cron expression in quotes such as '30 2 * * *', got {value!r}")
    try:
        parse_cron(value)
    except CronError as exc:
        raise fail("schedule", str(exc)) from None
    return value.strip()


def _check_timezone(name: str, fail: Any) -> None:
    from automl.sweeps.cron import CronError, zone

    try:
        zone(name)
    except CronError as exc:
        raise fail("timezone", str(exc)) from None


def _top_k(value: Any, fail: Any) -> int:
    if value is None:
        return 0
    if not isinstance(value, dict) or set(value) - {"top_k"}:
        raise fail(
            "warm_start",
            f"must be a mapping {{top_k: N}} (how many of the previous run's best configurations to try first; "
            f"in a search space it is a list of configurations instead), got {value!r}",
        )
    top_k = value.get("top_k", DEFAULT_TOP_K)
    if not _is_int(top_k) or top_k < 0:
        raise fail("warm_start.top_k", f"must be an integer >= 0 (0: no warm start), got {top_k!r}")
    return int(top_k)


def _ray_dashboard(address: str | None, dashboard: str | None, fail: Any) -> str | None:
    if dashboard is not None:
        parsed = urlparse(dashboard)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise fail("ray_dashboard", f"must be an http://HOST:{RAY_DASHBOARD_PORT} address, got {dashboard!r}")
        return dashboard.rstrip("/")
    if address is None:
        return None
    # Job submission talks to the dashboard, not to the GCS port of --address; assume Ray's default port.
    host = urlparse(address if "://" in address else f"ray://{address}").hostname
    if not host or address == "auto":
        raise fail("ray_dashboard", f"is needed with ray_address {address!r}: give http://HOST:{RAY_DASHBOARD_PORT}")
    return f"http://{host}:{RAY_DASHBOARD_PORT}"


def _optional_str(raw: dict[str, Any], key: str, fail: Any) -> str | None:
    value = raw.get(key)
    if value is not None and (not isinstance(value, str) or not value):
        raise fail(key, f"must be a non-empty string, got {value!r}")
    return value


def _choice(raw: dict[str, Any], key: str, allowed: tuple[Any, ...], default: Any, fail: Any) -> Any:
    value = raw.get(key, default)
    if value not in allowed:
        raise fail(key, f"must be one of {[a for a in allowed if a is not None]}, got {value!r}")
    return value


def _whole(raw: dict[str, Any], key: str, default: int | None, low: int, fail: Any) -> int | None:
    value = raw.get(key, default)
    if value is not None and (not _is_int(value) or value < low):
        raise fail(key, f"must be an integer >= {low}, got {value!r}")
    return value


def _seconds(raw: dict[str, Any], key: str, fail: Any, *, positive: bool) -> float | None:
    value = raw.get(key)
    if value is None:
        return None
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < 0 or (positive and value == 0):
        rule = "> 0" if positive else ">= 0"
        raise fail(key, f"must be a number of seconds {rule}, got {value!r}")
    return float(value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _kind(value: Any) -> str:
    return "an empty file" if value is None else type(value).__name__


def load_sweeps(directory: str | Path, on_error: Any = None) -> list[SweepSpec]:
    """Every spec in ``directory`` (``*.yaml``, ``*.yml``). A bad file is passed to ``on_error(path, error)`` and
    left out, so one broken spec does not stop the others' schedules; without ``on_error`` it raises."""
    folder = Path(directory)
    if not folder.is_dir():
        raise SweepSpecError(f"{folder}: no such sweeps folder; create it with sweep specs or pass --sweeps DIR")
    specs: dict[str, SweepSpec] = {}
    for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]):
        try:
            spec = load_spec(path)
            if spec.name in specs:
                raise SweepSpecError(
                    f"{path}: name: {spec.name!r} is also the name of {specs[spec.name].source}; sweep names must "
                    "be unique"
                )
        except SweepSpecError as exc:
            if on_error is None:
                raise
            on_error(path, exc)
            continue
        specs[spec.name] = spec
    return list(specs.values())


def sweep_run_command(spec: SweepSpec, run_id: int, state_url: str) -> list[str]:
    """The ``automl sweep run`` arguments that carry out a claimed run and record its result."""
    return ["sweep", "run", spec.source, "--storage", state_url, "--run-id", str(run_id)]
