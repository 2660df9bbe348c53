"""The I-MR chart's frozen limits, computed here from the definitions, and what the baseline
records."""

from __future__ import annotations

import random
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from cytorelease.errors import InputError
from cytorelease.trend.chart import build_chart
from cytorelease.trend.series import Series


def _series(values: list[float]) -> Series:
    lots = tuple(f"L{i:03d}" for i in range(len(values)))
    days = tuple(date(2025, 1, 1) + timedelta(days=i) for i in range(len(values)))
    return Series("a", None, lots, days, tuple(values), None, None)


def test_limits_from_the_first_n_lots_only() -> None:
    rng = random.Random(3)
    values = [rng.gauss(10, 1) for _ in range(20)] + [rng.gauss(30, 5) for _ in range(20)]
    chart = build_chart(_series(values), 20, Path("t.csv"))
    base = values[:20]
    mean = sum(base) / 20
    mr_bar = sum(abs(base[i] - base[i - 1]) for i in range(1, 20)) / 19
    record: dict[str, Any] = chart.to_dict()
    assert record["center"] == pytest.approx(mean)
    assert record["mr_bar"] == pytest.approx(mr_bar)
    assert record["ucl"] == pytest.approx(mean + 2.66 * mr_bar)
    assert record["lcl"] == pytest.approx(mean - 2.66 * mr_bar)
    assert record["mr_ucl"] == pytest.approx(3.267 * mr_bar)
    assert record["baseline"]["lots"] == [f"L{i:03d}" for i in range(20)]
    assert (record["n"], record["baseline_n"]) == (40, 20)


def test_rule_1_fires_exactly_beyond_the_drawn_limit() -> None:
    base = [10.0, 11.0] * 10
    chart = build_chart(_series(base), 20, Path("t.csv"))
    ucl = chart.baseline.ucl
    above = build_chart(_series([*base, ucl + 1e-6]), 20, Path("t.csv"))
    below = build_chart(_series([*base, ucl - 1e-6]), 20, Path("t.csv"))
    assert [v.lots for v in above.violations if v.rule == 1] == [("L020",)]
    assert not [v for v in below.violations if v.rule == 1]


def test_a_jump_above_the_mr_ucl_is_named() -> None:
    base = [10.0, 11.0] * 10
    chart = build_chart(_series([*base, 10.0, 13.5]), 20, Path("t.csv"))
    assert 3.5 > chart.baseline.mr_ucl > 3.0
    assert chart.mr_signals == ("L021",)


def test_a_flat_baseline_is_refused() -> None:
    with pytest.raises(InputError, match="all equal"):
        build_chart(_series([5.0] * 25), 20, Path("t.csv"))


def test_too_few_lots_says_how_many() -> None:
    with pytest.raises(InputError, match="a has 7 lots; the baseline needs 20"):
        build_chart(_series([float(i % 3) for i in range(7)]), 20, Path("t.csv"))


def test_nist_individuals_chart_example() -> None:
    """NIST/SEMATECH e-Handbook of Statistical Methods, 6.3.2.2 (individuals control charts):
    ten batches; published x-bar 50.81, MR-bar 1.8778, UCL 55.80, LCL 45.82, MR UCL 6.13."""
    batches = [49.6, 47.6, 49.9, 51.3, 47.8, 51.2, 52.6, 52.4, 53.6, 52.1]
    b = build_chart(_series(batches), 10, Path("t.csv")).baseline
    assert round(b.center, 2) == 50.81
    assert round(b.mr_bar, 4) == 1.8778
    assert round(b.ucl, 1) == 55.8 and round(b.lcl, 1) == 45.8
    assert round(b.mr_ucl, 2) == 6.13
