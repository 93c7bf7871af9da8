"""The Ray driver's writes of its running trials' records, on one thread of their own, batched.

Tune calls the searcher from one event loop, and a Ray worker's ``tune.report`` returns only once the driver has
handled the epoch: every commit made there delays that trial's next epoch, and every other trial's too. So a
running trial's epochs (its intermediate value, its worker and node) and its end (the final attributes, then the
tell) are queued here, and one thread writes them: what was queued during :data:`BATCH_WINDOW_S` goes in one
transaction (:func:`automl.study.trial_writes.write_trial_attrs` for each trial), then each ended trial is told.
A commit per epoch kept the writer busy for a third of the run on a trivial objective, competing with Tune's loop
for the interpreter and the database; a window of a fraction of a second writes a short trial in one or two.

Order: a trial's writes land in the order they were queued, its tell last. :meth:`RecordWriter.flush` waits until
everything queued so far is written; the searcher flushes where it needs the study exact, and at the end of the
run. An ended trial's ``FrozenTrial`` is handed back through :meth:`RecordWriter.told`, so the searcher runs the
search callbacks on Tune's loop, as their contract says, once the trial is recorded.

A tell never leaves a trial RUNNING: if its attributes or its tell fail, it is told FAIL with the reason. A driver
killed outright (SIGKILL) loses what was queued: its trials stay RUNNING until a resume marks them "driver lost"
(:mod:`.recovery`), as before.
"""

from __future__ import annotations

import logging
import threading
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import optuna
from optuna.trial import TrialState

from automl.backends.optuna.objective import failure_text
from automl.study import optuna_compat as compat
from automl.study.record import TrialKey
from automl.study.trial_writes import one_transaction, write_trial_attrs

log = logging.getLogger(__name__)

# How long queued writes wait for more to join them in one transaction; a flush (or close) cuts it short. The
# dashboard and a resume see an epoch at most this late; a driver killed outright loses at most this much.
BATCH_WINDOW_S = 0.2


@dataclass(frozen=True)
class TrialEnd:
    """How a trial ends: ``state`` None is COMPLETE with the finite ``value``; ``attrs`` are its last attributes
    (a failure's reason among them)."""

    state: TrialState | None
    value: float | None
    attrs: dict[str, Any]


@dataclass
class _Pending:
    """One trial's writes queued since the last batch."""

    trial: optuna.Trial
    attrs: dict[str, Any] = field(default_factory=dict)
    intermediate: dict[int, float] = field(default_factory=dict)
    end: TrialEnd | None = None
    error: str | None = None  # why its attributes could not be written; its tell then records FAIL

    def merge(self, attrs: dict[str, Any], intermediate: dict[int, float]) -> None:
        self.attrs.update(attrs)
        self.intermediate.update(intermediate)


