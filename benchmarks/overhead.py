"""Per-trial overhead of automl's Optuna backend against raw Optuna doing the same work (goal: at most 1.2x).

Both run 200 trials of the ``synthetic`` family (10 epochs each, no sleep: the training itself costs microseconds,
so what is measured is coordination) on the same storage kind, one after the other, in this process:

* raw Optuna: ``study.optimize`` with ``TPESampler(multivariate=True, group=True, constant_liar=True)``,
  ``MedianPruner(n_startup_trials=8, n_warmup_steps=4)``, and per epoch one ``trial.report`` plus one
  ``set_user_attr("curves", ...)``, as automl writes them; the configuration sampled from the same space.
* automl: the same space through :func:`automl.job.pipeline.run_trials`, the code path of ``automl search`` and every
  worker, after the study is created: claims under the study lock, heartbeats, the trial record, the dashboard
  note of each trial. Data loading, the final stage and the report are not part of it.

    .venv/bin/python benchmarks/overhead.py [--trials 200] [--storage sqlite|postgresql|both] [--profile]
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
        self.trial.set_user_attr("curves", self.curves)
        self.trial.report(metrics["val_accuracy"], epoch)
        if self.trial.should_prune():
            raise optuna.TrialPruned


def raw_optuna(url: str, trials: int) -> float:
    family = Synthetic()
    study = optuna.create_study(
        study_name=f"raw-{uuid.uuid4().hex[:8]}",
        storage=url,
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=0, multivariate=True, group=True, constant_liar=True),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=8, n_warmup_steps=4),
    )

    def objective(trial: optuna.Trial) -> float:
        config = SPACE.sample(trial)
        outcome = family.train(
            config, None, _RawReporter(trial), metric="val_accuracy", direction="maximize", patience=100, seed=0
        )
        return outcome.value

    started = time.perf_counter()
    study.optimize(objective, n_trials=trials)
    return time.perf_counter() - started


def automl_backend(url: str, trials: int) -> float:
    from dataclasses import replace

    from automl.backends.base import Deadline
    from automl.backends.store import StudyStore
    from automl.data import load_dataset
    from automl.job import pipeline
    from automl.study.storage import FailurePolicy, open_storage

    dataset = load_dataset("mnist", limit=300)
    space = replace(SPACE, settings=replace(SPACE.settings, trials=trials))
    backend = pipeline.get_backend("optuna")
    context = StudyStore(open_storage(url)).open(
        f"automl-{uuid.uuid4().hex[:8]}", space, space.settings, seed=0,
        data_info=pipeline.data_info(dataset, seed=0, limit=300),
    )  # fmt: skip
    started = time.perf_counter()
    pipeline.run_trials(backend, context, dataset, seed=0, threads=None, deadline=Deadline(), policy=FailurePolicy())
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--storage", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--repeat", type=int, default=2, help="alternate raw and automl this often; best of each")
    parser.add_argument("--profile", action="store_true", help="print where automl's time goes (cProfile)")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    kinds = ["sqlite", "postgresql"] if args.storage == "both" else [args.storage]
    print(f"{date.today()} {platform.node()} {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"Optuna {optuna.__version__}; {args.trials} synthetic trials of 10 epochs")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        for kind in kinds:
            urls = (
                (f"sqlite:///{Path(tmp) / 'raw.db'}", f"sqlite:///{Path(tmp) / 'automl.db'}")
                if kind == "sqlite"
                else (POSTGRES, POSTGRES)
            )
            raws, oursl = [], []
            profiler = cProfile.Profile() if args.profile else None
            for _ in range(args.repeat):  # alternated, so a change of machine load hits both alike
                raws.append(raw_optuna(urls[0], args.trials))
                if profiler:
                    profiler.enable()
                oursl.append(automl_backend(urls[1], args.trials))
                if profiler:
                    profiler.disable()
            raw, ours = min(raws), min(oursl)
            listed = "; ".join(f"raw {r:.1f} s, automl {o:.1f} s" for r, o in zip(raws, oursl, strict=True))
            print(f"{kind:10s} runs: {listed}")
            print(
                f"{kind:10s} best: raw Optuna {raw:6.1f} s ({1000 * raw / args.trials:5.0f} ms/trial)   "
                f"automl {ours:6.1f} s ({1000 * ours / args.trials:5.0f} ms/trial)   ratio {ours / raw:.2f}"
            )
            if profiler:
                out = io.StringIO()
                pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(25)
                print(out.getvalue())


if __name__ == "__main__":
    main()
