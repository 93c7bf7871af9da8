"""The Optuna backend: samplers and pruners from a space's settings, study lifecycle, the trial loop.

The study is the single record of a search. Its user attributes hold the space, the settings and the data
fingerprint, so a resumed search or a late-joining worker needs only the study's name and storage. Each trial
holds its full configuration, per-epoch curves and, if it failed, the reason.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import optuna
from optuna.trial import TrialState

from automl.errors import SearchAborted, StorageError, TrialFailed
from automl.models.base import TrialOutcome
from automl.spaces import SearchSettings, SearchSpace, parse_space
from automl.storage import redact

log = logging.getLogger(__name__)

warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)

# Trials that consume the study's budget. Failed ones do not: a dead worker's trial is re-run, and a run
# of failures is stopped by the consecutive-failure cap instead.
BUDGET_STATES = (TrialState.COMPLETE, TrialState.PRUNED)
MAX_CONSECUTIVE_FAILURES = 10

TrainFn = Callable[..., TrialOutcome]


def make_sampler(settings: SearchSettings, space: SearchSpace, seed: int | None) -> optuna.samplers.BaseSampler:
    if settings.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if settings.sampler == "grid":
        return optuna.samplers.GridSampler(space.grid(), seed=seed)
    if settings.sampler == "cmaes":
        return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)
    # Multivariate, grouped TPE models the conditional parameters (units_3 only with 3 layers) jointly;
    # the constant liar keeps parallel workers from proposing the same point.
    return optuna.samplers.TPESampler(seed=seed, multivariate=True, group=True, constant_liar=True, n_startup_trials=10)


def make_pruner(settings: SearchSettings, max_epochs: int) -> optuna.pruners.BasePruner:
    if settings.pruner == "median":
        # Gentle on purpose: aggressive pruning picks lucky early starters and inflates the winner's score.
        return optuna.pruners.MedianPruner(n_startup_trials=8, n_warmup_steps=4)
    if settings.pruner == "successive_halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=2)
    if settings.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=2, max_resource=max(max_epochs, 3))
    return optuna.pruners.NopPruner()


def _max_epochs(space: SearchSpace) -> int:
    try:
        p = space.param("epochs")
    except KeyError:
        return 10
    return int(p.value if p.type == "fixed" else (p.high or p.choices and max(p.choices) or 10))  # type: ignore[arg-type]


@dataclass
class StudyContext:
    """A study plus what it remembers: the space and settings it was created with."""

    study: optuna.Study
    space: SearchSpace
    settings: SearchSettings
    created: bool


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
    """Create the study, or load it and check it was recorded with the same space and data."""
    existing = {s.study_name for s in storage.get_all_studies()}
    if name in existing:
        attrs = storage.get_study_user_attrs(storage.get_study_id_from_name(name))
        recorded = parse_space(attrs["space"], source=f"study {name}") if "space" in attrs else None
        if recorded is None and space is None:
            raise StorageError(f"study {name!r}: was not created by automl (no recorded space); pass --space")
        if space is not None and recorded is not None and space.fingerprint() != recorded.fingerprint():
            raise StorageError(
                f"study {name!r}: was recorded with a different search space ({recorded.source.split()[-1]} "
                f"fingerprint {recorded.fingerprint()}, given {space.fingerprint()}); use a new --study name "
                "or the original space"
            )
        if data_info and attrs.get("data_fingerprint") not in (None, data_info.get("data_fingerprint")):
            raise StorageError(
                f"study {name!r}: was recorded on different data (fingerprint {attrs['data_fingerprint']}, "
                f"now {data_info['data_fingerprint']}); use the same dataset, seed and --data-dir, or a new --study"
            )
        space = space or recorded
        stored_settings = SearchSettings(**attrs.get("settings", {}))
        settings = settings or stored_settings
        assert space is not None
        sampler = make_sampler(settings, space, seed)
        study = optuna.load_study(
            study_name=name,
            storage=storage,
            sampler=sampler,
            pruner=make_pruner(settings, _max_epochs(space)),
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
        pruner=make_pruner(settings, _max_epochs(space)),
    )
    study.set_user_attr("space", space.to_dict())
    study.set_user_attr("space_fingerprint", space.fingerprint())
    study.set_user_attr("settings", settings.to_dict())
    study.set_user_attr("seed", seed)
    for key, value in (data_info or {}).items():
        study.set_user_attr(key, value)
    return StudyContext(study, space, settings, created=True)


def _url_of(storage: Any) -> str:
    engine = getattr(storage, "engine", None)
    return str(engine.url) if engine is not None else "storage"


def update_settings(study: optuna.Study, settings: SearchSettings) -> None:
    study.set_user_attr("settings", settings.to_dict())


# --------------------------------------------------------------------------------------------------------------
# One trial


class OptunaReporter:
    """Relays each epoch to Optuna: the objective metric as an intermediate value (the pruners and the
    dashboard read it), the whole curve set as a user attribute (the reports read it)."""

    def __init__(self, trial: optuna.Trial, metric: str, on_epoch: Callable[[int, int, dict[str, float]], None] | None):
        self.trial = trial
        self.metric = metric
        self.on_epoch = on_epoch
        self.curves: dict[str, list[float]] = {}

    def report(self, epoch: int, metrics: dict[str, float]) -> None:
        for key, value in metrics.items():
            self.curves.setdefault(key, []).append(value)
        self.trial.set_user_attr("curves", self.curves)
        if self.on_epoch is not None:
            self.on_epoch(self.trial.number, epoch, metrics)
        if self.metric in metrics:
            self.trial.report(metrics[self.metric], epoch)
            if self.trial.should_prune():
                self.trial.set_user_attr("pruned_at_epoch", epoch)
                raise optuna.TrialPruned(f"pruned at epoch {epoch}: {self.metric}={metrics[self.metric]:.4f}")


def make_objective(
    space: SearchSpace,
    settings: SearchSettings,
    data: Any,
    train: TrainFn,
    *,
    seed: int = 0,
    on_trial_start: Callable[[int, dict[str, Any]], None] | None = None,
    on_epoch: Callable[[int, int, dict[str, float]], None] | None = None,
) -> Callable[[optuna.Trial], float]:
    def objective(trial: optuna.Trial) -> float:
        config = space.sample(trial)
        trial.set_user_attr("config", config)
        if on_trial_start is not None:
            on_trial_start(trial.number, config)
        reporter = OptunaReporter(trial, settings.metric, on_epoch)
        try:
            outcome = train(
                config,
                data,
                reporter,
                metric=settings.metric,
                patience=settings.patience,
                seed=seed + trial.number,
            )
        except optuna.TrialPruned:
            raise
        except TrialFailed as exc:
            trial.set_user_attr("fail_reason", exc.reason)
            raise
        except Exception as exc:  # a configuration Keras rejects, out of memory, ...: this trial fails, not the search
            trial.set_user_attr(
                "fail_reason", f"{type(exc).__name__}: {str(exc).splitlines()[0][:300] if str(exc) else ''}"
            )
            raise
        trial.set_user_attr("best_epoch", outcome.best_epoch)
        trial.set_user_attr("epochs_trained", outcome.epochs_trained)
        trial.set_user_attr("n_params", outcome.n_params)
        trial.set_user_attr("train_seconds", round(outcome.train_seconds, 3))
        trial.set_user_attr("curves", outcome.history)
        return outcome.value

    return objective


# --------------------------------------------------------------------------------------------------------------
# The loop


def count_budget_trials(study: optuna.Study) -> int:
    return len(study.get_trials(deepcopy=False, states=BUDGET_STATES))


@dataclass
class RunStats:
    started: float = field(default_factory=time.monotonic)
    consecutive_failures: int = 0
    ran: int = 0


def run(
    study: optuna.Study,
    objective: Callable[[optuna.Trial], float],
    *,
    budget: int | None,
    timeout: float | None,
    on_trial_end: Callable[[optuna.Study, optuna.trial.FrozenTrial], None] | None = None,
    max_consecutive_failures: int = MAX_CONSECUTIVE_FAILURES,
) -> RunStats:
    """Run trials until the study holds ``budget`` finished trials or ``timeout`` seconds pass.

    One ``optimize(n_trials=1)`` at a time, so the budget is checked against the shared study before each trial
    (other workers may be adding to it) while Optuna still runs its heartbeat, stale-trial and retry machinery.
    """
    stats = RunStats()
    while True:
        if budget is not None and count_budget_trials(study) >= budget:
            break
        if timeout is not None and time.monotonic() - stats.started >= timeout:
            break
        finished: list[optuna.trial.FrozenTrial] = []
        study.optimize(
            objective,
            n_trials=1,
            catch=(Exception,),
            callbacks=[lambda _study, trial, into=finished: into.append(trial)],
            gc_after_trial=False,
            show_progress_bar=False,
        )
        stats.ran += 1
        last = finished[-1] if finished else None
        if last is not None:
            stats.consecutive_failures = stats.consecutive_failures + 1 if last.state == TrialState.FAIL else 0
            if on_trial_end is not None:
                on_trial_end(study, last)
        if stats.consecutive_failures >= max_consecutive_failures:
            reason = last.user_attrs.get("fail_reason", "unknown") if last else "unknown"
            raise SearchAborted(
                f"study {study.study_name!r}: {stats.consecutive_failures} trials in a row failed (last: {reason}); "
                "fix the space or data, then resume with the same --study"
            )
    return stats
