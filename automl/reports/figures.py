"""The report's figures: which ones, their files and titles, and the points each is drawn from.

Drawing is :mod:`automl.reports.plots` (matplotlib, imported only here, when a report is written).
"""

from __future__ import annotations

from typing import Any

from automl.analysis import diagnostics as dg
from automl.analysis.front import TradeOff
from automl.reports.data import IMPORTANCE_MAX_TRIALS, ReportData

PLOT_FILES = {
    "learning_curves": "learning_curves.png",
    "optimization_history": "optimization_history.png",
    "importances": "importances.png",
    "gap_vs_value": "gap_vs_value.png",
    "pruning_savings": "pruning_savings.png",
    "pareto": "pareto.png",
}
PLOT_TITLES = {
    "learning_curves": "Learning curves of the top configurations",
    "optimization_history": "Optimization history",
    "importances": "Hyperparameter importances",
    "gap_vs_value": "Generalisation gap against validation score",
    "pruning_savings": "What pruning and early stopping saved",
    "pareto": "Score against cost: the front",
}


def pareto_axes(trade: TradeOff) -> tuple[str, bool] | None:
    """The cost drawn against the primary score, and whether lower is better for it: the second objective, else
    the first bounded metric (an upper bound: lower is better)."""
    others = [(o.metric, not o.maximize) for o in trade.objectives[1:]]
    others += [(c.metric, c.op == "<=") for c in trade.constraints if c.metric != trade.objectives[0].metric]
    return others[0] if others else None


def pareto_points(trade: TradeOff, x: str) -> list[dict[str, Any]]:
    primary = trade.objectives[0].metric
    return [
        {
            "number": n,
            "x": p[x],
            "y": p[primary],
            "feasible": n in trade.feasible,
            "front": n in trade.front,
            "picked": n == trade.picked,
        }
        for n, p in sorted(trade.points.items())
        if x in p and primary in p
    ]


def render_plots(data: ReportData) -> tuple[dict[str, bytes], dict[str, str]]:
    """PNG bytes per figure, and for each figure not drawn, why."""
    import automl.reports.plots as plots

    images: dict[str, bytes] = {}
    notes: dict[str, str] = {}
    if any(r.curves for r in data.top):
        trials = [
            {
                "rank": i,
                "number": r.number,
                "value": r.value,
                "label": r.diagnosis.title,
                "best_epoch": r.diagnosis.best_epoch,
                "curves": r.curves,
            }
            for i, r in enumerate(data.top, 1)
        ]
        images["learning_curves"] = plots.learning_curves(trials, data.metric)
    else:
        notes["learning_curves"] = (
            "no per-epoch curves recorded for the top trials" if data.top else "no trial completed"
        )

    if data.rows:
        points = [{"number": r.number, "state": r.state, "value": r.value} for r in data.rows]
        test = None
        # The test score shares the axis only when it is the objective's own held-out counterpart.
        if data.final is not None and data.final.test_metric == data.test_metric:
            low, high = data.final.ci or (None, None)
            test = {"metric": data.final.test_metric, "value": data.final.test_value, "low": low, "high": high}
        images["optimization_history"] = plots.optimization_history(points, data.metric, data.maximize, test)
    else:
        notes["optimization_history"] = "the study has no trials"

    if data.importances:
        n_complete = sum(r.state == "COMPLETE" and r.record.value is not None for r in data.rows)
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
        threshold = dg.OVERFIT_GAP if dg.is_bounded(data.metric) else None
        images["gap_vs_value"] = plots.gap_vs_value(gap_points, data.metric, threshold)
    else:
        notes["gap_vs_value"] = f"no trial recorded both training and validation curves of {data.metric}"

    if data.trade_off is not None:
        axes = pareto_axes(data.trade_off)
        if axes is None:
            notes["pareto"] = "no cost is searched or bounded besides the score"
        else:
            points = pareto_points(data.trade_off, axes[0])
            images["pareto"] = plots.pareto(points, axes[0], data.metric, axes[1], data.maximize)

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
