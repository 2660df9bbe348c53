"""The pydantic model of a gating template (the YAML loader is in ``template.py``).

Coordinates of fixed gates and search ranges of data-driven gates are on each marker's
transformed scale (as in GatingML 2.0, where a gate dimension names its transformation).
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from cytorelease.attributes import ATTRIBUTES
from cytorelease.errors import TemplateError
from cytorelease.provenance import content_sha256

__all__ = [
    "BoolOp",
    "BooleanGateSpec",
    "CompensationSource",
    "CompensationSpec",
    "ControlPercentileGateSpec",
    "CrossCheckSpec",
    "DensityValleyGateSpec",
    "EllipseGateSpec",
    "GateKind",
    "GateSpec",
    "MarkerSpec",
    "MeasurementKind",
    "MeasurementSpec",
    "PolygonGateSpec",
    "RangeSpec",
    "RectangleGateSpec",
    "RobustFit",
    "ScatterClusterGateSpec",
    "ScatterOutput",
    "Side",
    "SingletBandGateSpec",
    "Template",
    "TemplateReferenceError",
    "TimeQCGateSpec",
    "TransformKind",
    "TransformSpec",
]

_ID = r"^[A-Za-z][A-Za-z0-9_.-]*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TemplateReferenceError(TemplateError):
    """A template refers to something it does not define; ``location`` is its field path."""

    def __init__(self, problem: str, location: tuple[str | int, ...], hint: str | None = None):
        self.location = location
        super().__init__(problem, hint=hint)


class TransformKind(StrEnum):
    LOGICLE = "logicle"
    ASINH = "asinh"
    HYPERLOG = "hyperlog"
    LOG = "log"
    LINEAR = "linear"


class TransformSpec(_Strict):
    """GatingML 2.0 parameters: logicle/hyperlog (T, W, M, A), asinh (T, M, A), log (T, M),
    linear (T, A). Unused parameters are ignored by the kinds that do not take them."""

    kind: TransformKind
    t: float = Field(262144.0, gt=0)
    w: float = Field(0.5, ge=0)
    m: float = Field(4.5, gt=0)
    a: float = 0.0


class MarkerSpec(_Strict):
    """A marker and the channel labels ($PnS), aliases or names ($PnN) that carry it."""

    key: str = Field(pattern=_ID)
    channels: list[str] = Field(min_length=1)
    description: str | None = None


class CompensationSource(StrEnum):
    FILE = "file"  # the file's $SPILLOVER / $SPILL / SPILL
    MATRIX = "matrix"  # the matrix below
    NONE = "none"


class CompensationSpec(_Strict):
    source: CompensationSource = CompensationSource.FILE
    channels: list[str] | None = None  # marker keys or channel names, for source: matrix
    matrix: list[list[float]] | None = None

    @model_validator(mode="after")
    def _matrix_complete(self) -> CompensationSpec:
        if self.source is CompensationSource.MATRIX:
            if not self.channels or not self.matrix:
                raise ValueError("source: matrix needs both `channels` and `matrix`")
            n = len(self.channels)
            if len(self.matrix) != n or any(len(row) != n for row in self.matrix):
                raise ValueError(f"matrix must be {n}x{n} for {n} channels")
        return self


class GateKind(StrEnum):
    RECTANGLE = "rectangle"
    POLYGON = "polygon"
    ELLIPSE = "ellipse"
    BOOLEAN = "boolean"
    DENSITY_VALLEY = "density_valley"
    CONTROL_PERCENTILE = "control_percentile"
    SINGLET_BAND = "singlet_band"
    SCATTER_CLUSTER = "scatter_cluster"
    TIME_QC = "time_qc"


class Side(StrEnum):
    ABOVE = "above"
    BELOW = "below"


class BoolOp(StrEnum):
    AND = "and"
    OR = "or"
    NOT = "not"


class RobustFit(StrEnum):
    HUBER = "huber"
    THEIL_SEN = "theil_sen"
    RANSAC = "ransac"


class ScatterOutput(StrEnum):
    ELLIPSE = "ellipse"
    POLYGON = "polygon"


class _GateBase(_Strict):
    id: str = Field(pattern=_ID)
    name: str | None = None  # display name, e.g. "CD3+"
    parent: str | None = None  # None: all events
    min_events: int | None = Field(None, ge=0)

    def markers(self) -> list[tuple[str, str]]:
        """(field name, marker key) pairs this gate reads."""
        return []

    def references(self) -> list[str]:
        """Other gates this gate's definition refers to (besides its parent)."""
        return [gate_id for _, gate_id in self.reference_fields()]

    def reference_fields(self) -> list[tuple[tuple[str | int, ...], str]]:
        """(field location, gate id) of every other gate this gate refers to."""
        return []


