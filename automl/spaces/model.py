"""The declarative search-space format: its data model, sampling and description (reading and validating files is
:mod:`automl.spaces.parsing`).

A space file is YAML with four parts (see README, "Search-space format")::

    model: keras_mlp
    search: {metric: val_accuracy, direction: maximize, sampler: tpe, pruner: median, trials: 60, timeout: 300}
    params:
      n_layers: {type: int, low: 1, high: 3}
      units_3:  {type: int, low: 32, high: 512, log: true, when: "n_layers >= 3"}

Everything here is engine-neutral: sampling goes through any object with Optuna's ``suggest_*`` methods, so an
Optuna trial works as is and other engines only need a thin adapter. Every validation error names the file, the
key path and the rule.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from automl.errors import SpaceError
from automl.param_kinds import SPACE_KINDS, ParamKind
from automl.spaces.objectives import Constraint, Objective, PickRule
from automl.study.record import BackendName

PARAM_TYPES = SPACE_KINDS  # what a space's ``type:`` may say (the kinds are :class:`ParamKind`)
SAMPLERS = ("tpe", "random", "cmaes", "grid", "nsga2")
PRUNERS = ("median", "asha", "successive_halving", "hyperband", "none")
BACKENDS = tuple(b.value for b in BackendName)
DIRECTIONS = ("maximize", "minimize")
MODEL_PARAM = "model"  # the categorical parameter of a space that chooses among families
CONDITION_OPERATORS = ("==", "!=", ">=", "<=", ">", "<", "in")


class Suggester(Protocol):
    """What sampling needs from an engine: Optuna's trial API."""

    def suggest_float(
        self, name: str, low: float, high: float, *, step: float | None = None, log: bool = False
    ) -> float: ...

    def suggest_int(self, name: str, low: int, high: int, *, step: int = 1, log: bool = False) -> int: ...

    def suggest_categorical(self, name: str, choices: Any) -> Any: ...


@dataclass(frozen=True)
class Condition:
    """``param op value``: the parameter carrying it exists only when this holds."""

    param: str
    op: str
    value: Any

    def holds(self, config: Mapping[str, Any]) -> bool:
        if self.param not in config:  # the parent is itself inactive
            return False
        actual = config[self.param]
        if self.op == "in":
            return bool(actual in self.value)
        if self.op == "==":
            return bool(actual == self.value)
        if self.op == "!=":
            return bool(actual != self.value)
        try:
            return bool(
                {
                    ">=": actual >= self.value,
                    "<=": actual <= self.value,
                    ">": actual > self.value,
                    "<": actual < self.value,
                }[self.op]
            )
        except TypeError:
            return False

    def __str__(self) -> str:
        return f"{self.param} {self.op} {self.value!r}"


@dataclass(frozen=True)
class Param:
    """One hyperparameter. Only the fields of its ``type`` are meaningful (a kind of :data:`PARAM_TYPES`)."""

    name: str
    type: ParamKind | str  # the YAML spelling ("float") or the enum; held as a ParamKind
    low: float | int | None = None
    high: float | int | None = None
    log: bool = False
    step: float | int | None = None
    choices: tuple[Any, ...] = ()
    value: Any = None
    when: Condition | None = None
    family: str | None = None  # for a ``FAMILY.name`` parameter of a space that chooses among families

    def __post_init__(self) -> None:
        # The parser hands the YAML spelling; holding the enum makes every comparison below one vocabulary.
        if self.type not in PARAM_TYPES:
            raise ValueError(f"Param {self.name!r}: type must be one of {list(PARAM_TYPES)}, got {self.type!r}")
        object.__setattr__(self, "type", ParamKind(self.type))

    @property
    def bounds(self) -> tuple[float, float]:
        """``(low, high)`` of an int or float parameter; parsing sets both for those types, and only for them."""
        if self.low is None or self.high is None:
            raise TypeError(f"parameter {self.name} is {self.type}: it has no range")
        return self.low, self.high

    @property
    def family_name(self) -> str:
        """The name the family reads: ``units_1`` for both ``units_1`` and ``keras_mlp.units_1``."""
        return self.name.split(".", 1)[1] if self.family else self.name

    def active(self, config: Mapping[str, Any]) -> bool:
        """Whether this parameter exists in a configuration that holds the earlier parameters ``config``."""
        if self.family is not None and config.get(MODEL_PARAM) != self.family:
            return False
        return self.when is None or self.when.holds(config)

    def describe_range(self) -> str:
        if self.type == ParamKind.FIXED:
            return repr(self.value)
        if self.type == ParamKind.CATEGORICAL:
            return ", ".join(str(c) for c in self.choices)
        text = f"[{self.low}, {self.high}]"
        if self.log:
            text += " log"
        if self.step is not None:
            text += f" step {self.step}"
        return text

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": str(self.type)}  # a plain string: YAML writers reject an enum
        if self.type in (ParamKind.FLOAT, ParamKind.INT):
            out.update(low=self.low, high=self.high, log=self.log)
            if self.step is not None:
                out["step"] = self.step
        elif self.type == ParamKind.CATEGORICAL:
            out["choices"] = list(self.choices)
        else:
            out["value"] = self.value
        if self.when is not None:
            out["when"] = f"{self.when.param} {self.when.op} {json.dumps(self.when.value)}"
        return out


