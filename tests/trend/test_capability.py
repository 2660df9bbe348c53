"""Ppk and Bissell's interval against a textbook exercise and the data it summarises."""

from __future__ import annotations

import math
import random
import statistics

import pytest

from cytorelease.trend.capability import ppk, ppk_from_summary


def test_textbook_exercise() -> None:
    """Montgomery, Introduction to Statistical Quality Control, chapter 8 exercises: USL 100,
    LSL 90, n = 30, mean 97, s 1.6: Cpk = 0.625, 95 % CI about 0.42 to 0.83 (Bissell)."""
    found = ppk_from_summary(97.0, 1.6, 30, 90.0, 100.0)
    assert found.ppk == pytest.approx(0.625)
    assert found.ci[0] == pytest.approx(0.42, abs=0.005)
    assert found.ci[1] == pytest.approx(0.83, abs=0.005)
    # the interval written out with z = 1.959964
    half = 1.959964 * math.sqrt(1 / 270 + 0.625**2 / 58)
    assert found.ci == pytest.approx((0.625 - half, 0.625 + half), abs=1e-6)


def test_from_data_with_that_mean_and_sd() -> None:
    rng = random.Random(5)
    raw = [rng.gauss(0.0, 1.0) for _ in range(30)]
    m, s = statistics.fmean(raw), statistics.stdev(raw)
    values = [97.0 + 1.6 * (x - m) / s for x in raw]
    found = ppk(values, 90.0, 100.0)
    assert found is not None
    assert found.ppk == pytest.approx(0.625, rel=1e-9)
    assert found.n == 30


def test_one_sided_limits() -> None:
    values = [10.0, 12.0, 11.0, 13.0, 9.0]
    sd = statistics.stdev(values)
    low = ppk(values, 5.0, None)
    high = ppk(values, None, 20.0)
    assert low is not None and high is not None
    assert low.ppk == pytest.approx((11.0 - 5.0) / (3 * sd))
    assert high.ppk == pytest.approx((20.0 - 11.0) / (3 * sd))


def test_none_without_limits_or_spread() -> None:
    assert ppk([1.0, 2.0, 3.0], None, None) is None
    assert ppk([2.0, 2.0, 2.0], 0.0, 5.0) is None
