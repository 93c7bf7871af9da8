"""``reports/<study>/``: report.html (self-contained), report.md, trials.csv and the PNG figures.

Report data comes first, as plain numbers computed from the study (:func:`report_data`); the renderers
(:func:`render_markdown`, :func:`render_html`, :func:`trials_csv`, :mod:`automl.plots`) only format it.
Writing a report never trains anything: the held-out evaluation is read from the study (``final``,
``seed_evaluations``), where ``automl search`` / ``automl report`` put it.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import logging
import math
import statistics
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from automl import diagnostics as dg
from automl.errors import AutomlError, StorageError
from automl.evaluation import HonestEstimate, honest_estimate

log = logging.getLogger(__name__)

DEFAULT_TOP_K = 5
IMPORTANCE_MAX_TRIALS = 300  # fANOVA on more takes tens of seconds; a random sample of this many is used
HTML_TRIAL_ROWS = 200  # larger studies list every trial in trials.csv only, keeping the HTML small
IMPORTANCE_EVALUATOR = "fANOVA (optuna.importance.FanovaImportanceEvaluator, seed 0)"

PLOT_FILES = {
    "learning_curves": "learning_curves.png",
    "optimization_history": "optimization_history.png",
    "importances": "importances.png",
    "gap_vs_value": "gap_vs_value.png",
    "pruning_savings": "pruning_savings.png",
}
PLOT_TITLES = {
    "learning_curves": "Learning curves of the top configurations",
    "optimization_history": "Optimization history",
    "importances": "Hyperparameter importances",
    "gap_vs_value": "Generalisation gap against validation score",
    "pruning_savings": "What pruning and early stopping saved",
}


# --------------------------------------------------------------------------------------------------------------
# Loading


def load_study(name: str, storage: str | None = None) -> Any:
    """Load an existing study (automl's or a plain Optuna one) read-only, or raise a one-line error."""
    import optuna
    from sqlalchemy.engine import make_url

    from automl.storage import open_storage, redact, resolve_url

    url = resolve_url(storage)
    try:
        parsed = make_url(url)
    except Exception:
        parsed = None
    database = parsed.database if parsed is not None and parsed.get_backend_name() == "sqlite" else None
    # Opening a missing SQLite file would create an empty one; a report should not leave files behind.
    if database and database != ":memory:" and not Path(database).expanduser().is_file():
        raise StorageError(f"storage {redact(url)}: no such SQLite file; pass --storage with the study's URL")
    rdb = open_storage(url, heartbeat=False)
    names = sorted(s.study_name for s in rdb.get_all_studies())
    if name not in names:
        known = ", ".join(names[:20]) + (" ..." if len(names) > 20 else "") if names else "none"
        raise StorageError(f"study {name!r}: not found in {redact(url)}; known studies: {known}")
    study = optuna.load_study(study_name=name, storage=rdb)
    if len(study.directions) > 1:
        raise AutomlError(f"study {name!r}: has {len(study.directions)} objectives; reports cover one objective")
    return study


# --------------------------------------------------------------------------------------------------------------
# Report data (pure: numbers only)


@dataclass
class TrialRow:
    number: int
    state: str
    value: float | None  # the objective for completed trials; the last reported value for pruned ones
    params: dict[str, Any]
    config: dict[str, Any]
    diagnosis: dg.Diagnosis
    epochs_trained: int | None
    epochs_budget: int | None
    n_params: int | None
    duration_s: float | None
    train_seconds: float | None
    fail_reason: str
    curves: dict[str, list[float]] = field(repr=False, default_factory=dict)


@dataclass
class ReportData:
    study: str
    storage: str
    direction: str
    metric: str
    attrs: dict[str, Any]
    counts: dict[str, int]
    rows: list[TrialRow]
    top: list[TrialRow]
    summary: dg.StudySummary
    importances: dict[str, float] | None
    importance_note: str
    honest: HonestEstimate | None
    honest_note: str
    seed_results: dict[int, dict[str, Any]]
    pruning: dict[str, Any]
    max_epochs: int | None
    generated: str

    @property
    def maximize(self) -> bool:
        return self.direction == "maximize"


def _ok(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _epochs_trained(trial: Any, curves: dict[str, list[float]]) -> int | None:
    attrs = trial.user_attrs
    for key in ("epochs_trained", "pruned_at_epoch"):
        if _ok(attrs.get(key)):
            return int(attrs[key])
    if curves:
        return max(len(v) for v in curves.values())
    if trial.intermediate_values:
        return len(trial.intermediate_values)
    return None


def _row(trial: Any, metric: str, maximize: bool) -> TrialRow:
    from automl.finish import trial_config

    attrs = trial.user_attrs
    curves = attrs.get("curves") if isinstance(attrs.get("curves"), dict) else {}
    value = trial.value
    if value is None and trial.intermediate_values:
        value = trial.intermediate_values[max(trial.intermediate_values)]
    config = trial_config(trial)
    budget = config.get("epochs")
    return TrialRow(
        number=trial.number,
        state=trial.state.name,
        value=float(value) if value is not None else None,
        params=dict(trial.params),
        config=config,
        diagnosis=dg.diagnose_trial(trial, metric, maximize),
        epochs_trained=_epochs_trained(trial, curves),
        epochs_budget=int(budget) if _ok(budget) else None,
        n_params=int(attrs["n_params"]) if _ok(attrs.get("n_params")) else None,
        duration_s=trial.duration.total_seconds() if trial.duration is not None else None,
        train_seconds=float(attrs["train_seconds"]) if _ok(attrs.get("train_seconds")) else None,
        fail_reason=str(attrs.get("fail_reason") or ""),
        curves=curves,
    )


def top_rows(rows: list[TrialRow], k: int, maximize: bool) -> list[TrialRow]:
    """The ``k`` best completed trials with a finite value, best first (ties: earlier trial first)."""
    complete = [r for r in rows if r.state == "COMPLETE" and _ok(r.value)]
    complete.sort(key=lambda r: ((-r.value if maximize else r.value), r.number))  # type: ignore[operator]
    return complete[:k]


def top_trials(study: Any, k: int) -> list[Any]:
    """The study's ``k`` best completed trials (``FrozenTrial``) with a finite value, ordered as :func:`top_rows`."""
    from optuna.trial import TrialState

    maximize = study.direction.name == "MAXIMIZE"
    complete = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)) if _ok(t.value)]
    complete.sort(key=lambda t: ((-t.value if maximize else t.value), t.number))
    return complete[:k]


