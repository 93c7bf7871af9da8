"""The study's lifecycle on the Optuna backend: create it with the trial record's study attributes, or load it and
check it was recorded with the same space and data."""

from __future__ import annotations

import warnings
from typing import Any

import optuna

from automl.backends.base import StudyContext
from automl.backends.optuna.factories import fidelity_ladder, make_pruner, make_sampler, max_epochs
from automl.errors import StorageError
from automl.spaces import SearchSettings, SearchSpace, parse_settings, parse_space
from automl.study.record import RECORD_VERSION, StudyKey, TrialKey
from automl.study.storage import redact
from automl.study.study_record import check_version


def stored_settings(name: str, attrs: dict[str, Any]) -> SearchSettings:
    """The settings a study recorded, validated like a space's ``search:`` section."""
    raw = dict(attrs.get(StudyKey.SETTINGS) or {})
    return parse_settings(raw, source=f"study {name} (recorded settings)")


def open_study(
    storage: optuna.storages.BaseStorage,
    name: str,
    space: SearchSpace | None,
    settings: SearchSettings | None,
    *,
    seed: int | None = None,
    data_info: dict[str, Any] | None = None,
    create: bool = True,
) -> StudyContext:
    """See :meth:`automl.backends.base.Backend.open_study`. ``settings`` given for an existing study replace the
    recorded ones (a resumed search's new budget); its space must match the recorded one."""
    existing = {s.study_name for s in storage.get_all_studies()}
    if name in existing:
        attrs = storage.get_study_user_attrs(storage.get_study_id_from_name(name))
        check_version(name, attrs)
        recorded = parse_space(attrs[StudyKey.SPACE], source=f"study {name}") if StudyKey.SPACE in attrs else None
        if recorded is None and space is None:
            raise StorageError(f"study {name!r}: was not created by automl (no recorded space); pass --space")
        if space is not None and recorded is not None and space.fingerprint() != recorded.fingerprint():
            raise StorageError(
                f"study {name!r}: was recorded with a different search space ({recorded.source.split()[-1]} "
                f"fingerprint {recorded.fingerprint()}, given {space.fingerprint()}); use a new --study name "
                "or the original space"
            )
        if data_info and attrs.get(StudyKey.DATA_FINGERPRINT) not in (None, data_info.get(StudyKey.DATA_FINGERPRINT)):
            raise StorageError(
                f"study {name!r}: was recorded on different data (fingerprint {attrs[StudyKey.DATA_FINGERPRINT]}, "
                f"now {data_info[StudyKey.DATA_FINGERPRINT]}); use the same dataset, seed and --data-dir, or a new "
                "--study"
            )
        space = space or recorded
        if space is None:  # unreachable: one of the two is set (checked above); narrows the type
            raise StorageError(f"study {name!r}: no search space")
        settings = settings or stored_settings(name, attrs)
        study = optuna.load_study(
            study_name=name,
            storage=storage,
            sampler=make_sampler(settings, space, seed),
            pruner=make_pruner(settings, max_epochs(space)),
        )
        return StudyContext(study, space, settings, created=False)
    if not create:
        known = ", ".join(sorted(existing)) or "none"
        raise StorageError(f"study {name!r}: not found in {redact(_url_of(storage))}; known studies: {known}")
    if space is None or settings is None:
        raise StorageError(f"study {name!r}: does not exist yet; give a space to create it")
    study = optuna.create_study(
        study_name=name,
        storage=storage,
        direction=settings.direction,
        sampler=make_sampler(settings, space, seed),
        pruner=make_pruner(settings, max_epochs(space)),
    )
    with warnings.catch_warnings():
        # Experimental since Optuna 3.2 and stable in behaviour; it names the axis "val_accuracy" instead of
        # "Objective 0" in the dashboard and Optuna's plots.
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.set_metric_names([settings.metric])
    attrs = {
        StudyKey.RECORD_VERSION: RECORD_VERSION,
        StudyKey.BACKEND: "optuna",
        StudyKey.SPACE: space.to_dict(),
        StudyKey.SPACE_FINGERPRINT: space.fingerprint(),
        StudyKey.SETTINGS: settings.to_dict(),
        StudyKey.SEED: seed,
        StudyKey.RUNGS: list(fidelity_ladder(settings, space)),
        **(data_info or {}),
    }
    for key, value in attrs.items():
        study.set_user_attr(key, value)
    for config in settings.warm_start:
        # marked, so that the pruner never stops them early: they enter at the top rung
        study.enqueue_trial(dict(config), user_attrs={TrialKey.WARM_START: True}, skip_if_exists=True)
    return StudyContext(study, space, settings, created=True)


def _url_of(storage: Any) -> str:
    from automl.study.optuna_compat import unwrapped

    engine = getattr(unwrapped(storage), "engine", None)
    return str(engine.url) if engine is not None else "storage"


def update_settings(study: optuna.Study, settings: SearchSettings) -> None:
    study.set_user_attr(StudyKey.SETTINGS, settings.to_dict())
