"""The result of a single-target standard-curve analysis (``qpcr curve``): the fit, the standards
it used and left out, every other well's quantity by inverse prediction, the run acceptance and,
when the export states one, the instrument's own curve beside ours."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from cytorelease.qpcr.acceptance import Check
from cytorelease.qpcr.instrument_curve import InstrumentCurve
from cytorelease.qpcr.stdcurve import StandardCurve

__all__ = ["CurveFlag", "CurveResult", "QuantifiedWell", "StandardWell", "WellFlag"]

INTERVAL_METHOD = (
    "Fieller calibration interval (inverse regression of Cq on log10 copies; Draper & Smith 3.2)"
)


class WellFlag(StrEnum):
    """Why a well's quantity is missing or must be read with care."""

    UNDETERMINED = "undetermined"
    OUTSIDE_STANDARDS_RANGE = "outside_standards_range"
    OMITTED = "omitted"
    UNBOUNDED_INTERVAL = "unbounded_interval"
    RUN_ACCEPTANCE_FAILED = "run_acceptance_failed"


class CurveFlag(StrEnum):
    """Conditions of the whole analysis a reviewer must see."""

    INSTRUMENT_CURVE_DIFFERS = "instrument_curve_differs"
    DEFAULT_ACCEPTANCE = "default_acceptance"  # no assay named: the built-in limits were used


def _num(value: float) -> float | None:
    return value if math.isfinite(value) else None


@dataclass(frozen=True, slots=True)
class StandardWell:
    well: str
    sample: str
    cq: float
    quantity: float
    quantity_source: str  # "assay" or "export"
    reason: str | None = None  # why it was left out of the fit; None when used
    # A used standard's own Cq read back off the curve with its interval (its accuracy).
    back_calculated: tuple[float, float, float] | None = None  # (copies, low, high)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "well": self.well,
            "sample": self.sample,
            "cq": _num(self.cq),
            "quantity": _num(self.quantity),
            "quantity_source": self.quantity_source,
        }
        if self.reason is not None:
            out["reason"] = self.reason
        if self.back_calculated is not None:
            copies, low, high = (_num(v) for v in self.back_calculated)
            out["back_calculated"] = {"quantity": copies, "ci_low": low, "ci_high": high}
        return out


@dataclass(frozen=True, slots=True)
class QuantifiedWell:
    """One non-standard well; ``quantity`` is None whenever ``reason`` says why."""

    well: str
    sample: str
    task: str
    cq: float
    quantity: float | None
    ci_low: float | None
    ci_high: float | None
    flags: tuple[WellFlag, ...] = ()
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "well": self.well,
            "sample": self.sample,
            "task": self.task,
            "cq": _num(self.cq),
            "quantity": self.quantity,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "flags": [f.value for f in self.flags],
            "reason": self.reason,
        }


@dataclass(frozen=True)
class CurveResult:
    format: str
    instrument: str
    run: str | None
    target: str
    curve: StandardCurve
    standards_used: list[StandardWell]
    standards_excluded: list[StandardWell]
    wells: list[QuantifiedWell]
    passed: bool
    checks: list[Check]
    reasons: list[str]
    acceptance_source: str  # "assay" or "defaults"
    instrument_curve: InstrumentCurve | None = None
    slope_difference_pct: float | None = None  # ours vs the instrument's, % of the instrument's
    flags: list[CurveFlag] = field(default_factory=list)
    confidence: float = 0.95
    provenance: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        c = self.curve
        instrument = None
        if self.instrument_curve is not None:
            instrument = {
                **self.instrument_curve.to_dict(),
                "slope_difference_pct": self.slope_difference_pct,
            }
        return {
            "format": self.format,
            "instrument": self.instrument,
            "run": self.run,
            "target": self.target,
            "slope": c.slope,
            "intercept": c.intercept,
            "r_squared": c.r_squared,
            "efficiency_pct": c.efficiency_pct,
            "n": c.n,
            "levels": c.levels,
            "cq_range": list(c.cq_range),
            "copies_range": list(c.copies_range),
            "standards_used": [s.to_dict() for s in self.standards_used],
            "standards_excluded": [s.to_dict() for s in self.standards_excluded],
            "wells": [w.to_dict() for w in self.wells],
            "interval": {"method": INTERVAL_METHOD, "confidence": self.confidence},
            "run_acceptance": {
                "passed": self.passed,
                "limits": self.acceptance_source,
                "checks": [ch.to_dict() for ch in self.checks],
                "reasons": self.reasons,
            },
            "instrument_curve": instrument,
            "flags": [f.value for f in self.flags],
            "provenance": self.provenance,
        }
