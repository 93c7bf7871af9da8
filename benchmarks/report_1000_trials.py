"""How long the full report takes for a 1,000-trial study with per-epoch curves (goal: under 30 s).

The study is synthetic but shaped like a real one: configurations sampled from search_spaces/mnist_mlp.yaml,
trials early-stopped by epoch 30 of the space's 40-epoch maximum, pruned trials, curves that overfit, underfit,
fit well or diverge, and a few failed trials. It is written into a temporary SQLite storage with ``add_trials``
(seconds, no training), loaded back the way ``automl report`` loads it, and ``write_report`` is timed end to end
(reading the trials, diagnostics, fANOVA importances, five figures, HTML, Markdown, CSV).

    .venv/bin/python benchmarks/report_1000_trials.py [--trials 1000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import math
import random
import shutil
import tempfile
import time
from pathlib import Path

import optuna
from optuna.trial import TrialState

from automl.reports import load_study, write_report
from automl.spaces import load_space

BUDGET = 30  # longest synthetic run; the space allows 40 epochs, so the report counts 10+ saved per trial


def synthetic_curves(kind: str, epochs: int, rng: random.Random) -> dict[str, list[float]]:
    """Keras-like curves of one of four shapes, with per-epoch noise."""
    loss, acc, val_loss, val_acc = [], [], [], []
    turn = rng.randint(4, 9)
    for e in range(epochs):
        if kind == "overfit":
            tl = 0.5 * math.exp(-0.35 * e)
            vl = 0.25 + 0.02 * (e - turn) ** 2 / turn if e > turn else 0.5 * math.exp(-0.2 * e) + 0.1
            ta, va = 1 - tl / 4, 0.97 - 0.004 * max(0, e - turn)
        elif kind == "underfit":
            tl = 2.0 - 0.03 * e
            vl = tl + 0.02
            ta, va = 0.35 + 0.01 * e, 0.34 + 0.01 * e
        elif kind == "diverge":
            tl = 0.6 + (0.5 * (e - 3) if e > 3 else -0.1 * e)
            vl = tl + 0.05
            ta, va = max(0.1, 0.8 - 0.05 * max(0, e - 3)), max(0.1, 0.78 - 0.05 * max(0, e - 3))
        else:
            tl = 0.4 * math.exp(-0.2 * e) + 0.05
            vl = 0.35 * math.exp(-0.18 * e) + 0.08
            ta, va = 0.9 + 0.08 * (1 - math.exp(-0.3 * e)), 0.9 + 0.07 * (1 - math.exp(-0.3 * e))
        noise = rng.gauss(0, 0.003)
        loss.append(tl * (1 + noise))
        val_loss.append(vl * (1 + rng.gauss(0, 0.01)))
        acc.append(min(1.0, ta + noise))
        val_acc.append(min(1.0, va + rng.gauss(0, 0.003)))
    return {"loss": loss, "accuracy": acc, "val_loss": val_loss, "val_accuracy": val_acc}


def build_study(url: str, name: str, n_trials: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    space = load_space("mnist_mlp")
    study = optuna.create_study(study_name=name, storage=url, direction="maximize")
    study.set_user_attr("space", space.to_dict())
    study.set_user_attr("settings", space.settings.to_dict())
    # Sample real configurations (conditional parameters included) through Optuna's own random sampler.
    sampler_study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed), direction="maximize")
    trials = []
    for _ in range(n_trials):
        asked = sampler_study.ask()
        config = space.sample(asked)
        sampler_study.tell(asked, 0.0)
        kind = rng.choices(["good", "overfit", "underfit", "diverge"], [0.45, 0.3, 0.15, 0.1])[0]
        state = rng.choices([TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL], [0.6, 0.37, 0.03])[0]
        epochs = rng.randint(2, 8) if state != TrialState.COMPLETE else rng.randint(8, BUDGET)
        curves = synthetic_curves(kind, epochs, rng)
        attrs: dict[str, object] = {"config": config, "curves": curves, "n_params": rng.randint(25_000, 2_000_000)}
        value = None
        if state == TrialState.COMPLETE:
            best = max(range(epochs), key=lambda i: curves["val_accuracy"][i])
            value = curves["val_accuracy"][best]
            attrs |= {"best_epoch": best + 1, "epochs_trained": epochs, "train_seconds": rng.uniform(5, 90)}
        elif state == TrialState.PRUNED:
            attrs["pruned_at_epoch"] = epochs
        else:
            attrs["fail_reason"] = f"loss became nan at epoch {epochs + 1}; training diverged"
        trials.append(
            optuna.trial.create_trial(
                state=state,
                value=value,
                params=asked.params,
                distributions=asked.distributions,
                user_attrs=attrs,
                intermediate_values={i + 1: v for i, v in enumerate(curves["val_accuracy"])},
            )
        )
    study.add_trials(trials)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--keep", help="copy the report into this folder to look at it")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        started = time.perf_counter()
        build_study(url, "bench", args.trials)
        built = time.perf_counter() - started

        started = time.perf_counter()
        study = load_study("bench", url)
        files = write_report(study, Path(tmp) / "report", top_k=5, storage=url)
        elapsed = time.perf_counter() - started

        sizes = {p.name: p.stat().st_size for p in Path(files.directory).iterdir()}
        print(f"built a {args.trials}-trial study in {built:.1f} s (not timed)")
        print(f"load_study + write_report: {elapsed:.1f} s  (goal < 30 s)")
        print(f"files: {', '.join(f'{k} {v / 1024:.0f} KiB' for k, v in sorted(sizes.items()))}")
        print(f"diagnoses: {files.data.summary.counts}")
        if args.keep:
            shutil.copytree(files.directory, args.keep, dirs_exist_ok=True)


if __name__ == "__main__":
    main()
