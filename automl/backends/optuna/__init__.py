"""The Optuna backend: Optuna's ask-and-tell under automl's own claim loop, so any number of workers share one
study and its budget exactly. Split by concern: :mod:`.objective` (one trial) and :mod:`.loop` (claims, heartbeats,
retries, signals). The study itself, with its sampler and pruner, is opened by
:class:`automl.backends.store.StudyStore`, as for every backend."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from automl.backends.base import Deadline, Executor, RunStats, StudyContext, TrialRunner
from automl.backends.callbacks import SearchCallback
from automl.backends.factories import fidelity_ladder, make_pruner, make_sampler
from automl.backends.optuna.attrs import TrialAttrs
from automl.backends.optuna.loop import fail_dead_trials, run
from automl.backends.optuna.objective import OptunaReporter, make_objective
from automl.study.record import BackendName
from automl.study.storage import MAX_CONSECUTIVE_FAILURES

__all__ = [
    "OptunaBackend",
    "OptunaReporter",
    "fail_dead_trials",
    "make_objective",
    "make_pruner",
    "make_sampler",
    "run",
]


class OptunaBackend(Executor):
    """:class:`automl.backends.base.Executor` on Optuna's ask-and-tell; see :mod:`.loop` for the claim protocol."""

    name: ClassVar[BackendName] = BackendName.OPTUNA

    def run(
        self,
        context: StudyContext,
        runner: TrialRunner,
        *,
        budget: int | None,
        deadline: Deadline,
        callbacks: Iterable[SearchCallback] = (),
        max_consecutive_failures: int = MAX_CONSECUTIVE_FAILURES,
    ) -> RunStats:
        attrs = TrialAttrs()  # the objective's records, written by the loop as each trial ends
        objective = make_objective(
            context.space,
            context.settings.metric,
            runner,
            deadline,
            callbacks=callbacks,
            rungs=fidelity_ladder(context.settings, context.space),
            attrs=attrs,
        )
        return run(
            context.study,
            objective,
            budget=budget,
            deadline=deadline,
            callbacks=callbacks,
            max_consecutive_failures=max_consecutive_failures,
            attrs=attrs,
        )
