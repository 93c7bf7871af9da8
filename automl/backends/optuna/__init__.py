"""The Optuna backend: Optuna's ask-and-tell under automl's own claim loop, so any number of workers share one
study and its budget exactly. Split by concern: :mod:`.factories` (samplers and pruners), :mod:`.study` (the
study's lifecycle), :mod:`.objective` (one trial) and :mod:`.loop` (claims, heartbeats, retries, signals)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import optuna

from automl.backends.base import Backend, Deadline, RunStats, StudyContext, TrialEndHook, TrialRunner
from automl.backends.optuna.factories import fidelity_ladder, make_pruner, make_sampler
from automl.backends.optuna.loop import BUDGET_STATES, count_budget_trials, fail_dead_trials, run
from automl.backends.optuna.objective import OptunaReporter, make_objective
from automl.backends.optuna.study import open_study, stored_settings, update_settings
from automl.spaces import SearchSettings, SearchSpace
from automl.study.storage import MAX_CONSECUTIVE_FAILURES

__all__ = [
    "BUDGET_STATES",
    "OptunaBackend",
    "OptunaReporter",
    "count_budget_trials",
    "fail_dead_trials",
    "make_objective",
    "make_pruner",
    "make_sampler",
    "open_study",
    "run",
    "stored_settings",
    "update_settings",
]


class OptunaBackend(Backend):
    """:class:`automl.backends.base.Backend` on Optuna's ask-and-tell; see :mod:`.loop` for the claim protocol."""

    name: ClassVar[str] = "optuna"

    def open_study(
        self,
        storage: Any,
        name: str,
        space: SearchSpace | None,
        settings: SearchSettings | None,
        *,
        seed: int | None = None,
        data_info: dict[str, Any] | None = None,
        create: bool = True,
    ) -> StudyContext:
        return open_study(storage, name, space, settings, seed=seed, data_info=data_info, create=create)

    def run(
        self,
        context: StudyContext,
        runner: TrialRunner,
        *,
        budget: int | None,
        deadline: Deadline,
        on_trial_start: Callable[[int, dict[str, Any]], None] | None = None,
        on_epoch: Callable[[int, int, dict[str, float]], None] | None = None,
        on_trial_end: TrialEndHook | None = None,
        max_consecutive_failures: int = MAX_CONSECUTIVE_FAILURES,
    ) -> RunStats:
        objective = make_objective(
            context.space,
            context.settings.metric,
            runner,
            deadline,
            on_trial_start=on_trial_start,
            on_epoch=on_epoch,
            rungs=fidelity_ladder(context.settings, context.space),
        )
        return run(
            context.study,
            objective,
            budget=budget,
            deadline=deadline,
            on_trial_end=on_trial_end,
            max_consecutive_failures=max_consecutive_failures,
        )

    def count_finished(self, study: optuna.Study) -> int:
        return count_budget_trials(study)

    def record_settings(self, study: optuna.Study, settings: SearchSettings) -> None:
        update_settings(study, settings)
