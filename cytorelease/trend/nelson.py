"""The eight Nelson rules on an individuals chart, with sigma from the frozen baseline.

Lloyd S. Nelson, "The Shewhart control chart: tests for special causes", Journal of Quality
Technology 16(4), 1984. Zones are counted from the centre in multiples of sigma; "beyond" is
strict (a point exactly on a zone line is not beyond it), a point on the centre line is on
neither side, and a tie between neighbours breaks a trend or an alternation.

1. one point beyond 3 sigma;
2. nine points in a row on one side of the centre;
3. six points in a row steadily increasing or steadily decreasing;
4. fourteen points in a row alternating up and down;
5. two of three points in a row beyond 2 sigma on the same side;
6. four of five points in a row beyond 1 sigma on the same side;
7. fifteen points in a row within 1 sigma of the centre (either side);
8. eight points in a row beyond 1 sigma, on both sides of the centre.

A rule fires at the point that completes its pattern. The firings of one rule whose lots
overlap are one violation (a long run is one finding, not one per point), kept apart when one
completes inside the baseline and the other after it: a violation is ``in_baseline`` when the
point completing it is a baseline lot.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["RULES", "Violation", "nelson_violations"]

RULES: dict[int, str] = {
    1: "one point beyond 3 sigma",
    2: "nine points in a row on one side of the centre",
    3: "six points in a row steadily increasing or decreasing",
    4: "fourteen points in a row alternating up and down",
    5: "two of three points in a row beyond 2 sigma on the same side",
    6: "four of five points in a row beyond 1 sigma on the same side",
    7: "fifteen points in a row within 1 sigma of the centre",
    8: "eight points in a row beyond 1 sigma on both sides of the centre",
}


@dataclass(frozen=True)
class Violation:
    rule: int
    lots: tuple[str, ...]
    first_signal: str  # the lot that first completed the pattern
    in_baseline: bool

    def to_dict(self) -> dict[str, object]:
        return {
            "rule": self.rule,
            "description": RULES[self.rule],
            "lots": list(self.lots),
            "first_signal": self.first_signal,
            "in_baseline": self.in_baseline,
        }


Firing = tuple[int, list[int]]  # (index completing the pattern, indices of its points)


def _runs(flags: list[bool], length: int) -> list[Firing]:
    """Where ``length`` consecutive flags are true: the window ending at each such index."""
    found, run = [], 0
    for i, flag in enumerate(flags):
        run = run + 1 if flag else 0
        if run >= length:
            found.append((i, list(range(i - length + 1, i + 1))))
    return found


def _k_of_m(z: list[float], k: int, m: int, zone: float) -> list[Firing]:
    """Windows of ``m`` points with at least ``k`` beyond ``zone`` sigma on one side."""
    found = []
    for i in range(m - 1, len(z)):
        window = range(i - m + 1, i + 1)
        for side in (1.0, -1.0):
            beyond = [j for j in window if side * z[j] > zone]
            if len(beyond) >= k:
                found.append((i, beyond))
    return found


def _rule1(z: list[float]) -> list[Firing]:
    return [(i, [i]) for i, v in enumerate(z) if abs(v) > 3.0]


def _rule2(z: list[float]) -> list[Firing]:
    return _runs([v > 0 for v in z], 9) + _runs([v < 0 for v in z], 9)


def _trend_flags(z: list[float], sign: float) -> list[bool]:
    # flag i: the step into point i continues in direction ``sign``
    return [False] + [sign * (b - a) > 0 for a, b in itertools.pairwise(z)]


def _rule3(z: list[float]) -> list[Firing]:
    # six points are five steps: a run of five steps plus the point it starts from
    found = []
    for sign in (1.0, -1.0):
        found += [(i, [i - 5, *w]) for i, w in _runs(_trend_flags(z, sign), 5)]
    return found


def _rule4(z: list[float]) -> list[Firing]:
    steps = [b - a for a, b in itertools.pairwise(z)]
    # flag i (i >= 2): the steps into i-1 and into i have opposite signs
    flags = [False, False] + [s * t < 0 for s, t in itertools.pairwise(steps)]
    # fourteen points: thirteen steps, twelve sign changes between them
    return [(i, list(range(i - 13, i + 1))) for i, _ in _runs(flags, 12)]


def _rule5(z: list[float]) -> list[Firing]:
    return _k_of_m(z, 2, 3, 2.0)


def _rule6(z: list[float]) -> list[Firing]:
    return _k_of_m(z, 4, 5, 1.0)


def _rule7(z: list[float]) -> list[Firing]:
    return _runs([abs(v) < 1.0 for v in z], 15)


def _rule8(z: list[float]) -> list[Firing]:
    return [
        (i, window)
        for i, window in _runs([abs(v) > 1.0 for v in z], 8)
        if any(z[j] > 0 for j in window) and any(z[j] < 0 for j in window)
    ]


_DETECTORS: dict[int, Callable[[list[float]], list[Firing]]] = {
    1: _rule1,
    2: _rule2,
    3: _rule3,
    4: _rule4,
    5: _rule5,
    6: _rule6,
    7: _rule7,
    8: _rule8,
}


def _merge(
    rule: int, firings: list[Firing], lots: tuple[str, ...], baseline_n: int
) -> list[Violation]:
    groups: list[tuple[int, set[int], bool]] = []  # (first index, points, in baseline)
    for end, points in sorted(firings, key=lambda f: (f[0], f[1])):
        phase = end < baseline_n
        last = groups[-1] if groups else None
        if last is not None and last[2] == phase and last[1] & set(points):
            last[1].update(points)
        else:
            groups.append((end, set(points), phase))
    return [
        Violation(rule, tuple(lots[j] for j in sorted(points)), lots[end], phase)
        for end, points, phase in groups
    ]


def nelson_violations(
    values: tuple[float, ...],
    lots: tuple[str, ...],
    *,
    center: float,
    sigma: float,
    baseline_n: int,
) -> list[Violation]:
    """Every violation of rules 1-8, by rule, then by the lot that completed it."""
    z = [(v - center) / sigma for v in values]
    found: list[Violation] = []
    for rule, detect in _DETECTORS.items():
        found += _merge(rule, detect(z), lots, baseline_n)
    return found
