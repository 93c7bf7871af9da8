"""A trial's record in few transactions: counts and batched writes against Optuna's RDB tables.

Optuna's storage API commits every attribute on its own (a trial's configuration, curves, outcome, worker and note
took a dozen transactions, each several round trips to a database server), and it offers no count of a study's
trials by state but a read of every trial. Where the storage is an RDB storage (SQLite, PostgreSQL), the functions
here write the same rows Optuna writes (``trial_user_attributes``, ``study_system_attributes``, ``trial_params``,
``trial_heartbeats``, values JSON-encoded as Optuna encodes them) in one statement and one transaction, and count
with one ``COUNT``; readers, Optuna's included, see exactly what the per-key API would have left. Any other storage
(in-memory, journal) goes through Optuna's public API, key by key.

Each function takes an optional SQLAlchemy connection: given, the statements run in the caller's transaction (the
claim's, which holds the study lock); absent, in a transaction of their own.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from automl.study import optuna_compat as compat

if TYPE_CHECKING:
    from optuna.distributions import BaseDistribution
    from optuna.trial import TrialState

Params = Mapping[str, "tuple[float, BaseDistribution]"]  # name -> (Optuna's internal value, distribution)


def rdb_engine(storage: Any) -> Any:
    """The SQLAlchemy engine behind an RDB storage whose dialect the batched writes support; None otherwise."""
    engine = getattr(compat.unwrapped(storage), "engine", None)
    return engine if engine is not None and engine.name in ("sqlite", "postgresql") else None


@contextlib.contextmanager
def _transaction(engine: Any, conn: Any) -> Iterator[Any]:
    if conn is not None:
        yield conn
        return
    with engine.begin() as own:
        yield own


def count_trials(storage: Any, study_id: int, states: Iterable[TrialState], conn: Any = None) -> dict[TrialState, int]:
    """How many of the study's trials are in each of ``states`` (absent states count 0), with one ``COUNT``."""
    from optuna.trial import TrialState

    wanted = tuple(states)
    counts = dict.fromkeys(wanted, 0)
    engine = rdb_engine(storage)
    if engine is None:
        for trial in storage.get_all_trials(study_id, deepcopy=False, states=wanted):
            counts[trial.state] += 1
        return counts
    from sqlalchemy import func, select

    trials = compat.rdb_models().TrialModel.__table__
    query = (
        select(trials.c.state, func.count())
        .where(trials.c.study_id == study_id, trials.c.state.in_(wanted))
        .group_by(trials.c.state)
    )
    if conn is not None:
        rows = conn.execute(query).all()
    else:
        with engine.connect() as own:
            rows = own.execute(query).all()
    for state, count in rows:
        counts[TrialState[state] if isinstance(state, str) else state] = int(count)
    return counts


def _upsert(conn: Any, table: Any, owner: str, owner_id: int, attrs: Mapping[str, Any]) -> None:
    """Insert or replace ``key -> JSON value`` rows of ``table`` for one owner (``trial_id`` or ``study_id``)."""
    insert = _insert(conn)
    rows = [{owner: owner_id, "key": key, "value_json": json.dumps(value)} for key, value in attrs.items()]
    statement = insert(table).values(rows)
    statement = statement.on_conflict_do_update(
        index_elements=[table.c[owner], table.c.key], set_={"value_json": statement.excluded.value_json}
    )
    conn.execute(statement)


def _insert(conn: Any) -> Any:
    """The dialect's INSERT, which has ON CONFLICT DO UPDATE (PostgreSQL's and SQLite's alike)."""
    from sqlalchemy.dialects import postgresql, sqlite

    return postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert


def _upsert_rows(conn: Any, table: Any, rows: list[dict[str, Any]], keys: tuple[str, ...]) -> None:
    """Insert ``rows`` into ``table``, or update every other column of the row with the same ``keys``."""
    statement = _insert(conn)(table).values(rows)
    updated = [column for column in rows[0] if column not in keys]
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=[table.c[key] for key in keys],
            set_={column: statement.excluded[column] for column in updated},
        )
    )


def _upsert_intermediate(conn: Any, model: Any, trial_id: int, values: Mapping[int, float]) -> None:
    rows = []
    for step, value in values.items():
        stored, kind = model.intermediate_value_to_stored_repr(float(value))
        rows.append(
            {"trial_id": trial_id, "step": int(step), "intermediate_value": stored, "intermediate_value_type": kind}
        )
    _upsert_rows(conn, model.__table__, rows, ("trial_id", "step"))


def _upsert_params(conn: Any, model: Any, trial_id: int, params: Params) -> None:
    """Sampled parameters, stored as Optuna stores them (the internal value, the distribution as JSON)."""
    from optuna.distributions import distribution_to_json

    rows = [
        {
            "trial_id": trial_id,
            "param_name": name,
            "param_value": float(value),
            "distribution_json": distribution_to_json(dist),
        }
        for name, (value, dist) in params.items()
    ]
    _upsert_rows(conn, model.__table__, rows, ("trial_id", "param_name"))


