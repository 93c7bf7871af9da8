"""A short Markdown note per finished trial, shown on the trial's page in optuna-dashboard.

The user attributes already hold everything (config, curves, best epoch, ...) but as raw JSON; the note says it
in one glance: state and value, the diagnosis, the best epoch, the train/validation gap and the configuration.
Notes are written after each trial by ``automl search`` and, for older studies, when ``automl dashboard`` starts.
They are stored the way optuna-dashboard stores the notes people type, so they can be edited there.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from automl.backends.callbacks import SearchCallback
from automl.study.record import RecordError, StudyKey, held_out_metric, read_trial
from automl.study.study_record import read_study, read_study_attrs
from automl.study.trial_writes import write_study_system_attrs

if TYPE_CHECKING:
    import optuna

from automl.study import optuna_compat as compat

log = logging.getLogger(__name__)

FINISHED = ("COMPLETE", "PRUNED", "FAIL")


@dataclass(frozen=True)
class CurveFacts:
    """The numbers a note shows. Epochs are 1-based; gaps compare the objective's training and validation values
    (``fit_metric``), positive when training looks better."""

    epochs: int
    best_epoch: int | None
    gap_at_best: float | None
    gap_at_end: float | None
    diagnosis: str | None = None
    reason: str | None = None
    fit_metric: str | None = None


def trial_facts(trial: optuna.trial.FrozenTrial, metric: str, maximize: bool) -> CurveFacts:
    """What the note shows, from :mod:`automl.analysis.diagnostics` (the same diagnosis the reports give)."""
    from automl.analysis.diagnostics import diagnose_trial

    d = diagnose_trial(read_trial(trial), metric, maximize)
    return CurveFacts(
        epochs=d.epochs,
        best_epoch=d.best_epoch,
        gap_at_best=d.gap_at_best,
        gap_at_end=d.gap_at_end,
        diagnosis=d.title,
        reason=d.reason,
        fit_metric=d.fit_metric,
    )


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value).replace("|", "\\|")


def render_note(trial: optuna.trial.FrozenTrial, metric: str, facts: CurveFacts) -> str:
    """The Markdown body. Kept short: the dashboard shows it beside the trial's parameters and values."""
    record = read_trial(trial)
    head = f"### automl · trial {record.number} · {record.state.lower()}"
    if record.value is not None:
        head += f" · {metric} {record.value:.4f}"
    lines = [head, ""]
    if facts.diagnosis:
        lines.append(f"**Diagnosis: {facts.diagnosis}**: {facts.reason}")
        lines.append("")
    epoch_line = f"- Best epoch: {facts.best_epoch if facts.best_epoch is not None else '-'} of {facts.epochs} trained"
    if record.pruned_at_epoch is not None:
        epoch_line += f" (pruned at epoch {record.pruned_at_epoch})"
    lines.append(epoch_line)
    if facts.gap_at_best is not None or facts.gap_at_end is not None:
        at_best = "-" if facts.gap_at_best is None else f"{facts.gap_at_best:+.3f}"
        at_end = "-" if facts.gap_at_end is None else f"{facts.gap_at_end:+.3f}"
        name = held_out_metric(facts.fit_metric or metric)
        lines.append(f"- Train − validation {name} gap: {at_best} at the best epoch, {at_end} at the last")
    extras = []
    if record.n_params:
        extras.append(f"{record.n_params:,} parameters")
    if record.train_seconds is not None:
        extras.append(f"trained in {record.train_seconds:.1f} s")
    if extras:
        lines.append("- " + ", ".join(extras))
    if record.fail_reason:
        lines.append(f"- Failed: {record.fail_reason}")
    if record.config:
        lines += ["", "| parameter | value |", "|---|---|"]
        lines += [f"| {key} | {_fmt(value)} |" for key, value in record.config.items()]
    return "\n".join(lines) + "\n"


def _study_metric(study: optuna.Study) -> tuple[str, bool]:
    record = read_study(study)
    return record.metric, record.maximize


