"""The Python API behind ``automl search``: ``automl.search(...)`` returns a :class:`SearchResult`.

The module is named ``api`` so that ``automl.search`` stays the function rather than a submodule. The work is
:mod:`automl.job.pipeline`'s, shared with every worker; this module adds what only the searching process does:
create or resume the study, show progress, keep the whole job inside its time budget, and conclude.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import automl.validation as validation
from automl.errors import AutomlError, SpaceError
from automl.spaces import SearchSettings, SearchSpace, load_space
from automl.spaces.defaults import DEFAULT_SPACES
from automl.study.record import BackendName
from automl.study.storage import FailurePolicy

log = logging.getLogger(__name__)

DEFAULT_MEMBERS = 3  # the winner is retrained this many times and its members combined, time permitting


@dataclass
class SearchResult:
    study_name: str
    storage: str  # redacted: safe to print
    best_params: dict[str, Any]
    best_value: float
    metric: str
    test_metric: str | None
    test_value: float | None
    baseline_test_value: float | None
    baseline_label: str
    counts: dict[str, int]
    data_source: str
    elapsed_seconds: float
    report_dir: Path | None
    model_path: Path | None
    final_note: str = ""  # what the final stage cut to fit the time budget, if anything
    mlflow_model: str = ""  # models:/NAME/VERSION when the final model was registered in MLflow
    references: list[dict[str, Any]] = field(default_factory=list)  # further reference models, held-out scores
    verdicts: list[str] = field(default_factory=list)  # references the winner does not beat beyond its interval

    @property
    def test_accuracy(self) -> float | None:
        """The held-out accuracy, for classification searches scored by accuracy (else None)."""
        return self.test_value if self.test_metric == "accuracy" else None

    @property
    def baseline_test_accuracy(self) -> float | None:
        return self.baseline_test_value if self.test_metric == "accuracy" else None

    def dashboard_command(self) -> str:
        return f"automl dashboard --storage '{self.storage}'"


def default_study_name(dataset: str) -> str:
    stem = Path(dataset).stem if ("/" in dataset or "." in dataset) else dataset  # a table file: its name
    return f"{stem}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"


def check_engine_objectives(space: SearchSpace, engine: str) -> None:
    """Several objectives and bounds run on the Optuna backend only: a one-line error before anything opens."""
    settings = space.settings
    if engine == BackendName.OPTUNA or not (settings.multi_objective or settings.constraints):
        return
    key = "search.objectives" if settings.multi_objective else "search.constraints"
    raise SpaceError(
        f"{space.source}: {key}: the {engine} backend searches one objective without bounds (its trials train in "
        "other processes, where their size and latency are not measured); use --backend optuna"
    )


def apply_overrides(
    settings: SearchSettings,
    *,
    trials: Any = None,
    timeout: Any = None,
    time_budget: Any = None,
    mlflow: Any = None,
) -> SearchSettings:
    """``settings`` with the caller's budgets (and MLflow URI), each checked and named as the caller named it."""
    changes: dict[str, Any] = {}
    if mlflow is not None:
        if not isinstance(mlflow, str) or not mlflow.strip():
            raise validation.ArgumentError("mlflow", "must be an MLflow tracking URI", mlflow, "sqlite:///mlflow.db")
        changes["mlflow"] = mlflow
    if trials is not None:
        changes["trials"] = validation.whole_number("trials", trials, minimum=1, example=20)
    if timeout is not None:
        changes["timeout"] = validation.seconds("timeout", timeout, example=300)
    if time_budget is not None:
        changes["time_budget"] = validation.seconds("time_budget", time_budget, example=570)
    return replace(settings, **changes)


