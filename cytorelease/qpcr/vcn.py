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

from pathlib import Path

import numpy as np
import pandas as pd

from cytorelease.errors import AssayError, InputError
from cytorelease.measurement import Measurement
from cytorelease.qpcr.acceptance import Check, reference_check
from cytorelease.qpcr.assay import LoadedAssay
from cytorelease.qpcr.stdcurve import StandardCurve
from cytorelease.qpcr.table import CqSource, QpcrExport, Task
from cytorelease.qpcr.vcn_dpcr import (
    analyse_dpcr_target,
    dpcr_wells,
    in_copies_per_ul,
    volume_flags,
    well_volumes,
)
from cytorelease.qpcr.vcn_qpcr import analyse_qpcr_target
from cytorelease.qpcr.vcn_result import SampleVcn, TargetAmount, VcnResult
from cytorelease.qpcr.vcn_run import RunArrays, resolve_target, sample_groups, vcn_ratio

__all__ = ["SampleVcn", "VcnResult", "analyse_export", "compute_vcn"]

VCN_ATTRIBUTE = "qpcr.vcn_per_diploid_genome"
VCN_CELL_ATTRIBUTE = "qpcr.vcn_per_transduced_cell"
DETECTED_ATTRIBUTE = "qpcr.transgene_detected"
PRODUCT_ROLE = "drug_product"  # the assay's ``samples`` role whose sample gets measurements


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
    run = RunArrays.of(export.table, export.digital)
    transgene = resolve_target(run, assay.transgene.targets, "transgene", export)
    reference = resolve_target(run, assay.reference.targets, "reference", export)
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
    volume = well_volumes(run, export, assay) if export.digital else run.volume
    for target in (transgene, reference):
        # Excluded wells (e.g. Biomark "Fail" calls) leave the analysis, except that an NTC
        # counts whatever its call: a poor curve in a no-template well is still a warning.
        ntc = (run.target == target) & is_ntc
        on = (run.target == target) & run.usable
        groups = sample_groups(run.sample, on & is_test)
        if export.digital:
            floor = assay.dpcr.min_positives_detected if target == transgene else 1
            found = analyse_dpcr_target(
                run,
                target,
                on=on,
                ntc=ntc,
                is_ntc=is_ntc,
                groups=groups,
                samples=samples,
                volume=volume,
                min_positives=floor,
                assay=assay,
            )
        else:
            found = analyse_qpcr_target(
                run,
                target,
                on=on,
                ntc=ntc,
                is_test=is_test,
                is_standard=is_standard,
                groups=groups,
                samples=samples,
                assay=assay,
                export=export,
            )
        checks += found.checks
        curves += [found.curve] if found.curve is not None else []
        amounts[target] = found.amounts
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
        vcn_ratio(s, roles.get(s), amounts[transgene][s], amounts[reference][s], cpdg)
        for s in samples
    ]
    if export.digital:
        results = [
            in_copies_per_ul(r, amounts[transgene][r.sample], amounts[reference][r.sample])
            for r in results
        ]
    product = {name for name, role in roles.items() if role == PRODUCT_ROLE}
    on_targets = np.isin(run.target, [transgene, reference])
    wells = dpcr_wells(run, on_targets, volume) if export.digital else []
    measurements = _measurements(results, passed, reasons, export, loaded, car_fraction, product)
    return VcnResult(
        run=_run_name(export),
        flags=_cq_flags(export) + volume_flags(wells),
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
