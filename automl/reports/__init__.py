"""Reports of a study, drawn on top of :mod:`automl.analysis`'s numbers: the report's data (:mod:`.data`), its
tables as text (:mod:`.tables`), Markdown and HTML from one source (:mod:`.render` and its templates), the CSV
(:mod:`.trials_csv`), the figures (:mod:`.figures`, drawn by :mod:`.plots`), the files in one call
(:mod:`.write`), ``summary.md`` (:mod:`.summary`) and the export of the winner (:mod:`.export`). Studies are read
only through :mod:`automl.study`'s record readers.
"""

from automl.reports.data import DEFAULT_TOP_K, FinalEstimate, ReportData, TrialRow, report_data, top_trials
from automl.reports.export import ExportResult, export_study
from automl.reports.figures import PLOT_FILES, PLOT_TITLES, render_plots
from automl.reports.load import load_study
from automl.reports.write import ReportFiles, terminal_summary, write_report

__all__ = [
    "DEFAULT_TOP_K",
    "PLOT_FILES",
    "PLOT_TITLES",
    "ExportResult",
    "FinalEstimate",
    "ReportData",
    "ReportFiles",
    "TrialRow",
    "export_study",
    "load_study",
    "render_plots",
    "report_data",
    "terminal_summary",
    "top_trials",
    "write_report",
]
