"""A spillover matrix estimated from single-stain controls and an unstained control.

``estimate_spillover(controls, unstained)`` reads every tube, checks that they share one set of
fluorescence detectors, and for each control (in the order given):

1. **Primary detector.** In every detector, the control's events above the unstained tube's
   99.5th percentile less the 0.5 % of its events an unstained tube would put there by chance
   (the *excess* events), and how far the median of that many brightest events sits above the
   unstained median, in the detector's own units. The primary is the detector where that
   signal is largest; it must exceed every other detector's by ``PRIMARY_MARGIN`` (25 %), or
   the control is refused by name: its stain is not clearly read in one detector (an unstained
   or multicolour tube passed as a control, or two detectors seeing one dye almost equally).
2. **Positive population.** The primary's excess events (its brightest that many). Fewer
   than ``MIN_POSITIVE_EVENTS`` (see its comment for why) is refused by name.
3. **Spillover.** Robust regression of each other detector on the primary over the positive
   population, refined by compensating it and re-fitting until the compensation error is
   below the tolerance (:mod:`cytorelease.flow._spillover_fit`, AutoSpill's method). AutoSpill
   fits all of a control's events; here the negatives, and the chance tail of them above the
   threshold, are left out: their autofluorescence is shared by all detectors (a bigger cell
   glows in all of them) and pulls the line towards the ratio of autofluorescences when the
   positives are few.

Values are read as FlowKit preprocesses them ($PnE and $PnG undone); events non-finite or at
the top of their range ($PnR - 1, saturated) in any detector are left out. Scatter, Time and
width channels are not detectors; when a file has area (``-A``) channels only those are.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cytorelease.errors import InputError
from cytorelease.flow._spillover_fit import refine_spillover
from cytorelease.flow.compensation import SpilloverMatrix
from cytorelease.flow.sample import Sample

__all__ = [
    "MIN_POSITIVE_EVENTS",
    "PRIMARY_MARGIN",
    "ControlResult",
    "SpilloverEstimate",
    "estimate_spillover",
    "fluorescence_detectors",
]

UNSTAINED_QUANTILE = 0.995
PRIMARY_MARGIN = 1.25
# Fewer positive events than this do not give coefficients reliably within 0.005: each
# slope's standard error falls as 1/sqrt(positives), and on the generator's dimmest controls
# (median 5,000, 20,000 events, 4 seeds x 42 coefficients) the largest error was 0.017 at 100
# positives, 0.003-0.004 at 200-300 and 0.0027 at 500; 500 keeps that margin for a dimmer
# stain or a noisier detector (docs/spillover.md). It is also far above what chance puts over
# the threshold (the 0.5 % an unstained tube would, already subtracted, varies by its
# square root: about 20 events in a 100,000-event tube).
MIN_POSITIVE_EVENTS = 500
DEFAULT_TOLERANCE = 1e-4
DEFAULT_MAX_ITERATIONS = 50
_NOT_DETECTORS = ("fsc", "ssc", "time")


def fluorescence_detectors(sample: Sample) -> tuple[str, ...]:
    """The file's fluorescence detectors ($PnN, in the file's order): no scatter, Time or
    width channel, and only the area channels when there are any."""
    names = [
        c.name
        for c in sample.channels
        if not c.name.casefold().startswith(_NOT_DETECTORS) and not c.name.upper().endswith("-W")
    ]
    areas = [n for n in names if n.upper().endswith("-A")]
    return tuple(areas or names)


@dataclass(frozen=True)
class _Tube:
    path: Path
    sha256: str
    events: int
    values: np.ndarray  # usable events x detectors, float64


def _read(path: Path, detectors: Sequence[str] | None) -> tuple[Sample, tuple[str, ...]]:
    from cytorelease.flow.fcs import read_fcs

    sample = read_fcs(path)
    if detectors is None:
        return sample, fluorescence_detectors(sample)
    names: list[str] = []
    for name in detectors:
        found = sample.channel_names[sample.channel_index(name)]
        if found in names:
            raise InputError(f"detector {found} is named twice (as {name!r})", path=path)
        names.append(found)
    return sample, tuple(names)


def _usable(sample: Sample, detectors: Sequence[str]) -> _Tube:
    columns = [sample.channel_index(d) for d in detectors]
    scaled = sample.scaled_events()[:, columns]
    stored = sample.events[:, columns]
    tops = np.array([sample.channels[c].range - 1 for c in columns])
    keep = np.isfinite(scaled).all(axis=1) & (stored < tops).all(axis=1)
    return _Tube(sample.path, sample.sha256, sample.event_count, scaled[keep])


def _check_same_detectors(
    reference: Path, expected: tuple[str, ...], path: Path, found: tuple[str, ...]
) -> None:
    if set(found) == set(expected):
        return
    lacks = [d for d in expected if d not in found]
    extra = [d for d in found if d not in expected]
    parts = ([f"lacks {', '.join(lacks)}"] if lacks else []) + (
        [f"has {', '.join(extra)} besides"] if extra else []
    )
    raise InputError(
        f"its fluorescence detectors differ from {reference.name}'s: {'; '.join(parts)}",
        path=path,
        hint="every control and the unstained tube must come from one panel on one instrument",
    )


@dataclass(frozen=True)
class ControlResult:
    """One control: where its stain is read and how many events carry it."""

    path: Path
    sha256: str
    primary: str
    events: int  # as acquired
    usable_events: int  # finite and unsaturated in every detector
    positive_events: int  # above the unstained threshold, less the chance 0.5 %
    threshold: float  # the unstained 99.5th percentile in the primary detector
    excess: float  # median above the unstained median, in the primary
    runner_up: str
    runner_up_excess: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "sha256": self.sha256,
            "primary": self.primary,
            "events": self.events,
            "usable_events": self.usable_events,
            "positive_events": self.positive_events,
            "threshold": self.threshold,
            "primary_excess": self.excess,
            "runner_up": self.runner_up,
            "runner_up_excess": self.runner_up_excess,
        }


def _excess(values: np.ndarray, median: float, threshold: float) -> tuple[float, int]:
    """How far the events beyond chance above ``threshold`` sit above the unstained median
    (the median of the brightest that many), and how many they are."""
    above = np.sort(values[values > threshold])
    beyond = round(above.size - (1.0 - UNSTAINED_QUANTILE) * values.size)
    if beyond < 1:
        return 0.0, beyond
    return float(np.median(above[-beyond:]) - median), beyond


def _identify(
    tube: _Tube, detectors: Sequence[str], medians: np.ndarray, thresholds: np.ndarray
) -> ControlResult:
    if tube.values.shape[0] == 0:
        raise InputError("the control has no usable event (all non-finite or saturated)",
                         path=tube.path)  # fmt: skip
    found = [_excess(tube.values[:, j], medians[j], thresholds[j]) for j in range(len(detectors))]
    order = sorted(range(len(detectors)), key=lambda j: found[j][0], reverse=True)
    best = order[0]
    second = order[1] if len(order) > 1 else None
    best_excess, positives = found[best]
    second_excess = found[second][0] if second is not None else 0.0
    if best_excess <= 0 or (second is not None and best_excess < PRIMARY_MARGIN * second_excess):
        versus = f"; {detectors[second]} sees {second_excess:.4g}" if second is not None else ""
        raise InputError(
            "no primary detector stands out: its brightest detector "
            f"{detectors[best]} is {best_excess:.4g} above the unstained median{versus} "
            f"(the primary must exceed every other detector by {PRIMARY_MARGIN - 1:.0%})",
            path=tube.path,
            hint="is it a single-stain control, and is the unstained tube the same cells?",
        )
    if positives < MIN_POSITIVE_EVENTS:
        raise InputError(
            f"its positive population in {detectors[best]} is too small: {max(positives, 0):,} "
            f"events above the unstained tube's 99.5th percentile beyond chance, fewer than the "
            f"{MIN_POSITIVE_EVENTS:,} a coefficient within 0.005 needs",
            path=tube.path,
            hint="acquire more events of the control, or stain it brighter (e.g. on beads)",
        )
    return ControlResult(
        path=tube.path,
        sha256=tube.sha256,
        primary=detectors[best],
        events=tube.events,
        usable_events=int(tube.values.shape[0]),
        positive_events=positives,
        threshold=float(thresholds[best]),
        excess=best_excess,
        runner_up=detectors[second] if second is not None else "",
        runner_up_excess=second_excess,
    )


def _brightest(values: np.ndarray, primary: int, count: int) -> np.ndarray:
    """The ``count`` events brightest in the primary detector: the positive population without
    the chance tail of negatives above the threshold (whose autofluorescence, shared by all
    detectors, would pull the line towards the ratio of autofluorescences)."""
    order = np.argsort(values[:, primary], kind="stable")
    return values[np.sort(order[-count:])]


@dataclass(frozen=True)
class SpilloverEstimate:
    """Rows follow the controls as given; columns the detectors in the files' order."""

    detectors: tuple[str, ...]
    controls: tuple[ControlResult, ...]
    unstained: dict[str, Any]
    spillover: np.ndarray  # controls x detectors
    residuals: np.ndarray  # compensation error per pair at the matrix
    standard_errors: np.ndarray  # slope standard error per pair
    iterations: int
    tolerance: float
    history: tuple[float, ...]

    @property
    def primaries(self) -> tuple[str, ...]:
        return tuple(c.primary for c in self.controls)

    def matrix(self, id: str = "controls") -> SpilloverMatrix:
        """The square matrix over the controls' primary detectors, rows and columns in the
        files' detector order, each fluorochrome named by its primary detector (as in
        $SPILLOVER): what compensation applies. Detectors without a control are left out."""
        columns = [j for j, d in enumerate(self.detectors) if d in self.primaries]
        rows = [self.primaries.index(self.detectors[j]) for j in columns]
        names = tuple(self.detectors[j] for j in columns)
        return SpilloverMatrix(id, names, names, self.spillover[np.ix_(rows, columns)])

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": "autospill-style robust regression, iteratively refined",
            "detectors": list(self.detectors),
            "controls": [c.to_dict() for c in self.controls],
            "unstained": self.unstained,
            "spillover": self.spillover.tolist(),
            "residuals": self.residuals.tolist(),
            "standard_errors": self.standard_errors.tolist(),
            "iterations": self.iterations,
            "tolerance": self.tolerance,
            "max_error_history": list(self.history),
            "min_positive_events": MIN_POSITIVE_EVENTS,
            "primary_margin": PRIMARY_MARGIN,
        }


