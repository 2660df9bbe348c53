"""Vector copy number from a parsed export and an assay, with its run-acceptance evidence.

VCN per diploid genome = transgene copies / (reference copies / copies per diploid genome);
per transduced cell = VCN / CAR+ fraction (from flow). qPCR reads copies off each target's
standard curve (inverse prediction of the replicates' mean Cq, so the interval carries the
calibration and the replicate count); dPCR pools each sample's wells per target (Poisson,
Wilson interval) and gives copies/µL from each well's own partition volume (the assay's volume
for the platform when it states one, else the export's per well; never an average over other
wells or samples). Intervals combine the two targets on the log scale. A run that fails any
acceptance check reports the reasons and no VCN.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cytorelease.errors import AssayError, InputError
from cytorelease.measurement import Measurement
from cytorelease.qpcr.acceptance import (
    Check,
    curve_checks,
    dpcr_checks,
    loq_check,
    ntc_check,
    reference_check,
    replicate_sd_check,
)
from cytorelease.qpcr.assay import LoadedAssay, QpcrAssay
from cytorelease.qpcr.dpcr import (
    Z95,
    concentration,
    differs_from_reported,
    poisson_estimate,
    pooled_concentration,
)
from cytorelease.qpcr.stdcurve import StandardCurve, fit_standard_curve
from cytorelease.qpcr.table import CqSource, QpcrExport, Task
from cytorelease.qpcr.vcn_result import SampleVcn, TargetAmount, VcnResult

__all__ = ["SampleVcn", "VcnResult", "analyse_export", "compute_vcn"]

VCN_ATTRIBUTE = "qpcr.vcn_per_diploid_genome"
VCN_CELL_ATTRIBUTE = "qpcr.vcn_per_transduced_cell"
DETECTED_ATTRIBUTE = "qpcr.transgene_detected"
PRODUCT_ROLE = "drug_product"  # the assay's ``samples`` role whose sample gets measurements


@dataclass(frozen=True)
class _Run:
    """The export's rows as plain arrays (masks are cheap on arrays); ``usable`` = not excluded."""

    sample: np.ndarray
    target: np.ndarray
    task: np.ndarray
    well: np.ndarray
    cq: np.ndarray
    quantity: np.ndarray
    partitions: np.ndarray
    positives: np.ndarray
    volume: np.ndarray  # nL per partition of each well (dPCR; NaN when not known)
    reported: np.ndarray  # the instrument's copies/µL of each well (dPCR)
    usable: np.ndarray

    @classmethod
    def of(cls, table: pd.DataFrame, digital: bool) -> _Run:
        def col(name: str, dtype: Any) -> np.ndarray:
            if name not in table:
                return np.full(len(table), np.nan)
            return table[name].to_numpy(dtype)

        return cls(
            sample=col("sample", object),
            target=col("target", object),
            task=col("task", object),
            well=col("well", object),
            cq=col("cq", np.float64),
            quantity=col("quantity", np.float64),
            partitions=col("partitions", np.float64) if digital else np.empty(0),
            positives=col("positives", np.float64) if digital else np.empty(0),
            volume=col("volume_nl", np.float64) if digital else np.empty(0),
            reported=col("concentration", np.float64) if digital else np.empty(0),
            usable=~table["excluded"].to_numpy(bool),
        )


def _resolve(run: _Run, names: list[str], role: str, export: QpcrExport) -> str:
    present = set(pd.unique(run.target).tolist())
    for name in names:
        if name in present:
            return name
    raise AssayError(
        f"{role} target {' / '.join(names)} is not in the export (targets present: "
        f"{', '.join(sorted(present)) or 'none'})",
        path=export.path,
        hint="check the assay's target names against the export",
    )


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


def _qpcr_amount(curve: StandardCurve, cq: np.ndarray) -> TargetAmount | None:
    cq = cq[np.isfinite(cq)]
    if cq.size == 0:
        return None
    pred = curve.inverse_predict(cq)
    calib = (math.log(pred.high) - math.log(pred.low)) / (2 * Z95)
    # Replicate scatter on the copies scale, in case it exceeds what the fit allows for.
    scatter = float(np.std(cq, ddof=1)) * math.log(10) / abs(curve.slope) / math.sqrt(cq.size)
    return TargetAmount(pred.copies, max(calib, scatter if cq.size > 1 else 0.0), int(cq.size))


