"""Over- and underfitting diagnosis from per-epoch curves: pure functions on numbers.

A trial's curves are ``{"loss": [...], "accuracy": [...], "val_loss": [...], "val_accuracy": [...]}`` with one
value per epoch (Keras's history names). Every threshold below is a named constant so the report can state it.

The decision, per trial, in this order (first match wins):

1. **unstable/diverged**: a non-finite value in any curve, a training loss that jumps up by more than
   ``UNSTABLE_TRAIN_LOSS_JUMP`` from one epoch to the next, or a training loss that ends above where it
   started. Training loss should fall steadily; when it does not, the optimizer is overshooting.
2. **overfitting** (validation loss turned): the validation loss ends at least ``OVERFIT_VAL_LOSS_RISE`` above
   its minimum, reached before the last epoch, while the training loss kept falling.
3. **underfitting**: the training accuracy at the last epoch and the best validation accuracy are both below
   ``UNDERFIT_ACCURACY``: the model
   does not even fit the data it trains on.
4. **overfitting** (gap): the train-minus-validation accuracy gap at the last epoch exceeds ``OVERFIT_GAP``.
5. **good fit** otherwise.

Underfitting is checked before the gap because a model that barely learns can show a gap between two poor
accuracies; calling that overfitting would send the user the wrong way (more regularisation).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

# --- thresholds (stated in every report) ---------------------------------------------------------------
OVERFIT_GAP = 0.05  # train - validation accuracy at the last epoch above this: overfitting
OVERFIT_VAL_LOSS_RISE = 0.10  # validation loss ending >= 10% above its minimum: overfitting (the loss turned)
UNDERFIT_ACCURACY = 0.90  # training (last epoch) and best validation accuracy below this: underfitting
UNSTABLE_TRAIN_LOSS_JUMP = 0.25  # training loss rising > 25% in one epoch: unstable
UNSTABLE_LOSS_FLOOR = 0.1  # ... measured against at least this fraction of the first epoch's loss
SMOOTHING_EPOCHS = 3  # validation loss is averaged over this many neighbouring epochs before finding its turn
STILL_IMPROVING = 0.002  # last epoch is the best, by more than this: still improving

THRESHOLDS: dict[str, tuple[float, str]] = {
    "OVERFIT_GAP": (OVERFIT_GAP, "train minus validation accuracy at the last epoch above this: overfitting"),
    "OVERFIT_VAL_LOSS_RISE": (
        OVERFIT_VAL_LOSS_RISE,
        "validation loss ending this fraction or more above its minimum (reached before the last epoch): overfitting",
    ),
    "UNDERFIT_ACCURACY": (
        UNDERFIT_ACCURACY,
        "training accuracy at the last epoch and best validation accuracy both below this: underfitting",
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
        "last epoch is the best and beat the earlier best by more than this: still improving (more epochs may help)",
    ),
}

# Diagnosis labels.
OVERFITTING = "overfitting"
UNDERFITTING = "underfitting"
GOOD_FIT = "good fit"
UNSTABLE = "unstable/diverged"
NO_CURVES = "no curves recorded"
FAILED = "failed"
LABELS = (OVERFITTING, UNDERFITTING, GOOD_FIT, UNSTABLE, FAILED, NO_CURVES)

# A study-level verdict needs this share of the top trials (or of all trials) to agree.
MAJORITY = 0.5


@dataclass(frozen=True)
class Diagnosis:
    """One trial's diagnosis and the numbers behind it. Epochs are 1-based; gaps are train - validation."""

    label: str
    reason: str
    epochs: int = 0
    best_epoch: int | None = None
    gap_at_best: float | None = None
    gap_at_end: float | None = None
    train_accuracy_at_end: float | None = None
    val_loss_min_epoch: int | None = None
    val_loss_rise: float | None = None  # (last - min) / min of the validation loss
    val_loss_slope_after_min: float | None = None  # mean change per epoch after the minimum
    still_improving: bool = False

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


