"""The best trials' trained models, kept through Optuna's artifact store while they are among the best K.

Each finished trial's model is offered to a :class:`ModelKeeper` before the trial is told: when it ranks among the
``keep_models`` best kept so far it is saved by its family into a temporary folder, uploaded to the store under a
fresh artifact id, and only then registered in the study (the study attribute ``kept_model:<trial number>``).
Registration is the commit: a worker killed while saving or uploading leaves at most an unregistered blob, which
nothing reads (export, the final stage and the report only follow registered entries). A registered model that
drops out of the best K is unregistered first (its attribute set to None), then removed from the store.

The store is a folder beside the study's storage by default (``<db>.artifacts/`` for SQLite,
``$AUTOML_HOME/artifacts/<database>/`` for a database server); ``AUTOML_ARTIFACTS`` names another folder, or an ``s3://bucket/
prefix`` URL for Optuna's Boto3 store. The location is recorded in the study (``artifact_store``) so that every
reader finds it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from optuna.artifacts.exceptions import ArtifactNotFound
from optuna.trial import TrialState

from automl.study.record import StudyKey
from automl.study.storage import automl_home

log = logging.getLogger(__name__)

KEPT_PREFIX = "kept_model:"  # + trial number: a study attribute, {artifact_id, file, family, value} or None


@dataclass(frozen=True)
class KeptModel:
    """One registered model: which trial, its objective value, the family that saved it and where it lies."""

    trial: int
    value: float
    family: str
    artifact_id: str
    file: str  # the family's file name (model.keras, model.json...): loading and export need the suffix

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def default_location(storage_url: str) -> str:
    """The store beside ``storage_url``: ``AUTOML_ARTIFACTS``, else a folder next to a SQLite file, else one under
    ``AUTOML_HOME`` named after the database."""
    chosen = os.environ.get("AUTOML_ARTIFACTS")
    if chosen:
        return chosen
    if storage_url.startswith("sqlite:///"):
        path = Path(storage_url[len("sqlite:///") :])
        if str(path) not in ("", ":memory:"):
            return str(path.with_name(path.name + ".artifacts"))
    # A database server: a folder under AUTOML_HOME named after the database, never the working directory (a run
    # from a source tree would leave models in it). Workers on other machines need AUTOML_ARTIFACTS (shared).
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(storage_url)
        name = f"{url.get_backend_name()}-{url.host or 'local'}-{url.database or 'default'}"
    except ArgumentError:  # an unparsable URL (in-memory storages have none): one shared folder
        name = "other"
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
    return str(automl_home() / "artifacts" / safe)


def open_store(location: str) -> Any:
    """Optuna's artifact store at ``location``: a folder (created), or ``s3://bucket/prefix``."""
    from optuna.artifacts import Boto3ArtifactStore, FileSystemArtifactStore

    if location.startswith("s3://"):
        bucket = location[len("s3://") :].split("/", 1)[0]
        return Boto3ArtifactStore(bucket)
    Path(location).mkdir(parents=True, exist_ok=True)
    return FileSystemArtifactStore(location)


def storage_url_of(study: Any) -> str:
    from automl.study.optuna_compat import storage_of, storage_url

    return storage_url(storage_of(study))


def store_location(study: Any, create: bool = False) -> str | None:
    """Where the study's models are kept: the recorded location, or (``create``) the default, then recorded."""
    recorded = study.user_attrs.get(StudyKey.ARTIFACT_STORE)
    if recorded or not create:
        return str(recorded) if recorded else None
    location = default_location(storage_url_of(study))
    study.set_user_attr(StudyKey.ARTIFACT_STORE, location)
    return location


def kept_models(study: Any, maximize: bool | None = None) -> list[KeptModel]:
    """The registered models, best first (by the study's direction)."""
    attrs = study.user_attrs
    found = []
    for key, entry in attrs.items():
        if key.startswith(KEPT_PREFIX) and isinstance(entry, dict):
            with contextlib.suppress(KeyError, TypeError, ValueError):
                found.append(
                    KeptModel(
                        int(entry["trial"]),
                        float(entry["value"]),
                        str(entry["family"]),
                        str(entry["artifact_id"]),
                        str(entry["file"]),
                    )  # fmt: skip
                )
    if maximize is None:
        maximize = _maximize(study)
    return sorted(found, key=lambda k: -k.value if maximize else k.value)