def _dpcr_amount(
    partitions: np.ndarray, positives: np.ndarray, volume: np.ndarray, min_positives: int
) -> TargetAmount | None:
    """Pooled copies/partition (the VCN ratio's unit) and copies/µL of one sample's wells."""
    usable = np.isfinite(partitions)
    partitions, positives, volume = partitions[usable], positives[usable], volume[usable]
    if partitions.size == 0:
        return None
    if np.nansum(positives) < min_positives:
        per_ul = None if pooled_concentration(positives, partitions, volume) is None else 0.0
        return TargetAmount(0.0, math.inf, int(partitions.size), per_ul)
    per_ul = pooled_concentration(np.nan_to_num(positives), partitions, volume)
    est = poisson_estimate(np.nansum(positives), partitions.sum())
    lam, low, high = float(est.lambda_[0]), float(est.lambda_low[0]), float(est.lambda_high[0])
    if not math.isfinite(lam):
        return TargetAmount(math.nan, math.inf, int(partitions.size), per_ul)
    se = (math.log(high) - math.log(max(low, 1e-300))) / (2 * Z95)
    return TargetAmount(lam, se, int(partitions.size), per_ul)


def _ratio(
    sample: str, role: str | None, t: TargetAmount | None, r: TargetAmount | None, cpdg: float
) -> SampleVcn:
    replicates = {"transgene": t.replicates if t else 0, "reference": r.replicates if r else 0}
    if t is None or not t.value > 0:
        return SampleVcn(
            sample=sample,
            role=role,
            replicates=replicates,
            transgene_detected=False,
            vcn=None,
            ci_low=None,
            ci_high=None,
            transgene=None,
            reference=r.value if r else None,
            note="transgene not detected",
        )
    if r is None or not r.value > 0:  # the reference check fails the run in this case
        return SampleVcn(
            sample=sample,
            role=role,
            replicates=replicates,
            transgene_detected=True,
            vcn=None,
            ci_low=None,
            ci_high=None,
            transgene=t.value,
            reference=None,
            note="reference not amplified",
        )
    vcn = cpdg * t.value / r.value
    se = math.hypot(t.log_se, r.log_se)  # independent errors on the log scale
    return SampleVcn(
        sample=sample,
        role=role,
        replicates=replicates,
        transgene_detected=True,
        vcn=vcn,
        ci_low=vcn * math.exp(-Z95 * se),
        ci_high=vcn * math.exp(Z95 * se),
        transgene=t.value,
        reference=r.value,
    )


def _well_volumes(run: _Run, export: QpcrExport, assay: QpcrAssay) -> np.ndarray:
    """nL per partition of each well: the assay's value for the platform, else the export's own
    for that well (an export-wide mean was 4.1 % off in copies/µL on a real QIAcuity plate)."""
    configured = assay.dpcr.partition_volume_nl.get(export.format.value)
    if configured is not None:
        return np.full(run.volume.shape, configured)
    return run.volume


def _per_ul(result: SampleVcn, t: TargetAmount | None, r: TargetAmount | None) -> SampleVcn:
    """Copies per partition -> copies/µL when every well of the sample has its volume."""
    shown = [(a, v) for a, v in ((t, result.transgene), (r, result.reference)) if v is not None]
    if not shown or any(a is None or a.per_ul is None for a, _ in shown):
        return replace(result, amount_unit="copies/partition")
    return replace(
        result,
        transgene=None if result.transgene is None or t is None else t.per_ul,
        reference=None if result.reference is None or r is None else r.per_ul,
        amount_unit="copies/uL",
    )


def _dpcr_wells(run: _Run, mask: np.ndarray, volume: np.ndarray) -> list[dict[str, Any]]:
    """Each well's own copies/µL (its partitions, its volume) beside the instrument's."""

    def num(value: float) -> float | None:
        return float(value) if math.isfinite(value) else None

    ours = concentration(run.positives, run.partitions, volume)
    differs = differs_from_reported(ours, run.reported)
    return [
        {
            "well": str(run.well[i]),
            "sample": str(run.sample[i]),
            "target": str(run.target[i]),
            "partitions": num(run.partitions[i]),
            "positives": num(run.positives[i]),
            "volume_nl": num(volume[i]),
            "concentration": num(ours[i]),
            "reported_concentration": num(run.reported[i]),
            "differs_from_reported": bool(differs[i]),
        }
        for i in np.flatnonzero(mask)
    ]


def _groups(samples: np.ndarray, mask: np.ndarray) -> dict[str, np.ndarray]:
    """Row indices of each sample among the rows in ``mask``."""
    index = np.flatnonzero(mask)
    codes, names = pd.factorize(samples[index])
    order = np.argsort(codes, kind="stable")
    bounds = np.cumsum(np.bincount(codes, minlength=len(names)))[:-1]
    return {str(n): g for n, g in zip(names, np.split(index[order], bounds), strict=True)}


