"""The Ray backend's costs, measured on this machine (see benchmarks/README.md, "Ray backend").

1. Per-trial overhead against plain Ray Tune, on a trivial objective: the ``synthetic`` family's curves (10 epochs,
   no sleep), FIFO, ``--concurrency`` trials at a time, one Ray runtime shared by every run. Plain Ray Tune is a
   function trainable reporting the same curves, with Ray's ``OptunaSearch`` (define-by-run on the same space) and
   Tune's defaults (no actor reuse); the same with ``reuse_actors=True`` is shown too. Both sample at random, so
   that the sampler's own cost (TPE's grows with the trials) is not counted as the backend's. Plain Ray Tune's
   ``OptunaSearch`` keeps its study in memory and records nothing; the backend writes every trial's record to a
   persistent study (SQLite under ``AUTOML_HOME``), as ``automl search`` does. Per-trial time = the run's wall time
   (``Tuner.fit``, or the backend's ``run``) / trials. The three runs alternate ``--repeat`` times, so that a change
   of the machine's load hits all three alike, and the best of each gives the ratios (as ``overhead.py`` does):
   first the run without reuse, then, after ``SETTLE_S`` for Ray to end its idle worker processes, the backend and
   plain Ray Tune with reused actors, each going first every other round; an untimed run of those two comes before
   (the first Tuner of a process pays imports and start-up that later ones don't). A watchdog thread measures the
   longest pause the driver saw during each run: a run that another job's benchmark stopped midway (SIGSTOP) is
   void and run again, up to ``--tries`` times.
2. The share of trial-slot time spent training on the default MNIST space (search_spaces/mnist_mlp.yaml) with 2
   concurrent trials: the seconds inside the family's training for each trial's epochs, summed (``train_seconds``
   of every trial the run recorded), divided by (2 x the search's wall time). The wall time is the backend's
   ``run``, Ray start-up included; the share after start-up (from the first trial's start) is shown too.

Run: ``PYTHONPATH=. python benchmarks/ray_overhead.py [--trials 40] [--repeat 3] [--mnist-seconds 180]``
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("AUTOML_HOME", tempfile.mkdtemp(prefix="automl-bench-"))
os.environ.setdefault("AUTOML_OFFLINE", "1")
os.environ["PYTHONPATH"] = f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"  # for Ray's workers


def _space(path: Path, **settings: Any) -> Any:
    from automl.spaces import load_space

    space = load_space(str(path))
    return replace(space, settings=replace(space.settings, **settings))


def run_backend(space: Any, dataset: Any, concurrency: int, timeout: float | None) -> tuple[float, Any]:
    from automl.backends.base import Deadline
    from automl.backends.store import StudyStore
    from automl.job import pipeline
    from automl.study.storage import FailurePolicy, open_storage

    backend = pipeline.get_backend("ray", concurrency=concurrency)
    name = f"bench-{space.name}-{time.time_ns()}"
    context = StudyStore(open_storage()).open(
        name,
        space,
        space.settings,
        seed=0,
        data_info=pipeline.data_info(dataset, seed=0, limit=None),
        backend=backend.name,
    )
    started = time.perf_counter()
    pipeline.run_trials(
        backend, context, dataset, seed=0, threads=None, deadline=Deadline.after(timeout), policy=FailurePolicy()
    )
    return time.perf_counter() - started, context.study


_PLAIN_SPACE: list[Any] = []  # the space plain Ray Tune samples; module level, as OptunaSearch pickles its function


def _plain_define_by_run(trial: Any) -> dict[str, Any]:
    config = _PLAIN_SPACE[0].sample(trial)
    return {k: v for k, v in config.items() if k not in trial.params}  # the fixed values, as constants


def _plain_trainable(config: dict[str, Any]) -> None:
    from ray import tune

    from automl.models.synthetic import curves

    planned = curves(config, int(config.get("epochs", 10)), 0)
    for epoch in range(len(planned["val_accuracy"])):
        tune.report({key: values[epoch] for key, values in planned.items()})


def run_plain_tune(space: Any, trials: int, concurrency: int, reuse: bool) -> float:
    import optuna
    from ray import tune
    from ray.tune.search.optuna import OptunaSearch

    _PLAIN_SPACE[:] = [space]
    tuner = tune.Tuner(
        _plain_trainable,
        tune_config=tune.TuneConfig(
            search_alg=OptunaSearch(
                space=_plain_define_by_run,
                metric="val_accuracy",
                mode="max",
                sampler=optuna.samplers.RandomSampler(seed=0),
            ),
            num_samples=trials,
            max_concurrent_trials=concurrency,
            reuse_actors=reuse,
        ),
        run_config=tune.RunConfig(storage_path=tempfile.mkdtemp(prefix="automl-bench-tune-"), verbose=0),
    )
    started = time.perf_counter()
    tuner.fit()
    return time.perf_counter() - started


class Pauses:
    """The longest pause this process saw since the last :meth:`take` (a thread that wakes every 0.1 s)."""

    def __init__(self) -> None:
        import threading

        self.longest = 0.0
        threading.Thread(target=self._watch, daemon=True).start()

    def _watch(self) -> None:
        last = time.monotonic()
        while True:
            time.sleep(0.1)
            now = time.monotonic()
            self.longest = max(self.longest, now - last - 0.1)
            last = now

    def take(self) -> float:
        longest, self.longest = self.longest, 0.0
        return longest


PAUSE_VOID_S = 1.0  # a run the driver was stopped in for this long is void: a stop, not load
SETTLE_S = 5.0  # after plain Ray Tune's run without reuse: its 40 worker processes are being ended


def _clean(what: str, run: Any, pauses: Pauses, tries: int) -> Any:
    """``run()``'s result, from the first of ``tries`` runs that no stop of the process voided."""
    for _ in range(tries):
        pauses.take()
        result = run()
        pause = pauses.take()
        if pause <= PAUSE_VOID_S:
            return result
        print(f"{what}: void (the process was stopped for {pause:.1f} s); running it again", flush=True)
    raise RuntimeError(f"{what}: every one of {tries} runs was stopped midway by another job")


