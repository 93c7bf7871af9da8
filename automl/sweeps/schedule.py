"""Pure scheduling decisions: which due times become runs (catch-up), and whether each starts, waits or is
skipped (overlap). No clock, no storage: the scheduler hands in the facts and records what comes out.

The rules (README, "Scheduled sweeps"):

- A due time the scheduler sees within ``late_after`` of it is **on time** and always gets a run record.
  One seen later was **missed** (no scheduler was running): ``catch_up`` decides.
  ``none``: missed times are not run; ``latest``: only the most recent due time runs, missed or not (so after an
  outage, one run); ``all``: every missed time runs, the latest ``catch_up_max`` of them, oldest first.
- Catch-up runs never overlap each other: they wait in line and run one after another.
- A due time that comes while a run of the same sweep is still going (or waiting) follows ``overlap``.
  ``skip``: recorded as skipped with the reason; ``queue``: waits, but at most one run waits at a time (a further
  due time is skipped); ``allow``: starts alongside.
- A waiting run starts as soon as no run of its sweep is going.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from automl.sweeps.tables import RunStatus

LATE_AFTER = timedelta(minutes=2)  # a due time first seen later than this was missed


@dataclass(frozen=True)
class Decision:
    scheduled_for: datetime
    status: RunStatus  # PENDING, QUEUED or SKIPPED: what a plan decides
    trigger: str  # "schedule" (on time) or "catch-up"
    reason: str = ""


@dataclass(frozen=True)
class Plan:
    decisions: tuple[Decision, ...]
    missed_not_run: int  # missed due times that catch_up leaves out (they get no record)


def plan(
    due: list[datetime],
    now: datetime,
    *,
    catch_up: str,
    catch_up_max: int,
    overlap: str,
    active: int,
    waiting: int,
    late_after: timedelta = LATE_AFTER,
) -> Plan:
    """Decide what each due time in ``due`` (oldest first, all ``<= now``) becomes, given ``active`` runs of the
    sweep going (pending or running) and ``waiting`` ones queued."""
    on_time = [d for d in due if now - d <= late_after]
    missed = [d for d in due if now - d > late_after]
    if catch_up == "all":
        chosen_missed = missed[-catch_up_max:]
    elif catch_up == "latest" and not on_time:
        chosen_missed = missed[-1:]
    else:
        chosen_missed = []
    if catch_up == "latest" and len(on_time) > 1:
        on_time = on_time[-1:]
    decisions: list[Decision] = []
    for when in chosen_missed:
        busy = active or waiting
        if busy:
            decisions.append(
                Decision(when, RunStatus.QUEUED, "catch-up", "waits for the run before it (catch-up runs in line)")
            )
            waiting += 1
        else:
            decisions.append(Decision(when, RunStatus.PENDING, "catch-up"))
            active += 1
    for when in on_time:
        decision = _on_time(when, overlap, active, waiting)
        decisions.append(decision)
        if decision.status == RunStatus.PENDING:
            active += 1
        elif decision.status == RunStatus.QUEUED:
            waiting += 1
    return Plan(tuple(decisions), missed_not_run=len(missed) - len(chosen_missed))


def _on_time(when: datetime, overlap: str, active: int, waiting: int) -> Decision:
    if not active and not waiting:
        return Decision(when, RunStatus.PENDING, "schedule")
    if overlap == "allow":
        return Decision(when, RunStatus.PENDING, "schedule", "starts alongside the running run (overlap: allow)")
    if overlap == "queue" and not waiting:
        return Decision(when, RunStatus.QUEUED, "schedule", "waits for the running run (overlap: queue)")
    if overlap == "queue":
        return Decision(when, RunStatus.SKIPPED, "schedule", "a run is already waiting (overlap: queue holds one)")
    return Decision(when, RunStatus.SKIPPED, "schedule", "the previous run was still going (overlap: skip)")


def jitter(sweep: str, scheduled_for: datetime, jitter_seconds: float) -> timedelta:
    """A delay in ``[0, jitter_seconds)`` that spreads sweeps due at the same minute. Derived from the sweep and
    the due time rather than drawn, so every scheduler (and a restarted one) picks the same start."""
    if jitter_seconds <= 0:
        return timedelta(0)
    digest = hashlib.sha256(f"{sweep}|{scheduled_for.isoformat()}".encode()).digest()
    fraction = int.from_bytes(digest[:8], "big") / 2**64
    return timedelta(seconds=fraction * jitter_seconds)
