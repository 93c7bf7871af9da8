"""A Tune ``Searcher`` over Optuna's ask-and-tell on the automl study, and the driver-side record of each trial.

Ray Tune's own ``OptunaSearch`` tells a trial the scheduler stopped early as COMPLETE with its partial score, hides
retries until the last failure, leaves a trial RUNNING when ``tell`` raises (a NaN value), and never receives the
metric and mode when given its own space. This searcher instead:

- samples with the space's own code (``space.sample(trial)``, define-by-run), so conditions and inclusive integer
  bounds are the Optuna backend's;
- records each epoch as it arrives (curves, intermediate value, worker and node), off Tune's loop: a trial's start
  commits its creation and its sampled parameters and configuration (two transactions), and everything after is
  queued to the driver's record writer (:mod:`.record_writer`), so no trial's next epoch or start waits on a commit
  it does not need;
- ends each trial in the state that happened: COMPLETE with the family's outcome; PRUNED at the epoch where the
  scheduler or the deadline stopped it, with the reason; FAIL with the reason, never left RUNNING;
- on a retry (Tune's ``FailureConfig``) fails the dead attempt with its reason and starts a new Optuna trial with
  the same parameters, linked through ``failed_trial`` as the Optuna backend does;
- counts the study's budget itself: ``--trials`` is the study's total of finished trials, so it returns FINISHED
  once it is reached and waits while the last slots are running.

Only the driver writes the study; Ray workers never open it. Every trial created is in ``live`` until its end is
queued, and every queued end is written before :meth:`StudySearcher.close` returns, so none is left RUNNING by a
Ctrl-C (only by a driver killed outright, which a resume recovers).
"""

from __future__ import annotations

import json
import logging
import threading
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import optuna
from optuna.trial import TrialState
from ray.tune import Callback
from ray.tune.search import Searcher

import automl.backends.ray.trainable as keys
from automl import interrupts
from automl.backends.base import Deadline, StudyContext
from automl.backends.callbacks import CallbackList, SearchCallback
from automl.backends.ray.record_writer import RecordWriter, TrialEnd
from automl.backends.ray.recovery import DRIVER_KEY, this_driver
from automl.backends.ray.schedulers import mode_of
from automl.backends.ray.trial_ends import DeadlineStopper, error_reason
from automl.backends.store import BUDGET_STATES
from automl.models.base import TrialOutcome
from automl.study import optuna_compat as compat
from automl.study.record import StopReason, TrialKey, is_finite_number, outcome_attrs
from automl.study.storage import StudyLock
from automl.study.trial_writes import count_trials, write_trial_attrs

log = logging.getLogger(__name__)


@dataclass
class LiveTrial:
    """An Optuna trial a Tune trial is running, and what the driver has recorded of it so far."""

    trial: optuna.Trial
    tune_id: str
    config: dict[str, Any] = field(default_factory=dict)
    epoch: int = 0
    curves: dict[str, list[float]] = field(default_factory=dict)
    train_seconds: float = 0.0
    seen_worker: bool = False


