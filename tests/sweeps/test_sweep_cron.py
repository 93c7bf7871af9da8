"""The cron adapter's time-zone rules: the README's DST table, and hourly schedules across both changes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from automl.sweeps.cron import CronError, CronSchedule, parse_cron


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("tz", "after", "until", "expected"),
    [
        # README: 02:30 does not exist in New York on 2026-03-08: it runs at 03:30 EDT.
        (
            "America/New_York",
            utc(2026, 3, 7),
            utc(2026, 3, 10),
            [utc(2026, 3, 7, 7, 30), utc(2026, 3, 8, 7, 30), utc(2026, 3, 9, 6, 30)],
        ),
        # README: 02:30 occurs twice in Berlin on 2026-10-25: it runs once, at 02:30 CEST.
        (
            "Europe/Berlin",
            utc(2026, 10, 24),
            utc(2026, 10, 27),
            [utc(2026, 10, 24, 0, 30), utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)],
        ),
    ],
)
def test_daily_0230_on_the_dst_days(tz: str, after: datetime, until: datetime, expected: list[datetime]) -> None:
    schedule = CronSchedule("30 2 * * *", tz)
    assert schedule.due_between(after, until) == expected
    assert schedule.next_after(after) == expected[0]
    assert schedule.next_after(expected[1]) == expected[2]


def test_hourly_runs_at_both_occurrences_of_a_repeated_hour_and_once_in_a_skipped_one() -> None:
    berlin = CronSchedule("30 * * * *", "Europe/Berlin")
    hours = [d.hour for d in berlin.due_between(utc(2026, 10, 24, 23, 0), utc(2026, 10, 25, 3, 0))]
    assert hours == [23, 0, 1, 2]  # 01:30, 02:30 CEST, 02:30 CET, 03:30 CET: every hour kept
    new_york = CronSchedule("30 * * * *", "America/New_York")
    due = new_york.due_between(utc(2026, 3, 8, 5, 0), utc(2026, 3, 8, 9, 0))
    assert due == [utc(2026, 3, 8, 5, 30), utc(2026, 3, 8, 6, 30), utc(2026, 3, 8, 7, 30), utc(2026, 3, 8, 8, 30)]


def test_most_returns_the_latest_without_walking_a_long_outage() -> None:
    every_minute = CronSchedule("* * * * *")
    assert every_minute.due_between(utc(2020, 1, 1), utc(2026, 1, 1), most=2) == [
        utc(2025, 12, 31, 23, 59),
        utc(2026, 1, 1),
    ]


@pytest.mark.parametrize("bad", ["* * * *", "0 0 * * * *", "60 * * * *", "* 25 * * *", "a b c d e"])
def test_bad_expressions(bad: str) -> None:
    with pytest.raises(CronError):
        parse_cron(bad)