@dataclass(frozen=True)
class SearchSettings:
    """How to search: objective, algorithm and budget. CLI flags override these."""

    metric: str = "val_accuracy"
    direction: str = "maximize"
    sampler: str = "tpe"
    pruner: str = "median"
    trials: int | None = 50
    timeout: float | None = None  # seconds of searching in one run
    time_budget: float | None = None  # seconds for the whole job: searching, final retraining, baseline, report
    max_trial_seconds: float | None = None  # a cap on one trial, which then stops at its next epoch end
    patience: int = 4
    # Configurations to try first (Optuna's enqueue_trial): known-good starting points, so a short budget
    # does not spend its first trials on blind random search.
    warm_start: tuple[dict[str, Any], ...] = ()
    backend: str = BackendName.OPTUNA.value  # the engine that runs the trials; the CLI's --backend overrides it
    # The fidelity ladder of the asha pruner (successive halving, asynchronous): rungs at min_epochs,
    # min_epochs * reduction_factor, ... below the space's epochs; a trial goes on past a rung only while it is in
    # the best 1/reduction_factor of the trials that reached it.
    min_epochs: int = 2
    reduction_factor: int = 3
    keep_models: int = 3  # finished trials whose trained model is kept (the best K), for reuse and export
    # When the final stage reuses the kept models, it also retrains this many members of the winner on
    # train+validation and averages them in; the search holds their measured cost back.
    retrain_members: int = 0
    mlflow: str | None = None  # an MLflow tracking URI: each finished trial and the final model go there too
    # Several objectives (the first is ``metric`` and ``direction``), bounds on them, and how the final stage picks
    # its trial off the front (automl.spaces.objectives); empty: one objective, as before.
    objectives: tuple[Objective, ...] = ()
    constraints: tuple[Constraint, ...] = ()
    pick: PickRule | None = None

    @property
    def multi_objective(self) -> bool:
        return len(self.objectives) > 1

    @property
    def trades_off(self) -> bool:
        """Several objectives or bounds: the final stage picks its trial off a front (automl.analysis.front)."""
        return self.multi_objective or bool(self.constraints)

    @property
    def all_objectives(self) -> tuple[Objective, ...]:
        """The objectives, the primary one first: ``(metric, direction)`` alone for a single-objective space."""
        return self.objectives or (Objective(self.metric, self.direction),)

    @property
    def pick_rule(self) -> PickRule:
        """The final stage's rule: the one the space gives, else the best primary metric."""
        return self.pick or PickRule("best", self.metric)

    @property
    def measured(self) -> tuple[str, ...]:
        """The metrics every trial must record beyond its objective: the other objectives and the bounded ones."""
        names = [o.metric for o in self.all_objectives[1:]] + [c.metric for c in self.constraints]
        return tuple(dict.fromkeys(n for n in names if n != self.metric))

    def to_dict(self) -> dict[str, Any]:
        return {
            "warm_start": [dict(c) for c in self.warm_start],
            "metric": self.metric,
            "direction": self.direction,
            "sampler": self.sampler,
            "pruner": self.pruner,
            "trials": self.trials,
            "timeout": self.timeout,
            "time_budget": self.time_budget,
            "max_trial_seconds": self.max_trial_seconds,
            "patience": self.patience,
            "backend": self.backend,
            "min_epochs": self.min_epochs,
            "reduction_factor": self.reduction_factor,
            "keep_models": self.keep_models,
            "retrain_members": self.retrain_members,
            "mlflow": self.mlflow,
            **self._objective_dict(),
        }

    def _objective_dict(self) -> dict[str, Any]:
        # Written only when set, so that a single-objective study records what it always did.
        out: dict[str, Any] = {}
        if self.objectives:
            out["objectives"] = [str(o) for o in self.objectives]
        if self.constraints:
            out["constraints"] = [str(c) for c in self.constraints]
        if self.pick is not None:
            out["pick"] = str(self.pick)
        return out


