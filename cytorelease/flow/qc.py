"""Acquisition QC: time segments with an abnormal event rate or a drifting signal, and
saturated channels.

The acquisition is cut into equal time segments (as flowAI and PeacoQC do). A segment is removed
when its event count, or the median of a drift marker, lies more than a robust z-score threshold
from the median segment. The spread is the larger of the segments' MAD and the sampling noise
expected of a segment of that size, so a very steady run does not flag noise as drift.
The kept part of the run is a union of time intervals, which a gate can express exactly.

Saturation: events at the top of a channel's range ($PnR) hit the detector's or the converter's
ceiling, so their true value is unknown; a channel with many of them (scatter voltages set too
high, a very bright stain) makes every gate on it suspect. They are counted and reported, not
removed: the scatter gates already exclude most of them, and a release result must say when a
measurement rests on clipped data rather than quietly drop events.

Non-finite values (NaN, +/-inf: a float or ASCII file can hold them, an integer one cannot)
are counted per channel; the gating template says whether they are flagged, excluded before
gating or refused (see ``nonfinite_events`` in the template model).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from cytorelease.flow.grouped import medians_of_finite
from cytorelease.flow.sample import Sample

__all__ = [
    "NonFinite",
    "Saturation",
    "TimeQC",
    "nonfinite",
    "nonfinite_rows",
    "saturation",
    "time_qc",
    "without_events",
]

_MAD_TO_SD = 1.4826
_DRIFT_EVENTS = 200_000
_SPREAD_EVENTS = 20_000


@dataclass(frozen=True, slots=True)
class TimeQC:
    """Segments removed and the kept intervals ``[start, end)`` (None: open-ended)."""

    edges: np.ndarray  # segment boundaries, len(segments) + 1
    counts: np.ndarray  # events per segment
    removed: np.ndarray  # bool per segment
    reasons: tuple[str, ...]  # one per removed segment, in order
    intervals: tuple[tuple[float | None, float | None], ...]
    removed_events: int
    total_events: int

    @property
    def removed_pct(self) -> float:
        return 100.0 * self.removed_events / self.total_events if self.total_events else 0.0

    def keep(self, time: np.ndarray) -> np.ndarray:
        """Membership of events in the kept intervals (the same rule the exported gate uses)."""
        keep = np.zeros(len(time), dtype=bool)
        for start, end in self.intervals:
            inside = np.ones(len(time), dtype=bool)
            if start is not None:
                inside &= time >= start
            if end is not None:
                inside &= time < end
            keep |= inside
        return keep


def _robust_z(values: np.ndarray, floor: np.ndarray | float) -> np.ndarray:
    centre = np.median(values)
    spread = np.maximum(_MAD_TO_SD * np.median(np.abs(values - centre)), floor)
    return (values - centre) / spread


def time_qc(
    time: np.ndarray,
    signals: Mapping[str, np.ndarray] | None = None,
    *,
    segments: int = 100,
    rate_mad: float = 5.0,
    drift_mad: float = 5.0,
) -> TimeQC:
    """Find abnormal segments of an acquisition; ``signals`` are transformed marker values."""
    time = np.asarray(time, dtype=np.float64)
    total = len(time)
    t0, t1 = (float(time.min()), float(time.max())) if total else (0.0, 1.0)
    if t1 <= t0:
        t1 = t0 + 1.0
    edges = np.linspace(t0, t1, segments + 1)
    # the last segment is closed on the right; NaN sorts after every edge, so into the last too
    segment = np.clip(np.searchsorted(edges, time, side="right") - 1, 0, segments - 1)
    counts = np.bincount(segment, minlength=segments)
    removed = np.zeros(segments, dtype=bool)
    reasons: dict[int, str] = {}
    # Poisson noise of a segment's count is its square root
    rate_z = _robust_z(counts.astype(np.float64), np.sqrt(max(np.median(counts), 1.0)))
    for index in np.flatnonzero(np.abs(rate_z) > rate_mad):
        removed[index] = True
        reasons[int(index)] = f"event rate z={rate_z[index]:+.1f}"
    # Drift medians from an evenly strided subsample (at most ~200,000 events, hundreds per
    # segment): as precise as needed, and without sorting millions of values per marker.
    step = max(1, total // _DRIFT_EVENTS)
    sub_segment = segment[::step]
    sub_counts = np.bincount(sub_segment, minlength=segments)
    for name, signal in (signals or {}).items():
        values = np.asarray(signal[::step], dtype=np.float64)
        medians = medians_of_finite(values, sub_segment, segments)
        filled = np.isfinite(medians)
        if filled.sum() < 4:
            continue
        # standard error of a median: 1.2533 sd / sqrt(n), with a robust sd of the whole run
        # (from an evenly strided probe: a 1 % error in a noise floor changes no decision)
        probe = values[:: max(1, len(values) // _SPREAD_EVENTS)]
        sd = _MAD_TO_SD * float(np.median(np.abs(probe - np.median(probe))))
        floor = 1.2533 * sd / np.sqrt(np.maximum(sub_counts[filled], 1))
        z = np.zeros(segments)
        z[filled] = _robust_z(medians[filled], floor)
        for index in np.flatnonzero(np.abs(z) > drift_mad):
            removed[index] = True
            reasons.setdefault(int(index), f"{name} drift z={z[index]:+.1f}")
    intervals = _kept_intervals(edges, removed)
    removed_events = int(counts[removed].sum())
    return TimeQC(
        edges=edges,
        counts=counts,
        removed=removed,
        reasons=tuple(reasons[i] for i in sorted(reasons)),
        intervals=intervals,
        removed_events=removed_events,
        total_events=total,
    )


def _kept_intervals(
    edges: np.ndarray, removed: np.ndarray
) -> tuple[tuple[float | None, float | None], ...]:
    """Runs of kept segments as [start, end); the first starts at None, the last ends at None."""
    runs: list[tuple[float | None, float | None]] = []
    n = len(removed)
    index = 0
    while index < n:
        if removed[index]:
            index += 1
            continue
        start = index
        while index < n and not removed[index]:
            index += 1
        low = None if start == 0 else float(edges[start])
        high = None if index == n else float(edges[index])
        runs.append((low, high))
    return tuple(runs)


@dataclass(frozen=True, slots=True)
class Saturation:
    """Events of one channel at or above its ceiling (the top of its $PnR range)."""

    channel: str  # $PnN
    label: str | None  # $PnS
    ceiling: float  # stored values >= this count as saturated ($PnR - 1)
    events: int
    total: int

    @property
    def percent(self) -> float:
        return 100.0 * self.events / self.total if self.total else 0.0

    def to_dict(self) -> dict[str, object]:
        return {
            "channel": self.channel,
            "label": self.label,
            "ceiling": self.ceiling,
            "events": self.events,
            "percent": round(self.percent, 4),
        }


def saturation(sample: Sample, channels: Iterable[int]) -> list[Saturation]:
    """Saturated events of each channel (by index), on the values as stored: an integer
    channel's top code is $PnR - 1; float data written by the same instruments clip there too."""
    indices = np.array(list(channels), dtype=np.int64)
    ceilings = np.array([float(sample.channels[i].range) - 1.0 for i in indices])
    # one comparison per channel (NaN never counts); a compiled single pass saved ~10 ms warm
    # but cost more than that to load in every process, and seconds to compile
    counts = [
        np.count_nonzero(sample.events[:, i] >= c) for i, c in zip(indices, ceilings, strict=True)
    ]
    return [
        Saturation(c.name, c.label, float(ceiling), int(events), sample.event_count)
        for c, ceiling, events in zip(
            (sample.channels[i] for i in indices), ceilings, counts, strict=True
        )
    ]