@contextlib.contextmanager
def one_transaction(storage: Any) -> Iterator[Any]:
    """A connection whose writes (``write_trial_attrs(..., conn=...)``) commit together; None where the storage
    has no engine the batched writes support (each write then commits on its own)."""
    engine = rdb_engine(storage)
    if engine is None:
        yield None
        return
    with engine.begin() as conn:
        yield conn


def write_trial_attrs(
    storage: Any,
    trial_id: int,
    attrs: Mapping[str, Any],
    *,
    system_attrs: Mapping[str, Any] | None = None,
    intermediate: Mapping[int, float] | None = None,
    params: Params | None = None,
    heartbeat: bool = False,
    conn: Any = None,
) -> None:
    """Set a running trial's user attributes (and ``system_attrs``, ``intermediate`` values by step and sampled
    ``params``) in one transaction, and with ``heartbeat`` record its first heartbeat in the same one. Raises
    Optuna's ``UpdateFinishedTrialError`` when the trial is finished (another worker took it for lost), as
    ``set_user_attr`` would; writes nothing then.

    ``params`` skips the check Optuna's ``set_trial_param`` makes, that a name keeps its distribution across the
    study's trials: automl samples a study only with the space it was created with (``StudyStore.open`` refuses
    another), so the check could not fail."""
    import optuna
    from optuna.trial import TrialState

    system_attrs, intermediate, params = system_attrs or {}, intermediate or {}, params or {}
    if not attrs and not system_attrs and not intermediate and not params and not heartbeat:
        return
    engine = rdb_engine(storage)
    if engine is None:
        for name, (value, dist) in params.items():
            storage.set_trial_param(trial_id, name, value, dist)
        for key, value in attrs.items():
            storage.set_trial_user_attr(trial_id, key, value)
        for key, value in system_attrs.items():
            storage.set_trial_system_attr(trial_id, key, value)
        for step, value in intermediate.items():
            storage.set_trial_intermediate_value(trial_id, step, value)
        if heartbeat:
            storage.record_heartbeat(trial_id)
        return
    from sqlalchemy import func, select

    models = compat.rdb_models()
    trials = models.TrialModel.__table__
    with _transaction(engine, conn) as tx:
        query = select(trials.c.state).where(trials.c.trial_id == trial_id)
        if tx.dialect.name == "postgresql":
            query = query.with_for_update()  # no other worker fails it between the check and the write
        state = tx.execute(query).scalar_one()
        state = TrialState[state] if isinstance(state, str) else state
        if state.is_finished():
            raise optuna.exceptions.UpdateFinishedTrialError(
                f"Trial#{trial_id} has already finished and can not be updated."
            )
        if params:
            _upsert_params(tx, models.TrialParamModel, trial_id, params)
        if attrs:
            _upsert(tx, models.TrialUserAttributeModel.__table__, "trial_id", trial_id, attrs)
        if system_attrs:
            _upsert(tx, models.TrialSystemAttributeModel.__table__, "trial_id", trial_id, system_attrs)
        if intermediate:
            _upsert_intermediate(tx, models.TrialIntermediateValueModel, trial_id, intermediate)
        if heartbeat:
            beats = models.TrialHeartbeatModel.__table__
            beat = _insert(tx)(beats).values(trial_id=trial_id, heartbeat=func.current_timestamp())
            tx.execute(
                beat.on_conflict_do_update(
                    index_elements=[beats.c.trial_id], set_={"heartbeat": beat.excluded.heartbeat}
                )
            )


def write_study_system_attrs(
    storage: Any, study_id: int, attrs: Mapping[str, Any], *, of_trial: int | None = None, conn: Any = None
) -> None:
    """Set study system attributes (a trial's dashboard note) in one transaction. With ``of_trial``, they are
    about that trial, which must be the study's: ``KeyError`` otherwise, and nothing is written."""
    if not attrs:
        return
    engine = rdb_engine(storage)
    if engine is None:
        if of_trial is not None and storage.get_trial(of_trial) is None:  # get_trial raises KeyError itself
            raise KeyError(f"no trial {of_trial}")
        for key, value in attrs.items():
            storage.set_study_system_attr(study_id, key, value)
        return
    from sqlalchemy import select

    models = compat.rdb_models()
    with _transaction(engine, conn) as tx:
        if of_trial is not None:
            trials = models.TrialModel.__table__
            owner = tx.execute(select(trials.c.study_id).where(trials.c.trial_id == of_trial)).scalar_one_or_none()
            if owner != study_id:
                raise KeyError(f"no trial {of_trial} in study {study_id}")
        _upsert(tx, models.StudySystemAttributeModel.__table__, "study_id", study_id, attrs)
