"""``automl predict STUDY|MODEL_DIR FILE``: a final model's predictions for new rows or images, in the user's labels."""

from __future__ import annotations

import argparse
import sys

from automl.study.storage import default_storage_url


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "predict",
        help="predict with a study's final model (or an exported one) for a table or a file of images",
        description="Load the final model of STUDY (in --storage) or of MODEL_DIR (written by `automl export`) and "
        "predict for FILE: a CSV/Parquet table with the training's feature columns (the target and dropped ID "
        "columns may be present and are ignored), or an NPY/IDX file of images. Writes CSV, one row per input, in "
        "the original labels.",
    )
    p.add_argument("source", metavar="STUDY|MODEL_DIR", help="a study name, or a folder written by automl export")
    p.add_argument("file", metavar="FILE", help="CSV/Parquet table, or NPY/IDX images")
    p.add_argument("--out", help="CSV file to write (default: standard output)")
    p.add_argument("--proba", action="store_true", help="add one probability column per class (classifiers)")
    p.add_argument("--storage", help=f"Optuna storage URL (default: $AUTOML_STORAGE or {default_storage_url()})")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from automl.serve import load_model, read_input

    model = load_model(args.source, args.storage)
    x = read_input(args.file, model.data_kind)
    frame = model.predict_proba(x) if args.proba else model.predict(x)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(args.out, index=False)
        print(f"Predictions: {args.out} ({len(frame)} rows)", file=sys.stderr)
        return 0
    try:
        frame.to_csv(sys.stdout, index=False)
    except BrokenPipeError:  # piped into `head`: the reader has what it wanted
        sys.stderr.close()
    return 0
