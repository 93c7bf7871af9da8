"""A Keras multilayer perceptron built from a sampled configuration.

Configuration keys (see ``search_spaces/mnist_mlp.yaml``): n_layers, units_<i>, activation, optimizer,
learning_rate, momentum (sgd only), l2, dropout, batch_norm, batch_size, epochs, and the optional image
augmentation fractions shift, rotation and zoom (absent or 0: none), and final_ema, the momentum of a moving
average of the weights when the final stage retrains on train+validation (absent or 0: none).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from automl.models._keras import (
    FINAL_EMA,
    OPTIMIZERS,
    KerasClassifierFamily,
    augmentation,
    compile_classifier,
    image_side,
)
from automl.models.base import BaselineLabel, HyperParam, ParamKind

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

ACTIVATIONS = ("relu", "tanh", "sigmoid", "elu", "gelu", "selu", "swish", "softplus", "linear")
MAX_LAYERS = 16
MAX_UNITS = 65536


def build(config: dict[str, Any], input_dim: int, n_classes: int) -> keras.Model:
    import keras

    l2 = float(config.get("l2") or 0.0)
    regularizer = keras.regularizers.L2(l2) if l2 > 0 else None
    dropout = float(config.get("dropout") or 0.0)
    layers: list[Any] = [keras.Input((input_dim,)), *_flat_augmentation(config, input_dim)]
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
    compile_classifier(model, config)
    return model


def _flat_augmentation(config: dict[str, Any], input_dim: int) -> list[Any]:
    """The shared image augmentation, between a reshape to the image and a flatten back (the MLP sees pixels)."""
    import keras

    random_layers = augmentation(config)
    if not random_layers:
        return []
    side = image_side(input_dim, "augmentation (shift, rotation, zoom); set them to 0, or it")
    return [keras.layers.Reshape((side, side, 1)), *random_layers, keras.layers.Flatten()]


class KerasMLP(KerasClassifierFamily):
    """The tutorial's multilayer perceptron, searched over depth, width, activation, optimizer and regularisation."""

    name = "keras_mlp"
    hyperparameters = (
        HyperParam("n_layers", ParamKind.INT, 1, MAX_LAYERS, required=True, help="hidden layers"),
        HyperParam("units_<i>", ParamKind.INT, 1, MAX_UNITS, max_index=MAX_LAYERS, help="units of hidden layer i"),
        HyperParam("activation", ParamKind.CATEGORICAL, choices=ACTIVATIONS, required=True),
        HyperParam("optimizer", ParamKind.CATEGORICAL, choices=OPTIMIZERS, required=True),
        HyperParam("learning_rate", ParamKind.FLOAT, 1e-7, 10.0, required=True),
        HyperParam("momentum", ParamKind.FLOAT, 0.0, 1.0, default=0.0, help="sgd only"),
        HyperParam("l2", ParamKind.FLOAT, 0.0, 1.0, default=0.0),
        HyperParam("dropout", ParamKind.FLOAT, 0.0, 0.95, default=0.0),
        HyperParam("batch_norm", ParamKind.BOOL, default=False),
        HyperParam("batch_size", ParamKind.INT, 1, 65536, default=64),
        HyperParam("epochs", ParamKind.INT, 1, 10000, default=10),
        HyperParam("shift", ParamKind.FLOAT, 0.0, 0.5, default=0.0, help="random translation, fraction of the image"),
        HyperParam("rotation", ParamKind.FLOAT, 0.0, 0.5, default=0.0, help="random rotation, fraction of a turn"),
        HyperParam("zoom", ParamKind.FLOAT, 0.0, 0.9, default=0.0, help="random zoom in or out"),
        FINAL_EMA,
    )
    baseline = TUTORIAL_BASELINE
    baseline_label = BaselineLabel.TUTORIAL

    def required(self, config: Mapping[str, Any]) -> list[str]:
        names = super().required(config)
        layers = config.get("n_layers")
        if isinstance(layers, int) and not isinstance(layers, bool):
            names += [f"units_{i}" for i in range(1, min(layers, MAX_LAYERS) + 1)]
        return names

    def build(self, config: Mapping[str, Any], input_dim: int, n_classes: int) -> keras.Model:
        return build(dict(config), input_dim, n_classes)