def pruning_stats(rows: list[TrialRow]) -> dict[str, Any]:
    """Epochs trained against the full budget; the difference split into pruning and early stopping."""
    budget = trained = by_pruning = by_early_stop = 0
    counted = 0
    for r in rows:
        if r.state not in ("COMPLETE", "PRUNED", "FAIL") or r.epochs_trained is None or r.epochs_budget is None:
            continue
        counted += 1
        budget += r.epochs_budget
        trained += r.epochs_trained
        saved = max(0, r.epochs_budget - r.epochs_trained)
        if r.state == "PRUNED":
            by_pruning += saved
        elif r.state == "COMPLETE":
            by_early_stop += saved
    return {
        "trials_counted": counted,
        "budget_epochs": budget,
        "trained_epochs": trained,
        "saved_by_pruning": by_pruning,
        "saved_by_early_stopping": by_early_stop,
        "saved_fraction": (budget - trained) / budget if budget else 0.0,
    }


def compute_importances(study: Any, trials: list[Any] | None = None) -> tuple[dict[str, float] | None, str]:
    """Optuna's fANOVA importances over completed trials with finite values, or why there are none.

    ``trials`` are the study's trials when the caller already read them (re-reading a large RDB study costs
    seconds). Above ``IMPORTANCE_MAX_TRIALS`` completed trials, a seeded random sample of that many is used:
    fANOVA's cost grows faster than linearly with the trials, and a random sample keeps the estimate unbiased.
    """
    import random

    import optuna
    from optuna.trial import TrialState

    if trials is None:
        trials = study.get_trials(deepcopy=False)
    complete = [t for t in trials if t.state == TrialState.COMPLETE and _ok(t.value)]
    if len(complete) < 2:
        return None, f"importances need at least 2 completed trials with a finite value; this study has {len(complete)}"
    used = complete
    if len(complete) > IMPORTANCE_MAX_TRIALS:
        used = sorted(random.Random(0).sample(complete, IMPORTANCE_MAX_TRIALS), key=lambda t: t.number)
    # An in-memory copy: the evaluator reads the trials again, which is slow from an RDB storage.
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # no "new study created in memory" line in notebooks
    try:
        copy = optuna.create_study(direction=study.direction)
    finally:
        optuna.logging.set_verbosity(verbosity)
    copy.add_trials(used)
    try:
        values = optuna.importance.get_param_importances(
            copy, evaluator=optuna.importance.FanovaImportanceEvaluator(seed=0)
        )
    except (ValueError, RuntimeError) as exc:
        return None, f"importances could not be computed: {str(exc).splitlines()[0][:200]}"
    values = {k: float(v) for k, v in values.items() if _ok(v)}
    if not values:
        return None, "importances could not be computed: no parameter was sampled in every completed trial"
    over = f"{len(complete)} completed trials"
    if used is not complete:
        over = f"a random sample of {len(used)} of the {len(complete)} completed trials (seed 0)"
    return values, f"{IMPORTANCE_EVALUATOR}, over {over}"


