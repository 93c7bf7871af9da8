"""Ctrl-C and SIGTERM, remembered as well as raised.

Python raises KeyboardInterrupt wherever the main thread happens to be. Inside a weak-reference or garbage
collection callback (TensorFlow creates many) the exception is printed as "Exception ignored in ..." and lost, and
the search would carry on. So the handler also records the request, and the trial loop checks it at every epoch
end and before every trial: a lost interrupt still stops the search within one epoch.

A few steps must not be cut in half: a trial created in the study but not yet known to whoever ends it would be
left RUNNING for ever. They run under :func:`deferred`, where the handler only records the request, and the
interrupt is raised as the block ends.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

_requested = threading.Event()
_deferring = 0  # how many deferred() blocks the main thread (where signal handlers run) is inside


def handle_signal(signum: int, frame: object) -> None:
    """A signal handler for SIGINT and SIGTERM: remember the request, then interrupt (unless deferred)."""
    _requested.set()
    if _deferring == 0:
        raise KeyboardInterrupt


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Run a block that a signal must not cut in half; an interrupt requested meanwhile is raised at its end
    (unless the block is already raising). Meant for the main thread, where Python runs signal handlers."""
    global _deferring
    _deferring += 1
    try:
        yield
    finally:
        _deferring -= 1
    if _deferring == 0:
        check()


def requested() -> bool:
    return _requested.is_set()


def clear() -> None:
    """Forget an earlier request (``automl.cli.main`` may run many times in one process)."""
    _requested.clear()


def check() -> None:
    """Raise KeyboardInterrupt if an interrupt was requested, e.g. one swallowed by a callback."""
    if _requested.is_set():
        raise KeyboardInterrupt
