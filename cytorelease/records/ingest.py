"""The hook's records: instruments, raw files, sightings of inbox files, refusals.

records/ owns its tables: the hook (and the startup sweep) write them only through these
functions, each called inside the caller's ``store.write()`` transaction so that a file's row,
its sighting, its audit row and its queue item commit together or not at all.

A sighting is one version of an inbox file (path, size, mtime) and what became of it. A file
that was refused (left in the inbox) has a sighting ``refused: <reason>``: the watcher keeps
offering it (it is not handled), but its refusal is audited once per content and reason (the
sighting keeps the content's SHA-256: a file touched or rewritten with the same bytes is not
audited again, however many scans see it), and the sighting becomes its real outcome once the
file is taken.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cytorelease.provenance import canonical_json
from cytorelease.records.store import Store

__all__ = [
    "REFUSED_PREFIX",
    "RawFile",
    "earlier_of_source",
    "insert_raw_file",
    "note_refusal",
    "raw_file",
    "recorded_hashes",
    "refusal_of",
    "register_instrument",
    "seen",
    "sighting",
]

REFUSED_PREFIX = "refused: "
_REFUSED_LIKE = "refused%"  # a parameter: a literal % in SQL text is a psycopg placeholder


@dataclass(frozen=True, slots=True)
class RawFile:
    """One raw file's record as the hook writes it (the bytes are in the archive)."""

    sha256: str
    size: int
    kind: str
    problem: str | None  # None: valid; otherwise why it is quarantined
    instrument: str
    original_name: str
    source_path: str
    meta: dict[str, Any]


def _utc() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def register_instrument(store: Store, instrument: str, serial: str, kind: str) -> None:
    store.execute(
        "INSERT INTO instruments (id, serial, kind, first_seen) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (id) DO NOTHING",
        (instrument, serial, kind, _utc()),
    )


def raw_file(store: Store, sha256: str) -> dict[str, Any] | None:
    """The recorded row of ``sha256``, or None."""
    return store.one("SELECT * FROM raw_files WHERE sha256 = ?", (sha256,))


def recorded_hashes(store: Store) -> dict[str, int]:
    """Every recorded raw file: SHA-256 -> recorded size."""
    rows = store.rows("SELECT sha256, size FROM raw_files")
    return {str(r["sha256"]): int(r["size"]) for r in rows}


def earlier_of_source(store: Store, source_path: str) -> list[dict[str, Any]]:
    """Raw files received earlier under the same source path (other bytes: a new version)."""
    return store.rows(
        "SELECT sha256, ingested_at FROM raw_files WHERE source_path = ? ORDER BY ingested_at",
        (source_path,),
    )


def insert_raw_file(store: Store, record: RawFile) -> None:
    store.execute(
        "INSERT INTO raw_files (sha256, size, kind, status, reason, instrument, original_name,"
        " source_path, meta, ingested_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            record.sha256,
            record.size,
            record.kind,
            "valid" if record.problem is None else "quarantined",
            record.problem,
            record.instrument,
            record.original_name,
            record.source_path,
            canonical_json(record.meta),
            _utc(),
        ),
    )


def sighting(
    store: Store, path: Path, size: int, mtime_ns: int, sha256: str | None, outcome: str
) -> None:
    """Record what became of this version of an inbox file.

    The first outcome stays, except a refusal: a file taken after it was refused (the cause
    fixed) gets its real outcome, so the watcher stops offering it.
    """
    store.execute(
        "INSERT INTO sightings (source_path, size, mtime_ns, sha256, outcome, seen_at)"
        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (source_path, size, mtime_ns) DO UPDATE SET"
        " sha256 = excluded.sha256, outcome = excluded.outcome, seen_at = excluded.seen_at"
        " WHERE sightings.outcome LIKE ?",
        (str(path), size, mtime_ns, sha256, outcome, _utc(), _REFUSED_LIKE),
    )


def note_refusal(
    store: Store, path: Path, size: int, mtime_ns: int, reason: str, sha256: str | None = None
) -> bool:
    """Record that this version of ``path`` (its content ``sha256`` where it could be read) was
    refused for ``reason``; True when that is new, so the caller audits only then: not when this
    version, or another version of the same content at this path, was refused for it already."""
    outcome = f"{REFUSED_PREFIX}{reason}"
    row = refusal_of(store, path, size, mtime_ns)
    if row is not None and row == outcome:
        return False
    if row is not None and not row.startswith("refused"):
        return False  # already taken under that version: nothing to refuse
    audited = sha256 is not None and (
        store.one(
            "SELECT 1 AS found FROM sightings WHERE source_path = ? AND sha256 = ? AND outcome = ?",
            (str(path), sha256, outcome),
        )
        is not None
    )
    sighting(store, path, size, mtime_ns, sha256, outcome)
    return not audited


def refusal_of(store: Store, path: Path, size: int, mtime_ns: int) -> str | None:
    """The recorded outcome of this version of ``path`` (``refused: <reason>`` while it waits),
    or None when it was never seen."""
    row = store.one(
        "SELECT outcome FROM sightings WHERE source_path = ? AND size = ? AND mtime_ns = ?",
        (str(path), size, mtime_ns),
    )
    return None if row is None else str(row["outcome"])


def seen(store: Store, path: Path, size: int, mtime_ns: int) -> bool:
    """Whether this version of ``path`` was handled (taken: ingested, duplicate, quarantined);
    a refused one is not, so it is offered again until it can be taken."""
    row = store.one(
        "SELECT 1 AS seen FROM sightings WHERE source_path = ? AND size = ? AND mtime_ns = ?"
        " AND outcome NOT LIKE ?",
        (str(path), size, mtime_ns, _REFUSED_LIKE),
    )
    return row is not None
