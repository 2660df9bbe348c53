"""The plate-reader data every reader returns: one or more readings, a value per well."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

from cytorelease.errors import InputError

__all__ = [
    "PLATE_SHAPES",
    "PlateExport",
    "PlateFormat",
    "PlateReading",
    "ReadingKind",
    "parse_value",
    "reading_kind",
    "wavelength_in",
    "well_name",
]

# wells -> (rows, columns) of the plate formats the readers understand
PLATE_SHAPES: Mapping[int, tuple[int, int]] = MappingProxyType({96: (8, 12), 384: (16, 24)})
_WELL = re.compile(r"^([A-Pa-p])0*([1-9][0-9]?)$")
# a wavelength in free text: "450 nm", "A450", "OD 450", "Abs450", "...:450", BMG "(450 1)"
_WAVELENGTHS = (
    re.compile(r"(?<![\d.])(\d{3,4})(?:\.\d+)?\s*nm\b", re.IGNORECASE),
    re.compile(r"\b(?:A|OD|Abs)\s?(\d{3})(?!\d)", re.IGNORECASE),
    re.compile(r":\s*(\d{3})\s*$"),
    re.compile(r"\((\d{3})(?:\s+[^)]*)?\)"),
    re.compile(r"^wavelength\b\D*(\d{3})(?!\d)", re.IGNORECASE),
)
_BLANKED = re.compile(r"\bblank", re.IGNORECASE)
_DERIVED = re.compile(
    r"calculat|concentration|\bconc\b|dilution|ratio|normali[sz]|average|\bmean\b|\bcv\b"
    r"|std\.?\s*dev|%|percent|\bfit|curve|interpolat",
    re.IGNORECASE,
)


class PlateFormat(StrEnum):
    SOFTMAX_PRO = "softmax-pro"
    GEN5 = "gen5"
    GRID = "grid"


class ReadingKind(StrEnum):
    RAW = "raw"  # values as measured (optical density)
    REDUCED = "reduced"  # the reader software's reduced values (SoftMax Pro)
    BLANKED = "blanked"  # blank-subtracted by the reader software (Gen5 "Blank ...")
    DERIVED = "derived"  # anything else computed by the software (Gen5 "[Concentration]")


def well_name(row: int, column: int) -> str:
    """``well_name(0, 0) == "A1"``: zero-based row and column to a well id."""
    return f"{chr(ord('A') + row)}{column + 1}"


def normalise_well(text: str) -> str | None:
    """``"a01"`` -> ``"A1"``; None when the text is not a well id."""
    match = _WELL.match(text.strip())
    return f"{match.group(1).upper()}{int(match.group(2))}" if match else None


def parse_value(text: str) -> float | None:
    """A reading's numeric value; None when the cell holds text (OVRFLW, MISSED, NaN ...)."""
    stripped = text.strip()
    if not stripped:
        return None
    try:
        value = float(stripped.replace(",", "."))
    except ValueError:
        return None
    return value if value == value and abs(value) != float("inf") else None


def wavelength_in(texts: list[str]) -> float | None:
    """The first wavelength (200-1100 nm) named in any of ``texts``, or ``None``."""
    for text in texts:
        for pattern in _WAVELENGTHS:
            if (match := pattern.search(text)) and 200 <= int(match.group(1)) <= 1100:
                return float(match.group(1))
    return None


def reading_kind(texts: list[str]) -> ReadingKind:
    """What a reading's label says it is: blank-subtracted, derived, or else raw."""
    joined = " ".join(texts)
    if _BLANKED.search(joined):
        return ReadingKind.BLANKED
    if _DERIVED.search(joined):
        return ReadingKind.DERIVED
    return ReadingKind.RAW


@dataclass(frozen=True, slots=True)
class PlateReading:
    """One read of one plate: a numeric value per well, and the text of non-numeric cells.

    A well that the export leaves empty (a partial plate) is in neither mapping; a well whose cell
    holds text (``OVRFLW``, ``MISSED``, ``NaN``) is in ``flags`` only, never silently zero.
    """

    plate: str
    label: str
    kind: ReadingKind
    wavelength_nm: float | None
    wells: int  # plate size: 96 or 384
    values: Mapping[str, float]
    flags: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", MappingProxyType(dict(self.values)))
        object.__setattr__(self, "flags", MappingProxyType(dict(self.flags)))

    @property
    def shape(self) -> tuple[int, int]:
        return PLATE_SHAPES[self.wells]

    def describe(self) -> str:
        wavelength = f" at {self.wavelength_nm:g} nm" if self.wavelength_nm else ""
        return f"{self.plate} / {self.label} ({self.kind.value}{wavelength})"

    def to_dict(self) -> dict[str, object]:
        return {
            "plate": self.plate,
            "label": self.label,
            "kind": self.kind.value,
            "wavelength_nm": self.wavelength_nm,
            "wells": self.wells,
            "values": dict(self.values),
            "flags": dict(self.flags),
        }


@dataclass(frozen=True, slots=True)
class PlateExport:
    """A parsed plate-reader file: its format, its readings, and a layout if it carries one."""

    path: str
    format: PlateFormat
    sha256: str
    readings: tuple[PlateReading, ...]
    layout: Mapping[str, str] = field(default_factory=dict)  # well -> the software's well id
    # well -> the number the layout gives it: a standard's concentration, a sample's dilution
    layout_values: Mapping[str, float] = field(default_factory=dict)
    metadata: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.readings:
            raise InputError("the export holds no plate readings", path=self.path)
        object.__setattr__(self, "layout", MappingProxyType(dict(self.layout)))
        object.__setattr__(self, "layout_values", MappingProxyType(dict(self.layout_values)))
        object.__setattr__(self, "metadata", MappingProxyType(dict(self.metadata)))

    @property
    def plates(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(r.plate for r in self.readings))

    def select(
        self,
        *,
        plate: str | None = None,
        wavelength_nm: float | None = None,
        kind: ReadingKind = ReadingKind.RAW,
    ) -> PlateReading:
        """The one reading matching the filters; an :class:`InputError` lists the choices."""
        candidates = [
            r for r in self.readings if r.kind is kind and (plate is None or r.plate == plate)
        ]
        chosen = [
            r for r in candidates if wavelength_nm is None or r.wavelength_nm == wavelength_nm
        ]
        if not chosen and all(r.wavelength_nm is None for r in candidates):
            # a bare grid does not say its wavelength: take it as the one asked for
            chosen = candidates
        if len(chosen) == 1:
            return chosen[0]
        available = "; ".join(r.describe() for r in self.readings)
        wanted = ", ".join(
            part
            for part in (
                f"plate {plate}" if plate else "",
                f"{wavelength_nm:g} nm" if wavelength_nm else "",
                f"{kind.value} values",
            )
            if part
        )
        if not chosen:
            raise InputError(
                f"no reading matches {wanted}", path=self.path, hint=f"the file has: {available}"
            )
        raise InputError(
            f"{len(chosen)} readings match {wanted}; choose one",
            path=self.path,
            hint=f"name the plate (--plate) or the wavelength; the file has: {available}",
        )

    def to_dict(self) -> dict[str, object]:
        return {
            "path": self.path,
            "format": self.format.value,
            "sha256": self.sha256,
            "readings": [r.to_dict() for r in self.readings],
            "layout": dict(self.layout),
            "layout_values": dict(self.layout_values),
            "metadata": dict(self.metadata),
        }
