"""One worker (``automl worker``): a process that joins a study and runs its trials until the study's budget is
reached. The study remembers its space, settings and data options, so any number of workers, started anywhere
and at any time, finish it together exactly (see "The loop" in :mod:`automl.backends.optuna`). Starting N of them
on this machine is :mod:`automl.job.workers`' job.
"""

from __future__ import annotations

import dataclasses
import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from automl.backends.callbacks import SearchCallback
from automl.backends.store import StudyStore
from automl.data.handoff import load_handed_dataset
from automl.errors import StorageError
from automl.job import pipeline
from automl.study.record import BackendName, StudyKey, primary_value, read_trial
from automl.study.storage import FailurePolicy, open_storage, resolve_url
from automl.study.study_record import read_study
from automl.validation import optional_seconds

if TYPE_CHECKING:
    import optuna

log = logging.getLogger(__name__)


@dataclass
class WorkerReport:
    """What one worker did, and where the study stands after it."""

    study_name: str
    label: str
    counts: dict[str, int] = field(default_factory=lambda: {"complete": 0, "pruned": 0, "fail": 0})
    study_finished: int = 0
    budget: int | None = None
    best_value: float | None = None
    elapsed_seconds: float = 0.0

    @property
    def ran(self) -> int:
        return sum(self.counts.values())


class WorkerLog(SearchCallback):
    """A search callback: one plain line per finished trial, labelled with the worker, counting the whole study's
    progress."""

    def __init__(
        self,
        report: WorkerReport,
        metric: str,
        count_finished: Callable[[Any], int],
        stream: TextIO | None = None,
        quiet: bool = False,
    ) -> None:
        self.report = report
        self.count_finished = count_finished
        self.metric = metric
        self.stream = stream or sys.stderr
        self.quiet = quiet

    def on_trial_end(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        record = read_trial(trial)
        state = record.state.lower()
        self.report.counts[state] = self.report.counts.get(state, 0) + 1
        self.report.study_finished = self.count_finished(study)
        if self.quiet:
            return
        if state == "complete":
            detail = f"{self.metric}={record.value:.4f} (best epoch {record.best_epoch})"
        elif state == "pruned":
            detail = f"at epoch {record.pruned_at_epoch or '?'}" + (
                f" ({record.prune_reason})" if record.prune_reason else ""
            )
        else:
            detail = record.fail_reason
        if record.retry_of is not None:
            detail += f" (retry of lost trial {record.retry_of})"
        budget = f"/{self.report.budget}" if self.report.budget else ""
        print(
            f"[{self.report.label}] trial {trial.number} {state} {detail} | study {study.study_name}: "
            f"{self.report.study_finished}{budget} finished",
            file=self.stream,
            flush=True,
        )


def run_worker(
    study_name: str,
    storage: str | None = None,
    *,
    seed: int | None = None,
    threads: int | None = None,
    timeout: float | None = None,
    job_ends_unix: float | None = None,
    data_dir: str | Path | None = None,
    policy: FailurePolicy | None = None,
    label: str = "worker",
    quiet: bool = False,
    stream: TextIO | None = None,
    dataset: Any = None,
) -> WorkerReport:
    """Join the existing study ``study_name`` and run its trials until its budget is reached.

    The study's recorded space, settings and data options (dataset, split seed, example limit) are used; only
    ``data_dir`` (where this machine keeps the data) and this worker's own ``timeout`` come from the caller.
    ``job_ends_unix`` is the wall-clock end of the whole job this worker serves (``automl search --workers``
    passes it), so it stops in time for the final stage, as the searching process does.
    ``seed`` seeds this worker's sampler; give each worker a different one (``None`` draws one). ``dataset``,
    if the caller has it loaded already, saves loading it again; it must be the study's (same fingerprint).
    """
    timeout = optional_seconds("timeout", timeout, example=300)
    started = time.monotonic()
    policy = policy or FailurePolicy()
    threads = threads if threads is not None else pipeline.threads_from_env()
    url = resolve_url(storage)
    rdb = open_storage(url, policy=policy)
    store = StudyStore(rdb)
    recorded_attrs = {s.study_name: s.user_attrs for s in rdb.get_all_studies()}
    if study_name in recorded_attrs and not {StudyKey.SPACE, StudyKey.DATASET} <= recorded_attrs[study_name].keys():
        raise StorageError(
            f"study {study_name!r}: records no space or dataset (it was not created by `automl search`), so a "
            "worker cannot join it; create one with `automl search DATASET --study NAME`"
        )
    if recorded_attrs.get(study_name, {}).get(StudyKey.BACKEND) == BackendName.RAY:
        # Tune schedules a Ray study's trials from its driver, which alone writes the study and counts its budget,
        # and which on resuming fails every RUNNING trial it did not start ("driver lost"): a worker's trials would
        # be cut down and its budget claims would race the driver's. The way in is the driver's own command.
        raise StorageError(
            f"study {study_name!r}: made by the Ray backend, whose driver alone runs and records its trials, so "
            f"`automl worker` cannot join it; resume it with the same `automl search ... --backend ray --study "
            f"{study_name}` command, and give it more workers by adding nodes to the Ray cluster "
            "(`ray start --address HEAD:PORT`)"
        )
    context = store.open(study_name, seed=seed, create=False)
    study, settings = context.study, context.settings
    if timeout is not None:
        settings = dataclasses.replace(settings, timeout=timeout)
    report = WorkerReport(study_name, label, budget=settings.trials)
    report.study_finished = store.count_finished(study)
    if settings.trials is not None and report.study_finished >= settings.trials:
        log.info("study %s: already has %d/%d finished trials; nothing to do", study_name, *_progress(report))
        return _close(report, store, study, started)

    dataset = pipeline.load_study_data(
        study_name,
        study.user_attrs,
        data_dir=data_dir,
        handed=dataset or load_handed_dataset(study.user_attrs.get(StudyKey.DATA_FINGERPRINT)),
    )
    from automl.job.baseline import recorded_baseline

    clock = pipeline.job_clock(
        started,
        settings,
        context.space,
        dataset,
        members=3,
        job_ends_unix=job_ends_unix,
        joining=True,
        baseline_recorded=recorded_baseline(study, dataset, settings.metric) is not None,
    )
    worker_log = WorkerLog(report, settings.metric, store.count_finished, stream=stream, quiet=quiet)
    pipeline.run_trials(
        pipeline.get_backend(BackendName.OPTUNA),  # workers share a study through its storage: Optuna's loop
        context,
        dataset,
        seed=int(study.user_attrs.get(StudyKey.DATA_SEED) or 0),
        threads=threads,
        deadline=clock.deadline,
        policy=policy,
        callbacks=[clock, worker_log],
    )
    return _close(report, store, study, started)


def _progress(report: WorkerReport) -> tuple[int, int]:
    return report.study_finished, report.budget or 0


def _close(report: WorkerReport, store: StudyStore, study: optuna.Study, started: float) -> WorkerReport:
    report.study_finished = store.count_finished(study)
    from optuna.trial import TrialState

    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    values = [v for t in complete if (v := primary_value(t)) is not None]
    if values:  # the best primary value (Optuna's best_value has none in a multi-objective study)
        report.best_value = (max if read_study(study).maximize else min)(values)
    report.elapsed_seconds = time.monotonic() - started
    return report
