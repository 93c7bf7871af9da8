"""Handing a loaded dataset to local worker processes, so that N workers do not load (or download) it N times:
the parent writes it once to a file named in the environment, and a worker uses it only when its fingerprint is
the study's."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from pathlib import Path
from typing import Any

from automl.data.dataset import Dataset

log = logging.getLogger(__name__)

# The parent's prepared data, handed to local workers so they skip reading and splitting it again. Any field the
# file cannot carry just means the worker loads the data itself; the fingerprint check makes a stale file harmless.
DATA_HANDOFF_ENV = "AUTOML_WORKER_DATA"


def save_dataset_for_workers(dataset: Any, path: Path) -> bool:
    """Write ``dataset`` for workers started with ``AUTOML_WORKER_DATA=path``; False if it cannot be written."""
    import numpy as np

    arrays: dict[str, Any] = {}
    meta: dict[str, Any] = {}
    for f in dataclasses.fields(dataset):
        value = getattr(dataset, f.name)
        (arrays if isinstance(value, np.ndarray) else meta)[f.name] = value
    try:
        np.savez(path, __meta__=np.array(json.dumps(meta)), **arrays)
    except (TypeError, ValueError, OSError) as exc:
        log.info("data hand-off to workers skipped (%s); each loads the data itself", exc)
        return False
    return True


def load_handed_dataset(fingerprint: str | None) -> Any:
    """The dataset the parent handed over, if there is one and it is the study's (same fingerprint); else None."""
    path = os.environ.get(DATA_HANDOFF_ENV)
    if not path or fingerprint is None:
        return None
    import numpy as np

    try:
        with np.load(path, allow_pickle=False) as npz:
            meta = json.loads(str(npz["__meta__"]))
            arrays = {key: npz[key] for key in npz.files if key != "__meta__"}
        dataset = Dataset(**meta, **arrays)
    except (OSError, ValueError, TypeError, KeyError):
        return None
    return dataset if dataset.fingerprint() == fingerprint else None