class RangeSpec(_Strict):
    marker: str
    min: float | None = None
    max: float | None = None


class RectangleGateSpec(_GateBase):
    kind: Literal[GateKind.RECTANGLE]
    dimensions: list[RangeSpec] = Field(min_length=1)

    def markers(self) -> list[tuple[str, str]]:
        return [(f"dimensions[{i}].marker", d.marker) for i, d in enumerate(self.dimensions)]


class PolygonGateSpec(_GateBase):
    kind: Literal[GateKind.POLYGON]
    x: str
    y: str
    vertices: list[tuple[float, float]] = Field(min_length=3)

    def markers(self) -> list[tuple[str, str]]:
        return [("x", self.x), ("y", self.y)]


class EllipseGateSpec(_GateBase):
    kind: Literal[GateKind.ELLIPSE]
    x: str
    y: str
    mean: tuple[float, float]
    covariance: tuple[tuple[float, float], tuple[float, float]]
    distance_square: float = Field(gt=0)

    def markers(self) -> list[tuple[str, str]]:
        return [("x", self.x), ("y", self.y)]


class BooleanGateSpec(_GateBase):
    kind: Literal[GateKind.BOOLEAN]
    op: BoolOp
    of: list[str] = Field(min_length=1)

    @model_validator(mode="after")
    def _arity(self) -> BooleanGateSpec:
        if self.op is BoolOp.NOT and len(self.of) != 1:
            raise ValueError("`not` takes exactly one gate in `of`")
        if self.op is not BoolOp.NOT and len(self.of) < 2:
            raise ValueError(f"`{self.op.value}` takes at least two gates in `of`")
        return self

    def reference_fields(self) -> list[tuple[tuple[str | int, ...], str]]:
        return [(("of", i), gate_id) for i, gate_id in enumerate(self.of)]


class DensityValleyGateSpec(_GateBase):
    """Threshold at the density minimum between the two main modes of one marker.

    ``bandwidth`` is in transformed units (None: Silverman's rule on the parent's events);
    a second mode lower than ``min_mode_fraction`` of the highest mode, or a valley deeper than
    ``max_valley_ratio`` of the lower mode, counts as unimodal: the gate is flagged and empty.
    """

    kind: Literal[GateKind.DENSITY_VALLEY]
    marker: str
    side: Side = Side.ABOVE
    search_min: float | None = None
    search_max: float | None = None
    bandwidth: float | None = Field(None, gt=0)
    min_mode_fraction: float = Field(0.004, gt=0, lt=1)
    max_valley_ratio: float = Field(0.8, gt=0, le=1)
    min_mode_separation: float = Field(0.05, ge=0)  # fraction of the transformed range
    # None: unimodal data are flagged and the gate left empty. A number: the threshold goes that
    # many robust SDs beyond the single mode, for a population that may be truly absent.
    unimodal_tail_sd: float | None = Field(None, gt=0)

    def markers(self) -> list[tuple[str, str]]:
        return [("marker", self.marker)]


class ControlPercentileGateSpec(_GateBase):
    """Threshold at a percentile of a negative control population.

    Without ``reference``: the same population (parent) of the control tube (an FMO gated by
    the same template). With ``reference``: a population of this tube that biology makes
    negative for the marker (an internal control, e.g. CD3+ T cells for CD19).
    """

    kind: Literal[GateKind.CONTROL_PERCENTILE]
    marker: str
    percentile: float = Field(99.5, gt=0, lt=100)
    side: Side = Side.ABOVE
    reference: str | None = None

    def reference_fields(self) -> list[tuple[tuple[str | int, ...], str]]:
        return [(("reference",), self.reference)] if self.reference else []

    def markers(self) -> list[tuple[str, str]]:
        return [("marker", self.marker)]


