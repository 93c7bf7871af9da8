"""Helpers the worker, storage and worker-command tests share: a tiny synthetic space, a study created the way
``automl search`` records it, and PostgreSQL clean-up."""

from __future__ import annotations

import contextlib
import uuid
from pathlib import Path

import optuna
from optuna.trial import TrialState
from support import POSTGRES_URL

from automl.backends.store import StudyStore
from automl.data import load_dataset
from automl.job.pipeline import data_info
from automl.spaces import SearchSpace, load_space
from automl.study.storage import open_storage

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


def write_space(
    path: Path, *, trials: int, epochs: int, pruner: str = "median", patience: int = 2, sleep: float = 0.0
) -> SearchSpace:
    """A tiny MLP space on the synthetic family; ``epochs``, ``sleep`` (seconds per epoch) and ``patience`` set
    how long one trial runs."""
    path.write_text(
        f"""
name: {path.stem}
model: synthetic
search: {{sampler: tpe, pruner: {pruner}, trials: {trials}, patience: {patience}}}
params:
  n_layers:      {{type: int, low: 1, high: 2}}
  units_1:       {{type: int, low: 8, high: 32, log: true}}
  units_2:       {{type: int, low: 8, high: 32, log: true, when: "n_layers >= 2"}}
  activation:    {{type: categorical, choices: [relu, tanh]}}
  optimizer:     {{type: categorical, choices: [adam, sgd]}}
  learning_rate: {{type: float, low: 1.0e-3, high: 1.0e-1, log: true}}
  batch_size:    {{type: categorical, choices: [64, 128]}}
  epochs:        {{type: fixed, value: {epochs}}}
  sleep:         {{type: fixed, value: {sleep}}}
"""
    )
    return load_space(str(path))


def make_study(
    name: str, url: str, space: SearchSpace, *, limit: int, seed: int = 0, backend: str = "optuna"
) -> optuna.Study:
    """Create a study the way ``automl search --backend BACKEND`` records it, without running any trial."""
    data = load_dataset("mnist", seed=seed, limit=limit)
    info = data_info(data, seed=seed, limit=limit)
    store = StudyStore(open_storage(url))
    return store.open(name, space, space.settings, seed=seed, data_info=info, backend=backend).study


def load(name: str, url: str) -> optuna.Study:
    # Through open_storage, which serialises table creation: a poll may open the storage while a search creates it.
    return optuna.load_study(study_name=name, storage=open_storage(url, heartbeat=False))


def delete_pg_studies(names: list[str]) -> None:
    storage = optuna.storages.RDBStorage(POSTGRES_URL)
    for name in names:
        with contextlib.suppress(KeyError):
            storage.delete_study(storage.get_study_id_from_name(name))
    storage.engine.dispose()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"