def _unstable_lr(rows: list[TrialRow]) -> tuple[float, float] | None:
    unstable = [
        r.params["learning_rate"]
        for r in rows
        if r.diagnosis.label == dg.UNSTABLE and _ok(r.params.get("learning_rate"))
    ]
    others = [
        r.params["learning_rate"]
        for r in rows
        if r.diagnosis.label not in (dg.UNSTABLE, dg.NO_CURVES) and _ok(r.params.get("learning_rate"))
    ]
    if not unstable or not others:
        return None
    return float(statistics.median(unstable)), float(statistics.median(others))


def report_data(study: Any, *, top_k: int = DEFAULT_TOP_K, storage: str = "") -> ReportData:
    """Everything the report shows, as numbers. ``storage`` is redacted again here, whatever the caller passed."""
    from optuna.trial import TrialState

    from automl.storage import redact

    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
        raise AutomlError(f"--top: must be an integer >= 1, got {top_k!r}; pass e.g. --top 5")
    attrs = dict(study.user_attrs)
    settings = attrs.get("settings") or {}
    direction = study.direction.name.lower()
    maximize = direction == "maximize"
    metric = settings.get("metric") or "value"
    trials = study.get_trials(deepcopy=False)
    rows = [_row(t, metric, maximize) for t in trials]
    known_budgets = [r.epochs_budget for r in rows if r.epochs_budget]
    max_epochs = max(known_budgets) if known_budgets else max((r.epochs_trained or 0 for r in rows), default=0) or None
    for r in rows:  # plain Optuna studies record no budget: the longest run stands in for it
        if r.epochs_budget is None and max_epochs and r.epochs_trained is not None:
            r.epochs_budget = max(max_epochs, r.epochs_trained)
    top = top_rows(rows, top_k, maximize)
    summary = dg.summarize(
        [r.diagnosis for r in rows], [r.diagnosis for r in top], max_epochs=max_epochs, unstable_lr=_unstable_lr(rows)
    )
    importances, importance_note = compute_importances(study, trials)
    honest = honest_estimate(attrs.get("final"), metric)
    if honest is not None:
        honest_note = ""
    elif attrs.get("dataset"):
        honest_note = "the winner has not been retrained and tested yet; run `automl report` without --no-evaluate"
    else:
        honest_note = (
            "the study records no dataset (not created by automl search), so no model can be retrained and tested"
        )
    seeds = {int(k): v for k, v in (attrs.get("seed_evaluations") or {}).items()}
    return ReportData(
        study=study.study_name,
        storage=redact(storage) if storage else "",
        direction=direction,
        metric=metric,
        attrs={k: attrs.get(k) for k in ("dataset", "data_source", "data_fingerprint", "split_sizes", "data_limit")},
        counts={s.name.lower(): sum(t.state == s for t in trials) for s in TrialState},
        rows=rows,
        top=top,
        summary=summary,
        importances=importances,
        importance_note=importance_note,
        honest=honest,
        honest_note=honest_note,
        seed_results=seeds,
        pruning=pruning_stats(rows),
        max_epochs=max_epochs,
        generated=datetime.now().isoformat(timespec="seconds"),
    )


# --------------------------------------------------------------------------------------------------------------
# Formatting helpers


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        return f"{value:.{digits}f}" if abs(value) >= 0.01 or value == 0 else f"{value:.3g}"
    return str(value)


def config_text(row: TrialRow) -> str:
    """The sampled parameters, compactly; fixed values are in the YAML export and trials.csv."""
    return ", ".join(f"{k}={_fmt(v, 3) if isinstance(v, float) else v}" for k, v in row.params.items())


