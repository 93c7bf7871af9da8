"""Tables: ``automl search FILE --target`` at its defaults against FLAML (``AutoML().fit(time_budget=...)``, its
defaults) and AutoGluon (``TabularPredictor(...).fit(time_limit=...)``, its default preset), on one seeded 75/25
split per table and seed. Every method sees only the 75% (automl as a CSV file, the way its users give a table; it
splits off its own validation and held-out rows inside it) and is scored once on the 25%: accuracy for
classification, RMSE for regression, computed here from each method's predictions.

Tables: scikit-learn's ``breast_cancer``, ``wine``, ``digits`` (classification) and ``diabetes`` (regression), and
two public tables with missing values and text columns, from packages in the ``bench`` extra: ``penguins`` (Palmer
penguins, classification of ``species``; ``palmerpenguins``) and ``cars`` (the StatLib cars table, regression of
``Miles_per_Gallon``; ``vega_datasets``).

    .venv/bin/python benchmarks/peers/tables.py --method flaml --table wine --seed 0 --budget 60 --out r.json
"""

from __future__ import annotations

import time

STARTED = time.monotonic()  # the wall time covers the imports, as a user's job would

import argparse  # noqa: E402
import json  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import mnist_common  # noqa: E402  (this checkout on sys.path, AUTOML_OFFLINE, as for the MNIST methods)

TABLES = ("breast_cancer", "wine", "digits", "diabetes", "penguins", "cars")
METHODS = ("automl", "flaml", "autogluon")
TARGET = "target"


def load_table(name: str) -> tuple[Any, str]:
    """The whole table as a DataFrame with its target in column ``target``, and its task."""
    if name == "penguins":
        from palmerpenguins import load_penguins

        return load_penguins().rename(columns={"species": TARGET}), "classification"
    if name == "cars":
        from vega_datasets import data

        frame = data.cars().rename(columns={"Miles_per_Gallon": TARGET}).dropna(subset=[TARGET])
        frame["Year"] = frame["Year"].dt.year.astype(str)  # a text column, as the CSV has it
        return frame.reset_index(drop=True), "regression"
    import sklearn.datasets

    bunch = getattr(sklearn.datasets, f"load_{name}")(as_frame=True)
    frame = bunch.frame.rename(columns={bunch.target.name: TARGET})
    return frame, "regression" if name == "diabetes" else "classification"


def split(name: str, seed: int) -> tuple[Any, Any, str]:
    """The seeded 75/25 split every method gets (stratified for classification)."""
    from sklearn.model_selection import train_test_split

    frame, task = load_table(name)
    stratify = frame[TARGET] if task == "classification" else None
    train, test = train_test_split(frame, test_size=0.25, random_state=seed, stratify=stratify)
    return train.reset_index(drop=True), test.reset_index(drop=True), task


def score(task: str, truth: Any, predicted: Any) -> float:
    """Accuracy (classification, labels compared as text) or RMSE (regression)."""
    import numpy as np

    if task == "classification":
        return float(np.mean(np.asarray(truth).astype(str) == np.asarray(predicted).astype(str)))
    return float(np.sqrt(np.mean((np.asarray(truth, dtype=float) - np.asarray(predicted, dtype=float)) ** 2)))


def run_automl(train: Any, test: Any, task: str, budget: float, seed: int, folder: Path) -> dict[str, Any]:
    import automl_run

    from automl.serve import load_model

    path = folder / "train.csv"
    train.to_csv(path, index=False)
    study, _ = automl_run.search(str(path), ["--target", TARGET], folder, budget, seed)
    model = load_model("bench", f"sqlite:///{folder / 'studies.db'}")
    predicted = model.predict(test.drop(columns=[TARGET])).iloc[:, 0]
    final = study.user_attrs.get("final") or {}
    chosen = (final.get("config") or {}).get("model", "?")
    ensemble = (final.get("final_stage") or {}).get("ensemble") or {}
    if ensemble.get("chosen") == "ensemble":  # the final stage's ensemble selection kept several models
        chosen = "ensemble of " + "+".join(m["family"] for m in ensemble["members"])
    return {"predicted": predicted, "model": str(chosen), "trials": len(study.trials)}


def run_flaml(train: Any, test: Any, task: str, budget: float, seed: int, folder: Path) -> dict[str, Any]:
    from flaml import AutoML

    automl = AutoML()
    automl.fit(train.drop(columns=[TARGET]), train[TARGET], task=task, time_budget=budget, seed=seed, verbose=0)
    predicted = automl.predict(test.drop(columns=[TARGET]))
    trials = len(getattr(automl, "config_history", {}) or {})
    return {"predicted": predicted, "model": str(automl.best_estimator), "trials": trials}


def run_autogluon(train: Any, test: Any, task: str, budget: float, seed: int, folder: Path) -> dict[str, Any]:
    from autogluon.tabular import TabularPredictor

    problem = "regression" if task == "regression" else None  # None: AutoGluon infers binary or multiclass
    predictor = TabularPredictor(label=TARGET, problem_type=problem, path=str(folder / "ag"), verbosity=0)
    predictor.fit(train, time_limit=budget)  # no seed argument: its models seed themselves; the split varies
    predicted = predictor.predict(test.drop(columns=[TARGET]))
    return {"predicted": predicted, "model": str(predictor.model_best), "trials": len(predictor.model_names())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--method", choices=METHODS, required=True)
    parser.add_argument("--table", choices=TABLES, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--budget", type=float, default=60.0, help="the method's time budget, seconds")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    train, test, task = split(args.table, args.seed)
    runner = {"automl": run_automl, "flaml": run_flaml, "autogluon": run_autogluon}[args.method]
    with tempfile.TemporaryDirectory() as folder:
        ran = runner(train, test, task, args.budget, args.seed, Path(folder))
    result = {
        "method": args.method, "table": args.table, "seed": args.seed, "budget": args.budget, "task": task,
        "metric": "accuracy" if task == "classification" else "rmse",
        "test": score(task, test[TARGET], ran["predicted"]), "model": ran["model"], "trials": ran["trials"],
        "rows": [len(train), len(test)], "wall": time.monotonic() - STARTED,
        "machine": mnist_common.machine(), "matmul_gflops": mnist_common.matmul_gflops(),
    }  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
