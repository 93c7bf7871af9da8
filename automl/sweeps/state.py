"""The scheduler's record on a storage URL: reading and writing the sweeps, runs and lease
(:mod:`automl.sweeps.tables`).

Exactly once rests on three things, all kept here:

1. every run has one row, and ``UNIQUE(sweep, scheduled_for)`` forbids a second for the same due time;
2. the rows for new due times and the sweep's ``checked_until`` (how far its schedule has been read) are written
   in one transaction, so a scheduler dying half-way leaves either both or neither;
3. that transaction runs under a cross-process lock (a PostgreSQL advisory lock, an ``flock`` beside an SQLite
   file), and inside it a scheduler acts only while it holds the lease row, so of two schedulers on one storage
   one acts and the other stands by until the lease runs out.

A run moves pending -> running by compare-and-set (:meth:`StateStore.claim`), so it is started at most once; a
running run whose heartbeat stops is recorded failed ("lost"), never started again.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    and_,
    func,
    insert,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.engine import Connection, make_url

from automl.errors import StorageError
from automl.study.storage import file_lock, lock_file_beside, lock_key, redact, resolve_url
from automl.sweeps.tables import (
    ACTIVE,
    RunRow,
    RunStatus,
    SweepRow,
    lease_table,
    metadata,
    open_engine,
    runs_table,
    sweeps_table,
    to_db,
    utc,
)

_LOCK_KEY = lock_key("automl-sweeps")


def add_missing_columns(conn: Connection) -> list[str]:
    """Add the run table's columns that an older automl created it without (all nullable, so old rows read as
    None and older automl versions, which name their columns, read on as before); the names added."""
    present = {c["name"] for c in inspect(conn).get_columns(runs_table.name)}
    added = []
    for column in runs_table.columns:
        if column.name not in present:
            kind = column.type.compile(dialect=conn.dialect)
            conn.execute(text(f"ALTER TABLE {runs_table.name} ADD COLUMN {column.name} {kind}"))
            added.append(column.name)
    return added


class StateStore:
    """The scheduler's tables on ``url`` (default: ``$AUTOML_STORAGE``, else the embedded SQLite file)."""

    def __init__(self, url: str | None = None) -> None:
        self.url = resolve_url(url)
        self.engine = open_engine(self.url)
        self._thread_lock = threading.Lock()
        parsed = make_url(self.url)
        self._kind = parsed.get_backend_name()
        self._lock_path = lock_file_beside(parsed.database, "sweeps") if self._kind == "sqlite" else None
        with self.transaction() as conn:  # under the lock: processes opening a fresh storage race on CREATE
            metadata.create_all(conn)
            add_missing_columns(conn)

    def close(self) -> None:
        self.engine.dispose()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One transaction under the cross-process lock (see the module docstring)."""
        with self._thread_lock:
            if self._kind == "postgresql":
                with self.engine.begin() as conn:
                    conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
                    yield conn
            elif self._lock_path is not None:
                with file_lock(self._lock_path), self.engine.begin() as conn:
                    yield conn
            else:
                with self.engine.begin() as conn:
                    yield conn

    # ---------------------------------------------------------------------------------------------------------
    # The lease

    def take_lease(self, conn: Connection, holder: str, now: datetime, ttl: timedelta, name: str) -> str | None:
        """Hold (or renew) the lease ``name`` until ``now + ttl``; returns None when taken, else the holder."""
        row = conn.execute(select(lease_table).where(lease_table.c.name == name)).first()
        if row is not None and row.holder != holder and utc(row.expires_at) > now:
            return str(row.holder)
        values = {"holder": holder, "expires_at": to_db(now + ttl)}
        if row is None:
            conn.execute(insert(lease_table).values(name=name, **values))
        else:
            conn.execute(update(lease_table).where(lease_table.c.name == name).values(**values))
        return None

    def release_lease(self, holder: str, name: str) -> None:
        with self.transaction() as conn:
            conn.execute(
                update(lease_table)
                .where(and_(lease_table.c.name == name, lease_table.c.holder == holder))
                .values(expires_at=datetime(1970, 1, 1))
            )

    # ---------------------------------------------------------------------------------------------------------
    # Sweeps

    def ensure_sweep(
        self, conn: Connection, name: str, schedule: str, timezone: str, source: str, now: datetime
    ) -> SweepRow:
        """The sweep's row; a sweep seen for the first time starts reading its schedule at ``now`` (nothing
        before it was ever due). A changed schedule keeps ``checked_until``: due times already decided stay so."""
        row = conn.execute(select(sweeps_table).where(sweeps_table.c.name == name)).first()
        if row is None:
            conn.execute(
                insert(sweeps_table).values(
                    name=name,
                    schedule=schedule,
                    timezone=timezone,
                    source=source,
                    checked_until=to_db(now),
                    created_at=to_db(now),
                )
            )
            return SweepRow(name, schedule, timezone, source, now, now)
        if (row.schedule, row.timezone, row.source) != (schedule, timezone, source):
            conn.execute(
                update(sweeps_table)
                .where(sweeps_table.c.name == name)
                .values(schedule=schedule, timezone=timezone, source=source)
            )
        return SweepRow(name, schedule, timezone, source, utc(row.checked_until), utc(row.created_at))

    def set_checked(self, conn: Connection, name: str, until: datetime) -> None:
        conn.execute(update(sweeps_table).where(sweeps_table.c.name == name).values(checked_until=to_db(until)))

    def sweeps(self) -> dict[str, SweepRow]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(sweeps_table)).all()
        return {
            r.name: SweepRow(r.name, r.schedule, r.timezone, r.source, utc(r.checked_until), utc(r.created_at))
            for r in rows
        }

    # ---------------------------------------------------------------------------------------------------------
    # Runs

    def add_run(self, conn: Connection, sweep: str, **values: Any) -> int:
        """Insert a run row; the unique (sweep, scheduled_for) key refuses a second row for one due time."""
        for key in ("scheduled_for", "start_after", "created_at", "started_at", "heartbeat_at"):
            if key in values:
                values[key] = to_db(values[key])
        result = conn.execute(insert(runs_table).values(sweep=sweep, **values))
        inserted = result.inserted_primary_key
        assert inserted is not None, "a one-row insert into a table with a primary key always returns the key"
        return int(inserted[0])

    def has_run_for(self, conn: Connection, sweep: str, scheduled_for: datetime) -> bool:
        query = select(runs_table.c.id).where(
            and_(runs_table.c.sweep == sweep, runs_table.c.scheduled_for == to_db(scheduled_for))
        )
        return conn.execute(query).first() is not None

    def counts(self, conn: Connection, sweep: str) -> tuple[int, int]:
        """(runs going: pending or running, runs waiting: queued) for ``sweep``."""
        query = (
            select(runs_table.c.status, func.count())
            .where(and_(runs_table.c.sweep == sweep, runs_table.c.status.in_((*ACTIVE, RunStatus.QUEUED))))
            .group_by(runs_table.c.status)
        )
        by_status: dict[str, int] = {status: count for status, count in conn.execute(query).all()}
        return sum(by_status.get(s, 0) for s in ACTIVE), by_status.get(RunStatus.QUEUED, 0)

    def promote_queued(self, conn: Connection, sweep: str, now: datetime) -> int | None:
        """Make the oldest waiting run pending when no run of ``sweep`` is going; its id, or None."""
        active, waiting = self.counts(conn, sweep)
        if active or not waiting:
            return None
        row = conn.execute(
            select(runs_table.c.id)
            .where(and_(runs_table.c.sweep == sweep, runs_table.c.status == RunStatus.QUEUED))
            .order_by(runs_table.c.scheduled_for, runs_table.c.id)
        ).first()
        if row is None:  # another scheduler promoted or removed it since the count: nothing waits now
            return None
        conn.execute(
            update(runs_table).where(runs_table.c.id == row.id).values(status=RunStatus.PENDING, start_after=to_db(now))
        )
        return int(row.id)

    def claim(self, conn: Connection, owner: str, now: datetime, sweeps: list[str]) -> list[RunRow]:
        """Move every pending run of ``sweeps`` whose start time has come to running, owned by ``owner``.
        Compare-and-set on the status, so a run is claimed once however many schedulers try."""
        due = conn.execute(
            select(runs_table)
            .where(
                and_(
                    runs_table.c.status == RunStatus.PENDING,
                    runs_table.c.sweep.in_(sweeps),
                    runs_table.c.start_after <= to_db(now),
                )
            )
            .order_by(runs_table.c.scheduled_for, runs_table.c.id)
        ).all()
        claimed = []
        for row in due:
            result = conn.execute(
                update(runs_table)
                .where(and_(runs_table.c.id == row.id, runs_table.c.status == RunStatus.PENDING))
                .values(status=RunStatus.RUNNING, owner=owner, started_at=to_db(now), heartbeat_at=to_db(now))
            )
            if result.rowcount == 1:
                claimed.append(self._get(conn, row.id))
        return claimed

    def fail_lost(self, conn: Connection, now: datetime, grace: timedelta, keep_owner: str | None = None) -> list[int]:
        """Record as failed every running run whose heartbeat is older than ``grace`` (its process or its
        scheduler died). It is not started again: its due time has had its run."""
        rows = conn.execute(
            select(runs_table).where(
                and_(runs_table.c.status == RunStatus.RUNNING, runs_table.c.heartbeat_at < to_db(now - grace))
            )
        ).all()
        lost = [r for r in rows if r.owner != keep_owner]
        for r in lost:
            conn.execute(
                update(runs_table)
                .where(and_(runs_table.c.id == r.id, runs_table.c.status == RunStatus.RUNNING))
                .values(
                    status=RunStatus.FAILED,
                    finished_at=to_db(now),
                    reason=f"lost: no heartbeat since {utc(r.heartbeat_at):%Y-%m-%d %H:%M:%S} UTC "
                    f"(its process or scheduler {r.owner} died)",
                )
            )
        return [int(r.id) for r in lost]

    def heartbeat(self, run_ids: list[int], now: datetime) -> None:
        if not run_ids:
            return
        with self.engine.begin() as conn:
            conn.execute(
                update(runs_table)
                .where(and_(runs_table.c.id.in_(run_ids), runs_table.c.status == RunStatus.RUNNING))
                .values(heartbeat_at=to_db(now))
            )

    def start_manual(self, sweep: str, owner: str, now: datetime) -> int:
        with self.transaction() as conn:
            return self.add_run(
                conn,
                sweep,
                trigger="manual",
                status=RunStatus.RUNNING,
                owner=owner,
                created_at=now,
                started_at=now,
                heartbeat_at=now,
                start_after=now,
            )

    def update_run(self, run_id: int, **values: Any) -> None:
        for key in ("finished_at", "started_at", "heartbeat_at"):
            if key in values:
                values[key] = to_db(values[key])
        with self.engine.begin() as conn:
            conn.execute(update(runs_table).where(runs_table.c.id == run_id).values(**values))

    def finish(
        self,
        run_id: int,
        status: RunStatus,
        now: datetime,
        reason: str = "",
        only_if_running: bool = False,
        **values: Any,
    ) -> bool:
        """Record the run's end; with ``only_if_running``, only when nobody recorded it yet (returns whether)."""
        where = runs_table.c.id == run_id
        if only_if_running:
            where = and_(where, runs_table.c.status == RunStatus.RUNNING)
        with self.engine.begin() as conn:
            result = conn.execute(
                update(runs_table).where(where).values(status=status, reason=reason, finished_at=to_db(now), **values)
            )
        return result.rowcount == 1

    def get(self, run_id: int) -> RunRow:
        with self.engine.connect() as conn:
            return self._get(conn, run_id)

    def _get(self, conn: Connection, run_id: int) -> RunRow:
        row = conn.execute(select(runs_table).where(runs_table.c.id == run_id)).first()
        if row is None:
            raise StorageError(f"sweep run {run_id}: not found in {redact(self.url)}; check --storage")
        return RunRow.from_row(row)

    def runs(self, sweep: str | None = None) -> list[RunRow]:
        """Runs oldest first (by due time, runs by hand by their creation)."""
        query = select(runs_table).order_by(runs_table.c.created_at, runs_table.c.id)
        if sweep is not None:
            query = query.where(runs_table.c.sweep == sweep)
        with self.engine.connect() as conn:
            return [RunRow.from_row(r) for r in conn.execute(query).all()]

    def last_success(self, sweep: str, before: int | None = None) -> RunRow | None:
        """The latest succeeded run of ``sweep`` whose study still exists: the one a new run warm-starts from."""
        rows = [
            r
            for r in self.runs(sweep)
            if r.status == RunStatus.SUCCEEDED
            and r.study
            and not r.study_deleted
            and (before is None or r.id != before)
        ]
        return max(rows, key=lambda r: (r.finished_at or r.created_at, r.id)) if rows else None
