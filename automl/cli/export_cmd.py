"""``automl export STUDY --out DIR``: the winner's saved model file, its configuration and the report."""

from __future__ import annotations

import argparse

from automl.study.storage import default_storage_url


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "export",
        help="export the retrained winner (its model file), its configuration (YAML) and the report",
        description="Write the winner's model file as its family saved it (model.keras for the Keras families; "
        "loadable without automl), DIR/config.yaml and DIR/report/. The winner is retrained first if the study "
        "has no saved model for it.",
    )
    p.add_argument("study", help="study name")
    p.add_argument("--out", required=True, help="folder to write into (created if missing)")
    p.add_argument("--storage", help=f"Optuna storage URL (default: $AUTOML_STORAGE or {default_storage_url()})")
    p.add_argument("--top", type=int, default=5, help="best configurations shown in the report (default 5)")
    p.add_argument("--data-dir", help="the MNIST IDX directory the study was searched on, if it was")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from automl.reports import export_study, load_study
    from automl.study.storage import redact, resolve_url

    url = resolve_url(args.storage)
    study = load_study(args.study, url)
    result = export_study(study, args.out, storage=redact(url), data_dir=args.data_dir, top_k=args.top)
    how = "retrained now" if result.retrained else "copied from the search"
    print(f"Model:  {result.model} ({how}; trial {result.trial})")
    print(f"Config: {result.config}")
    print(f"Report: {result.report}")
    print(f"Load it with: {result.load_hint}")
    return 0
