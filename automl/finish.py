"""The end of a search: retrain the winner on train+validation, score it once on the held-out split next to the
family's baseline, and save the model with its configuration.

The winner is retrained with several seeds and, where the family can, the members are combined (a Keras family
averages their probabilities): retraining noise alone moves a single network by up to a point on a 1,000-image
test split. The final stage plans its work from what the search measured (:func:`plan_final`), so that it fits
the time the job has left; the plan and what it cost are recorded with the result.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from automl.errors import AutomlError
from automl.evaluation import mean_interval
from automl.models.base import ModelFamily, Reference
from automl.models.registry import get_family
from automl.record import FinalRecord, StudyKey, TrialRecord, held_out_metric, read_study, read_trial
from automl.spaces import SearchSpace, parse_space

log = logging.getLogger(__name__)

DEFAULT_MEMBERS = 3
SAFETY = 0.9  # plan to use at most this share of the time left: estimates from the search are rough
NEVER_CUT_SECONDS = 5.0  # a final stage estimated to take less than this runs in full, whatever the time left


def best_trial(study: Any) -> Any:
    """The study's best completed trial with a finite value.

    When none completed because the time budget stopped every trial (large data, a short budget), the best of
    the trials the deadline stopped, by the last value it reported: a partial result, but the best the budget
    bought; the final stage retrains it for the epochs it reached. Otherwise a one-line error.
    """
    from optuna.trial import TrialState

    record = read_study(study)
    pick = max if record.maximize else min
    complete = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)) if t.value is not None]
    complete = [t for t in complete if math.isfinite(t.value)]
    if complete:
        return pick(complete, key=lambda t: t.value)
    stopped = [
        t
        for t in study.get_trials(deepcopy=False, states=(TrialState.PRUNED,))
        if read_trial(t).prune_reason in STOPPED_BY_TIME and read_trial(t).last_value is not None
    ]
    if stopped:
        return pick(stopped, key=lambda t: read_trial(t).last_value)
    raise AutomlError(
        f"study {study.study_name!r}: no trial completed, so there is no winner to evaluate; "
        "raise --trials or --timeout"
    )


STOPPED_BY_TIME = ("time budget", "trial time cap")  # prune reasons that say nothing against the configuration


def _best_reported_epoch(trial: TrialRecord, study: Any) -> int | None:
    """The epoch of a stopped trial's best reported value (it recorded no best epoch of its own)."""
    if not trial.intermediate:
        return trial.epochs_seen
    pick = max if study.maximize else min
    return pick(trial.intermediate, key=lambda epoch: trial.intermediate[epoch])


def trial_config(trial: Any) -> dict[str, Any]:
    """The full configuration (fixed values included), falling back to the sampled params for foreign studies."""
    return read_trial(trial).config


def study_space(study: Any) -> SearchSpace:
    raw = read_study(study).space
    if raw is None:
        raise AutomlError(
            f"study {study.study_name!r}: records no search space (not created by automl), so automl cannot "
            "retrain its winner; run the search with automl"
        )
    return parse_space(raw, source=f"study {study.study_name}")


# --------------------------------------------------------------------------------------------------------------
# Planning (pure)


@dataclass(frozen=True)
class FinalPlan:
    """How the final stage spends its time: members retrained for ``epochs`` each, and whether the baseline runs."""

    members: int
    epochs: int
    baseline: bool
    seconds_per_member: float | None  # estimated
    seconds_for_baseline: float | None  # estimated
    note: str  # what was cut and why, in words; empty when nothing was

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def seconds_per_epoch(trial: TrialRecord, train_size: int, final_size: int) -> float | None:
    """The winner's training time per epoch in the search, scaled to the final stage's training-set size."""
    epochs = trial.epochs_seen
    if trial.train_seconds is None or not epochs or train_size <= 0:
        return None
    return trial.train_seconds / epochs * final_size / train_size


