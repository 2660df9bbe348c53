"""The pydantic model of a gating template (the YAML loader is in ``template.py``).

Coordinates of fixed gates and search ranges of data-driven gates are on each marker's
transformed scale (as in GatingML 2.0, where a gate dimension names its transformation).
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from cytorelease.attributes import ATTRIBUTES
from cytorelease.errors import TemplateError
from cytorelease.flow.gating.template_gates import (
    BooleanGateSpec,
    BoolOp,
    ControlPercentileGateSpec,
    DensityValleyGateSpec,
    EllipseGateSpec,
    GateKind,
    GateSpec,
    PolygonGateSpec,
    RangeSpec,
    RectangleGateSpec,
    RobustFit,
    ScatterClusterGateSpec,
    ScatterOutput,
    Side,
    SingletBandGateSpec,
    TimeQCGateSpec,
    UnimodalRule,
)
from cytorelease.provenance import content_sha256

if TYPE_CHECKING:
    from cytorelease.flow.transforms import Transform

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
    "NonFiniteAction",
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
    "UnimodalRule",
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
    FLOWJO_LOG = "flowjo_log"  # FlowJo 10's log (offset, decades)
    FLOWJO_BIEX = "flowjo_biex"  # FlowJo 10's biex (t = maxRange, negative, width_basis, positive)


class TransformSpec(_Strict):
    """GatingML 2.0 parameters: logicle/hyperlog (T, W, M, A), asinh (T, M, A), log (T, M),
    linear (T, A); FlowJo's log (offset, decades) and biex (t as its maxRange, negative,
    width_basis, positive), as ``flow wsp-import`` writes them. Unused parameters are ignored
    by the kinds that do not take them."""

    kind: TransformKind
    t: float = Field(262144.0, gt=0)
    w: float = Field(0.5, ge=0)
    m: float = Field(4.5, gt=0)
    a: float = 0.0
    offset: float = Field(1.0, gt=0)
    decades: float = Field(4.5, gt=0)
    negative: float = Field(0.0, ge=0)
    width_basis: float = Field(-10.0, lt=0)
    positive: float = Field(4.418539922, gt=0)

    def build(self) -> Transform:
        """The transform these parameters describe."""
        from cytorelease.flow import transforms as tf
        from cytorelease.flow import transforms_flowjo as fj

        builders: dict[TransformKind, Callable[[], Transform]] = {
            TransformKind.LOGICLE: lambda: tf.LogicleTransform(
                T=self.t, W=self.w, M=self.m, A=self.a
            ),
            TransformKind.HYPERLOG: lambda: tf.HyperlogTransform(
                T=self.t, W=self.w, M=self.m, A=self.a
            ),
            TransformKind.ASINH: lambda: tf.AsinhTransform(T=self.t, M=self.m, A=self.a),
            TransformKind.LOG: lambda: tf.LogTransform(T=self.t, M=self.m),
            TransformKind.LINEAR: lambda: tf.LinearTransform(T=self.t, A=self.a),
            TransformKind.FLOWJO_LOG: lambda: fj.FlowJoLogTransform(
                offset=self.offset, decades=self.decades
            ),
            TransformKind.FLOWJO_BIEX: lambda: fj.FlowJoBiexTransform(
                negative=self.negative,
                width=self.width_basis,
                positive=self.positive,
                max_range=self.t,
            ),
        }
        transform = builders[self.kind]()
        transform.check_evaluable()
        return transform


class MarkerSpec(_Strict):
    """A marker and the channel labels ($PnS), aliases or names ($PnN) that carry it."""

    key: str = Field(pattern=_ID)
    channels: list[str] = Field(min_length=1)
    description: str | None = None


class CompensationSource(StrEnum):
    FILE = "file"  # the file's $SPILLOVER / $SPILL / SPILL
    MATRIX = "matrix"  # the matrix below
    MATRIX_FILE = "matrix_file"  # a CSV beside the template, pinned by its SHA-256
    CONTROLS = "controls"  # estimated from the lot's single-stain controls at gating time
    NONE = "none"


_SHA256 = r"^[0-9a-f]{64}$"


class CompensationSpec(_Strict):
    """Where the spillover matrix comes from (docs/spillover.md, "Compensation in a gating template").

    ``matrix_file``: ``file`` is a CSV as ``flow spillover --out`` writes it, relative to the
    template's folder and inside it; ``sha256`` is the SHA-256 of its bytes. The pin is part of
    the template's content, so the LOCK that holds a template version holds its matrix too, and
    a changed file is refused rather than applied. ``controls``: the lot's single-stain tubes
    and unstained tube (named in the lot manifest, since they are run with each lot) are
    estimated into a matrix when the tube is gated.
    """

    source: CompensationSource = CompensationSource.FILE
    channels: list[str] | None = None  # marker keys or channel names, for source: matrix
    matrix: list[list[float]] | None = None
    file: str | None = None  # for source: matrix_file
    sha256: str | None = Field(default=None, pattern=_SHA256)  # of the matrix file's bytes

    @model_validator(mode="after")
    def _matrix_complete(self) -> CompensationSpec:
        source = self.source
        if source is CompensationSource.MATRIX:
            if not self.channels or not self.matrix:
                raise ValueError("source: matrix needs both `channels` and `matrix`")
            n = len(self.channels)
            if len(self.matrix) != n or any(len(row) != n for row in self.matrix):
                raise ValueError(f"matrix must be {n}x{n} for {n} channels")
        elif self.channels is not None or self.matrix is not None:
            raise ValueError(f"`channels` and `matrix` belong to source: matrix, not {source}")
        if source is CompensationSource.MATRIX_FILE:
            if not self.file or not self.sha256:
                raise ValueError(
                    "source: matrix_file needs `file` (a CSV relative to the template) and "
                    "`sha256` (the SHA-256 of its bytes, which the template pins)"
                )
            _check_relative(self.file)
        elif self.file is not None or self.sha256 is not None:
            raise ValueError(f"`file` and `sha256` belong to source: matrix_file, not {source}")
        return self


def _check_relative(file: str) -> None:
    """A matrix file lies in the template's folder or below it: a template copied with its
    folder keeps its matrix, and cannot name a file elsewhere on the machine."""
    posix = PurePosixPath(file.replace("\\", "/"))
    if posix.is_absolute() or PureWindowsPath(file).is_absolute() or ".." in posix.parts:
        raise ValueError(
            "`file` must be relative to the template's folder, without '..' or an absolute path"
        )


class NonFiniteAction(StrEnum):
    """What gating does with events holding NaN or +/-inf in a channel the gates read (a marker
    channel, Time, or a channel of the compensation matrix).

    Whatever the action, such events are never placed or gated as if numeric: they sit in no
    population and a ``nonfinite_events`` flag (on the result, the CLI and the CoA) counts them
    per channel. The action decides the denominators:
    FLAG (the default): they stay in the tube's event count, so the top-level gates' percent of
    parent and every percent of total count them as outside every gate.
    EXCLUDE: they leave the denominators: counts and percentages are of the remaining events.
    REFUSE: no result: an error naming the channels and counts.
    """

    FLAG = "flag"
    EXCLUDE = "exclude"
    REFUSE = "refuse"


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
    # a channel with more than this % of its events at the top of its range is flagged
    saturation_max_pct: float = Field(1.0, ge=0, le=100)
    # events with NaN/+-inf in a channel the gates read: flag (default), exclude or refuse
    nonfinite_events: NonFiniteAction = NonFiniteAction.FLAG
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
