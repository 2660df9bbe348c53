"""qPCR / dPCR vector-copy-number assay definitions (``assays/vcn-*.yaml``).

A versioned, validated document: which targets are the transgene and the reference, how many
reference copies a diploid genome holds, the standards and their copies per reaction, the run
acceptance limits, the dPCR partition volumes per platform, and the lot's sample names.
Validation errors name the file, the field path and its line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from cytorelease.errors import AssayError

__all__ = [
    "SCHEMA_VERSION",
    "Acceptance",
    "DpcrSettings",
    "QpcrAssay",
    "Standard",
    "load_assay",
]

SCHEMA_VERSION = 1


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Range(_Strict):
    min: float
    max: float

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if self.min > self.max:
            raise ValueError(f"min {self.min} is above max {self.max}")
        return self


class TargetSet(_Strict):
    """Target names as written in exports (aliases allowed, e.g. ``[CAR, FMC63]``)."""

    targets: list[str] = Field(min_length=1)


class Reference(TargetSet):
    copies_per_diploid_genome: float = Field(gt=0)


class Standard(_Strict):
    sample: str = Field(min_length=1)
    copies_per_reaction: float = Field(gt=0)


class Acceptance(_Strict):
    efficiency_pct: Range = Range(min=90.0, max=110.0)
    r_squared_min: float = Field(default=0.98, ge=0, le=1)
    replicate_cq_sd_max: float = Field(default=0.5, gt=0)
    ntc_cq_min: float = Field(
        default=35.0, description="an NTC must be undetermined or have a Cq above this"
    )
    unknowns_within_standards: bool = True
    require_ntc: bool = Field(default=True, description="a run without NTC wells fails")
    min_standard_levels: int = Field(default=3, ge=2)


class DpcrSettings(_Strict):
    partition_volume_nl: dict[str, float] = Field(
        default_factory=dict, description="per platform (qx, qiacuity, absoluteq), nL"
    )
    min_accepted_partitions: int = Field(default=10_000, ge=1)
    ntc_max_positives: int = Field(default=3, ge=0)
    min_positives_detected: int = Field(default=3, ge=1)

    @model_validator(mode="after")
    def _volumes(self) -> DpcrSettings:
        known = {"qx", "qiacuity", "absoluteq"}
        for platform, volume in self.partition_volume_nl.items():
            if platform not in known:
                raise ValueError(f"unknown platform {platform!r} (one of {sorted(known)})")
            if not volume > 0:
                raise ValueError(f"partition volume for {platform} must be > 0")
        return self


class QpcrAssay(_Strict):
    schema_version: int
    id: str = Field(min_length=1)
    version: str = Field(min_length=1)
    title: str = ""
    transgene: TargetSet
    reference: Reference
    standards: list[Standard] = Field(default_factory=list)
    acceptance: Acceptance = Acceptance()
    dpcr: DpcrSettings = DpcrSettings()
    samples: dict[str, str] = Field(
        default_factory=dict, description="lot role (e.g. drug_product) -> sample name in export"
    )

    @model_validator(mode="after")
    def _consistent(self) -> QpcrAssay:
        if self.schema_version != SCHEMA_VERSION:
            raise ValueError(
                f"schema_version {self.schema_version} is not supported; this release reads "
                f"{SCHEMA_VERSION}"
            )
        overlap = set(self.transgene.targets) & set(self.reference.targets)
        if overlap:
            raise ValueError(f"target(s) {sorted(overlap)} are both transgene and reference")
        names = [s.sample for s in self.standards]
        if len(set(names)) != len(names):
            raise ValueError("standard sample names repeat")
        return self

    def standard_copies(self) -> dict[str, float]:
        return {s.sample: s.copies_per_reaction for s in self.standards}


class LoadedAssay:
    """An assay with where it came from and its content hash (for provenance)."""

    def __init__(self, assay: QpcrAssay, path: Path, sha256: str) -> None:
        self.assay = assay
        self.path = path
        self.sha256 = sha256

    def method_ref(self) -> Any:
        from cytorelease.measurement import MethodRef

        return MethodRef(
            kind="assay", id=self.assay.id, version=self.assay.version, sha256=self.sha256
        )


def load_assay(name_or_path: str | Path) -> LoadedAssay:
    """Load and validate an assay by path or by name in the assays/ folder.

    Read through the one loader (``cytorelease.library``): a copy changed under a released
    version loads, and is judged unlocked by the library's LOCK, never by one beside it.
    """
    from cytorelease._yaml import validation_problems
    from cytorelease.library import DefinitionKind, read_document

    document = read_document(
        name_or_path,
        kind=DefinitionKind.ASSAY,
        error=AssayError,
        not_mapping="an assay file must be a YAML mapping",
    )
    path = document.path
    if "transgene" not in document.data and "kind" in document.data:
        raise AssayError("not a qPCR VCN assay (it has no 'transgene' section)", path=path)
    try:
        assay = QpcrAssay.model_validate(document.data)
    except ValidationError as exc:
        problems = validation_problems(exc, document.lines, document.data)
        raise AssayError("; ".join(problems), path=path) from None
    return LoadedAssay(assay, path, document.sha256)
