"""Read a GatingML 2.0 document into a :class:`~cytorelease.flow.gating.strategy.GatingStrategy`.

Supported: ``gating:RectangleGate`` (ranges and n-D rectangles), ``PolygonGate``,
``EllipsoidGate``, ``QuadrantGate``, ``BooleanGate`` (and / or / not, ``use-as-complement``),
``parent_id``; ``transforms:transformation`` holding ``flin``, ``flog``, ``fasinh``, ``logicle``,
``hyperlog`` or ``fratio``; ``transforms:spectrumMatrix``; ``compensation-ref`` (a matrix id,
``uncompensated`` or ``FCS``) and ``transformation-ref`` on dimensions and dividers.
The XML is parsed with defusedxml, which refuses entity expansion and external references.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from xml.etree.ElementTree import Element

import numpy as np
from defusedxml import DefusedXmlException
from defusedxml import ElementTree as SafeET

from cytorelease.errors import CytoreleaseError, TemplateError
from cytorelease.flow.compensation import SpilloverMatrix
from cytorelease.flow.gating.dimensions import Dimension, GateDimension, RatioDimension
from cytorelease.flow.gating.gates import (
    BooleanGate,
    BooleanOp,
    EllipsoidGate,
    Gate,
    GateRef,
    PolygonGate,
    Quadrant,
    QuadrantDivider,
    QuadrantGate,
    RectangleGate,
)
from cytorelease.flow.gating.strategy import GatingStrategy
from cytorelease.flow.transforms import TRANSFORM_CLASSES, Transform, TransformKind

__all__ = [
    "DATATYPE_NS",
    "GATING_NS",
    "MAX_MATRIX_DETECTORS",
    "MAX_NESTING_DEPTH",
    "MAX_POLYGON_VERTICES",
    "TRANSFORMS_NS",
    "parse_gate",
    "parse_gatingml",
    "quoted",
    "read_gatingml",
]

GATING_NS = "http://www.isac-net.org/std/Gating-ML/v2.0/gating"
TRANSFORMS_NS = "http://www.isac-net.org/std/Gating-ML/v2.0/transformations"
DATATYPE_NS = "http://www.isac-net.org/std/Gating-ML/v2.0/datatypes"

# Spectral cytometers have up to a few hundred detectors; a larger matrix is not a panel and
# its rank check alone would cost memory quadratic in its size.
MAX_MATRIX_DETECTORS = 512
# Each population's path names every gate above it, so the result of a chain of nested gates
# grows with the square of its depth; hand-drawn strategies nest a few dozen deep at most.
MAX_NESTING_DEPTH = 100
# Freehand and spline polygons run to a few thousand vertices; far more is not a drawn gate.
MAX_POLYGON_VERTICES = 100_000


# characters of a name from the file an error quotes before it cuts the name short
_QUOTED_CHARACTERS = 80


def quoted(name: str | None) -> str:
    """A name (or value) from the file as an error quotes it: in full when short, else its
    first 80 characters and its length, so a 20 MB name does not make a 20 MB error line."""
    if name is None or len(name) <= _QUOTED_CHARACTERS:
        return repr(name)
    return f"{name[:_QUOTED_CHARACTERS]!r}... ({len(name):,} characters)"


def _g(tag: str) -> str:
    return f"{{{GATING_NS}}}{tag}"


def _t(tag: str) -> str:
    return f"{{{TRANSFORMS_NS}}}{tag}"


def _d(tag: str) -> str:
    return f"{{{DATATYPE_NS}}}{tag}"


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _float(text: str | None, what: str) -> float:
    try:
        return float(text)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise TemplateError(f"{what}: expected a number, found {quoted(text)}") from None


def _optional_float(text: str | None, what: str) -> float | None:
    return None if text is None else _float(text, what)


def _probe(transform: Transform, where: str) -> None:
    try:
        transform.check_evaluable()
    except CytoreleaseError as error:
        raise TemplateError(f"{where}: {error.problem}", hint=error.hint) from None


class _Reader:
    """One document's definitions: transforms and ratios by id, then gates."""

    def __init__(self, root: Element) -> None:
        self.root = root
        self.transforms: dict[str, Transform] = {}
        self.ratios: dict[str, tuple[str, str, float, float, float]] = {}
        self.spillovers: list[SpilloverMatrix] = []

    # definitions ----------------------------------------------------------------------------
    def read_transformation(self, element: Element) -> None:
        transform_id = element.get(_t("id"))
        if not transform_id or len(element) != 1:
            raise TemplateError(
                "a transforms:transformation needs a transforms:id and exactly one transform"
            )
        body = element[0]
        kind = _local(body.tag)
        where = f"transformation {quoted(transform_id)}"
        if kind == "fratio":
            names = [d.get(_d("name")) or "" for d in body.findall(_d("fcs-dimension"))]
            if len(names) != 2 or not all(names):
                raise TemplateError(f"{where}: fratio needs two data-type:fcs-dimension names")
            a, b, c = (_float(body.get(_t(p), "0" if p != "A" else "1"), where) for p in "ABC")
            self.ratios[transform_id] = (names[0], names[1], a, b, c)
            return
        try:
            cls = TRANSFORM_CLASSES[TransformKind(kind)]
        except (ValueError, KeyError):  # KeyError: a FlowJo scale, which GatingML lacks
            raise TemplateError(
                f"{where}: unknown transform transforms:{kind}",
                hint="supported: flin, flog, fasinh, logicle, hyperlog, fratio",
            ) from None
        params = {
            name: _float(value, f"{where} parameter {name}")
            for key, value in body.attrib.items()
            if (name := _local(key)) in ("T", "W", "M", "A")
        }
        try:
            transform = cls(**params, id=transform_id)  # type: ignore[arg-type]
        except TypeError as error:
            raise TemplateError(f"{where}: wrong parameters for {kind}: {error}") from None
        _probe(transform, where)
        self.transforms[transform_id] = transform

    def read_spectrum_matrix(self, element: Element) -> None:
        matrix_id = element.get(_t("id")) or ""
        where = f"spectrumMatrix {quoted(matrix_id)}"

        def names(tag: str) -> tuple[str, ...]:
            group = element.find(_t(tag))
            if group is None:
                raise TemplateError(f"{where}: missing transforms:{tag}")
            return tuple(d.get(_d("name")) or "" for d in group.findall(_d("fcs-dimension")))

        fluorochromes, detectors = names("fluorochromes"), names("detectors")
        if len(detectors) > MAX_MATRIX_DETECTORS:
            raise TemplateError(
                f"{where} names {len(detectors)} detectors; at most {MAX_MATRIX_DETECTORS} "
                "are accepted"
            )
        spectra = element.findall(_t("spectrum"))
        if len(spectra) != len(fluorochromes):
            raise TemplateError(
                f"{where} has {len(spectra)} spectra for {len(fluorochromes)} fluorochromes "
                "(one spectrum per fluorochrome)"
            )
        rows = []
        for number, spectrum in enumerate(spectra, 1):
            row = [
                _float(c.get(_t("value")), f"{where} coefficient")
                for c in spectrum.findall(_t("coefficient"))
            ]
            if len(row) != len(detectors):
                raise TemplateError(
                    f"{where}: spectrum {number} has {len(row)} coefficients for "
                    f"{len(detectors)} detectors"
                )
            rows.append(row)
        matrix = np.array(rows, dtype=np.float64).reshape(len(fluorochromes), len(detectors))
        if element.get(_t("matrix-inverted-already"), "false").lower() == "true":
            # the document stores the compensation matrix itself; our model holds spillover
            try:
                if matrix.shape[0] != matrix.shape[1] or not np.isfinite(matrix).all():
                    raise np.linalg.LinAlgError
                matrix = np.asarray(np.linalg.inv(matrix), dtype=np.float64)
            except np.linalg.LinAlgError:
                raise TemplateError(
                    f"{where} is marked matrix-inverted-already but is not an invertible "
                    "square matrix"
                ) from None
        self.spillovers.append(SpilloverMatrix(matrix_id, fluorochromes, detectors, matrix))

    # dimensions -----------------------------------------------------------------------------
    def scale(self, ref: str | None, where: str) -> Transform | None:
        if ref is None:
            return None
        try:
            return self.transforms[ref]
        except KeyError:
            raise TemplateError(
                f"{where}: unknown transformation-ref {quoted(ref)}",
                hint="defined: " + (", ".join([*self.transforms, *self.ratios]) or "none"),
            ) from None

    def dimension(self, element: Element, where: str) -> GateDimension:
        compensation = element.get(_g("compensation-ref"))
        transform = self.scale(element.get(_g("transformation-ref")), where)
        fcs = element.find(_d("fcs-dimension"))
        if fcs is not None:
            name = fcs.get(_d("name"))
            if not name:
                raise TemplateError(f"{where}: data-type:fcs-dimension without a name")
            return Dimension(name, transform, compensation)
        new = element.find(_d("new-dimension"))
        if new is not None:
            ref = new.get(_d("transformation-ref")) or ""
            if ref not in self.ratios:
                raise TemplateError(f"{where}: new-dimension refers to unknown ratio {quoted(ref)}")
            numerator, denominator, a, b, c = self.ratios[ref]
            return RatioDimension(ref, numerator, denominator, a, b, c, transform, compensation)
        raise TemplateError(f"{where}: a dimension needs a data-type:fcs-dimension")

    # gates ----------------------------------------------------------------------------------
    def gate(self, element: Element) -> Gate:
        kind = _local(element.tag)
        gate_id = element.get(_g("id"))
        if not gate_id:
            raise TemplateError(f"a gating:{kind} has no gating:id")
        parent = element.get(_g("parent_id"))
        builder = _GATE_BUILDERS.get(kind)
        if builder is None:
            raise TemplateError(
                f"gate {quoted(gate_id)}: unknown gate kind gating:{kind}",
                hint="supported: " + ", ".join(f"gating:{k}" for k in _GATE_BUILDERS),
            )
        return builder(self, element, gate_id, parent)

    def _dims(self, element: Element, gate_id: str) -> list[tuple[Element, GateDimension]]:
        return [
            (d, self.dimension(d, f"gate {quoted(gate_id)}"))
            for d in element.findall(_g("dimension"))
        ]

    def rectangle(self, element: Element, gate_id: str, parent: str | None) -> Gate:
        dims = self._dims(element, gate_id)
        ranges = tuple(
            (
                _optional_float(d.get(_g("min")), f"gate {quoted(gate_id)} min"),
                _optional_float(d.get(_g("max")), f"gate {quoted(gate_id)} max"),
            )
            for d, _ in dims
        )
        return RectangleGate(
            gate_id, parent=parent, dimensions=tuple(x for _, x in dims), ranges=ranges
        )

    def _coordinates(self, element: Element, gate_id: str) -> tuple[float, ...]:
        return tuple(
            _float(c.get(_d("value")), f"gate {quoted(gate_id)} coordinate")
            for c in element.findall(_g("coordinate"))
        )

    def polygon(self, element: Element, gate_id: str, parent: str | None) -> Gate:
        count = sum(1 for _ in element.iterfind(_g("vertex")))
        if count > MAX_POLYGON_VERTICES:
            raise TemplateError(
                f"gate {quoted(gate_id)}: a polygon of {count} vertices; at most "
                f"{MAX_POLYGON_VERTICES} are accepted"
            )
        vertices = []
        for vertex in element.findall(_g("vertex")):
            coords = self._coordinates(vertex, gate_id)
            if len(coords) != 2:
                raise TemplateError(f"gate {quoted(gate_id)}: a vertex needs two coordinates")
            vertices.append((coords[0], coords[1]))
        dims = tuple(x for _, x in self._dims(element, gate_id))
        return PolygonGate(gate_id, parent=parent, dimensions=dims, vertices=tuple(vertices))

    def ellipsoid(self, element: Element, gate_id: str, parent: str | None) -> Gate:
        mean = element.find(_g("mean"))
        matrix = element.find(_g("covarianceMatrix"))
        distance = element.find(_g("distanceSquare"))
        if mean is None or matrix is None or distance is None:
            raise TemplateError(
                f"gate {quoted(gate_id)}: an ellipsoid needs mean, covarianceMatrix and distanceSquare"
            )
        covariance = tuple(
            tuple(_float(e.get(_d("value")), f"gate {quoted(gate_id)} covariance") for e in row)
            for row in matrix.findall(_g("row"))
        )
        return EllipsoidGate(
            gate_id,
            parent=parent,
            dimensions=tuple(x for _, x in self._dims(element, gate_id)),
            mean=self._coordinates(mean, gate_id),
            covariance=covariance,
            distance_square=_float(
                distance.get(_d("value")), f"gate {quoted(gate_id)} distanceSquare"
            ),
        )

    def quadrant(self, element: Element, gate_id: str, parent: str | None) -> Gate:
        dividers = []
        for div in element.findall(_g("divider")):
            div_id = div.get(_g("id")) or ""
            values = tuple(
                _float(v.text, f"gate {quoted(gate_id)} divider {quoted(div_id)}")
                for v in div.findall(_g("value"))
            )
            dimension = self.dimension(div, f"gate {quoted(gate_id)} divider {quoted(div_id)}")
            dividers.append(QuadrantDivider(div_id, dimension, values))
        quadrants = []
        for quad in element.findall(_g("Quadrant")):
            positions = tuple(
                (
                    p.get(_g("divider_ref")) or "",
                    _float(p.get(_g("location")), f"gate {quoted(gate_id)} quadrant location"),
                )
                for p in quad.findall(_g("position"))
            )
            quadrants.append(Quadrant(quad.get(_g("id")) or "", positions))
        return QuadrantGate(
            gate_id, parent=parent, dividers=tuple(dividers), quadrants=tuple(quadrants)
        )

    def boolean(self, element: Element, gate_id: str, parent: str | None) -> Gate:
        ops = [child for child in element if _local(child.tag) in {op.value for op in BooleanOp}]
        if len(ops) != 1:
            raise TemplateError(
                f"gate {quoted(gate_id)}: a boolean gate needs one and/or/not element"
            )
        operands = tuple(
            GateRef(
                ref.get(_g("ref")) or "",
                (ref.get(_g("use-as-complement")) or "false").lower() == "true",
            )
            for ref in ops[0].findall(_g("gateReference"))
        )
        return BooleanGate(
            gate_id, parent=parent, op=BooleanOp(_local(ops[0].tag)), operands=operands
        )


