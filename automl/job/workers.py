"""Local workers: N processes on this machine that run one study's trials together.

Each is an ``automl worker`` (:func:`automl.job.worker.run_worker`). :func:`run_local_workers` starts N of
them (``automl search --workers N``): it sizes
TensorFlow's thread pools so that N workers share the cores instead of fighting over them, passes the storage URL
through the environment (a command line is visible to every user of the machine), forwards Ctrl-C and SIGTERM to
the workers and waits until each has recorded its running trial.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from automl.data.handoff import DATA_HANDOFF_ENV, save_dataset_for_workers
from automl.errors import AutomlError
from automl.job.worker import run_worker
from automl.study.storage import FailurePolicy

if TYPE_CHECKING:
    pass

log = logging.getLogger(__name__)

STOP_WAIT_SECONDS = 60  # how long stopped workers get to record their running trial before they are killed


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
        sys.executable,  # the same interpreter and environment as the parent, wherever the script was installed
        "-m",
        "automl",
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
    from automl.study.storage import redact

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


def search_in_workers(
    store: Any,
    context: Any,
    url: str,
    workers: int,
    seed: int,
    clock: Any,
    dataset: Any,
    data_dir: str | Path | None,
    policy: FailurePolicy,
    quiet: bool,
) -> None:
    """Run the search in ``workers`` local processes; a worker's error stops the search unless the budget was
    reached anyway (the other workers finished a lost worker's share)."""
    from automl.errors import SearchAborted

    study, settings = context.study, context.settings
    codes = run_local_workers(
        study.study_name,
        url,
        workers,
        seed=seed,
        timeout=settings.timeout,
        job_ends_unix=clock.job_ends_unix(),
        data_dir=data_dir,
        policy=policy,
        quiet=quiet,
        dataset=dataset,
    )
    failed = [code for code in codes if code != 0]
    if not failed:
        return
    finished = store.count_finished(study)
    message = (
        f"study {study.study_name!r}: {len(failed)} of {workers} workers stopped with an error (exit codes "
        f"{failed}; their messages are above) at {finished}/{settings.trials} finished trials"
    )
    if settings.trials is None or finished < settings.trials:
        raise SearchAborted(message + "; fix the cause, then resume with the same --study")
    log.warning("%s; the others completed the budget", message)
