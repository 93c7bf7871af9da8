"""``automl report STUDY``: the full report of a study (any backend, or a plain Optuna study)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from automl.study.storage import default_storage_url


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "report",
        help="write a study's report (best configurations, diagnostics, honest test score, plots)",
        description="Write reports/<study>/report.html (self-contained), report.md, trials.csv and PNG plots, "
        "and print a short summary. If the winner of an automl study has not been retrained and tested yet, "
        "that happens first (once; the result is kept in the study).",
    )
    p.add_argument("study", help="study name")
    p.add_argument("--storage", help=f"Optuna storage URL (default: $AUTOML_STORAGE or {default_storage_url()})")
    p.add_argument("--top", type=int, default=5, help="how many best configurations to show (default 5)")
    p.add_argument(
        "--seeds",
        type=int,
        default=0,
        help="also retrain each of the top configurations with this many seeds and test them (spread across seeds)",
    )
    p.add_argument("--reports", default="reports", help="folder for reports (default: ./reports)")
    p.add_argument("--data-dir", help="the MNIST IDX directory the study was searched on, if it was")
    p.add_argument("--no-evaluate", action="store_true", help="never train: report only what the study already holds")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from automl.errors import AutomlError
    from automl.job.retrain import ensure_final, seed_spread, study_dataset
    from automl.reports import load_study, terminal_summary, top_trials, write_report
    from automl.study.storage import redact, resolve_url
    from automl.study.study_record import read_study

    if args.top < 1:
        raise AutomlError(f"--top: must be an integer >= 1, got {args.top}; pass e.g. --top 5")
    if args.seeds < 0:
        raise AutomlError(f"--seeds: must be an integer >= 0, got {args.seeds}; pass e.g. --seeds 3")
    url = resolve_url(args.storage)
    study = load_study(args.study, url)  # a study recorded by a newer automl stops here, in one line
    out_dir = Path(args.reports) / study.study_name
    record = read_study(study)
    if args.seeds and args.no_evaluate:
        raise AutomlError("--seeds retrains models and --no-evaluate forbids training; drop one of them")
    if not args.no_evaluate and (args.seeds or (record.dataset and record.final is None)):
        data = study_dataset(study, args.data_dir)  # a plain Optuna study fails here only if --seeds asked for it
        if record.final is None and top_trials(study, 1):
            print(f"Retraining the winner of {study.study_name} and scoring it on the test split...", file=sys.stderr)
            ensure_final(study, data, out_dir)
        if args.seeds:
            chosen = top_trials(study, args.top)
            print(f"Retraining the top {len(chosen)} with {args.seeds} seeds each...", file=sys.stderr)
            seed_spread(study, data, chosen, args.seeds)
    files = write_report(study, out_dir, top_k=args.top, storage=redact(url))
    print("\n".join(terminal_summary(files)))
    return 0
