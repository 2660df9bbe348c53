"""LOCK files: the content SHA-256 of every released version of a versioned document.

A folder of specs, gating templates or assays may hold a ``LOCK`` of lines
``<id>@<version> <sha256>``. A document whose id@version is listed must still have that
content: a released version never changes, a change is a new version. Comments start with #.
Only the LOCK of the library in use (``library_lock``) decides whether a definition is locked; a
document loaded by path is never refused because of a LOCK found beside it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cytorelease.errors import CytoreleaseError

__all__ = [
    "LOCK_NAME",
    "add_lock_entry",
    "held",
    "is_locked",
    "library_lock",
    "lock_line",
    "read_lock",
]

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


def lock_line(ref: str, sha256: str) -> str:
    """One LOCK line, as :func:`read_lock` reads it back."""
    line = f"{ref} {sha256}"
    if _LINE.match(line) is None:
        raise ValueError(f"not a LOCK entry: {line!r}")
    return line + "\n"


def add_lock_entry(
    lock: Path, ref: str, sha256: str, *, header: str, error: type[CytoreleaseError]
) -> bool:
    """Add ``ref sha256`` to ``lock`` (created with ``header`` if absent); False when it is
    already listed with this content, an ``error`` when it is listed with another.

    The line is appended, so what the LOCK already holds (comments, lines written by hand)
    stays as it was; the file is replaced whole, never left half written. The LOCK is read
    again under :func:`held`, so two ``protocol lock`` runs or freezes at once never lose each
    other's line.
    """
    with held(lock):
        return _append_locked(lock, ref, sha256, header=header, error=error)


@contextmanager
def held(lock: Path) -> Iterator[None]:
    """Hold the exclusive writer's lock of ``lock`` (``.LOCK.flock`` beside it): read the LOCK
    and write it back inside, so no other writer's line is lost in between. ``fcntl.flock``,
    so POSIX only; advisory, which is enough: every writer of a LOCK takes it."""
    import fcntl

    lock.parent.mkdir(parents=True, exist_ok=True)
    # a hidden name: the baselines folder refuses any other file the LOCK does not list
    with open(lock.with_name(f".{lock.name}.flock"), "a+b") as guard:
        fcntl.flock(guard.fileno(), fcntl.LOCK_EX)  # released when the file is closed
        yield


def _append_locked(
    lock: Path, ref: str, sha256: str, *, header: str, error: type[CytoreleaseError]
) -> bool:
    entries = read_lock(lock, error=error)
    known = entries.get(ref)
    if known == sha256:
        return False
    if known is not None:
        raise error(
            f"{ref} is already locked with content {known[:16]}...; this one is "
            f"{sha256[:16]}...: a locked version never changes (a change is a new version)",
            path=lock,
        )
    before = lock.read_text(encoding="utf-8") if lock.is_file() else header
    if before and not before.endswith("\n"):
        before += "\n"
    partial = lock.with_name(lock.name + ".partial")
    partial.write_text(before + lock_line(ref, sha256), encoding="utf-8")
    partial.replace(lock)
    return True


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