_GATE_BUILDERS: dict[str, Callable[[_Reader, Element, str, str | None], Gate]] = {
    "RectangleGate": _Reader.rectangle,
    "PolygonGate": _Reader.polygon,
    "EllipsoidGate": _Reader.ellipsoid,
    "QuadrantGate": _Reader.quadrant,
    "BooleanGate": _Reader.boolean,
}


def parse_gate(element: Element, gate_id: str, parent: str | None) -> Gate:
    """One GatingML gate element as a gate called ``gate_id`` (documents that embed GatingML
    gates, such as FlowJo workspaces, name gates their own way). Dimensions name channels as
    written, without transforms or compensation; a kind not read here is refused by name."""
    kind = _local(element.tag)
    builder = _GATE_BUILDERS.get(kind)
    if builder is None:
        raise TemplateError(
            f"gate {quoted(gate_id)}: unknown gate kind gating:{kind}",
            hint="supported: " + ", ".join(f"gating:{k}" for k in _GATE_BUILDERS),
        )
    return builder(_Reader(element), element, gate_id, parent)


def parse_gatingml(root: Element) -> GatingStrategy:
    """A strategy from a parsed GatingML 2.0 root element."""
    if _local(root.tag) != "Gating-ML":
        raise TemplateError(f"not a GatingML document: the root element is <{_local(root.tag)}>")
    reader = _Reader(root)
    # transforms first: gates may refer to transformations defined after them
    for child in root:
        if child.tag == _t("transformation"):
            reader.read_transformation(child)
        elif child.tag == _t("spectrumMatrix"):
            reader.read_spectrum_matrix(child)
    gates = []
    for child in root:
        tag = child.tag if isinstance(child.tag, str) else ""
        if tag.startswith(f"{{{GATING_NS}}}"):
            gates.append(reader.gate(child))
    if not gates:
        nested = [e for e in root.iter() if str(e.tag).endswith("Gate") and e not in list(root)]
        raise TemplateError(
            "the GatingML document holds no gates",
            hint=f"found gating:{_local(nested[0].tag)} nested inside another element; gates "
            "must be direct children of gating:Gating-ML"
            if nested
            else "add gating:RectangleGate, PolygonGate, ... elements",
        )
    _check_depth(gates)
    return GatingStrategy(gates, reader.spillovers)


