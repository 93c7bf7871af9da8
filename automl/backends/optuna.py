"""The Optuna backend: samplers and pruners from a space's settings, study lifecycle, the trial loop.

The study is the single record of a search. Its user attributes hold the space, the settings and the data
fingerprint, so a resumed search or a late-joining worker needs only the study's name and storage. Each trial
holds its full configuration, per-epoch curves and, if it failed, the reason.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import signal
import socket
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import optuna
from optuna.trial import TrialState

from automl.errors import SearchAborted, StorageError, TrialFailed
from automl.models.base import TrialOutcome
from automl.spaces import SearchSettings, SearchSpace, parse_space
from automl.storage import MAX_CONSECUTIVE_FAILURES, StudyLock, redact

log = logging.getLogger(__name__)

warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)

# Trials that consume the study's budget. Failed ones do not: a dead worker's trial is re-run, and a run
# of failures is stopped by the consecutive-failure cap instead.
BUDGET_STATES = (TrialState.COMPLETE, TrialState.PRUNED)

TrainFn = Callable[..., TrialOutcome]


def make_sampler(settings: SearchSettings, space: SearchSpace, seed: int | None) -> optuna.samplers.BaseSampler:
    if settings.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if settings.sampler == "grid":
        return optuna.samplers.GridSampler(space.grid(), seed=seed)
    if settings.sampler == "cmaes":
        return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)
    # Multivariate, grouped TPE models the conditional parameters (units_3 only with 3 layers) jointly;
    # the constant liar keeps parallel workers from proposing the same point.
    return optuna.samplers.TPESampler(seed=seed, multivariate=True, group=True, constant_liar=True, n_startup_trials=10)


def make_pruner(settings: SearchSettings, max_epochs: int) -> optuna.pruners.BasePruner:
    if settings.pruner == "median":
        # Gentle on purpose: aggressive pruning picks lucky early starters and inflates the winner's score.
        return optuna.pruners.MedianPruner(n_startup_trials=8, n_warmup_steps=4)
    if settings.pruner == "successive_halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=2)
    if settings.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=2, max_resource=max(max_epochs, 3))
    return optuna.pruners.NopPruner()


def _max_epochs(space: SearchSpace) -> int:
    try:
        p = space.param("epochs")
    except KeyError:
        return 10
    return int(p.value if p.type == "fixed" else (p.high or p.choices and max(p.choices) or 10))  # type: ignore[arg-type]


@dataclass
class StudyContext:
    """A study plus what it remembers: the space and settings it was created with."""

    study: optuna.Study
    space: SearchSpace
    settings: SearchSettings
    created: bool


def open_study(
    storage: optuna.storages.BaseStorage,
    name: str,
    space: SearchSpace | None,
    settings: SearchSettings | None,
    *,
    seed: int | None = None,
    data_info: dict[str, Any] | None = None,
    create: bool = True,
) -> StudyContext:
    """Create the study, or load it and check it was recorded with the same space and data."""
    existing = {s.study_name for s in storage.get_all_studies()}
    if name in existing:
        attrs = storage.get_study_user_attrs(storage.get_study_id_from_name(name))
        recorded = parse_space(attrs["space"], source=f"study {name}") if "space" in attrs else None
        if recorded is None and space is None:
            raise StorageError(f"study {name!r}: was not created by automl (no recorded space); pass --space")
        if space is not None and recorded is not None and space.fingerprint() != recorded.fingerprint():
            raise StorageError(
                f"study {name!r}: was recorded with a different search space ({recorded.source.split()[-1]} "
                f"fingerprint {recorded.fingerprint()}, given {space.fingerprint()}); use a new --study name "
                "or the original space"
            )
        if data_info and attrs.get("data_fingerprint") not in (None, data_info.get("data_fingerprint")):
            raise StorageError(
                f"study {name!r}: was recorded on different data (fingerprint {attrs['data_fingerprint']}, "
                f"now {data_info['data_fingerprint']}); use the same dataset, seed and --data-dir, or a new --study"
            )
        space = space or recorded
        stored = dict(attrs.get("settings", {}))
        stored_settings = SearchSettings(**{**stored, "warm_start": tuple(stored.get("warm_start") or ())})
        settings = settings or stored_settings
        assert space is not None
        sampler = make_sampler(settings, space, seed)
        study = optuna.load_study(
            study_name=name,
            storage=storage,
            sampler=sampler,
            pruner=make_pruner(settings, _max_epochs(space)),
        )
        return StudyContext(study, space, settings, created=False)
    if not create:
        known = ", ".join(sorted(existing)) or "none"
        raise StorageError(f"study {name!r}: not found in {redact(_url_of(storage))}; known studies: {known}")
    if space is None or settings is None:
        raise StorageError(f"study {name!r}: does not exist yet; give a space to create it")
    study = optuna.create_study(
        study_name=name,
        storage=storage,
        direction=settings.direction,
        sampler=make_sampler(settings, space, seed),
        pruner=make_pruner(settings, _max_epochs(space)),
    )
    with warnings.catch_warnings():
        # Experimental since Optuna 3.2 and stable in behaviour; it names the axis "val_accuracy" instead of
        # "Objective 0" in the dashboard and Optuna's plots.
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.set_metric_names([settings.metric])
    study.set_user_attr("space", space.to_dict())
    study.set_user_attr("space_fingerprint", space.fingerprint())
    study.set_user_attr("settings", settings.to_dict())
    study.set_user_attr("seed", seed)
    for config in settings.warm_start:
        study.enqueue_trial(dict(config), skip_if_exists=True)
    for key, value in (data_info or {}).items():
        study.set_user_attr(key, value)
    return StudyContext(study, space, settings, created=True)


def _url_of(storage: Any) -> str:
    engine = getattr(storage, "engine", None)
    return str(engine.url) if engine is not None else "storage"


def update_settings(study: optuna.Study, settings: SearchSettings) -> None:
    study.set_user_attr("settings", settings.to_dict())


# --------------------------------------------------------------------------------------------------------------
# One trial


class OptunaReporter:
    """Relays each epoch to Optuna: the objective metric as an intermediate value (the pruners and the
    dashboard read it), the whole curve set as a user attribute (the reports read it)."""

    def __init__(self, trial: optuna.Trial, metric: str, on_epoch: Callable[[int, int, dict[str, float]], None] | None):
        self.trial = trial
        self.metric = metric
        self.on_epoch = on_epoch
        self.curves: dict[str, list[float]] = {}

    def report(self, epoch: int, metrics: dict[str, float]) -> None:
        for key, value in metrics.items():
            self.curves.setdefault(key, []).append(value)
        self.trial.set_user_attr("curves", self.curves)
        if self.on_epoch is not None:
            self.on_epoch(self.trial.number, epoch, metrics)
        if self.metric in metrics:
            self.trial.report(metrics[self.metric], epoch)
            if self.trial.should_prune():
                self.trial.set_user_attr("pruned_at_epoch", epoch)
                raise optuna.TrialPruned(f"pruned at epoch {epoch}: {self.metric}={metrics[self.metric]:.4f}")


def make_objective(
    space: SearchSpace,
    settings: SearchSettings,
    data: Any,
    train: TrainFn,
    *,
    seed: int = 0,
    on_trial_start: Callable[[int, dict[str, Any]], None] | None = None,
    on_epoch: Callable[[int, int, dict[str, float]], None] | None = None,
) -> Callable[[optuna.Trial], float]:
    def objective(trial: optuna.Trial) -> float:
        config = space.sample(trial)
        trial.set_user_attr("config", config)
        if on_trial_start is not None:
            on_trial_start(trial.number, config)
        reporter = OptunaReporter(trial, settings.metric, on_epoch)
        try:
            outcome = train(
                config,
                data,
                reporter,
                metric=settings.metric,
                patience=settings.patience,
                seed=seed + trial.number,
            )
        except optuna.TrialPruned:
            raise
        except TrialFailed as exc:
            trial.set_user_attr("fail_reason", exc.reason)
            raise
        except Exception as exc:  # a configuration Keras rejects, out of memory, ...: this trial fails, not the search
            trial.set_user_attr(
                "fail_reason", f"{type(exc).__name__}: {str(exc).splitlines()[0][:300] if str(exc) else ''}"
            )
            raise
        trial.set_user_attr("best_epoch", outcome.best_epoch)
        trial.set_user_attr("epochs_trained", outcome.epochs_trained)
        trial.set_user_attr("n_params", outcome.n_params)
        trial.set_user_attr("train_seconds", round(outcome.train_seconds, 3))
        trial.set_user_attr("curves", outcome.history)
        return outcome.value

    return objective


# --------------------------------------------------------------------------------------------------------------
# The loop
#
# Workers on one study (processes on one machine, or machines sharing a database server) coordinate only through
# the storage. Every trial starts with a claim, one atomic step under the study's lock (automl.storage.StudyLock):
# fail the trials of dead workers (queueing their retries), count, and ask for a trial only while finished plus
# running trials stay below the budget. A dead worker's trial turns FAIL, freeing its slot, and its retry is queued
# WAITING in the same locked step; ``ask`` takes queued trials first. So the study ends with exactly ``budget``
# finished trials however many workers share it. A worker that finds every remaining slot taken by running trials
# waits rather than leaves: one of them may still die and need re-running.

CLAIM_POLL_SECONDS = 2.0  # how often a worker with nothing to claim looks again
_DONE, _WAIT = "done", "wait"


def count_budget_trials(study: optuna.Study) -> int:
    return len(study.get_trials(deepcopy=False, states=BUDGET_STATES))


@dataclass
class RunStats:
    started: float = field(default_factory=time.monotonic)
    consecutive_failures: int = 0
    ran: int = 0
    waited_seconds: float = 0.0


def _heartbeat_interval(storage: Any) -> int | None:
    getter = getattr(storage, "get_heartbeat_interval", None)  # storages without heartbeats lack it
    return getter() if getter is not None else None


def fail_dead_trials(study: optuna.Study) -> list[int]:
    """Fail the RUNNING trials whose worker stopped sending heartbeats, saying why, and queue their retries.

    Call it holding the study's lock, so that a failed trial and its queued retry appear together to a claim.
    Returns the trial ids it failed.
    """
    storage = study._storage
    if not _heartbeat_interval(storage):
        return []
    stale = storage._get_stale_trial_ids(study._study_id)
    if not stale:
        return []
    grace = getattr(getattr(storage, "_backend", storage), "grace_period", None)
    reason = f"worker lost: no heartbeat for over {grace} s (killed, crashed or disconnected)"
    for trial_id in stale:
        # Still RUNNING, so its attributes can be written; the retry starts without them.
        with contextlib.suppress(optuna.exceptions.UpdateFinishedTrialError):
            storage.set_trial_user_attr(trial_id, "fail_reason", reason)
    optuna.storages.fail_stale_trials(study)
    log.info("study %s: %d trial(s) of a lost worker marked failed and queued for retry", study.study_name, len(stale))
    return stale


def _claim(study: optuna.Study, budget: int | None) -> optuna.Trial | str:
    """Under the study lock: a started trial, ``_WAIT`` (all remaining slots are running) or ``_DONE``."""
    fail_dead_trials(study)
    if budget is not None:
        trials = study.get_trials(deepcopy=False, states=(*BUDGET_STATES, TrialState.RUNNING))
        finished = sum(t.state != TrialState.RUNNING for t in trials)
        if finished >= budget:
            return _DONE
        if len(trials) >= budget:
            return _WAIT
    with warnings.catch_warnings():
        # Optuna expects heartbeats only under Study.optimize; this loop runs them itself (see _Heartbeat).
        warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used")
        trial = study.ask()
    if _heartbeat_interval(study._storage):
        # Before the lock is released: a RUNNING trial without any heartbeat is never recognised as dead.
        study._storage.record_heartbeat(trial._trial_id)
    trial.set_user_attr("worker", worker_id())  # which machine and process ran it, for diagnosis
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
    must be noticed within the grace period even when no worker starts a new trial for a long while."""

    def __init__(self, study: optuna.Study, trial_id: int, lock: StudyLock) -> None:
        self.study, self.trial_id, self.lock = study, trial_id, lock
        self.interval = _heartbeat_interval(study._storage)
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
        storage = self.study._storage
        while not self._stop.is_set():
            try:
                storage.record_heartbeat(self.trial_id)
                if storage._get_stale_trial_ids(self.study._study_id):  # cheap; lock only when there is work
                    with self.lock.hold():
                        fail_dead_trials(self.study)
            except Exception as exc:  # a blip of the database must not kill the trial; the next beat retries
                log.warning("heartbeat of trial id %d failed: %s", self.trial_id, exc)
            self._stop.wait(self.interval)


