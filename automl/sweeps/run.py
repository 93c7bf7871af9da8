"""One run of a sweep: what ``automl sweep run`` does, whether a person, a CronJob, a systemd timer, a Ray job
or the scheduler started it.

Each run is its own study, ``<sweep>-<UTC timestamp>``, in the sweep's storage, linked to its sweep and to the
run it warm-started from (study attributes, and the run row in the scheduler's storage). On unchanged data and
space the new study starts from the previous run's finished trials (copied in by the study store, see
:mod:`automl.backends.prior_trials`); otherwise the previous run's top-K configurations run first
(:mod:`automl.sweeps.warm_start`). Each run writes its log to ``<reports>/<sweep>/<study>/run.log``. The search
itself is one call, :data:`SearchFn`, so the run's bookkeeping does not depend on how a search is carried out.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from automl.analysis.front import recorded_trade_off
from automl.errors import AutomlError
from automl.log_file import copy_output_to
from automl.spaces import SearchSpace, load_space
from automl.study.record import BackendName
from automl.study.storage import redact, resolve_url
from automl.sweeps import study_io
from automl.sweeps.spec import SweepSpec
from automl.sweeps.state import StateStore
from automl.sweeps.tables import RunRow, RunStatus, new_owner
from automl.sweeps.warm_start import describe_dropped, fit_to_space, top_k_configs, with_warm_start

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 30.0  # well inside the scheduler's LOST_AFTER

# (spec, the run's study, its space, the study whose finished trials it may start from)
SearchFn = Callable[[SweepSpec, str, SearchSpace, str | None], Any]


class SweepRunError(AutomlError):
    """A sweep run that cannot start as asked (e.g. an unknown --run-id)."""


def default_search(spec: SweepSpec, study: str, space: SearchSpace, start_from: str | None = None) -> Any:
    """Run the search through the public API, with the spec's budgets and data options; a new study starts from
    ``start_from``'s finished trials when they were measured on the same data and space."""
    import automl

    kwargs: dict[str, Any] = {
        "study": study,
        "storage": spec.storage,
        "trials": spec.trials,
        "timeout": spec.timeout,
        "seed": spec.seed,
        "data_dir": spec.data_dir,
        "limit": spec.limit,
        "reports_dir": spec.reports,
        "workers": spec.workers,
        "live": False,  # a scheduled run writes plain log lines, never a terminal panel
    }
    # Only what the spec sets beyond a plain search is passed, so a plain sweep needs nothing new of the API.
    if spec.time_budget is not None:
        kwargs["time_budget"] = spec.time_budget
    if spec.backend != BackendName.OPTUNA:
        kwargs["backend"] = spec.backend
    if spec.ray_address is not None and spec.backend == BackendName.RAY:
        kwargs["address"] = spec.ray_address
    if spec.target is not None:
        kwargs.update(target=spec.target, task=spec.task)
    if start_from is not None:
        kwargs["start_from"] = start_from
    return automl.search(spec.dataset, space, **kwargs)


def study_name_for(sweep: str, now: datetime) -> str:
    return f"{sweep}-{now.astimezone(UTC):%Y%m%dT%H%M%SZ}"


@dataclass(frozen=True)
class WarmStart:
    space: SearchSpace
    carried: list[dict[str, Any]]
    notes: list[str]


def plan_warm_start(spec: SweepSpec, space: SearchSpace, previous: RunRow | None) -> WarmStart:
    """The space with the previous run's top-K configurations that still fit it as its first trials."""
    if previous is None or spec.top_k == 0 or not previous.study:
        return WarmStart(space, [], [])
    before = study_io.read_run_study(spec.storage, previous.study)
    trade = recorded_trade_off(before.record.settings, f"study {before.record.name}", before.trials)
    front: tuple[int, ...] = ()
    if trade is not None and trade.picked is not None:  # several objectives or bounds: the whole front carries on
        front = (trade.picked, *(n for n in trade.front if n != trade.picked))
    configs = top_k_configs(before.trials, before.record.direction, spec.top_k, front)
    kept, dropped = fit_to_space(configs, space)
    notes = [
        f"warm start: {len(kept)} of the previous run's top {len(configs)} configurations ({previous.study}) run first"
    ]
    if dropped:
        notes.append(
            f"warm start: dropped {len(dropped)} that no longer fit the space {space.source}: "
            f"{describe_dropped(dropped)}"
        )
    return WarmStart(with_warm_start(space, kept), kept, notes)


