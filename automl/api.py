"""The Python API behind ``automl search``: ``automl.search(...)`` returns a :class:`SearchResult`.

The module is named ``api`` so that ``automl.search`` stays the function rather than a submodule.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from automl.errors import AutomlError
from automl.spaces import SearchSettings, SearchSpace, load_space
from automl.storage import FailurePolicy
from automl.workers import check_workers

log = logging.getLogger(__name__)

DEFAULT_SPACES = {"mnist": "mnist_mlp"}


@dataclass
class SearchResult:
    study_name: str
    storage: str  # redacted: safe to print
    best_params: dict[str, Any]
    best_value: float
    metric: str
    test_accuracy: float | None
    baseline_test_accuracy: float | None
    counts: dict[str, int]
    data_source: str
    elapsed_seconds: float
    report_dir: Path | None
    model_path: Path | None

    def dashboard_command(self) -> str:
        return f"automl dashboard --storage '{self.storage}'"


def default_study_name(dataset: str) -> str:
    return f"{dataset}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"


def resolve_settings(space: SearchSpace, trials: int | None, timeout: float | None) -> SearchSettings:
    """The space's settings with CLI/API overrides applied and checked."""
    if trials is not None and (isinstance(trials, bool) or not isinstance(trials, int) or trials < 1):
        raise AutomlError(f"--trials: must be an integer >= 1, got {trials!r}; pass e.g. --trials 20")
    if timeout is not None and not timeout > 0:
        raise AutomlError(f"--timeout: must be a number of seconds > 0, got {timeout!r}; pass e.g. --timeout 300")
    settings = space.settings
    if trials is not None:
        settings = replace(settings, trials=trials)
    if timeout is not None:
        settings = replace(settings, timeout=timeout)
    return settings


def search(
    dataset: str = "mnist",
    space: str | SearchSpace | None = None,
    *,
    study: str | None = None,
    storage: str | None = None,
    trials: int | None = None,
    timeout: float | None = None,
    seed: int = 0,
    data_dir: str | Path | None = None,
    limit: int | None = None,
    reports_dir: str | Path = "reports",
    finish: bool = True,
    live: bool | None = None,
    quiet: bool = False,
    threads: int | None = None,
    workers: int = 1,
    failure_policy: FailurePolicy | None = None,
) -> SearchResult:
    """Search ``space`` on ``dataset``, record everything in the study, then evaluate and report the winner.

    ``study`` names an existing study to continue (its recorded space must match) or a new one.
    ``trials`` is the study's total budget of finished trials; ``timeout`` bounds this call's searching time.
    ``workers`` > 1 runs that many workers on this machine against the study, this process and ``workers - 1``
    child processes (see automl.workers);
    ``failure_policy`` sets heartbeats, retries of lost trials and the consecutive-failure cap.
    """
    from automl import data as data_mod
    from automl.backends import optuna as backend
    from automl.models import keras_mlp
    from automl.progress import Progress
    from automl.storage import open_storage, redact, resolve_url
    from automl.trial_notes import with_trial_notes

    started = time.monotonic()
    data_mod.check_dataset_name(dataset)
    space_obj = space if isinstance(space, SearchSpace) else load_space(space or DEFAULT_SPACES.get(dataset, dataset))
    settings = resolve_settings(space_obj, trials, timeout)
    check_workers(workers)
    url = resolve_url(storage)
    policy = failure_policy or FailurePolicy()
    optuna_storage = open_storage(url, policy=policy)
    dataset_obj = data_mod.load_dataset(dataset, data_dir=data_dir, seed=seed, limit=limit)
    log.info("data: %s from %s, splits %s", dataset, dataset_obj.source, dataset_obj.sizes())
    data_info = {
        "dataset": dataset,
        "data_source": dataset_obj.source,
        "data_fingerprint": dataset_obj.fingerprint(),
        "split_sizes": dataset_obj.sizes(),
        "data_seed": seed,
        "data_limit": limit,
    }
    name = study or default_study_name(dataset)
    context = backend.open_study(optuna_storage, name, space_obj, settings, seed=seed, data_info=data_info)
    if not context.created and (trials is not None or timeout is not None):
        backend.update_settings(context.study, settings)

    if workers > 1:
        _search_in_workers(context.study, url, workers, seed, settings, dataset_obj, data_dir, policy, quiet)
    else:
        keras_mlp.configure_threads(threads or _env_int("AUTOML_THREADS"))
        progress = Progress(name, settings.trials, settings.timeout, settings.direction, live=live, quiet=quiet)
        progress.resume_from(context.study)
        objective = backend.make_objective(
            context.space,
            settings,
            dataset_obj,
            keras_mlp.train,
            seed=seed,
            on_trial_start=progress.trial_started,
            on_epoch=progress.epoch,
        )
        with progress:
            backend.run(
                context.study,
                objective,
                budget=settings.trials,
                timeout=settings.timeout,
                on_trial_end=with_trial_notes(progress.trial_finished),  # the dashboard's per-trial note
                max_consecutive_failures=policy.max_consecutive_failures,
            )
    elapsed = time.monotonic() - started
    return _conclude(
        context.study,
        dataset_obj,
        settings,
        url=redact(url),
        elapsed=elapsed,
        seed=seed,
        reports_dir=Path(reports_dir),
        finish=finish,
    )