@dataclass(frozen=True)
class SearchSpace:
    """A validated space: the parameters in declaration order plus the search settings."""

    name: str
    model: str | tuple[str, ...]  # one family, or the families a ``model`` parameter chooses among
    params: tuple[Param, ...]
    settings: SearchSettings = field(default_factory=SearchSettings)
    description: str = ""
    source: str = "<dict>"

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    @property
    def families(self) -> tuple[str, ...]:
        return self.model if isinstance(self.model, tuple) else (self.model,)

    def sample(self, suggester: Suggester) -> dict[str, Any]:
        """Draw one configuration; inactive conditional parameters are left out entirely."""
        config: dict[str, Any] = {}
        for p in self.params:
            if p.active(config):
                config[p.name] = _suggest(suggester, p)
        return config

    def family_of(self, config: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        """The family that trains ``config`` and the configuration as that family reads it (no ``model`` key,
        ``FAMILY.`` prefixes dropped)."""
        if not isinstance(self.model, tuple):
            return self.model, dict(config)
        family = str(config[MODEL_PARAM])
        by_name = {p.name: p for p in self.params}
        own: dict[str, Any] = {}
        for key, value in config.items():
            p = by_name.get(key)
            if key == MODEL_PARAM or (p is not None and p.family not in (None, family)):
                continue
            own[p.family_name if p is not None else key] = value
        return family, own

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "model": list(self.model) if isinstance(self.model, tuple) else self.model,
            "search": self.settings.to_dict(),
            "params": {p.name: p.to_dict() for p in self.params},
        }

    def fingerprint(self) -> str:
        """Identity of what is searched (model and params), not of how long: budgets may change on resume."""
        body = json.dumps({"model": self.to_dict()["model"], "params": self.to_dict()["params"]}, sort_keys=True)
        return hashlib.sha256(body.encode()).hexdigest()[:16]

    def grid(self) -> dict[str, list[Any]]:
        """Every parameter's values, for the grid sampler; only possible when all are discrete."""
        values: dict[str, list[Any]] = {}
        for p in self.params:
            if p.type == ParamKind.CATEGORICAL:
                values[p.name] = list(p.choices)
            elif p.type == ParamKind.INT and not p.log:
                low, high = p.bounds
                values[p.name] = list(range(int(low), int(high) + 1, int(p.step or 1)))
            elif p.type == ParamKind.FLOAT and p.step is not None and not p.log:
                low, high = p.bounds
                n = int(round((high - low) / p.step))
                values[p.name] = [round(low + i * p.step, 12) for i in range(n + 1)]
            elif p.type == ParamKind.FIXED:
                continue
            else:
                raise SpaceError(
                    f"{self.source}: params.{p.name}: the grid sampler needs discrete values "
                    f"(categorical, int without log, or float with step); use sampler: tpe or give it a step"
                )
        return values


def _suggest(suggester: Suggester, p: Param) -> Any:
    if p.type == ParamKind.FIXED:
        return p.value
    if p.type == ParamKind.CATEGORICAL:
        return suggester.suggest_categorical(p.name, list(p.choices))
    low, high = p.bounds
    if p.type == ParamKind.INT:
        return suggester.suggest_int(p.name, int(low), int(high), step=int(p.step or 1), log=p.log)
    return suggester.suggest_float(p.name, float(low), float(high), step=p.step, log=p.log)


def describe(space: SearchSpace) -> str:
    """A readable table of a space, for ``automl spaces show``."""
    rows = [("parameter", "type", "range / choices", "condition")]
    rows += [(p.name, p.type, p.describe_range(), str(p.when) if p.when else "") for p in space.params]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = [f"{space.name} ({space.source}) - model {space.model}"]
    if space.description:
        lines.append(space.description)
    lines.append("")
    for i, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    s = space.settings
    lines += [
        "",
        f"objective: {s.direction} {s.metric}; sampler: {s.sampler}; pruner: {s.pruner}; "
        f"trials: {s.trials}; timeout: {s.timeout} s; early-stopping patience: {s.patience}",
    ]
    if s.trades_off:
        lines.append(
            f"objectives: {', '.join(str(o) for o in s.all_objectives)}; bounds: "
            f"{', '.join(str(c) for c in s.constraints) or 'none'}; pick: {s.pick_rule}"
        )
    return "\n".join(lines)
