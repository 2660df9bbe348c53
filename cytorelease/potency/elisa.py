"""IFN-gamma ELISA: a plate-reader export and a potency assay definition in, a result out.

Order of work: select the reading the assay asks for, check the plate against the layout, fit
the standard curve (the zero standard at concentration 0), back-calculate the standards
(recovery, working range LLOQ-ULOQ), back-calculate the samples (never beyond the working range),
judge the run against the assay's acceptance criteria, then write the measurements. A run that
fails acceptance still shows its numbers for investigation, but its measurements carry no value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cytorelease.errors import InputError
from cytorelease.measurement import Measurement, MethodRef
from cytorelease.potency.assay import LoadedAssay, PotencyAssay, SampleRole, load_potency_assay
from cytorelease.potency.curve import CurveFit, RangeFlag, fit_curve
from cytorelease.potency.dilutions import SampleResult, analyse_sample, od_stats
from cytorelease.potency.plate_plan import PlatePlan, plan_plate
from cytorelease.potency.readers import PlateExport, PlateReading, read_plate
from cytorelease.potency.readers.softmax import SKIPPED_GROUPS, SoftMaxExport
from cytorelease.potency.relative import RelativePotencyResult, relative_potency

__all__ = ["Check", "ElisaResult", "SampleResult", "StandardResult", "analyse_elisa"]


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    passed: bool
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "passed": self.passed, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class StandardResult:
    name: str
    nominal: float
    wells: tuple[str, ...]
    mean_od: float | None
    cv_pct: float | None
    back_calculated: float | None
    recovery_pct: float | None
    in_recovery: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "standard": self.name,
            "nominal": self.nominal,
            "wells": list(self.wells),
            "mean_od": self.mean_od,
            "cv_pct": self.cv_pct,
            "back_calculated": self.back_calculated,
            "recovery_pct": self.recovery_pct,
            "in_recovery": self.in_recovery,
        }


@dataclass(frozen=True, slots=True)
class ElisaResult:
    plate: PlateExport
    reading: PlateReading
    assay: LoadedAssay
    fit: CurveFit
    standards: tuple[StandardResult, ...]
    samples: tuple[SampleResult, ...]
    lloq: float | None
    uloq: float | None
    checks: tuple[Check, ...]
    measurements: tuple[Measurement, ...]
    relative: RelativePotencyResult | None = None
    blank_ods: tuple[float, ...] = field(default_factory=tuple)
    notes: tuple[str, ...] = ()  # what the reader must know that no check decides

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        from cytorelease.provenance import software

        definition = self.assay.assay
        return {
            "curve": self.fit.to_dict(),
            "acceptance": {"passed": self.passed, "checks": [c.to_dict() for c in self.checks]},
            "working_range": {
                "lloq": self.lloq,
                "uloq": self.uloq,
                "unit": definition.reporting.unit,
            },
            "standards": [s.to_dict() for s in self.standards],
            "samples": [s.to_dict() for s in self.samples],
            "relative_potency": self.relative.to_dict() if self.relative else None,
            "notes": list(self.notes),
            "measurements": [m.to_dict() for m in self.measurements],
            "inputs": {
                "plate": {
                    "path": self.plate.path,
                    "sha256": self.plate.sha256,
                    "format": self.plate.format.value,
                    "reading": self.reading.describe(),
                },
                "assay": {
                    "id": definition.id,
                    "version": definition.version,
                    "sha256": self.assay.sha256,
                    "path": str(self.assay.path),
                },
            },
            "software": software(),
        }


def _check_layout(reading: PlateReading, assay: PotencyAssay, plan: PlatePlan, path: str) -> None:
    if reading.wells != assay.plate_wells:
        raise InputError(
            f"the plate is a {reading.wells}-well plate but assay {assay.id} lays out "
            f"{assay.plate_wells} wells",
            path=path,
        )
    wells = plan.all_wells() + assay.all_wells()
    empty = [w for w in dict.fromkeys(wells) if w not in reading.values and w not in reading.flags]
    if empty:
        shown = ", ".join(empty[:8]) + (" ..." if len(empty) > 8 else "")
        raise InputError(
            f"the plate does not match the layout of assay {assay.id} {assay.version}: "
            f"{len(empty)} assay wells hold no reading ({shown})",
            path=path,
            hint="wrong assay, or a partial-plate export?",
        )


def _layout_of_analysed_plate(
    export: PlateExport, plate: str | None, assay: PotencyAssay
) -> PlateExport:
    """A SoftMax Pro export whose plates are laid out differently keeps the layout of the plate
    analysed; which plate that is, the reading the assay asks for decides (--plate)."""
    if not isinstance(export, SoftMaxExport) or export.layout_conflict() is None:
        return export
    reading = export.select(plate=plate, wavelength_nm=assay.read.wavelength_nm)
    return export.for_plate(reading.plate)


def analyse_elisa(
    plate_path: str | Path, assay_name: str | Path, *, plate: str | None = None
) -> ElisaResult:
    """Analyse one ELISA plate with one potency assay definition."""
    loaded = load_potency_assay(assay_name)
    assay = loaded.assay
    export = _layout_of_analysed_plate(read_plate(plate_path), plate, assay)
    # before the reading is chosen: a plate laid out otherwise is the wrong plate whatever it read
    plan = plan_plate(export, assay)
    reading = export.select(plate=plate, wavelength_nm=assay.read.wavelength_nm)
    _check_layout(reading, assay, plan, export.path)
    ods = reading.values
    used = dict.fromkeys(plan.all_wells() + assay.all_wells())
    non_numeric = {w: reading.flags[w] for w in used if w in reading.flags}

    def numeric(wells: list[str]) -> list[float]:
        return [ods[w] for w in wells if w in ods]

    blank_wells = plan.blanks
    x = [s.concentration for s in plan.standards for w in s.wells if w in ods]
    x += [0.0 for w in blank_wells if w in ods]
    y = [ods[w] for s in plan.standards for w in s.wells if w in ods]
    y += numeric(blank_wells)
    fit = fit_curve(x, y, model=assay.curve.model, weighting=assay.curve.weighting)

    standards = tuple(
        _standard(s.name, s.concentration, s.wells, numeric(s.wells), fit, assay)
        for s in plan.standards
    )
    passing = [s.nominal for s in standards if s.in_recovery]
    lloq, uloq = (min(passing), max(passing)) if passing else (None, None)
    rules = assay.acceptance
    samples = tuple(
        analyse_sample(
            s.name,
            s.role,
            [(fold, wells, numeric(wells)) for fold, wells in s.steps],
            fit,
            lloq,
            uloq,
            decimals=assay.reporting.decimals,
            replicate_cv_max_pct=rules.replicate_cv_max_pct,
            dilution_cv_max_pct=rules.dilution_cv_max_pct,
        )
        for s in plan.samples
    )
    checks = _checks(fit, standards, non_numeric, assay)
    relative = None
    if assay.relative_potency is not None:
        rp = assay.relative_potency
        relative = relative_potency(
            [(p.dose, numeric(p.wells)) for p in rp.reference],
            [(p.dose, numeric(p.wells)) for p in rp.test],
            margins=rp.parallelism,
            confidence=rp.confidence,
        )
    passed = all(c.passed for c in checks)
    measurements = _measurements(samples, relative, passed, checks, loaded, export, lloq)
    notes = []
    if reading.wavelength_nm is None and assay.read.wavelength_nm is not None:
        # a bare grid is accepted as the wavelength asked for; the record says it was assumed
        notes.append(
            f"the export does not state the wavelength of reading {reading.describe()}; taken "
            f"as the assay's {assay.read.wavelength_nm:g} nm"
        )
    if skipped := export.metadata.get(SKIPPED_GROUPS):
        notes.append(f"groups of the export not read as its layout (not checked): {skipped}")
    return ElisaResult(
        plate=export,
        reading=reading,
        assay=loaded,
        fit=fit,
        standards=standards,
        samples=samples,
        lloq=lloq,
        uloq=uloq,
        checks=checks,
        measurements=measurements,
        relative=relative,
        blank_ods=tuple(numeric(blank_wells)),
        notes=tuple(notes),
    )


def _standard(
    name: str,
    nominal: float,
    wells: list[str],
    values: list[float],
    fit: CurveFit,
    assay: PotencyAssay,
) -> StandardResult:
    mean, cv = od_stats(values)
    back = recovery = None
    if fit.converged and mean is not None:
        concentration, _ = fit.inverse(mean)
        if math.isfinite(concentration):
            back, recovery = concentration, 100.0 * concentration / nominal
    window = assay.acceptance.standard_recovery_pct
    ok = recovery is not None and window.min <= recovery <= window.max
    return StandardResult(name, nominal, tuple(wells), mean, cv, back, recovery, ok)


def _checks(
    fit: CurveFit,
    standards: tuple[StandardResult, ...],
    non_numeric: dict[str, str],
    assay: PotencyAssay,
) -> tuple[Check, ...]:
    rules = assay.acceptance
    checks = [
        Check(
            "numeric_readings",
            not non_numeric,
            "all assay wells numeric"
            if not non_numeric
            else "non-numeric readings excluded: "
            + ", ".join(f"{w} ({t})" for w, t in non_numeric.items()),
        ),
        Check("curve_converged", fit.converged, fit.message),
    ]
    if not fit.converged:
        return tuple(checks)
    in_window = sum(s.in_recovery for s in standards)
    window = rules.standard_recovery_pct
    failing = [s.name for s in standards if not s.in_recovery]
    checks.append(
        Check(
            "standard_recovery",
            in_window >= rules.min_standards_in_recovery,
            f"{in_window} of {len(standards)} standards within {window.min:g}-{window.max:g}% "
            f"(at least {rules.min_standards_in_recovery} required)"
            + (f"; outside: {', '.join(failing)}" if failing else ""),
        )
    )
    checks.append(
        Check(
            "r_squared",
            fit.r_squared >= rules.r_squared_min,
            f"R^2 {fit.r_squared:.4f} (minimum {rules.r_squared_min:g})",
        )
    )
    high_cv = [
        f"{s.name} {s.cv_pct:.1f}%"
        for s in standards
        if s.cv_pct is not None and s.cv_pct > rules.replicate_cv_max_pct
    ]
    checks.append(
        Check(
            "standard_replicate_cv",
            not high_cv,
            f"standard replicate CVs at most {rules.replicate_cv_max_pct:g}%"
            + (f"; above: {', '.join(high_cv)}" if high_cv else ""),
        )
    )
    return tuple(checks)


def _measurements(
    samples: tuple[SampleResult, ...],
    relative: RelativePotencyResult | None,
    passed: bool,
    checks: tuple[Check, ...],
    loaded: LoadedAssay,
    export: PlateExport,
    lloq: float | None,
) -> tuple[Measurement, ...]:
    assay = loaded.assay
    method = MethodRef("assay", assay.id, assay.version, loaded.sha256)
    inputs = (export.sha256,)
    failed = [c.name for c in checks if not c.passed]
    why_not = f"assay acceptance failed: {', '.join(failed)}" if failed else ""
    positive = next((s for s in samples if s.role is SampleRole.ANTIGEN_POSITIVE), None)
    negative = next((s for s in samples if s.role is SampleRole.ANTIGEN_NEGATIVE), None)
    unit = assay.reporting.unit
    out: list[Measurement] = []
    if positive is None:
        # an assay taking its layout from the export that names no antigen-positive sample:
        # the plate is analysed, but there is no potency result to report
        return ()

    def details(sample: SampleResult) -> dict[str, Any]:
        return {
            "sample": sample.name,
            "flag": sample.flag,
            "reported": sample.reported,
            "dilution": sample.dilution,
            "ci95": [sample.lower, sample.upper],
            "flags": list(sample.flags),
            "cv_pct": sample.cv_pct,
        }

    value = positive.concentration if passed else None
    info = details(positive) | ({"reason": why_not} if why_not else {})
    if passed and value is None:
        info["reason"] = f"{positive.reported}: not quantifiable within the working range"
    out.append(Measurement("potency.ifng_pg_ml", value, unit, method, inputs, info))
    if negative is not None:
        out.append(_fold(positive, negative, passed, why_not, lloq, method, inputs))
    if relative is not None:
        rp_value = relative.relative_potency if passed else None
        rp_info = relative.to_dict() | ({"reason": why_not} if why_not else {})
        out.append(
            Measurement("potency.relative_potency", rp_value, "ratio", method, inputs, rp_info)
        )
    return tuple(out)


def _fold(
    positive: SampleResult,
    negative: SampleResult,
    passed: bool,
    why_not: str,
    lloq: float | None,
    method: MethodRef,
    inputs: tuple[str, ...],
) -> Measurement:
    info: dict[str, Any] = {"numerator": positive.name, "denominator": negative.name}
    value: float | None = None
    if not passed:
        info["reason"] = why_not
    elif positive.concentration is None:
        info["reason"] = f"antigen-positive sample not quantifiable ({positive.reported})"
    elif negative.concentration is not None:
        value = positive.concentration / negative.concentration
    elif negative.flag == RangeFlag.BELOW.value and lloq is not None:
        # the negative control is below the working range: dividing by its LLOQ gives the
        # smallest fold the data allow, a conservative lower bound
        value = positive.concentration / (lloq * negative.dilution)
        info["lower_bound"] = True
        info["reason"] = f"antigen-negative {negative.reported}: LLOQ used, fold is a lower bound"
    else:
        info["reason"] = f"antigen-negative sample not quantifiable ({negative.reported})"
    return Measurement("potency.ifng_fold_over_negative", value, "fold", method, inputs, info)
