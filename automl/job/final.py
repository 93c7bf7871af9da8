"""The end of a search: retrain the winner on train+validation, score it once on the held-out split next to the
family's baseline, and save the model with its configuration.

The winner is retrained with several seeds and, where the family can, the members are combined (a Keras family
averages their probabilities): retraining noise alone moves a single network by up to a point on a 1,000-image
test split. The final stage plans its work from what the search measured (:func:`plan_final`), so that it fits
the time the job has left; the plan and what it cost are recorded with the result.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

from automl.analysis.front import TradeOff
from automl.analysis.intervals import reported_interval
from automl.errors import AutomlError
from automl.job.baseline import (
    baseline_epochs,
    baseline_family,
    recorded_baseline,
    score_reference,
    train_baseline,
)
from automl.job.ensemble import EnsembleChoice, choose_ensemble
from automl.job.plan import (
    DEFAULT_MEMBERS,
    REUSE_SECONDS,
    FinalPlan,
    best_reported_epoch,
    best_trial,
    members_that_fit,
    plan_final,
    reuse_or_retrain,
    reuse_overhead,
    search_epoch_size,
    seconds_per_epoch,
    study_trade_off,
    winner_value,
)
from automl.models.base import ModelFamily, TrainingStopped
from automl.models.measures import model_latency_ms
from automl.models.registry import get_family
from automl.spaces import SearchSpace, parse_space
from automl.study.artifacts import fetch, kept_models
from automl.study.record import StudyKey, held_out_metric, read_trial
from automl.study.study_record import FinalRecord, read_study

log = logging.getLogger(__name__)


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


def _trade_off_entry(chosen: TradeOff, family: ModelFamily, model: Any, data: Any) -> dict[str, Any]:
    """The trade-off as the final record keeps it, with the final model's own latency (its size is the trial's)."""
    entry = chosen.to_dict()
    if "latency_ms" in family.cost_metrics:
        entry["final_latency_ms"] = round(model_latency_ms(family, model, data), 6)
    return entry


def _kept_of_family(study: Any, family_name: str, members: int) -> list[Any]:
    """The best kept models (at most ``members``) that ``family_name`` saved: one family's can be combined."""
    return [k for k in kept_models(study) if k.family == family_name][: max(1, members)]


def _reuse_plan(full: FinalPlan, kept: int, retrained: int, epochs: int, time_left: float | None) -> FinalPlan:
    """The plan when the kept models are reused, with ``retrained`` members of the winner beside them; the
    baseline (a small model, held for in the search's reserve) unless almost nothing is left."""
    baseline = full.baseline and (time_left is None or time_left >= REUSE_SECONDS)
    per_member = full.seconds_per_member if retrained else 0.0
    return FinalPlan(
        kept + retrained, epochs, baseline, per_member, full.seconds_for_baseline if baseline else None, ""
    )


# --------------------------------------------------------------------------------------------------------------
# Running the plan


class _EpochRelay:
    """A family reporter that tells the progress display which step and epoch the final stage is at, and stops a
    retraining whose next epoch, at the pace measured so far, would end after ``ends`` (monotonic seconds)."""

    def __init__(
        self, on_epoch: Callable[[str, int, int], None] | None, label: str, epochs: int, ends: float | None = None
    ) -> None:
        self.on_epoch, self.label, self.epochs, self.ends = on_epoch, label, epochs, ends
        self.began = time.monotonic()
        self.stopped_at: int | None = None

    def report(self, epoch: int, metrics: dict[str, float]) -> None:
        if self.on_epoch is not None:
            self.on_epoch(self.label, epoch, self.epochs)
        now = time.monotonic()
        if self.ends is not None and epoch < self.epochs and now + (now - self.began) / epoch > self.ends:
            self.stopped_at = epoch
            raise TrainingStopped()


# Scoring the final model on the held-out split and saving it, after the last member: a member is stopped early
# rather than let the job run past its budget (the retraining's pace can exceed the search's estimate of it).
FINISH_SECONDS = 5.0


