"""``protocol lock``: record approved comparability protocols in the site library's protocols/LOCK.

Each protocol is validated as ``compare --protocol`` reads it (:func:`load_protocol`: every
problem with its field and line, and a version the LOCK already holds with other content
refused), all of them before the LOCK is touched, so a bad file among several locks none. The
line is written by :func:`cytorelease._lock.add_lock_entry`, the one writer of LOCK lines; a
version already listed with the same content is reported ``unchanged``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cytorelease._lock import add_lock_entry
from cytorelease._resources import site_library
from cytorelease.compare.protocol import load_protocol, protocol_lock
from cytorelease.errors import InputError

__all__ = ["LOCK_HEADER", "ProtocolLockEntry", "lock_protocols"]

LOCK_HEADER = (
    "# cytorelease comparability protocol LOCK: the canonical-content SHA-256 of every protocol\n"
    "# version approved for use. A listed version never changes: a change of margins is a new\n"
    "# version. Lines are added by `cytorelease protocol lock`.\n"
)


@dataclass(frozen=True, slots=True)
class ProtocolLockEntry:
    ref: str
    sha256: str
    outcome: str  # "added" or "unchanged"
    path: Path
    lock: Path

    def to_dict(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "sha256": self.sha256,
            "outcome": self.outcome,
            "protocol": str(self.path),
            "lock": str(self.lock),
        }


def lock_protocols(paths: list[Path]) -> list[ProtocolLockEntry]:
    """Validate every protocol, then add each one's ``id@version sha256`` to the LOCK."""
    if site_library() is None:
        raise InputError(
            "no site library to lock the protocol in (the bundled library holds no protocols)",
            path=paths[0] if paths else "protocols/LOCK",
            hint="name it: cytorelease --library DIR protocol lock ..., or CYTORELEASE_LIBRARY",
        )
    protocols = [load_protocol(path) for path in paths]
    seen: dict[str, tuple[str, Path]] = {}
    for protocol in protocols:
        ref, sha, path = str(protocol.ref), str(protocol.sha256), protocol.path or Path()
        first = seen.setdefault(ref, (sha, path))
        if first[0] != sha:
            raise InputError(
                f"{ref} is also given as {first[1]} with other content; lock one of them",
                path=path,
            )
    lock, _ = protocol_lock()
    if lock is None:  # the library went away while the protocols were read
        raise InputError("no site library to lock the protocol in", path=paths[0])
    entries = []
    for protocol in protocols:
        ref, sha = str(protocol.ref), str(protocol.sha256)
        added = add_lock_entry(lock, ref, sha, header=LOCK_HEADER, error=InputError)
        outcome = "added" if added else "unchanged"
        entries.append(ProtocolLockEntry(ref, sha, outcome, protocol.path or Path(), lock))
    return entries
