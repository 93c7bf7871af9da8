"""The search pipeline that ``automl search`` and every worker share: open the storage, check the space against
its families, load and verify the data, size threads, build the trial runner, and run trials with notes.

:func:`automl.api.search` creates or resumes a study and then calls :func:`run_trials`; a worker
(:func:`automl.job.workers.run_worker`) opens an existing study and calls the same function. Neither names a model
library or a search engine: families come from :mod:`automl.models.registry`, engines from :func:`get_backend`,
and the study from :class:`~automl.backends.store.StudyStore`.
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from automl.backends.base import Deadline, Executor, RunStats, StudyContext, TrialRunner, TrialStopped
from automl.backends.callbacks import CallbackList, SearchCallback
from automl.errors import AutomlError, StorageError
from automl.job.baseline import baseline_epochs, baseline_family
from automl.job.clock import JobClock
from automl.job.final import FINISH_SECONDS
from automl.job.plan import REUSE_SECONDS, final_stage_estimator
from automl.models.base import ModelFamily, Reporter, TrainingStopped, TrialOutcome
from automl.models.measures import trial_measures
from automl.spaces import SearchSpace
from automl.study.artifacts import ModelKeeper
from automl.study.notes import TrialNotes
from automl.study.record import BackendName, StudyKey
from automl.study.storage import FailurePolicy

log = logging.getLogger(__name__)

# What a trade-off's final stage spends besides retraining its pick: scoring, saving and timing it (REUSE_SECONDS),
# and the margin a retrained member stops short of the job's end by.
TRADE_OFF_FIXED_SECONDS = REUSE_SECONDS + FINISH_SECONDS

# Each engine's executor, imported on first use: Ray loads only when a search asks for it.
BACKENDS: dict[str, str] = {
    BackendName.OPTUNA: "automl.backends.optuna:OptunaBackend",
    BackendName.RAY: "automl.backends.ray:RayBackend",
}


def get_backend(name: str = BackendName.OPTUNA, **options: Any) -> Executor:
    """The executor registered as ``name``, imported on first use; ``options`` go to its constructor."""
    if name not in BACKENDS:
        raise AutomlError(f"backend {name!r}: unknown; use one of {sorted(str(b) for b in BACKENDS)}")
    module_name, class_name = BACKENDS[name].split(":")
    backend: Executor = getattr(importlib.import_module(module_name), class_name)(**options)
    return backend


def threads_from_env() -> int | None:
    """``AUTOML_THREADS``, checked: a malformed value is an error, not silently ignored."""
    value = os.environ.get("AUTOML_THREADS")
    if value is None or value.strip() == "":
        return None
    if not value.strip().isdigit() or int(value) < 1:
        raise AutomlError(f"AUTOML_THREADS: must be a whole number of threads >= 1, got {value!r}; e.g. 2, or unset it")
    return int(value)


# --------------------------------------------------------------------------------------------------------------
# Data


def data_info(dataset: Any, *, seed: int, limit: int | None) -> dict[str, Any]:
    """The study attributes that identify the data a search ran on (see :mod:`automl.study.record`)."""
    return {
        StudyKey.DATASET: dataset.name,
        StudyKey.DATA_SOURCE: dataset.source,
        StudyKey.DATA_FINGERPRINT: dataset.fingerprint(),
        StudyKey.SPLIT_SIZES: dataset.sizes(),
        StudyKey.DATA_SEED: seed,
        StudyKey.DATA_LIMIT: limit,
        StudyKey.DATA_KIND: dataset.kind,
        StudyKey.TASK: dataset.task,
        StudyKey.DATA_OPTIONS: dict(getattr(dataset, "options", None) or {}),
        StudyKey.LABELS: dataset.labels() if hasattr(dataset, "labels") else {},
    }


def load_study_data(study_name: str, attrs: dict[str, Any], *, data_dir: str | Path | None, handed: Any = None) -> Any:
    """The exact splits a study was recorded on: ``handed`` (already loaded) or loaded again from the recorded
    dataset options, checked against the recorded fingerprint."""
    import automl.data as data_mod

    name = attrs.get(StudyKey.DATASET)
    if not name:
        raise StorageError(
            f"study {study_name!r}: records no dataset (it was not created by `automl search`), so its trials "
            "cannot be run or retrained here; create one with `automl search DATASET --study NAME`"
        )
    recorded = attrs.get(StudyKey.DATA_FINGERPRINT)
    if handed is not None and handed.fingerprint() == recorded:
        return handed
    source = str(attrs.get(StudyKey.DATA_SOURCE) or "")
    if data_dir is None and source.startswith("idx:"):
        data_dir = source[len("idx:") :]
    options = attrs.get(StudyKey.DATA_OPTIONS) or {}  # a table file's target and task
    dataset = data_mod.load_dataset(
        name,
        data_dir=data_dir,
        seed=int(attrs.get(StudyKey.DATA_SEED) or 0),
        limit=attrs.get(StudyKey.DATA_LIMIT),
        target=options.get("target"),
        task=options.get("task"),
    )
    if recorded is not None and recorded != dataset.fingerprint():
        raise StorageError(
            f"study {study_name!r}: was recorded on different data (fingerprint {recorded}, source {source}; this "
            f"machine has {dataset.fingerprint()} from {dataset.source}); give it the same data with --data-dir"
        )
    return dataset


# --------------------------------------------------------------------------------------------------------------
# Trials


def families_for(space: SearchSpace, dataset: Any) -> dict[str, ModelFamily]:
    """The space's families, checked against the space and against this data, before any trial."""
    from automl.spaces.checks import check_data, check_space

    families = check_space(space)
    check_data(space, families, dataset.kind, dataset.task, dataset)
    return families


