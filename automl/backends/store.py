"""The study store: a search's one record, whichever engine runs its trials.

Every backend records into an Optuna study, so the study's lifecycle is written once, here: create it with the
trial record's study attributes (:mod:`automl.study.record`), or load it and check it was recorded with the same
space and data; count the finished trials that make up the budget; record a resumed search's new settings. The
sampler and pruner it loads the study with come from the space's settings (:mod:`.factories`), whichever engine
runs the trials: Ray Tune's searcher asks the same study for its configurations.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import replace
from typing import Any, Literal, cast

import optuna
from optuna.trial import TrialState

from automl.backends.base import StudyContext
from automl.backends.factories import fidelity_ladder, make_pruner, make_sampler, max_epochs
from automl.backends.prior_trials import already_tried, start_from_study
from automl.errors import StorageError
from automl.spaces import SearchSettings, SearchSpace, parse_settings, parse_space
from automl.study.optuna_compat import storage_url
from automl.study.record import RECORD_VERSION, BackendName, StudyKey, TrialKey
from automl.study.storage import redact
from automl.study.study_record import StartedFrom, check_version

log = logging.getLogger(__name__)

# Trials that consume the study's budget. Failed ones do not: a dead worker's trial is re-run, and a run
# of failures is stopped by the consecutive-failure cap instead.
BUDGET_STATES = (TrialState.COMPLETE, TrialState.PRUNED)


def count_budget_trials(study: optuna.Study) -> int:
    return len(study.get_trials(deepcopy=False, states=BUDGET_STATES))


def stored_settings(name: str, attrs: dict[str, Any]) -> SearchSettings:
    """The settings a study recorded, validated like a space's ``search:`` section."""
    raw = dict(attrs.get(StudyKey.SETTINGS) or {})
    return parse_settings(raw, source=f"study {name} (recorded settings)")


class StudyStore:
    """The studies of one storage (an Optuna ``BaseStorage``, from :func:`automl.study.storage.open_storage`).

    :meth:`open` creates a study with the space, settings, seed and data facts, or loads it and checks it was
    recorded with the same space and data; with ``create=False`` a missing study is an error. Any number of
    processes may open the same study and run trials into it.
    """

    def __init__(self, storage: optuna.storages.BaseStorage) -> None:
        self.storage = storage

    def names(self) -> set[str]:
        return {s.study_name for s in self.storage.get_all_studies()}

    def exists(self, name: str) -> bool:
        return name in self.names()

    def open(
        self,
        name: str,
        space: SearchSpace | None = None,
        settings: SearchSettings | None = None,
        *,
        seed: int | None = None,
        data_info: dict[str, Any] | None = None,
        create: bool = True,
        backend: BackendName = BackendName.OPTUNA,
        start_from: str | None = None,
    ) -> StudyContext:
        """The study ``name``. ``settings`` given for an existing study replace the recorded ones for this process
        (a resumed search's new budget; :meth:`record_settings` keeps them for the others); its space must match
        the recorded one. ``backend`` is recorded when the study is created, as the engine that created it.

        ``start_from`` names a study in the same storage whose finished trials a newly created study starts from,
        when they were measured on the same data, space and objective (:mod:`.prior_trials`); the copies count as
        finished trials, so the trial budget grows by their number, and a warm-start configuration a copy already
        ran is not enqueued again. Ignored when the study exists."""
        storage = self.storage
        existing = self.names()
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
            recorded_data = attrs.get(StudyKey.DATA_FINGERPRINT)
            if data_info and recorded_data not in (None, data_info.get(StudyKey.DATA_FINGERPRINT)):
                raise StorageError(
                    f"study {name!r}: was recorded on different data (fingerprint {recorded_data}, "
                    f"now {data_info[StudyKey.DATA_FINGERPRINT]}); use the same dataset, seed and --data-dir, or a "
                    "new --study"
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
            raise StorageError(f"study {name!r}: not found in {redact(self._url())}; known studies: {known}")
        if space is None or settings is None:
            raise StorageError(f"study {name!r}: does not exist yet; give a space to create it")
        objectives = settings.all_objectives
        study = optuna.create_study(
            study_name=name,
            storage=storage,
            # parsing checked them; one objective makes a single-objective study, as before
            directions=[cast(Literal["minimize", "maximize"], o.direction) for o in objectives],
            sampler=make_sampler(settings, space, seed),
            pruner=make_pruner(settings, max_epochs(space)),
        )
        with warnings.catch_warnings():
            # Experimental since Optuna 3.2 and stable in behaviour; it names the axis "val_accuracy" instead of
            # "Objective 0" in the dashboard and Optuna's plots.
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.set_metric_names([o.metric for o in objectives])
        started: StartedFrom | None = None
        copies: list[optuna.trial.FrozenTrial] = []
        if start_from is not None:
            started, copies = start_from_study(self.storage, start_from, study, space, settings, data_info or {})
            if started.copied and settings.trials is not None:  # the budget counts new trials beside the copies
                settings = replace(settings, trials=settings.trials + started.copied)
        warm = [dict(c) for c in settings.warm_start if not already_tried(c, copies)]
        if started is not None:
            started = replace(started, warm_skipped=len(settings.warm_start) - len(warm))
            log.info("study %s: %s", name, started.describe())
        attrs = {
            StudyKey.RECORD_VERSION: RECORD_VERSION,
            StudyKey.BACKEND: BackendName(backend).value,
            StudyKey.SPACE: space.to_dict(),
            StudyKey.SPACE_FINGERPRINT: space.fingerprint(),
            StudyKey.SETTINGS: settings.to_dict(),
            StudyKey.SEED: seed,
            StudyKey.RUNGS: list(fidelity_ladder(settings, space)),
            **(data_info or {}),
            **({StudyKey.STARTED_FROM: started.to_dict()} if started is not None else {}),
        }
        for key, value in attrs.items():
            study.set_user_attr(key, value)
        for config in warm:
            # marked, so that the pruner never stops them early: they enter at the top rung
            study.enqueue_trial(config, user_attrs={TrialKey.WARM_START: True}, skip_if_exists=True)
        return StudyContext(study, space, settings, created=True)

    def count_finished(self, study: optuna.Study) -> int:
        """The study's finished (completed or pruned) trials: the unit of its budget."""
        return count_budget_trials(study)

    def record_settings(self, study: optuna.Study, settings: SearchSettings) -> None:
        """Replace the study's recorded settings (a resumed search's new budgets), for every later worker."""
        study.set_user_attr(StudyKey.SETTINGS, settings.to_dict())

    def _url(self) -> str:
        return storage_url(self.storage) or "storage"
