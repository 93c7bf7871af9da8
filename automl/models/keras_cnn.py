"""A small Keras convolutional network for square greyscale images, built from a sampled configuration.

Inputs arrive flattened (``input_dim`` features, e.g. 784 for 28x28 MNIST) and are reshaped inside the model,
so the same arrays feed this family and ``keras_mlp``.

Configuration keys (see ``search_spaces/mnist_cnn.yaml``):

- ``n_blocks``: number of convolution blocks (1-3; 2 suits 28x28 images). Each block halves the resolution.
- ``filters_<i>``: filters of block ``i`` (1-based), one key per block.
- ``convs_per_block``: convolutions per block before its downsampling (optional, default 1).
- ``kernel_size``: square kernel side of every convolution (3 or 5).
- ``pooling``: ``max`` or ``avg`` (2x2 pooling after each block), or ``none`` (the block's last convolution
  uses stride 2 instead, so the resolution still halves and the dense head stays small).
- ``batch_norm``: BatchNormalization (moving-average momentum 0.9) between each convolution (and the dense
  head) and its activation.
- ``dropout``: dropout rate after each block (0: none).
- ``dense_units``: units of one hidden dense layer after flattening (0: straight to the softmax).
- ``head_dropout``: dropout rate before the softmax layer (0: none).
- ``activation``: activation of convolutions and the dense head (relu, elu, gelu, ...).
- ``optimizer`` (adam | sgd | rmsprop | adagrad), ``learning_rate``, ``momentum`` (sgd only), ``l2`` (kernel
  weight decay on every convolution and dense layer; 0: none).
- ``batch_size``, ``epochs``: read by the training loop, not by :func:`build`.
- ``shift``, ``rotation``, ``zoom``: random translation (fraction of the side), rotation (fraction of a full
  turn) and zoom fractions applied only while training (absent or 0: none), as in ``keras_mlp``.
- ``final_ema``: momentum of a moving average of the weights when the final stage retrains on train+validation
  (absent or 0: none); the search's own trials never average, as in ``keras_mlp``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from automl.errors import TrialFailed
from automl.models._keras import (
    FINAL_EMA,
    OPTIMIZERS,
    KerasClassifierFamily,
    augmentation,
    compile_classifier,
    image_side,
)
from automl.models.base import BaselineLabel, HyperParam, ParamKind
from automl.models.keras_mlp import ACTIVATIONS, TUTORIAL_BASELINE

if TYPE_CHECKING:
    import keras

MAX_BLOCKS = 4
# Keras's default moving-average momentum (0.99) needs a few hundred steps to forget its initial statistics; a
# 3,200-image epoch at batch 128 is 25 steps, so validation accuracy sat near 10% for 3-6 epochs and early
# stopping killed good trials. 0.9 settles within an epoch or two.
_BN_MOMENTUM = 0.9


def build(config: Mapping[str, Any], input_dim: int, n_classes: int) -> keras.Model:
    """A compiled ``keras.Sequential`` CNN for ``config``; pure (no training, no global state besides Keras's).

    Raises :class:`TrialFailed` when the inputs are not square images or a key is out of its domain.
    """
    import keras

    side = image_side(input_dim, "a CNN")
    l2 = float(config.get("l2") or 0.0)
    regularizer = keras.regularizers.L2(l2) if l2 > 0 else None
    batch_norm = bool(config.get("batch_norm"))
    activation = str(config.get("activation", "relu"))
    kernel = int(config.get("kernel_size", 3))
    pooling = str(config.get("pooling", "max"))
    if pooling not in ("max", "avg", "none"):
        raise TrialFailed(f"pooling {pooling!r}: use one of max, avg, none")
    dropout = float(config.get("dropout") or 0.0)
    convs = max(1, int(config.get("convs_per_block", 1)))
    n_blocks = int(config["n_blocks"])
    if side >> n_blocks < 1:
        raise TrialFailed(f"{n_blocks} blocks halve {side}x{side} images below one pixel; use fewer blocks")

    layers: list[Any] = [keras.Input((input_dim,)), keras.layers.Reshape((side, side, 1))]
    layers += augmentation(config)
    for block in range(1, n_blocks + 1):
        filters = int(config[f"filters_{block}"])
        for conv in range(1, convs + 1):
            strides = 2 if pooling == "none" and conv == convs else 1
            layers.append(
                keras.layers.Conv2D(
                    filters,
                    kernel,
                    strides=strides,
                    padding="same",
                    use_bias=not batch_norm,  # BatchNorm's shift makes the bias redundant
                    kernel_regularizer=regularizer,
                )
            )
            if batch_norm:
                layers.append(keras.layers.BatchNormalization(momentum=_BN_MOMENTUM))
            layers.append(keras.layers.Activation(activation))
        if pooling == "max":
            layers.append(keras.layers.MaxPooling2D(2, padding="same"))
        elif pooling == "avg":
            layers.append(keras.layers.AveragePooling2D(2, padding="same"))
        if dropout > 0:
            layers.append(keras.layers.Dropout(dropout))
    layers.append(keras.layers.Flatten())
    dense_units = int(config.get("dense_units") or 0)
    if dense_units > 0:
        if batch_norm:
            layers += [
                keras.layers.Dense(dense_units, use_bias=False, kernel_regularizer=regularizer),
                keras.layers.BatchNormalization(momentum=_BN_MOMENTUM),
                keras.layers.Activation(activation),
            ]
        else:
            layers.append(keras.layers.Dense(dense_units, activation=activation, kernel_regularizer=regularizer))
    head_dropout = float(config.get("head_dropout") or 0.0)
    if head_dropout > 0:
        layers.append(keras.layers.Dropout(head_dropout))
    layers.append(keras.layers.Dense(n_classes, activation="softmax", kernel_regularizer=regularizer))

    model = keras.Sequential(layers)
    compile_classifier(model, config)
    return model


class KerasCNN(KerasClassifierFamily):
    """Convolution blocks and a dense head over square greyscale images; see the module docstring."""

    name = "keras_cnn"
    data_kinds = frozenset({"images"})
    hyperparameters = (
        HyperParam("n_blocks", ParamKind.INT, 1, MAX_BLOCKS, required=True, help="convolution blocks"),
        HyperParam("filters_<i>", ParamKind.INT, 1, 1024, max_index=MAX_BLOCKS, help="filters of block i"),
        HyperParam("convs_per_block", ParamKind.INT, 1, 4, default=1),
        HyperParam("kernel_size", ParamKind.INT, 1, 7, default=3),
        HyperParam("pooling", ParamKind.CATEGORICAL, choices=("max", "avg", "none"), default="max"),
        HyperParam("batch_norm", ParamKind.BOOL, default=False),
        HyperParam("dropout", ParamKind.FLOAT, 0.0, 0.9, default=0.0),
        HyperParam("dense_units", ParamKind.INT, 0, 8192, default=0),
        HyperParam("head_dropout", ParamKind.FLOAT, 0.0, 0.9, default=0.0),
        HyperParam("activation", ParamKind.CATEGORICAL, choices=ACTIVATIONS, default="relu"),
        HyperParam("optimizer", ParamKind.CATEGORICAL, choices=OPTIMIZERS, required=True),
        HyperParam("learning_rate", ParamKind.FLOAT, 1e-7, 10.0, required=True),
        HyperParam("momentum", ParamKind.FLOAT, 0.0, 1.0, default=0.0, help="sgd only"),
        HyperParam("l2", ParamKind.FLOAT, 0.0, 1.0, default=0.0),
        HyperParam("batch_size", ParamKind.INT, 1, 65536, default=64),
        HyperParam("epochs", ParamKind.INT, 1, 10000, default=10),
        HyperParam("shift", ParamKind.FLOAT, 0.0, 0.5, default=0.0),
        HyperParam("rotation", ParamKind.FLOAT, 0.0, 0.5, default=0.0),
        HyperParam("zoom", ParamKind.FLOAT, 0.0, 0.9, default=0.0),
        FINAL_EMA,
    )
    # The tutorial's MLP stays the reference every image search is measured against.
    baseline = TUTORIAL_BASELINE
    baseline_label = BaselineLabel.TUTORIAL
    baseline_family = "keras_mlp"

    def required(self, config: Mapping[str, Any]) -> list[str]:
        names = super().required(config)
        blocks = config.get("n_blocks")
        if isinstance(blocks, int) and not isinstance(blocks, bool):
            names += [f"filters_{i}" for i in range(1, min(blocks, MAX_BLOCKS) + 1)]
        return names

    def build(self, config: Mapping[str, Any], input_dim: int, n_classes: int) -> keras.Model:
        return build(config, input_dim, n_classes)
