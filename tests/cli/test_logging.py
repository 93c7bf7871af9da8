"""The CLI's log handler follows `sys.stderr` as it is swapped (pytest, notebooks, several `main()` calls).

A handler bound to the stderr current at `main()` time wrote "--- Logging error ---" tracebacks once that
stream was closed: CI failed on exactly that when a later test ran a search in the same process.
"""

from __future__ import annotations

import io
import logging
import sys

import pytest

from automl.cli import configure_logging


def test_log_lines_go_to_the_current_stderr_after_the_old_one_is_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    first = io.StringIO()
    monkeypatch.setattr(sys, "stderr", first)
    configure_logging(verbose=False)
    logging.getLogger("automl.test").info("one")
    first.close()  # what pytest does to a finished test's captured stream

    second = io.StringIO()
    monkeypatch.setattr(sys, "stderr", second)
    logging.getLogger("automl.test").info("two")
    assert second.getvalue() == "[automl] two\n"  # a handler bound to `first` would have printed a Logging error

    configure_logging(verbose=False)  # main() runs again in the same process: still one line per message
    logging.getLogger("automl.test").info("three")
    assert second.getvalue() == "[automl] two\n[automl] three\n"