class SingletBandGateSpec(_GateBase):
    """Singlets: a robust line height = a * area + b, and a band of ``band`` robust SDs."""

    kind: Literal[GateKind.SINGLET_BAND]
    area: str
    height: str
    method: RobustFit = RobustFit.HUBER
    band: float = Field(4.0, gt=0)
    fit_events: int = Field(5000, ge=100)
    seed: int = 0

    def markers(self) -> list[tuple[str, str]]:
        return [("area", self.area), ("height", self.height)]


class ScatterClusterGateSpec(_GateBase):
    """Cells on FSC/SSC: a Gaussian mixture; components with low FSC are debris."""

    kind: Literal[GateKind.SCATTER_CLUSTER]
    x: str
    y: str
    components: int = Field(5, ge=2, le=8)
    debris_fraction: float = Field(0.35, gt=0, lt=1)  # of the heaviest component's mean on x
    coverage: float = Field(0.999, gt=0.5, lt=1)  # chi-square quantile of the ellipses
    output: ScatterOutput = ScatterOutput.POLYGON
    log_scale: bool = True  # fit the mixture to log scatter (cells and debris are log-normal)
    fit_events: int = Field(8000, ge=100)
    seed: int = 0

    def markers(self) -> list[tuple[str, str]]:
        return [("x", self.x), ("y", self.y)]


class TimeQCGateSpec(_GateBase):
    """Acquisition QC over Time: drop segments with an abnormal event rate or signal drift."""

    kind: Literal[GateKind.TIME_QC]
    time: str
    segments: int | None = Field(None, ge=4)  # None: about events_per_segment events each
    events_per_segment: int = Field(250, ge=20)
    rate_mad: float = Field(5.0, gt=0)  # robust z of a segment's event count
    drift_markers: list[str] = Field(default_factory=list)
    drift_mad: float = Field(5.0, gt=0)  # robust z of a segment's median signal

    def markers(self) -> list[tuple[str, str]]:
        found = [("time", self.time)]
        return found + [(f"drift_markers[{i}]", m) for i, m in enumerate(self.drift_markers)]


GateSpec = Annotated[
    RectangleGateSpec
    | PolygonGateSpec
    | EllipseGateSpec
    | BooleanGateSpec
    | DensityValleyGateSpec
    | ControlPercentileGateSpec
    | SingletBandGateSpec
    | ScatterClusterGateSpec
    | TimeQCGateSpec,
    Field(discriminator="kind"),
]


class MeasurementKind(StrEnum):
    PERCENT = "percent"  # 100 * numerator / denominator
    RATIO = "ratio"  # numerator / denominator
    REMOVED_PERCENT = "removed_percent"  # 100 * (1 - numerator / denominator)


class MeasurementSpec(_Strict):
    attribute: str
    kind: MeasurementKind = MeasurementKind.PERCENT
    numerator: str
    denominator: str | None = None  # None: the numerator's parent (all events at the root)

    @model_validator(mode="after")
    def _known_attribute(self) -> MeasurementSpec:
        if self.attribute not in ATTRIBUTES:
            raise ValueError(
                f"unknown attribute {self.attribute!r} (known: {', '.join(sorted(ATTRIBUTES))})"
            )
        return self


class CrossCheckPopulation(_Strict):
    gate: str
    max_difference_pct: float = Field(gt=0)


class CrossCheckSpec(_Strict):
    """Clustering cross-check of gated fractions (used by the release pipeline)."""

    markers: list[str] = Field(min_length=1)
    grid: tuple[int, int] = (10, 10)
    metaclusters: int = Field(10, ge=2)
    seed: int = 0
    populations: list[CrossCheckPopulation] = Field(default_factory=list)