def estimate_spillover(
    controls: Sequence[str | Path],
    unstained: str | Path,
    *,
    detectors: Sequence[str] | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    max_iterations: int = DEFAULT_MAX_ITERATIONS,
) -> SpilloverEstimate:
    """Estimate the spillover of each control (rows in the order given) into every detector.

    ``detectors`` restricts the estimate to those channels ($PnN or $PnS); by default every
    fluorescence detector of the files (:func:`fluorescence_detectors`).
    """
    paths = [Path(p) for p in controls]
    if not paths:
        raise InputError("no control given", path=Path(unstained))
    repeated = sorted({p for p in paths if paths.count(p) > 1})
    if repeated:
        raise InputError("the same control is given twice", path=repeated[0])
    first, names = _read(paths[0], detectors)
    if not names:
        raise InputError("the file has no fluorescence detector", path=paths[0])
    samples = [first]
    for path in [*paths[1:], Path(unstained)]:
        sample, found = _read(path, detectors)
        _check_same_detectors(paths[0], names, path, found)
        samples.append(sample)
    tubes = [_usable(s, names) for s in samples]
    blank = tubes[-1]
    if blank.values.shape[0] < MIN_POSITIVE_EVENTS:
        raise InputError(
            f"the unstained tube has {blank.values.shape[0]:,} usable events; its 99.5th "
            f"percentiles need at least {MIN_POSITIVE_EVENTS:,}",
            path=blank.path,
        )
    medians = np.median(blank.values, axis=0)
    thresholds = np.quantile(blank.values, UNSTAINED_QUANTILE, axis=0)
    results = [_identify(t, names, medians, thresholds) for t in tubes[:-1]]
    seen: dict[str, Path] = {}
    for result in results:
        if result.primary in seen:
            raise InputError(
                f"its primary detector {result.primary} is already that of "
                f"{seen[result.primary].name}: one control per detector",
                path=result.path,
            )
        seen[result.primary] = result.path
    positives = [_brightest(t.values, names.index(r.primary), r.positive_events)
                 for t, r in zip(tubes[:-1], results, strict=True)]  # fmt: skip
    refined = refine_spillover(
        positives,
        [names.index(r.primary) for r in results],
        names=[p.name for p in paths],
        detectors=names,
        tolerance=tolerance,
        max_iterations=max_iterations,
    )
    return SpilloverEstimate(
        detectors=names,
        controls=tuple(results),
        unstained={
            "path": str(blank.path),
            "sha256": blank.sha256,
            "events": blank.events,
            "usable_events": int(blank.values.shape[0]),
        },
        spillover=refined.spillover,
        residuals=refined.residuals,
        standard_errors=refined.standard_errors,
        iterations=refined.iterations,
        tolerance=tolerance,
        history=refined.history,
    )
