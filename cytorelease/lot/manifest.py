"""The lot manifest (``lot.yaml``): what was made, which raw files and manual entries belong to it.

Paths are confined to the lot folder: an absolute path, a ``..`` component or a symlink that
leads outside is refused, so a manifest can never make cytorelease read another lot's files.
The lot id is checked by :func:`cytorelease.lot_id.lot_id_problem` (it names folders and files).
It is read by the one loader of versioned documents (``cytorelease.library.read_file_document``):
errors name the line and the field, never the manifest's text.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from cytorelease._yaml import validation_problems
from cytorelease.attributes import ATTRIBUTES
from cytorelease.errors import InputError, ManifestError
from cytorelease.library import read_file_document
from cytorelease.lot_id import lot_id_problem

__all__ = [
    "CytotoxInputs",
    "ElisaInput",
    "FlowInputs",
    "FlowTube",
    "LotInputs",
    "LotManifest",
    "ManualEntry",
    "PotencyInputs",
    "QpcrInput",
    "TubeRole",
    "load_manifest",
    "resolve_input",
]

MANIFEST_NAME = "lot.yaml"
SCHEMA = "cytorelease.lot/1"
_SITE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9 ._-]{0,62}[A-Za-z0-9._-])?")


class TubeRole(StrEnum):
    """The tube roles the release analysis uses; a manifest naming another role is refused, so
    no listed raw file is ever silently left out."""

    STAINED = "stained"
    FMO = "fmo"
    # compensation controls, run with each lot's panel: estimated into the spillover matrix of a
    # template whose compensation is `source: controls` (docs/spillover.md)
    SINGLE_STAIN = "single_stain"
    UNSTAINED = "unstained"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FlowTube(_Model):
    path: str
    role: TubeRole
    control_for: str | None = Field(
        default=None, description="marker an FMO tube is the control of"
    )


class FlowInputs(_Model):
    template: str
    tubes: list[FlowTube] = Field(min_length=1)


class QpcrInput(_Model):
    path: str
    assay: str
    format: str = "auto"
    sample: str | None = Field(
        default=None,
        description="the export's sample name of this lot's drug product (default: the assay's)",
    )
    run: str | None = Field(
        default=None,
        description="the export's run to analyse (required when the export holds several runs)",
    )


class ElisaInput(_Model):
    path: str
    assay: str


class CytotoxInputs(_Model):
    assay: str
    targets_alone: str
    with_effectors: str


class PotencyInputs(_Model):
    elisa: ElisaInput | None = None
    cytotox: CytotoxInputs | None = None


class LotInputs(_Model):
    flow: FlowInputs | None = None
    qpcr: QpcrInput | None = None
    potency: PotencyInputs | None = None


class ManualEntry(_Model):
    attribute: str
    value: float | int | str | bool
    unit: str | None = None
    entered_by: str = Field(min_length=1)
    entered_at: datetime
    comment: str | None = None


class LotManifest(_Model):
    schema_: Literal["cytorelease.lot/1"] = Field(alias="schema")
    lot_id: str = Field(min_length=1)
    product: str
    chain_of_identity: str
    manufacturing_date: date
    spec: str
    # where the lot was made: carried into the release record (lot.site) and the lots dataset,
    # so trend --by-site and compare can tell sites apart; optional, older manifests have none
    site: str | None = None
    inputs: LotInputs = LotInputs()
    manual: list[ManualEntry] = []

    @field_validator("lot_id", mode="after")
    @classmethod
    def _lot_id(cls, value: str) -> str:
        problem = lot_id_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value

    @field_validator("site", mode="after")
    @classmethod
    def _site(cls, value: str | None) -> str | None:
        if value is not None and not _SITE.fullmatch(value):
            raise ValueError(
                "a site is 1-64 letters, digits, spaces, '.', '_' or '-', starting with a "
                "letter or digit and not ending with a space"
            )
        return value

    def input_paths(self) -> list[tuple[str, str]]:
        """Every (role, relative path) the manifest names, in a stable order."""
        found: list[tuple[str, str]] = []
        if self.inputs.flow:
            found += [(f"flow.{t.role.value}", t.path) for t in self.inputs.flow.tubes]
        if self.inputs.qpcr:
            found.append(("qpcr", self.inputs.qpcr.path))
        potency = self.inputs.potency
        if potency and potency.elisa:
            found.append(("potency.elisa", potency.elisa.path))
        if potency and potency.cytotox:
            found.append(("potency.targets_alone", potency.cytotox.targets_alone))
            found.append(("potency.with_effectors", potency.cytotox.with_effectors))
        return found


def resolve_input(lot_dir: Path, relative: str, *, manifest: Path | None = None) -> Path:
    """The file a manifest names, refused when it would lie outside the lot folder."""
    where = manifest or lot_dir / MANIFEST_NAME
    if (
        PurePosixPath(relative).is_absolute()
        or PureWindowsPath(relative).is_absolute()
        or ".." in PurePosixPath(relative.replace("\\", "/")).parts
    ):
        raise ManifestError(
            f"input path {relative!r} leaves the lot folder",
            path=where,
            hint="name files relative to the lot folder, without '..' or absolute paths",
        )
    root = lot_dir.resolve()
    target = (lot_dir / relative).resolve()
    if not target.is_relative_to(root):
        raise ManifestError(f"input path {relative!r} resolves outside the lot folder", path=where)
    if target.is_dir():
        raise ManifestError(
            f"input file {relative!r} named in the manifest is a folder, not a file", path=where
        )
    if not target.is_file():
        raise InputError(
            f"input file {relative!r} named in the manifest does not exist", path=where
        )
    return target


def load_manifest(lot_dir: str | Path, *, check_inputs: bool = True) -> LotManifest:
    """Read and validate ``LOT_DIR/lot.yaml``; every input path must exist inside the folder
    (unless ``check_inputs`` is False: a manifest whose raw files live in an archive)."""
    lot_dir = Path(lot_dir)
    if not lot_dir.is_dir():
        raise InputError("not a lot folder (expected a directory holding lot.yaml)", path=lot_dir)
    path = lot_dir / MANIFEST_NAME
    if path.is_dir():
        raise ManifestError("lot.yaml is a folder, not the lot manifest file", path=path)
    if not path.exists() and not path.is_symlink():
        raise ManifestError("lot folder has no lot.yaml manifest", path=lot_dir)
    # read like every versioned document (bounded, lines, the schema key; see library.py)
    document = read_file_document(
        path,
        what="lot manifest",
        schema=SCHEMA,
        error=ManifestError,
        not_mapping="expected a mapping of lot fields",
    )
    try:
        manifest = LotManifest.model_validate(document.data)
    except ValidationError as exc:
        raise ManifestError(
            "; ".join(validation_problems(exc, document.lines, document.data)), path=path
        ) from None
    for index, entry in enumerate(manifest.manual):
        if entry.attribute not in ATTRIBUTES:
            line = document.lines.line_of(("manual", index, "attribute"))
            raise ManifestError(
                f"manual[{index}].attribute (line {line}): unknown attribute",
                path=path,
                hint="known manual attributes: "
                + ", ".join(a for a in ATTRIBUTES if a.startswith("manual.")),
            )
    for _, relative in manifest.input_paths() if check_inputs else ():
        resolve_input(lot_dir, relative, manifest=path)
    return manifest