def overhead(trials: int, concurrency: int, repeat: int, tries: int = 5) -> dict[str, Any]:
    from optuna.trial import TrialState

    from automl import data

    dataset = data.load_dataset("mnist", limit=600)
    # Random sampling on both sides: the comparison is of the record and the orchestration, not of samplers.
    space = _space(
        REPO / "tests" / "fixtures" / "tiny_synthetic.yaml",
        trials=trials,
        pruner="none",
        patience=100,
        sampler="random",
    )
    space = replace(space, params=tuple(replace(p, value=10) if p.name == "epochs" else p for p in space.params))
    runs: dict[str, list[float]] = {"backend": [], "plain": [], "plain_reuse": []}
    pauses = Pauses()

    def backend() -> float:
        seconds, study = run_backend(space, dataset, concurrency, None)
        complete = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))
        if complete != trials:  # a faster run that did less would be no measure
            raise RuntimeError(f"the backend completed {complete} trials of {trials}")
        return float(seconds)

    def reuse() -> float:
        return run_plain_tune(space, trials, concurrency, reuse=True)

    # Untimed, once: the first Tuner of a process imports and starts what every later one reuses.
    run_backend(space, dataset, concurrency, None)
    reuse()
    for round_ in range(1, repeat + 1):
        runs["plain"].append(
            _clean("plain Ray Tune", lambda: run_plain_tune(space, trials, concurrency, reuse=False), pauses, tries)
        )
        # A worker process per trial: let Ray end the idle ones before the next run is timed.
        time.sleep(SETTLE_S)
        # The two compared closely alternate which goes first, so neither always runs in the other's wake.
        pair = [("backend", backend), ("plain_reuse", reuse)]
        for key, run in pair if round_ % 2 else pair[::-1]:
            runs[key].append(_clean(key, run, pauses, tries))
        print(
            f"round {round_}: per trial, backend {runs['backend'][-1] / trials:.3f} s, plain Ray Tune "
            f"{runs['plain'][-1] / trials:.3f} s, reused actors {runs['plain_reuse'][-1] / trials:.3f} s",
            flush=True,
        )
    best = {key: min(seconds) for key, seconds in runs.items()}
    return {
        "trials": trials,
        "repeat": repeat,
        "backend_per_trial_s": best["backend"] / trials,
        "plain_tune_per_trial_s": best["plain"] / trials,
        "plain_tune_reuse_per_trial_s": best["plain_reuse"] / trials,
        "ratio_vs_plain": best["backend"] / best["plain"],
        "ratio_vs_plain_reuse": best["backend"] / best["plain_reuse"],
        "rounds_per_trial_s": {key: [round(s / trials, 3) for s in seconds] for key, seconds in runs.items()},
    }


def slot_share(seconds: float) -> dict[str, float]:
    from automl import data
    from automl.study.record import read_trial

    dataset = data.load_dataset("mnist")
    space = _space(REPO / "search_spaces" / "mnist_mlp.yaml", timeout=seconds, trials=None)
    wall, study = run_backend(space, dataset, 2, seconds)
    records = [read_trial(t) for t in study.get_trials(deepcopy=False)]
    training = sum(r.train_seconds or 0.0 for r in records)
    first = min(r.datetime_start for r in records if r.datetime_start)
    last = max(r.datetime_complete for r in records if r.datetime_complete)
    after_startup = (last - first).total_seconds()
    return {
        "trials": len(records),
        "finished": sum(r.state in ("COMPLETE", "PRUNED") for r in records),
        "wall_s": wall,
        "training_s": training,
        "share": training / (2 * wall),
        "share_after_startup": training / (2 * after_startup),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3, help="alternate the three runs this often; best of each")
    parser.add_argument("--tries", type=int, default=5, help="runs of each, at most, until one is not stopped")
    parser.add_argument("--mnist-seconds", type=float, default=180.0)
    parser.add_argument("--skip", choices=("overhead", "mnist"), action="append", default=[])
    args = parser.parse_args()
    import ray

    # One runtime for every run, so that no run pays Ray's start-up; the backend leaves a caller's session open.
    # address="local": a Ray of its own, even where a cluster runs on this machine (the test suite's)
    ray.init(
        address="local", num_cpus=os.cpu_count() or 1, include_dashboard=False, log_to_driver=False,
        logging_level="ERROR",
    )  # fmt: skip
    results: dict[str, Any] = {"cpus": os.cpu_count(), "ray": ray.__version__}
    if "overhead" not in args.skip:
        results["overhead"] = overhead(args.trials, args.concurrency, args.repeat, args.tries)
        print(json.dumps(results["overhead"], indent=2), flush=True)
    if "mnist" not in args.skip:
        ray.shutdown()  # the share counts Ray's start-up, as a search from the command line pays it
        results["mnist"] = slot_share(args.mnist_seconds)
        print(json.dumps(results["mnist"], indent=2), flush=True)
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
