"""Ctrl-C and SIGTERM, remembered as well as raised.

Python raises KeyboardInterrupt wherever the main thread happens to be. Inside a weak-reference or garbage
collection callback (TensorFlow creates many) the exception is printed as "Exception ignored in ..." and lost, and
the search would carry on. So the handler also records the request, and the trial loop checks it at every epoch
end and before every trial: a lost interrupt still stops the search within one epoch.
"""

from __future__ import annotations

import threading

_requested = threading.Event()


def handle_signal(signum: int, frame: object) -> None:
    """A signal handler for SIGINT and SIGTERM: remember the request, then interrupt."""
    _requested.set()
    raise KeyboardInterrupt


def requested() -> bool:
    return _requested.is_set()


def clear() -> None:
    """Forget an earlier request (``automl.cli.main`` may run many times in one process)."""
    _requested.clear()


def check() -> None:
    """Raise KeyboardInterrupt if an interrupt was requested, e.g. one swallowed by a callback."""
    if _requested.is_set():
        raise KeyboardInterrupt