class StudySearcher(Searcher):
    """See the module docstring. Tune calls it from the driver's event loop; one heartbeat thread beats for the
    running trials, so a driver killed elsewhere is noticed on resume (see :mod:`.recovery`), and one record
    writer writes what the trials report (see :mod:`.record_writer`)."""

    def __init__(
        self,
        context: StudyContext,
        *,
        budget: int | None,
        deadline: Deadline,
        stopper: DeadlineStopper,
        max_consecutive_failures: int,
        callbacks: Iterable[SearchCallback] = (),
    ) -> None:
        super().__init__(metric=context.settings.metric, mode=mode_of(context.settings))
        self.study: optuna.Study = context.study
        self.space = context.space
        self.budget = budget
        self.deadline = deadline
        self.stopper = stopper
        self.max_consecutive_failures = max_consecutive_failures
        self.callbacks = CallbackList(callbacks)
        self.live: dict[str, LiveTrial] = {}
        self.tune_trials: dict[str, Any] = {}  # Tune's Trial objects, from TrialEvents: their errors
        self.driver = this_driver()
        self.lock = StudyLock(compat.storage_of(self.study), self.study.study_name)
        self.record = RecordWriter(self.study)
        self.ran = 0
        self.consecutive_failures = 0
        self.aborted: str | None = None
        self._failing = 0  # trials whose FAIL is queued but not yet recorded (or its callbacks not yet run)
        self._heartbeat = _Heartbeat(self)

    # ---- Tune's Searcher API ---------------------------------------------------------------------------------

    def __getstate__(self) -> dict[str, Any]:
        # Tune pickles its configuration for Tuner.restore, which automl does not use: a search resumes by
        # continuing the study, the one state there is. The study handle, its lock and the hooks don't pickle.
        return {"study_name": self.study.study_name}

    def save(self, checkpoint_path: str) -> None:
        return None  # the study is the searcher's state; nothing to add to Tune's experiment checkpoint

    def restore(self, checkpoint_path: str) -> None:
        return None

    def set_search_properties(self, metric: str | None, mode: str | None, config: dict[str, Any], **spec: Any) -> bool:
        return True  # metric and mode come from the space's settings, given at construction

    # Ray declares ``dict | None``, yet its own protocol ends a search by returning ``Searcher.FINISHED`` (a str).
    def suggest(self, trial_id: str) -> dict[str, Any] | str | None:  # type: ignore[override]
        if self._failing:
            self.flush()  # the failures in a row that abort the search are counted before another trial starts
        self._deliver()
        if self.aborted is not None or self.deadline.passed():
            return Searcher.FINISHED
        # From the trial's creation to its entry in self.live, where close() finds the trials to end, a Ctrl-C
        # would leave it RUNNING.
        with interrupts.deferred():
            claimed = self._claim(trial_id)
            if claimed is None and self.record.busy():
                # Ends still queued may finish the budget or free a slot (a failure): count again once written.
                self.flush()
                self._deliver()
                claimed = self._claim(trial_id)
        if not isinstance(claimed, LiveTrial):
            return claimed
        self._heartbeat.ensure_started()
        return {"config": claimed.config, "number": claimed.trial.number}

    def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
        # A Ctrl-C swallowed inside Ray's loop stops the search at the next epoch, as on Optuna: deferred() raises
        # it once the epoch is recorded.
        with interrupts.deferred():
            live = self.live.get(trial_id)
            if live is not None:
                self._record_epoch(live, result)
            self._deliver()

    def on_trial_complete(self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False) -> None:
        # Out of self.live means its end is queued: a Ctrl-C between the two would leave the trial RUNNING.
        with interrupts.deferred():
            live = self.live.pop(trial_id, None)
            if live is not None:
                self._end(live, trial_id, result, error)
            self._deliver()

    def _end(self, live: LiveTrial, trial_id: str, result: dict[str, Any] | None, error: bool) -> None:
        if result:
            self._record_epoch(live, result)
        if error:
            tune_trial = self.tune_trials.get(trial_id)
            self._fail(live, error_reason(tune_trial) if tune_trial is not None else "the Ray trial errored")
        elif result and keys.OUTCOME in result:
            self._complete(live, json.loads(result[keys.OUTCOME]))
        elif result and keys.FAILED in result:
            self._fail(live, str(result[keys.FAILED]))
        else:
            self._stopped(live, self.stopper.reasons.pop(trial_id, StopReason.SCHEDULER))

    # ---- retries and the end of the run ----------------------------------------------------------------------

    def retry(self, trial_id: str, tune_trial: Any) -> None:
        """Tune re-runs ``trial_id`` after its worker died: fail the attempt, start its re-run in the study."""
        with interrupts.deferred():  # the failed attempt told and its re-run in self.live, or neither
            self._retry(trial_id, tune_trial)

    def _retry(self, trial_id: str, tune_trial: Any) -> None:
        live = self.live.pop(trial_id, None)
        if live is None:
            return
        self._fail(live, error_reason(tune_trial))
        # The attempt FAIL in the study before its re-run exists: a driver killed in between leaves one trial to
        # recover, not two.
        self.flush()
        dead = live.trial
        template = optuna.trial.create_trial(
            state=TrialState.RUNNING,
            params=dead.params,
            distributions=dead.distributions,
            user_attrs={TrialKey.CONFIG: live.config, TrialKey.TUNE_TRIAL_ID: trial_id},
            system_attrs={TrialKey.RETRY_OF: dead.number, DRIVER_KEY: self.driver},
        )
        storage = compat.storage_of(self.study)
        new_id = storage.create_new_trial(compat.study_id(self.study), template_trial=template)
        trial = optuna.Trial(self.study, new_id)
        log.info("trial %d: its worker died; re-running it as trial %d", dead.number, trial.number)
        self._start(LiveTrial(trial, trial_id, dict(live.config)))

    def close(self, reason_running: str, interrupted: bool = False) -> None:
        """End every trial still open when Tune returns: PRUNED at its last epoch when it has one (the search's
        time ran out), else FAIL; FAIL with ``reason_running`` when ``interrupted``. Returns once every end is
        written; a Ctrl-C meanwhile is raised after."""
        with interrupts.deferred():
            for trial_id in list(self.live):
                live = self.live.pop(trial_id)
                if interrupted or live.epoch == 0:
                    self._fail(live, reason_running)
                else:
                    self._stopped(live, reason_running)
            self._heartbeat.stop()
            self.record.close()
            self._deliver()

    def flush(self) -> None:
        """Wait until every write queued so far is in the study, and run the callbacks of the trials it ended."""
        self.record.flush()
        self._deliver()

    # ---- the record ------------------------------------------------------------------------------------------

    def _claim(self, tune_id: str) -> LiveTrial | str | None:
        """Under the study lock: a started trial, None (every remaining slot is running) or FINISHED. Ends still
        in the record writer's queue count as RUNNING, so the answer errs only towards waiting."""
        storage = compat.storage_of(self.study)
        with self.lock.hold() as conn:
            counts = count_trials(
                storage, compat.study_id(self.study), (*BUDGET_STATES, TrialState.RUNNING, TrialState.WAITING), conn
            )
            if self.budget is not None:
                finished = sum(counts[s] for s in BUDGET_STATES)
                if finished >= self.budget:
                    return Searcher.FINISHED
                if finished + counts[TrialState.RUNNING] >= self.budget:
                    return None  # every remaining slot is running; one may still fail and need re-running
            if counts[TrialState.WAITING]:
                # A queued re-run (a lost driver's trial): Optuna's ask takes it, with its parameters.
                with warnings.catch_warnings():
                    # "Heartbeat of storage is supposed to be used with Study.optimize": this driver beats itself.
                    warnings.simplefilter("ignore", UserWarning)
                    trial = self.study.ask()
                storage.set_trial_system_attr(compat.trial_id(trial), DRIVER_KEY, self.driver)
            else:
                # Created with its driver in one transaction: no instant where a killed driver leaves a RUNNING
                # trial that no resume would recognise as its own.
                template = optuna.trial.create_trial(state=TrialState.RUNNING, system_attrs={DRIVER_KEY: self.driver})
                trial = optuna.Trial(self.study, storage.create_new_trial(compat.study_id(self.study), template))
        live = LiveTrial(trial, tune_id)
        self.live[tune_id] = live
        with compat.params_held_back(trial) as params:
            live.config = self.space.sample(trial)
        # The parameters and configuration in one transaction; the trial waits for it, as a re-run would need them.
        write_trial_attrs(
            storage,
            compat.trial_id(trial),
            {TrialKey.CONFIG: live.config, TrialKey.TUNE_TRIAL_ID: tune_id},
            params=params,
        )
        self._start(live)
        return live

    def _start(self, live: LiveTrial) -> None:
        self.live[live.tune_id] = live
        self.callbacks.on_trial_start(live.trial.number, live.config)

    def _record_epoch(self, live: LiveTrial, result: dict[str, Any]) -> None:
        """One epoch: its objective value is queued for the study (the dashboard and a resume see it within
        milliseconds); the curves and training seconds stay in memory until the trial ends. The worker's
        ``tune.report`` waits for this, so nothing here waits on the database."""
        trial = live.trial
        attrs: dict[str, Any] = {}
        if not live.seen_worker and result.get(keys.WORKER):
            attrs = {TrialKey.WORKER: str(result[keys.WORKER]), TrialKey.NODE: str(result.get(keys.NODE) or "")}
            live.seen_worker = True
        live.train_seconds = max(live.train_seconds, float(result.get(keys.TRAIN_SECONDS) or 0.0))
        epoch = int(result.get(keys.EPOCH) or 0)
        if epoch <= live.epoch or keys.METRICS not in result:
            self.record.record(trial, attrs)
            return  # the final result repeats the last epoch (its training seconds count the whole run)
        metrics: dict[str, float] = json.loads(result[keys.METRICS])
        for key, value in metrics.items():
            live.curves.setdefault(key, []).append(value)
        live.epoch = epoch
        objective = metrics.get(self.metric or "")
        finite = objective is not None and is_finite_number(objective)
        self.record.record(trial, attrs, {epoch: float(objective or 0.0)} if finite else None)
        self.callbacks.on_epoch(trial.number, epoch, metrics)

    def _complete(self, live: LiveTrial, outcome: dict[str, Any]) -> None:
        result = TrialOutcome(**outcome)
        attrs = outcome_attrs(result)
        # The worker's own measure: seconds inside the family's training, waits on Tune excluded.
        attrs.pop(TrialKey.TRAIN_SECONDS, None)
        self._tell(live, result.value, None, attrs, None)

    def _stopped(self, live: LiveTrial, reason: str) -> None:
        attrs = {
            TrialKey.PRUNED_AT_EPOCH: live.epoch,
            TrialKey.PRUNE_REASON: str(reason),
            TrialKey.EPOCHS_TRAINED: live.epoch,
        }
        if live.epoch == 0:
            self._fail(live, f"stopped before its first epoch ended ({reason})")
            return
        self._tell(live, None, TrialState.PRUNED, attrs, None)

    def _fail(self, live: LiveTrial, reason: str) -> None:
        self._tell(live, None, TrialState.FAIL, {}, reason)

    def _tell(
        self,
        live: LiveTrial,
        value: float | None,
        state: TrialState | None,
        attrs: dict[str, Any],
        reason: str | None,
    ) -> None:
        """Queue the trial's end; the record writer writes it, and :meth:`_deliver` counts it once written."""
        if live.curves:  # what the trial trained, whatever its end; the outcome's own history replaces it
            attrs = {TrialKey.CURVES: live.curves, **attrs}
        attrs.setdefault(TrialKey.TRAIN_SECONDS, round(live.train_seconds, 3))
        if state is None and not is_finite_number(value):
            state, reason = TrialState.FAIL, f"the objective returned {value!r}, not a finite number"
        if reason is not None:
            attrs[TrialKey.FAIL_REASON] = reason
        if state == TrialState.FAIL:
            self._failing += 1
        told = float(value) if state is None and value is not None else None  # state None: value is finite
        self.record.end(live.trial, TrialEnd(state, told, attrs))

    def _deliver(self) -> None:
        """Count the trials the record writer has told, and run their callbacks, here on Tune's loop."""
        for frozen in self.record.told():
            self.ran += 1
            self.consecutive_failures = self.consecutive_failures + 1 if frozen.state == TrialState.FAIL else 0
            if self.consecutive_failures >= self.max_consecutive_failures and self.aborted is None:
                self.aborted = frozen.user_attrs.get(TrialKey.FAIL_REASON, "unknown")
            self.callbacks.on_trial_end(self.study, frozen)
        if not self.record.busy():
            self._failing = 0


