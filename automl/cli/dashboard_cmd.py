"""``automl dashboard``: watch and explore studies in optuna-dashboard."""

from __future__ import annotations

import argparse

from automl.study.dashboard import DEFAULT_HOST, DEFAULT_PORT
from automl.study.storage import default_storage_url


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "dashboard",
        help="open the Optuna dashboard on the studies",
        description="Serve optuna-dashboard on the studies' storage: trials, their per-epoch curves (as "
        "intermediate values) and a note per trial with its diagnosis, best epoch and train/validation gap. "
        "Safe to run while a search writes to the same storage. Stop with Ctrl-C.",
    )
    p.add_argument("--storage", help=f"Optuna storage URL (default: $AUTOML_STORAGE or {default_storage_url()})")
    p.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help=f"address to listen on (default: {DEFAULT_HOST}, this machine only; 0.0.0.0 exposes it to the network)",
    )
    p.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help=f"port to listen on (default: {DEFAULT_PORT}; 0 picks a free one)",
    )
    p.add_argument(
        "--no-notes",
        action="store_true",
        help="do not add automl's notes to finished trials that lack one (for read-only storages)",
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from automl.study.dashboard import serve

    try:
        serve(args.storage, args.host, args.port, notes=not args.no_notes)
    except KeyboardInterrupt:
        # Ctrl-C while the storage was still opening: nothing ran, so there is nothing to report.
        print("Dashboard stopped.")
    return 0
