"""Potency assay definitions (``assays/potency-*.yaml``): plate layout, curve, acceptance.

A definition is versioned data: ``schema_version``, ``id`` and ``version`` name it (files
written with the first spelling, ``schema: cytorelease.assay/1``, still load: see
``cytorelease.library``), and a result records
the SHA-256 of its parsed content so a later edit can never pass for the version that was used.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from cytorelease._yaml import validation_problems
from cytorelease.errors import AssayError
from cytorelease.library import DefinitionKind, read_document
from cytorelease.potency.curve import CurveModel, Weighting
from cytorelease.potency.readers._model import PLATE_SHAPES, normalise_well

__all__ = [
    "ASSAY_SCHEMA",
    "LoadedAssay",
    "PotencyAssay",
    "SampleRole",
    "load_potency_assay",
    "validate_assay_file",
]

# the first spelling of schema 1 (``schema: cytorelease.assay/1``), still read by the loader
ASSAY_SCHEMA = "cytorelease.assay/1"


class SampleRole(StrEnum):
    ANTIGEN_POSITIVE = "antigen-positive"  # test article on antigen-positive targets
    ANTIGEN_NEGATIVE = "antigen-negative"  # test article on antigen-negative targets
    EFFECTORS_ALONE = "effectors-alone"
    TARGETS_ALONE = "targets-alone"
    OTHER = "other"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Wells = list[str]


def _check_wells(wells: list[str]) -> list[str]:
    out = []
    for well in wells:
        name = normalise_well(str(well))
        if name is None:
            raise ValueError(f"{well!r} is not a well id (A1 ... P24)")
        out.append(name)
    if len(set(out)) != len(out):
        raise ValueError("a well is listed twice")
    return out


class Standard(_Strict):
    name: str
    concentration: float = Field(gt=0, description="nominal concentration in the well")
    wells: Wells = Field(min_length=1)

    _wells = field_validator("wells")(_check_wells)


class Blank(_Strict):
    wells: Wells = Field(min_length=1)

    _wells = field_validator("wells")(_check_wells)


class DilutionDef(_Strict):
    """One dilution of a sample measured as a series."""

    dilution: float = Field(ge=1.0, description="fold dilution before plating")
    wells: Wells = Field(min_length=1)

    _wells = field_validator("wells")(_check_wells)


class SampleDef(_Strict):
    name: str
    role: SampleRole
    dilution: float = Field(default=1.0, ge=1.0, description="fold dilution before plating")
    # with ``layout: from-export`` a sample names the export's sample (SPL1) and has no wells
    wells: Wells = Field(default_factory=list)
    dilutions: list[DilutionDef] | None = Field(default=None, min_length=2)

    _wells = field_validator("wells")(_check_wells)

    def steps(self) -> list[tuple[float, list[str]]]:
        """(fold dilution, wells) of each dilution the sample is measured at."""
        if self.dilutions:
            return [(d.dilution, d.wells) for d in self.dilutions]
        return [(self.dilution, self.wells)]

    def all_wells(self) -> list[str]:
        return [w for _, wells in self.steps() for w in wells]


class Read(_Strict):
    wavelength_nm: float | None = Field(default=None, gt=0)


class CurveSpec(_Strict):
    model: CurveModel = CurveModel.FOUR_PL
    weighting: Weighting = Weighting.NONE


class Window(_Strict):
    min: float
    max: float

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if self.min >= self.max:
            raise ValueError(f"min {self.min} must be below max {self.max}")
        return self


class Acceptance(_Strict):
    standard_recovery_pct: Window = Window(min=80.0, max=120.0)
    min_standards_in_recovery: int = Field(default=5, ge=2)
    r_squared_min: float = Field(default=0.98, gt=0, le=1)
    replicate_cv_max_pct: float = Field(default=20.0, gt=0)
    # the CV of a sample's dilution-corrected values above which its dilutions disagree
    dilution_cv_max_pct: float = Field(default=20.0, gt=0)


class Reporting(_Strict):
    unit: str = "pg/mL"
    decimals: int = Field(default=1, ge=0, le=6)


class DosePoint(_Strict):
    dose: float = Field(gt=0)
    wells: Wells = Field(min_length=1)

    _wells = field_validator("wells")(_check_wells)


class Parallelism(_Strict):
    """Equivalence margins: the (1 - 2 alpha) CI of each ratio must lie inside its window."""

    slope_ratio: Window = Window(min=0.8, max=1.25)
    span_ratio: Window = Window(min=0.8, max=1.25)
    confidence: float = Field(default=0.90, gt=0.5, lt=1)


class RelativePotencyDef(_Strict):
    """Dose series of a reference standard and the test article, read as responses (OD): RP
    comes from their dose-response curves, not from the IFN-gamma standard curve."""

    reference: list[DosePoint] = Field(min_length=4)
    test: list[DosePoint] = Field(min_length=4)
    parallelism: Parallelism = Parallelism()
    confidence: float = Field(default=0.95, gt=0.5, lt=1)


class PotencyAssay(_Strict):
    schema_version: Literal[1]
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")
    version: str
    kind: Literal["potency-elisa"]
    title: str
    analyte: str
    plate_wells: Literal[96, 384] = 96
    read: Read = Read()
    # "from-export": standards, blanks and samples are the plate export's own layout (Gen5)
    layout: Literal["assay", "from-export"] = "assay"
    standards: list[Standard] = Field(default_factory=list)
    blanks: Blank | None = None
    samples: list[SampleDef] = Field(default_factory=list)
    curve: CurveSpec = CurveSpec()
    acceptance: Acceptance = Acceptance()
    reporting: Reporting = Reporting()
    relative_potency: RelativePotencyDef | None = None

    @model_validator(mode="after")
    def _layout(self) -> PotencyAssay:
        if self.layout == "from-export":
            return self._from_export()
        if len(self.standards) < 4:
            raise ValueError("standards: at least 4 standards are required")
        if not self.samples:
            raise ValueError("samples: at least one sample is required")
        for sample in self.samples:
            if bool(sample.wells) == bool(sample.dilutions):
                raise ValueError(
                    f"sample {sample.name}: give either wells (one dilution) or dilutions"
                )
        rows, columns = PLATE_SHAPES[self.plate_wells]
        owner: dict[str, str] = {}
        groups: list[tuple[str, list[str]]] = [
            (f"standard {s.name}", s.wells) for s in self.standards
        ]
        groups += [(f"sample {s.name}", s.all_wells()) for s in self.samples]
        if self.blanks:
            groups.append(("blanks", self.blanks.wells))
        if self.relative_potency:
            for series in ("reference", "test"):
                points = getattr(self.relative_potency, series)
                groups += [(f"{series} dose {p.dose:g}", p.wells) for p in points]
        for label, wells in groups:
            for well in wells:
                if ord(well[0]) - 65 >= rows or int(well[1:]) > columns:
                    raise ValueError(
                        f"{label}: well {well} is not on a {self.plate_wells}-well plate"
                    )
                if well in owner:
                    raise ValueError(f"well {well} is used by both {owner[well]} and {label}")
                owner[well] = label
        names = [s.name for s in self.samples]
        if len(set(names)) != len(names):
            raise ValueError("sample names must be unique")
        positives = [s for s in self.samples if s.role is SampleRole.ANTIGEN_POSITIVE]
        negatives = [s for s in self.samples if s.role is SampleRole.ANTIGEN_NEGATIVE]
        if len(positives) != 1 or len(negatives) > 1:
            raise ValueError(
                "exactly one sample must have role antigen-positive (the reported IFN-gamma) "
                "and at most one antigen-negative"
            )
        return self

    def _from_export(self) -> PotencyAssay:
        if self.standards or self.blanks:
            raise ValueError("layout from-export: standards and blanks come from the export")
        if any(s.wells or s.dilutions for s in self.samples):
            raise ValueError(
                "layout from-export: samples name the export's samples (SPL1) and their role; "
                "their wells and dilutions come from the export"
            )
        names = [s.name for s in self.samples]
        if len(set(names)) != len(names):
            raise ValueError("sample names must be unique")
        if sum(s.role is SampleRole.ANTIGEN_POSITIVE for s in self.samples) > 1:
            raise ValueError("at most one sample may have role antigen-positive")
        if self.relative_potency:
            raise ValueError("layout from-export: relative potency needs the assay's layout")
        return self

    def all_wells(self) -> list[str]:
        wells = [w for s in self.standards for w in s.wells]
        wells += [w for s in self.samples for w in s.all_wells()]
        wells += self.blanks.wells if self.blanks else []
        if self.relative_potency:
            for series in (self.relative_potency.reference, self.relative_potency.test):
                wells += [w for point in series for w in point.wells]
        return wells


@dataclass(frozen=True, slots=True)
class LoadedAssay:
    """A validated definition with where it came from and the hash of its parsed content."""

    assay: PotencyAssay
    path: Path
    sha256: str


M = TypeVar("M", bound=BaseModel)


def validate_assay_file(name: str | Path, model: type[M], kind: str) -> tuple[M, Path, str]:
    """Resolve ``name`` in ``assays/``, check its ``kind``, validate it against ``model``.

    Returns the model, the file, and the SHA-256 of the parsed content. Read through the one
    loader (``cytorelease.library``), which also reads the first spelling of the schema key
    (``schema: cytorelease.assay/1``) as ``schema_version: 1``; a copy changed under a released
    version loads, and only the library's LOCK judges it (unlocked).
    """
    document = read_document(
        name,
        kind=DefinitionKind.ASSAY,
        error=AssayError,
        not_mapping="an assay file must be a mapping at its top level",
    )
    path = document.path
    found = document.data.get("kind")
    if found != kind:
        line = document.lines.line_of(("kind",))
        raise AssayError(
            f"kind{f' (line {line})' if line else ''}: this is a {found!r} assay, "
            f"the analysis needs a {kind!r} assay",
            path=path,
        )
    try:
        assay = model.model_validate(document.data)
    except ValidationError as exc:
        problems = validation_problems(exc, document.lines, document.data)
        raise AssayError("; ".join(problems), path=path) from None
    return assay, path, document.sha256


def load_potency_assay(name: str | Path) -> LoadedAssay:
    """Load an ELISA assay ``name`` (a path, or a name inside ``assays/``) and validate it."""
    assay, path, sha256 = validate_assay_file(name, PotencyAssay, "potency-elisa")
    return LoadedAssay(assay, path, sha256)