def write_trial_note(
    study: optuna.Study, trial: optuna.trial.FrozenTrial, metric: tuple[str, bool] | None = None
) -> None:
    """Save the note of one trial that has just finished, in one transaction. ``metric`` (the study's objective
    and whether it is maximised) saves reading the study's record again.

    A trial that has just finished has no note yet (the dashboard's backfill writes the same first note, and a
    person cannot have edited one), so it is written as a first one (:func:`_write_first_note`), without
    optuna-dashboard's ``save_note``, which reads every note of the study on each call: a cost that grew with the
    trials."""
    name, maximize = metric or _study_metric(study)
    body = render_note(trial, name, trial_facts(trial, name, maximize))
    _write_first_note(compat.storage_of(study), compat.study_id(study), compat.trial_id(trial), body)


class TrialNotes(SearchCallback):
    """The search callback that gives each finished trial its note. A note that cannot be written (a read-only
    database user, say) costs a warning, never the search. The study's objective is read once per study."""

    def __init__(self) -> None:
        self._metrics: dict[str, tuple[str, bool]] = {}

    def on_trial_end(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        try:
            if study.study_name not in self._metrics:
                self._metrics[study.study_name] = _study_metric(study)
            write_trial_note(study, trial, self._metrics[study.study_name])
        except Exception as exc:
            log.warning("trial %d: could not write its dashboard note (%s)", trial.number, exc)


def write_missing_notes(storage: optuna.storages.BaseStorage) -> int:
    """Write notes for the finished trials of automl studies that have none yet; returns how many were written.

    Studies without automl's recorded space are left alone: their trials lack the facts a note shows.
    """
    pending = []
    for summary in storage.get_all_studies():
        if StudyKey.SPACE not in summary.user_attrs:
            continue
        direction = summary.directions[0].name.lower() if len(summary.directions) == 1 else "multi"
        try:
            record = read_study_attrs(summary.study_name, direction, summary.user_attrs)
        except RecordError as exc:  # one unreadable study must not keep the dashboard from starting
            log.warning("%s; its trials get no notes", exc)
            continue
        metric, maximize = record.metric, record.maximize
        study_id = compat.summary_study_id(summary)
        system_attrs = storage.get_study_system_attrs(study_id)
        pending += [
            (study_id, metric, maximize, trial)
            for trial in storage.get_all_trials(study_id, deepcopy=False)
            if trial.state.name in FINISHED and not _has_note(system_attrs, compat.trial_id(trial))
        ]
    if len(pending) > 50:  # about 10 ms a note: say why the start waits
        seconds = len(pending) // 100 + 1
        log.info("adding the automl note to %d finished trials (once; about %d s)", len(pending), seconds)
    for study_id, metric, maximize, trial in pending:
        body = render_note(trial, metric, trial_facts(trial, metric, maximize))
        _write_first_note(storage, study_id, compat.trial_id(trial), body)
    return len(pending)


def _has_note(study_system_attrs: Mapping[str, Any], trial_id: int) -> bool:
    return compat.note_version_key(trial_id) in study_system_attrs


def _write_first_note(storage: optuna.storages.BaseStorage, study_id: int, trial_id: int, body: str) -> None:
    """Version 1 of a trial's note, in optuna-dashboard's own layout (the body in chunks, then its version), in one
    transaction (:func:`automl.study.trial_writes.write_study_system_attrs`); ``KeyError`` if the trial is not
    the study's.

    ``save_note`` re-reads every note of the study on each call, which made backfilling a study quadratic
    (500 trials: 28 s); a first note has nothing to replace, so one write does. The version comes last, so that
    on a storage written key by key the dashboard never sees a version without its body.
    """
    attrs: dict[str, Any] = dict(compat.note_body_chunks(body, trial_id))
    attrs[compat.note_version_key(trial_id)] = 1
    write_study_system_attrs(storage, study_id, attrs, of_trial=trial_id)
