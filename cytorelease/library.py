"""One loader for versioned documents: specs, gating templates, assays, lot manifests and
signer registries.

Every one of them is read the same way: the bounded reader (``_yaml.read_document_text``: at
most ``MAX_DOCUMENT_BYTES``, UTF-8, no device or pipe), YAML with lines and duplicate keys
refused (``_yaml.load_yaml_with_lines``), a document that is not a mapping refused with its
line, and errors ``file: field (line N): problem`` that never quote the file (it may be any file
someone pointed at). What differs is how the file is found.

Definitions (specs, gating templates, assays) are resolved through the library.
``read_document`` resolves a reference (a bare name only through the library, bundled or the
site library of ``--library`` / ``CYTORELEASE_LIBRARY`` / the data folder's ``library.yaml``;
never against the current folder), reads and parses it and returns a :class:`Document`. The
kind's own module then validates it with its pydantic model and its own error messages, and
calls :meth:`Document.definition` with the id and version it found: that returns the
:class:`Definition` results record, ``{kind, id, version, sha256, source, locked}``. A spec is
found by its own references (``product@N``, a product folder) and reports every YAML problem in
its list, so it parses the text itself and takes its :class:`Document` from
:func:`document_from_yaml`.

A lot folder's ``lot.yaml`` and the site's signed ``registry.yaml`` are not in the library: the
caller names the file. :func:`read_file_document` reads them along the same path and applies
their schema rule (below); their own modules validate the rest.

``locked`` is decided only by the LOCK of the library in use (``_lock.is_locked``): a LOCK lying
beside a file given by path, or one folder up, is never read here, since anyone can write one
next to a relaxed copy. A changed or unlisted document is therefore not refused but loaded as
*unlocked*: a what-if or development run, which ``lot.definitions`` keeps from ever being PASS.

The schema key. A library definition says ``schema_version: 1``; the potency assays were
written with ``schema: cytorelease.assay/1``, which is still read (and means schema 1) because
assays already written with it, and the lots released against them, must keep loading when an
auditor re-evaluates an old lot. The content hash is taken of the document as written, so such
a file keeps the hash its LOCK (and every record that names it) holds. A document named by file
says ``schema: cytorelease.<kind>/<N>`` (``cytorelease.lot/1``, ``cytorelease.registry/1``), as
every one written so far does; :func:`read_file_document` refuses a missing key, an unknown
value (with its line) and a retired schema (with the kind's own message) before any model sees
the document.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from cytorelease._lock import is_locked
from cytorelease._resources import ResourceKind, is_bare_name, resolve_resource
from cytorelease._yaml import (
    LineMap,
    YamlDocument,
    YamlLinesError,
    load_yaml_with_lines,
    read_document_text,
)
from cytorelease.errors import CytoreleaseError
from cytorelease.provenance import content_sha256

__all__ = [
    "LEGACY_ASSAY_SCHEMA",
    "SCHEMA_KEY",
    "Definition",
    "DefinitionKind",
    "Document",
    "definition",
    "document_from_yaml",
    "parse_document",
    "read_document",
    "read_file_document",
]

SCHEMA_KEY = "schema_version"
# the potency assays' first spelling of schema 1 (see the module doc)
LEGACY_ASSAY_SCHEMA = ("schema", "cytorelease.assay/1")


class DefinitionKind(StrEnum):
    SPEC = "spec"
    GATING_TEMPLATE = "gating-template"
    ASSAY = "assay"

    @property
    def folder(self) -> ResourceKind:
        """The library folder holding this kind (and its LOCK)."""
        return _FOLDERS[self]

    @property
    def what(self) -> str:
        """The kind in words, for messages."""
        return "gating template" if self is DefinitionKind.GATING_TEMPLATE else self.value


_FOLDERS = {
    DefinitionKind.SPEC: ResourceKind.SPECS,
    DefinitionKind.GATING_TEMPLATE: ResourceKind.GATING,
    DefinitionKind.ASSAY: ResourceKind.ASSAYS,
}


@dataclass(frozen=True, slots=True)
class Definition:
    """What a result records of each definition that judged it."""

    kind: DefinitionKind
    id: str
    version: str
    sha256: str
    source: str
    locked: bool

    @property
    def ref(self) -> str:
        return f"{self.id}@{self.version}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": str(self.kind),
            "id": self.id,
            "version": self.version,
            "sha256": self.sha256,
            "source": self.source,
            "locked": self.locked,
        }


def definition(
    kind: DefinitionKind, ident: str, version: object, sha256: str, source: str | Path
) -> Definition:
    """The record of one definition, ``locked`` judged by the library's LOCK alone."""
    version = str(version)
    locked = is_locked(kind.folder.value, f"{ident}@{version}", sha256)
    return Definition(kind, ident, version, sha256, str(source), locked)


@dataclass(frozen=True, slots=True)
class Document:
    """A parsed versioned document, before its kind's model validates it.

    ``data`` is what the model validates (the schema key under its one name); ``sha256`` is the
    canonical-content hash of the document as written; ``by_name`` says it was resolved through
    the library rather than given by path.
    """

    kind: DefinitionKind
    path: Path
    data: dict[str, Any]
    lines: LineMap
    sha256: str
    by_name: bool

    def definition(self, ident: str, version: object, *, sha256: str | None = None) -> Definition:
        """This document as a result records it (``sha256`` overrides the content hash for a
        kind whose identity leaves something out, e.g. a spec's lifecycle status)."""
        return definition(self.kind, ident, version, sha256 or self.sha256, self.path)


