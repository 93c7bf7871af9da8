"""The report's tables as plain strings (header, rows), and how numbers read in them: shared by report.md,
report.html and the terminal, so the three never disagree on a figure."""

from __future__ import annotations

import math
from typing import Any

from automl.analysis import diagnostics as dg
from automl.reports.data import ReportData, TrialRow


def fmt(value: Any, digits: int = 4) -> str:
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
    return ", ".join(f"{k}={fmt(v, 3) if isinstance(v, float) else v}" for k, v in row.params.items())


def test_text(data: ReportData, row: TrialRow) -> str:
    parts = []
    if data.final is not None and data.final.trial == row.number:
        parts.append(f"{data.final.test_value:.4f} (final)")
    spread = data.seed_spreads.get(row.number)
    if spread:
        parts.append(f"{spread.mean:.4f} ± {spread.std:.4f} over {len(spread.values)} seeds")
    return "; ".join(parts) or "-"


def top_table(data: ReportData) -> tuple[list[str], list[list[str]]]:
    header = [
        "rank",
        "trial",
        f"validation {data.metric}",
        f"test {data.test_metric}",
        "parameters",
        "train time (s)",
        "epochs (best/trained)",
        "diagnosis",
        "configuration",
        "kept model",
    ]
    body = []
    for i, r in enumerate(data.top, 1):
        seconds = r.record.train_seconds if r.record.train_seconds is not None else r.record.duration_s
        body.append(
            [
                str(i),
                str(r.number),
                fmt(r.value),
                test_text(data, r),
                f"{r.record.n_params:,}" if r.record.n_params else "-",
                fmt(seconds, 1),
                f"{r.diagnosis.best_epoch or '-'}/{r.epochs_trained or '-'}",
                r.diagnosis.title,
                config_text(r),
                data.kept_models.get(r.number, "-"),
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
        "gap threshold",
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
            rise = f"{d.val_loss_rise:+.1%} ({fmt(d.val_loss_slope_after_min, 3)}/epoch)"
        body.append(
            [
                str(i),
                str(r.number),
                fmt(d.best_epoch),
                fmt(d.gap_at_best, 3),
                fmt(d.gap_at_end, 3),
                fmt(d.gap_limit, 3),
                fmt(d.val_loss_min_epoch),
                rise,
                d.title,
                d.reason,
            ]
        )
    return header, body


def seed_table(data: ReportData) -> tuple[list[str], list[list[str]]]:
    header = ["trial", "seeds", f"mean test {data.test_metric}", "std", "min", "max"]
    body = [
        [str(n), str(len(s.values)), fmt(s.mean), fmt(s.std), fmt(s.low), fmt(s.high)]
        for n, s in sorted(data.seed_spreads.items())
    ]
    return header, body


def thresholds_table() -> tuple[list[str], list[list[str]]]:
    return ["threshold", "value", "meaning"], [[k, f"{v:g}", text] for k, (v, text) in dg.THRESHOLDS.items()]


def trials_table(data: ReportData) -> tuple[list[str], list[list[str]]]:
    header = [
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
    ]
    body = [
        [
            str(r.number),
            r.state,
            fmt(r.value),
            r.diagnosis.title,
            fmt(r.diagnosis.best_epoch),
            fmt(r.diagnosis.gap_at_end, 3),
            fmt(r.epochs_trained),
            fmt(r.record.duration_s, 1),
            config_text(r),
            r.record.fail_reason,
        ]
        for r in data.rows
    ]
    return header, body