def compute_vcn(
    export: QpcrExport,
    loaded: LoadedAssay,
    *,
    car_fraction: float | None = None,
    product_sample: str | None = None,
) -> VcnResult:
    """Acceptance checks, then (if they all pass) each test sample's VCN and measurements.

    ``product_sample`` names the export's sample of this lot's drug product when the lab names
    it (e.g. by lot id) rather than as the assay's ``samples.drug_product`` says.
    """
    if car_fraction is not None and not 0 < car_fraction <= 1:
        raise InputError(
            f"CAR+ fraction {car_fraction} is outside (0, 1]",
            hint="pass a fraction, e.g. 0.35 for 35% CAR+",
        )
    assay = loaded.assay
    run = _Run.of(export.table, export.digital)
    transgene = _resolve(run, assay.transgene.targets, "transgene", export)
    reference = _resolve(run, assay.reference.targets, "reference", export)
    is_standard = (run.task == Task.STANDARD.value) | pd.Series(run.sample).isin(
        list(assay.standard_copies())
    ).to_numpy()
    # Test samples: unknowns and positive controls (a control of known VCN is worth reading).
    is_test = (
        ((run.task == Task.UNKNOWN.value) | (run.task == Task.POSITIVE_CONTROL.value))
        & ~is_standard
        & (run.sample != "")
    )
    is_ntc = run.task == Task.NTC.value
    samples = sorted(str(s) for s in pd.unique(run.sample[is_test]))
    checks: list[Check] = []
    curves: list[StandardCurve] = []
    amounts: dict[str, dict[str, TargetAmount | None]] = {}
    volume = _well_volumes(run, export, assay) if export.digital else run.volume
    for target in (transgene, reference):
        # Excluded wells (e.g. Biomark "Fail" calls) leave the analysis, except that an NTC
        # counts whatever its call: a poor curve in a no-template well is still a warning.
        ntc = (run.target == target) & is_ntc
        on = (run.target == target) & run.usable
        groups = _groups(run.sample, on & is_test)
        if export.digital:
            checks += dpcr_checks(
                run.well[on | ntc],
                is_ntc[on | ntc],
                run.partitions[on | ntc],
                run.positives[on | ntc],
                target,
                assay.dpcr,
                require_ntc=assay.acceptance.require_ntc,
            )
            floor = assay.dpcr.min_positives_detected if target == transgene else 1
            amounts[target] = {
                s: _dpcr_amount(
                    run.partitions[groups[s]], run.positives[groups[s]], volume[groups[s]], floor
                )
                if s in groups
                else None
                for s in samples
            }
            continue
        std = on & is_standard
        if not std.any():
            raise AssayError(f"no standards for target {target} in the export", path=export.path)
        copies = _standard_copies(run.sample[std], run.quantity[std], assay, export)
        curve = fit_standard_curve(target, copies, run.cq[std])
        curves.append(curve)
        checks += curve_checks(curve, assay.acceptance)
        checks.append(replicate_sd_check(run.sample[on], run.cq[on], target, assay.acceptance))
        checks.append(ntc_check(run.cq[ntc], target, assay.acceptance))
        if assay.acceptance.unknowns_within_standards:
            checks.append(loq_check(run.sample[on & is_test], run.cq[on & is_test], curve))
        amounts[target] = {
            s: _qpcr_amount(curve, run.cq[groups[s]]) if s in groups else None for s in samples
        }
    amplified = {s: (a := amounts[reference][s]) is not None and a.value > 0 for s in samples}
    checks.append(reference_check(amplified, reference))
    passed = all(c.passed for c in checks)
    reasons = [f"{c.check}: {c.value} (limit {c.limit})" for c in checks if not c.passed]
    roles = {name: role for role, name in assay.samples.items()}
    if product_sample is not None:
        if product_sample not in samples:
            raise InputError(
                f"sample {product_sample!r} named as this lot's drug product is not a test sample "
                f"of the export (test samples: {', '.join(samples) or 'none'})"
            )
        roles = {n: r for n, r in roles.items() if r != PRODUCT_ROLE} | {
            product_sample: PRODUCT_ROLE
        }
    cpdg = assay.reference.copies_per_diploid_genome
    results = [
        _ratio(s, roles.get(s), amounts[transgene][s], amounts[reference][s], cpdg) for s in samples
    ]
    if export.digital:
        results = [
            _per_ul(r, amounts[transgene][r.sample], amounts[reference][r.sample]) for r in results
        ]
    product = {name for name, role in roles.items() if role == PRODUCT_ROLE}
    on_targets = np.isin(run.target, [transgene, reference])
    wells = _dpcr_wells(run, on_targets, volume) if export.digital else []
    measurements = _measurements(results, passed, reasons, export, loaded, car_fraction, product)
    return VcnResult(
        run=_run_name(export),
        flags=_cq_flags(export) + _volume_flags(wells),
        format=export.format.value,
        instrument=export.instrument,
        digital=export.digital,
        transgene_target=transgene,
        reference_target=reference,
        passed=passed,
        checks=checks,
        curves=curves,
        samples=results if passed else [],
        measurements=measurements,
        wells=wells,
        reasons=reasons,
        provenance={
            "input": {"path": str(export.path), "sha256": export.sha256, "run": _run_name(export)},
            "assay": loaded.method_ref().to_dict(),
        },
    )


