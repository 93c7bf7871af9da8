"""History rows, the trend line and the plot, from run rows."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from automl.sweeps.history import history_rows, log_text, plot_history, render_table, trend, warm_text
from automl.sweeps.tables import RunRow

T0 = datetime(2026, 4, 1, 3, 0, tzinfo=UTC)
BASE = RunRow(
    id=1, sweep="nightly", scheduled_for=T0, trigger="schedule", status="succeeded", reason="", start_after=T0,
    created_at=T0, started_at=T0, finished_at=T0, heartbeat_at=T0, owner="x", study="nightly-1", previous_study=None,
    storage="sqlite://", metric="val_accuracy", direction="maximize", trials=4, best_value=0.80, test_metric="accuracy",
    test_value=0.78, warm_started=0, notes="", ray_job=None, study_deleted=False,
)  # fmt: skip


def runs() -> list[RunRow]:
    day = timedelta(days=1)
    return [
        BASE,
        replace(
            BASE, id=2, scheduled_for=T0 + day, started_at=T0 + day, status="failed", reason="boom", best_value=None
        ),
        replace(BASE, id=3, scheduled_for=T0 + 2 * day, started_at=T0 + 2 * day, best_value=0.85, warm_started=3),
    ]


def test_change_and_trend_follow_succeeded_runs() -> None:
    rows = history_rows(runs())
    assert [r.change for r in rows] == [None, None, 0.85 - 0.80]
    assert trend(rows) == "trend: improving: best val_accuracy 0.8000 -> 0.8500 (+0.0500) over 2 succeeded runs"
    minimizing = [replace(r, direction="minimize") for r in runs()]
    assert trend(history_rows(minimizing)).startswith("trend: worsening")


def test_table_and_plot(tmp_path: Path) -> None:
    rows = history_rows(runs())
    table = render_table(rows).splitlines()
    assert table[0].startswith("RUN")
    assert "failed" in table[2]
    assert "boom" in table[2]
    assert "accuracy 0.7800" in table[1]
    assert "+0.0500" in table[3]
    path = plot_history(rows, tmp_path / "nightly" / "history.png")
    assert path is not None
    assert path.read_bytes()[:4] == b"\x89PNG"
    assert plot_history(history_rows([runs()[1]]), tmp_path / "none.png") is None


def test_warm_and_log_columns(tmp_path: Path) -> None:
    assert warm_text(BASE) == "0"
    assert warm_text(replace(BASE, warm_started=3)) == "3"
    assert warm_text(replace(BASE, resumed=12)) == "12 copied"
    assert log_text(BASE) == "-"
    inside = replace(BASE, log_path=str(tmp_path / "reports" / "nightly" / "nightly-1" / "run.log"))
    assert log_text(inside, cwd=tmp_path) == "reports/nightly/nightly-1/run.log"
    elsewhere = replace(BASE, log_path="/srv/reports/nightly/nightly-1/run.log")
    assert log_text(elsewhere, cwd=tmp_path) == "/srv/reports/nightly/nightly-1/run.log"
    row = render_table(history_rows([replace(inside, resumed=12)])).splitlines()[1]
    assert "12 copied" in row
    assert "reports/nightly/nightly-1/run.log" in row
