"""Planning the final stage (pure): which trial won, what retraining it costs, and what fits the time left.

The job clock holds time back for this plan while the search runs (it is given a :class:`FinalStageEstimate`,
never this module), and :mod:`automl.job.final` carries the plan out.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from automl.analysis.front import TradeOff, recorded_trade_off
from automl.errors import AutomlError
from automl.study.artifacts import kept_models
from automl.study.record import StopReason, TrialRecord, primary_value, read_trial
from automl.study.study_record import read_study

DEFAULT_MEMBERS = 3
SAFETY = 0.9  # plan to use at most this share of the time left: estimates from the search are rough
NEVER_CUT_SECONDS = 5.0  # a final stage estimated to take less than this runs in full, whatever the time left
# Reusing the kept models (automl.study.artifacts) instead of retraining: loading and scoring them and saving the
# ensemble take seconds; the baseline is a small reference model (the tutorial's MLP next to a CNN trains an epoch
# several times faster than the winner), costed at this share of one winner epoch per baseline epoch.
REUSE_SECONDS = 10.0
BASELINE_SHARE = 0.25


def best_trial(study: Any) -> Any:
    """The study's best completed trial with a finite value.

    When none completed because the time budget stopped every trial (large data, a short budget), the best of
    the trials the deadline stopped, by the last value it reported: a partial result, but the best the budget
    bought; the final stage retrains it for the epochs it reached. Otherwise a one-line error.
    """
    from optuna.trial import TrialState

    record = read_study(study)
    pick = max if record.maximize else min
    complete = [
        t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)) if primary_value(t) is not None
    ]
    chosen = study_trade_off(study) if complete else None
    if chosen is not None:
        return next(t for t in complete if t.number == chosen.picked)
    if complete:
        return pick(complete, key=lambda t: primary_value(t) or 0.0)  # every one has a value (filtered above)
    stopped = [
        (value, t)
        for t in study.get_trials(deepcopy=False, states=(TrialState.PRUNED,))
        if read_trial(t).prune_reason in STOPPED_BY_TIME and (value := read_trial(t).last_value) is not None
    ]
    if stopped:
        return pick(stopped, key=lambda vt: vt[0])[1]
    raise AutomlError(
        f"study {study.study_name!r}: no trial completed, so there is no winner to evaluate; "
        "raise --trials or --timeout"
    )


def study_trade_off(study: Any) -> TradeOff | None:
    """The study's :class:`~automl.analysis.front.TradeOff` under its recorded objectives, bounds and pick rule;
    None for a search with one objective and no bounds."""
    record = read_study(study)
    trials = (read_trial(t) for t in study.get_trials(deepcopy=False))
    return recorded_trade_off(record.settings, f"study {record.name}", trials)


def winner_value(winner: Any) -> float:
    """The value :func:`best_trial` chose ``winner`` by: its objective, or the last one a stopped trial reported."""
    value = read_trial(winner).last_value
    if value is None:  # best_trial never picks such a trial
        raise AutomlError(f"trial {winner.number} reported no value, so it cannot be the winner")
    return float(value)


# Prune reasons that say nothing against the configuration.
STOPPED_BY_TIME = (StopReason.TIME_BUDGET, StopReason.TRIAL_TIME_CAP)


def best_reported_epoch(trial: TrialRecord, study: Any) -> int | None:
    """The epoch of a stopped trial's best reported value (it recorded no best epoch of its own)."""
    if not trial.intermediate:
        return trial.epochs_seen
    pick = max if study.maximize else min
    return pick(trial.intermediate, key=lambda epoch: trial.intermediate[epoch])


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
        return asdict(self)


# A validation pass costs about a third of a training pass over as many examples (a forward pass, no backward):
# a search epoch's time covers the validation split at this weight, a final epoch (no validation) does not.
VALIDATION_SHARE = 1 / 3


def search_epoch_size(dataset: Any) -> float:
    """Training examples one search epoch's time stands for: every fold's training rows for cross-validated
    tables; else the training split plus the validation split at VALIDATION_SHARE."""
    folds = int(getattr(dataset, "cv_folds", 0) or 0)
    if folds > 1:
        return float(len(dataset.y_train) * folds)
    return len(dataset.y_train) + len(dataset.y_val) * VALIDATION_SHARE


