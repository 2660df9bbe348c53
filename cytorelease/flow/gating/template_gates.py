"""Gate definitions of a gating template: fixed gates and data-driven ones placed per sample.

Coordinates of fixed gates and search ranges of data-driven gates are on each marker's
transformed scale (as in GatingML 2.0, where a gate dimension names its transformation).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "BoolOp",
    "BooleanGateSpec",
    "ControlPercentileGateSpec",
    "DensityValleyGateSpec",
    "EllipseGateSpec",
    "GateKind",
    "GateSpec",
    "PolygonGateSpec",
    "RangeSpec",
    "RectangleGateSpec",
    "RobustFit",
    "ScatterClusterGateSpec",
    "ScatterOutput",
    "Side",
    "SingletBandGateSpec",
    "TimeQCGateSpec",
    "UnimodalRule",
]

_ID = r"^[A-Za-z][A-Za-z0-9_.-]*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


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


class UnimodalRule(StrEnum):
    FLAG = "flag"
    NEGATIVE = "negative"
    POSITIVE = "positive"


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
    ``max_valley_ratio`` of the lower mode, counts as unimodal: the gate is flagged and empty
    (or placed by the declared ``unimodal`` rule, and flagged as such).
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
    # flag: unimodal data are flagged and the gate left empty. negative / positive: a single
    # mode is taken as that population (the other may be truly absent) and the threshold goes
    # tail_sd robust SDs beyond it; the result is flagged as placed by that rule.
    unimodal: UnimodalRule = UnimodalRule.FLAG
    tail_sd: float = Field(5.0, gt=0)

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
