"""LOCK files: the content SHA-256 of every released version of a versioned document.

A folder of specs, gating templates or assays may hold a ``LOCK`` of lines
``<id>@<version> <sha256>``. A document whose id@version is listed must still have that
content: a released version never changes, a change is a new version. Comments start with #.
Only the LOCK of the library in use (``library_lock``) decides whether a definition is locked; a
document loaded by path is never refused because of a LOCK found beside it.
"""

from __future__ import annotations

import re
from pathlib import Path

from cytorelease.errors import CytoreleaseError

__all__ = ["LOCK_NAME", "is_locked", "library_lock", "read_lock"]

LOCK_NAME = "LOCK"
_LINE = re.compile(
    r"^(?P<ref>[A-Za-z0-9][A-Za-z0-9._-]*@[A-Za-z0-9][A-Za-z0-9._-]*)\s+(?P<sha>[0-9a-f]{64})$"
)


def read_lock(lock: Path, *, error: type[CytoreleaseError]) -> dict[str, str]:
    """``{"id@version": sha256}``; an absent LOCK is empty, a malformed line is an ``error``."""
    if not lock.is_file():
        return {}
    entries: dict[str, str] = {}
    for number, raw in enumerate(lock.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _LINE.match(line)
        if match is None:
            raise error(
                f"line {number}: expected '<id>@<version> <sha256>', got {line!r}", path=lock
            )
        if match["ref"] in entries:
            raise error(f"line {number}: {match['ref']} is listed twice", path=lock)
        entries[match["ref"]] = match["sha"]
    return entries


def library_lock(kind: str) -> dict[str, str]:
    """The LOCK the active library holds for ``kind`` (``specs``, ``gating``, ``assays``).

    Only this LOCK decides whether a definition is locked: a LOCK found beside a file given by
    path proves nothing (anyone can write one next to a relaxed copy).
    """
    from cytorelease._resources import resource_dir
    from cytorelease.errors import InputError

    return read_lock(resource_dir(kind) / LOCK_NAME, error=InputError)


def is_locked(kind: str, ref: str, sha256: str) -> bool:
    """Whether the library's LOCK lists ``ref`` (``id@version``) with exactly this content.

    Content-addressed on purpose: a byte-different but canonically identical copy judges the
    same way as the library's file; an edited copy, a draft or a new version does not.
    """
    return library_lock(kind).get(ref) == sha256
