"""Vector copy number from a parsed export and an assay, with its run-acceptance evidence.

VCN per diploid genome = transgene copies / (reference copies / copies per diploid genome);
per transduced cell = VCN / CAR+ fraction (from flow). qPCR reads copies off each target's
standard curve (inverse prediction of the replicates' mean Cq, so the interval carries the
calibration and the replicate count); dPCR pools each sample's wells per target (Poisson,
Wilson interval). Intervals combine the two targets on the log scale. A run that fails any
acceptance check reports the reasons and no VCN.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cytorelease.errors import AssayError, InputError
from cytorelease.measurement import Measurement
from cytorelease.qpcr.acceptance import Check, dpcr_checks, qpcr_checks, reference_checks
from cytorelease.qpcr.assay import LoadedAssay, QpcrAssay
from cytorelease.qpcr.dpcr import Z95, poisson_estimate
from cytorelease.qpcr.stdcurve import StandardCurve, fit_standard_curve
from cytorelease.qpcr.table import QpcrExport, Task

__all__ = ["SampleVcn", "VcnResult", "analyse_export", "compute_vcn"]

VCN_ATTRIBUTE = "qpcr.vcn_per_diploid_genome"
VCN_CELL_ATTRIBUTE = "qpcr.vcn_per_transduced_cell"
DETECTED_ATTRIBUTE = "qpcr.transgene_detected"


@dataclass(frozen=True, slots=True)
class TargetAmount:
    """A target's amount in one sample: copies/reaction (qPCR) or copies/partition (dPCR)."""

    value: float
    log_se: float  # standard error of ln(value)
    replicates: int


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

    def to_dict(self) -> dict[str, Any]:
        return {
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
            "provenance": self.provenance,
        }


def _resolve(table: pd.DataFrame, names: list[str], role: str, export: QpcrExport) -> str:
    present = set(table["target"])
    for name in names:
        if name in present:
            return name
    raise AssayError(
        f"{role} target {' / '.join(names)} is not in the export (targets present: "
        f"{', '.join(sorted(present)) or 'none'})",
        path=export.path,
        hint="check the assay's target names against the export",
    )


def _standard_copies(rows: pd.DataFrame, assay: QpcrAssay, export: QpcrExport) -> np.ndarray:
    named = assay.standard_copies()
    copies = rows["sample"].map(named).to_numpy(np.float64)
    fallback = rows["quantity"].to_numpy(np.float64)
    copies = np.where(np.isfinite(copies), copies, fallback)
    unknown = sorted(set(rows.loc[~np.isfinite(copies), "sample"].astype(str)))
    if unknown:
        raise AssayError(
            f"standard(s) {', '.join(unknown)} have no copies per reaction in the assay or the "
            "export",
            path=export.path,
            hint="list them under 'standards' in the assay file",
        )
    return copies


def _qpcr_amount(curve: StandardCurve, cq: np.ndarray) -> TargetAmount | None:
    cq = cq[np.isfinite(cq)]
    if cq.size == 0:
        return None
    pred = curve.inverse_predict(cq)
    calib = (math.log(pred.high) - math.log(pred.low)) / (2 * Z95)
    # Replicate scatter on the copies scale, in case it exceeds what the fit allows for.
    scatter = float(np.std(cq, ddof=1)) * math.log(10) / abs(curve.slope) / math.sqrt(cq.size)
    return TargetAmount(pred.copies, max(calib, scatter if cq.size > 1 else 0.0), int(cq.size))


def _dpcr_amount(rows: pd.DataFrame, min_positives: int) -> TargetAmount | None:
    rows = rows[np.isfinite(rows["partitions"].to_numpy(np.float64))]
    if rows.empty:
        return None
    if rows["positives"].sum() < min_positives:
        return TargetAmount(0.0, math.inf, len(rows))
    est = poisson_estimate(rows["positives"].sum(), rows["partitions"].sum())
    lam, low, high = float(est.lambda_[0]), float(est.lambda_low[0]), float(est.lambda_high[0])
    if not lam > 0 or not math.isfinite(lam):
        return TargetAmount(0.0 if lam == 0 else math.nan, math.inf, len(rows))
    se = (math.log(high) - math.log(max(low, 1e-300))) / (2 * Z95)
    return TargetAmount(lam, se, len(rows))


