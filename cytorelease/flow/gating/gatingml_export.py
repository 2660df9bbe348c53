"""Write a :class:`~cytorelease.flow.gating.strategy.GatingStrategy` as a GatingML 2.0 document.

Every gate kind is written as its GatingML element, with its dimensions' compensation
references (``uncompensated``, ``FCS`` or a ``spectrumMatrix`` written into the document) and
transformations (one ``transforms:transformation`` per distinct transform; ratio dimensions as
``fratio`` transformations). Numbers are written with ``repr`` so they read back exactly.
The result loads in FlowKit (``flowkit.parse_gating_xml``) and gates a file identically.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import BinaryIO, TextIO
from xml.etree import ElementTree as ET

from cytorelease.errors import TemplateError
from cytorelease.flow.compensation import SpilloverMatrix
from cytorelease.flow.gating.dimensions import (
    CompensationRef,
    Dimension,
    GateDimension,
    RatioDimension,
)
from cytorelease.flow.gating.gates import (
    BooleanGate,
    EllipsoidGate,
    Gate,
    PolygonGate,
    QuadrantGate,
    RectangleGate,
)
from cytorelease.flow.gating.gatingml_import import DATATYPE_NS, GATING_NS, TRANSFORMS_NS
from cytorelease.flow.gating.strategy import GatingStrategy
from cytorelease.flow.sample import Sample
from cytorelease.flow.transforms import Transform

__all__ = ["export_gatingml", "gatingml_bytes"]

ET.register_namespace("gating", GATING_NS)
ET.register_namespace("transforms", TRANSFORMS_NS)
ET.register_namespace("data-type", DATATYPE_NS)


def _g(tag: str) -> str:
    return f"{{{GATING_NS}}}{tag}"


def _t(tag: str) -> str:
    return f"{{{TRANSFORMS_NS}}}{tag}"


def _d(tag: str) -> str:
    return f"{{{DATATYPE_NS}}}{tag}"


# xs:ID / xs:NCName, the type of every GatingML id: no spaces, '+', ':' or leading digit
_NCNAME = re.compile(r"^[^\W\d][\w.\-]*$")


def _xml_id(value: str, what: str) -> str:
    if not _NCNAME.match(value):
        raise TemplateError(
            f"{what} {value!r} cannot be written to GatingML: ids there must start with a letter "
            "or '_' and hold only letters, digits, '.', '-' and '_'",
            hint="rename it, e.g. 'CD3+' to 'CD3_pos'",
        )
    return value


def _num(value: float) -> str:
    return repr(float(value))


class _Writer:
    def __init__(self, strategy: GatingStrategy, sample: Sample | None) -> None:
        self.strategy = strategy
        self.sample = sample
        self.root = ET.Element(_g("Gating-ML"))
        self.transform_ids: dict[Transform, str] = {}
        self.ratio_ids: set[str] = set()

    # names ----------------------------------------------------------------------------------
    def channel(self, name: str) -> str:
        """$PnN for a channel named by label, when a sample is given (GatingML uses $PnN)."""
        if self.sample is None or name in self.sample.channel_names:
            return name
        for matrix in self.strategy.spillovers.values():
            if name in matrix.fluorochromes:
                return name
        return self.sample.channel_names[self.sample.channel_index(name)]

    def transform_ref(self, transform: Transform) -> str:
        if transform not in self.transform_ids:
            taken = set(self.transform_ids.values()) | self.ratio_ids
            base = "_".join(
                [transform.kind.value, *(f"{k}{v:g}" for k, v in transform.parameters.items())]
            )
            if transform.id and _NCNAME.match(transform.id):
                base = transform.id
            ref, n = base, 1
            while ref in taken:
                n += 1
                ref = f"{base}_{n}"
            self.transform_ids[transform] = ref
            element = ET.SubElement(self.root, _t("transformation"), {_t("id"): ref})
            params = {_t(k): _num(v) for k, v in transform.parameters.items()}
            ET.SubElement(element, _t(transform.kind.value), params)
        return self.transform_ids[transform]

    def ratio_ref(self, dim: RatioDimension) -> str:
        if dim.id not in self.ratio_ids:
            self.ratio_ids.add(_xml_id(dim.id, "ratio dimension id"))
            element = ET.SubElement(self.root, _t("transformation"), {_t("id"): dim.id})
            body = ET.SubElement(
                element,
                _t("fratio"),
                {_t("A"): _num(dim.A), _t("B"): _num(dim.B), _t("C"): _num(dim.C)},
            )
            for name in dim.channels:
                ET.SubElement(body, _d("fcs-dimension"), {_d("name"): self.channel(name)})
        return dim.id

    # pieces ---------------------------------------------------------------------------------
    def dimension_attrs(self, dim: GateDimension) -> dict[str, str]:
        attrs = {_g("compensation-ref"): dim.compensation or CompensationRef.UNCOMPENSATED.value}
        if dim.transform is not None:
            attrs[_g("transformation-ref")] = self.transform_ref(dim.transform)
        return attrs

    def dimension_body(self, parent: ET.Element, dim: GateDimension) -> None:
        if isinstance(dim, Dimension):
            ET.SubElement(parent, _d("fcs-dimension"), {_d("name"): self.channel(dim.channel)})
        else:
            ET.SubElement(
                parent, _d("new-dimension"), {_d("transformation-ref"): self.ratio_ref(dim)}
            )

    def dimension(
        self, gate_element: ET.Element, dim: GateDimension, extra: dict[str, str] | None = None
    ) -> ET.Element:
        element = ET.SubElement(
            gate_element, _g("dimension"), {**self.dimension_attrs(dim), **(extra or {})}
        )
        self.dimension_body(element, dim)
        return element

    def spectrum_matrix(self, matrix: SpilloverMatrix) -> None:
        matrix_id = _xml_id(matrix.id, "spillover matrix id")
        element = ET.SubElement(self.root, _t("spectrumMatrix"), {_t("id"): matrix_id})
        for tag, names in (
            ("fluorochromes", matrix.fluorochromes),
            ("detectors", matrix.detectors),
        ):
            group = ET.SubElement(element, _t(tag))
            for name in names:
                ET.SubElement(group, _d("fcs-dimension"), {_d("name"): self.channel(name)})
        for row in matrix.matrix:
            spectrum = ET.SubElement(element, _t("spectrum"))
            for value in row:
                ET.SubElement(spectrum, _t("coefficient"), {_t("value"): _num(value)})

    # gates ----------------------------------------------------------------------------------
    def gate(self, gate: Gate) -> None:
        writer = _GATE_WRITERS.get(type(gate))
        if writer is None:
            raise TemplateError(f"gate {gate.id!r}: GatingML has no form for {type(gate).__name__}")
        attrs = {_g("id"): _xml_id(gate.id, "gate id")}
        if gate.parent is not None:
            attrs[_g("parent_id")] = gate.parent
        element = ET.SubElement(self.root, _g(_ELEMENT_NAMES[type(gate)]), attrs)
        writer(self, element, gate)

    def rectangle(self, element: ET.Element, gate: Gate) -> None:
        assert isinstance(gate, RectangleGate)
        for dim, (lo, hi) in zip(gate.dimensions, gate.ranges, strict=True):
            bounds = {}
            if lo is not None:
                bounds[_g("min")] = _num(lo)
            if hi is not None:
                bounds[_g("max")] = _num(hi)
            self.dimension(element, dim, bounds)

    def _coordinates(self, parent: ET.Element, tag: str, values: tuple[float, ...]) -> None:
        group = ET.SubElement(parent, _g(tag))
        for value in values:
            ET.SubElement(group, _g("coordinate"), {_d("value"): _num(value)})

    def polygon(self, element: ET.Element, gate: Gate) -> None:
        assert isinstance(gate, PolygonGate)
        for dim in gate.dimensions:
            self.dimension(element, dim)
        for vertex in gate.vertices:
            self._coordinates(element, "vertex", vertex)

    def ellipsoid(self, element: ET.Element, gate: Gate) -> None:
        assert isinstance(gate, EllipsoidGate)
        for dim in gate.dimensions:
            self.dimension(element, dim)
        self._coordinates(element, "mean", gate.mean)
        matrix = ET.SubElement(element, _g("covarianceMatrix"))
        for row in gate.covariance:
            row_element = ET.SubElement(matrix, _g("row"))
            for value in row:
                ET.SubElement(row_element, _g("entry"), {_d("value"): _num(value)})
        ET.SubElement(element, _g("distanceSquare"), {_d("value"): _num(gate.distance_square)})

    def quadrant(self, element: ET.Element, gate: Gate) -> None:
        assert isinstance(gate, QuadrantGate)
        for divider in gate.dividers:
            attrs = {
                _g("id"): _xml_id(divider.id, "divider id"),
                **self.dimension_attrs(divider.dimension),
            }
            div_element = ET.SubElement(element, _g("divider"), attrs)
            self.dimension_body(div_element, divider.dimension)
            for value in divider.values:
                ET.SubElement(div_element, _g("value")).text = _num(value)
        for quadrant in gate.quadrants:
            quad_element = ET.SubElement(
                element, _g("Quadrant"), {_g("id"): _xml_id(quadrant.id, "quadrant id")}
            )
            for divider_id, location in quadrant.positions:
                ET.SubElement(
                    quad_element,
                    _g("position"),
                    {_g("divider_ref"): divider_id, _g("location"): _num(location)},
                )

    def boolean(self, element: ET.Element, gate: Gate) -> None:
        assert isinstance(gate, BooleanGate)
        op_element = ET.SubElement(element, _g(gate.op.value))
        for ref in gate.operands:
            attrs = {_g("ref"): ref.gate_id}
            if ref.complement:
                attrs[_g("use-as-complement")] = "true"
            ET.SubElement(op_element, _g("gateReference"), attrs)

    def document(self) -> ET.Element:
        for matrix in self.strategy.spillovers.values():
            self.spectrum_matrix(matrix)
        for gate in self.strategy.gates:
            self.gate(gate)
        # transformations were appended as gates met them; GatingML readers take any order,
        # but definitions first reads better
        definitions = [
            e for e in self.root if e.tag in (_t("transformation"), _t("spectrumMatrix"))
        ]
        gates = [e for e in self.root if e not in definitions]
        self.root[:] = definitions + gates
        ET.indent(self.root)
        return self.root


_GATE_WRITERS = {
    RectangleGate: _Writer.rectangle,
    PolygonGate: _Writer.polygon,
    EllipsoidGate: _Writer.ellipsoid,
    QuadrantGate: _Writer.quadrant,
    BooleanGate: _Writer.boolean,
}
_ELEMENT_NAMES = {kind: kind.__name__ for kind in _GATE_WRITERS}


def gatingml_bytes(strategy: GatingStrategy, *, sample: Sample | None = None) -> bytes:
    """The GatingML 2.0 document of a strategy, UTF-8 encoded.

    With ``sample``, channels named by $PnS label are written by their $PnN, as GatingML expects.
    """
    strategy.validate()
    root = _Writer(strategy, sample).document()
    buffer = io.BytesIO()
    ET.ElementTree(root).write(buffer, encoding="UTF-8", xml_declaration=True)
    return buffer.getvalue() + b"\n"


def export_gatingml(
    strategy: GatingStrategy,
    target: str | Path | BinaryIO | TextIO,
    *,
    sample: Sample | None = None,
) -> None:
    """Write the strategy as GatingML 2.0 to a path or an open (binary or text) stream."""
    data = gatingml_bytes(strategy, sample=sample)
    if isinstance(target, str | Path):
        Path(target).write_bytes(data)
    elif isinstance(target, io.TextIOBase):
        target.write(data.decode("utf-8"))
    else:
        target.write(data)  # type: ignore[arg-type]
