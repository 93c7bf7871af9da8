"""Workers: processes that run one study's trials together, on one machine or on many.

:func:`run_worker` is what one process does (``automl worker``): open the study, which remembers its space,
settings and data options, then claim and run trials until the study's budget is reached. The budget belongs to
the study, so any number of workers, started anywhere and at any time, finish it together exactly
(see "The loop" in :mod:`automl.backends.optuna`).

:func:`run_local_workers` starts N such processes on this machine (``automl search --workers N``): it sizes
TensorFlow's thread pools so that N workers share the cores instead of fighting over them, passes the storage URL
through the environment (a command line is visible to every user of the machine), forwards Ctrl-C and SIGTERM to
the workers and waits until each has recorded its running trial.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from automl.errors import AutomlError, StorageError
from automl.storage import FailurePolicy

if TYPE_CHECKING:
    import optuna

log = logging.getLogger(__name__)

STOP_WAIT_SECONDS = 60  # how long stopped workers get to record their running trial before they are killed
# The worker's entry point. ``python -c`` rather than the console script: the same interpreter and environment
# as the parent, wherever the script was installed.
_ENTRY = "import sys; from automl.cli import main; sys.exit(main())"


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))  # honours taskset and container CPU sets
    except AttributeError:
        return os.cpu_count() or 1


def threads_per_worker(workers: int, cores: int | None = None) -> int:
    """TensorFlow threads for each of ``workers`` processes: the cores split evenly, at least one each."""
    return max(1, (cores or available_cores()) // max(1, workers))


def check_workers(workers: Any) -> int:
    from automl.validation import whole_number

    return whole_number("workers", workers, minimum=1, example=2)


# --------------------------------------------------------------------------------------------------------------
# One worker


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


class WorkerLog:
    """One plain line per finished trial, labelled with the worker, counting the whole study's progress."""

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

    def trial_finished(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        from automl.record import read_trial

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
    from automl import pipeline
    from automl.record import StudyKey
    from automl.storage import open_storage, resolve_url
    from automl.validation import optional_seconds

    timeout = optional_seconds("timeout", timeout, example=300)
    started = time.monotonic()
    policy = policy or FailurePolicy()
    threads = threads if threads is not None else pipeline.threads_from_env()
    url = resolve_url(storage)
    rdb = open_storage(url, policy=policy)
    recorded_attrs = {s.study_name: s.user_attrs for s in rdb.get_all_studies()}
    if study_name in recorded_attrs and not {StudyKey.SPACE, StudyKey.DATASET} <= recorded_attrs[study_name].keys():
        raise StorageError(
            f"study {study_name!r}: records no space or dataset (it was not created by `automl search`), so a "
            "worker cannot join it; create one with `automl search DATASET --study NAME`"
        )
    backend = pipeline.get_backend("optuna")
    context = backend.open_study(rdb, study_name, None, None, seed=seed, create=False)
    study, settings = context.study, context.settings
    if timeout is not None:
        settings = dataclasses.replace(settings, timeout=timeout)
    report = WorkerReport(study_name, label, budget=settings.trials)
    report.study_finished = backend.count_finished(study)
    if settings.trials is not None and report.study_finished >= settings.trials:
        log.info("study %s: already has %d/%d finished trials; nothing to do", study_name, *_progress(report))
        return _close(report, backend, study, started)

    dataset = pipeline.load_study_data(
        study_name,
        study.user_attrs,
        data_dir=data_dir,
        handed=dataset or load_handed_dataset(study.user_attrs.get(StudyKey.DATA_FINGERPRINT)),
    )
    clock = pipeline.job_clock(
        started, settings, context.space, dataset, members=3, job_ends_unix=job_ends_unix, joining=True
    )
    worker_log = WorkerLog(report, settings.metric, backend.count_finished, stream=stream, quiet=quiet)
    on_trial_start, on_epoch = clock.hooks(None, None)
    pipeline.run_trials(
        backend,
        context,
        dataset,
        seed=int(study.user_attrs.get(StudyKey.DATA_SEED) or 0),
        threads=threads,
        deadline=clock.deadline,
        policy=policy,
        on_trial_start=on_trial_start,
        on_epoch=on_epoch,
        on_trial_end=clock.watch(worker_log.trial_finished),
    )
    return _close(report, backend, study, started)


def _progress(report: WorkerReport) -> tuple[int, int]:
    return report.study_finished, report.budget or 0


def _close(report: WorkerReport, backend: Any, study: optuna.Study, started: float) -> WorkerReport:
    report.study_finished = backend.count_finished(study)
    with contextlib.suppress(ValueError):  # no completed trial yet
        report.best_value = float(study.best_value)
    report.elapsed_seconds = time.monotonic() - started
    return report


# --------------------------------------------------------------------------------------------------------------
# N local workers


def worker_argv(
    study_name: str,
    *,
    index: int,
    seed: int,
    threads: int,
    timeout: float | None,
    data_dir: str | Path | None,
    policy: FailurePolicy,
    quiet: bool = False,
    job_ends_unix: float | None = None,
) -> list[str]:
    """The command line of local worker ``index``. No storage URL: it travels in the environment."""
    argv = [
        sys.executable,
        "-c",
        _ENTRY,
        "worker",
        "--study",
        study_name,
        "--seed",
        str(seed + index),  # different sampler streams, or the workers' random start-up trials coincide
        "--threads",
        str(threads),
        "--label",
        f"w{index + 1}",
        "--heartbeat-interval",
        str(policy.heartbeat_interval),
        "--grace-period",
        str(policy.grace_period),
        "--max-retry",
        str(policy.max_retry),
        "--max-failures",
        str(policy.max_consecutive_failures),
    ]
    if timeout is not None:
        argv += ["--timeout", f"{timeout:.3f}"]
    if job_ends_unix is not None:
        argv += ["--job-ends", f"{job_ends_unix:.3f}"]
    if data_dir is not None:
        argv += ["--data-dir", str(data_dir)]
    if quiet:
        argv.append("--quiet")
    return argv


def run_local_workers(
    study_name: str,
    storage_url: str,
    workers: int,
    *,
    seed: int = 0,
    timeout: float | None = None,
    job_ends_unix: float | None = None,
    data_dir: str | Path | None = None,
    policy: FailurePolicy | None = None,
    quiet: bool = False,
    cores: int | None = None,
    dataset: Any = None,
) -> list[int]:
    """Run ``workers`` workers on the existing study and wait for them; returns their exit codes (0: done).

    This process runs worker 1 itself and starts workers 2..N as child processes, which saves one start-up
    (TensorFlow, data) and lets trials begin while the children start. ``dataset``, already loaded here, is
    handed to the children through a temporary file instead of being read and split again in each.

    On Ctrl-C or SIGTERM (a KeyboardInterrupt here) this worker records its running trial as interrupted, every
    child gets SIGTERM and does the same, and this waits for them before re-raising. The children run in their
    own sessions, so a terminal's Ctrl-C reaches them once, through here, and never interrupts their clean-up.
    """
    from automl.storage import redact

    check_workers(workers)
    policy = policy or FailurePolicy()
    threads = threads_per_worker(workers, cores)
    log.info(
        "study %s: %d workers, %d TensorFlow thread(s) each, on %s",
        study_name,
        workers,
        threads,
        redact(storage_url),
    )
    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory(prefix="automl-workers-") as tmp:
        env = {**os.environ, "AUTOML_STORAGE": storage_url, "OMP_NUM_THREADS": str(threads)}
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's start-up chatter, once per worker, hides the log
        if dataset is not None and save_dataset_for_workers(dataset, Path(tmp) / "dataset.npz"):
            env[DATA_HANDOFF_ENV] = str(Path(tmp) / "dataset.npz")
        try:
            for index in range(1, workers):
                argv = worker_argv(
                    study_name,
                    index=index,
                    seed=seed,
                    threads=threads,
                    timeout=timeout,
                    data_dir=data_dir,
                    policy=policy,
                    quiet=quiet,
                    job_ends_unix=job_ends_unix,
                )
                procs.append(subprocess.Popen(argv, env=env, start_new_session=True))
            own = 0
            try:
                run_worker(
                    study_name,
                    storage_url,
                    seed=seed,
                    threads=threads,
                    timeout=timeout,
                    job_ends_unix=job_ends_unix,
                    data_dir=data_dir,
                    policy=policy,
                    label="w1",
                    quiet=quiet,
                    dataset=dataset,
                )
            except AutomlError as exc:  # e.g. too many failures in a row: say so, as a child would, and let them end
                print(f"automl: error: [w1] {exc}", file=sys.stderr, flush=True)
                own = 2
            return [own, *(proc.wait() for proc in procs)]
        except KeyboardInterrupt:
            log.info("study %s: stopping the workers; each records its running trial as interrupted", study_name)
            stop_workers(procs)
            raise
        finally:
            for proc in procs:  # only on an unexpected error in this process: never leave orphans running trials
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()


# The parent's prepared data, handed to local workers so they skip reading and splitting it again. Any field the
# file cannot carry just means the worker loads the data itself; the fingerprint check makes a stale file harmless.
DATA_HANDOFF_ENV = "AUTOML_WORKER_DATA"


def save_dataset_for_workers(dataset: Any, path: Path) -> bool:
    """Write ``dataset`` for workers started with ``AUTOML_WORKER_DATA=path``; False if it cannot be written."""
    import numpy as np

    arrays: dict[str, Any] = {}
    meta: dict[str, Any] = {}
    for f in dataclasses.fields(dataset):
        value = getattr(dataset, f.name)
        (arrays if isinstance(value, np.ndarray) else meta)[f.name] = value
    try:
        np.savez(path, __meta__=np.array(json.dumps(meta)), **arrays)
    except (TypeError, ValueError, OSError) as exc:
        log.info("data hand-off to workers skipped (%s); each loads the data itself", exc)
        return False
    return True


def load_handed_dataset(fingerprint: str | None) -> Any:
    """The dataset the parent handed over, if there is one and it is the study's (same fingerprint); else None."""
    path = os.environ.get(DATA_HANDOFF_ENV)
    if not path or fingerprint is None:
        return None
    import numpy as np

    from automl.data import Dataset

    try:
        with np.load(path, allow_pickle=False) as npz:
            meta = json.loads(str(npz["__meta__"]))
            arrays = {key: npz[key] for key in npz.files if key != "__meta__"}
        dataset = Dataset(**meta, **arrays)
    except (OSError, ValueError, TypeError, KeyError):
        return None
    return dataset if dataset.fingerprint() == fingerprint else None


def stop_workers(procs: Sequence[subprocess.Popen[Any]], wait_seconds: float = STOP_WAIT_SECONDS) -> list[int | None]:
    """SIGTERM each running worker and wait for them to finish cleanly; SIGKILL any still running after
    ``wait_seconds`` (their trials are then failed by the heartbeat check of the next worker on the study)."""
    with _interrupts_ignored():
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + wait_seconds
        for proc in procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("worker pid %d did not stop within %.0f s; killing it", proc.pid, wait_seconds)
                proc.kill()
                proc.wait()
    return [proc.returncode for proc in procs]


@contextlib.contextmanager
def _interrupts_ignored() -> Iterator[None]:
    """A second Ctrl-C while the workers stop would orphan them mid-trial; the stop is bounded anyway."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    for sig in previous:
        signal.signal(sig, signal.SIG_IGN)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)