def _retrain(
    family: ModelFamily,
    config: dict[str, Any],
    data: Any,
    epochs: int,
    seed: int,
    planned: int,
    at_most: int,
    fits_another: Callable[[float], bool],
    say: Callable[[str], None],
    on_epoch: Callable[[str, int, int], None] | None,
    ends: float | None = None,
    have_others: bool = False,
) -> list[Any]:
    """Retrain ``planned`` members of the winner on train+validation, then more (up to ``at_most``) while
    ``fits_another`` says one more fits, given the seconds the last member took. A member whose next epoch would
    end after ``ends`` stops there (the family returns it as it is), and no member follows it; one that cannot
    stop is dropped when there are other models (``have_others``: kept ones, earlier members)."""
    members: list[Any] = []
    final_size = len(data.y_train) + len(data.y_val)
    took = 0.0  # seconds the last member took
    while len(members) < planned or (0 < len(members) < at_most and fits_another(took)):
        label = f"member {len(members) + 1}" + (f" of {planned}" if len(members) < planned else " (time allows)")
        say(f"retraining {label} ({epochs} epochs on {final_size} examples)")
        began = time.monotonic()
        relay = _EpochRelay(on_epoch, label, epochs, ends)
        try:
            members.append(family.fit_final(config, data, epochs, seed + len(members), relay))
        except TrainingStopped:
            if not (have_others or members):
                raise
            say(f"{label} dropped: it could not stop at epoch {relay.stopped_at} and the time is running out")
            break
        took = time.monotonic() - began
        if relay.stopped_at is not None:
            say(f"{label} stopped after epoch {relay.stopped_at} of {epochs}: the job's time is running out")
            break
    return members


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
    # Picked off a trade-off (several objectives, bounds): one model of the picked configuration, neither an
    # average of members nor an ensemble of trials, whose size and latency would no longer be the trial's.
    chosen_off = study_trade_off(study)
    trading = chosen_off is not None
    if chosen_off is not None:
        members = 1
        say(f"picked trial {winner.number} by the rule '{chosen_off.rule}': {chosen_off.why}")
    reference = baseline_family(space, family_name)
    # Trained before the search by `automl search` (automl.job.baseline): then neither trained nor budgeted here.
    recorded = recorded_baseline(study, data, record.metric)
    if recorded is not None and reference is not None and recorded.label != reference.baseline_label:
        recorded = None  # recorded for another family of the space than the winner's: train the winner's
    epochs = family.epochs_for_final(config, winner_record.best_epoch or best_reported_epoch(winner_record, record))
    final_size = len(data.y_train) + len(data.y_val)
    planned: dict[str, Any] = {
        "members": max(1, min(members, family.max_members or members)),
        "epochs": epochs,
        "per_epoch": seconds_per_epoch(winner_record, search_epoch_size(data), final_size),
        "baseline_epochs": baseline_epochs(
            reference, str(getattr(data, "task", "classification")), recorded=recorded is not None
        ),
    }
    plan = plan_final(**planned, time_left=time_left)
    kept = [] if trading else _kept_of_family(study, family_name, planned["members"])
    reuse, why = reuse_or_retrain(plan, len(kept), time_left)
    family.configure_threads(None)
    fitted: list[Any] = []
    retrain = plan.members  # members of the winner retrained on train+validation
    overhead = reuse_overhead(planned["per_epoch"] or 0.0, planned["baseline_epochs"])

    def fits_another(seconds: float) -> bool:
        """Whether one more member fits at the pace the last one measured: the search's estimate is pessimistic
        (it includes validation), so the time it held back may hold more members than planned."""
        left = None if time_left is None else time_left - (time.monotonic() - started)
        return left is not None and members_that_fit(1, seconds, left, overhead) == 1

    if reuse:
        full = plan_final(**planned, time_left=None)
        wanted = space.settings.retrain_members
        retrain = members_that_fit(wanted, full.seconds_per_member, time_left, overhead)
        plan = _reuse_plan(full, len(kept), retrain, epochs, time_left)
        if retrain:
            why += f", with member(s) of the winner retrained on train+validation beside them ({retrain} planned)"
        elif wanted:
            why += f", without the {wanted} retrained member(s) asked for: they did not fit the time left"
        say(why)
        with tempfile.TemporaryDirectory(prefix="automl-kept-") as folder:
            for i, entry in enumerate(kept):
                say(f"loading the kept model of trial {entry.trial} ({i + 1} of {len(kept)})")
                fitted.append(family.load(fetch(study, entry, Path(folder) / str(entry.trial))))
    elif plan.note:
        say(plan.note)
    # a plan cut short retrains more members when the measured pace allows; one in full never needs to
    ends = None if time_left is None else started + time_left - FINISH_SECONDS
    retrained = _retrain(family, config, data, plan.epochs, seed, retrain, planned["members"], fits_another,
                         say, on_epoch, ends, have_others=bool(fitted))  # fmt: skip
    if len(retrained) > retrain and plan.note:
        plan = replace(
            plan, note=f"{plan.note}; {len(retrained) - retrain} more retrained, as the measured pace allowed"
        )
    retrain = len(retrained)
    fitted += retrained
    test_metric = held_out_metric(record.metric)
    member_values = [family.evaluate(m, data.x_test, data.y_test).metrics.get(test_metric) for m in fitted]
    model = family.ensemble(fitted)
    # An ensemble of the best trials replaces it when one beats the single best on validation (automl.job.ensemble),
    # in the time left after what the plan still holds for the baseline and references.
    spare = None if time_left is None else time_left - (time.monotonic() - started) - (plan.seconds_for_baseline or 0)
    if trading:
        chosen = EnsembleChoice(model, {"chosen": "single", "why": "picked off the trade-off: one model"})
    else:
        chosen = choose_ensemble(study, space, data, winner.number, model, seed, spare, say)
    model = chosen.model
    evaluation = family.evaluate(model, data.x_test, data.y_test)
    if test_metric not in evaluation.metrics:
        raise AutomlError(
            f"study {study.study_name!r}: {family.name} does not compute {test_metric!r} on held-out data; "
            f"it computes {sorted(evaluation.metrics)}"
        )
    interval = reported_interval(test_metric, evaluation.intervals, evaluation.per_example)
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
                # how to read the model's outputs in the user's own labels (automl predict uses it)
                "labels": data.labels() if hasattr(data, "labels") else {},
                **chosen.yaml_entry(),
            },
            sort_keys=False,
        )
    )
    if recorded is None and plan.baseline:
        base_epochs = int((reference.baseline or {}).get("epochs", 10)) if reference is not None else 0
        relay = _EpochRelay(on_epoch, "baseline", base_epochs)
        recorded = train_baseline(space, family_name, data, record.metric, seed, say, relay)
    references = []
    if plan.baseline:  # the references the plan held time for (a recorded baseline leaves only theirs)
        for ref in family.references(str(getattr(data, "task", "classification"))):
            say(f"scoring the reference: {ref.label}")
            references.append(score_reference(ref, data, test_metric, seed))
    final = FinalRecord(
        best_trial=winner.number,
        config=winner_record.config,
        val_value=winner_value(winner),
        epochs=plan.epochs,
        test_metric=test_metric,
        test_value=float(evaluation.metrics[test_metric]),
        test_metrics={k: float(v) for k, v in evaluation.metrics.items()},
        n_test=len(data.y_test),
        ci_low=interval[0] if interval else None,
        ci_high=interval[1] if interval else None,
        baseline_label=recorded.label if recorded else (reference.baseline_label if reference else ""),
        baseline_test_value=recorded.test_value if recorded else None,
        model_path=str(model_path),
        config_path=str(config_path),
        member_test_values=tuple(float(v) for v in member_values if v is not None),
        references=tuple(references),
        final_stage={
            **plan.to_dict(),
            "mode": "reuse" if reuse else "retrain",
            "why": why,
            "kept_trials": [k.trial for k in kept] if reuse else [],
            "retrained_members": retrain,
            "seconds": round(time.monotonic() - started, 1),
            "ensemble": chosen.record,
            **({"trade_off": _trade_off_entry(chosen_off, family, model, data)} if chosen_off is not None else {}),
        },
    )
    study.set_user_attr(StudyKey.FINAL, final.to_dict())
    return final
