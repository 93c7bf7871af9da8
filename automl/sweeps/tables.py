"""The scheduler's tables (SQLAlchemy Core, beside Optuna's on the same storage) and the rows read from them:
the sweeps, one row per run, and the lease. :class:`automl.sweeps.state.StateStore` is what reads and writes
them, under the rules that make a run happen exactly once.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, overload

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
)
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import SQLAlchemyError

from automl.errors import StorageError
from automl.study.storage import SQLITE_BUSY_TIMEOUT, redact


class RunStatus(StrEnum):
    """A sweep run's status. The values are the text stored in ``automl_sweep_runs.status``: changing one would
    leave existing databases unreadable, so they stay as they are."""

    PENDING = "pending"  # may start (at its start_after instant)
    QUEUED = "queued"  # waits for the sweep's running run to end
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"


ACTIVE = (RunStatus.PENDING, RunStatus.RUNNING)  # a run of the sweep is going: what overlap looks at

metadata = MetaData()

sweeps_table = Table(
    "automl_sweeps",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("schedule", String(200)),
    Column("timezone", String(64)),
    Column("source", Text),
    Column("checked_until", DateTime, nullable=False),  # due times up to here have been decided
    Column("created_at", DateTime, nullable=False),
)

runs_table = Table(
    "automl_sweep_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("sweep", String(100), nullable=False, index=True),
    Column("scheduled_for", DateTime),  # NULL for a run started by hand (`automl sweep run`)
    Column("trigger", String(20), nullable=False),  # schedule | catch-up | manual
    Column("status", String(20), nullable=False),  # pending | queued | running | succeeded | failed | skipped
    Column("reason", Text, nullable=False, default=""),
    Column("start_after", DateTime),
    Column("created_at", DateTime, nullable=False),
    Column("started_at", DateTime),
    Column("finished_at", DateTime),
    Column("heartbeat_at", DateTime),
    Column("owner", String(200)),  # the scheduler (or process) that started it
    Column("study", String(200)),
    Column("previous_study", String(200)),
    Column("storage", Text),  # the sweep's storage, redacted
    Column("metric", String(100)),
    Column("direction", String(20)),
    Column("trials", Integer),
    Column("best_value", Float),
    Column("test_metric", String(100)),
    Column("test_value", Float),
    Column("warm_started", Integer),
    Column("notes", Text, nullable=False, default=""),  # warm start and data messages
    Column("ray_job", String(200)),
    Column("study_deleted", Boolean, nullable=False, default=False),
    # Added later: nullable, so StateStore adds them to an older table (automl.sweeps.state.add_missing_columns).
    Column("resumed", Integer),  # finished trials copied from the previous run (data and space unchanged)
    Column("log_path", Text),  # the run's log file, an absolute path on the machine that ran it
    UniqueConstraint("sweep", "scheduled_for", name="uq_automl_sweep_runs_due"),
)

lease_table = Table(
    "automl_scheduler_lease",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("holder", String(200), nullable=False),
    Column("expires_at", DateTime, nullable=False),
)


@overload
def utc(value: datetime) -> datetime: ...
@overload
def utc(value: None) -> None: ...
def utc(value: datetime | None) -> datetime | None:
    """An instant read back from the database (stored naive, in UTC) as an aware datetime."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def to_db(value: datetime | None) -> datetime | None:
    """An aware instant as the naive UTC the tables store (SQLite keeps no offsets)."""
    return value.astimezone(UTC).replace(tzinfo=None) if value is not None else None


def new_owner() -> str:
    """host:pid:random, unique per scheduler object, so two in one process are still two."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class RunRow:
    id: int
    sweep: str
    scheduled_for: datetime | None
    trigger: str
    status: RunStatus
    reason: str
    start_after: datetime | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    heartbeat_at: datetime | None
    owner: str | None
    study: str | None
    previous_study: str | None
    storage: str | None
    metric: str | None
    direction: str | None
    trials: int | None
    best_value: float | None
    test_metric: str | None
    test_value: float | None
    warm_started: int | None
    notes: str
    ray_job: str | None
    study_deleted: bool
    resumed: int | None = None
    log_path: str | None = None

    @classmethod
    def from_row(cls, row: Any) -> RunRow:
        values = dict(row._mapping)
        for key in ("scheduled_for", "start_after", "created_at", "started_at", "finished_at", "heartbeat_at"):
            values[key] = utc(values[key])
        values["status"] = RunStatus(values["status"])
        values["notes"] = values["notes"] or ""
        values["reason"] = values["reason"] or ""
        values["study_deleted"] = bool(values["study_deleted"])
        return cls(**values)


@dataclass(frozen=True)
class SweepRow:
    name: str
    schedule: str | None
    timezone: str | None
    source: str | None
    checked_until: datetime
    created_at: datetime


def open_engine(url: str) -> Engine:
    """An engine for the scheduler's tables, or a one-line StorageError."""
    parsed = make_url(url)
    kwargs: dict[str, Any] = {}
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT}
    else:
        kwargs["pool_pre_ping"] = True
    try:
        engine = create_engine(url, **kwargs)
        with engine.connect() as conn:
            if parsed.get_backend_name() == "sqlite":
                conn.exec_driver_sql("PRAGMA journal_mode=WAL")  # readers (sweep list) alongside a writer
        return engine
    except ModuleNotFoundError as exc:
        raise StorageError(f"storage {redact(url)}: driver missing ({exc.name}); pip install it") from None
    except (SQLAlchemyError, OSError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        text_ = (reason[0] if reason else type(exc).__name__)[:200].replace(url, redact(url))
        raise StorageError(
            f"storage {redact(url)}: cannot open the scheduler's tables ({text_}); check the URL and the server"
        ) from None
