"""Finding the data folders (gating, assays, specs, reports, sample_data).

Order of precedence: a user library (``--library DIR`` or ``CYTORELEASE_LIBRARY``) that has the
folder; the ``_bundled/<kind>`` folder of an installed wheel; the top-level folder of a source
checkout (editable installs import the package from the checkout, where no ``_bundled`` exists).
"""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path

from cytorelease.errors import InputError

__all__ = ["ResourceKind", "resolve_resource", "resource_dir", "set_library"]

_PACKAGE_DIR = Path(__file__).resolve().parent
_library_override: Path | None = None


class ResourceKind(StrEnum):
    GATING = "gating"
    ASSAYS = "assays"
    SPECS = "specs"
    REPORTS = "reports"
    SAMPLE_DATA = "sample_data"


def set_library(path: str | Path | None) -> None:
    """Use ``path`` (a folder with any of the resource folders) before the bundled defaults."""
    global _library_override
    _library_override = Path(path) if path is not None else None


def _candidates(kind: ResourceKind) -> list[Path]:
    found: list[Path] = []
    library = _library_override or (
        Path(os.environ["CYTORELEASE_LIBRARY"]) if os.environ.get("CYTORELEASE_LIBRARY") else None
    )
    if library is not None:
        found.append(library / kind.value)
    found.append(_PACKAGE_DIR / "_bundled" / kind.value)
    found.append(_PACKAGE_DIR.parent / kind.value)
    return found


def resource_dir(kind: ResourceKind | str) -> Path:
    """The first existing folder for ``kind``; raises :class:`InputError` naming where it looked."""
    kind = ResourceKind(kind)
    candidates = _candidates(kind)
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    looked = ", ".join(str(c) for c in candidates)
    raise InputError(f"no {kind.value} folder found (looked in {looked})", path=kind.value)


def resolve_resource(kind: ResourceKind | str, name: str | Path) -> Path:
    """A file given by path, or by name inside the resource folder (``.yaml`` may be omitted).

    An existing path wins, so a user can always point at their own file.
    """
    path = Path(name)
    if path.exists():
        return path
    base = resource_dir(kind)
    for candidate in (base / path, base / f"{path}.yaml", base / f"{path}.yml"):
        if candidate.is_file():
            return candidate
    available = sorted(p.stem for p in base.rglob("*.y*ml"))
    raise InputError(
        f"no such file, and no such name in {ResourceKind(kind).value}/",
        path=name,
        hint=f"available in {base}: {', '.join(available) or 'none'}",
    )
