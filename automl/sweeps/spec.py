"""The sweep spec: a YAML file (in ``sweeps/`` or any path) naming a search and when to repeat it.

Validated like search spaces: every error is one line naming the file, the key path and the rule, and the CLI
exits 2 on it. See README, "Scheduled sweeps", for the keys.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlparse

from pydantic import AllowInfNan, BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr

from automl.errors import AutomlError
from automl.study.record import BackendName
from automl.yaml_file import load_mapping, require_mapping, validate

BACKENDS = tuple(b.value for b in BackendName)
TASKS = ("classification", "regression")
CATCH_UP = ("none", "latest", "all")
OVERLAP = ("skip", "queue", "allow")
DEFAULT_TOP_K = 3
DEFAULT_CATCH_UP_MAX = 10
RAY_DASHBOARD_PORT = 8265  # Ray's default dashboard (and job submission) port

_WHAT = "sweep spec file"
_TOP = "a mapping of keys such as name, dataset, space, schedule"
Seconds = StrictInt | Annotated[StrictFloat, AllowInfNan(False)]
_TEXT = "must be a non-empty string"


class _Strict(BaseModel):
    # Strict: YAML already gives typed values, so "3" is not 3 and true is not 1.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class WarmStartFile(_Strict):
    model_config = ConfigDict(title="warm_start mapping")

    top_k: StrictInt = Field(default=DEFAULT_TOP_K, ge=0, description="must be an integer >= 0 (0: no warm start)")
    resume: StrictBool = Field(
        default=True,
        description="must be true or false (whether a run on unchanged data starts from the previous run's trials)",
    )


class SpecFile(_Strict):
    """A sweep spec file's keys and the rule for each; :func:`parse_spec` checks what needs more than one key."""

    model_config = ConfigDict(title="sweep spec")

    name: StrictStr = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$",
        description="must be letters, digits, '_', '.' or '-' (it starts each run's study name)",
    )
    description: Any = None
    dataset: StrictStr = Field(min_length=1, description="must be a dataset name such as mnist")
    space: StrictStr | None = Field(
        default=None, min_length=1, description="must be a space name from search_spaces/ or a YAML path"
    )
    target: StrictStr | None = Field(default=None, min_length=1, description=_TEXT)
    # The choices are the module's tuples (one definition): mypy cannot read a Literal built from a tuple, pydantic
    # can, hence the valid-type ignores on the Literal lines of this model.
    task: Literal[TASKS] | None = Field(default=None, description=f"must be one of {list(TASKS)}")  # type: ignore[valid-type]
    backend: Literal[BACKENDS] = Field(default="optuna", description=f"must be one of {list(BACKENDS)}")  # type: ignore[valid-type]
    workers: StrictInt = Field(default=1, ge=1, description="must be an integer >= 1")
    storage: StrictStr | None = Field(default=None, min_length=1, description=_TEXT)
    ray_address: StrictStr | None = Field(default=None, min_length=1, description=_TEXT)
    ray_dashboard: StrictStr | None = Field(default=None, min_length=1, description=_TEXT)
    trials: StrictInt | None = Field(default=None, ge=1, description="must be an integer >= 1")
    timeout: Seconds | None = Field(default=None, gt=0, description="must be a number of seconds > 0")
    time_budget: Seconds | None = Field(default=None, gt=0, description="must be a number of seconds > 0")
    schedule: StrictStr | None = Field(
        default=None, description="must be a 5-field cron expression in quotes such as '30 2 * * *'"
    )
    timezone: StrictStr | None = Field(default=None, min_length=1, description=_TEXT)
    warm_start: WarmStartFile | None = Field(
        default_factory=WarmStartFile,
        description="must be a mapping {top_k: N, resume: true|false} (how many of the previous run's best "
        "configurations to try first; in a search space it is a list of configurations instead)",
    )
    catch_up: Literal[CATCH_UP] = Field(default="none", description=f"must be one of {list(CATCH_UP)}")  # type: ignore[valid-type]
    catch_up_max: StrictInt = Field(default=DEFAULT_CATCH_UP_MAX, ge=1, description="must be an integer >= 1")
    overlap: Literal[OVERLAP] = Field(default="skip", description=f"must be one of {list(OVERLAP)}")  # type: ignore[valid-type]
    jitter_seconds: Seconds | None = Field(default=None, ge=0, description="must be a number of seconds >= 0")
    keep_runs: StrictInt | None = Field(default=None, ge=1, description="must be an integer >= 1")
    # What `automl search` also takes, so a sweep can say everything a search can.
    seed: StrictInt = Field(default=0, ge=0, description="must be an integer >= 0")
    limit: StrictInt | None = Field(default=None, ge=1, description="must be an integer >= 1")
    data_dir: StrictStr | None = Field(default=None, min_length=1, description=_TEXT)
    reports: StrictStr | None = Field(default=None, min_length=1, description=_TEXT)


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
    resume: bool = True  # unchanged data and space: start from the previous run's finished trials
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
    raw = load_mapping(path, _WHAT, SweepSpecError, _TOP)
    return parse_spec(raw, source=str(path), default_name=path.stem, base_dir=path.parent)


def parse_spec(
    raw: Any, source: str = "<dict>", default_name: str = "sweep", base_dir: Path | None = None, check: bool = True
) -> SweepSpec:
    """Validate a parsed spec. ``check`` also loads the space and checks the dataset name (off for pure tests)."""

    def fail(key: str, rule: str) -> SweepSpecError:
        return SweepSpecError(f"{source}: {key}: {rule}")

    raw = {"name": default_name, **require_mapping(raw, source, SweepSpecError, _TOP)}
    doc = validate(SpecFile, raw, source, SweepSpecError)
    values = doc.model_dump(exclude={"warm_start"})
    values.update(
        description=str(doc.description or ""),
        timeout=float(doc.timeout) if doc.timeout is not None else None,
        time_budget=float(doc.time_budget) if doc.time_budget is not None else None,
        timezone=doc.timezone or "UTC",
        reports=doc.reports or "reports",
        jitter_seconds=float(doc.jitter_seconds or 0.0),
        top_k=doc.warm_start.top_k if doc.warm_start is not None else 0,
        resume=doc.warm_start.resume if doc.warm_start is not None else False,
        schedule=_schedule(doc.schedule, fail),
    )
    _check_timezone(values["timezone"], fail)
    values["ray_dashboard"] = _ray_dashboard(doc.ray_address, doc.ray_dashboard, fail)
    if doc.space is not None and base_dir is not None:
        values["space"] = _relative_to(doc.space, base_dir)
    if doc.target is not None and doc.task is None:
        raise fail("task", "is required with 'target' (a table): classification or regression")

    spec = SweepSpec(source=source, **values)
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
    from automl.spaces import load_space
    from automl.spaces.defaults import DEFAULT_SPACES

    try:
        data.check_dataset_name(spec.dataset)
    except AutomlError as exc:
        raise fail("dataset", f"{exc}") from None
    try:
        load_space(spec.space or DEFAULT_SPACES.get(spec.dataset, spec.dataset))
    except AutomlError as exc:
        raise fail("space", f"{exc}") from None


def _schedule(value: str | None, fail: Any) -> str | None:
    from automl.sweeps.cron import CronError, parse_cron

    if value is None:
        return None
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