def search(
    dataset: str = "mnist",
    space: str | SearchSpace | None = None,
    *,
    study: str | None = None,
    storage: str | None = None,
    trials: int | None = None,
    timeout: float | None = None,
    time_budget: float | None = None,
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
    backend: str | None = None,
    address: str | None = None,
    cpus_per_trial: int | None = None,
    concurrency: int | None = None,
    target: str | None = None,
    task: str | None = None,
    mlflow: str | None = None,
    start_from: str | None = None,
) -> SearchResult:
    """Search ``space`` on ``dataset``, record everything in the study, then evaluate and report the winner.

    ``study`` names an existing study to continue (its recorded space must match) or a new one; a continued
    study keeps its recorded settings, except the budgets given here, which are recorded for its workers too.
    ``trials`` is the study's total budget of finished trials; ``timeout`` bounds this call's searching time;
    ``time_budget`` bounds the whole call: searching, the final retraining, the baseline and the report.
    ``workers`` > 1 runs that many workers on this machine against the study, this process and ``workers - 1``
    child processes (see automl.job.workers); ``failure_policy`` sets heartbeats, retries of lost trials and the
    consecutive-failure cap. ``dataset`` may be a CSV or Parquet file: ``target`` names its target column and
    ``task`` ("classification" or "regression") overrides the task inferred from it. Without ``space``, a table
    searches the tabular default space for its task (see automl.spaces.defaults).
    ``backend`` names the engine that runs the trials (default: the space's ``search.backend``, else optuna);
    ``address`` (a cluster to join; None starts a local runtime), ``cpus_per_trial`` and ``concurrency`` are a
    cluster backend's options. ``mlflow`` (default: the space's ``search.mlflow``) is an MLflow tracking URI that
    gets a run per finished trial and the final model (see automl.tracking.mlflow_runs; needs the mlflow extra).
    ``start_from`` names a study in the same storage whose finished trials a new study starts from (copied in, so
    the sampler learns from them) when that study was recorded on the same data, space and objective; otherwise
    the study starts afresh and records why (see automl.backends.prior_trials).
    """
    import automl.data as data_mod
    from automl.backends.store import StudyStore
    from automl.job import pipeline
    from automl.job.baseline import baseline_first
    from automl.job.progress import Progress
    from automl.job.workers import check_workers, search_in_workers
    from automl.spaces.checks import check_space
    from automl.study.storage import open_storage, redact, resolve_url
    from automl.tracking.mlflow_runs import check_store, open_runs

    started = time.monotonic()
    data_mod.check_dataset_name(dataset)
    validation.whole_number("seed", seed, minimum=0, example=0)
    dataset_obj = None
    if space is None and data_mod.data_kind_of(dataset) == "table":  # the default space depends on the table's task
        from automl.spaces.defaults import table_default_space

        dataset_obj = data_mod.load_dataset(
            dataset, data_dir=data_dir, seed=seed, limit=limit, target=target, task=task
        )
        space = table_default_space(dataset_obj)
    space_obj = space if isinstance(space, SearchSpace) else load_space(space or DEFAULT_SPACES.get(dataset, dataset))
    check_space(space_obj)  # before the storage and the data: a wrong space costs nothing
    overrides = {"trials": trials, "timeout": timeout, "time_budget": time_budget, "mlflow": mlflow}
    settings = apply_overrides(space_obj.settings, **overrides)
    # where an MLflow URI came from, for its errors; a missing package is said before the storage and data open
    mlflow_source = "mlflow" if mlflow is not None else f"{space_obj.source}: search.mlflow"
    if settings.mlflow:
        check_store(settings.mlflow, mlflow_source)
    check_workers(workers)
    engine, engine_options = _engine(
        backend or space_obj.settings.backend, workers, address, cpus_per_trial, concurrency
    )
    check_engine_objectives(space_obj, engine)
    threads = threads if threads is not None else pipeline.threads_from_env()
    url = resolve_url(storage)
    policy = failure_policy or FailurePolicy()
    store = StudyStore(open_storage(url, policy=policy))
    if dataset_obj is None:
        dataset_obj = data_mod.load_dataset(
            dataset, data_dir=data_dir, seed=seed, limit=limit, target=target, task=task
        )
    log.info("data: %s from %s, splits %s", dataset, dataset_obj.source, dataset_obj.sizes())
    pipeline.families_for(space_obj, dataset_obj)  # this data suits every family of the space
    name = study or default_study_name(dataset)
    if engine != BackendName.OPTUNA:  # a cluster re-runs a trial whose worker died as often as Optuna's loop
        engine_options["max_retry"] = policy.max_retry
    backend_obj = pipeline.get_backend(engine, **engine_options)
    settings = replace(settings, backend=engine.value)
    resuming = store.exists(name)
    context = store.open(
        name,
        space_obj,
        None if resuming else settings,
        seed=seed,
        data_info=pipeline.data_info(dataset_obj, seed=seed, limit=limit),
        backend=engine,
        start_from=start_from,
    )
    if resuming:  # the recorded settings, with this call's budgets; the workers read them from the study
        context.settings = apply_overrides(context.settings, **overrides)
        store.record_settings(context.study, context.settings)
    settings = context.settings
    clock = pipeline.job_clock(
        started,
        settings,
        context.space,
        dataset_obj,
        members=DEFAULT_MEMBERS,
        keeps_models=pipeline.keeps_models(engine),
        baseline_recorded=finish,
    )
    tracker = open_runs(settings.mlflow, context.study, mlflow_source)  # None without a URI

    baseline_seconds = None  # spent by this run on the baseline, before its search
    try:
        if finish:
            baseline_seconds = baseline_first(context, dataset_obj, seed, live=live, quiet=quiet)
        clock.searching_starts()
        if workers > 1:
            search_in_workers(store, context, url, workers, seed, clock, dataset_obj, data_dir, policy, quiet)
        else:
            progress = Progress(
                name, settings.trials, clock.search_seconds(), settings.direction, live=live, quiet=quiet
            )
            progress.resume_from(context.study)
            with progress:
                pipeline.run_trials(
                    backend_obj,
                    context,
                    dataset_obj,
                    seed=seed,
                    threads=threads,
                    deadline=clock.deadline,
                    policy=policy,
                    # the clock hears each event first: the deadline moves before the display
                    callbacks=[clock, progress, *([tracker] if tracker else [])],
                )
    except KeyboardInterrupt:
        # Without --study the name was made up here: say it, or "the same command" would start a new study.
        again = "the same command" if study else f"the same command with --study {name}"
        log.info("study %s: interrupted; run %s to resume it", name, again)
        raise
    return _conclude(
        context.study,
        dataset_obj,
        settings,
        clock,
        url=redact(url),
        seed=seed,
        reports_dir=Path(reports_dir),
        finish=finish,
        live=live,
        quiet=quiet,
        tracker=tracker,
        baseline_seconds=baseline_seconds,
    )


