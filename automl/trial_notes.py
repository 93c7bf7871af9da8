"""A short Markdown note per finished trial, shown on the trial's page in optuna-dashboard.

The user attributes already hold everything (config, curves, best epoch, ...) but as raw JSON; the note says it
in one glance: state and value, the diagnosis, the best epoch, the train/validation gap and the configuration.
Notes are written after each trial by ``automl search`` and, for older studies, when ``automl dashboard`` starts.
They are stored the way optuna-dashboard stores the notes people type, so they can be edited there.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import optuna

log = logging.getLogger(__name__)

FINISHED = ("COMPLETE", "PRUNED", "FAIL")


@dataclass(frozen=True)
class CurveFacts:
    """The numbers a note shows. Epochs are 1-based; gaps are train minus validation accuracy."""

    epochs: int
    best_epoch: int | None
    gap_at_best: float | None
    gap_at_end: float | None
    diagnosis: str | None = None
    reason: str | None = None


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


def curve_facts(curves: Mapping[str, Sequence[float]] | None, metric: str, maximize: bool) -> CurveFacts:
    """Best epoch and accuracy gaps from the curves alone (used when :mod:`automl.diagnostics` is absent)."""
    curves = curves or {}
    epochs = max((len(v) for v in curves.values()), default=0)
    target = [v if _finite(v) else None for v in curves.get(metric, [])]
    scored = [(v, i) for i, v in enumerate(target) if v is not None]
    best_i = (max if maximize else min)(scored)[1] if scored else None
    acc, val_acc = curves.get("accuracy") or [], curves.get("val_accuracy") or []

    def gap(i: int | None) -> float | None:
        if i is None or i >= min(len(acc), len(val_acc)) or not (_finite(acc[i]) and _finite(val_acc[i])):
            return None
        return float(acc[i] - val_acc[i])

    end = min(len(acc), len(val_acc)) - 1
    return CurveFacts(
        epochs=epochs,
        best_epoch=None if best_i is None else best_i + 1,
        gap_at_best=gap(best_i),
        gap_at_end=gap(end if end >= 0 else None),
    )


def trial_facts(trial: optuna.trial.FrozenTrial, metric: str, maximize: bool) -> CurveFacts:
    """The diagnosis from :mod:`automl.diagnostics` when it is available, else the bare curve facts."""
    try:
        from automl.diagnostics import diagnose_trial
    except ImportError:
        return curve_facts(trial.user_attrs.get("curves"), metric, maximize)
    d = diagnose_trial(trial, metric, maximize)
    return CurveFacts(
        epochs=d.epochs,
        best_epoch=d.best_epoch,
        gap_at_best=d.gap_at_best,
        gap_at_end=d.gap_at_end,
        diagnosis=d.label,
        reason=d.reason,
    )


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value).replace("|", "\\|")


def render_note(trial: optuna.trial.FrozenTrial, metric: str, facts: CurveFacts) -> str:
    """The Markdown body. Kept short: the dashboard shows it beside the trial's parameters and values."""
    state = trial.state.name.lower()
    head = f"### automl · trial {trial.number} · {state}"
    if trial.value is not None:
        head += f" · {metric} {trial.value:.4f}"
    lines = [head, ""]
    if facts.diagnosis:
        lines.append(f"**Diagnosis: {facts.diagnosis}**: {facts.reason}")
        lines.append("")
    epoch_line = f"- Best epoch: {facts.best_epoch if facts.best_epoch is not None else '-'} of {facts.epochs} trained"
    if trial.user_attrs.get("pruned_at_epoch") is not None:
        epoch_line += f" (pruned at epoch {trial.user_attrs['pruned_at_epoch']})"
    lines.append(epoch_line)
    if facts.gap_at_best is not None or facts.gap_at_end is not None:
        at_best = "-" if facts.gap_at_best is None else f"{facts.gap_at_best:+.3f}"
        at_end = "-" if facts.gap_at_end is None else f"{facts.gap_at_end:+.3f}"
        lines.append(f"- Train − validation accuracy gap: {at_best} at the best epoch, {at_end} at the last")
    extras = []
    if trial.user_attrs.get("n_params"):
        extras.append(f"{trial.user_attrs['n_params']:,} parameters")
    if trial.user_attrs.get("train_seconds") is not None:
        extras.append(f"trained in {trial.user_attrs['train_seconds']:.1f} s")
    if extras:
        lines.append("- " + ", ".join(extras))
    if trial.user_attrs.get("fail_reason"):
        lines.append(f"- Failed: {trial.user_attrs['fail_reason']}")
    config = trial.user_attrs.get("config") or trial.params
    if config:
        lines += ["", "| parameter | value |", "|---|---|"]
        lines += [f"| {key} | {_fmt(value)} |" for key, value in config.items()]
    return "\n".join(lines) + "\n"


def _study_metric(study: optuna.Study) -> tuple[str, bool]:
    import optuna

    settings = study.user_attrs.get("settings") or {}
    maximize = study.direction == optuna.study.StudyDirection.MAXIMIZE
    return str(settings.get("metric", "val_accuracy")), maximize


def write_trial_note(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
    """Save the note for one finished trial through optuna-dashboard's own note API."""
    metric, maximize = _study_metric(study)
    body = render_note(trial, metric, trial_facts(trial, metric, maximize))
    _save(study, trial, body)


def _save(study: optuna.Study, trial: optuna.trial.FrozenTrial, body: str) -> None:
    import optuna
    from optuna_dashboard import save_note

    # save_note wants a live Trial. Build it on a view of the study with a random sampler, because
    # ``Trial()`` calls the sampler's before_trial hook, which must not run the real sampler on a finished trial.
    view = optuna.study.Study(
        study_name=study.study_name, storage=study._storage, sampler=optuna.samplers.RandomSampler()
    )
    save_note(optuna.trial.Trial(view, trial._trial_id), body)


def with_trial_notes(
    callback: Callable[[optuna.Study, optuna.trial.FrozenTrial], None] | None,
) -> Callable[[optuna.Study, optuna.trial.FrozenTrial], None]:
    """Wrap an ``on_trial_end`` callback so each finished trial also gets its note. A note that cannot be
    written (a read-only database user, say) costs a warning, never the search."""

    def on_trial_end(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        if callback is not None:
            callback(study, trial)
        try:
            write_trial_note(study, trial)
        except Exception as exc:
            log.warning("trial %d: could not write its dashboard note (%s)", trial.number, exc)

    return on_trial_end


def write_missing_notes(storage: optuna.storages.BaseStorage) -> int:
    """Write notes for the finished trials of automl studies that have none yet; returns how many were written.

    Studies without automl's recorded space are left alone: their trials lack the facts a note shows.
    """
    import optuna
    from optuna_dashboard._note import note_ver_key  # the key optuna-dashboard marks a trial's note with

    written = 0
    for summary in storage.get_all_studies():
        if "space" not in summary.user_attrs:
            continue
        study = optuna.load_study(study_name=summary.study_name, storage=storage)
        system_attrs = storage.get_study_system_attrs(study._study_id)
        for trial in study.get_trials(deepcopy=False):
            if trial.state.name in FINISHED and note_ver_key(trial._trial_id) not in system_attrs:
                write_trial_note(study, trial)
                written += 1
    return written
