"""A sample's gate tree as FlowJo 10 population nodes.

Each population is a ``Population`` holding a ``Gate`` with one GatingML gate element
(``gating:RectangleGate`` of one or two dimensions, ``gating:PolygonGate``), its coordinates
as data values and its dimensions named as FlowJo parameters (``Comp-`` prefixed when
compensated); its children sit in ``Subpopulations``. A boolean gate is an ``AndNode``,
``OrNode`` or ``NotNode`` whose ``Dependents`` name the operands by their paths of population
names (``qc/cells/CD3+``), which is why a name may not hold ``/`` and siblings may not share
one. A quadrant gate is written as its quadrants, each the rectangle it is. What FlowJo cannot
express is refused by gate id and kind, never approximated: an ellipsoid (FlowJo stores
ellipses by four points and draws them as polygons), a complemented boolean operand, a
rectangle of more than two dimensions, a log scale where FlowJo's clamping at the offset would
move events into the gate.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from xml.etree import ElementTree as ET

from cytorelease.errors import TemplateError
from cytorelease.flow.gating.dimensions import GateDimension
from cytorelease.flow.gating.gates import BooleanGate, BooleanOp, Gate, PolygonGate, RectangleGate
from cytorelease.flow.gating.gatingml_import import GATING_NS
from cytorelease.flow.gating.strategy import GatingStrategy
from cytorelease.flow.transforms import LogTransform
from cytorelease.flow.wsp.write_parameters import SampleParameters, d, num, xml_text

__all__ = ["PopulationWriter"]

_BOOLEAN_NODES = {BooleanOp.AND: "AndNode", BooleanOp.OR: "OrNode", BooleanOp.NOT: "NotNode"}


def g(tag: str) -> str:
    return f"{{{GATING_NS}}}{tag}"


class PopulationWriter:
    """Writes one sample's populations: names, paths, FlowJo gate ids and the gate elements."""

    def __init__(
        self,
        strategy: GatingStrategy,
        parameters: SampleParameters,
        names: Mapping[str, str],
        counts: Mapping[str, int],
        next_id: Callable[[], str],
    ) -> None:
        self.strategy = strategy
        self.parameters = parameters
        self._names = names
        self._counts = counts
        self._next_id = next_id
        self._flowjo_ids: dict[str, str] = {}
        self._children: dict[str | None, list[str]] = {}
        for gate_id in self._tree_order():
            self._children.setdefault(strategy.population(gate_id).parent, []).append(gate_id)
        for parent, kids in self._children.items():
            seen: dict[str, str] = {}
            for kid in kids:
                name = self.name(kid)
                if name in seen:
                    where = "the sample" if parent is None else f"population {parent!r}"
                    raise TemplateError(
                        f"gates {seen[name]!r} and {kid!r} are both called {name!r} under "
                        f"{where}: FlowJo names a population by its path of names",
                        hint="give them different names",
                    )
                seen[name] = kid

    def _tree_order(self) -> list[str]:
        """Every population, parents first, children in the strategy's order."""
        order = self.strategy.population_ids
        kids: dict[str | None, list[str]] = {}
        for gate_id in order:
            kids.setdefault(self.strategy.population(gate_id).parent, []).append(gate_id)
        out: list[str] = []
        stack = list(reversed(kids.get(None, [])))
        while stack:
            gate_id = stack.pop()
            out.append(gate_id)
            stack.extend(reversed(kids.get(gate_id, [])))
        return out

    def name(self, gate_id: str) -> str:
        name = self._names.get(gate_id) or gate_id
        xml_text(name, f"gate {gate_id!r}: the name")
        if "/" in name:
            raise TemplateError(
                f"gate {gate_id!r} is called {name!r}: FlowJo separates the names in a "
                "population's path with '/', so a name cannot hold one",
                hint="rename it, e.g. 'Live/Dead-' to 'Live-Dead-'",
            )
        return name

    def path(self, gate_id: str) -> str:
        return "/".join(self.name(p) for p in self.strategy.path(gate_id))

    # nodes ----------------------------------------------------------------------------------
    def subpopulations(self, parent_element: ET.Element, parent: str | None) -> None:
        kids = self._children.get(parent, [])
        if not kids:
            return
        holder = ET.SubElement(parent_element, "Subpopulations")
        for gate_id in kids:
            self._node(holder, gate_id)

    def _node(self, holder: ET.Element, gate_id: str) -> None:
        gate = self.strategy.population(gate_id)
        attrs = {"name": self.name(gate_id), "annotation": "", "owningGroup": ""}
        if gate_id in self._counts:
            attrs["count"] = str(self._counts[gate_id])
        if isinstance(gate, BooleanGate):
            node = ET.SubElement(holder, _BOOLEAN_NODES[gate.op], attrs)
            self._graph(node, gate_id)
            self._boolean(node, gate)
        else:
            node = ET.SubElement(holder, "Population", attrs)
            self._graph(node, gate_id)
            self._gate(node, gate)
        self.subpopulations(node, gate_id)

    def _axes(self, gate_id: str, seen: tuple[str, ...] = ()) -> list[str]:
        """The parameters a population is drawn on: its gate's, or a boolean's first operand's."""
        gate = self.strategy.population(gate_id)
        if isinstance(gate, BooleanGate):
            for ref in gate.operands:
                if ref.gate_id not in seen and (axes := self._axes(ref.gate_id, (*seen, gate_id))):
                    return axes
            return []
        return [self.parameters.parameter(dim, gate_id) for dim in gate.dimensions]

    def _graph(self, node: ET.Element, gate_id: str) -> None:
        """The plot FlowJo opens for the node, on the gate's parameters, as every node of
        FlowJo's own workspaces has (users report FlowJo opening an empty plot for boolean
        nodes written without one, RGLab/CytoML#120)."""
        gate = self.strategy.population(gate_id)
        if not isinstance(gate, BooleanGate | PolygonGate | RectangleGate):
            raise TemplateError(_unsupported(gate))
        axes = self._axes(gate_id)
        kind = "Histogram" if len(axes) == 1 else "Pseudocolor"
        graph = ET.SubElement(node, "Graph", {"type": kind})
        for axis, name in zip(("x", "y"), [*axes, "", ""][:2], strict=True):
            ET.SubElement(
                graph, "Axis", {"dimension": axis, "name": name, "label": "", "auto": "auto"}
            )

    def _boolean(self, node: ET.Element, gate: BooleanGate) -> None:
        complemented = [ref.gate_id for ref in gate.operands if ref.complement]
        if complemented:
            raise TemplateError(
                f"gate {gate.id!r} ({gate.op.value}) takes the complement of "
                f"{complemented[0]!r}: a FlowJo and/or node combines populations as they are",
                hint="make the complement its own 'not' gate and combine that",
            )
        dependents = ET.SubElement(node, "Dependents")
        for ref in gate.operands:
            ET.SubElement(dependents, "Dependent", {"name": self.path(ref.gate_id)})

    def _gate(self, node: ET.Element, gate: Gate) -> None:
        if isinstance(gate, PolygonGate):
            writer = self._polygon
        elif isinstance(gate, RectangleGate):
            writer = self._rectangle
        else:
            raise TemplateError(_unsupported(gate))
        flowjo_id = self._next_id()
        self._flowjo_ids[gate.id] = flowjo_id
        ids = {g("id"): flowjo_id}
        parent_id = self._flowjo_ids.get(gate.parent) if gate.parent is not None else None
        if parent_id is not None:  # a boolean parent has no gate element to point at
            ids[g("parent_id")] = parent_id
        holder = ET.SubElement(node, "Gate", ids)
        writer(holder, gate, ids)

    def _dimension(
        self, element: ET.Element, dim: GateDimension, gate_id: str, bounds: Mapping[str, str]
    ) -> None:
        dimension = ET.SubElement(element, g("dimension"), {g(k): v for k, v in bounds.items()})
        name = self.parameters.parameter(dim, gate_id)
        ET.SubElement(dimension, d("fcs-dimension"), {d("name"): name})

    def _rectangle(self, holder: ET.Element, gate: Gate, ids: dict[str, str]) -> None:
        assert isinstance(gate, RectangleGate)
        if len(gate.dimensions) > 2:
            raise TemplateError(
                f"gate {gate.id!r} is a rectangle of {len(gate.dimensions)} dimensions: a "
                "FlowJo rectangle has one (a range) or two"
            )
        element = ET.SubElement(
            holder,
            g("RectangleGate"),
            {"eventsInside": "1", "userDefined": "1", "percentX": "0", "percentY": "0", **ids},
        )
        for dim, (lo, hi) in zip(gate.dimensions, gate.ranges, strict=True):
            if isinstance(dim.transform, LogTransform) and not (lo is not None and lo > 0):
                raise TemplateError(
                    f"gate {gate.id!r} reads {dim.transform.describe()} with no lower bound "
                    "above 0: FlowJo's log scale holds values below its offset at 0, which "
                    "would count them in this gate and the engine does not"
                )
            bounds = {}
            # an open end stays open: FlowJo writes its own quadrants so
            if lo is not None:
                bounds["min"] = num(self.parameters.raw(dim, lo, gate.id))
            if hi is not None:
                bounds["max"] = num(self.parameters.raw(dim, hi, gate.id))
            self._dimension(element, dim, gate.id, bounds)

    def _polygon(self, holder: ET.Element, gate: Gate, ids: dict[str, str]) -> None:
        assert isinstance(gate, PolygonGate)
        for dim in gate.dimensions:
            if isinstance(dim.transform, LogTransform):
                raise TemplateError(
                    f"gate {gate.id!r} is a polygon on {dim.transform.describe()}: FlowJo's "
                    "log scale holds values below its offset at 0, which can move events "
                    "across the polygon's edges"
                )
        element = ET.SubElement(
            holder,
            g("PolygonGate"),
            {
                "eventsInside": "1",
                "userDefined": "1",
                "quadId": "-1",
                "gateResolution": "256",
                **ids,
            },
        )
        for dim in gate.dimensions:
            self._dimension(element, dim, gate.id, {})
        for vertex in gate.vertices:
            if not all(math.isfinite(v) for v in vertex):
                raise TemplateError(f"gate {gate.id!r}: a vertex is not finite: {vertex!r}")
            vertex_element = ET.SubElement(element, g("vertex"))
            for dim, value in zip(gate.dimensions, vertex, strict=True):
                raw = self.parameters.raw(dim, value, gate.id)
                ET.SubElement(vertex_element, g("coordinate"), {d("value"): num(raw)})


def _unsupported(gate: Gate) -> str:
    kind = type(gate).__name__
    why = {
        "EllipsoidGate": "FlowJo stores an ellipse by four points on it and gates with a "
        "polygon drawn through them, so the workspace would not count what the ellipsoid does",
    }.get(kind, "FlowJo workspaces have no form for it")
    return f"gate {gate.id!r} ({kind}): {why}"
