"""``automl sweep run SPEC`` runs a sweep once now; ``sweep list`` and ``sweep history NAME`` show what ran."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from automl.study.storage import default_storage_url

if TYPE_CHECKING:
    from automl.sweeps.tables import RunRow

_STATE_HELP = (
    "where sweep runs are recorded (the scheduler's storage; default: $AUTOML_STORAGE or "
    f"{default_storage_url()}). Each run's study goes to the spec's own 'storage'"
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "sweep",
        help="run a scheduled sweep now, list sweeps, show a sweep's runs",
        description="Scheduled sweeps: a search repeated on a schedule, each run warm-started from the last. "
        "`automl sweep run SPEC` runs one now (what a CronJob, a systemd timer or a Ray job calls); "
        "`automl scheduler start` runs them when due.",
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)

    r = actions.add_parser("run", help="run a sweep once, now", description="Run a sweep once, now.")
    r.add_argument("spec", help="the sweep spec (YAML), e.g. sweeps/nightly.yaml")
    r.add_argument("--storage", help=_STATE_HELP)
    r.add_argument("--run-id", type=int, help=argparse.SUPPRESS)  # a run the scheduler claimed for this process
    r.set_defaults(handler=run)

    ls = actions.add_parser(
        "list", help="sweeps with their schedule, next due time, last run and state", description="List sweeps."
    )
    ls.add_argument("--sweeps", default="sweeps", metavar="DIR", help="folder of sweep specs (default: sweeps)")
    ls.add_argument("--storage", help=_STATE_HELP)
    ls.set_defaults(handler=list_sweeps)

    h = actions.add_parser(
        "history",
        help="a sweep's runs: status, trials, best value, held-out score, trend, and a plot",
        description="A sweep's runs with status, trials, best value, the winner's held-out score and the trend; "
        "writes a plot of the best value per run to REPORTS/NAME/history.png.",
    )
    h.add_argument("name", help="the sweep's name")
    h.add_argument("--storage", help=_STATE_HELP)
    h.add_argument("--reports", default="reports", help="reports folder (default: reports)")
    h.add_argument("--log", type=int, metavar="RUN", help="print that run's log file (the LOG column) instead")
    h.set_defaults(handler=history)


def run(args: argparse.Namespace) -> int:
    from automl.sweeps.run import run_sweep
    from automl.sweeps.spec import load_spec
    from automl.sweeps.state import StateStore

    spec = load_spec(args.spec)
    state = StateStore(args.storage)
    done = run_sweep(spec, state, run_id=args.run_id)
    best = f"best {done.metric} {done.best_value:.4f}" if done.best_value is not None else "no completed trial"
    held_out = f", held-out {done.test_metric} {done.test_value:.4f}" if done.test_value is not None else ""
    warm = f", warm-started with {done.warm_started} from {done.previous_study}" if done.warm_started else ""
    if done.resumed:
        warm = f", started from the {done.resumed} finished trials of {done.previous_study}"
    trials = f"{done.trials} trials"
    print(f"sweep {spec.name}: run {done.id} {done.status}: study {done.study}, {trials}, {best}{held_out}{warm}")
    for note in done.notes.splitlines():
        print(f"  {note}")
    print(f"  log: {done.log_path}")
    return 0


def list_sweeps(args: argparse.Namespace) -> int:
    from automl.sweeps.cron import CronSchedule
    from automl.sweeps.spec import load_sweeps
    from automl.sweeps.state import StateStore
    from automl.sweeps.tables import ACTIVE, RunStatus

    errors: list[tuple[Path, str]] = []
    specs = load_sweeps(args.sweeps, on_error=lambda path, exc: errors.append((path, str(exc))))
    state = StateStore(args.storage)
    runs = state.runs()
    now = datetime.now(UTC)
    table = [("SWEEP", "SCHEDULE", "NEXT DUE (UTC)", "LAST RUN", "STATE")]
    for spec in specs:
        mine = [r for r in runs if r.sweep == spec.name]
        if spec.schedule:
            schedule = f"{spec.schedule} ({spec.timezone})"
            next_due = f"{CronSchedule(spec.schedule, spec.timezone).next_after(now):%Y-%m-%d %H:%M}"
        else:
            schedule, next_due = "by hand / outside scheduler", "-"
        last = next(
            (r for r in reversed(mine) if r.status not in (RunStatus.PENDING, RunStatus.QUEUED, RunStatus.SKIPPED)),
            None,
        )
        last_text = f"{last.study or '-'} {last.status}" if last else "never"
        going = [r.status for r in mine if r.status in (*ACTIVE, RunStatus.QUEUED)]
        state_text = ", ".join(sorted(set(going))) or (
            "failed last" if last and last.status == RunStatus.FAILED else "idle"
        )
        table.append((spec.name, schedule, next_due, last_text, state_text))
    widths = [max(len(row[i]) for row in table) for i in range(5)]
    for row in table:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    for _path, message in errors:
        print(f"automl: error: {message}", file=sys.stderr)
    return 2 if errors else 0


def history(args: argparse.Namespace) -> int:
    from automl.errors import AutomlError
    from automl.study.storage import redact
    from automl.sweeps.history import history_rows, plot_history, render_table, trend
    from automl.sweeps.state import StateStore

    state = StateStore(args.storage)
    runs = state.runs(args.name)
    if not runs:
        known = sorted({r.sweep for r in state.runs()})
        raise AutomlError(
            f"sweep {args.name!r}: no runs recorded in {redact(state.url)}; "
            f"sweeps with runs: {', '.join(known) or 'none'}; run one with: automl sweep run SPEC"
        )
    if args.log is not None:
        return _print_log(args.name, runs, args.log)
    rows = history_rows(runs)
    print(render_table(rows))
    print(trend(rows))
    plot = plot_history(rows, Path(args.reports) / args.name / "history.png")
    if plot is not None:
        print(f"plot: {plot}")
    return 0


def _print_log(sweep: str, runs: list[RunRow], run_id: int) -> int:
    from automl.errors import AutomlError

    run = next((r for r in runs if r.id == run_id), None)
    if run is None:
        raise AutomlError(
            f"--log {run_id}: sweep {sweep!r} has no run {run_id}; its runs: {', '.join(str(r.id) for r in runs)}"
        )
    if not run.log_path:
        raise AutomlError(
            f"--log {run_id}: run {run_id} of sweep {sweep!r} recorded no log file "
            "(it did not start, or ran before runs wrote one)"
        )
    path = Path(run.log_path)
    if not path.is_file():
        raise AutomlError(
            f"--log {run_id}: {path} is not on this machine (the run ran elsewhere, or the file was removed); "
            "read it where the run ran"
        )
    sys.stdout.write(path.read_text(encoding="utf-8", errors="replace"))
    return 0
