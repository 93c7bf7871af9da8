"""The backend seam: how a search engine runs trials of a space into the study.

A backend is the only code that names its engine's trial loop (Optuna's ask-and-tell, Ray Tune's ``Tuner``).
Everything above it (the API, workers, reports) talks to it through :class:`Backend`; everything below it (model
families) through :class:`TrialRunner` and the family's reporter.
"""

from __future__ import annotations

import abc
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from automl.models.base import Reporter, TrialOutcome
from automl.spaces import SearchSettings, SearchSpace

# Engine-neutral: train one sampled configuration (the family is resolved by the caller) and report each epoch.
# ``number`` is the trial's number in the study, used to seed the training.
TrialRunner = Callable[[dict[str, Any], Reporter, int], TrialOutcome]

# Called after each finished trial with the study handle and the engine's record of the trial.
TrialEndHook = Callable[[Any, Any], None]


class TrialStopped(Exception):  # noqa: N818 - a control-flow signal, like optuna.TrialPruned
    """Raised by a reporter to stop a trial at an epoch end for a reason other than pruning (a deadline, a
    per-trial cap). The backend records the trial as PRUNED with ``reason`` and the epoch it reached."""

    def __init__(self, reason: str, epoch: int) -> None:
        super().__init__(f"stopped at epoch {epoch}: {reason}")
        self.reason = reason
        self.epoch = epoch


class Deadline:
    """When the search must stop running trials, and a cap on one trial's seconds (monotonic clock).

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
    ) -> None:
        self.timeout_ends = timeout_ends
        self.max_trial_seconds = max_trial_seconds
        self.job_ends = job_ends
        self.reserve = reserve

    @classmethod
    def after(cls, timeout: float | None, max_trial_seconds: float | None = None) -> Deadline:
        return cls(None if timeout is None else time.monotonic() + timeout, max_trial_seconds)

    @property
    def search_ends(self) -> float | None:
        job = None if self.job_ends is None else self.job_ends - self.reserve
        ends = [t for t in (self.timeout_ends, job) if t is not None]
        return min(ends) if ends else None

    def remaining(self) -> float | None:
        ends = self.search_ends
        return None if ends is None else ends - time.monotonic()

    def passed(self) -> bool:
        ends = self.search_ends
        return ends is not None and time.monotonic() >= ends

    def stop_reason(self, trial_started: float) -> str | None:
        """Why a trial started at ``trial_started`` must stop now, or None."""
        if self.passed():
            return "time budget"
        if self.max_trial_seconds is not None and time.monotonic() - trial_started >= self.max_trial_seconds:
            return "trial time cap"
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


class Backend(abc.ABC):
    """A search engine behind one contract.

    ``open_study`` creates the study with the space, settings, seed and data facts as the trial record names them
    (:mod:`automl.study.record`), or loads it and checks it was recorded with the same space and data; with
    ``create=False`` a missing study is an error. The study is the only shared state: any number of processes may
    open it and run trials into it.

    ``run`` samples configurations from the study's space, calls ``runner`` for each and records the outcome
    (configuration, per-epoch curves, state, failure reason) until the study holds ``budget`` finished
    (completed or pruned) trials or ``deadline`` passes. A trial still running at the deadline stops at its next
    epoch end and is recorded PRUNED with the reason. A trial that raises is recorded FAIL with its reason and
    the run goes on, until ``max_consecutive_failures`` in a row (then :class:`automl.errors.SearchAborted`).
    On Ctrl-C or SIGTERM (KeyboardInterrupt) the running trial is recorded as failed ("interrupted") before the
    interrupt propagates: no trial is left RUNNING.

    ``count_finished`` counts the study's finished trials, the unit of the budget; ``record_settings`` replaces
    the settings a study recorded.
    """

    name: ClassVar[str]

    @abc.abstractmethod
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
    ) -> StudyContext: ...

    @abc.abstractmethod
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
        max_consecutive_failures: int,
    ) -> RunStats: ...

    @abc.abstractmethod
    def count_finished(self, study: Any) -> int: ...

    @abc.abstractmethod
    def record_settings(self, study: Any, settings: SearchSettings) -> None:
        """Replace the study's recorded settings (a resumed search's new budgets), for every later worker."""
