"""Shared test helpers for sweeps: a controllable clock, a launcher that records what it was asked to start,
and spec files on the synthetic family."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from automl.sweeps.spec import SweepSpec, parse_spec
from automl.sweeps.state import StateStore
from automl.sweeps.tables import RunRow, RunStatus

HERE = Path(__file__).parent
SYNTHETIC_SPACE = HERE / "synthetic_sweep_space.yaml"
REPO_ROOT = HERE.parent.parent


class FakeClock:
    def __init__(self, start: datetime) -> None:
        self.current = start

    def now(self) -> datetime:
        return self.current

    def sleep(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)

    def advance(self, **delta: float) -> None:
        self.current += timedelta(**delta)


@dataclass
class FakeHandle:
    """A run that goes on until the test ends it; ``finish`` records the result as the run's process would."""

    state: StateStore
    run: RunRow
    outcome: str | None = None  # None: still going; "": succeeded; else the process's failure

    def poll(self) -> str | None:
        return self.outcome

    def stop(self) -> None:
        self.outcome = self.outcome if self.outcome is not None else "stopped"

    def succeed(self, now: datetime, best: float = 0.9) -> None:
        self.state.finish(self.run.id, RunStatus.SUCCEEDED, now, best_value=best, trials=3, metric="val_accuracy")
        self.outcome = ""

    def crash(self, reason: str = "its process exited with code 1") -> None:
        self.outcome = reason


@dataclass
class FakeLauncher:
    state: StateStore
    started: list[FakeHandle] = field(default_factory=list)

    def __call__(self, spec: SweepSpec) -> FakeLauncher:
        return self

    def start(self, spec: SweepSpec, run: RunRow, state_url: str) -> FakeHandle:
        handle = FakeHandle(self.state, run)
        self.started.append(handle)
        return handle

    @property
    def due_times(self) -> list[datetime | None]:
        return [h.run.scheduled_for for h in self.started]


def make_spec(name: str = "nightly", **keys: Any) -> SweepSpec:
    """A spec on the synthetic space, validated like a file; ``keys`` override."""
    raw = {"name": name, "dataset": "mnist", "space": str(SYNTHETIC_SPACE), "schedule": "30 2 * * *", **keys}
    return parse_spec(raw, source=f"{name}.yaml")


def write_spec(folder: Path, stem: str, **keys: Any) -> Path:
    """``folder/stem.yaml`` naming sweep ``stem`` on the synthetic space; ``keys`` override (``name`` too)."""
    folder.mkdir(parents=True, exist_ok=True)
    raw = {"name": stem, "dataset": "mnist", "space": str(SYNTHETIC_SPACE), **keys}
    path = folder / f"{stem}.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path
