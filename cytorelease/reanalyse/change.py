"""The proposed change: which template, assay and spec versions lots are re-analysed under.

Each is resolved once, by the coordinator, to an absolute path and its record
(``{kind, id, version, sha256, source, locked}``, locked only by the library's LOCK), so every
task reads the same file and the what-if key names the exact content. A draft that the LOCK does
not hold is allowed: assessing a draft before it is locked is the point of the run; its records
say ``locked: false``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cytorelease._resources import is_bare_name, resource_dir
from cytorelease.errors import InputError
from cytorelease.library import DefinitionKind, definition, read_document
from cytorelease.provenance import content_sha256

__all__ = ["Change", "Proposed", "change_digest", "resolve_change"]


def change_digest(parts: Mapping[str, Mapping[str, Any]]) -> str:
    """The identity of a change (the what-if key): each part's kind, id, version and hash."""
    return content_sha256(
        {name: {k: part[k] for k in ("kind", "id", "version", "sha256")}
         for name, part in parts.items()}
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class Proposed:
    """One proposed definition: the file every task reads and its record."""

    path: str
    record: dict[str, Any]

    @property
    def id(self) -> str:
        return str(self.record["id"])

    @property
    def locked(self) -> bool:
        return self.record.get("locked") is True


@dataclass(frozen=True, slots=True)
class Change:
    template: Proposed | None = None
    assay: Proposed | None = None
    spec: Proposed | None = None

    @property
    def parts(self) -> dict[str, Proposed]:
        found = {"template": self.template, "assay": self.assay, "spec": self.spec}
        return {name: p for name, p in found.items() if p is not None}

    @property
    def sha256(self) -> str:
        """The identity of the change in the what-if key (:func:`change_digest`)."""
        return change_digest({name: p.record for name, p in self.parts.items()})

    @property
    def unlocked(self) -> list[dict[str, Any]]:
        return [p.record for p in self.parts.values() if not p.locked]

    def to_dict(self) -> dict[str, Any]:
        return {name: p.record for name, p in self.parts.items()}


def _by_id_version(kind: DefinitionKind, reference: str) -> Path | None:
    """``id@version`` of a template or assay in the library (None: not that form)."""
    if not is_bare_name(reference) or "@" not in reference:
        return None
    ident, version = reference.rsplit("@", 1)
    for path in sorted(resource_dir(kind.folder).rglob("*.y*ml")):
        document = read_document(path, kind=kind, error=InputError)
        if str(document.data.get("id")) == ident and str(document.data.get("version")) == version:
            return path
    raise InputError(
        f"no {kind.what} {ident} version {version} in the library",
        path=reference,
        hint="give ID@VERSION of a library document, a bare library name or a path",
    )


def _document(kind: DefinitionKind, reference: str) -> Proposed:
    path = _by_id_version(kind, reference)
    document = read_document(path or reference, kind=kind, error=InputError)
    record = definition(
        kind,
        str(document.data.get("id")),
        document.data.get("version"),
        document.sha256,
        reference,
    ).to_dict()
    return Proposed(str(document.path.resolve()), record)


def _spec(reference: str) -> Proposed:
    from cytorelease.spec.registry import resolve_spec

    loaded = resolve_spec(reference)
    record = definition(
        DefinitionKind.SPEC,
        loaded.spec.product,
        loaded.spec.version,
        loaded.sha256,
        reference,
    ).to_dict()
    return Proposed(str(loaded.path.resolve()), record)


def resolve_change(
    *, template: str | None = None, assay: str | None = None, spec: str | None = None
) -> Change:
    """Resolve the proposed versions (``ID@V``, a bare library name, or a path)."""
    if template is None and assay is None and spec is None:
        raise InputError(
            "nothing to re-analyse under",
            hint="give the proposed --template, --assay or --spec (ID@VERSION or PATH)",
        )
    return Change(
        template=_document(DefinitionKind.GATING_TEMPLATE, template) if template else None,
        assay=_document(DefinitionKind.ASSAY, assay) if assay else None,
        spec=_spec(spec) if spec else None,
    )
