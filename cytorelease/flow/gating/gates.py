"""The gate model: gate kinds as frozen dataclasses, each deciding membership with its own ``apply``.

Model (stable; templates and GatingML import/export both produce it)
---------------------------------------------------------------------
- Every gate has an ``id`` (unique in its strategy) and a ``parent`` (the id of the population it
  is drawn on, ``None`` for a top-level gate), and reads events through ``dimensions``
  (:class:`~cytorelease.flow.gating.dimensions.Dimension`: channel, compensation reference and
  scale transform; or a :class:`~cytorelease.flow.gating.dimensions.RatioDimension`). Gate
  coordinates are on the dimension's transformed scale, as in GatingML 2.0.
- ``gate.apply(events) -> np.ndarray[bool]`` is the gate's own shape test for every event,
  ignoring the parent; :class:`~cytorelease.flow.gating.strategy.GatingStrategy` ANDs in the
  parent's membership. ``events`` is an
  :class:`~cytorelease.flow.gating.dimensions.EventSource` or a plain mapping of channel name to
  values (taken as already compensated).
- Kinds:
  :class:`RectangleGate` (any number of dimensions; ``min <= x < max`` per dimension, ``None``
  for an open end; a 1-D rectangle is a range gate),
  :class:`PolygonGate` (2-D; a point is inside when the polygon winds around it an odd number of
  times, the crossing rule GatingML compliance data expects, so self-intersecting polygons have
  holes where they overlap themselves; points on an edge follow that rule's half-open
  convention),
  :class:`EllipsoidGate` (n-D; inside when ``(x - mean)' inv(cov) (x - mean) <= distance_square``),
  :class:`QuadrantGate` (dividers with cut values and named :class:`Quadrant` regions; each
  quadrant is a population of its own, reached through :meth:`Gate.populations`, with the
  quadrant gate's parent), and
  :class:`BooleanGate` (``and``/``or``/``not`` over other gates' full memberships, each reference
  optionally complemented).
- :meth:`Gate.populations` lists the populations a gate defines (itself, or its quadrants);
  :attr:`Gate.references` lists gates it needs besides its parent (boolean operands).
- Each kind also says what it is to the outside: :meth:`Gate.describe` (plain data for JSON
  and the result record), :meth:`Gate.outline` (its boundary on a plot of its dimensions) and
  :meth:`Gate.write_gatingml` (its GatingML 2.0 element's content).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from cytorelease.errors import TemplateError
from cytorelease.flow.gating._polygon_kernel import points_in_polygon
from cytorelease.flow.gating._range_kernel import and_in_range
from cytorelease.flow.gating.dimensions import (
    ArrayEvents,
    CompensationRef,
    Dimension,
    EventSource,
    GateDimension,
    RatioDimension,
    as_event_source,
)

__all__ = [
    "ArrayEvents",
    "BooleanGate",
    "BooleanOp",
    "CompensationRef",
    "Dimension",
    "EllipsoidGate",
    "Gate",
    "GateRef",
    "PolygonGate",
    "Quadrant",
    "QuadrantDivider",
    "QuadrantGate",
    "RatioDimension",
    "RectangleGate",
]

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element

    from cytorelease.flow.gating.gatingml_export import GatingMLWriter

Events = EventSource | Mapping[str, np.ndarray]


@dataclass(frozen=True)
class Gate(ABC):
    """Common fields of every gate kind."""

    id: str
    parent: str | None = field(default=None, kw_only=True)

    # the GatingML element this kind is written as (None: GatingML has no form for it)
    gatingml_element: ClassVar[str | None] = None
    # the template kind (GateKind value) a fixed gate of this kind is reported as
    fixed_kind: ClassVar[str] = "rectangle"

    if TYPE_CHECKING:  # a field in most kinds, a property in the others

        @property
        def dimensions(self) -> tuple[GateDimension, ...]: ...

    @property
    def references(self) -> tuple[str, ...]:
        """Other gates (besides the parent) whose membership this gate needs."""
        return ()

    def populations(self) -> tuple[Gate, ...]:
        """The populations this gate defines: itself, or (quadrant gate) one per quadrant."""
        return (self,)

    @abstractmethod
    def apply(self, events: Events) -> np.ndarray:
        """Boolean membership of every event in this gate's shape (the parent is not applied)."""

    def describe(self) -> dict[str, Any]:
        """The gate as plain data (for JSON and the result record)."""
        out: dict[str, Any] = {"id": self.id, "type": type(self).__name__, "parent": self.parent}
        dims = getattr(self, "dimensions", ())  # a kind may define none at all
        if dims:
            out["dimensions"] = [d.describe() for d in dims]
        out.update(self.describe_shape())
        return out

    def describe_shape(self) -> dict[str, Any]:
        """The fields of :meth:`describe` that only this kind has."""
        raise TypeError(f"gate {self.id!r}: no description for {type(self).__name__}")

    def outline(self) -> np.ndarray | None:
        """The boundary on a plot of the gate's dimensions, in gate coordinates: the vertices
        of a closed outline (n x 2) for a 2-D gate, the two ends (2 x 1) of a 1-D one; +-inf
        where the gate is open. None: the gate is not drawn (boolean, quadrant, n-D)."""
        return None

    def write_gatingml(self, out: GatingMLWriter, element: Element) -> None:
        """Write this gate's content (dimensions, coordinates...) into its GatingML element."""
        raise TemplateError(f"gate {self.id!r}: GatingML has no form for {type(self).__name__}")


