"""A stretch of the process with a log file of its own: prints and log records reach it once, the console keeps
what it had, and a failure's traceback ends the file."""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from automl.cli import configure_logging
from automl.log_file import copy_output_to

log = logging.getLogger("automl.test_log_file")


@pytest.fixture(autouse=True)
def unconfigured_logging() -> Iterator[logging.Logger]:
    """Logging as a library caller leaves it (no handler on the root logger, WARNING), restored after: earlier
    tests that ran the CLI leave its stderr handler behind."""
    root = logging.getLogger()
    saved = (root.level, list(root.handlers))
    root.handlers[:] = []
    root.setLevel(logging.WARNING)
    yield root
    root.handlers[:] = saved[1]
    root.setLevel(saved[0])


def test_without_a_console_handler_records_go_to_the_file_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = logging.getLogger()
    before = (root.level, list(root.handlers), sys.stdout, sys.stderr)
    path = tmp_path / "a" / "run.log"
    with copy_output_to(path):
        log.info("a record")
        log.debug("too fine")
        print("a printed line")
        print("an error line", file=sys.stderr)
        thread = threading.Thread(target=lambda: print("from a thread"))
        thread.start()
        thread.join()
    text = path.read_text()
    assert "INFO automl.test_log_file: a record" in text
    assert "too fine" not in text
    assert "a printed line\n" in text
    assert "an error line\n" in text
    assert "from a thread\n" in text
    out, err = capsys.readouterr()
    assert "a printed line" in out
    assert "an error line" in err
    assert "a record" not in err  # the caller's console stays as it was
    assert (root.level, root.handlers, sys.stdout, sys.stderr) == before


def test_with_the_clis_handler_each_record_is_in_the_file_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(verbose=False)
    path = tmp_path / "run.log"
    with copy_output_to(path):
        log.info("a record")
    assert path.read_text() == "[automl] a record\n"
    assert capsys.readouterr().err == "[automl] a record\n"
    with copy_output_to(path):  # appended: a file is never cut short
        log.info("another")
    assert path.read_text() == "[automl] a record\n[automl] another\n"


def test_a_failure_ends_the_file_with_its_traceback(tmp_path: Path) -> None:
    path = tmp_path / "run.log"
    stdout = sys.stdout
    with pytest.raises(ValueError, match="bad value"), copy_output_to(path):
        print("before")
        raise ValueError("bad value")
    lines = path.read_text().splitlines()
    assert lines[0] == "before"
    assert lines[1] == "Traceback (most recent call last):"
    assert lines[-1] == "ValueError: bad value"
    assert sys.stdout is stdout
