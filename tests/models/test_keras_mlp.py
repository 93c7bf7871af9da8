"""The Keras MLP family: the configuration shapes the network, training reports every epoch, divergence fails."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from support import TINY_LIMIT

from automl.data import load_dataset
from automl.errors import TrialFailed
from automl.models import keras_mlp

CONFIG = {
    "n_layers": 2,
    "units_1": 24,
    "units_2": 12,
    "activation": "tanh",
    "optimizer": "sgd",
    "learning_rate": 0.05,
    "momentum": 0.8,
    "l2": 1e-4,
    "dropout": 0.25,
    "batch_norm": True,
    "batch_size": 64,
    "epochs": 3,
}


MLP = keras_mlp.KerasMLP()
TRAIN = {"metric": "val_accuracy", "direction": "maximize", "patience": 3, "seed": 0}


@pytest.fixture(scope="module")
def data():
    return load_dataset("mnist", limit=TINY_LIMIT)


def test_build_follows_the_configuration() -> None:
    model = keras_mlp.build(CONFIG, input_dim=784, n_classes=10)
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    assert [layer.units for layer in dense] == [24, 12, 10]
    assert all(layer.kernel_regularizer is not None for layer in dense)
    assert sum(isinstance(layer, keras.layers.BatchNormalization) for layer in model.layers) == 2
    assert [layer.rate for layer in model.layers if isinstance(layer, keras.layers.Dropout)] == [0.25, 0.25]
    assert isinstance(model.optimizer, keras.optimizers.SGD)
    assert model.optimizer.momentum == pytest.approx(0.8)
    plain = keras_mlp.build({**CONFIG, "batch_norm": False, "dropout": 0.0, "l2": 0.0, "optimizer": "adagrad"}, 784, 10)
    assert not any(isinstance(layer, keras.layers.BatchNormalization | keras.layers.Dropout) for layer in plain.layers)
    assert isinstance(plain.optimizer, keras.optimizers.Adagrad)


def test_augmentation_layers_come_first_and_only_when_asked() -> None:
    model = keras_mlp.build({**CONFIG, "shift": 0.1, "rotation": 0.04, "zoom": 0.0}, 784, 10)
    names = [type(layer).__name__ for layer in model.layers[:4]]
    assert names == ["Reshape", "RandomTranslation", "RandomRotation", "Flatten"]
    assert not any(type(layer).__name__.startswith("Random") for layer in keras_mlp.build(CONFIG, 784, 10).layers)
    with pytest.raises(TrialFailed, match="square images"):
        keras_mlp.build({**CONFIG, "shift": 0.1}, 100 + 1, 10)


def test_tutorial_baseline_is_the_tutorial_network() -> None:
    model = keras_mlp.build(keras_mlp.TUTORIAL_BASELINE, 784, 10)
    assert [(type(layer).__name__, layer.units) for layer in model.layers] == [("Dense", 64), ("Dense", 10)]
    assert model.count_params() == 784 * 64 + 64 + 64 * 10 + 10


class Recorder:
    def __init__(self) -> None:
        self.epochs: list[int] = []
        self.metrics: list[dict[str, float]] = []

    def report(self, epoch: int, metrics: dict[str, float]) -> None:
        self.epochs.append(epoch)
        self.metrics.append(metrics)


def test_train_reports_each_epoch_and_returns_curves(data) -> None:
    recorder = Recorder()
    outcome = MLP.train({**CONFIG, "optimizer": "adam", "learning_rate": 0.01}, data, recorder, **TRAIN)
    assert recorder.epochs == list(range(1, outcome.epochs_trained + 1))
    assert set(recorder.metrics[0]) >= {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert len(outcome.history["val_accuracy"]) == outcome.epochs_trained
    assert outcome.value == max(outcome.history["val_accuracy"])
    assert outcome.history["val_accuracy"][outcome.best_epoch - 1] == outcome.value
    assert outcome.value > 0.3  # it learned something in 3 epochs on 384 images
    assert outcome.n_params > 0


def test_a_reporter_can_stop_training(data) -> None:
    class Stop(Exception):
        pass

    class Pruner(Recorder):
        def report(self, epoch: int, metrics: dict[str, float]) -> None:
            super().report(epoch, metrics)
            if epoch == 2:
                raise Stop

    pruner = Pruner()
    with pytest.raises(Stop):
        MLP.train(CONFIG, data, pruner, **TRAIN)
    assert pruner.epochs == [1, 2]


def test_a_run_the_time_stopped_hands_over_its_model_at_its_best_epoch(data) -> None:
    from automl.models.base import TrainingStopped

    class Deadline(Recorder):
        def report(self, epoch: int, metrics: dict[str, float]) -> None:
            super().report(epoch, metrics)
            if epoch == 3:
                raise TrainingStopped

    config = {**CONFIG, "epochs": 5, "optimizer": "adam", "learning_rate": 0.01}
    with pytest.raises(TrainingStopped) as raised:
        MLP.train(config, data, Deadline(), **TRAIN)
    outcome = raised.value.outcome
    assert outcome is not None and outcome.epochs_trained == 3
    # the model is the one the outcome's value was read from: its best epoch's weights, not the last epoch's
    scored = MLP.evaluate(outcome.model, data.x_val, data.y_val).metrics["accuracy"]
    assert scored == pytest.approx(outcome.value, abs=1e-6)


def test_a_retraining_the_time_stops_ends_at_that_epoch_with_its_model(data) -> None:
    from automl.models.base import TrainingStopped

    class TimeRunsOut(Recorder):
        def report(self, epoch: int, metrics: dict[str, float]) -> None:
            super().report(epoch, metrics)
            if epoch == 2:
                raise TrainingStopped

    relay = TimeRunsOut()
    model = MLP.fit_final({**CONFIG, "epochs": 5, "final_ema": 0.9}, data, 5, 0, relay)
    assert relay.epochs == [1, 2]  # no epoch after the stop
    assert MLP.evaluate(model, data.x_test, data.y_test).metrics["accuracy"] > 0.3


def test_divergence_is_a_failed_trial_with_a_reason(data) -> None:
    config = {**CONFIG, "batch_norm": False, "learning_rate": 1e12, "momentum": 0.0}
    with pytest.raises(TrialFailed, match="diverged"):
        MLP.train(config, data, **TRAIN)


def test_final_members_are_averaged_into_one_model_that_plain_keras_loads(data, tmp_path) -> None:
    recorder = Recorder()
    members = [MLP.fit_final(CONFIG, data, epochs=2, seed=seed, reporter=recorder) for seed in (0, 1)]
    assert recorder.epochs == [1, 2, 1, 2]  # each member reports its epochs, for the final stage's progress
    model = MLP.ensemble(members)
    evaluation = MLP.evaluate(model, data.x_test, data.y_test)
    assert set(evaluation.metrics) == {"accuracy", "loss"}
    assert evaluation.per_example["accuracy"].shape == (len(data.y_test),)
    assert evaluation.metrics["accuracy"] == pytest.approx(evaluation.per_example["accuracy"].mean())
    path = MLP.save(model, tmp_path)
    assert path.name == "model.keras"
    reloaded = keras.saving.load_model(path)
    assert reloaded.predict(data.x_test[:3], verbose=0).shape == (3, 10)


def test_the_family_declares_what_it_reads() -> None:
    assert MLP.spec("units_7") is not None
    assert MLP.spec("units_0") is None
    assert MLP.required({"n_layers": 2}) == [
        "n_layers",
        "activation",
        "optimizer",
        "learning_rate",
        "units_1",
        "units_2",
    ]
    assert MLP.check_config(keras_mlp.TUTORIAL_BASELINE) == []
    assert MLP.check_config({**keras_mlp.TUTORIAL_BASELINE, "optimizer": "lbfgs", "colour": 1}) == [
        "optimizer: must be one of 'adam', 'sgd', 'rmsprop', 'adagrad', got 'lbfgs'",
        "colour: not a parameter of keras_mlp",
    ]


def test_a_final_member_ends_on_the_moving_average_of_its_weights(data, tmp_path) -> None:
    def distance_from_start(config: dict) -> float:
        keras.utils.set_random_seed(3)  # the seed fit_final sets, so the same initial weights
        start = [w.numpy() for w in MLP.build(config, data.input_dim, data.n_classes).trainable_weights]
        member = MLP.fit_final(config, data, epochs=2, seed=3)
        return sum(float(np.abs(w.numpy() - s).sum()) for w, s in zip(member.trainable_weights, start, strict=True))

    plain = distance_from_start(CONFIG)
    # An average with momentum 0.9999 over a few dozen steps stays next to where the weights started.
    averaged = distance_from_start({**CONFIG, "final_ema": 0.9999})
    assert averaged < plain / 10
    member = MLP.fit_final({**CONFIG, "final_ema": 0.99}, data, epochs=1, seed=0)
    reloaded = keras.saving.load_model(MLP.save(member, tmp_path))
    assert reloaded.predict(data.x_test[:3], verbose=0).shape == (3, 10)
    assert MLP.check_config({**keras_mlp.TUTORIAL_BASELINE, "final_ema": 1.5})  # a momentum is below 1
