"""``automl worker --study NAME``: join an existing study, from any machine, and run trials until its budget.

Also home of the failure-handling flags that ``automl search`` shares.
"""

from __future__ import annotations

import argparse
import sys

from automl.study.storage import (
    GRACE_PERIOD,
    HEARTBEAT_INTERVAL,
    MAX_CONSECUTIVE_FAILURES,
    MAX_RETRY,
    FailurePolicy,
    default_storage_url,
)


def add_failure_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("failure handling")
    g.add_argument(
        "--heartbeat-interval",
        type=int,
        default=HEARTBEAT_INTERVAL,
        metavar="S",
        help=f"seconds between a running trial's heartbeats (default {HEARTBEAT_INTERVAL})",
    )
    g.add_argument(
        "--grace-period",
        type=int,
        default=GRACE_PERIOD,
        metavar="S",
        help=f"a trial without heartbeat this long belongs to a lost worker: it is marked failed and re-run "
        f"(default {GRACE_PERIOD})",
    )
    g.add_argument(
        "--max-retry",
        type=int,
        default=MAX_RETRY,
        metavar="N",
        help=f"re-runs of a lost worker's trial, with the same parameters (default {MAX_RETRY})",
    )
    g.add_argument(
        "--max-failures",
        type=int,
        default=MAX_CONSECUTIVE_FAILURES,
        metavar="N",
        help=f"stop after this many failed trials in a row (default {MAX_CONSECUTIVE_FAILURES})",
    )


def failure_policy(args: argparse.Namespace) -> FailurePolicy:
    return FailurePolicy(
        heartbeat_interval=args.heartbeat_interval,
        grace_period=args.grace_period,
        max_retry=args.max_retry,
        max_consecutive_failures=args.max_failures,
    )


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "worker",
        help="join an existing study and run its trials",
        description="Join a study created by `automl search` and run trials until the study has its budget of "
        "finished trials. The study remembers its space, settings and data options, so only its name and "
        "storage are needed; start as many workers, on as many machines, as you like. Pass a password-protected "
        "storage URL through AUTOML_STORAGE rather than --storage: command lines are visible to other users. "
        "A study made by the Ray backend is not joined (its driver alone runs its trials): resume it with its own "
        "`automl search ... --backend ray --study NAME` command.",
    )
    p.add_argument("--study", required=True, help="name of the study to join")
    p.add_argument("--storage", help=f"Optuna storage URL (default: $AUTOML_STORAGE or {default_storage_url()})")
    p.add_argument("--timeout", type=float, help="seconds this worker searches at most (default: the study's)")
    # Set by `automl search --workers`: the wall-clock end of the whole job, so children stop with the parent.
    p.add_argument("--job-ends", type=float, help=argparse.SUPPRESS)
    p.add_argument("--seed", type=int, help="seed of this worker's sampler; give each worker its own (default: random)")
    p.add_argument("--threads", type=int, help="TensorFlow threads for this worker (default: all cores)")
    p.add_argument("--data-dir", help="directory with the MNIST IDX files on this machine (or set AUTOML_DATA_DIR)")
    p.add_argument("--label", default="worker", help="name of this worker in its log lines (default: worker)")
    p.add_argument("--quiet", action="store_true", help="no line per trial, only the summary")
    add_failure_flags(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from automl.job.worker import run_worker

    report = run_worker(
        args.study,
        args.storage,
        seed=args.seed,
        threads=args.threads,
        timeout=args.timeout,
        job_ends_unix=args.job_ends,
        data_dir=args.data_dir,
        policy=failure_policy(args),
        label=args.label,
        quiet=args.quiet,
    )
    c = report.counts
    budget = f"/{report.budget}" if report.budget else ""
    best = f", best {report.best_value:.4f}" if report.best_value is not None else ""
    print(
        f"[{report.label}] done: {c.get('complete', 0)} completed, {c.get('pruned', 0)} pruned, {c.get('fail', 0)} "
        f"failed in {report.elapsed_seconds:.0f} s; study {report.study_name} has "
        f"{report.study_finished}{budget} finished trials{best}",
        file=sys.stdout,
        flush=True,
    )
    return 0
