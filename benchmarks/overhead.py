"""Per-trial overhead of automl's Optuna backend against raw Optuna doing the same work (goal: at most 1.2x).

Both run trials of the ``synthetic`` family (10 epochs each, no sleep: the training itself costs microseconds,
so what is measured is coordination) on the same storage kind, in this process:

* raw Optuna: ``study.optimize`` with ``TPESampler(multivariate=True, group=True, constant_liar=True)``,
  ``MedianPruner(n_startup_trials=8, n_warmup_steps=4)``, per epoch one ``trial.report``, and the two attributes
  automl's reports need, the configuration (as sampled) and the curves (once, at the trial's end), with
  ``set_user_attr``; the configuration sampled from the same space.
* automl: the same space through :func:`automl.job.pipeline.run_trials`, the code path of ``automl search`` and every
  worker, after the study is created: claims under the study lock, heartbeats, the trial record, the dashboard
  note of each trial. Data loading, the final stage and the report are not part of it.

Three measurements, each a ratio measured in one run:

1. ``--trials`` (200) trials on each ``--storage`` (in-memory, SQLite, PostgreSQL), raw and automl alternated
   ``--repeat`` times, best of each, with the time per trial around trial 1, the middle and the last (50-trial
   windows of the best runs): TPE and the median pruner read the other trials, so both sides grow.
2. ``--scale N`` (5000): N trials on PostgreSQL, raw then automl, random sampling on both sides (TPE's own cost
   grows with the trials, the same on both sides, and would make the run hours long); the time per trial around
   trial 1, 1,000 and N (means over 50-trial windows), to show whether a cost grows with the trials.
3. ``--workers 1 2 4 8``: that many processes on one PostgreSQL study of ``--worker-trials`` (200) trials (TPE as in
   1.), raw Optuna's processes stopping at the budget with ``MaxTrialsCallback``; wall time from the moment all are
   ready / trials, and whether the study ends with exactly its budget.

    .venv/bin/python benchmarks/overhead.py [--trials 200] [--storage memory|sqlite|postgresql|both|all] [--profile]
        [--scale 5000] [--workers 1 2 4 8]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import platform
import pstats
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path
from typing import Any

os.environ.setdefault("AUTOML_OFFLINE", "1")

import optuna  # noqa: E402

from automl.models.synthetic import Synthetic  # noqa: E402
from automl.spaces import parse_space  # noqa: E402

POSTGRES = os.environ.get("AUTOML_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
SPACE = parse_space(
    {
        "model": "synthetic",
        "search": {"sampler": "tpe", "pruner": "median", "patience": 100},
        "params": {
            "n_layers": {"type": "int", "low": 1, "high": 3},
            "units_1": {"type": "int", "low": 32, "high": 1024, "log": True},
            "units_2": {"type": "int", "low": 32, "high": 1024, "log": True, "when": "n_layers >= 2"},
            "units_3": {"type": "int", "low": 32, "high": 1024, "log": True, "when": "n_layers >= 3"},
            "optimizer": {"type": "categorical", "choices": ["adam", "sgd", "rmsprop", "adagrad"]},
            "learning_rate": {"type": "float", "low": 1e-4, "high": 0.3, "log": True},
            "momentum": {"type": "float", "low": 0.0, "high": 0.99, "when": "optimizer == sgd"},
            "dropout": {"type": "float", "low": 0.0, "high": 0.6, "step": 0.05},
            "epochs": {"type": "fixed", "value": 10},
        },
    },
    source="benchmarks/overhead.py",
)


class _RawReporter:
    def __init__(self, trial: optuna.Trial) -> None:
        self.trial = trial
        self.curves: dict[str, list[float]] = {}

    def report(self, epoch: int, metrics: dict[str, float]) -> None:
        for key, value in metrics.items():
            self.curves.setdefault(key, []).append(value)
        self.trial.report(metrics["val_accuracy"], epoch)
        if self.trial.should_prune():
            self.trial.set_user_attr("curves", self.curves)
            raise optuna.TrialPruned


def _raw_sampler(random: bool) -> optuna.samplers.BaseSampler:
    if random:
        return optuna.samplers.RandomSampler(seed=0)
    return optuna.samplers.TPESampler(seed=0, multivariate=True, group=True, constant_liar=True)


def _raw_objective() -> Any:
    family = Synthetic()

    def objective(trial: optuna.Trial) -> float:
        config = SPACE.sample(trial)
        trial.set_user_attr("config", config)
        outcome = family.train(
            config, None, _RawReporter(trial), metric="val_accuracy", direction="maximize", patience=100, seed=0
        )
        trial.set_user_attr("curves", outcome.history)
        return outcome.value

    return objective


def _raw_study(url: Storage, name: str, random: bool = False) -> optuna.Study:
    return optuna.create_study(
        study_name=name, storage=url, direction="maximize", sampler=_raw_sampler(random),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=8, n_warmup_steps=4), load_if_exists=True,
    )  # fmt: skip


Storage = str | optuna.storages.BaseStorage  # a URL, or an in-memory storage object (which has none)


def raw_optuna(url: Storage, trials: int, random: bool = False, stamps: list[float] | None = None) -> float:
    study = _raw_study(url, f"raw-{uuid.uuid4().hex[:8]}", random)
    callbacks = [lambda _study, _trial: stamps.append(time.perf_counter())] if stamps is not None else []
    started = time.perf_counter()
    if stamps is not None:  # the start, then one stamp per finished trial
        stamps.append(started)
    study.optimize(_raw_objective(), n_trials=trials, callbacks=callbacks)
    return time.perf_counter() - started


def _automl_space(trials: int, random: bool) -> Any:
    from dataclasses import replace

    settings = replace(SPACE.settings, trials=trials, **({"sampler": "random"} if random else {}))
    return replace(SPACE, settings=settings)


def _automl_open(url: Storage, name: str, trials: int, random: bool) -> tuple[Any, Any]:
    from automl.backends.store import StudyStore
    from automl.data import load_dataset
    from automl.job import pipeline
    from automl.study.storage import open_storage

    dataset = load_dataset("mnist", limit=300)
    space = _automl_space(trials, random)
    storage = open_storage(url) if isinstance(url, str) else url
    context = StudyStore(storage).open(
        name, space, space.settings, seed=0, data_info=pipeline.data_info(dataset, seed=0, limit=300)
    )
    return context, dataset


def _automl_run(context: Any, dataset: Any, stamps: list[float] | None = None) -> None:
    from automl.backends.base import Deadline
    from automl.backends.callbacks import SearchCallback
    from automl.job import pipeline
    from automl.study.storage import FailurePolicy

    class Stamps(SearchCallback):
        def on_trial_end(self, study: Any, trial: Any) -> None:
            if stamps is not None:
                stamps.append(time.perf_counter())

    backend = pipeline.get_backend("optuna")
    pipeline.run_trials(
        backend, context, dataset, seed=0, threads=None, deadline=Deadline(), policy=FailurePolicy(),
        callbacks=[Stamps()],
    )  # fmt: skip


def automl_backend(url: Storage, trials: int, random: bool = False, stamps: list[float] | None = None) -> float:
    context, dataset = _automl_open(url, f"automl-{uuid.uuid4().hex[:8]}", trials, random)
    started = time.perf_counter()
    if stamps is not None:  # the start (after the study is open and the data loaded), then one per finished trial
        stamps.append(started)
    _automl_run(context, dataset, stamps)
    return time.perf_counter() - started


# --------------------------------------------------------------------------------------------------------------
# Scale: the time per trial along one long study


def _windows(started: float, stamps: list[float], trials: int, width: int = 50, middle: int = 1000) -> dict[int, float]:
    """Mean ms per trial over the ``width`` trials ending at trial ``width``, around ``middle``, and the last."""
    times = [started, *stamps]
    marks = {1: width, middle: min(middle + width // 2, trials), trials: trials}
    return {at: 1000 * (times[end] - times[end - width]) / width for at, end in marks.items() if end >= width}


def scale(url: str, trials: int) -> None:
    raw_stamps: list[float] = []
    raw_s = raw_optuna(url, trials, random=True, stamps=raw_stamps)
    raw = _windows(raw_stamps[0], raw_stamps[1:], trials)
    our_stamps: list[float] = []
    ours_s = automl_backend(url, trials, random=True, stamps=our_stamps)
    ours = _windows(our_stamps[0], our_stamps[1:], trials)
    print(f"scale      {trials} trials on PostgreSQL, random sampling: raw {raw_s:.1f} s, automl {ours_s:.1f} s")
    for at in raw:
        print(f"scale      around trial {at:5d}: raw {raw[at]:6.1f} ms/trial   automl {ours[at]:6.1f} ms/trial   "
              f"ratio {ours[at] / raw[at]:.2f}")  # fmt: skip


# --------------------------------------------------------------------------------------------------------------
# Workers: N processes on one PostgreSQL study


def _raw_worker(url: str, name: str, budget: int, barrier: Any) -> None:
    from optuna.study import MaxTrialsCallback
    from optuna.trial import TrialState

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = _raw_study(url, name)
    barrier.wait()
    stop = MaxTrialsCallback(budget, states=(TrialState.COMPLETE, TrialState.PRUNED))
    study.optimize(_raw_objective(), n_trials=budget, callbacks=[stop])


def _automl_worker(url: str, name: str, budget: int, barrier: Any) -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    context, dataset = _automl_open(url, name, budget, random=False)
    barrier.wait()
    _automl_run(context, dataset)


def _run_workers(target: Any, url: str, name: str, budget: int, n: int) -> float:
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(n + 1)
    procs = [ctx.Process(target=target, args=(url, name, budget, barrier)) for _ in range(n)]
    for proc in procs:
        proc.start()
    barrier.wait(timeout=600)  # every worker has imported, opened the storage and loaded its data
    started = time.perf_counter()
    for proc in procs:
        proc.join()
    if any(proc.exitcode != 0 for proc in procs):
        raise SystemExit(f"a worker failed: exit codes {[proc.exitcode for proc in procs]}")
    return time.perf_counter() - started


def _finished(url: str, name: str) -> tuple[int, int]:
    from optuna.trial import TrialState

    study = optuna.load_study(study_name=name, storage=url)
    trials = study.get_trials(deepcopy=False)
    return sum(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials), len(trials)


def workers(url: str, counts: list[int], budget: int) -> None:
    for n in counts:
        raw_name = f"raw-w{n}-{uuid.uuid4().hex[:8]}"
        _raw_study(url, raw_name)
        raw_s = _run_workers(_raw_worker, url, raw_name, budget, n)
        our_name = f"automl-w{n}-{uuid.uuid4().hex[:8]}"
        _automl_open(url, our_name, budget, random=False)
        ours_s = _run_workers(_automl_worker, url, our_name, budget, n)
        raw_done, raw_all = _finished(url, raw_name)
        our_done, our_all = _finished(url, our_name)
        print(f"workers    {n} x PostgreSQL, {budget} trials: raw {1000 * raw_s / budget:6.1f} ms/trial "
              f"({raw_done} finished of {raw_all})   automl {1000 * ours_s / budget:6.1f} ms/trial "
              f"({our_done} finished of {our_all})   ratio {ours_s / raw_s:.2f}", flush=True)  # fmt: skip


def _timed(run: Any, url: Any, trials: int, stamps: list[float]) -> float:
    """One run, its start and a time stamp per finished trial in ``stamps``; ``url`` None: a fresh in-memory
    storage."""
    return float(run(url if url is not None else optuna.storages.InMemoryStorage(), trials, stamps=stamps))


def _print_growth(kind: str, trials: int, raw_stamps: list[float], our_stamps: list[float]) -> None:
    raw = _windows(raw_stamps[0], raw_stamps[1:], trials, middle=trials // 2)
    ours = _windows(our_stamps[0], our_stamps[1:], trials, middle=trials // 2)
    for at in raw:
        print(f"{kind:10s} around trial {at:5d}: raw {raw[at]:6.1f} ms/trial   automl {ours[at]:6.1f} ms/trial   "
              f"ratio {ours[at] / raw[at]:.2f}")  # fmt: skip


class Stalls:
    """The longest pause this process saw (a thread that wakes every 0.5 s): a run that was stopped midway
    (SIGSTOP by another job's benchmark) shows a pause of seconds, and its figures are void."""

    def __init__(self) -> None:
        import threading

        self.longest = 0.0
        threading.Thread(target=self._watch, daemon=True).start()

    def _watch(self) -> None:
        last = time.monotonic()
        while True:
            time.sleep(0.5)
            now = time.monotonic()
            self.longest = max(self.longest, now - last - 0.5)
            last = now

    def check(self, what: str) -> None:
        verdict = "VOID, the process was stopped" if self.longest > 3 else "ok"
        print(f"{what}: longest pause {self.longest:.1f} s ({verdict})", flush=True)
        self.longest = 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--storage", choices=["memory", "sqlite", "postgresql", "both", "all"], default="both")
    parser.add_argument("--repeat", type=int, default=2, help="alternate raw and automl this often; best of each")
    parser.add_argument("--profile", action="store_true", help="print where automl's time goes (cProfile)")
    parser.add_argument("--scale", type=int, default=0, help="also a study this long on PostgreSQL (e.g. 5000)")
    parser.add_argument("--workers", type=int, nargs="*", default=[], help="also N workers on one PostgreSQL study")
    parser.add_argument("--worker-trials", type=int, default=200)
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    groups = {"both": ["sqlite", "postgresql"], "all": ["memory", "sqlite", "postgresql"]}
    kinds = groups.get(args.storage, [args.storage])
    stalls = Stalls()
    print(f"{date.today()} {platform.node()} {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"Optuna {optuna.__version__}; {args.trials} synthetic trials of 10 epochs", flush=True)  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        for kind in kinds:
            urls: tuple[Any, Any] = {
                "sqlite": (f"sqlite:///{Path(tmp) / 'raw.db'}", f"sqlite:///{Path(tmp) / 'automl.db'}"),
                "postgresql": (POSTGRES, POSTGRES),
            }.get(kind, (None, None))
            raws, oursl = [], []
            raw_stamps: list[list[float]] = []
            our_stamps: list[list[float]] = []
            profiler = cProfile.Profile() if args.profile else None
            for _ in range(args.repeat):  # alternated, so a change of machine load hits both alike
                raw_stamps.append([])
                raws.append(_timed(raw_optuna, urls[0], args.trials, raw_stamps[-1]))
                if profiler:
                    profiler.enable()
                our_stamps.append([])
                oursl.append(_timed(automl_backend, urls[1], args.trials, our_stamps[-1]))
                if profiler:
                    profiler.disable()
            raw, ours = min(raws), min(oursl)
            if args.trials >= 100:
                _print_growth(kind, args.trials, raw_stamps[raws.index(raw)], our_stamps[oursl.index(ours)])
            listed = "; ".join(f"raw {r:.1f} s, automl {o:.1f} s" for r, o in zip(raws, oursl, strict=True))
            print(f"{kind:10s} runs: {listed}")
            print(
                f"{kind:10s} best: raw Optuna {raw:6.1f} s ({1000 * raw / args.trials:5.0f} ms/trial)   "
                f"automl {ours:6.1f} s ({1000 * ours / args.trials:5.0f} ms/trial)   ratio {ours / raw:.2f}",
                flush=True,
            )
            stalls.check(kind)
            if profiler:
                out = io.StringIO()
                pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(25)
                print(out.getvalue())
    if args.workers:
        workers(POSTGRES, args.workers, args.worker_trials)
        stalls.check("workers")
    if args.scale:
        scale(POSTGRES, args.scale)
        stalls.check("scale")


if __name__ == "__main__":
    main()
