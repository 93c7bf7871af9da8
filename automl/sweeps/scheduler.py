"""The scheduler: reads each sweep's schedule, records one run per due time, starts runs, watches them.

One :meth:`Scheduler.tick` is the whole decision step. Under the state store's lock and the lease it fails runs
whose heartbeat stopped, records the due times since the sweep was last read (catch-up and overlap decided by
:mod:`automl.sweeps.schedule`), advances ``checked_until`` in the same transaction, promotes waiting runs and
claims the pending ones whose start time has come. Only then, outside the lock, it starts them through a
:class:`Launcher` (a local process, or a Ray job). The clock is injected, so tests drive the scheduler through
days and DST changes in milliseconds.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from automl.sweeps.cron import CronSchedule
from automl.sweeps.ray_jobs import RayJobLauncher
from automl.sweeps.schedule import LATE_AFTER, jitter, plan
from automl.sweeps.spec import SweepSpec, sweep_run_command
from automl.sweeps.state import StateStore
from automl.sweeps.tables import RunRow, RunStatus, new_owner

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

log = logging.getLogger(__name__)

POLL_SECONDS = 30.0  # how often a running scheduler looks at the schedules
LEASE_SECONDS = 120.0  # a scheduler that stops renewing its lease is replaced after this long
LOST_AFTER = timedelta(minutes=5)  # a running run without a heartbeat this long is recorded failed
LEASE_NAME = "scheduler"


class Clock(Protocol):
    def now(self) -> datetime: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class RunHandle(Protocol):
    """A started run. ``poll`` says None while it goes on, else the failure reason ("" when it succeeded)."""

    def poll(self) -> str | None: ...

    def stop(self) -> None: ...


class Launcher(Protocol):
    def start(self, spec: SweepSpec, run: RunRow, state_url: str) -> RunHandle: ...


class _ProcessHandle:
    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.process = process

    def poll(self) -> str | None:
        code = self.process.poll()
        if code is None:
            return None
        return "" if code == 0 else f"its process exited with code {code}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()  # SIGTERM: the run records the trial it was on, then exits 130
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()


class ProcessLauncher:
    """Each run in its own ``automl sweep run`` process with this interpreter: a crashing search cannot take
    the scheduler down, and the scheduler's loop keeps its schedule while runs go on."""

    def start(self, spec: SweepSpec, run: RunRow, state_url: str) -> RunHandle:
        # ``-m automl`` works without the console script on PATH, in this interpreter's environment
        argv = [sys.executable, "-m", "automl", *sweep_run_command(spec, run.id, state_url)]
        return _ProcessHandle(subprocess.Popen(argv))


def launcher_for(spec: SweepSpec) -> Launcher:
    """A sweep with a Ray address runs as a Ray job on that cluster; any other sweep as a local process."""
    if spec.ray_dashboard:
        return RayJobLauncher()
    return ProcessLauncher()


@dataclass
class TickReport:
    standby_for: str | None = None  # the scheduler holding the lease, when it is not us
    recorded: list[tuple[str, datetime, RunStatus]] = field(default_factory=list)  # (sweep, due time, status)
    started: list[RunRow] = field(default_factory=list)
    lost: list[int] = field(default_factory=list)
    finished: list[tuple[int, str]] = field(default_factory=list)  # (run id, failure reason or "")


