"""``reports/<study>/``: report.html (self-contained), report.md, trials.csv and the PNG figures, in one call."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from automl.reports.data import DEFAULT_TOP_K, ReportData, report_data
from automl.reports.figures import PLOT_FILES, render_plots
from automl.reports.render import render_html, render_markdown
from automl.reports.render import terminal_summary as _terminal_summary
from automl.reports.trials_csv import trials_csv


@dataclass
class ReportFiles:
    directory: Path
    html: Path
    markdown: Path
    csv: Path
    images: dict[str, Path]
    data: ReportData


def write_report(study: Any, out_dir: str | Path, *, top_k: int = DEFAULT_TOP_K, storage: str = "") -> ReportFiles:
    """Write report.html, report.md, trials.csv and the PNGs into ``out_dir``; return their paths and data.

    ``storage`` is shown in the report (redacted). Never trains: it reports what the study recorded.
    """
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
    return _terminal_summary(files.data, files.html, len(files.images))
