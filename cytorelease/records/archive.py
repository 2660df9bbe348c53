"""The content-addressed archive: every raw file copied once, by SHA-256, read-only.

The copy is hashed while it is written (one pass over the source), flushed to disk, made
read-only and then linked into place under its hash; a file already there is the same content,
so the new copy is dropped. The instrument's own file is only read: never moved, never changed.
"""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from cytorelease.errors import InputError

__all__ = ["Archived", "archive_file", "archived_path", "hashing_copy"]

_CHUNK = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Archived:
    sha256: str
    size: int
    path: Path
    newly_stored: bool  # False: the archive already held this content


def archived_path(archive_dir: Path, sha256: str) -> Path:
    return archive_dir / sha256[:2] / sha256


def hashing_copy(reader: BinaryIO, writer: BinaryIO) -> tuple[str, int]:
    """Copy ``reader`` into ``writer`` in one pass, hashing as it goes; the copy is flushed and
    fsync'ed. Returns the SHA-256 (hex) and the size of what was copied."""
    digest, size = hashlib.sha256(), 0
    while chunk := reader.read(_CHUNK):
        digest.update(chunk)
        writer.write(chunk)
        size += len(chunk)
    writer.flush()
    os.fsync(writer.fileno())
    return digest.hexdigest(), size


def _fsync_dir(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def archive_file(source: Path, archive_dir: Path, tmp_dir: Path) -> Archived:
    """Copy ``source`` into the archive (hashing as it copies); returns where it is stored."""
    handle, tmp_name = tempfile.mkstemp(dir=tmp_dir, prefix="incoming-")
    tmp = Path(tmp_name)
    try:
        with open(source, "rb") as reader, os.fdopen(handle, "wb") as writer:
            sha256, size = hashing_copy(reader, writer)
        os.chmod(tmp, stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
        final = archived_path(archive_dir, sha256)
        final.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(tmp, final)  # atomic, and never replaces what is already archived
            newly_stored = True
            _fsync_dir(final.parent)
        except FileExistsError:
            newly_stored = False
            if final.stat().st_size != size:
                raise InputError(
                    f"archive entry {sha256} has {final.stat().st_size:,} bytes, the file "
                    f"{size:,}: the archive is damaged",
                    path=final,
                ) from None
    except OSError as exc:
        raise InputError(
            f"cannot archive the file: {(exc.strerror or str(exc)).lower()}", path=source
        ) from None
    finally:
        tmp.unlink(missing_ok=True)
    return Archived(sha256=sha256, size=size, path=final, newly_stored=newly_stored)
