"""The FlowJo parameters one exported sample's gates read: names, the matrix, the transforms.

FlowJo names a parameter by its $PnN, with ``/`` written as ``_``; a compensated parameter is
the detector's name behind the matrix's prefix (``Comp-FITC-A``). A sample carries one
compensation matrix and one transform per parameter, and its gates store their coordinates
as data values (before the transform), where GatingML stores them on the transformed scale.
:class:`SampleParameters` resolves each gate dimension to such a parameter, refuses what a
FlowJo sample cannot hold (a second matrix, a second scale for one parameter, a ratio
dimension, an unmixing matrix, a transform FlowJo lacks) and writes the sample's
``transforms:spilloverMatrix`` and ``Transformations``. docs/flowjo-export.md says where each
rule comes from.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from xml.etree import ElementTree as ET

import numpy as np

from cytorelease.errors import InputError, TemplateError
from cytorelease.flow.compensation import FCS_SPILL_ID, SpilloverMatrix, sample_spillover
from cytorelease.flow.gating.dimensions import GateDimension, RatioDimension
from cytorelease.flow.gating.gatingml_import import DATATYPE_NS, TRANSFORMS_NS
from cytorelease.flow.sample import Channel, Sample
from cytorelease.flow.transforms import (
    AsinhTransform,
    LinearTransform,
    LogicleTransform,
    LogTransform,
    Transform,
)

__all__ = [
    "COMP_PREFIX",
    "FCS_MATRIX_NAME",
    "SampleParameters",
    "d",
    "flowjo_name",
    "num",
    "t",
    "xml_text",
]

COMP_PREFIX = "Comp-"
# what FlowJo calls the matrix an FCS file carries ($SPILLOVER)
FCS_MATRIX_NAME = "Acquisition-defined"
# the display resolution FlowJo 10 writes on every biexponential-family transform
_LENGTH = "256"
# FlowJo's own scales (cytorelease.flow.transforms_flowjo), by kind: their element, and their
# parameters already carry the workspace's attribute names
_FLOWJO_OWN = {"flowjo-log": "log", "flowjo-biex": "biex"}


def t(tag: str) -> str:
    return f"{{{TRANSFORMS_NS}}}{tag}"


def d(tag: str) -> str:
    return f"{{{DATATYPE_NS}}}{tag}"


def num(value: float) -> str:
    """Numbers as ``repr`` writes them, so they read back exactly."""
    return repr(float(value))


def xml_text(value: str, what: str) -> str:
    """Text XML 1.0 can hold: no control character but tab and line breaks, no lone surrogate,
    no U+FFFE/U+FFFF (ElementTree would write them, leaving a file no reader opens)."""
    for char in value:
        code = ord(char)
        if not (
            char in "\t\n\r"
            or 0x20 <= code <= 0xD7FF
            or 0xE000 <= code <= 0xFFFD
            or 0x10000 <= code <= 0x10FFFF
        ):
            raise TemplateError(f"{what} {value!r} holds a character XML cannot carry")
    return value


def flowjo_name(name: str) -> str:
    """A $PnN as FlowJo shows it: FlowJo turns ``/`` into ``_`` (its paths use ``/``)."""
    return xml_text(name, "channel").replace("/", "_")


def _data_range(channel: Channel, timestep: float) -> float:
    """The channel's full scale in the units gates read (FlowKit's preprocessed values)."""
    if channel.name.lower() == "time":
        return channel.range * timestep
    if channel.log_decades > 0:
        return (channel.log_offset if channel.log_offset > 0 else 1.0) * 10**channel.log_decades
    if channel.gain not in (0.0, 1.0):
        return channel.range / channel.gain
    return channel.range


@dataclass(frozen=True)
class _Scale:
    transform: Transform | None  # None: the values as they are (written as a linear scale)
    channel: Channel
    gate_id: str


class SampleParameters:
    """The parameters, matrix and transforms of one sample's export, gathered gate by gate."""

    def __init__(self, sample: Sample, spillovers: dict[str, SpilloverMatrix]) -> None:
        self.sample = sample
        self._spillovers = spillovers
        self.matrix: SpilloverMatrix | None = None
        self._matrix_gate = ""
        self._scales: dict[str, _Scale] = {}  # by FlowJo parameter name, in first use order
        names = [flowjo_name(n) for n in sample.channel_names]
        if len(set(names)) < len(names):
            raise InputError(
                "two channels have the same FlowJo name once '/' is written '_', as FlowJo "
                "writes it; the workspace could not tell them apart",
                path=sample.path,
            )

    # resolving ----------------------------------------------------------------------------
    def _channel(self, name: str, gate_id: str) -> Channel:
        try:
            return self.sample.channels[self.sample.channel_index(name)]
        except InputError:
            raise TemplateError(
                f"gate {gate_id!r} reads {name!r}, which is no channel of {self.sample.path.name}",
                path=self.sample.path,
            ) from None

    def _matrix_for(self, reference: str, gate_id: str) -> SpilloverMatrix | None:
        if reference == FCS_SPILL_ID:
            return sample_spillover(self.sample)
        try:
            return self._spillovers[reference]
        except KeyError:
            raise TemplateError(f"gate {gate_id!r}: unknown compensation {reference!r}") from None

    def _adopt(self, matrix: SpilloverMatrix, gate_id: str) -> None:
        if self.matrix is None:
            if not matrix.is_square:
                raise TemplateError(
                    f"gate {gate_id!r}: spillover matrix {matrix.id!r} unmixes "
                    f"{len(matrix.detectors)} detectors into {len(matrix.fluorochromes)} "
                    "fluorochromes; a FlowJo compensation matrix is square (one row per "
                    "detector), so the workspace cannot hold it"
                )
            self.matrix, self._matrix_gate = matrix, gate_id
        elif matrix.id != self.matrix.id:
            raise TemplateError(
                f"gate {gate_id!r} is compensated with {matrix.id!r} but gate "
                f"{self._matrix_gate!r} with {self.matrix.id!r}: FlowJo applies one "
                "compensation matrix to a sample"
            )

    def parameter(self, dim: GateDimension, gate_id: str) -> str:
        """The FlowJo parameter a gate dimension reads; remembers its matrix and transform."""
        if isinstance(dim, RatioDimension):
            raise TemplateError(
                f"gate {gate_id!r} reads the ratio {dim.id!r}: a FlowJo gate reads a parameter "
                "of the file, and a derived parameter is no part of the gate"
            )
        channel = self._channel_of(dim.channel, dim.compensation, gate_id)
        name = flowjo_name(channel.name)
        if self._compensated(dim.channel, dim.compensation, gate_id):
            name = COMP_PREFIX + name
        self._check_transform(dim.transform, gate_id)
        known = self._scales.get(name)
        if known is None:
            self._scales[name] = _Scale(dim.transform, channel, gate_id)
        elif known.transform != dim.transform:
            raise TemplateError(
                f"gates {known.gate_id!r} and {gate_id!r} read {name!r} on different scales "
                f"({_describe(known.transform)} and {_describe(dim.transform)}): a FlowJo "
                "sample has one transform per parameter"
            )
        return name

    def _position(self, name: str, matrix: SpilloverMatrix, gate_id: str) -> int | None:
        try:
            position = matrix.output_index(name)
            if position is None and name not in self.sample.channel_names:
                position = matrix.output_index(self._channel(name, gate_id).name)
        except TemplateError as error:
            raise TemplateError(f"gate {gate_id!r}: {error.problem}") from None
        return position

    def _compensated(self, name: str, reference: str | None, gate_id: str) -> bool:
        if reference is None:
            return False
        matrix = self._matrix_for(reference, gate_id)
        if matrix is None or self._position(name, matrix, gate_id) is None:
            return False  # no $SPILLOVER, or a channel the matrix leaves as acquired
        self._adopt(matrix, gate_id)
        return True

    def _channel_of(self, name: str, reference: str | None, gate_id: str) -> Channel:
        """The file's channel behind a dimension: a compensated fluorochrome is its
        detector's (the matrix is square, so column i is in detector i's place)."""
        if reference is not None:
            matrix = self._matrix_for(reference, gate_id)
            if matrix is not None:
                position = self._position(name, matrix, gate_id)
                if position is not None:
                    return self._channel(matrix.detectors[position], gate_id)
        return self._channel(name, gate_id)

    @staticmethod
    def _check_transform(transform: Transform | None, gate_id: str) -> None:
        if (
            transform is None
            or isinstance(
                transform, LinearTransform | LogTransform | AsinhTransform | LogicleTransform
            )
            or transform.kind.value in _FLOWJO_OWN
        ):
            return
        raise TemplateError(
            f"gate {gate_id!r} reads {transform.describe()}: FlowJo workspaces hold linear, "
            "log, arcsinh, logicle and FlowJo's own biex scales, and this one is none of them"
        )

    def raw(self, dim: GateDimension, value: float, gate_id: str) -> float:
        """A coordinate on the dimension's transformed scale as the data value FlowJo stores."""
        transform = dim.transform
        if transform is None:
            return float(value)
        data = float(np.asarray(transform.inverse(np.array([float(value)])))[0])
        if not math.isfinite(data):
            raise TemplateError(
                f"gate {gate_id!r}: coordinate {value!r} on {transform.describe()} is no finite "
                "data value, and FlowJo stores gates as data values"
            )
        return data

    # writing --------------------------------------------------------------------------------
    @property
    def matrix_name(self) -> str:
        if self.matrix is None:
            return ""
        return FCS_MATRIX_NAME if self.matrix.id == FCS_SPILL_ID else self.matrix.id

    def matrix_element(self, parent: ET.Element) -> ET.Element | None:
        """The sample's ``transforms:spilloverMatrix``: one row per detector, as FlowJo and
        $SPILLOVER order it (row i: detector i's dye seen in each detector)."""
        matrix = self.matrix
        if matrix is None:
            return None
        detectors = [flowjo_name(self._channel(n, "").name) for n in matrix.detectors]
        # a stable id: the same matrix always gets the same one
        matrix_id = uuid.uuid5(
            uuid.NAMESPACE_URL,
            "|".join([self.matrix_name, *detectors, *map(num, matrix.matrix.flat)]),
        )
        element = ET.SubElement(
            parent,
            t("spilloverMatrix"),
            {
                "spectral": "0",
                "prefix": COMP_PREFIX,
                "name": self.matrix_name,
                "editable": "0",
                t("id"): str(matrix_id),
                "suffix": "",
            },
        )
        params = ET.SubElement(element, d("parameters"))
        for name in detectors:
            ET.SubElement(
                params,
                d("parameter"),
                {d("name"): name, "userProvidedCompInfix": COMP_PREFIX + name},
            )
        for name, row in zip(detectors, matrix.matrix, strict=True):
            spillover = ET.SubElement(
                element,
                t("spillover"),
                {d("parameter"): name, "userProvidedCompInfix": COMP_PREFIX + name},
            )
            for column, value in zip(detectors, row, strict=True):
                ET.SubElement(
                    spillover, t("coefficient"), {d("parameter"): column, t("value"): num(value)}
                )
        return element

    def transformations(self, parent: ET.Element) -> ET.Element:
        """``Transformations``: one scale per parameter the gates read. A compensated
        parameter's scale is written for the detector too, as FlowJo does (and readers such as
        FlowKit look it up there)."""
        element = ET.SubElement(parent, "Transformations")
        written: dict[str, _Scale] = {}
        for name, scale in self._scales.items():
            written.setdefault(name, scale)
            if name.startswith(COMP_PREFIX):
                written.setdefault(name[len(COMP_PREFIX) :], scale)
        for name, scale in written.items():
            _transform_element(element, name, scale, self.sample.timestep)
        return element