def model_address(location: str, kept: KeptModel) -> str:
    """Where a kept model's file lies: a path in a folder store, an ``s3://bucket/key`` URL in a bucket (Optuna's
    stores name the file or key after the artifact id alone)."""
    if location.startswith("s3://"):
        bucket = location[len("s3://") :].split("/", 1)[0]
        return f"s3://{bucket}/{kept.artifact_id}"
    return str(Path(location) / kept.artifact_id)


def kept_model_addresses(study: Any) -> dict[int, str]:
    """Each kept model's address by trial number; empty for a study that keeps none."""
    location = store_location(study)
    if location is None:
        return {}
    return {k.trial: model_address(location, k) for k in kept_models(study)}


def _maximize(study: Any) -> bool:
    direction = getattr(study, "direction", None)
    return getattr(direction, "name", "MAXIMIZE") == "MAXIMIZE"


def fetch(study: Any, kept: KeptModel, directory: Path) -> Path:
    """Download a kept model into ``directory`` under its family's file name; the file's path."""
    location = store_location(study)
    if location is None:
        raise FileNotFoundError(f"study {study.study_name!r} records no artifact store")
    from optuna.artifacts import download_artifact

    directory.mkdir(parents=True, exist_ok=True)
    target = directory / kept.file
    partial = directory / f".{kept.file}.{uuid.uuid4().hex}.partial"
    download_artifact(artifact_store=open_store(location), artifact_id=kept.artifact_id, file_path=str(partial))
    partial.replace(target)  # a rename: a reader never sees half a file under the model's name
    return target


class ModelKeeper:
    """Keeps the best ``keep`` trials' models of one study (see the module docstring); shared by every worker."""

    def __init__(self, study: Any, keep: int, maximize: bool, store: Any = None) -> None:
        self.study, self.keep, self.maximize = study, keep, maximize
        self.location = store_location(study, create=True) or ""
        self.store = store if store is not None else open_store(self.location)

    def ranks(self, value: float) -> bool:
        """Whether a model scoring ``value`` belongs among the kept ones."""
        kept = kept_models(self.study, self.maximize)
        if len(kept) < self.keep:
            return True
        worst = kept[self.keep - 1].value
        return value > worst if self.maximize else value < worst

    def offer(self, trial: int, value: float, family: Any, model: Any, *, stopped: bool = False) -> KeptModel | None:
        """Keep ``model`` if it ranks; then drop the models beyond the best ``keep``. None when not kept.

        A ``stopped`` trial's model (the time ran out before its last epoch) is kept only while no trial of the
        study has completed: it is then the best the budget bought, the one the final stage falls back on (see
        :func:`automl.job.plan.best_trial`). Once a trial has completed, a model cut short at a few epochs would
        only weaken the ensemble of kept models the final stage averages."""
        if model is None or self.keep < 1 or not self.ranks(value):
            return None
        if stopped and self.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
            return None
        with tempfile.TemporaryDirectory(prefix="automl-model-") as folder:
            saved = family.save(model, Path(folder))
            artifact_id = f"trial-{trial}-{uuid.uuid4().hex}"
            with open(saved, "rb") as body:
                self.store.write(artifact_id, body)
        kept = KeptModel(trial, float(value), family.name, artifact_id, saved.name)
        self.study.set_user_attr(KEPT_PREFIX + str(trial), kept.to_dict())  # the commit
        self.trim()
        return kept

    def trim(self) -> list[int]:
        """Unregister and delete the models beyond the best ``keep``; the trial numbers dropped."""
        dropped = kept_models(self.study, self.maximize)[self.keep :]
        for kept in dropped:
            self.study.set_user_attr(KEPT_PREFIX + str(kept.trial), None)  # unregistered before the file goes
            try:
                self.store.remove(kept.artifact_id)
            except (ArtifactNotFound, FileNotFoundError) as exc:  # another worker trimmed it first: nothing to do
                log.debug("kept model of trial %d: %s", kept.trial, exc)
        return [k.trial for k in dropped]