def _finish(
    study: optuna.Study, trial: optuna.Trial, value: Any, state: TrialState | None, reason: str | None
) -> optuna.trial.FrozenTrial:
    try:
        if state is None and not (isinstance(value, int | float) and math.isfinite(value)):
            reason = f"the objective returned {value!r}, not a finite number"
        if reason is not None:
            trial.set_user_attr("fail_reason", reason)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Optuna warns about a non-finite value; the reason says it
            return study.tell(trial, value if state is None else None, state=state)
    except optuna.exceptions.UpdateFinishedTrialError:
        # Another worker took this one for dead (its heartbeats stalled beyond the grace period) and queued a
        # retry; the retry's result is the one that counts.
        log.warning("trial %d: was declared lost by another worker before it finished; its retry counts", trial.number)
        return study._storage.get_trial(trial._trial_id)


def _run_trial(
    study: optuna.Study, trial: optuna.Trial, objective: Callable[[optuna.Trial], float], lock: StudyLock
) -> optuna.trial.FrozenTrial:
    heartbeat = _Heartbeat(study, trial._trial_id, lock)
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
        if "fail_reason" not in trial.user_attrs:
            reason = f"{type(exc).__name__}: {str(exc).splitlines()[0][:300] if str(exc) else ''}"
    except KeyboardInterrupt:
        interrupted = True
        reason = "interrupted (Ctrl-C or SIGTERM) while running"
    finally:
        with _interrupts_deferred():
            heartbeat.stop()
            frozen = _finish(study, trial, value, state, reason)
    if interrupted:
        raise KeyboardInterrupt
    return frozen


