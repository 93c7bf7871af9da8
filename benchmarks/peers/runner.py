"""The peer benchmark, every part in one command (``benchmarks/peers/run`` calls this with the project's Python).

Parts (``--parts``, default all):
- ``mnist``: automl's default search against random search, Optuna's TPE, KerasTuner's Hyperband and Ray Tune's
  ASHA with OptunaSearch, each in its own process, at each budget and seed (automl also at a quarter of the reference
  budget, 600 s, for the time to quality);
- ``tables``: automl against FLAML and AutoGluon on six tables;
- ``overhead``: automl against raw Optuna per trial on the ``synthetic`` family (in-memory, SQLite, PostgreSQL) and
  the Ray backend against plain Ray Tune (``benchmarks/overhead.py``, ``benchmarks/ray_overhead.py``);
- ``throughput``: training inside a trial against a plain ``model.fit``.

Each run's result is a file under ``--results``; a run whose file exists is not run again, so a long run that was
stopped goes on where it stopped. The tables (``report.py``) are printed at the end and written to
``RESULTS/tables.md``. ``--quick`` runs every part at the smallest sizes that still exercise it (a few minutes).

    benchmarks/peers/run --quick                  # a few minutes; results in a temporary folder
    benchmarks/peers/run                          # the full run: hours, on a machine doing nothing else
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
MNIST_SCRIPTS = {
    "automl": ["automl_run.py"],
    "random": ["mnist_optuna.py", "--sampler", "random"],
    "optuna_tpe": ["mnist_optuna.py", "--sampler", "tpe"],
    "kerastuner_hyperband": ["mnist_kerastuner.py"],
    "ray_asha": ["mnist_ray.py"],
}
TABLE_METHODS = ("automl", "flaml", "autogluon")
TABLES = ("breast_cancer", "wine", "digits", "diabetes", "penguins", "cars")


@dataclass(frozen=True)
class Sizes:
    """How big each part is: the full run's sizes, or the quick run's."""

    mnist_budgets: tuple[float, ...] = (300.0, 600.0)
    mnist_limit: int | None = None
    seeds: tuple[int, ...] = (0, 1, 2)
    tables: tuple[str, ...] = TABLES
    table_budgets: tuple[float, ...] = (60.0, 300.0)
    overhead_args: tuple[str, ...] = ("--storage", "all", "--trials", "1000", "--repeat", "1")
    ray_args: tuple[str, ...] = ("--trials", "100", "--repeat", "2", "--skip", "mnist")
    throughput_args: tuple[str, ...] = ("--epochs", "5", "--repeat", "2")
    # The time to quality: random search's accuracy at this budget is the target, and automl also runs at a quarter
    # of it (None: not measured)
    reference_budget: float | None = 600.0


QUICK = Sizes(
    mnist_budgets=(40.0,),  # the slowest VM seen (2.7x) needs this for automl to finish one epoch under load
    mnist_limit=500,
    seeds=(0,),
    tables=("wine",),
    table_budgets=(10.0,),
    overhead_args=("--storage", "all", "--trials", "20", "--repeat", "1"),
    ray_args=("--trials", "4", "--repeat", "1", "--tries", "1", "--skip", "mnist"),
    throughput_args=("--epochs", "1", "--repeat", "1", "--limit", "300"),
    reference_budget=None,
)


def environment() -> dict[str, str]:
    path = os.pathsep.join([str(HERE), str(REPO), os.environ.get("PYTHONPATH", "")])
    return {**os.environ, "PYTHONPATH": path, "AUTOML_OFFLINE": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}


def run_cell(command: list[str], out: Path, timeout: float, log: Path) -> bool:
    """One run in its own process; its result file is ``out``. A failure is written there as ``{"error": ...}``."""
    if out.exists():
        return "error" not in json.loads(out.read_text() or "{}")
    started = time.monotonic()
    print(f"  {out.relative_to(out.parents[1])} ...", end=" ", flush=True)
    try:
        done = subprocess.run(
            [sys.executable, *command, "--out", str(out)], env=environment(), cwd=REPO, timeout=timeout,
            capture_output=True, text=True,
        )  # fmt: skip
        failed = done.returncode != 0 or not out.exists()
        why = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1] if failed else ""
    except subprocess.TimeoutExpired as stopped:
        failed, why = True, f"still running after {timeout:.0f} s"
        done = stopped  # type: ignore[assignment]
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a") as handle:
        handle.write(f"=== {' '.join(command)}\n{done.stdout or ''}{done.stderr or ''}\n")
    if failed:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({"error": why}) + "\n")
    print(f"{'FAILED: ' + why if failed else 'done'} ({time.monotonic() - started:.0f} s)", flush=True)
    return not failed


def mnist(sizes: Sizes, results: Path) -> bool:
    ok = True
    budgets = sorted({*sizes.mnist_budgets})
    limit = ["--limit", str(sizes.mnist_limit)] if sizes.mnist_limit else []
    for budget, seed in itertools.product(budgets, sizes.seeds):
        for method, script in MNIST_SCRIPTS.items():
            command = [str(HERE / script[0]), *script[1:], "--seed", str(seed), "--budget", f"{budget:g}", *limit]
            out = results / "mnist" / f"{method}-b{budget:g}-s{seed}.json"
            ok &= run_cell(command, out, timeout=2 * budget + 300, log=results / "logs" / "mnist.log")
    if sizes.reference_budget is None:
        return ok
    quarter = sizes.reference_budget / 4  # the time to quality: automl at a quarter of the reference budget
    for seed in sizes.seeds:
        command = [str(HERE / "automl_run.py"), "--seed", str(seed), "--budget", f"{quarter:g}", *limit]
        out = results / "mnist" / f"automl-b{quarter:g}-s{seed}.json"
        ok &= run_cell(command, out, timeout=2 * quarter + 300, log=results / "logs" / "mnist.log")
    return ok


def tables(sizes: Sizes, results: Path) -> bool:
    ok = True
    for budget, table, seed in itertools.product(sorted(sizes.table_budgets), sizes.tables, sizes.seeds):
        for method in TABLE_METHODS:
            command = [str(HERE / "tables.py"), "--method", method, "--table", table, "--seed", str(seed)]
            out = results / "tables" / f"{table}-{method}-b{budget:g}-s{seed}.json"
            command += ["--budget", f"{budget:g}"]
            ok &= run_cell(command, out, timeout=3 * budget + 300, log=results / "logs" / "tables.log")
    return ok


def captured(script: Path, args: tuple[str, ...], out: Path, timeout: float) -> bool:
    """A benchmark that prints its figures: its output is the result (``out``, text)."""
    if out.exists():
        return True
    print(f"  {out.name} ...", end=" ", flush=True)
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, str(script), *args], env=environment(), cwd=REPO, timeout=timeout, capture_output=True,
        text=True,
    )  # fmt: skip
    # Ray Tune's own banners (experiment boxes, where its results went) are not figures
    noise = ("╭", "│", "├", "╰", "View detailed results", "To visualize your results")
    lines = [line for line in done.stdout.splitlines() if line.strip() and not line.startswith(noise)]
    if done.returncode != 0:
        why = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
        print(f"FAILED: {why}", flush=True)
        return False
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print(f"done ({time.monotonic() - started:.0f} s)", flush=True)
    return True


def overhead(sizes: Sizes, results: Path) -> bool:
    ok = captured(REPO / "benchmarks" / "overhead.py", sizes.overhead_args, results / "overhead.txt", 7200)
    return ok & captured(REPO / "benchmarks" / "ray_overhead.py", sizes.ray_args, results / "ray_overhead.txt", 7200)


def throughput(sizes: Sizes, results: Path) -> bool:
    command = [str(HERE / "throughput.py"), *sizes.throughput_args]
    return run_cell(command, results / "throughput.json", timeout=1800, log=results / "logs" / "throughput.log")


PARTS = {"mnist": mnist, "tables": tables, "overhead": overhead, "throughput": throughput}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="every part at its smallest sizes (a few minutes)")
    parser.add_argument("--parts", nargs="+", choices=list(PARTS), default=list(PARTS))
    parser.add_argument("--seeds", nargs="+", type=int, help="override the seeds (default: 0 1 2; quick: 0)")
    parser.add_argument("--mnist-budgets", nargs="+", type=float, help="override (default: 300 600 s)")
    parser.add_argument("--table-budgets", nargs="+", type=float, help="override (default: 60 300 s)")
    # A full tables run outlasts a working session; naming tables lets it be measured a few tables at a time
    parser.add_argument("--tables", nargs="+", choices=TABLES, help="override (default: all six; quick: wine)")
    parser.add_argument("--results", type=Path, help="folder of result files (default: benchmarks/peers/results, "
                        "or a temporary folder with --quick)")  # fmt: skip
    args = parser.parse_args()
    sizes = QUICK if args.quick else Sizes()
    overrides = {
        "seeds": args.seeds,
        "mnist_budgets": args.mnist_budgets,
        "table_budgets": args.table_budgets,
        "tables": args.tables,
    }
    sizes = replace(sizes, **{k: tuple(v) for k, v in overrides.items() if v})
    with tempfile.TemporaryDirectory() as scratch:
        results = args.results or (Path(scratch) if args.quick else HERE / "results")
        results.mkdir(parents=True, exist_ok=True)
        print(f"results in {results}", flush=True)
        ok = True
        for part in args.parts:
            print(f"{part}:", flush=True)
            ok &= PARTS[part](sizes, results)
        import report

        text = report.render(results, reference_budget=sizes.reference_budget or max(sizes.mnist_budgets))
        (results / "tables.md").write_text(text)
        print(text)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
