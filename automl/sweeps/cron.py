"""The one adapter over the cron library (croniter): 5-field expressions read in an IANA time zone.

croniter matches wall-clock times; this module decides what a wall-clock time means on the two days a year a
time zone with daylight saving jumps, and says so in one place (README, "Scheduled sweeps"):

- a time that does not exist that day (spring forward, e.g. 02:30 in America/New_York on 2026-03-08) runs
  when it would have been had the clock not jumped: shifted forward by the gap (03:30 EDT, 07:30 UTC);
- a time that occurs twice (fall back, e.g. 02:30 in Europe/Berlin on 2026-10-25) runs once, at its first
  occurrence (02:30 CEST, 00:30 UTC), unless the hour field is ``*`` or ``*/N``: a schedule that runs
  through every hour keeps its spacing and runs at both occurrences.

Everything returned is an aware UTC ``datetime``: the scheduler stores and compares instants, never wall times.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from automl.errors import AutomlError

# Wider than any DST shift (at most 2 hours anywhere), so scanning wall-clock times in this margin around an
# interval of instants finds every match whatever the shift that day.
_MARGIN = timedelta(hours=3)


class CronError(AutomlError):
    """A cron expression or a time zone that cannot be used."""


def zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name``, or a one-line :class:`CronError`."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise CronError(
            f"unknown time zone {name!r}; use an IANA name such as UTC, Europe/Berlin or America/New_York"
        ) from None


def parse_cron(expression: str) -> str:
    """The expression, checked: exactly five fields (minute hour day-of-month month day-of-week)."""
    from croniter import croniter

    fields = expression.split()
    if len(fields) != 5:
        raise CronError(
            f"must be a 5-field cron expression (minute hour day-of-month month day-of-week) such as '30 2 * * *', "
            f"got {expression!r} ({len(fields)} fields)"
        )
    try:
        croniter(" ".join(fields))
    except Exception as exc:  # croniter raises several error types for one cause: a malformed field
        raise CronError(f"bad cron expression {expression!r} ({str(exc).strip() or type(exc).__name__})") from None
    return " ".join(fields)


@dataclass(frozen=True)
class CronSchedule:
    """A cron expression in a time zone. Instants in and out are aware datetimes; out they are UTC."""

    expression: str
    timezone: str = "UTC"

    def __post_init__(self) -> None:
        object.__setattr__(self, "expression", parse_cron(self.expression))
        zone(self.timezone)

    @property
    def _every_hour(self) -> bool:
        return self.expression.split()[1].startswith("*")

    def due_between(self, after: datetime, until: datetime, most: int | None = None) -> list[datetime]:
        """Due instants in ``(after, until]``, oldest first; with ``most``, only the latest ``most`` of them."""
        from croniter import croniter

        tz = zone(self.timezone)
        floor = after.astimezone(tz).replace(tzinfo=None) - _MARGIN
        # Walk backwards from the end, so a long outage costs only the runs asked for.
        walker = croniter(self.expression, until.astimezone(tz).replace(tzinfo=None) + _MARGIN)
        found: set[datetime] = set()
        while True:
            wall = walker.get_prev(datetime)
            if wall < floor:
                break
            for instant in self._instants(wall, tz):
                if after < instant <= until:
                    found.add(instant)
            if most is not None and len(found) > most + 2:  # a few spare: the margin's matches are unordered
                break
        due = sorted(found)
        return due[-most:] if most is not None else due

    def next_after(self, after: datetime) -> datetime:
        """The first due instant strictly after ``after``."""
        from croniter import croniter

        tz = zone(self.timezone)
        walker = croniter(self.expression, after.astimezone(tz).replace(tzinfo=None) - _MARGIN)
        candidates: list[datetime] = []
        while True:
            wall = walker.get_next(datetime)
            candidates += [i for i in self._instants(wall, tz) if i > after]
            # Past the margin, no later wall time can map to an earlier instant.
            if candidates and wall.replace(tzinfo=tz) - _MARGIN > min(candidates):
                return min(candidates)

    def _instants(self, wall: datetime, tz: ZoneInfo) -> list[datetime]:
        """The instants a wall-clock time stands for under the rules in the module docstring."""
        first = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
        second = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
        if first == second:
            return [first]
        if first > second:  # the time does not exist: fold=0 reads it with the offset before the jump
            return [first]
        return [first, second] if self._every_hour else [first]  # the time occurs twice