def _ratio(
    sample: str, role: str | None, t: TargetAmount | None, r: TargetAmount | None, cpdg: float
) -> SampleVcn:
    replicates = {"transgene": t.replicates if t else 0, "reference": r.replicates if r else 0}
    if t is None or not t.value > 0:
        return SampleVcn(sample, role, False, None, None, None, replicates, None,
                         r.value if r else None, "transgene not detected")  # fmt: skip
    if r is None or not r.value > 0:  # the reference check fails the run in this case
        return SampleVcn(sample, role, True, None, None, None, replicates, t.value, None,
                         "reference not amplified")  # fmt: skip
    vcn = cpdg * t.value / r.value
    se = math.hypot(t.log_se, r.log_se)
    return SampleVcn(
        sample, role, True, vcn, vcn * math.exp(-Z95 * se), vcn * math.exp(Z95 * se),
        replicates, t.value, r.value,
    )  # fmt: skip


def _partition_volume(export: QpcrExport, assay: QpcrAssay) -> float:
    """nL per partition: the assay's value for the platform, else the export's own."""
    configured = assay.dpcr.partition_volume_nl.get(export.format.value)
    if configured is not None:
        return configured
    volumes = export.table["volume_nl"].to_numpy(np.float64)
    return float(np.nanmean(volumes)) if np.isfinite(volumes).any() else math.nan


def _per_ul(result: SampleVcn, volume_nl: float) -> SampleVcn:
    """Copies per partition -> copies/µL when the partition volume is known."""
    if not math.isfinite(volume_nl):
        return replace(result, amount_unit="copies/partition")
    scale = 1.0 / (volume_nl * 1e-3)
    return replace(
        result,
        transgene=None if result.transgene is None else result.transgene * scale,
        reference=None if result.reference is None else result.reference * scale,
        amount_unit="copies/uL",
    )


def compute_vcn(
    export: QpcrExport, loaded: LoadedAssay, *, car_fraction: float | None = None
) -> VcnResult:
    """Acceptance checks, then (if they all pass) each unknown sample's VCN and measurements."""
    if car_fraction is not None and not 0 < car_fraction <= 1:
        raise InputError(
            f"CAR+ fraction {car_fraction} is outside (0, 1]",
            hint="pass a fraction, e.g. 0.35 for 35% CAR+",
        )
    assay = loaded.assay
    table = export.table[~export.table["excluded"].to_numpy()]
    transgene = _resolve(table, assay.transgene.targets, "transgene", export)
    reference = _resolve(table, assay.reference.targets, "reference", export)
    is_standard = (table["task"] == Task.STANDARD.value) | table["sample"].isin(
        assay.standard_copies()
    )
    # Test samples: unknowns and positive controls (a control of known VCN is worth reading).
    unknown_mask = (
        table["task"].isin([Task.UNKNOWN.value, Task.POSITIVE_CONTROL.value])
        & ~is_standard
        & (table["sample"] != "")
    )
    checks: list[Check] = []
    curves: list[StandardCurve] = []
    amounts: dict[str, dict[str, TargetAmount | None]] = {}
    samples = sorted(set(table.loc[unknown_mask, "sample"]))
    for target in (transgene, reference):
        rows = table[table["target"] == target]
        unknowns = rows[unknown_mask.loc[rows.index].to_numpy()]
        if export.digital:
            checks += dpcr_checks(rows, target, assay.dpcr)
            amounts[target] = {
                s: _dpcr_amount(
                    unknowns[unknowns["sample"] == s],
                    assay.dpcr.min_positives_detected if target == transgene else 1,
                )
                for s in samples
            }
        else:
            std = rows[is_standard.loc[rows.index].to_numpy()]
            if std.empty:
                raise AssayError(
                    f"no standards for target {target} in the export", path=export.path
                )
            curve = fit_standard_curve(target, _standard_copies(std, assay, export), std["cq"])
            curves.append(curve)
            checks += qpcr_checks(rows, curve, unknowns, assay.acceptance)
            cq_by_sample = {s: g["cq"].to_numpy(np.float64) for s, g in unknowns.groupby("sample")}
            amounts[target] = {
                s: _qpcr_amount(curve, cq_by_sample.get(s, np.array([]))) for s in samples
            }
    ref_rows = table[(table["target"] == reference) & unknown_mask]
    checks.append(reference_checks(ref_rows, reference, digital=export.digital))
    passed = all(c.passed for c in checks)
    reasons = [f"{c.check}: {c.value} (limit {c.limit})" for c in checks if not c.passed]
    roles = {name: role for role, name in assay.samples.items()}
    results = [
        _ratio(
            s,
            roles.get(s),
            amounts[transgene][s],
            amounts[reference][s],
            assay.reference.copies_per_diploid_genome,
        )
        for s in samples
    ]
    if export.digital:
        results = [_per_ul(r, _partition_volume(export, assay)) for r in results]
    result_samples = results if passed else []
    measurements = _measurements(
        results, passed, reasons, export, loaded, car_fraction, set(roles)
    )
    return VcnResult(
        format=export.format.value,
        instrument=export.instrument,
        digital=export.digital,
        transgene_target=transgene,
        reference_target=reference,
        passed=passed,
        checks=checks,
        curves=curves,
        samples=result_samples,
        measurements=measurements,
        reasons=reasons,
        provenance={
            "input": {"path": str(export.path), "sha256": export.sha256},
            "assay": loaded.method_ref().to_dict(),
        },
    )