def _columns(dimensions: tuple[GateDimension, ...], events: EventSource) -> list[np.ndarray]:
    return [dim.values(events) for dim in dimensions]


def _require(condition: bool, gate_id: str, problem: str) -> None:
    if not condition:
        raise TemplateError(f"gate {gate_id!r}: {problem}")


@dataclass(frozen=True)
class RectangleGate(Gate):
    """Per dimension ``min <= x < max``; ``None`` leaves that end open."""

    dimensions: tuple[GateDimension, ...] = ()
    ranges: tuple[tuple[float | None, float | None], ...] = ()

    def __post_init__(self) -> None:
        _require(
            len(self.dimensions) >= 1, self.id, "a rectangle gate needs at least one dimension"
        )
        _require(len(self.dimensions) == len(self.ranges), self.id, "one (min, max) per dimension")
        for lo, hi in self.ranges:
            _require(lo is not None or hi is not None, self.id, "a range needs a min or a max")
            _require(lo is None or hi is None or lo <= hi, self.id, f"min {lo} > max {hi}")

    gatingml_element = "RectangleGate"

    def apply(self, events: Events) -> np.ndarray:
        source = as_event_source(events)
        inside = np.ones(source.event_count, dtype=bool)
        for values, (lo, hi) in zip(_columns(self.dimensions, source), self.ranges, strict=True):
            and_in_range(values, lo, hi, inside)
        return inside

    def describe_shape(self) -> dict[str, Any]:
        return {"ranges": [list(r) for r in self.ranges]}

    def outline(self) -> np.ndarray | None:
        if len(self.ranges) > 2:
            return None
        lows, highs = np.array(
            [
                (-np.inf if lo is None else lo, np.inf if hi is None else hi)
                for lo, hi in self.ranges
            ],
            dtype=np.float64,
        ).T
        if len(self.ranges) == 1:
            return np.array([lows, highs])
        (left, bottom), (right, top) = lows, highs
        return np.array([[left, bottom], [right, bottom], [right, top], [left, top]])

    def write_gatingml(self, out: GatingMLWriter, element: Element) -> None:
        for dim, (lo, hi) in zip(self.dimensions, self.ranges, strict=True):
            bounds = {"gating:min": lo, "gating:max": hi}
            out.dimension(element, dim, {k: v for k, v in bounds.items() if v is not None})


@dataclass(frozen=True)
class PolygonGate(Gate):
    """A 2-D polygon given by its vertices (closed implicitly); odd winding number is inside."""

    dimensions: tuple[GateDimension, ...] = ()
    vertices: tuple[tuple[float, float], ...] = ()

    def __post_init__(self) -> None:
        _require(len(self.dimensions) == 2, self.id, "a polygon gate needs exactly two dimensions")
        _require(len(self.vertices) >= 3, self.id, "a polygon needs at least three vertices")

    gatingml_element = "PolygonGate"
    fixed_kind = "polygon"

    def apply(self, events: Events) -> np.ndarray:
        x, y = _columns(self.dimensions, as_event_source(events))
        return points_in_polygon(np.asarray(self.vertices, dtype=np.float64), x, y)

    def describe_shape(self) -> dict[str, Any]:
        return {"vertices": [list(v) for v in self.vertices]}

    def outline(self) -> np.ndarray | None:
        return np.asarray(self.vertices, dtype=np.float64)

    def write_gatingml(self, out: GatingMLWriter, element: Element) -> None:
        for dim in self.dimensions:
            out.dimension(element, dim)
        for vertex in self.vertices:
            out.coordinates(element, "gating:vertex", vertex)


