"""The Ray Tune backend: trials run as Tune trials on a Ray cluster (or a local runtime), recorded by the driver
in the same Optuna study, with the same trial record, as the Optuna backend's.

Split by concern: :mod:`.cluster` (connecting, one-line errors), :mod:`.schedulers` (the space's pruner as a Tune
scheduler), :mod:`.searcher` (Optuna ask-and-tell as a Tune ``Searcher``: sampling, the record, retries, budget),
:mod:`.record_writer` (the trials' records, written off Tune's event loop), :mod:`.trial_ends` (a trial stopped by the
deadline, or errored: why), :mod:`.trainable` (one trial in a warm
worker) and :mod:`.recovery` (trials a killed driver left RUNNING).
Ray is imported only here, and only when this backend runs.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from typing import Any, ClassVar

from automl import interrupts
from automl.backends.base import Deadline, Executor, RunStats, StudyContext, TrialRunner
from automl.backends.callbacks import SearchCallback
from automl.backends.factories import max_epochs
from automl.backends.store import count_budget_trials
from automl.errors import AutomlError, SearchAborted
from automl.study.record import BackendName, StopReason
from automl.study.storage import MAX_CONSECUTIVE_FAILURES, MAX_RETRY

log = logging.getLogger(__name__)

# Tune's time budget ends the experiment abruptly, so it only backs up the driver's own deadline, which stops
# each trial at its next epoch end: it allows this long for the last epochs to end.
TIME_BUDGET_MARGIN_S = 30.0

# Tune's defaults that cost time per trial on every search and that automl does not use: result loggers (the
# study is the record), the per-trial working directory, and its own Ctrl-C handling (automl's records the
# running trials as interrupted).
_TUNE_ENV = {
    "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS": "1",
    "RAY_CHDIR_TO_TRIAL_DIR": "0",
    "TUNE_DISABLE_SIGINT_HANDLER": "1",
    "RAY_AIR_NEW_OUTPUT": "0",
}


class RayBackend(Executor):
    """:class:`automl.backends.base.Executor` on Ray Tune. ``address``: None starts a local runtime sized to this
    machine, else ``auto`` or ``HOST:PORT`` joins a cluster; each trial takes ``cpus_per_trial`` CPUs, at most
    ``concurrency`` at a time (default: as many as the cluster's CPUs allow); a trial whose worker process dies is
    re-run up to ``max_retry`` times."""

    name: ClassVar[BackendName] = BackendName.RAY

    def __init__(
        self,
        address: str | None = None,
        cpus_per_trial: int = 1,
        concurrency: int | None = None,
        max_retry: int = MAX_RETRY,
    ) -> None:
        from automl.validation import whole_number

        self.address = address
        self.cpus_per_trial = whole_number("cpus_per_trial", cpus_per_trial, minimum=1, example=1)
        self.concurrency = (
            None if concurrency is None else whole_number("concurrency", concurrency, minimum=1, example=2)
        )
        self.max_retry = max_retry

    def run(
        self,
        context: StudyContext,
        runner: TrialRunner,
        *,
        budget: int | None,
        deadline: Deadline,
        callbacks: Iterable[SearchCallback] = (),
        max_consecutive_failures: int = MAX_CONSECUTIVE_FAILURES,
    ) -> RunStats:
        """See :class:`~automl.backends.base.Executor`; the callbacks are called on this driver, as Tune's events
        for the trials arrive."""
        from automl.backends.ray.cluster import connect, disconnect
        from automl.backends.ray.recovery import recover_lost_trials
        from automl.study.storage import StudyLock

        stats = RunStats()
        study = context.study
        from automl.study import optuna_compat as compat

        with StudyLock(compat.storage_of(study), study.study_name).hold():
            recover_lost_trials(study)
        if (budget is not None and count_budget_trials(study) >= budget) or deadline.passed():
            return stats
        cluster = connect(self.address, self.cpus_per_trial)
        try:
            with _tune_environment():
                searcher = self._fit(context, runner, cluster, budget, deadline, max_consecutive_failures, callbacks)
        finally:
            disconnect(cluster)
        stats.ran = searcher.ran
        stats.consecutive_failures = searcher.consecutive_failures
        if searcher.aborted is not None:
            raise SearchAborted(
                f"study {study.study_name!r}: {searcher.consecutive_failures} trials in a row failed (last: "
                f"{searcher.aborted}); fix the space or data, then resume with the same --study"
            )
        return stats

    def _fit(
        self,
        context: StudyContext,
        runner: TrialRunner,
        cluster: Any,
        budget: int | None,
        deadline: Deadline,
        max_consecutive_failures: int,
        callbacks: Iterable[SearchCallback],
    ) -> Any:
        from ray import tune

        from automl.backends.ray.schedulers import make_scheduler
        from automl.backends.ray.searcher import StudySearcher, TrialEvents
        from automl.backends.ray.trainable import train_trial
        from automl.backends.ray.trial_ends import DeadlineStopper

        settings = context.settings
        stopper = DeadlineStopper(deadline)
        searcher = StudySearcher(
            context,
            budget=budget,
            deadline=deadline,
            stopper=stopper,
            max_consecutive_failures=max_consecutive_failures,
            callbacks=callbacks,
        )
        concurrency = self.concurrency or max(1, int(cluster.cpus // self.cpus_per_trial))
        # The runner (with the dataset in it) goes into Ray's object store once, not into every trial's config.
        trainable = tune.with_parameters(
            train_trial,
            runner=runner,
            metric=settings.metric,
            families=context.space.families,
            threads=self.cpus_per_trial,
        )
        remaining = deadline.remaining()
        results_dir = tempfile.mkdtemp(prefix="automl-ray-")  # Tune's experiment state; the study is the record
        tuner = tune.Tuner(
            tune.with_resources(trainable, {"cpu": self.cpus_per_trial}),
            tune_config=tune.TuneConfig(
                search_alg=searcher,
                scheduler=make_scheduler(settings, max_epochs(context.space)),
                num_samples=-1,  # the searcher counts the study's budget and says when it is reached
                max_concurrent_trials=concurrency,
                # Warm workers: equal resources per trial, so Tune keeps each actor (its imports, thread pools
                # and fetched data) for the next trial instead of starting a process per trial.
                reuse_actors=True,
                time_budget_s=None if remaining is None else max(1.0, remaining) + TIME_BUDGET_MARGIN_S,
            ),
            run_config=tune.RunConfig(
                name=context.study.study_name,
                storage_path=results_dir,
                failure_config=tune.FailureConfig(max_failures=self.max_retry),
                stop=stopper,
                callbacks=[TrialEvents(searcher)],
                verbose=0,
            ),
        )
        log.info(
            "ray: study %s, %d concurrent trial(s) of %d CPU(s) on %s",
            context.study.study_name,
            concurrency,
            self.cpus_per_trial,
            cluster.address,
        )
        # Tune's result grid warns that it found no result files: automl turned its loggers off (the study is the
        # record), so the warning says nothing a user can act on.
        logging.getLogger("ray.tune.analysis.experiment_analysis").setLevel(logging.ERROR)
        try:
            tuner.fit()
            # A Ctrl-C swallowed inside Ray's loop (the handler only raises where the main thread happens to be)
            # still stops the job here, before the final stage, as the Optuna loop does before every trial.
            interrupts.check()
        except KeyboardInterrupt:
            searcher.close("interrupted (Ctrl-C or SIGTERM) while running", interrupted=True)
            raise
        except AutomlError:
            searcher.close("the search stopped with an error", interrupted=True)
            raise
        finally:
            searcher.close(StopReason.TIME_BUDGET)
            shutil.rmtree(results_dir, ignore_errors=True)
        return searcher


@contextlib.contextmanager
def _tune_environment() -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in _TUNE_ENV}
    for key, value in _TUNE_ENV.items():
        os.environ.setdefault(key, value)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old
