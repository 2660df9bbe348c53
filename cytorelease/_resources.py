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

__all__ = [
    "ResourceKind",
    "check_library",
    "is_bare_name",
    "library_identity",
    "library_line",
    "resolve_resource",
    "resource_dir",
    "set_library",
    "site_library",
    "use_data_library",
]

_PACKAGE_DIR = Path(__file__).resolve().parent
# a site library's folder of comparability protocols (cytorelease.compare.protocol); no bundled
# copy exists, so it is no ResourceKind
PROTOCOLS_FOLDER = "protocols"
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


def check_library(path: str | Path, *, named_in: str | Path) -> None:
    """Refuse a library folder that does not exist or holds none of the resource folders;
    ``named_in`` is where it was named (``--library``, a ``library.yaml``)."""
    # protocols/ too: a library may hold only the comparability protocols `protocol lock` locks
    folders = [k.value for k in ResourceKind if k is not ResourceKind.SAMPLE_DATA]
    folders.append(PROTOCOLS_FOLDER)
    if not Path(path).is_dir():
        raise InputError(
            f"the library named in {named_in} does not exist or is not a folder", path=path
        )
    if not any((Path(path) / name).is_dir() for name in folders):
        raise InputError(
            f"the library named in {named_in} holds none of {', '.join(f'{n}/' for n in folders)}",
            path=path,
            hint="point it at the folder that contains them",
        )


def use_data_library(configured: Path | None) -> Path | None:
    """Use a data folder's configured library unless ``--library`` / ``CYTORELEASE_LIBRARY``
    already name one; returns the site library now in use (None: bundled only)."""
    if site_library() is None and configured is not None:
        set_library(configured)
    return site_library()


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


# the suffixes of a document given by path: a template (YAML), GatingML (XML), a FlowJo workspace
_FILE_SUFFIXES = (".yaml", ".yml", ".xml", ".wsp")


def is_bare_name(name: str | Path) -> bool:
    """A library name (``cd19-car-t-panel``): no path separator and none of the suffixes of a
    document file (``.yaml``, ``.yml``, ``.xml``, ``.wsp``), so ``W.wsp`` in the current folder
    is a path."""
    text = str(name)
    return not any(sep in text for sep in ("/", "\\")) and not text.lower().endswith(_FILE_SUFFIXES)


def resolve_resource(kind: ResourceKind | str, name: str | Path) -> Path:
    """A file given by path, or a bare name inside the library's resource folder.

    A bare name (no separator, no ``.yaml`` suffix) resolves only through the library, never
    against the current folder: a file that happens to be called ``cd19-car-t-panel`` where
    ``release`` runs must not become the gating template. A path is taken as given (whether it
    is locked is decided by the library's LOCK, see ``cytorelease._lock.is_locked``).
    """
    path = Path(name)
    if not is_bare_name(name):
        if path.is_file():
            return path
        raise InputError(
            "no such file", path=name, hint="give an existing file or a bare library name"
        )
    base = resource_dir(kind)
    for candidate in (base / f"{path}.yaml", base / f"{path}.yml"):
        if candidate.is_file():
            return candidate
    available = sorted(p.stem for p in base.rglob("*.y*ml"))
    raise InputError(
        # (wording kept: scripts and tests match it)
        f"no such file, and no such name in {ResourceKind(kind).value}/",
        path=name,
        hint=f"available in {base}: {', '.join(available) or 'none'}",
    )


def site_library() -> Path | None:
    """The site library in use (``--library`` or ``CYTORELEASE_LIBRARY``), or None."""
    if _library_override is not None:
        return _library_override
    value = os.environ.get("CYTORELEASE_LIBRARY")
    return Path(value) if value else None


def library_identity() -> dict[str, str] | None:
    """``{"path", "lock_sha256"}`` of the site library, or None when only bundled ones are used.

    ``lock_sha256`` hashes the LOCK files of its specs/, gating/ and assays/ (name and content,
    in that order; an absent LOCK counts as empty), then protocols/LOCK when there is one (so a
    library without approved protocols hashes as it did before protocols were locked), so a
    record shows which locked set judged it.
    """
    import hashlib

    library = site_library()
    if library is None:
        return None
    digest = hashlib.sha256()
    for kind in (ResourceKind.SPECS, ResourceKind.GATING, ResourceKind.ASSAYS):
        lock = library / kind.value / "LOCK"
        digest.update(f"{kind.value}/LOCK\n".encode())
        digest.update(lock.read_bytes() if lock.is_file() else b"")
        digest.update(b"\n")
    protocols = library / PROTOCOLS_FOLDER / "LOCK"
    if protocols.is_file():
        digest.update(f"{PROTOCOLS_FOLDER}/LOCK\n".encode() + protocols.read_bytes() + b"\n")
    return {"path": str(library.resolve()), "lock_sha256": digest.hexdigest()}


def library_line() -> str | None:
    """The one line every command prints (stderr) when a site library is in use."""
    identity = library_identity()
    if identity is None:
        return None
    return f"library: {identity['path']} (site, LOCK sha256 {identity['lock_sha256'][:12]}…)"
