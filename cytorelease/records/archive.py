"""The content-addressed archive: every raw file copied once, by SHA-256, read-only.

The copy is hashed while it is written (one pass over the source), flushed to disk, made
read-only and then linked into place under its hash; a file already there is the same content,
so the new copy is dropped. The instrument's own file is only read: never moved, never changed.
"""

from __future__ import annotations

import errno
import hashlib
import io
import os
import stat
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from cytorelease.errors import InputError

__all__ = [
    "ArchiveMismatch",
    "Archived",
    "archive_file",
    "archived_path",
    "check_archived",
    "hash_file",
    "hashing_copy",
    "open_source",
]

_CHUNK = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Archived:
    sha256: str
    size: int
    path: Path
    newly_stored: bool  # False: the archive already held this content


class ArchiveMismatch(InputError):
    """An archived file's bytes no longer hash to the name it is stored (and recorded) under."""

    def __init__(
        self, message: str, *, sha256: str, actual: str, path: Path, hint: str | None = None
    ) -> None:
        super().__init__(message, path=path, hint=hint)
        self.sha256 = sha256
        self.actual = actual


def archived_path(archive_dir: Path, sha256: str) -> Path:
    return archive_dir / sha256[:2] / sha256


def _chunks(reader: BinaryIO) -> Iterator[memoryview]:
    """The reader's bytes, chunk by chunk, through one buffer refilled: a fresh 4 MB bytes
    object per chunk costs page faults on every chunk (a 100 MB file copied ~2x slower). A
    chunk is valid until the next is read."""
    buffer = bytearray(_CHUNK)
    view = memoryview(buffer)
    while count := reader.readinto(buffer):  # type: ignore[attr-defined]
        yield view[:count]


def hashing_copy(reader: BinaryIO, writer: BinaryIO) -> tuple[str, int]:
    """Copy ``reader`` into ``writer`` in one pass, hashing as it goes; the copy is flushed and
    fsync'ed. Returns the SHA-256 (hex) and the size of what was copied."""
    digest, size = hashlib.sha256(), 0
    for chunk in _chunks(reader):
        digest.update(chunk)
        writer.write(chunk)
        size += len(chunk)
    writer.flush()
    os.fsync(writer.fileno())
    return digest.hexdigest(), size


def hash_file(path: Path) -> tuple[str, int]:
    """SHA-256 (hex) and size of a file's bytes, read once in chunks."""
    digest, size = hashlib.sha256(), 0
    with open(path, "rb", buffering=0) as reader:
        for chunk in _chunks(reader):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def check_archived(archive_dir: Path, sha256: str) -> Path:
    """The archived file of ``sha256`` after re-hashing its bytes; ArchiveMismatch otherwise.

    A record names content by hash, so only the hash says the archived bytes are still that
    content (a size can stay the same under an edit).
    """
    path = archived_path(archive_dir, sha256)
    try:
        actual, _ = hash_file(path)
    except FileNotFoundError:
        # Unavailable (storage away, or removed): an error to retry, not a disagreement.
        raise InputError(f"archive entry {sha256[:16]}… is missing", path=path) from None
    if actual != sha256:
        raise ArchiveMismatch(
            f"archive entry {sha256[:16]}… now hashes to {actual[:16]}…: the archived file "
            "was altered",
            sha256=sha256,
            actual=actual,
            path=path,
        )
    return path


def _fsync_dir(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def open_source(source: Path) -> io.BufferedReader:
    """Open an instrument's file for reading, never through a symbolic link.

    O_NOFOLLOW refuses a link in the last component atomically (no check-then-open race); the
    opened descriptor must be a regular file (not a FIFO or a device that would block).
    """
    try:
        descriptor = os.open(source, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise InputError(
                "is a symbolic link: refused (links are never followed)",
                path=source,
                hint="place the file itself in the inbox",
            ) from None
        raise InputError(
            f"cannot read the file: {(exc.strerror or str(exc)).lower()}", path=source
        ) from None
    if not stat.S_ISREG(os.fstat(descriptor).st_mode):
        os.close(descriptor)
        raise InputError("is not a regular file: refused", path=source)
    os.set_blocking(descriptor, True)
    return os.fdopen(descriptor, "rb")


def archive_file(
    source: Path,
    archive_dir: Path,
    tmp_dir: Path,
    *,
    on_head: Callable[[bytes], object] | None = None,
) -> Archived:
    """Copy ``source`` into the archive (hashing as it copies); returns where it is stored.

    ``on_head``, if given, is called before the copy goes on with the file's first bytes as
    the copy's first read brought them in (a few KB, fewer for a shorter file): a look at the
    content without opening the file again. The copy reads those same bytes from the buffer.
    """
    reader = open_source(source)
    handle, tmp_name = tempfile.mkstemp(dir=tmp_dir, prefix="incoming-")
    tmp = Path(tmp_name)
    try:
        with reader, os.fdopen(handle, "wb") as writer:
            if on_head is not None:
                on_head(reader.peek(1))  # does not advance: the copy starts at byte 0
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
            check_archived(archive_dir, sha256)  # by hash: an altered entry is no duplicate
    except InputError:
        raise
    except OSError as exc:
        raise InputError(
            f"cannot archive the file: {(exc.strerror or str(exc)).lower()}", path=source
        ) from None
    finally:
        tmp.unlink(missing_ok=True)
    return Archived(sha256=sha256, size=size, path=final, newly_stored=newly_stored)