def diagnose_curves(
    curves: Mapping[str, Sequence[float]] | None, metric: str = "val_accuracy", maximize: bool = True
) -> Diagnosis:
    """Diagnose one training run from its per-epoch curves; ``metric`` picks the best epoch."""
    curves = {k: list(v) for k, v in (curves or {}).items() if isinstance(v, Sequence) and len(v) > 0}
    if not curves:
        return Diagnosis(NO_CURVES, "no per-epoch curves were recorded for this trial")
    epochs = max(len(v) for v in curves.values())
    bad = sorted(k for k, v in curves.items() if not _finite(v))
    if bad:
        first = min(next(i for i, x in enumerate(curves[k]) if not _finite([x])) for k in bad) + 1
        reason = f"{', '.join(bad)} not finite from epoch {first}: training diverged"
        return Diagnosis(UNSTABLE, reason, epochs=epochs)

    if metric not in curves:
        # Fall back to what every Keras run records, so another metric name still gets a best epoch.
        metric, maximize = ("val_accuracy", True) if "val_accuracy" in curves else ("val_loss", False)
    target = curves.get(metric)
    best_i = _best_index(target, maximize) if target else None
    best_epoch = best_i + 1 if best_i is not None else None
    still = False
    if target and best_i == len(target) - 1 and len(target) > 1:
        earlier = target[_best_index(target[:-1], maximize)]
        still = abs(target[-1] - earlier) > STILL_IMPROVING

    acc, val_acc = curves.get("accuracy"), curves.get("val_accuracy")
    gap_best = gap_end = train_acc_end = None
    if acc and val_acc:
        n = min(len(acc), len(val_acc))
        gap_end = acc[n - 1] - val_acc[n - 1]
        train_acc_end = acc[len(acc) - 1]
        if best_i is not None and best_i < n:
            gap_best = acc[best_i] - val_acc[best_i]

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
    common = dict(
        epochs=epochs,
        best_epoch=best_epoch,
        gap_at_best=gap_best,
        gap_at_end=gap_end,
        train_accuracy_at_end=train_acc_end,
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
    # Dropout and augmentation lower the training accuracy Keras reports (it is measured on perturbed inputs),
    # so a low training accuracy alone is no proof: a validation accuracy above the bar shows the model learned.
    best_val_acc = max(val_acc) if val_acc else None
    low_val = best_val_acc is None or best_val_acc < UNDERFIT_ACCURACY
    if train_acc_end is not None and train_acc_end < UNDERFIT_ACCURACY and low_val:
        reason = f"training accuracy only {train_acc_end:.3f} at the last epoch"
        if best_val_acc is not None:
            reason += f", validation at best {best_val_acc:.3f}"
        reason += f" (threshold {UNDERFIT_ACCURACY:.2f})"
        return Diagnosis(UNDERFITTING, reason, **common)
    if gap_end is not None and gap_end > OVERFIT_GAP:
        return Diagnosis(
            OVERFITTING,
            f"train-validation accuracy gap {gap_end:.3f} at the last epoch (threshold {OVERFIT_GAP:.2f})",
            **common,
        )
    parts = []
    if gap_end is not None:
        parts.append(f"gap {gap_end:.3f} at the last epoch (<= {OVERFIT_GAP:.2f})")
    if train_acc_end is not None:
        if train_acc_end >= UNDERFIT_ACCURACY:
            parts.append(f"training accuracy {train_acc_end:.3f} (>= {UNDERFIT_ACCURACY:.2f})")
        else:
            parts.append(
                f"training accuracy {train_acc_end:.3f} is low but validation reached {best_val_acc:.3f} "
                "(dropout or augmentation lower the reported training accuracy)"
            )
    if rise is not None:
        parts.append(f"validation loss {rise:+.0%} from its minimum")
    if train_acc_end is None:
        parts.append("no accuracy curves, so underfitting was not judged")
    return Diagnosis(GOOD_FIT, "; ".join(parts) or "no warning signs", **common)


def diagnose_trial(trial: Any, metric: str = "val_accuracy", maximize: bool = True) -> Diagnosis:
    """Diagnose an Optuna ``FrozenTrial`` (or anything with ``state``, ``user_attrs``).

    A failed trial's stored curves stop before the epoch that broke it, so its failure reason decides.
    """
    attrs = getattr(trial, "user_attrs", {}) or {}
    state = getattr(getattr(trial, "state", None), "name", "")
    reason = str(attrs.get("fail_reason") or "")
    diagnosis = diagnose_curves(attrs.get("curves"), metric, maximize)
    if state == "FAIL":
        lowered = reason.lower()
        if any(word in lowered for word in ("diverged", "nan", "inf")):
            return _replace(diagnosis, label=UNSTABLE, reason=reason)
        if diagnosis.label != UNSTABLE:
            return _replace(diagnosis, label=FAILED, reason=reason or "failed without a recorded reason")
    if state == "PRUNED" and diagnosis.label != NO_CURVES:
        at = attrs.get("pruned_at_epoch") or diagnosis.epochs
        return _replace(diagnosis, reason=f"{diagnosis.reason}; pruned at epoch {at}")
    return diagnosis


def _replace(d: Diagnosis, **changes: Any) -> Diagnosis:
    return Diagnosis(**{**d.to_dict(), **changes})


# --- the study level ------------------------------------------------------------------------------------


@dataclass
class StudySummary:
    """What the diagnoses of a study add up to, and what to do about it."""

    n_trials: int
    n_with_curves: int
    counts: dict[str, int]
    top_k: int
    top_counts: dict[str, int]
    typical_turn_epoch: float | None  # median epoch where validation loss bottomed, over trials that overfit
    median_best_epoch_top: float | None
    top_still_improving: int
    recommendations: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _count(diagnoses: Sequence[Diagnosis]) -> dict[str, int]:
    counts = {label: sum(d.label == label for d in diagnoses) for label in LABELS}
    return {label: n for label, n in counts.items() if n}


def _median(values: Sequence[float]) -> float | None:
    return float(statistics.median(values)) if values else None


def summarize(
    diagnoses: Sequence[Diagnosis],
    top: Sequence[Diagnosis],
    *,
    max_epochs: int | None = None,
    unstable_lr: tuple[float, float] | None = None,
) -> StudySummary:
    """Summarise all trials' diagnoses and the top ones' (best first) into counts and recommendations.

    ``unstable_lr`` is (median learning rate of unstable trials, median of the others), when known, so the
    advice can say which end of the range to cut.
    """
    with_curves = [d for d in diagnoses if d.label not in (NO_CURVES, FAILED)]

    def turns(ds: Sequence[Diagnosis]) -> list[float]:
        return [d.val_loss_min_epoch for d in ds if d.label == OVERFITTING and d.val_loss_min_epoch]

    # The top trials' turning point is what the advice is about; all trials' only when no top trial overfit.
    turn = _median(turns(top) or turns(diagnoses))
    best_epochs = [d.best_epoch for d in top if d.best_epoch]
    summary = StudySummary(
        n_trials=len(diagnoses),
        n_with_curves=len(with_curves),
        counts=_count(diagnoses),
        top_k=len(top),
        top_counts=_count(top),
        typical_turn_epoch=turn,
        median_best_epoch_top=_median(best_epochs),
        top_still_improving=sum(d.still_improving for d in top),
    )
    summary.recommendations = recommend(summary, max_epochs=max_epochs, unstable_lr=unstable_lr)
    return summary


def recommend(
    s: StudySummary, *, max_epochs: int | None = None, unstable_lr: tuple[float, float] | None = None
) -> list[str]:
    """Plain-language advice, most important first. Pure: reads only the summary's numbers."""
    if s.n_trials == 0:
        return ["The study has no trials yet: run a search first."]
    if s.n_with_curves == 0:
        return [
            "No per-epoch curves were recorded, so over- and underfitting cannot be judged. Searches run "
            "with `automl search` record them; for other studies, store each epoch's metrics in the "
            "trial's 'curves' user attribute."
        ]
    advice: list[str] = []
    top_with_curves = sum(v for k, v in s.top_counts.items() if k not in (NO_CURVES, FAILED))
    top_over = s.top_counts.get(OVERFITTING, 0)
    if top_with_curves and top_over / top_with_curves > MAJORITY - 1e-9 and top_over:
        when = f" after epoch {s.typical_turn_epoch:g}" if s.typical_turn_epoch else ""
        budget = ""
        if s.typical_turn_epoch and max_epochs and s.typical_turn_epoch < max_epochs:
            budget = f" (about {math.ceil(s.typical_turn_epoch) + 1} instead of {max_epochs})"
        advice.append(
            f"{top_over} of the top {s.top_k} configurations overfit{when}: raise L2 or dropout, "
            f"or lower the epoch budget{budget}."
        )
    under = s.counts.get(UNDERFITTING, 0)
    if under / s.n_with_curves > MAJORITY - 1e-9 and under:
        advice.append(
            f"{under} of {s.n_with_curves} trials underfit (training and validation accuracy below "
            f"{UNDERFIT_ACCURACY:.2f}): widen the layers, raise the learning-rate range, "
            "or allow more epochs."
        )
    unstable = s.counts.get(UNSTABLE, 0)
    if unstable and unstable / max(s.n_trials, 1) >= 0.2:
        fix = " Lower the learning-rate range."
        if unstable_lr and unstable_lr[0] > unstable_lr[1]:
            fix = (
                f" Their median learning rate was {unstable_lr[0]:.2g} against {unstable_lr[1]:.2g} for the "
                "rest: lower the upper bound of the learning-rate range."
            )
        advice.append(f"{unstable} of {s.n_trials} trials were unstable or diverged.{fix}")
    if s.top_k and s.top_still_improving / s.top_k > MAJORITY - 1e-9 and s.top_still_improving:
        advice.append(
            f"{s.top_still_improving} of the top {s.top_k} were still improving at their last epoch: "
            "raise the epoch budget."
        )
    if not advice:
        good = s.top_counts.get(GOOD_FIT, 0)
        advice.append(
            f"{good} of the top {s.top_k} configurations fit well (no large gap, validation loss did not "
            "turn): the space looks well sized; more trials, not a different space, are the next step."
        )
    return advice
