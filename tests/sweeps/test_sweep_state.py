"""The scheduler's storage across versions: a run table an older automl created gains the columns added since,
and its rows read on."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert, text

from automl.sweeps.state import StateStore, add_missing_columns
from automl.sweeps.tables import runs_table

T0 = datetime(2026, 4, 1, 3, 0, tzinfo=UTC)


def test_an_older_run_table_gains_the_new_columns_and_its_rows_read_on(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    store = StateStore(url)
    with store.engine.begin() as conn:  # the table as automl wrote it before run logs and resumed runs
        for column in ("resumed", "log_path"):
            conn.execute(text(f"ALTER TABLE automl_sweep_runs DROP COLUMN {column}"))
        values = {"sweep": "old", "trigger": "manual", "status": "succeeded", "reason": "", "notes": ""}
        conn.execute(insert(runs_table).values(created_at=T0.replace(tzinfo=None), study_deleted=False, **values))
        assert "log_path" not in list(conn.execute(text("SELECT * FROM automl_sweep_runs")).keys())
    store.close()

    store = StateStore(url)  # opening adds what is missing
    (row,) = store.runs("old")
    assert (row.status, row.resumed, row.log_path) == ("succeeded", None, None)
    store.update_run(row.id, resumed=12, log_path="/srv/reports/old/old-1/run.log")
    assert (store.get(row.id).resumed, store.get(row.id).log_path) == (12, "/srv/reports/old/old-1/run.log")
    with store.transaction() as conn:
        assert add_missing_columns(conn) == []  # nothing twice
    store.close()
