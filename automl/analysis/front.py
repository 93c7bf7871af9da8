"""The trade-off a search with several objectives or with bounds found (pure): which completed trials meet the
bounds, which of those no other beats on every objective (the Pareto front), and which one the space's pick rule
chooses for the final stage. The rules themselves are :mod:`automl.spaces.objectives`'."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from automl.spaces.model import SearchSettings
from automl.spaces.objectives import Constraint, Objective, PickRule, is_feasible, pareto_front, pick
from automl.study.record import TrialRecord


@dataclass(frozen=True)
class TradeOff:
    """``points``: each completed trial's measured values (the primary metric and every measured one);
    ``feasible``: the trials meeting every bound; ``front``: the feasible trials no other feasible one dominates;
    ``picked``: the trial the rule chose (None: no trial completed), ``why`` in words. When no trial met the
    bounds, ``picked`` is the best primary value of all and ``unsatisfied`` says so."""

    objectives: tuple[Objective, ...]
    constraints: tuple[Constraint, ...]
    rule: PickRule
    points: dict[int, dict[str, float]] = field(default_factory=dict)
    feasible: tuple[int, ...] = ()
    front: tuple[int, ...] = ()
    picked: int | None = None
    why: str = ""
    unsatisfied: bool = False

    def to_dict(self) -> dict[str, Any]:
        """What the final record keeps: the rule, the pick, and the front with each trial's values."""
        return {
            "objectives": [str(o) for o in self.objectives],
            "constraints": [str(c) for c in self.constraints],
            "pick": str(self.rule),
            "picked": self.picked,
            "why": self.why,
            "unsatisfied": self.unsatisfied,
            "feasible": len(self.feasible),
            "completed": len(self.points),
            "front": [{"trial": n, **self.points[n]} for n in self.front],
        }


def trade_off(trials: Iterable[TrialRecord], settings: SearchSettings) -> TradeOff:
    """The :class:`TradeOff` of ``trials`` under ``settings``' objectives, bounds and pick rule."""
    objectives = settings.all_objectives
    primary = objectives[0]
    points = {
        t.number: {**t.measures, primary.metric: t.value}
        for t in trials
        if t.state == "COMPLETE" and t.value is not None
    }
    feasible = {n: p for n, p in points.items() if is_feasible(p, settings.constraints)}
    front = pareto_front(feasible, objectives)
    base = TradeOff(objectives, settings.constraints, settings.pick_rule, points, tuple(sorted(feasible)), tuple(front))
    chosen = pick({n: feasible[n] for n in front}, objectives, settings.pick_rule)
    if chosen is not None:
        return _with(base, chosen[0], chosen[1])
    fallback = pick(points, objectives, PickRule("best", primary.metric))
    if fallback is None:
        return base
    if feasible:  # the rule's cost was not measured for the front's trials
        why = f"{settings.pick_rule}: not measured for the front's trials; the best {primary.metric} instead"
        return _with(base, fallback[0], why)
    bounds = ", ".join(str(c) for c in settings.constraints)
    why = f"no completed trial met the bounds ({bounds}); the best {primary.metric} of all is retrained instead"
    return _with(base, fallback[0], why, unsatisfied=True)


def recorded_trade_off(settings: dict[str, Any], source: str, trials: Iterable[TrialRecord]) -> TradeOff | None:
    """The trade-off of a study's trials under its recorded settings (``source`` names it in errors); None for a
    search with one objective and no bounds."""
    if not (settings.get("objectives") or settings.get("constraints")):
        return None
    from automl.spaces.parsing import parse_settings

    return trade_off(trials, parse_settings(settings, source))


def _with(base: TradeOff, picked: int, why: str, unsatisfied: bool = False) -> TradeOff:
    return replace(base, picked=picked, why=why, unsatisfied=unsatisfied)