def run(
    study: optuna.Study,
    objective: Callable[[optuna.Trial], float],
    *,
    budget: int | None,
    timeout: float | None,
    on_trial_end: Callable[[optuna.Study, optuna.trial.FrozenTrial], None] | None = None,
    max_consecutive_failures: int = MAX_CONSECUTIVE_FAILURES,
) -> RunStats:
    """Run trials until the study holds ``budget`` finished trials or ``timeout`` seconds pass.

    Any number of workers may run this on the same study at once (see "The loop" above). A trial that raises is
    recorded as failed with its reason and the loop goes on, until ``max_consecutive_failures`` in a row.
    Ctrl-C or SIGTERM marks the running trial failed ("interrupted") before the interrupt propagates.
    """
    stats = RunStats()
    lock = StudyLock(study._storage, study.study_name)
    waiting = False
    while True:
        elapsed = time.monotonic() - stats.started
        if timeout is not None and elapsed >= timeout:
            break
        with _interrupts_deferred(), lock.hold():
            claim = _claim(study, budget)
        if claim == _DONE:
            break
        if claim == _WAIT:
            if not waiting:
                log.info(
                    "study %s: the last trials are running on other workers; waiting in case one is lost",
                    study.study_name,
                )
            waiting = True
            pause = CLAIM_POLL_SECONDS if timeout is None else max(0.0, min(CLAIM_POLL_SECONDS, timeout - elapsed))
            time.sleep(pause)
            stats.waited_seconds += pause
            continue
        waiting = False
        assert isinstance(claim, optuna.Trial)
        last = _run_trial(study, claim, objective, lock)
        stats.ran += 1
        stats.consecutive_failures = stats.consecutive_failures + 1 if last.state == TrialState.FAIL else 0
        if on_trial_end is not None:
            on_trial_end(study, last)
        if stats.consecutive_failures >= max_consecutive_failures:
            reason = last.user_attrs.get("fail_reason", "unknown")
            raise SearchAborted(
                f"study {study.study_name!r}: {stats.consecutive_failures} trials in a row failed (last: {reason}); "
                "fix the space or data, then resume with the same --study"
            )
    return stats
