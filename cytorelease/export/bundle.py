"""Writing an export bundle: files hashed as they are written, and their ``SHA256SUMS``."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from cytorelease.records.archive import hashing_copy

__all__ = ["BundleFile", "BundleWriter", "FileRole", "sums_line", "write_sums"]


class FileRole(StrEnum):
    RAW = "raw"
    RAW_SUPERSEDED = "raw-superseded"  # an earlier file for an input that a later one replaced
    LOT_MANIFEST = "lot-manifest"
    RESULT = "result"
    COA = "coa"
    DEFINITION = "definition"
    BASELINE = "trend-baseline"  # a frozen trend baseline a result names, and its LOCK line
    MATRIX = "matrix-file"  # a spillover matrix file a template pins, beside the template
    AUDIT = "audit"
    INDEX = "index"
    MANIFEST = "manifest"  # MANIFEST.json: in SHA256SUMS, not in its own file list


@dataclass(frozen=True, slots=True)
class BundleFile:
    path: str  # POSIX, relative to the bundle
    sha256: str
    bytes: int
    role: FileRole

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "sha256": self.sha256, "bytes": self.bytes, "role": self.role}


@dataclass
class BundleWriter:
    """A folder being filled; every file written is hashed as it is written."""

    root: Path
    files: list[BundleFile] = field(default_factory=list)

    def _target(self, relative: str) -> Path:
        target = self.root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def copy(self, source: Path, relative: str, role: FileRole) -> BundleFile:
        with open(source, "rb") as reader, open(self._target(relative), "xb") as writer:
            sha256, size = hashing_copy(reader, writer)
        return self._add(relative, sha256, size, role)

    def write(self, relative: str, data: bytes, role: FileRole) -> BundleFile:
        with open(self._target(relative), "xb") as writer:
            writer.write(data)
            writer.flush()
            os.fsync(writer.fileno())
        return self._add(relative, hashlib.sha256(data).hexdigest(), len(data), role)

    def _add(self, relative: str, sha256: str, size: int, role: FileRole) -> BundleFile:
        entry = BundleFile(relative, sha256, size, role)
        self.files.append(entry)
        return entry


def sums_line(entry: BundleFile) -> str:
    """One ``sha256sum`` line; names with a backslash or newline are escaped as it does."""
    name = entry.path
    if "\\" in name or "\n" in name or "\r" in name:
        escaped = name.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")
        return f"\\{entry.sha256}  {escaped}\n"
    return f"{entry.sha256}  {name}\n"


def write_sums(root: Path, files: list[BundleFile]) -> None:
    """``SHA256SUMS`` in ``sha256sum -c`` format over ``files`` (sorted by path)."""
    text = "".join(sums_line(f) for f in sorted(files, key=lambda f: f.path))
    with open(root / "SHA256SUMS", "x", encoding="utf-8", newline="\n") as writer:
        writer.write(text)
        writer.flush()
        os.fsync(writer.fileno())
