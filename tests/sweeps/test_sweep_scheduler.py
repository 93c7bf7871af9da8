"""The scheduler driven by a controllable clock: exactly once across ticks, restarts, deaths and two
schedulers; catch-up, overlap and DST behave as the README says. Runs are started by a fake launcher: these tests
are about scheduling, not searching."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support import POSTGRES_URL
from sweep_helpers import FakeClock, FakeLauncher, make_spec

from automl.sweeps.scheduler import Scheduler
from automl.sweeps.spec import SweepSpec
from automl.sweeps.state import StateStore
from automl.sweeps.tables import runs_table, sweeps_table

T0 = datetime(2026, 1, 10, 0, 0, tzinfo=UTC)


def day(n: int, hour: int = 3, minute: int = 0) -> datetime:
    return T0 + timedelta(days=n, hours=hour, minutes=minute)


@pytest.fixture
def state(tmp_path: Path) -> Iterator[StateStore]:
    store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    yield store
    store.close()


def scheduler_for(
    state: StateStore, spec: SweepSpec, clock: FakeClock, launcher: FakeLauncher, **kw: object
) -> Scheduler:
    return Scheduler(state, lambda: [spec], clock=clock, launcher=launcher, **kw)  # type: ignore[arg-type]


def statuses(state: StateStore, sweep: str) -> list[tuple[datetime | None, str]]:
    return [(r.scheduled_for, r.status) for r in state.runs(sweep)]


def test_due_twice_runs_twice_and_extra_ticks_add_nothing(state: StateStore) -> None:
    clock, launcher = FakeClock(T0), FakeLauncher(state)
    sched = scheduler_for(state, make_spec(schedule="0 3 * * *"), clock, launcher)
    sched.tick()  # first sight of the sweep: nothing before now was ever due
    assert launcher.started == []
    for n in (0, 1):
        clock.current = day(n, minute=0) + timedelta(seconds=10)
        sched.tick()
        sched.tick()
        launcher.started[-1].succeed(clock.now())
        clock.advance(minutes=30)
        sched.tick()
    assert launcher.due_times == [day(0), day(1)]
    assert statuses(state, "nightly") == [(day(0), "succeeded"), (day(1), "succeeded")]


def test_restart_in_between_does_not_run_again(state: StateStore) -> None:
    clock, launcher = FakeClock(T0), FakeLauncher(state)
    spec = make_spec(schedule="0 3 * * *")
    first = scheduler_for(state, spec, clock, launcher)
    first.tick()
    clock.current = day(0) + timedelta(seconds=5)
    first.tick()
    launcher.started[0].succeed(clock.now())
    # The first scheduler dies without a word (no stop, lease still held); a second one starts on the same storage.
    clock.advance(seconds=30)
    second = scheduler_for(state, spec, clock, launcher)
    assert second.tick().standby_for == first.owner
    clock.advance(minutes=5)  # the dead scheduler's lease has run out
    report = second.tick()
    assert report.standby_for is None
    assert report.started == []
    clock.current = day(1) + timedelta(seconds=5)
    second.tick()
    assert launcher.due_times == [day(0), day(1)]


def test_a_run_whose_process_died_is_recorded_failed_and_not_restarted(state: StateStore) -> None:
    clock, launcher = FakeClock(T0), FakeLauncher(state)
    spec = make_spec(schedule="0 3 * * *")
    first = scheduler_for(state, spec, clock, launcher)
    first.tick()
    clock.current = day(0) + timedelta(seconds=5)
    first.tick()  # the run starts; then the scheduler and its run die together
    clock.advance(minutes=10)
    second = scheduler_for(state, spec, clock, launcher)
    report = second.tick()
    assert report.lost == [launcher.started[0].run.id]
    (run,) = state.runs("nightly")
    assert run.status == "failed"
    assert run.reason.startswith("lost: no heartbeat")
    clock.current = day(1) + timedelta(seconds=5)
    second.tick()
    assert launcher.due_times == [day(0), day(1)]


def test_a_failed_run_is_recorded_with_its_reason_and_the_next_due_time_runs(state: StateStore) -> None:
    clock, launcher = FakeClock(T0), FakeLauncher(state)
    sched = scheduler_for(state, make_spec(schedule="0 3 * * *"), clock, launcher)
    sched.tick()
    clock.current = day(0) + timedelta(seconds=5)
    sched.tick()
    launcher.started[0].crash("its process exited with code 2")
    clock.advance(minutes=1)
    sched.tick()
    clock.current = day(1) + timedelta(seconds=5)
    sched.tick()
    runs = state.runs("nightly")
    assert [(r.status, r.reason) for r in runs] == [("failed", "its process exited with code 2"), ("running", "")]


def _outage(state: StateStore, launcher: FakeLauncher, **spec_keys: object) -> tuple[Scheduler, FakeClock]:
    """The sweep is registered on day 0 at 00:00, then no scheduler runs until day 3 at 05:00: the due times
    of days 0, 1, 2 and 3 at 03:00 were missed."""
    clock = FakeClock(T0)
    sched = scheduler_for(state, make_spec(schedule="0 3 * * *", **spec_keys), clock, launcher)
    sched.tick()
    clock.current = day(3, hour=5)
    sched.tick()
    return sched, clock


def test_catch_up_none_runs_nothing_missed(state: StateStore) -> None:
    launcher = FakeLauncher(state)
    sched, clock = _outage(state, launcher, catch_up="none")
    assert launcher.started == []
    assert state.runs("nightly") == []
    clock.current = day(4) + timedelta(seconds=5)
    sched.tick()
    assert launcher.due_times == [day(4)]


def test_catch_up_latest_runs_only_the_most_recent_missed_time(state: StateStore) -> None:
    launcher = FakeLauncher(state)
    _outage(state, launcher, catch_up="latest")
    assert launcher.due_times == [day(3)]
    assert statuses(state, "nightly") == [(day(3), "running")]


def test_catch_up_all_runs_the_latest_max_missed_times_one_after_another(state: StateStore) -> None:
    launcher = FakeLauncher(state)
    sched, clock = _outage(state, launcher, catch_up="all", catch_up_max=3)
    assert launcher.due_times == [day(1)]
    assert statuses(state, "nightly") == [(day(1), "running"), (day(2), "queued"), (day(3), "queued")]
    for expected in (day(2), day(3)):
        launcher.started[-1].succeed(clock.now())
        clock.advance(seconds=30)
        sched.tick()
        assert launcher.due_times[-1] == expected
    assert [r.trigger for r in state.runs("nightly")] == ["catch-up"] * 3


def _hourly_with_a_long_run(state: StateStore, overlap: str) -> tuple[Scheduler, FakeClock, FakeLauncher]:
    clock, launcher = FakeClock(T0), FakeLauncher(state)
    sched = scheduler_for(state, make_spec(schedule="0 * * * *", overlap=overlap), clock, launcher)
    sched.tick()
    for hour in (1, 2, 3):  # the 01:00 run is still going at 02:00 and 03:00
        clock.current = T0 + timedelta(hours=hour, seconds=5)
        sched.tick()
    return sched, clock, launcher


def test_overlap_skip_records_the_due_times_as_skipped(state: StateStore) -> None:
    _, _, launcher = _hourly_with_a_long_run(state, "skip")
    assert len(launcher.started) == 1
    runs = state.runs("nightly")
    assert [r.status for r in runs] == ["running", "skipped", "skipped"]
    assert "overlap: skip" in runs[1].reason


def test_overlap_queue_holds_one_waiting_run_that_starts_when_the_running_one_ends(state: StateStore) -> None:
    sched, clock, launcher = _hourly_with_a_long_run(state, "queue")
    assert [r.status for r in state.runs("nightly")] == ["running", "queued", "skipped"]
    launcher.started[0].succeed(clock.now())
    clock.advance(seconds=30)
    sched.tick()
    assert launcher.due_times == [T0 + timedelta(hours=1), T0 + timedelta(hours=2)]


def test_overlap_allow_starts_alongside(state: StateStore) -> None:
    _, _, launcher = _hourly_with_a_long_run(state, "allow")
    assert launcher.due_times == [T0 + timedelta(hours=h) for h in (1, 2, 3)]


def _run_through(state: StateStore, spec: SweepSpec, start: datetime, end: datetime) -> list[datetime | None]:
    """Tick every 10 minutes from ``start`` to ``end``, each run ending at once; the due times that ran."""
    clock, launcher = FakeClock(start), FakeLauncher(state)
    sched = scheduler_for(state, spec, clock, launcher)
    while clock.now() <= end:
        sched.tick()
        for handle in launcher.started:
            if handle.outcome is None:
                assert clock.now() - handle.run.scheduled_for < timedelta(minutes=10)  # type: ignore[operator]
                handle.succeed(clock.now())
        clock.advance(minutes=10)
    return launcher.due_times


def test_dst_spring_forward_new_york(state: StateStore) -> None:
    spec = make_spec(schedule="30 2 * * *", timezone="America/New_York")
    ran = _run_through(state, spec, datetime(2026, 3, 7, 0, 0, tzinfo=UTC), datetime(2026, 3, 10, 0, 0, tzinfo=UTC))
    # README: 02:30 does not exist on 2026-03-08; it runs at 03:30 EDT (07:30 UTC), once.
    assert ran == [
        datetime(2026, 3, 7, 7, 30, tzinfo=UTC),  # 02:30 EST
        datetime(2026, 3, 8, 7, 30, tzinfo=UTC),  # 03:30 EDT
        datetime(2026, 3, 9, 6, 30, tzinfo=UTC),  # 02:30 EDT
    ]


def test_dst_fall_back_berlin(state: StateStore) -> None:
    spec = make_spec(schedule="30 2 * * *", timezone="Europe/Berlin")
    ran = _run_through(state, spec, datetime(2026, 10, 24, 0, 0, tzinfo=UTC), datetime(2026, 10, 27, 0, 0, tzinfo=UTC))
    # README: 02:30 occurs twice on 2026-10-25; it runs once, at the first (02:30 CEST, 00:30 UTC).
    assert ran == [
        datetime(2026, 10, 24, 0, 30, tzinfo=UTC),  # 02:30 CEST
        datetime(2026, 10, 25, 0, 30, tzinfo=UTC),  # 02:30 CEST, the first of two
        datetime(2026, 10, 26, 1, 30, tzinfo=UTC),  # 02:30 CET
    ]


@pytest.mark.parametrize("shared_lease", [True, False], ids=["one-lease", "separate-leases"])
def test_two_schedulers_on_one_postgresql_storage_give_one_run_per_due_time(shared_lease: bool) -> None:
    """Two schedulers tick at the same moments from two threads, each with its own connection. With one lease
    the second stands by; even each with a lease of its own (both act), the lock, the unique due-time record
    and the compare-and-set claim leave one run per due time."""
    name = f"pg-{uuid.uuid4().hex[:10]}"
    spec = make_spec(name, schedule="*/10 * * * *")
    stores = [StateStore(POSTGRES_URL), StateStore(POSTGRES_URL)]
    clock = FakeClock(T0)
    launchers = [FakeLauncher(s) for s in stores]
    lease = f"test-{name}"
    scheds = [
        # A lease longer than the clock's 10-minute steps, so its holder renews it every tick.
        scheduler_for(s, spec, clock, lnch, lease_name=lease if shared_lease else f"{lease}-{i}", lease_seconds=3600)
        for i, (s, lnch) in enumerate(zip(stores, launchers, strict=True))
    ]
    try:
        for _ in range(8):  # 08:00 .. 01:10 in 10-minute steps: 7 due times after the first look
            barrier = threading.Barrier(2)
            errors: list[BaseException] = []

            def tick(s: Scheduler, barrier: threading.Barrier = barrier, errors: list[BaseException] = errors) -> None:
                try:
                    barrier.wait()
                    s.tick()
                except BaseException as exc:  # surfaced below: a thread's failure must fail the test
                    errors.append(exc)

            threads = [threading.Thread(target=tick, args=(s,)) for s in scheds]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert errors == []
            for lnch in launchers:
                for handle in lnch.started:
                    if handle.outcome is None:
                        handle.succeed(clock.now())
            clock.advance(minutes=10, seconds=1 if clock.now() == T0 else 0)
        due = [r.scheduled_for for r in stores[0].runs(name)]
        started = sorted(d for lnch in launchers for d in lnch.due_times)  # type: ignore[type-var]
        assert len(due) == 7
        assert len(set(due)) == 7
        assert started == sorted(due)  # type: ignore[type-var]
        if shared_lease:  # whichever took the lease first kept it
            assert sorted(len(lnch.started) for lnch in launchers) == [0, 7]
    finally:
        with stores[0].engine.begin() as conn:
            conn.execute(runs_table.delete().where(runs_table.c.sweep == name))
            conn.execute(sweeps_table.delete().where(sweeps_table.c.name == name))
        for s in scheds:
            s.stop()
        for store in stores:
            store.close()
