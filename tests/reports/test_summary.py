"""The summary says plainly when the winner does not beat a reference beyond its confidence interval."""

from __future__ import annotations

from automl.reports.summary import reference_verdicts

FINAL = {
    "test_metric": "accuracy",
    "test_value": 0.90,
    "ci_low": 0.85,
    "ci_high": 0.94,
    "baseline_label": "default-parameter linear model",
    "baseline_test_value": 0.88,
    "references": [{"label": "majority-class predictor", "test_value": 0.5}],
}


def test_a_reference_inside_the_interval_is_called_out() -> None:
    verdicts = reference_verdicts(FINAL, maximize=True)
    assert len(verdicts) == 1
    assert "does not beat the default-parameter linear model" in verdicts[0]


def test_minimised_metrics_compare_against_the_upper_end() -> None:
    final = {**FINAL, "test_metric": "rmse", "test_value": 50.0, "ci_low": 45.0, "ci_high": 56.0}
    final["baseline_test_value"] = 57.0  # worse than the interval's upper end: beaten
    final["references"] = [{"label": "default-parameter sklearn_hgb", "test_value": 52.0}]
    verdicts = reference_verdicts(final, maximize=False)
    assert len(verdicts) == 1
    assert "sklearn_hgb" in verdicts[0]


def test_no_interval_no_verdict() -> None:
    assert reference_verdicts({**FINAL, "ci_low": None}, maximize=True) == []
