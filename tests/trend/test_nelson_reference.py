"""The array form of the Nelson rules against a plain reference written from the rule definitions.

The reference looks at the window ending at each point, one point at a time, and merges the
firings of a rule whose points overlap (kept apart across the baseline's end), as
:mod:`cytorelease.trend.nelson` defines. Random series include ties (values on a coarse grid),
constant runs, points exactly on a zone line and series shorter than a rule's window.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from cytorelease.trend.nelson import nelson_violations


def _beyond(z: float, side: int, zone: float) -> bool:
    return side * z > zone


def _window_firings(z: list[float], i: int, rule: int) -> list[list[int]]:
    """The point sets of ``rule`` completed at point ``i`` (empty when it does not fire)."""

    def last(k: int) -> list[int] | None:
        return list(range(i - k + 1, i + 1)) if i - k + 1 >= 0 else None

    fired: list[list[int]] = []
    if rule == 1 and abs(z[i]) > 3.0:
        fired.append([i])
    elif rule == 2 and (w := last(9)):
        if all(z[j] > 0 for j in w) or all(z[j] < 0 for j in w):
            fired.append(w)
    elif rule == 3 and (w := last(6)):
        steps = [z[j + 1] - z[j] for j in w[:-1]]
        if all(s > 0 for s in steps) or all(s < 0 for s in steps):
            fired.append(w)
    elif rule == 4 and (w := last(14)):
        steps = [z[j + 1] - z[j] for j in w[:-1]]
        if all(steps[j] * steps[j + 1] < 0 for j in range(len(steps) - 1)):
            fired.append(w)
    elif rule in (5, 6):
        k, m, zone = (2, 3, 2.0) if rule == 5 else (4, 5, 1.0)
        if w := last(m):
            for side in (1, -1):
                beyond = [j for j in w if _beyond(z[j], side, zone)]
                if len(beyond) >= k:
                    fired.append(beyond)
    elif rule == 7 and (w := last(15)):
        if all(abs(z[j]) < 1.0 for j in w):
            fired.append(w)
    elif rule == 8 and (w := last(8)):
        both = any(z[j] > 0 for j in w) and any(z[j] < 0 for j in w)
        if both and all(abs(z[j]) > 1.0 for j in w):
            fired.append(w)
    return fired


def _reference(
    values: list[float], lots: tuple[str, ...], center: float, sigma: float, baseline_n: int
) -> list[tuple[int, tuple[str, ...], str, bool]]:
    z = [(v - center) / sigma for v in values]
    found = []
    for rule in range(1, 9):
        groups: list[tuple[int, set[int], bool]] = []
        for i in range(len(z)):
            for points in _window_firings(z, i, rule):
                phase = i < baseline_n
                if groups and groups[-1][2] == phase and groups[-1][1] & set(points):
                    groups[-1][1].update(points)
                else:
                    groups.append((i, set(points), phase))
        found += [
            (rule, tuple(lots[j] for j in sorted(p)), lots[end], phase) for end, p, phase in groups
        ]
    return found


# values in sigma around a centre of 0 on a grid of 0.5: ties, zone lines (1, 2, 3) and the
# centre itself come up often; runs of one value make constant stretches
_point = st.integers(-8, 8).map(lambda k: k * 0.5)
_runs = st.lists(st.tuples(_point, st.integers(1, 16)), max_size=14)
_series = _runs.map(lambda rs: [v for v, n in rs for _ in range(n)])
_free = st.lists(st.floats(-5.0, 5.0, allow_nan=False), max_size=80)


@settings(max_examples=400, deadline=None)
@given(
    values=st.one_of(_series, _free, st.lists(_point, max_size=20)),
    baseline_n=st.integers(0, 40),
    center=st.sampled_from([0.0, 10.0, -3.25]),
    sigma=st.sampled_from([1.0, 0.5, 2.75]),
)
def test_array_rules_equal_the_reference(
    values: list[float], baseline_n: int, center: float, sigma: float
) -> None:
    values = [center + v * sigma for v in values]
    lots = tuple(f"L{i:03d}" for i in range(len(values)))
    found = nelson_violations(
        tuple(values), lots, center=center, sigma=sigma, baseline_n=baseline_n
    )
    got = [(v.rule, v.lots, v.first_signal, v.in_baseline) for v in found]
    assert got == _reference(values, lots, center, sigma, baseline_n)


def test_the_reference_can_tell_rules_apart() -> None:
    """The property above is not vacuous: the reference fires each rule on its pattern."""
    patterns = {
        1: [0.0, 3.5, 0.0],
        2: [0.5] * 9,
        3: [0.1 * i for i in range(6)],
        4: [0.1, -0.1] * 7,
        5: [2.5, 0.0, 2.5],
        6: [1.5, 1.5, 0.0, 1.5, 1.5],
        7: [0.5, -0.5] * 8,
        8: [1.5, -1.5] * 4,
    }
    for rule, values in patterns.items():
        lots = tuple(f"L{i}" for i in range(len(values)))
        assert rule in {v[0] for v in _reference(values, lots, 0.0, 1.0, 0)}
