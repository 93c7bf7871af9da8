"""Several objectives, bounds on them, and the rule that picks one trial off the trade-off (pure).

A space may search accuracy against size and speed::

    search:
      objectives: [val_accuracy maximize, params minimize]   # the first is the primary metric
      constraints: ["latency_ms <= 0.5"]                    # a trial is feasible when every bound holds
      pick: smallest within 0.5 points                      # which trial of the front the final stage retrains

An objective is any validation metric the family reports, or one of :data:`COST_METRICS`, which the search
measures for every trial of a family that declares it (:attr:`automl.models.base.ModelFamily.cost_metrics`).
This module parses the three settings, and decides feasibility, the Pareto front and the pick from numbers
alone; the search records the numbers (:data:`automl.study.record.TrialKey.OBJECTIVES`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

DIRECTIONS = ("maximize", "minimize")
# Measured for every trial, whatever the family reports per epoch: the model's parameter count, the median
# milliseconds per example to predict a fixed batch of validation rows, and the seconds its training took.
COST_METRICS = ("params", "latency_ms", "train_seconds")
_METRIC = r"[a-z][a-z0-9_]*"
_OBJECTIVE_RE = re.compile(rf"^\s*({_METRIC})\s+(\w+)\s*$")
_CONSTRAINT_RE = re.compile(rf"^\s*({_METRIC})\s*(<=|>=)\s*(\S+)\s*$")
_PICK_RE = re.compile(rf"^\s*(?:best\s+({_METRIC})|(smallest|fastest)\s+within\s+(\S+)\s+points?)\s*$")
# What "smallest" and "fastest" minimise.
PICK_COSTS = {"smallest": "params", "fastest": "latency_ms"}


@dataclass(frozen=True)
class Objective:
    """One metric to optimise, in its direction."""

    metric: str
    direction: str

    @property
    def maximize(self) -> bool:
        return self.direction == "maximize"

    def __str__(self) -> str:
        return f"{self.metric} {self.direction}"


@dataclass(frozen=True)
class Constraint:
    """``metric <= bound`` or ``metric >= bound``."""

    metric: str
    op: str
    bound: float

    def violation(self, value: float | None) -> float:
        """How far ``value`` is on the wrong side of the bound (<= 0: it holds; inf: not measured)."""
        if value is None or not math.isfinite(value):
            return math.inf
        return value - self.bound if self.op == "<=" else self.bound - value

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.bound:g}"


@dataclass(frozen=True)
class PickRule:
    """How the final stage picks its trial off the feasible front: the best primary metric (``kind`` "best"),
    or the smallest / fastest trial whose primary metric is within ``within`` points (hundredths for metrics in
    [0, 1], such as accuracy; units otherwise) of the best."""

    kind: str  # "best", "smallest" or "fastest"
    metric: str = ""  # for "best": the metric (the primary one by default)
    within: float = 0.0

    def __str__(self) -> str:
        return f"best {self.metric}" if self.kind == "best" else f"{self.kind} within {self.margin}"

    @property
    def margin(self) -> str:
        """``0.5 points``, ``1 point``."""
        return f"{self.within:g} point{'' if self.within == 1 else 's'}"

    @property
    def cost(self) -> str | None:
        """The cost metric this rule minimises, None for "best"."""
        return PICK_COSTS.get(self.kind)


def parse_objective(text: Any) -> Objective:
    """``"METRIC DIRECTION"``; ValueError with the rule."""
    match = _OBJECTIVE_RE.match(text) if isinstance(text, str) else None
    if match is None or match.group(2) not in DIRECTIONS:
        raise ValueError(f"must read 'METRIC DIRECTION' with DIRECTION one of {list(DIRECTIONS)}, got {text!r}")
    return Objective(match.group(1), match.group(2))


def parse_constraint(text: Any) -> Constraint:
    """``"METRIC <= BOUND"`` or ``"METRIC >= BOUND"``; ValueError with the rule."""
    match = _CONSTRAINT_RE.match(text) if isinstance(text, str) else None
    bound = _number(match.group(3)) if match else None
    if match is None or bound is None:
        raise ValueError(f"must read 'METRIC <= NUMBER' or 'METRIC >= NUMBER', got {text!r}")
    return Constraint(match.group(1), match.group(2), bound)


def parse_pick(text: Any, primary: str) -> PickRule:
    """``"best METRIC"``, ``"smallest within N points"`` or ``"fastest within N points"``; ValueError."""
    match = _PICK_RE.match(text) if isinstance(text, str) else None
    within = _number(match.group(3)) if match and match.group(3) else 0.0
    if match is None or within is None or within < 0:
        raise ValueError(
            f"must read 'best METRIC', 'smallest within N points' or 'fastest within N points' (N >= 0), got {text!r}"
        )
    if match.group(1):
        return PickRule("best", match.group(1))
    return PickRule(match.group(2), primary, within)


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


# --------------------------------------------------------------------------------------------------------------
# Deciding from measured values (pure)


def violations(values: Mapping[str, float], constraints: Sequence[Constraint]) -> list[float]:
    """Each constraint's violation for one trial's ``values`` (Optuna's ``constraints_func`` convention)."""
    return [c.violation(values.get(c.metric)) for c in constraints]


def is_feasible(values: Mapping[str, float], constraints: Sequence[Constraint]) -> bool:
    return all(v <= 0 for v in violations(values, constraints))


def dominates(a: Mapping[str, float], b: Mapping[str, float], objectives: Sequence[Objective]) -> bool:
    """Whether ``a`` is at least as good as ``b`` on every objective and better on one."""
    better = False
    for o in objectives:
        x, y = a[o.metric], b[o.metric]
        if (x < y) if o.maximize else (x > y):
            return False
        better = better or x != y
    return better


def pareto_front(points: Mapping[int, Mapping[str, float]], objectives: Sequence[Objective]) -> list[int]:
    """The keys of ``points`` that no other point dominates, in key order; points lacking an objective are out."""
    usable = {k: p for k, p in points.items() if all(_finite(p.get(o.metric)) for o in objectives)}
    return [k for k, p in sorted(usable.items()) if not any(dominates(q, p, objectives) for q in usable.values())]


def scale_of(values: Sequence[float]) -> float:
    """What one "point" is for a metric: a hundredth where its values lie in [0, 1] (accuracy), else one unit."""
    return 0.01 if values and all(0.0 <= v <= 1.0 for v in values) else 1.0


def pick(
    points: Mapping[int, Mapping[str, float]], objectives: Sequence[Objective], rule: PickRule
) -> tuple[int, str] | None:
    """The key ``rule`` picks among ``points`` (feasible trials' values) and why, in words; None when none has
    the values it needs. ``objectives[0]`` is the primary one; "best METRIC" names one of ``objectives``.

    "best": the best value of the rule's metric (ties: the lowest key). "smallest"/"fastest": among the points
    within ``rule.within`` points of the best primary value, the lowest cost (ties: the better primary value)."""
    primary = objectives[0]
    if rule.kind == "best":
        target = next((o for o in objectives if o.metric == (rule.metric or primary.metric)), primary)
        usable = {k: p for k, p in points.items() if _finite(p.get(target.metric))}
        if not usable:
            return None
        sign = -1.0 if target.maximize else 1.0
        chosen = min(usable, key=lambda k: (sign * usable[k][target.metric], k))
        return chosen, f"the best {target.metric} among the feasible trials"
    cost = rule.cost or "params"
    usable = {k: p for k, p in points.items() if _finite(p.get(primary.metric)) and _finite(p.get(cost))}
    if not usable:
        return None
    sign = -1.0 if primary.maximize else 1.0
    best = sign * min(sign * p[primary.metric] for p in usable.values())
    margin = rule.within * scale_of([p[primary.metric] for p in usable.values()])
    near = {k: p for k, p in usable.items() if sign * (p[primary.metric] - best) <= margin + 1e-12}
    chosen = min(near, key=lambda k: (near[k][cost], sign * near[k][primary.metric], k))
    return chosen, f"the lowest {cost} among the feasible trials within {rule.margin} of the best {primary.metric}"


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