def test_text(data: ReportData, row: TrialRow) -> str:
    parts = []
    if data.honest is not None and data.honest.trial == row.number:
        parts.append(f"{data.honest.test_accuracy:.4f} (final)")
    seeds = data.seed_results.get(row.number)
    if seeds:
        parts.append(f"{seeds['mean']:.4f} ± {seeds['std']:.4f} over {len(seeds['test_accuracy'])} seeds")
    return "; ".join(parts) or "-"


def top_table(data: ReportData) -> tuple[list[str], list[list[str]]]:
    header = [
        "rank",
        "trial",
        f"validation {data.metric}",
        "test accuracy",
        "parameters",
        "train time (s)",
        "epochs (best/trained)",
        "diagnosis",
        "configuration",
    ]
    body = []
    for i, r in enumerate(data.top, 1):
        epochs = f"{r.diagnosis.best_epoch or '-'}/{r.epochs_trained or '-'}"
        seconds = r.train_seconds if r.train_seconds is not None else r.duration_s
        body.append(
            [
                str(i),
                str(r.number),
                _fmt(r.value),
                test_text(data, r),
                f"{r.n_params:,}" if r.n_params else "-",
                _fmt(seconds, 1),
                epochs,
                r.diagnosis.label,
                config_text(r),
            ]
        )
    return header, body


def diagnosis_table(data: ReportData) -> tuple[list[str], list[list[str]]]:
    header = [
        "rank",
        "trial",
        "best epoch",
        "gap at best",
        "gap at end",
        "val-loss minimum at epoch (smoothed)",
        "val loss after minimum",
        "diagnosis",
        "why",
    ]
    body = []
    for i, r in enumerate(data.top, 1):
        d = r.diagnosis
        rise = "-"
        if d.val_loss_rise is not None and d.val_loss_min_epoch == d.epochs:
            rise = "minimum at the last epoch"
        elif d.val_loss_rise is not None:
            rise = f"{d.val_loss_rise:+.1%} ({_fmt(d.val_loss_slope_after_min, 3)}/epoch)"
        body.append(
            [
                str(i),
                str(r.number),
                _fmt(d.best_epoch),
                _fmt(d.gap_at_best, 3),
                _fmt(d.gap_at_end, 3),
                _fmt(d.val_loss_min_epoch),
                rise,
                d.label,
                d.reason,
            ]
        )
    return header, body


def honest_lines(data: ReportData) -> list[str]:
    h = data.honest
    if h is None:
        return [f"No honest estimate: {data.honest_note}."]
    best_of = data.counts.get("complete", 0)
    lines = [
        f"Validation {data.metric} of the winner (trial {h.trial}, best of {best_of} completed trials): "
        f"{h.val_value:.4f}.",
        f"Test accuracy of the winner retrained on train+validation for {h.epochs} epochs, scored once on the "
        f"held-out split (n={h.n_test}): {h.test_accuracy:.4f}, 95% CI [{h.ci_low:.4f}, {h.ci_high:.4f}] (Wilson).",
    ]
    if len(h.member_test_accuracies) > 1:
        alone = ", ".join(f"{a:.4f}" for a in h.member_test_accuracies)
        lines.append(
            f"The final model averages the class probabilities of {len(h.member_test_accuracies)} networks retrained "
            f"with different seeds; alone they scored {alone}."
        )
    if h.selection_bias is not None:
        word = "optimistic" if h.selection_bias > 0 else "not optimistic here"
        lines.append(
            f"Selection bias (validation minus test): {h.selection_bias:+.4f} ({word}). The best of many validation "
            "scores is biased upward; the test score is the honest one."
        )
    if h.baseline_test_accuracy is not None:
        lines.append(
            f"Tutorial baseline (Dense 64 relu, Adam, 10 epochs) on the same split: {h.baseline_test_accuracy:.4f}."
        )
    return lines


def seed_table(data: ReportData) -> tuple[list[str], list[list[str]]]:
    header = ["trial", "seeds", "mean test accuracy", "std", "min", "max"]
    body = [
        [str(n), str(len(s["test_accuracy"])), _fmt(s["mean"]), _fmt(s["std"]), _fmt(s["min"]), _fmt(s["max"])]
        for n, s in sorted(data.seed_results.items())
    ]
    return header, body


def thresholds_table() -> tuple[list[str], list[list[str]]]:
    return ["threshold", "value", "meaning"], [[k, f"{v:g}", text] for k, (v, text) in dg.THRESHOLDS.items()]


