"""Every private Optuna and optuna-dashboard API automl relies on, in one place.

Optuna offers no public way to reach a study's storage, a trial's storage id, the heartbeat-stale trials of a study,
the storage behind its caching wrapper, the tables of an RDB storage (written in batches by
:mod:`automl.study.trial_writes`), or a trial's sampled parameters before each is written on its own;
optuna-dashboard none to write a note without re-reading every note. ``tests/test_optuna_compat.py`` exercises each
function here against the installed versions, so an upgrade that breaks one fails loudly there; ``pyproject.toml``
bounds both packages above the versions tested.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import optuna
    from optuna.distributions import BaseDistribution
    from optuna.study._frozen import FrozenStudy  # what storage.get_all_studies() returns; not re-exported


def storage_of(study: optuna.Study) -> Any:
    """The storage a live ``Study`` reads and writes."""
    return study._storage


def study_id(study: optuna.Study) -> int:
    return int(study._study_id)


def trial_id(trial: optuna.Trial | optuna.trial.FrozenTrial) -> int:
    """The storage's id of a trial (unique in the storage, unlike ``number``)."""
    return int(trial._trial_id)


def summary_study_id(summary: FrozenStudy) -> int:
    return int(summary._study_id)


def unwrapped(storage: Any) -> Any:
    """The RDB storage behind Optuna's caching wrapper (or the storage itself)."""
    return getattr(storage, "_backend", storage)


def storage_url(storage: Any) -> str:
    """The database URL behind an RDB storage (cached or not); "" for storages without one (in-memory, journal)."""
    engine = getattr(unwrapped(storage), "engine", None)
    return str(engine.url) if engine is not None else ""


class _ParamsHeldBack:
    """A trial's storage that keeps the parameters the trial samples instead of writing each (a transaction
    apiece); every other call goes to the storage."""

    def __init__(self, storage: Any) -> None:
        self._storage = storage
        self.params: dict[str, tuple[float, BaseDistribution]] = {}

    def set_trial_param(self, trial_id: int, name: str, value: float, distribution: BaseDistribution) -> None:
        self.params[name] = (value, distribution)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._storage, name)


@contextlib.contextmanager
def params_held_back(trial: optuna.Trial) -> Iterator[dict[str, tuple[float, BaseDistribution]]]:
    """While inside, the parameters ``trial`` samples (``suggest_*``) are kept in the yielded dict, name ->
    (Optuna's internal value, distribution), not written; the trial itself returns and caches them as usual. The
    caller writes them, in one transaction (``trial_writes.write_trial_attrs(params=...)``). Optuna's ``Trial``
    writes each parameter through its ``storage`` attribute, which this swaps for the block."""
    storage = trial.storage
    held: Any = _ParamsHeldBack(storage)  # Optuna types the attribute as BaseStorage; the trial needs only this
    trial.storage = held
    try:
        yield held.params
    finally:
        trial.storage = storage


def rdb_models() -> Any:
    """Optuna's SQLAlchemy models of its RDB tables (``TrialModel``, ``TrialUserAttributeModel``, ...), for the
    batched writes and counts of :mod:`automl.study.trial_writes`."""
    from optuna.storages._rdb import models

    return models


def stale_trial_ids(storage: Any, study_id_: int) -> list[int]:
    """RUNNING trials whose heartbeat is older than the storage's grace period."""
    return list(storage._get_stale_trial_ids(study_id_))


def grace_period(storage: Any) -> int | None:
    return getattr(unwrapped(storage), "grace_period", None)


def note_version_key(trial_id_: int) -> str:
    """The study system attribute under which optuna-dashboard keeps a trial note's version."""
    from optuna_dashboard._note import note_ver_key

    return str(note_ver_key(trial_id_))


def note_body_chunks(body: str, trial_id_: int) -> dict[str, str]:
    """A note body split the way optuna-dashboard stores it, keyed by study system attribute."""
    from optuna_dashboard._note import split_body

    return dict(split_body(body, trial_id_))
