"""Where studies live: URL resolution, the embedded default, connection checks and password redaction.

The embedded default is one SQLite file, ``$AUTOML_HOME/studies.db`` (``~/.automl/studies.db`` unless
``AUTOML_HOME`` is set), switched to write-ahead logging with a long busy timeout so that several local
workers and the dashboard can share it. Any SQLAlchemy URL Optuna accepts works too, PostgreSQL above all.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

from automl.errors import StorageError

if TYPE_CHECKING:
    import optuna

HEARTBEAT_INTERVAL = 5  # seconds between a running trial's heartbeats
GRACE_PERIOD = 20  # a RUNNING trial silent this long belongs to a dead worker
MAX_RETRY = 2  # re-runs of a dead worker's trial, with the same parameters
SQLITE_BUSY_TIMEOUT = 60  # seconds a writer waits for the lock instead of failing with "database is locked"


def automl_home() -> Path:
    return Path(os.environ.get("AUTOML_HOME", Path.home() / ".automl")).expanduser()


def default_storage_url() -> str:
    return f"sqlite:///{automl_home() / 'studies.db'}"


def resolve_url(url: str | None) -> str:
    return url or os.environ.get("AUTOML_STORAGE") or default_storage_url()


def redact(url: str) -> str:
    """The URL with its password replaced, safe to print, log or write into a report."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:
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


def open_storage(url: str | None = None, *, heartbeat: bool = True) -> optuna.storages.RDBStorage:
    """An Optuna RDB storage with heartbeats and retries of dead workers' trials, or a one-line error."""
    import optuna
    from optuna.storages import RetryHeartbeatStaleTrialCallback

    url = resolve_url(url)
    _check_url(url)
    engine_kwargs: dict[str, object] = {}
    if url.startswith("sqlite"):
        engine_kwargs["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT}
    else:
        engine_kwargs["pool_pre_ping"] = True
    kwargs: dict[str, object] = {}
    if heartbeat:
        kwargs = {
            "heartbeat_interval": HEARTBEAT_INTERVAL,
            "grace_period": GRACE_PERIOD,
            "heartbeat_stale_trial_callback": RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRY),
        }
    try:
        return optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs, **kwargs)  # type: ignore[arg-type]
    except Exception as exc:
        reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        reason = reason.replace(url, redact(url))
        raise StorageError(
            f"storage {redact(url)}: cannot be opened ({reason}); check the URL and that the server is running"
        ) from None
