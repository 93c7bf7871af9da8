"""Compatibility: the reports moved to :mod:`automl.reports`. Import from there; this module only re-exports."""

from automl.reports import (
    DEFAULT_TOP_K,
    PLOT_FILES,
    PLOT_TITLES,
    ExportResult,
    ReportData,
    ReportFiles,
    export_study,
    load_study,
    render_plots,
    report_data,
    terminal_summary,
    top_trials,
    write_report,
)
from automl.reports.render import diagnosis_table, top_table
from automl.reports.render import final_lines as honest_lines

__all__ = [
    "DEFAULT_TOP_K",
    "PLOT_FILES",
    "PLOT_TITLES",
    "ExportResult",
    "ReportData",
    "ReportFiles",
    "diagnosis_table",
    "export_study",
    "honest_lines",
    "load_study",
    "render_plots",
    "report_data",
    "terminal_summary",
    "top_table",
    "top_trials",
    "write_report",
]
