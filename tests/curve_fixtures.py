"""Per-epoch curves with a known diagnosis, shared by the diagnostics and report tests."""

import math

# Epoch 1..6. Training keeps improving; validation loss bottoms at epoch 3 then climbs 60%.
OVERFIT = {
    "loss": [1.0, 0.5, 0.3, 0.2, 0.1, 0.05],
    "accuracy": [0.70, 0.85, 0.92, 0.96, 0.98, 0.99],
    "val_loss": [0.9, 0.6, 0.5, 0.55, 0.65, 0.8],
    "val_accuracy": [0.72, 0.83, 0.86, 0.86, 0.85, 0.84],
}
# Barely learns: 40% training accuracy after four epochs.
UNDERFIT = {
    "loss": [2.2, 2.1, 2.0, 1.9],
    "accuracy": [0.2, 0.3, 0.35, 0.4],
    "val_loss": [2.2, 2.1, 2.0, 1.95],
    "val_accuracy": [0.2, 0.3, 0.36, 0.41],
}
GOOD = {
    "loss": [0.8, 0.4, 0.25, 0.2],
    "accuracy": [0.80, 0.90, 0.93, 0.94],
    "val_loss": [0.5, 0.3, 0.25, 0.26],
    "val_accuracy": [0.85, 0.90, 0.93, 0.925],
}
NAN = {"loss": [0.8, 0.5, math.nan], "accuracy": [0.8, 0.9, 0.1], "val_loss": [0.6, 0.4, math.nan]}
