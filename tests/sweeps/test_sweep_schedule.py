"""The pure catch-up and overlap decisions, as the README lists them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from automl.sweeps.schedule import jitter, plan
from automl.sweeps.tables import RunStatus

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
MISSED = [NOW - timedelta(hours=h) for h in (4, 3, 2)]
ON_TIME = [NOW - timedelta(seconds=20)]


def decide(due: list[datetime], catch_up: str = "none", overlap: str = "skip", active: int = 0, waiting: int = 0):
    return plan(due, NOW, catch_up=catch_up, catch_up_max=2, overlap=overlap, active=active, waiting=waiting)


def test_catch_up_none_latest_all() -> None:
    none = decide(MISSED + ON_TIME)
    assert [(d.scheduled_for, d.status) for d in none.decisions] == [(ON_TIME[0], RunStatus.PENDING)]
    assert none.missed_not_run == 3
    assert [d.scheduled_for for d in decide(MISSED, "latest").decisions] == [MISSED[-1]]
    assert [d.scheduled_for for d in decide(MISSED + ON_TIME, "latest").decisions] == ON_TIME
    both = decide(MISSED, "all")
    assert [(d.scheduled_for, d.status, d.trigger) for d in both.decisions] == [
        (MISSED[1], RunStatus.PENDING, "catch-up"),
        (MISSED[2], RunStatus.QUEUED, "catch-up"),
    ]
    assert both.missed_not_run == 1


def test_overlap_with_a_run_going() -> None:
    assert decide(ON_TIME, overlap="skip", active=1).decisions[0].status == RunStatus.SKIPPED
    assert decide(ON_TIME, overlap="queue", active=1).decisions[0].status == RunStatus.QUEUED
    assert decide(ON_TIME, overlap="queue", active=1, waiting=1).decisions[0].status == RunStatus.SKIPPED
    assert decide(ON_TIME, overlap="allow", active=1).decisions[0].status == RunStatus.PENDING


def test_jitter_is_stable_and_bounded() -> None:
    a = jitter("nightly", NOW, 60)
    assert a == jitter("nightly", NOW, 60)
    assert timedelta(0) <= a < timedelta(seconds=60)
    assert jitter("nightly", NOW, 0) == timedelta(0)
