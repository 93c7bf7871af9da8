"""The whole job's time budget: searching, then the final stage (retraining, baseline, report) inside one limit.

A :class:`JobClock` holds the search's :class:`~automl.backends.base.Deadline`. While trials finish it keeps a
reserve for the final stage, estimated from the best trial so far (its seconds per epoch, scaled to the
train+validation size and the number of members, see :func:`automl.finish.plan_final`), so the search stops early
enough for the final stage to fit. Any process that runs trials of the study keeps the same reserve from the same
study, so local workers stop together.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from automl.backends.base import Deadline, TrialEndHook

REPORT_SECONDS = 20.0  # the report, its plots and the summary, after the final retraining
INITIAL_RESERVE_SHARE = 0.15  # of the job budget, held for the final stage until a trial completes


@dataclass
class JobClock:
    """Where the job stands against its budgets; ``started`` and deadlines are on the monotonic clock."""

    started: float
    deadline: Deadline
    estimate: Callable[[Any], float | None]  # study -> seconds the final stage needs now (None: unknown)

    @classmethod
    def start(
        cls,
        started: float,
        *,
        timeout: float | None,
        time_budget: float | None,
        max_trial_seconds: float | None,
        estimate: Callable[[Any], float | None],
    ) -> JobClock:
        job_ends = None if time_budget is None else started + time_budget
        reserve = 0.0 if time_budget is None else INITIAL_RESERVE_SHARE * time_budget
        deadline = Deadline(
            timeout_ends=None if timeout is None else time.monotonic() + timeout,
            max_trial_seconds=max_trial_seconds,
            job_ends=job_ends,
            reserve=reserve,
        )
        return cls(started, deadline, estimate)

    @classmethod
    def joining(
        cls,
        *,
        job_ends_unix: float | None,
        timeout: float | None,
        max_trial_seconds: float | None,
        estimate: Callable[[Any], float | None],
    ) -> JobClock:
        """The clock of a worker joining a job whose budget ends at ``job_ends_unix`` (wall-clock seconds)."""
        now = time.monotonic()
        job_ends = None if job_ends_unix is None else now + (job_ends_unix - time.time())
        deadline = Deadline(
            timeout_ends=None if timeout is None else now + timeout,
            max_trial_seconds=max_trial_seconds,
            job_ends=job_ends,
        )
        return cls(now, deadline, estimate)

    def job_ends_unix(self) -> float | None:
        """The job's end on the wall clock, for workers in other processes."""
        if self.deadline.job_ends is None:
            return None
        return time.time() + (self.deadline.job_ends - time.monotonic())

    def search_seconds(self) -> float | None:
        """Seconds of searching left now (None: no limit)."""
        remaining = self.deadline.remaining()
        return None if remaining is None else max(0.0, remaining)

    def final_seconds(self) -> float | None:
        """Seconds the final stage may use now: the job's time left, less the report (None: no budget)."""
        if self.deadline.job_ends is None:
            return None
        return max(0.0, self.deadline.job_ends - time.monotonic() - REPORT_SECONDS)

    def update_reserve(self, study: Any) -> None:
        seconds = self.estimate(study)
        if seconds is not None:
            self.deadline.reserve = seconds + REPORT_SECONDS

    def watch(self, callback: TrialEndHook | None) -> TrialEndHook:
        """An ``on_trial_end`` hook that keeps the reserve up to date, then calls ``callback``."""

        def on_trial_end(study: Any, trial: Any) -> None:
            if self.deadline.job_ends is not None:
                self.update_reserve(study)
            if callback is not None:
                callback(study, trial)

        return on_trial_end


def final_stage_estimator(dataset: Any, members: int, baseline_epochs: int | None) -> Callable[[Any], float | None]:
    """Seconds the final stage would need for the study's best trial so far, from what the search measured."""

    def estimate(study: Any) -> float | None:
        from automl.errors import AutomlError
        from automl.finish import SAFETY, best_trial, plan_final, seconds_per_epoch
        from automl.record import read_trial

        try:
            winner = read_trial(best_trial(study))
        except AutomlError:  # no completed trial yet
            return None
        final_size = len(dataset.y_train) + len(dataset.y_val)
        fits = max(1, int(getattr(dataset, "cv_folds", 0) or 0))  # a cross-validated trial trained every fold
        per_epoch = seconds_per_epoch(winner, len(dataset.y_train) * fits, final_size)
        plan = plan_final(
            members=members,
            epochs=winner.best_epoch or winner.epochs_seen or 1,
            per_epoch=per_epoch,
            baseline_epochs=baseline_epochs,
            time_left=None,
        )
        if plan.seconds_per_member is None:
            return None
        # The final stage plans to use only SAFETY of the time it is given; reserve enough for the full plan.
        return (plan.members * plan.seconds_per_member + (plan.seconds_for_baseline or 0.0)) / SAFETY

    return estimate
