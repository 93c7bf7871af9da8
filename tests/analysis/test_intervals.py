"""The Wilson interval comes from scipy; these pin it to the closed form it replaced."""

from __future__ import annotations

import math

import pytest

from automl.analysis.intervals import mean_interval, wilson_interval

Z_95 = 1.959963984540054  # two-sided 95% normal quantile


def closed_form(successes: int, n: int, z: float = Z_95) -> tuple[float, float]:
    """Wilson's formula written out, as the module computed it before it used scipy."""
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


@pytest.mark.parametrize("n", [1, 2, 7, 50, 100, 1000, 60000])
def test_the_interval_matches_the_closed_form(n: int) -> None:
    for successes in sorted({0, 1, n // 3, n // 2, n - 1, n}):
        assert wilson_interval(successes / n, n) == pytest.approx(closed_form(successes, n), abs=1e-9)


@pytest.mark.parametrize("n", [1, 10, 120, 10000])
def test_no_successes_or_all_successes_give_exact_bounds(n: int) -> None:
    assert wilson_interval(0.0, n)[0] == 0.0
    assert wilson_interval(1.0, n)[1] == 1.0
    assert 0.0 < wilson_interval(0.0, n)[1] < 1.0
    assert 0.0 < wilson_interval(1.0, n)[0] < 1.0


def test_a_proportion_of_zeros_and_ones_gets_wilsons_interval_at_the_asked_confidence() -> None:
    values = [1.0] * 90 + [0.0] * 10
    assert mean_interval(values) == pytest.approx(closed_form(90, 100), abs=1e-9)
    z_90 = 1.6448536269514722
    assert mean_interval(values, confidence=0.90) == pytest.approx(closed_form(90, 100, z_90), abs=1e-9)
