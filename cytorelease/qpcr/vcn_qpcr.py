"""The qPCR path of a VCN run: each target's standard curve and the samples' copies off it.

Copies come by inverse prediction of the replicates' mean Cq, so the interval carries both the
calibration and the replicate count.
"""

from __future__ import annotations

import math

import numpy as np

from cytorelease.errors import AssayError
from cytorelease.qpcr.acceptance import (
    Check,
    curve_checks,
    loq_check,
    ntc_check,
    replicate_sd_check,
)
from cytorelease.qpcr.assay import QpcrAssay
from cytorelease.qpcr.dpcr import Z95
from cytorelease.qpcr.stdcurve import StandardCurve, fit_standard_curve
from cytorelease.qpcr.table import QpcrExport
from cytorelease.qpcr.vcn_result import TargetAmount
from cytorelease.qpcr.vcn_run import RunArrays, TargetAnalysis

__all__ = ["analyse_qpcr_target"]


def _standard_copies(
    samples: np.ndarray, quantity: np.ndarray, assay: QpcrAssay, export: QpcrExport
) -> np.ndarray:
    named = assay.standard_copies()
    copies = np.array([named.get(s, np.nan) for s in samples], dtype=np.float64)
    copies = np.where(np.isfinite(copies), copies, quantity)
    unknown = sorted({str(s) for s in samples[~np.isfinite(copies)]})
    if unknown:
        raise AssayError(
            f"standard(s) {', '.join(unknown)} have no copies per reaction in the assay or the "
            "export",
            path=export.path,
            hint="list them under 'standards' in the assay file",
        )
    return copies


def _amount(curve: StandardCurve, cq: np.ndarray) -> TargetAmount | None:
    cq = cq[np.isfinite(cq)]
    if cq.size == 0:
        return None
    pred = curve.inverse_predict(cq)
    calib = (math.log(pred.high) - math.log(pred.low)) / (2 * Z95)
    # Replicate scatter on the copies scale, in case it exceeds what the fit allows for.
    scatter = float(np.std(cq, ddof=1)) * math.log(10) / abs(curve.slope) / math.sqrt(cq.size)
    return TargetAmount(pred.copies, max(calib, scatter if cq.size > 1 else 0.0), int(cq.size))


def analyse_qpcr_target(
    run: RunArrays,
    target: str,
    *,
    on: np.ndarray,
    ntc: np.ndarray,
    is_test: np.ndarray,
    is_standard: np.ndarray,
    groups: dict[str, np.ndarray],
    samples: list[str],
    assay: QpcrAssay,
    export: QpcrExport,
) -> TargetAnalysis:
    """Curve, its acceptance checks, and each sample's copies (None when it has no Cq)."""
    std = on & is_standard
    if not std.any():
        raise AssayError(f"no standards for target {target} in the export", path=export.path)
    copies = _standard_copies(run.sample[std], run.quantity[std], assay, export)
    curve = fit_standard_curve(target, copies, run.cq[std])
    checks: list[Check] = list(curve_checks(curve, assay.acceptance))
    checks.append(replicate_sd_check(run.sample[on], run.cq[on], target, assay.acceptance))
    checks.append(ntc_check(run.cq[ntc], target, assay.acceptance))
    if assay.acceptance.unknowns_within_standards:
        checks.append(loq_check(run.sample[on & is_test], run.cq[on & is_test], curve))
    amounts = {s: _amount(curve, run.cq[groups[s]]) if s in groups else None for s in samples}
    return TargetAnalysis(checks, curve, amounts)
