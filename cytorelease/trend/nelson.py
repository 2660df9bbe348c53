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

The rules are evaluated on whole arrays (windowed counts from cumulative sums), not point by
point: a chart of 10,000 lots is checked in milliseconds. Only +, -, *, / and comparisons are
used, so every zone test is the same IEEE operation a point-by-point loop makes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

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


def _counts(flags: np.ndarray, length: int) -> np.ndarray:
    """counts[i] = how many of flags[i - length + 1 .. i] are true (0 where i < length - 1)."""
    total = np.concatenate(([0], np.cumsum(flags, dtype=np.int64)))
    counts = np.zeros(len(flags), dtype=np.int64)
    if len(flags) >= length:
        counts[length - 1 :] = total[length:] - total[:-length]
    return counts


def _run_ends(flags: np.ndarray, length: int) -> np.ndarray:
    """The indices ending ``length`` consecutive true flags."""
    return np.flatnonzero(_counts(flags, length) == length)


def _steps(z: np.ndarray) -> np.ndarray:
    """steps[i] = z[i] - z[i-1], the step into point i (steps[0] = 0: no step into the first)."""
    steps = np.zeros(len(z))
    steps[1:] = z[1:] - z[:-1]
    return steps


def _groups(ends: np.ndarray, breaks: np.ndarray, baseline_n: int) -> list[tuple[int, int, bool]]:
    """(first firing, last firing, in baseline) of each violation: a firing starts a new one when
    it completes in the other phase or ``breaks`` (it shares no point with the one before)."""
    if len(ends) == 0:
        return []
    phase = ends < baseline_n
    new = breaks.copy()
    new[0] = True
    new[1:] |= phase[1:] != phase[:-1]
    first = np.flatnonzero(new)
    last = np.append(first[1:] - 1, len(ends) - 1)
    return [(int(a), int(b), bool(phase[a])) for a, b in zip(first, last, strict=True)]


def _windows(
    rule: int, ends: np.ndarray, length: int, lots: tuple[str, ...], baseline_n: int
) -> list[Violation]:
    """A rule whose firing names the ``length`` points of the run ending at it: firings overlap
    when a run starts at or before the end of the one before (runs only grow to the right)."""
    starts = ends - (length - 1)
    breaks = np.ones(len(ends), dtype=bool)
    breaks[1:] = starts[1:] > ends[:-1]
    found = []
    for a, b, phase in _groups(ends, breaks, baseline_n):
        found.append(
            Violation(rule, lots[int(starts[a]) : int(ends[b]) + 1], lots[int(ends[a])], phase)
        )
    return found


def _k_of_m(
    rule: int, z: np.ndarray, k: int, m: int, zone: float, lots: tuple[str, ...], baseline_n: int
) -> list[Violation]:
    """Windows of ``m`` points with at least ``k`` beyond ``zone`` sigma on one side; a firing
    names the window's points beyond the zone. Two sides cannot fire at one point (2k > m).

    A firing shares a point with the violation before it exactly when that violation is on its
    side and the window's part up to the previous firing holds a point beyond the zone (those
    points are all in the previous firing's window), so the violation's points are the points
    beyond the zone from its first window's start to its last firing."""
    beyond = {1: z > zone, -1: -z > zone}
    fires = {s: _counts(b, m) >= k for s, b in beyond.items()}
    fires[1][: m - 1] = fires[-1][: m - 1] = False
    ends = np.flatnonzero(fires[1] | fires[-1])
    side = np.where(fires[1][ends], 1, -1)
    totals = {s: np.concatenate(([0], np.cumsum(b, dtype=np.int64))) for s, b in beyond.items()}
    breaks = np.ones(len(ends), dtype=bool)
    if len(ends) > 1:
        start, before = ends[1:] - (m - 1), ends[:-1]
        shared = np.zeros(len(ends) - 1, dtype=bool)
        for s, total in totals.items():
            held = total[before + 1] - total[np.minimum(start, before + 1)]
            shared |= (side[1:] == s) & (held > 0)
        breaks[1:] = (side[1:] != side[:-1]) | ~shared
    found = []
    for a, b, phase in _groups(ends, breaks, baseline_n):
        lo, hi = int(ends[a]) - (m - 1), int(ends[b])
        points = np.flatnonzero(beyond[int(side[a])][lo : hi + 1]) + lo
        found.append(Violation(rule, tuple(lots[j] for j in points), lots[int(ends[a])], phase))
    return found


def nelson_violations(
    values: tuple[float, ...],
    lots: tuple[str, ...],
    *,
    center: float,
    sigma: float,
    baseline_n: int,
) -> list[Violation]:
    """Every violation of rules 1-8, by rule, then by the lot that completed it."""
    lots = tuple(lots)
    z = (np.asarray(values, dtype=np.float64) - center) / sigma
    size = np.abs(z)
    steps = _steps(z)
    # rule 4's flag i: the steps into i-1 and into i have opposite signs (i >= 2)
    turns = np.zeros(len(z), dtype=bool)
    turns[2:] = steps[1:-1] * steps[2:] < 0
    wide = _run_ends(size > 1.0, 8)
    both = (_counts(z > 0, 8)[wide] > 0) & (_counts(z < 0, 8)[wide] > 0)
    runs = {
        1: (np.flatnonzero(size > 3.0), 1),
        2: (np.union1d(_run_ends(z > 0, 9), _run_ends(z < 0, 9)), 9),
        # six points are five steps: a run of five steps plus the point it starts from
        3: (np.union1d(_run_ends(steps > 0, 5), _run_ends(steps < 0, 5)), 6),
        # fourteen points: thirteen steps, twelve sign changes between them
        4: (_run_ends(turns, 12), 14),
    }
    found: list[Violation] = []
    for rule, (ends, length) in runs.items():
        found += _windows(rule, ends, length, lots, baseline_n)
    found += _k_of_m(5, z, 2, 3, 2.0, lots, baseline_n)
    found += _k_of_m(6, z, 4, 5, 1.0, lots, baseline_n)
    found += _windows(7, _run_ends(size < 1.0, 15), 15, lots, baseline_n)
    found += _windows(8, wide[both], 8, lots, baseline_n)
    return found