def _engine(
    name: str, workers: int, address: str | None, cpus_per_trial: int | None, concurrency: int | None
) -> tuple[BackendName, dict[str, Any]]:
    """The backend's name and constructor options, checked against what the caller combined."""
    if name not in set(BackendName):
        raise AutomlError(f"backend {name!r}: unknown; use one of {sorted(b.value for b in BackendName)}")
    engine = BackendName(name)
    options = {"address": address, "cpus_per_trial": cpus_per_trial, "concurrency": concurrency}
    given = {key: value for key, value in options.items() if value is not None}
    if engine == BackendName.OPTUNA and given:
        flags = ", ".join("--" + key.replace("_", "-") for key in given)
        raise AutomlError(f"{flags}: options of a cluster backend; add --backend {BackendName.RAY}, or drop them")
    if engine != BackendName.OPTUNA and workers > 1:
        raise AutomlError(
            f"--workers {workers}: for the {BackendName.OPTUNA} backend; with --backend {engine} use --concurrency"
        )
    return engine, given


def _conclude(
    study: Any,
    dataset: Any,
    settings: SearchSettings,
    clock: Any,
    *,
    url: str,
    seed: int,
    reports_dir: Path,
    finish: bool,
    live: bool | None,
    quiet: bool,
    tracker: Any = None,
    baseline_seconds: float | None = None,
) -> SearchResult:
    from automl.job.final import finalize, trial_config
    from automl.job.plan import best_trial, winner_value
    from automl.job.progress import StepLog
    from automl.reports import write_report
    from automl.reports.summary import reference_verdicts, render_summary_md, summary_data
    from automl.study.listing import STATES
    from automl.study.record import read_trial
    from automl.study.study_record import read_study

    try:
        winner = best_trial(study)
    except AutomlError:
        if settings.time_budget is None:
            raise
        used = time.monotonic() - clock.started
        raise AutomlError(
            f"study {study.study_name!r}: no trial completed within the time budget ({settings.time_budget:g} s, "
            f"{used:.0f} s used); raise --time-budget, or resume with the same --study to search longer"
        ) from None
    out_dir = reports_dir / study.study_name
    final = None
    searched = time.monotonic() - clock.started  # data loading, setup, the baseline and searching
    if finish:
        with StepLog("final", live=live, quiet=quiet) as steps:
            final = finalize(
                study,
                dataset,
                out_dir,
                seed=seed,
                members=DEFAULT_MEMBERS,
                time_left=clock.final_seconds(),
                on_step=steps.say,
                on_epoch=steps.epoch,
            )
    if tracker is not None:  # the trials other workers ran, then the final model and its registration
        tracker.conclude(study, final)
    budget = {
        "trials": settings.trials,
        "timeout_seconds": settings.timeout,
        "time_budget_seconds": settings.time_budget,
    }
    finished = time.monotonic()
    split = {
        **({"baseline": baseline_seconds} if baseline_seconds is not None else {}),
        "searching": searched - (baseline_seconds or 0.0),
        "final stage": finished - clock.started - searched,
    }
    data = summary_data(study, final, storage=url, elapsed=finished - clock.started, budget=budget, split=split)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "summary.md").write_text(render_summary_md(data))
    try:  # the results are already safe in the study: a failing report must not hide them
        write_report(study, out_dir, storage=url)
    except AutomlError as exc:
        log.warning("report: not written (%s); retry: automl report %s", exc, study.study_name)
    # written again with the report's own time, so the split covers the whole job
    split["report"] = time.monotonic() - finished
    data = summary_data(study, final, storage=url, elapsed=time.monotonic() - clock.started, budget=budget, split=split)
    (out_dir / "summary.md").write_text(render_summary_md(data))
    counts = dict.fromkeys(STATES, 0)
    for trial in study.get_trials(deepcopy=False):
        state = read_trial(trial).state.lower()
        counts[state] = counts.get(state, 0) + 1
    return SearchResult(
        study_name=study.study_name,
        storage=url,
        best_params=trial_config(winner),
        best_value=winner_value(winner),
        metric=settings.metric,
        test_metric=final.test_metric if final else None,
        test_value=final.test_value if final else None,
        baseline_test_value=final.baseline_test_value if final else None,
        baseline_label=final.baseline_label if final else "",
        counts=counts,
        data_source=str(read_study(study).data_source or dataset.source),
        elapsed_seconds=time.monotonic() - clock.started,
        report_dir=out_dir,
        model_path=Path(final.model_path) if final and final.model_path else None,
        final_note=str(final.final_stage.get("note") or "") if final else "",
        mlflow_model=tracker.model_uri if tracker is not None else "",
        references=[dict(r) for r in final.references] if final else [],
        verdicts=[v.replace("**", "") for v in reference_verdicts(final.to_dict(), read_study(study).maximize)]
        if final
        else [],
    )
