"""One target's standard curve from a qPCR export, and every other well read off it.

For runs that are not a VCN run (e.g. an RNase P quantification with its dilution series):
the standards of the target are fitted (:func:`~cytorelease.qpcr.stdcurve.fit_standard_curve`,
OLS of Cq on log10 copies); each other well of the target gets its copies per reaction by
inverse prediction with the Fieller calibration interval of a single Cq
(:meth:`~cytorelease.qpcr.stdcurve.StandardCurve.calibration_interval`); the run is judged by
the same acceptance checks as a VCN run. Standards' copies come from the assay when one is
named (its ``standards``, then the export's quantity for any it does not list), else from the
export. A well is never given a number it cannot have: undetermined, omitted, outside the
standards' Cq range (no extrapolation), or in a run that failed acceptance, its quantity is None
with the reason and a flag.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from cytorelease.errors import AssayError, InputError
from cytorelease.qpcr.acceptance import (
    Check,
    curve_checks,
    loq_check,
    ntc_check,
    replicate_sd_check,
)
from cytorelease.qpcr.assay import Acceptance, LoadedAssay
from cytorelease.qpcr.curve_result import (
    CurveFlag,
    CurveResult,
    QuantifiedWell,
    StandardWell,
    WellFlag,
)
from cytorelease.qpcr.instrument_curve import InstrumentCurve
from cytorelease.qpcr.stdcurve import StandardCurve, fit_standard_curve
from cytorelease.qpcr.table import QpcrExport, Task

__all__ = ["SLOPE_TOLERANCE_PCT", "analyse_curve", "compute_curve"]

# Our slope and the instrument's on the same standards agree to rounding (the export gives
# 3-4 decimals); beyond this the two curves do not rest on the same data.
SLOPE_TOLERANCE_PCT = 0.5


def _target_rows(export: QpcrExport, target: str) -> pd.DataFrame:
    table = export.table
    present = sorted({str(t) for t in table["target"]})
    if target not in present:
        raise InputError(
            f"target {target!r} is not in the export (targets present: "
            f"{', '.join(repr(t) for t in present) or 'none'})",
            path=export.path,
            hint="name one of them with --target",
        )
    return table[table["target"] == target].reset_index(drop=True)


def _unusable(call: str) -> str:
    return f"marked unusable in the export (call {call!r})" if call else "omitted in the export"


def _standards(
    rows: pd.DataFrame, loaded: LoadedAssay | None, export: QpcrExport
) -> tuple[list[StandardWell], list[StandardWell]]:
    """The target's standard wells split into used and excluded (with the reason)."""
    named = loaded.assay.standard_copies() if loaded is not None else {}
    is_standard = (rows["task"] == Task.STANDARD.value) | rows["sample"].isin(list(named))
    used: list[StandardWell] = []
    excluded: list[StandardWell] = []
    missing: set[str] = set()
    for row in rows[is_standard].itertuples(index=False):
        sample = str(row.sample)
        if sample in named:
            quantity, source = named[sample], "assay"
        else:
            quantity, source = float(row.quantity), "export"
        if not (math.isfinite(quantity) and quantity > 0):
            missing.add(sample)
            continue
        cq = float(row.cq)
        base = StandardWell(str(row.well), sample, cq, quantity, source)
        if bool(row.excluded):
            excluded.append(_with_reason(base, _unusable(str(row.call))))
        elif not math.isfinite(cq):
            excluded.append(_with_reason(base, "undetermined (no Cq)"))
        else:
            used.append(base)
    if missing:
        where = "the assay or the export" if loaded is not None else "the export"
        raise AssayError(
            f"standard(s) {', '.join(sorted(missing))} have no copies per reaction in {where}",
            path=export.path,
            hint="name an assay that lists them under 'standards' (--assay)",
        )
    if not used and not excluded:
        raise AssayError("no standards for this target in the export", path=export.path)
    return used, excluded


def _with_reason(well: StandardWell, reason: str) -> StandardWell:
    return StandardWell(
        well.well, well.sample, well.cq, well.quantity, well.quantity_source, reason
    )


def _back_calculated(well: StandardWell, curve: StandardCurve, confidence: float) -> StandardWell:
    interval = curve.calibration_interval(np.array([well.cq]), confidence)
    return replace(well, back_calculated=(interval.copies, interval.low, interval.high))


def _quantify(
    row: pd.Series, curve: StandardCurve, passed: bool, confidence: float
) -> QuantifiedWell:
    cq = float(row["cq"])
    low, high = curve.cq_range
    flags: list[WellFlag] = []
    reason: str | None = None
    if bool(row["excluded"]):
        flags.append(WellFlag.OMITTED)
        reason = _unusable(str(row["call"]))
    elif not math.isfinite(cq):
        flags.append(WellFlag.UNDETERMINED)
        reason = "undetermined (no Cq): not quantifiable"
    elif not low <= cq <= high:
        flags.append(WellFlag.OUTSIDE_STANDARDS_RANGE)
        reason = (
            f"Cq {cq:.3f} is outside the standards' Cq range {low:.3f}-{high:.3f}; not extrapolated"
        )
    if not passed:
        flags.append(WellFlag.RUN_ACCEPTANCE_FAILED)
        reason = reason or "run acceptance failed: no quantity is reported"
    if reason is not None:
        return QuantifiedWell(
            str(row["well"]), str(row["sample"]), str(row["task"]), cq, None, None, None,
            tuple(flags), reason,
        )  # fmt: skip
    interval = curve.calibration_interval(np.array([cq]), confidence)
    if not interval.bounded:
        return QuantifiedWell(
            str(row["well"]), str(row["sample"]), str(row["task"]), cq, interval.copies, None,
            None, (WellFlag.UNBOUNDED_INTERVAL,),
            "the curve cannot bound this well's interval (slope not significant)",
        )  # fmt: skip
    return QuantifiedWell(
        str(row["well"]), str(row["sample"]), str(row["task"]), cq, interval.copies,
        interval.low, interval.high,
    )  # fmt: skip


