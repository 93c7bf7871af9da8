"""Issue 22's table benchmark: ``automl search TABLE --time-budget 60`` (the default tabular space) against
scikit-learn's HistGradientBoosting at its default parameters, on the same split, for several seeds.

Tables: ``diabetes``, ``breast_cancer``, ``wine``, ``digits`` (bundled with scikit-learn) and two generated
50,000-row tables (``make_classification``, ``make_regression``, each with a string column and a column with 10%
missing values added). For each table and seed, automl runs as a user would (``python -m automl search``, in its
own temporary AUTOML_HOME, this checkout on PYTHONPATH); then the default HistGradientBoosting (through automl's
``sklearn_hgb`` family with an empty configuration: the same preprocessing, scikit-learn's default parameters) is
fitted on the same train+validation rows the search's final model was fitted on and scored once on the same test
rows, with its 95% interval. The verdict of the issue: automl's test score is at least the default's minus half
the default's interval width (for RMSE: at most the default's plus half of it); "ahead" when it is better.

Prints a Markdown table for benchmarks/README.md; the whole run (6 tables x 3 seeds x about 70 s) takes about
25 minutes on 2 cores. One table and one seed, to see that it works:

    PYTHONPATH=. .venv/bin/python benchmarks/tabular_defaults.py
    PYTHONPATH=. .venv/bin/python benchmarks/tabular_defaults.py --tables wine --seeds 0
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BUNDLED = ("diabetes", "breast_cancer", "wine", "digits")
GENERATED = ("classification_50k", "regression_50k")
REPO = Path(__file__).resolve().parents[1]


def large_table(kind: str, path: Path, rows: int = 50_000, seed: int = 0) -> Path:
    """A generated table written as CSV, target column ``target``: ``make_classification`` (3 classes) or
    ``make_regression``, 20 features (10 informative), plus a string column (a coarse, noisy copy of an
    informative feature, so it carries some signal) and 10% missing values in another column."""
    import numpy as np
    import pandas as pd
    from sklearn.datasets import make_classification, make_regression

    rng = np.random.default_rng(seed)
    if kind == "classification":
        x, y = make_classification(rows, n_features=20, n_informative=10, n_classes=3, random_state=seed)
    else:
        x, y = make_regression(rows, n_features=20, n_informative=10, noise=20.0, random_state=seed)
    frame = pd.DataFrame(x, columns=[f"x{i}" for i in range(20)])
    noisy = x[:, 0] + rng.normal(scale=0.5, size=rows)
    frame["segment"] = np.array(["a", "b", "c", "d", "e"])[np.digitize(noisy, [-1.0, -0.3, 0.3, 1.0])]
    frame.loc[rng.random(rows) < 0.1, "x1"] = np.nan
    frame["target"] = y
    frame.to_csv(path, index=False)
    return path


def search(source: str, args: list[str], home: str, budget: float, seed: int) -> tuple[Any, float]:
    """Run ``python -m automl search`` (this checkout) and return the finished study and the wall time."""
    import optuna

    env = {**os.environ, "AUTOML_HOME": home, "AUTOML_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    env.pop("AUTOML_STORAGE", None)
    command = [sys.executable, "-m", "automl", "search", source, *args, "--time-budget", str(budget)]
    command += ["--seed", str(seed), "--study", "bench", "--no-live", "--reports", f"{home}/reports"]
    started = time.monotonic()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    seconds = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"{source}: automl search failed: {(done.stderr.strip().splitlines() or ['?'])[-1]}")
    return optuna.load_study(study_name="bench", storage=f"sqlite:///{home}/studies.db"), seconds


def default_hgb(study: Any, test_metric: str) -> tuple[float, tuple[float, float] | None]:
    """scikit-learn's default HistGradientBoosting on the study's own split: fitted on train+validation, scored
    once on the test rows, with its 95% interval."""
    from automl.analysis.intervals import reported_interval
    from automl.job.pipeline import load_study_data
    from automl.models.registry import get_family

    data = load_study_data(study.study_name, study.user_attrs, data_dir=None)
    family = get_family("sklearn_hgb")
    model = family.fit_final({}, data, family.steps({}), seed=0)
    evaluation = family.evaluate(model, data.x_test, data.y_test)
    interval = reported_interval(test_metric, evaluation.intervals, evaluation.per_example)
    return float(evaluation.metrics[test_metric]), interval


def run_one(table: str, seed: int, budget: float, folder: Path) -> dict[str, Any]:
    from automl.study.study_record import read_study

    with tempfile.TemporaryDirectory() as home:
        source, args = table, []
        if table in GENERATED:
            kind = table.split("_")[0]
            source = str(folder / f"{table}.csv")
            if not Path(source).is_file():
                large_table(kind, Path(source))
            args = ["--target", "target"]
        study, seconds = search(source, args, home, budget, seed)
        record = read_study(study)
        final = record.final
        if final is None:
            raise SystemExit(f"{table}: the search recorded no final model")
        default, interval = default_hgb(study, final.test_metric)
        ensemble = (final.final_stage.get("ensemble") or {}).get("chosen") == "ensemble"
        finished = sum(t.state.name in ("COMPLETE", "PRUNED") for t in study.trials)
    maximize = final.test_metric not in ("rmse", "mae", "loss")
    half = 0.0 if interval is None else (interval[1] - interval[0]) / 2
    bar = default - half if maximize else default + half
    return {
        "table": table,
        "seed": seed,
        "metric": final.test_metric,
        "model": ("ensemble around " if ensemble else "") + str(final.config.get("model")),
        "automl": final.test_value,
        "ci": (final.ci_low, final.ci_high),
        "default": default,
        "default_ci": interval,
        "bar": bar,
        "ok": final.test_value >= bar if maximize else final.test_value <= bar,
        "ahead": final.test_value > default if maximize else final.test_value < default,
        "trials": finished,
        "seconds": seconds,
    }


def row(r: dict[str, Any]) -> str:
    def ci(pair: Any) -> str:
        return f"{pair[0]:.4f}-{pair[1]:.4f}" if pair and pair[0] is not None else "-"

    return (
        f"| {r['table']} | {r['seed']} | {r['metric']} | {r['model']} | {r['automl']:.4f} ({ci(r['ci'])}) "
        f"| {r['default']:.4f} ({ci(r['default_ci'])}) | {r['bar']:.4f} | {'yes' if r['ok'] else '**no**'} "
        f"| {'yes' if r['ahead'] else 'no'} | {r['trials']} | {r['seconds']:.0f} s |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--time-budget", type=float, default=60.0)
    parser.add_argument("--tables", nargs="*", default=[*BUNDLED, *GENERATED], choices=[*BUNDLED, *GENERATED])
    parser.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2])
    args = parser.parse_args()
    print(
        "| table | seed | test metric | automl's model | automl test (95% CI) | default HGB test (95% CI) "
        "| bar (default - half its CI) | automl >= bar | ahead | trials | wall time |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    results = []
    with tempfile.TemporaryDirectory() as folder:
        for table in args.tables:
            for seed in args.seeds:
                results.append(run_one(table, seed, args.time_budget, Path(folder)))
                print(row(results[-1]), flush=True)
    print(f"\n{sum(r['ok'] for r in results)} of {len(results)} runs at or above the bar; ahead on "
          f"{sum(r['ahead'] for r in results)}.")  # fmt: skip


if __name__ == "__main__":
    main()
