"""From a template gate to gates of the engine's model, placed on one sample's events.

One placer per gate kind (dispatched through ``PLACERS``, keyed by :class:`GateKind`). A placer
sees the parent population's values on the gate's dimensions (compensated and transformed
exactly as the placed gate will read them) and returns a :class:`PlacedGate`: the engine gates
(helpers first, the population's own gate last), what was found, or why nothing was placed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cytorelease.flow.gating import placement, placement_scatter, placement_singlet
from cytorelease.flow.gating.dimensions import Dimension, EventSource
from cytorelease.flow.gating.gates import (
    BooleanGate,
    BooleanOp,
    EllipsoidGate,
    Gate,
    GateRef,
    PolygonGate,
    RectangleGate,
)
from cytorelease.flow.gating.template_model import (
    BooleanGateSpec,
    ControlPercentileGateSpec,
    DensityValleyGateSpec,
    EllipseGateSpec,
    GateKind,
    PolygonGateSpec,
    RectangleGateSpec,
    ScatterClusterGateSpec,
    ScatterOutput,
    Side,
    SingletBandGateSpec,
    TimeQCGateSpec,
    UnimodalRule,
)
from cytorelease.flow.qc import time_qc

__all__ = ["PLACERS", "PlacedGate", "PlacementContext"]


@dataclass(frozen=True)
class PlacedGate:
    """A template gate as placed on one sample: engine gates, or the reason there are none."""

    id: str
    kind: GateKind
    gates: tuple[Gate, ...] = ()  # helpers first; the last one defines the population
    details: dict[str, Any] = field(default_factory=dict)
    reason: str | None = None  # why it was not placed
    notes: tuple[str, ...] = ()  # placed, but by a fallback rule the reader must know about

    @classmethod
    def fixed(cls, gate: Gate) -> PlacedGate:
        """A fixed gate (a GatingML document's) as placed: itself, under its kind's name."""
        return cls(gate.id, GateKind(gate.fixed_kind), (gate,))

    @property
    def placed(self) -> bool:
        return bool(self.gates)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind.value,
            "placed": self.placed,
            "reason": self.reason,
            "notes": list(self.notes),
            "details": self.details,
            "gates": [g.describe() for g in self.gates],
        }


@dataclass
class PlacementContext:
    """What placers read: dimensions per marker key, the event source, parent memberships."""

    source: EventSource
    dimensions: Mapping[str, Dimension]
    parent_mask: np.ndarray | None  # None: the gate is top-level, every event is its parent's
    memberships: Mapping[str, np.ndarray]
    control_values: Callable[[str, str], np.ndarray | None]  # (gate id, marker) -> values

    def values(self, marker: str, mask: np.ndarray | None = None) -> np.ndarray:
        """The parent population's values (or ``mask``'s) on a marker's dimension; read-only
        (the whole column itself for a top-level gate: no million-event copy)."""
        column = self.dimensions[marker].values(self.source)
        mask = self.parent_mask if mask is None else mask
        return column if mask is None else column[mask]


def _threshold_gate(
    spec: DensityValleyGateSpec | ControlPercentileGateSpec, dim: Dimension, threshold: float
) -> RectangleGate:
    bounds = (threshold, None) if spec.side is Side.ABOVE else (None, threshold)
    return RectangleGate(spec.id, parent=spec.parent, dimensions=(dim,), ranges=(bounds,))


def _place_density_valley(spec: DensityValleyGateSpec, ctx: PlacementContext) -> PlacedGate:
    found = placement.density_valley(
        ctx.dimensions[spec.marker].values(ctx.source),  # the whole column, no copy
        where=ctx.parent_mask,
        search_min=spec.search_min,
        search_max=spec.search_max,
        bandwidth=spec.bandwidth,
        min_mode_fraction=spec.min_mode_fraction,
        max_valley_ratio=spec.max_valley_ratio,
        min_mode_separation=spec.min_mode_separation,
        unimodal=None if spec.unimodal is UnimodalRule.FLAG else spec.unimodal.value,
        tail_sd=spec.tail_sd,
    )
    details = {
        "marker": spec.marker,
        "threshold": found.threshold,
        "modes": list(found.modes),
        "valley_ratio": found.valley_ratio,
        "bandwidth": found.bandwidth,
    }
    if found.threshold is None:
        return PlacedGate(spec.id, spec.kind, details=details, reason=found.reason)
    gate = _threshold_gate(spec, ctx.dimensions[spec.marker], found.threshold)
    notes = (found.reason,) if found.tail_rule and found.reason else ()
    return PlacedGate(spec.id, spec.kind, (gate,), details, notes=notes)


def _place_control_percentile(spec: ControlPercentileGateSpec, ctx: PlacementContext) -> PlacedGate:
    values: np.ndarray | None
    if spec.reference is not None:
        values = ctx.values(spec.marker, ctx.memberships[spec.reference])
        source = f"reference population {spec.reference!r}"
    else:
        values = ctx.control_values(spec.id, spec.marker)
        source = "control tube"
        if values is None:
            return PlacedGate(
                spec.id, spec.kind, reason="no control tube was given (pass one with --control)"
            )
    threshold = placement.control_percentile(values, spec.percentile)
    details = {
        "marker": spec.marker,
        "percentile": spec.percentile,
        "threshold": threshold,
        "control": source,
        "control_events": len(values),
    }
    if threshold is None:
        where = f"the {source}'s {spec.parent or 'top'} population"
        return PlacedGate(spec.id, spec.kind, details=details, reason=f"{where} is empty")
    gate = _threshold_gate(spec, ctx.dimensions[spec.marker], threshold)
    return PlacedGate(spec.id, spec.kind, (gate,), details)


def _place_singlet_band(spec: SingletBandGateSpec, ctx: PlacementContext) -> PlacedGate:
    band = placement_singlet.singlet_band(
        ctx.dimensions[spec.area].values(ctx.source),  # whole columns, no copies
        ctx.dimensions[spec.height].values(ctx.source),
        where=ctx.parent_mask,
        method=spec.method.value,
        k=spec.band,
        fit_events=spec.fit_events,
        seed=spec.seed,
    )
    if band is None:
        return PlacedGate(spec.id, spec.kind, reason="too few events to fit the singlet line")
    dims = (ctx.dimensions[spec.area], ctx.dimensions[spec.height])
    gate = PolygonGate(
        spec.id, parent=spec.parent, dimensions=dims, vertices=tuple(band.vertices())
    )
    details = {
        "slope": band.slope,
        "intercept": band.intercept,
        "sd": [band.sd_intercept, band.sd_slope],
        "band_sd": band.k,
        "method": band.method,
    }
    return PlacedGate(spec.id, spec.kind, (gate,), details)


def _place_scatter_cluster(spec: ScatterClusterGateSpec, ctx: PlacementContext) -> PlacedGate:
    found = placement_scatter.scatter_population(
        ctx.dimensions[spec.x].values(ctx.source),  # whole columns, no copies
        ctx.dimensions[spec.y].values(ctx.source),
        where=ctx.parent_mask,
        components=spec.components,
        debris_fraction=spec.debris_fraction,
        coverage=spec.coverage,
        fit_events=spec.fit_events,
        log_scale=spec.log_scale,
        seed=spec.seed,
    )
    if found is None:
        return PlacedGate(
            spec.id,
            spec.kind,
            reason="the scatter mixture could not be fitted (too few events, or a component "
            "collapsed onto identical values)",
        )
    dims = (ctx.dimensions[spec.x], ctx.dimensions[spec.y])
    gate: Gate
    if spec.output is ScatterOutput.ELLIPSE:
        gate = EllipsoidGate(
            spec.id,
            parent=spec.parent,
            dimensions=dims,
            mean=found.mean,
            covariance=found.covariance,
            distance_square=found.distance_square,
        )
    else:
        gate = PolygonGate(spec.id, parent=spec.parent, dimensions=dims, vertices=found.polygon)
    details = {
        "cell_components": [list(m) for m in found.cell_means],
        "debris_components": [list(m) for m in found.debris_means],
        "weights": list(found.weights),
        "log_scale": found.log_scale,
        "converged": found.converged,
    }
    notes = () if found.converged else ("the scatter mixture's EM did not converge",)
    return PlacedGate(spec.id, spec.kind, (gate,), details, notes=notes)


def _place_time_qc(spec: TimeQCGateSpec, ctx: PlacementContext) -> PlacedGate:
    time = ctx.values(spec.time)
    if len(time) == 0:
        return PlacedGate(spec.id, spec.kind, reason="no events")
    segments = spec.segments or int(np.clip(len(time) // spec.events_per_segment, 20, 2000))
    result = time_qc(
        time,
        {m: ctx.values(m) for m in spec.drift_markers},
        segments=segments,
        rate_mad=spec.rate_mad,
        drift_mad=spec.drift_mad,
    )
    dim = ctx.dimensions[spec.time]
    # the first interval starts at the first event's time, so every range has a lower bound
    intervals = [(float(result.edges[0]) if lo is None else lo, hi) for lo, hi in result.intervals]
    details = {
        "segments": segments,
        "removed_segments": int(result.removed.sum()),
        "removed_events": result.removed_events,
        "removed_pct": result.removed_pct,
        "reasons": list(result.reasons),
        "kept_intervals": [list(i) for i in intervals],
    }
    if not intervals:
        return PlacedGate(spec.id, spec.kind, details=details, reason="every segment is abnormal")
    if len(intervals) == 1:
        gate = RectangleGate(spec.id, parent=spec.parent, dimensions=(dim,), ranges=(intervals[0],))
        return PlacedGate(spec.id, spec.kind, (gate,), details)
    parts = tuple(
        RectangleGate(f"{spec.id}_{n}", parent=spec.parent, dimensions=(dim,), ranges=(bounds,))
        for n, bounds in enumerate(intervals, start=1)
    )
    union = BooleanGate(
        spec.id,
        parent=spec.parent,
        op=BooleanOp.OR,
        operands=tuple(GateRef(p.id) for p in parts),
    )
    return PlacedGate(spec.id, spec.kind, (*parts, union), details)


def _place_rectangle(spec: RectangleGateSpec, ctx: PlacementContext) -> PlacedGate:
    gate = RectangleGate(
        spec.id,
        parent=spec.parent,
        dimensions=tuple(ctx.dimensions[d.marker] for d in spec.dimensions),
        ranges=tuple((d.min, d.max) for d in spec.dimensions),
    )
    return PlacedGate(spec.id, spec.kind, (gate,))


def _place_polygon(spec: PolygonGateSpec, ctx: PlacementContext) -> PlacedGate:
    dims = (ctx.dimensions[spec.x], ctx.dimensions[spec.y])
    gate = PolygonGate(spec.id, parent=spec.parent, dimensions=dims, vertices=tuple(spec.vertices))
    return PlacedGate(spec.id, spec.kind, (gate,))


def _place_ellipse(spec: EllipseGateSpec, ctx: PlacementContext) -> PlacedGate:
    gate = EllipsoidGate(
        spec.id,
        parent=spec.parent,
        dimensions=(ctx.dimensions[spec.x], ctx.dimensions[spec.y]),
        mean=spec.mean,
        covariance=spec.covariance,
        distance_square=spec.distance_square,
    )
    return PlacedGate(spec.id, spec.kind, (gate,))


def _place_boolean(spec: BooleanGateSpec, ctx: PlacementContext) -> PlacedGate:
    gate = BooleanGate(
        spec.id,
        parent=spec.parent,
        op=BooleanOp(spec.op.value),
        operands=tuple(GateRef(ref) for ref in spec.of),
    )
    return PlacedGate(spec.id, spec.kind, (gate,))


PLACERS: dict[GateKind, Callable[[Any, PlacementContext], PlacedGate]] = {
    GateKind.RECTANGLE: _place_rectangle,
    GateKind.POLYGON: _place_polygon,
    GateKind.ELLIPSE: _place_ellipse,
    GateKind.BOOLEAN: _place_boolean,
    GateKind.DENSITY_VALLEY: _place_density_valley,
    GateKind.CONTROL_PERCENTILE: _place_control_percentile,
    GateKind.SINGLET_BAND: _place_singlet_band,
    GateKind.SCATTER_CLUSTER: _place_scatter_cluster,
    GateKind.TIME_QC: _place_time_qc,
}
