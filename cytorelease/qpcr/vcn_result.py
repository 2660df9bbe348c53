"""The results of a VCN analysis: per-target amounts, per-sample VCN, the whole run."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cytorelease.measurement import Measurement
from cytorelease.qpcr.acceptance import Check
from cytorelease.qpcr.stdcurve import StandardCurve

__all__ = ["SampleVcn", "TargetAmount", "VcnResult"]


@dataclass(frozen=True, slots=True)
class TargetAmount:
    """A target's amount in one sample: copies/reaction (qPCR) or copies/partition (dPCR)."""

    value: float
    log_se: float  # standard error of ln(value)
    replicates: int
    per_ul: float | None = None  # dPCR copies/µL from each well's own volume; None: not known


@dataclass(frozen=True, slots=True)
class SampleVcn:
    sample: str
    role: str | None
    transgene_detected: bool
    vcn: float | None
    ci_low: float | None
    ci_high: float | None
    replicates: dict[str, int]
    transgene: float | None
    reference: float | None
    note: str = ""
    amount_unit: str = "copies/reaction"

    def to_dict(self) -> dict[str, Any]:
        return {
            "sample": self.sample,
            "role": self.role,
            "vcn": self.vcn,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "replicates": self.replicates,
            "transgene_detected": self.transgene_detected,
            "transgene_amount": self.transgene,
            "reference_amount": self.reference,
            "amount_unit": self.amount_unit,
            "note": self.note,
        }


@dataclass(frozen=True)
class VcnResult:
    format: str
    instrument: str
    digital: bool
    transgene_target: str
    reference_target: str
    passed: bool
    checks: list[Check]
    curves: list[StandardCurve]
    samples: list[SampleVcn]
    measurements: list[Measurement]
    reasons: list[str] = field(default_factory=list)
    provenance: dict[str, Any] = field(default_factory=dict)
    run: str | None = None  # the export's run analysed (None: one run the export does not name)
    flags: list[str] = field(default_factory=list)  # what a reader of the result must know
    # dPCR: every well of the two targets with its own copies/µL beside the instrument's
    wells: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "run": self.run,
            "flags": list(self.flags),
            "format": self.format,
            "instrument": self.instrument,
            "digital": self.digital,
            "targets": {"transgene": self.transgene_target, "reference": self.reference_target},
            "run_acceptance": {
                "passed": self.passed,
                "checks": [c.to_dict() for c in self.checks],
                "reasons": self.reasons,
            },
            "standard_curves": [c.to_dict() for c in self.curves],
            "samples": [s.to_dict() for s in self.samples] if self.passed else [],
            "measurements": [m.to_dict() for m in self.measurements],
            "wells": list(self.wells),
            "provenance": self.provenance,
        }
