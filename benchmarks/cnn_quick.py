"""Measure one ``keras_cnn`` configuration the way the product's search and final stage would use it.

1. Train on the automl split's train part, validate each epoch, stop early (patience) and keep the best epoch.
2. Retrain from scratch on train+validation for that many epochs with ``--members`` seeds.
3. Score each member and the average of their probabilities on the 1,000 held-out test images.

Run pinned to one core (what ``benchmarks/cnn_experiments.md`` reports)::

    AUTOML_OFFLINE=1 OMP_NUM_THREADS=1 PYTHONPATH=. taskset -c 1 .venv/bin/python benchmarks/cnn_quick.py \
        --preset best --data-seeds 0

Prints one JSON line per data seed.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import numpy as np

PRESETS: dict[str, dict[str, Any]] = {
    # The best configuration measured (benchmarks/cnn_experiments.md).
    "best": {
        "n_blocks": 2, "filters_1": 32, "filters_2": 64, "kernel_size": 3, "pooling": "max", "batch_norm": True,
        "dropout": 0.25, "dense_units": 128, "head_dropout": 0.3, "activation": "relu", "optimizer": "adam",
        "learning_rate": 0.001, "l2": 0.0, "batch_size": 64, "epochs": 30,
        "shift": 0.1, "rotation": 0.05, "zoom": 0.1,
    },
}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="best", choices=sorted(PRESETS))
    parser.add_argument("--config", help="JSON object merged over the preset")
    parser.add_argument("--data-seeds", default="0", help="comma-separated load_dataset seeds")
    parser.add_argument("--members", type=int, default=3, help="retraining seeds averaged (0: skip retraining)")
    parser.add_argument("--patience", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="TensorFlow intra/inter-op threads")
    parser.add_argument("--verbose", action="store_true", help="print each epoch to stderr")
    args = parser.parse_args()

    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)

    config = dict(PRESETS[args.preset])
    if args.config:
        config.update(json.loads(args.config))
    for data_seed in (int(s) for s in args.data_seeds.split(",")):
        print(json.dumps(run(config, data_seed, args.members, args.patience, args.verbose)), flush=True)


def run(config: dict[str, Any], data_seed: int, members: int, patience: int, verbose: bool = False) -> dict[str, Any]:
    import keras

    from automl.data import load_dataset
    from automl.models import keras_cnn

    data = load_dataset("mnist", seed=data_seed)
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    model = keras_cnn.build(config, data.input_dim, data.n_classes)
    started = time.perf_counter()
    history = model.fit(
        data.x_train,
        data.y_train,
        validation_data=(data.x_val, data.y_val),
        epochs=int(config.get("epochs", 30)),
        batch_size=int(config.get("batch_size", 64)),
        verbose=0,
        callbacks=[
            keras.callbacks.EarlyStopping(
                monitor="val_accuracy", mode="max", patience=patience, restore_best_weights=True
            ),
            *([_Progress()] if verbose else []),
        ],
    ).history
    search_seconds = time.perf_counter() - started
    val = history["val_accuracy"]
    best_epoch = int(np.argmax(val)) + 1
    result: dict[str, Any] = {
        "data_seed": data_seed,
        "config": config,
        "params": int(model.count_params()),
        "epochs_trained": len(val),
        "best_epoch": best_epoch,
        "val_accuracy": round(float(val[best_epoch - 1]), 4),
        "search_seconds": round(search_seconds, 1),
        "seconds_per_epoch": round(search_seconds / len(val), 2),  # includes the per-epoch validation pass
        "search_model_test_accuracy": round(_accuracy(model.predict(data.x_test, verbose=0), data.y_test), 4),
    }
    if members < 1:
        return result

    x_all = np.concatenate([data.x_train, data.x_val])
    y_all = np.concatenate([data.y_train, data.y_val])
    probabilities, singles = [], []
    started = time.perf_counter()
    for seed in range(members):
        keras.backend.clear_session()
        keras.utils.set_random_seed(seed)
        member = keras_cnn.build(config, data.input_dim, data.n_classes)
        member.fit(x_all, y_all, epochs=best_epoch, batch_size=int(config.get("batch_size", 64)), verbose=0)
        p = member.predict(data.x_test, batch_size=1024, verbose=0)
        probabilities.append(p)
        singles.append(round(_accuracy(p, data.y_test), 4))
    result.update(
        final_seconds=round(time.perf_counter() - started, 1),
        member_test_accuracy=singles,
        average_test_accuracy=round(_accuracy(np.mean(probabilities, axis=0), data.y_test), 4),
    )
    return result


def _Progress() -> Any:  # noqa: N802 - a class factory, so keras is imported lazily
    import sys

    import keras

    class Progress(keras.callbacks.Callback):
        def on_train_begin(self, logs: dict[str, float] | None = None) -> None:
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
            logs = logs or {}
            print(
                f"epoch {epoch + 1}: {time.perf_counter() - self.started:.1f} s "
                f"acc {logs.get('accuracy', 0):.4f} val_acc {logs.get('val_accuracy', 0):.4f}",
                file=sys.stderr,
                flush=True,
            )

    return Progress()


def _accuracy(probabilities: np.ndarray, y: np.ndarray) -> float:
    return float((np.asarray(probabilities).argmax(axis=1) == y).mean())


if __name__ == "__main__":
    main()
