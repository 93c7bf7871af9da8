"""The Keras CNN family: the configuration shapes the network, it trains and reports per epoch on real images,
and the tutorial's MLP is its baseline."""

from __future__ import annotations

import keras
import pytest
from support import TINY_LIMIT

from automl.data import load_dataset
from automl.errors import TrialFailed
from automl.job.final import baseline_family
from automl.models import keras_cnn
from automl.spaces import load_space

CNN = keras_cnn.KerasCNN()
CONFIG = {
    "n_blocks": 2,
    "filters_1": 8,
    "filters_2": 16,
    "pooling": "max",
    "batch_norm": True,
    "dropout": 0.25,
    "dense_units": 32,
    "head_dropout": 0.2,
    "activation": "relu",
    "optimizer": "adam",
    "learning_rate": 0.003,
    "batch_size": 64,
    "epochs": 3,
    "shift": 0.1,
}


def test_build_follows_the_configuration() -> None:
    model = CNN.build(CONFIG, 784, 10)
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert [layer.filters for layer in convs] == [8, 16]
    assert sum(isinstance(layer, keras.layers.MaxPooling2D) for layer in model.layers) == 2
    assert sum(isinstance(layer, keras.layers.BatchNormalization) for layer in model.layers) == 3  # 2 blocks + head
    assert [layer.units for layer in model.layers if isinstance(layer, keras.layers.Dense)] == [32, 10]
    assert any(isinstance(layer, keras.layers.RandomTranslation) for layer in model.layers)
    strided = CNN.build({**CONFIG, "pooling": "none", "batch_norm": False, "dense_units": 0}, 784, 10)
    assert [layer.strides for layer in strided.layers if isinstance(layer, keras.layers.Conv2D)] == [(2, 2), (2, 2)]
    with pytest.raises(TrialFailed, match="square images"):
        CNN.build(CONFIG, 30, 10)


def test_it_trains_on_real_images_and_reports_each_epoch() -> None:
    data = load_dataset("mnist", limit=TINY_LIMIT)
    epochs: list[int] = []

    class Recorder:
        def report(self, epoch: int, metrics: dict[str, float]) -> None:
            epochs.append(epoch)

    outcome = CNN.train(CONFIG, data, Recorder(), metric="val_accuracy", direction="maximize", patience=5, seed=0)
    assert epochs == [1, 2, 3]
    assert outcome.epochs_trained == 3
    assert outcome.value > 0.3  # it learned something from 384 images in 3 epochs


def test_the_family_declares_its_blocks_and_the_shipped_space_fits_it() -> None:
    assert CNN.required({"n_blocks": 2})[-2:] == ["filters_1", "filters_2"]
    assert CNN.accepts("table", "classification") == "keras_cnn trains on images data, not table"
    space = load_space("mnist_cnn")
    assert space.model == "keras_cnn"
    reference = baseline_family(space, "keras_cnn")
    assert reference is not None
    assert reference.name == "keras_mlp"  # the tutorial MLP stays the reference
