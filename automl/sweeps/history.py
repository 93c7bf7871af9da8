"""A sweep's runs over time: rows with the trend of the best value, a table, and a plot (``history.png``).

Pure data first (:func:`history_rows`, :func:`trend`), thin renderers on top, so the numbers are tested directly.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from automl.sweeps.tables import RunRow, RunStatus


@dataclass(frozen=True)
class HistoryRow:
    run: RunRow
    change: float | None  # best value minus the previous succeeded run's; None for the first

    @property
    def when(self) -> datetime:
        return self.run.scheduled_for or self.run.started_at or self.run.created_at


def history_rows(runs: list[RunRow]) -> list[HistoryRow]:
    rows, last = [], None
    for run in sorted(runs, key=lambda r: (r.started_at or r.scheduled_for or r.created_at, r.id)):
        change = None
        if run.status == RunStatus.SUCCEEDED and run.best_value is not None:
            change = run.best_value - last if last is not None else None
            last = run.best_value
        rows.append(HistoryRow(run, change))
    return rows


def trend(rows: list[HistoryRow]) -> str:
    """One line: how the best value moved from the first succeeded run to the last, and whether for the better."""
    done = [
        (r.run, r.run.best_value) for r in rows if r.run.status == RunStatus.SUCCEEDED and r.run.best_value is not None
    ]
    if len(done) < 2:
        return "trend: needs two succeeded runs"
    (_, first_value), (last, last_value) = done[0], done[-1]
    delta = last_value - first_value
    maximize = (last.direction or "maximize") == "maximize"
    word = "flat" if abs(delta) < 1e-12 else "improving" if (delta > 0) == maximize else "worsening"
    metric = last.metric or "value"
    return (
        f"trend: {word}: best {metric} {first_value:.4f} -> {last_value:.4f} ({delta:+.4f}) "
        f"over {len(done)} succeeded runs"
    )


def warm_text(run: RunRow) -> str:
    """How the run started from the one before: "12 copied" (its finished trials, data unchanged), or the
    number of its top configurations run again first ("0": a cold start)."""
    return f"{run.resumed} copied" if run.resumed else str(run.warm_started or 0)


def log_text(run: RunRow, cwd: Path | None = None) -> str:
    """The run's log file, relative to ``cwd`` (default: the current folder) when inside it."""
    if not run.log_path:
        return "-"
    path = Path(run.log_path)
    base = cwd or Path.cwd()
    return os.path.relpath(path, base) if path.is_relative_to(base) else str(path)


def render_table(rows: list[HistoryRow]) -> str:
    header = (
        "RUN", "DUE / STARTED (UTC)", "STUDY", "STATUS", "TRIALS", "BEST", "CHANGE", "HELD-OUT", "WARM", "LOG", "REASON"
    )  # fmt: skip
    table = [header]
    for r in rows:
        run = r.run
        held_out = f"{run.test_metric} {run.test_value:.4f}" if run.test_value is not None else "-"
        table.append(
            (
                str(run.id),
                f"{r.when:%Y-%m-%d %H:%M}",
                (run.study or "-") + (" (deleted)" if run.study_deleted else ""),
                run.status,
                str(run.trials) if run.trials is not None else "-",
                f"{run.best_value:.4f}" if run.best_value is not None else "-",
                f"{r.change:+.4f}" if r.change is not None else "-",
                held_out,
                warm_text(run),
                log_text(run),
                run.reason,
            )
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in table)


def plot_history(rows: list[HistoryRow], path: Path) -> Path | None:
    """Best value per succeeded run over time (warm-started runs filled), or None with nothing to plot."""
    points = [
        (r, r.run.best_value) for r in rows if r.run.status == RunStatus.SUCCEEDED and r.run.best_value is not None
    ]
    if not points:
        return None
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 3.5))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    xs = [r.when for r, _ in points]
    ys = [value for _, value in points]
    # matplotlib's stubs list no datetime x values, though its date converter (registered on import) plots them
    ax.plot(xs, ys, color="#4c72b0", linewidth=1)  # type: ignore[arg-type]
    warm = [(r.when, value) for r, value in points if r.run.warm_started or r.run.resumed]
    cold = [(r.when, value) for r, value in points if not (r.run.warm_started or r.run.resumed)]
    if cold:
        ax.scatter(*zip(*cold, strict=True), facecolors="white", edgecolors="#4c72b0", label="cold start", zorder=3)
    if warm:
        ax.scatter(*zip(*warm, strict=True), color="#4c72b0", label="warm-started", zorder=3)
    ax.set_xlabel("run (UTC)")
    last = points[-1][0].run
    ax.set_ylabel(f"best {last.metric or 'value'}")
    ax.set_title(f"sweep {last.sweep}: best value per run")
    ax.legend(loc="best", fontsize=8)
    fig.autofmt_xdate()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    return path
