"""Search callbacks: one protocol for whatever follows a search's trials, and a list that fans each event out.

As Ray Tune's ``Callback`` and ``CallbackList`` and KerasTuner's hooks: the job clock
(:class:`automl.job.clock.JobClock`), the progress display (:class:`automl.job.progress.Progress`), a worker's
log (:class:`automl.job.worker.WorkerLog`) and the dashboard notes (:class:`automl.study.notes.TrialNotes`) each
subclass :class:`SearchCallback` and override the events they need. A backend's ``run`` takes them as one
sequence and calls each event once; :class:`CallbackList` calls its members in their order.

It lives with the backends because they call it, and imports nothing of automl, so anything may implement it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any


class SearchCallback:
    """The events of a search, each a no-op here: a callback overrides the ones it needs.

    When, and by whom:

    - ``on_trial_start(number, config)``: by the backend, once per trial (a re-run of a lost trial is a new
      trial), after the configuration is sampled and recorded and before the family trains it. ``number`` is the
      trial's number in the study, ``config`` the full configuration, fixed values included.
    - ``on_epoch(number, epoch, metrics)``: by the backend, after each epoch the family reports (``epoch`` is
      1-based; ``metrics`` as the family reported them), once the epoch is recorded and before the pruner and
      the deadline decide whether the trial goes on. So a callback that moves the deadline (the job clock's
      reserve) takes effect at that very epoch's end.
    - ``on_trial_end(study, trial)``: by the backend, once per trial, after its final state (COMPLETE, PRUNED or
      FAIL, with its reason) is recorded. ``study`` is the ``optuna.Study``, ``trial`` its ``FrozenTrial``.
    - ``on_job_end(study)``: by :func:`automl.job.pipeline.run_trials`, once, when this process's trials are over
      because the budget was reached or the deadline passed. Not after an error or an interrupt.

    In which process: the one that records the study. On the Optuna backend that is the worker running the
    trial, and ``on_trial_start`` and ``on_epoch`` run on the thread that trains it. On the Ray backend it is the
    driver, in Tune's event loop, never a Ray worker: a callback need not pickle, and it sees every trial of the
    run, several of which may be running at once.

    What it may raise: nothing, by design. An exception from ``on_trial_start`` or ``on_epoch`` fails the trial on
    the Optuna backend (recorded FAIL with the exception's text) and ends the search on Ray's; one from
    ``on_trial_end`` or ``on_job_end`` ends the search. A callback whose work may fail for reasons of its own
    (writing a note to a read-only database) catches and logs its errors. ``KeyboardInterrupt`` (Ctrl-C,
    SIGTERM) passes through: the backend then records the running trial as interrupted.
    """

    def on_trial_start(self, number: int, config: dict[str, Any]) -> None:
        """A trial is about to train ``config``."""

    def on_epoch(self, number: int, epoch: int, metrics: dict[str, float]) -> None:
        """Trial ``number`` finished ``epoch`` with ``metrics``."""

    def on_trial_end(self, study: Any, trial: Any) -> None:
        """Trial ``trial`` is recorded in ``study`` in its final state."""

    def on_job_end(self, study: Any) -> None:
        """This process runs no more trials of ``study``."""


class CallbackList(SearchCallback):
    """Several callbacks as one: each event goes to every member, in order. A backend wraps what it is given in
    one, so it calls each event once whatever the number of callbacks."""

    def __init__(self, callbacks: Iterable[SearchCallback] = ()) -> None:
        self.callbacks: list[SearchCallback] = list(callbacks)
        for callback in self.callbacks:
            if not isinstance(callback, SearchCallback):  # a plain function would fail later, at the first trial
                raise TypeError(f"callbacks must be SearchCallback instances, got {callback!r}")

    def __iter__(self) -> Iterator[SearchCallback]:
        return iter(self.callbacks)

    def __len__(self) -> int:
        return len(self.callbacks)

    def on_trial_start(self, number: int, config: dict[str, Any]) -> None:
        for callback in self.callbacks:
            callback.on_trial_start(number, config)

    def on_epoch(self, number: int, epoch: int, metrics: dict[str, float]) -> None:
        for callback in self.callbacks:
            callback.on_epoch(number, epoch, metrics)

    def on_trial_end(self, study: Any, trial: Any) -> None:
        for callback in self.callbacks:
            callback.on_trial_end(study, trial)

    def on_job_end(self, study: Any) -> None:
        for callback in self.callbacks:
            callback.on_job_end(study)
