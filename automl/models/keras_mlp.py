"""A Keras multilayer perceptron built from a sampled configuration.

Configuration keys (see ``search_spaces/mnist_mlp.yaml``): n_layers, units_<i>, activation, optimizer,
learning_rate, momentum (sgd only), l2, dropout, batch_norm, batch_size, epochs, and the optional image
augmentation fractions shift, rotation and zoom (absent or 0: none).
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any

import numpy as np

from automl.errors import TrialFailed
from automl.models.base import NullReporter, Reporter, TrialOutcome

if TYPE_CHECKING:
    import keras

# The tutorial's model: the bar every search must beat.
TUTORIAL_BASELINE: dict[str, Any] = {
    "n_layers": 1,
    "units_1": 64,
    "activation": "relu",
    "optimizer": "adam",
    "learning_rate": 0.001,
    "l2": 0.0,
    "dropout": 0.0,
    "batch_norm": False,
    "batch_size": 64,
    "epochs": 10,
}

_threads_configured = False


def configure_threads(threads: int | None) -> None:
    """Size TensorFlow's pools once per process, before its runtime starts, so parallel workers share cores."""
    global _threads_configured
    if _threads_configured or not threads:
        return
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(max(1, min(2, threads)))
    except RuntimeError:  # the runtime already started; keep its pools
        pass
    _threads_configured = True