def header_lines(data: ReportData) -> list[str]:
    c = data.counts
    a = data.attrs
    lines = [f"Storage: {data.storage or '-'}"]
    if a.get("dataset"):
        lines.append(
            f"Dataset: {a['dataset']} from {a.get('data_source')} (splits {a.get('split_sizes')}, "
            f"fingerprint {a.get('data_fingerprint')})"
        )
    lines.append(f"Objective: {data.metric} ({data.direction})")
    lines.append(
        f"Trials: {len(data.rows)} in all: {c.get('complete', 0)} completed, {c.get('pruned', 0)} pruned, "
        f"{c.get('fail', 0)} failed" + (f", {c['running']} running" if c.get("running") else "")
    )
    lines.append(f"Generated: {data.generated}")
    return lines


def summary_lines(data: ReportData) -> list[str]:
    s = data.summary
    counts = ", ".join(f"{n} {label}" for label, n in s.counts.items()) or "none"
    top_counts = ", ".join(f"{n} {label}" for label, n in s.top_counts.items()) or "none"
    lines = [f"Diagnoses of all {s.n_trials} trials: {counts}.", f"Of the top {s.top_k}: {top_counts}."]
    if s.typical_turn_epoch is not None:
        lines.append(f"Typical epoch where validation loss turns up (overfitting trials): {s.typical_turn_epoch:g}.")
    if s.median_best_epoch_top is not None:
        lines.append(
            f"Median best epoch of the top {s.top_k}: {s.median_best_epoch_top:g}"
            + (f" of a budget of {data.max_epochs}." if data.max_epochs else ".")
        )
    return lines


def pruning_lines(data: ReportData) -> list[str]:
    p = data.pruning
    if not p["budget_epochs"]:
        return ["No epoch counts were recorded, so the savings of pruning cannot be measured."]
    return [
        f"{p['trained_epochs']} epochs trained of {p['budget_epochs']} had every trial run to its full budget: "
        f"{p['saved_fraction']:.0%} saved ({p['saved_by_pruning']} epochs by pruning, "
        f"{p['saved_by_early_stopping']} by early stopping)."
    ]


# --------------------------------------------------------------------------------------------------------------
# Renderers


def trials_csv(data: ReportData) -> str:
    """One row per trial: its parameters, state, value, diagnosis with its numbers, and duration."""
    param_names: list[str] = []
    for r in data.rows:
        param_names += [k for k in r.params if k not in param_names]
    columns = [
        "number",
        "state",
        "value",
        "best_epoch",
        "epochs_trained",
        "epochs_budget",
        "gap_at_best",
        "gap_at_end",
        "train_accuracy_at_end",
        "val_loss_min_epoch",
        "val_loss_rise",
        "still_improving",
        "diagnosis",
        "diagnosis_reason",
        "n_params",
        "duration_s",
        "train_seconds",
        "fail_reason",
    ]
    columns += [f"param_{p}" for p in param_names]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for r in data.rows:
        d = r.diagnosis
        writer.writerow(
            [
                r.number,
                r.state,
                _csv(r.value),
                _csv(d.best_epoch),
                _csv(r.epochs_trained),
                _csv(r.epochs_budget),
                _csv(d.gap_at_best),
                _csv(d.gap_at_end),
                _csv(d.train_value_at_end),
                _csv(d.val_loss_min_epoch),
                _csv(d.val_loss_rise),
                d.still_improving,
                d.label,
                d.reason,
                _csv(r.n_params),
                _csv(r.duration_s),
                _csv(r.train_seconds),
                r.fail_reason,
            ]
            + [_csv(r.params.get(p)) for p in param_names]
        )
    return out.getvalue()


def _csv(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(round(value, 6)) if math.isfinite(value) else str(value)
    return value


def _md_table(header: list[str], body: list[list[str]]) -> list[str]:
    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in body]
    return lines + [""]


