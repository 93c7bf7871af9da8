"""Never silent for long: a line of status whenever nothing was printed for a while, even mid-epoch.

Off a terminal (a CI log, a cluster job) progress is printed as plain lines when something happens: a trial ends,
a final-stage step starts. A long epoch or a long retraining would leave the log silent for minutes; a
:class:`Ticker` prints the current status line when ``interval`` seconds pass without output.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TextIO

SILENCE_SECONDS = 28.0  # a status line after this much silence: with the 1 s poll, never more than 30 s silent
_POLL_SECONDS = 1.0


class Ticker:
    """A daemon thread printing ``status()`` to ``stream`` after ``interval`` seconds without output."""

    def __init__(self, status: Callable[[], str], stream: TextIO, interval: float | None = None) -> None:
        self.status = status
        self.stream = stream
        self.interval = SILENCE_SECONDS if interval is None else interval
        self._last = time.monotonic()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def say(self, line: str) -> None:
        """Print ``line`` now (and reset the silence timer)."""
        with self._lock:
            print(line, file=self.stream, flush=True)
            self._last = time.monotonic()

    def start(self) -> None:
        self._last = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="automl-ticker", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(min(_POLL_SECONDS, self.interval)):
            if time.monotonic() - self._last >= self.interval:
                self.say(self.status())
