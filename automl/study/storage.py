"""Where studies live: URL resolution, the embedded default, connection checks and password redaction.

The embedded default is one SQLite file, ``$AUTOML_HOME/studies.db`` (``~/.automl/studies.db`` unless
``AUTOML_HOME`` is set), switched to write-ahead logging with a long busy timeout so that several local
workers and the dashboard can share it. Any SQLAlchemy URL Optuna accepts works too, PostgreSQL above all.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import sqlite3
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from automl.errors import StorageError

if TYPE_CHECKING:
    import optuna

log = logging.getLogger(__name__)

HEARTBEAT_INTERVAL = 5  # seconds between a running trial's heartbeats
GRACE_PERIOD = 20  # a RUNNING trial silent this long belongs to a dead worker
MAX_RETRY = 2  # re-runs of a dead worker's trial, with the same parameters
MAX_CONSECUTIVE_FAILURES = 10  # a worker whose trials fail this often in a row stops instead of burning the budget
SQLITE_BUSY_TIMEOUT = 60  # seconds a writer waits for the lock instead of failing with "database is locked"


@dataclass(frozen=True)
class FailurePolicy:
    """How a search survives failures. The CLI flags of ``automl search`` and ``automl worker`` set these.

    A running trial records a heartbeat every ``heartbeat_interval`` seconds; one silent for longer than
    ``grace_period`` belongs to a dead worker: it is marked failed and re-run with the same parameters, at most
    ``max_retry`` times. A worker stops after ``max_consecutive_failures`` failed trials in a row.
    """

    heartbeat_interval: int = HEARTBEAT_INTERVAL
    grace_period: int = GRACE_PERIOD
    max_retry: int = MAX_RETRY
    max_consecutive_failures: int = MAX_CONSECUTIVE_FAILURES

    def __post_init__(self) -> None:
        from automl.validation import ArgumentError, whole_number

        whole_number("heartbeat_interval", self.heartbeat_interval, minimum=1, example=HEARTBEAT_INTERVAL)
        whole_number("grace_period", self.grace_period, minimum=2, example=GRACE_PERIOD)
        if self.grace_period <= self.heartbeat_interval:
            # A grace period no longer than the interval declares live workers dead between two heartbeats.
            raise ArgumentError(
                "grace_period",
                f"must be greater than the heartbeat interval ({self.heartbeat_interval} s)",
                self.grace_period,
                4 * self.heartbeat_interval,
            )
        whole_number("max_retry", self.max_retry, minimum=0, example=MAX_RETRY)
        whole_number(
            "max_consecutive_failures",
            self.max_consecutive_failures,
            minimum=1,
            example=MAX_CONSECUTIVE_FAILURES,
            flag="--max-failures",
        )


def automl_home() -> Path:
    return Path(os.environ.get("AUTOML_HOME", Path.home() / ".automl")).expanduser()


def default_storage_url() -> str:
    return f"sqlite:///{automl_home() / 'studies.db'}"


def resolve_url(url: str | None) -> str:
    return url or os.environ.get("AUTOML_STORAGE") or default_storage_url()


def redact(url: str) -> str:
    """The URL with its password replaced, safe to print, log or write into a report."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return "<unparseable storage URL>"


def _check_url(url: str) -> None:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StorageError(
            f"storage URL {redact(url)!r}: malformed; use e.g. sqlite:///path/studies.db or "
            "postgresql://user@host:5432/db"
        ) from None
    if parsed.get_backend_name() != "sqlite":
        _check_server(url)
        return
    if parsed.database and parsed.database != ":memory:":
        path = Path(parsed.database).expanduser()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with sqlite3.connect(path, timeout=SQLITE_BUSY_TIMEOUT) as conn:
                # WAL lets readers (the dashboard, `automl studies`) work while a worker writes.
                conn.execute("PRAGMA journal_mode=WAL")
        except (OSError, sqlite3.Error) as exc:
            raise StorageError(f"storage {redact(url)}: cannot open the SQLite file ({exc}); check the path") from None


