"""The whole job's time budget: searching, then the final stage (retraining, baseline, report) inside one limit.

A :class:`JobClock` holds the search's :class:`~automl.backends.base.Deadline`. While trials finish it keeps a
reserve for the final stage, estimated from the best trial so far (its seconds per epoch, scaled to the
train+validation size and the number of members: the :class:`ReserveEstimate` it is given), so the search stops early
enough for the final stage to fit. Until a trial has finished, the running trial's pace stands in for it, epoch by
epoch: on large data the first trial alone may not fit, and the reserve must grow while it runs. Any process that
runs trials of the study keeps the same reserve from the same study, so local workers stop together.

The clock learns of trials as a :class:`~automl.backends.callbacks.SearchCallback`, and reads the time from the
clocks it is given (``monotonic`` and ``wall``, ``time.monotonic`` and ``time.time`` by default), so tests drive it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from automl.backends.base import Deadline, MonotonicClock
from automl.backends.callbacks import SearchCallback

WallClock = Callable[[], float]  # seconds since the epoch, as time.time: the one time other processes share

# The report, its plots and the summary, after the final stage: a few seconds for hundreds of trials (the summary
# records what it took; benchmarks/README.md), held with a margin.
REPORT_SECONDS = 8.0
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

    def when_stopped(self, per_epoch: float) -> float:
        """Seconds to reuse the kept model of a trial at ``per_epoch`` that the deadline will stop."""
        ...

    def reuse_seconds(self, per_epoch: float, epochs: int = 0) -> float:
        """Seconds to reuse the kept models of a winner at ``per_epoch``, with the members retrained beside them."""
        ...

    @property
    def reuse(self) -> bool:
        """Whether the final stage can reuse kept models (a stopped trial's included)."""
        ...


@dataclass
class JobClock(SearchCallback):
    """Where the job stands against its budgets; ``started`` and deadlines are on the ``monotonic`` clock.

    As a search callback it keeps the reserve up to date: the first trial's pace grows it epoch by epoch
    (:meth:`on_epoch`), and each finished trial sets it from the study's best so far (:meth:`on_trial_end`).
    """

    started: float
    deadline: Deadline
    estimate: ReserveEstimate
    monotonic: MonotonicClock = field(default=time.monotonic, repr=False)
    wall: WallClock = field(default=time.time, repr=False)
    timeout: float | None = None  # seconds of searching this run may take (``--timeout``)
    _trial_started: float = 0.0
    _trial_epochs: int = 0  # the running trial's planned epochs (0: it names none)
    _have_finished_trial: bool = False
    _paced: bool = False  # a running trial's pace has replaced the initial share

    @classmethod
    def start(
        cls,
        started: float,
        *,
        timeout: float | None,
        time_budget: float | None,
        max_trial_seconds: float | None,
        estimate: ReserveEstimate,
        monotonic: MonotonicClock = time.monotonic,
        wall: WallClock = time.time,
    ) -> JobClock:
        job_ends = None if time_budget is None else started + time_budget
        reserve = 0.0 if time_budget is None else INITIAL_RESERVE_SHARE * time_budget
        deadline = Deadline(
            timeout_ends=None if timeout is None else monotonic() + timeout,
            max_trial_seconds=max_trial_seconds,
            job_ends=job_ends,
            reserve=reserve,
            clock=monotonic,
        )
        return cls(started, deadline, estimate, monotonic, wall, timeout)

    @classmethod
    def joining(
        cls,
        *,
        job_ends_unix: float | None,
        timeout: float | None,
        max_trial_seconds: float | None,
        estimate: ReserveEstimate,
        monotonic: MonotonicClock = time.monotonic,
        wall: WallClock = time.time,
    ) -> JobClock:
        """The clock of a worker joining a job whose budget ends at ``job_ends_unix`` (wall-clock seconds)."""
        now = monotonic()
        job_ends = None if job_ends_unix is None else now + (job_ends_unix - wall())
        deadline = Deadline(
            timeout_ends=None if timeout is None else now + timeout,
            max_trial_seconds=max_trial_seconds,
            job_ends=job_ends,
            clock=monotonic,
        )
        return cls(now, deadline, estimate, monotonic, wall)

    def searching_starts(self) -> None:
        """The search begins now: ``timeout`` bounds the searching time, so it counts from here, not from what ran
        before it (the baseline). The job's budget still counts from ``started``."""
        if self.timeout is not None:
            self.deadline.timeout_ends = self.monotonic() + self.timeout

    def job_ends_unix(self) -> float | None:
        """The job's end on the wall clock, for workers in other processes."""
        if self.deadline.job_ends is None:
            return None
        return self.wall() + (self.deadline.job_ends - self.monotonic())

    def search_seconds(self) -> float | None:
        """Seconds of searching left now (None: no limit)."""
        remaining = self.deadline.remaining()
        return None if remaining is None else max(0.0, remaining)

    def final_seconds(self) -> float | None:
        """Seconds the final stage may use now: the job's time left, less the report (None: no budget)."""
        if self.deadline.job_ends is None:
            return None
        return max(0.0, self.deadline.job_ends - self.monotonic() - REPORT_SECONDS)

    def update_reserve(self, study: Any) -> None:
        """Hold what the study's best trial so far would need for the final stage (once a trial has finished)."""
        seconds = self.estimate.from_study(study)
        if seconds is not None:
            self._have_finished_trial = True
            self.deadline.reserve = seconds + REPORT_SECONDS

    # -- as a search callback ---------------------------------------------------------------------------------------
    def on_trial_start(self, number: int, config: dict[str, Any]) -> None:
        self._trial_started = self.monotonic()
        epochs = config.get("epochs")
        self._trial_epochs = int(epochs) if isinstance(epochs, int | float) else 0

    def on_epoch(self, number: int, epoch: int, metrics: dict[str, float]) -> None:
        """Before any trial has finished, let the running trial's pace set the reserve: it replaces the initial
        share at the first epoch, then never goes down.

        - A trial that cannot end within the budget at this pace (official-size data) will be stopped by the
          deadline and its model kept: hold only what reusing that model costs, so it trains as long as it can.
        - Otherwise hold one member retrained for every epoch the trial may have run when the deadline stops it
          (this one and the next, up to its planned epochs), and the baseline when it is not trained yet. The final
          stage retrains a winner for its best epoch, which may be any of those: a reserve for the best epoch so far
          fell short when a plateau ended (a warm start best at epoch 16 until epoch 27, then at 28: its member no
          longer fitted and half the budget went unused). One member only: a reserve for every member would stop
          the only trial after an epoch or two."""
        if self.deadline.job_ends is None or self._have_finished_trial or epoch < 1:
            return
        pace = (self.monotonic() - self._trial_started) / epoch
        if self._outlasts_budget(pace):
            seconds = self.estimate.when_stopped(pace)
        else:
            member_epochs = min(epoch + 1, self._trial_epochs) if self._trial_epochs else epoch + 1
            seconds = self.estimate.from_pace(pace, member_epochs, members=1)
            if self.estimate.reuse:  # the final stage may reuse its model with members beside it: hold that in full
                seconds = max(seconds, self.estimate.reuse_seconds(pace, member_epochs))
        paced = seconds + REPORT_SECONDS
        self.deadline.reserve = max(self.deadline.reserve, paced) if self._paced else paced
        self._paced = True

    def _outlasts_budget(self, pace: float) -> bool:
        """Whether the running trial, at ``pace`` seconds per epoch, would end past the search's deadline even
        with only the reuse of its model held back (and that model can be kept)."""
        if not self.estimate.reuse or self._trial_epochs < 1 or self.deadline.job_ends is None:
            return False
        ends = self._trial_started + pace * self._trial_epochs
        return ends > self.deadline.job_ends - self.estimate.when_stopped(pace) - REPORT_SECONDS

    def on_trial_end(self, study: Any, trial: Any) -> None:
        if self.deadline.job_ends is not None:
            self.update_reserve(study)
