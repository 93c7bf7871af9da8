"""Every private Optuna and optuna-dashboard API automl uses, exercised against the installed versions: an upgrade
that renames or reshapes one fails here, loudly, before it fails a search."""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import optuna
from optuna_dashboard import get_note, save_note

from automl.study import optuna_compat as compat
from automl.study.storage import FailurePolicy, open_storage


def test_study_and_trial_internals(tmp_path: Path) -> None:
    storage = open_storage(f"sqlite:///{tmp_path / 's.db'}", policy=FailurePolicy(heartbeat_interval=1, grace_period=2))
    study = optuna.create_study(study_name="c", storage=storage)
    with warnings.catch_warnings():  # heartbeats outside Study.optimize: automl runs its own loop
        warnings.simplefilter("ignore")
        trial = study.ask()
    assert compat.unwrapped(compat.storage_of(study)) is storage  # Optuna wraps the RDB storage in a cache
    assert compat.study_id(study) == storage.get_study_id_from_name("c")
    assert storage.get_trial(compat.trial_id(trial)).number == trial.number
    (summary,) = storage.get_all_studies()
    assert compat.summary_study_id(summary) == compat.study_id(study)
    assert compat.unwrapped(compat.storage_of(study)).engine.name == "sqlite"
    assert compat.grace_period(storage) == 2

    storage.record_heartbeat(compat.trial_id(trial))
    assert compat.stale_trial_ids(storage, compat.study_id(study)) == []
    time.sleep(3.1)  # silent for longer than the grace period
    assert compat.stale_trial_ids(storage, compat.study_id(study)) == [compat.trial_id(trial)]


def test_the_note_layout_is_the_dashboards(tmp_path: Path) -> None:
    storage = open_storage(f"sqlite:///{tmp_path / 's.db'}", heartbeat=False)
    study = optuna.create_study(study_name="n", storage=storage)
    trial = study.ask()
    study.tell(trial, 1.0)
    body = "### a note\n" + "x" * 5000  # long enough to be split in chunks
    study_id, trial_id = compat.study_id(study), compat.trial_id(trial)
    for key, value in compat.note_body_chunks(body, trial_id).items():
        storage.set_study_system_attr(study_id, key, value)
    storage.set_study_system_attr(study_id, compat.note_version_key(trial_id), 1)
    # The dashboard's own reader sees exactly that note...
    assert get_note(optuna.trial.Trial(study, trial_id)) == body
    # ...and its own writer bumps the version under the same key.
    save_note(optuna.trial.Trial(study, trial_id), "edited")
    assert storage.get_study_system_attrs(study_id)[compat.note_version_key(trial_id)] == 2


def test_the_database_url_behind_a_storage_cached_or_not(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'url.db'}"
    rdb = optuna.storages.RDBStorage(url)
    assert compat.storage_url(rdb) == url
    study = optuna.create_study(storage=url)  # Optuna wraps an RDB storage in its cache
    assert compat.storage_url(compat.storage_of(study)) == url
    assert compat.storage_url(optuna.storages.InMemoryStorage()) == ""


def test_the_rdb_tables_trial_writes_relies_on() -> None:
    """automl.study.trial_writes writes Optuna's own rows in one transaction: these tables, keys and columns."""
    models = compat.rdb_models()
    columns = {
        "TrialModel": {"trial_id", "study_id", "state"},
        "TrialUserAttributeModel": {"trial_id", "key", "value_json"},
        "TrialSystemAttributeModel": {"trial_id", "key", "value_json"},
        "TrialIntermediateValueModel": {"trial_id", "step", "intermediate_value", "intermediate_value_type"},
        "TrialParamModel": {"trial_id", "param_name", "param_value", "distribution_json"},
        "TrialHeartbeatModel": {"trial_id", "heartbeat"},
        "StudySystemAttributeModel": {"study_id", "key", "value_json"},
    }
    for name, wanted in columns.items():
        table = getattr(models, name).__table__
        assert wanted <= set(table.c.keys()), (name, sorted(table.c.keys()))
    # how an intermediate value is stored: NaN and infinities by type, the value None
    stored, kind = models.TrialIntermediateValueModel.intermediate_value_to_stored_repr(float("nan"))
    assert stored is None and kind.name == "NAN"
    assert models.TrialIntermediateValueModel.intermediate_value_to_stored_repr(0.5)[0] == 0.5


def test_parameters_held_back_while_a_trial_samples(tmp_path: Path) -> None:
    """The Ray driver samples a trial's parameters without a transaction each, then writes them together."""
    storage = open_storage(f"sqlite:///{tmp_path / 's.db'}", heartbeat=False)
    study = optuna.create_study(study_name="p", storage=storage)
    trial = study.ask()
    with compat.params_held_back(trial) as held:
        x = trial.suggest_float("x", 0.0, 1.0)
        units = trial.suggest_int("units", 8, 64, log=True)
        assert trial.suggest_float("x", 0.0, 1.0) == x  # the trial's own cache answers a repeated name
        assert storage.get_trial(compat.trial_id(trial)).params == {}  # nothing written yet
    assert trial.storage is compat.storage_of(study)
    assert trial.params == {"x": x, "units": units}
    assert held["x"] == (x, optuna.distributions.FloatDistribution(0.0, 1.0))
    assert held["units"] == (float(units), optuna.distributions.IntDistribution(8, 64, log=True))
