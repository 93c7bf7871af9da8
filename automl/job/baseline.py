"""The baseline and reference models the winner is judged against, trained on train+validation and scored once on
the held-out split.

The baseline (the tutorial's MLP, a default linear model) trains before the search starts, and is recorded in the
study: its cost is then measured rather than guessed, and the final stage neither trains it nor holds time back for
it (the job clock had costed the tutorial's small MLP at a share of the winner's epochs, a CNN's on official-size
data, and left a quarter of the budget unused). It depends on the data alone, never on the search, so scoring it
first tells the search nothing. The references (a majority-class predictor, the winner's family at its defaults)
depend on the winner's family, so the final stage scores them. A study recorded before this module, or for other
data, has no usable record: the final stage then trains the baseline itself, as it always did.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from automl.analysis.intervals import reported_interval
from automl.models.base import ModelFamily, NullReporter, Reference, Reporter
from automl.models.registry import get_family
from automl.spaces import SearchSpace
from automl.study.record import StudyKey, held_out_metric

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BaselineRecord:
    """The baseline's held-out score, the metric it is in, the seconds it took and the data it was scored on."""

    label: str
    test_metric: str
    test_value: float | None
    seconds: float = 0.0
    data_fingerprint: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def baseline_family(space: SearchSpace, winner_family: str) -> ModelFamily | None:
    """The family that trains the baseline: the winner's family's choice, else the first of the space's families
    that names a baseline; None when none does."""
    for name in (winner_family, *space.families):
        family = get_family(name)
        if family.baseline is not None:
            return get_family(family.baseline_family) if family.baseline_family else family
    return None


def baseline_epochs(reference: ModelFamily | None, task: str = "classification", recorded: bool = False) -> int | None:
    """The baseline's training length in its family's epochs or steps (1 for a model fitted in one go), counted
    once more for each further reference model the family scores, so a plan that trains them leaves time for them;
    with the baseline ``recorded`` (trained before the search), only the references' share (None: nothing left)."""
    if reference is None or reference.baseline is None:
        return None
    models = len(reference.references(task)) + (0 if recorded else 1)
    return reference.epochs_for_final(reference.baseline, None) * models or None


def score_reference(ref: Reference, data: Any, test_metric: str, seed: int) -> dict[str, Any]:
    """One reference model trained on train+validation and scored on the held-out split, with its interval."""
    reference_family = get_family(ref.family)
    config = dict(ref.config)
    model = reference_family.fit_final(config, data, reference_family.epochs_for_final(config, None), seed)
    evaluation = reference_family.evaluate(model, data.x_test, data.y_test)
    value = evaluation.metrics.get(test_metric)
    interval = reported_interval(test_metric, evaluation.intervals, evaluation.per_example)
    return {
        "label": ref.label,
        "family": ref.family,
        "test_value": float(value) if value is not None else None,
        "ci_low": interval[0] if interval else None,
        "ci_high": interval[1] if interval else None,
    }


def train_baseline(
    space: SearchSpace,
    family_name: str,
    data: Any,
    metric: str,
    seed: int,
    say: Callable[[str], None],
    reporter: Reporter | None = None,
) -> BaselineRecord | None:
    """Train and score the baseline of ``family_name`` (or of the space's first family that names one); None when
    no family of the space does."""
    started = time.monotonic()
    reference = baseline_family(space, family_name)
    if reference is None or reference.baseline is None:
        return None
    test_metric = held_out_metric(metric)
    say(f"training the baseline: {reference.baseline_label}")
    config = dict(reference.baseline)
    model = reference.fit_final(config, data, int(config.get("epochs", 10)), seed, reporter or NullReporter())
    value = reference.evaluate(model, data.x_test, data.y_test).metrics.get(test_metric)
    return BaselineRecord(
        label=reference.baseline_label,
        test_metric=test_metric,
        test_value=float(value) if value is not None else None,
        seconds=round(time.monotonic() - started, 1),
        data_fingerprint=data.fingerprint(),
    )


def record_baseline(study: Any, record: BaselineRecord) -> None:
    study.set_user_attr(StudyKey.BASELINE, record.to_dict())


def recorded_baseline(study: Any, data: Any, metric: str) -> BaselineRecord | None:
    """The baseline recorded for exactly this data and held-out metric; None when there is none (an older study,
    other data): the final stage then trains it itself."""
    raw = study.user_attrs.get(StudyKey.BASELINE)
    if not isinstance(raw, dict) or raw.get("data_fingerprint") != data.fingerprint():
        return None
    if raw.get("test_metric") != held_out_metric(metric):
        return None
    try:
        return BaselineRecord(
            label=str(raw["label"]),
            test_metric=str(raw["test_metric"]),
            test_value=None if raw.get("test_value") is None else float(raw["test_value"]),
            seconds=float(raw.get("seconds") or 0.0),
            data_fingerprint=str(raw["data_fingerprint"]),
        )
    except (KeyError, TypeError, ValueError):
        return None


def baseline_first(context: Any, dataset: Any, seed: int, *, live: bool | None, quiet: bool) -> float | None:
    """Train and record the baseline of a search's study before its search (once per study and data), showing the
    steps as the final stage does; the seconds it took (None when none was trained: an earlier run of the study had
    recorded it, or no family of the space names a baseline)."""
    from automl.job.progress import StepLog

    study, space = context.study, context.space
    if recorded_baseline(study, dataset, context.settings.metric) is not None:
        return None
    with StepLog("baseline", live=live, quiet=quiet) as steps:
        record = train_baseline(space, space.families[0], dataset, context.settings.metric, seed, steps.say)
    if record is None:
        return None
    record_baseline(study, record)
    log.info("baseline: %s scored %s in %.1f s", record.label, record.test_value, record.seconds)
    return record.seconds