def _acceptance(
    rows: pd.DataFrame, is_standard: pd.Series, curve: StandardCurve, limits: Acceptance
) -> list[Check]:
    usable = ~rows["excluded"]
    task = rows["task"]
    is_test = (
        ((task == Task.UNKNOWN.value) | (task == Task.POSITIVE_CONTROL.value))
        & ~is_standard
        & (rows["sample"] != "")
        & usable
    )
    samples = rows["sample"].to_numpy(object)
    cq = rows["cq"].to_numpy(np.float64)
    checks = curve_checks(curve, limits)
    checks.append(
        replicate_sd_check(samples[usable.to_numpy()], cq[usable.to_numpy()], curve.target, limits)
    )
    checks.append(ntc_check(cq[(task == Task.NTC.value).to_numpy()], curve.target, limits))
    if limits.unknowns_within_standards:
        test = is_test.to_numpy()
        checks.append(loq_check(samples[test], cq[test], curve))
    return checks


def _slope_difference(curve: StandardCurve, instrument: InstrumentCurve | None) -> float | None:
    if instrument is None or not math.isfinite(instrument.slope) or instrument.slope == 0:
        return None
    return (curve.slope - instrument.slope) / abs(instrument.slope) * 100.0


def compute_curve(
    export: QpcrExport,
    target: str,
    loaded: LoadedAssay | None = None,
    *,
    confidence: float = 0.95,
) -> CurveResult:
    """Fit ``target``'s standards, judge the run, and quantify every other well of the target.

    ``export`` must hold one run (see :meth:`QpcrExport.for_run`). Without an assay the
    acceptance limits are the built-in defaults, and the result says so with a flag.
    """
    if export.digital:
        raise InputError(
            "a digital PCR export has no standard curve (use qpcr vcn for copies per partition)",
            path=export.path,
        )
    if len(export.runs) > 1:
        export = export.for_run(None)  # refuses, listing the runs
    rows = _target_rows(export, target)
    used, excluded = _standards(rows, loaded, export)
    curve = fit_standard_curve(
        target, np.array([s.quantity for s in used]), np.array([s.cq for s in used])
    )
    used = [_back_calculated(s, curve, confidence) for s in used]
    limits = loaded.assay.acceptance if loaded is not None else Acceptance()
    named = list(loaded.assay.standard_copies()) if loaded is not None else []
    is_standard = (rows["task"] == Task.STANDARD.value) | rows["sample"].isin(named)
    checks = _acceptance(rows, is_standard, curve, limits)
    passed = all(c.passed for c in checks)
    wells = [_quantify(row, curve, passed, confidence) for _, row in rows[~is_standard].iterrows()]
    instrument = export.instrument_curves.get(target)
    difference = _slope_difference(curve, instrument)
    flags = [] if loaded is not None else [CurveFlag.DEFAULT_ACCEPTANCE]
    if difference is not None and abs(difference) > SLOPE_TOLERANCE_PCT:
        flags.append(CurveFlag.INSTRUMENT_CURVE_DIFFERS)
    runs = export.runs
    return CurveResult(
        format=export.format.value,
        instrument=export.instrument,
        run=(runs[0] or None) if runs else None,
        target=target,
        curve=curve,
        standards_used=used,
        standards_excluded=excluded,
        wells=wells,
        passed=passed,
        checks=checks,
        reasons=[f"{c.check}: {c.value} (limit {c.limit})" for c in checks if not c.passed],
        acceptance_source="assay" if loaded is not None else "defaults",
        instrument_curve=instrument,
        slope_difference_pct=difference,
        flags=flags,
        confidence=confidence,
        provenance={
            "input": {"path": str(export.path), "sha256": export.sha256},
            "assay": loaded.method_ref().to_dict() if loaded is not None else None,
        },
    )


def analyse_curve(
    export_path: str | Path,
    target: str,
    *,
    assay: str | Path | None = None,
    run: str | None = None,
    fmt: str = "auto",
) -> CurveResult:
    """Read an export, keep one run, load the assay if named, and analyse ``target``'s curve."""
    from cytorelease.qpcr.assay import load_assay
    from cytorelease.qpcr.readers import read_export

    loaded = load_assay(assay) if assay is not None else None
    export = read_export(export_path, fmt).for_run(run)
    try:
        return compute_curve(export, target, loaded)
    except (InputError, AssayError) as exc:  # the fit's errors concern this export
        raise exc.with_path(export.path) from None