class RecordWriter:
    """See the module docstring. The methods but :meth:`told` may be called from any thread; the writing thread
    starts with the first write queued and after :meth:`close`, with the next."""

    def __init__(self, study: optuna.Study) -> None:
        self.study = study
        self._storage = compat.storage_of(study)
        self._changed = threading.Condition()
        self._pending: dict[int, _Pending] = {}  # by trial id, in the order first queued
        self._queued = 0  # how many times something was queued; a batch is written up to a count of them
        self._written = 0
        self._wanted = 0  # the count a flush waits for: the thread writes at once while it is ahead of _written
        self._told: list[optuna.trial.FrozenTrial] = []
        self._closing = False
        self._thread: threading.Thread | None = None

    # ---- queueing ---------------------------------------------------------------------------------------------

    def record(
        self, trial: optuna.Trial, attrs: dict[str, Any] | None = None, intermediate: dict[int, float] | None = None
    ) -> None:
        """Queue a running trial's user attributes and intermediate values (by step)."""
        self._queue(trial, attrs or {}, intermediate or {}, None)

    def end(self, trial: optuna.Trial, end: TrialEnd) -> None:
        """Queue the trial's end: its last attributes, then its tell. Nothing may be queued for it afterwards."""
        self._queue(trial, end.attrs, {}, end)

    def _queue(
        self, trial: optuna.Trial, attrs: dict[str, Any], intermediate: dict[int, float], end: TrialEnd | None
    ) -> None:
        if not attrs and not intermediate and end is None:
            return
        with self._changed:
            pending = self._pending.setdefault(compat.trial_id(trial), _Pending(trial))
            pending.merge(attrs, intermediate)
            if end is not None:
                pending.end = end
            self._queued += 1
            if self._thread is None or not self._thread.is_alive():
                self._closing = False
                self._thread = threading.Thread(target=self._run, name="ray-driver-record", daemon=True)
                self._thread.start()
            self._changed.notify_all()

    # ---- waiting ----------------------------------------------------------------------------------------------

    def busy(self) -> bool:
        """Whether something queued is not written yet."""
        with self._changed:
            return self._written < self._queued

    def flush(self) -> None:
        """Wait until everything queued so far is written (each ended trial told)."""
        with self._changed:
            target = self._queued
            self._wanted = max(self._wanted, target)
            self._changed.notify_all()
            while self._written < target:
                if self._thread is None or not self._thread.is_alive():  # unreachable: the thread never raises
                    raise RuntimeError("the Ray driver's record writer stopped with writes queued")
                self._changed.wait(1.0)

    def told(self) -> list[optuna.trial.FrozenTrial]:
        """The trials told since the last call, in the order told."""
        with self._changed:
            told, self._told = self._told, []
        return told

    def close(self) -> None:
        """Flush, then stop the writing thread."""
        self.flush()
        with self._changed:
            self._closing = True
            self._changed.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join()

    # ---- the writing thread -----------------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._changed:
                while not self._pending and not self._closing:
                    self._changed.wait()
                window_ends = time.monotonic() + BATCH_WINDOW_S
                while not self._closing and self._wanted <= self._written:
                    left = window_ends - time.monotonic()
                    if left <= 0:
                        break
                    self._changed.wait(left)
                if not self._pending:
                    return
                batch, self._pending = list(self._pending.values()), {}
                upto = self._queued
            told = self._write(batch)
            with self._changed:
                self._told.extend(told)
                self._written = upto
                self._changed.notify_all()

    def _write(self, batch: list[_Pending]) -> list[optuna.trial.FrozenTrial]:
        """Write a batch; never raises (a failure is logged, and an ended trial told FAIL with it)."""
        try:
            self._write_attrs(batch)
        except Exception as exc:  # one bad trial (or a database blip) spoils the shared transaction: one by one
            log.debug("batched trial writes failed (%s); writing trial by trial", exc)
            for pending in batch:
                try:
                    self._write_attrs([pending])
                except Exception as exc:
                    pending.error = failure_text(exc)
                    if pending.end is None:
                        log.warning("trial %d: its epochs could not be recorded (%s)", pending.trial.number, exc)
        told = []
        for pending in batch:
            if pending.end is not None:
                try:
                    told.append(self._tell(pending, pending.end))
                except Exception as exc:  # even the fallback failed: the trial stays RUNNING until a resume
                    log.error("trial %d: its end could not be recorded (%s)", pending.trial.number, exc)
        return told

    def _write_attrs(self, batch: list[_Pending]) -> None:
        """Every trial's queued attributes and intermediate values, in one transaction where the storage allows.
        A trial finished meanwhile (a driver that took it for lost) is skipped: its tell says what it is."""
        with one_transaction(self._storage) as conn:
            for pending in batch:
                self._write_one(pending, conn)

    def _write_one(self, pending: _Pending, conn: Any) -> None:
        try:
            write_trial_attrs(
                self._storage,
                compat.trial_id(pending.trial),
                pending.attrs,
                intermediate=pending.intermediate,
                conn=conn,
            )
        except optuna.exceptions.UpdateFinishedTrialError:
            log.debug("trial %d was finished elsewhere; its queued writes are dropped", pending.trial.number)

    def _tell(self, pending: _Pending, end: TrialEnd) -> optuna.trial.FrozenTrial:
        trial = pending.trial
        try:
            if pending.error is not None:
                raise RuntimeError(pending.error)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # Optuna warns about values the reason already explains
                # skip_if_finished: a trial another driver took for lost keeps the state it was given
                return self.study.tell(
                    trial, end.value if end.state is None else None, state=end.state, skip_if_finished=True
                )
        except optuna.exceptions.UpdateFinishedTrialError:
            return self._stored(trial)
        except Exception as exc:  # tell must never leave the trial RUNNING
            log.warning("trial %d: recording its result failed (%s); recorded as failed", trial.number, exc)
            try:
                write_trial_attrs(
                    self._storage,
                    compat.trial_id(trial),
                    {TrialKey.FAIL_REASON: f"recording the result failed: {failure_text(exc)}"},
                )
            except optuna.exceptions.UpdateFinishedTrialError:
                return self._stored(trial)
            return self.study.tell(trial, state=TrialState.FAIL)

    def _stored(self, trial: optuna.Trial) -> optuna.trial.FrozenTrial:
        """The trial as the study has it (finished elsewhere: another driver took it for lost)."""
        frozen: optuna.trial.FrozenTrial = self._storage.get_trial(compat.trial_id(trial))
        return frozen
