"""The backend seam: how a search engine runs trials of a space into the study.

Two roles, as KerasTuner's Oracle and Tuner are two. The :class:`~automl.backends.store.StudyStore` is the record,
whichever engine runs the trials: it opens or creates the study, counts its finished trials and records its
settings. An :class:`Executor` runs trials into it and is the only code that names its engine's trial loop
(Optuna's ask-and-tell, Ray Tune's ``Tuner``). Everything above (the API, workers, reports) talks to those two;
everything below (model families) to :data:`TrialRunner` and the family's reporter. Whatever follows the trials
(the job clock, progress, notes) is a :class:`~automl.backends.callbacks.SearchCallback`.
"""

from __future__ import annotations

import abc
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from automl.backends.callbacks import SearchCallback
from automl.models.base import Reporter, TrainingStopped, TrialOutcome
from automl.spaces import SearchSettings, SearchSpace
from automl.study.record import BackendName, StopReason

# Engine-neutral: train one sampled configuration (the family is resolved by the caller) and report each epoch.
# ``number`` is the trial's number in the study, used to seed the training.
TrialRunner = Callable[[dict[str, Any], Reporter, int], TrialOutcome]

# Seconds on a monotonic clock. Injected where time decides something (see Deadline), so tests drive it.
MonotonicClock = Callable[[], float]


class TrialStopped(TrainingStopped):
    """Raised by a reporter to stop a trial at an epoch end for a reason other than pruning (a deadline, a
    per-trial cap). The backend records the trial as PRUNED with ``reason`` and the epoch it reached; the family may
    have handed it the outcome so far, model included (see :class:`~automl.models.base.TrainingStopped`)."""

    def __init__(self, reason: StopReason, epoch: int) -> None:
        super().__init__(f"stopped at epoch {epoch}: {reason}")
        self.reason = reason
        self.epoch = epoch


class Deadline:
    """When the search must stop running trials, and a cap on one trial's seconds, on ``clock`` (monotonic
    seconds; ``time.monotonic`` unless a test drives its own).

    The search ends at the earlier of ``timeout_ends`` (this run's searching time) and ``job_ends`` minus
    ``reserve`` (the whole job's budget, less what the final stage is estimated to need). The reserve may grow
    while the search runs, as better and slower winners appear (see :mod:`automl.job.clock`).
    """

    def __init__(
        self,
        timeout_ends: float | None = None,
        max_trial_seconds: float | None = None,
        job_ends: float | None = None,
        reserve: float = 0.0,
        *,
        clock: MonotonicClock = time.monotonic,
    ) -> None:
        self.timeout_ends = timeout_ends
        self.max_trial_seconds = max_trial_seconds
        self.job_ends = job_ends
        self.reserve = reserve
        self.clock = clock

    @classmethod
    def after(
        cls, timeout: float | None, max_trial_seconds: float | None = None, *, clock: MonotonicClock = time.monotonic
    ) -> Deadline:
        return cls(None if timeout is None else clock() + timeout, max_trial_seconds, clock=clock)

    def now(self) -> float:
        """This deadline's clock, read now: what a trial's start is measured on."""
        return self.clock()

    @property
    def search_ends(self) -> float | None:
        job = None if self.job_ends is None else self.job_ends - self.reserve
        ends = [t for t in (self.timeout_ends, job) if t is not None]
        return min(ends) if ends else None

    def remaining(self) -> float | None:
        ends = self.search_ends
        return None if ends is None else ends - self.clock()

    def passed(self) -> bool:
        ends = self.search_ends
        return ends is not None and self.clock() >= ends

    def stop_reason(self, trial_started: float) -> StopReason | None:
        """Why a trial started at ``trial_started`` (on this deadline's clock) must stop now, or None."""
        if self.passed():
            return StopReason.TIME_BUDGET
        if self.max_trial_seconds is not None and self.clock() - trial_started >= self.max_trial_seconds:
            return StopReason.TRIAL_TIME_CAP
        return None


@dataclass
class RunStats:
    started: float = field(default_factory=time.monotonic)
    consecutive_failures: int = 0
    ran: int = 0
    waited_seconds: float = 0.0


@dataclass
class StudyContext:
    """A study plus what it remembers: the space and settings it was created with."""

    study: Any
    space: SearchSpace
    settings: SearchSettings
    created: bool


class Executor(abc.ABC):
    """A search engine that runs trials into a study the :class:`~automl.backends.store.StudyStore` opened.

    ``run`` samples configurations from the study's space, calls ``runner`` for each and records the outcome
    (configuration, per-epoch curves, state, failure reason) until the study holds ``budget`` finished
    (completed or pruned) trials or ``deadline`` passes. A trial still running at the deadline stops at its next
    epoch end and is recorded PRUNED with the reason. A trial that raises is recorded FAIL with its reason and
    the run goes on, until ``max_consecutive_failures`` in a row (then :class:`automl.errors.SearchAborted`).
    On Ctrl-C or SIGTERM (KeyboardInterrupt) the running trial is recorded as failed ("interrupted") before the
    interrupt propagates: no trial is left RUNNING. ``callbacks`` hear of each trial's start, epochs and end, as
    :class:`~automl.backends.callbacks.SearchCallback` says; the executor calls them in their order.

    The study is the only shared state: any number of processes may run trials into it at once.
    """

    name: ClassVar[BackendName]

    @abc.abstractmethod
    def run(
        self,
        context: StudyContext,
        runner: TrialRunner,
        *,
        budget: int | None,
        deadline: Deadline,
        callbacks: Iterable[SearchCallback] = (),
        max_consecutive_failures: int,
    ) -> RunStats: ...