def _check_server(url: str) -> None:
    """Connect once ourselves: Optuna reports a refused connection as a missing driver, which misleads."""
    from sqlalchemy import create_engine
    from sqlalchemy.exc import SQLAlchemyError

    try:
        engine = create_engine(url, connect_args={"connect_timeout": 10} if url.startswith("postgres") else {})
        with engine.connect():
            pass
        engine.dispose()
    except ModuleNotFoundError as exc:
        raise StorageError(f"storage {redact(url)}: driver missing ({exc.name}); pip install it") from None
    except (SQLAlchemyError, OSError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        text = (reason[0] if reason else type(exc).__name__)[:200].replace(url, redact(url))
        raise StorageError(
            f"storage {redact(url)}: cannot connect ({text}); check the URL and that the server is running"
        ) from None


def open_storage(
    url: str | None = None, *, heartbeat: bool = True, policy: FailurePolicy | None = None
) -> optuna.storages.RDBStorage:
    """An Optuna RDB storage with heartbeats and retries of dead workers' trials, or a one-line error."""
    import optuna

    policy = policy or FailurePolicy()
    url = resolve_url(url)
    _check_url(url)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        retry = _retry_callback(policy.max_retry) if heartbeat else None
    engine_kwargs: dict[str, object] = {}
    if url.startswith("sqlite"):
        engine_kwargs["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT}
    else:
        engine_kwargs["pool_pre_ping"] = True
    kwargs: dict[str, Any] = {}  # RDBStorage's heartbeat options, each of its own type
    if heartbeat:
        kwargs = {
            "heartbeat_interval": policy.heartbeat_interval,
            "grace_period": policy.grace_period,
            "heartbeat_stale_trial_callback": retry,
        }
    from sqlalchemy.exc import SQLAlchemyError

    try:
        with _schema_creation_lock(url), warnings.catch_warnings():
            # Heartbeats and their retry callback are "experimental" since Optuna 2.8 and stable in behaviour.
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs, **kwargs)
    # The database's own failures and Optuna's schema-version refusals (RuntimeError) are the user's to fix;
    # anything else is a bug in automl and keeps its traceback.
    except (SQLAlchemyError, OSError, ImportError, RuntimeError) as exc:
        reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        reason = reason.replace(url, redact(url))
        raise StorageError(
            f"storage {redact(url)}: cannot be opened ({reason}); check the URL and that the server is running"
        ) from None


def lock_key(label: str) -> int:
    """A PostgreSQL advisory-lock key (a signed 64-bit integer) for a label."""
    return int.from_bytes(hashlib.sha256(label.encode()).digest()[:8], "big", signed=True)


def lock_file_beside(database: str | None, purpose: str) -> Path | None:
    """The lock file next to an SQLite database file (``studies.db.<purpose>.lock``); None for in-memory ones."""
    if not database or database == ":memory:":
        return None
    path = Path(database).expanduser()
    return path.with_name(f"{path.name}.{purpose}.lock")


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive ``flock`` on ``path``, released by the kernel if the process dies."""
    import fcntl

    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def _advisory_lock(engine: Any, key: int) -> Iterator[Any]:
    """A transaction-scoped PostgreSQL advisory lock: released on commit, rollback or a dropped connection, so a
    killed process cannot leave it held. Yields the transaction's connection."""
    from sqlalchemy import text

    with engine.begin() as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
        yield conn


# One key for every automl process on a PostgreSQL server: schema creation is rare and brief.
_SCHEMA_LOCK_KEY = lock_key("automl-schema")


@contextlib.contextmanager
def _schema_creation_lock(url: str) -> Iterator[None]:
    """Hold a cross-process lock while Optuna opens the storage.

    Opening a storage creates Optuna's tables when they are missing (check, then CREATE TABLE). Two processes
    opening a fresh storage at once, e.g. a search and the dashboard, or workers started together, race between
    the check and the create, and the loser fails with "table studies already exists". An SQLite file gets an
    exclusive ``flock`` on a file next to it; PostgreSQL an advisory lock on a connection of its own.
    """
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    backend = parsed.get_backend_name()
    lock_file = lock_file_beside(parsed.database, "schema") if backend == "sqlite" else None
    if lock_file is not None:
        with file_lock(lock_file):
            yield
    elif backend == "postgresql":
        from sqlalchemy import create_engine
        from sqlalchemy.pool import NullPool

        engine = create_engine(url, poolclass=NullPool)
        try:
            with _advisory_lock(engine, _SCHEMA_LOCK_KEY):
                yield
        finally:
            engine.dispose()
    else:
        yield


def _retry_callback(max_retry: int) -> Any:
    """Optuna's retry of heartbeat-stale trials (same parameters, linked through ``retried_trial_number``),
    minus the dead run's partial curves and failure reason, which would otherwise be copied onto the retry."""
    import copy

    from optuna.storages import RetryHeartbeatStaleTrialCallback

    from automl.study.record import RUN_KEYS

    class RetryDeadWorkerTrial(RetryHeartbeatStaleTrialCallback):
        def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
            clean = copy.copy(trial)
            # The dead run's results stay with it; the retry starts without them (the config is recorded again).
            clean.user_attrs = {k: v for k, v in trial.user_attrs.items() if k not in RUN_KEYS}
            super().__call__(study, clean)

    return RetryDeadWorkerTrial(max_retry=max_retry)


class StudyLock:
    """Mutual exclusion across threads, processes and machines for one study's short critical sections.

    The budget check and the start of a trial must be one atomic step, or concurrent workers overshoot the
    budget. PostgreSQL gives a transaction-scoped advisory lock (released on commit, rollback or a dropped
    connection, so a killed worker cannot leave it held); an SQLite file is local, so an exclusive ``flock`` on a
    file next to it does (released by the kernel when the process dies). Other servers get only the in-process
    lock: there concurrent workers may exceed the budget by up to one trial each.
    """

    def __init__(self, storage: Any, study_name: str) -> None:
        self._thread_lock = threading.Lock()
        from automl.study.optuna_compat import unwrapped

        backend = unwrapped(storage)  # Optuna wraps RDB storages in a caching layer
        self._engine = getattr(backend, "engine", None)
        self._kind = self._engine.name if self._engine is not None else "memory"
        self._key = lock_key(f"automl-study:{study_name}")
        self._path: Path | None = None
        if self._kind == "sqlite" and self._engine is not None:
            self._path = lock_file_beside(self._engine.url.database, "claims")
        elif self._kind not in ("postgresql", "memory"):
            log.warning(
                "storage %s has no cross-process study lock; workers may exceed the budget by a trial each",
                self._kind,
            )

    @contextlib.contextmanager
    def hold(self) -> Iterator[Any]:
        """Hold the lock. Yields the SQLAlchemy connection of the lock's own transaction on PostgreSQL (statements
        run on it commit with the lock's release, in one round trip), else None."""
        with self._thread_lock:
            if self._kind == "postgresql":
                with _advisory_lock(self._engine, self._key) as conn:
                    yield conn
            elif self._path is not None:
                with file_lock(self._path):
                    yield None
            else:
                yield None