def _conclude(
    study: Any,
    dataset: Any,
    settings: SearchSettings,
    *,
    url: str,
    elapsed: float,
    seed: int,
    reports_dir: Path,
    finish: bool,
) -> SearchResult:
    from optuna.trial import TrialState

    from automl.finish import best_trial, finalize, trial_config
    from automl.reporting import write_report
    from automl.summary import render_summary_md, summary_data

    winner = best_trial(study)
    out_dir = reports_dir / study.study_name
    final = finalize(study, dataset, out_dir, seed=seed) if finish else None
    budget = {"trials": settings.trials, "timeout_seconds": settings.timeout}
    data = summary_data(study, final, storage=url, elapsed=elapsed, budget=budget)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "summary.md").write_text(render_summary_md(data))
    try:  # the results are already safe in the study: a failing report must not hide them
        write_report(study, out_dir, storage=url)
    except Exception as exc:
        log.warning("report: not written (%s: %s); retry: automl report %s", type(exc).__name__, exc, study.study_name)
    trials = study.get_trials(deepcopy=False)
    return SearchResult(
        study_name=study.study_name,
        storage=url,
        best_params=trial_config(winner),
        best_value=float(winner.value),
        metric=settings.metric,
        test_accuracy=final.test_accuracy if final else None,
        baseline_test_accuracy=final.baseline_test_accuracy if final else None,
        counts={s.name.lower(): sum(t.state == s for t in trials) for s in TrialState},
        data_source=dataset.source,
        elapsed_seconds=elapsed,
        report_dir=out_dir,
        model_path=Path(final.model_path) if final else None,
    )


def _search_in_workers(
    study: Any,
    url: str,
    workers: int,
    seed: int,
    settings: SearchSettings,
    dataset: Any,
    data_dir: str | Path | None,
    policy: FailurePolicy,
    quiet: bool,
) -> None:
    """Run the search in ``workers`` local processes; a worker's error stops the search unless the budget was
    reached anyway (the other workers finished a lost worker's share)."""
    from automl.backends.optuna import count_budget_trials
    from automl.errors import SearchAborted
    from automl.workers import run_local_workers

    codes = run_local_workers(
        study.study_name,
        url,
        workers,
        seed=seed,
        timeout=settings.timeout,
        data_dir=data_dir,
        policy=policy,
        quiet=quiet,
        dataset=dataset,
    )
    failed = [code for code in codes if code != 0]
    if not failed:
        return
    finished = count_budget_trials(study)
    message = (
        f"study {study.study_name!r}: {len(failed)} of {workers} workers stopped with an error (exit codes "
        f"{failed}; their messages are above) at {finished}/{settings.trials} finished trials"
    )
    if settings.trials is None or finished < settings.trials:
        raise SearchAborted(message + "; fix the cause, then resume with the same --study")
    log.warning("%s; the others completed the budget", message)


def _env_int(name: str) -> int | None:
    value = os.environ.get(name)
    return int(value) if value and value.isdigit() else None
