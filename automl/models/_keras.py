"""What the Keras families share: thread pools, image augmentation, optimizers, training with per-epoch reports,
retraining, averaging members and scoring. Only modules under :mod:`automl.models` import this (and Keras)."""

from __future__ import annotations

import abc
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from automl.errors import TrialFailed
from automl.models.base import (
    Evaluation,
    HyperParam,
    ModelFamily,
    NullReporter,
    ParamKind,
    Reporter,
    TrainingStopped,
    TrialOutcome,
)
from automl.models.tracker import EpochTracker

if TYPE_CHECKING:
    import keras

    from automl.data.dataset import Dataset

OPTIMIZERS = ("adam", "sgd", "rmsprop", "adagrad")

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


def augmentation(config: Mapping[str, Any]) -> list[Any]:
    """Random shifts, rotations and zooms of image-shaped inputs, active only while training.

    On 4,000 MNIST images this is worth more than any architecture choice (+1.5 points measured for a
    1024-unit MLP), because it attacks the real problem: too little data, so the network memorises pixels.
    """
    import keras

    shift, rotation, zoom = (float(config.get(k) or 0.0) for k in ("shift", "rotation", "zoom"))
    layers: list[Any] = []
    if shift:
        layers.append(keras.layers.RandomTranslation(shift, shift, fill_mode="constant"))
    if rotation:
        layers.append(keras.layers.RandomRotation(rotation, fill_mode="constant"))
    if zoom:
        layers.append(keras.layers.RandomZoom(zoom, fill_mode="constant"))
    return layers


def image_side(input_dim: int, purpose: str) -> int:
    """The side of the square greyscale images flattened into ``input_dim`` features; TrialFailed if not square."""
    side = int(round(math.sqrt(input_dim)))
    if side * side != input_dim:
        raise TrialFailed(f"{purpose} needs square images, but inputs have {input_dim} features")
    return side


def optimizer(config: Mapping[str, Any], weight_average: float = 0.0) -> Any:
    """The configuration's optimizer; with ``weight_average`` > 0 it also keeps an exponential moving average of
    the weights with that momentum, which replaces the weights when ``fit`` ends (Keras's ``use_ema``)."""
    import keras

    name, lr = config["optimizer"], float(config["learning_rate"])
    averaging: dict[str, Any] = {"use_ema": True, "ema_momentum": weight_average} if weight_average > 0 else {}
    if name == "sgd":
        return keras.optimizers.SGD(learning_rate=lr, momentum=float(config.get("momentum", 0.0)), **averaging)
    factories = {
        "adam": keras.optimizers.Adam,
        "rmsprop": keras.optimizers.RMSprop,
        "adagrad": keras.optimizers.Adagrad,
    }
    return factories[name](learning_rate=lr, **averaging)


def compile_classifier(model: keras.Model, config: Mapping[str, Any], weight_average: float = 0.0) -> None:
    """Compile ``model`` for integer class labels with the configuration's optimizer (see :func:`optimizer`)."""
    model.compile(
        optimizer=optimizer(config, weight_average),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )


# The final stage's weight average (see KerasClassifierFamily.fit_final); 0: none.
FINAL_EMA = HyperParam(
    "final_ema",
    ParamKind.FLOAT,
    0.0,
    0.9999,
    default=0.0,
    help="momentum of a moving average of the weights when retraining on train+validation (0: none)",
)