def make_runner(
    space: SearchSpace,
    families: dict[str, ModelFamily],
    dataset: Any,
    *,
    metric: str,
    direction: str,
    patience: int,
    seed: int,
    keeper: Any = None,
) -> TrialRunner:
    """Train a sampled configuration with the family it names, seeded by the trial number. With a ``keeper``
    (:class:`automl.study.artifacts.ModelKeeper`) the trained model is offered to it before the trial is told.

    A warm-start configuration trains all its epochs, without early stopping: it is the known-good reference every
    other trial is pruned against, and on a small validation split a patience rule can stop it on a noisy plateau
    long before its best epoch (its kept model and its retraining's epochs would both be the worse for it)."""

    measured = space.settings.measured

    def runner(config: dict[str, Any], reporter: Reporter, number: int) -> TrialOutcome:
        family_name, own = space.family_of(config)
        last_epoch = int(own.get("epochs") or 0)
        stop_after = max(patience, last_epoch) if is_warm_start(space, config) else patience
        family = families[family_name]
        try:
            outcome = family.train(
                own,
                dataset,
                LastEpochCompletes(reporter, last_epoch),
                metric=metric,
                direction=direction,
                patience=stop_after,
                seed=seed + number,
            )
        except TrainingStopped as stopped:
            # The time ran out, which says nothing against the model: on large data the trial the deadline stops
            # is the only one, and its model (at its best epoch) is what the final stage can reuse.
            _keep(keeper, number, family, stopped.outcome, stopped=True)
            stopped.outcome = None
            raise
        if measured:
            outcome.measures = trial_measures(measured, outcome, family, dataset)
        _keep(keeper, number, family, outcome)
        outcome.model = outcome.timing_model = (
            None  # the study records the outcome; the model itself is kept only by the keeper
        )
        return outcome

    return runner


def _keep(keeper: Any, number: int, family: ModelFamily, outcome: TrialOutcome | None, stopped: bool = False) -> None:
    if keeper is not None and outcome is not None and outcome.model is not None:
        keeper.offer(number, float(outcome.value), family, outcome.model, stopped=stopped)


class LastEpochCompletes:
    """A reporter that lets a trial whose last epoch ended past the deadline complete rather than stop.

    The epoch is trained and reported either way; stopping the trial there would only throw its finished model
    away (a stopped trial keeps no model), and on short budgets that was the warm start, the likely winner.
    Pruning is untouched: only :class:`TrialStopped` (a deadline, a per-trial cap) is let through, and only at
    ``last_epoch``; a configuration that names no epochs (``last_epoch`` 0) is stopped as before."""

    def __init__(self, inner: Reporter, last_epoch: int) -> None:
        self.inner, self.last_epoch = inner, last_epoch

    def report(self, epoch: int, metrics: dict[str, float]) -> None:
        try:
            self.inner.report(epoch, metrics)
        except TrialStopped:
            if self.last_epoch < 1 or epoch < self.last_epoch:
                raise


