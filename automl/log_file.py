"""A log file of its own for a stretch of this process (a sweep run): everything it says also goes to a file.

"Everything" is what the stretch prints to stdout and stderr (the search's progress lines, the final stage's
steps) and its log records. Where a handler already prints the records to stderr (the CLI's), they reach the file
through stderr, once; otherwise (the Python API with logging left unconfigured) a handler writes INFO and above
to the file only, leaving the caller's console as it was. A stretch that ends with an exception writes its
traceback last, so the file says why a run failed. Other processes' output (local worker processes, a Ray
cluster's workers) goes where it always went.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class _Tee:
    """A text stream that writes to ``console`` (when given) and to ``file``, one writer at a time; everything
    else is the console's (isatty, fileno, encoding), so code that asks what it writes to still sees it."""

    def __init__(self, console: TextIO | None, file: TextIO, lock: threading.Lock) -> None:
        self._console, self._file, self._lock = console, file, lock

    def write(self, text: str) -> int:
        with self._lock:
            written = self._console.write(text) if self._console is not None else len(text)
            if not self._file.closed:  # a thread still printing after the block ended
                self._file.write(text)
        return written

    def flush(self) -> None:
        with self._lock:
            if self._console is not None:
                self._console.flush()
            if not self._file.closed:
                self._file.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._console if self._console is not None else self._file, name)


def _prints_to(handler: logging.Handler, stream: TextIO) -> bool:
    return isinstance(handler, logging.StreamHandler) and getattr(handler, "stream", None) is stream


@contextlib.contextmanager
def copy_output_to(path: Path) -> Iterator[Path]:
    """Within the block, copy this process's stdout, stderr and log records to ``path`` (appended; folders
    made). Restores everything on the way out."""
    path.parent.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger()
    out, err, level = sys.stdout, sys.stderr, root.level
    lock = threading.Lock()
    with path.open("a", encoding="utf-8") as file:
        handler: logging.Handler | None = None
        if not any(_prints_to(h, err) for h in root.handlers):
            handler = logging.StreamHandler(_Tee(None, file, lock))
            handler.setFormatter(logging.Formatter(FORMAT))
            handler.setLevel(logging.INFO)
            root.addHandler(handler)
            if level > logging.INFO:  # lowered for the block only: INFO records reach the file, not the console
                root.setLevel(logging.INFO)
        sys.stdout, sys.stderr = _Tee(out, file, lock), _Tee(err, file, lock)
        try:
            yield path
        except BaseException:
            with lock:
                file.write(traceback.format_exc())
            raise
        finally:
            sys.stdout, sys.stderr = out, err
            if handler is not None:
                root.removeHandler(handler)
                root.setLevel(level)