class TrialEvents(Callback):
    """Tune's trial events the Searcher API does not receive: the Trial objects (their error files) and retries."""

    def __init__(self, searcher: StudySearcher) -> None:
        self.searcher = searcher

    def __getstate__(self) -> dict[str, Any]:
        return {}  # see StudySearcher.__getstate__

    def on_trial_start(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        self.searcher.tune_trials[trial.trial_id] = trial

    def on_trial_recover(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        self.searcher.retry(trial.trial_id, trial)


class _Heartbeat:
    """Beats for the driver's running trials, so that a resume elsewhere can tell a dead driver's trials."""

    def __init__(self, searcher: StudySearcher) -> None:
        self.searcher = searcher
        storage = compat.storage_of(searcher.study)
        getter = getattr(storage, "get_heartbeat_interval", None)
        self.interval = getter() if getter is not None else None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def ensure_started(self) -> None:
        if self.interval and self._thread is None:
            self._thread = threading.Thread(target=self._beat, name="ray-driver-heartbeat", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _beat(self) -> None:
        storage = compat.storage_of(self.searcher.study)
        while not self._stop.is_set():
            for live in list(self.searcher.live.values()):
                try:
                    storage.record_heartbeat(compat.trial_id(live.trial))
                except Exception as exc:  # a blip of the database must not stop the search; the next beat retries
                    log.warning("heartbeat of trial %d failed: %s", live.trial.number, exc)
            self._stop.wait(self.interval or 5)