def run_log_path(spec: SweepSpec, study: str) -> Path:
    """Where a run writes its log: ``<reports>/<sweep>/<study>/run.log``, absolute, as the run row records it."""
    return (spec.report_dir / study / "run.log").resolve()


def run_sweep(
    spec: SweepSpec,
    state: StateStore,
    *,
    run_id: int | None = None,
    search: SearchFn = default_search,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> RunRow:
    """Run ``spec`` once and record it. ``run_id`` is a run the scheduler claimed; without it, a run by hand.
    Returns the finished run row; a failed search is recorded failed with its reason and then re-raised."""
    started = now()
    if run_id is None:
        run_id = state.start_manual(spec.name, new_owner(), started)
    else:
        run = state.get(run_id)
        if run.sweep != spec.name or run.status != RunStatus.RUNNING:
            raise SweepRunError(
                f"--run-id {run_id}: is a {run.status} run of sweep {run.sweep!r}, not a running run of {spec.name!r}; "
                "leave --run-id to the scheduler"
            )
    beat = _Heartbeat(state, run_id, now)
    beat.start()
    study = None
    try:
        study = _unique_study_name(state, spec.name, started)
        log_path = run_log_path(spec, study)
        state.update_run(run_id, study=study, log_path=str(log_path))
        with copy_output_to(log_path):  # a failure's traceback ends the file
            log.info(
                "sweep %s: run %d started %s UTC: study %s", spec.name, run_id, f"{started:%Y-%m-%d %H:%M:%S}", study
            )
            _search(spec, state, run_id, study, search, now)
    except BaseException as exc:
        reason = "interrupted" if isinstance(exc, KeyboardInterrupt) else _one_line(exc)
        state.finish(run_id, RunStatus.FAILED, now(), reason=reason)
        if study is not None:
            _link_quietly(spec, study, previous_study=None)
        raise
    finally:
        beat.stop()
    prune_runs(spec, state)
    return state.get(run_id)


def _search(
    spec: SweepSpec, state: StateStore, run_id: int, study: str, search: SearchFn, now: Callable[[], datetime]
) -> None:
    """The run's search, from the previous run's trials or its top-K, and its result recorded."""
    previous = state.last_success(spec.name, before=run_id)
    state.update_run(
        run_id, previous_study=previous.study if previous else None, storage=redact(resolve_url(spec.storage))
    )
    space = load_space(spec.space) if spec.space else None
    if space is None:
        from automl.spaces.defaults import DEFAULT_SPACES

        space = load_space(DEFAULT_SPACES.get(spec.dataset, spec.dataset))
    warm = plan_warm_start(spec, space, previous)
    start_from = previous.study if previous is not None and spec.resume else None
    if start_from:
        log.info("resume: on unchanged data and space this run starts from the finished trials of %s", start_from)
    for note in warm.notes:
        log.info("%s%s", "otherwise, " if start_from else "", note)
    search(spec, study, warm.space, start_from)
    result = _results(spec, study, previous, warm)
    state.finish(run_id, RunStatus.SUCCEEDED, now(), **result)
    log.info("sweep %s: run %d succeeded: study %s, best %s", spec.name, run_id, study, result["best_value"])


def _results(spec: SweepSpec, study: str, previous: RunRow | None, warm: WarmStart) -> dict[str, Any]:
    after = study_io.read_run_study(spec.storage, study)
    started_from = after.record.started_from
    resumed = started_from.copied if started_from is not None else 0
    # What happened, for the run row: the copies replace the warm start (its configurations were among them).
    notes = [] if resumed else list(warm.notes)
    if started_from is not None:
        notes.append(f"resume: {started_from.describe()}")
    if previous is not None and previous.study:
        try:
            before_fp = study_io.read_run_study(spec.storage, previous.study).record.data_fingerprint
        except Exception:  # the previous study was deleted by hand: nothing to compare against
            before_fp = None
        now_fp = after.record.data_fingerprint
        if before_fp and before_fp == now_fp:
            notes.append(f"data: unchanged since {previous.study} (fingerprint {now_fp})")
        elif before_fp:
            notes.append(f"data: changed since {previous.study} (fingerprint {before_fp} -> {now_fp})")
    for note in notes if resumed else notes[len(warm.notes) :]:  # the warm start's notes were said before
        log.info("%s", note)
    carried = 0 if resumed else len(warm.carried)
    _link_quietly(spec, study, previous_study=previous.study if previous else None, warm=carried)
    best = after.best
    final = after.record.final
    return {
        "metric": after.record.metric,
        "direction": after.record.direction,
        "trials": after.finished - resumed,  # this run's own
        "best_value": best.value if best else None,  # over the copies too: the final model is the study's best
        "test_metric": final.test_metric if final else None,
        "test_value": final.test_value if final else None,
        "warm_started": carried,
        "resumed": resumed,
        "notes": "\n".join(notes),
    }


def _link_quietly(spec: SweepSpec, study: str, previous_study: str | None, warm: int = 0) -> None:
    """Tie the study to its sweep; a search that failed before creating its study leaves nothing to tie."""
    attrs = {study_io.SWEEP: spec.name, study_io.SWEEP_PREVIOUS: previous_study, study_io.SWEEP_WARM_START: warm}
    try:
        study_io.link_study(spec.storage, study, attrs)
    except Exception as exc:  # the run's own outcome is already recorded; a missing study must not replace it
        log.debug("sweep %s: study %s not linked (%s)", spec.name, study, exc)


def prune_runs(spec: SweepSpec, state: StateStore) -> list[str]:
    """Delete the studies of all but the newest ``keep_runs`` runs; their history rows stay."""
    if spec.keep_runs is None:
        return []
    runs = state.runs(spec.name)
    with_study = [
        (r, r.study)
        for r in runs
        if r.study and not r.study_deleted and r.status in (RunStatus.SUCCEEDED, RunStatus.FAILED)
    ]
    old = with_study[: max(0, len(with_study) - spec.keep_runs)]
    deleted = []
    for run, study in old:
        with contextlib.suppress(KeyError):  # never created (failed early) or deleted by hand
            study_io.delete_study(spec.storage, study)
        state.update_run(run.id, study_deleted=True)
        deleted.append(study)
    if deleted:
        log.info("sweep %s: keep_runs %d: deleted old run studies %s", spec.name, spec.keep_runs, ", ".join(deleted))
    return deleted


def _unique_study_name(state: StateStore, sweep: str, when: datetime) -> str:
    """``<sweep>-<UTC timestamp>``; a second run in the same second (overlap: allow) gets ``-2``, ``-3``..."""
    taken = {r.study for r in state.runs(sweep)}
    base = study_name_for(sweep, when)
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base}-{n}"
    return name


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:300]}" if text else type(exc).__name__


class _Heartbeat:
    """Tells the scheduler's store this run is alive, so a run whose process dies is recorded as lost."""

    def __init__(self, state: StateStore, run_id: int, now: Callable[[], datetime]) -> None:
        self.state, self.run_id, self.now = state, run_id, now
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"sweep-run-{run_id}-heartbeat", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.wait(HEARTBEAT_SECONDS):
            try:
                self.state.heartbeat([self.run_id], self.now())
            except Exception as exc:  # a busy database now and then must not kill the run
                log.debug("heartbeat of run %d failed: %s", self.run_id, exc)