class Scheduler:
    """Starts due sweeps exactly once. ``sweeps`` returns the current specs (re-read each tick, so editing a
    spec file needs no restart)."""

    def __init__(
        self,
        state: StateStore,
        sweeps: Callable[[], list[SweepSpec]],
        *,
        clock: Clock | None = None,
        launcher: Callable[[SweepSpec], Launcher] = launcher_for,
        owner: str | None = None,
        poll_seconds: float = POLL_SECONDS,
        lease_seconds: float = LEASE_SECONDS,
        lost_after: timedelta = LOST_AFTER,
        lease_name: str = LEASE_NAME,
    ) -> None:
        self.state = state
        self.sweeps = sweeps
        self.clock = clock or SystemClock()
        self.launcher = launcher
        self.owner = owner or new_owner()
        self.poll_seconds = poll_seconds
        self.lease = timedelta(seconds=lease_seconds)
        self.lost_after = lost_after
        self.lease_name = lease_name
        # A scheduler polling rarely sees due times late by design; they are not "missed".
        self.late_after = max(LATE_AFTER, timedelta(seconds=2 * poll_seconds))
        self.handles: dict[int, RunHandle] = {}
        self._specs: dict[str, SweepSpec] = {}

    # ---------------------------------------------------------------------------------------------------------

    def tick(self, *, new_due_times: bool = True) -> TickReport:
        """One decision step (see the module docstring). ``new_due_times=False`` only starts what is already
        recorded: ``--once`` waits for its runs that way without picking up times that fall due meanwhile."""
        report = TickReport()
        now = self.clock.now()
        report.finished = self._reap(now)
        specs = {s.name: s for s in self.sweeps()}
        self._specs.update(specs)
        scheduled = [s for s in specs.values() if s.schedule]
        with self.state.transaction() as conn:
            holder = self.state.take_lease(conn, self.owner, now, self.lease, self.lease_name)
            if holder is not None:
                report.standby_for = holder
                return report
            report.lost = self.state.fail_lost(conn, now, self.lost_after, keep_owner=self.owner)
            for spec in scheduled:
                if new_due_times:
                    report.recorded += self._record_due(conn, spec, now)
                self.state.promote_queued(conn, spec.name, now)
            claimed = self.state.claim(conn, self.owner, now, [s.name for s in scheduled])
        for lost in report.lost:
            log.warning("sweep run %d: recorded failed: its heartbeat stopped (process or scheduler died)", lost)
        for run in claimed:
            report.started.append(run)
            self._launch(specs[run.sweep], run, now)
        return report

    def _record_due(self, conn: Connection, spec: SweepSpec, now: datetime) -> list[tuple[str, datetime, RunStatus]]:
        sweep = self.state.ensure_sweep(conn, spec.name, spec.schedule or "", spec.timezone, spec.source, now)
        schedule = CronSchedule(spec.schedule or "", spec.timezone)
        # The catch-up cap bounds how far back we look, so a year-long outage costs a few rows, not thousands.
        due = schedule.due_between(sweep.checked_until, now, most=spec.catch_up_max + 2)
        active, waiting = self.state.counts(conn, spec.name)
        decided = plan(
            due,
            now,
            catch_up=spec.catch_up,
            catch_up_max=spec.catch_up_max,
            overlap=spec.overlap,
            active=active,
            waiting=waiting,
            late_after=self.late_after,
        )
        recorded: list[tuple[str, datetime, RunStatus]] = []
        for d in decided.decisions:
            if self.state.has_run_for(conn, spec.name, d.scheduled_for):
                continue  # already recorded (e.g. checked_until was moved back by hand): never a second run
            start_after = d.scheduled_for + jitter(spec.name, d.scheduled_for, spec.jitter_seconds)
            self.state.add_run(
                conn,
                spec.name,
                scheduled_for=d.scheduled_for,
                trigger=d.trigger,
                status=d.status,
                reason=d.reason,
                start_after=start_after,
                created_at=now,
                finished_at=now if d.status == RunStatus.SKIPPED else None,
            )
            recorded.append((spec.name, d.scheduled_for, d.status))
            if d.status == RunStatus.SKIPPED:
                log.info("sweep %s: due %s skipped: %s", spec.name, _fmt(d.scheduled_for), d.reason)
        if decided.missed_not_run:
            log.info(
                "sweep %s: %d due time(s) missed while no scheduler ran were not run (catch_up: %s)",
                spec.name,
                decided.missed_not_run,
                spec.catch_up,
            )
        self.state.set_checked(conn, spec.name, now)
        return recorded

    def _launch(self, spec: SweepSpec, run: RunRow, now: datetime) -> None:
        try:
            self.handles[run.id] = self.launcher(spec).start(spec, run, self.state.url)
        except Exception as exc:  # a run that cannot start is that run's failure, not the scheduler's
            reason = f"could not start: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            self.state.finish(run.id, RunStatus.FAILED, now, reason=reason, only_if_running=True)
            log.warning("sweep %s: run %d %s", spec.name, run.id, reason)
            return
        when = _fmt(run.scheduled_for) if run.scheduled_for else "now"
        log.info("sweep %s: run %d started (due %s, %s)", spec.name, run.id, when, run.trigger)

    def _reap(self, now: datetime) -> list[tuple[int, str]]:
        """Heartbeat our live runs; record a run that ended without recording itself as failed."""
        finished, alive = [], []
        for run_id, handle in list(self.handles.items()):
            outcome = handle.poll()
            if outcome is None:
                alive.append(run_id)
                continue
            del self.handles[run_id]
            finished.append((run_id, outcome))
            if outcome and self.state.finish(run_id, RunStatus.FAILED, now, reason=outcome, only_if_running=True):
                log.warning("sweep run %d: failed: %s", run_id, outcome)
            elif not outcome:
                # A process that exited 0 without recording its end still ended: say so rather than leave it running.
                self.state.finish(
                    run_id, RunStatus.FAILED, now, reason="ended without recording a result", only_if_running=True
                )
        self.state.heartbeat(alive, now)
        return finished

    # ---------------------------------------------------------------------------------------------------------

    def run_once(self, max_wait_seconds: float | None = None) -> TickReport:
        """``--once``: start what is due, wait for those runs (and runs waiting behind them), then stop."""
        report = self.tick()
        waited = 0.0
        try:
            while self._has_work():
                if max_wait_seconds is not None and waited >= max_wait_seconds:
                    break
                step = min(1.0, self.poll_seconds)
                self.clock.sleep(step)
                waited += step
                more = self.tick(new_due_times=False)
                report.started += more.started
                report.finished += more.finished
            report.finished += self._reap(self.clock.now())
        finally:
            self.stop()
        return report

    def _has_work(self) -> bool:
        if self.handles:
            return True
        names = {name for name, spec in self._specs.items() if spec.schedule}
        return any(r.status in (RunStatus.PENDING, RunStatus.QUEUED) for r in self.state.runs() if r.sweep in names)

    def serve(self, stop: Callable[[], bool] = lambda: False) -> None:
        """The long-running loop: a tick every ``poll_seconds`` until ``stop()`` or Ctrl-C/SIGTERM."""
        try:
            while not stop():
                report = self.tick()
                if report.standby_for:
                    log.debug("standing by: %s holds the lease", report.standby_for)
                self.clock.sleep(self.poll_seconds)
        finally:
            self.stop()

    def stop(self) -> None:
        """Stop our runs (each records its own end) and hand the lease over at once."""
        now = self.clock.now()
        for run_id, handle in list(self.handles.items()):
            handle.stop()
            reason = "the scheduler stopped during the run"
            if self.state.finish(run_id, RunStatus.FAILED, now, reason=reason, only_if_running=True):
                log.warning("sweep run %d: recorded failed: the scheduler stopped during the run", run_id)
        self.handles.clear()
        self.state.release_lease(self.owner, self.lease_name)


def _fmt(when: datetime | None) -> str:
    return f"{when:%Y-%m-%d %H:%M} UTC" if when else "-"