def _run_name(export: QpcrExport) -> str | None:
    runs = export.runs
    return runs[0] if len(runs) == 1 and runs[0] else None


def _volume_flags(wells: list[dict[str, Any]]) -> list[str]:
    """A flag when our copies/µL of a well is not the instrument's: the volume is not its."""
    apart = [w["well"] for w in wells if w["differs_from_reported"]]
    if not apart:
        return []
    shown = ", ".join(dict.fromkeys(apart[:8])) + (", ..." if len(apart) > 8 else "")
    return [
        f"dPCR concentration differs: {len(apart)} of {len(wells)} wells' copies/uL from their "
        f"partitions and partition volume differ from the export's by over 1 % ({shown}); the "
        "partition volume used is not the instrument's"
    ]


def _cq_flags(export: QpcrExport) -> list[str]:
    """A flag when Cqs were computed here from curves: not the instrument's, not its method."""
    computed = int((export.table["cq_source"] == CqSource.COMPUTED.value).sum())
    if not computed:
        return []
    return [
        f"computed Cq: {computed} of {len(export.table)} Cq values were computed by cytorelease "
        "from the export's amplification curves (the export has no instrument Cq for them)"
    ]


def _measurements(
    results: list[SampleVcn],
    passed: bool,
    reasons: list[str],
    export: QpcrExport,
    loaded: LoadedAssay,
    car_fraction: float | None,
    product: set[str],
) -> list[Measurement]:
    """Measurements of the drug product sample (of every test sample when it is not in the run).

    Controls (the untransduced control, positive controls) are checked and reported in the
    samples table, but a spec judges the product, so only the product gets measurements.
    """
    chosen = [r for r in results if r.sample in product] or results
    method = loaded.method_ref()
    out: list[Measurement] = []
    for r in chosen:
        base = {"sample": r.sample, "role": r.role, "format": export.format.value}
        if not passed:
            why = {**base, "reason": "run acceptance failed", "failed_checks": reasons}
            out.append(
                Measurement(
                    VCN_ATTRIBUTE, None, "copies/diploid genome", method, (export.sha256,), why
                )
            )
            out.append(Measurement(DETECTED_ATTRIBUTE, None, "", method, (export.sha256,), why))
            continue
        details = {**base, "ci_low": r.ci_low, "ci_high": r.ci_high, "replicates": r.replicates}
        if r.note:
            details["reason" if r.vcn is None else "note"] = r.note
        out.append(
            Measurement(
                DETECTED_ATTRIBUTE,
                "detected" if r.transgene_detected else "not detected",
                "",
                method,
                (export.sha256,),
                base,
            )
        )
        out.append(
            Measurement(
                VCN_ATTRIBUTE, r.vcn, "copies/diploid genome", method, (export.sha256,), details
            )
        )
        if car_fraction is not None:
            cell = None if r.vcn is None else r.vcn / car_fraction
            cell_details = {
                **details,
                "car_fraction": car_fraction,
                "ci_low": None if r.ci_low is None else r.ci_low / car_fraction,
                "ci_high": None if r.ci_high is None else r.ci_high / car_fraction,
            }
            out.append(
                Measurement(
                    VCN_CELL_ATTRIBUTE,
                    cell,
                    "copies/transduced cell",
                    method,
                    (export.sha256,),
                    cell_details,
                )
            )
    return out


def analyse_export(
    export_path: str | Path,
    assay: str | Path,
    *,
    fmt: str = "auto",
    car_fraction: float | None = None,
    product_sample: str | None = None,
    run: str | None = None,
) -> VcnResult:
    """Read an export, load the assay (name in assays/ or path), and compute the VCN.

    ``run`` names the export's run to analyse; an export holding several runs is refused
    without one (:func:`cytorelease.qpcr.table.select_run`).
    """
    from cytorelease.qpcr.assay import load_assay
    from cytorelease.qpcr.readers import read_export

    loaded = load_assay(assay)
    export = read_export(export_path, fmt).for_run(run)
    try:
        return compute_vcn(export, loaded, car_fraction=car_fraction, product_sample=product_sample)
    except (InputError, AssayError) as exc:  # the fit's errors concern this export
        raise exc.with_path(export.path) from None
