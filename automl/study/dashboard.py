"""``automl dashboard``: optuna-dashboard on the project's storage, local by default.

The dashboard reads the same Optuna storage the searches write, so it can run while a search is going: SQLite
files are in write-ahead-logging mode with a long busy timeout (see :mod:`automl.study.storage`), and the server opens
the storage without heartbeats, so it never touches a running trial. On start it writes the automl note
(configuration, best epoch, train/validation gap, diagnosis) for finished trials that lack one, so studies
recorded before notes existed, or by another backend, show the same facts.
"""

from __future__ import annotations

import errno
import logging
import socket
import sys
import warnings
from socketserver import ThreadingMixIn
from typing import TYPE_CHECKING, Any, TextIO
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from automl.errors import AutomlError

if TYPE_CHECKING:
    import optuna

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080  # optuna-dashboard's own default, so its documentation still applies
LOCAL_HOSTS = ("127.0.0.1", "localhost")


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    # The single-page app fires several API requests at once; one slow query must not stall the others.
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    """The page polls the API every few seconds; one log line per request would bury everything else."""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the signature is the base class's
        log.debug("%s - %s", self.address_string(), format % args)


def dashboard_url(host: str, port: int) -> str:
    return f"http://{host}:{port}/dashboard/"


def bind(app: Any, host: str, port: int) -> WSGIServer:
    """The listening server, or a one-line error naming the address and the fix."""
    if not 0 <= port <= 65535:
        raise AutomlError(f"--port: must be between 0 and 65535, got {port}; pass e.g. --port 8080")
    try:
        return make_server(host, port, app, server_class=_ThreadingServer, handler_class=_QuietHandler)
    except socket.gaierror:
        raise AutomlError(f"--host {host!r}: not a known host name or address; use e.g. --host 127.0.0.1") from None
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise AutomlError(
                f"--port {port}: already in use on {host}; pass another port, e.g. --port {port + 1}"
            ) from None
        if exc.errno == errno.EACCES:
            raise AutomlError(f"--port {port}: not allowed for this user; use a port above 1023") from None
        raise AutomlError(f"--host {host!r} --port {port}: cannot listen there ({exc.strerror})") from None


def serve(
    storage: str | None = None,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    *,
    notes: bool = True,
    out: TextIO | None = None,
) -> None:
    """Serve the dashboard until Ctrl-C (or SIGTERM through the CLI), then close the socket and the storage.

    ``port=0`` picks a free port; the printed URL carries the real one.
    """
    import optuna_dashboard

    from automl.study.storage import open_storage, redact, resolve_url

    out = out or sys.stdout
    # The page recomputes importances on each refresh; Optuna's caution about parameters seen in few trials
    # would otherwise be printed on the terminal for every conditional parameter.
    warnings.filterwarnings("ignore", message="Some regimes for parameter", category=UserWarning)
    url = resolve_url(storage)
    # No heartbeats: the dashboard is a reader, not a worker, and must not fail or retry anyone's trials.
    rdb = open_storage(url, heartbeat=False)
    studies = rdb.get_all_studies()
    if notes:
        _backfill_notes(rdb)
    try:
        server = bind(optuna_dashboard.wsgi(rdb), host, port)
    except AutomlError:
        rdb.engine.dispose()
        raise
    address = dashboard_url(host, server.server_port)
    try:
        count = f"{len(studies)} stud{'y' if len(studies) == 1 else 'ies'}" if studies else "no studies yet"
        print(f"Optuna dashboard for {redact(url)} ({count}): {address}", file=out, flush=True)
        if host not in LOCAL_HOSTS:
            print(
                f"warning: listening on {host}, reachable from other machines; the dashboard has no login "
                "and can edit and delete studies",
                file=out,
                flush=True,
            )
        print("Press Ctrl-C to stop.", file=out, flush=True)
        server.serve_forever()
    except KeyboardInterrupt:
        print("Dashboard stopped.", file=out, flush=True)
    finally:
        server.server_close()
        rdb.engine.dispose()


def _backfill_notes(rdb: optuna.storages.RDBStorage) -> None:
    """Notes for finished trials of automl studies that have none; a read-only storage only costs a warning."""
    from automl.study.notes import write_missing_notes

    try:
        written = write_missing_notes(rdb)
    except Exception as exc:  # a read-only database user, a locked file: the dashboard still works without notes
        log.warning("could not write trial notes (%s); the dashboard shows user attributes only", exc)
        return
    if written:
        log.info("wrote notes for %d trials", written)
