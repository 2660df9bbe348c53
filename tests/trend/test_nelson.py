"""Each Nelson rule on a hand-built series (values in sigma from a centre of 0): it fires at its
threshold and stays quiet one point (or one step) short of it."""

from __future__ import annotations

import pytest

from cytorelease.trend.nelson import nelson_violations


def _fired(values: list[float], baseline_n: int = 0) -> set[int]:
    lots = tuple(f"L{i:03d}" for i in range(len(values)))
    found = nelson_violations(tuple(values), lots, center=0.0, sigma=1.0, baseline_n=baseline_n)
    return {v.rule for v in found}


CASES = {
    # rule: (fires, just below its threshold)
    1: ([0.0] * 4 + [3.05] + [0.0] * 4, [0.0] * 4 + [2.95] + [0.0] * 4),
    2: ([0.0] + [0.5] * 9 + [0.0], [0.0] + [0.5] * 8 + [0.0]),
    3: ([0.1 * i for i in range(6)], [0.1 * i for i in range(5)] + [0.3]),
    4: ([0.1, -0.1] * 7, [0.1, -0.1] * 6 + [0.1]),
    5: ([0.0, 2.1, 0.0, 2.1, 0.0], [0.0, 2.1, 0.0, 1.9, 0.0]),
    6: ([0.0, 1.1, 1.1, 0.0, 1.1, 1.1, 0.0], [0.0, 1.1, 1.1, 0.0, 1.1, 0.9, 0.0]),
    7: ([0.5, -0.5] * 7 + [0.5], [0.5, -0.5] * 7 + [1.5]),
    8: ([1.5, -1.5] * 4, [1.5, -1.5] * 3 + [1.5, 0.5]),
}


@pytest.mark.parametrize("rule", sorted(CASES))
def test_rule_fires_at_its_threshold(rule: int) -> None:
    assert rule in _fired(CASES[rule][0])


@pytest.mark.parametrize("rule", sorted(CASES))
def test_rule_is_quiet_just_below_it(rule: int) -> None:
    assert rule not in _fired(CASES[rule][1])


def test_a_decreasing_trend_fires_rule_3_and_a_tie_breaks_it() -> None:
    assert 3 in _fired([-0.1 * i for i in range(6)])
    assert 3 not in _fired([0.0, 0.1, 0.2, 0.2, 0.3, 0.4, 0.5])


def test_sides_are_not_mixed() -> None:
    assert 5 not in _fired([2.1, 0.0, -2.1])
    assert 6 not in _fired([1.1, -1.1, 1.1, -1.1, 1.1])
    assert 8 not in _fired([1.5] * 8), "rule 8 needs both sides"
    assert 2 not in _fired([0.5] * 4 + [0.0] + [0.5] * 4), "a point on the centre breaks a run"


def test_beyond_is_strict() -> None:
    assert 1 not in _fired([0.0, 3.0, 0.0])
    assert 7 not in _fired([0.5, -0.5] * 7 + [1.0])


def test_a_long_run_is_one_violation_naming_every_lot() -> None:
    values = [0.0] + [0.5] * 12 + [0.0]
    lots = tuple(f"L{i:03d}" for i in range(len(values)))
    found = nelson_violations(tuple(values), lots, center=0.0, sigma=1.0, baseline_n=0)
    run = [v for v in found if v.rule == 2]
    assert len(run) == 1
    assert run[0].lots == lots[1:13]
    assert run[0].first_signal == "L009"


def test_a_violation_completed_in_the_baseline_is_marked() -> None:
    values = [0.0, 3.5, 0.0, 0.0, 0.0, -3.5, 0.0]
    lots = tuple(f"L{i}" for i in range(len(values)))
    found = nelson_violations(tuple(values), lots, center=0.0, sigma=1.0, baseline_n=3)
    assert [(v.rule, v.lots, v.in_baseline) for v in found] == [
        (1, ("L1",), True),
        (1, ("L5",), False),
    ]


def test_rules_5_and_6_name_the_points_beyond_the_zone() -> None:
    values = [0.0, 2.1, 0.3, 2.2, 0.0]
    lots = tuple(f"L{i}" for i in range(len(values)))
    found = nelson_violations(tuple(values), lots, center=0.0, sigma=1.0, baseline_n=0)
    assert [v.lots for v in found if v.rule == 5] == [("L1", "L3")]


def test_zones_scale_with_centre_and_sigma() -> None:
    values = (10.0, 10.0, 16.2, 10.0)  # 3.1 sigma of 2 above 10
    found = nelson_violations(values, ("a", "b", "c", "d"), center=10.0, sigma=2.0, baseline_n=0)
    assert [v.lots for v in found if v.rule == 1] == [("c",)]