def _measurements(
    results: list[SampleVcn],
    passed: bool,
    reasons: list[str],
    export: QpcrExport,
    loaded: LoadedAssay,
    car_fraction: float | None,
    mapped: set[str],
) -> list[Measurement]:
    """Measurements for the lot's mapped samples (all unknowns when none of them is present)."""
    chosen = [r for r in results if r.sample in mapped] or results
    method = loaded.method_ref()
    out: list[Measurement] = []
    for r in chosen:
        base = {"sample": r.sample, "role": r.role, "format": export.format.value}
        if not passed:
            why = {**base, "reason": "run acceptance failed", "failed_checks": reasons}
            out.append(Measurement(VCN_ATTRIBUTE, None, "copies/diploid genome", method,
                                   (export.sha256,), why))  # fmt: skip
            out.append(Measurement(DETECTED_ATTRIBUTE, None, "", method, (export.sha256,), why))
            continue
        details = {**base, "ci_low": r.ci_low, "ci_high": r.ci_high, "replicates": r.replicates}
        if r.note:
            details["reason" if r.vcn is None else "note"] = r.note
        out.append(Measurement(DETECTED_ATTRIBUTE, "detected" if r.transgene_detected
                               else "not detected", "", method, (export.sha256,), base))  # fmt: skip
        out.append(Measurement(VCN_ATTRIBUTE, r.vcn, "copies/diploid genome", method,
                               (export.sha256,), details))  # fmt: skip
        if car_fraction is not None:
            cell = None if r.vcn is None else r.vcn / car_fraction
            cell_details = {
                **details,
                "car_fraction": car_fraction,
                "ci_low": None if r.ci_low is None else r.ci_low / car_fraction,
                "ci_high": None if r.ci_high is None else r.ci_high / car_fraction,
            }
            out.append(Measurement(VCN_CELL_ATTRIBUTE, cell, "copies/transduced cell", method,
                                   (export.sha256,), cell_details))  # fmt: skip
    return out


def analyse_export(
    export_path: str | Path,
    assay: str | Path,
    *,
    fmt: str = "auto",
    car_fraction: float | None = None,
) -> VcnResult:
    """Read an export, load the assay (name in assays/ or path), and compute the VCN."""
    from cytorelease.qpcr.assay import load_assay
    from cytorelease.qpcr.readers import read_export

    loaded = load_assay(assay)
    export = read_export(export_path, fmt)
    try:
        return compute_vcn(export, loaded, car_fraction=car_fraction)
    except InputError as exc:
        raise exc.with_path(export.path) from None
