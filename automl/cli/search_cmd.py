"""``automl search DATASET``: run a search, then evaluate and report the winner."""

from __future__ import annotations

import argparse
import sys

from automl.cli.worker_cmd import add_failure_flags, failure_policy
from automl.study.record import BackendName
from automl.study.storage import default_storage_url


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "search",
        help="search hyperparameters for a dataset",
        description="Search a space on a dataset, retrain the winner, score it once on the held-out test split "
        "and write reports/<study>/summary.md. Budgets default to the space's 'search' settings.",
    )
    p.add_argument(
        "dataset",
        help="dataset name (mnist, fashion_mnist, iris, wine, breast_cancer, digits, diabetes) or a CSV/Parquet file",
    )
    p.add_argument(
        "--space",
        help="space name from search_spaces/ or a YAML path (default: the dataset's default; a table's by its task; "
        "see `automl spaces list`)",
    )
    p.add_argument("--target", help="a table file's target column")
    p.add_argument(
        "--task",
        choices=("classification", "regression"),
        help="override the task inferred from a table's target",
    )
    p.add_argument("--study", help="study name; an existing study is continued (default: <dataset>-<timestamp>)")
    p.add_argument("--storage", help=f"Optuna storage URL (default: $AUTOML_STORAGE or {default_storage_url()})")
    p.add_argument("--trials", type=int, help="total finished trials the study should reach")
    p.add_argument("--timeout", type=float, help="seconds of searching in this run")
    p.add_argument(
        "--time-budget",
        type=float,
        help="seconds for the whole job: searching, retraining the winner, the baseline and the report "
        "(default: the space's search.time_budget)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed for splits, sampler and training (default 0)")
    p.add_argument("--data-dir", help="directory with the MNIST IDX files (or set AUTOML_DATA_DIR)")
    p.add_argument("--limit", type=int, help="use only this many examples (stratified), for quick runs")
    p.add_argument("--reports", default="reports", help="folder for reports (default: ./reports)")
    p.add_argument("--no-live", action="store_true", help="plain log lines even on a terminal")
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes on this machine sharing the study and the cores (default 1); "
        "more machines join with `automl worker --study NAME`",
    )
    p.add_argument(
        "--mlflow",
        metavar="URI",
        help="also log each finished trial as an MLflow run and register the final model there, e.g. "
        "sqlite:///mlflow.db or file:./mlruns (default: the space's search.mlflow; needs pip install 'automl[mlflow]')",
    )
    g = p.add_argument_group("backend")
    g.add_argument(
        "--backend",
        choices=[b.value for b in BackendName],
        help="the engine that runs the trials (default: the space's search.backend, else optuna)",
    )
    g.add_argument(
        "--address",
        metavar="auto|HOST:PORT",
        help="with --backend ray: the cluster to join (default: start a local Ray runtime on this machine)",
    )
    g.add_argument("--cpus-per-trial", type=int, metavar="K", help="with --backend ray: CPUs per trial (default 1)")
    g.add_argument(
        "--concurrency", type=int, metavar="N", help="with --backend ray: trials at a time (default: CPUs / K)"
    )
    add_failure_flags(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from automl.api import search

    result = search(
        args.dataset,
        args.space,
        study=args.study,
        storage=args.storage,
        trials=args.trials,
        timeout=args.timeout,
        time_budget=args.time_budget,
        seed=args.seed,
        data_dir=args.data_dir,
        limit=args.limit,
        reports_dir=args.reports,
        live=False if args.no_live else None,
        workers=args.workers,
        failure_policy=failure_policy(args),
        backend=args.backend,
        address=args.address,
        cpus_per_trial=args.cpus_per_trial,
        concurrency=args.concurrency,
        target=args.target,
        task=args.task,
        mlflow=args.mlflow,
    )
    out = sys.stdout
    c = result.counts
    print(
        f"\nStudy {result.study_name}: {c.get('complete', 0)} completed, {c.get('pruned', 0)} pruned, "
        f"{c.get('fail', 0)} failed in {result.elapsed_seconds:.0f} s (data: {result.data_source})",
        file=out,
    )
    print("Best configuration:", file=out)
    for key, value in result.best_params.items():
        print(f"  {key}: {value}", file=out)
    print(f"Validation {result.metric}: {result.best_value:.4f}", file=out)
    if result.test_value is not None:
        baseline = ""
        if result.baseline_test_value is not None:
            baseline = f" | {result.baseline_label}: {result.baseline_test_value:.4f}"
        print(f"Test {result.test_metric} (held-out, retrained winner): {result.test_value:.4f}{baseline}", file=out)
    for ref in result.references:
        if ref.get("test_value") is not None:
            print(f"  reference, {ref['label']}: {ref['test_value']:.4f}", file=out)
    for verdict in result.verdicts:
        print(verdict, file=out)
    if result.final_note:
        print(f"Final stage: {result.final_note}", file=out)
    if result.report_dir is not None:
        html = result.report_dir / "report.html"
        print(f"Report: {html if html.is_file() else result.report_dir / 'summary.md'}", file=out)
    if result.model_path is not None:
        print(f"Model:  {result.model_path}", file=out)
    if result.mlflow_model:
        print(f"MLflow: {result.mlflow_model}", file=out)
    print(f"Dashboard: {result.dashboard_command()}", file=out)
    return 0