def _check_depth(gates: list[Gate]) -> None:
    """Refuse a chain of nested gates deeper than MAX_NESTING_DEPTH, naming the first gate
    beyond it. Each population is walked once (unknown parents and cycles are left to the
    strategy's own checks)."""
    parents = {p.id: p.parent for gate in gates for p in gate.populations()}
    depth: dict[str, int] = {}
    for start in parents:
        chain: list[str] = []
        on_chain: set[str] = set()
        current: str | None = start
        while current in parents and current not in depth and current not in on_chain:
            chain.append(current)
            on_chain.add(current)
            current = parents[current]
        if current in on_chain:
            continue  # a cycle: GatingStrategy names it
        level = depth.get(current, 0) if current is not None else 0
        for gate_id in reversed(chain):
            level += 1
            depth[gate_id] = level
            if level > MAX_NESTING_DEPTH:
                raise TemplateError(
                    f"gate {quoted(gate_id)} is nested {level} gates deep; at most "
                    f"{MAX_NESTING_DEPTH} levels are accepted"
                )


def read_gatingml(source: str | Path) -> GatingStrategy:
    """Read a GatingML 2.0 file. Errors are TemplateErrors naming the file."""
    path = Path(source)
    try:
        root = SafeET.parse(path).getroot()
    except OSError as error:
        raise TemplateError(f"cannot read GatingML: {error.strerror}", path=path) from None
    except DefusedXmlException as error:
        raise TemplateError(f"refused unsafe XML ({error})", path=path) from None
    except SafeET.ParseError as error:
        raise TemplateError(f"malformed XML: {error}", path=path) from None
    except LookupError as error:  # the XML declaration names an encoding Python does not know
        raise TemplateError(f"malformed XML: {error}", path=path) from None
    try:
        return parse_gatingml(root)
    except TemplateError as error:
        raise error.with_path(path) from None
