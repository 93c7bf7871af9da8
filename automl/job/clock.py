"""The whole job's time budget: searching, then the final stage (retraining, baseline, report) inside one limit.

A :class:`JobClock` holds the search's :class:`~automl.backends.base.Deadline`. While trials finish it keeps a
reserve for the final stage, estimated from the best trial so far (its seconds per epoch, scaled to the
train+validation size and the number of members: the :class:`ReserveEstimate` it is given), so the search stops early
enough for the final stage to fit. Until a trial has finished, the running trial's pace stands in for it, epoch by
epoch: on large data the first trial alone may not fit, and the reserve must grow while it runs. Any process that
runs trials of the study keeps the same reserve from the same study, so local workers stop together.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from automl.backends.base import Deadline, TrialEndHook

REPORT_SECONDS = 20.0  # the report, its plots and the summary, after the final retraining
INITIAL_RESERVE_SHARE = 0.15  # of the job budget, held for the final stage until a trial completes


class ReserveEstimate(Protocol):
    """What the final stage would cost, as the clock needs to know it (:class:`automl.job.plan.FinalStageEstimate`
    is the one the pipeline gives it). The clock never plans the final stage itself: it only holds its time."""

    def from_pace(self, per_epoch: float, epochs: int, members: int | None = None) -> float:
        """Seconds for a winner training at ``per_epoch`` seconds per search epoch, retrained for ``epochs``."""
        ...

    def from_study(self, study: Any) -> float | None:
        """Seconds for the study's best trial so far; None before any trial has finished."""
        ...


@dataclass
class JobClock:
    """Where the job stands against its budgets; ``started`` and deadlines are on the monotonic clock."""

    started: float
    deadline: Deadline
    estimate: ReserveEstimate
    _trial_started: float = 0.0
    _have_finished_trial: bool = False

    @classmethod
    def start(
        cls,
        started: float,
        *,
        timeout: float | None,
        time_budget: float | None,
        max_trial_seconds: float | None,
        estimate: ReserveEstimate,
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
        estimate: ReserveEstimate,
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
        seconds = self.estimate.from_study(study)
        if seconds is not None:
            self._have_finished_trial = True
            self.deadline.reserve = seconds + REPORT_SECONDS

    def trial_started(self, number: int, config: dict[str, Any]) -> None:
        self._trial_started = time.monotonic()

    def epoch(self, number: int, epoch: int, metrics: dict[str, float]) -> None:
        """Before any trial has finished, let the running trial's pace set the reserve for one member and the
        baseline (never lowering it)."""
        if self.deadline.job_ends is None or self._have_finished_trial or epoch < 1:
            return
        pace = (time.monotonic() - self._trial_started) / epoch
        # Held for one member only: on data this large the final stage shrinks to what fits, and a reserve for
        # all members would stop the only trial after an epoch or two.
        seconds = self.estimate.from_pace(pace, epoch, members=1)
        self.deadline.reserve = max(self.deadline.reserve, seconds + REPORT_SECONDS)

    def hooks(
        self,
        on_trial_start: Callable[[int, dict[str, Any]], None] | None,
        on_epoch: Callable[[int, int, dict[str, float]], None] | None,
    ) -> tuple[Callable[[int, dict[str, Any]], None], Callable[[int, int, dict[str, float]], None]]:
        """``on_trial_start`` and ``on_epoch`` hooks that keep this clock informed, then call the given ones."""

        def started(number: int, config: dict[str, Any]) -> None:
            self.trial_started(number, config)
            if on_trial_start is not None:
                on_trial_start(number, config)

        def epoch(number: int, epoch_: int, metrics: dict[str, float]) -> None:
            self.epoch(number, epoch_, metrics)
            if on_epoch is not None:
                on_epoch(number, epoch_, metrics)

        return started, epoch

    def watch(self, callback: TrialEndHook | None) -> TrialEndHook:
        """An ``on_trial_end`` hook that keeps the reserve up to date, then calls ``callback``."""

        def on_trial_end(study: Any, trial: Any) -> None:
            if self.deadline.job_ends is not None:
                self.update_reserve(study)
            if callback is not None:
                callback(study, trial)

        return on_trial_end
