"""The study: the one record of every search, kept in an Optuna study in its storage (embedded SQLite by default,
or PostgreSQL), whichever backend ran the trials.

- :mod:`~automl.study.storage`: storage URLs, opening a storage safely from many processes, heartbeats and locks;
- :mod:`~automl.study.record` and :mod:`~automl.study.study_record`: every key automl writes, with typed readers;
- :mod:`~automl.study.listing`: ``automl studies``; :mod:`~automl.study.notes`: the dashboard's trial notes;
- :mod:`~automl.study.dashboard`: optuna-dashboard on the same storage;
- :mod:`~automl.study.optuna_compat`: every private Optuna API automl touches, in one place.
"""

from automl.study.record import RECORD_VERSION, BackendName, StopReason, StudyKey, TrialKey, TrialRecord, read_trial
from automl.study.storage import FailurePolicy, default_storage_url, open_storage, redact, resolve_url
from automl.study.study_record import FinalRecord, StudyRecord, read_study

__all__ = [
    "RECORD_VERSION",
    "BackendName",
    "FailurePolicy",
    "FinalRecord",
    "StopReason",
    "StudyKey",
    "StudyRecord",
    "TrialKey",
    "TrialRecord",
    "default_storage_url",
    "open_storage",
    "read_study",
    "read_trial",
    "redact",
    "resolve_url",
]