@dataclass(frozen=True)
class EllipsoidGate(Gate):
    """Inside when the squared Mahalanobis distance to ``mean`` is at most ``distance_square``."""

    dimensions: tuple[GateDimension, ...] = ()
    mean: tuple[float, ...] = ()
    covariance: tuple[tuple[float, ...], ...] = ()
    distance_square: float = 1.0

    gatingml_element = "EllipsoidGate"
    fixed_kind = "ellipse"

    def __post_init__(self) -> None:
        n = len(self.dimensions)
        _require(n >= 2, self.id, "an ellipsoid gate needs at least two dimensions")
        _require(len(self.mean) == n, self.id, f"the mean needs {n} coordinates")
        _require(
            len(self.covariance) == n and all(len(row) == n for row in self.covariance),
            self.id,
            f"the covariance matrix must be {n}x{n}",
        )
        _require(self.distance_square > 0, self.id, "distance_square must be > 0")

    def apply(self, events: Events) -> np.ndarray:
        points = np.column_stack(_columns(self.dimensions, as_event_source(events)))
        centred = points - np.asarray(self.mean, dtype=np.float64)
        covariance = np.asarray(self.covariance, dtype=np.float64)
        try:
            # the quadratic form needs the inverse as such (GatingML defines the gate by it);
            # a singular covariance has no ellipsoid at all
            precision = np.linalg.inv(covariance)
        except np.linalg.LinAlgError:
            raise TemplateError(f"gate {self.id!r}: the covariance matrix is singular") from None
        distance = np.einsum("ij,ij->i", centred @ precision, centred)
        return distance <= self.distance_square

    def describe_shape(self) -> dict[str, Any]:
        return {
            "mean": list(self.mean),
            "covariance": [list(r) for r in self.covariance],
            "distance_square": self.distance_square,
        }

    def outline(self) -> np.ndarray | None:
        if len(self.dimensions) != 2:
            return None
        angles = np.linspace(0, 2 * np.pi, 96, endpoint=False)
        circle = np.column_stack([np.cos(angles), np.sin(angles)])
        radius = np.sqrt(self.distance_square)
        cholesky = np.linalg.cholesky(np.asarray(self.covariance))
        return np.asarray(self.mean) + radius * circle @ cholesky.T

    def write_gatingml(self, out: GatingMLWriter, element: Element) -> None:
        for dim in self.dimensions:
            out.dimension(element, dim)
        out.coordinates(element, "gating:mean", self.mean)
        matrix = out.child(element, "gating:covarianceMatrix")
        for row in self.covariance:
            row_element = out.child(matrix, "gating:row")
            for value in row:
                out.child(row_element, "gating:entry", {"data-type:value": value})
        out.child(element, "gating:distanceSquare", {"data-type:value": self.distance_square})


@dataclass(frozen=True)
class QuadrantDivider:
    """Cut values on one dimension; they split it into ``len(values) + 1`` intervals."""

    id: str
    dimension: GateDimension
    values: tuple[float, ...]

    def interval(self, location: float) -> tuple[float | None, float | None]:
        """The half-open interval ``[lo, hi)`` holding ``location`` (``None`` = unbounded)."""
        cuts = sorted(self.values)
        lo: float | None = None
        for cut in cuts:
            if location < cut:
                return lo, cut
            lo = cut
        return lo, None


@dataclass(frozen=True)
class Quadrant:
    """A named region: for each divider it names, the interval holding the given location.

    Dividers a quadrant does not name do not restrict it.
    """

    id: str
    positions: tuple[tuple[str, float], ...]  # (divider id, a location inside the interval)