def _schema_key(
    data: dict[str, Any], lines: LineMap, *, kind: DefinitionKind
) -> tuple[dict[str, Any], LineMap]:
    """``schema: cytorelease.assay/1`` read as ``schema_version: 1`` (assays written before the
    key was unified); any other ``schema`` value is left for the model to refuse."""
    key, value = LEGACY_ASSAY_SCHEMA
    if kind is not DefinitionKind.ASSAY or data.get(key) != value or SCHEMA_KEY in data:
        return data, lines
    renamed = {(SCHEMA_KEY if k == key else k): (1 if k == key else v) for k, v in data.items()}
    moved = {
        ((SCHEMA_KEY, *path[1:]) if path[:1] == (key,) else path): line
        for path, line in lines.lines.items()
    }
    return renamed, LineMap(moved)


def _parse_mapping(
    text: str, *, path: Path, error: type[CytoreleaseError], what: str, not_mapping: str
) -> YamlDocument:
    """YAML with lines, refused as ``error`` naming the file and the line unless it is one
    non-empty mapping (the reading step every versioned document shares)."""
    try:
        parsed = load_yaml_with_lines(text)
    except YamlLinesError as exc:
        where = f"line {exc.line}: " if exc.line else ""
        raise error(f"{where}{exc}", path=path) from None
    if parsed.data is None:
        raise error(f"the {what} file is empty ({not_mapping})", path=path)
    if not isinstance(parsed.data, dict):
        raise error(f"line {parsed.lines.line_of(())}: {not_mapping}", path=path)
    return parsed


def parse_document(
    text: str,
    *,
    kind: DefinitionKind,
    path: Path,
    error: type[CytoreleaseError],
    by_name: bool = False,
    not_mapping: str | None = None,
) -> Document:
    """Parse ``text`` (the file ``path``) into a :class:`Document`; every YAML problem and a
    document that is not a mapping is an ``error`` naming the file and the line (``not_mapping``
    is the kind's own message for the latter)."""
    article = "an" if kind.what[0] in "aeiou" else "a"
    parsed = _parse_mapping(
        text,
        path=path,
        error=error,
        what=kind.what,
        not_mapping=not_mapping or f"{article} {kind.what} is a YAML mapping",
    )
    return document_from_yaml(parsed, kind=kind, path=path, by_name=by_name)


def read_file_document(
    path: Path,
    *,
    what: str,
    schema: str,
    error: type[CytoreleaseError],
    not_mapping: str,
    retired: Mapping[str, tuple[str, str | None]] | None = None,
) -> YamlDocument:
    """A versioned document named by file, not resolved through the library (a lot's
    ``lot.yaml``, the site's ``registry.yaml``): read, parsed and refused like a definition,
    and its ``schema`` key required to be ``schema``.

    ``retired`` maps a schema this cytorelease no longer reads to the (message, hint) that
    explains why; ``not_mapping`` is the kind's message for a document that is not a mapping.
    """
    text = read_document_text(path, error=error, what=what)
    parsed = _parse_mapping(text, path=path, error=error, what=what, not_mapping=not_mapping)
    data, lines = parsed.data, parsed.lines
    line = lines.line_of(("schema",))
    if "schema" not in data:
        raise error(
            f"schema (line {line}): required field is missing (this cytorelease reads {schema})",
            path=path,
        )
    value = data["schema"]
    if value == schema:
        return parsed
    if isinstance(value, str) and retired and value in retired:
        message, hint = retired[value]
        raise error(f"schema (line {line}): {message}", path=path, hint=hint)
    # the value is not shown: the file may be anything (see the module doc)
    raise error(
        f"schema (line {line}): unknown {what} schema; this cytorelease reads {schema}",
        path=path,
    )


def document_from_yaml(
    parsed: YamlDocument, *, kind: DefinitionKind, path: Path, by_name: bool = False
) -> Document:
    """A parsed YAML mapping as a :class:`Document`: the schema key under its one name and the
    content hash of the document as written. For a kind that reports YAML problems its own way
    (a spec lists every problem): it parses and checks the mapping itself, then calls this."""
    if not isinstance(parsed.data, dict):
        raise TypeError(f"a {kind.what} document must be a mapping")  # callers check first
    data, lines = _schema_key(parsed.data, parsed.lines, kind=kind)
    return Document(kind, path, data, lines, content_sha256(_jsonable(parsed.data)), by_name)


def _jsonable(value: Any) -> Any:
    """Dates (a spec's effective_from) as ISO text; everything else as parsed, so the hash of a
    document without dates is exactly ``content_sha256`` of it."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def read_document(
    reference: str | Path,
    *,
    kind: DefinitionKind,
    error: type[CytoreleaseError],
    not_mapping: str | None = None,
) -> Document:
    """Resolve ``reference`` (a path, or a bare name in the library) and parse it."""
    path = resolve_resource(kind.folder, reference)
    text = read_document_text(path, error=error, what=kind.what)
    return parse_document(
        text,
        kind=kind,
        path=path,
        error=error,
        by_name=is_bare_name(reference),
        not_mapping=not_mapping,
    )
