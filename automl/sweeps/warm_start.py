"""Warm start: the previous run's best configurations become the next run's first trials.

Pure functions over trial records and spaces: pick the top K, keep those that still fit the (maybe edited) space
and say why the others were dropped, and put the kept ones in front of the space's own ``warm_start`` list. The
configurations are re-evaluated in the new run (the data may have changed), never copied with their old scores.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from automl.spaces import Param, SearchSpace
from automl.study.record import TrialRecord, is_finite_number


@dataclass(frozen=True)
class Dropped:
    config: dict[str, Any]
    reason: str


def top_k_configs(
    trials: Iterable[TrialRecord], direction: str, k: int, front: tuple[int, ...] = ()
) -> list[dict[str, Any]]:
    """The searched parameters of the ``k`` best completed trials, best first, without repeats. A search with
    several objectives or bounds passes its ``front`` (trial numbers, the pick first): all of the front's come
    first, whatever ``k``, then the best others up to ``k``."""
    done = [(t.value, t) for t in trials if t.state == "COMPLETE" and t.value is not None and math.isfinite(t.value)]
    done.sort(key=lambda vt: (-vt[0] if direction == "maximize" else vt[0], vt[1].number))
    order = {n: i for i, n in enumerate(front)}
    done.sort(key=lambda vt: order.get(vt[1].number, len(order)))  # stable: the front first, the rest best first
    configs: list[dict[str, Any]] = []
    for _, t in done:
        if len(configs) >= k and t.number not in order:
            break
        if t.params and t.params not in configs:  # a warm-start trial repeats a config: count it once
            configs.append(dict(t.params))
    return configs


def fit_to_space(configs: list[dict[str, Any]], space: SearchSpace) -> tuple[list[dict[str, Any]], list[Dropped]]:
    """Split ``configs`` into those the space can still try and those it cannot, each with its reason.

    A parameter the new space adds is fine (the sampler draws it); a parameter it no longer searches, or a value
    outside the new range or choices, is not: the trial would not be the configuration it claims to be.
    """
    by_name = {p.name: p for p in space.params}
    kept: list[dict[str, Any]] = []
    dropped: list[Dropped] = []
    for config in configs:
        reason = next((r for r in (_misfit(by_name.get(k), k, v) for k, v in config.items()) if r), None)
        if reason is None:
            kept.append(config)
        else:
            dropped.append(Dropped(config, reason))
    return kept, dropped


def _misfit(param: Param | None, name: str, value: Any) -> str | None:
    if param is None:
        return f"{name} is no longer in the space"
    if param.type == "fixed":
        return f"{name} is now fixed at {param.value!r}, no longer searched"
    if param.type == "categorical":
        return None if value in param.choices else f"{name}={value!r} is not among the choices {list(param.choices)}"
    if not is_finite_number(value) or (param.type == "int" and (isinstance(value, float) and not value.is_integer())):
        return f"{name}={value!r} is not a {param.type}"
    low, high = param.bounds
    if not low <= value <= high:
        return f"{name}={value!r} is outside the new range {param.describe_range()}"
    if param.step is not None:
        steps = (value - low) / param.step
        if abs(steps - round(steps)) > 1e-9:
            return f"{name}={value!r} is off the new step grid {param.describe_range()}"
    return None


def with_warm_start(space: SearchSpace, configs: list[dict[str, Any]]) -> SearchSpace:
    """The space with ``configs`` as its first trials, ahead of the configurations it lists itself."""
    own = [dict(c) for c in space.settings.warm_start if dict(c) not in configs]
    settings = replace(space.settings, warm_start=tuple([*configs, *own]))
    return replace(space, settings=settings)


def describe_dropped(dropped: list[Dropped]) -> str:
    """One line naming each dropped configuration by its first values and why it was dropped."""
    parts = []
    for d in dropped:
        shown = ", ".join(f"{k}={v!r}" for k, v in list(d.config.items())[:3])
        parts.append(f"{{{shown}{', ...' if len(d.config) > 3 else ''}}}: {d.reason}")
    return "; ".join(parts)
