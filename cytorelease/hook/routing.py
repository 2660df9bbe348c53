"""Which lot, and which input of its manifest, an archived file belongs to.

Lot manifests for the unattended side live in ``DATA/lots/<lot id>/lot.yaml`` (the ordinary
``cytorelease.lot/1`` schema); their input paths name files by name, and the worker gathers the
archived files into a lot folder when every input has arrived. The lot is decided by the file's
own content, never by its name: the FCS keyword ``CYTORELEASE_LOT``, else a token of ``$SRC``;
for exports, a sample name. Within the lot, the input is the one whose file name equals the FCS
``$FIL`` (else the name the file arrived with), else the only tube with the file's role keyword,
else the only input of the file's kind.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from pydantic import ValidationError

from cytorelease._yaml import (
    YamlLinesError,
    load_yaml_with_lines,
    read_document_text,
    validation_problems,
)
from cytorelease.errors import ManifestError
from cytorelease.hook.identify import FileKind
from cytorelease.lot.manifest import MANIFEST_NAME, LotManifest

__all__ = ["LotPlan", "Route", "load_lot_plans", "route_file"]

# The manifest roles each kind of file can fill.
_KIND_ROLES: dict[FileKind, tuple[str, ...]] = {
    FileKind.FCS: ("flow.", "potency.targets_alone", "potency.with_effectors"),
    FileKind.QPCR_EXPORT: ("qpcr",),
    FileKind.PLATE_EXPORT: ("potency.elisa",),
}


@dataclass(frozen=True, slots=True)
class LotPlan:
    lot_id: str
    manifest_path: Path
    manifest: LotManifest

    def inputs(self) -> list[tuple[str, str]]:
        """(role, path) of every input the manifest names."""
        return self.manifest.input_paths()


@dataclass(frozen=True, slots=True)
class Route:
    lot: str | None
    input_path: str | None
    reason: str  # how it was decided, or why it could not be


def load_plan(path: Path) -> LotPlan:
    try:
        # the bounded reader every document takes: a device or a huge file is refused
        document = load_yaml_with_lines(
            read_document_text(path, error=ManifestError, what="lot manifest")
        )
        manifest = LotManifest.model_validate(document.data)
    except YamlLinesError as exc:
        where = f"line {exc.line}: " if exc.line else ""
        raise ManifestError(f"{where}{exc}", path=path) from None
    except UnicodeDecodeError:
        raise ManifestError("not UTF-8 text", path=path) from None
    except ValidationError as exc:
        raise ManifestError(
            "; ".join(validation_problems(exc, document.lines, document.data)), path=path
        ) from None
    if manifest.lot_id != path.parent.name:
        raise ManifestError(
            f"lot_id {manifest.lot_id!r} differs from its folder name {path.parent.name!r}",
            path=path,
            hint="keep each manifest in lots/<lot id>/lot.yaml",
        )
    return LotPlan(manifest.lot_id, path, manifest)


def load_lot_plans(lots_dir: Path) -> tuple[dict[str, LotPlan], list[ManifestError]]:
    """Every valid manifest by lot id, and the errors of the invalid ones (reported, skipped)."""
    plans: dict[str, LotPlan] = {}
    problems: list[ManifestError] = []
    for path in sorted(lots_dir.glob(f"*/{MANIFEST_NAME}")):
        try:
            plan = load_plan(path)
        except ManifestError as exc:
            problems.append(exc)
            continue
        plans[plan.lot_id] = plan
    return plans, problems


def _tokens(text: str | None) -> list[str]:
    return [t for t in re.split(r"[\s,;|/]+", text or "") if t]


def _lot_of(kind: FileKind, meta: dict[str, Any], plans: dict[str, LotPlan]) -> str | None:
    if kind is FileKind.FCS:
        if meta.get("lot") in plans:
            return str(meta["lot"])
        return next((t for t in _tokens(meta.get("src")) if t in plans), None)
    if kind in (FileKind.QPCR_EXPORT, FileKind.PLATE_EXPORT):
        for sample in meta.get("samples", meta.get("names", [])):
            found = next((t for t in [sample, *_tokens(sample)] if t in plans), None)
            if found:
                return found
    return None


def route_file(
    kind: FileKind, meta: dict[str, Any], original_name: str, plans: dict[str, LotPlan]
) -> Route:
    """The lot and manifest input for one file, or a Route with ``lot=None`` and the reason."""
    lot = _lot_of(kind, meta, plans)
    if lot is None:
        claimed = meta.get("lot") or meta.get("src") or ", ".join(meta.get("samples", []))
        return Route(None, None, f"no lot manifest matches the file's lot ({claimed or 'none'})")
    roles = _KIND_ROLES.get(kind, ())
    candidates = [(role, p) for role, p in plans[lot].inputs() if role.startswith(roles)]
    for name in (meta.get("fil"), original_name):
        by_name = [p for _, p in candidates if name and PurePosixPath(p).name == name]
        if len(by_name) == 1:
            return Route(lot, by_name[0], f"file name {name!r}")
    role = meta.get("tube_role")
    by_role = [p for r, p in candidates if role and r == f"flow.{role}"]
    if len(by_role) == 1:
        return Route(lot, by_role[0], f"tube role {role!r}")
    if len(candidates) == 1:
        return Route(lot, candidates[0][1], f"the only {kind} input")
    return Route(lot, None, f"lot {lot} names no input that matches this {kind} file")
