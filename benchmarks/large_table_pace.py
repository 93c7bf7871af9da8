"""Trials per minute on a larger table (issue 22): ``python -m automl search`` with the default tabular space on a
generated 50,000-row classification table (``make_classification`` plus a string column and a column with 10%
missing values: ``tabular_defaults.large_table``) and a short whole-job budget, for a given checkout of automl.

Run it once on the code before a change and once after, on the same machine, to compare (CODE is the folder that
holds the ``automl`` package; the default is this checkout):

    .venv/bin/python benchmarks/large_table_pace.py --time-budget 120 [--code /path/to/old/checkout]

Prints the finished (complete or pruned) trials, the searching time (first trial start to last trial end), trials
per minute of it, the trials of each family and the test score.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from tabular_defaults import REPO, large_table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--time-budget", type=float, default=120.0)
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--code", type=Path, default=REPO)
    args = parser.parse_args()
    import optuna

    with tempfile.TemporaryDirectory() as home:
        table = large_table("classification", Path(home) / "table.csv", rows=args.rows)
        env = {**os.environ, "AUTOML_HOME": home, "AUTOML_OFFLINE": "1", "PYTHONPATH": str(args.code.resolve())}
        env.pop("AUTOML_STORAGE", None)
        command = [sys.executable, "-m", "automl", "search", str(table), "--target", "target", "--study", "pace"]
        command += ["--time-budget", str(args.time_budget), "--no-live", "--reports", f"{home}/reports"]
        started = time.monotonic()
        done = subprocess.run(command, env=env, capture_output=True, text=True)
        wall = time.monotonic() - started
        if done.returncode != 0:
            raise SystemExit(f"automl search failed: {(done.stderr.strip().splitlines() or ['?'])[-1]}")
        study = optuna.load_study(study_name="pace", storage=f"sqlite:///{home}/studies.db")
        finished = [t for t in study.trials if t.state.name in ("COMPLETE", "PRUNED")]
        begun = min(t.datetime_start for t in finished if t.datetime_start)
        ended = max(t.datetime_complete for t in finished if t.datetime_complete)
        searching = (ended - begun).total_seconds()
        families = Counter(str(t.params.get("model")) for t in finished)
        final = study.user_attrs.get("final") or {}
    print(f"code: {args.code.resolve()}; rows: {args.rows}; time budget: {args.time_budget:g} s; wall {wall:.0f} s")
    print(
        f"finished trials: {len(finished)} in {searching:.0f} s of searching: {60 * len(finished) / searching:.1f}/min"
    )
    print("by family: " + ", ".join(f"{k} {v}" for k, v in sorted(families.items())))
    print(f"test {final.get('test_metric')}: {final.get('test_value')}")


if __name__ == "__main__":
    main()
