"""automl as a user runs it: ``automl search ...`` (the installed console script, or ``python -m automl`` from
this checkout) at its defaults with ``--time-budget``, in a temporary home of its own; then the study read back.

    PYTHONPATH=. .venv/bin/python benchmarks/peers/automl_run.py --seed 0 --budget 300 --out r.json   # MNIST
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import mnist_common as common


def search(source: str, args: list[str], home: Path, budget: float, seed: int) -> tuple[Any, float]:
    """Run one search and return the finished study and the job's wall time (process start to exit)."""
    import optuna

    env = {**os.environ, "AUTOML_HOME": str(home), "AUTOML_OFFLINE": "1", "PYTHONPATH": str(common.REPO)}
    env.pop("AUTOML_STORAGE", None)
    storage = f"sqlite:///{home / 'studies.db'}"
    command = [sys.executable, "-m", "automl", "search", source, *args, "--time-budget", f"{budget:g}"]
    command += ["--seed", str(seed), "--study", "bench", "--storage", storage, "--no-live"]
    command += ["--reports", str(home / "reports")]
    started = time.monotonic()
    done = subprocess.run(command, env=env, cwd=home, capture_output=True, text=True)
    wall = time.monotonic() - started
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["?"])[-1]
        raise SystemExit(f"automl search {source} failed ({done.returncode}): {last}")
    return optuna.load_study(study_name="bench", storage=storage), wall


def main() -> None:
    import tempfile

    from automl.study.record import read_trial
    from automl.study.study_record import read_study

    parser = common.main_args(__doc__.splitlines()[0])
    args = parser.parse_args()
    extra = ["--limit", str(args.limit)] if args.limit else []
    with tempfile.TemporaryDirectory() as home:
        study, wall = search("mnist", extra, Path(home), args.budget, args.seed)
        final = read_study(study).final
        trials = [read_trial(t) for t in study.trials]
        stamps = [(t.datetime_start, t.datetime_complete) for t in study.trials if t.datetime_complete]
    if final is None:
        raise SystemExit("automl search mnist recorded no final model")
    trained = [t.epochs_trained or len(t.curves.get("val_accuracy", [])) for t in trials]
    common.Result(
        method="automl",
        seed=args.seed,
        budget=args.budget,
        test_accuracy=final.test_value,
        validation=final.val_value,
        trials=sum(n > 0 for n in trained),
        epochs=sum(trained),
        final_epochs=final.epochs,
        wall=wall,
        search_seconds=(max(e for _, e in stamps) - min(s for s, _ in stamps)).total_seconds() if stamps else 0.0,
        config=final.config,
        notes=f"final stage: {(final.final_stage or {}).get('mode')}; held-out 95% interval "
        f"{final.ci_low:.4f}-{final.ci_high:.4f}",
    ).write(args.out)


if __name__ == "__main__":
    main()
