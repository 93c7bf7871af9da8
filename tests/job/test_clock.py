"""The job clock and the search's deadline, driven by a fake clock: the reserve for the final stage grows with the
first trial's pace and then follows the best trial, and the deadline stops trials for the right reason."""

from __future__ import annotations

from typing import Any

import pytest

from automl.backends.base import Deadline
from automl.job.clock import INITIAL_RESERVE_SHARE, REPORT_SECONDS, JobClock
from automl.job.plan import REUSE_SECONDS, FinalStageEstimate
from automl.study.record import StopReason


class FakeClock:
    """Seconds that pass only when a test says so."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FixedEstimate:
    """A final stage that needs ``study_seconds`` once a trial has finished; ``None`` before."""

    reuse = False  # no model is kept, so a trial too long for the budget is still held a member

    def __init__(self, study_seconds: float | None) -> None:
        self.study_seconds = study_seconds

    def when_stopped(self, per_epoch: float) -> float:
        return per_epoch

    def reuse_seconds(self, per_epoch: float, epochs: int = 0) -> float:
        return per_epoch

    def from_pace(self, per_epoch: float, epochs: int, members: int | None = None) -> float:
        return per_epoch * epochs * (members or 3)

    def from_study(self, study: Any) -> float | None:
        return self.study_seconds


def test_before_any_trial_finishes_the_running_trials_pace_grows_the_reserve() -> None:
    now = FakeClock(1000.0)
    estimate = FinalStageEstimate(train_size=100, final_size=125, members=3, baseline_epochs=None)
    clock = JobClock.start(
        now(), timeout=None, time_budget=600, max_trial_seconds=None, estimate=estimate, monotonic=now
    )
    assert clock.deadline.reserve == pytest.approx(90)  # 15% held back before anything is measured
    clock.on_trial_start(0, {})
    now.advance(80.0)  # the first trial has run 80 s: 4 epochs of 20 s on the search's data
    clock.on_epoch(0, 4, {})
    # one member retrained for its 4 epochs and the one it may run past the deadline (either may be its best)
    # at 25 s (125/100 of the data), with the planner's margin, plus that epoch at the search's pace
    assert clock.deadline.reserve == pytest.approx(5 * 25 / 0.9 + 20 + REPORT_SECONDS)
    assert clock.deadline.search_ends == pytest.approx(clock.deadline.job_ends - clock.deadline.reserve)
    assert clock.search_seconds() == pytest.approx(600 - 80 - clock.deadline.reserve)


def test_a_first_trial_too_long_for_the_budget_is_held_only_the_reuse_of_its_kept_model() -> None:
    # Official-size data: 30 planned epochs at 20 s cannot end within 600 s, so the deadline will stop the trial
    # and the final stage will reuse its kept model; holding a retrained member of it would stop it at half time.
    now = FakeClock(0.0)
    estimate = FinalStageEstimate(train_size=100, final_size=125, members=3, baseline_epochs=None, reuse=True)
    clock = JobClock.start(
        now(), timeout=None, time_budget=600, max_trial_seconds=None, estimate=estimate, monotonic=now
    )
    clock.on_trial_start(0, {"epochs": 30})
    now.advance(80.0)
    clock.on_epoch(0, 4, {})
    reuse = estimate.when_stopped(20.0) + REPORT_SECONDS
    assert reuse == pytest.approx(REUSE_SECONDS / 0.9 + 20 + REPORT_SECONDS)
    assert clock.deadline.reserve == pytest.approx(reuse)  # below the initial 15%: the pace replaced it
    assert clock.search_seconds() == pytest.approx(600 - 80 - reuse)

    # The same pace for a trial of 10 epochs: it ends within the budget, so one member of it is held, as before.
    short = JobClock.start(
        now(), timeout=None, time_budget=600, max_trial_seconds=None, estimate=estimate, monotonic=now
    )
    short.on_trial_start(0, {"epochs": 10})
    now.advance(80.0)
    short.on_epoch(0, 4, {})
    assert short.deadline.reserve == pytest.approx(5 * 25 / 0.9 + 20 + REPORT_SECONDS)

    # Without kept models (an engine whose trials train elsewhere) the long trial is held its member too.
    no_keep = FinalStageEstimate(train_size=100, final_size=125, members=3, baseline_epochs=None, reuse=False)
    held = JobClock.start(now(), timeout=None, time_budget=600, max_trial_seconds=None, estimate=no_keep, monotonic=now)
    held.on_trial_start(0, {"epochs": 30})
    now.advance(80.0)
    held.on_epoch(0, 4, {})
    assert held.deadline.reserve == pytest.approx(5 * 25 / 0.9 + 20 + REPORT_SECONDS)


def test_a_first_trial_with_members_beside_its_kept_model_is_held_what_the_final_stage_then_spends() -> None:
    # mnist_cnn at 300 s: the first trial ends within the budget, and the final stage reuses its kept model with one
    # member retrained beside it. Holding only the member (without loading and scoring the kept model) stopped the
    # trial a few epochs early, and then left the final stage too little for that member: half the budget unused.
    now = FakeClock(0.0)
    estimate = FinalStageEstimate(
        train_size=100, final_size=125, members=3, baseline_epochs=None, reuse=True, retrain_members=1
    )
    clock = JobClock.start(
        now(), timeout=None, time_budget=600, max_trial_seconds=None, estimate=estimate, monotonic=now
    )
    clock.on_trial_start(0, {"epochs": 10})
    now.advance(80.0)
    clock.on_epoch(0, 4, {})
    held = clock.deadline.reserve - REPORT_SECONDS
    assert held == pytest.approx(estimate.reuse_seconds(20.0, 5))
    assert held == pytest.approx((REUSE_SECONDS + 5 * 25) / 0.9 + 2 * 20)  # as members_that_fit will cost it
    assert held > estimate.from_pace(20.0, 5, members=1)


def test_the_first_trials_reserve_is_for_every_epoch_it_may_have_run_when_stopped_even_on_a_plateau() -> None:
    # The final stage retrains a member for the winner's best epoch, and a plateau may end at the very epoch the
    # deadline stops the trial (a warm start best at epoch 16 until epoch 27, then at 28): the member is held for
    # the epochs run so far and the one it may run past the deadline, whatever the best epoch so far.
    now = FakeClock(0.0)
    estimate = FixedEstimate(None)  # from_pace: per_epoch * epochs * members
    clock = JobClock.start(
        now(), timeout=None, time_budget=100, max_trial_seconds=None, estimate=estimate, monotonic=now
    )
    clock.on_trial_start(0, {})
    for epoch, loss in enumerate([0.5, 0.3, 0.4, 0.35], start=1):  # the best is epoch 2
        now.advance(10.0)
        clock.on_epoch(0, epoch, {"val_loss": loss})
    assert clock.deadline.reserve == pytest.approx(10 * 5 * 1 + REPORT_SECONDS)  # 4 epochs and one more, not 2
    for epoch in range(5, 21):
        now.advance(10.0)
        clock.on_epoch(0, epoch, {"val_loss": 0.3})
    assert clock.deadline.reserve == pytest.approx(10 * 21 + REPORT_SECONDS)
    clock.on_trial_start(1, {})  # a second trial starts from its first epoch
    now.advance(10.0)
    clock.on_epoch(1, 1, {"val_loss": 0.9})
    assert clock.deadline.reserve == pytest.approx(10 * 21 + REPORT_SECONDS)  # never lowered


def test_a_first_trial_at_its_last_planned_epoch_is_held_no_more_epochs_than_it_plans() -> None:
    now = FakeClock(0.0)
    clock = JobClock.start(
        now(), timeout=None, time_budget=1000, max_trial_seconds=None, estimate=FixedEstimate(None), monotonic=now
    )
    clock.on_trial_start(0, {"epochs": 3})
    for epoch in (1, 2):
        now.advance(9.0)
        clock.on_epoch(0, epoch, {})
    assert clock.deadline.reserve == pytest.approx(9 * 3 * 1 + REPORT_SECONDS)  # epochs 2 and 3
    now.advance(9.0)
    clock.on_epoch(0, 3, {})
    assert clock.deadline.reserve == pytest.approx(9 * 3 * 1 + REPORT_SECONDS)  # not 4: it plans 3


def test_a_finished_trial_sets_the_reserve_and_the_pace_no_longer_moves_it() -> None:
    now = FakeClock(0.0)
    clock = JobClock.start(
        now(), timeout=None, time_budget=1000, max_trial_seconds=None, estimate=FixedEstimate(50.0), monotonic=now
    )
    assert clock.deadline.reserve == pytest.approx(INITIAL_RESERVE_SHARE * 1000)
    clock.on_trial_start(0, {})
    now.advance(10.0)
    clock.on_trial_end(None, None)  # the estimate reads the study; this one needs none
    assert clock.deadline.reserve == pytest.approx(50.0 + REPORT_SECONDS)  # lower than the initial share: measured
    clock.on_trial_start(1, {})
    now.advance(500.0)  # a slow second trial's pace: ignored now that a finished trial speaks for the winner
    clock.on_epoch(1, 1, {})
    assert clock.deadline.reserve == pytest.approx(50.0 + REPORT_SECONDS)
    assert clock.final_seconds() == pytest.approx(1000 - 510 - REPORT_SECONDS)


def test_without_a_job_budget_the_clock_holds_no_reserve() -> None:
    now = FakeClock(0.0)
    clock = JobClock.start(
        now(), timeout=60, time_budget=None, max_trial_seconds=None, estimate=FixedEstimate(50.0), monotonic=now
    )
    clock.on_trial_start(0, {})
    now.advance(30.0)
    clock.on_epoch(0, 1, {})
    clock.on_trial_end(None, None)
    assert clock.deadline.reserve == 0.0
    assert clock.final_seconds() is None and clock.job_ends_unix() is None
    assert clock.search_seconds() == pytest.approx(30.0)


def test_a_joining_worker_ends_the_job_at_the_same_wall_clock_time() -> None:
    now, wall = FakeClock(500.0), FakeClock(1_700_000_000.0)
    clock = JobClock.joining(
        job_ends_unix=wall() + 120, timeout=None, max_trial_seconds=None, estimate=FixedEstimate(None),
        monotonic=now, wall=wall,
    )  # fmt: skip
    assert clock.deadline.job_ends == pytest.approx(620.0)  # on this process's monotonic clock
    now.advance(20.0)
    wall.advance(20.0)
    assert clock.job_ends_unix() == pytest.approx(1_700_000_120.0)
    assert clock.search_seconds() == pytest.approx(100.0)  # a joining worker holds no reserve of its own


def test_the_deadline_says_why_a_trial_stops() -> None:
    now = FakeClock(0.0)
    deadline = Deadline.after(100.0, max_trial_seconds=30.0, clock=now)
    trial_started = deadline.now()
    now.advance(29.0)
    assert deadline.stop_reason(trial_started) is None
    assert deadline.remaining() == pytest.approx(71.0)
    now.advance(1.0)
    assert deadline.stop_reason(trial_started) == StopReason.TRIAL_TIME_CAP == "trial time cap"
    assert not deadline.passed()
    now.advance(70.0)
    assert deadline.passed()
    assert deadline.stop_reason(deadline.now()) == StopReason.TIME_BUDGET == "time budget"  # before any trial cap


def test_a_growing_reserve_brings_the_search_end_forward() -> None:
    now = FakeClock(0.0)
    assert Deadline(timeout_ends=300.0, job_ends=400.0, reserve=50.0, clock=now).search_ends == 300.0  # the timeout
    deadline = Deadline(timeout_ends=300.0, job_ends=400.0, reserve=150.0, clock=now)
    assert deadline.search_ends == 250.0  # the job's end less the final stage's time comes first
    now.advance(250.0)
    assert deadline.passed() and deadline.remaining() == 0.0


def test_the_searching_time_counts_from_the_searchs_start_and_the_job_budget_from_the_jobs() -> None:
    now = FakeClock(0.0)
    clock = JobClock.start(
        now(), timeout=60, time_budget=600, max_trial_seconds=None, estimate=FixedEstimate(None), monotonic=now
    )
    now.advance(20.0)  # the baseline trains before the search
    clock.searching_starts()
    assert clock.deadline.timeout_ends == pytest.approx(80.0)  # --timeout: 60 s of searching, from here
    assert clock.deadline.job_ends == pytest.approx(600.0)  # the whole job's budget: from the job's start


def test_a_trade_offs_reserve_holds_the_final_stages_fixed_costs_beside_its_one_member() -> None:
    # mnist_small: the pick is a small network retrained alone; its member takes seconds, and without the fixed
    # costs (scoring, saving, timing, the margin a member stops short of the end by) the search ran until the
    # member had time for one epoch of eight.
    from automl.job.pipeline import TRADE_OFF_FIXED_SECONDS

    plain = FinalStageEstimate(train_size=100, final_size=125, members=1, baseline_epochs=None)
    fixed = FinalStageEstimate(
        train_size=100, final_size=125, members=1, baseline_epochs=None, fixed_seconds=TRADE_OFF_FIXED_SECONDS
    )
    assert plain.from_pace(0.4, 8) == pytest.approx(8 * 0.5 / 0.9 + 0.4)
    assert fixed.from_pace(0.4, 8) == pytest.approx((8 * 0.5 + TRADE_OFF_FIXED_SECONDS) / 0.9 + 0.4)
