"""``automl scheduler start``: start the sweeps in a folder when they are due, exactly once per due time."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from automl.study.storage import default_storage_url

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "scheduler",
        help="run sweeps when they are due",
        description="The sweep scheduler. `automl scheduler start` reads the sweep specs in --sweeps, starts each "
        "sweep when its schedule is due (exactly once per due time, even with two schedulers on one storage), "
        "and records schedules and runs in --storage.",
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    s = actions.add_parser("start", help="start the scheduler", description="Start the scheduler.")
    s.add_argument(
        "--sweeps", default="sweeps", metavar="DIR", help="folder of sweep specs, re-read every poll (default: sweeps)"
    )
    s.add_argument(
        "--storage",
        help=f"where schedules and run history live (default: $AUTOML_STORAGE or {default_storage_url()})",
    )
    s.add_argument("--once", action="store_true", help="run what is due now, wait for those runs, and exit")
    s.add_argument("--poll", type=float, default=30.0, metavar="SECONDS", help="seconds between looks (default 30)")
    s.set_defaults(handler=start)


def start(args: argparse.Namespace) -> int:
    from automl.errors import AutomlError
    from automl.study.storage import redact
    from automl.sweeps.scheduler import Scheduler
    from automl.sweeps.spec import load_sweeps
    from automl.sweeps.state import StateStore

    if not args.poll > 0:
        raise AutomlError(f"--poll: must be a number of seconds > 0, got {args.poll}; pass e.g. --poll 30")
    folder = Path(args.sweeps)
    load_sweeps(folder, on_error=_warn)  # a missing folder is a one-line error before anything starts
    state = StateStore(args.storage)
    scheduler = Scheduler(state, lambda: load_sweeps(folder, on_error=_warn), poll_seconds=args.poll)
    log.info("scheduler %s: sweeps from %s, state in %s", scheduler.owner, folder, redact(state.url))
    if not args.once:
        scheduler.serve()
        return 0
    report = scheduler.run_once()
    if report.standby_for:
        log.info("another scheduler (%s) holds the lease: nothing done", report.standby_for)
        return 0
    failed = [run_id for run_id, reason in report.finished if reason]
    log.info("scheduler --once: %d run(s) started, %d failed", len(report.started), len(failed))
    return 0


def _warn(path: Path, error: Exception) -> None:
    log.warning("%s (this sweep is left out until fixed)", error)