def build(config: dict[str, Any], input_dim: int, n_classes: int) -> keras.Model:
    import keras

    l2 = float(config.get("l2") or 0.0)
    regularizer = keras.regularizers.L2(l2) if l2 > 0 else None
    dropout = float(config.get("dropout") or 0.0)
    layers: list[Any] = [keras.Input((input_dim,)), *_augmentation(config, input_dim)]
    for i in range(1, int(config["n_layers"]) + 1):
        units = int(config[f"units_{i}"])
        if config.get("batch_norm"):
            # Normalise before the nonlinearity; the Dense bias is redundant with BatchNorm's shift.
            layers += [
                keras.layers.Dense(units, use_bias=False, kernel_regularizer=regularizer),
                keras.layers.BatchNormalization(),
                keras.layers.Activation(config["activation"]),
            ]
        else:
            layers.append(keras.layers.Dense(units, activation=config["activation"], kernel_regularizer=regularizer))
        if dropout > 0:
            layers.append(keras.layers.Dropout(dropout))
    layers.append(keras.layers.Dense(n_classes, activation="softmax", kernel_regularizer=regularizer))
    model = keras.Sequential(layers)
    model.compile(
        optimizer=_optimizer(config),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def _augmentation(config: dict[str, Any], input_dim: int) -> list[Any]:
    """Random shifts, rotations and zooms of the images, active only while training.

    On 4,000 MNIST images this is worth more than any architecture choice (+1.5 points measured for a
    1024-unit MLP), because it attacks the real problem: too little data, so the network memorises pixels.
    """
    import keras

    shift, rotation, zoom = (float(config.get(k) or 0.0) for k in ("shift", "rotation", "zoom"))
    if not (shift or rotation or zoom):
        return []
    side = int(round(math.sqrt(input_dim)))
    if side * side != input_dim:
        raise TrialFailed(
            f"augmentation needs square images, but inputs have {input_dim} features; set shift, rotation and zoom to 0"
        )
    layers: list[Any] = [keras.layers.Reshape((side, side, 1))]
    if shift:
        layers.append(keras.layers.RandomTranslation(shift, shift, fill_mode="constant"))
    if rotation:
        layers.append(keras.layers.RandomRotation(rotation, fill_mode="constant"))
    if zoom:
        layers.append(keras.layers.RandomZoom(zoom, fill_mode="constant"))
    layers.append(keras.layers.Flatten())
    return layers


def _optimizer(config: dict[str, Any]) -> Any:
    import keras

    name, lr = config["optimizer"], float(config["learning_rate"])
    if name == "sgd":
        return keras.optimizers.SGD(learning_rate=lr, momentum=float(config.get("momentum", 0.0)))
    factories = {
        "adam": keras.optimizers.Adam,
        "rmsprop": keras.optimizers.RMSprop,
        "adagrad": keras.optimizers.Adagrad,
    }
    if name not in factories:
        raise TrialFailed(f"unknown optimizer {name!r}; use one of sgd, {', '.join(factories)}")
    return factories[name](learning_rate=lr)


def train(
    config: dict[str, Any],
    data: Any,
    reporter: Reporter | None = None,
    *,
    metric: str = "val_accuracy",
    patience: int = 4,
    seed: int = 0,
) -> TrialOutcome:
    """Train on ``data.x_train``, validate each epoch on ``data.x_val``, stop early on ``metric``.

    Raises :class:`TrialFailed` when the loss stops being finite; whatever the reporter raises (pruning)
    propagates. Keras's global state is cleared first so a long search does not grow in memory.
    """
    import keras

    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    model = build(config, data.input_dim, data.n_classes)
    mode = "max" if "accuracy" in metric else "min"
    history: dict[str, list[float]] = {}
    reporter = reporter or NullReporter()

    class _Relay(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
            metrics = {k: float(v) for k, v in (logs or {}).items()}
            for key, value in metrics.items():
                history.setdefault(key, []).append(value)
            bad = [k for k in ("loss", "val_loss") if k in metrics and not math.isfinite(metrics[k])]
            if bad:
                raise TrialFailed(f"{bad[0]} became {metrics[bad[0]]} at epoch {epoch + 1}; training diverged")
            reporter.report(epoch + 1, metrics)

    started = time.perf_counter()
    model.fit(
        data.x_train,
        data.y_train,
        validation_data=(data.x_val, data.y_val),
        epochs=int(config.get("epochs", 10)),
        batch_size=int(config.get("batch_size", 64)),
        verbose=0,
        callbacks=[
            _Relay(),
            keras.callbacks.EarlyStopping(monitor=metric, mode=mode, patience=patience, restore_best_weights=True),
        ],
    )
    values = history[metric]
    best_index = int(np.argmax(values) if mode == "max" else np.argmin(values))
    outcome = TrialOutcome(
        value=float(values[best_index]),
        best_epoch=best_index + 1,
        epochs_trained=len(values),
        history=history,
        n_params=int(model.count_params()),
        train_seconds=time.perf_counter() - started,
    )
    del model
    return outcome


def fit_final(
    config: dict[str, Any], x: np.ndarray, y: np.ndarray, epochs: int, n_classes: int, seed: int = 0
) -> keras.Model:
    """Retrain from scratch on all of ``x`` for a fixed number of epochs (no validation data is left)."""
    import keras

    keras.utils.set_random_seed(seed)
    model = build(config, x.shape[1], n_classes)
    model.fit(x, y, epochs=max(1, int(epochs)), batch_size=int(config.get("batch_size", 64)), verbose=0)
    return model


def average(models: list[keras.Model]) -> keras.Model:
    """One model whose output is the mean of the members' class probabilities.

    Saved and loaded as a single ``.keras`` file with plain Keras; each member keeps its own weights.
    """
    import keras

    if len(models) == 1:
        return models[0]
    inputs = keras.Input(models[0].input_shape[1:])
    outputs = keras.layers.Average()([member(inputs) for member in models])
    # Left uncompiled: it is never trained, and a compiled-but-unbuilt optimizer makes loading warn.
    return keras.Model(inputs, outputs, name=f"average_of_{len(models)}")


def evaluate(model: keras.Model, x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Accuracy and cross-entropy from predictions, so it also works for uncompiled (averaged) models."""
    probabilities = np.asarray(model.predict(x, batch_size=1024, verbose=0), dtype=np.float64)
    picked = np.clip(probabilities[np.arange(len(y)), y], 1e-12, 1.0)
    return {"loss": float(-np.log(picked).mean()), "accuracy": float((probabilities.argmax(axis=1) == y).mean())}
