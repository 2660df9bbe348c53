"""A workspace's gate tree as the engine's gates (:class:`~cytorelease.flow.gating.strategy.
GatingStrategy`), on FlowJo's display scales.

FlowJo stores gate coordinates as data values and gates on its display scale: a polygon's
edges are straight on the transformed axes. So every coordinate is put through the channel's
transform, and the gate's dimension carries that transform too. A channel named with the
matrix's prefix (``Comp-FITC-A``) reads the compensated detector (``FITC-A``); any other name
reads the values as acquired.

Each gate's id is its path of names joined with ``/`` (``CD3+/CD4+/IFNg+``), so gates of the
same name under different parents stay apart, and boolean nodes refer to their operands by
the same paths FlowJo writes.

Supported: rectangles (2-D, and 1-D range gates; FlowJo writes a quadrant as four of them),
polygons, ellipses (FlowJo's foci-and-edge form, as the exact ellipse), and/or/not nodes.
Anything else is refused by name: another gate kind, a gate keeping the events outside it,
a channel on a scale without an exact definition, a ratio dimension.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from xml.etree.ElementTree import Element

import numpy as np

from cytorelease.errors import TemplateError
from cytorelease.flow.compensation import FCS_SPILL_ID, SpilloverMatrix
from cytorelease.flow.gating.dimensions import Dimension
from cytorelease.flow.gating.gates import (
    BooleanGate,
    BooleanOp,
    EllipsoidGate,
    Gate,
    GateRef,
    PolygonGate,
    RectangleGate,
)
from cytorelease.flow.gating.gatingml_import import DATATYPE_NS, GATING_NS, parse_gate
from cytorelease.flow.gating.strategy import GatingStrategy
from cytorelease.flow.transforms import Transform
from cytorelease.flow.wsp.limits import quoted, shortened
from cytorelease.flow.wsp.model import ChannelTransform, UnsupportedTransform, WspMatrix, WspNode

__all__ = ["SUPPORTED_GATES", "GatingSource", "to_strategy"]

SUPPORTED_GATES = ("RectangleGate", "PolygonGate", "EllipsoidGate")
# FlowJo stores ellipses on its 256-bin display grid of each (transformed, 0..1) axis
_DISPLAY_BINS = 256.0


@dataclass(frozen=True)
class GatingSource:
    """A gate tree and what its channels are read with; ``label`` names it in errors."""

    label: str
    nodes: tuple[WspNode, ...]
    transforms: Mapping[str, ChannelTransform]
    matrix: WspMatrix | None
    linear_displays: Mapping[str, tuple[float, float]] = field(default_factory=dict)

    @property
    def compensation_id(self) -> str | None:
        """The compensation reference compensated dimensions use."""
        if self.matrix is None:
            return None
        if self.matrix.acquisition_defined:
            return FCS_SPILL_ID
        return self.matrix.name if self.matrix.name not in ("FCS", "uncompensated") else "wsp"

    def spillovers(self) -> list[SpilloverMatrix]:
        """The named matrix the gates use (an acquisition-defined one is the file's own)."""
        ref = self.compensation_id
        if self.matrix is None or ref in (None, FCS_SPILL_ID):
            return []
        m = self.matrix
        try:
            return [SpilloverMatrix(str(ref), m.detectors, m.detectors, m.matrix)]
        except TemplateError as error:
            raise TemplateError(f"{self.label} matrix {quoted(m.name)}: {error.problem}") from None

    def nodes_in_order(self) -> list[WspNode]:
        return [n for top in self.nodes for n in top.walk()]


def to_strategy(source: GatingSource) -> GatingStrategy:
    """The engine's gate tree for ``source``; raises a TemplateError naming the gate."""
    gates = []
    for top in source.nodes:
        for node in top.walk():
            parent = "/".join(node.path[:-1]) or None
            gates.append(_gate(node, parent, source))
    try:
        return GatingStrategy(gates, source.spillovers())
    except TemplateError as error:
        raise shortened(
            TemplateError(f"{source.label}: {error.problem}", hint=error.hint)
        ) from None


def _gate(node: WspNode, parent: str | None, source: GatingSource) -> Gate:
    where = f"{source.label} gate {quoted(node.key)}"
    if node.kind != "population":
        operands = tuple(GateRef("/".join(d)) for d in node.dependents)
        try:
            return BooleanGate(node.key, parent=parent, op=BooleanOp(node.kind), operands=operands)
        except TemplateError as error:
            raise shortened(TemplateError(f"{where}: {error.problem}")) from None
    element = node.element
    assert element is not None  # a population always has its shape (parse.py)
    kind = element.tag.rsplit("}", 1)[-1]
    if kind not in SUPPORTED_GATES:
        raise TemplateError(
            f"{where}: FlowJo gate kind {quoted(kind)} is not supported",
            hint="supported: " + ", ".join(SUPPORTED_GATES) + " and and/or/not nodes",
        )
    if element.get("eventsInside", "1") != "1":
        raise TemplateError(
            f"{where}: a {kind} keeping the events outside it (eventsInside=0) is not supported"
        )
    if kind == "EllipsoidGate":
        return _ellipse(element, node.key, parent, source, where)
    try:
        raw = parse_gate(element, node.name, parent)  # its id only names it in errors
        if isinstance(raw, RectangleGate):
            dims = [_dimension(d, source, where) for d in raw.dimensions]
            ranges = tuple(
                (_scale(t, lo), _scale(t, hi))
                for (_, t), (lo, hi) in zip(dims, raw.ranges, strict=True)
            )
            return RectangleGate(
                node.key, parent=parent, dimensions=tuple(d for d, _ in dims), ranges=ranges
            )
        assert isinstance(raw, PolygonGate)
        (dx, tx), (dy, ty) = (_dimension(d, source, where) for d in raw.dimensions)
        vertices = _vertices(tx, ty, raw.vertices)
        return PolygonGate(node.key, parent=parent, dimensions=(dx, dy), vertices=vertices)
    except TemplateError as error:
        if error.problem.startswith(where):
            raise
        raise TemplateError(f"{where}: {error.problem}", hint=error.hint) from None


def _vertices(
    tx: Transform | None, ty: Transform | None, points: tuple[tuple[float, float], ...]
) -> tuple[tuple[float, float], ...]:
    """Every vertex onto the display scales, each axis in one call."""
    xy = np.array(points, dtype=np.float64).reshape(-1, 2)
    xs = xy[:, 0] if tx is None else tx.apply(xy[:, 0])
    ys = xy[:, 1] if ty is None else ty.apply(xy[:, 1])
    return tuple(zip(xs.tolist(), ys.tolist(), strict=True))


def _scale(transform: Transform | None, value: float | None) -> float | None:
    if value is None or transform is None:
        return value
    return float(transform.apply(np.array([value]))[0])


def _dimension(dim: object, source: GatingSource, where: str) -> tuple[Dimension, Transform | None]:
    if not isinstance(dim, Dimension):
        raise TemplateError(f"{where}: a ratio dimension is not supported")
    name = dim.channel
    detector = source.matrix.detector_of(name) if source.matrix is not None else None
    channel = detector or name
    found = source.transforms.get(name, source.transforms.get(channel))
    if isinstance(found, UnsupportedTransform):
        raise TemplateError(
            f"{where}: channel {quoted(name)} is on FlowJo's {quoted(found.kind)} scale, which is not "
            f"supported ({found.reason})",
            hint="supported scales: linear, log, logicle, biex, fasinh",
        )
    compensation = source.compensation_id if detector is not None else None
    return Dimension(channel, found, compensation), found


def _points(element: Element | None, where: str, count: int) -> np.ndarray:
    vertices = [] if element is None else element.findall(f"{{{GATING_NS}}}vertex")
    rows = []
    for vertex in vertices:
        row = []
        for c in vertex.findall(f"{{{GATING_NS}}}coordinate"):
            try:
                row.append(float(c.get(f"{{{DATATYPE_NS}}}value") or ""))
            except ValueError:
                raise TemplateError(f"{where}: an ellipse coordinate is not a number") from None
        rows.append(row)
    if len(rows) != count or any(len(r) != 2 for r in rows):
        raise TemplateError(f"{where}: a FlowJo ellipse needs 2 foci and 4 edge points, 2-D")
    points = np.array(rows, dtype=np.float64) / _DISPLAY_BINS
    if not np.isfinite(points).all():
        raise TemplateError(f"{where}: an ellipse coordinate is not finite")
    return points


def _ellipse(
    element: Element, gate_id: str, parent: str | None, source: GatingSource, where: str
) -> Gate:
    """FlowJo's ellipse: two foci and four edge points (the ends of its axes, major first) on
    the display grid. The gate is the ellipse itself, ``|p - f1| + |p - f2| <= 2a``, written
    as the equivalent quadratic form."""
    dimension_elements = element.findall(f"{{{GATING_NS}}}dimension")
    names = [(d.find(f"{{{DATATYPE_NS}}}fcs-dimension"), d) for d in dimension_elements]
    if len(names) != 2 or any(n is None for n, _ in names):
        raise TemplateError(f"{where}: a FlowJo ellipse needs two named dimensions")
    dims = [
        _dimension(Dimension(n.get(f"{{{DATATYPE_NS}}}name") or ""), source, where)
        for n, _ in names
        if n is not None
    ]
    if any(t is None for _, t in dims):
        raise TemplateError(f"{where}: an ellipse on a channel without a display scale")
    # the display (0..1 per axis) onto each dimension's scale: the same for the curved
    # scales, an affine map for a linear one whose display does not start at data 0
    slope, origin = np.ones(2), np.zeros(2)
    for axis, (dim, transform) in enumerate(dims):
        span = source.linear_displays.get(dim.channel)
        if span is not None and transform is not None:
            low, high = span
            origin[axis], top = (float(v) for v in transform.apply(np.array([low, high])))
            slope[axis] = top - origin[axis]
    foci = _points(element.find(f"{{{GATING_NS}}}foci"), where, 2)
    edges = _points(element.find(f"{{{GATING_NS}}}edge"), where, 4)
    centre = foci.mean(axis=0)
    focal = float(np.linalg.norm(foci[1] - foci[0])) / 2.0
    major = max(np.linalg.norm(edges[0] - edges[1]), np.linalg.norm(edges[2] - edges[3])) / 2.0
    if not major > focal:
        raise TemplateError(f"{where}: the ellipse's axis is not longer than its foci are apart")
    minor = math.sqrt(major**2 - focal**2)
    # a circle (no focal distance) has every direction for an axis
    direction = (foci[1] - foci[0]) / (2.0 * focal) if focal > 0 else np.array([1.0, 0.0])
    rotation = np.column_stack([direction, [-direction[1], direction[0]]])
    covariance = rotation @ np.diag([major**2, minor**2]) @ rotation.T
    # an ellipse stays one under the per-axis affine map onto the dimensions' scales
    covariance = np.diag(slope) @ covariance @ np.diag(slope)
    centre = centre * slope + origin
    return EllipsoidGate(
        gate_id,
        parent=parent,
        dimensions=tuple(d for d, _ in dims),
        mean=(float(centre[0]), float(centre[1])),
        covariance=tuple(tuple(float(v) for v in row) for row in covariance),
        distance_square=1.0,
    )
