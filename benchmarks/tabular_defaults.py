"""`automl search NAME --time-budget B` with the default (tabular) space on each scikit-learn bundled dataset:
the winner's held-out score and 95% interval, next to the default-parameter model of the winner's family, the
default linear model and the majority/mean predictor, all on the same held-out split, and the wall time.

Runs the installed console script (the real command), each in its own temporary AUTOML_HOME, then reads the
study's final record. Prints a Markdown table for benchmarks/README.md.

    .venv/bin/python benchmarks/tabular_defaults.py --time-budget 60
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DATASETS = ("iris", "wine", "breast_cancer", "digits", "diabetes")


def run_one(name: str, budget: float, exe: str) -> dict:
    import optuna

    from automl.study.study_record import read_study

    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "AUTOML_HOME": home, "AUTOML_OFFLINE": "1"}
        started = time.monotonic()
        done = subprocess.run(
            [exe, "search", name, "--time-budget", str(budget), "--no-live", "--reports", f"{home}/reports"],
            env=env,
            capture_output=True,
            text=True,
        )
        seconds = time.monotonic() - started
        if done.returncode != 0:
            raise SystemExit(f"{name}: automl search failed: {done.stderr.strip().splitlines()[-1]}")
        storage = f"sqlite:///{home}/studies.db"
        summary = optuna.get_all_study_summaries(storage)[0]
        study = optuna.load_study(study_name=summary.study_name, storage=storage)
        record = read_study(study)
        final = record.final
        trials = len(study.trials)
    family = str(final.config.get("model"))
    refs = {r["label"]: r.get("test_value") for r in final.references}
    same_family = final.baseline_test_value if family == "sklearn_linear" else refs.get(f"default-parameter {family}")
    dummy = refs.get("majority-class predictor", refs.get("mean predictor"))
    return {
        "dataset": name,
        "metric": final.test_metric,
        "family": family,
        "winner": final.test_value,
        "ci": (final.ci_low, final.ci_high),
        "same_family_default": same_family,
        "linear_default": final.baseline_test_value,
        "dummy": dummy,
        "trials": trials,
        "seconds": seconds,
    }


def fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--time-budget", type=float, default=60.0)
    parser.add_argument("--datasets", nargs="*", default=list(DATASETS))
    args = parser.parse_args()
    exe = str(Path(sys.executable).parent / "automl")
    print(
        "| dataset | test metric | winner (family) | winner test, 95% CI | same family, default parameters "
        "| default linear | majority / mean | trials | wall time |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name in args.datasets:
        r = run_one(name, args.time_budget, exe)
        ci = f"{r['ci'][0]:.4f}-{r['ci'][1]:.4f}" if r["ci"][0] is not None else "-"
        print(
            f"| {name} | {r['metric']} | {r['family']} | {fmt(r['winner'])} ({ci}) | {fmt(r['same_family_default'])} "
            f"| {fmt(r['linear_default'])} | {fmt(r['dummy'])} | {r['trials']} | {r['seconds']:.0f} s |",
            flush=True,
        )


if __name__ == "__main__":
    main()
