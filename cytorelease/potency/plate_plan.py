"""What each well of the plate holds, for the analysis: from the assay, or from the export.

An assay with ``layout: assay`` (the default) lays out the plate itself; the export's own layout,
where it has one, must then agree (:mod:`cytorelease.potency.layout_check`). An assay with
``layout: from-export`` takes the standards (STDn and their Conc), blanks (BLK) and samples (SPLn,
CTLn; SPLn:k a dilution series with each step's Dil) from the export; the assay may give a role
to an export sample by naming it (``{name: SPL1, role: antigen-positive}``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from cytorelease.errors import InputError
from cytorelease.potency.assay import PotencyAssay, SampleRole
from cytorelease.potency.layout_check import LayoutRole, check_layout_matches, export_layout
from cytorelease.potency.readers._model import PlateExport

__all__ = ["PlannedSample", "PlannedStandard", "PlatePlan", "plan_plate"]


@dataclass(frozen=True, slots=True)
class PlannedStandard:
    name: str
    concentration: float
    wells: list[str]


@dataclass(frozen=True, slots=True)
class PlannedSample:
    name: str
    role: SampleRole
    steps: list[tuple[float, list[str]]]  # (fold dilution, wells) of each dilution


@dataclass(frozen=True, slots=True)
class PlatePlan:
    source: str  # "assay" or "export"
    standards: list[PlannedStandard]
    blanks: list[str]
    samples: list[PlannedSample]

    def all_wells(self) -> list[str]:
        wells = [w for s in self.standards for w in s.wells]
        wells += [w for s in self.samples for _, ws in s.steps for w in ws]
        return wells + list(self.blanks)


def _number(group: str) -> tuple[int, str]:
    digits = re.sub(r"\D", "", group)
    return (int(digits) if digits else 0, group)


def plan_plate(export: PlateExport, assay: PotencyAssay) -> PlatePlan:
    """The plate's layout for the analysis; refuses an export whose layout contradicts it."""
    if assay.layout == "from-export":
        return _from_export(export, assay)
    standards = [PlannedStandard(s.name, s.concentration, s.wells) for s in assay.standards]
    blanks = assay.blanks.wells if assay.blanks else []
    samples = [PlannedSample(s.name, s.role, s.steps()) for s in assay.samples]
    check_layout_matches(
        export,
        assay.id,
        [(s.name, s.concentration, s.wells) for s in standards],
        blanks,
        [(s.name, fold, wells) for s in samples for fold, wells in s.steps],
    )
    return PlatePlan("assay", standards, blanks, samples)


def _from_export(export: PlateExport, assay: PotencyAssay) -> PlatePlan:
    layout = export_layout(export)
    if not layout:
        raise InputError(
            f"assay {assay.id} takes its layout from the export (layout: from-export), but the "
            "export carries no layout",
            path=export.path,
            hint="export the plate with its layout (Gen5: include the Layout in the export), "
            "or use an assay that lays out the plate",
        )
    standards: dict[str, list[str]] = {}
    samples: dict[str, dict[int, list[str]]] = {}
    blanks: list[str] = []
    concentrations: dict[str, set[float]] = {}
    folds: dict[tuple[str, int], set[float]] = {}
    for well, entry in layout.items():
        if entry.role is LayoutRole.STANDARD:
            if entry.concentration is None:
                raise InputError(
                    f"layout: well {well} is {entry.well_id} with no concentration",
                    path=export.path,
                )
            standards.setdefault(entry.group, []).append(well)
            concentrations.setdefault(entry.group, set()).add(entry.concentration)
        elif entry.role is LayoutRole.BLANK:
            blanks.append(well)
        elif entry.role in (LayoutRole.SAMPLE, LayoutRole.CONTROL):
            step = entry.step or 1
            samples.setdefault(entry.group, {}).setdefault(step, []).append(well)
            # Gen5 leaves Dil empty for an undiluted sample
            folds.setdefault((entry.group, step), set()).add(entry.dilution or 1.0)
        else:
            raise InputError(
                f"layout: well {well} is {entry.well_id!r}, which is not a Gen5 standard, "
                "blank, sample or control; an assay with layout from-export cannot place it",
                path=export.path,
            )
    for group, values in concentrations.items():
        if len(values) > 1 and not all(math.isclose(v, min(values), rel_tol=1e-3) for v in values):
            raise InputError(
                f"layout: standard {group} has several concentrations "
                f"({', '.join(f'{v:g}' for v in sorted(values))})",
                path=export.path,
            )
    planned_standards = [
        PlannedStandard(g, min(concentrations[g]), standards[g])
        for g in sorted(standards, key=_number)
    ]
    roles = {s.name: s.role for s in assay.samples}
    missing = [name for name in roles if name not in samples]
    if missing:
        raise InputError(
            f"assay {assay.id} names sample(s) {', '.join(missing)} that the export's layout "
            f"does not hold (it holds {', '.join(sorted(samples, key=_number)) or 'none'})",
            path=export.path,
        )
    planned_samples = []
    for group in sorted(samples, key=_number):
        steps = []
        for step in sorted(samples[group]):
            values = folds[(group, step)]
            if len(values) > 1:
                raise InputError(
                    f"layout: {group}:{step} has several dilutions "
                    f"({', '.join(f'{v:g}' for v in sorted(values))})",
                    path=export.path,
                )
            steps.append((values.pop(), samples[group][step]))
        planned_samples.append(PlannedSample(group, roles.get(group, SampleRole.OTHER), steps))
    return PlatePlan("export", planned_standards, blanks, planned_samples)
