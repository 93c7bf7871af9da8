"""trials.csv: one row per trial with its parameters, state, value, diagnosis and the numbers behind it."""

from __future__ import annotations

import csv
import io
import math
from typing import Any

from automl.reports.data import ReportData

COLUMNS = (
    "number",
    "state",
    "value",
    "best_epoch",
    "epochs_trained",
    "epochs_budget",
    "gap_at_best",
    "gap_at_end",
    "gap_limit",
    "train_value_at_end",
    "val_loss_min_epoch",
    "val_loss_rise",
    "still_improving",
    "diagnosis",
    "diagnosis_reason",
    "pruned_at_epoch",
    "prune_reason",
    "n_params",
    "duration_s",
    "train_seconds",
    "fail_reason",
)


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(round(value, 6)) if math.isfinite(value) else str(value)
    return value


def trials_csv(data: ReportData) -> str:
    """The CSV text. ``value`` is the objective (``data.metric``); parameters follow as ``param_<name>`` columns,
    in the order they first appear. Gaps are in the objective's units (positive: training looks better)."""
    param_names: list[str] = []
    for r in data.rows:
        param_names += [k for k in r.params if k not in param_names]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*COLUMNS, *(f"param_{p}" for p in param_names)])
    for r in data.rows:
        d, t = r.diagnosis, r.record
        writer.writerow(
            [
                r.number,
                r.state,
                _cell(r.value),
                _cell(d.best_epoch),
                _cell(r.epochs_trained),
                _cell(r.epochs_budget),
                _cell(d.gap_at_best),
                _cell(d.gap_at_end),
                _cell(d.gap_limit),
                _cell(d.train_value_at_end),
                _cell(d.val_loss_min_epoch),
                _cell(d.val_loss_rise),
                d.still_improving,
                d.title,
                d.reason,
                _cell(d.pruned_at_epoch),
                t.prune_reason,
                _cell(t.n_params),
                _cell(t.duration_s),
                _cell(t.train_seconds),
                t.fail_reason,
                *(_cell(r.params.get(p)) for p in param_names),
            ]
        )
    return out.getvalue()