def seconds_per_epoch(trial: TrialRecord, train_size: float, final_size: int) -> float | None:
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
    The baseline is costed at BASELINE_SHARE of one epoch of the winner per baseline epoch, at most one member's
    cost: it is a small reference model by design (the tutorial's MLP next to a CNN). The search's reserve costs
    it the same way, so the final stage finds the time the search held back for it.
    """
    member_cost = None if per_epoch is None else per_epoch * epochs
    baseline_cost = None
    if per_epoch is not None and baseline_epochs:
        baseline_cost = min(per_epoch * baseline_epochs * BASELINE_SHARE, member_cost or 0.0)
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
    fit_epochs = max(1, int(budget // per_epoch)) if per_epoch else 1
    return FinalPlan(
        1,
        min(epochs, fit_epochs),
        False,
        per_epoch * min(epochs, fit_epochs) if per_epoch else None,
        None,
        f"1 member retrained for {min(epochs, fit_epochs)} of {epochs} epochs and no baseline: {time_left:.0f} s "
        f"were left and a full member costs about {member_cost:.0f} s",
    )


@dataclass(frozen=True)
class FinalStageEstimate:
    """Seconds the final stage would need, with its safety margin, from what the search measured."""

    train_size: float  # examples one search epoch's time stands for (search_epoch_size)
    final_size: int  # examples the final stage trains on
    members: int
    baseline_epochs: int | None
    # The plan, decided once before the search: reuse the kept models (the search runs until only the reuse's
    # cost is left) rather than stop early to retrain. The final stage still retrains when that fits the time left.
    reuse: bool = False
    # With reuse, members of the winner retrained on train+validation and averaged with the kept models: the
    # search holds their cost back too (the space's ``retrain_members``).
    retrain_members: int = 0
    # Seconds the final stage spends besides training, held when retraining is all it has: a trade-off's pick is
    # retrained alone, with no kept model to fall back on, so scoring, saving, timing it and the margin a member
    # stops short of the job's end by must fit too (for a small network they are most of the stage).
    fixed_seconds: float = 0.0

    def reuse_seconds(self, per_epoch: float, epochs: int = 0) -> float:
        """Seconds to reuse the kept models, for a winner at ``per_epoch`` s per search epoch whose retrained
        members train ``epochs`` each: scoring and saving, the retrained members and the baseline (with the
        SAFETY margin the final stage plans with), and two epochs: a trial still running at the deadline overruns
        it by up to one, and a new trial's first epoch also builds its graph."""
        scaled = per_epoch * self.final_size / max(1, self.train_size)
        work = reuse_overhead(scaled, self.baseline_epochs) + self.retrain_members * scaled * epochs
        return work / SAFETY + 2 * per_epoch

    def when_stopped(self, per_epoch: float) -> float:
        """For a running trial too long for the budget, whose model the deadline will stop and keep: reusing it
        (loading, scoring, saving and the baseline, with the SAFETY margin) and the one epoch the trial may run
        past the deadline."""
        scaled = per_epoch * self.final_size / max(1, self.train_size)
        return reuse_overhead(scaled, self.baseline_epochs) / SAFETY + per_epoch

    def from_pace(self, per_epoch: float, epochs: int, members: int | None = None) -> float:
        """For a trial training at ``per_epoch`` seconds per epoch on the search's data, retrained for ``epochs``
        by ``members`` members (default: all of them)."""
        scaled = per_epoch * self.final_size / max(1, self.train_size)
        plan = plan_final(
            members=members or self.members,
            epochs=epochs,
            per_epoch=scaled,
            baseline_epochs=self.baseline_epochs,
            time_left=None,
        )
        # The final stage plans to use only SAFETY of the time it is given: reserve enough for the full plan, plus
        # the one epoch a trial still running at the deadline may overrun it by.
        full = plan.members * (plan.seconds_per_member or 0.0) + (plan.seconds_for_baseline or 0.0)
        return (full + self.fixed_seconds) / SAFETY + per_epoch

    def from_study(self, study: Any) -> float | None:
        """For the study's best trial so far; None before any trial has finished."""
        try:
            winner = read_trial(best_trial(study))
        except AutomlError:  # no finished trial yet
            return None
        epochs = winner.epochs_seen
        if winner.train_seconds is None or not epochs:
            return None
        if self.reuse and kept_models(study):  # the final stage will reuse them: hold only what that costs
            return self.reuse_seconds(winner.train_seconds / epochs, winner.best_epoch or epochs)
        return self.from_pace(winner.train_seconds / epochs, winner.best_epoch or epochs)


def final_stage_estimator(
    dataset: Any,
    members: int,
    baseline_epochs: int | None,
    reuse: bool = False,
    retrain_members: int = 0,
    fixed_seconds: float = 0.0,
) -> FinalStageEstimate:
    fits = max(1, int(getattr(dataset, "cv_folds", 0) or 0))  # a cross-validated trial trained every fold
    return FinalStageEstimate(
        train_size=search_epoch_size(dataset),
        final_size=len(dataset.y_train) + len(dataset.y_val),
        members=members,
        baseline_epochs=baseline_epochs,
        reuse=reuse and fits == 1,  # cross-validated trials leave no single model to keep
        retrain_members=retrain_members,
        fixed_seconds=fixed_seconds,
    )


def reuse_overhead(per_epoch: float, baseline_epochs: int | None) -> float:
    """Seconds of a final stage that reuses kept models, beside any retrained member: loading, scoring and saving,
    and the baseline, for a winner at ``per_epoch`` seconds per epoch at the final data size. The reserve and
    the final stage's own decision both cost it so, so the search holds back what the final stage will spend."""
    return REUSE_SECONDS + per_epoch * (baseline_epochs or 0) * BASELINE_SHARE


def members_that_fit(wanted: int, member_cost: float | None, time_left: float | None, other_costs: float) -> int:
    """How many of ``wanted`` members of the winner fit in full (with the SAFETY margin) in ``time_left``, after
    ``other_costs`` (loading, scoring, the baseline): beside reused kept models, or one more than planned. A
    member cut short would be weaker than the models it joins, so none is; unknown costs retrain none."""
    if wanted < 1 or member_cost is None:
        return 0
    if time_left is None or member_cost <= 0:
        return wanted
    return max(0, min(wanted, int((time_left * SAFETY - other_costs) // member_cost)))


def reuse_or_retrain(retrain: FinalPlan, kept: int, time_left: float | None) -> tuple[bool, str]:
    """Whether the final stage reuses the ``kept`` models rather than carry out ``retrain``, and why, in words.

    Retraining on train+validation is preferred when it fits in full (nothing cut); otherwise the kept models,
    trained on train alone but in full, beat a retraining cut short."""
    if kept < 1:
        return False, "no trial's model was kept, so the winner is retrained"
    if time_left is None:
        return False, "no time budget, so the winner is retrained on train+validation"
    if not retrain.note:
        return False, f"retraining on train+validation fits the {time_left:.0f} s left"
    return True, (
        f"reused the {kept} kept model(s) of the best trials, trained in the search, rather than retrain cut "
        f"short ({retrain.note})"
    )