def _describe(transform: Transform | None) -> str:
    return "as acquired" if transform is None else transform.describe()


def _transform_element(parent: ET.Element, name: str, scale: _Scale, timestep: float) -> None:
    transform = scale.transform
    if transform is None:
        # a linear scale over the channel's range: affine, so it moves no event across a
        # polygon's edge, and FlowJo draws the data as acquired
        attrs = {
            t("minRange"): "0",
            t("maxRange"): num(_data_range(scale.channel, timestep)),
            "gain": "1",
        }
        tag = "linear"
    elif transform.kind.value in _FLOWJO_OWN:
        tag = _FLOWJO_OWN[transform.kind.value]
        # the biex table is known for length 256 only, and readers compare it as text
        attrs = {
            t(k): str(int(v)) if k == "length" and float(v).is_integer() else num(v)
            for k, v in transform.parameters.items()
        }
    elif isinstance(transform, LinearTransform):
        # GatingML flin maps -A..T to 0..1; FlowJo's linear maps minRange..maxRange
        attrs = {
            t("minRange"): num(-transform.A) if transform.A else "0",
            t("maxRange"): num(transform.T),
            "gain": "1",
        }
        tag = "linear"
    elif isinstance(transform, LogTransform):
        # flog(x) = log10(x / T) / M + 1 is FlowJo's log10(x / offset) / decades
        attrs = {t("offset"): num(transform.T * 10.0**-transform.M), t("decades"): num(transform.M)}
        tag = "log"
    elif isinstance(transform, LogicleTransform):
        attrs = {
            t("length"): _LENGTH,
            t("T"): num(transform.T),
            t("A"): num(transform.A),
            t("W"): num(transform.W),
            t("M"): num(transform.M),
        }
        tag = "logicle"
    else:
        assert isinstance(transform, AsinhTransform)
        # FlowJo writes its arcsinh with GatingML's T, M, A and display attributes beside them
        attrs = {
            t("length"): _LENGTH,
            t("maxRange"): num(transform.T),
            t("T"): num(transform.T),
            t("A"): num(transform.A),
            t("M"): num(transform.M),
            t("W"): "-10",
        }
        tag = "fasinh"
    element = ET.SubElement(parent, t(tag), attrs)
    ET.SubElement(element, d("parameter"), {d("name"): name})
