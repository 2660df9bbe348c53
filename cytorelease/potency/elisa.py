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

import numpy as np

from cytorelease.errors import InputError
from cytorelease.measurement import Measurement, MethodRef
from cytorelease.potency.assay import (
    LoadedAssay,
    PotencyAssay,
    SampleDef,
    SampleRole,
    load_potency_assay,
)
from cytorelease.potency.curve import CurveFit, RangeFlag, fit_curve
from cytorelease.potency.layout_check import check_layout_matches
from cytorelease.potency.readers import PlateExport, PlateReading, read_plate
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
class SampleResult:
    name: str
    role: SampleRole
    dilution: float
    wells: tuple[str, ...]
    mean_od: float | None
    cv_pct: float | None
    concentration: float | None  # dilution applied; None when flagged out of range
    lower: float | None
    upper: float | None
    flag: str  # "", "< LLOQ", "> ULOQ", "no result"
    reported: str  # the value as it is reported: "123.4", "< 78.1", "no result"
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "sample": self.name,
            "role": self.role.value,
            "dilution": self.dilution,
            "wells": list(self.wells),
            "mean_od": self.mean_od,
            "cv_pct": self.cv_pct,
            "concentration": self.concentration,
            "ci95": [self.lower, self.upper] if self.lower is not None else None,
            "flag": self.flag,
            "reported": self.reported,
            "notes": list(self.notes),
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


def _stats(values: list[float]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    mean = float(np.mean(values))
    if len(values) < 2 or mean == 0:
        return mean, None
    return mean, float(100.0 * np.std(values, ddof=1) / abs(mean))


def _check_layout(reading: PlateReading, assay: PotencyAssay, path: str) -> None:
    if reading.wells != assay.plate_wells:
        raise InputError(
            f"the plate is a {reading.wells}-well plate but assay {assay.id} lays out "
            f"{assay.plate_wells} wells",
            path=path,
        )
    empty = [w for w in assay.all_wells() if w not in reading.values and w not in reading.flags]
    if empty:
        shown = ", ".join(empty[:8]) + (" ..." if len(empty) > 8 else "")
        raise InputError(
            f"the plate does not match the layout of assay {assay.id} {assay.version}: "
            f"{len(empty)} assay wells hold no reading ({shown})",
            path=path,
            hint="wrong assay, or a partial-plate export?",
        )


def analyse_elisa(
    plate_path: str | Path, assay_name: str | Path, *, plate: str | None = None
) -> ElisaResult:
    """Analyse one ELISA plate with one potency assay definition."""
    loaded = load_potency_assay(assay_name)
    assay = loaded.assay
    export = read_plate(plate_path)
    # before the reading is chosen: a plate laid out otherwise is the wrong plate whatever it read
    check_layout_matches(
        export,
        assay.id,
        [(s.name, s.concentration, s.wells) for s in assay.standards],
        assay.blanks.wells if assay.blanks else [],
        [(s.name, s.dilution, s.wells) for s in assay.samples],
    )
    reading = export.select(plate=plate, wavelength_nm=assay.read.wavelength_nm)
    _check_layout(reading, assay, export.path)
    ods = reading.values
    non_numeric = {w: reading.flags[w] for w in assay.all_wells() if w in reading.flags}

    def numeric(wells: list[str]) -> list[float]:
        return [ods[w] for w in wells if w in ods]

    blank_wells = assay.blanks.wells if assay.blanks else []
    x = [s.concentration for s in assay.standards for w in s.wells if w in ods]
    x += [0.0 for w in blank_wells if w in ods]
    y = [ods[w] for s in assay.standards for w in s.wells if w in ods]
    y += numeric(blank_wells)
    fit = fit_curve(x, y, model=assay.curve.model, weighting=assay.curve.weighting)

    standards = tuple(
        _standard(s.name, s.concentration, s.wells, numeric(s.wells), fit, assay)
        for s in assay.standards
    )
    passing = [s.nominal for s in standards if s.in_recovery]
    lloq, uloq = (min(passing), max(passing)) if passing else (None, None)
    samples = tuple(_sample(s, numeric(s.wells), fit, lloq, uloq, assay) for s in assay.samples)
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
    mean, cv = _stats(values)
    back = recovery = None
    if fit.converged and mean is not None:
        concentration, _ = fit.inverse(mean)
        if math.isfinite(concentration):
            back, recovery = concentration, 100.0 * concentration / nominal
    window = assay.acceptance.standard_recovery_pct
    ok = recovery is not None and window.min <= recovery <= window.max
    return StandardResult(name, nominal, tuple(wells), mean, cv, back, recovery, ok)


def _sample(
    sample: SampleDef,
    values: list[float],
    fit: CurveFit,
    lloq: float | None,
    uloq: float | None,
    assay: PotencyAssay,
) -> SampleResult:
    mean, cv = _stats(values)
    notes: list[str] = []
    limit = assay.acceptance.replicate_cv_max_pct
    if cv is not None and cv > limit:
        notes.append(f"replicate CV {cv:.1f}% exceeds {limit:g}%")
    decimals = assay.reporting.decimals
    dilution = sample.dilution

    def result(
        flag: str,
        reported: str,
        value: float | None = None,
        ci: tuple[float | None, float | None] = (None, None),
        why: str = "",
    ) -> SampleResult:
        return SampleResult(
            name=sample.name,
            role=sample.role,
            dilution=dilution,
            wells=tuple(sample.wells),
            mean_od=mean,
            cv_pct=cv,
            concentration=value,
            lower=ci[0],
            upper=ci[1],
            flag=flag,
            reported=reported,
            notes=(*notes, why) if why else tuple(notes),
        )

    if mean is None:
        return result("no result", "no result", why="no numeric reading in its wells")
    if not fit.converged or lloq is None or uloq is None:
        return result("no result", "no result", why="no accepted standard curve")
    back = fit.back_calculate(values)
    in_well = back.concentration
    # outside the working range: reported as a bound, never as an extrapolated number
    if back.side is RangeFlag.BELOW or (in_well is not None and in_well < lloq):
        return result(RangeFlag.BELOW.value, f"< {lloq * dilution:.{decimals}f}")
    if back.side is RangeFlag.ABOVE or (in_well is not None and in_well > uloq):
        return result(RangeFlag.ABOVE.value, f"> {uloq * dilution:.{decimals}f}")
    assert in_well is not None
    value = in_well * dilution
    lower = back.lower * dilution if back.lower is not None else None
    upper = back.upper * dilution if back.upper is not None else None
    return result("", f"{value:.{decimals}f}", value, (lower, upper))


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
    positive = next(s for s in samples if s.role is SampleRole.ANTIGEN_POSITIVE)
    negative = next((s for s in samples if s.role is SampleRole.ANTIGEN_NEGATIVE), None)
    unit = assay.reporting.unit

    def details(sample: SampleResult) -> dict[str, Any]:
        return {
            "sample": sample.name,
            "flag": sample.flag,
            "reported": sample.reported,
            "dilution": sample.dilution,
            "ci95": [sample.lower, sample.upper],
        }

    out = []
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
