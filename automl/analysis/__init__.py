"""Analysis: pure functions on numbers, from which reports are drawn. Nothing here trains, reads a storage or
renders.

- :mod:`~automl.analysis.diagnostics`: over- and underfitting from one trial's per-epoch curves;
- :mod:`~automl.analysis.recommendation`: what a study's diagnoses add up to, and what to try next;
- :mod:`~automl.analysis.intervals`: how far a held-out score can be trusted (intervals, selection bias, spread).
"""

from automl.analysis.diagnostics import Diagnosis, diagnose_curves, diagnose_trial
from automl.analysis.intervals import mean_interval, selection_bias, spread, wilson_interval
from automl.analysis.recommendation import StudySummary, recommend, summarize

__all__ = [
    "Diagnosis",
    "StudySummary",
    "diagnose_curves",
    "diagnose_trial",
    "mean_interval",
    "recommend",
    "selection_bias",
    "spread",
    "summarize",
    "wilson_interval",
]
