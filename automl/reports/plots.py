"""The report's figures as PNG bytes. Renderers only: every number comes from :mod:`automl.reports.data`.

Figures are built on ``matplotlib.figure.Figure`` with the Agg canvas, never through ``pyplot``, so no global
state or display is touched (safe in a worker thread, on a headless server, inside a notebook).
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from automl.analysis.diagnostics import FAILED, GOOD_FIT, NO_CURVES, OVERFITTING, PRUNED, UNDERFITTING, UNSTABLE
from automl.study.record import held_out_metric

if TYPE_CHECKING:
    from matplotlib.figure import Figure

DPI = 100
FEW_TRIALS_FOR_IMPORTANCE = 20  # below this, fANOVA's forest has little to learn from
LABEL_COLORS = {
    GOOD_FIT: "#2ca02c",
    OVERFITTING: "#d62728",
    UNDERFITTING: "#1f77b4",
    UNSTABLE: "#ff7f0e",
    FAILED: "#7f7f7f",
    PRUNED: "#9edae5",
    NO_CURVES: "#bcbcbc",
}
TRAIN_COLOR = "#555555"
STATE_COLORS = {"COMPLETE": "#1f77b4", "PRUNED": "#bcbcbc", "FAIL": "#d62728"}


def _figure(width: float, height: float) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def _finite(values: Sequence[Any]) -> list[tuple[int, float]]:
    """(1-based epoch, value) pairs, skipping NaN/inf so a diverged run still draws up to where it broke."""
    return [(i + 1, float(v)) for i, v in enumerate(values) if isinstance(v, int | float) and math.isfinite(v)]


def curve_panels(metric: str) -> list[tuple[str, str, str]]:
    """(training curve, validation curve, name) per panel: the objective, then the loss every family records."""
    panels = []
    if metric.startswith("val_") and metric != "val_loss":
        panels.append((held_out_metric(metric), metric, held_out_metric(metric)))
    return panels + [("loss", "val_loss", "loss")]


def learning_curves(trials: Sequence[Mapping[str, Any]], metric: str) -> bytes:
    """One row per top trial: the objective (left) and the loss (right); training grey dashed, validation solid in
    the colour of the trial's diagnosis; a dotted line at the best epoch.

    Each trial: ``rank``, ``number``, ``value``, ``label`` (diagnosis), ``best_epoch``, ``curves``.
    """
    from matplotlib.lines import Line2D

    rows = max(1, len(trials))
    panels = curve_panels(metric)
    fig = _figure(5.5 * len(panels), 2.4 * rows + 0.9)
    axes = fig.subplots(rows, len(panels), squeeze=False)
    fig.suptitle("Learning curves of the top configurations", fontsize=12)
    for row, trial in zip(axes, trials, strict=False):
        color = LABEL_COLORS.get(trial["label"], "#333333")
        curves = trial.get("curves") or {}
        title = f"#{trial['rank']}  trial {trial['number']}: {trial['label']}  ({metric} {trial['value']:.4f})"
        for ax, (train_key, val_key, name) in zip(row, panels, strict=True):
            drawn = False
            for key, style, line_color, face in ((train_key, "--", TRAIN_COLOR, "white"), (val_key, "-", color, color)):
                points = _finite(curves.get(key) or [])
                if points:
                    xs, ys = zip(*points, strict=True)
                    ax.plot(xs, ys, style, color=line_color, marker="o", markersize=3.5, markerfacecolor=face)
                    drawn = True
            if not drawn:
                text = NO_CURVES if not curves else f"no {name} curve"
                ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="#777777")
                ax.set_xticks([])
                ax.set_yticks([])
            else:
                if trial.get("best_epoch"):
                    ax.axvline(trial["best_epoch"], color="#555555", linestyle=":", linewidth=1.2)
                ax.set_ylabel(name)
                ax.xaxis.get_major_locator().set_params(integer=True)
                ax.grid(alpha=0.3)
            ax.set_title(title if ax is row[0] else name, fontsize=9.5, loc="left", color=color)
        for ax in row:
            ax.set_xlabel("epoch", fontsize=8)
    if not trials:
        axes[0][0].text(0.5, 0.5, "no completed trials", ha="center", va="center")
    handles = [
        Line2D([], [], color=TRAIN_COLOR, linestyle="--", marker="o", markerfacecolor="white", label="training"),
        Line2D([], [], color="#333333", linestyle="-", marker="o", label="validation (colour = diagnosis)"),
        Line2D([], [], color="#555555", linestyle=":", label="best epoch"),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncols=3, fontsize=9, frameon=False)
    return _png(fig)


def optimization_history(
    points: Sequence[Mapping[str, Any]],
    metric: str,
    maximize: bool,
    test: Mapping[str, Any] | None = None,
) -> bytes:
    """Every trial's value by trial number, the best so far, and (when known) the winner's test score and CI.

    Each point: ``number``, ``state`` (COMPLETE/PRUNED/FAIL), ``value`` (last reported value for pruned trials).
    ``test``: ``metric``, ``value`` and, when there is an interval, ``low`` and ``high``.
    """
    fig = _figure(9, 4.5)
    ax = fig.subplots()
    for state, marker, name in (("COMPLETE", "o", "completed"), ("PRUNED", "x", "pruned (last reported value)")):
        pts = [(p["number"], p["value"]) for p in points if p["state"] == state and _ok(p.get("value"))]
        if pts:
            xs, ys = zip(*pts, strict=True)
            ax.scatter(
                xs,
                ys,
                s=14,
                marker=marker,
                color=STATE_COLORS[state],
                label=f"{name} ({len(pts)})",
                alpha=0.8,
                zorder=2,
            )
    complete = sorted((p["number"], p["value"]) for p in points if p["state"] == "COMPLETE" and _ok(p.get("value")))
    if complete:
        numbers: list[int] = []
        best: list[float] = []
        current = None
        for number, value in complete:
            current = value if current is None else (max(current, value) if maximize else min(current, value))
            numbers.append(number)
            best.append(current)
        ax.step(numbers, best, where="post", color="#d62728", linewidth=1.8, label="best so far", zorder=3)
    failed = sum(p["state"] == "FAIL" for p in points)
    if test:
        label = f"winner retrained: test {test['metric']} {test['value']:.4f}"
        if test.get("low") is not None and test.get("high") is not None:
            ax.axhspan(test["low"], test["high"], color="#2ca02c", alpha=0.15, label=label + ", 95% CI")
            label = ""
        labelled: dict[str, Any] = {"label": label} if label else {}
        ax.axhline(test["value"], color="#2ca02c", linewidth=1.2, **labelled)
    ax.set_xlabel("trial number")
    ax.set_ylabel(metric)
    title = f"Optimization history ({'higher' if maximize else 'lower'} is better)"
    ax.set_title(title + (f"; {failed} failed trials not shown" if failed else ""), fontsize=11)
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        # Outside the axes: inside, it hides whichever trials happen to land in its corner.
        fig.legend(loc="outside lower center", ncols=4, fontsize=8, frameon=False)
    if not complete and not points:
        ax.text(0.5, 0.5, "no trials", ha="center", va="center", transform=ax.transAxes)
    return _png(fig)


def importances(values: Mapping[str, float], evaluator: str, n_trials: int, n_complete: int | None = None) -> bytes:
    """Horizontal bars, most important on top, each labelled with its share."""
    items = sorted(values.items(), key=lambda kv: kv[1])
    fig = _figure(7.5, 0.45 * len(items) + 1.4)
    ax = fig.subplots()
    names = [k for k, _ in items]
    shares = [v for _, v in items]
    bars = ax.barh(names, shares, color="#1f77b4")
    ax.bar_label(bars, labels=[f"{v:.2f}" for v in shares], padding=3, fontsize=8)
    ax.set_xlim(0, max(shares + [0.01]) * 1.18)
    ax.set_xlabel("importance (share of the objective's variance, sums to 1)")
    source = f"{n_trials} completed trials"
    if n_complete and n_complete > n_trials:
        source = f"a random sample of {n_trials} of {n_complete} completed trials"
    rough = ": few, so only a rough guide" if n_trials < FEW_TRIALS_FOR_IMPORTANCE else ""
    ax.set_title(f"Hyperparameter importances ({evaluator})\nfrom {source}{rough}", fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    return _png(fig)


def gap_vs_value(points: Sequence[Mapping[str, Any]], metric: str, threshold: float | None = None) -> bytes:
    """Each trial's train-validation gap in the objective at its last epoch against its validation score.

    Each point: ``number``, ``gap``, ``value``, ``label``, ``rank`` (set for the top trials). ``threshold`` is the
    overfitting line when it is one number for every trial (bounded metrics); relative thresholds are not drawn.
    """
    fig = _figure(8, 5)
    ax = fig.subplots()
    for label, color in LABEL_COLORS.items():
        pts = [p for p in points if p["label"] == label and _ok(p.get("gap")) and _ok(p.get("value"))]
        if pts:
            ax.scatter(
                [p["gap"] for p in pts],
                [p["value"] for p in pts],
                s=22,
                color=color,
                alpha=0.8,
                label=f"{label} ({len(pts)})",
                edgecolors="white",
                linewidths=0.5,
            )
    # The top trials often sit on top of each other: ring them all, label only the winner.
    top = [p for p in points if p.get("rank") and _ok(p.get("gap")) and _ok(p.get("value"))]
    if top:
        ax.scatter(
            [p["gap"] for p in top],
            [p["value"] for p in top],
            s=90,
            facecolors="none",
            edgecolors="black",
            linewidths=1.1,
            label=f"top {len(top)}",
            zorder=3,
        )
        # A star, not a text label: text lands on the neighbouring top trials.
        winner = min(top, key=lambda p: p["rank"])
        ax.scatter(
            [winner["gap"]],
            [winner["value"]],
            s=140,
            marker="*",
            color="black",
            label=f"best (trial {winner['number']})",
            zorder=4,
        )
    if threshold is not None:
        ax.axvline(
            threshold,
            color="#d62728",
            linestyle="--",
            linewidth=1,
            label=f"overfitting threshold (gap {threshold:.2f})",
        )
    ax.axvline(0, color="#888888", linewidth=0.8)
    ax.set_xlabel(f"how much better training looks than validation in {held_out_metric(metric)} at the last epoch")
    ax.set_ylabel(metric)
    ax.set_title("Generalisation gap against validation score", fontsize=11)
    ax.grid(alpha=0.3)
    fig.legend(loc="outside lower center", ncols=4, fontsize=8, frameon=False)
    return _png(fig)


def pruning_savings(points: Sequence[Mapping[str, Any]], stats: Mapping[str, Any]) -> bytes:
    """Left: epochs each trial trained against its full budget. Right: the cumulative totals.

    Each point: ``number``, ``state``, ``trained``, ``budget``. ``stats`` from ``reports.data.pruning_stats``.
    """
    pts = sorted((p for p in points if p["state"] in ("COMPLETE", "PRUNED", "FAIL")), key=lambda p: p["number"])
    fig = _figure(12, 4.5)
    left, right = fig.subplots(1, 2, width_ratios=(3, 2))
    width = 0.8 if len(pts) <= 200 else 1.0
    for state, name in (("COMPLETE", "completed"), ("PRUNED", "pruned"), ("FAIL", "failed")):
        sel = [p for p in pts if p["state"] == state]
        if sel:
            left.bar(
                [p["number"] for p in sel],
                [p["trained"] for p in sel],
                width=width,
                color=STATE_COLORS[state],
                label=f"{name} ({len(sel)})",
                linewidth=0,
            )
    if pts:
        left.step(
            [p["number"] for p in pts],
            [p["budget"] for p in pts],
            where="mid",
            color="black",
            linewidth=1.2,
            linestyle="--",
            label="full epoch budget",
            zorder=3,
        )
    left.set_xlabel("trial number")
    left.set_ylabel("epochs trained")
    left.set_title("Epochs trained per trial", fontsize=10)
    left.yaxis.get_major_locator().set_params(integer=True)
    left.grid(axis="y", alpha=0.3)

    budget_total, trained_total = 0, 0
    xs, budget_cum, trained_cum = [], [], []
    for p in pts:
        budget_total += p["budget"]
        trained_total += p["trained"]
        xs.append(p["number"])
        budget_cum.append(budget_total)
        trained_cum.append(trained_total)
    if xs:
        # The budget is drawn last so its dashes stay visible when nothing was saved and the lines coincide.
        right.plot(xs, trained_cum, color="#1f77b4", linewidth=2, label="epochs trained, cumulative")
        right.plot(xs, budget_cum, color="#333333", linestyle="--", label="full budget, cumulative")
        right.fill_between(xs, trained_cum, budget_cum, color="#2ca02c", alpha=0.2, label="saved")
    right.set_xlabel("trial number")
    right.set_ylabel("cumulative epochs")
    right.grid(alpha=0.3)
    right.set_title(
        f"Saved {stats.get('saved_fraction', 0):.0%} of {stats.get('budget_epochs', 0):,} epochs\n"
        f"(by pruning {stats.get('saved_by_pruning', 0):,}, "
        f"by early stopping {stats.get('saved_by_early_stopping', 0):,})",
        fontsize=10,
    )
    fig.suptitle("What pruning and early stopping saved", fontsize=12)
    # One legend below both panels: inside, it hides bars or lines wherever they happen to be.
    fig.legend(loc="outside lower center", ncols=6, fontsize=8, frameon=False)
    return _png(fig)


def _ok(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


def pareto(points: Sequence[Mapping[str, Any]], x: str, y: str, x_lower_better: bool, y_higher_better: bool) -> bytes:
    """Completed trials by cost ``x`` and score ``y``: feasible and infeasible apart, the front joined, the pick
    marked. Each point: ``number``, ``x``, ``y``, ``feasible``, ``front`` and ``picked`` (booleans)."""
    fig = _figure(8, 4.5)
    ax = fig.subplots()
    for feasible, marker, color, name in ((True, "o", "#1f77b4", "feasible"), (False, "x", "#7f7f7f", "infeasible")):
        pts = [(p["x"], p["y"]) for p in points if bool(p["feasible"]) is feasible]
        if pts:
            xs, ys = zip(*pts, strict=True)
            ax.scatter(xs, ys, s=16, marker=marker, color=color, alpha=0.8, label=f"{name} ({len(pts)})", zorder=2)
    front = sorted((p["x"], p["y"]) for p in points if p["front"])
    if front:
        xs, ys = zip(*front, strict=True)
        ax.step(xs, ys, where="post" if x_lower_better == y_higher_better else "pre", color="#2ca02c",
                linewidth=1.5, label=f"front ({len(front)})", zorder=3)  # fmt: skip
    for p in points:
        if p["picked"]:
            ax.scatter([p["x"]], [p["y"]], s=140, marker="*", color="#d62728", label=f"picked: trial {p['number']}",
                       zorder=4)  # fmt: skip
    ax.set_xlabel(f"{x} ({'lower' if x_lower_better else 'higher'} is better)")
    ax.set_ylabel(f"{y} ({'higher' if y_higher_better else 'lower'} is better)")
    ax.set_title("Score against cost of every completed trial", fontsize=11)
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        fig.legend(loc="outside lower center", ncols=4, fontsize=8, frameon=False)
    if not points:
        ax.text(0.5, 0.5, "no completed trials", ha="center", va="center", transform=ax.transAxes)
    return _png(fig)