def render_markdown(data: ReportData, images: dict[str, bytes], notes: dict[str, str]) -> str:
    lines = [f"# Search report: {data.study}", ""]
    lines += [f"- {line}" for line in header_lines(data)] + [""]
    lines += ["## Honest final estimate", ""] + honest_lines(data) + [""]
    if data.seed_results:
        lines += ["Spread across retraining seeds (each seed retrained on train+validation, tested once):", ""]
        lines += _md_table(*seed_table(data))
    lines += [f"## Best configurations (top {len(data.top)})", ""]
    lines += _md_table(*top_table(data)) if data.top else ["No trial completed.", ""]
    lines += ["## Overfitting diagnostics", ""] + summary_lines(data) + ["", "**Recommendation:**", ""]
    lines += [f"- {r}" for r in data.summary.recommendations] + [""]
    if data.top:
        lines += _md_table(*diagnosis_table(data))
    lines += ["Thresholds (gaps are training minus validation accuracy):", ""] + _md_table(*thresholds_table())
    for key in ("learning_curves", "gap_vs_value", "importances", "optimization_history", "pruning_savings"):
        lines += [f"## {PLOT_TITLES[key]}", ""]
        if key == "importances":
            lines += [data.importance_note + ".", ""]
        if key == "pruning_savings":
            lines += pruning_lines(data) + [""]
        if key in images:
            lines += [f"![{PLOT_TITLES[key]}]({PLOT_FILES[key]})", ""]
        elif key in notes:
            lines += [f"Not drawn: {notes[key]}.", ""]
    lines += ["## All trials", "", f"Every trial with its parameters and diagnosis: `{'trials.csv'}`.", ""]
    return "\n".join(lines)


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1200px;
color:#222;padding:0 1rem;line-height:1.45}
h1{font-size:1.6rem}h2{font-size:1.25rem;margin-top:2.2rem;border-bottom:1px solid #ddd;padding-bottom:.2rem}
table{border-collapse:collapse;margin:.6rem 0;font-size:.85rem}
th,td{border:1px solid #ddd;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f4f4f4}tr:nth-child(even) td{background:#fafafa}
img{max-width:100%;border:1px solid #eee}.note{color:#666}.advice{background:#fff8e1;padding:.6rem 1rem;
border-left:4px solid #f0b400}.honest{background:#eef6ee;padding:.6rem 1rem;border-left:4px solid #2ca02c}
code{background:#f4f4f4;padding:0 .2rem}
"""


def _html_table(header: list[str], body: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    rows = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in body)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def _p(lines: list[str], cls: str = "") -> str:
    attr = f' class="{cls}"' if cls else ""
    return f"<div{attr}>" + "".join(f"<p>{html.escape(line)}</p>" for line in lines) + "</div>"


def render_html(data: ReportData, images: dict[str, bytes], notes: dict[str, str]) -> str:
    """One self-contained page: styles inline, figures embedded as base64 PNG data URIs."""
    e = html.escape
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>automl report: {e(data.study)}</title><style>{_CSS}</style></head><body>",
        f"<h1>Search report: {e(data.study)}</h1>",
        "<ul>" + "".join(f"<li>{e(line)}</li>" for line in header_lines(data)) + "</ul>",
        "<h2 id='honest'>Honest final estimate</h2>",
        _p(honest_lines(data), "honest"),
    ]
    if data.seed_results:
        parts += ["<p>Spread across retraining seeds:</p>", _html_table(*seed_table(data))]
    parts += [f"<h2 id='best'>Best configurations (top {len(data.top)})</h2>"]
    parts += [_html_table(*top_table(data)) if data.top else "<p>No trial completed.</p>"]
    parts += ["<h2 id='diagnostics'>Overfitting diagnostics</h2>", _p(summary_lines(data))]
    parts += [
        "<div class='advice'><strong>Recommendation</strong><ul>"
        + "".join(f"<li>{e(r)}</li>" for r in data.summary.recommendations)
        + "</ul></div>"
    ]
    if data.top:
        parts += [_html_table(*diagnosis_table(data))]
    parts += [
        "<p class='note'>Thresholds (gaps are training minus validation accuracy):</p>",
        _html_table(*thresholds_table()),
    ]
    for key in ("learning_curves", "gap_vs_value", "importances", "optimization_history", "pruning_savings"):
        parts.append(f"<h2 id='{key}'>{e(PLOT_TITLES[key])}</h2>")
        if key == "importances":
            parts.append(f"<p class='note'>{e(data.importance_note)}.</p>")
        if key == "pruning_savings":
            parts.append(_p(pruning_lines(data)))
        if key in images:
            encoded = base64.b64encode(images[key]).decode("ascii")
            parts.append(f"<img alt='{e(PLOT_TITLES[key])}' src='data:image/png;base64,{encoded}'>")
        elif key in notes:
            parts.append(f"<p class='note'>Not drawn: {e(notes[key])}.</p>")
    parts.append("<h2 id='trials'>All trials</h2>")
    if len(data.rows) <= HTML_TRIAL_ROWS:
        body = [
            [
                str(r.number),
                r.state,
                _fmt(r.value),
                r.diagnosis.label,
                _fmt(r.diagnosis.best_epoch),
                _fmt(r.diagnosis.gap_at_end, 3),
                _fmt(r.epochs_trained),
                _fmt(r.duration_s, 1),
                config_text(r),
                r.fail_reason,
            ]
            for r in data.rows
        ]
        parts.append(
            _html_table(
                [
                    "trial",
                    "state",
                    data.metric,
                    "diagnosis",
                    "best epoch",
                    "gap at end",
                    "epochs",
                    "duration (s)",
                    "parameters",
                    "failure",
                ],
                body,
            )
        )
    parts.append(f"<p class='note'>All {len(data.rows)} trials with every number: trials.csv.</p></body></html>")
    return "\n".join(parts)


# --------------------------------------------------------------------------------------------------------------
# Figures and files


def render_plots(data: ReportData) -> tuple[dict[str, bytes], dict[str, str]]:
    """PNG bytes per figure, and for each figure not drawn, why."""
    from automl import plots

    images: dict[str, bytes] = {}
    notes: dict[str, str] = {}
    with_curves = [r for r in data.top if r.curves]
    if with_curves:
        images["learning_curves"] = plots.learning_curves(
            [
                {
                    "rank": i,
                    "number": r.number,
                    "value": r.value,
                    "label": r.diagnosis.label,
                    "best_epoch": r.diagnosis.best_epoch,
                    "curves": r.curves,
                }
                for i, r in enumerate(data.top, 1)
            ],
            data.metric,
        )
    else:
        notes["learning_curves"] = (
            "no per-epoch curves recorded for the top trials" if data.top else "no trial completed"
        )
    points = [{"number": r.number, "state": r.state, "value": r.value} for r in data.rows]
    test = None
    if data.honest is not None and "accuracy" in data.metric:
        test = {"value": data.honest.test_accuracy, "low": data.honest.ci_low, "high": data.honest.ci_high}
    if data.rows:
        images["optimization_history"] = plots.optimization_history(points, data.metric, data.maximize, test)
    else:
        notes["optimization_history"] = "the study has no trials"
    if data.importances:
        n_complete = sum(r.state == "COMPLETE" and _ok(r.value) for r in data.rows)
        used = min(n_complete, IMPORTANCE_MAX_TRIALS)
        images["importances"] = plots.importances(data.importances, "fANOVA", used, n_complete)
    else:
        notes["importances"] = data.importance_note
    ranks = {r.number: i for i, r in enumerate(data.top, 1)}
    gap_points = [
        {
            "number": r.number,
            "gap": r.diagnosis.gap_at_end,
            "value": r.value,
            "label": r.diagnosis.label,
            "rank": ranks.get(r.number),
        }
        for r in data.rows
        if r.diagnosis.gap_at_end is not None
    ]
    if gap_points:
        images["gap_vs_value"] = plots.gap_vs_value(gap_points, data.metric)
    else:
        notes["gap_vs_value"] = "no trial recorded both training and validation accuracy curves"
    epoch_points = [
        {"number": r.number, "state": r.state, "trained": r.epochs_trained, "budget": r.epochs_budget}
        for r in data.rows
        if r.epochs_trained is not None and r.epochs_budget is not None
    ]
    if epoch_points:
        images["pruning_savings"] = plots.pruning_savings(epoch_points, data.pruning)
    else:
        notes["pruning_savings"] = "no epoch counts recorded"
    return images, notes


@dataclass
class ReportFiles:
    directory: Path
    html: Path
    markdown: Path
    csv: Path
    images: dict[str, Path]
    data: ReportData


def write_report(study: Any, out_dir: str | Path, *, top_k: int = DEFAULT_TOP_K, storage: str = "") -> ReportFiles:
    """Write report.html, report.md, trials.csv and the PNGs into ``out_dir``; return their paths and data."""
    out = Path(out_dir)
    data = report_data(study, top_k=top_k, storage=storage)
    images, notes = render_plots(data)
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for key, png in images.items():
        paths[key] = out / PLOT_FILES[key]
        paths[key].write_bytes(png)
    for key in notes:  # a figure from an earlier report must not outlive the data it showed
        (out / PLOT_FILES[key]).unlink(missing_ok=True)
    html_path, md_path, csv_path = out / "report.html", out / "report.md", out / "trials.csv"
    html_path.write_text(render_html(data, images, notes), encoding="utf-8")
    md_path.write_text(render_markdown(data, images, notes), encoding="utf-8")
    csv_path.write_text(trials_csv(data), encoding="utf-8")
    return ReportFiles(out, html_path, md_path, csv_path, paths, data)


def terminal_summary(files: ReportFiles) -> list[str]:
    """The few lines `automl report` prints."""
    data = files.data
    lines = [f"Study {data.study}: " + header_lines(data)[-2].removeprefix("Trials: ")]
    if data.top:
        best = data.top[0]
        lines.append(f"Best: trial {best.number}, validation {data.metric} {_fmt(best.value)} ({best.diagnosis.label})")
    lines += honest_lines(data)[1:2] if data.honest else [f"Test: {data.honest_note}"]
    if data.honest is not None and data.honest.selection_bias is not None:
        lines.append(f"Selection bias (validation - test): {data.honest.selection_bias:+.4f}")
    lines += summary_lines(data)[:2]
    lines += [f"Advice: {r}" for r in data.summary.recommendations]
    lines.append(f"Report: {files.html}  (also report.md, trials.csv, {len(files.images)} PNGs)")
    return lines


# --------------------------------------------------------------------------------------------------------------
# Export


@dataclass
class ExportResult:
    directory: Path
    model: Path
    config: Path
    report: Path
    trial: int
    retrained: bool


_EXPORT_HEADER = """\
# Exported by automl from study {study!r}: the winning configuration, retrained on train+validation.
# Use it without automl:
#   import keras
#   model = keras.saving.load_model("model.keras")
#   probabilities = model.predict(x)   # x: float32, shape (n, {input_dim}); see 'input' below
#   classes = probabilities.argmax(axis=1)
"""


def export_study(
    study: Any, out_dir: str | Path, *, storage: str = "", data_dir: str | None = None, top_k: int = DEFAULT_TOP_K
) -> ExportResult:
    """Write ``model.keras`` (retraining the winner if the study has no saved model for it), ``config.yaml``
    and the report under ``report/`` into ``out_dir``."""
    import shutil

    import keras
    import yaml

    from automl.evaluation import study_dataset
    from automl.finish import best_trial, finalize

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    winner = best_trial(study)
    final = dict(study.user_attrs.get("final") or {})
    saved = Path(final["model_path"]) if final.get("model_path") else None
    model_path = out / "model.keras"
    # A continued search may have a new winner since the model was saved; a deleted reports folder loses it.
    retrained = saved is None or not saved.is_file() or final.get("best_trial") != winner.number
    if retrained:
        final = finalize(study, study_dataset(study, data_dir), out).to_dict()
    elif saved is not None and saved.resolve() != model_path.resolve():
        shutil.copy2(saved, model_path)
    model = keras.saving.load_model(model_path, compile=False)  # also proves the file loads with plain Keras
    input_dim = int(model.input_shape[-1])
    n_classes = int(model.output_shape[-1])
    metric = (study.user_attrs.get("settings") or {}).get("metric", "value")
    estimate = honest_estimate(final, metric)
    document: dict[str, Any] = {
        "study": study.study_name,
        "trial": winner.number,
        "metric": metric,
        "validation_value": round(float(winner.value), 6),
        "test_accuracy": round(estimate.test_accuracy, 6) if estimate else None,
        "test_accuracy_ci95": [round(estimate.ci_low, 4), round(estimate.ci_high, 4)] if estimate else None,
        "n_test": estimate.n_test if estimate else None,
        "epochs": int(final.get("epochs", 0)),
        "members": len(final.get("member_test_accuracies") or []) or 1,  # networks whose probabilities are averaged
        "input": {
            "shape": [input_dim],
            "dtype": "float32",
            "preprocessing": "flatten each image to one row and scale pixels to [0, 1] (divide by 255)",
        },
        "classes": n_classes,
        "config": final.get("config") or {},
    }
    config_path = out / "config.yaml"
    header = _EXPORT_HEADER.format(study=study.study_name, input_dim=input_dim)
    config_path.write_text(header + yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    files = write_report(study, out / "report", top_k=top_k, storage=storage)
    return ExportResult(out, model_path, config_path, files.html, winner.number, retrained)