def train_classifier(
    model: keras.Model,
    config: Mapping[str, Any],
    data: Dataset,
    reporter: Reporter | None,
    *,
    metric: str,
    direction: str,
    patience: int,
) -> TrialOutcome:
    """Fit ``model`` on ``data.x_train``, validate each epoch on ``data.x_val``, stop early on ``metric``.

    Raises :class:`TrialFailed` when the loss stops being finite; whatever the reporter raises (pruning, a
    deadline) propagates.
    """
    import keras

    tracker = EpochTracker(metric, direction, patience)
    relay_to = reporter or NullReporter()
    best_weights: list[Any] = []  # the best epoch's weights: a kept trial model is the one its score was read from

    class _Relay(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
            metrics = {k: float(v) for k, v in (logs or {}).items()}
            bad = [k for k in ("loss", "val_loss") if k in metrics and not math.isfinite(metrics[k])]
            if bad:
                raise TrialFailed(f"{bad[0]} became {metrics[bad[0]]} at epoch {epoch + 1}; training diverged")
            if metric in metrics and tracker.improves(metrics[metric]):
                best_weights[:] = self.model.get_weights()
            # The best weights are saved before the epoch is reported: a deadline that stops the trial there takes
            # the model at its best epoch with it (the tracker's report restores and hands it over).
            stop = tracker.report(relay_to, epoch + 1, metrics, model=self._at_best_epoch)
            if stop:
                self.model.stop_training = True  # ends fit after this epoch, as Keras's EarlyStopping does

        def _at_best_epoch(self) -> keras.Model:
            restore_best(self.model)
            return self.model

    def restore_best(trained: keras.Model) -> None:
        if best_weights and tracker.best_epoch != tracker.epochs:
            trained.set_weights(best_weights)

    model.fit(
        data.x_train,
        data.y_train,
        validation_data=(data.x_val, data.y_val),
        epochs=int(config.get("epochs", 10)),
        batch_size=int(config.get("batch_size", 64)),
        verbose=0,
        callbacks=[_Relay()],
    )
    restore_best(model)
    return tracker.outcome(n_params=int(model.count_params()), model=model)


def average(models: Sequence[keras.Model]) -> keras.Model:
    """One model whose output is the mean of the members' class probabilities.

    Saved and loaded as a single ``.keras`` file with plain Keras; each member keeps its own weights.
    """
    import keras

    if len(models) == 1:
        return models[0]
    if len({m.name for m in models}) < len(models):  # models loaded from files all share the default name
        for i, member in enumerate(models):
            member.name = f"member_{i + 1}_{member.name}"
    inputs = keras.Input(models[0].input_shape[1:])
    outputs = keras.layers.Average()([member(inputs) for member in models])
    # Left uncompiled: it is never trained, and a compiled-but-unbuilt optimizer makes loading warn.
    return keras.Model(inputs, outputs, name=f"average_of_{len(models)}")


def evaluate_classifier(model: keras.Model, x: np.ndarray, y: np.ndarray) -> Evaluation:
    """Accuracy and cross-entropy from predictions, so it also works for uncompiled (averaged) models."""
    probabilities = np.asarray(model.predict(x, batch_size=1024, verbose=0), dtype=np.float64)
    picked = np.clip(probabilities[np.arange(len(y)), y], 1e-12, 1.0)
    correct = (probabilities.argmax(axis=1) == y).astype(np.float64)
    losses = -np.log(picked)
    return Evaluation(
        metrics={"loss": float(losses.mean()), "accuracy": float(correct.mean())},
        per_example={"loss": losses, "accuracy": correct},
    )


class KerasClassifierFamily(ModelFamily):
    """What the Keras families share: threads, training, retraining, averaging, scoring and the .keras file.

    A subclass declares its hyperparameters and implements :meth:`build`.
    """

    data_kinds = frozenset({"images", "table"})
    # Keras takes a table as one float matrix: no imputation or encoding inside the model, unlike scikit-learn's
    # families, so the space check refuses a table with text or missing values before any trial.
    numeric_tables_only: ClassVar[bool] = True
    tasks = frozenset({"classification"})

    @abc.abstractmethod
    def build(self, config: Mapping[str, Any], input_dim: int, n_classes: int) -> keras.Model:
        """A compiled model for one configuration."""

    def configure_threads(self, threads: int | None) -> None:
        configure_threads(threads)

    def train(
        self,
        config: dict[str, Any],
        data: Dataset,
        reporter: Reporter | None = None,
        *,
        metric: str,
        direction: str,
        patience: int,
        seed: int,
    ) -> TrialOutcome:
        import keras

        keras.backend.clear_session()  # a long search must not grow in memory
        keras.utils.set_random_seed(seed)
        model = self.build(config, data.input_dim, data.n_classes)
        return train_classifier(model, config, data, reporter, metric=metric, direction=direction, patience=patience)

    def fit_final(
        self, config: dict[str, Any], data: Dataset, epochs: int, seed: int, reporter: Reporter | None = None
    ) -> keras.Model:
        import keras

        x = np.concatenate([data.x_train, data.x_val])
        y = np.concatenate([data.y_train, data.y_val])
        # No clear_session here: members built one after another must keep distinct layer names to be averaged.
        keras.utils.set_random_seed(seed)
        model = self.build(config, x.shape[1], data.n_classes)
        # A moving average of the weights over the last epochs generalises better than the last step's weights
        # (Polyak averaging; measured in benchmarks/README.md), at almost no cost. Only here: during the search
        # each epoch's validation score must come from the weights that are kept.
        weight_average = float(config.get(FINAL_EMA.name) or 0.0)
        if weight_average > 0:
            compile_classifier(model, config, weight_average)
        relay_to = reporter or NullReporter()

        class _Relay(keras.callbacks.Callback):
            def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
                try:
                    relay_to.report(epoch + 1, {k: float(v) for k, v in (logs or {}).items()})
                except TrainingStopped:  # the job's time is running out: end here (the average is still applied)
                    self.model.stop_training = True

        batch_size = int(config.get("batch_size", 64))
        model.fit(x, y, epochs=max(1, int(epochs)), batch_size=batch_size, verbose=0, callbacks=[_Relay()])
        return model

    def ensemble(self, models: Sequence[Any]) -> keras.Model:
        return average(models)

    cost_metrics = ("params", "latency_ms", "train_seconds")

    def predictor(self, model: Any) -> Any:
        # One batch in one call, as a server answers a request (Model.predict adds a data pipeline per call).
        return lambda x: model.predict_on_batch(np.asarray(x, dtype=np.float32))

    def evaluate(self, model: Any, x: np.ndarray, y: np.ndarray) -> Evaluation:
        return evaluate_classifier(model, x, y)

    def save(self, model: Any, directory: Path) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / "model.keras"
        model.save(path)
        return path

    def load(self, path: Path) -> Any:
        import keras

        return keras.saving.load_model(path)

    def load_hint(self, path: Path) -> str:
        return f'keras.saving.load_model("{path}")'
