"""A plate export's own layout (Gen5 ``Layout``: STDn with Conc, BLK, SPLn:k with Dil), read
into roles, and compared with the assay's layout.

An export that says what its wells hold is evidence about the plate: a standard at another
concentration, or a blank where the assay expects a standard, means the assay's curve would be
fitted to the wrong x values and every sample would be off by the same factor. A contradiction is
refused, never reconciled.

Gen5 writes a sample's dilution in the ``Conc/Dil`` line either as the fraction of the undiluted
sample (1, 0.5, 0.25: the form of the real Gen5 3.12 export) or as a fold (1, 2, 4). A value
below 1 can only be a fraction, above 1 only a fold; an export holding both is ambiguous and is
refused.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from enum import StrEnum

from cytorelease.errors import InputError
from cytorelease.potency.readers._model import PlateExport
from cytorelease.potency.readers.softmax import SoftMaxExport

__all__ = ["ExportWell", "LayoutRole", "check_layout_matches", "export_layout"]

# "STD1", "BLK", "SPL3:2" (sample 3, dilution step 2), "CTL1"
_WELL_ID = re.compile(r"^(STD|BLK|SPL|CTL)(\d*)(?::(\d+))?$", re.IGNORECASE)
# Gen5 prints layout numbers to 5 significant digits (666.67, 74.074, 8.2305)
_REL_TOL = 1e-3
_SHOWN = 4


class LayoutRole(StrEnum):
    STANDARD = "standard"
    BLANK = "blank"
    SAMPLE = "sample"
    CONTROL = "control"
    OTHER = "other"  # a well id Gen5 lets a user type that none of the above is


_ROLES = {
    "STD": LayoutRole.STANDARD,
    "BLK": LayoutRole.BLANK,
    "SPL": LayoutRole.SAMPLE,
    "CTL": LayoutRole.CONTROL,
}


@dataclass(frozen=True, slots=True)
class ExportWell:
    """One well of the export's layout."""

    well: str
    well_id: str  # as the export writes it: "SPL1:2"
    role: LayoutRole
    group: str  # the standard or sample it belongs to: "STD1", "SPL1"
    step: int | None  # the dilution step of "SPL1:2"
    concentration: float | None  # a standard's, from Conc/Dil
    dilution: float | None  # a sample's fold dilution (>= 1), from Conc/Dil

    def describe(self) -> str:
        if self.concentration is not None:  # a standard, or the zero standard
            return f"{self.well_id} (conc {self.concentration:g})"
        if self.dilution is not None and self.role is not LayoutRole.STANDARD:
            return f"{self.well_id} (dilution {self.dilution:g})"
        return self.well_id


def export_layout(export: PlateExport) -> dict[str, ExportWell]:
    """The export's layout by well; empty when the export carries none.

    A SoftMax Pro export whose plates are laid out differently has no one layout: it is refused
    unless narrowed to the plate analysed (:meth:`SoftMaxExport.for_plate`).
    """
    if isinstance(export, SoftMaxExport) and (problem := export.layout_conflict()):
        raise InputError(
            f"layout: {problem}",
            path=export.path,
            hint="name the plate analysed (--plate), or export each plate on its own",
        )
    numbers = export.layout_values
    sample_numbers = [
        v
        for w, v in numbers.items()
        if not export.layout.get(w, "").upper().startswith(("STD", "BLK"))
    ]
    if any(v < 1 for v in sample_numbers) and any(v > 1 for v in sample_numbers):
        raise InputError(
            "layout: the export's sample dilutions are written both as fractions (below 1) "
            "and as folds (above 1); cannot tell which each is",
            path=export.path,
        )
    out: dict[str, ExportWell] = {}
    for well, well_id in export.layout.items():
        text = well_id.strip()
        match = _WELL_ID.match(text)
        role = _ROLES[match.group(1).upper()] if match else LayoutRole.OTHER
        group = f"{match.group(1).upper()}{match.group(2)}" if match else text
        step = int(match.group(3)) if match and match.group(3) else None
        value = numbers.get(well)
        concentration = dilution = None
        if role is LayoutRole.STANDARD:
            concentration = value
            if value == 0:
                role = LayoutRole.BLANK  # the zero standard: a blank, fitted at concentration 0
        elif value is not None:
            if value <= 0:
                raise InputError(
                    f"layout: well {well} ({text}) has dilution {value:g}", path=export.path
                )
            dilution = 1.0 / value if value < 1 else value
        out[well] = ExportWell(well, text, role, group, step, concentration, dilution)
    return out


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=_REL_TOL)


def check_layout_matches(
    export: PlateExport,
    assay_id: str,
    standards: list[tuple[str, float, list[str]]],
    blanks: list[str],
    samples: list[tuple[str, float, list[str]]],
) -> None:
    """Refuse the export when its layout contradicts the assay's standards, blanks or samples.

    ``standards`` and ``samples`` are (name, concentration or fold dilution, wells). A well the
    export's layout leaves empty, or that it does not lay out at all, is a contradiction too: the
    export says nothing was plated there.
    """
    layout = export_layout(export)
    if not layout:
        return
    conflicts: list[str] = []

    def conflict(well: str, found: ExportWell | None, expected: str) -> None:
        shown = found.describe() if found else "empty"
        conflicts.append(f"well {well} is {shown} in the export, {expected} in assay {assay_id}")

    for name, concentration, wells in standards:
        for well in wells:
            found = layout.get(well)
            ok = (
                found is not None
                and found.role is LayoutRole.STANDARD
                and (found.concentration is None or _close(found.concentration, concentration))
            )
            if not ok:
                conflict(well, found, f"standard {name} (conc {concentration:g})")
    for well in blanks:
        found = layout.get(well)
        if found is None or found.role is not LayoutRole.BLANK:
            conflict(well, found, "a blank")
    for name, dilution, wells in samples:
        for well in wells:
            found = layout.get(well)
            # a control (CTL) is not the sample the assay reads there; an assay whose samples
            # are the export's controls takes its layout from the export (layout: from-export)
            ok = (
                found is not None
                and found.role in (LayoutRole.SAMPLE, LayoutRole.OTHER)
                and (found.dilution is None or _close(found.dilution, dilution))
            )
            if not ok:
                conflict(well, found, f"sample {name!r} (dilution {dilution:g})")
    if conflicts:
        more = len(conflicts) - _SHOWN
        raise InputError(
            "layout: "
            + "; ".join(conflicts[:_SHOWN])
            + (f"; and {more} more wells" if more > 0 else ""),
            path=export.path,
            hint="the export's layout and the assay disagree: use the assay the plate was run "
            "with, or an assay with 'layout: from-export'",
        )
