"""Training throughput inside an automl trial against a plain ``model.fit`` of the same model on the same data.

The model is ``mnist_cnn``'s warm start, trained ``--epochs`` epochs on automl's MNIST split for seed 0 (offline:
3,200 training and 800 validation images), validated each epoch, at its batch size:

* plain: ``model.fit(x, y, validation_data=..., epochs=...)`` on the model the ``keras_cnn`` family builds;
* automl: one trial of a search over a space that fixes every parameter to the same values, run by
  ``pipeline.run_trials`` (the path of ``automl search``: the study lock's claim, heartbeats, per-epoch reports to
  Optuna and the pruner, the best epoch's weights kept, the trial record), timed from the trial's start to its end.

Runs alternate (plain, automl, ...) ``--repeat`` times; the best of each counts. Goal: automl's trial trains at
least 0.9 times as fast as the plain fit (plain seconds / automl seconds >= 0.9).

    PYTHONPATH=. .venv/bin/python benchmarks/peers/throughput.py [--epochs 5] [--repeat 2] [--limit N]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import mnist_common as common

sys.path.insert(0, str(common.REPO / "benchmarks"))


def fixed_space(epochs: int) -> Any:
    """``mnist_cnn`` with every parameter fixed to its warm start: one configuration, no pruning."""
    from automl.spaces import parse_space

    space = common.load_space()
    values = {p.name: p.value for p in space.params if p.value is not None}
    values.update(space.settings.warm_start[0])
    values["epochs"] = epochs
    params = {name: {"type": "fixed", "value": value} for name, value in values.items()}
    search = {"metric": "val_accuracy", "direction": "maximize", "sampler": "random", "pruner": "none"}
    search |= {"trials": 1, "patience": epochs}
    return parse_space({"model": "keras_cnn", "search": search, "params": params}, source="throughput.py")


def plain_fit(config: dict[str, Any], data: Any) -> float:
    import keras

    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    started = time.perf_counter()  # the build counts, as it does inside a trial
    model = common.build(config, data)
    model.fit(
        data.x_train, data.y_train, validation_data=(data.x_val, data.y_val), epochs=int(config["epochs"]),
        batch_size=int(config["batch_size"]), verbose=0,
    )  # fmt: skip
    return time.perf_counter() - started


def automl_trial(space: Any, data: Any, folder: Path, run: int) -> float:
    from overhead import _automl_run  # benchmarks/overhead.py: run_trials as automl search calls it

    from automl.backends.store import StudyStore
    from automl.job import pipeline
    from automl.study.storage import open_storage

    storage = open_storage(f"sqlite:///{folder / 'studies.db'}")
    context = StudyStore(storage).open(
        f"throughput-{run}", space, space.settings, seed=0, data_info=pipeline.data_info(data, seed=0, limit=None)
    )
    stamps: list[float] = []
    _automl_run(context, data, stamps)
    trial = context.study.trials[-1]
    return float((trial.datetime_complete - trial.datetime_start).total_seconds())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--limit", type=int, help="use only this many images (the quick run)")
    parser.add_argument("--out", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args()
    space = fixed_space(args.epochs)
    config = space.sample(None)  # every parameter is fixed: nothing is suggested
    data = common.load_data(0, args.limit)
    plain, ours = [], []
    with tempfile.TemporaryDirectory() as folder:
        for run in range(args.repeat):  # alternated, so a change of machine load hits both alike
            plain.append(plain_fit(config, data))
            ours.append(automl_trial(space, data, Path(folder), run))
    ratio = min(plain) / min(ours)
    print(f"plain fit {min(plain):.1f} s, automl trial {min(ours):.1f} s for {args.epochs} epochs "
          f"(runs: plain {[round(p, 1) for p in plain]}, automl {[round(o, 1) for o in ours]}); "
          f"throughput ratio {ratio:.2f} (goal >= 0.9)")  # fmt: skip
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        figures = {"epochs": args.epochs, "plain": plain, "automl": ours, "ratio": ratio}
        args.out.write_text(json.dumps(figures, indent=1) + "\n")


if __name__ == "__main__":
    main()
