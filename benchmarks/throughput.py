"""Finished trials per hour with 1 and with N local workers on the default MNIST space (goal: 2 workers >= 1.8x).

Each setting runs ``automl.search("mnist", workers=N, timeout=SECONDS, finish=False)`` in a fresh process (so
TensorFlow's thread pools are sized for that setting: all cores for one worker, cores // N for each of N) with a
fresh embedded SQLite storage, then reads the study back:

* steady rate: trials finished (completed or pruned) while every worker was searching, that is between the
  moment the last worker started its first trial and the moment the first worker finished its last one, per hour
  of that window. This is the figure for long searches;
* overall rate: all finished trials per hour from the first trial's start to the last trial's end, start-up
  of the later workers included.

The space's own sampler (TPE with two warm starts), pruner and early stopping run as in ``automl search mnist``,
so the mix of network sizes differs between settings; the mean training time per trial is printed to show it.

    .venv/bin/python benchmarks/throughput.py [--seconds 300] [--workers 1 2] [--limit N]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

FINISHED = ("COMPLETE", "PRUNED")

_RUN = """
import json, sys
import automl
args = json.loads(sys.argv[1])
automl.search("mnist", args["space"], study=args["study"], trials=100000, timeout=args["seconds"],
              workers=args["workers"], limit=args["limit"], finish=False, quiet=True, reports_dir=args["reports"])
"""


def rates(trials: list[dict[str, Any]]) -> dict[str, Any]:
    """Steady and overall finished-trials-per-hour from trial records (state, worker, start, complete as
    POSIX seconds). Pure, so the arithmetic is checked apart from the measurement."""
    done = [t for t in trials if t["state"] in FINISHED and t["complete"] is not None]
    if not done:
        return {"finished": 0, "steady_per_hour": 0.0, "overall_per_hour": 0.0}
    workers = sorted({t["worker"] for t in trials})
    first_start = {w: min(t["start"] for t in trials if t["worker"] == w) for w in workers}
    last_end = {
        w: max(t["complete"] for t in done if t["worker"] == w) for w in workers if any(t["worker"] == w for t in done)
    }
    window = (max(first_start.values()), min(last_end.values()))
    in_window = [t for t in done if window[0] < t["complete"] <= window[1]]
    span = window[1] - window[0]
    overall_span = max(t["complete"] for t in done) - min(t["start"] for t in trials)
    return {
        "finished": len(done),
        "workers_seen": len(workers),
        "steady_window_s": round(span, 1),
        "steady_finished": len(in_window),
        "steady_per_hour": round(len(in_window) / span * 3600, 1) if span > 0 else 0.0,
        "overall_per_hour": round(len(done) / overall_span * 3600, 1) if overall_span > 0 else 0.0,
        "mean_train_s": round(sum(t["train_seconds"] or 0 for t in done) / len(done), 2),
        "pruned": sum(t["state"] == "PRUNED" for t in done),
    }


def measure(workers: int, seconds: float, limit: int | None, space: str) -> dict[str, Any]:
    import optuna

    with tempfile.TemporaryDirectory(prefix="automl-throughput-") as home:
        env = {**os.environ, "AUTOML_HOME": home, "TF_CPP_MIN_LOG_LEVEL": "2"}
        env.pop("AUTOML_STORAGE", None)
        study = f"throughput-{workers}"
        args = {
            "space": space,
            "study": study,
            "seconds": seconds,
            "workers": workers,
            "limit": limit,
            "reports": str(Path(home) / "reports"),
        }
        load_before = os.getloadavg()[0]
        started = time.monotonic()
        subprocess.run([sys.executable, "-c", _RUN, json.dumps(args)], env=env, check=True)
        wall = time.monotonic() - started
        load_after = os.getloadavg()[0]
        trials = optuna.load_study(study_name=study, storage=f"sqlite:///{home}/studies.db").get_trials()
        records = [
            {
                "state": t.state.name,
                "worker": t.user_attrs.get("worker", "?"),
                "start": t.datetime_start.timestamp() if t.datetime_start else None,
                "complete": t.datetime_complete.timestamp() if t.datetime_complete else None,
                "train_seconds": t.user_attrs.get("train_seconds"),
            }
            for t in trials
            if t.datetime_start is not None
        ]
    return {
        "workers": workers,
        "seconds": seconds,
        "wall_s": round(wall, 1),
        "load_avg_before_after": [round(load_before, 2), round(load_after, 2)],
        **rates(records),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=300, help="search time per setting (default 300)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="settings to measure (default 1 2)")
    parser.add_argument("--limit", type=int, help="use only this many examples (default: all the data)")
    parser.add_argument("--space", default="mnist_mlp", help="search space (default mnist_mlp)")
    args = parser.parse_args()
    print(
        f"# {datetime.now():%Y-%m-%d %H:%M}, {os.cpu_count()} cores, {platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()}",
        flush=True,
    )
    results = []
    for n in args.workers:
        result = measure(n, args.seconds, args.limit, args.space)
        results.append(result)
        print(json.dumps(result), flush=True)
    base = results[0]
    for r in results[1:]:
        for key in ("steady_per_hour", "overall_per_hour"):
            if base[key]:
                print(f"{r['workers']} workers / {base['workers']}: {key} x{r[key] / base[key]:.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