def plan_final(
    *,
    members: int,
    epochs: int,
    per_epoch: float | None,
    baseline_epochs: int | None,
    time_left: float | None,
) -> FinalPlan:
    """Fit the final stage into ``time_left`` seconds: first fewer members, then no baseline, then fewer epochs.

    ``per_epoch`` is the winner's estimated seconds per epoch on train+validation (None: unknown, plan in full).
    The baseline is costed like one epoch of the winner per baseline epoch, at most one member's cost: it is a
    small reference model by design (the tutorial's MLP next to a CNN), so this overestimates it, never wildly.
    """
    member_cost = None if per_epoch is None else per_epoch * epochs
    baseline_cost = None
    if per_epoch is not None and baseline_epochs:
        baseline_cost = min(per_epoch * baseline_epochs, member_cost or 0.0)
    full = FinalPlan(members, epochs, bool(baseline_epochs), member_cost, baseline_cost, "")
    if time_left is None or member_cost is None:
        return full
    # Work estimated at a few seconds is never cut: the estimate is rough there, and the baseline it would drop
    # is what the result is judged against.
    budget = max(NEVER_CUT_SECONDS, time_left * SAFETY)
    base = baseline_cost or 0.0
    if members * member_cost + base <= budget:
        return full
    left = f"{time_left:.0f} s were left and each member costs about {member_cost:.0f} s"
    with_baseline = int((budget - base) // member_cost) if member_cost > 0 else members
    if with_baseline >= 1:
        return FinalPlan(
            with_baseline, epochs, bool(baseline_epochs), member_cost, baseline_cost,
            f"{with_baseline} of {members} members retrained: {left}",
        )  # fmt: skip
    without_baseline = int(budget // member_cost) if member_cost > 0 else members
    if without_baseline >= 1:
        return FinalPlan(
            min(members, without_baseline), epochs, False, member_cost, None,
            f"{min(members, without_baseline)} of {members} members retrained and no baseline: {left}",
        )  # fmt: skip
    fit_epochs = max(1, int(budget // per_epoch)) if per_epoch else 1  # type: ignore[operator]
    return FinalPlan(
        1,
        min(epochs, fit_epochs),
        False,
        per_epoch * min(epochs, fit_epochs) if per_epoch else None,
        None,
        f"1 member retrained for {min(epochs, fit_epochs)} of {epochs} epochs and no baseline: {time_left:.0f} s "
        f"were left and a full member costs about {member_cost:.0f} s",
    )


# --------------------------------------------------------------------------------------------------------------
# Running the plan


class _EpochRelay:
    """A family reporter that tells the progress display which step and epoch the final stage is at."""

    def __init__(self, on_epoch: Callable[[str, int, int], None] | None, label: str, epochs: int) -> None:
        self.on_epoch, self.label, self.epochs = on_epoch, label, epochs

    def report(self, epoch: int, metrics: dict[str, float]) -> None:
        if self.on_epoch is not None:
            self.on_epoch(self.label, epoch, self.epochs)


def baseline_family(space: SearchSpace, winner_family: str) -> ModelFamily | None:
    """The family that trains the baseline: the winner's family's choice, else the first of the space's families
    that names a baseline; None when none does."""
    for name in (winner_family, *space.families):
        family = get_family(name)
        if family.baseline is not None:
            return get_family(family.baseline_family) if family.baseline_family else family
    return None


def score_reference(ref: Reference, data: Any, test_metric: str, seed: int) -> dict[str, Any]:
    """One reference model trained on train+validation and scored on the held-out split, with its interval."""
    reference_family = get_family(ref.family)
    config = dict(ref.config)
    model = reference_family.fit_final(config, data, reference_family.epochs_for_final(config, None), seed)
    evaluation = reference_family.evaluate(model, data.x_test, data.y_test)
    value = evaluation.metrics.get(test_metric)
    interval = evaluation.intervals.get(test_metric) or (
        mean_interval(evaluation.per_example[test_metric]) if test_metric in evaluation.per_example else None
    )
    return {
        "label": ref.label,
        "family": ref.family,
        "test_value": float(value) if value is not None else None,
        "ci_low": interval[0] if interval else None,
        "ci_high": interval[1] if interval else None,
    }


def baseline_epochs(reference: ModelFamily | None, task: str = "classification") -> int | None:
    """The baseline's training length in its family's epochs or steps (1 for a model fitted in one go), counted
    once more for each further reference model the family scores, so the plan leaves time for them too."""
    if reference is None or reference.baseline is None:
        return None
    return reference.epochs_for_final(reference.baseline, None) * (1 + len(reference.references(task)))


def finalize(
    study: Any,
    data: Any,
    out_dir: Path,
    seed: int = 0,
    members: int = DEFAULT_MEMBERS,
    time_left: float | None = None,
    on_step: Callable[[str], None] | None = None,
    on_epoch: Callable[[str, int, int], None] | None = None,
) -> FinalRecord:
    """Retrain, score, save and record the winner (see the module docstring); ``time_left`` bounds the stage."""
    started = time.monotonic()
    say = on_step or (lambda text: log.info("final: %s", text))
    record = read_study(study)
    space = study_space(study)
    winner = best_trial(study)
    winner_record = read_trial(winner)
    if winner_record.state != "COMPLETE":
        say(
            f"no trial completed within the time budget; using trial {winner.number}, stopped by the "
            f"{winner_record.prune_reason} at epoch {winner_record.pruned_at_epoch}, the best of those it stopped"
        )
    family_name, config = space.family_of(winner_record.config)
    family = get_family(family_name)
    reference = baseline_family(space, family_name)
    epochs = family.epochs_for_final(config, winner_record.best_epoch or _best_reported_epoch(winner_record, record))
    final_size = len(data.y_train) + len(data.y_val)
    plan = plan_final(
        members=max(1, min(members, family.max_members or members)),
        epochs=epochs,
        # a cross-validated trial trained every fold: its time per epoch covers cv_folds fits
        per_epoch=seconds_per_epoch(
            winner_record, len(data.y_train) * max(1, getattr(data, "cv_folds", 0)), final_size
        ),
        baseline_epochs=baseline_epochs(reference, str(getattr(data, "task", "classification"))),
        time_left=time_left,
    )
    if plan.note:
        say(plan.note)
    family.configure_threads(None)
    fitted = []
    for i in range(plan.members):
        label = f"member {i + 1} of {plan.members}"
        say(f"retraining {label} ({plan.epochs} epochs on {final_size} examples)")
        fitted.append(family.fit_final(config, data, plan.epochs, seed + i, _EpochRelay(on_epoch, label, plan.epochs)))
    test_metric = held_out_metric(record.metric)
    member_values = [family.evaluate(m, data.x_test, data.y_test).metrics.get(test_metric) for m in fitted]
    model = family.ensemble(fitted)
    evaluation = family.evaluate(model, data.x_test, data.y_test)
    if test_metric not in evaluation.metrics:
        raise AutomlError(
            f"study {study.study_name!r}: {family.name} does not compute {test_metric!r} on held-out data; "
            f"it computes {sorted(evaluation.metrics)}"
        )
    interval = evaluation.intervals.get(test_metric) or (
        mean_interval(evaluation.per_example[test_metric]) if test_metric in evaluation.per_example else None
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    model_path = family.save(model, out_dir)
    config_path = out_dir / "config.yaml"
    config_path.write_text(
        yaml.safe_dump(
            {
                "model": family_name,
                "config": config,
                "epochs": plan.epochs,
                "members": len(fitted),
                "study": study.study_name,
            },
            sort_keys=False,
        )
    )
    baseline_value = None
    if plan.baseline and reference is not None and reference.baseline is not None:
        say(f"training the baseline: {reference.baseline_label}")
        base = dict(reference.baseline)
        base_epochs = int(base.get("epochs", 10))
        base_model = reference.fit_final(base, data, base_epochs, seed, _EpochRelay(on_epoch, "baseline", base_epochs))
        baseline_value = reference.evaluate(base_model, data.x_test, data.y_test).metrics.get(test_metric)
    references = []
    if plan.baseline:
        for ref in family.references(str(getattr(data, "task", "classification"))):
            say(f"scoring the reference: {ref.label}")
            references.append(score_reference(ref, data, test_metric, seed))
    final = FinalRecord(
        best_trial=winner.number,
        config=winner_record.config,
        val_value=float(winner_record.last_value),  # type: ignore[arg-type]
        epochs=plan.epochs,
        test_metric=test_metric,
        test_value=float(evaluation.metrics[test_metric]),
        test_metrics={k: float(v) for k, v in evaluation.metrics.items()},
        n_test=len(data.y_test),
        ci_low=interval[0] if interval else None,
        ci_high=interval[1] if interval else None,
        baseline_label=reference.baseline_label if reference else "",
        baseline_test_value=float(baseline_value) if baseline_value is not None else None,
        model_path=str(model_path),
        config_path=str(config_path),
        member_test_values=tuple(float(v) for v in member_values if v is not None),
        references=tuple(references),
        final_stage={**plan.to_dict(), "seconds": round(time.monotonic() - started, 1)},
    )
    study.set_user_attr(StudyKey.FINAL, final.to_dict())
    return final
