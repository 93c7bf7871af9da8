"""``automl studies``: list the studies in a storage; ``automl studies delete NAME`` removes one."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from typing import TYPE_CHECKING

from automl.study.storage import default_storage_url

if TYPE_CHECKING:
    from optuna.storages import BaseStorage

_STORAGE_HELP = f"Optuna storage URL (default: $AUTOML_STORAGE or {default_storage_url()})"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "studies",
        help="list or delete studies",
        description="List the studies in a storage: trials by state, best value, budget and last activity. "
        "`automl studies delete NAME` removes a study and all its trials after asking.",
    )
    p.add_argument("--storage", help=_STORAGE_HELP)
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    d = actions.add_parser("delete", help="delete a study and all its trials", description="Delete a study.")
    d.add_argument("name", help="the study to delete")
    d.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    # Accepted after the action too; SUPPRESS keeps a --storage given before it.
    d.add_argument("--storage", default=argparse.SUPPRESS, help=_STORAGE_HELP)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from automl.study.storage import open_storage, redact, resolve_url

    url = resolve_url(args.storage)
    storage = open_storage(url, heartbeat=False)
    if args.action == "delete":
        return _delete(storage, args.name, redact(url), assume_yes=args.yes)
    return _list(storage, redact(url))


def _list(storage: BaseStorage, where: str) -> int:
    from automl.study.listing import describe_age, list_studies

    rows = list_studies(storage)
    out = sys.stdout
    if not rows:
        print(f"No studies in {where}. Start one with: automl search mnist", file=out)
        return 0
    now = datetime.now()
    header = ("STUDY", "DONE", "COMPLETE", "PRUNED", "FAIL", "RUNNING", "WAITING", "BEST", "LAST ACTIVITY")
    table: list[tuple[str, ...]] = [header]
    for r in rows:
        c = r.counts
        done = f"{r.finished}/{r.budget}" if r.budget else str(r.finished)
        best = f"{r.best_value:.4f}" if r.best_value is not None else "-"
        if r.best_value is not None and r.metric:
            best += f" {r.metric}"
        when = (
            "-"
            if r.last_activity is None
            else f"{r.last_activity:%Y-%m-%d %H:%M} ({describe_age(r.last_activity, now)})"
        )
        if r.note:
            when += f"; {r.note}"
        table.append(
            (
                r.name,
                done,
                *(str(c.get(s, 0)) for s in ("complete", "pruned", "fail", "running", "waiting")),
                best,
                when,
            )
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    print(f"Studies in {where}:", file=out)
    for row in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip(), file=out)
    return 0


def _delete(storage: BaseStorage, name: str, where: str, *, assume_yes: bool) -> int:
    from automl.study.listing import delete_study, find_study

    row = find_study(storage, name)
    if not assume_yes:
        running = row.counts.get("running", 0)
        warning = f" {running} trial(s) are still RUNNING: stop their workers first." if running else ""
        prompt = (
            f"Delete study {name!r} and its {row.total} trials from {where}? This cannot be undone.{warning} [y/N] "
        )
        try:
            answer = input(prompt)
        except EOFError:  # no terminal to ask on: keep the study
            answer = ""
        if answer.strip().lower() not in ("y", "yes"):
            print(f"Kept study {name!r} (pass --yes to delete without asking).", file=sys.stderr)
            return 1
    delete_study(storage, name)
    print(f"Deleted study {name!r} ({row.total} trials) from {where}.", file=sys.stdout)
    return 0