class Template(_Strict):
    schema_version: Literal[1]
    id: str = Field(pattern=_ID)
    version: str = Field(min_length=1)
    description: str = ""
    markers: list[MarkerSpec] = Field(min_length=1)
    transforms: dict[str, TransformSpec] = Field(default_factory=dict)
    compensation: CompensationSpec = CompensationSpec()
    min_events: int = Field(1000, ge=0)
    gates: list[GateSpec] = Field(min_length=1)
    measurements: list[MeasurementSpec] = Field(default_factory=list)
    cross_check: CrossCheckSpec | None = None

    _sha256: str | None = PrivateAttr(None)
    _source: Path | None = PrivateAttr(None)

    @model_validator(mode="after")
    def _references(self) -> Template:
        _check_references(self)
        return self

    def _attach_source(self, path: Path, document: Any) -> None:
        self._source = path
        self._sha256 = content_sha256(document)

    @property
    def sha256(self) -> str:
        """Content hash of the parsed document (independent of YAML formatting)."""
        if self._sha256 is None:
            self._sha256 = content_sha256(self.model_dump(mode="json"))
        return self._sha256

    @property
    def source(self) -> Path | None:
        return self._source

    def gate(self, gate_id: str) -> GateSpec:
        for gate in self.gates:
            if gate.id == gate_id:
                return gate
        raise KeyError(gate_id)

    def marker(self, key: str) -> MarkerSpec:
        for marker in self.markers:
            if marker.key == key:
                return marker
        raise KeyError(key)

    def min_events_for(self, gate_id: str) -> int:
        own = self.gate(gate_id).min_events
        return self.min_events if own is None else own

    def ordered_gates(self) -> list[GateSpec]:
        """Gates with every parent and referenced gate before the gates that use it."""
        done: set[str] = set()
        ordered: list[GateSpec] = []
        pending = list(self.gates)
        while pending:
            for gate in pending:
                needs = [*gate.references(), *([gate.parent] if gate.parent else [])]
                if all(n in done for n in needs):
                    ordered.append(gate)
                    done.add(gate.id)
                    pending.remove(gate)
                    break
        return ordered


def _check_references(template: Template) -> None:
    """Unique ids, known markers, parents and references; no cycles. Raises naming the gate."""
    keys = [m.key for m in template.markers]
    for index, marker in enumerate(template.markers):
        if keys.index(marker.key) != index:
            raise TemplateReferenceError(
                f"marker key {marker.key!r} is defined twice", ("markers", index, "key")
            )
    for key in template.transforms:
        if key not in keys:
            raise TemplateReferenceError(
                f"transform for unknown marker {key!r}",
                ("transforms", key),
                hint=f"markers: {', '.join(keys)}",
            )
    ids = [g.id for g in template.gates]
    for index, gate in enumerate(template.gates):
        if ids.index(gate.id) != index:
            raise TemplateReferenceError(
                f"gate id {gate.id!r} is used twice", ("gates", index, "id")
            )
        for field, key in gate.markers():
            if key not in keys:
                raise TemplateReferenceError(
                    f"gate {gate.id!r} uses unknown marker {key!r}",
                    ("gates", index, *_split(field)),
                    hint=f"markers: {', '.join(keys)}",
                )
        if gate.parent is not None and gate.parent not in ids:
            raise TemplateReferenceError(
                f"gate {gate.id!r} has unknown parent {gate.parent!r}",
                ("gates", index, "parent"),
                hint=f"gates: {', '.join(ids)}",
            )
        for where, ref in gate.reference_fields():
            if ref not in ids:
                raise TemplateReferenceError(
                    f"gate {gate.id!r} refers to unknown gate {ref!r}",
                    ("gates", index, *where),
                    hint=f"gates: {', '.join(ids)}",
                )
    _check_cycles(template, ids)
    for index, m in enumerate(template.measurements):
        for field in ("numerator", "denominator"):
            ref = getattr(m, field)
            if ref is not None and ref not in ids:
                raise TemplateReferenceError(
                    f"measurement {m.attribute!r} refers to unknown gate {ref!r}",
                    ("measurements", index, field),
                    hint=f"gates: {', '.join(ids)}",
                )


def _split(field: str) -> tuple[str | int, ...]:
    """``drift_markers[1]`` -> ("drift_markers", 1)."""
    if "[" not in field:
        return (field,)
    name, rest = field.split("[", 1)
    return (name, int(rest.rstrip("]")))


def _check_cycles(template: Template, ids: list[str]) -> None:
    edges = {g.id: [*([g.parent] if g.parent else []), *g.references()] for g in template.gates}
    state: dict[str, int] = {}  # 1: on the current path, 2: finished

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in edges[node]:
            if state.get(nxt) == 1:
                cycle = [*trail[trail.index(nxt) :], nxt]
                raise TemplateReferenceError(
                    f"gate {nxt!r} is in a cycle: {' -> '.join(cycle)}",
                    ("gates", ids.index(nxt), "parent"),
                    hint="a gate's parent and referenced gates must not lead back to it",
                )
            if state.get(nxt) is None:
                visit(nxt, [*trail, nxt])
        state[node] = 2

    for gate_id in ids:
        if state.get(gate_id) is None:
            visit(gate_id, [gate_id])
