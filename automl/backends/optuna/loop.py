"""The Optuna backend's trial loop: claims under the study lock, heartbeats, retries of lost trials, signals.

Workers on one study (processes on one machine, or machines sharing a database server) coordinate only through
the storage. Every trial starts with a claim, one atomic step under the study's lock (automl.study.storage.StudyLock):
fail the trials of dead workers (queueing their retries), count, and ask for a trial only while finished plus
running trials stay below the budget. A dead worker's trial turns FAIL, freeing its slot, and its retry is queued
WAITING in the same locked step; ``ask`` takes queued trials first. So the study ends with exactly ``budget``
finished trials however many workers share it. A worker that finds every remaining slot taken by running trials
waits rather than leaves: one of them may still die and need re-running.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import optuna
from optuna.trial import TrialState

from automl import interrupts
from automl.backends.base import Deadline, RunStats
from automl.backends.callbacks import CallbackList, SearchCallback
from automl.backends.optuna.attrs import TrialAttrs
from automl.backends.optuna.objective import failure_text
from automl.backends.store import BUDGET_STATES
from automl.errors import SearchAborted
from automl.study import optuna_compat as compat
from automl.study.record import TrialKey, is_finite_number
from automl.study.storage import MAX_CONSECUTIVE_FAILURES, StudyLock
from automl.study.trial_writes import count_trials, write_trial_attrs

log = logging.getLogger(__name__)

CLAIM_POLL_SECONDS = 2.0  # how often a worker with nothing to claim looks again
_DONE, _WAIT = "done", "wait"


def _heartbeat_interval(storage: Any) -> int | None:
    getter = getattr(storage, "get_heartbeat_interval", None)  # storages without heartbeats lack it
    return getter() if getter is not None else None


class StaleCheck:
    """When a worker next looks for other workers' dead trials: at most once per heartbeat interval.

    A dead trial is one silent for the grace period, which is longer than the interval, so looking more often
    finds nothing sooner; looking at every claim cost one query of the study's running trials per trial. The
    first look is due at once (a worker that joins a study picks up the retries of the dead straight away). Shared
    by the claims and the heartbeat thread of one worker's loop."""

    def __init__(self, interval: float | None, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval, self._clock = interval, clock
        self._last: float | None = None
        self._lock = threading.Lock()

    def due(self) -> bool:
        """Whether a look is due now; if so, the interval restarts (the caller looks)."""
        if not self.interval:
            return False
        with self._lock:
            now = self._clock()
            if self._last is not None and now - self._last < self.interval:
                return False
            self._last = now
            return True

    def looked(self) -> None:
        """Someone looks now anyway (the heartbeat thread, once per beat)."""
        with self._lock:
            self._last = self._clock()


def fail_dead_trials(study: optuna.Study) -> list[int]:
    """Fail the RUNNING trials whose worker stopped sending heartbeats, saying why, and queue their retries.

    Call it holding the study's lock, so that a failed trial and its queued retry appear together to a claim.
    Returns the trial ids it failed.
    """
    storage = compat.storage_of(study)
    if not _heartbeat_interval(storage):
        return []
    stale = compat.stale_trial_ids(storage, compat.study_id(study))
    if not stale:
        return []
    reason = f"worker lost: no heartbeat for over {compat.grace_period(storage)} s (killed, crashed or disconnected)"
    for trial_id in stale:
        # Still RUNNING, so its attributes can be written; the retry starts without them.
        with contextlib.suppress(optuna.exceptions.UpdateFinishedTrialError):
            storage.set_trial_user_attr(trial_id, TrialKey.FAIL_REASON, reason)
    optuna.storages.fail_stale_trials(study)
    log.info("study %s: %d trial(s) of a lost worker marked failed and queued for retry", study.study_name, len(stale))
    return stale


def _claim(
    study: optuna.Study, budget: int | None, conn: Any = None, stale: StaleCheck | None = None
) -> optuna.Trial | str:
    """Under the study lock: a started trial, ``_WAIT`` (all remaining slots are running) or ``_DONE``.

    ``conn`` is the lock's own transaction where it has one (PostgreSQL): the budget is counted and the trial's
    first heartbeat and worker written in it, so they commit with the lock's release."""
    if stale is None or stale.due():
        fail_dead_trials(study)
    storage = compat.storage_of(study)
    if budget is not None:
        counts = count_trials(storage, compat.study_id(study), (*BUDGET_STATES, TrialState.RUNNING), conn)
        finished = sum(counts[s] for s in BUDGET_STATES)
        if finished >= budget:
            return _DONE
        if finished + counts[TrialState.RUNNING] >= budget:
            return _WAIT
    with warnings.catch_warnings():
        # Optuna expects heartbeats only under Study.optimize; this loop runs them itself (see _Heartbeat).
        warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used")
        trial = study.ask()
    # The first heartbeat before the lock is released: a RUNNING trial without any is never recognised as dead.
    # The worker says which machine and process ran it, for diagnosis, even if it dies.
    write_trial_attrs(
        storage,
        compat.trial_id(trial),
        {TrialKey.WORKER: worker_id()},
        heartbeat=bool(_heartbeat_interval(storage)),
        conn=conn,
    )
    return trial


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@contextlib.contextmanager
def _interrupts_deferred() -> Iterator[None]:
    """Hold back SIGINT/SIGTERM during a few storage calls, so a trial is never left half created or half
    finished (RUNNING forever); the signal is delivered again right after, to whatever handler was there."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    for sig in previous:
        signal.signal(sig, lambda signum, _frame: received.append(signum))
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)
        if received:
            signal.raise_signal(received[0])


class _Heartbeat:
    """Beats for a running trial and, on the same beat, fails other workers' dead trials: a dead worker's trial
    must be noticed within the grace period even when no worker starts a new trial for a long while. The claim
    wrote the first beat, so this one waits an interval before its first; its looks spare the claims theirs."""

    def __init__(self, study: optuna.Study, trial_id: int, lock: StudyLock, stale: StaleCheck) -> None:
        self.study, self.trial_id, self.lock, self.stale = study, trial_id, lock, stale
        self.interval = _heartbeat_interval(compat.storage_of(study))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.interval:
            self._thread = threading.Thread(target=self._beat, name=f"heartbeat-{self.trial_id}", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _beat(self) -> None:
        storage = compat.storage_of(self.study)
        while not self._stop.wait(self.interval):
            try:
                storage.record_heartbeat(self.trial_id)
                self.stale.looked()
                if compat.stale_trial_ids(storage, compat.study_id(self.study)):  # cheap; lock only when there is work
                    with self.lock.hold():
                        fail_dead_trials(self.study)
            except Exception as exc:  # a blip of the database must not kill the trial; the next beat retries
                log.warning("heartbeat of trial id %d failed: %s", self.trial_id, exc)


def _finish(
    study: optuna.Study,
    trial: optuna.Trial,
    value: Any,
    state: TrialState | None,
    reason: str | None,
    attrs: TrialAttrs,
) -> optuna.trial.FrozenTrial:
    """Write the trial's held-back attributes (and ``reason``) in one transaction, then tell its final state."""
    try:
        several = isinstance(value, list | tuple)
        if state is None and not all(is_finite_number(v) for v in (value if several else [value])):
            reason = f"the objective returned {value!r}, not a finite number"
            state = TrialState.FAIL
        attrs.flush(study, trial, **({TrialKey.FAIL_REASON: reason} if reason is not None else {}))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Optuna warns about a non-finite value; the reason says it
            # NumPy scalars (np.float32 from a family) are numbers too: tell Optuna a plain float.
            told = ([float(v) for v in value] if several else float(value)) if state is None else None
            return study.tell(trial, told, state=state)
    except optuna.exceptions.UpdateFinishedTrialError:
        # Another worker took this one for dead (its heartbeats stalled beyond the grace period) and queued a
        # retry; the retry's result is the one that counts.
        log.warning("trial %d: was declared lost by another worker before it finished; its retry counts", trial.number)
        attrs.discard(trial)
        frozen: optuna.trial.FrozenTrial = compat.storage_of(study).get_trial(compat.trial_id(trial))
        return frozen


def _run_trial(
    study: optuna.Study,
    trial: optuna.Trial,
    objective: Callable[[optuna.Trial], float | list[float]],
    lock: StudyLock,
    stale: StaleCheck,
    attrs: TrialAttrs,
) -> optuna.trial.FrozenTrial:
    heartbeat = _Heartbeat(study, compat.trial_id(trial), lock, stale)
    heartbeat.start()
    value: Any = None
    state: TrialState | None = TrialState.FAIL
    reason: str | None = None
    interrupted = False
    try:
        value = objective(trial)
        state = None
    except optuna.TrialPruned:
        state = TrialState.PRUNED
    except Exception as exc:  # the trial fails, not the search; automl's objective has recorded why
        if not attrs.has(trial, TrialKey.FAIL_REASON):
            reason = failure_text(exc)
    except KeyboardInterrupt:
        interrupted = True
        reason = "interrupted (Ctrl-C or SIGTERM) while running"
    finally:
        with _interrupts_deferred():
            heartbeat.stop()
            frozen = _finish(study, trial, value, state, reason, attrs)
    if interrupted:
        raise KeyboardInterrupt
    return frozen


def run(
    study: optuna.Study,
    objective: Callable[[optuna.Trial], float | list[float]],
    *,
    budget: int | None,
    deadline: Deadline,
    callbacks: Iterable[SearchCallback] = (),
    max_consecutive_failures: int = MAX_CONSECUTIVE_FAILURES,
    attrs: TrialAttrs | None = None,
) -> RunStats:
    """Run trials until the study holds ``budget`` finished trials or ``deadline`` passes (see "The loop" above
    and :class:`automl.backends.base.Executor`). The objective stops a running trial at the deadline itself and
    calls the callbacks' ``on_trial_start`` and ``on_epoch``; this loop calls their ``on_trial_end``. ``attrs``
    holds what the objective recorded in a trial (the one it was made with), written as the trial ends."""
    hooks = CallbackList(callbacks)
    stats = RunStats()
    storage = compat.storage_of(study)
    lock = StudyLock(storage, study.study_name)
    stale = StaleCheck(_heartbeat_interval(storage))
    attrs = attrs or TrialAttrs()
    waiting = False
    while True:
        interrupts.check()
        if deadline.passed():
            break
        claim: optuna.Trial | str | None = None
        try:
            with _interrupts_deferred(), lock.hold() as conn:
                claim = _claim(study, budget, conn, stale)
        except KeyboardInterrupt:  # delivered as the claim ends: its trial exists and must not stay RUNNING
            if isinstance(claim, optuna.Trial):
                with _interrupts_deferred():
                    _finish(
                        study, claim, None, TrialState.FAIL, "interrupted (Ctrl-C or SIGTERM) before it started", attrs
                    )
            raise
        if claim == _DONE:
            break
        if claim == _WAIT:
            if not waiting:
                log.info(
                    "study %s: the last trials are running on other workers; waiting in case one is lost",
                    study.study_name,
                )
            waiting = True
            remaining = deadline.remaining()
            pause = CLAIM_POLL_SECONDS if remaining is None else max(0.0, min(CLAIM_POLL_SECONDS, remaining))
            time.sleep(pause)
            stats.waited_seconds += pause
            continue
        waiting = False
        if not isinstance(claim, optuna.Trial):  # unreachable: _claim returns a trial or one of the two markers
            raise TypeError(f"unexpected claim {claim!r}")
        last = _run_trial(study, claim, objective, lock, stale, attrs)
        stats.ran += 1
        stats.consecutive_failures = stats.consecutive_failures + 1 if last.state == TrialState.FAIL else 0
        hooks.on_trial_end(study, last)
        if stats.consecutive_failures >= max_consecutive_failures:
            reason = last.user_attrs.get(TrialKey.FAIL_REASON, "unknown")
            raise SearchAborted(
                f"study {study.study_name!r}: {stats.consecutive_failures} trials in a row failed (last: {reason}); "
                "fix the space or data, then resume with the same --study"
            )
    return stats