@dataclass(frozen=True)
class QuadrantGate(Gate):
    """Dividers and quadrants; each quadrant is its own population (a rectangle on the dividers)."""

    dividers: tuple[QuadrantDivider, ...] = ()
    quadrants: tuple[Quadrant, ...] = ()

    gatingml_element = "QuadrantGate"  # each quadrant is a rectangle population (fixed_kind)

    def __post_init__(self) -> None:
        _require(len(self.dividers) >= 1, self.id, "a quadrant gate needs at least one divider")
        _require(len(self.quadrants) >= 1, self.id, "a quadrant gate needs at least one quadrant")
        known = {d.id for d in self.dividers}
        for quadrant in self.quadrants:
            for divider_id, _ in quadrant.positions:
                _require(
                    divider_id in known,
                    self.id,
                    f"quadrant {quadrant.id!r} refers to unknown divider {divider_id!r}",
                )

    @property
    def dimensions(self) -> tuple[GateDimension, ...]:
        return tuple(d.dimension for d in self.dividers)

    def quadrant_gate(self, quadrant_id: str) -> RectangleGate:
        """One quadrant as the rectangle it is (same parent as this gate)."""
        quadrant = next((q for q in self.quadrants if q.id == quadrant_id), None)
        if quadrant is None:
            raise TemplateError(f"quadrant gate {self.id!r} has no quadrant {quadrant_id!r}")
        by_id = {d.id: d for d in self.dividers}
        dims = tuple(by_id[div].dimension for div, _ in quadrant.positions)
        ranges = tuple(by_id[div].interval(loc) for div, loc in quadrant.positions)
        return RectangleGate(quadrant.id, parent=self.parent, dimensions=dims, ranges=ranges)

    def populations(self) -> tuple[Gate, ...]:
        return tuple(self.quadrant_gate(q.id) for q in self.quadrants)

    def apply(self, events: Events) -> np.ndarray:
        """Events in any of the quadrants."""
        source = as_event_source(events)
        inside = np.zeros(source.event_count, dtype=bool)
        for quadrant in self.populations():
            inside |= quadrant.apply(source)
        return inside

    def describe_shape(self) -> dict[str, Any]:
        return {
            "dividers": [
                {"id": d.id, "dimension": d.dimension.describe(), "values": list(d.values)}
                for d in self.dividers
            ],
            "quadrants": [
                {
                    "id": q.id,
                    "positions": [[divider, location] for divider, location in q.positions],
                }
                for q in self.quadrants
            ],
        }

    def write_gatingml(self, out: GatingMLWriter, element: Element) -> None:
        for divider in self.dividers:
            attrs = {"gating:id": out.xml_id(divider.id, "divider id")}
            divider_element = out.child(element, "gating:divider", attrs)
            out.refer(divider_element, divider.dimension)
            for value in divider.values:
                out.child(divider_element, "gating:value", text=value)
        for quadrant in self.quadrants:
            attrs = {"gating:id": out.xml_id(quadrant.id, "quadrant id")}
            quadrant_element = out.child(element, "gating:Quadrant", attrs)
            for divider_id, location in quadrant.positions:
                position: dict[str, str | float] = {
                    "gating:divider_ref": divider_id,
                    "gating:location": location,
                }
                out.child(quadrant_element, "gating:position", position)


class BooleanOp(StrEnum):
    AND = "and"
    OR = "or"
    NOT = "not"


@dataclass(frozen=True)
class GateRef:
    """An operand of a boolean gate: another gate's full membership, or its complement."""

    gate_id: str
    complement: bool = False


@dataclass(frozen=True)
class BooleanGate(Gate):
    """``and`` / ``or`` over two or more operands, or ``not`` of exactly one."""

    op: BooleanOp = BooleanOp.AND
    operands: tuple[GateRef, ...] = ()

    gatingml_element = "BooleanGate"
    fixed_kind = "boolean"

    def __post_init__(self) -> None:
        if self.op is BooleanOp.NOT:
            _require(len(self.operands) == 1, self.id, "'not' takes exactly one gate")
        else:
            _require(len(self.operands) >= 2, self.id, f"'{self.op}' takes two or more gates")

    @property
    def dimensions(self) -> tuple[GateDimension, ...]:
        return ()

    @property
    def references(self) -> tuple[str, ...]:
        return tuple(ref.gate_id for ref in self.operands)

    def apply(self, events: Events) -> np.ndarray:
        source = as_event_source(events)
        masks = []
        for ref in self.operands:
            mask = np.asarray(source.membership(ref.gate_id), dtype=bool)
            masks.append(~mask if ref.complement else mask)
        if self.op is BooleanOp.NOT:
            return ~masks[0]
        combine = np.logical_and if self.op is BooleanOp.AND else np.logical_or
        return combine.reduce(masks)

    def describe_shape(self) -> dict[str, Any]:
        out: dict[str, Any] = {"op": self.op.value, "operands": [r.gate_id for r in self.operands]}
        complemented = [r.gate_id for r in self.operands if r.complement]
        if complemented:
            out["complemented"] = complemented
        return out

    def write_gatingml(self, out: GatingMLWriter, element: Element) -> None:
        op_element = out.child(element, f"gating:{self.op.value}")
        for ref in self.operands:
            attrs = {"gating:ref": ref.gate_id}
            if ref.complement:
                attrs["gating:use-as-complement"] = "true"
            out.child(op_element, "gating:gateReference", attrs)