def is_warm_start(space: SearchSpace, config: dict[str, Any]) -> bool:
    """Whether ``config`` is one of the space's warm-start configurations (the values it names all match)."""
    return any(all(config.get(k) == v for k, v in start.items()) for start in space.settings.warm_start)


def keeps_models(engine: str) -> bool:
    """Whether an engine's trials can keep their models: Optuna's run in this process; Ray's in other ones."""
    return engine == BackendName.OPTUNA


def model_keeper(backend: Executor, context: StudyContext) -> Any:
    """The keeper of the best ``search.keep_models`` trials' models (None: keep none, or an engine whose trials
    train in other processes)."""
    keep = int(getattr(context.settings, "keep_models", 0) or 0)
    if keep < 1 or not keeps_models(backend.name) or context.settings.trades_off:
        return None  # a trade-off's final model is its pick, retrained alone: kept models would not be used
    return ModelKeeper(context.study, keep, context.settings.direction == "maximize")


def run_trials(
    backend: Executor,
    context: StudyContext,
    dataset: Any,
    *,
    seed: int,
    threads: int | None,
    deadline: Deadline,
    policy: FailurePolicy,
    callbacks: Iterable[SearchCallback] = (),
) -> RunStats:
    """Run the study's trials in this process until its budget is reached or ``deadline`` passes. The
    ``callbacks`` hear of every trial, in order, then each finished trial gets its dashboard note
    (:class:`~automl.study.notes.TrialNotes`); when the trials are over, each hears ``on_job_end``."""
    settings = context.settings
    families = families_for(context.space, dataset)
    for family in families.values():
        family.configure_threads(threads)
    runner = make_runner(
        context.space,
        families,
        dataset,
        metric=settings.metric,
        direction=settings.direction,
        patience=settings.patience,
        seed=seed,
        keeper=model_keeper(backend, context),
    )
    hooks = CallbackList([*callbacks, TrialNotes()])
    stats = backend.run(
        context,
        runner,
        budget=settings.trials,
        deadline=deadline,
        callbacks=hooks,
        max_consecutive_failures=policy.max_consecutive_failures,
    )
    hooks.on_job_end(context.study)
    return stats


def job_clock(
    started: float,
    settings: Any,
    space: SearchSpace,
    dataset: Any,
    *,
    members: int,
    job_ends_unix: float | None = None,
    joining: bool = False,
    keeps_models: bool = True,
    baseline_recorded: bool = False,
) -> JobClock:
    """The clock of a search (``joining=False``) or of a worker joining one, with its final-stage estimator.
    ``keeps_models``: whether this engine's trials keep their models (:func:`model_keeper`); ``baseline_recorded``:
    whether the baseline is trained before the search (:mod:`automl.job.baseline`), so the final stage needs no
    time for it."""
    from automl.models.registry import get_family

    base = baseline_family(space, space.families[0])
    fixed = 0.0
    if settings.trades_off:  # the pick is retrained alone (automl.job.final): one member, nothing kept to reuse
        members, keeps_models, fixed = 1, False, TRADE_OFF_FIXED_SECONDS
    # families that retrain one member (scikit-learn's) need no reserve for three
    members = max(min(members, get_family(name).max_members or members) for name in space.families)
    estimate = final_stage_estimator(
        dataset,
        members,
        baseline_epochs(base, str(getattr(dataset, "task", "")), recorded=baseline_recorded),
        # the kept models' reuse, once there are some
        reuse=keeps_models and int(getattr(settings, "keep_models", 0) or 0) > 0,
        retrain_members=int(getattr(settings, "retrain_members", 0) or 0),
        fixed_seconds=fixed,
    )
    if joining:
        return JobClock.joining(
            job_ends_unix=job_ends_unix,
            timeout=settings.timeout,
            max_trial_seconds=settings.max_trial_seconds,
            estimate=estimate,
        )
    return JobClock.start(
        started,
        timeout=settings.timeout,
        time_budget=settings.time_budget,
        max_trial_seconds=settings.max_trial_seconds,
        estimate=estimate,
    )
