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
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import BinaryIO, TextIO
from xml.etree import ElementTree as ET

from cytorelease.errors import TemplateError
from cytorelease.flow.compensation import SpilloverMatrix
from cytorelease.flow.gating.dimensions import CompensationRef, GateDimension, RatioDimension
from cytorelease.flow.gating.gates import Gate
from cytorelease.flow.gating.gatingml_import import DATATYPE_NS, GATING_NS, TRANSFORMS_NS
from cytorelease.flow.gating.strategy import GatingStrategy
from cytorelease.flow.sample import Sample
from cytorelease.flow.transforms import TRANSFORM_CLASSES, Transform

__all__ = ["GatingMLWriter", "export_gatingml", "gatingml_bytes"]

ET.register_namespace("gating", GATING_NS)
ET.register_namespace("transforms", TRANSFORMS_NS)
ET.register_namespace("data-type", DATATYPE_NS)


def _g(tag: str) -> str:
    return f"{{{GATING_NS}}}{tag}"


def _t(tag: str) -> str:
    return f"{{{TRANSFORMS_NS}}}{tag}"


def _d(tag: str) -> str:
    return f"{{{DATATYPE_NS}}}{tag}"


_PREFIXES = {"gating": GATING_NS, "transforms": TRANSFORMS_NS, "data-type": DATATYPE_NS}


def _qualified(name: str) -> str:
    """``gating:min`` -> ``{namespace}min``: gate kinds write their content with the prefixes
    of the GatingML specification."""
    prefix, _, local = name.partition(":")
    return f"{{{_PREFIXES[prefix]}}}{local}"


def _text(value: str | float) -> str:
    return value if isinstance(value, str) else _num(value)


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


class GatingMLWriter:
    """One document being written: the definitions it holds so far (transformations, ratio
    dimensions), and the primitives gate kinds write their content with
    (:meth:`~cytorelease.flow.gating.gates.Gate.write_gatingml`)."""

    def __init__(self, strategy: GatingStrategy, sample: Sample | None) -> None:
        self.strategy = strategy
        self.sample = sample
        self.root = ET.Element(_g("Gating-ML"))
        self.transform_ids: dict[Transform, str] = {}
        self.ratio_ids: set[str] = set()

    # primitives -----------------------------------------------------------------------------
    def child(
        self,
        parent: ET.Element,
        tag: str,
        attrs: Mapping[str, str | float] | None = None,
        *,
        text: str | float | None = None,
    ) -> ET.Element:
        """A child element; tag and attribute names prefixed (``gating:vertex``), numbers
        written with ``repr`` so they read back exactly."""
        element = ET.SubElement(
            parent, _qualified(tag), {_qualified(k): _text(v) for k, v in (attrs or {}).items()}
        )
        if text is not None:
            element.text = _text(text)
        return element

    def refer(self, element: ET.Element, dim: GateDimension) -> None:
        """Make ``element`` read ``dim``: its compensation and transformation references, and
        the dimension itself inside it."""
        element.set(_g("compensation-ref"), dim.compensation or CompensationRef.UNCOMPENSATED.value)
        if dim.transform is not None:
            element.set(_g("transformation-ref"), self.transform_ref(dim.transform))
        dim.write_gatingml(self, element)

    def dimension(
        self, parent: ET.Element, dim: GateDimension, attrs: Mapping[str, str | float] | None = None
    ) -> ET.Element:
        """A ``gating:dimension`` reading ``dim``, with extra attributes (a range's bounds)."""
        element = self.child(parent, "gating:dimension")
        self.refer(element, dim)
        for name, value in (attrs or {}).items():
            element.set(_qualified(name), _text(value))
        return element

    def coordinates(self, parent: ET.Element, tag: str, values: Iterable[float]) -> None:
        """A point (``gating:vertex``, ``gating:mean``) as its ``gating:coordinate`` values."""
        group = self.child(parent, tag)
        for value in values:
            self.child(group, "gating:coordinate", {"data-type:value": value})

    def xml_id(self, value: str, what: str) -> str:
        return _xml_id(value, what)

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
        if transform.kind not in TRANSFORM_CLASSES:  # FlowJo's biex or log: no GatingML form
            raise TemplateError(
                f"GatingML 2.0 has no form for the transform {transform.describe()}",
                hint="export a FlowJo workspace instead, or gate on a GatingML transform",
            )
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

    # definitions ----------------------------------------------------------------------------
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
        if gate.gatingml_element is None:
            raise TemplateError(f"gate {gate.id!r}: GatingML has no form for {type(gate).__name__}")
        attrs = {"gating:id": _xml_id(gate.id, "gate id")}
        if gate.parent is not None:
            attrs["gating:parent_id"] = gate.parent
        gate.write_gatingml(self, self.child(self.root, f"gating:{gate.gatingml_element}", attrs))

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


def gatingml_bytes(strategy: GatingStrategy, *, sample: Sample | None = None) -> bytes:
    """The GatingML 2.0 document of a strategy, UTF-8 encoded.

    With ``sample``, channels named by $PnS label are written by their $PnN, as GatingML expects.
    """
    strategy.validate()
    root = GatingMLWriter(strategy, sample).document()
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