@dataclass(frozen=True, slots=True)
class NonFinite:
    """Events of one channel holding NaN, +inf or -inf (float, double and ASCII data only:
    integers cannot), which no gate can place and no statistic should average."""

    channel: str  # $PnN
    label: str | None  # $PnS
    nan: int
    positive_inf: int
    negative_inf: int

    @property
    def events(self) -> int:
        return self.nan + self.positive_inf + self.negative_inf

    def describe(self) -> str:
        """``CD3 (CD3 PE): 3 NaN, 1 +inf``."""
        parts = [
            f"{count:,} {kind}"
            for count, kind in (
                (self.nan, "NaN"),
                (self.positive_inf, "+inf"),
                (self.negative_inf, "-inf"),
            )
            if count
        ]
        return f"{self.channel}{f' ({self.label})' if self.label else ''}: {', '.join(parts)}"

    def to_dict(self) -> dict[str, object]:
        return {
            "channel": self.channel,
            "label": self.label,
            "events": self.events,
            "nan": self.nan,
            "positive_inf": self.positive_inf,
            "negative_inf": self.negative_inf,
        }


def nonfinite(sample: Sample, channels: Iterable[int] | None = None) -> list[NonFinite]:
    """Non-finite values of each channel (by index; all when None), zero counts included."""
    indices = range(len(sample.channels)) if channels is None else list(channels)
    found = []
    for index in indices:
        column = sample.events[:, index]
        bad = column[~np.isfinite(column)] if column.dtype.kind == "f" else column[:0]
        nan = int(np.count_nonzero(np.isnan(bad)))
        positive = int(np.count_nonzero(bad > 0))
        c = sample.channels[index]
        found.append(NonFinite(c.name, c.label, nan, positive, int(bad.size) - nan - positive))
    return found


def nonfinite_rows(sample: Sample, channels: Iterable[int]) -> np.ndarray:
    """Membership (bool per event) of events with a non-finite value in any of ``channels``."""
    rows = np.zeros(sample.event_count, dtype=bool)
    for index in channels:
        rows |= ~np.isfinite(sample.events[:, index])
    return rows


def without_events(sample: Sample, rows: np.ndarray) -> Sample:
    """The same data set without the events in ``rows`` (same file, hash and keywords): what
    a template that excludes non-finite events gates."""
    return Sample(
        path=sample.path,
        sha256=sample.sha256,
        fcs_version=sample.fcs_version,
        events=np.ascontiguousarray(sample.events[~rows]),
        channels=sample.channels,
        keywords=sample.keywords,
        spill=sample.spill,
        dataset_index=sample.dataset_index,
        dataset_count=sample.dataset_count,
    )
