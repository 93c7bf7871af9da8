"""Opening an existing study for a report or an export: read-only, and refused in one line when it can't be read."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from automl.errors import AutomlError, StorageError
from automl.study.study_record import check_version, read_study


def load_study(name: str, storage: str | None = None) -> Any:
    """Load an existing study (automl's or a plain Optuna one), or raise a one-line error.

    A study recorded by a newer automl raises :class:`automl.study.record.RecordError` here, before anything is written.
    """
    import optuna
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    from automl.study.storage import open_storage, redact, resolve_url

    url = resolve_url(storage)
    try:
        parsed = make_url(url)
    except ArgumentError:
        parsed = None
    database = parsed.database if parsed is not None and parsed.get_backend_name() == "sqlite" else None
    # Opening a missing SQLite file would create an empty one; a report should not leave files behind.
    if database and database != ":memory:" and not Path(database).expanduser().is_file():
        raise StorageError(f"storage {redact(url)}: no such SQLite file; pass --storage with the study's URL")
    rdb = open_storage(url, heartbeat=False)
    names = sorted(s.study_name for s in rdb.get_all_studies())
    if name not in names:
        known = ", ".join(names[:20]) + (" ..." if len(names) > 20 else "") if names else "none"
        raise StorageError(f"study {name!r}: not found in {redact(url)}; known studies: {known}")
    study = optuna.load_study(study_name=name, storage=rdb)
    check_version(name, study.user_attrs)
    if read_study(study).direction == "multi":  # automl's multi-objective studies record their primary objective
        raise AutomlError(
            f"study {name!r}: has {len(study.directions)} objectives and was not made by automl, so none of them is "
            "the primary one; reports cover automl's studies and single-objective ones"
        )
    return study
