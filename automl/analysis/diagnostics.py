"""Over- and underfitting diagnosis from per-epoch curves: pure functions on numbers.

A trial's curves map metric names to one value per epoch: the objective (a validation metric such as
``val_accuracy`` or ``val_rmse``), its training counterpart (the same name without ``val_``), and ``loss`` /
``val_loss``, which every family records. Nothing assumes accuracy: the objective and its direction come from the
study's settings, and every threshold below is a named constant so the report can state it. Thresholds on the
objective are absolute for metrics bounded in [0, 1] (accuracy, AUC, F1...) and relative to the metric's own size
for the others (a loss, an RMSE), where no absolute number could fit every scale.

The decision, per trial, in this order (first match wins):

1. **unstable/diverged**: a non-finite value in any curve, a training loss that jumps up by more than
   ``UNSTABLE_TRAIN_LOSS_JUMP`` from one epoch to the next, or a training loss that ends above where it
   started. Training loss should fall steadily; when it does not, the optimizer is overshooting.
2. **overfitting** (validation loss turned): the validation loss ends at least ``OVERFIT_VAL_LOSS_RISE`` above
   its minimum, reached before the last epoch, while the training loss kept falling.
3. **underfitting** (bounded metrics that are maximised only): the objective's training value at the last epoch
   and its best validation value are both below ``UNDERFIT_SCORE``: the model does not even fit the data it
   trains on. An unbounded metric has no such bar, so underfitting is not judged for it.
4. **overfitting** (gap): training looks better than validation at the last epoch by more than ``OVERFIT_GAP``
   (bounded metrics) or ``OVERFIT_GAP_RELATIVE`` of the validation value (unbounded metrics).
5. **good fit** otherwise.

Underfitting is checked before the gap because a model that barely learns can show a gap between two poor
scores; calling that overfitting would send the user the wrong way (more regularisation).

At the trial level (:func:`diagnose_trial`), a pruned trial is labelled "pruned at epoch N" and never judged
from its curves (stopped early is no evidence of underfitting), and a failed trial's reason decides whether it
diverged.
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

from automl.study.record import TrialRecord, held_out_metric, read_trial

# --- thresholds (stated in every report) ---------------------------------------------------------------
OVERFIT_GAP = 0.05  # bounded metrics: training better than validation by more than this at the last epoch
OVERFIT_GAP_RELATIVE = 0.10  # unbounded metrics: ... by more than this fraction of the validation value
OVERFIT_VAL_LOSS_RISE = 0.10  # validation loss ending >= 10% above its minimum: overfitting (the loss turned)
UNDERFIT_SCORE = 0.90  # bounded, maximised metrics: training (last epoch) and best validation below this
UNSTABLE_TRAIN_LOSS_JUMP = 0.25  # training loss rising > 25% in one epoch: unstable
UNSTABLE_LOSS_FLOOR = 0.1  # ... measured against at least this fraction of the first epoch's loss
SMOOTHING_EPOCHS = 3  # validation loss is averaged over this many neighbouring epochs before finding its turn
STILL_IMPROVING = 0.002  # last epoch is the best, by more than this (relative for unbounded metrics)

THRESHOLDS: dict[str, tuple[float, str]] = {
    "OVERFIT_GAP": (
        OVERFIT_GAP,
        "metrics bounded in [0, 1]: training better than validation by more than this at the last epoch: overfitting",
    ),
    "OVERFIT_GAP_RELATIVE": (
        OVERFIT_GAP_RELATIVE,
        "unbounded metrics (loss, RMSE...): training better than validation by more than this fraction of the "
        "validation value at the last epoch: overfitting",
    ),
    "OVERFIT_VAL_LOSS_RISE": (
        OVERFIT_VAL_LOSS_RISE,
        "validation loss ending this fraction or more above its minimum (reached before the last epoch): overfitting",
    ),
    "UNDERFIT_SCORE": (
        UNDERFIT_SCORE,
        "metrics bounded in [0, 1] and maximised: training value at the last epoch and best validation value both "
        "below this: underfitting (not judged for other metrics)",
    ),
    "UNSTABLE_TRAIN_LOSS_JUMP": (
        UNSTABLE_TRAIN_LOSS_JUMP,
        "training loss rising by more than this fraction from one epoch to the next: unstable",
    ),
    "UNSTABLE_LOSS_FLOOR": (
        UNSTABLE_LOSS_FLOOR,
        "a jump in training loss is measured against at least this fraction of the first epoch's loss, "
        "so noise near zero is not called instability",
    ),
    "SMOOTHING_EPOCHS": (
        SMOOTHING_EPOCHS,
        "validation loss is averaged over this many neighbouring epochs (centred) before its minimum and rise "
        "are measured, so one noisy epoch does not make a turn",
    ),
    "STILL_IMPROVING": (
        STILL_IMPROVING,
        "last epoch is the best and beat the earlier best by more than this (a fraction of it for unbounded "
        "metrics): still improving (more epochs may help)",
    ),
}

# Diagnosis labels.
OVERFITTING = "overfitting"
UNDERFITTING = "underfitting"
GOOD_FIT = "good fit"
UNSTABLE = "unstable/diverged"
NO_CURVES = "no curves recorded"
FAILED = "failed"
PRUNED = "pruned"
LABELS = (OVERFITTING, UNDERFITTING, GOOD_FIT, UNSTABLE, FAILED, NO_CURVES)  # the diagnoses; PRUNED is apart

# A study-level verdict needs this share of the top trials (or of all trials) to agree.
MAJORITY = 0.5

# Metrics whose values lie in [0, 1], so an absolute threshold means the same on every dataset.
_BOUNDED = ("accuracy", "auc", "precision", "recall", "f1", "f1_score")

# What the families write when training breaks down numerically ("loss became nan at epoch 3; training
# diverged"), matched as whole words: a substring test called "info" or "infeasible" unstable.
_DIVERGED = re.compile(r"\b(?:nan|[-+]?inf|infinity|diverged|divergence|non-finite|not finite)\b", re.IGNORECASE)


def is_bounded(metric: str) -> bool:
    """True for metrics that live in [0, 1] (``val_accuracy``, ``val_auc``...), judged with absolute thresholds."""
    return held_out_metric(metric).endswith(_BOUNDED)


def reason_is_divergence(reason: str) -> bool:
    """True when a failure reason says training diverged (NaN or infinite values), not some other failure."""
    return bool(_DIVERGED.search(reason))


@dataclass(frozen=True)
class Diagnosis:
    """One trial's diagnosis and the numbers behind it. Epochs are 1-based.

    Gaps compare the objective's training value with its validation value (``fit_metric``), signed so that a
    positive gap means training looks better, whatever the direction. ``gap_limit`` is the threshold applied to
    the gap at the last epoch, in the metric's units.
    """

    label: str
    reason: str
    epochs: int = 0
    best_epoch: int | None = None
    fit_metric: str | None = None
    gap_at_best: float | None = None
    gap_at_end: float | None = None
    gap_limit: float | None = None
    train_value_at_end: float | None = None
    val_loss_min_epoch: int | None = None
    val_loss_rise: float | None = None  # (last - min) / min of the validation loss
    val_loss_slope_after_min: float | None = None  # mean change per epoch after the minimum
    still_improving: bool = False
    pruned_at_epoch: int | None = None
    prune_reason: str = ""

    @property
    def title(self) -> str:
        """The label as a reader sees it: a pruned trial says where it stopped and why."""
        if self.label != PRUNED:
            return self.label
        at = f"pruned at epoch {self.pruned_at_epoch}" if self.pruned_at_epoch else "pruned"
        return f"{at} ({self.prune_reason})" if self.prune_reason else at

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _finite(values: Sequence[float]) -> bool:
    return all(isinstance(v, int | float) and math.isfinite(v) for v in values)


def _best_index(values: Sequence[float], maximize: bool) -> int:
    best = 0
    for i, v in enumerate(values):
        if (v > values[best]) if maximize else (v < values[best]):
            best = i
    return best


def smoothed(values: Sequence[float], window: int | None = None) -> list[float]:
    """Centred moving average; near the ends the window shrinks to the epochs that exist."""
    half = (window or SMOOTHING_EPOCHS) // 2
    return [statistics.fmean(values[max(0, i - half) : i + half + 1]) for i in range(len(values))]


def _rel(delta: float, base: float) -> float:
    return delta / abs(base) if base else (math.inf if delta > 0 else 0.0)


def _objective(curves: Mapping[str, Sequence[float]], metric: str, maximize: bool) -> tuple[str | None, bool]:
    """The curve that picks the best epoch: the objective, else the validation loss every family records."""
    if metric in curves:
        return metric, maximize
    return ("val_loss", False) if "val_loss" in curves else (None, maximize)


def diagnose_curves(
    curves: Mapping[str, Sequence[float]] | None, metric: str = "val_accuracy", maximize: bool = True
) -> Diagnosis:
    """Diagnose one training run from its per-epoch curves; ``metric`` (with its direction) is the objective."""
    curves = {k: list(v) for k, v in (curves or {}).items() if isinstance(v, Sequence) and len(v) > 0}
    if not curves:
        return Diagnosis(NO_CURVES, "no per-epoch curves were recorded for this trial")
    epochs = max(len(v) for v in curves.values())
    bad = sorted(k for k, v in curves.items() if not _finite(v))
    if bad:
        first = min(next(i for i, x in enumerate(curves[k]) if not _finite([x])) for k in bad) + 1
        reason = f"{', '.join(bad)} not finite from epoch {first}: training diverged"
        return Diagnosis(UNSTABLE, reason, epochs=epochs)

    objective, maximize = _objective(curves, metric, maximize)
    bounded = objective is not None and is_bounded(objective)
    target = curves.get(objective) if objective else None
    best_i = _best_index(target, maximize) if target else None
    best_epoch = best_i + 1 if best_i is not None else None
    still = False
    if target and best_i == len(target) - 1 and len(target) > 1:
        earlier = target[_best_index(target[:-1], maximize)]
        margin = STILL_IMPROVING if bounded else STILL_IMPROVING * abs(earlier)
        still = abs(target[-1] - earlier) > margin

    # The gap compares the objective with its own training counterpart (val_rmse with rmse), signed so that
    # positive means training looks better in either direction.
    train_name = held_out_metric(objective) if objective and objective.startswith("val_") else None
    train, val = (curves.get(train_name), target) if train_name else (None, None)
    sign = 1.0 if maximize else -1.0
    gap_best = gap_end = train_end = limit = None
    if train and val:
        n = min(len(train), len(val))
        gap_end = sign * (train[n - 1] - val[n - 1])
        train_end = train[-1]
        limit = OVERFIT_GAP if bounded else OVERFIT_GAP_RELATIVE * abs(val[n - 1])
        if best_i is not None and best_i < n:
            gap_best = sign * (train[best_i] - val[best_i])

    loss, val_loss = curves.get("loss"), curves.get("val_loss")
    min_epoch = rise = slope = None
    if val_loss:
        # The minimum of a noisy curve is itself a downward blip, so a raw "end vs minimum" comparison calls
        # noise a turn; a small centred moving average keeps the turning point and drops the blips.
        smooth = smoothed(val_loss)
        min_i = _best_index(smooth, maximize=False)
        min_epoch = min_i + 1
        rise = _rel(smooth[-1] - smooth[min_i], smooth[min_i])
        after = len(smooth) - 1 - min_i
        slope = (smooth[-1] - smooth[min_i]) / after if after else 0.0
    common: dict[str, Any] = dict(
        epochs=epochs,
        best_epoch=best_epoch,
        fit_metric=objective if train_name and gap_end is not None else None,
        gap_at_best=gap_best,
        gap_at_end=gap_end,
        gap_limit=limit,
        train_value_at_end=train_end,
        val_loss_min_epoch=min_epoch,
        val_loss_rise=rise,
        val_loss_slope_after_min=slope,
        still_improving=still,
    )

    if loss and len(loss) > 1:
        # Near zero, a tiny wobble is a large relative jump: measure against at least a tenth of the first loss.
        floor = UNSTABLE_LOSS_FLOOR * abs(loss[0])
        jumps = [(i + 2, _rel(loss[i + 1] - loss[i], max(loss[i], floor))) for i in range(len(loss) - 1)]
        epoch, worst = max(jumps, key=lambda j: j[1])
        if worst > UNSTABLE_TRAIN_LOSS_JUMP:
            reason = f"training loss jumped {worst:+.0%} at epoch {epoch} (threshold +{UNSTABLE_TRAIN_LOSS_JUMP:.0%})"
            return Diagnosis(UNSTABLE, reason, **common)
        if loss[-1] > loss[0]:
            reason = f"training loss ended higher than it started ({loss[0]:.3g} -> {loss[-1]:.3g})"
            return Diagnosis(UNSTABLE, reason, **common)
    train_falling = not loss or min_epoch is None or loss[-1] <= loss[min(min_epoch, len(loss)) - 1]
    turned = min_epoch is not None and val_loss is not None and min_epoch < len(val_loss)
    if turned and train_falling and rise is not None and rise >= OVERFIT_VAL_LOSS_RISE:
        reason = (
            f"validation loss ({SMOOTHING_EPOCHS}-epoch average) bottomed at epoch {min_epoch} then rose {rise:+.0%} "
            f"by epoch {len(val_loss or [])} "
            f"while training loss kept falling (threshold +{OVERFIT_VAL_LOSS_RISE:.0%})"
        )
        return Diagnosis(OVERFITTING, reason, **common)
    name = train_name or "objective"
    # Dropout and augmentation lower the training score Keras reports (it is measured on perturbed inputs),
    # so a low training score alone is no proof: a validation score above the bar shows the model learned.
    judge_under = bounded and maximize and train_end is not None
    best_val = max(val) if val and judge_under else None
    if (
        judge_under
        and train_end is not None
        and train_end < UNDERFIT_SCORE
        and (best_val is None or best_val < UNDERFIT_SCORE)
    ):
        reason = f"training {name} only {train_end:.3f} at the last epoch"
        if best_val is not None:
            reason += f", validation at best {best_val:.3f}"
        reason += f" (threshold {UNDERFIT_SCORE:.2f})"
        return Diagnosis(UNDERFITTING, reason, **common)
    if gap_end is not None and limit is not None and gap_end > limit:
        return Diagnosis(
            OVERFITTING,
            f"train-validation {name} gap {gap_end:.3f} at the last epoch (threshold {limit:.3g})",
            **common,
        )
    parts = []
    if gap_end is not None and limit is not None:
        parts.append(f"{name} gap {gap_end:.3f} at the last epoch (<= {limit:.3g})")
    if judge_under and train_end is not None:
        if train_end >= UNDERFIT_SCORE:
            parts.append(f"training {name} {train_end:.3f} (>= {UNDERFIT_SCORE:.2f})")
        else:
            parts.append(
                f"training {name} {train_end:.3f} is low but validation reached {best_val:.3f} "
                "(dropout or augmentation lower the reported training score)"
            )
    if rise is not None:
        parts.append(f"validation loss {rise:+.0%} from its minimum")
    if not judge_under:
        what = f"{objective} has no absolute bar" if objective and not (bounded and maximize) else "no training curve"
        parts.append(f"underfitting not judged ({what})")
    return Diagnosis(GOOD_FIT, "; ".join(parts) or "no warning signs", **common)


def diagnose_trial(trial: TrialRecord | Any, metric: str = "val_accuracy", maximize: bool = True) -> Diagnosis:
    """Diagnose one trial: a :class:`automl.study.record.TrialRecord`, or an Optuna ``FrozenTrial`` read through it.

    A pruned trial is labelled "pruned at epoch N" whatever its curves show: it was stopped before it could fit.
    A failed trial's stored curves stop before the epoch that broke it, so its failure reason decides.
    """
    record = trial if isinstance(trial, TrialRecord) else read_trial(trial)
    diagnosis = diagnose_curves(record.curves, metric, maximize)
    if record.state == "PRUNED":
        at = record.pruned_at_epoch or record.epochs_seen or diagnosis.epochs or None
        reason = f"stopped at epoch {at} by {record.prune_reason or 'the pruner'}" if at else "stopped early"
        reason += "; a trial stopped early is not judged for over- or underfitting"
        return replace(diagnosis, label=PRUNED, reason=reason, pruned_at_epoch=at, prune_reason=record.prune_reason)
    if record.state == "FAIL":
        if reason_is_divergence(record.fail_reason):
            return replace(diagnosis, label=UNSTABLE, reason=record.fail_reason)
        if diagnosis.label != UNSTABLE:
            return replace(diagnosis, label=FAILED, reason=record.fail_reason or "failed without a recorded reason")
    return diagnosis
