"""What a study's diagnoses add up to (pure): how many trials overfit, underfit or are still improving, among all
and among the best, and what to try next. The per-trial diagnoses are :mod:`automl.analysis.diagnostics`'s.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from automl.analysis.diagnostics import (
    FAILED,
    GOOD_FIT,
    LABELS,
    MAJORITY,
    NO_CURVES,
    OVERFITTING,
    PRUNED,
    UNDERFIT_SCORE,
    UNDERFITTING,
    UNSTABLE,
    Diagnosis,
)
from automl.study.record import TrialKey, held_out_metric


@dataclass
class StudySummary:
    """What the diagnoses of a study add up to, and what to do about it. Pruned trials are counted apart
    (``n_pruned``): they are not in ``counts`` and never make a verdict."""

    n_trials: int
    n_with_curves: int
    counts: dict[str, int]
    top_k: int
    top_counts: dict[str, int]
    typical_turn_epoch: float | None  # median epoch where validation loss bottomed, over trials that overfit
    median_best_epoch_top: float | None
    top_still_improving: int
    n_pruned: int = 0
    metric: str = "value"
    # what to change when the top trials overfit, per family, when their families say it in their own parameters
    overfit_remedies: list[str] = field(default_factory=list)
    recommendations: list[str] = field(default_factory=list)

    @property
    def n_diagnosed(self) -> int:
        return self.n_trials - self.n_pruned

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
    metric: str = "value",
    max_epochs: int | None = None,
    unstable_lr: tuple[float, float] | None = None,
    overfit_remedies: Sequence[str] = (),
) -> StudySummary:
    """Summarise all trials' diagnoses and the top ones' (best first) into counts and recommendations.

    ``unstable_lr`` is (median learning rate of unstable trials, median of the others), when known, so the
    advice can say which end of the range to cut. ``overfit_remedies`` (e.g. ``"sklearn_svm: lower C"``), when
    given, replace the network advice (L2, dropout, the epoch budget) for a study whose best trials overfit.
    """
    with_curves = [d for d in diagnoses if d.label not in (NO_CURVES, FAILED, PRUNED)]

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
        n_pruned=sum(d.label == PRUNED for d in diagnoses),
        metric=metric,
        overfit_remedies=list(overfit_remedies),
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
        if s.n_pruned and s.n_pruned == s.n_trials:
            return [
                f"All {s.n_pruned} trials were pruned, so none ran long enough to judge its fit: loosen the pruner "
                "(more warm-up epochs) or raise the trial budget."
            ]
        return [
            "No per-epoch curves were recorded, so over- and underfitting cannot be judged. Searches run "
            "with `automl search` record them; for other studies, store each epoch's metrics in the "
            f"trial's {TrialKey.CURVES!r} user attribute."
        ]
    advice: list[str] = []
    top_with_curves = sum(v for k, v in s.top_counts.items() if k not in (NO_CURVES, FAILED))
    top_over = s.top_counts.get(OVERFITTING, 0)
    if top_with_curves and top_over / top_with_curves > MAJORITY - 1e-9 and top_over and s.overfit_remedies:
        advice.append(f"{top_over} of the top {s.top_k} configurations overfit: {'; '.join(s.overfit_remedies)}.")
    elif top_with_curves and top_over / top_with_curves > MAJORITY - 1e-9 and top_over:
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
            f"{under} of {s.n_with_curves} trials that ran to the end underfit (training and validation "
            f"{held_out_metric(s.metric)} below {UNDERFIT_SCORE:.2f}): widen the layers, raise the learning-rate "
            "range, or allow more epochs."
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
